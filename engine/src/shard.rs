//! The store root and its shards: the exclusive lock, the recorded shard
//! count, and starting one pinned glommio executor per shard.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};
use crate::limits::MAX_SHARDS;

/// I/O memory registered with io_uring per shard. `ulimit -l` is small on
/// many machines (8 MiB here): all shards together must stay under it.
pub const SHARD_IO_MEMORY: usize = 1 << 20;

/// The opened store root: holds the exclusive lock for as long as it lives.
pub struct StoreRoot {
    path: PathBuf,
    shards: u16,
    _lock: File,
}

impl StoreRoot {
    /// Locks `path` (creating it) and checks or records the shard count.
    pub fn open(path: &Path, shards: u16) -> Result<StoreRoot> {
        if shards == 0 || shards > MAX_SHARDS {
            return Err(StoreError::Config(format!(
                "shards must be in 1..={MAX_SHARDS}"
            )));
        }
        std::fs::create_dir_all(path).map_err(|e| StoreError::io("create store root", path, e))?;
        let lock_path = path.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io("open lock file", &lock_path, e))?;
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
            });
        }
        let count_path = path.join("shards");
        match File::open(&count_path) {
            Ok(mut f) => {
                let mut s = String::new();
                f.read_to_string(&mut s)
                    .map_err(|e| StoreError::io("read shard count", &count_path, e))?;
                let recorded: u16 = s.trim().parse().map_err(|_| StoreError::Corrupt {
                    path: count_path.clone(),
                    what: format!("shard count {s:?} is not a number"),
                })?;
                if recorded != shards {
                    return Err(StoreError::ShardCountMismatch {
                        path: path.to_path_buf(),
                        recorded,
                        requested: shards,
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let tmp = path.join("shards.tmp");
                let mut f =
                    File::create(&tmp).map_err(|e| StoreError::io("write shard count", &tmp, e))?;
                writeln!(f, "{shards}")
                    .map_err(|e| StoreError::io("write shard count", &tmp, e))?;
                f.sync_all()
                    .map_err(|e| StoreError::io("sync shard count", &tmp, e))?;
                std::fs::rename(&tmp, &count_path)
                    .map_err(|e| StoreError::io("rename shard count", &count_path, e))?;
                File::open(path)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| StoreError::io("sync store root", path, e))?;
            }
            Err(e) => return Err(StoreError::io("read shard count", &count_path, e)),
        }
        Ok(StoreRoot {
            path: path.to_path_buf(),
            shards,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn shards(&self) -> u16 {
        self.shards
    }
}

/// Builds the executor of shard `i`, pinned to `cpus[i % cpus.len()]` when CPUs are given.
pub fn shard_executor(i: u16, cpus: &[usize]) -> glommio::LocalExecutorBuilder {
    let placement = if cpus.is_empty() {
        glommio::Placement::Unbound
    } else {
        glommio::Placement::Fixed(cpus[i as usize % cpus.len()])
    };
    glommio::LocalExecutorBuilder::new(placement)
        .name(&format!("shard-{i}"))
        .io_memory(SHARD_IO_MEMORY)
        .ring_depth(256)
}

/// Runs `f(shard)` on N pinned shard executors and waits for all of them.
pub fn run_shards<F, Fut, T>(shards: u16, cpus: &[usize], f: F) -> std::io::Result<Vec<T>>
where
    F: Fn(u16) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = T> + 'static,
    T: Send + 'static,
{
    let mut handles = Vec::new();
    for i in 0..shards {
        let f = f.clone();
        let h = shard_executor(i, cpus)
            .spawn(move || f(i))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        handles.push(h);
    }
    handles
        .into_iter()
        .map(|h| h.join().map_err(|e| std::io::Error::other(e.to_string())))
        .collect()
}

/// Keeps glibc from serving large buffers with mmap/munmap. The engine and
/// glommio allocate and free 1 MiB aligned I/O buffers at a high rate; with
/// glibc's default threshold each one is a fresh mapping (page faults,
/// zeroing, TLB shootdowns on unmap: ~15 % of a shard's time in the append
/// benchmark). Process-wide, so binaries call it once at start.
pub fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
