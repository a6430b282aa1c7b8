//! Request builders for protocol-level tests.
//!
//! Header fields are written straight into `extFields` with the key names of
//! the reference (remoting-protocol §3), not through the server's typed
//! headers: the tests are an independent reading of the protocol, so a
//! misspelt key on the server side shows up as a failure here instead of
//! being agreed on by both ends. Codes are the reference's numbers (§2).

use std::time::{SystemTime, UNIX_EPOCH};

use ringmq_remoting::{RemotingCommand, RequestCode};

use crate::records::{encode_batch, properties_string, BatchItem};

/// Request codes (remoting-protocol §2.1).
pub mod code {
    /// SEND_MESSAGE.
    pub const SEND_MESSAGE: i32 = 10;
    /// PULL_MESSAGE.
    pub const PULL_MESSAGE: i32 = 11;
    /// QUERY_MESSAGE.
    pub const QUERY_MESSAGE: i32 = 12;
    /// QUERY_CONSUMER_OFFSET.
    pub const QUERY_CONSUMER_OFFSET: i32 = 14;
    /// UPDATE_CONSUMER_OFFSET.
    pub const UPDATE_CONSUMER_OFFSET: i32 = 15;
    /// UPDATE_AND_CREATE_TOPIC.
    pub const UPDATE_AND_CREATE_TOPIC: i32 = 17;
    /// SEARCH_OFFSET_BY_TIMESTAMP.
    pub const SEARCH_OFFSET_BY_TIMESTAMP: i32 = 29;
    /// GET_MAX_OFFSET.
    pub const GET_MAX_OFFSET: i32 = 30;
    /// GET_MIN_OFFSET.
    pub const GET_MIN_OFFSET: i32 = 31;
    /// GET_EARLIEST_MSG_STORETIME.
    pub const GET_EARLIEST_MSG_STORETIME: i32 = 32;
    /// VIEW_MESSAGE_BY_ID.
    pub const VIEW_MESSAGE_BY_ID: i32 = 33;
    /// HEART_BEAT.
    pub const HEART_BEAT: i32 = 34;
    /// UNREGISTER_CLIENT.
    pub const UNREGISTER_CLIENT: i32 = 35;
    /// GET_CONSUMER_LIST_BY_GROUP.
    pub const GET_CONSUMER_LIST_BY_GROUP: i32 = 38;
    /// NOTIFY_CONSUMER_IDS_CHANGED (broker → client, oneway).
    pub const NOTIFY_CONSUMER_IDS_CHANGED: i32 = 40;
    /// LOCK_BATCH_MQ.
    pub const LOCK_BATCH_MQ: i32 = 41;
    /// UNLOCK_BATCH_MQ.
    pub const UNLOCK_BATCH_MQ: i32 = 42;
    /// GET_ROUTEINFO_BY_TOPIC.
    pub const GET_ROUTEINFO_BY_TOPIC: i32 = 105;
    /// GET_BROKER_CLUSTER_INFO.
    pub const GET_BROKER_CLUSTER_INFO: i32 = 106;
    /// SEND_MESSAGE_V2.
    pub const SEND_MESSAGE_V2: i32 = 310;
    /// SEND_BATCH_MESSAGE.
    pub const SEND_BATCH_MESSAGE: i32 = 320;
}

/// Response codes (remoting-protocol §2.3).
pub mod response {
    /// SUCCESS.
    pub const SUCCESS: i32 = 0;
    /// SYSTEM_ERROR.
    pub const SYSTEM_ERROR: i32 = 1;
    /// SYSTEM_BUSY.
    pub const SYSTEM_BUSY: i32 = 2;
    /// REQUEST_CODE_NOT_SUPPORTED.
    pub const REQUEST_CODE_NOT_SUPPORTED: i32 = 3;
    /// MESSAGE_ILLEGAL.
    pub const MESSAGE_ILLEGAL: i32 = 13;
    /// NO_PERMISSION.
    pub const NO_PERMISSION: i32 = 16;
    /// TOPIC_NOT_EXIST.
    pub const TOPIC_NOT_EXIST: i32 = 17;
    /// PULL_NOT_FOUND.
    pub const PULL_NOT_FOUND: i32 = 19;
    /// PULL_RETRY_IMMEDIATELY.
    pub const PULL_RETRY_IMMEDIATELY: i32 = 20;
    /// PULL_OFFSET_MOVED.
    pub const PULL_OFFSET_MOVED: i32 = 21;
    /// QUERY_NOT_FOUND.
    pub const QUERY_NOT_FOUND: i32 = 22;
}

