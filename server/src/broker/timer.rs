//! Arbitrary-time delivery (reference §7.6, issue: up to 40 days ahead):
//! `__STARTDELIVERTIME` / `TIMER_DELIVER_MS` (absolute ms),
//! `TIMER_DELAY_SEC` / `TIMER_DELAY_MS` (relative).
//!
//! A timer message is stored in the timer topic, in the queue owned by the
//! shard that owns its real queue, with `REAL_TOPIC` / `REAL_QID` and
//! `TIMER_OUT_MS` (its delivery time, which the engine puts in the
//! consume-queue unit's tags code). Each shard keeps its pending timers in
//! a min-heap of (delivery time, queue offset), 12 bytes each
//! (`timer_heap.rs`), rebuilt at start from consume-queue units alone; a
//! due round reads its records in queue order, neighbours in one read.
//! Delivered timers are marked in a bitmap over queue offsets (one bit per timer above the lowest
//! pending one), persisted every second and at shutdown in
//! `config/timer-<shard>.bin`: a restart delivers nothing early and loses
//! nothing; a crash repeats at most the last second's deliveries.
//!
//! Retention: pending timers whose record lies where retention will cut
//! soon are rolled forward (re-written at the log's end, the old copy
//! marked done), and the store's retention floor keeps the segment of the
//! oldest pending timer until that happened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use ringmq_engine::{record, shard_of, MessageInput, QueueKey, QueueOffset};
use ringmq_remoting::message::{property, MessageProperties};

use super::metadata::now_ms;
use super::shard::BrokerShard;
use super::timer_heap::DueHeap;

pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// How far ahead a delivery time may be (the managed service's 40 days).
pub const MAX_DELAY_MS: i64 = 40 * 24 * 3600 * 1000;
/// Timers delivered per round (a burst is spread over rounds of this size).
const ROUND: usize = 4096;

/// The delivery time a message asks for: `Ok(None)` for none or a time not
/// in the future (delivered at once); an error remark when malformed or
/// more than 40 days ahead (MESSAGE_ILLEGAL).
pub fn requested_delivery(props: &MessageProperties, now: i64) -> Result<Option<i64>, String> {
    let num = |name: &str| -> Result<Option<i64>, String> {
        match props.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("the property {name}={v:?} is not a number")),
        }
    };
    let at = if let Some(t) = num(property::START_DELIVER_TIME)? {
        Some((t, property::START_DELIVER_TIME))
    } else if let Some(t) = num(property::TIMER_DELIVER_MS)? {
        Some((t, property::TIMER_DELIVER_MS))
    } else if let Some(s) = num(property::TIMER_DELAY_SEC)? {
        Some((
            now.saturating_add(s.saturating_mul(1000)),
            property::TIMER_DELAY_SEC,
        ))
    } else {
        num(property::TIMER_DELAY_MS)?.map(|ms| (now.saturating_add(ms), property::TIMER_DELAY_MS))
    };
    match at {
        None => Ok(None),
        Some((t, _)) if t <= now => Ok(None),
        Some((t, name)) if t - now > MAX_DELAY_MS => Err(format!(
            "the delivery time set by {name} is {} s ahead, more than the maximum of 40 days",
            (t - now) / 1000
        )),
        Some((t, _)) => Ok(Some(t)),
    }
}

/// The timer queue that `shard` owns.
pub fn timer_queue_of(shard: u16, shards: u16) -> u32 {
    (0..shards as u32)
        .find(|&q| shard_of(TIMER_TOPIC, q, shards) == shard)
        .expect("shard_of maps the first N queues onto all N shards")
}

/// Rewrites a message into the timer queue of its real queue's shard.
pub fn divert(m: &mut MessageInput, props: &mut MessageProperties, deliver_ms: i64, shards: u16) {
    let owner = shard_of(&m.topic, m.queue_id, shards);
    props.insert(property::REAL_TOPIC, m.topic.clone());
    props.insert(property::REAL_QUEUE_ID, m.queue_id.to_string());
    props.insert(record::property::TIMER_OUT_MS, deliver_ms.to_string());
    m.topic = TIMER_TOPIC.to_string();
    m.queue_id = timer_queue_of(owner, shards);
}

