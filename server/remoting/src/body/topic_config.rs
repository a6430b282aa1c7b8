//! `TopicConfig`, `DataVersion` and `TopicConfigSerializeWrapper`
//! (reference §4.5): a broker's topic table as it travels in
//! REGISTER_BROKER and GET_ALL_TOPIC_CONFIG bodies (and in `topics.json`).
//!
//! Members, defaults and JSON layout follow Java 4.9.7's classes; 5.x
//! additions (`attributes`, `stateVersion`, the static-topic mapping
//! tables) are ignored when read.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::body::fastjson::{self, ObjectWriter, OrderedMap};
use crate::error::HeaderError;

/// `perm` bit: priority (unused by clients).
pub const PERM_PRIORITY: i32 = 0x1 << 3;
/// `perm` bit: consumers may read.
pub const PERM_READ: i32 = 0x1 << 2;
/// `perm` bit: producers may write.
pub const PERM_WRITE: i32 = 0x1 << 1;
/// `perm` bit: the topic is a template for auto-created topics (`TBW102`).
pub const PERM_INHERIT: i32 = 0x1;

/// Whether `perm` has [`PERM_READ`].
pub fn is_readable(perm: i32) -> bool {
    perm & PERM_READ == PERM_READ
}

/// Whether `perm` has [`PERM_WRITE`].
pub fn is_writeable(perm: i32) -> bool {
    perm & PERM_WRITE == PERM_WRITE
}

/// Whether `perm` has [`PERM_INHERIT`].
pub fn is_inherited(perm: i32) -> bool {
    perm & PERM_INHERIT == PERM_INHERIT
}

/// `topicSysFlag` bit: unit topic.
pub const TOPIC_SYS_FLAG_UNIT: i32 = 0x1;
/// `topicSysFlag` bit: the topic has a unit subscription.
pub const TOPIC_SYS_FLAG_UNIT_SUB: i32 = 0x1 << 1;

/// Java `TopicConfig.defaultReadQueueNums` / `defaultWriteQueueNums`.
pub const DEFAULT_QUEUE_NUMS: i32 = 16;

/// Java `TopicFilterType`, written by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TopicFilterType {
    /// `SINGLE_TAG` (the default; the only value brokers use).
    #[default]
    SingleTag,
    /// `MULTI_TAG`.
    MultiTag,
}

impl TopicFilterType {
    /// The Java enum name.
    pub fn java_name(self) -> &'static str {
        match self {
            TopicFilterType::SingleTag => "SINGLE_TAG",
            TopicFilterType::MultiTag => "MULTI_TAG",
        }
    }

    /// Parses a Java enum name (`TopicFilterType.valueOf`).
    pub fn from_java_name(name: &str) -> Option<Self> {
        match name {
            "SINGLE_TAG" => Some(TopicFilterType::SingleTag),
            "MULTI_TAG" => Some(TopicFilterType::MultiTag),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for TopicFilterType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TopicFilterType;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("SINGLE_TAG or MULTI_TAG")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                TopicFilterType::from_java_name(v)
                    .ok_or_else(|| E::custom(format!("unknown topicFilterType {v:?}")))
            }

            // fastjson also reads an enum from its ordinal.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                match v {
                    0 => Ok(TopicFilterType::SingleTag),
                    1 => Ok(TopicFilterType::MultiTag),
                    _ => Err(E::custom(format!("unknown topicFilterType ordinal {v}"))),
                }
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("unknown topicFilterType ordinal {v}")))
                    .and_then(|v| self.visit_u64(v))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TopicFilterType::default())
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One topic of a broker (Java `TopicConfig`). Fields are declared in
/// fastjson's (alphabetical) member order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// `order`: ordered topic (informational).
    pub order: bool,
    /// `perm`: [`PERM_READ`] | [`PERM_WRITE`] | ... (default 6).
    pub perm: i32,
    /// `readQueueNums` (default 16).
    pub read_queue_nums: i32,
    /// `topicFilterType` (default `SINGLE_TAG`).
    pub topic_filter_type: TopicFilterType,
    /// `topicName`.
    pub topic_name: String,
    /// `topicSysFlag`: [`TOPIC_SYS_FLAG_UNIT`] | [`TOPIC_SYS_FLAG_UNIT_SUB`].
    pub topic_sys_flag: i32,
    /// `writeQueueNums` (default 16).
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            order: false,
            perm: PERM_READ | PERM_WRITE,
            read_queue_nums: DEFAULT_QUEUE_NUMS,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: DEFAULT_QUEUE_NUMS,
        }
    }
}

