//! QUERY_CONSUMER_OFFSET (14) and UPDATE_CONSUMER_OFFSET (15) headers.

use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// QUERY_CONSUMER_OFFSET request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryConsumerOffsetRequestHeader {
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `topic`.
    pub topic: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `setZeroIfNotFound` (5.x): `Some(false)` asks for QUERY_NOT_FOUND
    /// instead of offset 0 when nothing was committed.
    pub set_zero_if_not_found: Option<bool>,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
}

impl CommandCustomHeader for QueryConsumerOffsetRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            consumer_group: r.req_str("consumerGroup")?,
            topic: r.req_str("topic")?,
            queue_id: r.req_i32("queueId")?,
            set_zero_if_not_found: r.opt_bool("setZeroIfNotFound"),
            bname: r.opt_str("bname"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("consumerGroup", &self.consumer_group)
            .str("topic", &self.topic)
            .value("queueId", self.queue_id)
            .opt_value("setZeroIfNotFound", self.set_zero_if_not_found)
            .opt_str("bname", self.bname.as_deref());
    }
}

/// QUERY_CONSUMER_OFFSET response header (SUCCESS only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryConsumerOffsetResponseHeader {
    /// `offset`: the committed consumer offset.
    pub offset: i64,
}

impl CommandCustomHeader for QueryConsumerOffsetResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            offset: FieldReader::new(fields).req_i64("offset")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).value("offset", self.offset);
    }
}

/// UPDATE_CONSUMER_OFFSET request header (usually sent oneway). Its
/// synchronous response has no header fields but an empty `extFields` (`{}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateConsumerOffsetRequestHeader {
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `topic`.
    pub topic: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `commitOffset`: stored as given, without range checks.
    pub commit_offset: i64,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
}

impl CommandCustomHeader for UpdateConsumerOffsetRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            consumer_group: r.req_str("consumerGroup")?,
            topic: r.req_str("topic")?,
            queue_id: r.req_i32("queueId")?,
            commit_offset: r.req_i64("commitOffset")?,
            bname: r.opt_str("bname"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("consumerGroup", &self.consumer_group)
            .str("topic", &self.topic)
            .value("queueId", self.queue_id)
            .value("commitOffset", self.commit_offset)
            .opt_str("bname", self.bname.as_deref());
    }
}
