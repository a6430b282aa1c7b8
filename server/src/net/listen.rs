//! Listening sockets. Every shard binds the same port with SO_REUSEPORT
//! (glommio's `TcpListener` sets it) and the kernel spreads connections over
//! them. Because SO_REUSEPORT would also let a second process bind the same
//! port silently, [`check_port_free`] first binds it plainly.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;

use glommio::net::TcpListener;

use super::conn::{serve_connection, ConnId, Service};

/// Fails with a clear message when something already listens on `addr`.
pub fn check_port_free(addr: SocketAddr, what: &str) -> Result<(), String> {
    match std::net::TcpListener::bind(addr) {
        Ok(l) => {
            drop(l);
            Ok(())
        }
        Err(e) => Err(format!("{what} port {addr} is not free: {e}")),
    }
}

/// Accepts connections on `listener` forever, serving each with `svc`.
/// Connection ids carry `shard` in their high bits.
pub async fn accept_loop<S: Service>(listener: TcpListener, svc: Rc<S>, shard: u16) {
    let next = Cell::new(1u64);
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let id = ConnId::new(shard, next.get());
                next.set(next.get() + 1);
                if let Err(e) = serve_connection(svc.clone(), stream, id) {
                    tracing::debug!(error = %e, "connection gone before it was served");
                }
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