/// Delivered flags of a shard's timer queue offsets at or above `base`.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct DoneBits {
    base: u64,
    words: Vec<u64>,
}

impl DoneBits {
    pub fn is_done(&self, off: u64) -> bool {
        if off < self.base {
            return true;
        }
        let i = (off - self.base) as usize;
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub fn mark(&mut self, off: u64) {
        if off < self.base {
            return;
        }
        let i = (off - self.base) as usize;
        if self.words.len() <= i / 64 {
            self.words.resize(i / 64 + 1, 0);
        }
        self.words[i / 64] |= 1 << (i % 64);
    }

    /// Drops leading words that are all done.
    fn compact(&mut self) {
        let full = self.words.iter().take_while(|w| **w == u64::MAX).count();
        if full > 0 {
            self.words.drain(..full);
            self.base += 64 * full as u64;
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(8 + self.words.len() * 8);
        b.extend_from_slice(&self.base.to_be_bytes());
        for w in &self.words {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b
    }

    fn decode(b: &[u8]) -> Option<DoneBits> {
        if b.len() < 8 || !b.len().is_multiple_of(8) {
            return None;
        }
        let base = u64::from_be_bytes(b[..8].try_into().ok()?);
        let words = b[8..]
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default()))
            .collect();
        Some(DoneBits { base, words })
    }
}

/// A shard's timers.
pub struct TimerState {
    heap: DueHeap,
    done: DoneBits,
    /// Queue offset up to which units were loaded into the heap.
    loaded_to: u64,
    path: PathBuf,
    dirty: bool,
    /// Lowest log offset of a pending timer, as of the last scan.
    floor: Rc<std::cell::Cell<Option<u64>>>,
    pub delivered: u64,
}

impl TimerState {
    pub fn load(config_dir: &Path, shard: u16) -> Result<TimerState, String> {
        let path = config_dir.join(format!("timer-{shard}.bin"));
        let done = match std::fs::read(&path) {
            Ok(b) => DoneBits::decode(&b)
                .ok_or_else(|| format!("{}: damaged timer state", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DoneBits::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(TimerState {
            heap: DueHeap::new(now_ms()),
            loaded_to: done.base,
            done,
            path,
            dirty: false,
            floor: Rc::new(std::cell::Cell::new(None)),
            delivered: 0,
        })
    }

    /// Timers in memory (rolled-forward copies count twice until the old
    /// entry's time comes).
    pub fn pending(&self) -> usize {
        self.heap.len()
    }

    /// Bytes of memory the pending timers hold (heap and done bits).
    pub fn memory_bytes(&self) -> usize {
        self.heap.memory_bytes() + self.done.words.capacity() * 8
    }

    pub fn persist(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.done.compact();
        crate::persist::write_atomically(&self.path, &self.done.encode())?;
        self.dirty = false;
        Ok(())
    }
}

/// Starts the shard's timer task.
pub fn start(shard: &Rc<BrokerShard>, stop: &Rc<super::Stop>) {
    let floor = shard.timers.borrow().floor.clone();
    // Retention keeps the oldest pending timer's segment.
    let f = floor.clone();
    shard.store.set_retention_floor(move || f.get());
    glommio::spawn_local(run(shard.clone(), stop.clone())).detach();
}

async fn run(s: Rc<BrokerShard>, stop: Rc<super::Stop>) {
    let key = QueueKey::new(TIMER_TOPIC, timer_queue_of(s.id, s.shards()));
    let mut last_persist = std::time::Instant::now();
    // The first scan publishes the retention floor at once.
    let mut last_roll: Option<std::time::Instant> = None;
    while !stop.is_set() {
        let arrivals = s.hold_on(&key);
        let arrival = arrivals.wait();
        if let Err(e) = load_new(&s, &key).await {
            tracing::warn!(error = %e, "timer queue read failed");
        }
        deliver_due(&s, &key).await;
        // After a burst, give the heap's spare room back.
        s.timers.borrow_mut().heap.shrink_if_sparse();
        if last_roll.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            last_roll = Some(std::time::Instant::now());
            if let Err(e) = roll_forward(&s, &key).await {
                tracing::warn!(error = %e, "timer roll-forward failed");
            }
        }
        if last_persist.elapsed() >= Duration::from_secs(1) {
            last_persist = std::time::Instant::now();
            if let Err(e) = s.timers.borrow_mut().persist() {
                tracing::error!(error = %e, "cannot persist timer state");
            }
        }
        let next_due = s.timers.borrow().heap.next_due();
        let nap = match next_due {
            Some(t) => Duration::from_millis((t - now_ms()).clamp(0, 1000) as u64),
            None => Duration::from_secs(1),
        };
        if nap.is_zero() {
            glommio::yield_if_needed().await;
            continue;
        }
        let _ = glommio::timer::timeout(nap, async {
            futures_lite::future::or(arrival, stop.wait()).await;
            Ok(())
        })
        .await;
    }
    if let Err(e) = s.timers.borrow_mut().persist() {
        tracing::error!(error = %e, "cannot persist timer state");
    }
}

/// Loads units appended since the last call into the heap.
async fn load_new(s: &Rc<BrokerShard>, key: &QueueKey) -> Result<(), String> {
    loop {
        let from = s.timers.borrow().loaded_to.max(s.store.min_offset(key).0);
        let max = s.store.max_offset(key).0;
        if from >= max {
            s.timers.borrow_mut().loaded_to = from;
            return Ok(());
        }
        let units = s
            .store
            .queue_units(key, QueueOffset(from), 4096)
            .await
            .map_err(|e| e.to_string())?;
        let mut t = s.timers.borrow_mut();
        let mut next = from;
        for (off, log, _size, due) in &units {
            if !t.done.is_done(off.0) {
                t.heap.push(*due, off.0);
                // Hold retention off a new timer until the next scan places
                // the floor exactly.
                if t.floor.get().is_none() {
                    t.floor.set(Some(log.0));
                }
            }
            next = off.0 + 1;
        }
        if units.is_empty() {
            // Units whose records retention deleted: nothing to deliver.
            next = from + 1;
        }
        t.loaded_to = next;
    }
}

/// Re-puts every timer that is due, a round at a time.
async fn deliver_due(s: &Rc<BrokerShard>, key: &QueueKey) {
    loop {
        let now = now_ms();
        let mut due: Vec<QueueOffset> = {
            let mut t = s.timers.borrow_mut();
            let mut v = Vec::new();
            while v.len() < ROUND {
                let Some((_, off)) = t.heap.pop_due(now) else {
                    break;
                };
                // Rolled-forward originals are marked done and skipped here.
                if !t.done.is_done(off) {
                    v.push(QueueOffset(off));
                }
            }
            v
        };
        if due.is_empty() {
            if s.timers.borrow().heap.next_due().is_some_and(|t| t <= now) {
                continue; // a round of stale entries only
            }
            return;
        }
        // Queue order: neighbouring records come back from one log read.
        due.sort_unstable();
        due.dedup();
        let records = match s.store.read_queue_records(key, &due).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "timer records unreadable; retrying in 1 s");
                let again = now_ms() + 1000;
                let mut t = s.timers.borrow_mut();
                for off in due {
                    t.heap.push(again, off.0);
                }
                return;
            }
        };
        // Group by real queue: one append (and one mesh call) per queue.
        let mut by_queue: HashMap<(String, u32), Vec<(u64, MessageInput)>> = HashMap::new();
        for (off, rec) in due.iter().zip(records) {
            match rec {
                // The unit's own time rules: a timer is never delivered early.
                Some((at, _)) if at > now => s.timers.borrow_mut().heap.push(at, off.0),
                Some((_, rec)) => match real_message(&rec) {
                    Some(m) => by_queue
                        .entry((m.topic.clone(), m.queue_id))
                        .or_default()
                        .push((off.0, m)),
                    None => {
                        tracing::error!(
                            offset = off.0,
                            "timer record without REAL_TOPIC/REAL_QID dropped"
                        );
                        mark_done(s, off.0);
                    }
                },
                None => {
                    tracing::error!(offset = off.0, "timer record missing; dropped");
                    mark_done(s, off.0);
                }
            }
        }
        let mut retry = Vec::new();
        for ((topic, qid), batch) in by_queue {
            let (ids, inputs): (Vec<u64>, Vec<MessageInput>) = batch.into_iter().unzip();
            let owner = s.owner_of(&topic, qid);
            let put = s
                .on_owner(owner, move |o| async move {
                    for chunk in inputs.chunks(ringmq_engine::limits::MAX_BATCH_MESSAGES) {
                        o.store.append(chunk).await?;
                    }
                    Ok::<(), ringmq_engine::StoreError>(())
                })
                .await;
            match put {
                Some(Ok(())) => {
                    for off in &ids {
                        mark_done(s, *off);
                    }
                    s.timers.borrow_mut().delivered += ids.len() as u64;
                }
                other => {
                    if let Some(Err(e)) = other {
                        tracing::warn!(topic = %topic, error = %e, "timer delivery failed; retrying");
                    }
                    retry.extend(ids);
                }
            }
            // Let held pulls and sends run between queues of a burst.
            glommio::yield_if_needed().await;
        }
        if !retry.is_empty() {
            // Retried a second later; a partial batch may repeat (at least once).
            let again = now_ms() + 1000;
            let mut t = s.timers.borrow_mut();
            for off in retry {
                t.heap.push(again, off);
            }
        }
        glommio::yield_if_needed().await;
    }
}

