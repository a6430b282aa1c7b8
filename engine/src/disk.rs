//! The narrow I/O interface of the engine: a directory of fixed-size files,
//! each written and read at aligned positions and synced as a whole.
//!
//! Two implementations: [`DmaDisk`] (glommio `DmaFile`s, O_DIRECT; writes and
//! syncs on the shard's own io_uring, [`crate::log_ring`], reads on glommio's) for
//! the real thing and [`crate::fault_disk::FaultDisk`] (memory, keeps written
//! and durable bytes apart, injects failures) for crash tests.
//!
//! Directory operations (list, create, remove) are rare (start-up, segment
//! roll, retention) and run synchronously.

use std::future::Future;
use std::io;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;

use crate::log_ring;

/// A boxed future of a shard-local I/O.
pub type IoFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>>>>;

/// One file (a segment) opened for direct I/O.
pub trait SegmentFile {
    /// Writes `data` at `pos`; both aligned to [`crate::limits::IO_ALIGN`].
    /// `data` is copied before this returns, so the caller may reuse it at once.
    fn write_at(&self, pos: u64, data: &[u8]) -> IoFuture<()>;
    /// Writes bytes `range` of `buf` at `pos` without copying them: the write
    /// holds the buffer until it completes, and nobody changes those bytes
    /// meanwhile (see [`crate::aligned::AlignedBuf`]). By default they are
    /// copied.
    fn write_buf(
        &self,
        pos: u64,
        buf: Rc<glommio::io::DmaBuffer>,
        range: std::ops::Range<usize>,
    ) -> IoFuture<()> {
        self.write_at(pos, &buf.as_bytes()[range])
    }
    /// One write of bytes `range` of `buf` (in place, as [`Self::write_buf`])
    /// followed by `tail` (copied), at `pos`: the settled blocks of a flush
    /// and the growing last block in one request, not two. By default both
    /// are copied.
    fn write_buf_and_copy(
        &self,
        pos: u64,
        buf: Rc<glommio::io::DmaBuffer>,
        range: std::ops::Range<usize>,
        tail: &[u8],
    ) -> IoFuture<()> {
        let mut all = Vec::with_capacity(range.len() + tail.len());
        all.extend_from_slice(&buf.as_bytes()[range]);
        all.extend_from_slice(tail);
        self.write_at(pos, &all)
    }
    /// Reads `len` bytes at `pos` (any alignment); short at end of file.
    fn read_at(&self, pos: u64, len: usize) -> IoFuture<Vec<u8>>;
    /// fdatasync: everything written before the call is durable when it resolves.
    fn sync(&self) -> IoFuture<()>;
    /// The file's length in bytes.
    fn len(&self) -> u64;
    /// Whether the file has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Where the file is (errors, logs).
    fn path(&self) -> &Path;
    /// The block-aligned byte ranges at or past `from` that were never
    /// written (holes, or preallocated blocks still marked unwritten), in
    /// order. A hint for what a zero fill is worth doing; by default
    /// everything from `from` on.
    fn unwritten_ranges(&self, from: u64) -> io::Result<Vec<Range<u64>>> {
        Ok(std::iter::once(from.min(self.len())..self.len()).collect())
    }
}

/// A file system as the engine sees it.
pub trait Disk {
    /// Opens `path`; when it does not exist and `create_len` is given, creates
    /// it preallocated (zero-filled) to that length.
    fn open(&self, path: &Path, create_len: Option<u64>) -> IoFuture<Rc<dyn SegmentFile>>;
    /// Names and lengths of the files in `dir` (empty when `dir` is missing).
    fn list(&self, dir: &Path) -> io::Result<Vec<(String, u64)>>;
    /// Names of the sub-directories of `dir`.
    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Seconds since the epoch of the file's last modification.
    fn modified_secs(&self, path: &Path) -> io::Result<i64>;
}

/// glommio implementation: `DmaFile`s opened O_DIRECT, writes from DMA buffers.
#[derive(Default)]
pub struct DmaDisk;

struct DmaSegment {
    file: Rc<glommio::io::DmaFile>,
    len: u64,
    path: PathBuf,
}

/// A direct-I/O write must write all of it: a short one is an error.
fn whole_write(n: usize, want: usize, pos: u64) -> io::Result<()> {
    if n != want {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("short write: {n} of {want} bytes at {pos}"),
        ));
    }
    Ok(())
}

/// An I/O future that fails at once.
fn failed<T: 'static>(e: io::Error) -> IoFuture<T> {
    Box::pin(async move { Err(e) })
}

