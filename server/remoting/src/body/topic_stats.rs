//! Broker statistics bodies (reference §4.6, §3.5):
//!
//! * [`TopicStatsTable`] (GET_TOPIC_STATS_INFO): min/max offset and last
//!   store time of every write queue of a topic, keyed by MessageQueue
//!   (object keys, rule 6);
//! * the keys of GET_BROKER_RUNTIME_INFO's `KVTable` body
//!   ([`runtime_info`]).

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter, OrderedMap};
use crate::body::message_queue::{decode_mq_keyed_map, write_mq_keyed_map, MessageQueue};
use crate::error::HeaderError;

/// Offsets of one queue (`TopicOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    /// `lastUpdateTimestamp`: store time of the message at `maxOffset - 1`
    /// (0 for an empty queue).
    pub last_update_timestamp: i64,
    /// `maxOffset`: next offset to be written.
    pub max_offset: i64,
    /// `minOffset`.
    pub min_offset: i64,
}

impl TopicOffset {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.int("lastUpdateTimestamp", self.last_update_timestamp)
            .int("maxOffset", self.max_offset)
            .int("minOffset", self.min_offset);
        o.finish();
    }
}

/// GET_TOPIC_STATS_INFO body (`TopicStatsTable`):
/// `{"offsetTable":{{<MessageQueue>}:{<TopicOffset>},...}}`. 5.3's
/// top-level `topicPutTps` is ignored when read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicStatsTable {
    /// `offsetTable`, in wire order.
    pub offset_table: Vec<(MessageQueue, TopicOffset)>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawTopicStatsTable {
    offset_table: OrderedMap<TopicOffset>,
}

impl TopicStatsTable {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.with("offsetTable", |out| {
            write_mq_keyed_map(out, &self.offset_table, |out, t| t.write_json(out))
        });
        o.finish();
    }

    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        self.write_json(&mut s);
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        let raw: RawTopicStatsTable = fastjson::from_slice(body)?;
        Ok(Self {
            offset_table: decode_mq_keyed_map(raw.offset_table)?,
        })
    }
}

/// Keys of the GET_BROKER_RUNTIME_INFO body (a `KVTable`, see
/// [`crate::body::kv_table`]) that the 4.9.7 broker fills and the admin
/// tools print. All values are text (numbers as decimal strings).
pub mod runtime_info {
    /// Broker version ordinal, e.g. `407`.
    pub const BROKER_VERSION: &str = "brokerVersion";
    /// Version name, e.g. `V4_9_7`.
    pub const BROKER_VERSION_DESC: &str = "brokerVersionDesc";
    /// Messages put today, now.
    pub const MSG_PUT_TOTAL_TODAY_NOW: &str = "msgPutTotalTodayNow";
    /// Messages put by this morning.
    pub const MSG_PUT_TOTAL_TODAY_MORNING: &str = "msgPutTotalTodayMorning";
    /// Messages put by yesterday morning.
    pub const MSG_PUT_TOTAL_YESTERDAY_MORNING: &str = "msgPutTotalYesterdayMorning";
    /// Messages got today, now.
    pub const MSG_GET_TOTAL_TODAY_NOW: &str = "msgGetTotalTodayNow";
    /// Messages got by this morning.
    pub const MSG_GET_TOTAL_TODAY_MORNING: &str = "msgGetTotalTodayMorning";
    /// Messages got by yesterday morning.
    pub const MSG_GET_TOTAL_YESTERDAY_MORNING: &str = "msgGetTotalYesterdayMorning";
    /// Commit-log max offset.
    pub const COMMIT_LOG_MAX_OFFSET: &str = "commitLogMaxOffset";
    /// Commit-log min offset.
    pub const COMMIT_LOG_MIN_OFFSET: &str = "commitLogMinOffset";
    /// Store time of the oldest message, ms.
    pub const EARLIEST_MESSAGE_TIME_STAMP: &str = "earliestMessageTimeStamp";
    /// Bytes not yet dispatched to consume queues.
    pub const DISPATCH_BEHIND_BYTES: &str = "dispatchBehindBytes";
    /// Human-readable disk capacity of the commit-log directory.
    pub const COMMIT_LOG_DIR_CAPACITY: &str = "commitLogDirCapacity";
    /// Lowest disk usage ratio of the commit-log paths.
    pub const COMMIT_LOG_DISK_RATIO: &str = "commitLogDiskRatio";
    /// Disk usage ratio of the consume-queue path.
    pub const CONSUME_QUEUE_DISK_RATIO: &str = "consumeQueueDiskRatio";
    /// Time since the broker accepts sends, ms.
    pub const START_ACCEPT_SEND_REQUEST_TIME_STAMP: &str = "startAcceptSendRequestTimeStamp";
    /// Bytes written but not flushed.
    pub const REMAIN_HOW_MANY_DATA_TO_FLUSH: &str = "remainHowManyDataToFlush";
    /// Bytes not committed (transient store pool).
    pub const REMAIN_HOW_MANY_DATA_TO_COMMIT: &str = "remainHowManyDataToCommit";
    /// Send queue length.
    pub const SEND_THREAD_POOL_QUEUE_SIZE: &str = "sendThreadPoolQueueSize";
    /// Send queue capacity.
    pub const SEND_THREAD_POOL_QUEUE_CAPACITY: &str = "sendThreadPoolQueueCapacity";
    /// Pull queue length.
    pub const PULL_THREAD_POOL_QUEUE_SIZE: &str = "pullThreadPoolQueueSize";
    /// Pull queue capacity.
    pub const PULL_THREAD_POOL_QUEUE_CAPACITY: &str = "pullThreadPoolQueueCapacity";
    /// Query queue length.
    pub const QUERY_THREAD_POOL_QUEUE_SIZE: &str = "queryThreadPoolQueueSize";
    /// Query queue capacity.
    pub const QUERY_THREAD_POOL_QUEUE_CAPACITY: &str = "queryThreadPoolQueueCapacity";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_round_trips() {
        let body = br#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":120,"minOffset":0}}}"#;
        let t = TopicStatsTable::decode(body).unwrap();
        assert_eq!(t.offset_table.len(), 1);
        assert_eq!(t.offset_table[0].1.max_offset, 120);
        assert_eq!(t.encode(), body.to_vec());
        // 5.3's topicPutTps and unknown members are ignored.
        let t2 = TopicStatsTable::decode(
            br#"{"topicPutTps":1.5,"offsetTable":{{"topic":"TopicTest","queueId":0,"brokerName":"broker-a"}:{"maxOffset":120,"lastUpdateTimestamp":1700000000000}}}"#,
        )
        .unwrap();
        assert_eq!(t2, t);
        assert_eq!(
            TopicStatsTable::default().encode(),
            br#"{"offsetTable":{}}"#.to_vec()
        );
    }
}
