//! An in-memory [`Disk`] for crash tests. Each file keeps the bytes written
//! (what reads see) apart from the bytes made durable by `sync`. A crash image
//! keeps the durable bytes and, for every write since the last sync, keeps it,
//! drops it or tears it (a random subset of its 512-byte sectors), which is
//! what a power loss may do to unsynced direct I/O. Writes and syncs can be
//! made to fail, and writes can be held in flight and then completed in any
//! order (what a device with a queue does).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::disk::{Disk, IoFuture, SegmentFile};

const SECTOR: usize = 512;

#[derive(Default)]
struct Shared {
    files: RefCell<BTreeMap<PathBuf, Rc<FaultFile>>>,
    dirs: RefCell<BTreeSet<PathBuf>>,
    fail_writes: Cell<bool>,
    /// Writes to files under this path fail (until reset).
    fail_writes_under: RefCell<Option<PathBuf>>,
    fail_syncs: Cell<bool>,
    syncs: Cell<u64>,
    now_secs: Cell<i64>,
    hold_writes: Cell<bool>,
    /// Writes to files under this path are held (until reset).
    hold_writes_under: RefCell<Option<PathBuf>>,
    /// How long creating a file takes (a real preallocation takes tens of
    /// milliseconds, during which appends go on).
    create_delay: Cell<std::time::Duration>,
    held: RefCell<Vec<Rc<HeldWrite>>>,
}

