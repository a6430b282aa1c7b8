//! Stored message records (reference §5.3, storage-format §3.1/§3.2): the
//! commit-log layout that PULL, POP, QUERY_MESSAGE and VIEW_MESSAGE_BY_ID
//! bodies concatenate, and that the CHECK_TRANSACTION_STATE body holds.
//!
//! | # | Field | Size |
//! |---|---|---|
//! | 1 | TOTALSIZE | 4 |
//! | 2 | MAGICCODE | 4 (v1, or v2 with a 2-byte topic length) |
//! | 3 | BODYCRC | 4 |
//! | 4 | QUEUEID | 4 |
//! | 5 | FLAG | 4 |
//! | 6 | QUEUEOFFSET | 8 |
//! | 7 | PHYSICALOFFSET | 8 |
//! | 8 | SYSFLAG | 4 |
//! | 9 | BORNTIMESTAMP | 8 |
//! | 10 | BORNHOST | 4 + 4, or 16 + 4 with SYSFLAG bit 0x10 |
//! | 11 | STORETIMESTAMP | 8 |
//! | 12 | STOREHOST | 4 + 4, or 16 + 4 with SYSFLAG bit 0x20 |
//! | 13 | RECONSUMETIMES | 4 |
//! | 14 | PREPARED TRANSACTION OFFSET | 8 |
//! | 15 | BODY | 4 + n |
//! | 16 | TOPIC | 1 + t (v2: 2 + t) |
//! | 17 | PROPERTIES | 2 + p |
//!
//! The decoder is stricter than Java's clients (which ignore the magic in
//! 4.9.7 and never compare TOTALSIZE): the magic must be v1 or v2 and
//! TOTALSIZE must equal the sum of the fields. Like Java's `decodes`, the
//! iterator stops at the first bad record.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::msg_id::OffsetMsgId;
use super::properties::{lossy, MessageProperties, MAX_PROPERTIES_BYTES};
use super::sys_flag::{CompressionType, MessageSysFlag, TransactionType};
use super::{Cursor, MessageError};

/// Magic code of v1 records (`0xDAA320A7`).
pub const MAGIC_CODE_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic code of 5.x v2 records (`0xDAA320AB`): topic length is an i16.
pub const MAGIC_CODE_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic code of the blank record that ends a commit-log file
/// (`0xCBD43194`); never part of a remoting body.
pub const BLANK_MAGIC_CODE: i32 = 0xCBD4_3194_u32 as i32;

const _: () = assert!(MAGIC_CODE_V1 == -626843481);
const _: () = assert!(MAGIC_CODE_V2 == -626843477);
const _: () = assert!(BLANK_MAGIC_CODE == -875286124);

/// Bytes of a v1 record with IPv4 hosts besides body, topic and properties.
const FIXED_V1_IPV4: usize = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2;
const _: () = assert!(FIXED_V1_IPV4 == 91);

/// One stored record, its variable parts borrowed from the body.
///
/// Decoding fills every field from the bytes; encoding writes them back,
/// recomputing TOTALSIZE, taking the host widths from the addresses (the
/// written SYSFLAG gets its two IPv6 bits set to match) and the topic
/// length width from `magic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMessage<'a> {
    /// [`MAGIC_CODE_V1`] or [`MAGIC_CODE_V2`].
    pub magic: i32,
    /// CRC32 of the stored body with the sign bit cleared.
    pub body_crc: i32,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Consume-queue offset.
    pub queue_offset: i64,
    /// Commit-log offset of this record.
    pub physical_offset: i64,
    /// [`MessageSysFlag`] bits.
    pub sys_flag: i32,
    /// Producer clock, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker clock at append, ms.
    pub store_timestamp: i64,
    /// Broker's client-facing address.
    pub store_host: SocketAddr,
    /// Delivery attempts so far.
    pub reconsume_times: i32,
    /// For COMMIT records: commit-log offset of the half message.
    pub prepared_transaction_offset: i64,
    /// Body as stored (compressed if SYSFLAG says so).
    pub body: &'a [u8],
    /// Topic bytes (UTF-8 in practice).
    pub topic: &'a [u8],
    /// Raw properties string.
    pub properties: &'a [u8],
}

