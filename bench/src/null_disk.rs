//! A disk whose writes and syncs complete at once and keep nothing: with
//! it, an engine phase measures the engine's own CPU per append (and the
//! load generator's), with no device in the loop to wait for or to vary
//! from run to run. `--null-disk` runs the phases on it.
//!
//! Only what a shard writing a fresh store needs is kept: which files and
//! directories exist and how long the files are. Reads see zeros, which is
//! what a freshly created file holds; an append-only phase on a new store
//! reads nothing it wrote.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use ringmq_engine::disk::{Disk, IoFuture, SegmentFile};

/// Files and directories by path; cloning shares them.
#[derive(Clone, Default)]
pub struct NullDisk {
    files: Rc<RefCell<BTreeMap<PathBuf, u64>>>,
    dirs: Rc<RefCell<BTreeSet<PathBuf>>>,
}

struct NullFile {
    path: PathBuf,
    len: u64,
}

fn done<T: 'static>(v: T) -> IoFuture<T> {
    Box::pin(std::future::ready(Ok(v)))
}

impl SegmentFile for NullFile {
    fn write_at(&self, pos: u64, data: &[u8]) -> IoFuture<()> {
        if pos + data.len() as u64 > self.len {
            return Box::pin(std::future::ready(Err(io::Error::other(format!(
                "write past the end of {}",
                self.path.display()
            )))));
        }
        done(())
    }
    fn write_buf(
        &self,
        pos: u64,
        _buf: Rc<glommio::io::DmaBuffer>,
        range: std::ops::Range<usize>,
    ) -> IoFuture<()> {
        // Nothing copied: what the real disk's zero-copy write costs the shard.
        if pos + range.len() as u64 > self.len {
            return self.write_at(pos, &[0; 1]);
        }
        done(())
    }
    fn write_buf_and_copy(
        &self,
        pos: u64,
        _buf: Rc<glommio::io::DmaBuffer>,
        range: std::ops::Range<usize>,
        tail: &[u8],
    ) -> IoFuture<()> {
        if pos + (range.len() + tail.len()) as u64 > self.len {
            return self.write_at(pos, &[0; 1]);
        }
        done(())
    }
    fn read_at(&self, pos: u64, len: usize) -> IoFuture<Vec<u8>> {
        let n = self.len.saturating_sub(pos).min(len as u64) as usize;
        done(vec![0; n])
    }
    fn sync(&self) -> IoFuture<()> {
        done(())
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn unwritten_ranges(&self, _from: u64) -> io::Result<Vec<std::ops::Range<u64>>> {
        // Nothing to fill: a fill would only add writes that cost nothing.
        Ok(Vec::new())
    }
}

impl Disk for NullDisk {
    fn open(&self, path: &Path, create_len: Option<u64>) -> IoFuture<Rc<dyn SegmentFile>> {
        let mut files = self.files.borrow_mut();
        let len = match (files.get(path), create_len) {
            (Some(&len), _) => len,
            (None, Some(len)) => {
                files.insert(path.to_path_buf(), len);
                len
            }
            (None, None) => {
                return Box::pin(std::future::ready(Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} does not exist", path.display()),
                ))))
            }
        };
        done(Rc::new(NullFile {
            path: path.to_path_buf(),
            len,
        }) as Rc<dyn SegmentFile>)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<(String, u64)>> {
        Ok(self
            .files
            .borrow()
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .filter_map(|(p, len)| Some((p.file_name()?.to_string_lossy().into_owned(), *len)))
            .collect())
    }
    fn list_dirs(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(self
            .dirs
            .borrow()
            .iter()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            .collect())
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut dirs = self.dirs.borrow_mut();
        for d in dir.ancestors() {
            dirs.insert(d.to_path_buf());
        }
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.files
            .borrow_mut()
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
    fn modified_secs(&self, path: &Path) -> io::Result<i64> {
        if self.files.borrow().contains_key(path) {
            // Written just now: retention never finds a file expired.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            Ok(now)
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
        }
    }
}

/// A disk that never fills up.
pub struct EmptyUsage;

impl ringmq_engine::env::DiskUsage for EmptyUsage {
    fn used_percent(&self, _: &Path) -> io::Result<u32> {
        Ok(0)
    }
}
