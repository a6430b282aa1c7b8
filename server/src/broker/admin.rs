//! Admin requests needed by clients, `mqadmin` and the dashboard
//! (reference §3.5): topic and subscription-group configuration, runtime
//! info, statistics and connection lists.

use std::rc::Rc;

use ringmq_engine::{QueueKey, QueueOffset};
use ringmq_remoting::body::connection::{
    Connection as WireConnection, ConsumerConnection, ProducerConnection,
};
use ringmq_remoting::body::consume_stats::ResetOffsetBody;
use ringmq_remoting::body::consume_stats::{ConsumeStats, OffsetWrapper};
use ringmq_remoting::body::consumer_list::GroupList;
use ringmq_remoting::body::kv_table::KVTable;
use ringmq_remoting::body::message_queue::MessageQueue;
use ringmq_remoting::body::topic_stats::{TopicOffset, TopicStatsTable};
use ringmq_remoting::{GetConsumeStatsRequestHeader, RequestCode, ResetOffsetRequestHeader};
use ringmq_remoting::{RemotingCommand, ResponseCode};

use super::clients;
use super::metadata::{perm, GroupConf, TopicConf};
use super::register::topic_wrapper;
use super::shard::BrokerShard;
use super::topic_names;
use crate::net::conn::reply;
use crate::net::Connection;

type Reply = Option<RemotingCommand>;

fn success(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(req, ResponseCode::Success, None)
}

fn required<'a>(req: &'a RemotingCommand, name: &'static str) -> Result<&'a str, RemotingCommand> {
    req.ext_field(name).ok_or_else(|| {
        reply(
            req,
            ResponseCode::SystemError,
            format!("missing required header field `{name}`"),
        )
    })
}

/// System topics, including this broker's and cluster's own.
fn is_system(shard: &BrokerShard, topic: &str) -> bool {
    topic_names::is_system_topic(topic)
        || topic == shard.cfg.broker_cluster_name
        || topic == shard.cfg.broker_name
}

/// UPDATE_AND_CREATE_TOPIC (17).
pub async fn create_topic(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let h: ringmq_remoting::CreateTopicRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    if let Err(remark) = topic_names::validate(&h.topic) {
        return Some(reply(&req, ResponseCode::SystemError, remark));
    }
    if is_system(&shard, &h.topic) {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            format!("The topic[{}] is conflict with system topic.", h.topic),
        ));
    }
    let clamp = |n: i32| n.clamp(0, ringmq_engine::limits::MAX_QUEUE_ID as i32) as u32;
    let conf = TopicConf {
        topic_name: h.topic.clone(),
        read_queue_nums: clamp(h.read_queue_nums),
        write_queue_nums: clamp(h.write_queue_nums),
        perm: h.perm as u32 & (perm::PRIORITY | perm::READ | perm::WRITE | perm::INHERIT),
        topic_filter_type: h.topic_filter_type.java_name().to_string(),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0) as u32,
        order: h.order,
    };
    match shard.meta.upsert_topic(conf) {
        // Apache leaves its default remark on this success (reference §3.5),
        // sent once the name servers know the topic (bounded by the
        // registration timeout).
        Ok(registered) => {
            let _ = glommio::timer::timeout(std::time::Duration::from_secs(6), async {
                let _ = registered.recv_async().await;
                Ok(())
            })
            .await;
            Some(RemotingCommand::response_to(
                &req,
                ResponseCode::Success,
                Some("not set any response code".into()),
            ))
        }
        Err(e) => Some(reply(&req, ResponseCode::SystemError, e)),
    }
}

