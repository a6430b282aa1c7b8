//! Offset message id (reference §5.5): uppercase hex of the store host
//! address (4 or 16 bytes), its port (i32) and the record's commit-log
//! offset (i64) — 32 hex characters for IPv4, 56 for IPv6.
//!
//! This is the `msgId` of send responses and what clients decode for
//! VIEW_MESSAGE_BY_ID and END_TRANSACTION, so the broker must return ids
//! whose address is its client-reachable listen address. (The client-side
//! UNIQ_KEY id is a different, opaque string.)

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use super::MessageError;

/// Hex length of an IPv4 offset message id.
pub const OFFSET_MSG_ID_V4_LEN: usize = 2 * (4 + 4 + 8);
/// Hex length of an IPv6 offset message id.
pub const OFFSET_MSG_ID_V6_LEN: usize = 2 * (16 + 4 + 8);

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A decoded offset message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OffsetMsgId {
    /// Address and port of the broker that stored the message.
    pub store_host: SocketAddr,
    /// Commit-log offset of the record.
    pub physical_offset: i64,
}

impl OffsetMsgId {
    /// Pairs a store host with an offset.
    pub fn new(store_host: SocketAddr, physical_offset: i64) -> Self {
        Self {
            store_host,
            physical_offset,
        }
    }

    /// The hex id.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(OFFSET_MSG_ID_V6_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Appends the hex id to `out` (e.g. to build a batch's comma-separated
    /// msgId list without intermediate strings).
    pub fn encode_into(&self, out: &mut String) {
        match self.store_host {
            SocketAddr::V4(a) => push_hex(out, &a.ip().octets()),
            SocketAddr::V6(a) => push_hex(out, &a.ip().octets()),
        }
        push_hex(out, &i32::from(self.store_host.port()).to_be_bytes());
        push_hex(out, &self.physical_offset.to_be_bytes());
    }

    /// Decodes a hex id (either case, as Java upper-cases first). Only the
    /// two valid lengths and hex digits are accepted; the port must fit in
    /// 0..=65535 (Java's `InetSocketAddress` refuses others).
    pub fn decode(id: &str) -> Result<Self, MessageError> {
        let invalid = |reason| MessageError::InvalidMessageId {
            id: id.chars().take(OFFSET_MSG_ID_V6_LEN + 8).collect(),
            reason,
        };
        let ip_len = match id.len() {
            OFFSET_MSG_ID_V4_LEN => 4,
            OFFSET_MSG_ID_V6_LEN => 16,
            _ => return Err(invalid("length is neither 32 nor 56 hex characters")),
        };
        let mut bytes = [0u8; OFFSET_MSG_ID_V6_LEN / 2];
        let bytes = &mut bytes[..id.len() / 2];
        for (b, pair) in bytes.iter_mut().zip(id.as_bytes().chunks_exact(2)) {
            let hi = hex_value(pair[0]).ok_or_else(|| invalid("not a hex digit"))?;
            let lo = hex_value(pair[1]).ok_or_else(|| invalid("not a hex digit"))?;
            *b = (hi << 4) | lo;
        }
        let (ip, rest) = bytes.split_at(ip_len);
        let (port, offset) = rest.split_at(4);
        let port = i32::from_be_bytes([port[0], port[1], port[2], port[3]]);
        let port = u16::try_from(port).map_err(|_| invalid("port outside 0..=65535"))?;
        let mut off = [0u8; 8];
        off.copy_from_slice(offset);
        let ip = if ip_len == 4 {
            std::net::IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))
        } else {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(ip);
            std::net::IpAddr::V6(Ipv6Addr::from(octets))
        };
        Ok(Self {
            store_host: SocketAddr::new(ip, port),
            physical_offset: i64::from_be_bytes(off),
        })
    }
}

impl fmt::Display for OffsetMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for OffsetMsgId {
    type Err = MessageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::decode(s)
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example() {
        let id = OffsetMsgId::new("192.168.1.10:10911".parse().unwrap(), 0);
        assert_eq!(id.encode(), "C0A8010A00002A9F0000000000000000");
        assert_eq!(
            OffsetMsgId::decode("C0A8010A00002A9F0000000000000000"),
            Ok(id)
        );
        assert_eq!(
            OffsetMsgId::decode("c0a8010a00002a9f0000000000000000"),
            Ok(id)
        );
        // The golden VIEW_MESSAGE_BY_ID / check-back ids.
        let id: OffsetMsgId = "7F00000100002AB300000000000017BC".parse().unwrap();
        assert_eq!(id.store_host, "127.0.0.1:10931".parse().unwrap());
        assert_eq!(id.physical_offset, 6076);
        assert_eq!(id.to_string(), "7F00000100002AB300000000000017BC");
    }

    #[test]
    fn ipv6() {
        let host: SocketAddr = "[fd00::2]:10911".parse().unwrap();
        let id = OffsetMsgId::new(host, i64::MAX);
        let hex = id.encode();
        assert_eq!(hex.len(), OFFSET_MSG_ID_V6_LEN);
        assert_eq!(
            hex,
            "FD00000000000000000000000000000200002A9F7FFFFFFFFFFFFFFF"
        );
        assert_eq!(OffsetMsgId::decode(&hex), Ok(id));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "C0A8010A00002A9F000000000000000",
            "C0A8010A00002A9F00000000000000000",
            "G0A8010A00002A9F0000000000000000",
            "C0A8010AFFFFFFFF0000000000000000",
            "C0A8010A00010000000000000000000é",
        ] {
            assert!(OffsetMsgId::decode(bad).is_err(), "{bad:?}");
        }
    }
}