fn mark_done(s: &Rc<BrokerShard>, off: u64) {
    let mut t = s.timers.borrow_mut();
    t.done.mark(off);
    t.dirty = true;
}

/// The message to re-put: the real topic and queue, without the timer
/// property (it would become the real queue unit's tags code).
fn real_message(rec: &[u8]) -> Option<MessageInput> {
    let v = record::decode(rec, false).ok()?;
    let mut props = MessageProperties::parse(v.properties);
    let topic = props.get(property::REAL_TOPIC)?.to_string();
    let queue_id = props.get(property::REAL_QUEUE_ID)?.parse().ok()?;
    props.remove(record::property::TIMER_OUT_MS);
    Some(MessageInput {
        topic,
        queue_id,
        flag: v.flag,
        body: Bytes::copy_from_slice(v.body),
        properties: props.encode(),
        sys_flag: v.sys_flag,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        store_host: v.store_host,
        reconsume_times: v.reconsume_times,
        prepared_transaction_offset: 0,
    })
}

/// Walks the pending timers in queue (hence log) order from the lowest:
/// those whose record sits where retention will cut are re-written at the
/// log's end (the copy is loaded by the next scan, the original marked
/// done), and the first one past the cut becomes the retention floor.
async fn roll_forward(s: &Rc<BrokerShard>, key: &QueueKey) -> Result<(), String> {
    let horizon = s.store.retention_horizon().ok().flatten();
    let (mut from, loaded) = {
        let mut t = s.timers.borrow_mut();
        t.done.compact();
        (t.done.base.max(s.store.min_offset(key).0), t.loaded_to)
    };
    let mut floor = None;
    'scan: while from < loaded {
        let n = ((loaded - from) as usize).min(1024);
        let units = s
            .store
            .queue_units(key, QueueOffset(from), n)
            .await
            .map_err(|e| e.to_string())?;
        if units.is_empty() {
            from += n as u64; // deleted already: nothing pending there
            continue;
        }
        let mut doomed = Vec::new();
        for (off, log, _, _) in &units {
            from = off.0 + 1;
            if off.0 >= loaded || s.timers.borrow().done.is_done(off.0) {
                continue;
            }
            match horizon {
                Some(h) if log.0 < h => doomed.push(*off),
                _ => {
                    floor = Some(log.0);
                    break;
                }
            }
        }
        if !doomed.is_empty() {
            roll(s, key, &doomed).await?;
        }
        if floor.is_some() {
            break 'scan;
        }
    }
    s.timers.borrow().floor.set(floor);
    Ok(())
}

