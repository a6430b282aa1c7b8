//! Errors of the benchmark client. Each carries what was being done and with
//! whom, so a broker problem is reported as request, expected and actual.

use std::io;

use ringmq_remoting::{CodecError, HeaderError};
use thiserror::Error;

/// An operating error: a socket, a frame, or an answer the tool cannot use.
#[derive(Debug, Error)]
pub enum Error {
    /// A socket call failed.
    #[error("{op} {addr}: {source}")]
    Io {
        op: &'static str,
        addr: String,
        #[source]
        source: io::Error,
    },
    /// The peer sent bytes that are not a remoting frame.
    #[error("undecodable frame from {addr}: {source}")]
    Codec {
        addr: String,
        #[source]
        source: CodecError,
    },
    /// A request was not answered in time.
    #[error("{request} to {addr}: no response within {millis} ms")]
    Timeout {
        request: String,
        addr: String,
        millis: u128,
    },
    /// The peer answered with a code other than the expected one.
    #[error("{request} to {addr}: expected {expected}, got {actual} (remark {remark:?})")]
    Unexpected {
        request: String,
        addr: String,
        expected: &'static str,
        actual: String,
        remark: Option<String>,
    },
    /// A response header or body that does not parse.
    #[error("{request} from {addr}: {source}")]
    Header {
        request: String,
        addr: String,
        #[source]
        source: HeaderError,
    },
    /// Bad command-line input or set-up state.
    #[error("{0}")]
    Usage(String),
}

pub type Result<T> = std::result::Result<T, Error>;
