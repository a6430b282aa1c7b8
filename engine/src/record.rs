//! The stored-message record: RocketMQ's commitlog layout (MAGIC v1/v2), which
//! is also the wire format of pulled, viewed and queried messages. See
//! `shared/reference/storage-format.md` §3.
//!
//! ```text
//! 0 TOTALSIZE i32 | 4 MAGIC i32 | 8 BODYCRC i32 | 12 QUEUEID i32 | 16 FLAG i32
//! 20 QUEUEOFFSET i64 | 28 PHYSICALOFFSET i64 | 36 SYSFLAG i32 | 40 BORNTIMESTAMP i64
//! 48 BORNHOST (4|16 + 4) | STORETIMESTAMP i64 | STOREHOST (4|16 + 4)
//! RECONSUMETIMES i32 | PREPAREDTXOFFSET i64 | BODYLEN i32 + body
//! TOPICLEN i8 (v2: i16) + topic | PROPLEN i16 + properties
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use zerocopy::byteorder::big_endian::{I32, I64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{Result, StoreError};
use crate::limits::{MAX_PROPERTIES_BYTES, MAX_TOPIC_BYTES, RECORD_OVERHEAD_ALLOWANCE};
use crate::offset::{LogOffset, QueueOffset};

/// Magic of a v1 record (topic length is one byte).
pub const MAGIC_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic of a v2 record (topic length is two bytes; 5.x, long topics).
pub const MAGIC_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic of the end-of-segment blank record.
pub const MAGIC_BLANK: i32 = 0xCBD4_3194_u32 as i32;
/// Smallest blank record: TOTALSIZE + MAGIC.
pub const BLANK_MIN_BYTES: usize = 8;

/// sysflag bits (remoting-protocol §5.4).
pub mod sysflag {
    pub const COMPRESSED: i32 = 0x1;
    pub const MULTI_TAGS: i32 = 0x2;
    pub const TRANSACTION_NOT: i32 = 0x0;
    pub const TRANSACTION_PREPARED: i32 = 0x4;
    pub const TRANSACTION_COMMIT: i32 = 0x8;
    pub const TRANSACTION_ROLLBACK: i32 = 0xC;
    pub const TRANSACTION_MASK: i32 = 0xC;
    pub const BORNHOST_V6: i32 = 0x10;
    pub const STOREHOST_V6: i32 = 0x20;
}

/// Property names the engine itself reads.
pub mod property {
    pub const KEYS: &str = "KEYS";
    pub const TAGS: &str = "TAGS";
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    /// Delivery time of a timer record (ms): its consume-queue tags code, as
    /// Apache stores the delivery time of a scheduled message there.
    pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
    pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
    pub const PROPERTY_SEPARATOR: char = '\u{2}';
}

/// The fixed head of every record, up to and including BORNTIMESTAMP.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RecordHead {
    pub total_size: I32,
    pub magic: I32,
    pub body_crc: I32,
    pub queue_id: I32,
    pub flag: I32,
    pub queue_offset: I64,
    pub physical_offset: I64,
    pub sys_flag: I32,
    pub born_timestamp: I64,
}
const _: () = assert!(std::mem::size_of::<RecordHead>() == 48);

/// Fields between STOREHOST and BODY.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug)]
#[repr(C)]
pub struct RecordMid {
    pub reconsume_times: I32,
    pub prepared_transaction_offset: I64,
    pub body_len: I32,
}
const _: () = assert!(std::mem::size_of::<RecordMid>() == 16);

/// Byte offset of QUEUEOFFSET, PHYSICALOFFSET, SYSFLAG in a record.
pub const QUEUE_OFFSET_POS: usize = 20;
pub const PHYSICAL_OFFSET_POS: usize = 28;
pub const SYS_FLAG_POS: usize = 36;
pub const BORN_HOST_POS: usize = 48;

/// A message as the broker hands it to the engine. The engine fills in queue
/// offset, physical offset, store timestamp and body CRC.
#[derive(Clone, Debug)]
pub struct MessageInput {
    pub topic: String,
    pub queue_id: u32,
    pub flag: i32,
    pub body: bytes::Bytes,
    /// `name\u0001value\u0002...` exactly as the producer sent it.
    pub properties: String,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
}

