//! Headers of the client ⇄ broker commands besides send, pull and consumer
//! offsets (reference §3.2–§3.4, §8): client registration, consumer lists,
//! send-back, transactions and the broker → client requests.
//!
//! RESET_CONSUMER_CLIENT_OFFSET (220) uses `ResetOffsetRequestHeader`,
//! defined with the admin headers (it is the same Java class as
//! INVOKE_BROKER_TO_RESET_OFFSET's).

use super::broker_admin::string_header;
use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;
use crate::message::{MessageSysFlag, TransactionType};

/// UNREGISTER_CLIENT (35) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnregisterClientRequestHeader {
    /// `clientID` (capital `ID`).
    pub client_id: String,
    /// `producerGroup`: the producer group leaving, if any.
    pub producer_group: Option<String>,
    /// `consumerGroup`: the consumer group leaving, if any.
    pub consumer_group: Option<String>,
}

impl CommandCustomHeader for UnregisterClientRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            client_id: r.req_str("clientID")?,
            producer_group: r.opt_str("producerGroup"),
            consumer_group: r.opt_str("consumerGroup"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("clientID", &self.client_id)
            .opt_str("producerGroup", self.producer_group.as_deref())
            .opt_str("consumerGroup", self.consumer_group.as_deref());
    }
}

string_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38) request header; the answer is a
    /// `GetConsumerListByGroupResponseBody`.
    GetConsumerListByGroupRequestHeader {
        /// `consumerGroup`.
        consumer_group => "consumerGroup",
    }
}

string_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40) request header, broker → client,
    /// oneway.
    NotifyConsumerIdsChangedRequestHeader {
        /// `consumerGroup`.
        consumer_group => "consumerGroup",
    }
}

/// CONSUMER_SEND_MSG_BACK (36) request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerSendMsgBackRequestHeader {
    /// `offset`: **commit-log** offset of the message being returned.
    pub offset: i64,
    /// `group`: consumer group.
    pub group: String,
    /// `delayLevel`: 0 ⇒ broker picks `3 + reconsumeTimes`; -1 ⇒ straight
    /// to the DLQ; n > 0 ⇒ that level.
    pub delay_level: i32,
    /// `originMsgId`: client-side id (UNIQ_KEY if present).
    pub origin_msg_id: Option<String>,
    /// `originTopic`.
    pub origin_topic: Option<String>,
    /// `unitMode` (primitive: always written).
    pub unit_mode: bool,
    /// `maxReconsumeTimes`: the client's limit (default 16).
    pub max_reconsume_times: Option<i32>,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
}

impl CommandCustomHeader for ConsumerSendMsgBackRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            offset: r.req_i64("offset")?,
            group: r.req_str("group")?,
            delay_level: r.req_i32("delayLevel")?,
            origin_msg_id: r.opt_str("originMsgId"),
            origin_topic: r.opt_str("originTopic"),
            unit_mode: r.bool_or_false("unitMode"),
            max_reconsume_times: r.opt_i32("maxReconsumeTimes")?,
            bname: r.opt_str("bname"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .value("offset", self.offset)
            .str("group", &self.group)
            .value("delayLevel", self.delay_level)
            .opt_str("originMsgId", self.origin_msg_id.as_deref())
            .opt_str("originTopic", self.origin_topic.as_deref())
            .value("unitMode", self.unit_mode)
            .opt_value("maxReconsumeTimes", self.max_reconsume_times)
            .opt_str("bname", self.bname.as_deref());
    }
}

/// END_TRANSACTION (37) request header, producer → broker, oneway.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndTransactionRequestHeader {
    /// `producerGroup`.
    pub producer_group: String,
    /// `tranStateTableOffset`: queue offset of the half message.
    pub tran_state_table_offset: i64,
    /// `commitLogOffset`: commit-log offset of the half message.
    pub commit_log_offset: i64,
    /// `commitOrRollback`: 0 (unknown), 8 (commit) or 12 (rollback); Java
    /// rejects any other value (`checkFields`), and so does this parser.
    pub commit_or_rollback: i32,
    /// `fromTransactionCheck`: answer to a check-back (`Boolean` with a
    /// non-null default, so Java always writes it).
    pub from_transaction_check: bool,
    /// `msgId`: the message's UNIQ_KEY.
    pub msg_id: String,
    /// `transactionId`.
    pub transaction_id: Option<String>,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
}

impl EndTransactionRequestHeader {
    /// The decision as a transaction type: `Not` (unknown), `Commit` or
    /// `Rollback`.
    pub fn transaction_type(&self) -> TransactionType {
        TransactionType::from_sys_flag(self.commit_or_rollback)
    }
}

