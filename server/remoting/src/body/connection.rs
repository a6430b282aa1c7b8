//! Connection-list bodies (reference §4.6): who is connected to a broker.
//!
//! * [`Connection`]: one client channel,
//!   `{"clientAddr":"10.0.0.5:52311","clientId":"…","language":"JAVA","version":407}`;
//! * [`ConsumerConnection`] (GET_CONSUMER_CONNECTION_LIST): a consumer
//!   group's channels, subscriptions and consume settings;
//! * [`ProducerConnection`] (GET_PRODUCER_CONNECTION_LIST);
//! * [`ProducerInfo`] / [`ProducerTableInfo`] (4.9.7's
//!   GET_ALL_PRODUCER_INFO).
//!
//! Also the fastjson writer of a heartbeat [`SubscriptionData`]
//! ([`write_subscription_data`]), shared with CHECK_CLIENT_CONFIG's body.

use serde::{Deserialize, Deserializer, Serialize};

use crate::body::fastjson::{self, ObjectWriter, OrderedMap};
use crate::code::LanguageCode;
use crate::error::HeaderError;
use crate::heartbeat::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};

/// One client channel (`Connection`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// `clientAddr`: remote `ip:port` of the channel.
    pub client_addr: String,
    /// `clientId`: the client instance id from its heartbeat.
    pub client_id: String,
    /// `language`: the client's language (from its requests' headers).
    #[serde(deserialize_with = "language_code")]
    pub language: LanguageCode,
    /// `version`: the client's version ordinal.
    pub version: i32,
}

impl Connection {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.str("clientAddr", &self.client_addr)
            .str("clientId", &self.client_id)
            .str("language", language_name(self.language))
            .int("version", i64::from(self.version));
        o.finish();
    }
}

/// GET_CONSUMER_CONNECTION_LIST body (`ConsumerConnection`). The three
/// enums are null (left out) until the group has sent a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    /// `connectionSet`.
    pub connection_set: Vec<Connection>,
    /// `consumeFromWhere`.
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// `consumeType`.
    pub consume_type: Option<ConsumeType>,
    /// `messageModel`.
    pub message_model: Option<MessageModel>,
    /// `subscriptionTable`: topic → subscription, in wire order.
    pub subscription_table: OrderedMap<SubscriptionData>,
}

