//! The SYNC closed loop with no engine in it: a second comparison point
//! for a SYNC row, between the raw writer and the engine.
//!
//! The raw writer is the disk's pace for groups of the engine's size, but it
//! has no appenders: nothing runs on the shard while its group is written.
//! Under SYNC_FLUSH every appender waits for its own group, so a group's
//! appends and its I/O take turns as far as streaming cannot overlap them,
//! and on a virtual disk the vCPUs' own work can slow the device.
//!
//! This phase runs the same closed loop (the same appenders per shard, each
//! with one record in flight) where an append is only a copy of the record's
//! bytes into the group's buffer. Full buffers of the engine's streaming size
//! are written as soon as they fill, the group's last one when the group
//! closes, then one fdatasync acknowledges the whole group, into a file
//! preallocated like the raw writer's. Its throughput is what any engine
//! driven by this load could reach at best; the engine's distance to it is
//! the engine's own cost per append.
//!
//! As in the engine, a group's last write ends with its partial last block,
//! and the next group starts by rewriting that block.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use glommio::io::{DmaBuffer, DmaFile};
use ringmq_engine::notify::Notify;
use ringmq_engine::shard::run_shards;

const ALIGN: usize = 4096;

/// What the phase measured, all shards together.
pub struct Lockstep {
    pub msgs: u64,
    pub bytes: u64,
    /// The slowest shard's time.
    pub elapsed: Duration,
}

/// How one phase is run.
pub struct Plan {
    pub shards: u16,
    /// Appenders per shard.
    pub concurrency: usize,
    /// Bytes copied per append (the engine's average stored record).
    pub record_len: usize,
    /// Bytes per streamed write (the engine's SYNC streaming size).
    pub stream_bytes: usize,
    /// A shard stops after this many bytes or `limit`, whichever comes first.
    pub bytes_per_shard: u64,
    pub limit: Duration,
    /// Neither write nor fdatasync (`--null-disk`): the loop's CPU alone.
    pub null_io: bool,
}

/// A write in flight; it hands its buffer back for reuse.
type BufferWrite = glommio::Task<glommio::Result<Rc<DmaBuffer>, ()>>;

/// One shard's group commit state, shared by its appenders and committer.
struct Groups {
    file: Rc<DmaFile>,
    null_io: bool,
    stream_bytes: usize,
    /// The buffer being filled, its fill level and its place in the file.
    buf: RefCell<Option<DmaBuffer>>,
    filled: Cell<usize>,
    buf_pos: Cell<u64>,
    /// Bytes were appended since the last write.
    dirty: Cell<bool>,
    spare: RefCell<Vec<DmaBuffer>>,
    /// Writes of the open group, streamed or closing.
    writes: RefCell<Vec<BufferWrite>>,
    /// Number of the open group, and how many groups are durable.
    open: Cell<u64>,
    durable: Cell<u64>,
    waiters: RefCell<Vec<Waker>>,
    kick: Notify,
    stop: Cell<bool>,
    msgs: Cell<u64>,
    bytes: Cell<u64>,
    /// Messages and bytes of the durable groups.
    acked: Cell<(u64, u64)>,
}

impl Groups {
    fn append(&self, record: &[u8]) {
        let mut rest = record;
        while !rest.is_empty() {
            let at = self.filled.get();
            let n = rest.len().min(self.stream_bytes - at);
            {
                let mut buf = self.buf.borrow_mut();
                let buf = buf.get_or_insert_with(|| self.fresh_buffer());
                buf.as_bytes_mut()[at..at + n].copy_from_slice(&rest[..n]);
            }
            self.filled.set(at + n);
            self.dirty.set(true);
            rest = &rest[n..];
            if at + n == self.stream_bytes {
                self.write_buffer();
            }
        }
        self.msgs.set(self.msgs.get() + 1);
        self.bytes.set(self.bytes.get() + record.len() as u64);
    }

    fn fresh_buffer(&self) -> DmaBuffer {
        self.spare
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| self.file.alloc_dma_buffer(self.stream_bytes))
    }

    /// Starts writing the filled part of the current buffer (padded to a
    /// block). A partial last block is carried over into the next buffer,
    /// which starts at that block.
    fn write_buffer(&self) {
        let filled = self.filled.get();
        let Some(mut buf) = self.buf.borrow_mut().take() else {
            return;
        };
        let len = filled.div_ceil(ALIGN) * ALIGN;
        let carry = filled % ALIGN;
        if carry > 0 {
            let mut next = self.fresh_buffer();
            next.as_bytes_mut()[..carry].copy_from_slice(&buf.as_bytes()[filled - carry..filled]);
            *self.buf.borrow_mut() = Some(next);
        }
        if self.null_io {
            // Written at once, as on the null disk: the buffer is free again.
            self.buf_pos
                .set(self.buf_pos.get() + (filled - carry) as u64);
            self.filled.set(carry);
            self.dirty.set(false);
            self.spare.borrow_mut().push(buf);
            return;
        }
        if len < buf.len() {
            // A closing group's partial buffer: trimmed, so not reused.
            buf.trim_to_size(len);
        }
        let pos = self.buf_pos.get();
        self.buf_pos.set(pos + (filled - carry) as u64);
        self.filled.set(carry);
        self.dirty.set(false);
        let file = self.file.clone();
        let buf = Rc::new(buf);
        self.writes
            .borrow_mut()
            .push(glommio::spawn_local(async move {
                file.write_rc_at(buf.clone(), pos).await?;
                Ok(buf)
            }));
    }

    /// Closes the open group: its last write, the wait for all its writes,
    /// one fdatasync, then every appender of the group is acknowledged.
    async fn commit(&self) -> Result<(), String> {
        let group = self.open.get();
        self.open.set(group + 1);
        let closing = (self.msgs.get(), self.bytes.get());
        if self.dirty.get() {
            self.write_buffer();
        }
        let writes: Vec<_> = self.writes.borrow_mut().drain(..).collect();
        for w in writes {
            let buf = w.await.map_err(|e| format!("write: {e}"))?;
            if let Ok(buf) = Rc::try_unwrap(buf) {
                if buf.len() == self.stream_bytes {
                    self.spare.borrow_mut().push(buf);
                }
            }
        }
        if !self.null_io {
            self.file
                .fdatasync()
                .await
                .map_err(|e| format!("fdatasync: {e}"))?;
        }
        self.durable.set(group + 1);
        self.acked.set(closing);
        self.wake_all();
        Ok(())
    }

    fn wake_all(&self) {
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

/// Completes once group `group` is durable (or the phase stopped).
struct Acked<'a> {
    groups: &'a Groups,
    group: u64,
}

