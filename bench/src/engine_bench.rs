//! `engine-bench`: append throughput and latency of the ringmq storage engine
//! (ASYNC and SYNC flush modes) next to the physical limit of the same disk,
//! measured in the same run with plain sequential O_DIRECT writes.
//!
//! Phases, each in a fresh sub-directory removed afterwards:
//! 1. `async`: `--async-concurrency` appenders per shard for `--seconds`;
//!    throughput counts acknowledged appends (the tail cache may still hold up
//!    to `tail_cache_bytes` per shard when the window closes: the drain time is
//!    printed on stderr).
//! 2. raw async baseline: the bytes the async phase appended, written
//!    sequentially with O_DIRECT, 1 MiB buffers, 8 writes in flight, one
//!    writer per shard, then one fdatasync.
//! 3. `sync` at each `--concurrency` C (appenders per shard), then its
//!    baseline: the same bytes (or `--seconds`, whichever first) written as
//!    groups of C records (the average record size), each group written with
//!    O_DIRECT (rewriting its partial tail page, as a commitlog does) and
//!    followed by an fdatasync.
//!
//! MB is 10^6 bytes. Bytes are record bytes on disk (`Appended::size`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::Parser;
use glommio::io::{DmaBuffer, DmaFile};
use hdrhistogram::Histogram;

mod lockstep;
mod null_disk;

/// The allocator the `ringmq` binary runs with, so the engine is measured
/// as it runs there.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use ringmq_engine::shard::run_shards;
use ringmq_engine::{shard_of, FlushMode, MessageInput, ShardEnv, ShardStore, StoreConfig};

/// Alignment of O_DIRECT writes.
const ALIGN: u64 = 4096;
/// Raw async baseline: buffer size and writes in flight.
const RAW_BUF: u64 = 1 << 20;
const RAW_INFLIGHT: usize = 8;
/// The lockstep phase's buffer size when the engine streams nothing
/// (`--sync-stream-kib 0`): larger than any group, so one write per group.
const LOCKSTEP_UNSTREAMED_BYTES: usize = 16 << 20;

