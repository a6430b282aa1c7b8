//! Admin requests the broker answers by asking a consumer client
//! (4.9.7 `AdminBrokerProcessor.callConsumer`): GET_CONSUMER_RUNNING_INFO
//! (307, `mqadmin consumerStatus`, `consumerProgress -s`, the dashboard's
//! client view) and CONSUME_MESSAGE_DIRECTLY (309, the dashboard's "resend
//! to this consumer"). The request is forwarded with its extFields and body
//! to the client's connection, through the shard that owns that connection,
//! and the client's answer is returned as it is.

use std::rc::Rc;
use std::time::Duration;

use ringmq_engine::LogOffset;
use ringmq_remoting::headers::GetConsumerRunningInfoRequestHeader;
use ringmq_remoting::message::OffsetMsgId;
use ringmq_remoting::{version, RemotingCommand, RequestCode, ResponseCode};

use super::clients::consumer_group_snapshot;
use super::shard::BrokerShard;
use crate::net::conn::reply;
use crate::net::Connection;

/// Apache's `Broker2Client.callClient` timeout.
const CALL_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// GET_CONSUMER_RUNNING_INFO (307).
pub async fn running_info(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let h = match req.decode_header::<GetConsumerRunningInfoRequestHeader>() {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let mut fwd = RemotingCommand::new_request(RequestCode::GetConsumerRunningInfo, 0);
    fwd.ext_fields = req.ext_fields.clone();
    fwd.body = req.body.clone();
    Some(call(&shard, &req, fwd, &h.consumer_group, &h.client_id).await)
}

/// CONSUME_MESSAGE_DIRECTLY (309): the record named by `msgId` (an offset
/// msgId) becomes the body, and `brokerName` is set to this broker's.
pub async fn consume_directly(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let field = |k: &str| req.ext_field(k).map(str::to_owned);
    let (Some(group), Some(client)) = (field("consumerGroup"), field("clientId")) else {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            "the fields consumerGroup and clientId are required",
        ));
    };
    let mut fwd = RemotingCommand::new_request(RequestCode::ConsumeMessageDirectly, 0);
    fwd.ext_fields = req.ext_fields.clone();
    fwd.ext_fields_mut()
        .insert("brokerName", shard.cfg.broker_name.clone());
    // As Java: a msgId that names no record leaves the body as it came.
    fwd.body = req.body.clone();
    if let Some(pos) = field("msgId").and_then(|id| OffsetMsgId::decode(&id).ok()) {
        let pos = LogOffset(pos.physical_offset.max(0) as u64);
        if pos.shard() < shard.shards() {
            let rec = shard
                .on_owner(pos.shard(), move |s| async move {
                    s.store.read_record(pos).await.ok()
                })
                .await
                .flatten();
            if let Some(rec) = rec {
                fwd.body = rec;
            }
        }
    }
    Some(call(&shard, &req, fwd, &group, &client).await)
}

/// Forwards `fwd` to the connection of `client` in `group` and answers
/// `req` with the client's response (or Apache's error for each failure).
async fn call(
    shard: &Rc<BrokerShard>,
    req: &RemotingCommand,
    fwd: RemotingCommand,
    group: &str,
    client: &str,
) -> RemotingCommand {
    let channel = consumer_group_snapshot(shard, group)
        .await
        .and_then(|g| g.channels.into_values().find(|c| c.client_id == client));
    let Some(channel) = channel else {
        return reply(
            req,
            ResponseCode::SystemError,
            format!("The Consumer <{group}> <{client}> not online"),
        );
    };
    if channel.version < version::V3_1_8_SNAPSHOT {
        return reply(
            req,
            ResponseCode::SystemError,
            format!(
                "The Consumer <{client}> Version <{}> too low to finish, please upgrade it to V3_1_8_SNAPSHOT",
                channel.version
            ),
        );
    }
    let target = channel.conn;
    let answer = shard
        .mesh
        .call(target.shard(), move |t| async move {
            let conn = t.conns.borrow().get(&target).cloned();
            match conn {
                Some(conn) => conn.invoke(fwd, CALL_CLIENT_TIMEOUT).await.ok_or(true),
                None => Err(false),
            }
        })
        .await;
    match answer {
        Ok(Ok(mut resp)) => {
            // The client's answer, under the admin request's opaque.
            resp.opaque = req.opaque;
            resp
        }
        Ok(Err(true)) => reply(
            req,
            ResponseCode::ConsumeMsgTimeout,
            format!(
                "consumer <{group}> <{client}> Timeout: no answer within {CALL_CLIENT_TIMEOUT:?}"
            ),
        ),
        _ => reply(
            req,
            ResponseCode::SystemError,
            format!("invoke consumer <{group}> <{client}> Exception: the connection is gone"),
        ),
    }
}
