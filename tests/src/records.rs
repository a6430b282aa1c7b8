//! Byte formats the protocol tests build or check, written from the
//! reference independently of the server's code:
//!
//! * stored message records, the bodies of PULL_MESSAGE, QUERY_MESSAGE and
//!   VIEW_MESSAGE_BY_ID (remoting-protocol §5.3, storage-format §3.1);
//! * the properties string (§5.1);
//! * offset message ids (§5.5);
//! * the SEND_BATCH_MESSAGE body (§5.7);
//! * Java `String.hashCode` (§5.6), the tag code of TAG filtering.
//!
//! Decoding is bounds-checked: a malformed body gives an error naming the
//! record and field, never a panic.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// MAGICCODE of a v1 record (`0xDAA320A7`).
pub const MAGIC_V1: u32 = 0xDAA3_20A7;
/// MAGICCODE of a v2 record (5.x, 2-byte topic length).
pub const MAGIC_V2: u32 = 0xDAA3_20AB;
/// SYSFLAG bit: BORNHOST is IPv6 (§5.4).
pub const SYSFLAG_BORNHOST_V6: i32 = 0x10;
/// SYSFLAG bit: STOREHOST is IPv6 (§5.4).
pub const SYSFLAG_STOREHOST_V6: i32 = 0x20;
/// `NAME_VALUE_SEPARATOR` (§5.1).
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// `PROPERTY_SEPARATOR` (§5.1).
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// A malformed record or id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// One stored message record as pulled / queried / viewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// TOTALSIZE.
    pub total_size: i32,
    /// MAGICCODE.
    pub magic: u32,
    /// BODYCRC as stored.
    pub body_crc: i32,
    /// QUEUEID.
    pub queue_id: i32,
    /// FLAG (user flag).
    pub flag: i32,
    /// QUEUEOFFSET (consume-queue offset).
    pub queue_offset: i64,
    /// PHYSICALOFFSET (commit log offset of the record).
    pub physical_offset: i64,
    /// SYSFLAG.
    pub sys_flag: i32,
    /// BORNTIMESTAMP (ms).
    pub born_timestamp: i64,
    /// BORNHOST.
    pub born_host: SocketAddr,
    /// STORETIMESTAMP (ms).
    pub store_timestamp: i64,
    /// STOREHOST.
    pub store_host: SocketAddr,
    /// RECONSUMETIMES.
    pub reconsume_times: i32,
    /// PREPARED TRANSACTION OFFSET.
    pub prepared_transaction_offset: i64,
    /// BODY.
    pub body: Vec<u8>,
    /// TOPIC.
    pub topic: String,
    /// PROPERTIES, as stored.
    pub properties_raw: String,
    /// PROPERTIES parsed with Java's rules (last occurrence wins).
    pub properties: BTreeMap<String, String>,
}

impl StoredMessage {
    /// Whether BODYCRC equals `crc32(body) & 0x7FFFFFFF` (§5.6).
    pub fn body_crc_ok(&self) -> bool {
        self.body_crc == body_crc(&self.body)
    }

    /// One property.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// The offset message id of this record (§5.5).
    pub fn offset_msg_id(&self) -> String {
        encode_offset_msg_id(self.store_host, self.physical_offset)
    }
}

/// `crc32(bytes) & 0x7FFFFFFF`, Java's `UtilAll.crc32` (§5.6).
pub fn body_crc(bytes: &[u8]) -> i32 {
    (crc32fast::hash(bytes) & 0x7FFF_FFFF) as i32
}

