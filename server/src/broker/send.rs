//! SEND_MESSAGE / SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE (reference §3.2, §7).
//!
//! The accepting shard does everything that needs no queue state: header
//! decoding, the topic checks of §7.2 in Apache's order, auto-creation,
//! queue choice and building the records. Only the append runs on the shard
//! that owns the queue; the reply is built back here.

use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use ringmq_engine::{MessageInput, StoreError};
use ringmq_remoting::message::{self as msg, MessageProperties};
use ringmq_remoting::{
    RemotingCommand, RequestCode, ResponseCode, SendMessageRequestHeader,
    SendMessageResponseHeader, EXT_MSG_REGION, EXT_TRACE_ON,
};

use super::metadata;
use super::metadata::{perm, TopicLookup};
use super::schedule;
use super::shard::BrokerShard;
use super::stats;
use super::timer;
use super::topic_names;
use super::transaction;
use crate::net::conn::reply;
use crate::net::Connection;

/// Handles one send request.
pub async fn handle(
    shard: Rc<BrokerShard>,
    conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let oneway = req.is_oneway();
    let resp = send(&shard, &conn, &req).await;
    (!oneway).then_some(resp)
}

async fn send(
    shard: &Rc<BrokerShard>,
    conn: &Connection,
    req: &RemotingCommand,
) -> RemotingCommand {
    let h = match SendMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return reply(req, ResponseCode::SystemError, e.to_string()),
    };
    let batch = req.request_code() == RequestCode::SendBatchMessage;
    if let Err(remark) = topic_names::validate(&h.topic) {
        return reply(req, ResponseCode::SystemError, remark);
    }
    if topic_names::is_not_allowed_send(&h.topic) {
        return reply(
            req,
            ResponseCode::NoPermission,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        );
    }

    // §7.2 step 5: auto-create from the default topic (%RETRY% topics with one queue).
    let retry = h.topic.starts_with(topic_names::RETRY_PREFIX);
    let topic = match shard.meta.topic(&h.topic) {
        Some(t) => t,
        None => {
            let queues = if retry {
                1
            } else {
                h.default_topic_queue_nums.max(1) as u32
            };
            match shard
                .meta
                .create_topic_in_send(&h.topic, &h.default_topic, queues, &shard.cfg)
            {
                TopicLookup::Found(t) => t,
                TopicLookup::Missing => {
                    return reply(
                        req,
                        ResponseCode::TopicNotExist,
                        format!(
                            "topic[{}] not exist, apply first please! http://rocketmq.apache.org/docs/faq/",
                            h.topic
                        ),
                    )
                }
            }
        }
    };
    // Apache refuses here only an order topic on a broker without write
    // permission; producers follow the route's permissions otherwise.
    if shard.cfg.broker_permission & perm::WRITE == 0 && topic.order {
        return reply(
            req,
            ResponseCode::NoPermission,
            format!(
                "the broker[{}] sending message is forbidden",
                shard.cfg.broker_ip1
            ),
        );
    }
    let queue_nums = topic.write_queue_nums.max(topic.read_queue_nums) as i32;
    if h.queue_id >= queue_nums {
        return reply(
            req,
            ResponseCode::SystemError,
            format!(
                "request queueId[{}] is illegal, {:?} Producer: {}",
                h.queue_id, topic, conn.peer
            ),
        );
    }
    let queue_id = if h.queue_id < 0 {
        rand::random_range(0..topic.write_queue_nums.max(1))
    } else {
        h.queue_id as u32
    };
    let mut topic_name = h.topic.clone();
    let mut queue_id = queue_id;
    // §7.2 step 7: a retry message past its limit goes to the group's DLQ.
    if retry {
        let group = &h.topic[topic_names::RETRY_PREFIX.len()..];
        let Some(gc) = shard.meta.group_or_create(group, &shard.cfg) else {
            return reply(
                req,
                ResponseCode::SubscriptionGroupNotExist,
                format!("subscription group not exist, {group}"),
            );
        };
        let max = h.max_reconsume_times.unwrap_or(gc.retry_max_times);
        if h.reconsume_times.unwrap_or(0) >= max {
            let dlq = format!("{}{group}", topic_names::DLQ_PREFIX);
            shard
                .meta
                .create_system_topic(&dlq, 1, perm::READ | perm::WRITE, &shard.cfg);
            topic_name = dlq;
            queue_id = 0;
        }
    }
    let mut sys_flag = h.sys_flag;
    if topic.topic_filter_type == "MULTI_TAG" {
        sys_flag |= msg::MessageSysFlag::MULTI_TAGS_FLAG;
    }
    let header_props = h.properties.as_deref().unwrap_or("");
    if header_props.len() > i16::MAX as usize {
        return reply(
            req,
            ResponseCode::MessageIllegal,
            format!(
                "the message properties length is {}, over max value {}",
                header_props.len(),
                i16::MAX
            ),
        );
    }
    let base = MessageInput {
        topic: topic_name.clone(),
        queue_id,
        flag: h.flag,
        body: Bytes::new(),
        properties: String::new(),
        sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: conn.peer,
        store_host: shard.store_host,
        reconsume_times: h.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
    };
    let cluster = &shard.cfg.broker_cluster_name;
    let inputs: Vec<MessageInput> = if batch {
        let items = match msg::decode_batch(&req.body) {
            Ok(items) if !items.is_empty() => items,
            Ok(_) => return reply(req, ResponseCode::MessageIllegal, "empty batch"),
            Err(e) => {
                return reply(
                    req,
                    ResponseCode::MessageIllegal,
                    format!("bad batch body: {e}"),
                )
            }
        };
        // Each item keeps its own properties; the batch header's (plus
        // CLUSTER) are appended, as Apache stores them (§5.7).
        let mut tail = MessageProperties::parse(header_props);
        tail.insert(msg::property::CLUSTER, cluster.as_str());
        let tail = tail.encode();
        if req.body.len() > shard.cfg.max_message_size {
            return too_big(req, shard.cfg.max_message_size);
        }
        let mut v = Vec::with_capacity(items.len());
        for it in items {
            if it.body.len() > shard.cfg.max_message_size {
                return too_big(req, shard.cfg.max_message_size);
            }
            let mut props = Vec::new();
            msg::join_properties(it.properties, tail.as_bytes(), &mut props);
            v.push(MessageInput {
                flag: it.flag,
                body: Bytes::copy_from_slice(it.body),
                properties: String::from_utf8_lossy(&props).into_owned(),
                ..base.clone()
            });
        }
        v
    } else {
        if req.body.len() > shard.cfg.max_message_size {
            return too_big(req, shard.cfg.max_message_size);
        }
        let mut props = MessageProperties::parse(header_props);
        props.remove(msg::property::WAIT);
        props.insert(msg::property::CLUSTER, cluster.as_str());
        let mut m = MessageInput {
            body: req.body.clone(),
            ..base
        };
        if m.topic.starts_with(topic_names::DLQ_PREFIX) {
            props.remove(msg::property::DELAY);
        }
        if transaction::is_prepared(m.sys_flag, &props) {
            if shard.cfg.reject_transaction_message {
                return reply(
                    req,
                    ResponseCode::NoPermission,
                    format!(
                        "the broker[{}] sending transaction message is forbidden",
                        shard.cfg.broker_ip1
                    ),
                );
            }
            shard.meta.create_system_topic(
                topic_names::TRANS_HALF_TOPIC,
                1,
                perm::READ | perm::WRITE,
                &shard.cfg,
            );
            transaction::to_half(&mut m, &mut props);
        } else {
            match timer::requested_delivery(&props, metadata::now_ms()) {
                Err(remark) => return reply(req, ResponseCode::MessageIllegal, remark),
                Ok(Some(at)) => timer::divert(&mut m, &mut props, at, shard.shards()),
                Ok(None) => {
                    schedule::divert(&mut m, &mut props, shard.delay_levels.len());
                }
            }
        }
        m.properties = props.encode();
        vec![m]
    };
    for m in &inputs {
        if m.properties.len() > i16::MAX as usize {
            return reply(
                req,
                ResponseCode::MessageIllegal,
                format!(
                    "the message properties length is {}, over max value {}",
                    m.properties.len(),
                    i16::MAX
                ),
            );
        }
    }

    // A delayed message goes to its level's queue in the schedule topic.
    let owner = shard.owner_of(&inputs[0].topic, inputs[0].queue_id);
    let appended = shard
        .on_owner(owner, move |s| async move {
            let r = s.store.append(&inputs).await.map(|r| r.records);
            if let Ok(recs) = &r {
                s.msgs_put.set(s.msgs_put.get() + recs.len() as u64);
                let (n, bytes) = (recs.len() as u64, recs.iter().map(|a| a.size as u64).sum());
                let mut st = s.stats.borrow_mut();
                st.add(stats::TOPIC_PUT_NUMS, &inputs[0].topic, n);
                st.add(stats::TOPIC_PUT_SIZE, &inputs[0].topic, bytes);
                st.add(stats::BROKER_PUT_NUMS, &s.cfg.broker_cluster_name, n);
            }
            r
        })
        .await;
    let records = match appended {
        Some(Ok(r)) => r,
        Some(Err(e)) => return store_error(req, &e),
        None => return reply(req, ResponseCode::SystemError, "shard unavailable"),
    };
    let store_host = shard.store_host;
    let msg_id = records
        .iter()
        .map(|r| offset_msg_id(store_host, r.log_offset.0))
        .collect::<Vec<_>>()
        .join(",");
    let first_offset = records
        .first()
        .and_then(|r| r.queue_offset)
        .map(|q| q.0 as i64)
        .unwrap_or(0);
    let mut resp = RemotingCommand::response_to(req, ResponseCode::Success, None);
    resp.encode_header(&SendMessageResponseHeader {
        msg_id,
        queue_id: queue_id as i32,
        queue_offset: first_offset,
        transaction_id: None,
        batch_uniq_id: None,
    });
    let ext = resp.ext_fields_mut();
    ext.insert(EXT_MSG_REGION, shard.cfg.region_id.clone());
    ext.insert(
        EXT_TRACE_ON,
        if shard.cfg.trace_on { "true" } else { "false" },
    );
    resp
}

fn too_big(req: &RemotingCommand, max: usize) -> RemotingCommand {
    reply(
        req,
        ResponseCode::MessageIllegal,
        format!("the message body size over max value, MAX: {max}"),
    )
}

/// Maps a store refusal to Apache's send result codes (§7.4).
pub fn store_error(req: &RemotingCommand, e: &StoreError) -> RemotingCommand {
    let code = match e {
        StoreError::MessageIllegal(_) | StoreError::PropertiesTooLong { .. } => {
            ResponseCode::MessageIllegal
        }
        StoreError::DiskFull { .. } | StoreError::Poisoned { .. } | StoreError::ShuttingDown => {
            ResponseCode::ServiceNotAvailable
        }
        _ => ResponseCode::SystemError,
    };
    reply(req, code, e.to_string())
}

/// The offset message id of a record (§5.5).
pub fn offset_msg_id(store_host: SocketAddr, log_offset: u64) -> String {
    msg::OffsetMsgId::new(store_host, log_offset as i64).encode()
}