/// An aligned buffer of `len` bytes for the raw baseline, filled once.
fn filled(file: &DmaFile, len: usize) -> Rc<DmaBuffer> {
    let mut buf = file.alloc_dma_buffer(len);
    buf.as_bytes_mut().fill(0x5A);
    Rc::new(buf)
}
/// A phase stops early once it wrote this many bytes (all shards together).
const PHASE_BYTE_CAP: u64 = 4 << 30;
/// How many of its appended bytes a shard counts before adding them to the
/// phase's shared total (the cap is overshot by at most this per shard).
const PUBLISH_BYTES: u64 = 1 << 20;
/// Highest latency the histograms track, microseconds.
const HIST_MAX_US: u64 = 60_000_000;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "engine-bench",
    about = "ringmq engine append benchmark vs raw O_DIRECT"
)]
struct Args {
    /// Number of shards (one pinned executor each).
    #[arg(long, default_value_t = 1)]
    shards: u16,
    /// Body bytes per record.
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Duration of each engine phase, seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    json: bool,
    /// CPUs to pin shards to, e.g. "0,1" (shard i on cpus[i % len]); unpinned if absent.
    #[arg(long)]
    cpus: Option<String>,
    /// Directory to run in (a fresh sub-directory is created and removed);
    /// default a fresh directory under /var/tmp.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// SYNC mode appenders per shard, comma-separated.
    #[arg(long, default_value = "1,64,1024")]
    concurrency: String,
    /// Which flush modes to run, comma-separated (`async`, `sync`); each
    /// with its same-run baseline. Running one alone helps profiling.
    #[arg(long, default_value = "async,sync")]
    modes: String,
    /// ASYNC mode appenders per shard.
    #[arg(long, default_value_t = 16)]
    async_concurrency: usize,
    /// Commitlog segment size, MiB.
    #[arg(long, default_value_t = 256)]
    segment_mib: u64,
    /// Bytes each shard appends before measuring, MiB (default: the tail
    /// cache size, so that the cache has filled once).
    #[arg(long)]
    warmup_mib: Option<u64>,
    /// Tail cache per shard, MiB (engine default 128).
    #[arg(long, default_value_t = 128)]
    tail_cache_mib: u64,
    /// SYNC mode: whole blocks an append starts writing before its group
    /// commit, KiB (engine default 256; 0 leaves every write to the group
    /// commit).
    #[arg(long)]
    sync_stream_kib: Option<usize>,
    /// Zero-fill commitlog segments created ahead of need: `on` or `off`
    /// (engine default: on under SYNC_FLUSH only).
    #[arg(long)]
    zero_fill: Option<Toggle>,
    /// Reopen each store after its warm-up (a restarted broker: its
    /// active segment was not created by this process).
    #[arg(long)]
    reopen: bool,
    /// With `--reopen`: zero-fill setting of the store before the reopen
    /// (default: as `--zero-fill`). `off` leaves the active segment
    /// unfilled, as a fill cut short under load does.
    #[arg(long)]
    warmup_zero_fill: Option<Toggle>,
    /// Run the engine and lockstep phases on a disk whose writes and syncs
    /// complete at once and keep nothing: what is left is CPU per append
    /// (the engine's and the load generator's), without the device's wait
    /// or its noise. No raw baseline (there is no device to measure).
    #[arg(long)]
    null_disk: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Toggle {
    On,
    Off,
}

/// What an engine phase measured: one shard's figures, or all shards merged
/// (counts summed, durations the slowest shard's, histograms combined).
struct EngineResult {
    /// Commitlog fdatasyncs and the bytes they made durable.
    syncs: u64,
    synced_bytes: u64,
    msgs: u64,
    bytes: u64,
    elapsed: Duration,
    drain: Duration,
    hist: Histogram<u64>,
}

impl EngineResult {
    fn merge(&mut self, r: &EngineResult) -> Result<(), String> {
        self.msgs += r.msgs;
        self.syncs += r.syncs;
        self.synced_bytes += r.synced_bytes;
        self.bytes += r.bytes;
        self.elapsed = self.elapsed.max(r.elapsed);
        self.drain = self.drain.max(r.drain);
        self.hist
            .add(&r.hist)
            .map_err(|e| format!("merge histograms: {e:?}"))
    }
}

struct Row {
    mode: &'static str,
    concurrency: usize,
    shards: u16,
    record_bytes: usize,
    msgs_per_s: f64,
    mb_per_s: f64,
    /// None on the null disk (no device, no baseline).
    raw_mb_per_s: Option<f64>,
    ratio: f64,
    /// SYNC rows: the closed loop without the engine ([`lockstep`]).
    lockstep_mb_per_s: Option<f64>,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    max_us: u64,
}

impl Row {
    /// The engine's bytes per second over the lockstep loop's.
    fn lockstep_ratio(&self) -> f64 {
        match self.lockstep_mb_per_s {
            Some(l) if l > 0.0 => self.mb_per_s / l,
            _ => 0.0,
        }
    }
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("histogram bounds")
}

fn parse_list(s: &str, what: &str) -> Result<Vec<usize>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<usize>().map_err(|e| format!("{what} {p:?}: {e}")))
        .collect()
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        0.0
    } else {
        bytes as f64 / 1e6 / s
    }
}

/// One shard's appenders and what they measured.
struct Run {
    store: ShardStore,
    topic: String,
    shard: u16,
    body: bytes::Bytes,
    hist: RefCell<Histogram<u64>>,
    msgs: Cell<u64>,
    bytes: Cell<u64>,
    seq: Cell<u64>,
    stop: Cell<bool>,
    error: RefCell<Option<String>>,
    /// Bytes appended by all shards (the phase's cap). Shared between the
    /// shard threads, so each adds to it once per [`PUBLISH_BYTES`]: an
    /// atomic add and load per append on a cache line both cores write
    /// would be a cost of the load generator that grows with the shards.
    written: Arc<AtomicU64>,
    /// This shard's bytes not yet added to `written`.
    unpublished: Cell<u64>,
    /// `written` has reached [`PHASE_BYTE_CAP`].
    capped: Cell<bool>,
    /// Times each append: the time-stamp counter, read without the vDSO's
    /// clock_gettime (about 25 ns a read on this VM, two per append, a
    /// cost of the load generator and not of the engine).
    clock: quanta::Clock,
}

