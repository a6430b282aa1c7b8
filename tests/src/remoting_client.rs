//! A small blocking remoting client over `std::net::TcpStream` for
//! protocol-level tests, built on `ringmq-remoting`'s frame codec.
//!
//! One connection carries requests in both directions (reference §1.1):
//! while waiting for a response the client keeps every request the peer
//! sends (e.g. NOTIFY_CONSUMER_IDS_CHANGED) in [`RemotingClient::requests`].
//! Every read has a deadline; nothing here can block forever.
//!
//! Request builders live in [`crate::requests`], stored-record decoding in
//! [`crate::records`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ringmq_remoting::{encode_command, CodecError, FrameDecoder, RemotingCommand, SerializeType};

/// Default bound of one request/response exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound of a TCP connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an exchange failed.
#[derive(Debug)]
pub enum ClientError {
    /// Socket error (including a reset by the peer).
    Io(io::Error),
    /// Nothing (or not the awaited frame) arrived before the deadline.
    Timeout,
    /// The peer closed the connection (EOF).
    Closed,
    /// The peer sent bytes that are not a valid frame.
    Codec(CodecError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "i/o error: {e}"),
            ClientError::Timeout => write!(f, "timed out"),
            ClientError::Closed => write!(f, "connection closed by peer"),
            ClientError::Codec(e) => write!(f, "undecodable frame from peer: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout,
            _ => ClientError::Io(e),
        }
    }
}

impl From<CodecError> for ClientError {
    fn from(e: CodecError) -> Self {
        ClientError::Codec(e)
    }
}

/// Result of a client operation.
pub type Result<T> = std::result::Result<T, ClientError>;

/// One blocking connection to a name server or broker.
pub struct RemotingClient {
    stream: TcpStream,
    peer: SocketAddr,
    rbuf: BytesMut,
    decoder: FrameDecoder,
    next_opaque: i32,
    serialize_type: SerializeType,
    /// Requests the peer sent on this connection (broker → client commands
    /// such as NOTIFY_CONSUMER_IDS_CHANGED), in arrival order, not yet taken
    /// by [`wait_request`](Self::wait_request).
    pub requests: Vec<RemotingCommand>,
    /// Responses that arrived for an opaque nobody was waiting for.
    pub stray_responses: Vec<RemotingCommand>,
}

