//! A shard's store: the commitlog, the consume queues and the key index of
//! the queues this shard owns, with the tasks that write them back.
//!
//! Everything here runs on the shard's one thread. State sits in one
//! `RefCell` that is never borrowed across an `.await`: an append reserves
//! its offsets and copies its bytes in one synchronous step, then (SYNC_FLUSH)
//! waits for the flusher.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::checkpoint::{self, Checkpoint, QueueState};
use crate::commitlog::{
    classify, round_update, Commitlog, EndReason, ScanStep, MARKER_BYTES, ROUND_CRC_SKIPS_BODIES,
};
use crate::config::{FlushMode, StoreConfig};
use crate::consume_queue::{ConsumeQueue, CqUnit, CQ_UNIT_BYTES};
use crate::disk::{IoFuture, SegmentFile};
use crate::env::ShardEnv;
use crate::error::{Result, StoreError};
use crate::index::{walk_probe, IndexGeometry, KeyIndex};
use crate::limits::{
    IO_ALIGN, MAX_BATCH_MESSAGES, MAX_KEYS_PER_MESSAGE, MAX_PULL_MESSAGES, MAX_QUERY_RESULTS,
    MAX_READ_BYTES,
};
use crate::notify::{join_all, Broadcast, Notify};
use crate::offset::{LogOffset, QueueKey, QueueOffset};
use crate::queue_table::QueueTable;
use crate::record::{self, property, MessageInput};
use crate::segmented::{sync_files, SegmentedLog};

/// Where one appended message landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub log_offset: LogOffset,
    /// `None` for records that take no queue offset (prepared / rollback).
    pub queue_offset: Option<QueueOffset>,
    pub size: u32,
}

#[derive(Clone, Debug)]
pub struct AppendResult {
    /// One per message, in order; inline for the usual single message (no
    /// allocation per append).
    pub records: SmallVec<[Appended; 1]>,
    pub store_timestamp: i64,
}

/// Outcome of a read by queue offset (Apache's `GetMessageStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetStatus {
    Found,
    NoMatchedMessage,
    NoMessageInQueue,
    OffsetFoundNull,
    OffsetOverflowBadly,
    OffsetOverflowOne,
    OffsetTooSmall,
    NoMatchedLogicQueue,
}

#[derive(Clone, Debug)]
pub struct GetResult {
    pub status: GetStatus,
    pub next_begin_offset: QueueOffset,
    pub min_offset: QueueOffset,
    pub max_offset: QueueOffset,
    /// Whole stored records, in queue order.
    pub messages: Vec<Bytes>,
    /// Queue offsets of `messages`.
    pub queue_offsets: Vec<QueueOffset>,
}

/// Counters of a shard's write-back (benchmarks, metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Flush rounds that wrote commitlog bytes (group commits and
    /// ASYNC_FLUSH write-behind top-ups).
    pub flush_rounds: u64,
    /// Commitlog writes (a round starts one per chunk or so).
    pub log_writes: u64,
    /// fdatasyncs of the commitlog (group commits under SYNC_FLUSH).
    pub log_syncs: u64,
    /// Commitlog bytes made durable by those fdatasyncs.
    pub synced_bytes: u64,
    /// Time spent in commitlog writes (summed over writes, which overlap)
    /// and in commitlog fdatasyncs (µs).
    pub write_us: u64,
    pub sync_us: u64,
    /// Longest single commitlog write (µs).
    pub write_max_us: u64,
    /// Appends that had to wait for tail-cache room (backpressure).
    pub room_waits: u64,
    /// SYNC_FLUSH: times an append started the writes of its group's whole
    /// blocks before the group commit.
    pub streamed_writes: u64,
    /// Commitlog segments created (and preallocated), and the longest such
    /// creation (µs).
    pub segments_created: u64,
    pub segment_create_max_us: u64,
    /// Times a write had to wait for a segment to be created (the next one
    /// is normally created ahead of need).
    pub segment_stalls: u64,
    /// Commitlog bytes written with zeros ahead of use, and the fills that
    /// stopped early because the log needed the segment.
    pub zero_filled_bytes: u64,
    pub zero_fills_cut_short: u64,
}

impl StoreStats {
    /// The counts accumulated since `earlier` (a snapshot of the same
    /// store); the maximum stays the all-time one.
    pub fn since(&self, earlier: &StoreStats) -> StoreStats {
        StoreStats {
            flush_rounds: self.flush_rounds - earlier.flush_rounds,
            log_writes: self.log_writes - earlier.log_writes,
            log_syncs: self.log_syncs - earlier.log_syncs,
            synced_bytes: self.synced_bytes - earlier.synced_bytes,
            write_us: self.write_us - earlier.write_us,
            sync_us: self.sync_us - earlier.sync_us,
            write_max_us: self.write_max_us,
            room_waits: self.room_waits - earlier.room_waits,
            streamed_writes: self.streamed_writes - earlier.streamed_writes,
            segments_created: self.segments_created - earlier.segments_created,
            segment_create_max_us: self.segment_create_max_us,
            zero_filled_bytes: self.zero_filled_bytes - earlier.zero_filled_bytes,
            zero_fills_cut_short: self.zero_fills_cut_short - earlier.zero_fills_cut_short,
            segment_stalls: self.segment_stalls - earlier.segment_stalls,
        }
    }
}

/// What one retention pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub segments_deleted: usize,
    pub log_min_offset: u64,
    pub disk_used_percent: u32,
    pub disk_full: bool,
}