impl DmaSegment {
    /// Writes `buf` (kept alive by `keep`) at `pos` on the shard's log ring:
    /// the kernel has the write when this returns.
    fn ring_write(
        &self,
        pos: u64,
        ptr: *const u8,
        want: usize,
        keep: log_ring::Keep,
    ) -> IoFuture<()> {
        let op =
            log_ring::current().and_then(|r| r.write(self.file.as_raw_fd(), ptr, want, pos, keep));
        match op {
            Ok(op) => Box::pin(async move { whole_write(op.await?, want, pos) }),
            Err(e) => failed(e),
        }
    }
}

impl SegmentFile for DmaSegment {
    fn write_at(&self, pos: u64, data: &[u8]) -> IoFuture<()> {
        let mut buf = self.file.alloc_dma_buffer(data.len());
        buf.as_bytes_mut().copy_from_slice(data);
        let ptr = buf.as_ptr();
        self.ring_write(pos, ptr, data.len(), Box::new((buf, self.file.clone())))
    }

    fn write_buf(
        &self,
        pos: u64,
        buf: Rc<glommio::io::DmaBuffer>,
        range: std::ops::Range<usize>,
    ) -> IoFuture<()> {
        let ptr = buf.as_bytes()[range.clone()].as_ptr();
        self.ring_write(pos, ptr, range.len(), Box::new((buf, self.file.clone())))
    }

    fn write_buf_and_copy(
        &self,
        pos: u64,
        buf: Rc<glommio::io::DmaBuffer>,
        range: std::ops::Range<usize>,
        tail: &[u8],
    ) -> IoFuture<()> {
        let mut copy = self.file.alloc_dma_buffer(tail.len());
        copy.as_bytes_mut().copy_from_slice(tail);
        // The vector lives on the heap with the buffers it points into,
        // until the kernel completes the write.
        let iov = Box::new([
            libc::iovec {
                iov_base: buf.as_bytes()[range.clone()].as_ptr() as *mut libc::c_void,
                iov_len: range.len(),
            },
            libc::iovec {
                iov_base: copy.as_ptr() as *mut libc::c_void,
                iov_len: tail.len(),
            },
        ]);
        let want = range.len() + tail.len();
        let iov_ptr = iov.as_ptr();
        let keep: log_ring::Keep = Box::new((iov, buf, copy, self.file.clone()));
        let op = log_ring::current()
            .and_then(|r| r.writev(self.file.as_raw_fd(), iov_ptr, 2, pos, keep));
        match op {
            Ok(op) => Box::pin(async move { whole_write(op.await?, want, pos) }),
            Err(e) => failed(e),
        }
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<Vec<u8>> {
        let file = self.file.clone();
        Box::pin(async move {
            if len == 0 {
                return Ok(Vec::new());
            }
            let r = file.read_at(pos, len).await.map_err(io::Error::from)?;
            Ok(r.to_vec())
        })
    }

    fn sync(&self) -> IoFuture<()> {
        let keep: log_ring::Keep = Box::new(self.file.clone());
        match log_ring::current().and_then(|r| r.fdatasync(self.file.as_raw_fd(), keep)) {
            Ok(op) => Box::pin(async move { op.await.map(|_| ()) }),
            Err(e) => failed(e),
        }
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn unwritten_ranges(&self, from: u64) -> io::Result<Vec<Range<u64>>> {
        // ext4 and xfs report unwritten extents as holes to SEEK_HOLE /
        // SEEK_DATA (with no cached pages over them, as under direct I/O).
        // Two system calls per range, on extent metadata in memory.
        let fd = self.file.as_raw_fd();
        let seek = |pos: u64, whence: libc::c_int| -> io::Result<Option<u64>> {
            // SAFETY: lseek on a descriptor this segment owns; the file
            // position it moves is unused (all I/O is positional).
            let r = unsafe { libc::lseek(fd, pos as libc::off_t, whence) };
            if r >= 0 {
                return Ok(Some(r as u64));
            }
            match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ENXIO) => Ok(None),
                e => Err(e),
            }
        };
        let align = crate::limits::IO_ALIGN as u64;
        let mut out = Vec::new();
        let mut pos = from;
        while pos < self.len {
            let Some(hole) = seek(pos, libc::SEEK_HOLE)?.filter(|&h| h < self.len) else {
                break;
            };
            let data = seek(hole, libc::SEEK_DATA)?
                .unwrap_or(self.len)
                .min(self.len);
            // Only whole blocks that are surely unwritten.
            let (start, end) = (hole.div_ceil(align) * align, data / align * align);
            if start < end {
                out.push(start..end);
            }
            pos = data.max(hole + 1);
        }
        Ok(out)
    }
}

thread_local! {
    /// Devices whose io_uring polling support this thread has probed.
    static PROBED_DEVICES: std::cell::RefCell<std::collections::HashSet<u64>> = Default::default();
}

