//! Consumer-group offset bodies (reference §4.6, §3.5):
//!
//! * [`ConsumeStats`] (GET_CONSUME_STATS): per queue the broker's max
//!   offset, the group's committed offset and the store time of the last
//!   consumed message, plus `consumeTps`;
//! * [`ResetOffsetBody`] (INVOKE_BROKER_TO_RESET_OFFSET response and
//!   RESET_CONSUMER_CLIENT_OFFSET request): the offsets to reset to;
//! * [`QueryConsumeTimeSpanBody`] (QUERY_CONSUME_TIME_SPAN).
//!
//! The per-queue maps are `Map<MessageQueue, V>`, written with object keys
//! exactly as fastjson writes them (rule 6) and kept in the order given
//! (see [`sort_java_hash_map_order`](super::message_queue::sort_java_hash_map_order)).

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter, OrderedMap};
use crate::body::message_queue::{decode_mq_keyed_map, write_mq_keyed_map, MessageQueue};
use crate::error::HeaderError;

/// Offsets of one queue for one consumer group (`OffsetWrapper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// `brokerOffset`: the queue's max offset.
    pub broker_offset: i64,
    /// `consumerOffset`: the group's committed offset (0 if none).
    pub consumer_offset: i64,
    /// `lastTimestamp`: store time of the message at `consumerOffset - 1`.
    pub last_timestamp: i64,
    /// `pullOffset` (5.x only; 4.9.7 has no such member).
    pub pull_offset: Option<i64>,
}

impl OffsetWrapper {
    /// Appends the JSON object (members in fastjson order).
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.int("brokerOffset", self.broker_offset)
            .int("consumerOffset", self.consumer_offset)
            .int("lastTimestamp", self.last_timestamp);
        if let Some(p) = self.pull_offset {
            o.int("pullOffset", p);
        }
        o.finish();
    }
}

/// GET_CONSUME_STATS body (`ConsumeStats`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumeStats {
    /// `consumeTps`.
    pub consume_tps: f64,
    /// `offsetTable`, in wire order.
    pub offset_table: Vec<(MessageQueue, OffsetWrapper)>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawConsumeStats {
    consume_tps: f64,
    offset_table: OrderedMap<OffsetWrapper>,
}

impl ConsumeStats {
    /// Java `computeTotalDiff()`: the sum of `brokerOffset - consumerOffset`.
    pub fn compute_total_diff(&self) -> i64 {
        self.offset_table
            .iter()
            .map(|(_, w)| w.broker_offset.wrapping_sub(w.consumer_offset))
            .fold(0i64, i64::wrapping_add)
    }

    /// Appends the JSON object:
    /// `{"consumeTps":0.0,"offsetTable":{{<MessageQueue>}:{<OffsetWrapper>},...}}`.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.with("consumeTps", |out| write_java_double(out, self.consume_tps))
            .with("offsetTable", |out| {
                write_mq_keyed_map(out, &self.offset_table, |out, w| w.write_json(out))
            });
        o.finish();
    }

    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        self.write_json(&mut s);
        s.into_bytes()
    }

    /// Parses a body (object keys, any member order, missing members).
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        let raw: RawConsumeStats = fastjson::from_slice(body)?;
        Ok(Self {
            consume_tps: raw.consume_tps,
            offset_table: decode_mq_keyed_map(raw.offset_table)?,
        })
    }
}

/// `ResetOffsetBody`: `{"offsetTable":{<MessageQueue>:<long>,...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResetOffsetBody {
    /// `offsetTable`: the offset each queue is reset to, in wire order.
    pub offset_table: Vec<(MessageQueue, i64)>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawResetOffsetBody {
    offset_table: OrderedMap<i64>,
}

impl ResetOffsetBody {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.with("offsetTable", |out| {
            write_mq_keyed_map(out, &self.offset_table, |out, v| {
                out.push_str(&v.to_string())
            })
        });
        o.finish();
    }

    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        self.write_json(&mut s);
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        let raw: RawResetOffsetBody = fastjson::from_slice(body)?;
        Ok(Self {
            offset_table: decode_mq_keyed_map(raw.offset_table)?,
        })
    }
}

/// One queue of QUERY_CONSUME_TIME_SPAN (`QueueTimeSpan`).
///
/// Java's class also has `get*TimeStampStr()` getters, so fastjson adds
/// `consumeTimeStampStr`/`maxTimeStampStr`/`minTimeStampStr` members
/// (local-time renderings of the longs). No reader uses them — the tools
/// recompute them from the longs — so they are neither written nor kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueTimeSpan {
    /// `consumeTimeStamp`: store time of the last consumed message.
    pub consume_time_stamp: i64,
    /// `delayTime`: `maxTimeStamp - consumeTimeStamp`.
    pub delay_time: i64,
    /// `maxTimeStamp`: store time of the newest message.
    pub max_time_stamp: i64,
    /// `messageQueue`.
    pub message_queue: Option<MessageQueue>,
    /// `minTimeStamp`: store time of the oldest message.
    pub min_time_stamp: i64,
}

impl QueueTimeSpan {
    /// Appends the JSON object.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.int("consumeTimeStamp", self.consume_time_stamp)
            .int("delayTime", self.delay_time)
            .int("maxTimeStamp", self.max_time_stamp);
        if let Some(mq) = &self.message_queue {
            o.with("messageQueue", |out| mq.write_json(out));
        }
        o.int("minTimeStamp", self.min_time_stamp);
        o.finish();
    }
}

