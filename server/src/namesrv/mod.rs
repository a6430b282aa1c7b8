//! The name server (Apache RocketMQ 4.9.7 `namesrv`), without sockets:
//! the transport hands every request to [`NameServer::handle`] and reports
//! closed connections and the passing of time.
//!
//! * [`route_table`]: brokers, clusters and topic routes (Java
//!   `RouteInfoManager`).
//! * [`kv_config`]: the persisted KV config (Java `KVConfigManager`).
//! * [`processor`]: one handler per request code, answering exactly as
//!   Java's `DefaultRequestProcessor` does (reference §3.1).
//! * [`config`]: [`NamesrvConfig`] and its properties view.
//! * [`crc32`]: the REGISTER_BROKER body checksum.
//!
//! Single-threaded: one `NameServer` owns all state, with no locks.

pub mod config;
pub mod crc32;
pub mod kv_config;
pub mod processor;
pub mod route_table;

use std::net::SocketAddr;

use ringmq_remoting::RemotingCommand;

pub use config::NamesrvConfig;
use config::NamesrvProperties;
use kv_config::KvConfig;
use route_table::RouteTable;

/// Name server state: routes, KV config and settings.
#[derive(Debug)]
pub struct NameServer {
    cfg: NamesrvConfig,
    props: NamesrvProperties,
    routes: RouteTable,
    kv: KvConfig,
}

impl NameServer {
    /// A name server with `cfg`, loading the KV config file if present.
    ///
    /// Apache refuses to start when the KV file cannot be parsed. ringmq
    /// starts anyway, empty, after moving the unreadable file aside to
    /// `<path>.corrupt` (so the next change does not overwrite it), and
    /// logs the problem.
    pub fn new(cfg: NamesrvConfig) -> NameServer {
        let kv = match KvConfig::load(cfg.kv_config_path.clone()) {
            Ok(kv) => kv,
            Err(e) => {
                tracing::error!(error = %e, "KV config not loaded; starting with an empty one");
                if let Some(path) = &cfg.kv_config_path {
                    let mut aside = path.as_os_str().to_owned();
                    aside.push(".corrupt");
                    if let Err(e) = std::fs::rename(path, &aside) {
                        tracing::error!(error = %e, "cannot move the unreadable KV config aside");
                    }
                }
                KvConfig::empty(cfg.kv_config_path.clone())
            }
        };
        NameServer {
            props: NamesrvProperties::from_config(&cfg),
            cfg,
            routes: RouteTable::new(),
            kv,
        }
    }

    /// Handles one request that arrived on connection `conn` from `peer` at
    /// wall-clock `now_ms`. Returns the response, or `None` when the
    /// request was oneway (flag bit 1) or is itself a response.
    pub fn handle(
        &mut self,
        req: &RemotingCommand,
        conn: u64,
        peer: SocketAddr,
        now_ms: i64,
    ) -> Option<RemotingCommand> {
        if req.is_response() {
            // Java hands responses to its pending-request table; a name
            // server has no pending requests.
            tracing::warn!(%peer, opaque = req.opaque, "name server got a response; ignored");
            return None;
        }
        let resp = self.process(req, conn, peer, now_ms);
        if req.is_oneway() {
            None
        } else {
            Some(resp)
        }
    }

    /// The connection closed: brokers registered over it are removed
    /// (Apache `onChannelDestroy`).
    pub fn connection_closed(&mut self, conn: u64) {
        for addr in self.routes.addrs_of_connection(conn) {
            tracing::info!(broker = %addr, "broker connection closed; removed");
            self.routes.remove_broker_addr(&addr);
        }
    }

    /// Removes brokers whose last registration is older than
    /// `broker_expire_ms`; returns their addresses.
    pub fn expire_brokers(&mut self, now_ms: i64) -> Vec<String> {
        self.expire_brokers_with_connections(now_ms)
            .into_iter()
            .map(|(addr, _)| addr)
            .collect()
    }

    /// As [`NameServer::expire_brokers`], also giving the connection each
    /// expired broker registered over (Apache closes it).
    pub fn expire_brokers_with_connections(&mut self, now_ms: i64) -> Vec<(String, u64)> {
        let expired = self.routes.expired(now_ms, self.cfg.broker_expire_ms);
        for (addr, _) in &expired {
            self.routes.remove_broker_addr(addr);
        }
        expired
    }

    /// The settings in force (UPDATE_NAMESRV_CONFIG may change
    /// `order_message_enable`).
    pub fn config(&self) -> &NamesrvConfig {
        &self.cfg
    }
}
