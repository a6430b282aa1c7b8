//! The shard's own io_uring for log writes and syncs: a write is handed to
//! the kernel when it is started, not when the shard next goes idle.
//!
//! glommio queues an I/O request and submits it in its reactor turn, which
//! runs only when no task of the shard is runnable (or its task queue is
//! preempted). Under SYNC_FLUSH with many appenders the loop is closed: all
//! appenders wake on one group commit and append again, and the next
//! group's writes could start only after the last of them. With this ring,
//! the writes of a group go out in whole blocks while appenders are still
//! appending (`ShardStore::stream_whole_blocks`), and only the tail and the
//! fdatasync are left once they are done.
//!
//! Completions are reaped three ways, whichever comes first:
//! - a request's future, when polled, looks at the completion queue (shared
//!   memory, no system call) and completes whatever finished;
//! - the ring signals an eventfd on every completion, and a pump task keeps
//!   a glommio read pending on it, so an idle shard wakes up for them;
//! - a watchdog looks every [`WATCHDOG`] and reaps what waited a whole
//!   period unreaped (a wake-up that got lost), counting it.
//!
//! One ring per executor (a test thread may run several executors one after
//! another). A request keeps its buffer and file alive until the kernel
//! completes it, even if its future is dropped; dropping the ring waits for
//! every request still in flight.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use io_uring::{opcode, squeue, types, IoUring};

/// Submission queue entries. Requests in flight are bounded by the callers
/// (the write window, one sync per round, the derived areas' writes); a full
/// submission queue is submitted and reused, a full completion queue is
/// drained before submitting again.
const RING_ENTRIES: u32 = 256;

/// Whatever a request must keep alive until the kernel is done with it.
pub(crate) type Keep = Box<dyn std::any::Any>;

#[derive(Default)]
struct OpState {
    result: Cell<Option<i32>>,
    waker: Cell<Option<Waker>>,
}

struct InFlight {
    state: Rc<OpState>,
    _keep: Keep,
}

pub(crate) struct LogRing {
    ring: RefCell<IoUring>,
    ops: RefCell<slab::Slab<InFlight>>,
    executor: usize,
    /// Times the pump's eventfd read failed and it fell back to polling.
    pump_fallbacks: Cell<u64>,
    /// Completions reaped so far (by anyone).
    reaped: Cell<u64>,
    /// Completions the watchdog found waiting a whole [`WATCHDOG`] period
    /// with nothing reaped meanwhile: wake-ups the pump missed.
    watchdog_reaps: Cell<u64>,
}

/// How often the watchdog looks for completions nobody reaped. A safety
/// net: benchmarks on this project's VM saw four multi-second stalls in
/// about 80 runs (shards parked with work they were not woken for; cause
/// not found); if a completion's wake-up is lost, it costs at most about
/// this long, and `watchdog_reaps` counts it.
const WATCHDOG: std::time::Duration = std::time::Duration::from_millis(10);

thread_local! {
    static RING: RefCell<Option<Rc<LogRing>>> = const { RefCell::new(None) };
}

/// The ring of the executor running on this thread, created (with its pump
/// and watchdog tasks) on first use.
pub(crate) fn current() -> io::Result<Rc<LogRing>> {
    let executor = glommio::executor().id();
    let have = RING.with(|r| {
        r.borrow()
            .as_ref()
            .filter(|x| x.executor == executor)
            .cloned()
    });
    if let Some(ring) = have {
        return Ok(ring);
    }
    let ring = Rc::new(LogRing::new(executor)?);
    // Installed before the pump starts: glommio runs a spawned task at once.
    RING.with(|r| *r.borrow_mut() = Some(ring.clone()));
    if let Err(e) = ring.spawn_pump() {
        // Never leave a ring that nothing would wake up for.
        RING.with(|r| *r.borrow_mut() = None);
        return Err(e);
    }
    Ok(ring)
}

/// Completes whatever the kernel finished, if this thread has a ring.
pub(crate) fn reap() {
    RING.with(|r| {
        if let Some(ring) = r.borrow().as_ref() {
            ring.reap();
        }
    })
}

/// Completions this thread's ring found only through its watchdog (0 if it
/// has no ring): each is a wake-up that the eventfd pump missed.
pub fn watchdog_reaps() -> u64 {
    RING.with(|r| r.borrow().as_ref().map_or(0, |x| x.watchdog_reaps.get()))
}

impl LogRing {
    fn new(executor: usize) -> io::Result<LogRing> {
        Ok(LogRing {
            ring: RefCell::new(IoUring::new(RING_ENTRIES)?),
            ops: RefCell::new(slab::Slab::with_capacity(RING_ENTRIES as usize)),
            executor,
            pump_fallbacks: Cell::new(0),
            reaped: Cell::new(0),
            watchdog_reaps: Cell::new(0),
        })
    }

