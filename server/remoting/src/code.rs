//! Numeric codes carried in the `code` and `language` header fields.
//!
//! A request's `code` selects the command ([`RequestCode`]); a response's
//! `code` reports the outcome ([`ResponseCode`]). The two number spaces
//! overlap (e.g. 17 is UPDATE_AND_CREATE_TOPIC as a request and
//! TOPIC_NOT_EXIST as a response), so the flag's RESPONSE bit decides which
//! enum applies. Both enums keep unknown numbers in an `Unknown` variant:
//! a server must answer unknown request codes with
//! REQUEST_CODE_NOT_SUPPORTED rather than fail to decode the frame.

use std::fmt;

/// Generates a code enum with a catch-all `Unknown` variant, the numeric
/// conversions and the Java constant name (used in logs and file names of the
/// golden vectors).
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $java:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A number this crate has no name for; kept so it can be echoed
            /// back or reported.
            Unknown($repr),
        }

        impl $name {
            /// Every named variant, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];

            /// Maps a wire number to its variant (`Unknown` if unnamed).
            pub fn from_wire(value: $repr) -> Self {
                match value {
                    $( $value => $name::$variant, )*
                    other => $name::Unknown(other),
                }
            }

            /// The number written on the wire.
            pub fn to_wire(self) -> $repr {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Unknown(other) => other,
                }
            }

            /// The Java constant name (`SEND_MESSAGE_V2`), or `None` for
            /// `Unknown`.
            pub fn java_name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($java), )*
                    $name::Unknown(_) => None,
                }
            }

            /// Looks a variant up by its Java constant name.
            pub fn from_java_name(name: &str) -> Option<Self> {
                match name {
                    $( $java => Some($name::$variant), )*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.java_name() {
                    Some(n) => write!(f, "{}({})", n, self.to_wire()),
                    None => write!(f, "UNKNOWN({})", self.to_wire()),
                }
            }
        }
    };
}

