//! The `ringmq` server: name server, broker request handlers and the
//! remoting transport that carries them, on top of `ringmq-engine` (storage)
//! and `ringmq-remoting` (codec).

pub mod broker;
pub mod namesrv;
pub mod namesrv_service;
pub mod net;
pub mod persist;