impl<'a> StoredMessage<'a> {
    /// Decodes the record at the start of `buf`, returning it and its
    /// length (TOTALSIZE).
    pub fn decode(buf: &'a [u8]) -> Result<(Self, usize), MessageError> {
        decode_at(buf, 0)
    }

    /// The topic as Java reads it (invalid UTF-8 becomes U+FFFD).
    pub fn topic_str(&self) -> Cow<'a, str> {
        lossy(self.topic)
    }

    /// The properties string as Java reads it.
    pub fn properties_str(&self) -> Cow<'a, str> {
        lossy(self.properties)
    }

    /// The parsed properties, in order.
    pub fn parsed_properties(&self) -> MessageProperties {
        MessageProperties::parse_bytes(self.properties)
    }

    /// The offset message id clients derive from STOREHOST and
    /// PHYSICALOFFSET.
    pub fn offset_msg_id(&self) -> OffsetMsgId {
        OffsetMsgId::new(self.store_host, self.physical_offset)
    }

    /// Whether the body is compressed.
    pub fn is_compressed(&self) -> bool {
        MessageSysFlag::is_compressed(self.sys_flag)
    }

    /// Compression algorithm, if the body is compressed.
    pub fn compression_type(&self) -> Option<CompressionType> {
        if self.is_compressed() {
            MessageSysFlag::compression_type(self.sys_flag)
        } else {
            None
        }
    }

    /// Transaction type bits of SYSFLAG.
    pub fn transaction_type(&self) -> TransactionType {
        TransactionType::from_sys_flag(self.sys_flag)
    }

    /// TOTALSIZE of the encoded record.
    pub fn encoded_len(&self) -> usize {
        let topic_len_bytes = if self.magic == MAGIC_CODE_V2 { 2 } else { 1 };
        FIXED_V1_IPV4 - 1
            + topic_len_bytes
            + host_extra(self.born_host)
            + host_extra(self.store_host)
            + self.body.len()
            + self.topic.len()
            + self.properties.len()
    }

    /// The SYSFLAG as written: the IPv6 bits follow the addresses.
    pub fn encoded_sys_flag(&self) -> i32 {
        let mut flag = self.sys_flag
            & !(MessageSysFlag::BORNHOST_V6_FLAG | MessageSysFlag::STOREHOSTADDRESS_V6_FLAG);
        if self.born_host.is_ipv6() {
            flag |= MessageSysFlag::BORNHOST_V6_FLAG;
        }
        if self.store_host.is_ipv6() {
            flag |= MessageSysFlag::STOREHOSTADDRESS_V6_FLAG;
        }
        flag
    }

    /// Appends the encoded record to `out`. Fails, writing nothing, if the
    /// magic is unknown, the topic is too long for the magic's length field
    /// (127 bytes for v1), the properties exceed [`MAX_PROPERTIES_BYTES`]
    /// or the record exceeds an i32 size.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), MessageError> {
        let topic_limit = match self.magic {
            MAGIC_CODE_V1 => i8::MAX as usize,
            MAGIC_CODE_V2 => i16::MAX as usize,
            other => {
                return Err(MessageError::UnknownMagic {
                    offset: 0,
                    magic: other as u32,
                })
            }
        };
        let too_long = |field, length, limit| MessageError::TooLong {
            field,
            length,
            limit,
        };
        if self.topic.len() > topic_limit {
            return Err(too_long("topic", self.topic.len(), topic_limit));
        }
        let props_len = i16::try_from(self.properties.len())
            .map_err(|_| too_long("properties", self.properties.len(), MAX_PROPERTIES_BYTES))?;
        let total = self.encoded_len();
        let total_i32 = i32::try_from(total)
            .map_err(|_| too_long("stored record", total, i32::MAX as usize))?;
        // Fits because the whole record does.
        let body_len = self.body.len() as i32;

        out.reserve(total);
        out.extend_from_slice(&total_i32.to_be_bytes());
        out.extend_from_slice(&self.magic.to_be_bytes());
        out.extend_from_slice(&self.body_crc.to_be_bytes());
        out.extend_from_slice(&self.queue_id.to_be_bytes());
        out.extend_from_slice(&self.flag.to_be_bytes());
        out.extend_from_slice(&self.queue_offset.to_be_bytes());
        out.extend_from_slice(&self.physical_offset.to_be_bytes());
        out.extend_from_slice(&self.encoded_sys_flag().to_be_bytes());
        out.extend_from_slice(&self.born_timestamp.to_be_bytes());
        put_host(out, self.born_host);
        out.extend_from_slice(&self.store_timestamp.to_be_bytes());
        put_host(out, self.store_host);
        out.extend_from_slice(&self.reconsume_times.to_be_bytes());
        out.extend_from_slice(&self.prepared_transaction_offset.to_be_bytes());
        out.extend_from_slice(&body_len.to_be_bytes());
        out.extend_from_slice(self.body);
        if self.magic == MAGIC_CODE_V2 {
            out.extend_from_slice(&(self.topic.len() as i16).to_be_bytes());
        } else {
            out.push(self.topic.len() as u8);
        }
        out.extend_from_slice(self.topic);
        out.extend_from_slice(&props_len.to_be_bytes());
        out.extend_from_slice(self.properties);
        Ok(())
    }

    /// The encoded record.
    pub fn encode(&self) -> Result<Vec<u8>, MessageError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