impl ConsumerConnection {
    /// Java `computeMinVersion()`: the lowest client version
    /// (`i32::MAX` when there is no connection).
    pub fn compute_min_version(&self) -> i32 {
        self.connection_set
            .iter()
            .map(|c| c.version)
            .min()
            .unwrap_or(i32::MAX)
    }

    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.with("connectionSet", |out| {
            write_connections(out, &self.connection_set)
        });
        if let Some(v) = &self.consume_from_where {
            o.raw("consumeFromWhere", &enum_json(v));
        }
        if let Some(v) = &self.consume_type {
            o.raw("consumeType", &enum_json(v));
        }
        if let Some(v) = &self.message_model {
            o.raw("messageModel", &enum_json(v));
        }
        o.with("subscriptionTable", |out| {
            fastjson::write_string_keyed_map(
                out,
                self.subscription_table.iter().map(|(topic, sd)| {
                    let mut s = String::new();
                    write_subscription_data(&mut s, sd);
                    (topic, s)
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

/// GET_PRODUCER_CONNECTION_LIST body (`ProducerConnection`):
/// `{"connectionSet":[<Connection>,...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    /// `connectionSet`.
    pub connection_set: Vec<Connection>,
}

impl ProducerConnection {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("connectionSet", |out| {
            write_connections(out, &self.connection_set)
        });
        o.finish();
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

/// One producer channel of GET_ALL_PRODUCER_INFO (`ProducerInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ProducerInfo {
    /// `clientId`.
    #[serde(rename = "clientId")]
    pub client_id: String,
    /// `language`.
    #[serde(deserialize_with = "language_code")]
    pub language: LanguageCode,
    /// `lastUpdateTimestamp`: time of the last heartbeat, ms.
    #[serde(rename = "lastUpdateTimestamp")]
    pub last_update_timestamp: i64,
    /// `remoteIP`: the channel's remote `ip:port`.
    #[serde(rename = "remoteIP")]
    pub remote_ip: String,
    /// `version`.
    pub version: i32,
}

impl ProducerInfo {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.str("clientId", &self.client_id)
            .str("language", language_name(self.language))
            .int("lastUpdateTimestamp", self.last_update_timestamp)
            .str("remoteIP", &self.remote_ip)
            .int("version", i64::from(self.version));
        o.finish();
    }
}

/// GET_ALL_PRODUCER_INFO body (`ProducerTableInfo`):
/// `{"data":{"<group>":[<ProducerInfo>,...]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ProducerTableInfo {
    /// `data`: producer group → its channels, in wire order.
    pub data: OrderedMap<Vec<ProducerInfo>>,
}

impl ProducerTableInfo {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("data", |out| {
            fastjson::write_string_keyed_map(
                out,
                self.data.iter().map(|(group, infos)| {
                    let mut s = String::from("[");
                    for (i, info) in infos.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        info.write_json(&mut s);
                    }
                    s.push(']');
                    (group, s)
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

/// Appends a heartbeat `SubscriptionData` as fastjson writes it:
/// `{"classFilterMode":false,"codeSet":[..],"expressionType":"TAG","subString":"*","subVersion":..,"tagsSet":[..],"topic":".."}`.
pub fn write_subscription_data(out: &mut String, sd: &SubscriptionData) {
    let mut o = ObjectWriter::new(out);
    o.bool("classFilterMode", sd.class_filter_mode)
        .with("codeSet", |out| {
            out.push('[');
            for (i, code) in sd.code_set.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&code.to_string());
            }
            out.push(']');
        })
        .str("expressionType", &sd.expression_type)
        .str("subString", &sd.sub_string)
        .int("subVersion", sd.sub_version)
        .with("tagsSet", |out| {
            fastjson::write_string_array(out, &sd.tags_set)
        })
        .str("topic", &sd.topic);
    o.finish();
}

fn write_connections(out: &mut String, connections: &[Connection]) {
    out.push('[');
    for (i, c) in connections.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        c.write_json(out);
    }
    out.push(']');
}

/// JSON text of a heartbeat enum (its Java name as a string).
fn enum_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// A language's Java name; codes this crate does not know are written as
/// `OTHER`.
fn language_name(language: LanguageCode) -> &'static str {
    language.java_name().unwrap_or("OTHER")
}

/// Reads a `LanguageCode` the way fastjson reads an enum: by name or by
/// ordinal. Unknown names become `OTHER` rather than failing the body.
fn language_code<'de, D: Deserializer<'de>>(d: D) -> Result<LanguageCode, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NameOrOrdinal {
        Name(String),
        Ordinal(u8),
        Null(()),
    }
    Ok(match NameOrOrdinal::deserialize(d)? {
        NameOrOrdinal::Name(n) => LanguageCode::from_java_name(&n).unwrap_or(LanguageCode::Other),
        NameOrOrdinal::Ordinal(o) => LanguageCode::from_byte(o),
        NameOrOrdinal::Null(()) => LanguageCode::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSUMER: &str = r#"{"connectionSet":[{"clientAddr":"10.0.0.5:52311","clientId":"10.0.0.5@12345#9876543210","language":"JAVA","version":407}],"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"TopicTest":{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"TopicTest"},"%RETRY%my_group":{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1700000000001,"tagsSet":[],"topic":"%RETRY%my_group"}}}"#;

    #[test]
    fn consumer_connection_round_trips() {
        let c = ConsumerConnection::decode(CONSUMER.as_bytes()).unwrap();
        assert_eq!(c.connection_set[0].language, LanguageCode::Java);
        assert_eq!(c.connection_set[0].version, 407);
        assert_eq!(c.consume_type, Some(ConsumeType::ConsumePassively));
        assert_eq!(c.message_model, Some(MessageModel::Clustering));
        assert_eq!(
            c.subscription_table
                .get("TopicTest")
                .map(|s| s.code_set.clone()),
            Some(vec![2598919])
        );
        assert_eq!(c.compute_min_version(), 407);
        assert_eq!(String::from_utf8(c.encode()).unwrap(), CONSUMER);
    }

    #[test]
    fn empty_and_lenient_forms() {
        let c = ConsumerConnection::default();
        assert_eq!(
            String::from_utf8(c.encode()).unwrap(),
            r#"{"connectionSet":[],"subscriptionTable":{}}"#
        );
        assert_eq!(c.compute_min_version(), i32::MAX);
        // Ordinal and unknown languages.
        let p = ProducerConnection::decode(
            br#"{"connectionSet":[{"clientId":"a","language":9,"version":1},{"clientId":"b","language":"KOTLIN"}]}"#,
        )
        .unwrap();
        assert_eq!(p.connection_set[0].language, LanguageCode::Go);
        assert_eq!(p.connection_set[1].language, LanguageCode::Other);
        assert_eq!(
            String::from_utf8(p.encode()).unwrap(),
            r#"{"connectionSet":[{"clientAddr":"","clientId":"a","language":"GO","version":1},{"clientAddr":"","clientId":"b","language":"OTHER","version":0}]}"#
        );
    }

    #[test]
    fn producer_table_info() {
        let body = br#"{"data":{"pg":[{"clientId":"c","language":"JAVA","lastUpdateTimestamp":5,"remoteIP":"1.2.3.4:5","version":407}]}}"#;
        let t = ProducerTableInfo::decode(body).unwrap();
        assert_eq!(
            t.data.get("pg").map(|v| v[0].remote_ip.as_str()),
            Some("1.2.3.4:5")
        );
        assert_eq!(t.encode(), body.to_vec());
    }
}
