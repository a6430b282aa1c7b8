//! A shard's commitlog: RocketMQ records appended to a segmented area, closed
//! into checksummed rounds, written back with direct I/O.
//!
//! **Rounds.** Every flush closes the bytes appended since the previous
//! flush with a 32-byte *round marker* (below). The marker carries a CRC32
//! over the round's records, so recovery can tell a round that reached the
//! disk whole from one that was torn, including damage the record format
//! itself cannot see (properties are not covered by BODYCRC). Markers sit
//! between records; consume queues never point at them, so pulls never serve
//! them. A record is acknowledged under SYNC_FLUSH only after the round that
//! contains it, marker included, was written and fdatasynced.
//!
//! The round CRC skips the record bodies (flag [`ROUND_CRC_SKIPS_BODIES`]):
//! each body is covered by its record's BODYCRC, which recovery checks, and
//! the BODYCRC field itself is in the round CRC. Every byte of a round is
//! still checked once, and an append computes one CRC pass over its body
//! instead of two. Markers without the flag (written before it existed)
//! checksum every byte of the round; recovery reads both.
//!
//! ```text
//! marker: i32 TOTALSIZE=32 | i32 MAGIC=0x524D5121 | u64 round start | u32 generation
//!         | u32 round crc | u32 flags | u32 crc32(marker[0..28])
//! ```
//!
//! **Generations.** Every start of the store is a new generation (recorded
//! in the checkpoint) and every marker carries it. Along the log the
//! generations never decrease, so a round left on disk by an earlier life,
//! past a point where recovery truncated, is never taken for a round of a
//! later one.
//!
//! **Segment end.** When a batch (plus a marker and the smallest blank) does
//! not fit in the segment, the round is closed with a marker, then a blank
//! record (TOTALSIZE = bytes left, MAGIC = 0xCBD43194) fills the segment,
//! as in RocketMQ: no record straddles two segments.

use crate::error::{Result, StoreError};
use crate::offset::LogOffset;
use crate::record::{self, RecordDefect, BLANK_MIN_BYTES, MAGIC_BLANK, MAGIC_V1, MAGIC_V2};
use crate::segmented::SegmentedLog;

pub const MARKER_BYTES: usize = 32;
pub const MAGIC_ROUND: i32 = 0x524D_5121;

/// Marker flag: the round CRC covers every byte of the round's records
/// except their bodies ([`round_update`]). Without it (markers written
/// before the flag existed), it covers every byte of the round.
pub const ROUND_CRC_SKIPS_BODIES: u32 = 1;

/// Adds one record to a round checksum that skips bodies: the bytes before
/// and after `body`.
pub fn round_update(h: &mut crc32fast::Hasher, record: &[u8], body: std::ops::Range<usize>) {
    h.update(&record[..body.start]);
    h.update(&record[body.end..]);
}

/// Encodes the marker that closes the round `[round_start, marker position)`.
pub fn encode_marker(
    round_start: u64,
    generation: u32,
    round_crc: u32,
    flags: u32,
) -> [u8; MARKER_BYTES] {
    let mut m = [0u8; MARKER_BYTES];
    m[0..4].copy_from_slice(&(MARKER_BYTES as i32).to_be_bytes());
    m[4..8].copy_from_slice(&MAGIC_ROUND.to_be_bytes());
    m[8..16].copy_from_slice(&round_start.to_be_bytes());
    m[16..20].copy_from_slice(&generation.to_be_bytes());
    m[20..24].copy_from_slice(&round_crc.to_be_bytes());
    m[24..28].copy_from_slice(&flags.to_be_bytes());
    let self_crc = crc32fast::hash(&m[0..28]);
    m[28..32].copy_from_slice(&self_crc.to_be_bytes());
    m
}

/// Append-side state of the commitlog.
pub struct Commitlog {
    pub area: SegmentedLog,
    pub shard: u16,
    /// Where the open round began (end of the last marker).
    round_start: u64,
    round_crc: crc32fast::Hasher,
    /// Every byte below is written and fdatasynced.
    durable_pos: u64,
    poisoned: Option<String>,
    pub last_store_timestamp: i64,
    /// This life's generation, written into every marker.
    generation: u32,
}

