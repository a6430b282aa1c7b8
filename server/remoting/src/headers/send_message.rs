//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320) and
//! the reply-message variants (324/325).
//!
//! The V2 header is the V1 header with one-letter keys, introduced to shrink
//! every send's header; it is what 4.9.7 clients always send. Both decode
//! into the same [`SendMessageRequestHeader`], so the send path never cares
//! which one arrived.

use crate::code::RequestCode;
use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;
use crate::header::RemotingCommand;

/// Raw ext field every send response must carry next to the header: the
/// region id (Java default `DefaultRegion`). The 4.9.7 client dereferences
/// the response's extFields on every successful send.
pub const EXT_MSG_REGION: &str = "MSG_REGION";
/// Raw ext field every send response must carry: `"true"`/`"false"`.
pub const EXT_TRACE_ON: &str = "TRACE_ON";

/// Send request header (long names, SEND_MESSAGE 10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageRequestHeader {
    /// `producerGroup` / `a`.
    pub producer_group: String,
    /// `topic` / `b`: target topic.
    pub topic: String,
    /// `defaultTopic` / `c`: auto-create template topic, normally `TBW102`.
    pub default_topic: String,
    /// `defaultTopicQueueNums` / `d`: queues for an auto-created topic.
    pub default_topic_queue_nums: i32,
    /// `queueId` / `e`: target queue; negative lets the broker pick.
    pub queue_id: i32,
    /// `sysFlag` / `f`: message sysFlag bits.
    pub sys_flag: i32,
    /// `bornTimestamp` / `g`: client clock, ms.
    pub born_timestamp: i64,
    /// `flag` / `h`: user flag, stored as-is.
    pub flag: i32,
    /// `properties` / `i`: the `name\u{1}value\u{2}` property string.
    pub properties: Option<String>,
    /// `reconsumeTimes` / `j`.
    pub reconsume_times: Option<i32>,
    /// `unitMode` / `k` (primitive: always written).
    pub unit_mode: bool,
    /// `maxReconsumeTimes` / `l`: only for `%RETRY%` topics.
    pub max_reconsume_times: Option<i32>,
    /// `batch` / `m` (primitive: always written).
    pub batch: bool,
    /// `bname` / `n`: broker the client targeted (4.9.x+).
    pub bname: Option<String>,
}

/// Key names of one header dialect, in Java's encoding order.
struct Keys {
    producer_group: &'static str,
    topic: &'static str,
    default_topic: &'static str,
    default_topic_queue_nums: &'static str,
    queue_id: &'static str,
    sys_flag: &'static str,
    born_timestamp: &'static str,
    flag: &'static str,
    properties: &'static str,
    reconsume_times: &'static str,
    unit_mode: &'static str,
    max_reconsume_times: &'static str,
    batch: &'static str,
    bname: &'static str,
}

const V1_KEYS: Keys = Keys {
    producer_group: "producerGroup",
    topic: "topic",
    default_topic: "defaultTopic",
    default_topic_queue_nums: "defaultTopicQueueNums",
    queue_id: "queueId",
    sys_flag: "sysFlag",
    born_timestamp: "bornTimestamp",
    flag: "flag",
    properties: "properties",
    reconsume_times: "reconsumeTimes",
    unit_mode: "unitMode",
    max_reconsume_times: "maxReconsumeTimes",
    batch: "batch",
    bname: "bname",
};

const V2_KEYS: Keys = Keys {
    producer_group: "a",
    topic: "b",
    default_topic: "c",
    default_topic_queue_nums: "d",
    queue_id: "e",
    sys_flag: "f",
    born_timestamp: "g",
    flag: "h",
    properties: "i",
    reconsume_times: "j",
    unit_mode: "k",
    max_reconsume_times: "l",
    batch: "m",
    bname: "n",
};