/// PullSysFlag bits (remoting-protocol §6.1).
pub mod pull_flag {
    /// FLAG_COMMIT_OFFSET.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// FLAG_SUSPEND: the broker may hold the request.
    pub const SUSPEND: i32 = 0x2;
    /// FLAG_SUBSCRIPTION: the header's subscription is authoritative.
    pub const SUBSCRIPTION: i32 = 0x4;
}

/// The auto-create template topic.
pub const DEFAULT_TOPIC: &str = "TBW102";
/// Producer group the builders use.
pub const PRODUCER_GROUP: &str = "ringmq_test_producer";

/// Wall clock in ms.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A request with `code` and no header (opaque is set when sent).
pub fn request(code: i32) -> RemotingCommand {
    RemotingCommand::new_request(RequestCode::from_i32(code), 0)
}

/// A request with `code` and the given extFields.
pub fn request_with(code: i32, fields: &[(&str, String)]) -> RemotingCommand {
    let mut cmd = request(code);
    let ext = cmd.ext_fields_mut();
    for (k, v) in fields {
        ext.insert(*k, v.clone());
    }
    cmd
}

/// A message to send with SEND_MESSAGE_V2.
#[derive(Debug, Clone)]
pub struct Message {
    /// Target topic (`b`).
    pub topic: String,
    /// Target queue (`e`); negative lets the broker pick.
    pub queue_id: i32,
    /// Body.
    pub body: Vec<u8>,
    /// Properties (`i`), in order: UNIQ_KEY, KEYS, TAGS, WAIT, user keys.
    pub properties: Vec<(String, String)>,
    /// User flag (`h`).
    pub flag: i32,
    /// Message sysFlag (`f`).
    pub sys_flag: i32,
    /// Queues of an auto-created topic (`d`).
    pub default_topic_queue_nums: i32,
}

impl Message {
    /// A message with `UNIQ_KEY` (derived from `topic`, `queue_id` and the
    /// body) and `WAIT=true`, like every Java message (§7.1).
    pub fn new(topic: &str, queue_id: i32, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        let uniq = uniq_key(topic, queue_id, &body);
        Self {
            topic: topic.to_owned(),
            queue_id,
            body,
            properties: vec![
                ("UNIQ_KEY".to_owned(), uniq),
                ("WAIT".to_owned(), "true".to_owned()),
            ],
            flag: 0,
            sys_flag: 0,
            default_topic_queue_nums: 4,
        }
    }

    /// Sets (or replaces) one property.
    pub fn with_property(mut self, key: &str, value: &str) -> Self {
        match self.properties.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value.to_owned(),
            None => self.properties.push((key.to_owned(), value.to_owned())),
        }
        self
    }

    /// Sets `TAGS`.
    pub fn with_tags(self, tags: &str) -> Self {
        self.with_property("TAGS", tags)
    }

    /// Sets `KEYS` (space-separated business keys).
    pub fn with_keys(self, keys: &str) -> Self {
        self.with_property("KEYS", keys)
    }

    /// The `UNIQ_KEY` property.
    pub fn uniq_key(&self) -> &str {
        self.properties
            .iter()
            .find(|(k, _)| k == "UNIQ_KEY")
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The properties string (§5.1).
    pub fn properties_string(&self) -> String {
        properties_string(&self.properties)
    }
}

