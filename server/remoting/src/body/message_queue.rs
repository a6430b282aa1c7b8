//! `MessageQueue` (reference §4.1): one queue of a topic on one broker
//! group, `{"brokerName":"broker-a","queueId":0,"topic":"T"}`.
//!
//! Besides being a member of many bodies, a MessageQueue is the **key** of
//! the `Map<MessageQueue, V>` members of ConsumeStats, TopicStatsTable,
//! ResetOffsetBody, ConsumerRunningInfo, ...; fastjson writes those keys
//! as inline JSON objects (rule 6). [`write_mq_keyed_map`] writes that form
//! and [`decode_mq_keyed_map`] reads it back from an [`OrderedMap`] read by
//! [`fastjson::from_slice`].

use std::cmp::Ordering;
use std::fmt;

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter, OrderedMap};
use crate::error::HeaderError;
use crate::ext_fields::java_string_hash;

/// A queue: topic, broker group name and queue id.
///
/// Ordering is Java's `compareTo`: topic, then broker name (both compared
/// by UTF-16 unit, as `String.compareTo` does), then queue id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    /// `brokerName`: broker group name.
    pub broker_name: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `topic`.
    pub topic: String,
}

impl MessageQueue {
    /// A queue (Java constructor argument order).
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        Self {
            broker_name: broker_name.into(),
            queue_id,
            topic: topic.into(),
        }
    }

    /// Appends `{"brokerName":..,"queueId":..,"topic":..}`.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.str("brokerName", &self.broker_name)
            .int("queueId", i64::from(self.queue_id))
            .str("topic", &self.topic);
        o.finish();
    }

    /// The JSON object as a string.
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(48 + self.broker_name.len() + self.topic.len());
        self.write_json(&mut s);
        s
    }

    /// Parses a queue from JSON text, e.g. a map key that
    /// [`fastjson::from_slice`] turned into a string.
    pub fn from_json(text: &str) -> Result<Self, HeaderError> {
        fastjson::from_slice(text.as_bytes())
    }

    /// Java `hashCode()`, for reproducing `HashMap`/`HashSet` order with
    /// [`fastjson::sort_java_hash_order`].
    pub fn java_hash_code(&self) -> i32 {
        let mut h: i32 = 1;
        h = h
            .wrapping_mul(31)
            .wrapping_add(java_string_hash(&self.broker_name));
        h = h.wrapping_mul(31).wrapping_add(self.queue_id);
        h.wrapping_mul(31)
            .wrapping_add(java_string_hash(&self.topic))
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.topic
            .encode_utf16()
            .cmp(other.topic.encode_utf16())
            .then_with(|| {
                self.broker_name
                    .encode_utf16()
                    .cmp(other.broker_name.encode_utf16())
            })
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MessageQueue {
    /// Java `toString()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MessageQueue [topic={}, brokerName={}, queueId={}]",
            self.topic, self.broker_name, self.queue_id
        )
    }
}

/// Appends `[{..},{..}]` (a `Set<MessageQueue>` / `List<MessageQueue>`).
pub fn write_mq_array<'a>(out: &mut String, queues: impl IntoIterator<Item = &'a MessageQueue>) {
    out.push('[');
    for (i, mq) in queues.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        mq.write_json(out);
    }
    out.push(']');
}

/// Appends a `Map<MessageQueue, V>` the way fastjson writes it:
/// `{{"brokerName":..,"queueId":..,"topic":..}:value,...}`. `value` writes
/// each entry's JSON text.
pub fn write_mq_keyed_map<'a, V: 'a>(
    out: &mut String,
    entries: impl IntoIterator<Item = &'a (MessageQueue, V)>,
    mut value: impl FnMut(&mut String, &V),
) {
    fastjson::write_object_keyed_map(
        out,
        entries.into_iter().map(|(mq, v)| {
            let mut text = String::new();
            value(&mut text, v);
            (mq.to_json(), text)
        }),
    );
}

