//! `TopicList`: body of GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
//! GET_TOPICS_BY_CLUSTER, GET_SYSTEM_TOPIC_LIST_FROM_NS and the unit-topic
//! queries (reference §3.1): `{"brokerAddr":"..","topicList":[..]}`.

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter};
use crate::error::HeaderError;

/// Initial capacity of Java's `TopicList.topicList` (`new HashSet<>()`).
const TOPIC_SET_CAPACITY: usize = 16;

/// A set of topic names, optionally with a broker address (set only by
/// GET_SYSTEM_TOPIC_LIST_FROM_NS).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    /// `brokerAddr`; omitted when `None`.
    pub broker_addr: Option<String>,
    /// `topicList` (a Java `Set`), in wire order.
    pub topic_list: Vec<String>,
}

impl TopicList {
    /// Builds the list the way Java fills its `HashSet`: duplicates dropped
    /// (first insertion kept), then Java's iteration order.
    pub fn from_java_hash_set(
        topics: impl IntoIterator<Item = String>,
        broker_addr: Option<String>,
    ) -> Self {
        let mut seen = std::collections::HashSet::new();
        let mut topic_list: Vec<String> = topics
            .into_iter()
            .filter(|t| seen.insert(t.clone()))
            .collect();
        let cap = fastjson::java_table_capacity(TOPIC_SET_CAPACITY, topic_list.len());
        fastjson::sort_java_hash_order(&mut topic_list, cap, |t| fastjson::java_string_hash(t));
        Self {
            broker_addr,
            topic_list,
        }
    }

    /// Writes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.opt_str("brokerAddr", self.broker_addr.as_deref())
            .with("topicList", |out| {
                fastjson::write_string_array(out, &self.topic_list)
            });
        o.finish();
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let t =
            TopicList::from_java_hash_set(["b".to_owned(), "a".to_owned(), "b".to_owned()], None);
        // One-letter names hash to their code unit: 'a' = 97 (bucket 1), 'b' = 98 (bucket 2).
        assert_eq!(t.encode(), br#"{"topicList":["a","b"]}"#);
        assert_eq!(TopicList::decode(&t.encode()).unwrap(), t);
        let s =
            TopicList::from_java_hash_set(["DefaultCluster".to_owned()], Some("h:1".to_owned()));
        assert_eq!(
            s.encode(),
            br#"{"brokerAddr":"h:1","topicList":["DefaultCluster"]}"#
        );
        assert_eq!(TopicList::decode(b"{}").unwrap(), TopicList::default());
        assert!(TopicList::decode(b"{\"topicList\":3}").is_err());
    }

    #[test]
    fn many_topics_follow_the_grown_table() {
        let names: Vec<String> = (0..100).map(|i| format!("T{i}")).collect();
        let t = TopicList::from_java_hash_set(names.clone(), None);
        assert_eq!(t.topic_list.len(), 100);
        let cap = 256; // 100 > 96 = 0.75 * 128
        let bucket = |s: &str| {
            let h = fastjson::java_string_hash(s) as u32;
            (h ^ (h >> 16)) & (cap - 1)
        };
        assert!(t
            .topic_list
            .windows(2)
            .all(|w| bucket(&w[0]) <= bucket(&w[1])));
    }
}
