//! PULL_MESSAGE and LITE_PULL_MESSAGE with long polling (reference §3.3, §6).
//!
//! The accepting shard checks the group, topic and subscription (§6.2 steps
//! 1–5) and turns the subscription into a tag-code filter; the queue's
//! owner shard commits the offset, reads the consume queue and, when there
//! is nothing yet and the client allows it, holds the request until a
//! message arrives on that queue or the hold deadline passes (§6.3).

use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringmq_engine::store::GetStatus;
use ringmq_engine::{QueueKey, QueueOffset};
use ringmq_remoting::message::PullSysFlag;
use ringmq_remoting::{
    PullMessageRequestHeader, PullMessageResponseHeader, RemotingCommand, ResponseCode,
};

use super::metadata::perm;
use super::shard::BrokerShard;
use super::sql92::SqlFilter;
use super::stats;
use super::subscription::TagFilter;
use crate::net::conn::reply;
use crate::net::Connection;

/// Apache's transfer limits for messages served from memory (§6.2 step 6).
const MAX_TRANSFER_BYTES: usize = 256 * 1024;
const MAX_TRANSFER_COUNT: usize = 32;

/// What the owner shard answers.
struct Pulled {
    code: ResponseCode,
    status: GetStatus,
    next: i64,
    min: i64,
    max: i64,
    body: Bytes,
    error: Option<String>,
}

/// Everything the owner needs, sendable across shards.
struct PullJob {
    key: QueueKey,
    group: String,
    /// As requested: a negative offset is "too small", not 0.
    offset: i64,
    max_msgs: usize,
    max_bytes: usize,
    filter: TagFilter,
    /// SQL92 expression evaluated against each message's properties.
    sql: Option<SqlFilter>,
    /// Hold until this long has passed (None: answer at once).
    hold: Option<Duration>,
    commit: Option<i64>,
    recheck: Duration,
}

pub async fn handle(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    Some(pull(&shard, &req).await)
}

