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

/// The wall clock, read through the time-stamp counter between readings
/// of the system clock.
///
/// Every append takes a store timestamp. `clock_gettime` costs 25–33 ns on
/// this project's VM (the vDSO's own counter read plus conversions), about
/// a twentieth of an append's CPU under SYNC_FLUSH with a thousand
/// appenders (`engine-bench --null-disk`). So the system clock is read once
/// per [`SystemClock::REANCHOR`], and in between the counter (calibrated by
/// `quanta`, about 5 ns) says how much time has passed since. The result
/// follows the system clock to well under a millisecond, and a step of the
/// system clock (NTP) shows within one re-anchoring period.
pub struct SystemClock {
    counter: quanta::Clock,
    /// The counter's instant and the system time, in ns since the epoch,
    /// of the last reading of the system clock.
    anchor: std::cell::Cell<Option<(quanta::Instant, i64)>>,
}

impl SystemClock {
    /// How long the counter alone tells the time.
    pub const REANCHOR: std::time::Duration = std::time::Duration::from_millis(1);

    pub fn new() -> Self {
        SystemClock {
            counter: quanta::Clock::new(),
            anchor: std::cell::Cell::new(None),
        }
    }

    fn system_ns() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0)
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let now = self.counter.now();
        let ns = match self.anchor.get() {
            Some((at, system)) if now >= at && now - at < Self::REANCHOR => {
                system + (now - at).as_nanos() as i64
            }
            _ => {
                let system = Self::system_ns();
                self.anchor.set(Some((now, system)));
                system
            }
        };
        ns.div_euclid(1_000_000)
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
            clock: Rc::new(SystemClock::new()),
            usage: Rc::new(StatvfsUsage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_ms() -> i64 {
        SystemClock::system_ns().div_euclid(1_000_000)
    }

    /// Between its readings of the system clock, the counter keeps the
    /// store clock within a millisecond of it, and it never runs backwards
    /// across a re-anchoring.
    #[test]
    fn the_store_clock_follows_the_system_clock() {
        let clock = SystemClock::new();
        let start = std::time::Instant::now();
        let mut last = 0;
        let mut readings = 0u64;
        while start.elapsed() < SystemClock::REANCHOR * 20 {
            let before = system_ms();
            let now = clock.now_ms();
            let after = system_ms();
            // One millisecond either way: the two clocks' readings are not
            // taken at the same instant and each truncates to milliseconds.
            assert!(
                before - 1 <= now && now <= after + 1,
                "store clock {now} outside [{before}, {after}] ± 1 ms"
            );
            // A step back of the system clock (NTP) would show here too,
            // but not within the test's 20 ms.
            assert!(now >= last - 1, "store clock went back: {last} -> {now}");
            last = now;
            readings += 1;
        }
        assert!(readings > 20, "only {readings} readings");
    }
}
