//! `TopicRouteData`, `QueueData` and `BrokerData`: the GET_ROUTEINFO_BY_TOPIC
//! body (reference §4.2).
//!
//! The Java name server writes the same route in two ways, chosen by the
//! caller ([`RouteEncoding`]): strict JSON for callers from 4.9.4 on (or
//! asking `acceptStandardJsonOnly`), fastjson's default form with unquoted
//! broker-id keys for older ones. Reading accepts both, plus the 5.x
//! additions (`enableActingMaster`, `zoneName`, static-topic mappings),
//! which are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::body::fastjson::{self, Escaping, ObjectWriter};
use crate::error::HeaderError;
use crate::version::V4_9_4;

/// Which of the Java name server's two route encodings to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteEncoding {
    /// `BrowserCompatible` + `MapSortField`: quoted, sorted map keys; `/`
    /// and non-ASCII characters escaped. Valid RFC 8259 JSON.
    Standard,
    /// fastjson default: unquoted numeric keys, maps in Java `HashMap`
    /// order, strings raw.
    Legacy,
    /// [`Standard`](Self::Standard) plus the 5.x member
    /// `"enableActingMaster":false` in each BrokerData, which 5.x name
    /// servers always write and some 5.x-style clients (rocketmq-rust)
    /// require. Java 4.9.7 clients get [`Standard`](Self::Standard), byte
    /// for byte as an Apache 4.9.7 name server answers them.
    StandardV5,
}

impl RouteEncoding {
    /// The encoding Java 4.9.7 picks for a request of `version` with the
    /// given `acceptStandardJsonOnly` header.
    pub fn for_caller(version: i32, accept_standard_json_only: Option<bool>) -> Self {
        if version >= crate::version::V5_0_0 {
            RouteEncoding::StandardV5
        } else if version >= V4_9_4 || accept_standard_json_only == Some(true) {
            RouteEncoding::Standard
        } else {
            RouteEncoding::Legacy
        }
    }

    fn escaping(self) -> Escaping {
        match self {
            RouteEncoding::Standard | RouteEncoding::StandardV5 => Escaping::BrowserCompatible,
            RouteEncoding::Legacy => Escaping::Default,
        }
    }
}

/// The queues one broker group serves for a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    /// `brokerName`.
    pub broker_name: String,
    /// `perm`: see [`crate::body::topic_config::PERM_READ`] etc.
    pub perm: i32,
    /// `readQueueNums`.
    pub read_queue_nums: i32,
    /// `topicSysFlag`.
    pub topic_sys_flag: i32,
    /// `writeQueueNums`.
    pub write_queue_nums: i32,
}

impl QueueData {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String, escaping: Escaping) {
        let mut o = ObjectWriter::with_escaping(out, escaping);
        o.str("brokerName", &self.broker_name)
            .int("perm", i64::from(self.perm))
            .int("readQueueNums", i64::from(self.read_queue_nums))
            .int("topicSysFlag", i64::from(self.topic_sys_flag))
            .int("writeQueueNums", i64::from(self.write_queue_nums));
        o.finish();
    }
}

/// A broker group: its cluster, name and the address of each member
/// (broker id 0 is the master).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// `brokerAddrs`: broker id → `ip:port`.
    pub broker_addrs: BTreeMap<i64, String>,
    /// `brokerName`.
    pub broker_name: String,
    /// `cluster`.
    pub cluster: String,
}

impl BrokerData {
    /// Appends the JSON object. [`RouteEncoding::Standard`] quotes the
    /// broker ids and sorts them; [`RouteEncoding::Legacy`] writes them
    /// unquoted in the order of the name server's `HashMap<Long, String>`
    /// (numeric for ids below the table size, i.e. always in practice).
    pub fn write_json(&self, out: &mut String, encoding: RouteEncoding) {
        let escaping = encoding.escaping();
        let addr = |a: &String| {
            let mut s = String::with_capacity(a.len() + 2);
            fastjson::write_str_styled(&mut s, a, escaping);
            s
        };
        let mut o = ObjectWriter::with_escaping(out, escaping);
        o.with("brokerAddrs", |out| match encoding {
            RouteEncoding::Standard | RouteEncoding::StandardV5 => {
                fastjson::write_quoted_numeric_keyed_map(
                    out,
                    self.broker_addrs.iter().map(|(id, a)| (*id, addr(a))),
                )
            }
            RouteEncoding::Legacy => {
                let mut ids: Vec<(&i64, &String)> = self.broker_addrs.iter().collect();
                let cap = fastjson::java_table_capacity(16, ids.len());
                fastjson::sort_java_hash_order(&mut ids, cap, |(id, _)| {
                    fastjson::java_long_hash(**id)
                });
                fastjson::write_numeric_keyed_map(
                    out,
                    ids.into_iter().map(|(id, a)| (*id, addr(a))),
                )
            }
        })
        .str("brokerName", &self.broker_name)
        .str("cluster", &self.cluster);
        if encoding == RouteEncoding::StandardV5 {
            o.bool("enableActingMaster", false);
        }
        o.finish();
    }

    /// The master's address (broker id 0).
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&0).map(String::as_str)
    }
}

/// The route of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    /// `brokerDatas`: the broker groups serving the topic.
    pub broker_datas: Vec<BrokerData>,
    /// `filterServerTable`: broker address → filter servers (legacy,
    /// normally empty).
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `orderTopicConf`: `brokerName:queueNum;...` from the name server's
    /// `ORDER_TOPIC_CONFIG` KV namespace; omitted when `None`.
    pub order_topic_conf: Option<String>,
    /// `queueDatas`: one entry per broker group.
    pub queue_datas: Vec<QueueData>,
}

