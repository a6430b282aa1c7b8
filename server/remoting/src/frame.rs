//! Framing (reference §1.2): turning a TCP byte stream into commands and
//! back.
//!
//! ```text
//! total_length:u32 | header_length_word:u32 | header | body
//! ```
//!
//! `total_length` counts everything after itself. The header-length word
//! carries the serialize type in its high byte and the header length in the
//! low 24 bits. All lengths are validated as soon as the bytes that hold
//! them have arrived, so a hostile length is refused before the decoder
//! waits for (or anything allocates) that many bytes.
//!
//! After any [`CodecError`] the stream position is unknown; the connection
//! must be closed, which is also what Java peers do.

use bytes::{Buf, BufMut, BytesMut};

use crate::error::CodecError;
use crate::header::{RemotingCommand, SerializeType};
use crate::json_header::{decode_json_header, encode_json_header};
use crate::rocketmq_header::{decode_rocketmq_header, encode_rocketmq_header};

/// Largest accepted frame, **including** the 4-byte length prefix
/// (Java `com.rocketmq.remoting.frameMaxLength`, 16 MiB).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The header length has 24 bits.
pub const MAX_HEADER_BYTES: usize = 0x00FF_FFFF;

/// Bytes before the header: the length prefix and the header-length word.
pub const FRAME_PREFIX_BYTES: usize = 8;

/// Incremental frame decoder over a read buffer.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self {
            max_frame_bytes: MAX_FRAME_BYTES,
        }
    }
}

impl FrameDecoder {
    /// A decoder with the Java limit [`MAX_FRAME_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder with a different limit (including the 4-byte prefix).
    pub fn with_max_frame_bytes(max_frame_bytes: usize) -> Self {
        Self { max_frame_bytes }
    }

    /// The limit in force.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Takes one complete frame off the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold a whole frame (nothing
    /// is consumed), `Ok(Some(cmd))` after consuming exactly one frame. On a
    /// length error nothing is consumed; on a header error the frame has been
    /// consumed. The body shares `buf`'s allocation (no copy).
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<RemotingCommand>, CodecError> {
        let Some(total) = read_u32(buf, 0) else {
            return Ok(None);
        };
        let total = total as usize;
        let frame_size = total as u64 + 4;
        if frame_size > self.max_frame_bytes as u64 {
            return Err(CodecError::FrameTooLarge {
                size: frame_size,
                limit: self.max_frame_bytes,
            });
        }
        // A negative Java int reads as > 2^31 here and was refused above
        // unless the limit is absurd; the word must at least fit.
        if total < 4 {
            return Err(CodecError::InvalidFrameLength(total as i64));
        }
        let Some(word) = read_u32(buf, 4) else {
            return Ok(None);
        };
        let (serialize_type, header_length) = split_header_word(word, total - 4)?;
        if buf.len() < 4 + total {
            return Ok(None);
        }

        let mut frame = buf.split_to(4 + total);
        frame.advance(FRAME_PREFIX_BYTES);
        let body = frame.split_off(header_length).freeze();
        let mut cmd = match serialize_type {
            SerializeType::Json => decode_json_header(&frame)?,
            SerializeType::RocketMq => decode_rocketmq_header(&frame)?,
        };
        cmd.body = body;
        Ok(Some(cmd))
    }
}

/// Decodes the header-length word, checking the type byte and that the
/// header fits the `available` bytes after the word.
pub fn split_header_word(
    word: u32,
    available: usize,
) -> Result<(SerializeType, usize), CodecError> {
    let type_byte = (word >> 24) as u8;
    let serialize_type =
        SerializeType::from_byte(type_byte).ok_or(CodecError::UnknownSerializeType(type_byte))?;
    let header_length = (word & MAX_HEADER_BYTES as u32) as usize;
    if header_length > available {
        return Err(CodecError::HeaderLengthOutOfRange {
            header_length,
            available,
        });
    }
    Ok((serialize_type, header_length))
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    let mut word = [0u8; 4];
    word.copy_from_slice(bytes);
    Some(u32::from_be_bytes(word))
}

/// Decodes one frame with the default limit; see [`FrameDecoder::decode`].
pub fn decode_frame(buf: &mut BytesMut) -> Result<Option<RemotingCommand>, CodecError> {
    FrameDecoder::default().decode(buf)
}

/// Appends `cmd` as one frame with its header in `serialize_type` (which may
/// differ from `cmd.serialize_type`, e.g. to imitate a Java server answering
/// in its default type). On error nothing is appended.
pub fn encode_frame(
    cmd: &RemotingCommand,
    serialize_type: SerializeType,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    encode_frame_header(cmd, serialize_type, out)?;
    out.put_slice(&cmd.body);
    Ok(())
}

/// Appends `cmd` as one frame in its own `serialize_type`.
pub fn encode_command(cmd: &RemotingCommand, out: &mut BytesMut) -> Result<(), CodecError> {
    encode_frame(cmd, cmd.serialize_type, out)
}

