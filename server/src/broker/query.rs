//! Message queries (reference §3.3): QUERY_MESSAGE by key or UNIQ_KEY,
//! fanned out to every shard's index, and VIEW_MESSAGE_BY_ID, sent to the
//! shard whose id sits in the offset's high bits.

use std::rc::Rc;

use bytes::BytesMut;
use ringmq_engine::LogOffset;
use ringmq_remoting::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, RemotingCommand, ResponseCode,
    ViewMessageRequestHeader,
};

use super::shard::BrokerShard;
use crate::net::conn::reply;
use crate::net::Connection;

/// Apache `defaultQueryMaxNum`, used for UNIQ_KEY queries.
const DEFAULT_QUERY_MAX_NUM: usize = 32;

/// QUERY_MESSAGE (12).
pub async fn query_message(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: QueryMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let unique = req
        .ext_field("_UNIQUE_KEY_QUERY")
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    let max = if unique {
        DEFAULT_QUERY_MAX_NUM
    } else {
        h.max_num.max(1) as usize
    };
    let mut records = Vec::new();
    for target in 0..shard.shards() {
        let (topic, key) = (h.topic.clone(), h.key.clone());
        let (begin, end) = (h.begin_timestamp, h.end_timestamp);
        let found = shard
            .on_owner(target, move |s| async move {
                s.store
                    .query_by_key(&topic, &key, begin, end, max)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        match found {
            Some(Ok(v)) => records.extend(v),
            Some(Err(e)) => return Some(reply(&req, ResponseCode::SystemError, e)),
            None => return Some(reply(&req, ResponseCode::SystemError, "shard unavailable")),
        }
    }
    if records.is_empty() {
        return Some(reply(
            &req,
            ResponseCode::QueryNotFound,
            "can not find message, maybe time range not correct",
        ));
    }
    records.truncate(max);
    let mut body = BytesMut::with_capacity(records.iter().map(|r| r.len()).sum());
    for r in &records {
        body.extend_from_slice(r);
    }
    let mut resp = RemotingCommand::response_to(&req, ResponseCode::Success, None);
    resp.encode_header(&QueryMessageResponseHeader {
        index_last_update_timestamp: super::metadata::now_ms(),
        index_last_update_phyoffset: 0,
    });
    resp.body = body.freeze();
    Some(resp)
}

/// VIEW_MESSAGE_BY_ID (33): `offset` is a commit-log offset from an offset
/// msgId; its shard is in the high bits.
pub async fn view_message(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h: ViewMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let not_found = || {
        reply(
            &req,
            ResponseCode::SystemError,
            format!("can not find message by the offset, {}", h.offset),
        )
    };
    if h.offset < 0 {
        return Some(not_found());
    }
    let pos = LogOffset(h.offset as u64);
    let target = pos.shard();
    if target >= shard.shards() {
        return Some(not_found());
    }
    let rec = shard
        .on_owner(target, move |s| async move {
            s.store.read_record(pos).await.ok()
        })
        .await
        .flatten();
    Some(match rec {
        Some(r) => RemotingCommand::response_to(&req, ResponseCode::Success, None).with_body(r),
        None => not_found(),
    })
}