impl Commitlog {
    pub fn new(
        area: SegmentedLog,
        shard: u16,
        end: u64,
        last_store_timestamp: i64,
        generation: u32,
    ) -> Self {
        Commitlog {
            area,
            shard,
            round_start: end,
            round_crc: crc32fast::Hasher::new(),
            durable_pos: end,
            poisoned: None,
            last_store_timestamp,
            generation,
        }
    }

    /// After recovery truncated the log at `end` (a round boundary).
    pub fn restart_rounds_at(&mut self, end: u64) {
        assert_eq!(
            self.area.write_pos(),
            end,
            "tail installed at the recovered end"
        );
        self.round_start = end;
        self.round_crc = crc32fast::Hasher::new();
        self.durable_pos = end;
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn write_pos(&self) -> LogOffset {
        LogOffset(self.area.write_pos())
    }
    pub fn durable_pos(&self) -> u64 {
        self.durable_pos
    }
    pub fn round_start(&self) -> u64 {
        self.round_start
    }
    pub fn min_offset(&self) -> LogOffset {
        LogOffset(self.area.min_pos())
    }

    pub fn check_poisoned(&self) -> Result<()> {
        match &self.poisoned {
            Some(c) => Err(StoreError::Poisoned {
                shard: self.shard,
                cause: c.clone(),
            }),
            None => Ok(()),
        }
    }

    /// After a failed write or fdatasync nothing more is acknowledged.
    pub fn poison(&mut self, cause: String) {
        tracing::error!(shard = self.shard, %cause, "commitlog poisoned");
        if self.poisoned.is_none() {
            self.poisoned = Some(cause);
        }
    }

    /// Bytes of tail-cache room an append of `len` bytes needs (including a
    /// possible segment roll and the marker that will close its round).
    pub fn room_needed(&self, len: usize) -> usize {
        let room = self.area.segment_room() as usize;
        if len + MARKER_BYTES + BLANK_MIN_BYTES <= room {
            len + MARKER_BYTES
        } else {
            room + len + MARKER_BYTES
        }
    }

    pub fn has_room(&self, len: usize) -> bool {
        self.area.has_room(self.room_needed(len))
    }

    /// Makes sure `len` bytes fit in the current segment, rolling to the next
    /// one (marker + blank) if not. Returns the position of the append.
    pub fn prepare_append(&mut self, len: usize) -> Result<LogOffset> {
        let seg = self.area.segment_bytes() as usize;
        if len + MARKER_BYTES + BLANK_MIN_BYTES > seg {
            return Err(StoreError::MessageIllegal(format!(
                "append of {len} bytes does not fit in a {seg}-byte commitlog segment"
            )));
        }
        let room = self.area.segment_room() as usize;
        if len + MARKER_BYTES + BLANK_MIN_BYTES > room {
            self.close_round();
            let left = self.area.segment_room() as usize;
            assert!(
                left >= BLANK_MIN_BYTES,
                "segment reserve for the blank record"
            );
            let mut blank = [0u8; BLANK_MIN_BYTES];
            blank[0..4].copy_from_slice(&(left as i32).to_be_bytes());
            blank[4..8].copy_from_slice(&MAGIC_BLANK.to_be_bytes());
            self.area.append(&blank);
            let next = self.area.segment_start(self.area.write_pos()) + self.area.segment_bytes();
            self.area.skip_to(next);
            // The blank and its padding belong to no round: the next round starts here.
            self.round_start = next;
            self.round_crc = crc32fast::Hasher::new();
        }
        Ok(self.write_pos())
    }

    /// Adds an encoded record, whose body is at `body`, to the open round's
    /// checksum (before [`Self::append_records`] appends it).
    pub fn checksum_record(&mut self, record: &[u8], body: std::ops::Range<usize>) {
        round_update(&mut self.round_crc, record, body);
    }

    /// Appends encoded records (prepared with [`Self::prepare_append`], each
    /// added to the round with [`Self::checksum_record`]).
    pub fn append_records(&mut self, bytes: &[u8]) {
        self.area.append(bytes);
    }

    /// Closes the open round with a marker, if it holds anything.
    pub fn close_round(&mut self) {
        if self.area.write_pos() == self.round_start {
            return;
        }
        let crc = std::mem::replace(&mut self.round_crc, crc32fast::Hasher::new()).finalize();
        let m = encode_marker(
            self.round_start,
            self.generation,
            crc,
            ROUND_CRC_SKIPS_BODIES,
        );
        self.area.append(&m);
        self.round_start = self.area.write_pos();
    }

    pub fn set_durable(&mut self, pos: u64) {
        assert!(pos <= self.area.written_pos(), "durable beyond written");
        if pos > self.durable_pos {
            self.durable_pos = pos;
        }
    }
}

/// What recovery finds at a position of the log. Each observation maps to
/// exactly one decision (see [`classify`] and the table test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStep {
    /// A well-formed record of this many bytes; kept only if a marker closes its round.
    Record(usize),
    /// A marker whose checksum matches the round: everything before it is
    /// kept. Its generation is the least the next marker may carry.
    RoundClosed { generation: u32 },
    /// A blank record at the end of a segment, after a closed round: continue in the next segment.
    NextSegment,
    /// The log ends here; anything after the last closed round is discarded.
    End(EndReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// Zero bytes: nothing was ever written here.
    Unwritten,
    /// Fewer bytes than a header before the segment end.
    ShortTail,
    BadMagic,
    /// TOTALSIZE out of range for a record, marker or blank.
    BadSize,
    /// A record whose fields do not add up, or are not UTF-8.
    Malformed,
    BodyCrc,
    /// PHYSICALOFFSET is not the record's position (stale bytes of an earlier life).
    WrongOffset,
    /// A marker that is torn, stale, or whose round checksum does not match.
    BadMarker,
    /// A marker of an older generation than one already passed, or of a
    /// generation that has not happened yet: bytes of an earlier life.
    StaleGeneration,
    /// A blank record inside an open round, or of the wrong length.
    BadBlank,
}

/// Classifies the bytes at log position `pos`. `bytes` starts at `pos` and
/// holds everything up to the segment end or at least a whole record;
/// `seg_left` is the number of bytes left in the segment; `round_start` and
/// `round_crc` describe the round opened by the last closed marker
/// (`round_crc(flags)`: its checksum as a marker with these flags computes it);
/// `generations` is the range a marker here may carry (from the last
/// accepted marker's generation to the current life's, exclusive).
pub fn classify(
    bytes: &[u8],
    pos: u64,
    seg_left: usize,
    round_start: u64,
    generations: std::ops::Range<u32>,
    round_crc: impl FnOnce(u32) -> u32,
) -> ScanStep {
    if seg_left < 8 || bytes.len() < 8 {
        return ScanStep::End(EndReason::ShortTail);
    }
    let size = i32::from_be_bytes(bytes[0..4].try_into().expect("4"));
    let magic = i32::from_be_bytes(bytes[4..8].try_into().expect("4"));
    if size == 0 && magic == 0 {
        return ScanStep::End(EndReason::Unwritten);
    }
    match magic {
        MAGIC_BLANK => {
            if size as i64 == seg_left as i64 && pos == round_start {
                ScanStep::NextSegment
            } else {
                ScanStep::End(EndReason::BadBlank)
            }
        }
        MAGIC_ROUND => {
            if size as usize != MARKER_BYTES || bytes.len() < MARKER_BYTES {
                return ScanStep::End(EndReason::BadMarker);
            }
            let m = &bytes[..MARKER_BYTES];
            let self_crc = u32::from_be_bytes(m[28..32].try_into().expect("4"));
            let start = u64::from_be_bytes(m[8..16].try_into().expect("8"));
            let generation = u32::from_be_bytes(m[16..20].try_into().expect("4"));
            let crc = u32::from_be_bytes(m[20..24].try_into().expect("4"));
            let flags = u32::from_be_bytes(m[24..28].try_into().expect("4"));
            if crc32fast::hash(&m[0..28]) != self_crc
                || start != round_start
                || pos == round_start
                || flags & !ROUND_CRC_SKIPS_BODIES != 0
            {
                return ScanStep::End(EndReason::BadMarker);
            }
            if !generations.contains(&generation) {
                return ScanStep::End(EndReason::StaleGeneration);
            }
            if round_crc(flags) != crc {
                return ScanStep::End(EndReason::BadMarker);
            }
            ScanStep::RoundClosed { generation }
        }
        MAGIC_V1 | MAGIC_V2 => {
            if size < 48 || size as usize > seg_left {
                return ScanStep::End(EndReason::BadSize);
            }
            if bytes.len() < size as usize {
                return ScanStep::End(EndReason::ShortTail);
            }
            match record::decode(bytes, true) {
                Ok(v) if v.physical_offset as u64 == pos => ScanStep::Record(v.total_size),
                Ok(_) => ScanStep::End(EndReason::WrongOffset),
                Err(RecordDefect::BodyCrc) => ScanStep::End(EndReason::BodyCrc),
                Err(RecordDefect::BadMagic(_)) => ScanStep::End(EndReason::BadMagic),
                Err(_) => ScanStep::End(EndReason::Malformed),
            }
        }
        _ => ScanStep::End(EndReason::BadMagic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offset::QueueOffset;
    use crate::record::{encode_into, MessageInput};

    fn rec(pos: u64) -> Vec<u8> {
        let m = MessageInput::simple("T", 0, b"payload", "KEYS\u{1}k");
        let mut out = Vec::new();
        let body = encode_into(&mut out, &m, QueueOffset(0), LogOffset(pos), 1);
        assert_eq!(&out[body], b"payload");
        out
    }

    #[test]
    fn the_round_checksum_covers_every_byte_but_the_body() {
        let good = rec(100);
        let body = 88..95;
        let sum = |r: &[u8]| {
            let mut h = crc32fast::Hasher::new();
            round_update(&mut h, r, body.clone());
            h.finalize()
        };
        let mut manual = good[..88].to_vec();
        manual.extend_from_slice(&good[95..]);
        assert_eq!(sum(&good), crc32fast::hash(&manual));
        // Any byte outside the body changes it, the BODYCRC field included;
        // a body byte does not (BODYCRC covers it).
        for i in (0..good.len()).filter(|i| !body.contains(i)) {
            let mut torn = good.clone();
            torn[i] ^= 0x40;
            assert_ne!(sum(&torn), sum(&good), "byte {i}");
        }
        let mut in_body = good.clone();
        in_body[90] ^= 1;
        assert_eq!(sum(&in_body), sum(&good));
    }

    #[test]
    fn markers_of_an_older_or_future_generation_are_stale() {
        let old = encode_marker(100, 2, 0xABCD, ROUND_CRC_SKIPS_BODIES);
        let future = encode_marker(100, 7, 0xABCD, ROUND_CRC_SKIPS_BODIES);
        for m in [old, future] {
            assert_eq!(
                classify(&m, 300, 4096, 100, 3..7, |_| 0xABCD),
                ScanStep::End(EndReason::StaleGeneration)
            );
        }
    }

    /// The recovery decision table: one row per observation, each with exactly one decision.
    #[test]
    fn recovery_decision_table() {
        let good = rec(100);
        let mut bad_crc = good.clone();
        bad_crc[90] ^= 1; // in the body (which starts at byte 88)
        let mut torn_props = good.clone();
        let l = torn_props.len();
        torn_props[l - 1] = 0; // property byte lost: BODYCRC cannot see it, the marker can
        let mut bad_len = good.clone();
        bad_len[3] = bad_len[3].wrapping_add(1);
        let marker = encode_marker(100, 5, 0xABCD, ROUND_CRC_SKIPS_BODIES);
        // A marker written before the flag: its CRC is over every byte.
        let full_bytes_marker = encode_marker(100, 5, !0xABCD, 0);
        let unknown_flags = encode_marker(100, 5, 0xABCD, 2);
        let mut torn_marker = marker;
        torn_marker[10] ^= 1;
        let mut blank = vec![0u8; 64];
        blank[0..4].copy_from_slice(&64i32.to_be_bytes());
        blank[4..8].copy_from_slice(&MAGIC_BLANK.to_be_bytes());
        let zeros = vec![0u8; 64];
        let garbage = vec![0x5Au8; 64];

        type Row<'a> = (&'a str, &'a [u8], u64, usize, u64, u32, ScanStep);
        let gens = 3..7; // markers of generations 3..=6 are acceptable here
        let rows: Vec<Row> = vec![
            (
                "valid record",
                &good,
                100,
                4096,
                100,
                0,
                ScanStep::Record(good.len()),
            ),
            (
                "record at wrong position",
                &good,
                200,
                4096,
                100,
                0,
                ScanStep::End(EndReason::WrongOffset),
            ),
            (
                "body crc mismatch",
                &bad_crc,
                100,
                4096,
                100,
                0,
                ScanStep::End(EndReason::BodyCrc),
            ),
            (
                "torn properties parse as a record",
                &torn_props,
                100,
                4096,
                100,
                0,
                ScanStep::Record(good.len()),
            ),
            (
                "length mismatch",
                &bad_len,
                100,
                4096,
                100,
                0,
                ScanStep::End(EndReason::ShortTail),
            ),
            (
                "record longer than segment",
                &good,
                100,
                good.len() - 1,
                100,
                0,
                ScanStep::End(EndReason::BadSize),
            ),
            (
                "record cut short",
                &good[..good.len() - 3],
                100,
                4096,
                100,
                0,
                ScanStep::End(EndReason::ShortTail),
            ),
            (
                "zeros",
                &zeros,
                100,
                4096,
                100,
                0,
                ScanStep::End(EndReason::Unwritten),
            ),
            (
                "garbage",
                &garbage,
                100,
                4096,
                100,
                0,
                ScanStep::End(EndReason::BadMagic),
            ),
            (
                "segment tail under 8 bytes",
                &zeros,
                100,
                7,
                100,
                0,
                ScanStep::End(EndReason::ShortTail),
            ),
            (
                "marker closing its round",
                &marker,
                300,
                4096,
                100,
                0xABCD,
                ScanStep::RoundClosed { generation: 5 },
            ),
            (
                "marker without flags, full-bytes crc",
                &full_bytes_marker,
                300,
                4096,
                100,
                0xABCD,
                ScanStep::RoundClosed { generation: 5 },
            ),
            (
                "marker with unknown flags",
                &unknown_flags,
                300,
                4096,
                100,
                0xABCD,
                ScanStep::End(EndReason::BadMarker),
            ),
            (
                "marker with wrong round crc",
                &marker,
                300,
                4096,
                100,
                0xABCE,
                ScanStep::End(EndReason::BadMarker),
            ),
            (
                "marker of another round",
                &marker,
                300,
                4096,
                50,
                0xABCD,
                ScanStep::End(EndReason::BadMarker),
            ),
            (
                "torn marker",
                &torn_marker,
                300,
                4096,
                100,
                0xABCD,
                ScanStep::End(EndReason::BadMarker),
            ),
            (
                "empty round marker",
                &marker,
                100,
                4096,
                100,
                0xABCD,
                ScanStep::End(EndReason::BadMarker),
            ),
            (
                "blank at segment end after a closed round",
                &blank,
                500,
                64,
                500,
                0,
                ScanStep::NextSegment,
            ),
            (
                "blank inside an open round",
                &blank,
                500,
                64,
                400,
                0,
                ScanStep::End(EndReason::BadBlank),
            ),
            (
                "blank of the wrong length",
                &blank,
                500,
                128,
                500,
                0,
                ScanStep::End(EndReason::BadBlank),
            ),
        ];
        for (name, bytes, pos, left, round_start, crc, want) in rows {
            // The round's checksum as each kind of marker computes it.
            let round = |flags: u32| if flags == 0 { !crc } else { crc };
            let got = classify(bytes, pos, left, round_start, gens.clone(), round);
            assert_eq!(got, want, "row: {name}");
        }
    }
}
