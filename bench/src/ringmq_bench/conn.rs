//! One remoting connection driven by the thread that owns it: non-blocking
//! socket, a read buffer split into frames by the ringmq codec, a write
//! buffer that collects many requests before one `write` (pipelining).
//!
//! Requests are matched to responses by `opaque`, which the owner allocates
//! with [`Conn::next_opaque`]; several requests may be in flight. A
//! request the broker sends us (NOTIFY_CONSUMER_IDS_CHANGED and the like) is
//! answered here, so owners only ever see responses.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ringmq_remoting::{
    encode_command, FrameDecoder, RemotingCommand, RequestCode, ResponseCode, SerializeType,
};

use crate::acl::Acl;
use crate::error::{Error, Result};
use crate::limits::{CONNECT_TIMEOUT, READ_CHUNK_BYTES, WRITE_BUFFER_HIGH_WATER};

/// How a connection encodes its requests and signs them.
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// Header encoding (the Java benchmark switches its client to ROCKETMQ).
    pub serialize_type: SerializeType,
    /// ACL credentials, when `-a true`.
    pub acl: Option<Arc<Acl>>,
}

/// A connected remoting peer.
pub struct Conn {
    stream: TcpStream,
    addr: String,
    local: SocketAddr,
    config: ConnConfig,
    rbuf: BytesMut,
    /// What one `read` fills; its bytes are then appended to `rbuf`.
    scratch: Box<[u8]>,
    wbuf: BytesMut,
    decoder: FrameDecoder,
    next_opaque: i32,
}

impl Conn {
    /// Connects (blocking, bounded by [`CONNECT_TIMEOUT`]) and switches the
    /// socket to non-blocking mode with Nagle off.
    pub fn connect(addr: &str, config: ConnConfig) -> Result<Self> {
        let io_err = |op, source| Error::Io {
            op,
            addr: addr.to_owned(),
            source,
        };
        let sock_addr = addr
            .to_socket_addrs()
            .map_err(|e| io_err("resolve", e))?
            .next()
            .ok_or_else(|| io_err("resolve", io::ErrorKind::NotFound.into()))?;
        let stream = TcpStream::connect_timeout(&sock_addr, CONNECT_TIMEOUT)
            .map_err(|e| io_err("connect", e))?;
        stream
            .set_nodelay(true)
            .map_err(|e| io_err("setsockopt", e))?;
        stream
            .set_nonblocking(true)
            .map_err(|e| io_err("set non-blocking", e))?;
        let local = stream.local_addr().map_err(|e| io_err("getsockname", e))?;
        Ok(Self {
            stream,
            addr: addr.to_owned(),
            local,
            config,
            rbuf: BytesMut::with_capacity(READ_CHUNK_BYTES * 2),
            scratch: vec![0; READ_CHUNK_BYTES].into_boxed_slice(),
            wbuf: BytesMut::with_capacity(64 * 1024),
            decoder: FrameDecoder::new(),
            next_opaque: 1,
        })
    }

    /// `ip:port` of the peer, as given.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Our end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The socket, for `poll`.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// A fresh request id (never 0, wraps within the positive range).
    pub fn next_opaque(&mut self) -> i32 {
        let o = self.next_opaque;
        self.next_opaque = if o == i32::MAX { 1 } else { o + 1 };
        o
    }

    /// Encodes `cmd` into the write buffer (signing it first when ACL is on)
    /// with the connection's header type. Nothing is sent until
    /// [`flush`](Self::flush).
    pub fn queue(&mut self, mut cmd: RemotingCommand) -> Result<()> {
        cmd.serialize_type = self.config.serialize_type;
        if let Some(acl) = &self.config.acl {
            acl.sign(&mut cmd);
        }
        encode_command(&cmd, &mut self.wbuf).map_err(|source| Error::Codec {
            addr: self.addr.clone(),
            source,
        })
    }

    /// Whether unsent bytes are waiting.
    pub fn wants_write(&self) -> bool {
        !self.wbuf.is_empty()
    }

    /// Whether the write buffer is so full that the owner should stop
    /// queueing until the peer reads.
    pub fn write_backlogged(&self) -> bool {
        self.wbuf.len() >= WRITE_BUFFER_HIGH_WATER
    }

