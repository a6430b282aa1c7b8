//! A consume queue: the per-(topic, queueId) index of 20-byte units
//! `(commitlog offset i64, record size i32, tags code i64)` (storage-format §4).
//! Unit `q` lives at byte `q * 20` of the queue's address space; segments hold
//! a multiple of 1024 units so that units never straddle a 4 KiB-aligned chunk.

use std::path::Path;
use std::rc::Rc;

use crate::disk::Disk;
use crate::error::{Result, StoreError};
use crate::offset::{LogOffset, QueueOffset};
use crate::segmented::{Geometry, SegmentedLog};

/// Size of one unit.
pub const CQ_UNIT_BYTES: usize = 20;
/// Units per tail-cache chunk: 1024 units = 20 KiB = 5 blocks.
pub const CQ_UNITS_PER_CHUNK: usize = 1024;
const CHUNK_BYTES: usize = CQ_UNIT_BYTES * CQ_UNITS_PER_CHUNK;
const _: () = assert!(CHUNK_BYTES.is_multiple_of(crate::limits::IO_ALIGN));

/// One decoded unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CqUnit {
    pub log_offset: LogOffset,
    pub size: u32,
    pub tags_code: i64,
}

impl CqUnit {
    pub fn encode(&self) -> [u8; CQ_UNIT_BYTES] {
        let mut b = [0u8; CQ_UNIT_BYTES];
        b[0..8].copy_from_slice(&(self.log_offset.0 as i64).to_be_bytes());
        b[8..12].copy_from_slice(&(self.size as i32).to_be_bytes());
        b[12..20].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> CqUnit {
        assert!(b.len() >= CQ_UNIT_BYTES);
        CqUnit {
            log_offset: LogOffset(i64::from_be_bytes(b[0..8].try_into().expect("8")) as u64),
            size: i32::from_be_bytes(b[8..12].try_into().expect("4")) as u32,
            tags_code: i64::from_be_bytes(b[12..20].try_into().expect("8")),
        }
    }
}

pub struct ConsumeQueue {
    pub area: SegmentedLog,
    /// Queue offset of the first unit still readable (moves with retention).
    min: QueueOffset,
    /// End of the commitlog range the last unit covers (idempotent re-dispatch).
    last_log_end: u64,
}

impl ConsumeQueue {
    pub fn geometry(units_per_segment: u64, cache_chunks: usize) -> Geometry {
        Geometry {
            segment_bytes: units_per_segment * CQ_UNIT_BYTES as u64,
            chunk_bytes: CHUNK_BYTES,
            max_chunks: cache_chunks,
        }
    }

    /// Opens a queue directory with `[min, max)` as recorded in the
    /// checkpoint (or empty for a queue the checkpoint does not know).
    pub async fn open(
        disk: Rc<dyn Disk>,
        dir: &Path,
        geo: Geometry,
        min: QueueOffset,
        max: QueueOffset,
        last_log_end: u64,
    ) -> Result<Self> {
        if !geo.segment_bytes.is_multiple_of(CQ_UNIT_BYTES as u64)
            || !(geo.segment_bytes / CQ_UNIT_BYTES as u64).is_multiple_of(CQ_UNITS_PER_CHUNK as u64)
        {
            return Err(StoreError::Config(format!(
                "consume queue units per segment must be a multiple of {CQ_UNITS_PER_CHUNK}"
            )));
        }
        let mut area = SegmentedLog::open(disk, dir, geo, 0).await?;
        let end = max.0 * CQ_UNIT_BYTES as u64;
        if end < area.min_pos() {
            // Everything we knew of was deleted: restart at max.
            area.restart_at(end);
        } else {
            area.reset_tail(end).await?;
        }
        let min = QueueOffset(min.0.max(area.min_pos() / CQ_UNIT_BYTES as u64).min(max.0));
        Ok(ConsumeQueue {
            area,
            min,
            last_log_end,
        })
    }

    pub fn min_offset(&self) -> QueueOffset {
        self.min
    }
    pub fn max_offset(&self) -> QueueOffset {
        QueueOffset(self.area.write_pos() / CQ_UNIT_BYTES as u64)
    }
    pub fn last_log_end(&self) -> u64 {
        self.last_log_end
    }

    /// Whether a unit fits in the tail cache now.
    pub fn has_room(&self, units: usize) -> bool {
        self.area.has_room(units * CQ_UNIT_BYTES)
    }

    /// Appends one unit. Re-dispatch of a record already covered is ignored.
    pub fn append(&mut self, unit: CqUnit, queue_offset: QueueOffset) -> bool {
        let end = unit.log_offset.0 + unit.size as u64;
        if end <= self.last_log_end {
            return false;
        }
        assert_eq!(
            queue_offset,
            self.max_offset(),
            "consume queue units are appended in queue-offset order"
        );
        self.area.append(&unit.encode());
        self.last_log_end = end;
        true
    }

    /// Units `[from, from+n)` served from memory, if cached.
    pub fn read_cached(&self, from: QueueOffset, n: usize) -> Option<Vec<CqUnit>> {
        let mut buf = Vec::with_capacity(n * CQ_UNIT_BYTES);
        if !self
            .area
            .read_cached(from.0 * CQ_UNIT_BYTES as u64, n * CQ_UNIT_BYTES, &mut buf)
        {
            return None;
        }
        Some(
            buf.chunks_exact(CQ_UNIT_BYTES)
                .map(CqUnit::decode)
                .collect(),
        )
    }

    /// How many units from `from` can be read in one disk read (stays in one segment).
    pub fn disk_span(&self, from: QueueOffset, want: usize) -> usize {
        let pos = from.0 * CQ_UNIT_BYTES as u64;
        let seg_end = self.area.segment_start(pos) + self.area.segment_bytes();
        let in_seg = ((seg_end - pos) / CQ_UNIT_BYTES as u64) as usize;
        want.min(in_seg)
    }

    /// Drops every unit at or after `offset` (recovery truncation).
    pub async fn truncate_to(&mut self, offset: QueueOffset, last_log_end: u64) -> Result<()> {
        let pos = offset.0 * CQ_UNIT_BYTES as u64;
        if pos < self.area.min_pos() {
            self.area.restart_at(pos);
        } else {
            self.area.reset_tail(pos).await?;
        }
        self.min = QueueOffset(self.min.0.min(offset.0));
        self.last_log_end = last_log_end;
        Ok(())
    }

    /// Moves the min offset forward (retention) and deletes whole segments below it.
    pub fn advance_min(&mut self, min: QueueOffset) -> Result<()> {
        if min <= self.min {
            return Ok(());
        }
        self.min = QueueOffset(min.0.min(self.max_offset().0));
        self.area
            .delete_segments_below(self.min.0 * CQ_UNIT_BYTES as u64)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_round_trip() {
        let u = CqUnit {
            log_offset: LogOffset(123456789),
            size: 254,
            tags_code: -5,
        };
        assert_eq!(CqUnit::decode(&u.encode()), u);
    }
}
