//! What a shard needs from its surroundings, injectable for tests: the disk,
//! the clock and the disk-usage gauge.

use std::io;
use std::path::Path;
use std::rc::Rc;

use crate::disk::{Disk, DmaDisk};

pub trait Clock {
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> i64;
    /// Hour of the day in local time (retention's `deleteWhen`).
    fn local_hour(&self) -> u32;
}

pub trait DiskUsage {
    /// Percent of the file system holding `path` that is used.
    fn used_percent(&self, path: &Path) -> io::Result<u32>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
    fn local_hour(&self) -> u32 {
        let t = (self.now_ms() / 1000) as libc::time_t;
        // SAFETY: localtime_r writes into the zeroed struct we own.
        unsafe {
            let mut tm: libc::tm = std::mem::zeroed();
            if libc::localtime_r(&t, &mut tm).is_null() {
                return ((t / 3600) % 24) as u32;
            }
            tm.tm_hour as u32
        }
    }
}

/// statvfs(2) of the store's file system.
pub struct StatvfsUsage;

impl DiskUsage for StatvfsUsage {
    fn used_percent(&self, path: &Path) -> io::Result<u32> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path has a NUL byte"))?;
        // SAFETY: c is a valid C string; st is written by statvfs.
        let st = unsafe {
            let mut st: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(c.as_ptr(), &mut st) != 0 {
                return Err(io::Error::last_os_error());
            }
            st
        };
        if st.f_blocks == 0 {
            return Ok(0);
        }
        let used = st.f_blocks.saturating_sub(st.f_bfree) as u128;
        Ok((used * 100 / st.f_blocks as u128) as u32)
    }
}

/// The injectable parts of a shard's environment.
#[derive(Clone)]
pub struct ShardEnv {
    pub disk: Rc<dyn Disk>,
    pub clock: Rc<dyn Clock>,
    pub usage: Rc<dyn DiskUsage>,
}

impl ShardEnv {
    /// Direct I/O, the system clock and statvfs.
    pub fn real() -> Self {
        ShardEnv {
            disk: Rc::new(DmaDisk),
            clock: Rc::new(SystemClock),
            usage: Rc::new(StatvfsUsage),
        }
    }
}