struct State {
    log: Commitlog,
    queues: QueueTable,
    index: KeyIndex,
    scratch: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum AreaId {
    Queue(QueueKey),
    IndexActive,
    IndexSealed(usize),
}

fn area_mut<'a>(st: &'a mut State, id: &AreaId) -> &'a mut SegmentedLog {
    match id {
        // Queues leave the table only under the flush lock (`drop_topic`),
        // which every holder of an `AreaId` holds.
        AreaId::Queue(k) => &mut st.queues.get_mut(k).expect("queue exists").area,
        AreaId::IndexActive => st.index.active_entries(),
        AreaId::IndexSealed(i) => st
            .index
            .sealed_areas_mut()
            .nth(*i)
            .expect("sealed file exists"),
    }
}

/// Index-entry cache chunks (1024 entries each) per shard: every message
/// with a UNIQ_KEY adds an entry, so this must absorb a flush interval of
/// appends at full speed (640 KiB).
const INDEX_CACHE_CHUNKS: usize = 32;

/// Topic, queue id and the queue's new max offset.
type ArrivalListener = Box<dyn Fn(&str, u32, QueueOffset)>;
/// The lowest commitlog offset retention must keep (pending timers, open
/// transactions), if any.
type RetentionFloor = Box<dyn Fn() -> Option<u64>>;

/// What a flush round is asked to do.
#[derive(Clone, Copy, Default)]
struct Round {
    /// fdatasync the log whatever the flush mode.
    force_sync: bool,
    /// The flusher's timer round. Under ASYNC_FLUSH, while the write window
    /// streams, it writes whole blocks only and does not wait for them: the
    /// partial last block would have to wait for the window (its next write
    /// rewrites that block), and the window writes it soon.
    tick: bool,
    /// Write the consume queues and the index too (a round also does once
    /// a flush interval has passed since they were last written).
    derived: bool,
}

/// A SYNC_FLUSH append waiting for the durable mark to pass its end offset:
/// the end and the appender's waker. The appender reads the outcome from
/// the log itself (`DurableWait`), so a waiter costs no allocation: with a
/// thousand appenders per group, a fresh result slot per append was a
/// cache miss per append (6 % of a shard's time in `perf`).
type DurableWaiter = (u64, std::task::Waker);

/// An append's wait for the durable mark to pass `end`. Durable wins over
/// poisoned: a record made durable before a later failure was acknowledged
/// by the sync that covered it.
struct DurableWait<'a> {
    inner: &'a Inner,
    end: u64,
    registered: bool,
}

impl std::future::Future for DurableWait<'_> {
    type Output = Result<()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        {
            let s = self.inner.st.borrow();
            if s.log.durable_pos() >= self.end {
                return std::task::Poll::Ready(Ok(()));
            }
            s.log.check_poisoned()?;
        }
        if !self.registered {
            // Waiters are queued in append order, so their ends ascend and
            // a sync completes a prefix of them.
            let mut w = self.inner.waiters.borrow_mut();
            debug_assert!(w.back().is_none_or(|(e, _)| *e <= self.end));
            w.push_back((self.end, cx.waker().clone()));
            drop(w);
            self.registered = true;
        }
        std::task::Poll::Pending
    }
}

struct Inner {
    shard: u16,
    cfg: StoreConfig,
    dir: PathBuf,
    env: ShardEnv,
    st: RefCell<State>,
    flush_kick: Notify,
    /// Log position at which appenders last gave the reactor a turn, and
    /// whether a turn is being taken now (see `append`).
    reactor_turn_at: Cell<u64>,
    reactor_turn_armed: Cell<bool>,
    /// The commitlog segment being created ahead of need, if any.
    precreating: Cell<Option<u64>>,
    /// A write waits for the segment being created ahead of need: its zero
    /// fill stops.
    precreate_hurry: Cell<bool>,
    /// While the active segment of a reopened log is being zero-filled
    /// ahead of the log: the log position where the fill writes (or will
    /// write next). No commitlog write may end past it: the fill's zeros
    /// would race the log's bytes ([`ShardStore::start_active_segment_fill`]).
    active_fill: Cell<Option<u64>>,
    /// A log write waits for that fill: it stops at its next write.
    active_fill_hurry: Cell<bool>,
    /// A commitlog fdatasync is in flight.
    log_syncing: Cell<bool>,
    /// An append waits for consume-queue or index cache room: the next
    /// flusher kick writes them too (under ASYNC_FLUSH a kick otherwise
    /// streams commitlog chunks only).
    derived_wanted: Cell<bool>,
    progress: Broadcast,
    window: RefCell<window::WriteWindow>,
    waiters: RefCell<VecDeque<DurableWaiter>>,
    unsynced: RefCell<Vec<Rc<dyn SegmentFile>>>,
    /// Consume-queue and index files written since the last checkpoint.
    unsynced_derived: RefCell<Vec<Rc<dyn SegmentFile>>>,
    checkpoint_lock: glommio::sync::Semaphore,
    last_sync_ms: Cell<i64>,
    /// When a round last wrote the consume queues and the index.
    last_derived_ms: Cell<i64>,
    stopping: Cell<bool>,
    disk_full: Cell<bool>,
    checkpoint_seq: Cell<u64>,
    stats: Cell<StoreStats>,
    /// First-come-first-served line for cache room (see `RoomTurn`):
    /// tickets in ascending order, each with its append's waker while that
    /// append waits to become first.
    room_line: RefCell<VecDeque<(u64, Option<std::task::Waker>)>>,
    room_next_ticket: Cell<u64>,
    arrival: RefCell<Option<ArrivalListener>>,
    retention_floor: RefCell<Option<RetentionFloor>>,
    tasks: RefCell<Vec<glommio::task::JoinHandle<()>>>,
    /// Held by a commitlog round (the log's writes and fdatasync).
    flush_lock: crate::notify::FairLock,
    /// Held while the consume queues and the index are written, and by
    /// whatever must not change them meanwhile (index roll and deletion,
    /// topic drop): a write names its areas by queue key and sealed index
    /// position across its awaits. Taken after `flush_lock` when both are
    /// held, never before it.
    derived_lock: crate::notify::FairLock,
    /// SYNC_FLUSH: a derived write of its own runs (see
    /// [`ShardStore::start_derived_write`]).
    derived_writing: Cell<bool>,
}