impl Future for Acked<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.groups.durable.get() > self.group || self.groups.stop.get() {
            Poll::Ready(())
        } else {
            self.groups.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Runs the closed loop on `plan.shards` shards in files under `root`.
pub fn lockstep_phase(plan: &Plan, cpus: &[usize], root: &Path) -> Result<Lockstep, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let barrier = Arc::new(Barrier::new(plan.shards as usize));
    let (conc, record_len, stream_bytes) = (
        plan.concurrency.max(1),
        plan.record_len.max(1),
        plan.stream_bytes.max(ALIGN) / ALIGN * ALIGN,
    );
    let (bytes_per_shard, limit, null_io) = (plan.bytes_per_shard, plan.limit, plan.null_io);
    let root = root.to_path_buf();
    let results = run_shards(plan.shards, cpus, move |shard| {
        let path = root.join(format!("lockstep-{shard}"));
        let barrier = barrier.clone();
        async move {
            let opened = async {
                let f = DmaFile::create(&path).await?;
                // The last group may end past `bytes_per_shard`.
                let alloc = (bytes_per_shard + (conc * record_len + stream_bytes) as u64)
                    .div_ceil(1 << 20)
                    * (1 << 20);
                if !null_io {
                    f.pre_allocate(alloc, false).await?;
                }
                Ok::<_, glommio::GlommioError<()>>(f)
            }
            .await;
            barrier.wait();
            let file = Rc::new(opened.map_err(|e| format!("open {}: {e}", path.display()))?);
            let groups = Rc::new(Groups {
                file: file.clone(),
                null_io,
                stream_bytes,
                buf: RefCell::new(None),
                filled: Cell::new(0),
                buf_pos: Cell::new(0),
                dirty: Cell::new(false),
                spare: RefCell::new(Vec::new()),
                writes: RefCell::new(Vec::new()),
                open: Cell::new(0),
                durable: Cell::new(0),
                waiters: RefCell::new(Vec::new()),
                kick: Notify::default(),
                stop: Cell::new(false),
                msgs: Cell::new(0),
                bytes: Cell::new(0),
                acked: Cell::new((0, 0)),
            });
            let record: Rc<[u8]> = (0..record_len).map(|i| i as u8).collect();
            let appenders: Vec<_> = (0..conc)
                .map(|_| {
                    let groups = groups.clone();
                    let record = record.clone();
                    glommio::spawn_local(async move {
                        while !groups.stop.get() {
                            groups.append(&record);
                            let group = groups.open.get();
                            groups.kick.notify();
                            Acked {
                                groups: &groups,
                                group,
                            }
                            .await;
                        }
                    })
                })
                .collect();
            let start = Instant::now();
            let mut failed = None;
            // As the engine's flusher: woken by the first append of a
            // group, it runs after the appenders that were ready with it.
            while start.elapsed() < limit && groups.bytes.get() < bytes_per_shard {
                groups.kick.wait().await;
                if let Err(e) = groups.commit().await {
                    failed = Some(e);
                    break;
                }
            }
            let elapsed = start.elapsed();
            // Appends of the group left open are not acknowledged: not counted.
            let (msgs, bytes) = groups.acked.get();
            groups.stop.set(true);
            groups.wake_all();
            for a in appenders {
                a.await;
            }
            let writes: Vec<_> = groups.writes.borrow_mut().drain(..).collect();
            for w in writes {
                let _ = w.await;
            }
            // Closed now: a dropped file is closed at the executor's next
            // I/O turn, which may never come, and the removed file's
            // blocks stay allocated until the process exits.
            drop(groups);
            let closed = file.close_rc().await;
            if let Some(e) = failed {
                return Err(format!("{}: {e}", path.display()));
            }
            closed.map_err(|e| format!("close {}: {e}", path.display()))?;
            Ok((msgs, bytes, elapsed))
        }
    })
    .map_err(|e| format!("run shards: {e}"))?;
    let mut total = Lockstep {
        msgs: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    for r in results {
        let (m, b, d) = r?;
        total.msgs += m;
        total.bytes += b;
        total.elapsed = total.elapsed.max(d);
    }
    Ok(total)
}