/// DELETE_TOPIC_IN_BROKER (215). The topic's consumer offsets go with it;
/// its stored messages age out with retention.
pub async fn delete_topic(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let topic = match required(&req, "topic") {
        Ok(t) => t.to_string(),
        Err(r) => return Some(r),
    };
    if let Err(remark) = topic_names::validate(&topic) {
        return Some(reply(&req, ResponseCode::SystemError, remark));
    }
    if is_system(&shard, &topic) {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            format!("The topic[{topic}] is conflict with system topic."),
        ));
    }
    if let Err(e) = shard.meta.delete_topic(&topic) {
        return Some(reply(&req, ResponseCode::SystemError, e));
    }
    // The topic's consume queues go too (Apache `cleanUnusedTopic`): its
    // messages are no longer readable, and a topic created again under the
    // name starts empty. Its committed offsets go with them (Apache keeps
    // them; they would point past the new queues' end).
    for target in 0..shard.shards() {
        let t = topic.clone();
        let dropped = shard
            .on_owner(target, move |s| async move {
                s.offsets.borrow_mut().remove_topic(&t);
                s.store.drop_topic(&t).await
            })
            .await;
        match dropped {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
            None => return Some(reply(&req, ResponseCode::SystemError, "shard unavailable")),
        }
    }
    Some(success(&req))
}

/// CLONE_GROUP_OFFSET (314, `mqadmin cloneGroupOffset`): `destGroup` gets
/// `srcGroup`'s committed offsets on `topic` (or on every topic `srcGroup`
/// has offsets for), on every shard. Unless `offline`, a topic the live
/// source group does not subscribe to is skipped, as in Apache.
pub async fn clone_group_offset(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let (src, dest) = match (required(&req, "srcGroup"), required(&req, "destGroup")) {
        (Ok(s), Ok(d)) => (s.to_owned(), d.to_owned()),
        (Err(r), _) | (_, Err(r)) => return Some(r),
    };
    let offline = req
        .ext_field("offline")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut topics: Vec<String> = match req.ext_field("topic").map(str::trim) {
        Some(t) if !t.is_empty() => vec![t.to_owned()],
        _ => {
            let mut all = Vec::new();
            for target in 0..shard.shards() {
                let g = src.clone();
                if let Some(t) = shard
                    .on_owner(
                        target,
                        move |s| async move { s.offsets.borrow().topics_of(&g) },
                    )
                    .await
                {
                    all.extend(t);
                }
            }
            all.sort();
            all.dedup();
            all
        }
    };
    topics.retain(|t| shard.meta.topic(t).is_some());
    if !offline {
        if let Some(live) = super::clients::consumer_group_snapshot(&shard, &src).await {
            if !live.subscriptions.is_empty() {
                topics.retain(|t| live.subscriptions.contains_key(t));
            }
        }
    }
    for target in 0..shard.shards() {
        let (s_, d_, ts) = (src.clone(), dest.clone(), topics.clone());
        shard
            .on_owner(target, move |s| async move {
                let mut o = s.offsets.borrow_mut();
                for t in &ts {
                    o.clone_offsets(&s_, &d_, t);
                }
            })
            .await;
    }
    Some(success(&req))
}

/// GET_ALL_TOPIC_CONFIG (21).
pub async fn all_topic_config(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    Some(success(&req).with_body(topic_wrapper(&shard, None).encode()))
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200).
pub async fn create_group(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let conf: GroupConf = match ringmq_remoting::body::fastjson::from_slice(&req.body) {
        Ok(c) => c,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    if let Err(remark) = topic_names::validate_group(&conf.group_name) {
        return Some(reply(&req, ResponseCode::SystemError, remark));
    }
    let conf = GroupConf {
        retry_max_times: conf.retry_max_times.clamp(-1, 1000),
        ..conf
    };
    match shard.meta.upsert_group(conf) {
        Ok(_) => Some(success(&req)),
        Err(e) => Some(reply(&req, ResponseCode::SystemError, e)),
    }
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201).
pub async fn all_group_config(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let t = shard.meta.groups();
    match serde_json::to_vec(&*t) {
        Ok(b) => Some(success(&req).with_body(b)),
        Err(e) => Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    }
}

/// DELETE_SUBSCRIPTIONGROUP (207).
pub async fn delete_group(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let group = match required(&req, "groupName") {
        Ok(g) => g.to_string(),
        Err(r) => return Some(r),
    };
    if let Err(e) = shard.meta.delete_group(&group) {
        return Some(reply(&req, ResponseCode::SystemError, e));
    }
    if req
        .ext_field("removeOffset")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        for target in 0..shard.shards() {
            let g = group.clone();
            shard
                .on_owner(target, move |s| async move {
                    s.offsets.borrow_mut().remove_group(&g)
                })
                .await;
        }
    }
    Some(success(&req))
}

