//! One client connection: a reader that decodes frames and spawns a task per
//! request, and a writer that drains a bounded queue of outgoing commands.
//!
//! Requests on one connection run concurrently (a long-polling pull must not
//! hold up the sends behind it) and their responses leave in completion
//! order, matched by `opaque` on the client side. Two bounds give
//! backpressure: at most [`MAX_INFLIGHT`] requests of a connection are being
//! handled at once (the reader stops reading beyond that), and at most
//! [`OUT_QUEUE`] encoded responses wait for the socket.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use glommio::sync::Semaphore;
use ringmq_engine::notify::Notify;
use ringmq_remoting::{encode_command, FrameDecoder, RemotingCommand, ResponseCode};

/// Requests of one connection handled at the same time.
pub const MAX_INFLIGHT: u64 = 4096;
/// Request bytes (KiB) of one connection being handled at once: with the
/// count above, what bounds the memory a client can pin (Apache bounds its
/// request queues and refuses beyond them).
pub const MAX_INFLIGHT_KIB: u64 = 64 * 1024;
/// Outgoing commands queued for one connection's socket.
pub const OUT_QUEUE: usize = 4096;
/// Bytes one socket read asks for.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes the writer gathers before one socket write.
const WRITE_BATCH: usize = 256 * 1024;

/// A broker-wide connection id: accepting shard in the high 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    pub fn new(shard: u16, local: u64) -> ConnId {
        debug_assert!(local < 1 << 48);
        ConnId(((shard as u64) << 48) | local)
    }
    /// The shard that accepted the connection and owns its socket.
    pub fn shard(self) -> u16 {
        (self.0 >> 48) as u16
    }
}

/// What a connection does with the commands it decodes.
pub trait Service: 'static {
    /// Handles one request; `None` sends nothing back (oneway requests).
    fn handle(
        self: Rc<Self>,
        conn: Rc<Connection>,
        req: RemotingCommand,
    ) -> impl Future<Output = Option<RemotingCommand>> + 'static;
    /// A connection was accepted (before its first frame).
    fn on_open(&self, _conn: &Rc<Connection>) {}
    /// A response to a request this side sent on the connection.
    fn on_response(&self, conn: &Rc<Connection>, resp: RemotingCommand) {
        conn.complete_pending(resp);
    }
    /// The connection is gone (either side closed it).
    fn on_close(&self, conn: &Rc<Connection>);
}

/// State of one open connection, shared by its reader, its writer and the
/// tasks handling its requests.
pub struct Connection {
    pub id: ConnId,
    pub peer: SocketAddr,
    /// Queue to the writer task; `None` once the connection closed.
    out: RefCell<Option<flume::Sender<RemotingCommand>>>,
    last_read: Cell<Instant>,
    closing: Notify,
    closed: Cell<bool>,
    /// Requests this side sent, waiting for their response (by opaque).
    pending:
        RefCell<std::collections::HashMap<i32, Rc<ringmq_engine::notify::Slot<RemotingCommand>>>>,
    next_opaque: Cell<i32>,
}

impl Connection {
    /// Queues `cmd` for the socket. Returns false when the connection is
    /// closed (the command is dropped: its peer is gone).
    pub async fn send(&self, cmd: RemotingCommand) -> bool {
        let tx = self.out.borrow().clone();
        match tx {
            Some(tx) => tx.send_async(cmd).await.is_ok(),
            None => false,
        }
    }

    /// Queues `cmd` without waiting; false if the queue is full or closed
    /// (for notifications, which are best effort as in Apache).
    pub fn try_send(&self, cmd: RemotingCommand) -> bool {
        match self.out.borrow().as_ref() {
            Some(tx) => tx.try_send(cmd).is_ok(),
            None => false,
        }
    }

    /// Sends a request to the peer and waits up to `timeout` for its answer.
    pub async fn invoke(
        &self,
        mut req: RemotingCommand,
        timeout: Duration,
    ) -> Option<RemotingCommand> {
        let opaque = self.next_opaque.get().wrapping_add(1);
        self.next_opaque.set(opaque);
        req.opaque = opaque;
        let slot = ringmq_engine::notify::Slot::new();
        self.pending.borrow_mut().insert(opaque, slot.clone());
        if !self.send(req).await {
            self.pending.borrow_mut().remove(&opaque);
            return None;
        }
        let r = glommio::timer::timeout(timeout, async { Ok(slot.wait().await) }).await;
        self.pending.borrow_mut().remove(&opaque);
        r.ok()
    }

    fn complete_pending(&self, resp: RemotingCommand) {
        let slot = self.pending.borrow_mut().remove(&resp.opaque);
        if let Some(slot) = slot {
            slot.complete(resp);
        }
    }

