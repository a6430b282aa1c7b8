//! Typed custom headers of the commands a broker and name server handle
//! first. Field names and Java types follow reference §3; each header
//! writes its fields in the order Java's encoder uses for it, so binary
//! headers come out like Java's.

mod broker_admin;
mod client;
mod consumer_offset;
mod namesrv;
mod offset_query;
mod pull_message;
mod query;
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

pub use broker_admin::*;
pub use client::*;
pub use namesrv::*;
pub use offset_query::*;
pub use query::*;