impl MessageInput {
    /// A message with defaults for everything but topic, queue, body and properties (tests, benchmarks).
    pub fn simple(topic: &str, queue_id: u32, body: &[u8], properties: &str) -> Self {
        MessageInput {
            topic: topic.to_string(),
            queue_id,
            flag: 0,
            body: bytes::Bytes::copy_from_slice(body),
            properties: properties.to_string(),
            sys_flag: 0,
            born_timestamp: 0,
            born_host: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            store_host: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 10911),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        }
    }

    /// Transaction type bits of the sysflag.
    pub fn transaction_type(&self) -> i32 {
        self.sys_flag & sysflag::TRANSACTION_MASK
    }

    pub fn is_consumable(&self) -> bool {
        is_consumable(self.sys_flag)
    }

    /// Checks the limits and returns the encoded record length.
    pub fn validate(&self, max_body: usize) -> Result<usize> {
        if self.body.len() > max_body {
            return Err(StoreError::MessageIllegal(format!(
                "body of {} bytes exceeds maxMessageSize {}",
                self.body.len(),
                max_body
            )));
        }
        if self.topic.is_empty() || self.topic.len() > MAX_TOPIC_BYTES {
            return Err(StoreError::MessageIllegal(format!(
                "topic length {} not in 1..={MAX_TOPIC_BYTES}",
                self.topic.len()
            )));
        }
        if self.properties.len() > MAX_PROPERTIES_BYTES {
            return Err(StoreError::PropertiesTooLong {
                len: self.properties.len(),
                limit: MAX_PROPERTIES_BYTES,
            });
        }
        let len = encoded_len(
            self.born_host.is_ipv6(),
            self.store_host.is_ipv6(),
            self.body.len(),
            self.topic.len(),
            self.properties.len(),
        );
        if len > max_body + RECORD_OVERHEAD_ALLOWANCE {
            return Err(StoreError::MessageIllegal(format!(
                "record of {len} bytes exceeds the limit {}",
                max_body + RECORD_OVERHEAD_ALLOWANCE
            )));
        }
        Ok(len)
    }
}

/// Whether a record with this sysflag takes a queue offset and gets a
/// consume-queue unit (storage-format §3.4: transaction types NOT and COMMIT
/// do; PREPARED and ROLLBACK do not).
pub fn is_consumable(sys_flag: i32) -> bool {
    matches!(
        sys_flag & sysflag::TRANSACTION_MASK,
        sysflag::TRANSACTION_NOT | sysflag::TRANSACTION_COMMIT
    )
}

/// Length of an encoded v1 record.
pub fn encoded_len(
    born_v6: bool,
    store_v6: bool,
    body: usize,
    topic: usize,
    props: usize,
) -> usize {
    91 + body + topic + props + if born_v6 { 12 } else { 0 } + if store_v6 { 12 } else { 0 }
}

/// RocketMQ's body CRC: crc32 with the top bit cleared.
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// Java `String.hashCode()` over UTF-16 code units (consume-queue tags code, index key hash).
pub fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for u in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(u as i32);
    }
    h
}

/// Consume-queue tags code of a TAGS value: its Java hash, 0 when absent or empty.
pub fn tags_code(tags: Option<&str>) -> i64 {
    match tags {
        Some(t) if !t.is_empty() => java_string_hash(t) as i64,
        _ => 0,
    }
}

/// The tags code a record's consume-queue unit carries: the delivery time
/// for timer records (so timers can be rebuilt from units alone), else the
/// hash of TAGS.
pub fn unit_tags_code(props: &str) -> i64 {
    StoreProps::of(props).unit_tags_code()
}

/// The properties the store itself reads, found in one pass over the
/// properties (each is the first occurrence, as [`property_value`] finds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreProps<'a> {
    pub tags: Option<&'a str>,
    pub keys: Option<&'a str>,
    pub uniq_key: Option<&'a str>,
    pub timer_out_ms: Option<&'a str>,
}