code_enum! {
    /// Request codes (reference §2.1). Codes exist in 4.9.7 unless the doc
    /// comment says otherwise; numbers never change between versions.
    RequestCode(i32) {
        // --- broker, client-facing ---
        SendMessage = 10 => "SEND_MESSAGE",
        PullMessage = 11 => "PULL_MESSAGE",
        QueryMessage = 12 => "QUERY_MESSAGE",
        QueryBrokerOffset = 13 => "QUERY_BROKER_OFFSET",
        QueryConsumerOffset = 14 => "QUERY_CONSUMER_OFFSET",
        UpdateConsumerOffset = 15 => "UPDATE_CONSUMER_OFFSET",
        UpdateAndCreateTopic = 17 => "UPDATE_AND_CREATE_TOPIC",
        /// 5.3 only.
        UpdateAndCreateTopicList = 18 => "UPDATE_AND_CREATE_TOPIC_LIST",
        GetAllTopicConfig = 21 => "GET_ALL_TOPIC_CONFIG",
        GetTopicConfigList = 22 => "GET_TOPIC_CONFIG_LIST",
        GetTopicNameList = 23 => "GET_TOPIC_NAME_LIST",
        UpdateBrokerConfig = 25 => "UPDATE_BROKER_CONFIG",
        GetBrokerConfig = 26 => "GET_BROKER_CONFIG",
        TriggerDeleteFiles = 27 => "TRIGGER_DELETE_FILES",
        GetBrokerRuntimeInfo = 28 => "GET_BROKER_RUNTIME_INFO",
        SearchOffsetByTimestamp = 29 => "SEARCH_OFFSET_BY_TIMESTAMP",
        GetMaxOffset = 30 => "GET_MAX_OFFSET",
        GetMinOffset = 31 => "GET_MIN_OFFSET",
        GetEarliestMsgStoretime = 32 => "GET_EARLIEST_MSG_STORETIME",
        ViewMessageById = 33 => "VIEW_MESSAGE_BY_ID",
        HeartBeat = 34 => "HEART_BEAT",
        UnregisterClient = 35 => "UNREGISTER_CLIENT",
        ConsumerSendMsgBack = 36 => "CONSUMER_SEND_MSG_BACK",
        EndTransaction = 37 => "END_TRANSACTION",
        GetConsumerListByGroup = 38 => "GET_CONSUMER_LIST_BY_GROUP",
        /// Broker → producer, oneway.
        CheckTransactionState = 39 => "CHECK_TRANSACTION_STATE",
        /// Broker → consumer, oneway.
        NotifyConsumerIdsChanged = 40 => "NOTIFY_CONSUMER_IDS_CHANGED",
        LockBatchMq = 41 => "LOCK_BATCH_MQ",
        UnlockBatchMq = 42 => "UNLOCK_BATCH_MQ",
        GetAllConsumerOffset = 43 => "GET_ALL_CONSUMER_OFFSET",
        GetAllDelayOffset = 45 => "GET_ALL_DELAY_OFFSET",
        CheckClientConfig = 46 => "CHECK_CLIENT_CONFIG",
        /// 5.x.
        GetClientConfig = 47 => "GET_CLIENT_CONFIG",
        /// Up to 5.2.
        UpdateAndCreateAclConfig = 50 => "UPDATE_AND_CREATE_ACL_CONFIG",
        /// Up to 5.2.
        DeleteAclConfig = 51 => "DELETE_ACL_CONFIG",
        /// Up to 5.2.
        GetBrokerClusterAclInfo = 52 => "GET_BROKER_CLUSTER_ACL_INFO",
        /// Up to 5.2.
        UpdateGlobalWhiteAddrsConfig = 53 => "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG",
        /// Up to 5.2.
        GetBrokerClusterAclConfig = 54 => "GET_BROKER_CLUSTER_ACL_CONFIG",
        /// 5.x.
        GetTimerCheckPoint = 60 => "GET_TIMER_CHECK_POINT",
        /// 5.x.
        GetTimerMetrics = 61 => "GET_TIMER_METRICS",
        // --- name server ---
        PutKvConfig = 100 => "PUT_KV_CONFIG",
        GetKvConfig = 101 => "GET_KV_CONFIG",
        DeleteKvConfig = 102 => "DELETE_KV_CONFIG",
        RegisterBroker = 103 => "REGISTER_BROKER",
        UnregisterBroker = 104 => "UNREGISTER_BROKER",
        GetRouteinfoByTopic = 105 => "GET_ROUTEINFO_BY_TOPIC",
        GetBrokerClusterInfo = 106 => "GET_BROKER_CLUSTER_INFO",
        // --- broker admin ---
        UpdateAndCreateSubscriptiongroup = 200 => "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP",
        GetAllSubscriptiongroupConfig = 201 => "GET_ALL_SUBSCRIPTIONGROUP_CONFIG",
        GetTopicStatsInfo = 202 => "GET_TOPIC_STATS_INFO",
        GetConsumerConnectionList = 203 => "GET_CONSUMER_CONNECTION_LIST",
        GetProducerConnectionList = 204 => "GET_PRODUCER_CONNECTION_LIST",
        WipeWritePermOfBroker = 205 => "WIPE_WRITE_PERM_OF_BROKER",
        GetAllTopicListFromNameserver = 206 => "GET_ALL_TOPIC_LIST_FROM_NAMESERVER",
        DeleteSubscriptiongroup = 207 => "DELETE_SUBSCRIPTIONGROUP",
        GetConsumeStats = 208 => "GET_CONSUME_STATS",
        /// Legacy.
        SuspendConsumer = 209 => "SUSPEND_CONSUMER",
        /// Legacy.
        ResumeConsumer = 210 => "RESUME_CONSUMER",
        /// Legacy.
        ResetConsumerOffsetInConsumer = 211 => "RESET_CONSUMER_OFFSET_IN_CONSUMER",
        /// Legacy.
        ResetConsumerOffsetInBroker = 212 => "RESET_CONSUMER_OFFSET_IN_BROKER",
        DeleteTopicInBroker = 215 => "DELETE_TOPIC_IN_BROKER",
        DeleteTopicInNamesrv = 216 => "DELETE_TOPIC_IN_NAMESRV",
        /// 5.x only, broker → name server.
        RegisterTopicInNamesrv = 217 => "REGISTER_TOPIC_IN_NAMESRV",
        GetKvlistByNamespace = 219 => "GET_KVLIST_BY_NAMESPACE",
        /// Broker → consumer, oneway.
        ResetConsumerClientOffset = 220 => "RESET_CONSUMER_CLIENT_OFFSET",
        /// Broker → consumer.
        GetConsumerStatusFromClient = 221 => "GET_CONSUMER_STATUS_FROM_CLIENT",
        InvokeBrokerToResetOffset = 222 => "INVOKE_BROKER_TO_RESET_OFFSET",
        InvokeBrokerToGetConsumerStatus = 223 => "INVOKE_BROKER_TO_GET_CONSUMER_STATUS",
        GetTopicsByCluster = 224 => "GET_TOPICS_BY_CLUSTER",
        /// 5.3 only.
        UpdateAndCreateSubscriptiongroupList = 225 => "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST",
        QueryTopicConsumeByWho = 300 => "QUERY_TOPIC_CONSUME_BY_WHO",
        QueryConsumeTimeSpan = 303 => "QUERY_CONSUME_TIME_SPAN",
        GetSystemTopicListFromNs = 304 => "GET_SYSTEM_TOPIC_LIST_FROM_NS",
        GetSystemTopicListFromBroker = 305 => "GET_SYSTEM_TOPIC_LIST_FROM_BROKER",
        CleanExpiredConsumequeue = 306 => "CLEAN_EXPIRED_CONSUMEQUEUE",
        /// Broker → consumer (forwarded admin request).
        GetConsumerRunningInfo = 307 => "GET_CONSUMER_RUNNING_INFO",
        QueryCorrectionOffset = 308 => "QUERY_CORRECTION_OFFSET",
        /// Broker → consumer (admin tool feature).
        ConsumeMessageDirectly = 309 => "CONSUME_MESSAGE_DIRECTLY",
        /// The default send of Java clients (single-letter header fields).
        SendMessageV2 = 310 => "SEND_MESSAGE_V2",
        GetUnitTopicList = 311 => "GET_UNIT_TOPIC_LIST",
        GetHasUnitSubTopicList = 312 => "GET_HAS_UNIT_SUB_TOPIC_LIST",
        GetHasUnitSubUnunitTopicList = 313 => "GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST",
        CloneGroupOffset = 314 => "CLONE_GROUP_OFFSET",
        ViewBrokerStatsData = 315 => "VIEW_BROKER_STATS_DATA",
        CleanUnusedTopic = 316 => "CLEAN_UNUSED_TOPIC",
        GetBrokerConsumeStats = 317 => "GET_BROKER_CONSUME_STATS",
        UpdateNamesrvConfig = 318 => "UPDATE_NAMESRV_CONFIG",
        GetNamesrvConfig = 319 => "GET_NAMESRV_CONFIG",
        /// V2 header, batch body.
        SendBatchMessage = 320 => "SEND_BATCH_MESSAGE",
        QueryConsumeQueue = 321 => "QUERY_CONSUME_QUEUE",
        /// Used only when the broker runs with `forceRegister=false`.
        QueryDataVersion = 322 => "QUERY_DATA_VERSION",
        ResumeCheckHalfMessage = 323 => "RESUME_CHECK_HALF_MESSAGE",
        SendReplyMessage = 324 => "SEND_REPLY_MESSAGE",
        SendReplyMessageV2 = 325 => "SEND_REPLY_MESSAGE_V2",
        /// Broker → client (request/reply feature).
        PushReplyMessageToClient = 326 => "PUSH_REPLY_MESSAGE_TO_CLIENT",
        AddWritePermOfBroker = 327 => "ADD_WRITE_PERM_OF_BROKER",
        GetAllProducerInfo = 328 => "GET_ALL_PRODUCER_INFO",
        DeleteExpiredCommitlog = 329 => "DELETE_EXPIRED_COMMITLOG",
        /// 5.x.
        QueryTopicsByConsumer = 343 => "QUERY_TOPICS_BY_CONSUMER",
        /// 5.x.
        QuerySubscriptionByConsumer = 345 => "QUERY_SUBSCRIPTION_BY_CONSUMER",
        /// 5.x.
        GetTopicConfig = 351 => "GET_TOPIC_CONFIG",
        /// 5.x.
        GetSubscriptiongroupConfig = 352 => "GET_SUBSCRIPTIONGROUP_CONFIG",
        /// 5.x.
        UpdateAndGetGroupForbidden = 353 => "UPDATE_AND_GET_GROUP_FORBIDDEN",
        /// 5.x lite-pull consumer; same header and semantics as PULL_MESSAGE.
        LitePullMessage = 361 => "LITE_PULL_MESSAGE",
        /// 5.3 only.
        RecallMessage = 370 => "RECALL_MESSAGE",
        /// 5.x.
        QueryAssignment = 400 => "QUERY_ASSIGNMENT",
        /// 5.x.
        SetMessageRequestMode = 401 => "SET_MESSAGE_REQUEST_MODE",
        /// 5.x.
        GetAllMessageRequestMode = 402 => "GET_ALL_MESSAGE_REQUEST_MODE",
        /// 5.x.
        UpdateAndCreateStaticTopic = 513 => "UPDATE_AND_CREATE_STATIC_TOPIC",
        /// 5.x, broker → name server.
        GetBrokerMemberGroup = 901 => "GET_BROKER_MEMBER_GROUP",
        /// 5.x, broker → name server, only with `enableSlaveActingMaster`.
        BrokerHeartbeat = 904 => "BROKER_HEARTBEAT",
        /// 5.x POP consumption; does not fit the 16-bit ROCKETMQ code field.
        PopMessage = 200050 => "POP_MESSAGE",
        /// 5.x.
        AckMessage = 200051 => "ACK_MESSAGE",
        /// 5.x.
        PeekMessage = 200052 => "PEEK_MESSAGE",
        /// 5.x.
        ChangeMessageInvisibletime = 200053 => "CHANGE_MESSAGE_INVISIBLETIME",
        /// 5.x.
        Notification = 200054 => "NOTIFICATION",
        /// 5.x.
        PollingInfo = 200055 => "POLLING_INFO",
        /// 5.x.
        BatchAckMessage = 200151 => "BATCH_ACK_MESSAGE",
    }
}