    /// Registers an eventfd for completions and spawns the task that waits
    /// on it with a glommio read (io_uring polls the eventfd for it).
    fn spawn_pump(self: &Rc<Self>) -> io::Result<()> {
        // SAFETY: plain system call; the descriptor is checked below.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `efd` is a fresh descriptor owned by nobody else.
        let file = unsafe { glommio::io::BufferedFile::from_raw_fd(efd as RawFd) };
        self.ring.borrow().submitter().register_eventfd(efd)?;
        let me = Rc::downgrade(self);
        glommio::spawn_local(async move {
            let mut polling = false;
            loop {
                if polling {
                    glommio::timer::sleep(std::time::Duration::from_micros(100)).await;
                } else if let Err(e) = file.read_at(0, 8).await {
                    // Not expected; look every 100 µs from now on rather
                    // than never wake for a completion.
                    tracing::warn!(error = %e, "log ring eventfd read failed; polling");
                    polling = true;
                }
                let Some(ring) = me.upgrade() else { break };
                if polling {
                    ring.pump_fallbacks.set(ring.pump_fallbacks.get() + 1);
                }
                ring.reap();
            }
        })
        .detach();
        self.spawn_watchdog();
        Ok(())
    }

    /// Spawns the task that reaps completions nobody was woken for.
    fn spawn_watchdog(self: &Rc<Self>) {
        let me = Rc::downgrade(self);
        glommio::spawn_local(async move {
            let mut seen = 0;
            loop {
                glommio::timer::sleep(WATCHDOG).await;
                let Some(ring) = me.upgrade() else { break };
                // Completions wait, and none was reaped for a whole period:
                // nobody was woken for them.
                let waiting = ring.ring.borrow_mut().completion().len();
                if waiting > 0 && ring.reaped.get() == seen {
                    let found = ring.reap();
                    ring.watchdog_reaps
                        .set(ring.watchdog_reaps.get() + found as u64);
                    tracing::debug!(found, "log ring: completions nobody was woken for");
                }
                seen = ring.reaped.get();
            }
        })
        .detach();
    }

    /// Completes the finished requests: records each result and wakes its
    /// waiter. Cheap when nothing finished (two loads from shared memory).
    /// Returns how many completed.
    pub(crate) fn reap(&self) -> usize {
        let mut wake = Vec::new();
        let mut n = 0;
        {
            let mut ring = self.ring.borrow_mut();
            let mut ops = self.ops.borrow_mut();
            for cqe in ring.completion() {
                n += 1;
                let op = ops.remove(cqe.user_data() as usize);
                op.state.result.set(Some(cqe.result()));
                if let Some(w) = op.state.waker.take() {
                    wake.push(w);
                }
            }
        }
        let found = n;
        self.reaped.set(self.reaped.get() + n as u64);
        for w in wake {
            w.wake();
        }
        found
    }