impl<'a> StoreProps<'a> {
    pub fn of(props: &'a str) -> Self {
        let mut p = StoreProps::default();
        for (k, v) in properties_iter(props) {
            let slot = match k {
                property::TAGS => &mut p.tags,
                property::KEYS => &mut p.keys,
                property::UNIQ_KEY => &mut p.uniq_key,
                property::TIMER_OUT_MS => &mut p.timer_out_ms,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        p
    }

    /// What [`unit_tags_code`] computes.
    pub fn unit_tags_code(&self) -> i64 {
        match self.timer_out_ms.and_then(|v| v.parse::<i64>().ok()) {
            Some(t) => t,
            None => tags_code(self.tags),
        }
    }
}

/// Iterates `name\u0001value\u0002` pairs. Malformed pairs (no separator) are skipped.
pub fn properties_iter(props: &str) -> impl Iterator<Item = (&str, &str)> {
    props
        .split(property::PROPERTY_SEPARATOR)
        .filter_map(|kv| kv.split_once(property::NAME_VALUE_SEPARATOR))
}

/// Looks up one property.
pub fn property_value<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    properties_iter(props)
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn put_host(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
    out.extend_from_slice(&(addr.port() as i32).to_be_bytes());
}

/// Appends the encoded record of `msg` to `out`. Returns where the body
/// lies in the record.
pub fn encode_into(
    out: &mut Vec<u8>,
    msg: &MessageInput,
    queue_offset: QueueOffset,
    physical_offset: LogOffset,
    store_timestamp: i64,
) -> std::ops::Range<usize> {
    let start = out.len();
    let mut sys_flag = msg.sys_flag & !(sysflag::BORNHOST_V6 | sysflag::STOREHOST_V6);
    if msg.born_host.is_ipv6() {
        sys_flag |= sysflag::BORNHOST_V6;
    }
    if msg.store_host.is_ipv6() {
        sys_flag |= sysflag::STOREHOST_V6;
    }
    let total = encoded_len(
        msg.born_host.is_ipv6(),
        msg.store_host.is_ipv6(),
        msg.body.len(),
        msg.topic.len(),
        msg.properties.len(),
    );
    let head = RecordHead {
        total_size: I32::new(total as i32),
        magic: I32::new(MAGIC_V1),
        body_crc: I32::new(body_crc(&msg.body)),
        queue_id: I32::new(msg.queue_id as i32),
        flag: I32::new(msg.flag),
        queue_offset: I64::new(queue_offset.0 as i64),
        physical_offset: I64::new(physical_offset.0 as i64),
        sys_flag: I32::new(sys_flag),
        born_timestamp: I64::new(msg.born_timestamp),
    };
    out.extend_from_slice(head.as_bytes());
    put_host(out, &msg.born_host);
    out.extend_from_slice(&store_timestamp.to_be_bytes());
    put_host(out, &msg.store_host);
    let mid = RecordMid {
        reconsume_times: I32::new(msg.reconsume_times),
        prepared_transaction_offset: I64::new(msg.prepared_transaction_offset),
        body_len: I32::new(msg.body.len() as i32),
    };
    out.extend_from_slice(mid.as_bytes());
    let body_at = out.len() - start;
    out.extend_from_slice(&msg.body);
    out.push(msg.topic.len() as u8);
    out.extend_from_slice(msg.topic.as_bytes());
    out.extend_from_slice(&(msg.properties.len() as i16).to_be_bytes());
    out.extend_from_slice(msg.properties.as_bytes());
    debug_assert_eq!(out.len() - start, total);
    body_at..body_at + msg.body.len()
}

/// A decoded view of one record, borrowing the record bytes.
#[derive(Debug, Clone)]
pub struct RecordView<'a> {
    pub bytes: &'a [u8],
    pub total_size: usize,
    pub magic: i32,
    pub body_crc: i32,
    pub queue_id: i32,
    pub flag: i32,
    pub queue_offset: i64,
    pub physical_offset: i64,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_timestamp: i64,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    pub body: &'a [u8],
    pub topic: &'a str,
    pub properties: &'a str,
}

/// Why a byte range is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordDefect {
    /// Fewer bytes than the fixed fields or TOTALSIZE claim.
    Truncated,
    /// MAGICCODE is not v1/v2.
    BadMagic(i32),
    /// TOTALSIZE disagrees with the field lengths.
    LengthMismatch { total: usize, computed: usize },
    /// BODYCRC does not match the body.
    BodyCrc,
    /// Topic or properties are not UTF-8.
    NotUtf8,
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], RecordDefect> {
        let end = self.pos.checked_add(n).ok_or(RecordDefect::Truncated)?;
        let s = self.b.get(self.pos..end).ok_or(RecordDefect::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn i32(&mut self) -> std::result::Result<i32, RecordDefect> {
        let s = self.take(4)?;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn i64(&mut self) -> std::result::Result<i64, RecordDefect> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
    fn host(&mut self, v6: bool) -> std::result::Result<SocketAddr, RecordDefect> {
        let ip = if v6 {
            let s = self.take(16)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(s);
            IpAddr::from(a)
        } else {
            let s = self.take(4)?;
            IpAddr::from([s[0], s[1], s[2], s[3]])
        };
        let port = self.i32()?;
        Ok(SocketAddr::new(ip, port as u16))
    }
}

/// Decodes and validates the record at the start of `bytes` (which may hold
/// more after it). `check_crc` recomputes the body CRC.
pub fn decode(bytes: &[u8], check_crc: bool) -> std::result::Result<RecordView<'_>, RecordDefect> {
    let head = RecordHead::ref_from_prefix(bytes)
        .map_err(|_| RecordDefect::Truncated)?
        .0;
    let magic = head.magic.get();
    if magic != MAGIC_V1 && magic != MAGIC_V2 {
        return Err(RecordDefect::BadMagic(magic));
    }
    let total = head.total_size.get();
    if total < 48 || total as usize > bytes.len() {
        return Err(RecordDefect::Truncated);
    }
    let total = total as usize;
    let rec = &bytes[..total];
    let sys_flag = head.sys_flag.get();
    let mut c = Cursor { b: rec, pos: 48 };
    let born_host = c.host(sys_flag & sysflag::BORNHOST_V6 != 0)?;
    let store_timestamp = c.i64()?;
    let store_host = c.host(sys_flag & sysflag::STOREHOST_V6 != 0)?;
    let reconsume_times = c.i32()?;
    let prepared_transaction_offset = c.i64()?;
    let body_len = c.i32()?;
    if body_len < 0 {
        return Err(RecordDefect::Truncated);
    }
    let body = c.take(body_len as usize)?;
    let topic_len = if magic == MAGIC_V2 {
        u16::from_be_bytes(c.take(2)?.try_into().expect("2 bytes")) as usize
    } else {
        c.take(1)?[0] as usize
    };
    let topic = c.take(topic_len)?;
    let props_len = u16::from_be_bytes(c.take(2)?.try_into().expect("2 bytes")) as usize;
    let props = c.take(props_len)?;
    if c.pos != total {
        return Err(RecordDefect::LengthMismatch {
            total,
            computed: c.pos,
        });
    }
    if check_crc && body_crc(body) != head.body_crc.get() {
        return Err(RecordDefect::BodyCrc);
    }
    let topic = std::str::from_utf8(topic).map_err(|_| RecordDefect::NotUtf8)?;
    let properties = std::str::from_utf8(props).map_err(|_| RecordDefect::NotUtf8)?;
    Ok(RecordView {
        bytes: rec,
        total_size: total,
        magic,
        body_crc: head.body_crc.get(),
        queue_id: head.queue_id.get(),
        flag: head.flag.get(),
        queue_offset: head.queue_offset.get(),
        physical_offset: head.physical_offset.get(),
        sys_flag,
        born_timestamp: head.born_timestamp.get(),
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    })
}

impl RecordView<'_> {
    pub fn property(&self, name: &str) -> Option<&str> {
        property_value(self.properties, name)
    }
    pub fn tags_code(&self) -> i64 {
        unit_tags_code(self.properties)
    }
    pub fn transaction_type(&self) -> i32 {
        self.sys_flag & sysflag::TRANSACTION_MASK
    }
    pub fn is_consumable(&self) -> bool {
        is_consumable(self.sys_flag)
    }
}

