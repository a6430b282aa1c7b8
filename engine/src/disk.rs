//! The narrow I/O interface of the engine: a directory of fixed-size files,
//! each written and read at aligned positions and synced as a whole.
//!
//! Two implementations: [`DmaDisk`] (glommio `DmaFile`, O_DIRECT, io_uring) for
//! the real thing and [`crate::fault_disk::FaultDisk`] (memory, keeps written
//! and durable bytes apart, injects failures) for crash tests.
//!
//! Directory operations (list, create, remove) are rare (start-up, segment
//! roll, retention) and run synchronously.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;

/// A boxed future of a shard-local I/O.
pub type IoFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>>>>;

/// One file (a segment) opened for direct I/O.
pub trait SegmentFile {
    /// Writes `data` at `pos`; both aligned to [`crate::limits::IO_ALIGN`].
    /// `data` is copied before this returns, so the caller may reuse it at once.
    fn write_at(&self, pos: u64, data: &[u8]) -> IoFuture<()>;
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

impl SegmentFile for DmaSegment {
    fn write_at(&self, pos: u64, data: &[u8]) -> IoFuture<()> {
        let mut buf = self.file.alloc_dma_buffer(data.len());
        buf.as_bytes_mut().copy_from_slice(data);
        let file = self.file.clone();
        let want = data.len();
        Box::pin(async move {
            let n = file.write_at(buf, pos).await.map_err(io::Error::from)?;
            if n != want {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {n} of {want} bytes at {pos}"),
                ));
            }
            Ok(())
        })
    }

    fn read_at(&self, pos: u64, len: usize) -> IoFuture<Vec<u8>> {
        // glommio 0.9 routes DMA reads of block devices that advertise
        // polling to its IOPOLL ring, which answers EOPNOTSUPP on the virtio
        // disks of these machines. Reads of old data are rare (the tail is
        // served from memory), so they use an aligned pread on the same
        // O_DIRECT descriptor instead. Revisit with a glommio that can opt out.
        use std::os::unix::io::AsRawFd;
        let fd = self.file.as_raw_fd();
        let file = self.file.clone();
        Box::pin(async move {
            let _keep_open = file;
            if len == 0 {
                return Ok(Vec::new());
            }
            let a = crate::limits::IO_ALIGN as u64;
            let start = pos - pos % a;
            let end = (pos + len as u64).div_ceil(a) * a;
            let mut buf = crate::aligned::AlignedBuf::zeroed((end - start) as usize);
            let mut got = 0usize;
            while got < buf.len() {
                // SAFETY: buf is valid for writes of buf.len() - got bytes at that offset.
                let n = unsafe {
                    libc::pread(
                        fd,
                        buf.as_mut_ptr().add(got) as *mut libc::c_void,
                        buf.len() - got,
                        (start + got as u64) as libc::off_t,
                    )
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                if n == 0 {
                    break;
                }
                got += n as usize;
            }
            let from = ((pos - start) as usize).min(got);
            let to = (from + len).min(got);
            Ok(buf[from..to].to_vec())
        })
    }

    fn sync(&self) -> IoFuture<()> {
        let file = self.file.clone();
        Box::pin(async move { file.fdatasync().await.map_err(io::Error::from) })
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Disk for DmaDisk {
    fn open(&self, path: &Path, create_len: Option<u64>) -> IoFuture<Rc<dyn SegmentFile>> {
        let path = path.to_path_buf();
        Box::pin(async move {
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
