//! Admin command headers a broker handles (reference §3.5): topic and
//! subscription-group management, statistics, connection lists and offset
//! resets. Field names, order and optionality follow the Java 4.9.7 header
//! classes, plus the optional 5.x additions a 5.x admin tool sends.

use crate::body::topic_config::TopicFilterType;
use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// UPDATE_AND_CREATE_TOPIC (17) request header (`CreateTopicRequestHeader`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTopicRequestHeader {
    /// `topic`.
    pub topic: String,
    /// `defaultTopic`: template topic (normally `TBW102`); unused by brokers.
    pub default_topic: String,
    /// `readQueueNums`.
    pub read_queue_nums: i32,
    /// `writeQueueNums`.
    pub write_queue_nums: i32,
    /// `perm`: PERM_* bits.
    pub perm: i32,
    /// `topicFilterType`: Java rejects a name that is not `SINGLE_TAG` or
    /// `MULTI_TAG` (`checkFields`), and so does this parser.
    pub topic_filter_type: TopicFilterType,
    /// `topicSysFlag`.
    pub topic_sys_flag: Option<i32>,
    /// `order` (`Boolean`, default false; always sent by Java).
    pub order: bool,
    /// `attributes` (5.x), e.g. `+message.type=NORMAL`.
    pub attributes: Option<String>,
    /// `force` (5.x).
    pub force: Option<bool>,
}

impl CommandCustomHeader for CreateTopicRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        let filter = r.req_str("topicFilterType")?;
        let topic_filter_type =
            TopicFilterType::from_java_name(&filter).ok_or(HeaderError::InvalidField {
                field: "topicFilterType",
                value: filter,
                expected: "SINGLE_TAG or MULTI_TAG",
            })?;
        Ok(Self {
            topic: r.req_str("topic")?,
            default_topic: r.req_str("defaultTopic")?,
            read_queue_nums: r.req_i32("readQueueNums")?,
            write_queue_nums: r.req_i32("writeQueueNums")?,
            perm: r.req_i32("perm")?,
            topic_filter_type,
            topic_sys_flag: r.opt_i32("topicSysFlag")?,
            order: r.bool_or_false("order"),
            attributes: r.opt_str("attributes"),
            force: r.opt_bool("force"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("topic", &self.topic)
            .str("defaultTopic", &self.default_topic)
            .value("readQueueNums", self.read_queue_nums)
            .value("writeQueueNums", self.write_queue_nums)
            .value("perm", self.perm)
            .str("topicFilterType", self.topic_filter_type.java_name())
            .opt_value("topicSysFlag", self.topic_sys_flag)
            .value("order", self.order)
            .opt_str("attributes", self.attributes.as_deref())
            .opt_value("force", self.force);
    }
}

/// Defines a header made of mandatory string fields only.
macro_rules! string_header {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident => $key:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: String,)+
        }

        impl CommandCustomHeader for $name {
            fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
                let r = FieldReader::new(fields);
                Ok(Self { $($field: r.req_str($key)?,)+ })
            }

            fn to_ext_fields(&self, fields: &mut ExtFields) {
                let mut w = FieldWriter::new(fields);
                $(w.str($key, &self.$field);)+
            }
        }
    };
}
pub(crate) use string_header;

string_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request header (`DeleteTopicRequestHeader`).
    DeleteTopicRequestHeader {
        /// `topic`.
        topic => "topic",
    }
}

string_header! {
    /// GET_TOPIC_STATS_INFO (202) request header.
    GetTopicStatsInfoRequestHeader {
        /// `topic`.
        topic => "topic",
    }
}

string_header! {
    /// GET_TOPIC_CONFIG (351, 5.x only) request header.
    GetTopicConfigRequestHeader {
        /// `topic`.
        topic => "topic",
    }
}

string_header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300) request header; the answer is a
    /// `GroupList` body.
    QueryTopicConsumeByWhoRequestHeader {
        /// `topic`.
        topic => "topic",
    }
}

