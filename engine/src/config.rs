//! Engine configuration: Apache's store keys with their defaults, plus
//! ringmq's own (shards, cache sizes). Every timing is configurable so tests
//! can run fast.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Result, StoreError};
use crate::limits::{DEFAULT_MAX_BODY_BYTES, IO_ALIGN, MAX_SHARDS};

/// When an append is acknowledged (`flushDiskType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// After the record is in the shard's memory; written back within `flush_interval`.
    Async,
    /// After the record is written and fdatasynced (group commit).
    Sync,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// The store root (`storePathRootDir`, `--data`).
    pub root: PathBuf,
    pub shards: u16,
    pub flush_mode: FlushMode,
    /// `mappedFileSizeCommitLog` (1 GiB).
    pub commitlog_segment_bytes: u64,
    /// Tail-cache chunk size of the commitlog.
    pub commitlog_chunk_bytes: usize,
    /// Newest bytes of each shard's commitlog kept in memory.
    pub tail_cache_bytes: u64,
    /// ASYNC_FLUSH: longest time appended bytes wait before they are written.
    pub flush_interval: Duration,
    /// ASYNC_FLUSH: dirty bytes that trigger a write at once.
    pub flush_threshold_bytes: usize,
    /// SYNC_FLUSH: whole blocks appended but not yet written that an append
    /// starts writing at once, before its group commit (0: the group commit
    /// writes everything).
    pub sync_stream_bytes: usize,
    /// Write zeros over each commitlog segment created ahead of need, so
    /// that group commits into it do not also write file metadata (see
    /// [`crate::zero_fill`]). `None`: under SYNC_FLUSH only.
    pub zero_fill_log_segments: Option<bool>,
    /// Most appended-but-unwritten commitlog bytes before appends wait.
    pub max_dirty_bytes: u64,
    /// ASYNC_FLUSH: longest time written bytes wait for an fdatasync.
    pub async_sync_interval: Duration,
    /// Consume-queue units per segment (a multiple of 1024).
    pub cq_units_per_segment: u64,
    /// Consume-queue tail-cache chunks (1024 units each) per queue.
    pub cq_cache_chunks: usize,
    /// Index hash slots / entries per index file.
    pub index_slots: u32,
    pub index_entries: u32,
    /// Interval of checkpoints (consume queues and index made durable).
    pub checkpoint_interval: Duration,
    /// `maxMessageSize`.
    pub max_body_bytes: usize,
    /// How far behind the log end a message still counts as "in memory"
    /// for Apache's first-offset rule (`accessMessageInMemoryMaxRatio`, 40 %
    /// of physical RAM).
    pub in_memory_bytes: u64,
    /// `fileReservedTime`, hours.
    pub file_reserved_hours: u32,
    /// `deleteWhen`: hours of the day (local time) when expired segments go.
    pub delete_when: Vec<u32>,
    /// `diskMaxUsedSpaceRatio` (%): above it, expired segments go at any hour.
    pub disk_max_used_ratio: u32,
    /// `diskSpaceCleanForciblyRatio` (%): above it (with `clean_forcibly`), unexpired segments go too.
    pub disk_force_clean_ratio: u32,
    /// `diskSpaceWarningLevelRatio` (%): above it, writes are refused.
    pub disk_refuse_ratio: u32,
    /// `cleanFileForciblyEnable`.
    pub clean_forcibly: bool,
    /// `deleteCommitLogFilesInterval` batch: most segments deleted per check.
    pub delete_batch_max: usize,
    /// `cleanResourceInterval`.
    pub retention_interval: Duration,
}

impl StoreConfig {
    pub fn new(root: impl Into<PathBuf>, shards: u16) -> Self {
        StoreConfig {
            root: root.into(),
            shards,
            flush_mode: FlushMode::Async,
            commitlog_segment_bytes: 1 << 30,
            commitlog_chunk_bytes: 1 << 20,
            tail_cache_bytes: 128 << 20,
            flush_interval: Duration::from_millis(10),
            flush_threshold_bytes: 2 << 20,
            sync_stream_bytes: 256 << 10,
            zero_fill_log_segments: None,
            max_dirty_bytes: 32 << 20,
            async_sync_interval: Duration::from_millis(500),
            cq_units_per_segment: 307_200,
            cq_cache_chunks: 4,
            index_slots: 1 << 19,
            index_entries: 2 << 20,
            checkpoint_interval: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            in_memory_bytes: physical_memory() / 100 * 40,
            file_reserved_hours: 72,
            delete_when: vec![4],
            disk_max_used_ratio: 75,
            disk_force_clean_ratio: 85,
            disk_refuse_ratio: 90,
            clean_forcibly: true,
            delete_batch_max: 10,
            retention_interval: Duration::from_secs(10),
        }
    }

    /// Whether commitlog segments created ahead of need are zero-filled.
    pub fn zero_fills_log_segments(&self) -> bool {
        self.zero_fill_log_segments
            .unwrap_or(self.flush_mode == FlushMode::Sync)
    }

    /// A small configuration for tests: 1 MiB segments, small caches.
    pub fn small_for_tests(root: impl Into<PathBuf>, shards: u16) -> Self {
        StoreConfig {
            commitlog_segment_bytes: 1 << 20,
            commitlog_chunk_bytes: 64 << 10,
            tail_cache_bytes: 1 << 20,
            sync_stream_bytes: 16 << 10,
            cq_units_per_segment: 1024,
            cq_cache_chunks: 2,
            index_slots: 1024,
            index_entries: 4096,
            max_body_bytes: 64 << 10,
            checkpoint_interval: Duration::from_millis(200),
            ..StoreConfig::new(root, shards)
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(StoreError::Config(m));
        if self.shards == 0 || self.shards > MAX_SHARDS {
            return bad(format!("shards must be in 1..={MAX_SHARDS}"));
        }
        if !self.commitlog_chunk_bytes.is_multiple_of(IO_ALIGN)
            || !self
                .commitlog_segment_bytes
                .is_multiple_of(self.commitlog_chunk_bytes as u64)
        {
            return bad(
                "commitlog segment must be a multiple of the chunk size (a multiple of 4096)"
                    .into(),
            );
        }
        let max_record = self.max_body_bytes + crate::limits::RECORD_OVERHEAD_ALLOWANCE;
        if self.commitlog_segment_bytes < 2 * max_record as u64 {
            return bad(format!(
                "commitlog segment of {} bytes cannot hold two largest records ({max_record} bytes)",
                self.commitlog_segment_bytes
            ));
        }
        if self.tail_cache_bytes < 2 * (max_record as u64 + self.commitlog_chunk_bytes as u64) {
            return bad(
                "tail cache must hold at least two largest records plus a chunk each".into(),
            );
        }
        if self.disk_max_used_ratio > 95
            || self.disk_force_clean_ratio > 95
            || self.disk_refuse_ratio > 99
        {
            return bad("disk ratios out of range".into());
        }
        Ok(())
    }

    pub fn tail_cache_chunks(&self) -> usize {
        (self.tail_cache_bytes / self.commitlog_chunk_bytes as u64).max(2) as usize
    }
}

/// Physical memory of the machine in bytes (0 if unknown).
pub fn physical_memory() -> u64 {
    // SAFETY: sysconf only reads system configuration.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || page <= 0 {
        return 0;
    }
    pages as u64 * page as u64
}