/// The store of one shard. Cheap to clone (shared within the shard thread).
#[derive(Clone)]
pub struct ShardStore {
    inner: Rc<Inner>,
}

/// Facts about a record the dispatcher needs (recovery re-dispatch).
struct DispatchInfo {
    pos: u64,
    size: u32,
    topic: String,
    queue_id: u32,
    queue_offset: u64,
    consumable: bool,
    rollback: bool,
    tags_code: i64,
    keys: Vec<String>,
    store_timestamp: i64,
}

/// The index keys of a message: its `UNIQ_KEY`, then the space-separated
/// `KEYS` tokens, at most `MAX_KEYS_PER_MESSAGE`. Appends and recovery replay
/// use this one rule, so a replayed index equals the live one.
fn message_keys<'a>(props: &record::StoreProps<'a>) -> SmallVec<[&'a str; 4]> {
    let mut keys = SmallVec::new();
    if let Some(u) = props.uniq_key {
        if !u.is_empty() {
            keys.push(u);
        }
    }
    if let Some(k) = props.keys {
        keys.extend(k.split(' ').filter(|s| !s.is_empty()));
    }
    keys.truncate(MAX_KEYS_PER_MESSAGE);
    keys
}

impl ShardStore {
    /// Opens (creating or recovering) shard `shard` of the store at `cfg.root`.
    /// Must run on the shard's executor: it spawns the shard's background tasks.
    pub async fn open(cfg: StoreConfig, shard: u16, env: ShardEnv) -> Result<ShardStore> {
        cfg.validate()?;
        let dir = cfg.root.join(format!("shard-{shard}"));
        env.disk
            .create_dir_all(&dir)
            .map_err(|e| StoreError::io("create dir", &dir, e))?;
        let base = LogOffset::shard_base(shard).0;
        let cp = checkpoint::load(&env.disk, &dir)
            .await?
            .unwrap_or(Checkpoint {
                shard,
                shards: cfg.shards,
                log_resume: base,
                log_min: base,
                ..Default::default()
            });
        if cp.shard != shard {
            return Err(StoreError::Corrupt {
                path: dir,
                what: format!("checkpoint belongs to shard {}", cp.shard),
            });
        }
        let geo = crate::segmented::Geometry {
            segment_bytes: cfg.commitlog_segment_bytes,
            chunk_bytes: cfg.commitlog_chunk_bytes,
            max_chunks: cfg.tail_cache_chunks(),
        };
        let area = SegmentedLog::open(env.disk.clone(), &dir.join("commitlog"), geo, base).await?;
        let index = KeyIndex::open(
            env.disk.clone(),
            &dir.join("index"),
            IndexGeometry {
                slots: cfg.index_slots,
                entries: cfg.index_entries,
            },
            INDEX_CACHE_CHUNKS,
            (cp.index_id, cp.index_header),
        )
        .await?;
        let mut queues = QueueTable::default();
        for q in &cp.queues {
            let key = QueueKey::new(q.topic.clone(), q.queue_id);
            let cq = ConsumeQueue::open(
                env.disk.clone(),
                &queue_dir(&dir, &key),
                ConsumeQueue::geometry(cfg.cq_units_per_segment, cfg.cq_cache_chunks),
                QueueOffset(q.min),
                QueueOffset(q.max),
                q.last_log_end,
            )
            .await?;
            queues.insert_if_absent(key, cq);
        }
        let resume = cp.log_resume.max(area.min_pos());
        // A new life: its markers carry a generation no earlier life used.
        let generation = cp
            .generation
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt {
                path: dir.clone(),
                what: "store generation exhausted".into(),
            })?;
        let log = Commitlog::new(area, shard, resume, cp.last_store_timestamp, generation);
        let inner = Rc::new(Inner {
            shard,
            dir: dir.clone(),
            env: env.clone(),
            st: RefCell::new(State {
                log,
                queues,
                index,
                scratch: Vec::new(),
            }),
            flush_kick: Notify::default(),
            reactor_turn_at: Cell::new(0),
            reactor_turn_armed: Cell::new(false),
            precreating: Cell::new(None),
            active_fill: Cell::new(None),
            active_fill_hurry: Cell::new(false),
            precreate_hurry: Cell::new(false),
            log_syncing: Cell::new(false),
            derived_wanted: Cell::new(false),
            progress: Broadcast::default(),
            window: RefCell::new(window::WriteWindow::default()),
            waiters: RefCell::new(VecDeque::new()),
            unsynced: RefCell::new(Vec::new()),
            unsynced_derived: RefCell::new(Vec::new()),
            checkpoint_lock: glommio::sync::Semaphore::new(1),
            last_sync_ms: Cell::new(env.clock.now_ms()),
            last_derived_ms: Cell::new(env.clock.now_ms()),
            stopping: Cell::new(false),
            disk_full: Cell::new(false),
            checkpoint_seq: Cell::new(cp.seq),
            stats: Cell::new(StoreStats::default()),
            room_line: RefCell::new(VecDeque::new()),
            room_next_ticket: Cell::new(0),
            arrival: RefCell::new(None),
            retention_floor: RefCell::new(None),
            tasks: RefCell::new(Vec::new()),
            flush_lock: crate::notify::FairLock::default(),
            derived_lock: crate::notify::FairLock::default(),
            derived_writing: Cell::new(false),
            cfg,
        });
        let store = ShardStore { inner };
        let end = store.recover_log(resume).await?;
        if store.inner.cfg.zero_fills_log_segments() && !store.create_first_segment_filled().await?
        {
            store.start_active_segment_fill();
        }
        tracing::info!(shard, end = ?LogOffset(end), clean = cp.clean, "shard store open");
        // Everything recovered is now durable and dispatched: checkpoint it.
        store.checkpoint_now(false).await?;
        store.spawn_tasks();
        Ok(store)
    }

    pub fn stats(&self) -> StoreStats {
        self.inner.stats.get()
    }

    pub fn shard(&self) -> u16 {
        self.inner.shard
    }
    pub fn config(&self) -> &StoreConfig {
        &self.inner.cfg
    }

    /// Retention never deletes a segment holding an offset at or above what
    /// `f` returns: the broker's records that must outlive their segment
    /// (pending timers) are re-written later in the log first.
    pub fn set_retention_floor(&self, f: impl Fn() -> Option<u64> + 'static) {
        *self.inner.retention_floor.borrow_mut() = Some(Box::new(f));
    }

    /// Called (on this shard) whenever a queue's max offset grows: the
    /// broker's long polling hooks in here. It gets the topic and queue id,
    /// not a `QueueKey`, so that an append builds none (a `String` each).
    pub fn set_arrival_listener(&self, f: impl Fn(&str, u32, QueueOffset) + 'static) {
        *self.inner.arrival.borrow_mut() = Some(Box::new(f));
    }

    /// Replays the log from `resume` (a round boundary), keeps the longest
    /// prefix closed by valid markers, dispatches it and truncates the rest.
    async fn recover_log(&self, resume: u64) -> Result<u64> {
        let st = &self.inner.st;
        let mut pos = resume;
        let mut round_start = resume;
        // The open round's checksum both ways a marker may compute it.
        let mut round_full = crc32fast::Hasher::new();
        let mut round_skip = crc32fast::Hasher::new();
        let current_generation = st.borrow().log.generation();
        let mut min_generation = 0u32;
        let mut tentative: Vec<DispatchInfo> = Vec::new();
        let mut committed_end = resume;
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_pos = pos;
        let window = (self.inner.cfg.max_body_bytes + crate::limits::RECORD_OVERHEAD_ALLOWANCE) * 2;
        let reason = loop {
            let (file, seg_start, seg_bytes) = {
                let s = st.borrow();
                let seg_start = s.log.area.segment_start(pos);
                (
                    s.log.area.segment_file(seg_start),
                    seg_start,
                    s.log.area.segment_bytes(),
                )
            };
            let Some(file) = file else {
                break EndReason::Unwritten;
            };
            let seg_left = (seg_start + seg_bytes - pos) as usize;
            // Keep at least `window` bytes (or the rest of the segment) buffered from `pos`.
            let have = (buf_pos + buf.len() as u64).saturating_sub(pos) as usize;
            if buf_pos > pos || have < window.min(seg_left) {
                let n = (window.max(1 << 20)).min(seg_left);
                buf = file
                    .read_at(pos - seg_start, n)
                    .await
                    .map_err(|e| StoreError::io("read commitlog", file.path(), e))?;
                buf_pos = pos;
            }
            // A record larger than the window (written under a larger
            // maxMessageSize) is read whole rather than taken as torn.
            let at = (pos - buf_pos) as usize;
            if let Some(head) = buf.get(at..at + 8) {
                let size = i32::from_be_bytes(head[0..4].try_into().expect("4"));
                let magic = i32::from_be_bytes(head[4..8].try_into().expect("4"));
                let avail = buf.len() - at;
                if (magic == record::MAGIC_V1 || magic == record::MAGIC_V2)
                    && size > 0
                    && size as usize > avail
                    && size as usize <= seg_left
                    && size as usize <= crate::limits::MAX_READ_BYTES
                {
                    buf = file
                        .read_at(pos - seg_start, size as usize)
                        .await
                        .map_err(|e| StoreError::io("read commitlog", file.path(), e))?;
                    buf_pos = pos;
                }
            }
            let at = (pos - buf_pos) as usize;
            let bytes = &buf[at..];
            let step = classify(
                bytes,
                pos,
                seg_left,
                round_start,
                min_generation..current_generation,
                |flags| {
                    if flags & ROUND_CRC_SKIPS_BODIES != 0 {
                        round_skip.clone().finalize()
                    } else {
                        round_full.clone().finalize()
                    }
                },
            );
            match step {
                ScanStep::Record(len) => {
                    let rec = &bytes[..len];
                    let v = record::decode(rec, false).expect("classified as a record");
                    round_full.update(rec);
                    let body_at = v.body.as_ptr() as usize - rec.as_ptr() as usize;
                    round_update(&mut round_skip, rec, body_at..body_at + v.body.len());
                    tentative.push(DispatchInfo {
                        pos,
                        size: len as u32,
                        topic: v.topic.to_string(),
                        queue_id: v.queue_id as u32,
                        queue_offset: v.queue_offset as u64,
                        consumable: v.is_consumable(),
                        rollback: v.transaction_type() == record::sysflag::TRANSACTION_ROLLBACK,
                        tags_code: v.tags_code(),
                        keys: message_keys(&record::StoreProps::of(v.properties))
                            .into_iter()
                            .map(str::to_string)
                            .collect(),
                        store_timestamp: v.store_timestamp,
                    });
                    pos += len as u64;
                }
                ScanStep::RoundClosed { generation } => {
                    min_generation = generation;
                    pos += MARKER_BYTES as u64;
                    for d in tentative.drain(..) {
                        self.dispatch_recovered(d).await?;
                    }
                    round_start = pos;
                    committed_end = pos;
                    round_full = crc32fast::Hasher::new();
                    round_skip = crc32fast::Hasher::new();
                }
                ScanStep::NextSegment => {
                    pos = seg_start + seg_bytes;
                    round_start = pos;
                    committed_end = pos;
                    buf.clear();
                    buf_pos = pos;
                }
                ScanStep::End(r) => break r,
            }
        };
        if !tentative.is_empty() || pos != committed_end {
            tracing::warn!(
                shard = self.inner.shard,
                discarded_records = tentative.len(),
                discarded_bytes = pos - committed_end,
                ?reason,
                "commitlog tail after the last closed round discarded"
            );
        }
        let plan = {
            let mut s = st.borrow_mut();
            s.log.area.remove_segments_after(committed_end)?;
            s.log.area.tail_read_plan(committed_end)
        };
        let tail = match plan {
            Some((f, fpos, len)) => f
                .read_at(fpos, len)
                .await
                .map_err(|e| StoreError::io("read commitlog tail", f.path(), e))?,
            None => Vec::new(),
        };
        let mut s = st.borrow_mut();
        s.log.area.install_tail(committed_end, &tail);
        s.log.restart_rounds_at(committed_end);
        let State { queues, .. } = &mut *s;
        // Consume-queue units past the log end cannot exist (queues were at the
        // checkpoint, replay added only closed rounds), but check the invariant.
        for (k, q) in queues.iter() {
            assert!(
                q.last_log_end() <= committed_end,
                "queue {k:?} points past the recovered log end"
            );
        }
        Ok(committed_end)
    }

    async fn dispatch_recovered(&self, d: DispatchInfo) -> Result<()> {
        // Uncontended (the store is opening), but the derived writes below
        // assert it.
        let _g = self.inner.derived_lock.lock().await;
        self.ensure_queue(&QueueKey::new(d.topic.clone(), d.queue_id))
            .await?;
        // The index may need to roll to a new file.
        if self.inner.st.borrow().index.is_full_for(d.keys.len()) {
            self.roll_index().await?;
        }
        while !self.derived_room(&QueueKey::new(d.topic.clone(), d.queue_id), 1, d.keys.len()) {
            self.flush_derived().await?;
        }
        let mut s = self.inner.st.borrow_mut();
        s.log.last_store_timestamp = s.log.last_store_timestamp.max(d.store_timestamp);
        if d.consumable {
            let key = QueueKey::new(d.topic.clone(), d.queue_id);
            let q = s.queues.get_mut(&key).expect("ensured");
            let unit = CqUnit {
                log_offset: LogOffset(d.pos),
                size: d.size,
                tags_code: d.tags_code,
            };
            if d.pos + d.size as u64 > q.last_log_end() {
                if q.max_offset().0 != d.queue_offset {
                    tracing::warn!(queue = ?key, expected = q.max_offset().0, found = d.queue_offset, "queue offset gap in the log, queue restarted at the record's offset");
                    q.area.restart_at(d.queue_offset * CQ_UNIT_BYTES as u64);
                    q.advance_min(QueueOffset(d.queue_offset))?;
                }
                q.append(unit, QueueOffset(d.queue_offset));
            }
        }
        if !d.rollback {
            // Replay starts at the checkpoint, past everything the index holds.
            for k in &d.keys {
                let ok = s.index.put(&d.topic, k, d.pos, d.store_timestamp);
                assert!(ok, "index room checked before dispatch");
            }
        }
        Ok(())
    }

    fn derived_room(&self, key: &QueueKey, units: usize, keys: usize) -> bool {
        let s = self.inner.st.borrow();
        s.queues.get(key).is_none_or(|q| q.has_room(units)) && s.index.entries_room(keys)
    }

    async fn ensure_queue(&self, key: &QueueKey) -> Result<()> {
        if self.inner.st.borrow().queues.contains_key(key) {
            return Ok(());
        }
        let cfg = &self.inner.cfg;
        let cq = ConsumeQueue::open(
            self.inner.env.disk.clone(),
            &queue_dir(&self.inner.dir, key),
            ConsumeQueue::geometry(cfg.cq_units_per_segment, cfg.cq_cache_chunks),
            QueueOffset(0),
            QueueOffset(0),
            0,
        )
        .await?;
        self.inner
            .st
            .borrow_mut()
            .queues
            .insert_if_absent(key.clone(), cq);
        Ok(())
    }

    async fn roll_index(&self) -> Result<()> {
        // Write out the full file's entries first, then switch files.
        self.flush_derived().await?;
        let plan = self.inner.st.borrow().index.next_file_plan();
        let next = crate::index::open_next(plan).await?;
        let seal = {
            let mut s = self.inner.st.borrow_mut();
            s.index.install_next(next);
            s.index.take_pending_seal()
        };
        if let Some((f, bytes)) = seal {
            f.write_at(0, &bytes)
                .await
                .map_err(|e| StoreError::io("write index slots", f.path(), e))?;
            f.sync()
                .await
                .map_err(|e| StoreError::io("fdatasync index slots", f.path(), e))?;
        }
        Ok(())
    }

    fn spawn_tasks(&self) {
        let me = self.clone();
        let flusher = glommio::spawn_local(async move { me.flush_loop().await }).detach();
        let me = self.clone();
        let cp = glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(me.inner.cfg.checkpoint_interval).await;
                if me.inner.stopping.get() {
                    break;
                }
                if let Err(e) = me.checkpoint_now(false).await {
                    tracing::error!(shard = me.inner.shard, error = %e, "checkpoint failed");
                }
            }
        })
        .detach();
        let me = self.clone();
        let ret = glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(me.inner.cfg.retention_interval).await;
                if me.inner.stopping.get() {
                    break;
                }
                if let Err(e) = me.retention_once().await {
                    tracing::error!(shard = me.inner.shard, error = %e, "retention failed");
                }
            }
        })
        .detach();
        self.inner.tasks.borrow_mut().extend([flusher, cp, ret]);
    }

    async fn flush_loop(&self) {
        // One timer per interval, not per wake-up: a kick does not cancel it
        // (arming and cancelling an io_uring timeout on every group commit
        // is measurable).
        let interval = self.inner.cfg.flush_interval;
        let mut tick = Box::pin(glommio::timer::sleep(interval));
        loop {
            let kicked = futures_lite::future::or(
                async {
                    self.inner.flush_kick.wait().await;
                    true
                },
                async {
                    (&mut tick).await;
                    false
                },
            )
            .await;
            if !kicked {
                tick = Box::pin(glommio::timer::sleep(interval));
            }
            if self.inner.st.borrow().log.check_poisoned().is_err() {
                break;
            }
            // A kick under ASYNC_FLUSH means "whole chunks wait": stream
            // them into the write window; the round stays open. The timer
            // tick closes the round and writes the rest, which bounds how
            // long an appended byte stays in memory only.
            // An append that waits for consume-queue or index room asks
            // for them to be written now, not at the next tick.
            let derived_wanted = self.inner.derived_wanted.replace(false);
            let tick = !kicked;
            if kicked && self.inner.cfg.flush_mode == FlushMode::Async {
                if let Err(e) = self.top_up().await {
                    self.poison(&e);
                    break;
                }
                if self.inner.stopping.get() {
                    break;
                }
                // A flusher kicked without pause (appends under load) never
                // sees its timer win the race: the consume queues and the
                // index are also written here once a flush interval has
                // passed, not only when an append already waits for their
                // cache room (which stalls every appender behind it).
                if derived_wanted || self.derived_due() {
                    // Only the derived areas: the commitlog round stays
                    // open and the streaming window undisturbed.
                    self.inner
                        .last_derived_ms
                        .set(self.inner.env.clock.now_ms());
                    let written = {
                        let _g = self.inner.derived_lock.lock().await;
                        self.flush_derived().await
                    };
                    if let Err(e) = written {
                        self.poison(&e);
                        break;
                    }
                    self.inner.progress.notify_all();
                }
                continue;
            }
            // Consume queues and the index are derived data, not on the
            // acknowledgement path: a group commit kicked by SYNC_FLUSH
            // appends leaves them to the timer tick unless an append waits
            // for their cache room.
            let derived = tick || derived_wanted || !self.inner.room_line.borrow().is_empty();
            let round = Round {
                tick,
                derived,
                ..Round::default()
            };
            if self.flush_round_mode(round).await.is_err() {
                break;
            }
            if self.inner.stopping.get() {
                break;
            }
        }
    }

    /// After a failed write or fdatasync nothing more is acknowledged: the
    /// log is poisoned and every waiting SYNC_FLUSH append fails.
    fn poison(&self, e: &StoreError) {
        if matches!(e, StoreError::Poisoned { .. }) {
            return;
        }
        self.inner.st.borrow_mut().log.poison(e.to_string());
        // Each waiter finds the log poisoned (or its record durable).
        for (_, waker) in self.inner.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
        self.inner.progress.notify_all();
    }

    /// One group commit: close the round, write the log and the derived
    /// areas, fdatasync the log when the mode (or `force_sync`) asks, and
    /// acknowledge the appends it covered.
    async fn flush_round(&self, force_sync: bool) -> Result<()> {
        self.flush_round_mode(Round {
            force_sync,
            derived: true,
            ..Round::default()
        })
        .await
    }

    /// Whether a flush interval has passed since the consume queues and the
    /// index were last written.
    fn derived_due(&self) -> bool {
        self.inner.env.clock.now_ms() - self.inner.last_derived_ms.get()
            >= self.inner.cfg.flush_interval.as_millis() as i64
    }

    async fn flush_round_mode(&self, round: Round) -> Result<()> {
        // Whoever runs the round (flusher, checkpoint, retention), a failure
        // poisons the log: the files whose write or sync failed have left the
        // unsynced list and must never be vouched for by a later sync.
        let r = self.flush_round_inner(round).await;
        if let Err(e) = &r {
            self.poison(e);
        }
        r
    }

    async fn flush_round_inner(&self, round: Round) -> Result<()> {
        let Round {
            force_sync,
            tick,
            derived,
        } = round;
        let _g = self.inner.flush_lock.lock().await;
        let now = self.inner.env.clock.now_ms();
        // Whoever runs the round writes the derived areas once a flush
        // interval has passed, not only the flusher's tick (a checkpoint or
        // retention round may hold the lock when the tick comes).
        let derived = derived || self.derived_due();
        // Under SYNC_FLUSH a group commit does not write them itself: a
        // task of their own starts their writes once the fdatasync has
        // acknowledged the group (see `start_derived_write`). A checkpoint
        // (`force_sync`) needs them written before it goes on.
        let derived_apart = derived && !force_sync && self.inner.cfg.flush_mode == FlushMode::Sync;
        let derived = derived && !derived_apart;
        let (end, write_to, wait, need_sync) = {
            let mut s = self.inner.st.borrow_mut();
            s.log.check_poisoned()?;
            s.log.close_round();
            let end = s.log.area.write_pos();
            let streaming = tick
                && self.inner.cfg.flush_mode == FlushMode::Async
                && self.inner.window.borrow().in_flight() > 0;
            let write_to = if streaming {
                let whole_blocks = end - end % IO_ALIGN as u64;
                whole_blocks.max(s.log.area.submitted_pos())
            } else {
                end
            };
            let due = now - self.inner.last_sync_ms.get()
                >= self.inner.cfg.async_sync_interval.as_millis() as i64;
            let need = s.log.durable_pos() < end
                && (force_sync || self.inner.cfg.flush_mode == FlushMode::Sync || due);
            (end, write_to, !streaming, need)
        };
        if write_to > self.inner.st.borrow().log.area.submitted_pos() {
            let mut st = self.inner.stats.get();
            st.flush_rounds += 1;
            self.inner.stats.set(st);
            self.start_log_writes(write_to).await?;
        }
        if wait {
            self.wait_written(end).await?;
        }
        // The log's fdatasync (which acknowledges SYNC_FLUSH appends) runs
        // concurrently with the consume-queue and index writes, which are
        // derived data and not on the acknowledgement path.
        let sync_log = async {
            // What the sync covers: every write completed before it starts.
            let upto = self.inner.st.borrow().log.area.written_pos().min(end);
            let durable_before = self.inner.st.borrow().log.durable_pos();
            if need_sync && upto > durable_before {
                let files: Vec<_> = self.inner.unsynced.borrow_mut().drain(..).collect();
                let t1 = std::time::Instant::now();
                self.inner.log_syncing.set(true);
                let synced = sync_files(&files).await;
                self.inner.log_syncing.set(false);
                self.inner.progress.notify_all();
                synced?;
                let mut st = self.inner.stats.get();
                st.sync_us += t1.elapsed().as_micros() as u64;
                st.log_syncs += 1;
                st.synced_bytes += upto - durable_before;
                self.inner.stats.set(st);
                self.inner.last_sync_ms.set(now);
                self.inner.st.borrow_mut().log.set_durable(upto);
                let mut w = self.inner.waiters.borrow_mut();
                while w.front().is_some_and(|(e, _)| *e <= upto) {
                    let (_, waker) = w.pop_front().expect("front");
                    waker.wake();
                }
            }
            Ok::<(), StoreError>(())
        };
        let write_derived = async {
            if derived {
                let _g = self.inner.derived_lock.lock().await;
                self.inner.last_derived_ms.set(now);
                self.flush_derived().await.map(|_| ())
            } else {
                Ok(())
            }
        };
        let (synced, derived) = futures_lite::future::zip(sync_log, write_derived).await;
        synced?;
        derived?;
        if derived_apart {
            self.start_derived_write();
        }
        self.inner.progress.notify_all();
        Ok(())
    }

    /// SYNC_FLUSH: starts writing the consume queues and the index in a task
    /// of their own, unless one is still at it. Called by a group commit
    /// right after its fdatasync woke the group's appenders, before they
    /// run: the writes go to the disk while the next group appends, and
    /// they are not queued ahead of that group's last write and fdatasync.
    /// A group commit that wrote them itself, as it used to, held its round
    /// (and the next group's commit) until they completed: 0.25 ms a round
    /// on average at 1024 appenders per shard, about 1 ms in a round that
    /// had them, once in six.
    fn start_derived_write(&self) {
        if self.inner.derived_writing.replace(true) {
            return;
        }
        self.inner
            .last_derived_ms
            .set(self.inner.env.clock.now_ms());
        let me = self.clone();
        // glommio runs a spawned task at once, up to its first pending point:
        // the writes are submitted before the woken appenders run.
        glommio::spawn_local(async move {
            let written = {
                let _g = me.inner.derived_lock.lock().await;
                me.flush_derived().await
            };
            me.inner.derived_writing.set(false);
            if let Err(e) = written {
                me.poison(&e);
            }
            me.inner.progress.notify_all();
        })
        .detach();
    }

    /// Writes every consume queue and index area with unwritten bytes (no sync).
    /// Returns the files written.
    async fn flush_derived(&self) -> Result<Vec<Rc<dyn SegmentFile>>> {
        assert!(
            self.inner.derived_lock.is_held(),
            "derived areas written without their lock"
        );
        let ids: Vec<AreaId> = {
            let mut s = self.inner.st.borrow_mut();
            let mut ids: Vec<AreaId> = s
                .queues
                .iter()
                .filter(|(_, q)| q.area.written_pos() < q.area.write_pos())
                .map(|(k, _)| AreaId::Queue(k.clone()))
                .collect();
            if s.index.active_entries().written_pos() < s.index.active_entries().write_pos() {
                ids.push(AreaId::IndexActive);
            }
            for (i, a) in s.index.sealed_areas_mut().enumerate() {
                if a.written_pos() < a.write_pos() {
                    ids.push(AreaId::IndexSealed(i));
                }
            }
            ids
        };
        // Each area is written up to where it ended now: appends go on
        // while segments are created (those awaits), and bytes they add
        // may lie in a segment that does not exist yet; they wait for the
        // next flush.
        let ids: Vec<(AreaId, u64)> = {
            let mut s = self.inner.st.borrow_mut();
            ids.into_iter()
                .map(|id| {
                    let end = area_mut(&mut s, &id).write_pos();
                    (id, end)
                })
                .collect()
        };
        // Segments first (creation awaits), then all writes at once.
        for (id, end) in &ids {
            let (missing, disk, seg_bytes, paths) = {
                let mut s = self.inner.st.borrow_mut();
                let a = area_mut(&mut s, id);
                let m = a.missing_segments(*end);
                let paths: Vec<PathBuf> = m.iter().map(|x| a.segment_path(*x)).collect();
                (m, a.disk(), a.segment_bytes(), paths)
            };
            for (start, path) in missing.into_iter().zip(paths) {
                let f = SegmentedLog::create_segment(disk.clone(), path, seg_bytes).await?;
                area_mut(&mut self.inner.st.borrow_mut(), id).install_segment(start, f);
            }
        }
        let mut writes: Vec<IoFuture<()>> = Vec::new();
        let mut ends = Vec::new();
        let mut files: Vec<Rc<dyn SegmentFile>> = Vec::new();
        {
            let mut s = self.inner.st.borrow_mut();
            for (id, end) in &ids {
                let (id, end) = (id, *end);
                let a = area_mut(&mut s, id);
                let b = a.start_flush(end);
                writes.extend(b.writes.into_iter().map(|(_, w, _)| w));
                for f in b.files {
                    if !files.iter().any(|x| Rc::ptr_eq(x, &f)) {
                        files.push(f);
                    }
                }
                ends.push((id.clone(), end));
            }
        }
        for r in join_all(writes).await {
            r.map_err(|e| StoreError::io("write", self.inner.dir.clone(), e))?;
        }
        let mut s = self.inner.st.borrow_mut();
        for (id, end) in ends {
            area_mut(&mut s, &id).finish_flush(end);
        }
        let mut u = self.inner.unsynced_derived.borrow_mut();
        for f in &files {
            if !u.iter().any(|x| Rc::ptr_eq(x, f)) {
                u.push(f.clone());
            }
        }
        Ok(files)
    }

    /// Drops every consume queue of `topic` (Apache `cleanUnusedTopic`,
    /// after DELETE_TOPIC): its messages can no longer be pulled, and a
    /// topic created again under the name starts at queue offset 0. The
    /// records stay in the commitlog until retention takes them (a key
    /// query may still find them, as in Apache). A checkpoint follows at
    /// once, so that crash recovery does not re-dispatch records of the
    /// dropped queues written before the drop. Returns how many queues went.
    pub async fn drop_topic(&self, topic: &str) -> Result<usize> {
        // Not while the derived areas are written: a write names them by
        // queue key across its awaits (`AreaId`), and must find the same
        // queue when its writes complete.
        let flushing = self.inner.derived_lock.lock().await;
        let dirs: Vec<PathBuf> = {
            let mut s = self.inner.st.borrow_mut();
            s.queues
                .remove_topic(topic)
                .into_iter()
                .map(|q| queue_dir(&self.inner.dir, &QueueKey::new(topic, q)))
                .collect()
        };
        if dirs.is_empty() {
            return Ok(0);
        }
        let disk = &self.inner.env.disk;
        for dir in &dirs {
            for (name, _) in disk.list(dir).unwrap_or_default() {
                let f = dir.join(name);
                disk.remove_file(&f)
                    .map_err(|e| StoreError::io("remove", f.clone(), e))?;
            }
            // The directory itself only on a real file system (best effort:
            // an empty queue directory opens as an empty queue).
            let _ = std::fs::remove_dir(dir);
        }
        if let Some(topic_dir) = dirs.first().and_then(|d| d.parent()) {
            let _ = std::fs::remove_dir(topic_dir);
        }
        drop(flushing);
        self.checkpoint_now(false).await?;
        Ok(dirs.len())
    }

    /// Makes everything appended so far durable, consume queues and index
    /// included, and records the point in the checkpoint. With `clean`, the
    /// checkpoint says nothing follows it (clean shutdown).
    pub async fn checkpoint_now(&self, clean: bool) -> Result<()> {
        let _one = self.inner.checkpoint_lock.acquire_permit(1).await;
        // The snapshot is taken in one synchronous step at a round boundary:
        // the queue and index state it records covers exactly the records
        // below `log_resume`.
        let cp = {
            let mut s = self.inner.st.borrow_mut();
            s.log.check_poisoned()?;
            s.log.close_round();
            let (index_id, index_header) = s.index.checkpoint_state();
            let queues = s
                .queues
                .iter()
                .map(|(k, q)| QueueState {
                    topic: k.topic.clone(),
                    queue_id: k.queue_id,
                    min: q.min_offset().0,
                    max: q.max_offset().0,
                    last_log_end: q.last_log_end(),
                })
                .collect();
            let seq = self.inner.checkpoint_seq.get() + 1;
            self.inner.checkpoint_seq.set(seq);
            Checkpoint {
                seq,
                shard: self.inner.shard,
                shards: self.inner.cfg.shards,
                clean,
                log_resume: s.log.area.write_pos(),
                log_min: s.log.min_offset().0,
                last_store_timestamp: s.log.last_store_timestamp,
                generation: s.log.generation(),
                index_id,
                index_header,
                queues,
            }
        };
        // Log durable past the snapshot, derived areas written past it...
        self.flush_round(true).await?;
        // ...and synced.
        let files: Vec<_> = self.inner.unsynced_derived.borrow_mut().drain(..).collect();
        if let Err(e) = sync_files(&files).await {
            self.poison(&e);
            return Err(e);
        }
        assert!(
            self.inner.st.borrow().log.durable_pos() >= cp.log_resume,
            "checkpoint ahead of the durable log"
        );
        checkpoint::store(&self.inner.env.disk, &self.inner.dir, &cp).await
    }
}

fn queue_dir(shard_dir: &std::path::Path, key: &QueueKey) -> PathBuf {
    shard_dir
        .join("consumequeue")
        .join(&key.topic)
        .join(key.queue_id.to_string())
}

#[path = "store_append.rs"]
mod append;
#[path = "store_read.rs"]
mod read;
#[path = "store_retention.rs"]
mod retention;
#[path = "store_window.rs"]
mod window;
