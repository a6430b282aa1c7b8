//! Retention (Apache's CleanCommitLogService semantics) and shutdown.
//!
//! - at a `deleteWhen` hour, segments older than `fileReservedTime` go;
//! - above `diskMaxUsedSpaceRatio` (75 %) they go at any hour;
//! - above `diskSpaceCleanForciblyRatio` (85 %, with `cleanFileForciblyEnable`)
//!   the oldest segments go even if not expired;
//! - above `diskSpaceWarningLevelRatio` (90 %) appends are refused with
//!   [`StoreError::DiskFull`] until usage drops.
//!
//! At most `delete_batch_max` segments go per pass, never the one being
//! written. Consume-queue min offsets then move past the deleted range, and
//! index files that only point into it are removed.

use super::*;

impl ShardStore {
    /// One retention pass.
    pub async fn retention_once(&self) -> Result<RetentionReport> {
        let cfg = &self.inner.cfg;
        let used = self
            .inner
            .env
            .usage
            .used_percent(&cfg.root)
            .map_err(|e| StoreError::io("statvfs", &cfg.root, e))?;
        let full = used >= cfg.disk_refuse_ratio;
        if full != self.inner.disk_full.get() {
            tracing::warn!(
                shard = self.inner.shard,
                used,
                full,
                "disk-full state changed"
            );
        }
        self.inner.disk_full.set(full);
        let now_ms = self.inner.env.clock.now_ms();
        let time_up = cfg.delete_when.contains(&self.inner.env.clock.local_hour());
        let space_full = used > cfg.disk_max_used_ratio;
        let clean_now = cfg.clean_forcibly && used >= cfg.disk_force_clean_ratio;
        let mut report = RetentionReport {
            disk_used_percent: used,
            disk_full: full,
            ..Default::default()
        };
        if time_up || space_full || clean_now {
            let mut doomed_below = self.doomed_below(now_ms, clean_now)?;
            // Keep what the broker still needs; it rolls it forward.
            let floor = self
                .inner
                .retention_floor
                .borrow()
                .as_ref()
                .and_then(|f| f());
            if let (Some(below), Some(floor)) = (doomed_below, floor) {
                let s = self.inner.st.borrow();
                let keep_from = s.log.area.segment_start(floor);
                doomed_below =
                    (keep_from.min(below) > s.log.min_offset().0).then(|| keep_from.min(below));
            }
            if let Some(below) = doomed_below {
                // Never delete bytes that are not yet on disk.
                if self.inner.st.borrow().log.area.written_pos() < below {
                    self.flush_round(false).await?;
                }
                let before = self.inner.st.borrow().log.area.segment_starts().len();
                let new_min = self
                    .inner
                    .st
                    .borrow_mut()
                    .log
                    .area
                    .delete_segments_below(below)?;
                report.segments_deleted =
                    before - self.inner.st.borrow().log.area.segment_starts().len();
                self.advance_queue_mins(LogOffset(new_min)).await?;
                // Under the derived lock: a write in progress refers to
                // sealed index files by position.
                let _g = self.inner.derived_lock.lock().await;
                self.inner.st.borrow_mut().index.delete_below(new_min)?;
                tracing::info!(
                    shard = self.inner.shard,
                    deleted = report.segments_deleted,
                    used,
                    "commitlog segments deleted"
                );
            }
        }
        report.log_min_offset = self.inner.st.borrow().log.min_offset().0;
        Ok(report)
    }

    /// The commitlog offset below which retention would delete segments now
    /// (expired ones, or any with `clean_now`), ignoring the floor.
    fn doomed_below(&self, now_ms: i64, clean_now: bool) -> Result<Option<u64>> {
        let cfg = &self.inner.cfg;
        let keep_secs = cfg.file_reserved_hours as i64 * 3600;
        let s = self.inner.st.borrow();
        let area = &s.log.area;
        let active = area.segment_start(area.write_pos());
        let mut below = None;
        for start in area.segment_starts().into_iter().take(cfg.delete_batch_max) {
            if start >= active {
                break;
            }
            let expired = area.segment_modified_secs(start)? + keep_secs <= now_ms / 1000;
            if !(expired || clean_now) {
                break;
            }
            below = Some(start + area.segment_bytes());
        }
        Ok(below)
    }

    /// Where retention will cut soon: segments that are expired, or that
    /// the disk watermark would take, end below the returned offset. The
    /// broker rolls its pending timers out of that range.
    pub fn retention_horizon(&self) -> Result<Option<u64>> {
        let cfg = &self.inner.cfg;
        let used = self
            .inner
            .env
            .usage
            .used_percent(&cfg.root)
            .map_err(|e| StoreError::io("statvfs", &cfg.root, e))?;
        let clean_now = cfg.clean_forcibly && used >= cfg.disk_force_clean_ratio;
        self.doomed_below(self.inner.env.clock.now_ms(), clean_now)
    }

    /// Moves each queue's min offset to its first unit at or above `log_min`.
    async fn advance_queue_mins(&self, log_min: LogOffset) -> Result<()> {
        for key in self.queues() {
            let (mut lo, hi) = (self.min_offset(&key).0, self.max_offset(&key).0);
            // Binary search the first unit whose record still exists.
            let mut h = hi;
            while lo < h {
                let mid = lo + (h - lo) / 2;
                let u = self.read_units(&key, QueueOffset(mid), 1).await?;
                match u.first() {
                    Some(u) if u.log_offset >= log_min => h = mid,
                    Some(_) => lo = mid + 1,
                    None => break,
                }
            }
            if let Some(q) = self.inner.st.borrow_mut().queues.get_mut(&key) {
                q.advance_min(QueueOffset(lo))?;
            }
        }
        Ok(())
    }

    /// Clean shutdown: refuse new appends, write everything back, record a
    /// clean checkpoint, stop the background tasks.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.stopping.set(true);
        let r = self.checkpoint_now(true).await;
        // A segment being created ahead of need is finished, not left
        // short; a fill of the active segment stops at its next write.
        self.inner.progress.notify_all();
        while self.inner.precreating.get().is_some() || self.inner.active_fill.get().is_some() {
            self.inner.progress.wait().await;
        }
        self.inner.flush_kick.notify();
        for t in self.inner.tasks.borrow_mut().drain(..) {
            drop(t);
        }
        r
    }
}