    /// Hands one request to the kernel now. `keep` holds the buffer and the
    /// file the request refers to.
    fn submit(&self, entry: squeue::Entry, keep: Keep) -> io::Result<Op> {
        let state = Rc::new(OpState::default());
        let key = self.ops.borrow_mut().insert(InFlight {
            state: state.clone(),
            _keep: keep,
        });
        let entry = entry.user_data(key as u64);
        let pushed = {
            let mut ring = self.ring.borrow_mut();
            // SAFETY: the entry's buffer and descriptor stay alive in `ops`
            // until its completion is reaped.
            let mut pushed = unsafe { ring.submission().push(&entry).is_ok() };
            if !pushed {
                ring.submit()?;
                pushed = unsafe { ring.submission().push(&entry).is_ok() };
            }
            pushed
        };
        if !pushed {
            self.ops.borrow_mut().remove(key);
            return Err(io::Error::other("log ring submission queue full"));
        }
        loop {
            let r = self.ring.borrow().submit();
            match r {
                Ok(_) => break,
                // The completion queue overflowed or the kernel is short of
                // memory for a moment: drain and try again.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                    self.reap();
                    std::thread::yield_now();
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Op { state })
    }

    /// Writes `len` bytes at `ptr` to `fd` at `pos`. The caller's `keep`
    /// owns the memory at `ptr` and the descriptor.
    pub(crate) fn write(
        &self,
        fd: RawFd,
        ptr: *const u8,
        len: usize,
        pos: u64,
        keep: Keep,
    ) -> io::Result<Op> {
        let len = u32::try_from(len).map_err(|_| io::Error::other("write over 4 GiB"))?;
        let e = opcode::Write::new(types::Fd(fd), ptr, len)
            .offset(pos)
            .build();
        self.submit(e, keep)
    }

    /// Writes the `n` buffers of the vector at `iov` to `fd` at `pos`, in one
    /// request. The caller's `keep` owns the vector, the memory it points
    /// to and the descriptor.
    pub(crate) fn writev(
        &self,
        fd: RawFd,
        iov: *const libc::iovec,
        n: u32,
        pos: u64,
        keep: Keep,
    ) -> io::Result<Op> {
        let e = opcode::Writev::new(types::Fd(fd), iov, n)
            .offset(pos)
            .build();
        self.submit(e, keep)
    }

    /// fdatasync of `fd`.
    pub(crate) fn fdatasync(&self, fd: RawFd, keep: Keep) -> io::Result<Op> {
        let e = opcode::Fsync::new(types::Fd(fd))
            .flags(types::FsyncFlags::DATASYNC)
            .build();
        self.submit(e, keep)
    }
}

impl Drop for LogRing {
    fn drop(&mut self) {
        // The kernel may still read buffers that `ops` keeps alive: wait for
        // every request before they are freed.
        while !self.ops.borrow().is_empty() {
            if let Err(e) = self.ring.borrow().submit_and_wait(1) {
                if e.raw_os_error() != Some(libc::EINTR) {
                    tracing::error!(error = %e, "log ring: waiting for requests at drop");
                    // Leak the buffers rather than free memory the kernel
                    // may still read.
                    std::mem::forget(std::mem::take(&mut *self.ops.borrow_mut()));
                    return;
                }
            }
            self.reap();
        }
    }
}

/// A request in flight; resolves to the kernel's result (bytes written, or
/// 0 for a sync).
pub(crate) struct Op {
    state: Rc<OpState>,
}

impl Future for Op {
    type Output = io::Result<usize>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.state.result.get().is_none() {
            reap();
        }
        match self.state.result.get() {
            Some(r) if r < 0 => Poll::Ready(Err(io::Error::from_raw_os_error(-r))),
            Some(r) => Poll::Ready(Ok(r as usize)),
            None => {
                self.state.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::rc::Rc;

    use glommio::io::DmaFile;

    #[test]
    fn writes_and_syncs_complete_while_the_shard_is_idle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ring");
        let p = path.clone();
        crate::segmented::tests::run(move || async move {
            let file = Rc::new(DmaFile::create(&p).await.expect("create"));
            let ring = super::current().expect("ring");
            let fd = file.as_raw_fd();
            let write = |pos: u64, byte: u8| {
                let mut buf = file.alloc_dma_buffer(4096);
                buf.as_bytes_mut().fill(byte);
                let ptr = buf.as_ptr();
                ring.write(fd, ptr, 4096, pos, Box::new((buf, file.clone())))
                    .expect("submit")
            };
            assert_eq!(write(8192, 7).await.expect("write"), 4096);
            // A write whose future is dropped still completes from its own
            // buffer, which the ring keeps alive.
            drop(write(0, 9));
            // fdatasync runs in a kernel worker: its completion comes after
            // the first poll, so only the eventfd pump can wake this task.
            let sync = ring.fdatasync(fd, Box::new(file.clone())).expect("submit");
            let synced = glommio::timer::timeout(std::time::Duration::from_secs(10), async {
                Ok(sync.await)
            })
            .await
            .expect("the sync's completion never woke its task");
            assert_eq!(synced.expect("sync"), 0);
            assert_eq!(ring.pump_fallbacks.get(), 0, "eventfd pump failed");
            // The same ring for the same executor.
            assert!(Rc::ptr_eq(&ring, &super::current().expect("ring")));
            while !ring.ops.borrow().is_empty() {
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            }
        });
        let bytes = std::fs::read(&path).expect("read back");
        assert_eq!(bytes.len(), 12288);
        assert!(bytes[..4096].iter().all(|b| *b == 9));
        assert!(bytes[4096..8192].iter().all(|b| *b == 0));
        assert!(bytes[8192..].iter().all(|b| *b == 7));
    }

    /// With no pump (a lost wake-up), the watchdog still completes a
    /// request within a few of its periods, and counts it.
    #[test]
    fn the_watchdog_completes_what_nobody_was_woken_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ring");
        crate::segmented::tests::run(move || async move {
            let file = Rc::new(DmaFile::create(&path).await.expect("create"));
            // Not installed for the thread: nothing but the watchdog reaps.
            let ring = Rc::new(super::LogRing::new(usize::MAX).expect("ring"));
            ring.spawn_watchdog();
            let sync = ring
                .fdatasync(file.as_raw_fd(), Box::new(file.clone()))
                .expect("submit");
            let synced = glommio::timer::timeout(std::time::Duration::from_secs(10), async {
                Ok(sync.await)
            })
            .await
            .expect("the watchdog never completed the sync");
            assert_eq!(synced.expect("sync"), 0);
            assert!(ring.watchdog_reaps.get() >= 1);
        });
    }
}