impl SendMessageRequestHeader {
    fn decode_with(fields: &ExtFields, k: &Keys) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            producer_group: r.req_str(k.producer_group)?,
            topic: r.req_str(k.topic)?,
            default_topic: r.req_str(k.default_topic)?,
            default_topic_queue_nums: r.req_i32(k.default_topic_queue_nums)?,
            queue_id: r.req_i32(k.queue_id)?,
            sys_flag: r.req_i32(k.sys_flag)?,
            born_timestamp: r.req_i64(k.born_timestamp)?,
            flag: r.req_i32(k.flag)?,
            properties: r.opt_str(k.properties),
            reconsume_times: r.opt_i32(k.reconsume_times)?,
            unit_mode: r.bool_or_false(k.unit_mode),
            max_reconsume_times: r.opt_i32(k.max_reconsume_times)?,
            batch: r.bool_or_false(k.batch),
            bname: r.opt_str(k.bname),
        })
    }

    fn encode_with(&self, fields: &mut ExtFields, k: &Keys) {
        FieldWriter::new(fields)
            .str(k.producer_group, &self.producer_group)
            .str(k.topic, &self.topic)
            .str(k.default_topic, &self.default_topic)
            .value(k.default_topic_queue_nums, self.default_topic_queue_nums)
            .value(k.queue_id, self.queue_id)
            .value(k.sys_flag, self.sys_flag)
            .value(k.born_timestamp, self.born_timestamp)
            .value(k.flag, self.flag)
            .opt_str(k.properties, self.properties.as_deref())
            .opt_value(k.reconsume_times, self.reconsume_times)
            .value(k.unit_mode, self.unit_mode)
            .opt_value(k.max_reconsume_times, self.max_reconsume_times)
            .value(k.batch, self.batch)
            .opt_str(k.bname, self.bname.as_deref());
    }

    /// Parses the V2 (one-letter) keys.
    pub fn from_v2_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Self::decode_with(fields, &V2_KEYS)
    }

    /// Writes the V2 (one-letter) keys, `a` … `n`.
    pub fn to_v2_ext_fields(&self, fields: &mut ExtFields) {
        self.encode_with(fields, &V2_KEYS)
    }

    /// Whether requests with this code carry the V2 (one-letter) header.
    pub fn code_uses_v2(code: RequestCode) -> bool {
        matches!(
            code,
            RequestCode::SendMessageV2
                | RequestCode::SendBatchMessage
                | RequestCode::SendReplyMessageV2
        )
    }

    /// Parses the header of a send request, choosing the dialect from the
    /// request code.
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, HeaderError> {
        if Self::code_uses_v2(cmd.request_code()) {
            cmd.decode_header::<SendMessageRequestHeaderV2>()
                .map(Into::into)
        } else {
            cmd.decode_header::<SendMessageRequestHeader>()
        }
    }
}

impl CommandCustomHeader for SendMessageRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Self::decode_with(fields, &V1_KEYS)
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        self.encode_with(fields, &V1_KEYS)
    }
}

/// The V2 dialect of [`SendMessageRequestHeader`] as a header type of its
/// own, for [`RemotingCommand::decode_header`] / `encode_header`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageRequestHeaderV2(pub SendMessageRequestHeader);

impl CommandCustomHeader for SendMessageRequestHeaderV2 {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        SendMessageRequestHeader::from_v2_ext_fields(fields).map(Self)
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        self.0.to_v2_ext_fields(fields)
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        v2.0
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        Self(v1)
    }
}

/// Send response header. Mandatory on the success codes (SUCCESS and the
/// flush/slave timeouts): the Java client fails without `queueId` and
/// `queueOffset`. Remember [`EXT_MSG_REGION`] and [`EXT_TRACE_ON`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageResponseHeader {
    /// Offset message id; for batches a comma-separated list in order.
    pub msg_id: String,
    /// Queue actually written.
    pub queue_id: i32,
    /// Consume-queue offset of the (first) stored message.
    pub queue_offset: i64,
    /// 5.x sets the UNIQ_KEY here; 4.9.7 brokers omit it.
    pub transaction_id: Option<String>,
    /// 5.x broker-side auto-batch only.
    pub batch_uniq_id: Option<String>,
}

impl CommandCustomHeader for SendMessageResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            msg_id: r.req_str("msgId")?,
            queue_id: r.req_i32("queueId")?,
            queue_offset: r.req_i64("queueOffset")?,
            transaction_id: r.opt_str("transactionId"),
            batch_uniq_id: r.opt_str("batchUniqId"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("msgId", &self.msg_id)
            .value("queueId", self.queue_id)
            .value("queueOffset", self.queue_offset)
            .opt_str("transactionId", self.transaction_id.as_deref())
            .opt_str("batchUniqId", self.batch_uniq_id.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_agree() {
        let h = SendMessageRequestHeader {
            producer_group: "g".into(),
            topic: "t".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: -1,
            sys_flag: 0,
            born_timestamp: 1,
            flag: 0,
            properties: Some("WAIT\u{1}true".into()),
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch: true,
            bname: Some("broker-a".into()),
        };
        let v1 = h.to_new_ext_fields();
        let v2 = SendMessageRequestHeaderV2(h.clone()).to_new_ext_fields();
        assert_eq!(v1.get("queueId"), Some("-1"));
        assert_eq!(v2.get("e"), Some("-1"));
        assert_eq!(v2.get("m"), Some("true"));
        assert!(!v2.contains_key("l"));
        assert_eq!(SendMessageRequestHeader::from_ext_fields(&v1).unwrap(), h);
        assert_eq!(
            SendMessageRequestHeader::from_v2_ext_fields(&v2).unwrap(),
            h
        );
        let mut missing = v2.clone();
        missing.remove("b");
        assert_eq!(
            SendMessageRequestHeader::from_v2_ext_fields(&missing),
            Err(HeaderError::MissingField("b"))
        );
    }
}
