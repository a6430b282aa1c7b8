//! Typed custom headers of the commands a broker and name server handle
//! first. Field names and Java types follow reference §3; each header
//! writes its fields in the order Java's encoder uses for it, so binary
//! headers come out like Java's.

mod consumer_offset;
mod pull_message;
mod register_broker;
mod route;
mod send_message;

pub use consumer_offset::{
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
pub use pull_message::{PullMessageRequestHeader, PullMessageResponseHeader};
pub use register_broker::{RegisterBrokerRequestHeader, RegisterBrokerResponseHeader};
pub use route::GetRouteInfoRequestHeader;
pub use send_message::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
    EXT_MSG_REGION, EXT_TRACE_ON,
};
