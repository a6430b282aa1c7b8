//! Property names (Java `MessageConst`, reference §5.2).
//!
//! Names follow the Java constants without their `PROPERTY_` prefix, so
//! `MessageConst.PROPERTY_WAIT_STORE_MSG_OK` is [`WAIT_STORE_MSG_OK`]. The
//! names used everywhere also have short aliases named after their value
//! ([`UNIQ_KEY`], [`WAIT`], [`DELAY`]).

// ---- 4.9.7 `MessageConst` -------------------------------------------------

/// Business keys, separated by [`KEY_SEPARATOR`]; indexed.
pub const KEYS: &str = "KEYS";
/// Tag used for TAG filtering.
pub const TAGS: &str = "TAGS";
/// `true`/`false`: whether the producer waits for the store to be flushed.
pub const WAIT_STORE_MSG_OK: &str = "WAIT";
/// Delay level 1..18.
pub const DELAY_TIME_LEVEL: &str = "DELAY";
/// Original topic of a retried message.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Real topic of a delayed, half or timer message.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Real queue id of a delayed, half or timer message.
pub const REAL_QUEUE_ID: &str = "REAL_QID";
/// `true` on transactional (half) messages.
pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
/// Producer group of a transactional message (for check-back).
pub const PRODUCER_GROUP: &str = "PGROUP";
/// Queue min offset, set by the client after a pull.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Queue max offset, set by the client after a pull.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// User property.
pub const BUYER_ID: &str = "BUYER_ID";
/// First message id of a message that has been sent back.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Legacy.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Reconsume count when the client re-sends to `%RETRY%` itself.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Region id (also a send-response ext field).
pub const MSG_REGION: &str = "MSG_REGION";
/// Trace switch `true`/`false` (also a send-response ext field).
pub const TRACE_SWITCH: &str = "TRACE_ON";
/// Client-generated message id.
pub const UNIQ_CLIENT_MESSAGE_ID_KEYIDX: &str = "UNIQ_KEY";
/// Client's retry limit, moved into the send header and removed.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// Set locally by the client when consumption starts.
pub const CONSUME_START_TIMESTAMP: &str = "CONSUME_START_TIME";
/// Half-message bookkeeping.
pub const TRANSACTION_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Number of check-backs done.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Per-message first-check delay in seconds.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Namespace.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request-reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Request-reply: client to answer.
pub const MESSAGE_REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request-reply: time to live.
pub const MESSAGE_TTL: &str = "TTL";
/// Request-reply: arrival time.
pub const REPLY_MESSAGE_ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Request-reply: push time.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Cluster name the broker adds to every message it stores from a send.
pub const CLUSTER: &str = "CLUSTER";
/// Message type (`reply` for request-reply).
pub const MESSAGE_TYPE: &str = "MSG_TYPE";
/// LMQ multi-dispatch.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// LMQ multi-dispatch queue offsets.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";

/// Separator between the keys in [`KEYS`].
pub const KEY_SEPARATOR: &str = " ";

// ---- Short aliases ----------------------------------------------------------

/// Alias of [`UNIQ_CLIENT_MESSAGE_ID_KEYIDX`].
pub const UNIQ_KEY: &str = UNIQ_CLIENT_MESSAGE_ID_KEYIDX;
/// Alias of [`WAIT_STORE_MSG_OK`].
pub const WAIT: &str = WAIT_STORE_MSG_OK;
/// Alias of [`DELAY_TIME_LEVEL`].
pub const DELAY: &str = DELAY_TIME_LEVEL;

// ---- Not a MessageConst constant ---------------------------------------------

/// Absolute delivery time of commercial/ONS clients; the open-source broker
/// ignores it (the 4.9.7 client only uses it to classify a message as
/// delayed for hooks).
pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";

// ---- 5.x additions ----------------------------------------------------------

/// 5.x: transaction id.
pub const TRANSACTION_ID: &str = "__transactionId__";
/// 5.x: inner batch / dedup.
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// 5.x: inner batch message count.
pub const INNER_NUM: &str = "INNER_NUM";
/// 5.x: inner batch base offset.
pub const INNER_BASE: &str = "INNER_BASE";
/// 5.x: dedup info.
pub const DUP_INFO: &str = "DUP_INFO";
/// 5.x: POP checkpoint info the client attaches.
pub const POP_CK: &str = "POP_CK";
/// 5.x: POP checkpoint offset.
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// 5.x: first POP time.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// 5.x: ordering key (gRPC clients).
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// 5.x: forward queue id.
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// 5.x: redirect marker.
pub const REDIRECT: &str = "REDIRECT";
/// 5.x: trace context.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// 5.x timer: relative delay in seconds.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// 5.x timer: absolute delivery time in ms.
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// 5.x timer: relative delay in ms.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// 5.x timer bookkeeping.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// 5.x timer bookkeeping.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// 5.x timer bookkeeping.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// 5.x timer bookkeeping.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// 5.x timer: marks a cancellation.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// 5.x timer: delay level of a timer message.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// 5.x proxy: born host.
pub const BORN_HOST: &str = "__BORNHOST";
/// 5.x proxy: born timestamp.
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// 5.x: DLQ original topic.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// 5.x: DLQ original message id.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// 5.x: prefix of properties that are never stored.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
/// 5.x transient: topic sysflag.
pub const TRANSIENT_TOPIC_CONFIG: &str = "__RMQ.TRANSIENT.TOPIC_SYS_FLAG";
/// 5.x transient: group sysflag.
pub const TRANSIENT_GROUP_CONFIG: &str = "__RMQ.TRANSIENT.GROUP_SYS_FLAG";

/// The names 4.9.7 reserves for the system (`MessageConst.STRING_HASH_SET`):
/// a 4.9.7 producer refuses user properties with these names.
pub const RESERVED_4_9_7: &[&str] = &[
    TRACE_SWITCH,
    MSG_REGION,
    KEYS,
    TAGS,
    WAIT_STORE_MSG_OK,
    DELAY_TIME_LEVEL,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QUEUE_ID,
    TRANSACTION_PREPARED,
    PRODUCER_GROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    MQ2_FLAG,
    RECONSUME_TIME,
    UNIQ_CLIENT_MESSAGE_ID_KEYIDX,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIMESTAMP,
    INSTANCE_ID,
    CORRELATION_ID,
    MESSAGE_REPLY_TO_CLIENT,
    MESSAGE_TTL,
    REPLY_MESSAGE_ARRIVE_TIME,
    PUSH_REPLY_TIME,
    CLUSTER,
    MESSAGE_TYPE,
    INNER_MULTI_QUEUE_OFFSET,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_transient_names() {
        assert_eq!(UNIQ_KEY, "UNIQ_KEY");
        assert_eq!(WAIT, "WAIT");
        assert_eq!(DELAY, "DELAY");
        assert_eq!(
            TRANSIENT_TOPIC_CONFIG,
            format!("{TRANSIENT_PREFIX}TOPIC_SYS_FLAG")
        );
        assert_eq!(
            TRANSIENT_GROUP_CONFIG,
            format!("{TRANSIENT_PREFIX}GROUP_SYS_FLAG")
        );
        assert_eq!(RESERVED_4_9_7.len(), 31);
    }
}
