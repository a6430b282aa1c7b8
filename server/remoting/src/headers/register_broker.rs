//! REGISTER_BROKER (103) headers, broker → name server.

use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// REGISTER_BROKER request header. The body is a `RegisterBrokerBody`
/// (compressed when `compressed` is true).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegisterBrokerRequestHeader {
    /// `brokerName`: broker group name.
    pub broker_name: String,
    /// `brokerAddr`: `ip:port` clients must use.
    pub broker_addr: String,
    /// `clusterName`.
    pub cluster_name: String,
    /// `haServerAddr`: `ip:haPort`.
    pub ha_server_addr: String,
    /// `brokerId`: 0 = master, > 0 slave.
    pub broker_id: i64,
    /// `compressed` (primitive: always written).
    pub compressed: bool,
    /// `bodyCrc32`: CRC32 of the body with the sign bit cleared; 0 or absent
    /// means "not checked".
    pub body_crc32: Option<i32>,
    /// `heartbeatTimeoutMillis` (5.x, only with `enableSlaveActingMaster`).
    pub heartbeat_timeout_millis: Option<i64>,
    /// `enableActingMaster` (5.x).
    pub enable_acting_master: Option<bool>,
    /// `__ZONE_NAME` (5.x raw ext field, not a Java header member).
    pub zone_name: Option<String>,
}

impl CommandCustomHeader for RegisterBrokerRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            broker_name: r.req_str("brokerName")?,
            broker_addr: r.req_str("brokerAddr")?,
            cluster_name: r.req_str("clusterName")?,
            ha_server_addr: r.req_str("haServerAddr")?,
            broker_id: r.req_i64("brokerId")?,
            compressed: r.bool_or_false("compressed"),
            body_crc32: r.opt_i32("bodyCrc32")?,
            heartbeat_timeout_millis: r.opt_i64("heartbeatTimeoutMillis")?,
            enable_acting_master: r.opt_bool("enableActingMaster"),
            zone_name: r.opt_str("__ZONE_NAME"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("brokerName", &self.broker_name)
            .str("brokerAddr", &self.broker_addr)
            .str("clusterName", &self.cluster_name)
            .str("haServerAddr", &self.ha_server_addr)
            .value("brokerId", self.broker_id)
            .value("compressed", self.compressed)
            .opt_value("bodyCrc32", self.body_crc32)
            .opt_value("heartbeatTimeoutMillis", self.heartbeat_timeout_millis)
            .opt_value("enableActingMaster", self.enable_acting_master)
            .opt_str("__ZONE_NAME", self.zone_name.as_deref());
    }
}

/// REGISTER_BROKER response header. Both fields are filled only for a slave
/// (the master's HA address and address); a master gets `extFields: {}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegisterBrokerResponseHeader {
    /// `haServerAddr`.
    pub ha_server_addr: Option<String>,
    /// `masterAddr`.
    pub master_addr: Option<String>,
}

impl CommandCustomHeader for RegisterBrokerResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            ha_server_addr: r.opt_str("haServerAddr"),
            master_addr: r.opt_str("masterAddr"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .opt_str("haServerAddr", self.ha_server_addr.as_deref())
            .opt_str("masterAddr", self.master_addr.as_deref());
    }
}
