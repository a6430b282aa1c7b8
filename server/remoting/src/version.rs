//! `version` field values: the ordinal of the sender's `MQVersion.Version`
//! enum (reference §1.8). Only the ordinals that servers compare against, or
//! that the golden vectors carry, are named here.
//!
//! Clients store the `version` of a HEART_BEAT response as the broker version
//! and refuse SQL92 subscriptions against brokers older than
//! [`V4_1_0_SNAPSHOT`], so a server must put a realistic value in its
//! responses; [`CURRENT_VERSION`] is what ringmq sends.

/// Clients older than this cannot receive RESET_CONSUMER_CLIENT_OFFSET.
pub const V3_0_7_SNAPSHOT: i32 = 28;
/// Below this a REGISTER_BROKER body is a bare `TopicConfigSerializeWrapper`.
pub const V3_0_11: i32 = 37;
/// Clients older than this are rejected when the broker proxies to them.
pub const V3_1_8_SNAPSHOT: i32 = 62;
/// From this version on the broker honours `maxReconsumeTimes` on sends.
pub const V3_4_9: i32 = 121;
/// Brokers older than this cannot serve SQL92 subscriptions.
pub const V4_1_0_SNAPSHOT: i32 = 232;
/// 4.9.3.
pub const V4_9_3: i32 = 399;
/// From this version on the name server sends strict JSON route bodies.
pub const V4_9_4: i32 = 401;
/// The compatibility target and the version of every golden frame.
pub const V4_9_7: i32 = 407;
/// 4.9.8.
pub const V4_9_8: i32 = 409;
/// 5.0.0.
pub const V5_0_0: i32 = 413;
/// 5.1.0.
pub const V5_1_0: i32 = 433;
/// 5.1.4.
pub const V5_1_4: i32 = 441;
/// 5.2.0.
pub const V5_2_0: i32 = 453;
/// 5.3.0.
pub const V5_3_0: i32 = 473;
/// 5.3.3.
pub const V5_3_3: i32 = 479;

/// The version ringmq announces in the commands it creates.
pub const CURRENT_VERSION: i32 = V4_9_7;
