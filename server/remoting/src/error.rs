//! Errors of the codec layers.
//!
//! [`CodecError`] covers everything that makes a frame undecodable; the Java
//! peers react to any of these by closing the connection, and so should a
//! ringmq server. [`HeaderError`] covers a well-formed frame whose extFields
//! or body do not fit the typed header a command needs; the server answers
//! those with SYSTEM_ERROR instead of closing.

use thiserror::Error;

/// A frame or command header that cannot be decoded or encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The 4-byte length prefix is negative or too small to hold the
    /// header-length word.
    #[error("invalid frame length {0}")]
    InvalidFrameLength(i64),
    /// The frame (including its 4-byte prefix) exceeds the limit.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge { size: u64, limit: usize },
    /// The header-length word announces more header than the frame holds.
    #[error("header length {header_length} exceeds the frame's {available} bytes")]
    HeaderLengthOutOfRange {
        header_length: usize,
        available: usize,
    },
    /// The high byte of the header-length word is neither 0 (JSON) nor 1
    /// (ROCKETMQ).
    #[error("unknown serialize type {0}")]
    UnknownSerializeType(u8),
    /// The JSON header is not valid JSON or has the wrong shape.
    #[error("invalid JSON header: {0}")]
    InvalidJsonHeader(String),
    /// The ROCKETMQ binary header ends before a field it announces.
    #[error("truncated ROCKETMQ header while reading {0}")]
    TruncatedHeader(&'static str),
    /// A length inside the ROCKETMQ binary header is negative.
    #[error("negative length {length} for {field} in ROCKETMQ header")]
    NegativeLength { field: &'static str, length: i64 },
    /// A string in the binary header is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// The JSON header names a language this crate does not know.
    #[error("unknown language {0:?}")]
    UnknownLanguage(String),
    /// The command cannot be represented in the requested encoding (header
    /// longer than 24 bits, key longer than an i16 length, ...).
    #[error("cannot encode command: {0}")]
    Unencodable(String),
}

/// extFields (or a JSON body) that do not fit a typed header.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// A field the Java class marks mandatory is absent.
    #[error("missing required header field `{0}`")]
    MissingField(&'static str),
    /// A field is present but does not parse as its Java type.
    #[error("header field `{field}` has invalid value {value:?} (expected {expected})")]
    InvalidField {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// A JSON body does not have the expected shape.
    #[error("invalid body: {0}")]
    InvalidBody(String),
}
