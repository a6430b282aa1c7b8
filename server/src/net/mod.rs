//! The remoting transport on glommio: connections that decode frames and
//! run each request as its own task ([`conn`]), listeners ([`listen`]) and
//! an outbound request/response client ([`client`]).

pub mod client;
pub mod conn;
pub mod listen;

pub use conn::{serve_connection, ConnId, Connection, Service};