impl RequestCode {
    /// Alias of [`RequestCode::from_wire`] under the conventional name.
    pub fn from_i32(value: i32) -> Self {
        Self::from_wire(value)
    }

    /// The numeric code.
    pub fn to_i32(self) -> i32 {
        self.to_wire()
    }
}

code_enum! {
    /// Response codes (reference §2.3). Where 4.x and 5.x gave the same
    /// number different meanings (209–211), the variant carries the 4.x name,
    /// since 4.9.x is the compatibility target; the 5.x names exist as
    /// associated constants.
    ResponseCode(i32) {
        /// 5.x internal RPC client only, never sent to remoting clients.
        RpcTimeOut = -1006 => "RPC_TIME_OUT",
        /// 5.x internal RPC client only.
        RpcSendToChannelFailed = -1004 => "RPC_SEND_TO_CHANNEL_FAILED",
        /// 5.x internal RPC client only.
        RpcAddrIsNull = -1002 => "RPC_ADDR_IS_NULL",
        /// 5.x internal RPC client only.
        RpcUnknown = -1000 => "RPC_UNKNOWN",
        Success = 0 => "SUCCESS",
        SystemError = 1 => "SYSTEM_ERROR",
        SystemBusy = 2 => "SYSTEM_BUSY",
        RequestCodeNotSupported = 3 => "REQUEST_CODE_NOT_SUPPORTED",
        TransactionFailed = 4 => "TRANSACTION_FAILED",
        FlushDiskTimeout = 10 => "FLUSH_DISK_TIMEOUT",
        SlaveNotAvailable = 11 => "SLAVE_NOT_AVAILABLE",
        FlushSlaveTimeout = 12 => "FLUSH_SLAVE_TIMEOUT",
        MessageIllegal = 13 => "MESSAGE_ILLEGAL",
        ServiceNotAvailable = 14 => "SERVICE_NOT_AVAILABLE",
        VersionNotSupported = 15 => "VERSION_NOT_SUPPORTED",
        NoPermission = 16 => "NO_PERMISSION",
        TopicNotExist = 17 => "TOPIC_NOT_EXIST",
        TopicExistAlready = 18 => "TOPIC_EXIST_ALREADY",
        PullNotFound = 19 => "PULL_NOT_FOUND",
        PullRetryImmediately = 20 => "PULL_RETRY_IMMEDIATELY",
        PullOffsetMoved = 21 => "PULL_OFFSET_MOVED",
        QueryNotFound = 22 => "QUERY_NOT_FOUND",
        SubscriptionParseFailed = 23 => "SUBSCRIPTION_PARSE_FAILED",
        SubscriptionNotExist = 24 => "SUBSCRIPTION_NOT_EXIST",
        SubscriptionNotLatest = 25 => "SUBSCRIPTION_NOT_LATEST",
        SubscriptionGroupNotExist = 26 => "SUBSCRIPTION_GROUP_NOT_EXIST",
        FilterDataNotExist = 27 => "FILTER_DATA_NOT_EXIST",
        FilterDataNotLatest = 28 => "FILTER_DATA_NOT_LATEST",
        /// 5.3 only.
        InvalidParameter = 29 => "INVALID_PARAMETER",
        /// Legacy.
        TransactionShouldCommit = 200 => "TRANSACTION_SHOULD_COMMIT",
        /// Legacy.
        TransactionShouldRollback = 201 => "TRANSACTION_SHOULD_ROLLBACK",
        /// Legacy (the Java spelling drops the final N).
        TransactionStateUnknow = 202 => "TRANSACTION_STATE_UNKNOW",
        /// Legacy.
        TransactionStateGroupWrong = 203 => "TRANSACTION_STATE_GROUP_WRONG",
        NoBuyerId = 204 => "NO_BUYER_ID",
        NotInCurrentUnit = 205 => "NOT_IN_CURRENT_UNIT",
        ConsumerNotOnline = 206 => "CONSUMER_NOT_ONLINE",
        ConsumeMsgTimeout = 207 => "CONSUME_MSG_TIMEOUT",
        /// 5.x.
        NoMessage = 208 => "NO_MESSAGE",
        /// 4.x meaning; 5.x reuses 209 as POLLING_FULL.
        UpdateAndCreateAclConfigFailed = 209 => "UPDATE_AND_CREATE_ACL_CONFIG_FAILED",
        /// 4.x meaning; 5.x reuses 210 as POLLING_TIMEOUT.
        DeleteAclConfigFailed = 210 => "DELETE_ACL_CONFIG_FAILED",
        /// 4.x meaning; 5.x reuses 211 as BROKER_NOT_EXIST.
        UpdateGlobalWhiteAddrsConfigFailed = 211 => "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED",
        /// 5.x.
        BrokerDispatchNotComplete = 212 => "BROKER_DISPATCH_NOT_COMPLETE",
        /// 5.x.
        BroadcastConsumption = 213 => "BROADCAST_CONSUMPTION",
        /// The consumer backs off 20 ms and retries the pull.
        FlowControl = 215 => "FLOW_CONTROL",
        /// 5.x static topics.
        NotLeaderForQueue = 501 => "NOT_LEADER_FOR_QUEUE",
        /// 5.x.
        IllegalOperation = 604 => "ILLEGAL_OPERATION",
        /// 5.3.
        GoAway = 1500 => "GO_AWAY",
        /// 5.3 ACL 2.0.
        UserNotExist = 3001 => "USER_NOT_EXIST",
        /// 5.3 ACL 2.0.
        PolicyNotExist = 3002 => "POLICY_NOT_EXIST",
    }
}