    /// Writes as much of the write buffer as the socket takes now.
    pub fn flush(&mut self) -> Result<()> {
        while !self.wbuf.is_empty() {
            match self.stream.write(&self.wbuf) {
                Ok(0) => {
                    return Err(self.io_err("write", io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => {
                    let _ = self.wbuf.split_to(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_err("write", e)),
            }
        }
        if self.wbuf.is_empty() && self.wbuf.capacity() > 4 * WRITE_BUFFER_HIGH_WATER {
            self.wbuf = BytesMut::with_capacity(64 * 1024);
        }
        Ok(())
    }

    /// Reads what the socket has now. Returns whether anything arrived; the
    /// peer closing the connection is an error.
    pub fn read_available(&mut self) -> Result<bool> {
        let mut got = false;
        loop {
            match self.stream.read(&mut self.scratch[..]) {
                Ok(0) => {
                    return Err(self.io_err("read", io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(n) => {
                    self.rbuf.extend_from_slice(&self.scratch[..n]);
                    got = true;
                    if n < self.scratch.len() {
                        return Ok(got);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_err("read", e)),
            }
        }
    }

    /// The next complete response in the read buffer. Requests from the
    /// peer are answered (REQUEST_CODE_NOT_SUPPORTED) or, if oneway,
    /// dropped.
    pub fn next_response(&mut self) -> Result<Option<RemotingCommand>> {
        loop {
            let cmd = self
                .decoder
                .decode(&mut self.rbuf)
                .map_err(|source| Error::Codec {
                    addr: self.addr.clone(),
                    source,
                })?;
            let Some(cmd) = cmd else { return Ok(None) };
            if cmd.is_response() {
                return Ok(Some(cmd));
            }
            if !cmd.is_oneway() {
                let reply = RemotingCommand::response_to(
                    &cmd,
                    ResponseCode::RequestCodeNotSupported,
                    Some(format!(
                        "ringmq-bench does not handle {}",
                        RequestCode::from_i32(cmd.code)
                    )),
                );
                self.queue(reply)?;
            }
        }
    }

    /// Sends one request and waits for its response, blocking the calling
    /// thread (set-up and shutdown only: any other response that arrives
    /// meanwhile is dropped).
    pub fn call(&mut self, mut cmd: RemotingCommand, timeout: Duration) -> Result<RemotingCommand> {
        let what = RequestCode::from_i32(cmd.code).to_string();
        let opaque = self.next_opaque();
        cmd.opaque = opaque;
        self.queue(cmd)?;
        let deadline = Instant::now() + timeout;
        loop {
            self.flush()?;
            while let Some(resp) = self.next_response()? {
                if resp.opaque == opaque {
                    return Ok(resp);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    request: what,
                    addr: self.addr.clone(),
                    millis: timeout.as_millis(),
                });
            }
            let events = libc::POLLIN | if self.wants_write() { libc::POLLOUT } else { 0 };
            let mut fds = [libc::pollfd {
                fd: self.fd(),
                events,
                revents: 0,
            }];
            poll(&mut fds, deadline - now).map_err(|e| self.io_err("poll", e))?;
            self.read_available()?;
        }
    }

    /// Sends a oneway request now (best effort, non-blocking).
    pub fn send_oneway(&mut self, mut cmd: RemotingCommand) -> Result<()> {
        cmd.opaque = self.next_opaque();
        cmd.mark_oneway();
        self.queue(cmd)?;
        self.flush()
    }

    fn io_err(&self, op: &'static str, source: io::Error) -> Error {
        Error::Io {
            op,
            addr: self.addr.clone(),
            source,
        }
    }
}

/// `poll(2)` with a timeout rounded up to whole milliseconds (so a short
/// timer does not spin). EINTR counts as a wake-up.
pub fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of the
    // given length for the duration of the call.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(r as usize)
}

/// One turn of a load loop over `conns`: waits (at most `timeout`) until one
/// can read or write, reads what arrived, and appends each complete
/// response to `out` with its connection's index. With no connection it
/// just sleeps.
pub fn poll_responses(
    conns: &mut [Conn],
    fds: &mut Vec<libc::pollfd>,
    timeout: Duration,
    out: &mut Vec<(usize, RemotingCommand)>,
) -> Result<()> {
    fds.clear();
    fds.extend(conns.iter().map(|c| libc::pollfd {
        fd: c.fd(),
        events: libc::POLLIN | if c.wants_write() { libc::POLLOUT } else { 0 },
        revents: 0,
    }));
    if fds.is_empty() {
        std::thread::sleep(timeout);
        return Ok(());
    }
    poll(fds, timeout).map_err(|e| Error::Io {
        op: "poll",
        addr: String::new(),
        source: e,
    })?;
    for (ci, fd) in fds.iter().enumerate() {
        if fd.revents == 0 {
            continue;
        }
        conns[ci].read_available()?;
        while let Some(resp) = conns[ci].next_response()? {
            out.push((ci, resp));
        }
    }
    Ok(())
}
