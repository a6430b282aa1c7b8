//! The name server's transport: one unpinned glommio executor owning the
//! [`NameServer`] state, serving its port and expiring silent brokers.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringmq_remoting::RemotingCommand;

use crate::broker::metadata::now_ms;
use crate::namesrv::{NameServer, NamesrvConfig};
use crate::net::listen::{accept_loop, check_port_free};
use crate::net::{Connection, Service};

struct NamesrvService {
    ns: RefCell<NameServer>,
    /// Open connections, so that an expired broker's can be closed.
    conns: RefCell<std::collections::HashMap<u64, Rc<Connection>>>,
}

impl Service for NamesrvService {
    fn handle(
        self: Rc<Self>,
        conn: Rc<Connection>,
        req: RemotingCommand,
    ) -> impl Future<Output = Option<RemotingCommand>> + 'static {
        let resp = self
            .ns
            .borrow_mut()
            .handle(&req, conn.id.0, conn.peer, now_ms());
        async move { resp }
    }

    fn on_open(&self, conn: &Rc<Connection>) {
        self.conns.borrow_mut().insert(conn.id.0, conn.clone());
    }

    fn on_close(&self, conn: &Rc<Connection>) {
        self.conns.borrow_mut().remove(&conn.id.0);
        self.ns.borrow_mut().connection_closed(conn.id.0);
    }
}

/// Name-server timings (ringmq makes Apache's constants configurable).
#[derive(Clone, Debug)]
pub struct NamesrvTimings {
    /// How often silent brokers are looked for (Apache 10 s).
    pub scan_interval: Duration,
}

impl Default for NamesrvTimings {
    fn default() -> Self {
        NamesrvTimings {
            scan_interval: Duration::from_secs(10),
        }
    }
}

/// Starts the name server on its own thread. Returns once it listens (or
/// with the reason it cannot); the thread ends when `stop` is set.
pub fn start(
    addr: SocketAddr,
    cfg: NamesrvConfig,
    timings: NamesrvTimings,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, String> {
    check_port_free(addr, "name server")?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let handle = std::thread::Builder::new()
        .name("namesrv".into())
        .spawn(move || {
            let ex = match glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
                .name("namesrv")
                .io_memory(64 << 10)
                .make()
            {
                Ok(ex) => ex,
                Err(e) => {
                    let _ = tx.send(Err(format!("name server executor: {e}")));
                    return;
                }
            };
            ex.run(async move {
                let listener = match crate::net::listen::bind_shared(addr) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(format!("name server cannot listen on {addr}: {e}")));
                        return;
                    }
                };
                let svc = Rc::new(NamesrvService {
                    ns: RefCell::new(NameServer::new(cfg)),
                    conns: RefCell::new(Default::default()),
                });
                let acceptor = glommio::spawn_local(accept_loop(listener, svc.clone(), 0));
                let _ = tx.send(Ok(()));
                let mut waited = Duration::ZERO;
                while !stop.load(Ordering::Relaxed) {
                    glommio::timer::sleep(Duration::from_millis(50)).await;
                    waited += Duration::from_millis(50);
                    if waited >= timings.scan_interval {
                        waited = Duration::ZERO;
                        let expired = svc
                            .ns
                            .borrow_mut()
                            .expire_brokers_with_connections(now_ms());
                        for (addr, conn) in expired {
                            tracing::info!(broker = %addr, "broker expired: no registration");
                            // As Apache: the silent broker's channel is closed too.
                            if let Some(c) = svc.conns.borrow_mut().remove(&conn) {
                                c.close();
                            }
                        }
                    }
                }
                drop(acceptor);
            });
        })
        .map_err(|e| e.to_string())?;
    match rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("name server thread died at start".into()),
    }
}
