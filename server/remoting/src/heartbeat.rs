//! HEART_BEAT (34) body: `HeartbeatData` JSON (reference §4.4).
//!
//! Unlike most commands the heartbeat has no custom header; everything is in
//! the body. Members are declared in alphabetical order so that serde writes
//! them the way fastjson does (a Java-produced body re-serialises to the
//! same bytes). Reading is lenient: unknown members are ignored, missing
//! collections and flags take Java's defaults, and enum names this crate
//! does not know become `Unknown` instead of failing the whole heartbeat.

use serde::{Deserialize, Serialize};

use crate::error::HeaderError;

/// The heartbeat a client instance sends to every broker it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatData {
    /// Client instance id, `clientIP@instanceName[@unitName][@STREAM]`.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// One entry per consumer group in the client instance.
    #[serde(rename = "consumerDataSet", default)]
    pub consumer_data_set: Vec<ConsumerData>,
    /// 5.x heartbeat v2 only.
    #[serde(
        rename = "heartbeatFingerprint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub heartbeat_fingerprint: Option<i32>,
    /// One entry per producer group (always includes
    /// `CLIENT_INNER_PRODUCER`).
    #[serde(rename = "producerDataSet", default)]
    pub producer_data_set: Vec<ProducerData>,
    /// 5.x heartbeat v2 only: the subscriptions were left out because they
    /// did not change.
    #[serde(
        rename = "withoutSub",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub without_sub: Option<bool>,
}

impl HeartbeatData {
    /// Parses a HEART_BEAT body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        serde_json::from_slice(body).map_err(|e| HeaderError::InvalidBody(e.to_string()))
    }

    /// Serialises the body the way a Java client would.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain structs of strings, numbers and vectors into a
        // Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A producer group of the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducerData {
    /// Producer group name.
    #[serde(rename = "groupName")]
    pub group_name: String,
}

/// A consumer group of the client and its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerData {
    /// Where a new group starts consuming.
    #[serde(rename = "consumeFromWhere")]
    pub consume_from_where: ConsumeFromWhere,
    /// Pull (actively), push (passively) or pop.
    #[serde(rename = "consumeType")]
    pub consume_type: ConsumeType,
    /// Consumer group name.
    #[serde(rename = "groupName")]
    pub group_name: String,
    /// Clustering or broadcasting.
    #[serde(rename = "messageModel")]
    pub message_model: MessageModel,
    /// Subscriptions (a clustering push consumer adds `%RETRY%<group>`).
    #[serde(rename = "subscriptionDataSet", default)]
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit (multi-DC) mode.
    #[serde(rename = "unitMode", default)]
    pub unit_mode: bool,
}

/// One subscription of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionData {
    /// Legacy class filter, always false.
    #[serde(rename = "classFilterMode", default)]
    pub class_filter_mode: bool,
    /// Java `String.hashCode` of each tag, used for consume-queue filtering.
    #[serde(rename = "codeSet", default)]
    pub code_set: Vec<i32>,
    /// `TAG` or `SQL92`.
    #[serde(rename = "expressionType", default = "default_expression_type")]
    pub expression_type: String,
    /// The expression; `*` means everything.
    #[serde(rename = "subString")]
    pub sub_string: String,
    /// Creation time of the subscription (ms); larger is newer.
    #[serde(rename = "subVersion", default)]
    pub sub_version: i64,
    /// Tags parsed from a TAG expression.
    #[serde(rename = "tagsSet", default)]
    pub tags_set: Vec<String>,
    /// Subscribed topic.
    pub topic: String,
}

fn default_expression_type() -> String {
    "TAG".to_owned()
}

/// `consumeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeType {
    /// Pull and lite-pull consumers.
    ConsumeActively,
    /// Push consumers.
    ConsumePassively,
    /// 5.x POP consumers.
    ConsumePop,
    /// A name this crate does not know.
    #[serde(other)]
    Unknown,
}

/// `messageModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageModel {
    /// Every consumer of the group gets every message.
    Broadcasting,
    /// The group shares the queues.
    Clustering,
    /// A name this crate does not know.
    #[serde(other)]
    Unknown,
}

/// `consumeFromWhere`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeFromWhere {
    /// Start at the queue's max offset.
    ConsumeFromLastOffset,
    /// Deprecated alias of the above.
    ConsumeFromLastOffsetAndFromMinWhenBootFirst,
    /// Deprecated.
    ConsumeFromMinOffset,
    /// Deprecated.
    ConsumeFromMaxOffset,
    /// Start at the queue's min offset.
    ConsumeFromFirstOffset,
    /// Start at the consumer's configured timestamp.
    ConsumeFromTimestamp,
    /// A name this crate does not know.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example() {
        let body = br#"{"clientID":"10.0.0.5@12345#9876543210","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"my_group","messageModel":"CLUSTERING","subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"TopicTest"}],"unitMode":false}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}"#;
        let hb = HeartbeatData::decode(body).unwrap();
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.consume_type, ConsumeType::ConsumePassively);
        assert_eq!(c.message_model, MessageModel::Clustering);
        assert_eq!(c.subscription_data_set[0].code_set, [2598919]);
        assert_eq!(hb.encode(), body.to_vec());
    }

    #[test]
    fn unknown_enum_names_are_tolerated() {
        let body = br#"{"clientID":"c","consumerDataSet":[{"consumeFromWhere":"X","consumeType":"Y","groupName":"g","messageModel":"Z"}],"extra":1}"#;
        let hb = HeartbeatData::decode(body).unwrap();
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.consume_from_where, ConsumeFromWhere::Unknown);
        assert_eq!(c.consume_type, ConsumeType::Unknown);
        assert_eq!(c.message_model, MessageModel::Unknown);
        assert!(hb.producer_data_set.is_empty());
        assert!(HeartbeatData::decode(b"{").is_err());
    }
}
