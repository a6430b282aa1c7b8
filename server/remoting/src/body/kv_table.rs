//! `KVTable`: `{"table":{"key":"value",...}}`, the body of
//! GET_KVLIST_BY_NAMESPACE and of the REGISTER_BROKER response (the
//! `ORDER_TOPIC_CONFIG` namespace), reference §3.1.

use std::collections::HashSet;

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter, OrderedMap};
use crate::error::HeaderError;

/// Initial capacity of the name server's per-namespace map (`new HashMap<>()`).
const KV_MAP_CAPACITY: usize = 16;

/// Key/value pairs of one namespace, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct KVTable {
    /// `table`.
    pub table: OrderedMap<String>,
}

impl KVTable {
    /// Builds the table in the order a Java `HashMap` filled with
    /// `entries` iterates (a repeated key keeps its first place and last
    /// value).
    pub fn from_java_hash_map(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        let map: OrderedMap<String> = entries.into_iter().collect();
        let mut v = map.into_entries();
        let cap = fastjson::java_table_capacity(KV_MAP_CAPACITY, v.len());
        fastjson::sort_java_hash_order(&mut v, cap, |(k, _)| fastjson::java_string_hash(k));
        debug_assert_eq!(
            v.iter().map(|(k, _)| k).collect::<HashSet<_>>().len(),
            v.len()
        );
        Self {
            table: v.into_iter().collect(),
        }
    }

    /// Writes the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("table", |out| {
            fastjson::write_string_keyed_map(
                out,
                self.table.iter().map(|(k, v)| {
                    let mut j = String::with_capacity(v.len() + 2);
                    fastjson::write_str(&mut j, v);
                    (k, j)
                }),
            )
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
        let t = KVTable::from_java_hash_map([
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "x\"y".to_owned()),
            ("b".to_owned(), "3".to_owned()),
        ]);
        assert_eq!(t.encode(), br#"{"table":{"a":"x\"y","b":"3"}}"#);
        assert_eq!(KVTable::decode(&t.encode()).unwrap(), t);
        assert_eq!(KVTable::decode(b"{}").unwrap(), KVTable::default());
        assert_eq!(KVTable::default().encode(), br#"{"table":{}}"#);
        assert!(KVTable::decode(b"{\"table\":{\"a\":1}}").is_err());
    }
}
