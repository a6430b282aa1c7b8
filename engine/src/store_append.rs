//! The append path of a shard store: parse, find room, reserve offsets and
//! copy the record (one synchronous step), then wait as the flush mode says.
//!
//! The usual append takes the fast path: nobody is waiting for room, its
//! queue exists and every cache has room, so it appends at once with one
//! borrow of the shard state and one queue lookup. Everything else (a queue
//! to create, a full cache, an index to roll) takes the waiting path, which
//! serves waiters first come, first served.

use std::future::Future;
use std::task::Poll;

use super::*;

/// Messages of `msgs` that go to the queue of `m`.
fn units_for(msgs: &[MessageInput], m: &MessageInput) -> usize {
    msgs.iter()
        .filter(|x| x.queue_id == m.queue_id && x.topic == m.topic)
        .count()
}

/// What an append needs to know of a message, parsed once.
struct Prepared {
    len: usize,
    tags_code: i64,
    /// Index key hashes ([`crate::index::key_hash`]) of [`message_keys`].
    key_hashes: SmallVec<[i32; 4]>,
}

impl Prepared {
    fn of(m: &MessageInput, max_body: usize) -> Result<Self> {
        let len = m.validate(max_body)?;
        let props = record::StoreProps::of(&m.properties);
        Ok(Prepared {
            len,
            tags_code: props.unit_tags_code(),
            key_hashes: message_keys(&props)
                .into_iter()
                .map(|k| crate::index::key_hash(&m.topic, k))
                .collect(),
        })
    }
}

/// Holds a place in the first-come-first-served line for cache room;
/// leaving it (done or failed) lets the next ticket go.
///
/// Only the first in line waits for room; the others wait to become first.
/// When the first leaves, the rest are woken in line order, so that one
/// pass of the executor serves as many as there is room for, each finding
/// itself first when it runs, all before the flusher that their appends
/// kick. Two other ways did not drain: waking the line in no particular
/// order (a pass over every waiter per append served) and waking only the
/// next one (a group commit per append served, as the flusher ran between
/// them). Under SYNC_FLUSH with a thousand appenders a line that formed
/// once then never emptied: every appender back from its group commit found
/// it non-empty and joined (`engine-bench --null-disk`: groups of 4–140 KB
/// where they are 1.2 MB).
struct RoomTurn<'a> {
    inner: &'a Inner,
    ticket: u64,
}

impl<'a> RoomTurn<'a> {
    fn new(inner: &'a Inner) -> Self {
        let ticket = inner.room_next_ticket.get();
        inner.room_next_ticket.set(ticket + 1);
        inner.room_line.borrow_mut().push_back((ticket, None));
        RoomTurn { inner, ticket }
    }

    fn is_first(&self) -> bool {
        self.inner.room_line.borrow().front().map(|e| e.0) == Some(self.ticket)
    }

    /// Completes once this turn is first in line.
    fn first(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            let mut line = self.inner.room_line.borrow_mut();
            match line.binary_search_by_key(&self.ticket, |e| e.0) {
                Ok(0) => Poll::Ready(()),
                Ok(i) => {
                    line[i].1 = Some(cx.waker().clone());
                    Poll::Pending
                }
                Err(_) => unreachable!("a turn is in the line until it is dropped"),
            }
        })
    }
}

impl Drop for RoomTurn<'_> {
    fn drop(&mut self) {
        // Leave the line wherever we are in it (a cancelled append too);
        // leaving its front wakes the rest, in order.
        let mut line = self.inner.room_line.borrow_mut();
        if let Ok(i) = line.binary_search_by_key(&self.ticket, |e| e.0) {
            line.remove(i);
            if i == 0 {
                for w in line.iter_mut().filter_map(|e| e.1.take()) {
                    w.wake();
                }
            }
        }
    }
}

/// What one synchronous append attempt found.
enum Attempt {
    /// Appended: the result and the log's end after it.
    Done(AppendResult, u64),
    /// A cache (tail, dirty cap, index, consume queue) has no room now.
    NoRoom,
    /// A queue of the batch does not exist (yet, or any more).
    NoQueue,
}