impl Run {
    /// Forgets what the warm-up measured.
    fn reset(&self) {
        self.hist.borrow_mut().reset();
        self.msgs.set(0);
        self.bytes.set(0);
        self.written.store(0, Ordering::Relaxed);
        self.unpublished.set(0);
        self.capped.set(false);
    }

    /// Counts `size` appended bytes towards the phase's cap.
    fn count_written(&self, size: u64) {
        let mine = self.unpublished.get() + size;
        if mine < PUBLISH_BYTES {
            self.unpublished.set(mine);
            return;
        }
        self.unpublished.set(0);
        let total = self.written.fetch_add(mine, Ordering::Relaxed) + mine;
        if total >= PHASE_BYTE_CAP {
            self.capped.set(true);
        }
    }
}

/// Properties as a producer sends them: a unique key (what a client
/// generates: distinct per message) and a tag. Written in place, so that the
/// benchmark's own cost per message stays small next to the engine's.
fn write_properties(out: &mut String, pid: u32, shard: u16, n: u64) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.clear();
    out.push_str("UNIQ_KEY\u{1}7F000001");
    let mut hex = |v: u64, digits: u32| {
        for i in (0..digits).rev() {
            out.push(HEX[((v >> (i * 4)) & 0xF) as usize] as char);
        }
    };
    hex(pid as u64, 8);
    hex(shard as u64, 4);
    hex(n, 12);
    out.push_str("\u{2}TAGS\u{1}TagA");
}