fn host_extra(addr: SocketAddr) -> usize {
    if addr.is_ipv6() {
        12
    } else {
        0
    }
}

fn put_host(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&i32::from(addr.port()).to_be_bytes());
}

fn read_host(
    c: &mut Cursor<'_>,
    v6: bool,
    field: &'static str,
) -> Result<SocketAddr, MessageError> {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::from(c.array::<16>(field)?))
    } else {
        IpAddr::V4(Ipv4Addr::from(c.array::<4>(field)?))
    };
    let port_at = c.offset();
    let port = c.i32(field)?;
    let port = u16::try_from(port).map_err(|_| MessageError::InvalidPort {
        field,
        offset: port_at,
        port,
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// Decodes the record at the start of `buf`, which sits at `base` in the
/// whole body (for error offsets).
fn decode_at(buf: &[u8], base: usize) -> Result<(StoredMessage<'_>, usize), MessageError> {
    let mut head = Cursor::new(buf, base);
    let declared = head.i32("TOTALSIZE")?;
    let magic = head.i32("MAGICCODE")?;
    if magic != MAGIC_CODE_V1 && magic != MAGIC_CODE_V2 {
        return Err(MessageError::UnknownMagic {
            offset: base,
            magic: magic as u32,
        });
    }
    let size = usize::try_from(declared).map_err(|_| MessageError::NegativeLength {
        field: "TOTALSIZE",
        offset: base,
        length: i64::from(declared),
    })?;
    if size > buf.len() {
        return Err(MessageError::Truncated {
            field: "stored record",
            offset: base,
            needed: size,
            available: buf.len(),
        });
    }
    // Every field is read inside the declared record.
    let mut c = Cursor::new(&buf[..size], base);
    c.take(8, "record header")?;
    let body_crc = c.i32("BODYCRC")?;
    let queue_id = c.i32("QUEUEID")?;
    let flag = c.i32("FLAG")?;
    let queue_offset = c.i64("QUEUEOFFSET")?;
    let physical_offset = c.i64("PHYSICALOFFSET")?;
    let sys_flag = c.i32("SYSFLAG")?;
    let born_timestamp = c.i64("BORNTIMESTAMP")?;
    let born_host = read_host(&mut c, MessageSysFlag::born_host_v6(sys_flag), "BORNHOST")?;
    let store_timestamp = c.i64("STORETIMESTAMP")?;
    let store_host = read_host(&mut c, MessageSysFlag::store_host_v6(sys_flag), "STOREHOST")?;
    let reconsume_times = c.i32("RECONSUMETIMES")?;
    let prepared_transaction_offset = c.i64("PREPARED TRANSACTION OFFSET")?;
    let at = c.offset();
    let body_len = c.i32("BODY length")?;
    let body = c.sized(i64::from(body_len), at, "BODY")?;
    let at = c.offset();
    let topic_len = if magic == MAGIC_CODE_V2 {
        i64::from(c.i16("TOPIC length")?)
    } else {
        i64::from(c.i8("TOPIC length")?)
    };
    let topic = c.sized(topic_len, at, "TOPIC")?;
    let at = c.offset();
    let props_len = c.i16("PROPERTIES length")?;
    let properties = c.sized(i64::from(props_len), at, "PROPERTIES")?;
    if c.remaining() != 0 {
        return Err(MessageError::SizeMismatch {
            offset: base,
            declared: i64::from(declared),
            actual: size - c.remaining(),
        });
    }
    let msg = StoredMessage {
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
        properties,
    };
    Ok((msg, size))
}

/// Iterates over the records of a PULL / QUERY_MESSAGE / VIEW_MESSAGE_BY_ID
/// body. After the first error the iterator ends.
pub fn iter_stored_messages(body: &[u8]) -> StoredMessageIter<'_> {
    StoredMessageIter {
        body,
        pos: 0,
        failed: false,
    }
}

/// Iterator of [`iter_stored_messages`].
#[derive(Debug, Clone)]
pub struct StoredMessageIter<'a> {
    body: &'a [u8],
    pos: usize,
    failed: bool,
}