impl ShardStore {
    /// Appends messages (one send or one batch). Returns when the flush mode
    /// says the append is acknowledged.
    pub async fn append(&self, msgs: &[MessageInput]) -> Result<AppendResult> {
        if msgs.is_empty() || msgs.len() > MAX_BATCH_MESSAGES {
            return Err(StoreError::MessageIllegal(format!(
                "batch of {} messages (1..={MAX_BATCH_MESSAGES})",
                msgs.len()
            )));
        }
        // An ASYNC_FLUSH append that finds room never waits: without this,
        // a busy shard would not let its reactor reap write completions
        // until the tail cache filled up.
        glommio::yield_if_needed().await;
        // Completed log writes, found in the ring's shared memory (no system
        // call): their tasks run soon and free tail-cache room. Otherwise a
        // busy shard learns of them only at its next reactor turn, and the
        // watchdog found some that had waited 10 ms (ASYNC_FLUSH, 2 shards:
        // appends that waited for room 29-32 K -> 19-26 K per phase, ratio to
        // raw 0.73-0.82 -> 0.83-0.91 over 6 runs each).
        crate::log_ring::reap();
        if self.inner.stopping.get() {
            return Err(StoreError::ShuttingDown);
        }
        if self.inner.disk_full.get() {
            let used = self
                .inner
                .env
                .usage
                .used_percent(&self.inner.cfg.root)
                .unwrap_or(100);
            return Err(StoreError::DiskFull {
                used_percent: used,
                limit_percent: self.inner.cfg.disk_refuse_ratio,
            });
        }
        // Parse each message once: length, tags code, index keys.
        // No allocation for the usual single message (nor for its keys).
        let mut prepared: SmallVec<[Prepared; 1]> = SmallVec::with_capacity(msgs.len());
        let mut total = 0usize;
        let mut keys = 0usize;
        for m in msgs {
            let p = Prepared::of(m, self.inner.cfg.max_body_bytes)?;
            total += p.len;
            keys += p.key_hashes.len();
            prepared.push(p);
        }
        self.check_fits(msgs, total, keys)?;
        // The usual append: nobody waits for room (a waiter is served first),
        // its queue exists and there is room. Anything else waits, boxed as
        // every rare wait: an append future is alive per appender (a
        // thousand per shard under SYNC_FLUSH), and the waiting state would
        // make every one of them larger.
        let fast = if self.inner.room_line.borrow().is_empty() {
            self.append_now(msgs, &prepared, total, keys)?
        } else {
            Attempt::NoRoom
        };
        let (result, end) = match fast {
            Attempt::Done(result, end) => (result, end),
            Attempt::NoRoom => {
                Box::pin(self.append_waiting(msgs, &prepared, total, keys, false)).await?
            }
            Attempt::NoQueue => {
                Box::pin(self.append_waiting(msgs, &prepared, total, keys, true)).await?
            }
        };
        match self.inner.cfg.flush_mode {
            FlushMode::Async => {
                let (pos, dirty) = {
                    let s = self.inner.st.borrow();
                    let pos = s.log.area.write_pos();
                    (pos, (pos - s.log.area.written_pos()) as usize)
                };
                if dirty >= self.inner.cfg.flush_threshold_bytes {
                    self.inner.flush_kick.notify();
                    // glommio hands queued I/O to the kernel (and reaps
                    // completions) only when every task of the shard is
                    // pending or its task queue is preempted (100 ms). Appends
                    // that find room never wait, so under load the flusher's
                    // writes would sit queued while appends fill the cache,
                    // and the disk would idle. Once per quarter chunk of
                    // appended bytes, every appender waits one reactor turn:
                    // the writes go out, completions come in (and free room),
                    // and the appends go on while the writes run. A turn per
                    // whole chunk left each write about 4 ms longer in
                    // flight (queued before submission, or completed but not
                    // reaped) than the disk took.
                    let inner = &self.inner;
                    if !inner.reactor_turn_armed.get()
                        && pos - inner.reactor_turn_at.get()
                            >= (inner.cfg.commitlog_chunk_bytes / 4) as u64
                    {
                        inner.reactor_turn_armed.set(true);
                        inner.reactor_turn_at.set(pos);
                    }
                    if inner.reactor_turn_armed.get() {
                        // A timer fires only from the reactor's poll.
                        glommio::timer::sleep(std::time::Duration::from_micros(1)).await;
                        inner.reactor_turn_armed.set(false);
                    }
                }
            }
            FlushMode::Sync => {
                let durable = DurableWait {
                    inner: &self.inner,
                    end,
                    registered: false,
                };
                self.stream_whole_blocks();
                self.inner.flush_kick.notify();
                durable.await?;
            }
        }
        Ok(result)
    }