/// A deterministic 32-hex-char client message id (the broker treats it as
/// opaque, §5.5).
pub fn uniq_key(topic: &str, queue_id: i32, body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic
        .bytes()
        .chain(queue_id.to_be_bytes())
        .chain(body.iter().copied())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("7F000001{:08X}{:016X}", std::process::id(), h)
}

fn send_v2_fields(
    topic: &str,
    queue_id: i32,
    sys_flag: i32,
    flag: i32,
    default_topic_queue_nums: i32,
    properties: String,
    batch: bool,
) -> Vec<(&'static str, String)> {
    // §3.2 SEND_MESSAGE_V2 header: a..m (n = bname is optional).
    vec![
        ("a", PRODUCER_GROUP.to_owned()),
        ("b", topic.to_owned()),
        ("c", DEFAULT_TOPIC.to_owned()),
        ("d", default_topic_queue_nums.to_string()),
        ("e", queue_id.to_string()),
        ("f", sys_flag.to_string()),
        ("g", now_millis().to_string()),
        ("h", flag.to_string()),
        ("i", properties),
        ("j", "0".to_owned()),
        ("k", "false".to_owned()),
        ("m", batch.to_string()),
    ]
}

/// SEND_MESSAGE_V2 (310) for `msg` (§3.2).
pub fn send_message_v2(msg: &Message) -> RemotingCommand {
    let fields = send_v2_fields(
        &msg.topic,
        msg.queue_id,
        msg.sys_flag,
        msg.flag,
        msg.default_topic_queue_nums,
        msg.properties_string(),
        false,
    );
    request_with(code::SEND_MESSAGE_V2, &fields).with_body(msg.body.clone())
}

/// SEND_BATCH_MESSAGE (320): V2 header with `m=true` and batch-level
/// properties `WAIT=true` (as the 4.9.7 client sends), body per §5.7.
pub fn send_batch_message(topic: &str, queue_id: i32, items: &[BatchItem]) -> RemotingCommand {
    let fields = send_v2_fields(
        topic,
        queue_id,
        0,
        0,
        4,
        properties_string(&[("WAIT", "true")]),
        true,
    );
    request_with(code::SEND_BATCH_MESSAGE, &fields).with_body(encode_batch(items))
}

/// A PULL_MESSAGE request's parameters (§3.3).
#[derive(Debug, Clone)]
pub struct Pull {
    /// `consumerGroup`.
    pub group: String,
    /// `topic`.
    pub topic: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `queueOffset`.
    pub offset: i64,
    /// `maxMsgNums`.
    pub max_msg_nums: i32,
    /// `sysFlag` (PullSysFlag, §6.1).
    pub sys_flag: i32,
    /// `suspendTimeoutMillis`.
    pub suspend_timeout_millis: i64,
    /// `subscription` (sent only when `Some`).
    pub subscription: Option<String>,
    /// `commitOffset`.
    pub commit_offset: i64,
}

impl Pull {
    /// A non-suspending pull of up to 32 messages with the SUBSCRIPTION flag
    /// and subscription `*`.
    pub fn new(group: &str, topic: &str, queue_id: i32, offset: i64) -> Self {
        Self {
            group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id,
            offset,
            max_msg_nums: 32,
            sys_flag: pull_flag::SUBSCRIPTION,
            suspend_timeout_millis: 0,
            subscription: Some("*".to_owned()),
            commit_offset: 0,
        }
    }

    /// Adds the SUSPEND flag with the given hold time.
    pub fn suspend(mut self, millis: i64) -> Self {
        self.sys_flag |= pull_flag::SUSPEND;
        self.suspend_timeout_millis = millis;
        self
    }

    /// Sets the TAG subscription expression.
    pub fn subscription(mut self, expr: &str) -> Self {
        self.subscription = Some(expr.to_owned());
        self.sys_flag |= pull_flag::SUBSCRIPTION;
        self
    }