/// Runs `conc` appenders on `run`'s shard until `done` says so (checked
/// before each append), recording every append's latency.
async fn drive(
    run: &Rc<Run>,
    queues: &[u32],
    conc: usize,
    done: impl Fn(&Run) -> bool + Clone + 'static,
) {
    let mut tasks = Vec::with_capacity(conc);
    for task in 0..conc {
        let run = run.clone();
        let done = done.clone();
        let qid = queues[task % queues.len()];
        tasks.push(glommio::spawn_local(async move {
            let mut msg = MessageInput::simple(&run.topic, qid, &[], "");
            let pid = std::process::id();
            msg.body = run.body.clone();
            while !done(&run) && run.error.borrow().is_none() {
                let n = run.seq.get();
                run.seq.set(n + 1);
                write_properties(&mut msg.properties, pid, run.shard, n);
                let t0 = run.clock.raw();
                match run.store.append(std::slice::from_ref(&msg)).await {
                    Ok(r) => {
                        let us = run.clock.delta_as_nanos(t0, run.clock.raw()) / 1000;
                        run.hist.borrow_mut().saturating_record(us.max(1));
                        let size: u64 = r.records.iter().map(|a| a.size as u64).sum();
                        run.msgs.set(run.msgs.get() + r.records.len() as u64);
                        run.bytes.set(run.bytes.get() + size);
                        run.count_written(size);
                    }
                    Err(e) => {
                        run.error.borrow_mut().get_or_insert(format!("append: {e}"));
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await;
    }
}

/// Runs the engine for `seconds` with `conc` appenders per shard.
fn engine_phase(
    args: &Args,
    cpus: &[usize],
    root: &Path,
    mode: FlushMode,
    conc: usize,
    topic: String,
) -> Result<EngineResult, String> {
    let shards = args.shards;
    let record_bytes = args.record_bytes;
    let seconds = Duration::from_secs_f64(args.seconds);
    let segment = args.segment_mib << 20;
    let tail = args.tail_cache_mib << 20;
    let warmup = args.warmup_mib.unwrap_or(args.tail_cache_mib) << 20;
    let sync_stream = args.sync_stream_kib.map(|k| k << 10);
    let zero_fill = args.zero_fill.map(|t| matches!(t, Toggle::On));
    let reopen = args.reopen;
    let warmup_zero_fill = match args.warmup_zero_fill {
        Some(t) if reopen => Some(matches!(t, Toggle::On)),
        _ => zero_fill,
    };
    let null_disk = args.null_disk;
    let root = root.to_path_buf();
    let barrier = Arc::new(Barrier::new(shards as usize));
    let written = Arc::new(AtomicU64::new(0));
    let conc = conc.max(1);
    let results = run_shards(shards, cpus, move |shard| {
        let root = root.clone();
        let topic = topic.clone();
        let barrier = barrier.clone();
        let written = written.clone();
        async move {
            // One disk per shard for the whole phase (a reopen finds its files).
            let null = null_disk.then(null_disk::NullDisk::default);
            let env = || match &null {
                Some(d) => ShardEnv {
                    disk: Rc::new(d.clone()),
                    clock: Rc::new(ringmq_engine::env::SystemClock::new()),
                    usage: Rc::new(null_disk::EmptyUsage),
                },
                None => ShardEnv::real(),
            };
            let mut cfg = StoreConfig::new(root, shards);
            cfg.flush_mode = mode;
            cfg.commitlog_segment_bytes = segment;
            cfg.tail_cache_bytes = tail;
            if let Some(b) = sync_stream {
                cfg.sync_stream_bytes = b;
            }
            cfg.zero_fill_log_segments = zero_fill;
            let opened = ShardStore::open(
                StoreConfig {
                    zero_fill_log_segments: warmup_zero_fill,
                    ..cfg.clone()
                },
                shard,
                env(),
            )
            .await;
            // Every shard passes the barrier, even a failed one, so none waits forever.
            barrier.wait();
            let store = opened.map_err(|e| format!("open shard {shard}: {e}"))?;
            let queues: Vec<u32> = (0..shards as u32 * 8)
                .filter(|&q| shard_of(&topic, q, shards) == shard)
                .collect();
            // One shared body: a broker hands the engine a slice of the
            // network buffer, it does not copy the body per message either.
            let body = bytes::Bytes::from(
                (0..record_bytes)
                    .map(|i| b'a' + (i % 26) as u8)
                    .collect::<Vec<u8>>(),
            );
            let new_run = |store: &ShardStore| {
                Rc::new(Run {
                    store: store.clone(),
                    topic: topic.clone(),
                    shard,
                    body: body.clone(),
                    hist: RefCell::new(new_hist()),
                    msgs: Cell::new(0),
                    bytes: Cell::new(0),
                    seq: Cell::new(0),
                    stop: Cell::new(false),
                    error: RefCell::new(None),
                    written: written.clone(),
                    unpublished: Cell::new(0),
                    capped: Cell::new(false),
                    clock: quanta::Clock::new(),
                })
            };
            let mut run = new_run(&store);
            // Warm-up, not measured: the tail cache fills once (its buffers
            // are then recycled; a fresh one costs page faults that, in this
            // VM, the host must back), segments get created, the flusher's
            // write window gets going.
            let warm_until = warmup;
            drive(&run, &queues, conc, move |r| r.bytes.get() >= warm_until).await;
            let mut store = store;
            if reopen {
                // As a restarted broker: the measured appends go to the
                // store opened again on the warm-up's log.
                drop(run);
                let reopened = async {
                    store.shutdown().await?;
                    ShardStore::open(cfg, shard, env()).await
                }
                .await;
                // Every shard passes the barrier, even a failed one.
                barrier.wait();
                store = reopened.map_err(|e| format!("reopen shard {shard}: {e}"))?;
                run = new_run(&store);
            }
            run.reset();
            let before = store.stats();
            barrier.wait();
            let start = Instant::now();
            let timer = {
                let run = run.clone();
                glommio::spawn_local(async move {
                    glommio::timer::sleep(seconds).await;
                    run.stop.set(true);
                })
            };
            drive(&run, &queues, conc, |r| r.stop.get() || r.capped.get()).await;
            drop(timer);
            let elapsed = start.elapsed();
            // Group commits of the measured window (the shutdown adds one more).
            let stats = store.stats().since(&before);
            eprintln!(
                "shard {shard}: {} flush rounds (avg commitlog write {} us, max {} us), {} syncs (avg fdatasync {} us), {} appends waited for cache room, {} writes started by appends, {} segments created (longest {} us, writes waited for one {} times, {} MiB zero-filled ahead of use, {} fills cut short), {} completions found by the log ring's watchdog",
                stats.flush_rounds,
                stats.write_us.checked_div(stats.log_writes).unwrap_or(0),
                stats.write_max_us,
                stats.log_syncs,
                stats.sync_us.checked_div(stats.log_syncs).unwrap_or(0),
                stats.room_waits,
                stats.streamed_writes,
                stats.segments_created,
                stats.segment_create_max_us,
                stats.segment_stalls,
                stats.zero_filled_bytes >> 20,
                stats.zero_fills_cut_short,
                ringmq_engine::log_ring::watchdog_reaps()
            );
            let d0 = Instant::now();
            let shut = store.shutdown().await;
            let drain = d0.elapsed();
            if let Some(e) = run.error.borrow_mut().take() {
                return Err(format!("shard {shard}: {e}"));
            }
            shut.map_err(|e| format!("shutdown shard {shard}: {e}"))?;
            let hist = run.hist.borrow().clone();
            Ok(EngineResult {
                syncs: stats.log_syncs,
                synced_bytes: stats.synced_bytes,
                msgs: run.msgs.get(),
                bytes: run.bytes.get(),
                elapsed,
                drain,
                hist,
            })
        }
    })
    .map_err(|e| format!("run shards: {e}"))?;
    let mut total = EngineResult {
        syncs: 0,
        synced_bytes: 0,
        msgs: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
        drain: Duration::ZERO,
        hist: new_hist(),
    };
    for r in results {
        total.merge(&r?)?;
    }
    Ok(total)
}

/// How the raw baseline writes.
#[derive(Clone, Copy)]
enum RawPattern {
    /// 1 MiB aligned buffers, `RAW_INFLIGHT` in flight, one fdatasync at the end.
    Streaming,
    /// Groups of `group` bytes, each written then fdatasynced.
    Groups { group: u64 },
}

/// Writes `bytes_per_shard` per shard (in parallel), stopping at `limit`;
/// returns total logical bytes and the longest shard time.
fn raw_phase(
    shards: u16,
    cpus: &[usize],
    root: &Path,
    bytes_per_shard: u64,
    pattern: RawPattern,
    limit: Duration,
) -> Result<(u64, Duration), String> {
    std::fs::create_dir_all(root).map_err(|e| format!("create {}: {e}", root.display()))?;
    let root = root.to_path_buf();
    let barrier = Arc::new(Barrier::new(shards as usize));
    let results = run_shards(shards, cpus, move |shard| {
        let path = root.join(format!("raw-{shard}"));
        let barrier = barrier.clone();
        async move {
            let opened = async {
                let f = DmaFile::create(&path).await?;
                let alloc = bytes_per_shard.div_ceil(RAW_BUF) * RAW_BUF + ALIGN;
                f.pre_allocate(alloc, false).await?;
                Ok::<_, glommio::GlommioError<()>>(f)
            }
            .await;
            barrier.wait();
            let file = Rc::new(opened.map_err(|e| format!("open {}: {e}", path.display()))?);
            let io = |e: glommio::GlommioError<()>| format!("write {}: {e}", path.display());
            let start = Instant::now();
            let done = match pattern {
                RawPattern::Streaming => {
                    // The buffers are filled once and reused: the baseline
                    // measures the disk, not page faults.
                    let bufs: Vec<Rc<DmaBuffer>> = (0..RAW_INFLIGHT)
                        .map(|_| filled(&file, RAW_BUF as usize))
                        .collect();
                    let mut inflight: VecDeque<glommio::Task<glommio::Result<(), ()>>> =
                        VecDeque::with_capacity(RAW_INFLIGHT);
                    let mut pos = 0u64;
                    let mut n = 0usize;
                    while pos < bytes_per_shard {
                        if inflight.len() >= RAW_INFLIGHT {
                            if let Some(t) = inflight.pop_front() {
                                t.await.map_err(io)?;
                            }
                        }
                        let f = file.clone();
                        let buf = bufs[n % RAW_INFLIGHT].clone();
                        n += 1;
                        let p = pos;
                        inflight.push_back(glommio::spawn_local(async move {
                            f.write_rc_at(buf, p).await.map(|_| ())
                        }));
                        pos += RAW_BUF;
                    }
                    while let Some(t) = inflight.pop_front() {
                        t.await.map_err(io)?;
                    }
                    pos
                }
                RawPattern::Groups { group } => {
                    let group = group.max(1);
                    // A group's write spans one of two block counts; one
                    // filled buffer of each, reused.
                    let mut bufs: Vec<Rc<DmaBuffer>> = Vec::new();
                    let mut pos = 0u64;
                    while pos < bytes_per_shard && start.elapsed() < limit {
                        let from = pos / ALIGN * ALIGN;
                        let len = ((pos + group).div_ceil(ALIGN) * ALIGN - from) as usize;
                        let buf = match bufs.iter().find(|b| b.len() == len) {
                            Some(b) => b.clone(),
                            None => {
                                bufs.push(filled(&file, len));
                                bufs[bufs.len() - 1].clone()
                            }
                        };
                        file.write_rc_at(buf, from).await.map_err(io)?;
                        file.fdatasync().await.map_err(io)?;
                        pos += group;
                    }
                    pos
                }
            };
            if matches!(pattern, RawPattern::Streaming) {
                file.fdatasync().await.map_err(io)?;
            }
            let elapsed = start.elapsed();
            // Closed now, not at an I/O turn of an executor about to end
            // (until the process exits, the removed file would keep its
            // blocks; the phases of one run would add up on the disk).
            file.close_rc().await.map_err(io)?;
            Ok::<_, String>((done, elapsed))
        }
    })
    .map_err(|e| format!("run shards: {e}"))?;
    let mut bytes = 0;
    let mut elapsed = Duration::ZERO;
    for r in results {
        let (b, d) = r?;
        bytes += b;
        elapsed = elapsed.max(d);
    }
    Ok((bytes, elapsed))
}

fn row(
    mode: &'static str,
    concurrency: usize,
    args: &Args,
    e: &EngineResult,
    raw_mb_per_s: Option<f64>,
) -> Row {
    let mbps = mb_per_s(e.bytes, e.elapsed);
    let secs = e.elapsed.as_secs_f64();
    let q = |p: f64| {
        if e.hist.is_empty() {
            0
        } else {
            e.hist.value_at_quantile(p)
        }
    };
    Row {
        mode,
        concurrency,
        shards: args.shards,
        record_bytes: args.record_bytes,
        msgs_per_s: if secs > 0.0 {
            e.msgs as f64 / secs
        } else {
            0.0
        },
        mb_per_s: mbps,
        raw_mb_per_s,
        ratio: match raw_mb_per_s {
            Some(raw) if raw > 0.0 => mbps / raw,
            _ => 0.0,
        },
        lockstep_mb_per_s: None,
        p50_us: q(0.5),
        p99_us: q(0.99),
        p999_us: q(0.999),
        max_us: e.hist.max(),
    }
}

fn remove_dir(p: &Path) {
    if let Err(e) = std::fs::remove_dir_all(p) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!("warning: cannot remove {}: {e}", p.display());
        }
    }
}

fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// The ASYNC_FLUSH phase and its streaming baseline of the same bytes.
fn async_rows(args: &Args, cpus: &[usize], base: &Path, run_id: u32) -> Result<Row, String> {
    let dir = base.join("async");
    let topic = format!("BenchAsync{run_id}");
    let conc = args.async_concurrency.max(1);
    let r = engine_phase(args, cpus, &dir, FlushMode::Async, conc, topic);
    remove_dir(&dir);
    let e = r?;
    eprintln!(
        "async: {} msgs, {} bytes in {:.2}s (shutdown drain {:.2}s)",
        e.msgs,
        e.bytes,
        e.elapsed.as_secs_f64(),
        e.drain.as_secs_f64()
    );

    if args.null_disk {
        return Ok(row("async", conc, args, &e, None));
    }
    // The raw streaming baseline of the same bytes.
    let dir = base.join("raw-async");
    let per_shard = e.bytes.div_ceil(args.shards as u64).max(RAW_BUF);
    let r = raw_phase(
        args.shards,
        cpus,
        &dir,
        per_shard,
        RawPattern::Streaming,
        Duration::MAX,
    );
    remove_dir(&dir);
    let (raw_bytes, raw_time) = r?;
    let raw = mb_per_s(raw_bytes, raw_time);
    eprintln!(
        "raw async: {raw_bytes} bytes in {:.2}s",
        raw_time.as_secs_f64()
    );
    Ok(row("async", conc, args, &e, Some(raw)))
}

fn run(args: &Args, base: &Path) -> Result<Vec<Row>, String> {
    let cpus = match &args.cpus {
        Some(s) => parse_list(s, "cpu")?,
        None => Vec::new(),
    };
    let sync_conc = parse_list(&args.concurrency, "concurrency")?;
    let run_id = std::process::id();
    let mut rows = Vec::new();
    let limit = Duration::from_secs_f64(args.seconds);
    let modes: Vec<&str> = args.modes.split(',').map(str::trim).collect();
    if let Some(bad) = modes.iter().find(|m| !matches!(**m, "async" | "sync")) {
        return Err(format!("unknown mode {bad:?} (async, sync)"));
    }
    if modes.contains(&"async") {
        rows.push(async_rows(args, &cpus, base, run_id)?);
    }
    if !modes.contains(&"sync") {
        return Ok(rows);
    }

    // SYNC at each concurrency, each with its baseline.
    for &c in &sync_conc {
        let c = c.max(1);
        let dir = base.join(format!("sync-{c}"));
        let topic = format!("BenchSync{c}x{run_id}");
        let r = engine_phase(args, &cpus, &dir, FlushMode::Sync, c, topic);
        remove_dir(&dir);
        let e = r?;
        // The engine's real average group commit: bytes made durable per fdatasync.
        let group = e.synced_bytes.checked_div(e.syncs).unwrap_or(0).max(1);
        eprintln!(
            "sync c={c}: {} msgs, {} bytes in {:.2}s, {} group commits of {} bytes on average",
            e.msgs,
            e.bytes,
            e.elapsed.as_secs_f64(),
            e.syncs,
            group
        );
        let per_shard = e.bytes.div_ceil(args.shards as u64).max(group);
        let dir = base.join(format!("lockstep-{c}"));
        let plan = lockstep::Plan {
            shards: args.shards,
            concurrency: c,
            record_len: e.bytes.checked_div(e.msgs).unwrap_or(1) as usize,
            stream_bytes: match args.sync_stream_kib {
                // The engine's "no streaming": one write per group.
                Some(0) => LOCKSTEP_UNSTREAMED_BYTES,
                Some(k) => k << 10,
                None => StoreConfig::new(base.to_path_buf(), args.shards).sync_stream_bytes,
            },
            bytes_per_shard: per_shard,
            limit,
            null_io: args.null_disk,
        };
        let r = lockstep::lockstep_phase(&plan, &cpus, &dir);
        remove_dir(&dir);
        let l = r?;
        eprintln!(
            "lockstep c={c}: {} msgs, {} bytes in {:.2}s",
            l.msgs,
            l.bytes,
            l.elapsed.as_secs_f64()
        );
        if args.null_disk {
            let mut r = row("sync", c, args, &e, None);
            r.lockstep_mb_per_s = Some(mb_per_s(l.bytes, l.elapsed));
            rows.push(r);
            continue;
        }
        let dir = base.join(format!("raw-sync-{c}"));
        let r = raw_phase(
            args.shards,
            &cpus,
            &dir,
            per_shard,
            RawPattern::Groups { group },
            limit,
        );
        remove_dir(&dir);
        let (raw_bytes, raw_time) = r?;
        eprintln!(
            "raw sync c={c}: {raw_bytes} bytes in {:.2}s",
            raw_time.as_secs_f64()
        );
        let mut r = row("sync", c, args, &e, Some(mb_per_s(raw_bytes, raw_time)));
        r.lockstep_mb_per_s = Some(mb_per_s(l.bytes, l.elapsed));
        rows.push(r);
    }
    Ok(rows)
}

fn print_rows(rows: &[Row], json: bool) {
    if json {
        for r in rows {
            let mut v = serde_json::json!({
                "mode": r.mode,
                "concurrency": r.concurrency,
                "shards": r.shards,
                "record_bytes": r.record_bytes,
                "msgs_per_s": r.msgs_per_s,
                "mb_per_s": r.mb_per_s,
                "raw_mb_per_s": r.raw_mb_per_s,
                "ratio": r.ratio,
                "p50_us": r.p50_us,
                "p99_us": r.p99_us,
                "p999_us": r.p999_us,
                "max_us": r.max_us,
            });
            if let Some(l) = r.lockstep_mb_per_s {
                v["lockstep_mb_per_s"] = l.into();
                v["lockstep_ratio"] = r.lockstep_ratio().into();
            }
            println!("{v}");
        }
        return;
    }
    println!(
        "{:<6} {:>11} {:>6} {:>12} {:>12} {:>9} {:>9} {:>6} {:>13} {:>14} {:>8} {:>8} {:>8} {:>9}",
        "mode",
        "concurrency",
        "shards",
        "record_bytes",
        "msgs/s",
        "MB/s",
        "raw MB/s",
        "ratio",
        "lockstep MB/s",
        "lockstep ratio",
        "p50 us",
        "p99 us",
        "p999 us",
        "max us"
    );
    for r in rows {
        let (lockstep, lockstep_ratio) = match r.lockstep_mb_per_s {
            Some(l) => (format!("{l:.1}"), format!("{:.2}", r.lockstep_ratio())),
            None => ("-".to_string(), "-".to_string()),
        };
        let (raw, ratio) = match r.raw_mb_per_s {
            Some(raw) => (format!("{raw:.1}"), format!("{:.2}", r.ratio)),
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<6} {:>11} {:>6} {:>12} {:>12.0} {:>9.1} {:>9} {:>6} {:>13} {:>14} {:>8} {:>8} {:>8} {:>9}",
            r.mode,
            r.concurrency,
            r.shards,
            r.record_bytes,
            r.msgs_per_s,
            r.mb_per_s,
            raw,
            ratio,
            lockstep,
            lockstep_ratio,
            r.p50_us,
            r.p99_us,
            r.p999_us,
            r.max_us
        );
    }
}

fn main() {
    ringmq_engine::shard::tune_allocator();
    let args = Args::parse();
    if args.shards == 0 {
        eprintln!("--shards must be at least 1");
        std::process::exit(2);
    }
    if args.null_disk && args.reopen {
        // A reopen recovers from what was written, and the null disk keeps nothing.
        eprintln!("--reopen needs a real disk, not --null-disk");
        std::process::exit(2);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = format!("engine-bench-{}-{nanos}", std::process::id());
    let base = match &args.dir {
        Some(d) => d.join(name),
        None => PathBuf::from("/var/tmp").join(name),
    };
    if let Err(e) = std::fs::create_dir_all(&base) {
        eprintln!("cannot create {}: {e}", base.display());
        std::process::exit(1);
    }
    let wall = Instant::now();
    let result = run(&args, &base);
    remove_dir(&base);
    let code = match result {
        Ok(rows) => {
            print_rows(&rows, args.json);
            0
        }
        Err(e) => {
            eprintln!("engine-bench: {e}");
            1
        }
    };
    let (user, sys) = cpu_seconds();
    let secs = wall.elapsed().as_secs_f64();
    eprintln!(
        "process cpu: user {user:.2}s sys {sys:.2}s total {:.2}s over {secs:.2}s wall ({:.0}% of one core)",
        user + sys,
        (user + sys) / secs.max(1e-9) * 100.0
    );
    std::process::exit(code);
}
