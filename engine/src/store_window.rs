//! The commitlog's write window: every commitlog write runs as its own task,
//! several at once, and the written mark advances over contiguous completed
//! writes only.
//!
//! A flush round used to start its writes, wait for all of them, then let
//! the next round start: the disk went idle between rounds and, on average,
//! had half as many writes queued as it can take. Now an ASYNC_FLUSH shard
//! under load keeps up to [`WINDOW_WRITES`] whole-chunk writes in flight and
//! starts the next one as each completes ([`ShardStore::top_up`]), the way a
//! plain streaming writer does.
//!
//! Two rules keep the on-disk bytes right:
//! - writes complete into the window in any order, but `written_pos` (and
//!   with it eviction, durability and acknowledgement) moves only over the
//!   oldest completed ones, in log order;
//! - no write may overlap a write still in flight. Only a write that ends
//!   inside a block (a round's tail) can be overlapped, by the next write,
//!   which rewrites that block whole; that next write waits for it
//!   ([`ShardStore::start_log_writes`]).

use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::Instant;

use super::ShardStore;
use crate::disk::SegmentFile;
use crate::error::{Result, StoreError};
use crate::limits::IO_ALIGN;
use crate::segmented::SegmentedLog;

/// Most commitlog writes in flight per shard when streaming (1 MiB each by
/// default): twice the plain writer of the benchmark's baseline, because a
/// completion is seen up to a reactor turn late and the next write goes out
/// a turn later still. (On this project's VM 8 and 16 measured alike:
/// 2.5–2.8 GB/s over two shards, `engine-bench --shards 2 --modes async`.)
pub(super) const WINDOW_WRITES: usize = 16;

/// A reopened log's active segment is zero-filled from this far past the
/// log's end (see [`ShardStore::start_active_segment_fill`]): the first
/// appends after the restart do not meet the fill at once.
const ACTIVE_FILL_MARGIN: u64 = crate::zero_fill::FILL_WRITE_BYTES as u64;

struct InFlight {
    /// The log position below which everything is written once this write
    /// and all older ones completed.
    end: u64,
    file: Rc<dyn SegmentFile>,
    started: Instant,
    done: Option<io::Result<()>>,
}

/// Commitlog writes in flight, oldest first.
#[derive(Default)]
pub(super) struct WriteWindow {
    writes: VecDeque<InFlight>,
    /// Sequence number of `writes[0]`.
    front_seq: u64,
    /// A write failed: nothing past it is ever counted as written.
    failed: bool,
}

impl WriteWindow {
    pub(super) fn in_flight(&self) -> usize {
        self.writes.len()
    }

    /// Whether the newest write is still in flight and ends inside a block
    /// (so that the next write, which rewrites that block, must wait).
    fn tail_block_busy(&self) -> bool {
        self.writes
            .back()
            .is_some_and(|w| w.done.is_none() && !w.end.is_multiple_of(IO_ALIGN as u64))
    }
}

impl ShardStore {
    /// Starts the commitlog writes of `[submitted_pos, end)`, each as its own
    /// task. Waits first if the previous write ends in the block this one
    /// starts with and is still in flight. Holds no borrow across an await;
    /// the caller holds the flush lock.
    pub(super) async fn start_log_writes(&self, end: u64) -> Result<()> {
        // Blocks the active segment's zero fill may be writing: stop it first.
        while self
            .inner
            .active_fill
            .get()
            .is_some_and(|fence| end > fence)
        {
            self.inner.st.borrow().log.check_poisoned()?;
            if !self.inner.active_fill_hurry.replace(true) {
                // The fill may be waiting for the log's I/O to go idle.
                self.inner.progress.notify_all();
            }
            self.inner.progress.wait().await;
        }
        while self.inner.window.borrow().tail_block_busy() {
            self.inner.st.borrow().log.check_poisoned()?;
            self.inner.progress.wait().await;
        }
        self.create_log_segments(end).await?;
        self.submit_log_writes(end);
        Ok(())
    }