/// One shard's part of the runtime info.
#[derive(Default)]
struct ShardRuntime {
    log_min: u64,
    log_max: u64,
    cache: usize,
    timers_pending: u64,
    timers_delivered: u64,
    timers_memory: u64,
    given_up: u64,
    puts: u64,
    gets: u64,
    /// (put, get) per second over 10 s, 60 s, 600 s.
    tps: [(f64, f64); 3],
    earliest: Option<i64>,
}

/// GET_BROKER_RUNTIME_INFO (28): a KVTable with the keys `mqadmin
/// clusterList`/`brokerStatus` and the dashboard read.
pub async fn runtime_info(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let mut all = Vec::new();
    for target in 0..shard.shards() {
        let r = shard
            .on_owner(target, |s| async move {
                let (lo, hi) = s.store.log_range();
                let earliest = match s.store.read_record(lo).await {
                    Ok(rec) => ringmq_engine::record::store_timestamp_of(&rec),
                    Err(_) => None,
                };
                let t = s.timers.borrow();
                ShardRuntime {
                    log_min: lo.0,
                    log_max: hi.0,
                    cache: s.store.tail_cache_bytes(),
                    timers_pending: t.pending() as u64,
                    timers_delivered: t.delivered,
                    timers_memory: t.memory_bytes() as u64,
                    given_up: s.tx_given_up.get(),
                    puts: s.msgs_put.get(),
                    gets: s.msgs_got.get(),
                    tps: [s.tps(10), s.tps(60), s.tps(600)],
                    earliest,
                }
            })
            .await;
        all.extend(r);
    }
    let sum = |f: &dyn Fn(&ShardRuntime) -> u64| all.iter().map(f).sum::<u64>();
    let tps = |i: usize, get: bool| -> f64 {
        all.iter()
            .map(|r| if get { r.tps[i].1 } else { r.tps[i].0 })
            .sum()
    };
    let three = |get: bool| format!("{:.2} {:.2} {:.2}", tps(0, get), tps(1, get), tps(2, get));
    let total = format!(
        "{:.2} {:.2} {:.2}",
        tps(0, false) + tps(0, true),
        tps(1, false) + tps(1, true),
        tps(2, false) + tps(2, true)
    );
    let min = all.iter().map(|r| r.log_min).min().unwrap_or(0);
    let max = all.iter().map(|r| r.log_max).max().unwrap_or(0);
    let earliest = all.iter().filter_map(|r| r.earliest).min().unwrap_or(-1);
    let disk_ratio = disk_used_ratio(&shard.cfg.store_path_root_dir);
    let puts = sum(&|r| r.puts);
    let gets = sum(&|r| r.gets);
    let entries = vec![
        (
            "brokerVersion",
            ringmq_remoting::version::CURRENT_VERSION.to_string(),
        ),
        ("brokerVersionDesc", "V4_9_7".to_string()),
        ("bootTimestamp", shard.boot_ms.to_string()),
        (
            "runtime",
            format!(
                "[ {} seconds ]",
                (super::metadata::now_ms() - shard.boot_ms) / 1000
            ),
        ),
        ("commitLogMinOffset", min.to_string()),
        ("commitLogMaxOffset", max.to_string()),
        (
            "commitLogDirCapacity",
            format!(
                "Total : {:.1} GiB, Free : {:.1} GiB.",
                disk_ratio.1, disk_ratio.2
            ),
        ),
        ("commitLogDiskRatio", format!("{:.2}", disk_ratio.0)),
        ("earliestMessageTimeStamp", earliest.to_string()),
        // Consume queues are written in the same step as the log.
        ("dispatchBehindBytes", "0".to_string()),
        // No request queues: requests run as tasks as they arrive.
        ("sendThreadPoolQueueSize", "0".to_string()),
        ("sendThreadPoolQueueHeadWaitTimeMills", "0".to_string()),
        ("pullThreadPoolQueueSize", "0".to_string()),
        ("pullThreadPoolQueueHeadWaitTimeMills", "0".to_string()),
        ("putTps", three(false)),
        ("getTransferedTps", three(true)),
        ("getTotalTps", total),
        // Counted since start: "today" and "yesterday" begin at start.
        ("msgPutTotalTodayNow", puts.to_string()),
        ("msgGetTotalTodayNow", gets.to_string()),
        ("msgPutTotalTodayMorning", "0".to_string()),
        ("msgGetTotalTodayMorning", "0".to_string()),
        ("msgPutTotalYesterdayMorning", "0".to_string()),
        ("msgGetTotalYesterdayMorning", "0".to_string()),
        ("tailCacheBytes", sum(&|r| r.cache as u64).to_string()),
        ("shards", shard.shards().to_string()),
        ("timerPending", sum(&|r| r.timers_pending).to_string()),
        ("timerDelivered", sum(&|r| r.timers_delivered).to_string()),
        ("timerMemoryBytes", sum(&|r| r.timers_memory).to_string()),
        ("transactionCheckMaxTimes", sum(&|r| r.given_up).to_string()),
    ];
    let table = KVTable::from_java_hash_map(entries.into_iter().map(|(k, v)| (k.to_string(), v)));
    Some(success(&req).with_body(table.encode()))
}