    /// An append that must wait: for its queues to be created (when
    /// `create_queues`), then for room in the caches. Bounded memory means
    /// backpressure, not growth; waiters are served first come, first
    /// served, so a busy appender cannot starve one that is waiting.
    async fn append_waiting(
        &self,
        msgs: &[MessageInput],
        prepared: &[Prepared],
        total: usize,
        keys: usize,
        create_queues: bool,
    ) -> Result<(AppendResult, u64)> {
        for (i, m) in msgs.iter().enumerate().filter(|_| create_queues) {
            // A batch goes to one queue as a rule: look each queue up once.
            let seen = i > 0 && msgs[i - 1].queue_id == m.queue_id && msgs[i - 1].topic == m.topic;
            if !seen && !self.has_queue(m) {
                self.ensure_queue(&QueueKey::new(m.topic.clone(), m.queue_id))
                    .await?;
            }
        }
        let turn = RoomTurn::new(&self.inner);
        let mut counted = false;
        loop {
            if !turn.is_first() {
                self.count_room_wait(&mut counted);
                turn.first().await;
            }
            if self.inner.st.borrow().index.is_full_for(keys) {
                self.roll_index_locked(keys).await?;
                continue;
            }
            match self.append_now(msgs, prepared, total, keys)? {
                Attempt::Done(result, end) => return Ok((result, end)),
                // Its queues were created above, so a topic was dropped
                // while this append waited: appending would recreate its
                // queues half-way. Refused.
                Attempt::NoQueue => {
                    return Err(StoreError::MessageIllegal(format!(
                        "the topic {} was dropped while the append waited",
                        msgs[0].topic
                    )))
                }
                Attempt::NoRoom => {}
            }
            if !self.derived_room_for(msgs, keys) {
                self.inner.derived_wanted.set(true);
            }
            self.inner.flush_kick.notify();
            self.count_room_wait(&mut counted);
            // Created before this task yields: no notification is missed.
            self.inner.progress.wait().await;
        }
    }

    /// Counts an append that waits for room, once.
    fn count_room_wait(&self, counted: &mut bool) {
        if !std::mem::replace(counted, true) {
            let mut st = self.inner.stats.get();
            st.room_waits += 1;
            self.inner.stats.set(st);
        }
    }

    fn has_queue(&self, m: &MessageInput) -> bool {
        self.inner
            .st
            .borrow()
            .queues
            .get_by(&m.topic, m.queue_id)
            .is_some()
    }

    /// Refuses an append that could never find room (it would wait forever
    /// at the head of the line and stall the shard).
    fn check_fits(&self, msgs: &[MessageInput], total: usize, keys: usize) -> Result<()> {
        let cfg = &self.inner.cfg;
        if total as u64 > cfg.tail_cache_bytes / 2 || total as u64 > cfg.max_dirty_bytes / 2 {
            return Err(StoreError::MessageIllegal(format!(
                "batch of {total} bytes is larger than half the tail cache or dirty limit"
            )));
        }
        let index_cap = ((INDEX_CACHE_CHUNKS - 1) * 1024).min(cfg.index_entries as usize);
        if keys > index_cap {
            return Err(StoreError::MessageIllegal(format!(
                "batch carries {keys} index keys, at most {index_cap}"
            )));
        }
        let queue_cap =
            cfg.cq_cache_chunks.saturating_sub(1) * crate::consume_queue::CQ_UNITS_PER_CHUNK;
        for m in msgs {
            let n = units_for(msgs, m);
            if n > queue_cap {
                return Err(StoreError::MessageIllegal(format!(
                    "batch puts {n} messages into {}:{}, at most {queue_cap}",
                    m.topic, m.queue_id
                )));
            }
        }
        Ok(())
    }