    /// Starts the writes of `[submitted_pos, end)` now. The caller has made
    /// sure that the segments exist and that no write in flight ends in the
    /// block this one starts with.
    fn submit_log_writes(&self, end: u64) {
        let batch = {
            let mut s = self.inner.st.borrow_mut();
            if end <= s.log.area.submitted_pos() {
                return;
            }
            s.log.area.start_flush(end)
        };
        // All of the batch enters the window before its first write runs
        // (glommio runs a spawned task at once, up to its first pending
        // point, and a write may even complete there).
        let mut futs = Vec::with_capacity(batch.writes.len());
        {
            let mut w = self.inner.window.borrow_mut();
            for (write_end, fut, file) in batch.writes {
                let seq = w.front_seq + w.writes.len() as u64;
                w.writes.push_back(InFlight {
                    end: write_end,
                    file,
                    started: Instant::now(),
                    done: None,
                });
                futs.push((seq, fut));
            }
        }
        for (seq, fut) in futs {
            let me = self.clone();
            glommio::spawn_local(async move {
                let r = fut.await;
                me.write_done(seq, r);
            })
            .detach();
        }
    }

    /// SYNC_FLUSH, called by an append while its group is still forming:
    /// once `sync_stream_bytes` of whole blocks wait, starts their write,
    /// so that the group commit is left with the tail and the fdatasync.
    /// (The disk writes while the shard's CPU appends; with glommio's own
    /// submission both would run one after the other.) Never waits: when
    /// a segment must be created first or the block it starts with is
    /// still being written, the group commit writes these bytes instead.
    pub(super) fn stream_whole_blocks(&self) {
        let stream = self.inner.cfg.sync_stream_bytes as u64;
        let to = {
            let s = self.inner.st.borrow();
            let a = &s.log.area;
            let to = a.write_pos() - a.write_pos() % IO_ALIGN as u64;
            if stream == 0 || to < a.submitted_pos() + stream || s.log.check_poisoned().is_err() {
                return;
            }
            let w = self.inner.window.borrow();
            if w.in_flight() >= WINDOW_WRITES
                || w.tail_block_busy()
                || !a.missing_segments(to).is_empty()
                || self.inner.active_fill.get().is_some_and(|fence| to > fence)
            {
                return;
            }
            to
        };
        let mut st = self.inner.stats.get();
        st.streamed_writes += 1;
        self.inner.stats.set(st);
        self.submit_log_writes(to);
    }

    /// Creates (preallocated) the segments a write up to `end` needs, then
    /// starts creating the next one ahead of need.
    async fn create_log_segments(&self, end: u64) -> Result<()> {
        loop {
            let (missing, disk, seg_bytes) = {
                let s = self.inner.st.borrow();
                let a = &s.log.area;
                (a.missing_segments(end), a.disk(), a.segment_bytes())
            };
            let Some(&start) = missing.first() else { break };
            let mut st = self.inner.stats.get();
            st.segment_stalls += 1;
            self.inner.stats.set(st);
            if self.inner.precreating.get() == Some(start) {
                // Created ahead of need and not done yet: wait for it (and
                // cut its zero fill short).
                self.inner.precreate_hurry.set(true);
                self.inner.progress.wait().await;
                continue;
            }
            let path = self.inner.st.borrow().log.area.segment_path(start);
            let f = self.timed_segment_create(disk, path, seg_bytes).await?;
            self.install_log_segment(start, f);
        }
        self.precreate_next_segment();
        Ok(())
    }

    async fn timed_segment_create(
        &self,
        disk: Rc<dyn crate::disk::Disk>,
        path: std::path::PathBuf,
        seg_bytes: u64,
    ) -> Result<Rc<dyn SegmentFile>> {
        let t0 = Instant::now();
        let f = SegmentedLog::create_segment(disk, path, seg_bytes).await?;
        let mut st = self.inner.stats.get();
        st.segments_created += 1;
        st.segment_create_max_us = st
            .segment_create_max_us
            .max(t0.elapsed().as_micros() as u64);
        self.inner.stats.set(st);
        Ok(f)
    }