/// (used fraction, total GiB, free GiB) of the file system holding `path`.
fn disk_used_ratio(path: &std::path::Path) -> (f64, f64, f64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (0.0, 0.0, 0.0);
    };
    // SAFETY: statvfs writes into the zeroed struct we pass; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 || st.f_blocks == 0 {
        return (0.0, 0.0, 0.0);
    }
    let gib = (1u64 << 30) as f64;
    let total = st.f_blocks as f64 * st.f_frsize as f64;
    let free = st.f_bavail as f64 * st.f_frsize as f64;
    (
        1.0 - st.f_bavail as f64 / st.f_blocks as f64,
        total / gib,
        free / gib,
    )
}

/// CHECK_CLIENT_CONFIG (46): TAG subscriptions pass; SQL92 needs the
/// property filter (reference §3.3).
pub async fn check_client_config(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let body: serde_json::Value = match ringmq_remoting::body::fastjson::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let ty = body
        .pointer("/subscriptionData/expressionType")
        .and_then(|v| v.as_str())
        .unwrap_or("TAG");
    if ty == "TAG" {
        return Some(success(&req));
    }
    if !shard.cfg.enable_property_filter {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            "The broker does not support consumer to filter message by SQL92",
        ));
    }
    let expr = body
        .pointer("/subscriptionData/subString")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    match super::sql92::SqlFilter::compile(expr) {
        Ok(_) => Some(success(&req)),
        Err(e) => Some(reply(
            &req,
            ResponseCode::SubscriptionParseFailed,
            e.to_string(),
        )),
    }
}

/// GET_TOPIC_STATS_INFO (202): min, max and last store time of every write queue.
pub async fn topic_stats(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let topic = match required(&req, "topic") {
        Ok(t) => t.to_string(),
        Err(r) => return Some(r),
    };
    let Some(conf) = shard.meta.topic(&topic) else {
        return Some(reply(
            &req,
            ResponseCode::TopicNotExist,
            format!("topic[{topic}] not exist"),
        ));
    };
    let mut table = TopicStatsTable::default();
    for qid in 0..conf.write_queue_nums {
        let key = QueueKey::new(topic.clone(), qid);
        let (min, max, last) = queue_span(&shard, key).await;
        table.offset_table.push((
            MessageQueue::new(topic.clone(), shard.cfg.broker_name.clone(), qid as i32),
            TopicOffset {
                min_offset: min,
                max_offset: max,
                last_update_timestamp: last,
            },
        ));
    }
    Some(success(&req).with_body(table.encode()))
}

/// (min, max, store time of the message at max - 1) of a queue, on its owner.
async fn queue_span(shard: &Rc<BrokerShard>, key: QueueKey) -> (i64, i64, i64) {
    let owner = shard.owner_of(&key.topic, key.queue_id);
    shard
        .on_owner(owner, move |s| async move {
            let (min, max) = (s.store.min_offset(&key).0, s.store.max_offset(&key).0);
            let last = if max > 0 {
                s.store
                    .store_time_at(&key, QueueOffset(max - 1))
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(0)
            } else {
                0
            };
            (min as i64, max as i64, last)
        })
        .await
        .unwrap_or((0, 0, 0))
}

