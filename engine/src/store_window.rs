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
/// default): as deep as the plain writer of the benchmark's baseline.
pub(super) const WINDOW_WRITES: usize = 16;

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
        while self.inner.window.borrow().tail_block_busy() {
            self.inner.st.borrow().log.check_poisoned()?;
            self.inner.progress.wait().await;
        }
        self.create_log_segments(end).await?;
        let batch = {
            let mut s = self.inner.st.borrow_mut();
            if end <= s.log.area.submitted_pos() {
                return Ok(());
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
        Ok(())
    }

    /// Creates (preallocated) the segments a write up to `end` needs.
    async fn create_log_segments(&self, end: u64) -> Result<()> {
        let (missing, disk, seg_bytes, paths) = {
            let s = self.inner.st.borrow();
            let a = &s.log.area;
            let missing = a.missing_segments(end);
            let paths: Vec<_> = missing.iter().map(|m| a.segment_path(*m)).collect();
            (missing, a.disk(), a.segment_bytes(), paths)
        };
        for (start, path) in missing.into_iter().zip(paths) {
            let f = SegmentedLog::create_segment(disk.clone(), path, seg_bytes).await?;
            self.inner
                .st
                .borrow_mut()
                .log
                .area
                .install_segment(start, f);
        }
        Ok(())
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
        let _g = self.inner.flush_lock.acquire_permit(1).await;
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