impl CommandCustomHeader for EndTransactionRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        let commit_or_rollback = r.req_i32("commitOrRollback")?;
        if !matches!(
            commit_or_rollback,
            MessageSysFlag::TRANSACTION_NOT_TYPE
                | MessageSysFlag::TRANSACTION_COMMIT_TYPE
                | MessageSysFlag::TRANSACTION_ROLLBACK_TYPE
        ) {
            return Err(HeaderError::InvalidField {
                field: "commitOrRollback",
                value: commit_or_rollback.to_string(),
                expected: "0, 8 or 12",
            });
        }
        Ok(Self {
            producer_group: r.req_str("producerGroup")?,
            tran_state_table_offset: r.req_i64("tranStateTableOffset")?,
            commit_log_offset: r.req_i64("commitLogOffset")?,
            commit_or_rollback,
            from_transaction_check: r.bool_or_false("fromTransactionCheck"),
            msg_id: r.req_str("msgId")?,
            transaction_id: r.opt_str("transactionId"),
            bname: r.opt_str("bname"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("producerGroup", &self.producer_group)
            .value("tranStateTableOffset", self.tran_state_table_offset)
            .value("commitLogOffset", self.commit_log_offset)
            .value("commitOrRollback", self.commit_or_rollback)
            .value("fromTransactionCheck", self.from_transaction_check)
            .str("msgId", &self.msg_id)
            .opt_str("transactionId", self.transaction_id.as_deref())
            .opt_str("bname", self.bname.as_deref());
    }
}

/// CHECK_TRANSACTION_STATE (39) request header, broker → producer, oneway;
/// the body is the half message as a stored record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckTransactionStateRequestHeader {
    /// `tranStateTableOffset`: queue offset of the (re-appended) half
    /// message.
    pub tran_state_table_offset: i64,
    /// `commitLogOffset`: its commit-log offset.
    pub commit_log_offset: i64,
    /// `msgId`: the message's UNIQ_KEY.
    pub msg_id: Option<String>,
    /// `transactionId`.
    pub transaction_id: Option<String>,
    /// `offsetMsgId`: offset message id of the half message.
    pub offset_msg_id: Option<String>,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
}

impl CommandCustomHeader for CheckTransactionStateRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            tran_state_table_offset: r.req_i64("tranStateTableOffset")?,
            commit_log_offset: r.req_i64("commitLogOffset")?,
            msg_id: r.opt_str("msgId"),
            transaction_id: r.opt_str("transactionId"),
            offset_msg_id: r.opt_str("offsetMsgId"),
            bname: r.opt_str("bname"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .value("tranStateTableOffset", self.tran_state_table_offset)
            .value("commitLogOffset", self.commit_log_offset)
            .opt_str("msgId", self.msg_id.as_deref())
            .opt_str("transactionId", self.transaction_id.as_deref())
            .opt_str("offsetMsgId", self.offset_msg_id.as_deref())
            .opt_str("bname", self.bname.as_deref());
    }
}

/// GET_CONSUMER_RUNNING_INFO (307) request header (admin → broker, and
/// forwarded unchanged broker → client).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetConsumerRunningInfoRequestHeader {
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `clientId`.
    pub client_id: String,
    /// `jstackEnable` (primitive: always written).
    pub jstack_enable: bool,
}

impl CommandCustomHeader for GetConsumerRunningInfoRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            consumer_group: r.req_str("consumerGroup")?,
            client_id: r.req_str("clientId")?,
            jstack_enable: r.bool_or_false("jstackEnable"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("consumerGroup", &self.consumer_group)
            .str("clientId", &self.client_id)
            .value("jstackEnable", self.jstack_enable);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(pairs: &[(&str, &str)]) -> ExtFields {
        pairs.iter().copied().collect()
    }

    #[test]
    fn end_transaction_validates_the_decision() {
        let mut f = ext(&[
            ("producerGroup", "pg"),
            ("tranStateTableOffset", "3"),
            ("commitLogOffset", "6076"),
            ("commitOrRollback", "8"),
            ("fromTransactionCheck", "true"),
            ("msgId", "ID"),
        ]);
        let h = EndTransactionRequestHeader::from_ext_fields(&f).unwrap();
        assert_eq!(h.transaction_type(), TransactionType::Commit);
        assert!(h.from_transaction_check);
        assert_eq!(h.to_new_ext_fields(), f);
        f.insert("commitOrRollback", "4");
        assert!(matches!(
            EndTransactionRequestHeader::from_ext_fields(&f),
            Err(HeaderError::InvalidField {
                field: "commitOrRollback",
                ..
            })
        ));
    }

    #[test]
    fn unregister_and_running_info() {
        let f = ext(&[("clientID", "c"), ("consumerGroup", "g")]);
        let h = UnregisterClientRequestHeader::from_ext_fields(&f).unwrap();
        assert_eq!(h.producer_group, None);
        assert_eq!(h.to_new_ext_fields(), f);
        assert_eq!(
            UnregisterClientRequestHeader::from_ext_fields(&ext(&[("clientId", "c")])),
            Err(HeaderError::MissingField("clientID"))
        );
        let r = GetConsumerRunningInfoRequestHeader {
            consumer_group: "g".into(),
            client_id: "c".into(),
            jstack_enable: false,
        };
        let w = r.to_new_ext_fields();
        assert_eq!(w.get("jstackEnable"), Some("false"));
        assert_eq!(
            GetConsumerRunningInfoRequestHeader::from_ext_fields(&w).unwrap(),
            r
        );
    }
}