    /// Time since the peer last sent anything.
    pub fn idle_for(&self) -> Duration {
        self.last_read.get().elapsed()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Asks the reader to stop; the writer ends when its queue drains.
    pub fn close(&self) {
        self.closing.notify();
    }
}

/// Starts serving a connected stream: returns the connection at once; a
/// background task reads it until the peer closes it, it is closed by
/// [`Connection::close`], or it sends something that is not a frame.
pub fn serve_connection<S: Service>(
    svc: Rc<S>,
    stream: TcpStream,
    id: ConnId,
) -> std::io::Result<Rc<Connection>> {
    let peer = stream.peer_addr()?;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = futures_lite::io::split(stream);
    let (tx, rx) = flume::bounded::<RemotingCommand>(OUT_QUEUE);
    let conn = Rc::new(Connection {
        id,
        peer,
        out: RefCell::new(Some(tx)),
        last_read: Cell::new(Instant::now()),
        closing: Notify::default(),
        closed: Cell::new(false),
        pending: RefCell::new(Default::default()),
        next_opaque: Cell::new(0),
    });

    // Writer: gathers whatever is queued into one buffer per socket write.
    let writer = glommio::spawn_local(async move {
        let mut buf = BytesMut::with_capacity(WRITE_BATCH);
        while let Ok(cmd) = rx.recv_async().await {
            buf.clear();
            let mut next = Some(cmd);
            while let Some(cmd) = next.take() {
                if let Err(e) = encode_command(&cmd, &mut buf) {
                    tracing::warn!(%peer, error = %e, "cannot encode a response; dropped");
                }
                if buf.len() < WRITE_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if wr.write_all(&buf).await.is_err() || wr.flush().await.is_err() {
                break;
            }
        }
        let _ = wr.close().await;
    });

    svc.on_open(&conn);
    glommio::spawn_local(read_loop(svc, conn.clone(), rd, writer)).detach();
    Ok(conn)
}

async fn read_loop<S: Service>(
    svc: Rc<S>,
    conn: Rc<Connection>,
    mut rd: futures_lite::io::ReadHalf<TcpStream>,
    writer: glommio::Task<()>,
) {
    let peer = conn.peer;
    let inflight = Rc::new(Semaphore::new(MAX_INFLIGHT));
    let inflight_kib = Rc::new(Semaphore::new(MAX_INFLIGHT_KIB));
    let decoder = FrameDecoder::new();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    'read: loop {
        // Decode every whole frame already buffered.
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(cmd)) => {
                    if cmd.is_response() {
                        svc.on_response(&conn, cmd);
                        continue;
                    }
                    let permit = match inflight.acquire_static_permit(1).await {
                        Ok(p) => p,
                        Err(_) => break 'read,
                    };
                    let kib = (cmd.body.len() as u64 / 1024 + 1).min(MAX_INFLIGHT_KIB);
                    let bytes_permit = match inflight_kib.acquire_static_permit(kib).await {
                        Ok(p) => p,
                        Err(_) => break 'read,
                    };
                    let (svc, conn) = (svc.clone(), conn.clone());
                    let oneway = cmd.is_oneway();
                    glommio::spawn_local(async move {
                        let resp = svc.clone().handle(conn.clone(), cmd).await;
                        // A oneway request is never answered, whatever the handler says.
                        if let Some(resp) = resp.filter(|_| !oneway) {
                            conn.send(resp).await;
                        }
                        drop(bytes_permit);
                        drop(permit);
                    })
                    .detach();
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::info!(%peer, error = %e, "closing connection: bad frame");
                    break 'read;
                }
            }
        }
        let len = buf.len();
        buf.resize(len + READ_CHUNK, 0);
        let read =
            futures_lite::future::or(async { Some(rd.read(&mut buf[len..]).await) }, async {
                conn.closing.wait().await;
                None
            })
            .await;
        match read {
            Some(Ok(n)) if n > 0 => {
                buf.truncate(len + n);
                conn.last_read.set(Instant::now());
            }
            _ => break,
        }
    }
    conn.closed.set(true);
    // Dropping the sender ends the writer once queued responses are out;
    // requests still running find the connection closed and drop theirs.
    conn.out.borrow_mut().take();
    svc.on_close(&conn);
    conn.pending.borrow_mut().clear();
    writer.await;
}

/// The answer to a request code nobody handles (reference §1.9).
pub fn not_supported(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(
        req,
        ResponseCode::RequestCodeNotSupported,
        Some(format!(" request type {} not supported", req.code)),
    )
}

/// A response with a code and remark.
pub fn reply(
    req: &RemotingCommand,
    code: ResponseCode,
    remark: impl Into<String>,
) -> RemotingCommand {
    RemotingCommand::response_to(req, code, Some(remark.into()))
}

/// Whether the request was sent oneway (no response expected).
pub fn is_oneway(req: &RemotingCommand) -> bool {
    req.is_oneway()
}
