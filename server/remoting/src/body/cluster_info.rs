//! `ClusterInfo`: the GET_BROKER_CLUSTER_INFO body (reference §4.3).
//!
//! Java writes it with fastjson's default encoding, so broker ids are
//! unquoted keys (`{0:"10.0.0.1:10911"}`) and every map comes in Java
//! `HashMap` order. [`ClusterInfo::encode`] reproduces both, so a name
//! server answers with Java's bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter};
use crate::body::route_data::{BrokerData, RouteEncoding};
use crate::error::HeaderError;

/// Initial capacity of the name server's `brokerAddrTable` (`new HashMap<>(128)`).
const BROKER_ADDR_TABLE_CAPACITY: usize = 128;
/// Initial capacity of the name server's `clusterAddrTable` (`new HashMap<>(32)`).
const CLUSTER_ADDR_TABLE_CAPACITY: usize = 32;
/// Initial capacity of a cluster's broker-name set (`new HashSet<>()`).
const BROKER_NAME_SET_CAPACITY: usize = 16;

/// Every broker group the name server knows, and the groups of each
/// cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    /// `brokerAddrTable`: brokerName → BrokerData.
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// `clusterAddrTable`: clusterName → brokerNames.
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

fn java_ordered<'a, T>(
    items: impl Iterator<Item = (&'a String, T)>,
    initial: usize,
) -> Vec<(&'a String, T)> {
    let mut v: Vec<(&String, T)> = items.collect();
    let cap = fastjson::java_table_capacity(initial, v.len());
    fastjson::sort_java_hash_order(&mut v, cap, |(k, _)| fastjson::java_string_hash(k));
    v
}

impl ClusterInfo {
    /// Writes the body as the Java name server does (default fastjson
    /// encoding, Java `HashMap` order; among colliding keys the order is
    /// alphabetical, where Java's depends on insertion history).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("brokerAddrTable", |out| {
            fastjson::write_string_keyed_map(
                out,
                java_ordered(self.broker_addr_table.iter(), BROKER_ADDR_TABLE_CAPACITY)
                    .into_iter()
                    .map(|(name, bd)| {
                        let mut v = String::new();
                        bd.write_json(&mut v, RouteEncoding::Legacy);
                        (name, v)
                    }),
            )
        })
        .with("clusterAddrTable", |out| {
            fastjson::write_string_keyed_map(
                out,
                java_ordered(self.cluster_addr_table.iter(), CLUSTER_ADDR_TABLE_CAPACITY)
                    .into_iter()
                    .map(|(cluster, names)| {
                        let names =
                            java_ordered(names.iter().map(|n| (n, ())), BROKER_NAME_SET_CAPACITY);
                        let mut v = String::new();
                        fastjson::write_string_array(&mut v, names.into_iter().map(|(n, ())| n));
                        (cluster, v)
                    }),
            )
        });
        o.finish();
        s.into_bytes()
    }

    /// Parses a body (unquoted or quoted broker ids).
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }

    /// All broker addresses of `cluster` (Java `retrieveAllAddrByCluster`).
    pub fn all_addrs_of_cluster(&self, cluster: &str) -> Vec<&str> {
        self.cluster_addr_table
            .get(cluster)
            .into_iter()
            .flatten()
            .filter_map(|name| self.broker_addr_table.get(name))
            .flat_map(|bd| bd.broker_addrs.values().map(String::as_str))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAVA: &str = r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10931"},"brokerName":"broker-a","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#;

    #[test]
    fn round_trip_java_body() {
        let ci = ClusterInfo::decode(JAVA.as_bytes()).unwrap();
        assert_eq!(
            ci.broker_addr_table["broker-a"].broker_addrs[&0],
            "127.0.0.1:10931"
        );
        assert!(ci.cluster_addr_table["DefaultCluster"].contains("broker-a"));
        assert_eq!(String::from_utf8(ci.encode()).unwrap(), JAVA);
        assert_eq!(
            ci.all_addrs_of_cluster("DefaultCluster"),
            vec!["127.0.0.1:10931"]
        );
        assert!(ci.all_addrs_of_cluster("nope").is_empty());
    }

    #[test]
    fn maps_come_in_java_hash_order() {
        // "broker-b" and "broker-a" differ in the last UTF-16 unit only, so
        // their buckets are adjacent: a before b. A name hashing into a lower
        // bucket comes first whatever its alphabetical place.
        let mut ci = ClusterInfo::default();
        for name in ["broker-b", "broker-a", "zz"] {
            ci.broker_addr_table.insert(
                name.to_owned(),
                BrokerData {
                    broker_addrs: [(0, "h:1".to_owned())].into_iter().collect(),
                    broker_name: name.to_owned(),
                    cluster: "C".to_owned(),
                },
            );
        }
        let text = String::from_utf8(ci.encode()).unwrap();
        let bucket = |s: &str| {
            let h = fastjson::java_string_hash(s) as u32;
            (h ^ (h >> 16)) & 127
        };
        let mut expected = ["broker-a", "broker-b", "zz"];
        expected.sort_by_key(|s| bucket(s));
        let pos: Vec<usize> = expected
            .iter()
            .map(|n| text.find(&format!("\"{n}\":{{")).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(ClusterInfo::decode(b"{\"brokerAddrTable\":[]}").is_err());
    }
}