/// GET_CONSUME_STATS (208): for each topic of the group and each read
/// queue, the queue's max offset, the group's committed offset and the store
/// time of the last consumed message.
pub async fn consume_stats(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let h: GetConsumeStatsRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let group = h.consumer_group.clone();
    let topics: Vec<String> = match h.topic.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => vec![t.to_string()],
        None => {
            let mut all: Vec<String> = offset_pairs(&shard)
                .await
                .into_iter()
                .filter(|(_, g)| *g == group)
                .map(|(t, _)| t)
                .collect();
            all.sort();
            all.dedup();
            all
        }
    };
    let online = clients::consumer_group_snapshot(&shard, &group).await;
    let mut stats = ConsumeStats::default();
    for topic in topics {
        // A topic deleted since the group consumed it is skipped, as Apache does.
        let Some(conf) = shard.meta.topic(&topic) else {
            continue;
        };
        // An online group that does not subscribe to the topic is skipped.
        if let Some(g) = &online {
            if !g.channels.is_empty() && !g.subscriptions.contains_key(&topic) {
                continue;
            }
        }
        for qid in 0..conf.read_queue_nums {
            let key = QueueKey::new(topic.clone(), qid);
            let owner = shard.owner_of(&topic, qid);
            let g = group.clone();
            let w = shard
                .on_owner(owner, move |s| async move {
                    let max = s.store.max_offset(&key).0 as i64;
                    let committed = s
                        .offsets
                        .borrow()
                        .query(&g, &key.topic, key.queue_id)
                        .unwrap_or(0)
                        .max(0);
                    let last = if committed > 0 {
                        s.store
                            .store_time_at(&key, QueueOffset(committed as u64 - 1))
                            .await
                            .ok()
                            .flatten()
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    OffsetWrapper {
                        broker_offset: max,
                        consumer_offset: committed,
                        last_timestamp: last,
                        pull_offset: None,
                    }
                })
                .await
                .unwrap_or_default();
            stats.offset_table.push((
                MessageQueue::new(topic.clone(), shard.cfg.broker_name.clone(), qid as i32),
                w,
            ));
        }
    }
    Some(success(&req).with_body(stats.encode()))
}

fn wire_connection(ch: &clients::ClientChannel) -> WireConnection {
    WireConnection {
        client_addr: ch.peer.to_string(),
        client_id: ch.client_id.clone(),
        language: ch.language,
        version: ch.version,
    }
}

/// GET_CONSUMER_CONNECTION_LIST (203).
pub async fn consumer_connections(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let group = match required(&req, "consumerGroup") {
        Ok(g) => g.to_string(),
        Err(r) => return Some(r),
    };
    let Some(g) = clients::consumer_group_snapshot(&shard, &group)
        .await
        .filter(|g| !g.channels.is_empty())
    else {
        return Some(reply(
            &req,
            ResponseCode::ConsumerNotOnline,
            format!("the consumer group[{group}] not online"),
        ));
    };
    let mut topics: Vec<_> = g.subscriptions.iter().collect();
    topics.sort_by(|a, b| a.0.cmp(b.0));
    let body = ConsumerConnection {
        connection_set: g.channels.values().map(wire_connection).collect(),
        consume_from_where: Some(g.consume_from_where),
        consume_type: Some(g.consume_type),
        message_model: Some(g.message_model),
        subscription_table: topics
            .into_iter()
            .map(|(t, s)| (t.clone(), s.clone()))
            .collect(),
    };
    Some(success(&req).with_body(body.encode()))
}

/// GET_PRODUCER_CONNECTION_LIST (204).
pub async fn producer_connections(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let group = match required(&req, "producerGroup") {
        Ok(g) => g.to_string(),
        Err(r) => return Some(r),
    };
    match clients::producer_group_snapshot(&shard, &group).await {
        Some(chs) if !chs.is_empty() => {
            let body = ProducerConnection {
                connection_set: chs.iter().map(wire_connection).collect(),
            };
            Some(success(&req).with_body(body.encode()))
        }
        _ => Some(reply(
            &req,
            ResponseCode::SystemError,
            format!("the producer group[{group}] not exist"),
        )),
    }
}

