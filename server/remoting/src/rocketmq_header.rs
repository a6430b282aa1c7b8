//! ROCKETMQ binary command header (serialize type 1, reference §1.5).
//!
//! Layout, all big-endian:
//!
//! ```text
//! code:i16 language:u8 version:i16 opaque:i32 flag:i32
//! remark_len:i32 remark[remark_len]
//! ext_len:i32 { key_len:i16 key val_len:i32 val }*  (exactly ext_len bytes)
//! ```
//!
//! A zero-length string means Java `null`: a zero `remark_len` is no remark,
//! a zero `ext_len` (or a map of only null entries) is no extFields, and a
//! map entry whose key or value is
//! empty carries a null and is dropped. Duplicate keys happen in real traffic
//! (Java writes FastCodesHeader fields and then the extFields map, which may
//! hold the same keys); the last value wins. Bytes after the map area but
//! inside the header are ignored, as Java's decoder never looks at them.
//!
//! Every length is checked against the bytes that are actually there before
//! anything is read or allocated.

use bytes::{BufMut, BytesMut};

use crate::code::LanguageCode;
use crate::error::CodecError;
use crate::ext_fields::ExtFields;
use crate::header::{RemotingCommand, SerializeType};

/// Size of the fixed part (code .. remark_len) plus the ext_len word.
pub const FIXED_HEADER_BYTES: usize = 2 + 1 + 2 + 4 + 4 + 4 + 4;

/// Bounds-checked big-endian reader over untrusted bytes.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        if n > self.data.len() {
            return Err(CodecError::TruncatedHeader(what));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn i16(&mut self, what: &'static str) -> Result<i16, CodecError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// Reads a length word that must be non-negative.
    fn len_i32(&mut self, what: &'static str) -> Result<usize, CodecError> {
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| CodecError::NegativeLength {
            field: what,
            length: n as i64,
        })
    }

    fn len_i16(&mut self, what: &'static str) -> Result<usize, CodecError> {
        let n = self.i16(what)?;
        usize::try_from(n).map_err(|_| CodecError::NegativeLength {
            field: what,
            length: n as i64,
        })
    }

    /// A string of `n` bytes; `None` for length 0 (Java null).
    fn string(&mut self, n: usize, what: &'static str) -> Result<Option<String>, CodecError> {
        let raw = self.take(n, what)?;
        if raw.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(raw)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| CodecError::InvalidUtf8(what))
    }
}

/// Decodes a ROCKETMQ header. The returned command has an empty body and
/// `serialize_type == RocketMq`.
pub fn decode_rocketmq_header(header: &[u8]) -> Result<RemotingCommand, CodecError> {
    let mut r = Reader { data: header };
    // Java writes `(short) code`; sign extension restores every code that
    // fits in 16 bits.
    let code = r.i16("code")? as i32;
    let language = LanguageCode::from_byte(r.u8("language")?);
    let version = r.i16("version")? as i32;
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.len_i32("remark length")?;
    let remark = r.string(remark_len, "remark")?;
    let ext_len = r.len_i32("extFields length")?;
    let ext_area = r.take(ext_len, "extFields")?;
    // A map whose every entry carried a null is as good as no map, and
    // treating it so keeps decode(encode(x)) == x.
    let ext_fields = Some(decode_map(ext_area)?).filter(|m| !m.is_empty());
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
        serialize_type: SerializeType::RocketMq,
        body: Default::default(),
    })
}

fn decode_map(area: &[u8]) -> Result<ExtFields, CodecError> {
    let mut r = Reader { data: area };
    let mut map = ExtFields::new();
    while !r.data.is_empty() {
        let key_len = r.len_i16("extFields key length")?;
        let key = r.string(key_len, "extFields key")?;
        let val_len = r.len_i32("extFields value length")?;
        let val = r.string(val_len, "extFields value")?;
        if let (Some(k), Some(v)) = (key, val) {
            map.insert(k, v);
        }
    }
    Ok(map)
}

