//! UNIQ_KEY, the client message id, built like the 4.9.7 Java client's
//! `MessageClientIDSetter`: hex of client IP, pid (16 bits), a per-process
//! random word (Java: the class loader's hash), milliseconds since the start
//! of the current month (local time), and a 16-bit counter.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::stats::now_millis;

static COUNTER: AtomicU32 = AtomicU32::new(0);

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Makes UNIQ_KEYs; one per thread (the counter is shared process-wide).
pub struct UniqKeys {
    /// Hex of IP + pid + random word.
    prefix: String,
    month_start: i64,
    next_month_start: i64,
}

impl UniqKeys {
    pub fn new(ip: IpAddr, salt: u32) -> Self {
        let mut fixed = match ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        fixed.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
        fixed.extend_from_slice(&salt.to_be_bytes());
        let mut prefix = String::with_capacity(fixed.len() * 2 + 12);
        push_hex(&mut prefix, &fixed);
        let (month_start, next_month_start) = month_bounds(now_millis());
        Self {
            prefix,
            month_start,
            next_month_start,
        }
    }

    /// Writes the next id into `out` (which is cleared first).
    pub fn next_into(&mut self, out: &mut String) {
        let now = now_millis();
        if now >= self.next_month_start {
            (self.month_start, self.next_month_start) = month_bounds(now);
        }
        let diff = (now - self.month_start).max(0) as u32;
        let count = COUNTER.fetch_add(1, Ordering::Relaxed) as u16;
        out.clear();
        out.push_str(&self.prefix);
        push_hex(out, &diff.to_be_bytes());
        push_hex(out, &count.to_be_bytes());
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xF) as usize] as char);
    }
}

/// Start of the month containing `now_ms` and of the next one, local time.
fn month_bounds(now_ms: i64) -> (i64, i64) {
    let secs = (now_ms / 1000) as libc::time_t;
    // SAFETY: plain-old-data `tm`; localtime_r and mktime read and write
    // only the structs passed.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm.tm_mday = 1;
        tm.tm_hour = 0;
        tm.tm_min = 0;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        let start = libc::mktime(&mut tm) as i64 * 1000;
        tm.tm_mon += 1;
        tm.tm_mday = 1;
        tm.tm_hour = 0;
        tm.tm_min = 0;
        tm.tm_sec = 0;
        tm.tm_isdst = -1;
        let next = libc::mktime(&mut tm) as i64 * 1000;
        (start, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut keys = UniqKeys::new("127.0.0.1".parse().unwrap(), 0xAABBCCDD);
        let mut a = String::new();
        let mut b = String::new();
        keys.next_into(&mut a);
        keys.next_into(&mut b);
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("7F000001"));
        assert_eq!(&a[12..20], "AABBCCDD");
        assert_ne!(a, b);
        let (start, next) = month_bounds(now_millis());
        assert!(start <= now_millis() && now_millis() < next);
        assert!(next - start >= 28 * 86_400_000 - 3_600_000);
    }
}