/// Appends everything of the frame except the body: the lengths (which do
/// account for `cmd.body`) and the header. Lets a writer send a large body
/// straight from its own buffer (vectored write, file region) without
/// copying it into `out`. On error nothing is appended.
pub fn encode_frame_header(
    cmd: &RemotingCommand,
    serialize_type: SerializeType,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    let start = out.len();
    out.put_u64(0); // both length words, patched below
    let encoded = match serialize_type {
        SerializeType::Json => {
            encode_json_header(cmd, out);
            Ok(())
        }
        SerializeType::RocketMq => encode_rocketmq_header(cmd, out),
    };
    if let Err(e) = encoded {
        out.truncate(start);
        return Err(e);
    }
    let header_length = out.len() - start - FRAME_PREFIX_BYTES;
    let frame_size = FRAME_PREFIX_BYTES as u64 + header_length as u64 + cmd.body.len() as u64;
    if header_length > MAX_HEADER_BYTES {
        out.truncate(start);
        return Err(CodecError::Unencodable(format!(
            "header of {header_length} bytes exceeds the 24-bit length field"
        )));
    }
    if frame_size > MAX_FRAME_BYTES as u64 {
        out.truncate(start);
        return Err(CodecError::FrameTooLarge {
            size: frame_size,
            limit: MAX_FRAME_BYTES,
        });
    }
    let total = (frame_size - 4) as u32;
    let word = (u32::from(serialize_type.to_byte()) << 24) | header_length as u32;
    out[start..start + 4].copy_from_slice(&total.to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::RequestCode;

    #[test]
    fn round_trip_both_types() {
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            let mut cmd = RemotingCommand::new_request(RequestCode::GetRouteinfoByTopic, 1);
            cmd.ext_fields_mut().insert("topic", "TopicTest");
            cmd.serialize_type = ty;
            let cmd = cmd.with_body(&b"xyz"[..]);
            let mut buf = BytesMut::new();
            encode_command(&cmd, &mut buf).unwrap();
            buf.put_slice(&[0, 0]); // start of the next frame
            let back = decode_frame(&mut buf).unwrap().unwrap();
            assert_eq!(back, cmd);
            assert_eq!(&buf[..], &[0, 0]);
            assert_eq!(decode_frame(&mut buf), Ok(None));
        }
    }

    #[test]
    fn reference_frame_prefix() {
        let mut cmd = RemotingCommand::new_request(RequestCode::GetRouteinfoByTopic, 1);
        cmd.ext_fields_mut().insert("topic", "TopicTest");
        let mut buf = BytesMut::new();
        encode_frame(&cmd, SerializeType::Json, &mut buf).unwrap();
        assert_eq!(&buf[..9], &[0, 0, 0, 0x87, 0, 0, 0, 0x83, b'{']);
        buf.clear();
        encode_frame(&cmd, SerializeType::RocketMq, &mut buf).unwrap();
        assert_eq!(&buf[..8], &[0, 0, 0, 0x2d, 1, 0, 0, 0x29]);
    }

    #[test]
    fn early_rejections() {
        // Oversized: refused from the 4 length bytes alone.
        let mut buf = BytesMut::from(&[0x01u8, 0, 0, 0][..]);
        assert!(matches!(
            decode_frame(&mut buf),
            Err(CodecError::FrameTooLarge { .. })
        ));
        let mut buf = BytesMut::from(&[0xFFu8, 0xFF, 0xFF, 0xFF][..]);
        assert!(matches!(
            decode_frame(&mut buf),
            Err(CodecError::FrameTooLarge { .. })
        ));
        // Header longer than the frame: refused from the 8 prefix bytes.
        let mut buf = BytesMut::from(&[0u8, 0, 0, 10, 0, 0, 0, 7][..]);
        assert!(matches!(
            decode_frame(&mut buf),
            Err(CodecError::HeaderLengthOutOfRange {
                header_length: 7,
                available: 6
            })
        ));
        let mut buf = BytesMut::from(&[0u8, 0, 0, 10, 2, 0, 0, 1][..]);
        assert_eq!(
            decode_frame(&mut buf),
            Err(CodecError::UnknownSerializeType(2))
        );
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3, 0, 0, 0][..]);
        assert_eq!(
            decode_frame(&mut buf),
            Err(CodecError::InvalidFrameLength(3))
        );
        // Exactly at the limit is fine (waits for more bytes).
        let ok = (MAX_FRAME_BYTES as u32 - 4).to_be_bytes();
        let mut buf = BytesMut::from(&ok[..]);
        assert_eq!(decode_frame(&mut buf), Ok(None));
        let over = (MAX_FRAME_BYTES as u32 - 3).to_be_bytes();
        let mut buf = BytesMut::from(&over[..]);
        assert!(decode_frame(&mut buf).is_err());
    }

    #[test]
    fn encoder_refuses_oversized_body() {
        let cmd = RemotingCommand::default().with_body(vec![0u8; MAX_FRAME_BYTES]);
        let mut buf = BytesMut::from(&b"keep"[..]);
        assert!(matches!(
            encode_command(&cmd, &mut buf),
            Err(CodecError::FrameTooLarge { .. })
        ));
        assert_eq!(&buf[..], b"keep");
    }
}
