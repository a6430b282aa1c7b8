//! Headers of the name server commands other than REGISTER_BROKER and
//! GET_ROUTEINFO_BY_TOPIC (reference §3.1). Mandatory fields are the ones
//! Java marks `@CFNotNull`.

use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// Identity of a broker as UNREGISTER_BROKER and QUERY_DATA_VERSION send it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrokerIdentityHeader {
    /// `brokerName`.
    pub broker_name: String,
    /// `brokerAddr`.
    pub broker_addr: String,
    /// `clusterName`.
    pub cluster_name: String,
    /// `brokerId`.
    pub broker_id: i64,
}

impl CommandCustomHeader for BrokerIdentityHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            broker_name: r.req_str("brokerName")?,
            broker_addr: r.req_str("brokerAddr")?,
            cluster_name: r.req_str("clusterName")?,
            broker_id: r.req_i64("brokerId")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("brokerName", &self.broker_name)
            .str("brokerAddr", &self.broker_addr)
            .str("clusterName", &self.cluster_name)
            .value("brokerId", self.broker_id);
    }
}

/// UNREGISTER_BROKER (104) request header.
pub type UnRegisterBrokerRequestHeader = BrokerIdentityHeader;
/// QUERY_DATA_VERSION (322) request header; the body is the broker's
/// `DataVersion`.
pub type QueryDataVersionRequestHeader = BrokerIdentityHeader;

/// QUERY_DATA_VERSION response header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryDataVersionResponseHeader {
    /// `changed`: the name server's version for the broker is absent or
    /// differs from the one sent.
    pub changed: bool,
}

impl CommandCustomHeader for QueryDataVersionResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        r.raw("changed")
            .ok_or(HeaderError::MissingField("changed"))?;
        Ok(Self {
            changed: r.bool_or_false("changed"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).value("changed", self.changed);
    }
}

/// DELETE_TOPIC_IN_NAMESRV (216) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteTopicFromNamesrvRequestHeader {
    /// `topic`.
    pub topic: String,
    /// `clusterName`: restrict the deletion to this cluster's brokers.
    pub cluster_name: Option<String>,
}

impl CommandCustomHeader for DeleteTopicFromNamesrvRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            topic: r.req_str("topic")?,
            cluster_name: r.opt_str("clusterName"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("topic", &self.topic)
            .opt_str("clusterName", self.cluster_name.as_deref());
    }
}

/// GET_TOPICS_BY_CLUSTER (224) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetTopicsByClusterRequestHeader {
    /// `cluster`.
    pub cluster: String,
}

impl CommandCustomHeader for GetTopicsByClusterRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            cluster: FieldReader::new(fields).req_str("cluster")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).str("cluster", &self.cluster);
    }
}

/// PUT_KV_CONFIG (100) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutKVConfigRequestHeader {
    /// `namespace`.
    pub namespace: String,
    /// `key`.
    pub key: String,
    /// `value`.
    pub value: String,
}

impl CommandCustomHeader for PutKVConfigRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            namespace: r.req_str("namespace")?,
            key: r.req_str("key")?,
            value: r.req_str("value")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("namespace", &self.namespace)
            .str("key", &self.key)
            .str("value", &self.value);
    }
}

/// GET_KV_CONFIG (101) and DELETE_KV_CONFIG (102) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KVConfigKeyHeader {
    /// `namespace`.
    pub namespace: String,
    /// `key`.
    pub key: String,
}

impl CommandCustomHeader for KVConfigKeyHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            namespace: r.req_str("namespace")?,
            key: r.req_str("key")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("namespace", &self.namespace)
            .str("key", &self.key);
    }
}

/// GET_KV_CONFIG request header.
pub type GetKVConfigRequestHeader = KVConfigKeyHeader;
/// DELETE_KV_CONFIG request header.
pub type DeleteKVConfigRequestHeader = KVConfigKeyHeader;

/// GET_KV_CONFIG response header (`value` is absent on QUERY_NOT_FOUND,
/// leaving `extFields: {}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetKVConfigResponseHeader {
    /// `value`.
    pub value: Option<String>,
}

impl CommandCustomHeader for GetKVConfigResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            value: FieldReader::new(fields).opt_str("value"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).opt_str("value", self.value.as_deref());
    }
}

/// GET_KVLIST_BY_NAMESPACE (219) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetKVListByNamespaceRequestHeader {
    /// `namespace`.
    pub namespace: String,
}

impl CommandCustomHeader for GetKVListByNamespaceRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            namespace: FieldReader::new(fields).req_str("namespace")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).str("namespace", &self.namespace);
    }
}

