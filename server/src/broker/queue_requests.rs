//! Requests about one queue's offsets (reference §3.3): consumer offsets,
//! max/min offset, earliest store time, offset by timestamp. Each runs on
//! the queue's owner shard.

use std::rc::Rc;

use ringmq_engine::{QueueKey, QueueOffset};
use ringmq_remoting::{
    CommandCustomHeader, GetEarliestMsgStoretimeRequestHeader,
    GetEarliestMsgStoretimeResponseHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    GetMinOffsetRequestHeader, GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, RemotingCommand, ResponseCode, SearchOffsetRequestHeader,
    SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};

use super::shard::BrokerShard;
use crate::net::conn::reply;
use crate::net::Connection;

fn header<H: CommandCustomHeader>(req: &RemotingCommand) -> Result<H, RemotingCommand> {
    req.decode_header::<H>()
        .map_err(|e| reply(req, ResponseCode::SystemError, e.to_string()))
}

fn ok_with<H: CommandCustomHeader>(req: &RemotingCommand, h: &H) -> RemotingCommand {
    let mut r = RemotingCommand::response_to(req, ResponseCode::Success, None);
    r.encode_header(h);
    r
}

fn queue_id(q: i32) -> u32 {
    q.max(0) as u32
}

/// UPDATE_CONSUMER_OFFSET (15): stored as given (Apache does not check it).
pub async fn update_consumer_offset(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: UpdateConsumerOffsetRequestHeader = match header(&req) {
        Ok(h) => h,
        Err(r) => return Some(r),
    };
    let qid = queue_id(h.queue_id);
    let owner = shard.owner_of(&h.topic, qid);
    shard
        .on_owner(owner, move |s| async move {
            s.offsets
                .borrow_mut()
                .commit(&h.consumer_group, &h.topic, qid, h.commit_offset);
        })
        .await;
    if req.is_oneway() {
        return None;
    }
    let mut r = RemotingCommand::response_to(&req, ResponseCode::Success, None);
    r.ext_fields = Some(Default::default());
    Some(r)
}

/// QUERY_CONSUMER_OFFSET (14), with Apache 4.9.7's answer for a group that
/// never committed (§3.3): 0 while the queue's first message is still in
/// memory (or the queue is empty and never truncated), else QUERY_NOT_FOUND.
pub async fn query_consumer_offset(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: QueryConsumerOffsetRequestHeader = match header(&req) {
        Ok(h) => h,
        Err(r) => return Some(r),
    };
    let qid = queue_id(h.queue_id);
    let owner = shard.owner_of(&h.topic, qid);
    let zero_ok = h.set_zero_if_not_found.unwrap_or(true);
    let (group, topic) = (h.consumer_group.clone(), h.topic.clone());
    let found = shard
        .on_owner(owner, move |s| async move {
            if let Some(o) = s.offsets.borrow().query(&group, &topic, qid) {
                return Ok(Some(o));
            }
            let key = QueueKey::new(topic, qid);
            if zero_ok && s.store.min_offset(&key).0 == 0 {
                let in_memory = s.store.is_in_memory(&key, QueueOffset(0)).await;
                return in_memory.map(|m| m.then_some(0)).map_err(|e| e.to_string());
            }
            Ok(None)
        })
        .await;
    Some(match found {
        Some(Ok(Some(o))) => ok_with(&req, &QueryConsumerOffsetResponseHeader { offset: o }),
        Some(Err(e)) => reply(&req, ResponseCode::SystemError, e),
        _ => reply(
            &req,
            ResponseCode::QueryNotFound,
            "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
        ),
    })
}

/// Runs `f` with the queue on its owner shard.
async fn on_queue<T, F, Fut>(
    shard: &Rc<BrokerShard>,
    topic: &str,
    queue: i32,
    f: F,
) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(Rc<BrokerShard>, QueueKey) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>> + 'static,
{
    let key = QueueKey::new(topic, queue_id(queue));
    let owner = shard.owner_of(&key.topic, key.queue_id);
    shard
        .on_owner(owner, move |s| f(s, key))
        .await
        .unwrap_or_else(|| Err("shard unavailable".into()))
}

/// SUCCESS with the header, or SYSTEM_ERROR with the reason.
fn answer<H: CommandCustomHeader>(
    req: &RemotingCommand,
    r: Result<H, String>,
) -> Option<RemotingCommand> {
    Some(match r {
        Ok(h) => ok_with(req, &h),
        Err(e) => reply(req, ResponseCode::SystemError, e),
    })
}

/// GET_MAX_OFFSET (30): the next offset to be written; 0 for no queue.
pub async fn max_offset(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: GetMaxOffsetRequestHeader = match header(&req) {
        Ok(h) => h,
        Err(r) => return Some(r),
    };
    let r = on_queue(&shard, &h.topic, h.queue_id, |s, key| async move {
        Ok(GetMaxOffsetResponseHeader {
            offset: s.store.max_offset(&key).0 as i64,
        })
    });
    answer(&req, r.await)
}

/// GET_MIN_OFFSET (31).
pub async fn min_offset(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: GetMinOffsetRequestHeader = match header(&req) {
        Ok(h) => h,
        Err(r) => return Some(r),
    };
    let r = on_queue(&shard, &h.topic, h.queue_id, |s, key| async move {
        Ok(GetMinOffsetResponseHeader {
            offset: s.store.min_offset(&key).0 as i64,
        })
    });
    answer(&req, r.await)
}

/// GET_EARLIEST_MSG_STORETIME (32): -1 when the queue is empty.
pub async fn earliest_store_time(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: GetEarliestMsgStoretimeRequestHeader = match header(&req) {
        Ok(h) => h,
        Err(r) => return Some(r),
    };
    let r = on_queue(&shard, &h.topic, h.queue_id, |s, key| async move {
        let t = s
            .store
            .earliest_store_time(&key)
            .await
            .map_err(|e| e.to_string())?;
        Ok(GetEarliestMsgStoretimeResponseHeader { timestamp: t })
    });
    answer(&req, r.await)
}

/// SEARCH_OFFSET_BY_TIMESTAMP (29): Apache 4.9.7's nearest-neighbour search.
pub async fn search_offset(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: SearchOffsetRequestHeader = match header(&req) {
        Ok(h) => h,
        Err(r) => return Some(r),
    };
    let ts = h.timestamp;
    let r = on_queue(&shard, &h.topic, h.queue_id, move |s, key| async move {
        let o = s
            .store
            .offset_by_time(&key, ts)
            .await
            .map_err(|e| e.to_string())?;
        Ok(SearchOffsetResponseHeader { offset: o.0 as i64 })
    });
    answer(&req, r.await)
}