impl StoredMessageIter<'_> {
    /// Offset of the next record in the body.
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for StoredMessageIter<'a> {
    type Item = Result<StoredMessage<'a>, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.body.len() {
            return None;
        }
        match decode_at(&self.body[self.pos..], self.pos) {
            Ok((msg, size)) => {
                self.pos += size;
                Some(Ok(msg))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of storage-format §3.1.
    const EXAMPLE: [u8; 110] = [
        0x00, 0x00, 0x00, 0x6e, 0xda, 0xa3, 0x20, 0xa7, 0x68, 0xb7, 0xbe, 0x43, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf,
        0xe5, 0x68, 0x00, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x00, 0xd4, 0x31, 0x00, 0x00, 0x01, 0x8b,
        0xcf, 0xe5, 0x68, 0x64, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00, 0x2a, 0x9f, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61, 0x09,
        0x54, 0x6f, 0x70, 0x69, 0x63, 0x54, 0x65, 0x73, 0x74, 0x00, 0x09, 0x54, 0x41, 0x47, 0x53,
        0x01, 0x54, 0x61, 0x67, 0x41,
    ];

    #[test]
    fn reference_example_decodes_and_reencodes() {
        let (m, size) = StoredMessage::decode(&EXAMPLE).unwrap();
        assert_eq!(size, 110);
        assert_eq!(m.magic, MAGIC_CODE_V1);
        assert_eq!(m.body_crc, 0x68B7BE43);
        assert_eq!(m.born_timestamp, 1_700_000_000_000);
        assert_eq!(m.store_timestamp, 1_700_000_000_100);
        assert_eq!(m.born_host, "127.0.0.1:54321".parse().unwrap());
        assert_eq!(m.store_host, "192.168.1.10:10911".parse().unwrap());
        assert_eq!(m.body, b"a");
        assert_eq!(m.topic_str(), "TopicTest");
        assert_eq!(m.properties_str(), "TAGS\u{1}TagA");
        assert_eq!(m.parsed_properties().get("TAGS"), Some("TagA"));
        assert_eq!(
            m.offset_msg_id().encode(),
            "C0A8010A00002A9F0000000000000000"
        );
        assert_eq!(m.encoded_len(), 110);
        assert_eq!(m.encode().unwrap(), EXAMPLE);
        assert_eq!(m.transaction_type(), TransactionType::Not);
        assert_eq!(m.compression_type(), None);
    }

    #[test]
    fn ipv6_and_v2_roundtrip() {
        let (m, _) = StoredMessage::decode(&EXAMPLE).unwrap();
        let long_topic = vec![b't'; 200];
        let v6 = StoredMessage {
            magic: MAGIC_CODE_V2,
            born_host: "[fd00::2]:5".parse().unwrap(),
            store_host: "[::1]:10911".parse().unwrap(),
            topic: &long_topic,
            sys_flag: 0x301,
            ..m
        };
        let bytes = v6.encode().unwrap();
        assert_eq!(bytes.len(), 110 + 24 + 1 + 191);
        let (back, size) = StoredMessage::decode(&bytes).unwrap();
        assert_eq!(size, bytes.len());
        assert_eq!(back.sys_flag, 0x301 | 0x10 | 0x20);
        assert_eq!(back.born_host, v6.born_host);
        assert_eq!(back.topic, &long_topic[..]);
        assert_eq!(back.compression_type(), Some(CompressionType::Zlib));
        assert_eq!(back.offset_msg_id().encode().len(), 56);
        // v1 cannot hold a 200-byte topic.
        let v1 = StoredMessage {
            magic: MAGIC_CODE_V1,
            ..v6
        };
        assert!(matches!(v1.encode(), Err(MessageError::TooLong { .. })));
        let bad = StoredMessage { magic: 7, ..m };
        assert!(matches!(
            bad.encode(),
            Err(MessageError::UnknownMagic { .. })
        ));
    }

    #[test]
    fn iterates_concatenated_records_and_stops_at_garbage() {
        let mut body = EXAMPLE.to_vec();
        body.extend_from_slice(&EXAMPLE);
        assert_eq!(iter_stored_messages(&body).filter(Result::is_ok).count(), 2);
        body.extend_from_slice(&[0, 0, 0, 8, 0xcb, 0xd4, 0x31, 0x94]);
        body.extend_from_slice(&EXAMPLE);
        let got: Vec<_> = iter_stored_messages(&body).collect();
        assert_eq!(got.len(), 3);
        assert!(matches!(
            got[2],
            Err(MessageError::UnknownMagic { offset: 220, .. })
        ));
        assert!(iter_stored_messages(&[]).next().is_none());
    }

    #[test]
    fn every_truncation_and_bad_length_is_an_error() {
        for cut in 0..EXAMPLE.len() {
            assert!(StoredMessage::decode(&EXAMPLE[..cut]).is_err(), "cut {cut}");
        }
        let patch = |at: usize, bytes: &[u8]| {
            let mut b = EXAMPLE.to_vec();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            StoredMessage::decode(&b).map(|_| ())
        };
        // TOTALSIZE too big, too small, negative.
        assert!(matches!(
            patch(0, &111i32.to_be_bytes()),
            Err(MessageError::Truncated { .. })
        ));
        assert!(matches!(
            patch(0, &109i32.to_be_bytes()),
            Err(MessageError::Truncated { .. })
        ));
        assert!(matches!(
            patch(0, &(-1i32).to_be_bytes()),
            Err(MessageError::NegativeLength { offset: 0, .. })
        ));
        // Body length negative / huge.
        assert!(matches!(
            patch(84, &(-1i32).to_be_bytes()),
            Err(MessageError::NegativeLength { offset: 84, .. })
        ));
        assert!(matches!(
            patch(84, &i32::MAX.to_be_bytes()),
            Err(MessageError::Truncated { .. })
        ));
        // Topic length negative, properties length short (leaves slack).
        assert!(matches!(
            patch(89, &[0x80]),
            Err(MessageError::NegativeLength { .. })
        ));
        assert!(matches!(
            patch(99, &8i16.to_be_bytes()),
            Err(MessageError::SizeMismatch { .. })
        ));
        // Port out of range.
        assert!(matches!(
            patch(52, &(-5i32).to_be_bytes()),
            Err(MessageError::InvalidPort {
                field: "BORNHOST",
                ..
            })
        ));
        // The IPv6 bit announces a longer host than there is.
        assert!(patch(36, &0x10i32.to_be_bytes()).is_err());
    }
}
