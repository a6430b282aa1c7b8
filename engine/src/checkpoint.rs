//! The shard checkpoint: the point from which recovery replays the
//! commitlog, and the state of every derived structure at that point.
//!
//! Two files, `checkpoint.0` and `checkpoint.1`, written alternately (full
//! rewrite + fdatasync); the valid one with the higher sequence wins, so a
//! torn checkpoint write never loses the previous one.
//!
//! ```text
//! u32 magic "RMCK" | u32 total length | u64 seq | u16 shard | u16 shards | u32 flags (bit0 clean)
//! u64 log_resume | u64 log_min | i64 last_store_timestamp | u32 generation
//! u64 index_id | index header (i64 begin_ts, i64 end_ts, u64 begin_off, u64 end_off, u32 count)
//! u32 queue count, then per queue: u16 topic len, topic, u32 qid, u64 min, u64 max, u64 last_log_end
//! u32 crc32 of everything before
//! ```

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::disk::Disk;
use crate::error::{Result, StoreError};
use crate::index::IndexHeader;
use crate::limits::{IO_ALIGN, MAX_CHECKPOINT_BYTES, MAX_QUEUES_PER_SHARD, MAX_TOPIC_BYTES};

const MAGIC: u32 = 0x524D_434B;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueState {
    pub topic: String,
    pub queue_id: u32,
    pub min: u64,
    pub max: u64,
    pub last_log_end: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Checkpoint {
    pub seq: u64,
    pub shard: u16,
    pub shards: u16,
    /// Written by a clean shutdown: nothing past `log_resume` exists.
    pub clean: bool,
    /// A round boundary: every record below is durable and dispatched into
    /// the queues and the index recorded here.
    pub log_resume: u64,
    pub log_min: u64,
    pub last_store_timestamp: i64,
    /// The generation of the life that wrote this checkpoint (round markers carry it).
    pub generation: u32,
    pub index_id: u64,
    pub index_header: IndexHeader,
    pub queues: Vec<QueueState>,
}

impl Checkpoint {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(128 + self.queues.len() * 48);
        b.extend_from_slice(&MAGIC.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.shard.to_be_bytes());
        b.extend_from_slice(&self.shards.to_be_bytes());
        b.extend_from_slice(&(self.clean as u32).to_be_bytes());
        b.extend_from_slice(&self.log_resume.to_be_bytes());
        b.extend_from_slice(&self.log_min.to_be_bytes());
        b.extend_from_slice(&self.last_store_timestamp.to_be_bytes());
        b.extend_from_slice(&self.generation.to_be_bytes());
        b.extend_from_slice(&self.index_id.to_be_bytes());
        let h = &self.index_header;
        b.extend_from_slice(&h.begin_timestamp.to_be_bytes());
        b.extend_from_slice(&h.end_timestamp.to_be_bytes());
        b.extend_from_slice(&h.begin_log_offset.to_be_bytes());
        b.extend_from_slice(&h.end_log_offset.to_be_bytes());
        b.extend_from_slice(&h.count.to_be_bytes());
        b.extend_from_slice(&(self.queues.len() as u32).to_be_bytes());
        for q in &self.queues {
            b.extend_from_slice(&(q.topic.len() as u16).to_be_bytes());
            b.extend_from_slice(q.topic.as_bytes());
            b.extend_from_slice(&q.queue_id.to_be_bytes());
            b.extend_from_slice(&q.min.to_be_bytes());
            b.extend_from_slice(&q.max.to_be_bytes());
            b.extend_from_slice(&q.last_log_end.to_be_bytes());
        }
        let total = (b.len() + 4) as u32;
        b[4..8].copy_from_slice(&total.to_be_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b
    }

    /// Decodes a checkpoint; `None` when the bytes are not a whole valid one.
    pub fn decode(b: &[u8]) -> Option<Checkpoint> {
        let mut r = Reader { b, pos: 0 };
        if r.u32()? != MAGIC {
            return None;
        }
        let total = r.u32()? as usize;
        if total < 12 || total > b.len() || total > MAX_CHECKPOINT_BYTES {
            return None;
        }
        let crc = u32::from_be_bytes(b[total - 4..total].try_into().ok()?);
        if crc32fast::hash(&b[..total - 4]) != crc {
            return None;
        }
        let mut r = Reader {
            b: &b[..total - 4],
            pos: 8,
        };
        let mut c = Checkpoint {
            seq: r.u64()?,
            shard: r.u16()?,
            shards: r.u16()?,
            clean: r.u32()? & 1 == 1,
            log_resume: r.u64()?,
            log_min: r.u64()?,
            last_store_timestamp: r.u64()? as i64,
            generation: r.u32()?,
            index_id: r.u64()?,
            index_header: IndexHeader {
                begin_timestamp: r.u64()? as i64,
                end_timestamp: r.u64()? as i64,
                begin_log_offset: r.u64()?,
                end_log_offset: r.u64()?,
                count: r.u32()?,
            },
            queues: Vec::new(),
        };
        let n = r.u32()? as usize;
        if n > MAX_QUEUES_PER_SHARD {
            return None;
        }
        for _ in 0..n {
            let tl = r.u16()? as usize;
            if tl == 0 || tl > MAX_TOPIC_BYTES {
                return None;
            }
            let topic = std::str::from_utf8(r.take(tl)?).ok()?.to_string();
            c.queues.push(QueueState {
                topic,
                queue_id: r.u32()?,
                min: r.u64()?,
                max: r.u64()?,
                last_log_end: r.u64()?,
            });
        }
        Some(c)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn slot_path(dir: &Path, slot: u64) -> PathBuf {
    dir.join(format!("checkpoint.{slot}"))
}

/// Reads the newest valid checkpoint of a shard directory, if any.
pub async fn load(disk: &Rc<dyn Disk>, dir: &Path) -> Result<Option<Checkpoint>> {
    let mut best: Option<Checkpoint> = None;
    for slot in 0..2 {
        let path = slot_path(dir, slot);
        let Ok(f) = disk.open(&path, None).await else {
            continue;
        };
        let len = (f.len() as usize).min(MAX_CHECKPOINT_BYTES);
        let data = f
            .read_at(0, len)
            .await
            .map_err(|e| StoreError::io("read checkpoint", &path, e))?;
        match Checkpoint::decode(&data) {
            Some(c) if best.as_ref().is_none_or(|b| c.seq > b.seq) => best = Some(c),
            Some(_) => {}
            None => {
                tracing::warn!(path = %path.display(), "checkpoint copy invalid, using the other")
            }
        }
    }
    Ok(best)
}

/// Writes `cp` into the slot its sequence selects and syncs it.
pub async fn store(disk: &Rc<dyn Disk>, dir: &Path, cp: &Checkpoint) -> Result<()> {
    let path = slot_path(dir, cp.seq % 2);
    let mut bytes = cp.encode();
    let len = bytes.len().div_ceil(IO_ALIGN) * IO_ALIGN;
    bytes.resize(len, 0);
    let mut f = disk
        .open(&path, Some(len as u64))
        .await
        .map_err(|e| StoreError::io("open checkpoint", &path, e))?;
    if f.len() < len as u64 {
        // Grew past the file: recreate it bigger (the other slot stays valid meanwhile).
        disk.remove_file(&path)
            .map_err(|e| StoreError::io("remove checkpoint", &path, e))?;
        f = disk
            .open(&path, Some(len as u64))
            .await
            .map_err(|e| StoreError::io("create checkpoint", &path, e))?;
    }
    f.write_at(0, &bytes)
        .await
        .map_err(|e| StoreError::io("write checkpoint", &path, e))?;
    f.sync()
        .await
        .map_err(|e| StoreError::io("fdatasync checkpoint", &path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let c = Checkpoint {
            seq: 7,
            shard: 1,
            shards: 2,
            clean: true,
            log_resume: 99,
            log_min: 0,
            last_store_timestamp: 5,
            generation: 9,
            index_id: 3,
            index_header: IndexHeader {
                count: 4,
                ..Default::default()
            },
            queues: vec![QueueState {
                topic: "T".into(),
                queue_id: 2,
                min: 1,
                max: 9,
                last_log_end: 1000,
            }],
        };
        let b = c.encode();
        assert_eq!(Checkpoint::decode(&b), Some(c));
        for i in 0..b.len() {
            let mut x = b.clone();
            x[i] ^= 0x10;
            assert!(Checkpoint::decode(&x).is_none(), "flip at {i}");
        }
        assert!(Checkpoint::decode(&b[..b.len() - 1]).is_none());
    }
}
