//! Messages on the wire (reference §5): everything a broker or client needs
//! to read and write the message bytes carried in remoting bodies and
//! headers, without the storage engine.
//!
//! * [`property`]: the property names of Java's `MessageConst` (4.9.7, plus
//!   the 5.x timer, POP and bookkeeping names).
//! * [`properties`](MessageProperties): the `name\u{1}value\u{2}...` string
//!   that carries a message's properties — zero-copy lookup
//!   ([`find_property`]), an ordered owned list ([`MessageProperties`]) that
//!   re-encodes byte for byte like Java's `messageProperties2String`, and the
//!   batch-properties join the broker applies to every stored batch record.
//! * [`batch`](BatchItem): the SEND_BATCH_MESSAGE body (`encodeMessages`).
//! * [`stored`](StoredMessage): the commit-log record layout that PULL,
//!   QUERY_MESSAGE and VIEW_MESSAGE_BY_ID bodies and the check-back body are
//!   made of — a bounds-checked iterator over concatenated records and an
//!   encoder.
//! * [`OffsetMsgId`]: the offset message id (store host + commit-log
//!   offset as 32 or 56 hex characters).
//! * [`MessageSysFlag`], [`PullSysFlag`]: the flag bits.
//!
//! Every decoder here works on untrusted bytes: each length is checked
//! against the bytes actually present before it is used, nothing is
//! allocated from a length read off the wire, and errors say which field at
//! which offset was wrong. Nothing panics.

mod batch;
mod msg_id;
mod properties;
pub mod property;
mod stored;
mod sys_flag;

pub use batch::{
    decode_batch, encode_batch, iter_batch, BatchItem, BatchIter, BATCH_ITEM_FIXED_BYTES,
};
pub use msg_id::{OffsetMsgId, OFFSET_MSG_ID_V4_LEN, OFFSET_MSG_ID_V6_LEN};
pub use properties::{
    encode_properties, find_property, iter_properties, join_properties, joined_properties_len,
    MessageProperties, PropertiesIter, MAX_PROPERTIES_BYTES, NAME_VALUE_SEPARATOR,
    PROPERTY_SEPARATOR,
};
pub use stored::{
    iter_stored_messages, StoredMessage, StoredMessageIter, BLANK_MAGIC_CODE, MAGIC_CODE_V1,
    MAGIC_CODE_V2,
};
pub use sys_flag::{CompressionType, MessageSysFlag, PullSysFlag, TransactionType};

use thiserror::Error;

use crate::error::HeaderError;

/// Message bytes (batch body, stored records, properties, message id) that
/// cannot be decoded or encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// A field needs more bytes than are left.
    #[error("truncated {field} at byte {offset}: needs {needed} bytes, {available} left")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A length field holds a negative value.
    #[error("negative length {length} for {field} at byte {offset}")]
    NegativeLength {
        field: &'static str,
        offset: usize,
        length: i64,
    },
    /// A record's declared total size disagrees with the sizes of its fields.
    #[error("record at byte {offset} declares {declared} bytes but its fields take {actual}")]
    SizeMismatch {
        offset: usize,
        declared: i64,
        actual: usize,
    },
    /// A stored record's magic code is neither v1 nor v2.
    #[error("unknown magic code {magic:#010x} in record at byte {offset}")]
    UnknownMagic { offset: usize, magic: u32 },
    /// A host port outside 0..=65535.
    #[error("invalid port {port} in {field} at byte {offset}")]
    InvalidPort {
        field: &'static str,
        offset: usize,
        port: i32,
    },
    /// A value too long for its length field (or for a Java limit).
    #[error("{field} of {length} bytes exceeds the limit of {limit} bytes")]
    TooLong {
        field: &'static str,
        length: usize,
        limit: usize,
    },
    /// A string that is not an offset message id.
    #[error("invalid offset message id {id:?}: {reason}")]
    InvalidMessageId { id: String, reason: &'static str },
}

impl From<MessageError> for HeaderError {
    fn from(e: MessageError) -> Self {
        HeaderError::InvalidBody(e.to_string())
    }
}

/// Big-endian reader over a slice that reports absolute offsets (`base` is
/// the slice's position in the whole body) and never reads past the end.
#[derive(Debug, Clone)]
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], MessageError> {
        if n > self.remaining() {
            return Err(MessageError::Truncated {
                field,
                offset: self.offset(),
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], MessageError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn i8(&mut self, field: &'static str) -> Result<i8, MessageError> {
        self.array::<1>(field).map(i8::from_be_bytes)
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, MessageError> {
        self.array::<2>(field).map(i16::from_be_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, MessageError> {
        self.array::<4>(field).map(i32::from_be_bytes)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, MessageError> {
        self.array::<8>(field).map(i64::from_be_bytes)
    }

    /// Bytes whose length was just read as `length` at `length_offset`.
    fn sized(
        &mut self,
        length: i64,
        length_offset: usize,
        field: &'static str,
    ) -> Result<&'a [u8], MessageError> {
        let n = usize::try_from(length).map_err(|_| MessageError::NegativeLength {
            field,
            offset: length_offset,
            length,
        })?;
        self.take(n, field)
    }
}