    /// Sets `maxMsgNums`.
    pub fn max(mut self, n: i32) -> Self {
        self.max_msg_nums = n;
        self
    }

    /// The request.
    pub fn build(&self) -> RemotingCommand {
        let mut fields = vec![
            ("consumerGroup", self.group.clone()),
            ("topic", self.topic.clone()),
            ("queueId", self.queue_id.to_string()),
            ("queueOffset", self.offset.to_string()),
            ("maxMsgNums", self.max_msg_nums.to_string()),
            ("sysFlag", self.sys_flag.to_string()),
            ("commitOffset", self.commit_offset.to_string()),
            (
                "suspendTimeoutMillis",
                self.suspend_timeout_millis.to_string(),
            ),
            ("subVersion", "0".to_owned()),
            ("expressionType", "TAG".to_owned()),
        ];
        if let Some(s) = &self.subscription {
            fields.push(("subscription", s.clone()));
        }
        request_with(code::PULL_MESSAGE, &fields)
    }
}

/// UPDATE_AND_CREATE_TOPIC (17) with the fields of Java's
/// `CreateTopicRequestHeader` (as the admin tool sends them).
pub fn update_and_create_topic(
    topic: &str,
    read_queues: i32,
    write_queues: i32,
) -> RemotingCommand {
    request_with(
        code::UPDATE_AND_CREATE_TOPIC,
        &[
            ("topic", topic.to_owned()),
            ("defaultTopic", DEFAULT_TOPIC.to_owned()),
            ("readQueueNums", read_queues.to_string()),
            ("writeQueueNums", write_queues.to_string()),
            ("perm", "6".to_owned()),
            ("topicFilterType", "SINGLE_TAG".to_owned()),
            ("topicSysFlag", "0".to_owned()),
            ("order", "false".to_owned()),
        ],
    )
}

/// GET_ROUTEINFO_BY_TOPIC (105), to a name server (§3.1).
pub fn get_route_info(topic: &str) -> RemotingCommand {
    request_with(code::GET_ROUTEINFO_BY_TOPIC, &[("topic", topic.to_owned())])
}

/// A consumer group entry of a heartbeat (§4.4): CLUSTERING push consumer
/// subscribed to `topic` with `*` and to `%RETRY%<group>`.
pub fn consumer_data(group: &str, topic: &str) -> serde_json::Value {
    serde_json::json!({
        "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
        "consumeType": "CONSUME_PASSIVELY",
        "groupName": group,
        "messageModel": "CLUSTERING",
        "subscriptionDataSet": [
            {"classFilterMode": false, "codeSet": [], "expressionType": "TAG",
             "subString": "*", "subVersion": now_millis(), "tagsSet": [], "topic": topic},
            {"classFilterMode": false, "codeSet": [], "expressionType": "TAG",
             "subString": "*", "subVersion": now_millis(), "tagsSet": [],
             "topic": format!("%RETRY%{group}")},
        ],
        "unitMode": false,
    })
}

/// HEART_BEAT (34) with a `HeartbeatData` body (§3.2, §4.4).
pub fn heart_beat(client_id: &str, consumers: &[serde_json::Value]) -> RemotingCommand {
    let body = serde_json::json!({
        "clientID": client_id,
        "consumerDataSet": consumers,
        "producerDataSet": [{"groupName": "CLIENT_INNER_PRODUCER"}],
    });
    request(code::HEART_BEAT).with_body(body.to_string().into_bytes())
}

/// GET_CONSUMER_LIST_BY_GROUP (38).
pub fn get_consumer_list_by_group(group: &str) -> RemotingCommand {
    request_with(
        code::GET_CONSUMER_LIST_BY_GROUP,
        &[("consumerGroup", group.to_owned())],
    )
}

/// QUERY_CONSUMER_OFFSET (14).
pub fn query_consumer_offset(group: &str, topic: &str, queue_id: i32) -> RemotingCommand {
    request_with(
        code::QUERY_CONSUMER_OFFSET,
        &[
            ("consumerGroup", group.to_owned()),
            ("topic", topic.to_owned()),
            ("queueId", queue_id.to_string()),
        ],
    )
}