impl TopicRouteData {
    /// Writes the body. Lists keep their order; see [`RouteEncoding`] for
    /// map keys and escaping.
    pub fn encode(&self, encoding: RouteEncoding) -> Vec<u8> {
        let escaping = encoding.escaping();
        let mut s = String::new();
        let mut o = ObjectWriter::with_escaping(&mut s, escaping);
        o.with("brokerDatas", |out| {
            out.push('[');
            for (i, b) in self.broker_datas.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                b.write_json(out, encoding);
            }
            out.push(']');
        })
        .with("filterServerTable", |out| {
            let mut entries: Vec<(&String, &Vec<String>)> =
                self.filter_server_table.iter().collect();
            if encoding == RouteEncoding::Legacy {
                let cap = fastjson::java_table_capacity(16, entries.len());
                fastjson::sort_java_hash_order(&mut entries, cap, |(k, _)| {
                    fastjson::java_string_hash(k)
                });
            }
            fastjson::write_string_keyed_map_styled(
                out,
                entries.into_iter().map(|(k, v)| {
                    let mut list = String::new();
                    fastjson::write_string_array_styled(&mut list, v, escaping);
                    (k, list)
                }),
                escaping,
            )
        })
        .opt_str("orderTopicConf", self.order_topic_conf.as_deref())
        .with("queueDatas", |out| {
            out.push('[');
            for (i, q) in self.queue_datas.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                q.write_json(out, escaping);
            }
            out.push(']');
        });
        o.finish();
        s.into_bytes()
    }

    /// Parses a body in either encoding.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: [(0, "10.0.0.1:10911".to_owned())].into_iter().collect(),
                broker_name: "broker-a".to_owned(),
                cluster: "DefaultCluster".to_owned(),
            }],
            filter_server_table: BTreeMap::new(),
            order_topic_conf: None,
            queue_datas: vec![QueueData {
                broker_name: "broker-a".to_owned(),
                perm: 6,
                read_queue_nums: 4,
                topic_sys_flag: 0,
                write_queue_nums: 4,
            }],
        }
    }

    // The two encodings of the same route, as reference §4.2 gives them.
    const LEGACY: &str = r#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;
    const STANDARD: &str = r#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#;

    #[test]
    fn both_encodings_match_java() {
        let r = sample();
        assert_eq!(
            String::from_utf8(r.encode(RouteEncoding::Legacy)).unwrap(),
            LEGACY
        );
        assert_eq!(
            String::from_utf8(r.encode(RouteEncoding::Standard)).unwrap(),
            STANDARD
        );
        assert_eq!(TopicRouteData::decode(LEGACY.as_bytes()).unwrap(), r);
        assert_eq!(TopicRouteData::decode(STANDARD.as_bytes()).unwrap(), r);
    }

    #[test]
    fn encoding_choice() {
        assert_eq!(
            RouteEncoding::for_caller(407, None),
            RouteEncoding::Standard
        );
        assert_eq!(
            RouteEncoding::for_caller(401, None),
            RouteEncoding::Standard
        );
        assert_eq!(RouteEncoding::for_caller(399, None), RouteEncoding::Legacy);
        assert_eq!(
            RouteEncoding::for_caller(399, Some(false)),
            RouteEncoding::Legacy
        );
        assert_eq!(
            RouteEncoding::for_caller(399, Some(true)),
            RouteEncoding::Standard
        );
    }

    #[test]
    fn optional_members_and_escaping() {
        let mut r = sample();
        r.order_topic_conf = Some("broker-a:4".to_owned());
        r.broker_datas[0]
            .broker_addrs
            .insert(1, "10.0.0.2:10911".to_owned());
        r.filter_server_table
            .insert("10.0.0.1:10911".to_owned(), vec!["f/1".to_owned()]);
        let std = String::from_utf8(r.encode(RouteEncoding::Standard)).unwrap();
        assert!(std.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}"#));
        assert!(std.contains(r#""filterServerTable":{"10.0.0.1:10911":["f\/1"]},"orderTopicConf":"broker-a:4","queueDatas""#));
        let legacy = String::from_utf8(r.encode(RouteEncoding::Legacy)).unwrap();
        assert!(legacy.contains(r#""brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}"#));
        assert!(legacy.contains(r#"["f/1"]"#));
        assert_eq!(TopicRouteData::decode(std.as_bytes()).unwrap(), r);
        assert_eq!(TopicRouteData::decode(legacy.as_bytes()).unwrap(), r);
        assert_eq!(r.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    }

    #[test]
    fn five_x_members_are_ignored_and_garbage_rejected() {
        let five = r#"{"brokerDatas":[{"brokerAddrs":{"0":"a:1"},"brokerName":"b","cluster":"c","enableActingMaster":false,"zoneName":"z"}],"filterServerTable":{},"queueDatas":[],"topicQueueMappingByBroker":{}}"#;
        let r = TopicRouteData::decode(five.as_bytes()).unwrap();
        assert_eq!(r.broker_datas[0].broker_addrs[&0], "a:1");
        for bad in [
            &b"{"[..],
            b"7",
            b"{\"brokerDatas\":{}}",
            b"{\"queueDatas\":[{\"perm\":\"x\"}]}",
        ] {
            assert!(TopicRouteData::decode(bad).is_err());
        }
    }
}