    /// Whether the consume queues and the index entries have cache room
    /// for this append now.
    fn derived_room_for(&self, msgs: &[MessageInput], keys: usize) -> bool {
        let s = self.inner.st.borrow();
        s.index.entries_room(keys)
            && msgs.iter().all(|m| {
                s.queues
                    .get_by(&m.topic, m.queue_id)
                    .is_none_or(|q| q.has_room(units_for(msgs, m)))
            })
    }

    async fn roll_index_locked(&self, keys: usize) -> Result<()> {
        let _g = self.inner.derived_lock.lock().await;
        if self.inner.st.borrow().index.is_full_for(keys) {
            self.roll_index().await?;
        }
        Ok(())
    }

    /// The synchronous heart of an append, without yielding: if every queue
    /// exists and every cache has room, offsets reserved, bytes copied,
    /// queue units and index entries added. Nothing changes otherwise.
    fn append_now(
        &self,
        msgs: &[MessageInput],
        prepared: &[Prepared],
        total: usize,
        keys: usize,
    ) -> Result<Attempt> {
        if self.inner.stopping.get() {
            // A shutdown began while this append waited: its clean
            // checkpoint must describe everything acknowledged.
            return Err(StoreError::ShuttingDown);
        }
        let mut guard = self.inner.st.borrow_mut();
        let State {
            log,
            queues,
            index,
            scratch,
        } = &mut *guard;
        log.check_poisoned()?;
        // A batch goes to one queue as a rule: that queue is looked up once,
        // for its room and for its units.
        let first = &msgs[0];
        let one_queue = msgs[1..]
            .iter()
            .all(|m| m.queue_id == first.queue_id && m.topic == first.topic);
        let mut only = None;
        if one_queue {
            match queues.get_mut_by(&first.topic, first.queue_id) {
                None => return Ok(Attempt::NoQueue),
                Some(q) if !q.has_room(msgs.len()) => return Ok(Attempt::NoRoom),
                Some(q) => only = Some(q),
            }
        } else {
            for m in msgs {
                match queues.get_by(&m.topic, m.queue_id) {
                    None => return Ok(Attempt::NoQueue),
                    Some(q) if !q.has_room(units_for(msgs, m)) => return Ok(Attempt::NoRoom),
                    Some(_) => {}
                }
            }
        }
        // Unwritten commitlog bytes are also capped well below the cache
        // size: an appender that finds no room waits, the executor goes idle
        // and its reactor reaps write completions. Without the cap a shard
        // that never waits reaps them only at glommio's 100 ms preemption.
        let dirty = log.area.write_pos() - log.area.written_pos();
        if !log.has_room(total)
            || dirty > self.inner.cfg.max_dirty_bytes
            || index.is_full_for(keys)
            || !index.entries_room(keys)
        {
            return Ok(Attempt::NoRoom);
        }
        let start = log.prepare_append(total)?;
        let now = self.inner.env.clock.now_ms();
        // Store timestamps never go backwards within a shard.
        let store_ts = now.max(log.last_store_timestamp);
        log.last_store_timestamp = store_ts;
        for kh in prepared.iter().flat_map(|p| &p.key_hashes) {
            index.prefetch(*kh);
        }
        scratch.clear();
        let mut records: SmallVec<[Appended; 1]> = SmallVec::with_capacity(msgs.len());
        let mut at = Encoder {
            log,
            index,
            scratch,
            pos: start,
            store_ts,
        };
        match only {
            Some(q) => {
                for (m, p) in msgs.iter().zip(prepared) {
                    records.push(at.encode(q, m, p));
                }
            }
            None => {
                for (m, p) in msgs.iter().zip(prepared) {
                    let q = queues
                        .get_mut_by(&m.topic, m.queue_id)
                        .expect("every queue was found above");
                    records.push(at.encode(q, m, p));
                }
            }
        }
        assert_eq!(
            scratch.len(),
            total,
            "encoded length matches the validated length"
        );
        log.append_records(scratch);
        let end = log.area.write_pos();
        drop(guard);
        if let Some(f) = self.inner.arrival.borrow().as_ref() {
            for (m, r) in msgs.iter().zip(&records) {
                if let Some(qo) = r.queue_offset {
                    f(&m.topic, m.queue_id, QueueOffset(qo.0 + 1));
                }
            }
        }
        Ok(Attempt::Done(
            AppendResult {
                records,
                store_timestamp: store_ts,
            },
            end,
        ))
    }
}