/// UPDATE_CONSUMER_OFFSET (15).
pub fn update_consumer_offset(
    group: &str,
    topic: &str,
    queue_id: i32,
    offset: i64,
) -> RemotingCommand {
    request_with(
        code::UPDATE_CONSUMER_OFFSET,
        &[
            ("consumerGroup", group.to_owned()),
            ("topic", topic.to_owned()),
            ("queueId", queue_id.to_string()),
            ("commitOffset", offset.to_string()),
        ],
    )
}

fn topic_queue(code: i32, topic: &str, queue_id: i32) -> RemotingCommand {
    request_with(
        code,
        &[
            ("topic", topic.to_owned()),
            ("queueId", queue_id.to_string()),
        ],
    )
}

/// GET_MAX_OFFSET (30).
pub fn get_max_offset(topic: &str, queue_id: i32) -> RemotingCommand {
    topic_queue(code::GET_MAX_OFFSET, topic, queue_id)
}

/// GET_MIN_OFFSET (31).
pub fn get_min_offset(topic: &str, queue_id: i32) -> RemotingCommand {
    topic_queue(code::GET_MIN_OFFSET, topic, queue_id)
}

/// GET_EARLIEST_MSG_STORETIME (32).
pub fn get_earliest_msg_store_time(topic: &str, queue_id: i32) -> RemotingCommand {
    topic_queue(code::GET_EARLIEST_MSG_STORETIME, topic, queue_id)
}

/// SEARCH_OFFSET_BY_TIMESTAMP (29).
pub fn search_offset_by_timestamp(topic: &str, queue_id: i32, timestamp: i64) -> RemotingCommand {
    let mut cmd = topic_queue(code::SEARCH_OFFSET_BY_TIMESTAMP, topic, queue_id);
    cmd.ext_fields_mut()
        .insert("timestamp", timestamp.to_string());
    cmd
}

/// QUERY_MESSAGE (12) by key (`unique = false`) or by UNIQ_KEY
/// (`unique = true`), as the 4.9.7 client sends it (§3.3).
pub fn query_message(
    topic: &str,
    key: &str,
    begin: i64,
    end: i64,
    unique: bool,
) -> RemotingCommand {
    request_with(
        code::QUERY_MESSAGE,
        &[
            ("topic", topic.to_owned()),
            ("key", key.to_owned()),
            ("maxNum", "32".to_owned()),
            ("beginTimestamp", begin.to_string()),
            ("endTimestamp", end.to_string()),
            ("_UNIQUE_KEY_QUERY", unique.to_string()),
        ],
    )
}

/// VIEW_MESSAGE_BY_ID (33) for a commit log offset.
pub fn view_message_by_id(physical_offset: i64) -> RemotingCommand {
    request_with(
        code::VIEW_MESSAGE_BY_ID,
        &[("offset", physical_offset.to_string())],
    )
}

/// LOCK_BATCH_MQ (41) or UNLOCK_BATCH_MQ (42) for queues `queues` of
/// `topic` on broker `broker_name`, in the JSON body Java sends.
pub fn lock_batch(
    code: i32,
    group: &str,
    client_id: &str,
    broker_name: &str,
    topic: &str,
    queues: impl IntoIterator<Item = i32>,
) -> RemotingCommand {
    let mq_set: Vec<serde_json::Value> = queues
        .into_iter()
        .map(|q| serde_json::json!({"topic": topic, "brokerName": broker_name, "queueId": q}))
        .collect();
    let mut cmd = request(code);
    cmd.body = serde_json::to_vec(&serde_json::json!({
        "consumerGroup": group,
        "clientId": client_id,
        "onlyThisBroker": false,
        "mqSet": mq_set,
    }))
    .expect("json")
    .into();
    cmd
}