/// Re-writes the timers at `offs` at the end of the timer queue.
async fn roll(s: &Rc<BrokerShard>, key: &QueueKey, offs: &[QueueOffset]) -> Result<(), String> {
    let records = s
        .store
        .read_queue_records(key, offs)
        .await
        .map_err(|e| e.to_string())?;
    let mut copies = Vec::with_capacity(offs.len());
    let mut ids = Vec::with_capacity(offs.len());
    for (off, rec) in offs.iter().zip(records) {
        let Some((_, rec)) = rec else { continue };
        let Ok(v) = record::decode(&rec, false) else {
            continue;
        };
        ids.push(off.0);
        copies.push(MessageInput {
            topic: key.topic.clone(),
            queue_id: key.queue_id,
            flag: v.flag,
            body: Bytes::copy_from_slice(v.body),
            properties: v.properties.to_string(),
            sys_flag: v.sys_flag,
            born_timestamp: v.born_timestamp,
            born_host: v.born_host,
            store_host: v.store_host,
            reconsume_times: v.reconsume_times,
            prepared_transaction_offset: 0,
        });
    }
    for (chunk, chunk_ids) in copies
        .chunks(ringmq_engine::limits::MAX_BATCH_MESSAGES)
        .zip(ids.chunks(ringmq_engine::limits::MAX_BATCH_MESSAGES))
    {
        s.store.append(chunk).await.map_err(|e| e.to_string())?;
        // The copies are loaded by the next scan; the originals are done.
        for off in chunk_ids {
            mark_done(s, *off);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_properties() {
        let now = 1_000_000;
        let p = |s: &str| MessageProperties::parse(s);
        assert_eq!(requested_delivery(&p("KEYS\u{1}k"), now), Ok(None));
        assert_eq!(
            requested_delivery(&p("__STARTDELIVERTIME\u{1}1005000"), now),
            Ok(Some(1_005_000))
        );
        assert_eq!(
            requested_delivery(&p("TIMER_DELIVER_MS\u{1}1002000"), now),
            Ok(Some(1_002_000))
        );
        assert_eq!(
            requested_delivery(&p("TIMER_DELAY_SEC\u{1}3"), now),
            Ok(Some(1_003_000))
        );
        assert_eq!(
            requested_delivery(&p("TIMER_DELAY_MS\u{1}250"), now),
            Ok(Some(1_000_250))
        );
        // In the past: at once.
        assert_eq!(
            requested_delivery(&p("__STARTDELIVERTIME\u{1}5"), now),
            Ok(None)
        );
        // 40 days is allowed, a millisecond more is not.
        let forty = MAX_DELAY_MS;
        assert!(requested_delivery(&p(&format!("TIMER_DELAY_MS\u{1}{forty}")), now).is_ok());
        assert!(requested_delivery(&p(&format!("TIMER_DELAY_MS\u{1}{}", forty + 1)), now).is_err());
        assert!(requested_delivery(&p("TIMER_DELAY_SEC\u{1}soon"), now).is_err());
    }

    #[test]
    fn done_bits_mark_compact_and_round_trip() {
        let mut d = DoneBits::default();
        for o in 0..130 {
            assert!(!d.is_done(o));
        }
        for o in 0..64 {
            d.mark(o);
        }
        d.mark(100);
        d.compact();
        assert_eq!(d.base, 64);
        assert!(d.is_done(3), "below the base is done");
        assert!(d.is_done(100));
        assert!(!d.is_done(99));
        assert_eq!(DoneBits::decode(&d.encode()), Some(d.clone()));
        assert_eq!(DoneBits::decode(b"short"), None);
    }

    #[test]
    fn every_shard_owns_one_timer_queue() {
        for n in 1..8u16 {
            for shard in 0..n {
                assert_eq!(shard_of(TIMER_TOPIC, timer_queue_of(shard, n), n), shard);
            }
        }
    }
}