string_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203) request header.
    GetConsumerConnectionListRequestHeader {
        /// `consumerGroup`.
        consumer_group => "consumerGroup",
    }
}

string_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204) request header.
    GetProducerConnectionListRequestHeader {
        /// `producerGroup`.
        producer_group => "producerGroup",
    }
}

string_header! {
    /// QUERY_CONSUME_TIME_SPAN (303) request header.
    QueryConsumeTimeSpanRequestHeader {
        /// `topic`.
        topic => "topic",
        /// `group`.
        group => "group",
    }
}

string_header! {
    /// GET_BROKER_CONFIG (26) response header (`GetBrokerConfigResponseHeader`).
    /// The body is the broker configuration as Java properties text.
    GetBrokerConfigResponseHeader {
        /// `version`: the configuration's DataVersion as JSON text.
        version => "version",
    }
}

/// GET_CONSUME_STATS (208) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetConsumeStatsRequestHeader {
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `topic`: absent means every topic the group has offsets for.
    pub topic: Option<String>,
}

impl CommandCustomHeader for GetConsumeStatsRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            consumer_group: r.req_str("consumerGroup")?,
            topic: r.opt_str("topic"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("consumerGroup", &self.consumer_group)
            .opt_str("topic", self.topic.as_deref());
    }
}

/// DELETE_SUBSCRIPTIONGROUP (207) request header. 4.9.7 names the flag
/// `removeOffset`; 5.x renamed it `cleanOffset`. Both are read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteSubscriptionGroupRequestHeader {
    /// `groupName`.
    pub group_name: String,
    /// `removeOffset` (4.9.7 primitive: always written).
    pub remove_offset: bool,
    /// `cleanOffset` (5.x).
    pub clean_offset: Option<bool>,
}

impl DeleteSubscriptionGroupRequestHeader {
    /// Whether the group's consumer offsets should go too (either flag).
    pub fn removes_offsets(&self) -> bool {
        self.remove_offset || self.clean_offset == Some(true)
    }
}

impl CommandCustomHeader for DeleteSubscriptionGroupRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            group_name: r.req_str("groupName")?,
            remove_offset: r.bool_or_false("removeOffset"),
            clean_offset: r.opt_bool("cleanOffset"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("groupName", &self.group_name)
            .value("removeOffset", self.remove_offset)
            .opt_value("cleanOffset", self.clean_offset);
    }
}

/// `ResetOffsetRequestHeader`: INVOKE_BROKER_TO_RESET_OFFSET (222, admin →
/// broker) and RESET_CONSUMER_CLIENT_OFFSET (220, broker → client, oneway,
/// body `ResetOffsetBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResetOffsetRequestHeader {
    /// `topic`.
    pub topic: String,
    /// `group`.
    pub group: String,
    /// `queueId` (5.x, -1 = all queues; 5.x always writes it).
    pub queue_id: Option<i32>,
    /// `offset` (5.x): reset to this offset instead of by time.
    pub offset: Option<i64>,
    /// `timestamp`: reset to the first message stored at or after this
    /// time; -1 means the max offset.
    pub timestamp: i64,
    /// `isForce` (the key is literally `isForce`): apply the computed
    /// offset even where the group's current offset is smaller (otherwise
    /// the smaller one is kept).
    pub is_force: bool,
}

impl CommandCustomHeader for ResetOffsetRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            topic: r.req_str("topic")?,
            group: r.req_str("group")?,
            queue_id: r.opt_i32("queueId")?,
            offset: r.opt_i64("offset")?,
            timestamp: r.req_i64("timestamp")?,
            is_force: r.bool_or_false("isForce"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("topic", &self.topic)
            .str("group", &self.group)
            .opt_value("queueId", self.queue_id)
            .opt_value("offset", self.offset)
            .value("timestamp", self.timestamp)
            .value("isForce", self.is_force);
    }
}