/// Appends the ROCKETMQ header of `cmd` to `out` (the body is not written).
/// On error nothing is appended.
///
/// Unlike Java, which silently truncates with `(short)`, a `code` or
/// `version` outside the i16 range is refused: the receiver would otherwise
/// see a different command (the 5.x POP codes only work in JSON).
pub fn encode_rocketmq_header(cmd: &RemotingCommand, out: &mut BytesMut) -> Result<(), CodecError> {
    let code = i16::try_from(cmd.code).map_err(|_| {
        CodecError::Unencodable(format!(
            "code {} does not fit the ROCKETMQ header",
            cmd.code
        ))
    })?;
    let version = i16::try_from(cmd.version).map_err(|_| {
        CodecError::Unencodable(format!(
            "version {} does not fit the ROCKETMQ header",
            cmd.version
        ))
    })?;
    let remark = cmd.remark.as_deref().unwrap_or("");
    let remark_len = i32::try_from(remark.len())
        .map_err(|_| CodecError::Unencodable("remark too long".to_owned()))?;
    let mut ext_len: usize = 0;
    if let Some(ext) = &cmd.ext_fields {
        for (k, v) in ext.iter() {
            if k.len() > i16::MAX as usize {
                return Err(CodecError::Unencodable(format!(
                    "extFields key of {} bytes exceeds the i16 length field",
                    k.len()
                )));
            }
            ext_len = ext_len
                .saturating_add(2 + k.len() + 4)
                .saturating_add(v.len());
        }
    }
    let ext_len_i32 = i32::try_from(ext_len)
        .map_err(|_| CodecError::Unencodable("extFields too long".to_owned()))?;

    out.reserve(FIXED_HEADER_BYTES + remark.len() + ext_len);
    out.put_i16(code);
    out.put_u8(cmd.language.to_byte());
    out.put_i16(version);
    out.put_i32(cmd.opaque);
    out.put_i32(cmd.flag);
    out.put_i32(remark_len);
    out.put_slice(remark.as_bytes());
    out.put_i32(ext_len_i32);
    if let Some(ext) = &cmd.ext_fields {
        for (k, v) in ext.iter() {
            // Lengths were range-checked above.
            out.put_i16(k.len() as i16);
            out.put_slice(k.as_bytes());
            out.put_i32(v.len() as i32);
            out.put_slice(v.as_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route query example of reference §1.5 (header only).
    const EXAMPLE: [u8; 41] = [
        0x00, 0x69, 0x00, 0x01, 0x97, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x14, //
        0x00, 0x05, b't', b'o', b'p', b'i', b'c', //
        0x00, 0x00, 0x00, 0x09, b'T', b'o', b'p', b'i', b'c', b'T', b'e', b's', b't',
    ];

    #[test]
    fn reference_example() {
        let cmd = decode_rocketmq_header(&EXAMPLE).unwrap();
        assert_eq!(
            (cmd.code, cmd.version, cmd.opaque, cmd.flag),
            (105, 407, 1, 0)
        );
        assert_eq!(cmd.ext_field("topic"), Some("TopicTest"));
        let mut out = BytesMut::new();
        encode_rocketmq_header(&cmd, &mut out).unwrap();
        assert_eq!(&out[..], &EXAMPLE[..]);
    }

    #[test]
    fn duplicate_keys_last_wins_and_empty_is_null() {
        let mut h = vec![0, 1, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut map = Vec::new();
        for (k, v) in [("a", "1"), ("b", ""), ("a", "2")] {
            map.extend_from_slice(&(k.len() as i16).to_be_bytes());
            map.extend_from_slice(k.as_bytes());
            map.extend_from_slice(&(v.len() as i32).to_be_bytes());
            map.extend_from_slice(v.as_bytes());
        }
        h.extend_from_slice(&(map.len() as i32).to_be_bytes());
        h.extend_from_slice(&map);
        let cmd = decode_rocketmq_header(&h).unwrap();
        let ext = cmd.ext_fields.unwrap();
        assert_eq!(ext.len(), 1);
        assert_eq!(ext.get("a"), Some("2"));
    }

    #[test]
    fn refuses_wide_code() {
        let cmd = RemotingCommand {
            code: 200050,
            ..Default::default()
        };
        let mut out = BytesMut::new();
        assert!(encode_rocketmq_header(&cmd, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn rejects_bad_lengths() {
        let mut h = EXAMPLE.to_vec();
        h[20] = 0x15; // ext_len one past the end
        assert_eq!(
            decode_rocketmq_header(&h),
            Err(CodecError::TruncatedHeader("extFields"))
        );
        let mut h = EXAMPLE.to_vec();
        h[13] = 0x80; // negative remark length
        assert!(matches!(
            decode_rocketmq_header(&h),
            Err(CodecError::NegativeLength { .. })
        ));
        for n in 0..EXAMPLE.len() {
            assert!(decode_rocketmq_header(&EXAMPLE[..n]).is_err());
        }
    }
}
