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

/// Binds `addr` for this shard: SO_REUSEPORT (every shard binds the same
/// port) and SO_REUSEADDR, so that a restart is not refused while sockets
/// of the previous process linger in TIME_WAIT (Netty sets it too).
pub fn bind_shared(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::unix::io::{FromRawFd, IntoRawFd};
    let sk = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sk.set_reuse_address(true)?;
    sk.set_reuse_port(true)?;
    sk.bind(&addr.into())?;
    sk.listen(1024)?;
    // SAFETY: the fd is a bound, listening TCP socket whose ownership moves
    // to the glommio listener.
    Ok(unsafe { TcpListener::from_raw_fd(sk.into_raw_fd()) })
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