/// Makes glommio probe the device of `dir` with a read that really reaches it.
///
/// glommio decides once per device whether direct I/O goes to its IOPOLL ring
/// by reading the first block of the first file it opens there; on a new,
/// empty file that read succeeds without touching the device, so a device
/// without poll queues (virtio here) is taken as pollable. Reads then fail
/// with EOPNOTSUPP and every wait for a write spins instead of sleeping,
/// starving the kernel workers that run fdatasync. Opening a file that holds
/// a written block first gives glommio the right answer.
async fn probe_device(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(dir)?.dev();
    if PROBED_DEVICES.with(|p| p.borrow().contains(&dev)) {
        return Ok(());
    }
    let probe = dir.join(format!(".iopoll-probe-{}", std::process::id()));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&probe)?;
        f.write_all(&[0x5A; 4096])?;
        f.sync_all()?;
    }
    let opened = glommio::io::DmaFile::open(&probe).await;
    let _ = std::fs::remove_file(&probe);
    opened
        .map_err(io::Error::from)?
        .close()
        .await
        .map_err(io::Error::from)?;
    PROBED_DEVICES.with(|p| p.borrow_mut().insert(dev));
    Ok(())
}

impl Disk for DmaDisk {
    fn open(&self, path: &Path, create_len: Option<u64>) -> IoFuture<Rc<dyn SegmentFile>> {
        let path = path.to_path_buf();
        Box::pin(async move {
            if let Some(dir) = path.parent() {
                probe_device(dir).await?;
            }
            let exists = path.exists();
            if !exists && create_len.is_none() {
                return Err(io::Error::new(io::ErrorKind::NotFound, "no such segment"));
            }
            let file = glommio::io::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .dma_open(&path)
                .await
                .map_err(io::Error::from)?;
            let mut len = file.file_size().await.map_err(io::Error::from)?;
            if let Some(want) = create_len {
                if len < want {
                    file.pre_allocate(want, false)
                        .await
                        .map_err(io::Error::from)?;
                    len = want;
                }
            }
            if !exists {
                // Make the new directory entry durable too: fdatasync of the
                // file does not cover its name (rare: one per segment).
                // Through the executor's ring: a blocking fsync here would
                // stall every task of the shard for a device flush.
                if let Some(dir) = path.parent() {
                    let d = glommio::io::Directory::open(dir)
                        .await
                        .map_err(io::Error::from)?;
                    let synced = d.sync().await.map_err(io::Error::from);
                    d.close().await.map_err(io::Error::from)?;
                    synced?;
                }
            }
            let seg: Rc<dyn SegmentFile> = Rc::new(DmaSegment {
                file: Rc::new(file),
                len,
                path,
            });
            Ok(seg)
        })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in rd {
            let e = e?;
            let md = e.metadata()?;
            if md.is_file() {
                out.push((e.file_name().to_string_lossy().into_owned(), md.len()));
            }
        }
        out.sort();
        Ok(out)
    }

    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in rd {
            let e = e?;
            if e.metadata()?.is_dir() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn modified_secs(&self, path: &Path) -> io::Result<i64> {
        let m = std::fs::metadata(path)?.modified()?;
        Ok(m.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_ranges_are_the_blocks_never_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seg");
        let p = path.clone();
        const LEN: u64 = 4 << 20;
        crate::segmented::tests::run(move || async move {
            let f = DmaDisk.open(&p, Some(LEN)).await.expect("create");
            assert_eq!(f.unwritten_ranges(0).expect("ranges"), vec![0..LEN]);
            f.write_at(1 << 20, &[7u8; 64 << 10]).await.expect("write");
            let ranges = f.unwritten_ranges(0).expect("ranges");
            let written = (1 << 20)..(1 << 20) + (64 << 10);
            // SAFETY: statfs fills the zeroed struct we own.
            let fs_type = unsafe {
                let mut st: libc::statfs = std::mem::zeroed();
                let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
                assert_eq!(libc::statfs(c.as_ptr(), &mut st), 0);
                st.f_type
            };
            const EXT4: libc::__fsword_t = 0xEF53;
            const XFS: libc::__fsword_t = 0x5846_5342;
            if fs_type == EXT4 || fs_type == XFS {
                assert_eq!(ranges, vec![0..written.start, written.end..LEN]);
                assert_eq!(
                    f.unwritten_ranges(written.start + 4096).expect("ranges"),
                    vec![written.end..LEN]
                );
            } else {
                // Other file systems may report preallocated blocks as data:
                // never the written ones as unwritten, though.
                assert!(
                    ranges
                        .iter()
                        .all(|r| r.end <= written.start || r.start >= written.end),
                    "{ranges:?}"
                );
            }
        });
    }
}