impl TopicConfig {
    /// A topic with Java's defaults (16/16 queues, perm 6).
    pub fn new(topic_name: impl Into<String>) -> Self {
        Self {
            topic_name: topic_name.into(),
            ..Self::default()
        }
    }

    /// Appends the fastjson JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.bool("order", self.order)
            .int("perm", i64::from(self.perm))
            .int("readQueueNums", i64::from(self.read_queue_nums))
            .str("topicFilterType", self.topic_filter_type.java_name())
            .str("topicName", &self.topic_name)
            .int("topicSysFlag", i64::from(self.topic_sys_flag))
            .int("writeQueueNums", i64::from(self.write_queue_nums));
        o.finish();
    }

    /// The fastjson JSON text.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }

    /// Java `TopicConfig.encode()`, used by the compressed REGISTER_BROKER
    /// body: `topicName readQueueNums writeQueueNums perm topicFilterType`.
    /// `topicSysFlag` and `order` are not carried.
    pub fn encode_compact(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type.java_name()
        )
    }

    /// Java `TopicConfig.decode(String)`: five space-separated parts; the
    /// other members keep their defaults. 5.x appends a sixth part (the
    /// attributes JSON, which may itself hold spaces): everything after the
    /// fifth separator is accepted and ignored.
    pub fn decode_compact(s: &str) -> Result<Self, HeaderError> {
        let bad = |why: &str| HeaderError::InvalidBody(format!("topic config {s:?}: {why}"));
        let parts: Vec<&str> = s.splitn(6, ' ').collect();
        if parts.len() < 5 {
            return Err(bad("expected 5 space-separated parts"));
        }
        let int = |p: &str| p.parse::<i32>().map_err(|_| bad("invalid number"));
        Ok(Self {
            topic_name: parts[0].to_owned(),
            read_queue_nums: int(parts[1])?,
            write_queue_nums: int(parts[2])?,
            perm: int(parts[3])?,
            topic_filter_type: TopicFilterType::from_java_name(parts[4])
                .ok_or_else(|| bad("unknown topicFilterType"))?,
            ..Self::default()
        })
    }
}

/// Version of a broker's topic table (Java `DataVersion`); equal when both
/// members are equal. 5.x's `stateVersion` is ignored, as a 4.9.7 name
/// server ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    /// `counter`: incremented on every change.
    pub counter: i64,
    /// `timestamp`: ms of the last change.
    pub timestamp: i64,
}

impl DataVersion {
    /// Java `nextVersion()`.
    pub fn next_version(&mut self, now_ms: i64) {
        self.timestamp = now_ms;
        self.counter = self.counter.wrapping_add(1);
    }

    /// Appends `{"counter":..,"timestamp":..}`.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.int("counter", self.counter)
            .int("timestamp", self.timestamp);
        o.finish();
    }

    /// The JSON body bytes (QUERY_DATA_VERSION).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        self.write_json(&mut s);
        s.into_bytes()
    }

    /// Parses a JSON body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

/// A broker's topic table with its version (Java
/// `TopicConfigSerializeWrapper`). The table keeps the order it was read
/// in, so a Java body re-encodes byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// `dataVersion`.
    pub data_version: DataVersion,
    /// `topicConfigTable`: topic name → config.
    pub topic_config_table: OrderedMap<TopicConfig>,
}