/// Bounds-checked big-endian reader.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    record: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(FormatError(format!(
                "record {}: field {field} needs {n} bytes at {}, only {} left",
                self.record,
                self.pos,
                self.buf.len().saturating_sub(self.pos)
            ))),
        }
    }

    fn i8(&mut self, field: &str) -> Result<i8, FormatError> {
        Ok(self.take(1, field)?[0] as i8)
    }

    fn i16(&mut self, field: &str) -> Result<i16, FormatError> {
        let b = self.take(2, field)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, field: &str) -> Result<i32, FormatError> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, field: &str) -> Result<i64, FormatError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn host(&mut self, v6: bool, field: &str) -> Result<SocketAddr, FormatError> {
        let ip = if v6 {
            let b = self.take(16, field)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            let b = self.take(4, field)?;
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        let port = self.i32(field)?;
        let port = u16::try_from(port).map_err(|_| {
            FormatError(format!(
                "record {}: {field} port {port} out of range",
                self.record
            ))
        })?;
        Ok(SocketAddr::new(ip, port))
    }

    fn utf8(&mut self, n: usize, field: &str) -> Result<String, FormatError> {
        let b = self.take(n, field)?;
        String::from_utf8(b.to_vec())
            .map_err(|e| FormatError(format!("record {}: {field} not UTF-8: {e}", self.record)))
    }
}

/// Decodes a body made of back-to-back stored records (§5.3). Every record
/// must be complete and its TOTALSIZE must match its fields.
pub fn decode_records(buf: &[u8]) -> Result<Vec<StoredMessage>, FormatError> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < buf.len() {
        let record = out.len();
        let mut c = Cursor {
            buf,
            pos: start,
            record,
        };
        let total_size = c.i32("TOTALSIZE")?;
        let end = usize::try_from(total_size)
            .ok()
            .filter(|&n| n >= 4)
            .and_then(|n| start.checked_add(n))
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| {
                FormatError(format!(
                    "record {record} at {start}: TOTALSIZE {total_size} does not fit the {} bytes left",
                    buf.len() - start
                ))
            })?;
        // Only the record's own bytes from here on.
        let mut c = Cursor {
            buf: &buf[..end],
            pos: c.pos,
            record,
        };
        let magic = c.i32("MAGICCODE")? as u32;
        if magic != MAGIC_V1 && magic != MAGIC_V2 {
            return Err(FormatError(format!(
                "record {record}: MAGICCODE {magic:#010x} is neither v1 nor v2"
            )));
        }
        let body_crc = c.i32("BODYCRC")?;
        let queue_id = c.i32("QUEUEID")?;
        let flag = c.i32("FLAG")?;
        let queue_offset = c.i64("QUEUEOFFSET")?;
        let physical_offset = c.i64("PHYSICALOFFSET")?;
        let sys_flag = c.i32("SYSFLAG")?;
        let born_timestamp = c.i64("BORNTIMESTAMP")?;
        let born_host = c.host(sys_flag & SYSFLAG_BORNHOST_V6 != 0, "BORNHOST")?;
        let store_timestamp = c.i64("STORETIMESTAMP")?;
        let store_host = c.host(sys_flag & SYSFLAG_STOREHOST_V6 != 0, "STOREHOST")?;
        let reconsume_times = c.i32("RECONSUMETIMES")?;
        let prepared_transaction_offset = c.i64("PREPARED TRANSACTION OFFSET")?;
        let body_len = c.i32("BODY length")?;
        let body_len = usize::try_from(body_len).map_err(|_| {
            FormatError(format!("record {record}: negative body length {body_len}"))
        })?;
        let body = c.take(body_len, "BODY")?.to_vec();
        let topic_len = if magic == MAGIC_V2 {
            c.i16("TOPIC length")? as i64
        } else {
            c.i8("TOPIC length")? as i64
        };
        let topic_len = usize::try_from(topic_len).map_err(|_| {
            FormatError(format!(
                "record {record}: negative topic length {topic_len}"
            ))
        })?;
        let topic = c.utf8(topic_len, "TOPIC")?;
        let props_len = c.i16("PROPERTIES length")?;
        let props_len = usize::try_from(props_len).map_err(|_| {
            FormatError(format!(
                "record {record}: negative properties length {props_len}"
            ))
        })?;
        let properties_raw = c.utf8(props_len, "PROPERTIES")?;
        if c.pos != end {
            return Err(FormatError(format!(
                "record {record}: TOTALSIZE {total_size} but the fields end {} bytes {}",
                c.pos.abs_diff(end),
                if c.pos < end { "early" } else { "late" }
            )));
        }
        out.push(StoredMessage {
            total_size,
            magic,
            body_crc,
            queue_id,
            flag,
            queue_offset,
            physical_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body,
            topic,
            properties: parse_properties(&properties_raw),
            properties_raw,
        });
        start = end;
    }
    Ok(out)
}