/// CLONE_GROUP_OFFSET (314) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CloneGroupOffsetRequestHeader {
    /// `srcGroup`.
    pub src_group: String,
    /// `destGroup`.
    pub dest_group: String,
    /// `topic`: absent means every topic of the source group.
    pub topic: Option<String>,
    /// `offline` (primitive: always written).
    pub offline: bool,
}

impl CommandCustomHeader for CloneGroupOffsetRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            src_group: r.req_str("srcGroup")?,
            dest_group: r.req_str("destGroup")?,
            topic: r.opt_str("topic"),
            offline: r.bool_or_false("offline"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("srcGroup", &self.src_group)
            .str("destGroup", &self.dest_group)
            .opt_str("topic", self.topic.as_deref())
            .value("offline", self.offline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(pairs: &[(&str, &str)]) -> ExtFields {
        pairs.iter().copied().collect()
    }

    #[test]
    fn create_topic_checks_the_filter_type() {
        let mut f = ext(&[
            ("topic", "T"),
            ("defaultTopic", "TBW102"),
            ("readQueueNums", "4"),
            ("writeQueueNums", "4"),
            ("perm", "6"),
            ("topicFilterType", "MULTI_TAG"),
            ("order", "false"),
        ]);
        let h = CreateTopicRequestHeader::from_ext_fields(&f).unwrap();
        assert_eq!(h.topic_filter_type, TopicFilterType::MultiTag);
        assert_eq!(h.topic_sys_flag, None);
        assert_eq!(h.to_new_ext_fields(), f);
        f.insert("topicFilterType", "single_tag");
        assert!(matches!(
            CreateTopicRequestHeader::from_ext_fields(&f),
            Err(HeaderError::InvalidField {
                field: "topicFilterType",
                ..
            })
        ));
    }

    #[test]
    fn delete_group_reads_both_flag_names() {
        let h = DeleteSubscriptionGroupRequestHeader::from_ext_fields(&ext(&[
            ("groupName", "g"),
            ("cleanOffset", "true"),
        ]))
        .unwrap();
        assert!(!h.remove_offset);
        assert!(h.removes_offsets());
        let w = h.to_new_ext_fields();
        assert_eq!(w.get("removeOffset"), Some("false"));
        assert_eq!(w.get("cleanOffset"), Some("true"));
    }

    #[test]
    fn reset_offset_uses_the_is_force_key() {
        let h = ResetOffsetRequestHeader {
            topic: "T".into(),
            group: "g".into(),
            timestamp: -1,
            is_force: true,
            ..Default::default()
        };
        let w = h.to_new_ext_fields();
        assert_eq!(w.get("isForce"), Some("true"));
        assert!(!w.contains_key("queueId"));
        assert_eq!(ResetOffsetRequestHeader::from_ext_fields(&w).unwrap(), h);
        let missing = ext(&[("topic", "T"), ("group", "g")]);
        assert_eq!(
            ResetOffsetRequestHeader::from_ext_fields(&missing),
            Err(HeaderError::MissingField("timestamp"))
        );
    }

    #[test]
    fn string_headers() {
        let f = ext(&[("topic", "T"), ("group", "g")]);
        let h = QueryConsumeTimeSpanRequestHeader::from_ext_fields(&f).unwrap();
        assert_eq!(h.group, "g");
        assert_eq!(h.to_new_ext_fields(), f);
        assert_eq!(
            DeleteTopicRequestHeader::from_ext_fields(&ExtFields::new()),
            Err(HeaderError::MissingField("topic"))
        );
        let c = CloneGroupOffsetRequestHeader::from_ext_fields(&ext(&[
            ("srcGroup", "a"),
            ("destGroup", "b"),
        ]))
        .unwrap();
        assert_eq!(c.to_new_ext_fields().get("offline"), Some("false"));
    }
}