async fn pull(shard: &Rc<BrokerShard>, req: &RemotingCommand) -> RemotingCommand {
    let h: PullMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return reply(req, ResponseCode::SystemError, e.to_string()),
    };
    let cfg = &shard.cfg;
    if cfg.broker_permission & perm::READ == 0 {
        return reply(
            req,
            ResponseCode::NoPermission,
            format!(
                "the broker[{}] pulling message is forbidden",
                cfg.broker_ip1
            ),
        );
    }
    let Some(group) = shard.meta.group_or_create(&h.consumer_group, cfg) else {
        return reply(
            req,
            ResponseCode::SubscriptionGroupNotExist,
            format!(
                "subscription group [{}] does not exist, http://rocketmq.apache.org/docs/faq/",
                h.consumer_group
            ),
        );
    };
    if !group.consume_enable {
        return reply(
            req,
            ResponseCode::NoPermission,
            format!("subscription group no permission, {}", h.consumer_group),
        );
    }
    let Some(topic) = shard.meta.topic(&h.topic) else {
        return reply(
            req,
            ResponseCode::TopicNotExist,
            format!(
                "topic[{}] not exist, apply first please! http://rocketmq.apache.org/docs/faq/",
                h.topic
            ),
        );
    };
    if topic.perm & perm::READ == 0 {
        return reply(
            req,
            ResponseCode::NoPermission,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        );
    }
    if h.queue_id < 0 || h.queue_id as u32 >= topic.read_queue_nums {
        return reply(
            req,
            ResponseCode::SystemError,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                h.queue_id, h.topic, topic.read_queue_nums, h.consumer_group
            ),
        );
    }
    let flags = h.sys_flag;
    let mut sql = None;
    let filter = if flags & PullSysFlag::FLAG_SUBSCRIPTION != 0 {
        let ty = h.expression_type.as_deref().unwrap_or("TAG");
        if ty == "SQL92" {
            if !cfg.enable_property_filter {
                return sql_unsupported(req);
            }
            match SqlFilter::compile(h.subscription.as_deref().unwrap_or("")) {
                Ok(f) => sql = Some(f),
                Err(e) => return reply(req, ResponseCode::SubscriptionParseFailed, e.to_string()),
            }
            TagFilter::all()
        } else if ty != "TAG" {
            return reply(
                req,
                ResponseCode::SubscriptionParseFailed,
                format!("unknown expression type {ty}"),
            );
        } else {
            TagFilter::parse(h.subscription.as_deref().unwrap_or("*"))
        }
    } else {
        match shard
            .meta
            .consumer_subscription(&h.consumer_group, &h.topic)
        {
            Err(remark) => return reply(req, ResponseCode::SubscriptionNotExist, remark),
            Ok(sub) => {
                if sub.broadcast && !group.consume_broadcast_enable {
                    return reply(
                        req,
                        ResponseCode::NoPermission,
                        format!(
                            "the consumer group[{}] can not consume by broadcast way",
                            h.consumer_group
                        ),
                    );
                }
                if sub.sub_version < h.sub_version {
                    return reply(
                        req,
                        ResponseCode::SubscriptionNotLatest,
                        "the consumer's subscription not latest",
                    );
                }
                if sub.expression_type == "SQL92" {
                    if !cfg.enable_property_filter {
                        return sql_unsupported(req);
                    }
                    match &sub.sql {
                        Some(f) => sql = Some(f.clone()),
                        None => {
                            return reply(
                                req,
                                ResponseCode::SubscriptionParseFailed,
                                "the consumer's SQL92 expression does not compile",
                            )
                        }
                    }
                } else if sub.expression_type != "TAG" {
                    return reply(
                        req,
                        ResponseCode::SubscriptionParseFailed,
                        format!("unknown expression type {}", sub.expression_type),
                    );
                }
                sub.filter
            }
        }
    };
    let suspend = flags & PullSysFlag::FLAG_SUSPEND != 0;
    let hold = suspend.then(|| {
        if cfg.long_polling_enable {
            Duration::from_millis(h.suspend_timeout_millis.max(0) as u64)
        } else {
            Duration::from_millis(cfg.short_polling_time_mills)
        }
    });
    let job = PullJob {
        key: QueueKey::new(h.topic.clone(), h.queue_id as u32),
        group: h.consumer_group.clone(),
        offset: h.queue_offset,
        max_msgs: (h.max_msg_nums.max(1) as usize).min(MAX_TRANSFER_COUNT),
        max_bytes: h
            .max_msg_bytes
            .map(|b| b.max(1) as usize)
            .unwrap_or(MAX_TRANSFER_BYTES),
        filter,
        sql,
        hold,
        commit: (flags & PullSysFlag::FLAG_COMMIT_OFFSET != 0).then_some(h.commit_offset),
        recheck: Duration::from_millis(cfg.long_polling_check_interval_ms),
    };
    let owner = shard.owner_of(&h.topic, h.queue_id as u32);
    let Some(p) = shard.on_owner(owner, move |s| run_on_owner(s, job)).await else {
        return reply(req, ResponseCode::SystemError, "shard unavailable");
    };
    if let Some(e) = p.error {
        return reply(req, ResponseCode::SystemError, e);
    }
    let mut resp = RemotingCommand::response_to(req, p.code, Some(status_name(p.status).into()));
    resp.encode_header(&PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: p.next,
        min_offset: p.min,
        max_offset: p.max,
        ..Default::default()
    });
    resp.body = p.body;
    resp
}

fn sql_unsupported(req: &RemotingCommand) -> RemotingCommand {
    reply(
        req,
        ResponseCode::SystemError,
        "The broker does not support consumer to filter message by SQL92",
    )
}

