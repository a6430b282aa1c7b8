//! `SubscriptionGroupConfig` (reference §4.9): a consumer group's settings,
//! the body of UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) and the values of
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG's (201) [`SubscriptionGroupWrapper`]
//! (also the layout of `subscriptionGroup.json`).
//!
//! Members and defaults are Java 4.9.7's; the 5.x additions are read and
//! written back when present, and left out otherwise (a 4.9.7 broker never
//! writes them).

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter, OrderedMap};
use crate::body::topic_config::DataVersion;
use crate::error::HeaderError;

/// Java `MixAll.MASTER_ID`.
const MASTER_ID: i64 = 0;

/// One consumer group's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// `attributes` (5.x).
    pub attributes: Option<OrderedMap<String>>,
    /// `brokerId`: broker to consume from (0 = master).
    pub broker_id: i64,
    /// `consumeBroadcastEnable` (default true).
    pub consume_broadcast_enable: bool,
    /// `consumeEnable` (default true): false forbids pulling.
    pub consume_enable: bool,
    /// `consumeFromMinEnable` (default true).
    pub consume_from_min_enable: bool,
    /// `consumeMessageOrderly` (5.x).
    pub consume_message_orderly: Option<bool>,
    /// `consumeTimeoutMinute` (5.x, default 15).
    pub consume_timeout_minute: Option<i32>,
    /// `groupName`.
    pub group_name: String,
    /// `groupRetryPolicy` (5.x), kept as JSON.
    pub group_retry_policy: Option<serde_json::Value>,
    /// `groupSysFlag` (5.x).
    pub group_sys_flag: Option<i32>,
    /// `notifyConsumerIdsChangedEnable` (default true).
    pub notify_consumer_ids_changed_enable: bool,
    /// `retryMaxTimes` (default 16): deliveries before the DLQ.
    pub retry_max_times: i32,
    /// `retryQueueNums` (default 1): queues of `%RETRY%<group>`.
    pub retry_queue_nums: i32,
    /// `subscriptionDataSet` (5.x), kept as JSON.
    pub subscription_data_set: Option<serde_json::Value>,
    /// `whichBrokerWhenConsumeSlowly` (default 1).
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    /// Java's field initialisers, with an empty group name.
    fn default() -> Self {
        Self {
            attributes: None,
            broker_id: MASTER_ID,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: None,
            consume_timeout_minute: None,
            group_name: String::new(),
            group_retry_policy: None,
            group_sys_flag: None,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with Java's defaults (what brokers auto-create).
    pub fn new(group_name: impl Into<String>) -> Self {
        Self {
            group_name: group_name.into(),
            ..Self::default()
        }
    }

    /// Appends the JSON object (members in fastjson order).
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        if let Some(attributes) = &self.attributes {
            o.with("attributes", |out| {
                fastjson::write_string_keyed_map(
                    out,
                    attributes.iter().map(|(k, v)| {
                        let mut s = String::with_capacity(v.len() + 2);
                        fastjson::write_str(&mut s, v);
                        (k, s)
                    }),
                )
            });
        }
        o.int("brokerId", self.broker_id)
            .bool("consumeBroadcastEnable", self.consume_broadcast_enable)
            .bool("consumeEnable", self.consume_enable)
            .bool("consumeFromMinEnable", self.consume_from_min_enable);
        if let Some(v) = self.consume_message_orderly {
            o.bool("consumeMessageOrderly", v);
        }
        if let Some(v) = self.consume_timeout_minute {
            o.int("consumeTimeoutMinute", i64::from(v));
        }
        o.str("groupName", &self.group_name);
        if let Some(v) = &self.group_retry_policy {
            o.raw("groupRetryPolicy", &json_text(v));
        }
        if let Some(v) = self.group_sys_flag {
            o.int("groupSysFlag", i64::from(v));
        }
        o.bool(
            "notifyConsumerIdsChangedEnable",
            self.notify_consumer_ids_changed_enable,
        )
        .int("retryMaxTimes", i64::from(self.retry_max_times))
        .int("retryQueueNums", i64::from(self.retry_queue_nums));
        if let Some(v) = &self.subscription_data_set {
            o.raw("subscriptionDataSet", &json_text(v));
        }
        o.int(
            "whichBrokerWhenConsumeSlowly",
            self.which_broker_when_consume_slowly,
        );
        o.finish();
    }

    /// The JSON body (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        self.write_json(&mut s);
        s.into_bytes()
    }

    /// Parses a body; missing members take Java's defaults.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG body (`SubscriptionGroupWrapper`):