impl RemotingClient {
    /// Connects (bounded by [`CONNECT_TIMEOUT`]), with `TCP_NODELAY`.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Self> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(DEFAULT_TIMEOUT))?;
        Ok(Self {
            stream,
            peer: addr,
            rbuf: BytesMut::with_capacity(64 * 1024),
            decoder: FrameDecoder::new(),
            next_opaque: 1,
            serialize_type: SerializeType::Json,
            requests: Vec::new(),
            stray_responses: Vec::new(),
        })
    }

    /// The address this client connected to.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// This end's address (the broker records it as the born host).
    pub fn local_addr(&self) -> SocketAddr {
        self.stream
            .local_addr()
            .expect("local addr of a connected socket")
    }

    /// Header encoding of the requests this client sends (default JSON).
    pub fn set_serialize_type(&mut self, t: SerializeType) {
        self.serialize_type = t;
    }

    /// A fresh opaque for the next request.
    pub fn next_opaque(&mut self) -> i32 {
        let o = self.next_opaque;
        self.next_opaque = self.next_opaque.wrapping_add(1).max(1);
        o
    }

    /// Sends `cmd` as a request with a fresh opaque and waits (at most
    /// `timeout`) for the response carrying that opaque. Requests from the
    /// peer that arrive meanwhile are kept in [`requests`](Self::requests).
    pub fn invoke(&mut self, cmd: RemotingCommand, timeout: Duration) -> Result<RemotingCommand> {
        let opaque = self.send_request(cmd)?;
        self.wait_response(opaque, timeout)
    }

    /// [`invoke`](Self::invoke) with [`DEFAULT_TIMEOUT`].
    pub fn call(&mut self, cmd: RemotingCommand) -> Result<RemotingCommand> {
        self.invoke(cmd, DEFAULT_TIMEOUT)
    }

    /// Sends `cmd` as a request (fresh opaque, RESPONSE/ONEWAY bits cleared)
    /// without waiting; returns the opaque to pass to
    /// [`wait_response`](Self::wait_response).
    pub fn send_request(&mut self, mut cmd: RemotingCommand) -> Result<i32> {
        cmd.opaque = self.next_opaque();
        cmd.flag = 0;
        cmd.serialize_type = self.serialize_type;
        self.write_command(&cmd)?;
        Ok(cmd.opaque)
    }

    /// Sends `cmd` as a oneway request (ONEWAY flag, fresh opaque).
    pub fn oneway(&mut self, mut cmd: RemotingCommand) -> Result<()> {
        cmd.opaque = self.next_opaque();
        cmd.flag = 0;
        cmd.mark_oneway();
        cmd.serialize_type = self.serialize_type;
        self.write_command(&cmd)
    }

    /// Writes `cmd` exactly as given (opaque, flag and type untouched).
    pub fn write_command(&mut self, cmd: &RemotingCommand) -> Result<()> {
        let mut out = BytesMut::with_capacity(256 + cmd.body.len());
        encode_command(cmd, &mut out)?;
        self.send_raw(&out)
    }

    /// Writes arbitrary bytes (hostile-input tests).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Waits (at most `timeout`) for the response with `opaque`. Other
    /// frames read meanwhile are kept in [`requests`](Self::requests) or
    /// [`stray_responses`](Self::stray_responses).
    pub fn wait_response(&mut self, opaque: i32, timeout: Duration) -> Result<RemotingCommand> {
        if let Some(i) = self.stray_responses.iter().position(|c| c.opaque == opaque) {
            return Ok(self.stray_responses.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let cmd = self.read_command_until(deadline)?;
            if cmd.is_response() {
                if cmd.opaque == opaque {
                    return Ok(cmd);
                }
                self.stray_responses.push(cmd);
            } else {
                self.requests.push(cmd);
            }
        }
    }

    /// Waits (at most `timeout`) for a request from the peer with `code`,
    /// looking first at the ones already collected. Returns it (removed from
    /// [`requests`](Self::requests)).
    pub fn wait_request(&mut self, code: i32, timeout: Duration) -> Result<RemotingCommand> {
        if let Some(i) = self.requests.iter().position(|c| c.code == code) {
            return Ok(self.requests.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let cmd = self.read_command_until(deadline)?;
            if cmd.is_response() {
                self.stray_responses.push(cmd);
            } else if cmd.code == code {
                return Ok(cmd);
            } else {
                self.requests.push(cmd);
            }
        }
    }

    /// The next frame of any kind, waiting at most `timeout`.
    pub fn read_command(&mut self, timeout: Duration) -> Result<RemotingCommand> {
        self.read_command_until(Instant::now() + timeout)
    }

    /// Waits (at most `timeout`) for the peer to close the connection (EOF
    /// or reset). Frames that arrive first are kept as usual. `Ok(())` once
    /// closed, `Err(Timeout)` if it stays open.
    pub fn expect_closed(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_command_until(deadline) {
                Ok(cmd) if cmd.is_response() => self.stray_responses.push(cmd),
                Ok(cmd) => self.requests.push(cmd),
                Err(ClientError::Closed) => return Ok(()),
                Err(ClientError::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Ok(())
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the write half (the peer sees EOF).
    pub fn shutdown_write(&mut self) -> Result<()> {
        self.stream.shutdown(Shutdown::Write)?;
        Ok(())
    }

    fn read_command_until(&mut self, deadline: Instant) -> Result<RemotingCommand> {
        loop {
            if let Some(cmd) = self.decoder.decode(&mut self.rbuf)? {
                return Ok(cmd);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout);
            }
            // A zero timeout would mean "block forever".
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(wait))?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.rbuf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// A numeric extFields value of a response; panics naming the command, the
/// key and the whole response if it is missing or not a number.
pub fn ext_i64(cmd: &RemotingCommand, key: &str) -> i64 {
    match cmd.ext_field(key).map(str::parse::<i64>) {
        Some(Ok(v)) => v,
        _ => panic!("response has no numeric extField {key:?}: {cmd:?}"),
    }
}

/// A string extFields value of a response; panics if it is missing.
pub fn ext_str<'a>(cmd: &'a RemotingCommand, key: &str) -> &'a str {
    cmd.ext_field(key)
        .unwrap_or_else(|| panic!("response has no extField {key:?}: {cmd:?}"))
}

/// How long a test waits for one answer ([`call`]).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// [`RemotingClient::invoke`] within [`CALL_TIMEOUT`], for tests: a failure
/// (timeout, closed connection) panics with the request code.
pub fn call(c: &mut RemotingClient, cmd: RemotingCommand) -> RemotingCommand {
    let code = cmd.code;
    c.invoke(cmd, CALL_TIMEOUT)
        .unwrap_or_else(|e| panic!("request code {code}: {e}"))
}