/// Every (topic, group) with committed offsets, over all shards.
async fn offset_pairs(shard: &Rc<BrokerShard>) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for target in 0..shard.shards() {
        let part = shard
            .on_owner(target, |s| async move { s.offsets.borrow().topic_groups() })
            .await
            .unwrap_or_default();
        all.extend(part);
    }
    all
}

/// QUERY_TOPIC_CONSUME_BY_WHO (300): groups with offsets on the topic, and
/// online groups subscribed to it.
pub async fn consumed_by(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let topic = match required(&req, "topic") {
        Ok(t) => t.to_string(),
        Err(r) => return Some(r),
    };
    let mut groups = shard.meta.groups_subscribed_to(&topic);
    groups.extend(
        offset_pairs(&shard)
            .await
            .into_iter()
            .filter(|(t, _)| *t == topic)
            .map(|(_, g)| g),
    );
    groups.sort();
    groups.dedup();
    let body = GroupList { group_list: groups };
    Some(success(&req).with_body(body.encode()))
}

/// INVOKE_BROKER_TO_RESET_OFFSET (222), as Apache 4.x: compute each write
/// queue's offset for the timestamp (-1: the max offset), keep the group's
/// offset where it is smaller unless forced, and tell every consumer of the
/// group with RESET_CONSUMER_CLIENT_OFFSET (the consumers commit the new
/// offsets themselves).
pub async fn reset_offset(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Reply {
    let h: ResetOffsetRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let Some(conf) = shard.meta.topic(&h.topic) else {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            format!(
                "[reset-offset] reset offset failed, no topic in this broker. topic={}",
                h.topic
            ),
        ));
    };
    let mut table = Vec::new();
    for qid in 0..conf.write_queue_nums {
        let key = QueueKey::new(h.topic.clone(), qid);
        let (group, ts, force) = (h.group.clone(), h.timestamp, h.is_force);
        let owner = shard.owner_of(&h.topic, qid);
        let r = shard
            .on_owner(owner, move |s| async move {
                let Some(current) = s.offsets.borrow().query(&group, &key.topic, key.queue_id)
                else {
                    return Err(format!("THe consumer group <{group}> not exist"));
                };
                let by_time = if ts == -1 {
                    s.store.max_offset(&key).0 as i64
                } else {
                    s.store
                        .offset_by_time(&key, ts)
                        .await
                        .map_err(|e| e.to_string())?
                        .0 as i64
                };
                Ok(if force || by_time < current {
                    by_time
                } else {
                    current
                })
            })
            .await
            .unwrap_or_else(|| Err("shard unavailable".into()));
        match r {
            Ok(o) => table.push((
                MessageQueue::new(h.topic.clone(), shard.cfg.broker_name.clone(), qid as i32),
                o,
            )),
            Err(e) => return Some(reply(&req, ResponseCode::SystemError, e)),
        }
    }
    let body = ResetOffsetBody {
        offset_table: table,
    };
    let members = clients::consumer_group_snapshot(&shard, &h.group)
        .await
        .map(|g| g.channels.keys().copied().collect::<Vec<_>>())
        .unwrap_or_default();
    if members.is_empty() {
        return Some(reply(
            &req,
            ResponseCode::ConsumerNotOnline,
            format!(
                "Consumer not online, so can not reset offset, Group: {} Topic: {} Timestamp: {}",
                h.group, h.topic, h.timestamp
            ),
        ));
    }
    let encoded = body.encode();
    for conn in members {
        let mut cmd = RemotingCommand::new_request(RequestCode::ResetConsumerClientOffset, 0);
        cmd.encode_header(&ResetOffsetRequestHeader {
            topic: h.topic.clone(),
            group: h.group.clone(),
            queue_id: None,
            offset: None,
            timestamp: h.timestamp,
            is_force: h.is_force,
        });
        cmd.body = encoded.clone().into();
        cmd.mark_oneway();
        shard
            .mesh
            .post(conn.shard(), move |s| async move {
                let c = s.conns.borrow().get(&conn).cloned();
                if let Some(c) = c {
                    c.try_send(cmd);
                }
            })
            .await;
    }
    Some(success(&req).with_body(encoded))
}
