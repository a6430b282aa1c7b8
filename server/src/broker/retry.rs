//! CONSUMER_SEND_MSG_BACK (reference §3.3, §7.5): a consumer hands back a
//! message it failed to consume. The broker re-stores it in the group's
//! `%RETRY%` topic with the next delay level of the 16-step back-off, or in
//! its `%DLQ%` topic once `maxReconsumeTimes` is reached.

use std::rc::Rc;

use ringmq_engine::{record, LogOffset, MessageInput};
use ringmq_remoting::message::{property, MessageProperties, OffsetMsgId};
use ringmq_remoting::{ConsumerSendMsgBackRequestHeader, RemotingCommand, ResponseCode};

use super::metadata::perm;
use super::schedule;
use super::send::store_error;
use super::shard::BrokerShard;
use super::topic_names::{DLQ_PREFIX, RETRY_PREFIX};
use crate::net::conn::reply;
use crate::net::Connection;

/// Clients older than this send no `maxReconsumeTimes` (Apache V3_4_9).
const V3_4_9: i32 = 73;

pub async fn send_back(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: ConsumerSendMsgBackRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let cfg = shard.cfg.clone();
    let Some(group) = shard.meta.group(&h.group) else {
        return Some(reply(
            &req,
            ResponseCode::SubscriptionGroupNotExist,
            format!(
                "subscription group not exist, {} http://rocketmq.apache.org/docs/faq/",
                h.group
            ),
        ));
    };
    if cfg.broker_permission & perm::WRITE == 0 {
        return Some(reply(
            &req,
            ResponseCode::NoPermission,
            format!(
                "the broker[{}] sending message is forbidden",
                cfg.broker_ip1
            ),
        ));
    }
    if group.retry_queue_nums == 0 {
        return Some(RemotingCommand::response_to(
            &req,
            ResponseCode::Success,
            None,
        ));
    }
    // The original record, on the shard its offset names.
    let pos = LogOffset(h.offset.max(0) as u64);
    let rec = if h.offset >= 0 && pos.shard() < shard.shards() {
        shard
            .on_owner(pos.shard(), move |s| async move {
                s.store.read_record(pos).await.ok()
            })
            .await
            .flatten()
    } else {
        None
    };
    let Some(rec) = rec else {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            format!("look message by offset failed, {}", h.offset),
        ));
    };
    let Ok(v) = record::decode(&rec, false) else {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            format!("look message by offset failed, {}", h.offset),
        ));
    };
    let mut props = MessageProperties::parse(v.properties);
    if props.get(property::RETRY_TOPIC).is_none() {
        props.insert(property::RETRY_TOPIC, v.topic);
    }
    let max = match h.max_reconsume_times {
        Some(m) if req.version >= V3_4_9 => m,
        _ => group.retry_max_times,
    };
    let to_dlq = v.reconsume_times >= max || h.delay_level < 0;
    let (topic, queue_id) = if to_dlq {
        let dlq = format!("{DLQ_PREFIX}{}", h.group);
        shard
            .meta
            .create_system_topic(&dlq, 1, perm::READ | perm::WRITE, &cfg);
        props.remove(property::DELAY);
        (dlq, 0)
    } else {
        let retry = format!("{RETRY_PREFIX}{}", h.group);
        let t = shard.meta.create_system_topic(
            &retry,
            group.retry_queue_nums,
            perm::READ | perm::WRITE,
            &cfg,
        );
        let level = if h.delay_level == 0 {
            3 + v.reconsume_times
        } else {
            h.delay_level
        };
        props.insert(property::DELAY, level.to_string());
        (retry, rand::random_range(0..t.write_queue_nums.max(1)))
    };
    // As 4.9.7: the stored record's own ORIGIN_MESSAGE_ID (a retry of a
    // retry), else its offset msgId; the header's originMsgId is not used
    // (Java clients send the unique key there).
    if props
        .get(property::ORIGIN_MESSAGE_ID)
        .is_none_or(|id| id.trim().is_empty())
    {
        let origin = OffsetMsgId::new(v.store_host, v.physical_offset).encode();
        props.insert(property::ORIGIN_MESSAGE_ID, origin);
    }
    props.insert(property::WAIT, "false");
    let mut m = MessageInput {
        topic,
        queue_id,
        flag: v.flag,
        body: bytes::Bytes::copy_from_slice(v.body),
        properties: String::new(),
        sys_flag: v.sys_flag,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        store_host: v.store_host,
        reconsume_times: v.reconsume_times + 1,
        prepared_transaction_offset: 0,
    };
    schedule::divert(&mut m, &mut props, shard.delay_levels.len());
    m.properties = props.encode();
    let owner = shard.owner_of(&m.topic, m.queue_id);
    let put = shard
        .on_owner(owner, move |s| async move {
            s.store.append(&[m]).await.map(|_| ())
        })
        .await;
    Some(match put {
        Some(Ok(())) => RemotingCommand::response_to(&req, ResponseCode::Success, None),
        Some(Err(e)) => store_error(&req, &e),
        None => reply(&req, ResponseCode::SystemError, "shard unavailable"),
    })
}