/// WIPE_WRITE_PERM_OF_BROKER (205) / ADD_WRITE_PERM_OF_BROKER (327)
/// request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrokerNameHeader {
    /// `brokerName`.
    pub broker_name: String,
}

impl CommandCustomHeader for BrokerNameHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            broker_name: FieldReader::new(fields).req_str("brokerName")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).str("brokerName", &self.broker_name);
    }
}

/// WIPE_WRITE_PERM_OF_BROKER request header.
pub type WipeWritePermOfBrokerRequestHeader = BrokerNameHeader;
/// ADD_WRITE_PERM_OF_BROKER request header.
pub type AddWritePermOfBrokerRequestHeader = BrokerNameHeader;

/// WIPE_WRITE_PERM_OF_BROKER response header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WipeWritePermOfBrokerResponseHeader {
    /// `wipeTopicCount`: topics of the broker whose write bit was cleared.
    pub wipe_topic_count: i32,
}

impl CommandCustomHeader for WipeWritePermOfBrokerResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            wipe_topic_count: FieldReader::new(fields).req_i32("wipeTopicCount")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).value("wipeTopicCount", self.wipe_topic_count);
    }
}

/// ADD_WRITE_PERM_OF_BROKER response header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddWritePermOfBrokerResponseHeader {
    /// `addTopicCount`: topics of the broker set to read+write.
    pub add_topic_count: i32,
}

impl CommandCustomHeader for AddWritePermOfBrokerResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            add_topic_count: FieldReader::new(fields).req_i32("addTopicCount")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).value("addTopicCount", self.add_topic_count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<H: CommandCustomHeader + PartialEq + std::fmt::Debug>(h: H) {
        assert_eq!(H::from_ext_fields(&h.to_new_ext_fields()).unwrap(), h);
    }

    #[test]
    fn round_trips() {
        round_trip(BrokerIdentityHeader {
            broker_name: "broker-a".into(),
            broker_addr: "127.0.0.1:10931".into(),
            cluster_name: "DefaultCluster".into(),
            broker_id: 0,
        });
        round_trip(QueryDataVersionResponseHeader { changed: true });
        round_trip(DeleteTopicFromNamesrvRequestHeader {
            topic: "T".into(),
            cluster_name: Some("C".into()),
        });
        round_trip(DeleteTopicFromNamesrvRequestHeader {
            topic: "T".into(),
            cluster_name: None,
        });
        round_trip(GetTopicsByClusterRequestHeader {
            cluster: "C".into(),
        });
        round_trip(PutKVConfigRequestHeader {
            namespace: "N".into(),
            key: "k".into(),
            value: "v".into(),
        });
        round_trip(KVConfigKeyHeader {
            namespace: "N".into(),
            key: "k".into(),
        });
        round_trip(GetKVConfigResponseHeader { value: None });
        round_trip(GetKVConfigResponseHeader {
            value: Some("v".into()),
        });
        round_trip(GetKVListByNamespaceRequestHeader {
            namespace: "N".into(),
        });
        round_trip(BrokerNameHeader {
            broker_name: "b".into(),
        });
        round_trip(WipeWritePermOfBrokerResponseHeader {
            wipe_topic_count: 3,
        });
        round_trip(AddWritePermOfBrokerResponseHeader { add_topic_count: 4 });
    }

    #[test]
    fn missing_and_invalid_fields() {
        let empty = ExtFields::new();
        assert_eq!(
            BrokerIdentityHeader::from_ext_fields(&empty),
            Err(HeaderError::MissingField("brokerName"))
        );
        assert_eq!(
            QueryDataVersionResponseHeader::from_ext_fields(&empty),
            Err(HeaderError::MissingField("changed"))
        );
        assert_eq!(
            PutKVConfigRequestHeader::from_ext_fields(
                &[("namespace", "N"), ("key", "k")].into_iter().collect()
            ),
            Err(HeaderError::MissingField("value"))
        );
        let bad_id: ExtFields = [
            ("brokerName", "b"),
            ("brokerAddr", "a"),
            ("clusterName", "c"),
            ("brokerId", "x"),
        ]
        .into_iter()
        .collect();
        assert!(matches!(
            BrokerIdentityHeader::from_ext_fields(&bad_id),
            Err(HeaderError::InvalidField {
                field: "brokerId",
                ..
            })
        ));
        assert_eq!(
            GetKVConfigResponseHeader::default().to_new_ext_fields(),
            ExtFields::new()
        );
    }
}