/// `{"dataVersion":{..},"subscriptionGroupTable":{"<group>":{..},...}}`.
/// 5.x's `forbiddenTable` is ignored when read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    /// `dataVersion`.
    pub data_version: DataVersion,
    /// `subscriptionGroupTable`: group name → config, in wire order.
    pub subscription_group_table: OrderedMap<SubscriptionGroupConfig>,
}

impl SubscriptionGroupWrapper {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.with("dataVersion", |out| self.data_version.write_json(out))
            .with("subscriptionGroupTable", |out| {
                fastjson::write_string_keyed_map(
                    out,
                    self.subscription_group_table.iter().map(|(k, v)| {
                        let mut s = String::new();
                        v.write_json(&mut s);
                        (k, s)
                    }),
                )
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
        fastjson::from_slice(body)
    }
}

/// Compact JSON text of a kept 5.x value (serde_json writes object members
/// sorted, as fastjson does).
fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT_4_9_7: &str = r#"{"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"groupName":"g","notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}"#;

    #[test]
    fn java_defaults() {
        let g = SubscriptionGroupConfig::new("g");
        assert_eq!(String::from_utf8(g.encode()).unwrap(), DEFAULT_4_9_7);
        // Missing members take the defaults, not zero/false.
        assert_eq!(
            SubscriptionGroupConfig::decode(br#"{"groupName":"g"}"#).unwrap(),
            g
        );
        assert_eq!(
            SubscriptionGroupConfig::decode(DEFAULT_4_9_7.as_bytes()).unwrap(),
            g
        );
        let off = SubscriptionGroupConfig::decode(
            br#"{"groupName":"g","consumeEnable":false,"retryMaxTimes":3}"#,
        )
        .unwrap();
        assert!(!off.consume_enable);
        assert_eq!(off.retry_max_times, 3);
        assert!(off.consume_from_min_enable);
    }

    #[test]
    fn five_x_members_are_kept() {
        let body = r#"{"attributes":{"k":"v"},"brokerId":0,"consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,"consumeMessageOrderly":false,"consumeTimeoutMinute":15,"groupName":"g","groupRetryPolicy":{"type":"CUSTOMIZED"},"groupSysFlag":0,"notifyConsumerIdsChangedEnable":true,"retryMaxTimes":16,"retryQueueNums":1,"subscriptionDataSet":[],"whichBrokerWhenConsumeSlowly":1}"#;
        let g = SubscriptionGroupConfig::decode(body.as_bytes()).unwrap();
        assert_eq!(g.consume_timeout_minute, Some(15));
        assert_eq!(
            g.attributes
                .as_ref()
                .and_then(|a| a.get("k"))
                .map(String::as_str),
            Some("v")
        );
        assert_eq!(String::from_utf8(g.encode()).unwrap(), body);
    }

    #[test]
    fn wrapper_round_trips() {
        let body = format!(
            r#"{{"dataVersion":{{"counter":2,"timestamp":1700000000000}},"subscriptionGroupTable":{{"g":{DEFAULT_4_9_7}}}}}"#
        );
        let w = SubscriptionGroupWrapper::decode(body.as_bytes()).unwrap();
        assert_eq!(w.data_version.counter, 2);
        assert_eq!(
            w.subscription_group_table.get("g"),
            Some(&SubscriptionGroupConfig::new("g"))
        );
        assert_eq!(String::from_utf8(w.encode()).unwrap(), body);
        // 5.x forbiddenTable is ignored.
        let five = SubscriptionGroupWrapper::decode(
            br#"{"dataVersion":{"counter":2,"stateVersion":0,"timestamp":1700000000000},"forbiddenTable":{},"subscriptionGroupTable":{}}"#,
        )
        .unwrap();
        assert!(five.subscription_group_table.is_empty());
    }
}