/// Turns a `Map<MessageQueue, V>` member read with [`fastjson::from_slice`]
/// (whose object keys arrive as strings holding JSON) into typed entries,
/// in wire order.
pub fn decode_mq_keyed_map<V>(map: OrderedMap<V>) -> Result<Vec<(MessageQueue, V)>, HeaderError> {
    map.into_entries()
        .into_iter()
        .map(|(k, v)| {
            MessageQueue::from_json(&k)
                .map(|mq| (mq, v))
                .map_err(|e| HeaderError::InvalidBody(format!("MessageQueue key {k:?}: {e}")))
        })
        .collect()
}

/// Reorders `Map<MessageQueue, V>` entries the way a Java `HashMap` with
/// default capacity holding them iterates, for byte-identical output.
pub fn sort_java_hash_map_order<V>(entries: &mut [(MessageQueue, V)]) {
    let cap = fastjson::java_table_capacity(16, entries.len());
    fastjson::sort_java_hash_order(entries, cap, |(mq, _)| mq.java_hash_code());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_ordering() {
        let mq = MessageQueue::new("TopicTest", "broker-a", 0);
        let json = r#"{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}"#;
        assert_eq!(mq.to_json(), json);
        assert_eq!(MessageQueue::from_json(json).unwrap(), mq);
        // fastjson leniency: members in any order, missing ones default.
        assert_eq!(
            MessageQueue::from_json(r#"{'topic':'TopicTest',queueId:0,"brokerName":"broker-a",}"#)
                .unwrap(),
            mq
        );
        let mut v = [
            MessageQueue::new("b", "a", 0),
            MessageQueue::new("a", "b", 0),
            MessageQueue::new("a", "a", 2),
            MessageQueue::new("a", "a", 1),
        ];
        v.sort();
        assert_eq!(
            v.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "MessageQueue [topic=a, brokerName=a, queueId=1]",
                "MessageQueue [topic=a, brokerName=a, queueId=2]",
                "MessageQueue [topic=a, brokerName=b, queueId=0]",
                "MessageQueue [topic=b, brokerName=a, queueId=0]",
            ]
        );
        // UTF-16 order: U+FF5E sorts after a surrogate pair in UTF-8 byte
        // order but before it in UTF-16 unit order.
        let bmp = MessageQueue::new("\u{ff5e}", "b", 0);
        let astral = MessageQueue::new("\u{1f600}", "b", 0);
        assert!(astral < bmp);
    }

    #[test]
    fn java_hash_code() {
        // 31*(31*(31 + "b".hashCode()) + 1) + "t".hashCode()
        let mq = MessageQueue::new("t", "b", 1);
        assert_eq!(mq.java_hash_code(), 31 * (31 * (31 + 98) + 1) + 116);
    }

    #[test]
    fn object_keyed_maps_round_trip() {
        let entries = vec![
            (MessageQueue::new("T", "broker-a", 1), 5i64),
            (MessageQueue::new("T", "broker-a", 0), 7i64),
        ];
        let mut s = String::new();
        write_mq_keyed_map(&mut s, &entries, |out, v| out.push_str(&v.to_string()));
        assert_eq!(
            s,
            r#"{{"brokerName":"broker-a","queueId":1,"topic":"T"}:5,{"brokerName":"broker-a","queueId":0,"topic":"T"}:7}"#
        );
        let map: OrderedMap<i64> = fastjson::from_slice(s.as_bytes()).unwrap();
        assert_eq!(decode_mq_keyed_map(map).unwrap(), entries);
        let bad: OrderedMap<i64> = fastjson::from_slice(br#"{"x":1}"#).unwrap();
        assert!(decode_mq_keyed_map(bad).is_err());
        let mut arr = String::new();
        write_mq_array(&mut arr, entries.iter().map(|(mq, _)| mq));
        assert!(arr.starts_with(r#"[{"brokerName""#) && arr.ends_with("}]"));
    }
}
