//! Measurement plumbing shared by the producer and the consumer: latency
//! histograms handed from the I/O threads to the reporter, the Java tool's
//! one-second snapshot window, the tool's own CPU time, and a log of broker
//! errors that prints each distinct one once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::limits::{ERRORS_PRINTED, HIST_MAX_US};

/// A latency histogram in microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("constant histogram bounds are valid")
}

/// Records `us`, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, HIST_MAX_US));
}

/// Histograms the I/O threads add into and the reporter empties, one per
/// metric (the producer has one, the consumer two).
pub struct HistSink {
    interval: Mutex<Vec<Histogram<u64>>>,
}

impl HistSink {
    pub fn new(metrics: usize) -> Self {
        Self {
            interval: Mutex::new((0..metrics).map(|_| new_histogram()).collect()),
        }
    }

    /// Adds a thread's local histograms and clears them.
    pub fn absorb(&self, local: &mut [Histogram<u64>]) {
        let mut shared = self.interval.lock().unwrap_or_else(|e| e.into_inner());
        for (s, l) in shared.iter_mut().zip(local.iter_mut()) {
            if !l.is_empty() {
                s.add(&*l).expect("histograms share their bounds");
                l.reset();
            }
        }
    }

    /// Takes what was recorded since the last call.
    pub fn take(&self) -> Vec<Histogram<u64>> {
        let mut shared = self.interval.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = shared.iter().map(|_| new_histogram()).collect();
        std::mem::replace(&mut *shared, fresh)
    }
}

/// p50 / p99 / p99.9 / max of a histogram, microseconds (zeros when empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    /// `p50/p99/p999/max` in microseconds.
    pub fn us_text(&self) -> String {
        format!("{}/{}/{}/{}", self.p50, self.p99, self.p999, self.max)
    }
}

/// The Java tool's statistics window: a snapshot of the counters every
/// second, the last ten kept; rates are taken between the oldest and the
/// newest.
pub struct SnapshotWindow {
    snaps: std::collections::VecDeque<Snapshot>,
}

/// When a snapshot was taken, and the counters.
pub type Snapshot = (Instant, Vec<u64>);

/// Snapshots the Java tool keeps (`snapshotList.size() > 10`).
pub const WINDOW_SNAPSHOTS: usize = 10;

impl SnapshotWindow {
    pub fn new() -> Self {
        Self {
            snaps: std::collections::VecDeque::with_capacity(WINDOW_SNAPSHOTS + 1),
        }
    }

    pub fn push(&mut self, at: Instant, counters: Vec<u64>) {
        self.snaps.push_back((at, counters));
        if self.snaps.len() > WINDOW_SNAPSHOTS {
            self.snaps.pop_front();
        }
    }

    /// Whether the window is full (the Java tool prints only then).
    pub fn full(&self) -> bool {
        self.snaps.len() >= WINDOW_SNAPSHOTS
    }

    pub fn len(&self) -> usize {
        self.snaps.len()
    }

    /// Oldest and newest snapshot.
    pub fn ends(&self) -> Option<(&Snapshot, &Snapshot)> {
        Some((self.snaps.front()?, self.snaps.back()?))
    }
}

/// Counter `i` per second between two snapshots (the Java TPS formula).
pub fn rate(begin: &Snapshot, end: &Snapshot, i: usize) -> f64 {
    let secs = end.0.duration_since(begin.0).as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    end.1[i].saturating_sub(begin.1[i]) as f64 / secs
}

/// Mean of `total` over `count` counters between two snapshots.
pub fn mean(begin: &[u64], end: &[u64], total: usize, count: usize) -> f64 {
    let n = end[count].saturating_sub(begin[count]);
    if n == 0 {
        return 0.0;
    }
    end[total].saturating_sub(begin[total]) as f64 / n as f64
}

/// Raises `max` to `v`.
pub fn raise(max: &AtomicU64, v: u64) {
    max.fetch_max(v, Ordering::Relaxed);
}

/// CPU time (user + system) of this process.
pub fn self_cpu() -> Duration {
    proc_cpu("self").unwrap_or_default()
}

/// CPU time (user + system) of `/proc/<pid>/stat`; `None` if unreadable.
pub fn proc_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields are
    // counted after the last ')'. utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as u64 } else { 100 };
    Some(Duration::from_micros((utime + stime) * 1_000_000 / hz))
}

/// Local wall-clock time as the Java producer prints it
/// (`UtilAll.timeMillisToHumanString2`: `yyyy-MM-dd HH:mm:ss,SSS`).
pub fn human_time_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: `tm` is plain old data; localtime_r fills it from `secs` and
    // touches nothing else.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}

/// Milliseconds since the Unix epoch (the clock of born/store timestamps).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Broker errors by kind: each distinct one is printed to stderr the first
/// time (up to [`ERRORS_PRINTED`]), and all are counted for the summary.
pub struct ErrorLog {
    seen: Mutex<HashMap<String, u64>>,
}

impl ErrorLog {
    pub fn new() -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records one occurrence of `what` (request, expected and actual).
    pub fn note(&self, what: String) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let distinct = seen.len();
        let count = seen.entry(what.clone()).or_insert(0);
        *count += 1;
        if *count == 1 && distinct < ERRORS_PRINTED {
            eprintln!("ringmq-bench: broker error: {what}");
        }
    }

    /// Every error seen, with counts, most frequent first.
    pub fn summary(&self) -> Vec<(String, u64)> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<(String, u64)> = seen.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all
    }
}