/// A write in flight: not visible until released.
struct HeldWrite {
    file: Rc<FaultFile>,
    pos: u64,
    data: Vec<u8>,
    released: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Makes a write visible (what reads see) and pending (what a crash may lose).
fn apply_write(f: &FaultFile, pos: u64, data: Vec<u8>) -> io::Result<()> {
    let end = pos as usize + data.len();
    let mut w = f.written.borrow_mut();
    if end > w.len() {
        return Err(io::Error::other("write past end of preallocated file"));
    }
    w[pos as usize..end].copy_from_slice(&data);
    f.ever_written
        .borrow_mut()
        .extend(pos / SECTOR as u64..(end as u64).div_ceil(SECTOR as u64));
    f.modified.set(f.shared.now_secs.get());
    f.pending.borrow_mut().push((pos, data));
    Ok(())
}

struct FaultFile {
    path: PathBuf,
    written: RefCell<Vec<u8>>,
    durable: RefCell<Vec<u8>>,
    pending: RefCell<Vec<(u64, Vec<u8>)>>,
    /// Sectors written at least once (what the file system would report
    /// as data rather than unwritten extents).
    ever_written: RefCell<BTreeSet<u64>>,
    modified: Cell<i64>,
    shared: Rc<Shared>,
}

/// The fault-injecting disk. Cloning shares the same files.
#[derive(Clone, Default)]
pub struct FaultDisk {
    shared: Rc<Shared>,
}

struct Handle(Rc<FaultFile>);

fn injected(what: &str) -> io::Error {
    io::Error::other(format!("injected {what} failure"))
}

impl SegmentFile for Handle {
    fn write_at(&self, pos: u64, data: &[u8]) -> IoFuture<()> {
        let f = self.0.clone();
        let data = data.to_vec();
        Box::pin(async move {
            let under = f.shared.fail_writes_under.borrow().clone();
            if f.shared.fail_writes.get() || under.is_some_and(|d| f.path.starts_with(d)) {
                return Err(injected("write"));
            }
            let hold_under = f.shared.hold_writes_under.borrow().clone();
            let hold =
                f.shared.hold_writes.get() || hold_under.is_some_and(|d| f.path.starts_with(d));
            if !hold {
                return apply_write(&f, pos, data);
            }
            let held = Rc::new(HeldWrite {
                file: f.clone(),
                pos,
                data,
                released: Cell::new(false),
                waker: RefCell::new(None),
            });
            f.shared.held.borrow_mut().push(held.clone());
            std::future::poll_fn(|cx| {
                if held.released.get() {
                    Poll::Ready(Ok(()))
                } else {
                    *held.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<Vec<u8>> {
        let f = self.0.clone();
        Box::pin(async move {
            let w = f.written.borrow();
            let start = (pos as usize).min(w.len());
            let end = (start + len).min(w.len());
            Ok(w[start..end].to_vec())
        })
    }

    fn sync(&self) -> IoFuture<()> {
        let f = self.0.clone();
        Box::pin(async move {
            if f.shared.fail_syncs.get() {
                return Err(injected("fdatasync"));
            }
            f.shared.syncs.set(f.shared.syncs.get() + 1);
            f.pending.borrow_mut().clear();
            f.durable.borrow_mut().copy_from_slice(&f.written.borrow());
            Ok(())
        })
    }

    fn len(&self) -> u64 {
        self.0.written.borrow().len() as u64
    }

    fn path(&self) -> &Path {
        &self.0.path
    }

    fn unwritten_ranges(&self, from: u64) -> io::Result<Vec<std::ops::Range<u64>>> {
        let (sector, align) = (SECTOR as u64, crate::limits::IO_ALIGN as u64);
        let written = self.0.ever_written.borrow();
        let mut out: Vec<std::ops::Range<u64>> = Vec::new();
        let mut run: Option<u64> = None;
        let mut close = |start: u64, end: u64| {
            let (start, end) = (start.div_ceil(align) * align, end / align * align);
            if start < end {
                out.push(start..end);
            }
        };
        for s in from.div_ceil(sector)..self.len() / sector {
            match (written.contains(&s), run) {
                (false, None) => run = Some(s * sector),
                (true, Some(start)) => {
                    close(start, s * sector);
                    run = None;
                }
                _ => {}
            }
        }
        if let Some(start) = run {
            close(start, self.len());
        }
        Ok(out)
    }
}

impl FaultDisk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later write fail (until reset).
    pub fn set_fail_writes(&self, on: bool) {
        self.shared.fail_writes.set(on);
    }

    /// Makes every later write to a file under `dir` fail (`None` resets).
    pub fn set_fail_writes_under(&self, dir: Option<PathBuf>) {
        *self.shared.fail_writes_under.borrow_mut() = dir;
    }

    /// Makes every later fdatasync fail (until reset).
    pub fn set_fail_syncs(&self, on: bool) {
        self.shared.fail_syncs.set(on);
    }

    /// Makes every later file creation take `delay`.
    pub fn set_create_delay(&self, delay: std::time::Duration) {
        self.shared.create_delay.set(delay);
    }

    /// Holds every later write in flight until [`Self::release_write`].
    pub fn set_hold_writes(&self, on: bool) {
        self.shared.hold_writes.set(on);
    }

    /// Holds every later write to a file under `dir` in flight until
    /// [`Self::release_write`] (`None`: no longer).
    pub fn set_hold_writes_under(&self, dir: Option<PathBuf>) {
        *self.shared.hold_writes_under.borrow_mut() = dir;
    }

    /// Writes held in flight, oldest first: (file, position, length).
    pub fn held_writes(&self) -> Vec<(PathBuf, u64, usize)> {
        self.shared
            .held
            .borrow()
            .iter()
            .map(|h| (h.file.path.clone(), h.pos, h.data.len()))
            .collect()
    }

    /// Completes held write `i` (an index into [`Self::held_writes`]): its
    /// bytes land and its future resolves.
    pub fn release_write(&self, i: usize) {
        let h = self.shared.held.borrow_mut().remove(i);
        apply_write(&h.file, h.pos, h.data.clone()).expect("held write within its file");
        h.released.set(true);
        let waker = h.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Number of successful fdatasyncs so far.
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.get()
    }

    /// Sets the clock used for modification times.
    pub fn set_now_secs(&self, now: i64) {
        self.shared.now_secs.set(now);
    }

    /// What survives a power loss now. `choice(n)` returns a pseudo-random
    /// number below `n`; for each unsynced write it picks keep, drop or tear.
    pub fn crash_image(&self, choice: &mut dyn FnMut(u64) -> u64) -> FaultDisk {
        let out = FaultDisk::new();
        *out.shared.dirs.borrow_mut() = self.shared.dirs.borrow().clone();
        out.shared.now_secs.set(self.shared.now_secs.get());
        for (path, f) in self.shared.files.borrow().iter() {
            let mut img = f.durable.borrow().clone();
            for (pos, data) in f.pending.borrow().iter() {
                let pos = *pos as usize;
                match choice(3) {
                    0 => img[pos..pos + data.len()].copy_from_slice(data),
                    1 => {}
                    _ => {
                        for (i, sector) in data.chunks(SECTOR).enumerate() {
                            if choice(2) == 0 {
                                let p = pos + i * SECTOR;
                                img[p..p + sector.len()].copy_from_slice(sector);
                            }
                        }
                    }
                }
            }
            let nf = Rc::new(FaultFile {
                path: path.clone(),
                written: RefCell::new(img.clone()),
                durable: RefCell::new(img),
                pending: RefCell::new(Vec::new()),
                ever_written: RefCell::new(f.ever_written.borrow().clone()),
                modified: Cell::new(f.modified.get()),
                shared: out.shared.clone(),
            });
            out.shared.files.borrow_mut().insert(path.clone(), nf);
        }
        out
    }

    /// The written bytes of a file (tests).
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        self.shared
            .files
            .borrow()
            .get(path)
            .map(|f| f.written.borrow().clone())
    }

    /// Overwrites bytes of a file, written and durable (tests that corrupt the disk).
    pub fn poke(&self, path: &Path, pos: usize, data: &[u8]) {
        let files = self.shared.files.borrow();
        let f = files.get(path).expect("file exists");
        f.written.borrow_mut()[pos..pos + data.len()].copy_from_slice(data);
        f.durable.borrow_mut()[pos..pos + data.len()].copy_from_slice(data);
    }
}

impl Disk for FaultDisk {
    fn open(&self, path: &Path, create_len: Option<u64>) -> IoFuture<Rc<dyn SegmentFile>> {
        let shared = self.shared.clone();
        let path = path.to_path_buf();
        Box::pin(async move {
            let existing = shared.files.borrow().get(&path).cloned();
            let f = match (existing, create_len) {
                (Some(f), Some(len)) if (f.written.borrow().len() as u64) < len => {
                    // Finish an interrupted preallocation.
                    f.written.borrow_mut().resize(len as usize, 0);
                    f.durable.borrow_mut().resize(len as usize, 0);
                    f
                }
                (Some(f), _) => f,
                (None, None) => {
                    return Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
                }
                (None, Some(len)) => {
                    if shared.fail_writes.get() {
                        return Err(injected("create"));
                    }
                    let delay = shared.create_delay.get();
                    if !delay.is_zero() {
                        glommio::timer::sleep(delay).await;
                        if let Some(f) = shared.files.borrow().get(&path) {
                            let h: Rc<dyn SegmentFile> = Rc::new(Handle(f.clone()));
                            return Ok(h);
                        }
                    }
                    let f = Rc::new(FaultFile {
                        path: path.clone(),
                        written: RefCell::new(vec![0; len as usize]),
                        durable: RefCell::new(vec![0; len as usize]),
                        pending: RefCell::new(Vec::new()),
                        ever_written: RefCell::new(BTreeSet::new()),
                        modified: Cell::new(shared.now_secs.get()),
                        shared: shared.clone(),
                    });
                    shared.files.borrow_mut().insert(path.clone(), f.clone());
                    f
                }
            };
            let h: Rc<dyn SegmentFile> = Rc::new(Handle(f));
            Ok(h)
        })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<(String, u64)>> {
        Ok(self
            .shared
            .files
            .borrow()
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, f)| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    f.written.borrow().len() as u64,
                )
            })
            .collect())
    }

    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out: Vec<String> = self
            .shared
            .dirs
            .borrow()
            .iter()
            .filter(|p| p.parent() == Some(dir))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.as_os_str().is_empty() {
                break;
            }
            self.shared.dirs.borrow_mut().insert(p.to_path_buf());
            d = p.parent();
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.shared
            .files
            .borrow_mut()
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn modified_secs(&self, path: &Path) -> io::Result<i64> {
        self.shared
            .files
            .borrow()
            .get(path)
            .map(|f| f.modified.get())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
}
