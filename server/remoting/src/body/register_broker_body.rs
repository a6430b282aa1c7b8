//! `RegisterBrokerBody`: the REGISTER_BROKER request body (reference §4.5),
//! in its JSON form and in the compressed form a broker sends when the
//! header says `compressed=true`.
//!
//! Compressed form: a zlib stream whose content is
//!
//! ```text
//! i32 len + DataVersion JSON
//! i32 topic count
//! per topic: i32 len + TopicConfig compact string ("name r w perm TYPE")
//! i32 len + filter server list JSON (["host:port",...])
//! 5.x only: i32 count + TopicQueueMappingInfo JSON entries (ignored here)
//! ```
//!
//! Integers are big-endian. The compact topic string drops `topicSysFlag`
//! and `order`, so a compressed registration reports them as 0/false, as
//! in Java.

/// zlib (RFC 1950) as Java's `Deflater`/`Inflater` use it, via flate2.
mod zlib {
    use std::io::{Read, Write};

    /// Compresses `data` into one zlib stream.
    pub fn compress(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing into a Vec cannot fail.
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    }

    /// Inflates one zlib stream, refusing output beyond `max_out` bytes.
    pub fn decompress(data: &[u8], max_out: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let limit = u64::try_from(max_out).unwrap_or(u64::MAX).saturating_add(1);
        flate2::read::ZlibDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        if out.len() > max_out {
            return Err(format!("inflated body exceeds {max_out} bytes"));
        }
        Ok(out)
    }
}

use crate::body::fastjson::{self, ObjectWriter};
use crate::body::topic_config::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use crate::error::HeaderError;

/// Largest inflated compressed body accepted. Java's broker caps a frame
/// at 16 MiB and topic tables compress about tenfold; anything beyond this
/// is treated as hostile rather than allocated.
pub const MAX_INFLATED_BYTES: usize = 256 << 20;

/// A broker's registration: its topic table and filter servers.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    /// `filterServerList` (legacy filter servers; normally empty).
    #[serde(deserialize_with = "null_as_empty")]
    pub filter_server_list: Vec<String>,
    /// `topicConfigSerializeWrapper`.
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    use serde::Deserialize;
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl RegisterBrokerBody {
    /// Parses a body; `compressed` is the request header's flag.
    pub fn decode(body: &[u8], compressed: bool) -> Result<Self, HeaderError> {
        if !compressed {
            return fastjson::from_slice(body);
        }
        let data = zlib::decompress(body, MAX_INFLATED_BYTES)
            .map_err(|e| HeaderError::InvalidBody(format!("compressed register body: {e}")))?;
        let mut r = Reader {
            data: &data,
            pos: 0,
        };

        let data_version = DataVersion::decode(r.chunk("dataVersion")?)?;
        let count = r.i32("topic count")?;
        if count < 0 {
            return Err(HeaderError::InvalidBody(format!(
                "negative topic count {count}"
            )));
        }
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version,
            ..Default::default()
        };
        let mut table = Vec::new();
        for _ in 0..count {
            let text = std::str::from_utf8(r.chunk("topic config")?)
                .map_err(|_| HeaderError::InvalidBody("topic config is not UTF-8".into()))?;
            let tc = TopicConfig::decode_compact(text)?;
            table.push((tc.topic_name.clone(), tc));
        }
        wrapper.topic_config_table = table.into_iter().collect();
        // Java logs an unparsable filter server list and uses an empty one.
        let filter_server_list =
            fastjson::from_slice::<Option<Vec<String>>>(r.chunk("filter server list")?)
                .ok()
                .flatten()
                .unwrap_or_default();
        Ok(Self {
            filter_server_list,
            topic_config_serialize_wrapper: wrapper,
        })
    }

    /// Writes the body: JSON, or the compressed form (zlib stored blocks,
    /// which Java inflates like its own output).
    pub fn encode(&self, compressed: bool) -> Vec<u8> {
        let mut filters = String::new();
        fastjson::write_string_array(&mut filters, &self.filter_server_list);
        if !compressed {
            let mut s = String::new();
            let mut o = ObjectWriter::new(&mut s);
            o.raw("filterServerList", &filters)
                .with("topicConfigSerializeWrapper", |out| {
                    self.topic_config_serialize_wrapper.write_json(out)
                });
            o.finish();
            return s.into_bytes();
        }
        let w = &self.topic_config_serialize_wrapper;
        let mut raw = Vec::new();
        put_chunk(&mut raw, &w.data_version.encode());
        put_i32(&mut raw, w.topic_config_table.len());
        for tc in w.topic_config_table.values() {
            put_chunk(&mut raw, tc.encode_compact().as_bytes());
        }
        put_chunk(&mut raw, filters.as_bytes());
        zlib::compress(&raw)
    }
}