impl ResponseCode {
    /// 5.x name of 209.
    pub const POLLING_FULL: ResponseCode = ResponseCode::UpdateAndCreateAclConfigFailed;
    /// 5.x name of 210.
    pub const POLLING_TIMEOUT: ResponseCode = ResponseCode::DeleteAclConfigFailed;
    /// 5.x name of 211.
    pub const BROKER_NOT_EXIST: ResponseCode = ResponseCode::UpdateGlobalWhiteAddrsConfigFailed;

    /// Alias of [`ResponseCode::from_wire`] under the conventional name.
    pub fn from_i32(value: i32) -> Self {
        Self::from_wire(value)
    }

    /// The numeric code.
    pub fn to_i32(self) -> i32 {
        self.to_wire()
    }
}

code_enum! {
    /// Implementation language of the sender (reference §1.7). The JSON
    /// header carries the name, the ROCKETMQ header the byte.
    LanguageCode(u8) {
        Java = 0 => "JAVA",
        Cpp = 1 => "CPP",
        Dotnet = 2 => "DOTNET",
        Python = 3 => "PYTHON",
        Delphi = 4 => "DELPHI",
        Erlang = 5 => "ERLANG",
        Ruby = 6 => "RUBY",
        Other = 7 => "OTHER",
        Http = 8 => "HTTP",
        Go = 9 => "GO",
        Php = 10 => "PHP",
        Oms = 11 => "OMS",
        /// Understood by clients since 4.9.4.
        Rust = 12 => "RUST",
        /// 5.3.x only.
        NodeJs = 13 => "NODE_JS",
    }
}