/// Encodes one append's records, one after the other, into the scratch
/// buffer and adds their queue units and index entries.
struct Encoder<'a> {
    log: &'a mut Commitlog,
    index: &'a mut KeyIndex,
    scratch: &'a mut Vec<u8>,
    /// Where the next record goes.
    pos: LogOffset,
    store_ts: i64,
}

impl Encoder<'_> {
    fn encode(&mut self, q: &mut ConsumeQueue, m: &MessageInput, p: &Prepared) -> Appended {
        let before = self.scratch.len();
        let qoff = m.is_consumable().then(|| q.max_offset());
        let body = record::encode_into(
            self.scratch,
            m,
            qoff.unwrap_or(QueueOffset(0)),
            self.pos,
            self.store_ts,
        );
        self.log.checksum_record(&self.scratch[before..], body);
        let size = (self.scratch.len() - before) as u32;
        debug_assert_eq!(size as usize, p.len);
        if let Some(qo) = qoff {
            let unit = CqUnit {
                log_offset: self.pos,
                size,
                tags_code: p.tags_code,
            };
            let added = q.append(unit, qo);
            assert!(added, "a new record is always past the queue's end");
        }
        if m.transaction_type() != record::sysflag::TRANSACTION_ROLLBACK {
            for kh in &p.key_hashes {
                let ok = self.index.put_hashed(*kh, self.pos.0, self.store_ts);
                assert!(ok, "index room checked before append");
            }
        }
        let appended = Appended {
            log_offset: self.pos,
            queue_offset: qoff,
            size,
        };
        self.pos = self.pos.plus(size as u64);
        appended
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{FlushMode, StoreConfig};
    use crate::fault_disk::FaultDisk;
    use crate::record::MessageInput;
    use crate::segmented::tests::run;
    use crate::store::window::tests::env;
    use crate::ShardStore;

    /// Waits (bounded) until `cond` holds.
    async fn until(what: &str, cond: impl Fn() -> bool) {
        for _ in 0..5000 {
            if cond() {
                return;
            }
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        panic!("timed out waiting until {what}");
    }

    /// Appends that queued for room while the log's writes were held are
    /// all served in the pass that finds room, so they share one group
    /// commit (they took a group commit each when only the next in line
    /// was woken, and the line then never emptied under load).
    #[test]
    fn a_line_of_appends_waiting_for_room_drains_into_one_group_commit() {
        run(|| async {
            let disk = FaultDisk::new();
            let mut cfg = StoreConfig::small_for_tests("/w", 1);
            cfg.flush_mode = FlushMode::Sync;
            cfg.flush_interval = Duration::from_secs(3600);
            cfg.checkpoint_interval = Duration::from_secs(3600);
            cfg.retention_interval = Duration::from_secs(3600);
            // About 32 records of 4 KB, then appends wait for room.
            cfg.max_dirty_bytes = 128 << 10;
            let store = ShardStore::open(cfg, 0, env(&disk)).await.expect("open");
            let record = |n: u32| MessageInput::simple("L", 0, &[n as u8; 4000], "");
            store.append(&[record(0)]).await.expect("first append");

            disk.set_hold_writes(true);
            let appenders: Vec<_> = (1..=48u32)
                .map(|n| {
                    let store = store.clone();
                    glommio::spawn_local(async move {
                        store.append(&[record(n)]).await.expect("append");
                    })
                })
                .collect();
            until("a line waits for room", || store.stats().room_waits >= 8).await;
            let waiting = store.stats().room_waits;
            let syncs = store.stats().log_syncs;
            disk.set_hold_writes(false);
            while !disk.held_writes().is_empty() {
                disk.release_write(0);
            }
            let all = async {
                for a in appenders {
                    a.await;
                }
            };
            glommio::timer::timeout(Duration::from_secs(20), async {
                all.await;
                Ok(())
            })
            .await
            .expect("every append acknowledged");
            let group_commits = store.stats().log_syncs - syncs;
            // One for the appends that found room before the writes were
            // held back, one for the line; a third if a round was already
            // open when the writes came back.
            assert!(
                group_commits <= 3,
                "{waiting} appends in line took {group_commits} group commits"
            );
            store.shutdown().await.expect("shutdown");
        });
    }
}