fn put_i32(out: &mut Vec<u8>, n: usize) {
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    put_i32(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Bounds-checked reader of the inflated content.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn i32(&mut self, what: &str) -> Result<i32, HeaderError> {
        let b = self.data.get(self.pos..self.pos + 4).ok_or_else(|| {
            HeaderError::InvalidBody(format!("compressed body ends before {what}"))
        })?;
        self.pos += 4;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn chunk(&mut self, what: &str) -> Result<&'a [u8], HeaderError> {
        let len = self.i32(what)?;
        let len = usize::try_from(len)
            .map_err(|_| HeaderError::InvalidBody(format!("negative length {len} of {what}")))?;
        let b = self.data.get(self.pos..self.pos + len).ok_or_else(|| {
            HeaderError::InvalidBody(format!("compressed body ends inside {what}"))
        })?;
        self.pos += len;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RegisterBrokerBody {
        let mut t = TopicConfig::new("TBW102");
        t.perm = 7;
        t.read_queue_nums = 8;
        t.write_queue_nums = 8;
        let mut w = TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 3,
                timestamp: 1700000000000,
            },
            ..Default::default()
        };
        w.topic_config_table.insert("TBW102", t);
        w.topic_config_table
            .insert("VecTopic", TopicConfig::new("VecTopic"));
        RegisterBrokerBody {
            filter_server_list: vec![],
            topic_config_serialize_wrapper: w,
        }
    }

    #[test]
    fn json_form() {
        let b = sample();
        let json = String::from_utf8(b.encode(false)).unwrap();
        assert!(json.starts_with(r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"timestamp":1700000000000},"topicConfigTable":{"TBW102":{"order":false,"perm":7,"#));
        assert_eq!(
            RegisterBrokerBody::decode(json.as_bytes(), false).unwrap(),
            b
        );
        let null_list = br#"{"filterServerList":null}"#;
        assert!(RegisterBrokerBody::decode(null_list, false)
            .unwrap()
            .filter_server_list
            .is_empty());
        assert!(RegisterBrokerBody::decode(b"{", false).is_err());
    }

    #[test]
    fn compressed_form_round_trips() {
        let mut b = sample();
        b.filter_server_list = vec!["10.0.0.9:30000".to_owned()];
        let z = b.encode(true);
        assert_eq!(z[0], 0x78, "a zlib header");
        let back = RegisterBrokerBody::decode(&z, true).unwrap();
        assert_eq!(back, b);
        // The JSON decoder does not take the compressed form, nor vice versa.
        assert!(RegisterBrokerBody::decode(&z, false).is_err());
        assert!(RegisterBrokerBody::decode(&b.encode(false), true).is_err());
    }

    #[test]
    fn compressed_content_layout() {
        let z = sample().encode(true);
        let raw = zlib::decompress(&z, usize::MAX).unwrap();
        let dv = br#"{"counter":3,"timestamp":1700000000000}"#;
        assert_eq!(&raw[..4], &(dv.len() as i32).to_be_bytes());
        assert_eq!(&raw[4..4 + dv.len()], dv);
        let rest = &raw[4 + dv.len()..];
        assert_eq!(&rest[..4], &2i32.to_be_bytes());
        let t1 = b"TBW102 8 8 7 SINGLE_TAG";
        assert_eq!(&rest[4..8], &(t1.len() as i32).to_be_bytes());
        assert_eq!(&rest[8..8 + t1.len()], t1);
        assert!(raw.ends_with(b"\x00\x00\x00\x02[]"));
    }

    #[test]
    fn compressed_garbage_is_an_error() {
        let chunks: &[&[u8]] = &[
            b"",                                                      // nothing
            b"\x00\x00\x00\x05{}",                                    // data version cut short
            b"\x00\x00\x00\x02{}\xff\xff\xff\xff",                    // negative count
            b"\x00\x00\x00\x02{}\x00\x00\x00\x01\x00\x00\x00\x03a b", // bad topic config
            b"\x00\x00\x00\x02{}\x00\x00\x00\x00",                    // no filter server list
            b"\xff\xff\xff\xff",                                      // negative length
        ];
        for raw in chunks {
            assert!(
                RegisterBrokerBody::decode(&zlib::compress(raw), true).is_err(),
                "{raw:?}"
            );
        }
        // An unparsable filter server list is read as empty, as Java does.
        let ok = b"\x00\x00\x00\x02{}\x00\x00\x00\x00\x00\x00\x00\x01x";
        let b = RegisterBrokerBody::decode(&zlib::compress(ok), true).unwrap();
        assert!(b.filter_server_list.is_empty());
        // A huge announced count fails when the data runs out, without
        // allocating for it.
        let huge = b"\x00\x00\x00\x02{}\x7f\xff\xff\xff";
        assert!(RegisterBrokerBody::decode(&zlib::compress(huge), true).is_err());
    }
}