/// QUERY_CONSUME_TIME_SPAN body:
/// `{"consumeTimeSpanSet":[<QueueTimeSpan>,...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryConsumeTimeSpanBody {
    /// `consumeTimeSpanSet` (a Java `List`).
    pub consume_time_span_set: Vec<QueueTimeSpan>,
}

impl QueryConsumeTimeSpanBody {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("consumeTimeSpanSet", |out| {
            out.push('[');
            for (i, span) in self.consume_time_span_set.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                span.write_json(out);
            }
            out.push(']');
        });
        o.finish();
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

/// Appends a `double` the way fastjson 1.2.x writes it (reference §4.1
/// rule 7), which is Java's `Double.toString` with the shortest digits:
/// `0.0`, `1.5`, `1234567.0`, then `1.0E7` from 10^7 up and `1.0E-4`
/// below 10^-3. NaN and infinities are written as `null`, as fastjson
/// does.
pub fn write_java_double(out: &mut String, value: f64) {
    if !value.is_finite() {
        out.push_str("null");
        return;
    }
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-5".
    let sci = format!("{value:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if negative {
        out.push('-');
    }
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            // Integer part: the first exp+1 digits, zero-padded.
            let int_len = exp as usize + 1;
            for i in 0..int_len {
                out.push(digits.as_bytes().get(i).map_or('0', |b| char::from(*b)));
            }
            out.push('.');
            match digits.get(int_len..) {
                Some(frac) if !frac.is_empty() => out.push_str(frac),
                _ => out.push('0'),
            }
        } else {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        out.push('.');
        out.push_str(if rest.is_empty() { "0" } else { rest });
        out.push('E');
        out.push_str(&exp.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(v: f64) -> String {
        let mut s = String::new();
        write_java_double(&mut s, v);
        s
    }

    #[test]
    fn doubles_are_written_like_java() {
        for (v, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-2.0, "-2.0"),
            (100.0, "100.0"),
            (1234567.0, "1234567.0"),
            (9999999.0, "9999999.0"),
            (1.0e7, "1.0E7"),
            (1.2345e10, "1.2345E10"),
            (0.001, "0.001"),
            (0.0123, "0.0123"),
            (1.0e-4, "1.0E-4"),
            (-3.25e-5, "-3.25E-5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
        ] {
            assert_eq!(double(v), want, "{v:e}");
        }
    }

    #[test]
    fn consume_stats_reference_example() {
        let body = br#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"}:{"brokerOffset":120,"consumerOffset":100,"lastTimestamp":1700000000000}}}"#;
        let stats = ConsumeStats::decode(body).unwrap();
        assert_eq!(stats.consume_tps, 0.0);
        let (mq, w) = &stats.offset_table[0];
        assert_eq!(mq, &MessageQueue::new("TopicTest", "broker-a", 0));
        assert_eq!(w.broker_offset, 120);
        assert_eq!(w.pull_offset, None);
        assert_eq!(stats.compute_total_diff(), 20);
        assert_eq!(stats.encode(), body.to_vec());
        // 5.x adds pullOffset; a non-integral TPS.
        let five = ConsumeStats {
            consume_tps: 12.5,
            offset_table: vec![(
                mq.clone(),
                OffsetWrapper {
                    pull_offset: Some(101),
                    ..*w
                },
            )],
        };
        let enc = String::from_utf8(five.encode()).unwrap();
        assert!(enc.starts_with(r#"{"consumeTps":12.5,"#), "{enc}");
        assert!(enc.contains(r#""lastTimestamp":1700000000000,"pullOffset":101}"#));
        assert_eq!(ConsumeStats::decode(enc.as_bytes()).unwrap(), five);
        assert_eq!(
            ConsumeStats::decode(b"{}").unwrap(),
            ConsumeStats::default()
        );
        assert!(ConsumeStats::decode(b"[").is_err());
    }

    #[test]
    fn reset_offset_body() {
        let b = ResetOffsetBody {
            offset_table: vec![
                (MessageQueue::new("T", "broker-a", 0), 5),
                (MessageQueue::new("T", "broker-a", 1), -1),
            ],
        };
        let enc = b.encode();
        assert_eq!(
            std::str::from_utf8(&enc).unwrap(),
            r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:5,{"brokerName":"broker-a","queueId":1,"topic":"T"}:-1}}"#
        );
        assert_eq!(ResetOffsetBody::decode(&enc).unwrap(), b);
    }

    #[test]
    fn time_span_body_ignores_the_string_getters() {
        let body = br#"{"consumeTimeSpanSet":[{"consumeTimeStamp":3,"consumeTimeStampStr":"x","delayTime":4,"maxTimeStamp":7,"maxTimeStampStr":"y","messageQueue":{"brokerName":"b","queueId":1,"topic":"T"},"minTimeStamp":1,"minTimeStampStr":"z"}]}"#;
        let b = QueryConsumeTimeSpanBody::decode(body).unwrap();
        let s = &b.consume_time_span_set[0];
        assert_eq!(s.delay_time, 4);
        assert_eq!(s.message_queue, Some(MessageQueue::new("T", "b", 1)));
        assert_eq!(
            std::str::from_utf8(&b.encode()).unwrap(),
            r#"{"consumeTimeSpanSet":[{"consumeTimeStamp":3,"delayTime":4,"maxTimeStamp":7,"messageQueue":{"brokerName":"b","queueId":1,"topic":"T"},"minTimeStamp":1}]}"#
        );
    }
}