impl TopicConfigSerializeWrapper {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.with("dataVersion", |out| self.data_version.write_json(out))
            .with("topicConfigTable", |out| {
                fastjson::write_string_keyed_map(
                    out,
                    self.topic_config_table
                        .iter()
                        .map(|(k, v)| (k, v.to_json())),
                )
            });
        o.finish();
    }

    /// The JSON body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        self.write_json(&mut s);
        s.into_bytes()
    }

    /// Parses a JSON body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_defaults() {
        let t = TopicConfig::new("T");
        assert_eq!(t.perm, 6);
        assert_eq!((t.read_queue_nums, t.write_queue_nums), (16, 16));
        assert_eq!(t.topic_filter_type, TopicFilterType::SingleTag);
        assert_eq!(
            t.to_json(),
            r#"{"order":false,"perm":6,"readQueueNums":16,"topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":16}"#
        );
        assert!(is_readable(t.perm) && is_writeable(t.perm) && !is_inherited(t.perm));
        assert_eq!(PERM_PRIORITY | PERM_READ | PERM_WRITE | PERM_INHERIT, 15);
    }

    #[test]
    fn json_round_trip_and_leniency() {
        let t: TopicConfig = fastjson::from_slice(
            br#"{"topicName":"X","perm":7,"topicFilterType":1,"unknown":[1],"readQueueNums":8}"#,
        )
        .unwrap();
        assert_eq!(t.topic_name, "X");
        assert_eq!(t.perm, 7);
        assert_eq!(t.read_queue_nums, 8);
        assert_eq!(t.write_queue_nums, 16);
        assert_eq!(t.topic_filter_type, TopicFilterType::MultiTag);
        let back: TopicConfig = fastjson::from_slice(t.to_json().as_bytes()).unwrap();
        assert_eq!(back, t);
        assert!(fastjson::from_slice::<TopicConfig>(br#"{"topicFilterType":"X"}"#).is_err());
        assert!(fastjson::from_slice::<TopicConfig>(br#"{"perm":"x"}"#).is_err());
    }

    #[test]
    fn compact_form() {
        let mut t = TopicConfig::new("VecTopic");
        t.read_queue_nums = 4;
        t.write_queue_nums = 2;
        t.topic_sys_flag = 3;
        t.order = true;
        assert_eq!(t.encode_compact(), "VecTopic 4 2 6 SINGLE_TAG");
        let back = TopicConfig::decode_compact(&t.encode_compact()).unwrap();
        // sysFlag and order do not travel in the compact form.
        assert_eq!(back.topic_sys_flag, 0);
        assert!(!back.order);
        assert_eq!(back.read_queue_nums, 4);
        assert_eq!(back.write_queue_nums, 2);
        assert!(TopicConfig::decode_compact("a 1 1 6 SINGLE_TAG  ").is_ok());
        assert!(TopicConfig::decode_compact("a 1 1 6 SINGLE_TAG {\"k\":\"v\"}").is_ok());
        for bad in [
            "",
            "a 1 1 6",
            "a x 1 6 SINGLE_TAG",
            "a 1 1 6 NOPE",
            "a b 1 1 6 SINGLE_TAG x",
        ] {
            assert!(TopicConfig::decode_compact(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn data_version() {
        let mut v = DataVersion::default();
        v.next_version(1700000000000);
        assert_eq!(v.encode(), br#"{"counter":1,"timestamp":1700000000000}"#);
        let five_x =
            DataVersion::decode(br#"{"counter":1,"stateVersion":3,"timestamp":1700000000000}"#)
                .unwrap();
        assert_eq!(five_x, v);
        assert!(DataVersion::decode(b"{").is_err());
    }

    #[test]
    fn wrapper_keeps_table_order() {
        let body = br#"{"dataVersion":{"counter":2,"timestamp":5},"topicConfigTable":{"b":{"order":false,"perm":6,"readQueueNums":1,"topicFilterType":"SINGLE_TAG","topicName":"b","topicSysFlag":0,"writeQueueNums":1},"a":{"order":false,"perm":7,"readQueueNums":8,"topicFilterType":"SINGLE_TAG","topicName":"a","topicSysFlag":0,"writeQueueNums":8}}}"#;
        let w = TopicConfigSerializeWrapper::decode(body).unwrap();
        assert_eq!(w.data_version.counter, 2);
        assert_eq!(w.topic_config_table.len(), 2);
        assert_eq!(w.encode(), body.to_vec());
        let empty = TopicConfigSerializeWrapper::decode(b"{}").unwrap();
        assert_eq!(empty, TopicConfigSerializeWrapper::default());
    }
}