/// Encodes properties as `name\u{1}value` entries joined by `\u{2}` (§5.1).
pub fn properties_string<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        if !s.is_empty() {
            s.push(PROPERTY_SEPARATOR);
        }
        s.push_str(k.as_ref());
        s.push(NAME_VALUE_SEPARATOR);
        s.push_str(v.as_ref());
    }
    s
}

/// Parses a properties string with Java's rules (§5.1): entries need a
/// non-empty name and value; a repeated name keeps the last value.
pub fn parse_properties(s: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for entry in s.split(PROPERTY_SEPARATOR) {
        if let Some((k, v)) = entry.split_once(NAME_VALUE_SEPARATOR) {
            if !k.is_empty() && !v.is_empty() {
                map.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    map
}

/// A decoded offset message id (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetMsgId {
    /// Store host: the broker address clients reach.
    pub store_host: SocketAddr,
    /// Commit log offset of the record.
    pub physical_offset: i64,
}

/// Uppercase hex of store host, port (i32) and commit log offset (i64).
pub fn encode_offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    let mut bytes = Vec::with_capacity(28);
    match store_host.ip() {
        IpAddr::V4(ip) => bytes.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => bytes.extend_from_slice(&ip.octets()),
    }
    bytes.extend_from_slice(&i32::from(store_host.port()).to_be_bytes());
    bytes.extend_from_slice(&physical_offset.to_be_bytes());
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Decodes an offset message id: 32 hex chars (IPv4) or 56 (IPv6).
pub fn decode_offset_msg_id(id: &str) -> Result<OffsetMsgId, FormatError> {
    let err = |why: &str| FormatError(format!("offset msgId {id:?}: {why}"));
    if id.len() != 32 && id.len() != 56 {
        return Err(err("length is neither 32 nor 56"));
    }
    if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err("not hex"));
    }
    let bytes: Vec<u8> = (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&id[i..i + 2], 16).map_err(|_| err("not hex")))
        .collect::<Result<_, _>>()?;
    let ip_len = if id.len() == 32 { 4 } else { 16 };
    let ip = if ip_len == 4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        let mut a = [0u8; 16];
        a.copy_from_slice(&bytes[..16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    let port = i32::from_be_bytes([
        bytes[ip_len],
        bytes[ip_len + 1],
        bytes[ip_len + 2],
        bytes[ip_len + 3],
    ]);
    let port = u16::try_from(port).map_err(|_| err("port out of range"))?;
    let mut off = [0u8; 8];
    off.copy_from_slice(&bytes[ip_len + 4..ip_len + 12]);
    Ok(OffsetMsgId {
        store_host: SocketAddr::new(ip, port),
        physical_offset: i64::from_be_bytes(off),
    })
}

/// One message of a SEND_BATCH_MESSAGE body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    /// User flag.
    pub flag: i32,
    /// Body.
    pub body: Vec<u8>,
    /// The item's own properties (UNIQ_KEY, TAGS, KEYS, WAIT, ...).
    pub properties: String,
}

