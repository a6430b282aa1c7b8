//! RocketMQ remoting codec: the wire protocol spoken by Apache RocketMQ 4.9.x
//! clients, brokers and name servers (and 5.x remoting clients), as
//! described in `shared/reference/remoting-protocol.md` §1–2.
//!
//! A TCP stream carries frames; each frame holds one [`RemotingCommand`]
//! (request or response) whose header is either JSON or the ROCKETMQ binary
//! layout, chosen per frame by the sender. The crate is layered the same
//! way, one concept per module:
//!
//! * [`frame`]: splits a read buffer into frames and writes frames, with the
//!   16 MiB limit ([`MAX_FRAME_BYTES`]) and all length checks done before
//!   any waiting or allocation.
//! * [`header`]: the logical command ([`RemotingCommand`]), its flag bits and
//!   [`SerializeType`]. The type a request arrived in is kept so the
//!   response can be written in the same encoding.
//! * [`json_header`] / [`rocketmq_header`]: the two header encodings. JSON
//!   output imitates fastjson closely enough to be byte-identical to Java's;
//!   the binary encoder reproduces Java's bytes given the same entry order.
//! * [`ext_fields`]: the order-preserving `extFields` map.
//! * [`code`]: [`RequestCode`], [`ResponseCode`], [`LanguageCode`].
//! * [`version`]: `version` ordinals that matter (`V4_9_7 = 407`).
//! * [`custom_header`]: the [`CommandCustomHeader`] trait that turns
//!   extFields into typed headers once, with Java's parsing rules and clear
//!   errors; [`headers`] implements it for the send, pull, consumer-offset,
//!   route and register-broker commands.
//! * [`heartbeat`]: the HEART_BEAT JSON body.
//! * [`error`]: [`CodecError`] (undecodable frame: close the connection) and
//!   [`HeaderError`] (well-formed frame, unusable fields: answer
//!   SYSTEM_ERROR).
//!
//! Decoding never panics on untrusted input: every read is bounds-checked.

pub mod body;
pub mod code;
pub mod custom_header;
pub mod error;
pub mod ext_fields;
pub mod frame;
pub mod header;
pub mod headers;
pub mod heartbeat;
pub mod json_header;
pub mod message;
pub mod rocketmq_header;
pub mod version;

pub use code::{LanguageCode, RequestCode, ResponseCode};
pub use custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
pub use error::{CodecError, HeaderError};
pub use ext_fields::ExtFields;
pub use frame::{
    decode_frame, encode_command, encode_frame, encode_frame_header, FrameDecoder, MAX_FRAME_BYTES,
};
pub use header::{RemotingCommand, SerializeType, FLAG_ONEWAY, FLAG_RESPONSE};
pub use headers::*;
pub use heartbeat::HeartbeatData;
