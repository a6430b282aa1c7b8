//! PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361) headers.

use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// Pull request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullMessageRequestHeader {
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `topic`.
    pub topic: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `queueOffset`: consume-queue offset to start from.
    pub queue_offset: i64,
    /// `maxMsgNums`: most messages wanted.
    pub max_msg_nums: i32,
    /// `sysFlag`: PullSysFlag bits (commit offset, suspend, subscription,
    /// class filter).
    pub sys_flag: i32,
    /// `commitOffset`: consumer offset to commit if the sysFlag says so.
    pub commit_offset: i64,
    /// `suspendTimeoutMillis`: long-polling hold time.
    pub suspend_timeout_millis: i64,
    /// `subscription`: the expression; absent when the push consumer relies
    /// on the heartbeat's subscription.
    pub subscription: Option<String>,
    /// `subVersion`: subscription version (creation time, ms).
    pub sub_version: i64,
    /// `expressionType`: `TAG` or `SQL92`.
    pub expression_type: Option<String>,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
    /// `maxMsgBytes` (5.x).
    pub max_msg_bytes: Option<i32>,
}

impl CommandCustomHeader for PullMessageRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            consumer_group: r.req_str("consumerGroup")?,
            topic: r.req_str("topic")?,
            queue_id: r.req_i32("queueId")?,
            queue_offset: r.req_i64("queueOffset")?,
            max_msg_nums: r.req_i32("maxMsgNums")?,
            sys_flag: r.req_i32("sysFlag")?,
            commit_offset: r.req_i64("commitOffset")?,
            suspend_timeout_millis: r.req_i64("suspendTimeoutMillis")?,
            subscription: r.opt_str("subscription"),
            sub_version: r.req_i64("subVersion")?,
            expression_type: r.opt_str("expressionType"),
            bname: r.opt_str("bname"),
            max_msg_bytes: r.opt_i32("maxMsgBytes")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("consumerGroup", &self.consumer_group)
            .str("topic", &self.topic)
            .value("queueId", self.queue_id)
            .value("queueOffset", self.queue_offset)
            .value("maxMsgNums", self.max_msg_nums)
            .value("sysFlag", self.sys_flag)
            .value("commitOffset", self.commit_offset)
            .value("suspendTimeoutMillis", self.suspend_timeout_millis)
            .opt_str("subscription", self.subscription.as_deref())
            .value("subVersion", self.sub_version)
            .opt_str("expressionType", self.expression_type.as_deref())
            .opt_str("bname", self.bname.as_deref())
            .opt_value("maxMsgBytes", self.max_msg_bytes);
    }
}

/// Pull response header; all four longs are mandatory on SUCCESS,
/// PULL_NOT_FOUND, PULL_RETRY_IMMEDIATELY and PULL_OFFSET_MOVED.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullMessageResponseHeader {
    /// `suggestWhichBrokerId`: broker id to pull from next (0 = master).
    pub suggest_which_broker_id: i64,
    /// `nextBeginOffset`: offset for the next pull.
    pub next_begin_offset: i64,
    /// `minOffset`: queue min offset.
    pub min_offset: i64,
    /// `maxOffset`: queue max offset (next offset to be written).
    pub max_offset: i64,
    /// `offsetDelta` (5.x).
    pub offset_delta: Option<i64>,
    /// `topicSysFlag` (5.x).
    pub topic_sys_flag: Option<i32>,
    /// `groupSysFlag` (5.x).
    pub group_sys_flag: Option<i32>,
    /// `forbiddenType` (5.x).
    pub forbidden_type: Option<i32>,
}

impl CommandCustomHeader for PullMessageResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            suggest_which_broker_id: r.req_i64("suggestWhichBrokerId")?,
            next_begin_offset: r.req_i64("nextBeginOffset")?,
            min_offset: r.req_i64("minOffset")?,
            max_offset: r.req_i64("maxOffset")?,
            offset_delta: r.opt_i64("offsetDelta")?,
            topic_sys_flag: r.opt_i32("topicSysFlag")?,
            group_sys_flag: r.opt_i32("groupSysFlag")?,
            forbidden_type: r.opt_i32("forbiddenType")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .value("suggestWhichBrokerId", self.suggest_which_broker_id)
            .value("nextBeginOffset", self.next_begin_offset)
            .value("minOffset", self.min_offset)
            .value("maxOffset", self.max_offset)
            .opt_value("offsetDelta", self.offset_delta)
            .opt_value("topicSysFlag", self.topic_sys_flag)
            .opt_value("groupSysFlag", self.group_sys_flag)
            .opt_value("forbiddenType", self.forbidden_type);
    }
}