/// The pull on the owner shard: commit, read, and hold while there is
/// nothing to return.
async fn run_on_owner(s: Rc<BrokerShard>, job: PullJob) -> Pulled {
    if let Some(offset) = job.commit {
        s.offsets
            .borrow_mut()
            .commit(&job.group, &job.key.topic, job.key.queue_id, offset);
    }
    if job.offset < 0 {
        // Apache hands the offset to the store as is: below the min (§6.2).
        let (min, max) = (
            s.store.min_offset(&job.key).0 as i64,
            s.store.max_offset(&job.key).0 as i64,
        );
        let (status, next) = if max == 0 {
            (GetStatus::NoMessageInQueue, 0)
        } else {
            (GetStatus::OffsetTooSmall, min)
        };
        return Pulled {
            code: ResponseCode::PullOffsetMoved,
            status,
            next,
            min,
            max,
            body: Bytes::new(),
            error: None,
        };
    }
    let offset = job.offset as u64;
    let deadline = job.hold.map(|d| Instant::now() + d);
    loop {
        // Register interest before reading, so an arrival during the read
        // is not missed.
        let waiting = deadline.map(|_| s.hold_on(&job.key));
        let mut wait = waiting.as_ref().map(|b| b.wait());
        let filter = &job.filter;
        let got = s
            .store
            .get_messages(
                &job.key,
                QueueOffset(offset),
                job.max_msgs,
                job.max_bytes,
                &|code| filter.matches(code),
            )
            .await;
        let mut r = match got {
            Ok(r) => r,
            Err(e) => {
                return Pulled {
                    code: ResponseCode::SystemError,
                    status: GetStatus::NoMatchedLogicQueue,
                    next: job.offset,
                    min: 0,
                    max: 0,
                    body: Bytes::new(),
                    error: Some(e.to_string()),
                }
            }
        };
        if let Some(sql) = &job.sql {
            apply_sql(sql, &mut r);
        }
        let code = response_code(r.status, offset);
        let now = Instant::now();
        // Hold while there is nothing for this request: no message yet, or
        // only messages its filter skips (Apache wakes a held pull only for
        // a matching arrival).
        let nothing = code == ResponseCode::PullNotFound || r.status == GetStatus::NoMatchedMessage;
        if nothing {
            if let Some(d) = deadline.filter(|d| now < *d) {
                if let Some(w) = wait.take() {
                    let nap = (d - now).min(job.recheck);
                    let _ = glommio::timer::timeout(nap, async {
                        w.await;
                        Ok(())
                    })
                    .await;
                    continue;
                }
            }
        }
        drop(wait);
        drop(waiting);
        s.release_hold(&job.key);
        s.msgs_got.set(s.msgs_got.get() + r.messages.len() as u64);
        if !r.messages.is_empty() {
            let n = r.messages.len() as u64;
            let bytes = r.messages.iter().map(|m| m.len() as u64).sum();
            let key = format!("{}@{}", job.key.topic, job.group);
            let mut st = s.stats.borrow_mut();
            st.add(stats::GROUP_GET_NUMS, &key, n);
            st.add(stats::GROUP_GET_SIZE, &key, bytes);
            st.add(stats::BROKER_GET_NUMS, &s.cfg.broker_cluster_name, n);
        }
        let mut body = BytesMut::with_capacity(r.messages.iter().map(|m| m.len()).sum());
        for m in &r.messages {
            body.extend_from_slice(m);
        }
        return Pulled {
            code,
            status: r.status,
            next: r.next_begin_offset.0 as i64,
            min: r.min_offset.0 as i64,
            max: r.max_offset.0 as i64,
            body: if code == ResponseCode::Success {
                body.freeze()
            } else {
                Bytes::new()
            },
            error: None,
        };
    }
}

/// §6.2 step 6: store status → response code.
fn response_code(status: GetStatus, offset: u64) -> ResponseCode {
    match status {
        GetStatus::Found => ResponseCode::Success,
        GetStatus::NoMatchedMessage => ResponseCode::PullRetryImmediately,
        GetStatus::NoMessageInQueue | GetStatus::NoMatchedLogicQueue => {
            if offset != 0 {
                ResponseCode::PullOffsetMoved
            } else {
                ResponseCode::PullNotFound
            }
        }
        GetStatus::OffsetFoundNull | GetStatus::OffsetOverflowOne => ResponseCode::PullNotFound,
        GetStatus::OffsetOverflowBadly | GetStatus::OffsetTooSmall => ResponseCode::PullOffsetMoved,
    }
}

/// Apache's `GetMessageStatus` names, sent as the remark.
fn status_name(s: GetStatus) -> &'static str {
    match s {
        GetStatus::Found => "FOUND",
        GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
        GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
        GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
        GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
        GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
        GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
        GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
    }
}

/// Keeps the messages whose properties satisfy the SQL92 expression; the
/// next offset still covers the skipped ones (as Apache's message filter).
fn apply_sql(sql: &SqlFilter, r: &mut ringmq_engine::store::GetResult) {
    if r.status != GetStatus::Found {
        return;
    }
    let mut kept = Vec::with_capacity(r.messages.len());
    let mut offsets = Vec::with_capacity(r.messages.len());
    for (m, o) in r.messages.iter().zip(&r.queue_offsets) {
        let ok = match ringmq_engine::record::decode(m, false) {
            Ok(v) => sql.matches(&|name| ringmq_engine::record::property_value(v.properties, name)),
            Err(_) => false,
        };
        if ok {
            kept.push(m.clone());
            offsets.push(*o);
        }
    }
    if kept.is_empty() {
        r.status = GetStatus::NoMatchedMessage;
    }
    r.messages = kept;
    r.queue_offsets = offsets;
}