/// The batch body of §5.7 (`MessageDecoder.encodeMessages`): per item
/// TOTALSIZE, MAGICCODE 0, BODYCRC 0, FLAG, body (i32 length), properties
/// (i16 length). TOTALSIZE = 22 + body + properties.
pub fn encode_batch(items: &[BatchItem]) -> Vec<u8> {
    let mut out = Vec::new();
    for it in items {
        let props = it.properties.as_bytes();
        let props_len = i16::try_from(props.len()).expect("properties fit an i16 length");
        let total = 22 + it.body.len() + props.len();
        out.extend_from_slice(&(total as i32).to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes()); // MAGICCODE, ignored
        out.extend_from_slice(&0i32.to_be_bytes()); // BODYCRC, computed by the broker
        out.extend_from_slice(&it.flag.to_be_bytes());
        out.extend_from_slice(&(it.body.len() as i32).to_be_bytes());
        out.extend_from_slice(&it.body);
        out.extend_from_slice(&props_len.to_be_bytes());
        out.extend_from_slice(props);
    }
    out
}

/// Java `String.hashCode` over UTF-16 code units (§5.6): the tag code.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of storage-format §3.1 (110 bytes).
    const EXAMPLE: [&str; 7] = [
        "00 00 00 6e da a3 20 a7 68 b7 be 43 00 00 00 00",
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        "00 00 00 00 00 00 00 00 00 00 01 8b cf e5 68 00",
        "7f 00 00 01 00 00 d4 31 00 00 01 8b cf e5 68 64",
        "c0 a8 01 0a 00 00 2a 9f 00 00 00 00 00 00 00 00",
        "00 00 00 00 00 00 00 01 61 09 54 6f 70 69 63 54",
        "65 73 74 00 09 54 41 47 53 01 54 61 67 41",
    ];

    fn example() -> Vec<u8> {
        EXAMPLE
            .iter()
            .flat_map(|line| line.split_whitespace())
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn reference_record() {
        let bytes = example();
        assert_eq!(bytes.len(), 110);
        let recs = decode_records(&bytes).unwrap();
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.body, b"a");
        assert_eq!(r.topic, "TopicTest");
        assert_eq!(r.property("TAGS"), Some("TagA"));
        assert!(r.body_crc_ok());
        assert_eq!(r.born_host, "127.0.0.1:54321".parse().unwrap());
        assert_eq!(r.store_host, "192.168.1.10:10911".parse().unwrap());
        assert_eq!(r.store_timestamp, 1_700_000_000_100);
        assert_eq!(r.offset_msg_id(), "C0A8010A00002A9F0000000000000000");
        let id = decode_offset_msg_id("C0A8010A00002A9F0000000000000000").unwrap();
        assert_eq!(id.store_host, r.store_host);
        assert_eq!(id.physical_offset, 0);
        // Two back to back, and every truncation is an error, not a panic.
        let two = [bytes.clone(), bytes.clone()].concat();
        assert_eq!(decode_records(&two).unwrap().len(), 2);
        for cut in 1..bytes.len() {
            assert!(decode_records(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn properties_and_hashes() {
        let s = properties_string(&[("TAGS", "TagA"), ("KEYS", "k1 k2"), ("WAIT", "true")]);
        assert_eq!(s, "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}WAIT\u{1}true");
        let m = parse_properties("WAIT\u{1}true\u{2}a\u{1}\u{2}\u{2}WAIT\u{1}false\u{2}");
        assert_eq!(m.len(), 1);
        assert_eq!(m["WAIT"], "false");
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        assert_eq!(java_string_hash("TagB"), 2_598_920);
        assert_eq!(java_string_hash("*"), 42);
        assert_eq!(java_string_hash("TopicTest#KEY1"), -1_656_969_516);
        assert_eq!(body_crc(b"a"), 1_756_872_259);
    }

    #[test]
    fn batch_layout() {
        let b = encode_batch(&[BatchItem {
            flag: 7,
            body: b"xy".to_vec(),
            properties: "A\u{1}b".into(),
        }]);
        assert_eq!(b.len(), 22 + 2 + 3);
        assert_eq!(&b[..4], &27i32.to_be_bytes());
        assert_eq!(&b[12..16], &7i32.to_be_bytes());
    }
}