    /// Creates the segment after the one being written in the background,
    /// as Apache's `AllocateMappedFileService` does: creating and
    /// preallocating a segment takes tens of milliseconds (about 50 ms for
    /// 256 MiB on this project's VM), during which no write past the old
    /// segment could start. If it fails, the write that needs the segment
    /// creates it and reports the error. Under SYNC_FLUSH the segment is
    /// then filled with zeros ([`crate::zero_fill`]) until it is needed.
    fn precreate_next_segment(&self) {
        if self.inner.precreating.get().is_some() || self.inner.stopping.get() {
            return;
        }
        let (next, path, disk, seg_bytes) = {
            let s = self.inner.st.borrow();
            let a = &s.log.area;
            let next = a.segment_start(a.write_pos()) + a.segment_bytes();
            if a.segment_file(next).is_some() {
                return;
            }
            (next, a.segment_path(next), a.disk(), a.segment_bytes())
        };
        self.inner.precreating.set(Some(next));
        self.inner.precreate_hurry.set(false);
        let me = self.clone();
        glommio::spawn_local(async move {
            match me.timed_segment_create(disk, path, seg_bytes).await {
                Ok(f) => {
                    if me.inner.cfg.zero_fills_log_segments() {
                        me.fill_with_zeros(&f).await;
                    }
                    me.install_log_segment(next, f)
                }
                Err(e) => tracing::warn!(shard = me.inner.shard, error = %e, "creating the next commitlog segment ahead of need failed"),
            }
            me.inner.precreating.set(None);
            me.inner.progress.notify_all();
        })
        .detach();
    }

    fn install_log_segment(&self, start: u64, f: Rc<dyn SegmentFile>) {
        let mut s = self.inner.st.borrow_mut();
        s.log.area.install_segment(start, f);
    }

    /// A new log (no segment yet) that zero-fills its segments: its first
    /// segment is created and filled now, while the store opens, rather
    /// than created on demand by the first write and never filled (a fill
    /// then would delay that write by the whole fill). Returns whether the
    /// log was new.
    pub(super) async fn create_first_segment_filled(&self) -> Result<bool> {
        let (start, path, disk, seg_bytes) = {
            let s = self.inner.st.borrow();
            let a = &s.log.area;
            if !a.segment_starts().is_empty() {
                return Ok(false);
            }
            let start = a.segment_start(a.write_pos());
            (start, a.segment_path(start), a.disk(), a.segment_bytes())
        };
        let f = self.timed_segment_create(disk, path, seg_bytes).await?;
        self.fill_with_zeros(&f).await;
        self.install_log_segment(start, f);
        Ok(true)
    }

