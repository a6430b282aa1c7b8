//! Outbound connections: the broker's link to its name servers. A
//! connection made here is served like an accepted one (so the peer may
//! also send requests), and [`Connection::invoke`] matches responses by
//! opaque.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use glommio::net::TcpStream;
use ringmq_remoting::RemotingCommand;

use super::conn::{not_supported, serve_connection, ConnId, Connection, Service};

/// A service for outbound links: answers any request from the peer with
/// REQUEST_CODE_NOT_SUPPORTED and only expects responses.
pub struct ClientSide;

impl Service for ClientSide {
    async fn handle(
        self: Rc<Self>,
        _conn: Rc<Connection>,
        req: RemotingCommand,
    ) -> Option<RemotingCommand> {
        (!req.is_oneway()).then(|| not_supported(&req))
    }
    fn on_close(&self, _conn: &Rc<Connection>) {}
}

/// Connects to `addr` within `timeout`.
pub async fn connect(
    addr: SocketAddr,
    timeout: Duration,
    id: ConnId,
) -> std::io::Result<Rc<Connection>> {
    let stream = TcpStream::connect_timeout(addr, timeout)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    serve_connection(Rc::new(ClientSide), stream, id)
}