impl LanguageCode {
    /// The byte used in the ROCKETMQ binary header.
    pub fn to_byte(self) -> u8 {
        self.to_wire()
    }

    /// Decodes the ROCKETMQ header byte.
    pub fn from_byte(value: u8) -> Self {
        Self::from_wire(value)
    }
}

impl Default for LanguageCode {
    /// Java commands start out as JAVA, and JAVA is what every client
    /// expects from a server.
    fn default() -> Self {
        LanguageCode::Java
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_codes_round_trip() {
        for &c in RequestCode::ALL {
            assert_eq!(RequestCode::from_i32(c.to_i32()), c);
            assert_eq!(RequestCode::from_java_name(c.java_name().unwrap()), Some(c));
        }
        assert_eq!(RequestCode::from_i32(310), RequestCode::SendMessageV2);
        assert_eq!(RequestCode::from_i32(9999), RequestCode::Unknown(9999));
    }

    #[test]
    fn response_codes_round_trip() {
        for &c in ResponseCode::ALL {
            assert_eq!(ResponseCode::from_i32(c.to_i32()), c);
        }
        assert_eq!(ResponseCode::POLLING_FULL.to_i32(), 209);
        assert_eq!(
            ResponseCode::from_i32(17).to_string(),
            "TOPIC_NOT_EXIST(17)"
        );
    }

    #[test]
    fn language_codes() {
        assert_eq!(LanguageCode::from_byte(12), LanguageCode::Rust);
        assert_eq!(
            LanguageCode::from_java_name("JAVA"),
            Some(LanguageCode::Java)
        );
        assert_eq!(LanguageCode::from_byte(200), LanguageCode::Unknown(200));
    }
}