    /// A reopened log: zero-fills the blocks of its active segment that
    /// were never written, from a little past the log's end, in the
    /// background and on the same terms as a segment created ahead of need,
    /// so that the group commits of the rest of the segment overwrite
    /// written blocks (one device write per fdatasync instead of two, see
    /// [`crate::zero_fill`]). Before this, a restart after a fill that was
    /// cut short (or with zero fill off) left the rest of the segment to be
    /// written the slow way.
    ///
    /// The fill and the log write the same file, so they must never write
    /// the same block at once: the fill may have a write in flight at or
    /// past `active_fill` (its fence), and no log write may end past the
    /// fence. A log write that would stops the fill and waits for its write
    /// in flight; the fill also stops by itself once the log's end reaches
    /// the block it is about to write. Whatever the fill covered is zeros
    /// past the log's end, which recovery reads as the end of the log.
    pub(super) fn start_active_segment_fill(&self) {
        let Some((seg_start, from, file)) = ({
            let s = self.inner.st.borrow();
            let a = &s.log.area;
            let end = a.write_pos();
            let seg_start = a.segment_start(end);
            // Past the block the log rewrites next, with some room before
            // the fill's first write.
            let from = (end - seg_start + ACTIVE_FILL_MARGIN)
                .div_ceil(crate::zero_fill::FILL_WRITE_BYTES as u64)
                * crate::zero_fill::FILL_WRITE_BYTES as u64;
            a.segment_file(seg_start)
                .filter(|f| from < f.len())
                .map(|f| (seg_start, from, f))
        }) else {
            return;
        };
        // Only what was never written: a segment created ahead of need was
        // usually filled whole already, and filling it again would cost a
        // segment's worth of writes for nothing.
        let ranges = match file.unwritten_ranges(from) {
            Ok(r) if !r.is_empty() => r,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(shard = self.inner.shard, path = %file.path().display(), error = %e, "finding the unwritten blocks of the active commitlog segment failed");
                return;
            }
        };
        self.inner
            .active_fill
            .set(Some(seg_start + ranges[0].start));
        self.inner.active_fill_hurry.set(false);
        let me = self.clone();
        glommio::spawn_local(async move {
            let inner = &me.inner;
            let go_on = |pos: u64| async move {
                let at = seg_start + pos;
                loop {
                    if inner.active_fill_hurry.get()
                        || inner.stopping.get()
                        || inner.st.borrow().log.area.write_pos() > at
                    {
                        return false;
                    }
                    if inner.window.borrow().in_flight() == 0 && !inner.log_syncing.get() {
                        // Everything below `at` is filled and no fill write
                        // is in flight: the log may write up to here.
                        inner.active_fill.set(Some(at));
                        return true;
                    }
                    inner.progress.wait().await;
                }
            };
            let filled = crate::zero_fill::zero_fill(&file, &ranges, go_on).await;
            me.count_fill(&file, filled);
            inner.active_fill.set(None);
            inner.active_fill_hurry.set(false);
            inner.progress.notify_all();
        })
        .detach();
    }

    fn count_fill(&self, f: &Rc<dyn SegmentFile>, filled: io::Result<crate::zero_fill::Filled>) {
        match filled {
            Ok(filled) => {
                let mut st = self.inner.stats.get();
                st.zero_filled_bytes += filled.bytes;
                st.zero_fills_cut_short += filled.cut_short as u64;
                self.inner.stats.set(st);
            }
            Err(e) => {
                tracing::warn!(shard = self.inner.shard, path = %f.path().display(), error = %e, "zero-filling a commitlog segment failed")
            }
        }
    }

    /// Zero-fills a segment created ahead of need, until a write needs it
    /// or the store stops. A failed fill is only logged: the segment is
    /// still a valid preallocated segment (its blocks read as zeros) and
    /// the log's own writes to it report their errors.
    async fn fill_with_zeros(&self, f: &Rc<dyn SegmentFile>) {
        let inner = &self.inner;
        // (While the store opens nothing else runs: the fill goes at once.)
        // The log's own I/O goes first: a fill write waits until no log
        // write and no fdatasync is in flight, so that it does not queue in
        // front of a group commit.
        let go_on = |_| async {
            loop {
                if inner.precreate_hurry.get() || inner.stopping.get() {
                    return false;
                }
                if inner.window.borrow().in_flight() == 0 && !inner.log_syncing.get() {
                    return true;
                }
                inner.progress.wait().await;
            }
        };
        let filled =
            crate::zero_fill::zero_fill(f, std::slice::from_ref(&(0..f.len())), go_on).await;
        self.count_fill(f, filled);
    }

    /// A commitlog write completed: record it, move the written mark over
    /// the completed prefix, wake whoever waits for room or for the mark.
    fn write_done(&self, seq: u64, r: io::Result<()>) {
        let mut failure = None;
        let mut written = None;
        {
            let mut w = self.inner.window.borrow_mut();
            let i = (seq - w.front_seq) as usize;
            let entry = &mut w.writes[i];
            let us = entry.started.elapsed().as_micros() as u64;
            if let Err(e) = &r {
                failure = Some(StoreError::io(
                    "write",
                    entry.file.path(),
                    io::Error::new(e.kind(), e.to_string()),
                ));
            }
            entry.done = Some(r);
            let mut st = self.inner.stats.get();
            st.log_writes += 1;
            st.write_us += us;
            st.write_max_us = st.write_max_us.max(us);
            self.inner.stats.set(st);
            while !w.failed && w.writes.front().is_some_and(|f| f.done.is_some()) {
                let f = w.writes.pop_front().expect("front");
                w.front_seq += 1;
                match f.done.expect("done") {
                    Ok(()) => {
                        written = Some(f.end);
                        let mut u = self.inner.unsynced.borrow_mut();
                        if !u.iter().any(|x| Rc::ptr_eq(x, &f.file)) {
                            u.push(f.file);
                        }
                    }
                    Err(_) => w.failed = true,
                }
            }
        }
        if let Some(end) = written {
            self.inner.st.borrow_mut().log.area.finish_flush(end);
        }
        if let Some(e) = failure {
            self.poison(&e);
        }
        self.inner.progress.notify_all();
        // Streaming goes on as long as whole chunks wait (ASYNC_FLUSH).
        if self.whole_chunk_waiting() {
            self.inner.flush_kick.notify();
        }
        // SYNC_FLUSH: appends that ran while this write was in flight could
        // not stream (the block they start in was being written); their
        // whole blocks go out now, while the group commit that wrote this
        // block still syncs, not after the next one takes the lock.
        if self.inner.cfg.flush_mode == crate::config::FlushMode::Sync {
            self.stream_whole_blocks();
        }
    }

    /// Whether an ASYNC_FLUSH shard has a whole unwritten chunk to stream.
    fn whole_chunk_waiting(&self) -> bool {
        if self.inner.cfg.flush_mode != crate::config::FlushMode::Async {
            return false;
        }
        let s = self.inner.st.borrow();
        let cb = self.inner.cfg.commitlog_chunk_bytes as u64;
        let next = (s.log.area.submitted_pos() / cb + 1) * cb;
        next <= s.log.area.write_pos()
    }

    /// Waits until every commitlog byte below `pos` is written.
    pub(super) async fn wait_written(&self, pos: u64) -> Result<()> {
        loop {
            self.inner.st.borrow().log.check_poisoned()?;
            if self.inner.st.borrow().log.area.written_pos() >= pos {
                return Ok(());
            }
            self.inner.progress.wait().await;
        }
    }

    /// ASYNC_FLUSH write-behind: starts whole-chunk writes while there is
    /// room in the window. Never waits for a write; each completion calls
    /// for the next top-up.
    pub(super) async fn top_up(&self) -> Result<()> {
        let _g = self.inner.flush_lock.lock().await;
        self.inner.st.borrow().log.check_poisoned()?;
        let cb = self.inner.cfg.commitlog_chunk_bytes as u64;
        loop {
            let next = {
                let w = self.inner.window.borrow();
                if w.in_flight() >= WINDOW_WRITES || w.tail_block_busy() {
                    return Ok(());
                }
                let s = self.inner.st.borrow();
                let next = (s.log.area.submitted_pos() / cb + 1) * cb;
                if next > s.log.area.write_pos() {
                    return Ok(());
                }
                next
            };
            let mut st = self.inner.stats.get();
            st.flush_rounds += 1;
            self.inner.stats.set(st);
            self.start_log_writes(next).await?;
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::rc::Rc;
    use std::time::Duration;

    use crate::config::{FlushMode, StoreConfig};
    use crate::env::{DiskUsage, ShardEnv, SystemClock};
    use crate::fault_disk::FaultDisk;
    use crate::record::MessageInput;
    use crate::segmented::tests::run;
    use crate::ShardStore;

    struct Room;
    impl DiskUsage for Room {
        fn used_percent(&self, _: &std::path::Path) -> std::io::Result<u32> {
            Ok(10)
        }
    }

    /// The environment of a store on the fault disk, with room on it.
    pub(in crate::store) fn env(disk: &FaultDisk) -> ShardEnv {
        ShardEnv {
            disk: Rc::new(disk.clone()),
            clock: Rc::new(SystemClock::new()),
            usage: Rc::new(Room),
        }
    }

    const CHUNK: u64 = 64 << 10;

    /// An ASYNC_FLUSH store on the fault disk whose flusher streams whole
    /// 64 KiB chunks and never ticks during the test.
    async fn open(disk: &FaultDisk) -> ShardStore {
        let mut cfg = StoreConfig::small_for_tests("/w", 1);
        cfg.flush_mode = FlushMode::Async;
        cfg.flush_interval = Duration::from_secs(3600);
        cfg.checkpoint_interval = Duration::from_secs(3600);
        cfg.retention_interval = Duration::from_secs(3600);
        cfg.flush_threshold_bytes = CHUNK as usize;
        cfg.max_dirty_bytes = 768 << 10;
        let env = env(disk);
        ShardStore::open(cfg, 0, env).await.expect("open")
    }

    async fn settle() {
        for _ in 0..5 {
            glommio::timer::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Appends 4 KiB records until the log has grown by `bytes`.
    async fn append_bytes(store: &ShardStore, bytes: u64) {
        let start = store.inner.st.borrow().log.area.write_pos();
        let mut n = 0;
        while store.inner.st.borrow().log.area.write_pos() < start + bytes {
            let m = MessageInput::simple("W", 0, &[n as u8; 4000], "");
            store.append(&[m]).await.expect("append");
            n += 1;
        }
    }

    fn written(store: &ShardStore) -> u64 {
        store.inner.st.borrow().log.area.written_pos()
    }

    fn log_writes(disk: &FaultDisk) -> Vec<(u64, usize)> {
        disk.held_writes()
            .into_iter()
            .filter(|(p, _, _)| p.to_string_lossy().contains("commitlog"))
            .map(|(_, pos, len)| (pos, len))
            .collect()
    }

    fn release_log_write(disk: &FaultDisk, pos: u64) {
        let i = disk
            .held_writes()
            .iter()
            .position(|(p, at, _)| p.to_string_lossy().contains("commitlog") && *at == pos)
            .expect("held write at pos");
        disk.release_write(i);
    }

    #[test]
    fn written_mark_moves_only_over_contiguous_completed_writes() {
        run(|| async {
            let disk = FaultDisk::new();
            let store = open(&disk).await;
            let base = written(&store);
            disk.set_hold_writes(true);
            append_bytes(&store, 4 * CHUNK + 100).await;
            settle().await;
            // Whole chunks stream, each its own write, none overlapping.
            let writes = log_writes(&disk);
            assert!(writes.len() >= 3, "streamed writes: {writes:?}");
            for w in writes.windows(2) {
                assert!(w[0].0 + w[0].1 as u64 <= w[1].0, "overlap: {writes:?}");
            }
            let seg = |pos: u64| base - base % (1 << 20) + pos;
            let (first, second) = (writes[0], writes[1]);
            // The second completes first: nothing counts as written yet.
            release_log_write(&disk, second.0);
            settle().await;
            assert_eq!(written(&store), base, "a hole before the completed write");
            // The first completes: the mark passes both.
            release_log_write(&disk, first.0);
            settle().await;
            assert_eq!(written(&store), seg(second.0) + second.1 as u64);
            // The rest complete in reverse order; the mark follows the last.
            let mut rest = log_writes(&disk);
            rest.reverse();
            for (pos, _) in &rest {
                release_log_write(&disk, *pos);
            }
            settle().await;
            assert!(written(&store) >= seg(rest[0].0) + rest[0].1 as u64);
            disk.set_hold_writes(false);
            while let Some(i) = (!disk.held_writes().is_empty()).then_some(0) {
                disk.release_write(i);
            }
            store.shutdown().await.expect("shutdown");
        });
    }

    #[test]
    fn a_write_that_rewrites_a_busy_block_waits_for_it() {
        run(|| async {
            let disk = FaultDisk::new();
            let store = open(&disk).await;
            // A round's write ends inside a block and stays in flight.
            disk.set_hold_writes(true);
            append_bytes(&store, 10_000).await;
            let me = store.clone();
            let round = glommio::spawn_local(async move { me.flush_round(false).await });
            settle().await;
            // Its whole blocks and its last, partial block: one write.
            let tick = log_writes(&disk);
            assert_eq!(tick.len(), 1, "the round's writes: {tick:?}");
            assert!(tick[0].1 > 4096, "whole blocks and the last: {tick:?}");
            assert_eq!(tick[0].1 % 4096, 0, "whole blocks: {tick:?}");
            let tick_end = tick[0].0 + tick[0].1 as u64;
            // Enough appended for whole chunks: the next write would
            // rewrite the round's last block, so it must not start yet
            // (the round holds the flush lock while its write is in
            // flight; `tail_block_busy` guards any other path).
            append_bytes(&store, 3 * CHUNK).await;
            settle().await;
            assert_eq!(log_writes(&disk), tick, "nothing overlaps the busy block");
            release_log_write(&disk, tick[0].0);
            settle().await;
            // The round goes on to write the consume queue and the index.
            while let Some(i) = disk
                .held_writes()
                .iter()
                .position(|(p, _, _)| !p.to_string_lossy().contains("commitlog"))
            {
                disk.release_write(i);
                settle().await;
            }
            round.await.expect("round");
            settle().await;
            let next = log_writes(&disk);
            assert!(!next.is_empty(), "streaming resumed");
            assert_eq!(
                next[0].0,
                tick_end - 4096,
                "it rewrites that block whole, after"
            );
            disk.set_hold_writes(false);
            while !disk.held_writes().is_empty() {
                disk.release_write(0);
            }
            store.shutdown().await.expect("shutdown");
        });
    }

    #[test]
    fn sync_appends_start_their_groups_whole_blocks_before_the_group_commit() {
        run(|| async {
            let disk = FaultDisk::new();
            let mut cfg = StoreConfig::small_for_tests("/w", 1);
            cfg.flush_mode = FlushMode::Sync;
            cfg.sync_stream_bytes = 16 << 10;
            let env = env(&disk);
            let store = ShardStore::open(cfg, 0, env).await.expect("open");
            // The queue and the log segment exist: an append finds all it
            // needs without waiting.
            let first = MessageInput::simple("W", 0, b"first", "");
            store.append(&[first]).await.expect("append");
            let before = store.stats();
            disk.set_hold_writes(true);
            // glommio runs each spawned appender at once up to its wait for
            // the group commit; the flusher has not run in between.
            let acked = Rc::new(std::cell::Cell::new(0));
            let appenders: Vec<_> = (0..12u8)
                .map(|i| {
                    let (store, acked) = (store.clone(), acked.clone());
                    glommio::spawn_local(async move {
                        let m = MessageInput::simple("W", 0, &[i; 4000], "");
                        store.append(&[m]).await.expect("append");
                        acked.set(acked.get() + 1);
                    })
                })
                .collect();
            let started = log_writes(&disk);
            let st = store.stats().since(&before);
            assert!(st.streamed_writes >= 2, "{st:?}");
            assert!(!started.is_empty(), "writes went out during the appends");
            for (pos, len) in &started {
                assert_eq!(
                    (pos % 4096, len % 4096),
                    (0, 0),
                    "whole blocks: {started:?}"
                );
            }
            assert_eq!(st.log_syncs, 0, "no group commit yet");
            // Nothing is acknowledged before its bytes are written and synced.
            settle().await;
            assert_eq!(acked.get(), 0);
            disk.set_hold_writes(false);
            while !disk.held_writes().is_empty() {
                disk.release_write(0);
                settle().await;
            }
            for t in appenders {
                t.await;
            }
            assert_eq!(acked.get(), 12);
            let st = store.stats().since(&before);
            assert!(st.log_syncs >= 1 && st.synced_bytes >= 12 * 4000, "{st:?}");
            store.shutdown().await.expect("shutdown");
        });
    }

    #[test]
    fn the_next_segment_is_created_before_a_write_needs_it() {
        run(|| async {
            let disk = FaultDisk::new();
            let mut cfg = StoreConfig::small_for_tests("/w", 1);
            cfg.flush_mode = FlushMode::Sync;
            let seg = cfg.commitlog_segment_bytes;
            let env = env(&disk);
            let store = ShardStore::open(cfg, 0, env).await.expect("open");
            append_bytes(&store, 3 * seg + seg / 2).await;
            let st = store.stats();
            assert!(st.segments_created >= 4, "{st:?}");
            // At most the very first segment was created on demand.
            assert!(st.segment_stalls <= 1, "{st:?}");
            let next = std::path::Path::new("/w/shard-0/commitlog")
                .join(crate::segmented::segment_name(4 * seg));
            assert!(
                disk.contents(&next).is_some(),
                "segment after the one being written exists"
            );
            store.shutdown().await.expect("shutdown");
        });
    }

    /// Under ASYNC_FLUSH a kick used to stream commitlog chunks only: an
    /// append waiting for consume-queue room waited for the timer tick (an
    /// hour here). Now the kick writes the derived areas as well.
    #[test]
    fn an_append_waiting_for_consume_queue_room_does_not_wait_for_the_tick() {
        run(|| async {
            let disk = FaultDisk::new();
            let store = open(&disk).await;
            let appends = async {
                // Four times what the queue's cache holds unwritten.
                for n in 0..4096u32 {
                    let m = MessageInput::simple("Q", 0, &n.to_be_bytes(), "");
                    store.append(&[m]).await.expect("append");
                }
                Ok(())
            };
            glommio::timer::timeout(Duration::from_secs(20), appends)
                .await
                .expect("appends waited for the flusher's timer tick");
            assert!(store.stats().room_waits > 0, "the cache did fill up");
            store.shutdown().await.expect("shutdown");
        });
    }

    /// Appends go on while a flush creates consume-queue segments; the
    /// bytes they add past the segments just created wait for the next
    /// flush (they used to reach a write with no segment: a panic).
    #[test]
    fn appends_during_a_derived_segment_creation_are_written_by_the_next_flush() {
        run(|| async {
            let disk = FaultDisk::new();
            let mut cfg = StoreConfig::small_for_tests("/w", 1);
            cfg.flush_mode = FlushMode::Async;
            cfg.flush_interval = Duration::from_millis(1);
            cfg.cq_cache_chunks = 8;
            let env = || env(&disk);
            let store = ShardStore::open(cfg.clone(), 0, env()).await.expect("open");
            disk.set_create_delay(Duration::from_millis(5));
            // Appenders pause now and then, so that flushes start while
            // they append, and go on appending while a flush waits for a
            // segment to be created.
            let appenders: Vec<_> = (0..16u32)
                .map(|t| {
                    let store = store.clone();
                    glommio::spawn_local(async move {
                        for n in 0..1000u32 {
                            let m = MessageInput::simple("Q", 0, &(t * 1000 + n).to_be_bytes(), "");
                            store.append(&[m]).await.expect("append");
                            if n % 50 == 0 {
                                glommio::timer::sleep(Duration::from_micros(50)).await;
                            }
                        }
                    })
                })
                .collect();
            for a in appenders {
                a.await;
            }
            store.shutdown().await.expect("shutdown");
            drop(store);
            let again = ShardStore::open(cfg, 0, env()).await.expect("reopen");
            let key = crate::QueueKey::new("Q", 0);
            assert_eq!(again.max_offset(&key), crate::QueueOffset(16 * 1000));
            again.shutdown().await.expect("shutdown");
        });
    }
}