/// Store timestamp of an encoded record, read from its fixed position.
pub fn store_timestamp_of(rec: &[u8]) -> Option<i64> {
    let sys = i32::from_be_bytes(rec.get(SYS_FLAG_POS..SYS_FLAG_POS + 4)?.try_into().ok()?);
    let pos = BORN_HOST_POS
        + if sys & sysflag::BORNHOST_V6 != 0 {
            20
        } else {
            8
        };
    Some(i64::from_be_bytes(rec.get(pos..pos + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of storage-format.md §3.1, byte for byte.
    #[test]
    fn worked_example_encodes_exactly() {
        let mut m = MessageInput::simple("TopicTest", 0, b"a", "TAGS\u{1}TagA");
        m.born_timestamp = 1_700_000_000_000;
        m.born_host = "127.0.0.1:54321".parse().unwrap();
        m.store_host = "192.168.1.10:10911".parse().unwrap();
        let mut out = Vec::new();
        encode_into(
            &mut out,
            &m,
            QueueOffset(0),
            LogOffset(0),
            1_700_000_000_100,
        );
        // The dump of storage-format.md §3.1.
        let dump = "00 00 00 6e da a3 20 a7 68 b7 be 43 00 00 00 00
                    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
                    00 00 00 00 00 00 00 00 00 00 01 8b cf e5 68 00
                    7f 00 00 01 00 00 d4 31 00 00 01 8b cf e5 68 64
                    c0 a8 01 0a 00 00 2a 9f 00 00 00 00 00 00 00 00
                    00 00 00 00 00 00 00 01 61 09 54 6f 70 69 63 54
                    65 73 74 00 09 54 41 47 53 01 54 61 67 41";
        let expected: Vec<u8> = dump
            .split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        assert_eq!(out.len(), 110);
        assert_eq!(out, expected);
        let v = decode(&out, true).unwrap();
        assert_eq!(v.topic, "TopicTest");
        assert_eq!(v.body, b"a");
        assert_eq!(v.store_timestamp, 1_700_000_000_100);
        assert_eq!(store_timestamp_of(&out), Some(1_700_000_000_100));
        assert_eq!(v.tags_code(), 2598919);
    }

    #[test]
    fn ipv6_hosts_round_trip() {
        let mut m = MessageInput::simple("T", 3, b"hello", "KEYS\u{1}a b");
        m.born_host = "[fd00::2]:1234".parse().unwrap();
        m.store_host = "[::1]:10911".parse().unwrap();
        let mut out = Vec::new();
        encode_into(&mut out, &m, QueueOffset(7), LogOffset(99), 5);
        let v = decode(&out, true).unwrap();
        assert_eq!(v.total_size, out.len());
        assert_eq!(v.born_host, m.born_host);
        assert_eq!(v.store_host, m.store_host);
        assert_eq!(v.queue_offset, 7);
        assert_eq!(store_timestamp_of(&out), Some(5));
    }

    #[test]
    fn defects_are_values_not_panics() {
        let m = MessageInput::simple("T", 0, b"body", "");
        let mut out = Vec::new();
        encode_into(&mut out, &m, QueueOffset(0), LogOffset(0), 1);
        for cut in 0..out.len() {
            assert!(decode(&out[..cut], true).is_err(), "cut {cut}");
        }
        let mut bad = out.clone();
        bad[84] ^= 1; // inside the body length
        assert!(decode(&bad, true).is_err());
        let mut bad = out.clone();
        let n = bad.len();
        bad[n - 7] ^= 0x40; // inside the body
        assert_eq!(decode(&bad, true).unwrap_err(), RecordDefect::BodyCrc);
        // Random garbage never panics.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut b = out.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % b.len() as u64) as usize;
                b[i] = (x >> 32) as u8;
            }
            let _ = decode(&b, true);
        }
    }

    #[test]
    fn java_hash_matches_known_values() {
        assert_eq!(java_string_hash("TagA"), 2598919);
        assert_eq!(java_string_hash("TagB"), 2598920);
        assert_eq!(java_string_hash("d"), 100);
        assert_eq!(tags_code(Some("")), 0);
    }

    #[test]
    fn limits_are_errors() {
        let big = vec![0u8; 100];
        let m = MessageInput::simple("T", 0, &big, "");
        assert!(matches!(m.validate(99), Err(StoreError::MessageIllegal(_))));
        let m = MessageInput::simple(&"x".repeat(128), 0, b"", "");
        assert!(matches!(m.validate(99), Err(StoreError::MessageIllegal(_))));
        let m = MessageInput::simple("T", 0, b"", &"p".repeat(40000));
        assert!(matches!(
            m.validate(99),
            Err(StoreError::PropertiesTooLong { .. })
        ));
    }
}
