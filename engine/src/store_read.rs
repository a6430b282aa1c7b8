//! The read side of a shard store: by queue offset (pull), by physical
//! offset (view by msgId), by time (search offset), by key (query).

use bytes::Bytes;

use super::*;

/// Reads longer than this gap between records are not coalesced.
const COALESCE_GAP: u64 = 64 * 1024;

enum UnitsRead {
    Ready(Vec<CqUnit>),
    Pending(IoFuture<Vec<u8>>),
}

impl ShardStore {
    pub fn max_offset(&self, key: &QueueKey) -> QueueOffset {
        self.inner
            .st
            .borrow()
            .queues
            .get(key)
            .map(|q| q.max_offset())
            .unwrap_or_default()
    }

    pub fn min_offset(&self, key: &QueueKey) -> QueueOffset {
        self.inner
            .st
            .borrow()
            .queues
            .get(key)
            .map(|q| q.min_offset())
            .unwrap_or_default()
    }

    /// The queues this shard holds.
    pub fn queues(&self) -> Vec<QueueKey> {
        let mut v: Vec<_> = self.inner.st.borrow().queues.keys().collect();
        v.sort();
        v
    }

    /// First and next commitlog offset of this shard.
    pub fn log_range(&self) -> (LogOffset, LogOffset) {
        let s = self.inner.st.borrow();
        (s.log.min_offset(), s.log.write_pos())
    }

    /// Every byte below this is fdatasynced.
    pub fn durable_offset(&self) -> LogOffset {
        LogOffset(self.inner.st.borrow().log.durable_pos())
    }

    /// Bytes of commitlog held in memory.
    pub fn tail_cache_bytes(&self) -> usize {
        self.inner.st.borrow().log.area.cached_bytes()
    }

    pub(super) async fn read_units(
        &self,
        key: &QueueKey,
        from: QueueOffset,
        n: usize,
    ) -> Result<Vec<CqUnit>> {
        let plan = {
            let s = self.inner.st.borrow();
            let Some(q) = s.queues.get(key) else {
                return Ok(Vec::new());
            };
            let n = n.min((q.max_offset().0.saturating_sub(from.0)) as usize);
            if n == 0 {
                return Ok(Vec::new());
            }
            match q.read_cached(from, n) {
                Some(u) => UnitsRead::Ready(u),
                None => {
                    // Below the tail cache everything is written; read only
                    // that part from disk (the cached rest comes next call).
                    let cache_start = q.area.cache_start() / CQ_UNIT_BYTES as u64;
                    let n = if from.0 < cache_start {
                        n.min((cache_start - from.0) as usize)
                    } else {
                        n
                    };
                    debug_assert!(q.area.cache_start() <= q.area.written_pos());
                    let n = q.disk_span(from, n);
                    UnitsRead::Pending(
                        q.area
                            .read_disk(from.0 * CQ_UNIT_BYTES as u64, n * CQ_UNIT_BYTES)?,
                    )
                }
            }
        };
        match plan {
            UnitsRead::Ready(u) => Ok(u),
            UnitsRead::Pending(f) => {
                let b = f.await.map_err(|e| {
                    StoreError::io("read consume queue", queue_dir(&self.inner.dir, key), e)
                })?;
                Ok(b.chunks_exact(CQ_UNIT_BYTES).map(CqUnit::decode).collect())
            }
        }
    }

    /// Reads `[pos, pos+len)` of the commitlog: from the tail cache if there,
    /// else with a direct read.
    pub async fn read_log(&self, pos: LogOffset, len: usize) -> Result<Vec<u8>> {
        if len > MAX_READ_BYTES {
            return Err(StoreError::MessageIllegal(format!("read of {len} bytes")));
        }
        let (fut, disk_len) = {
            let s = self.inner.st.borrow();
            let end = pos.0.checked_add(len as u64);
            if pos.0 < s.log.area.min_pos() || end.is_none_or(|e| e > s.log.area.write_pos()) {
                return Err(StoreError::Corrupt {
                    path: s.log.area.dir().to_path_buf(),
                    what: format!("read of {len} bytes at {pos:?} outside the log"),
                });
            }
            let mut out = Vec::with_capacity(len);
            if s.log.area.read_cached(pos.0, len, &mut out) {
                return Ok(out);
            }
            // Bytes below the tail cache are all written; only those come
            // from disk, the rest from memory once the read is back.
            let cache_start = s.log.area.cache_start();
            debug_assert!(cache_start <= s.log.area.written_pos());
            let disk_len = (cache_start.saturating_sub(pos.0) as usize).min(len);
            (s.log.area.read_disk(pos.0, disk_len)?, disk_len)
        };
        let mut b = fut
            .await
            .map_err(|e| StoreError::io("read commitlog", self.inner.dir.join("commitlog"), e))?;
        if b.len() != disk_len {
            return Err(StoreError::Corrupt {
                path: self.inner.dir.join("commitlog"),
                what: format!("short read at {pos:?}"),
            });
        }
        if disk_len < len {
            let rest = pos.0 + disk_len as u64;
            let ok = self
                .inner
                .st
                .borrow()
                .log
                .area
                .read_cached(rest, len - disk_len, &mut b);
            if !ok {
                // The cache moved on while the disk read ran: read the rest again.
                let more = Box::pin(self.read_log(LogOffset(rest), len - disk_len)).await?;
                b.extend_from_slice(&more);
            }
        }
        Ok(b)
    }

    /// The whole record at `pos` (view by offset msgId), validated.
    pub async fn read_record(&self, pos: LogOffset) -> Result<Bytes> {
        let head = self.read_log(pos, 8).await?;
        let size = i32::from_be_bytes(head[0..4].try_into().expect("4"));
        let magic = i32::from_be_bytes(head[4..8].try_into().expect("4"));
        let max = self.inner.cfg.max_body_bytes + crate::limits::RECORD_OVERHEAD_ALLOWANCE;
        if !(48..=max as i32).contains(&size)
            || (magic != record::MAGIC_V1 && magic != record::MAGIC_V2)
        {
            return Err(StoreError::MessageIllegal(format!("no record at {pos:?}")));
        }
        let rec = self.read_log(pos, size as usize).await?;
        match record::decode(&rec, false) {
            Ok(v) if v.physical_offset as u64 == pos.0 => Ok(Bytes::from(rec)),
            _ => Err(StoreError::MessageIllegal(format!("no record at {pos:?}"))),
        }
    }

    /// Reads messages of a queue from `offset` (Apache `getMessage`): at most
    /// `max_msgs` records and about `max_bytes` bytes; `filter` sees each
    /// unit's tags code and decides whether it is returned.
    pub async fn get_messages(
        &self,
        key: &QueueKey,
        offset: QueueOffset,
        max_msgs: usize,
        max_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> Result<GetResult> {
        let max_msgs = max_msgs.clamp(1, MAX_PULL_MESSAGES);
        let (min, max, log_min) = {
            let s = self.inner.st.borrow();
            let Some(q) = s.queues.get(key) else {
                return Ok(GetResult {
                    status: GetStatus::NoMatchedLogicQueue,
                    next_begin_offset: QueueOffset(0),
                    min_offset: QueueOffset(0),
                    max_offset: QueueOffset(0),
                    messages: Vec::new(),
                    queue_offsets: Vec::new(),
                });
            };
            (q.min_offset(), q.max_offset(), s.log.min_offset())
        };
        let mut r = GetResult {
            status: GetStatus::NoMatchedMessage,
            next_begin_offset: offset,
            min_offset: min,
            max_offset: max,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
        };
        if max.0 == 0 {
            r.status = GetStatus::NoMessageInQueue;
            r.next_begin_offset = QueueOffset(0);
            return Ok(r);
        }
        if offset < min {
            r.status = GetStatus::OffsetTooSmall;
            r.next_begin_offset = min;
            return Ok(r);
        }
        if offset == max {
            r.status = GetStatus::OffsetOverflowOne;
            return Ok(r);
        }
        if offset > max {
            r.status = GetStatus::OffsetOverflowBadly;
            // 4.9.7: always the max offset (4.9.3 and older used the min when it was 0).
            r.next_begin_offset = max;
            return Ok(r);
        }
        // Scan units; a filtered-out unit still advances the next offset.
        let mut cur = offset;
        let mut wanted: Vec<(QueueOffset, CqUnit)> = Vec::new();
        let mut bytes = 0usize;
        let scan_limit = (max_msgs * 16).max(800);
        let mut scanned = 0usize;
        'scan: while cur < max && wanted.len() < max_msgs && scanned < scan_limit {
            let units = self
                .read_units(key, cur, (max_msgs - wanted.len()).max(64))
                .await?;
            if units.is_empty() {
                break;
            }
            for u in units {
                scanned += 1;
                if u.log_offset < log_min {
                    r.status = GetStatus::OffsetFoundNull;
                    cur = QueueOffset(cur.0 + 1);
                    continue;
                }
                if !wanted.is_empty() && bytes + u.size as usize > max_bytes {
                    break 'scan;
                }
                if filter(u.tags_code) {
                    bytes += u.size as usize;
                    wanted.push((cur, u));
                }
                cur = QueueOffset(cur.0 + 1);
                if wanted.len() >= max_msgs || cur >= max {
                    break 'scan;
                }
            }
        }
        r.next_begin_offset = cur;
        if wanted.is_empty() {
            return Ok(r);
        }
        r.messages = self.read_records(&wanted).await?;
        r.queue_offsets = wanted.iter().map(|(o, _)| *o).collect();
        r.status = GetStatus::Found;
        Ok(r)
    }

    /// Reads the records of `units`, coalescing neighbours into one disk read.
    async fn read_records(&self, units: &[(QueueOffset, CqUnit)]) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(units.len());
        let mut i = 0;
        while i < units.len() {
            let first = units[i].1;
            // Extend a run while the next record is close and in the same segment.
            let seg = {
                let s = self.inner.st.borrow();
                s.log.area.segment_start(first.log_offset.0)
            };
            let seg_end = seg + self.inner.cfg.commitlog_segment_bytes;
            let mut j = i + 1;
            let mut end = first.log_offset.0.saturating_add(first.size as u64);
            while j < units.len() {
                let u = units[j].1;
                let e = u.log_offset.0.saturating_add(u.size as u64);
                if u.log_offset.0 < end
                    || u.log_offset.0 > end + COALESCE_GAP
                    || e > seg_end
                    || e - first.log_offset.0 > MAX_READ_BYTES as u64
                {
                    break;
                }
                end = e;
                j += 1;
            }
            let data = self
                .read_log(first.log_offset, (end - first.log_offset.0) as usize)
                .await?;
            let data = Bytes::from(data);
            for (_, u) in &units[i..j] {
                let off = (u.log_offset.0 - first.log_offset.0) as usize;
                out.push(data.slice(off..off + u.size as usize));
            }
            i = j;
        }
        Ok(out)
    }

    /// The records at the given queue offsets (ascending, no repeats), each
    /// with its unit's tags code, in the same order; `None` where the unit
    /// is missing or retention already deleted the record. Units are read a
    /// run at a time and neighbouring records share one log read, so a
    /// scattered burst (due timers) costs a few reads, not one per record.
    pub async fn read_queue_records(
        &self,
        key: &QueueKey,
        offsets: &[QueueOffset],
    ) -> Result<Vec<Option<(i64, Bytes)>>> {
        debug_assert!(offsets.windows(2).all(|w| w[0] < w[1]), "sorted offsets");
        let log_min = self.log_range().0;
        let mut wanted: Vec<(QueueOffset, CqUnit)> = Vec::with_capacity(offsets.len());
        let mut slot: Vec<Option<usize>> = vec![None; offsets.len()];
        let mut i = 0;
        while i < offsets.len() {
            // One unit read covers offsets that are close together.
            let from = offsets[i];
            let mut j = i + 1;
            while j < offsets.len() && offsets[j].0 - from.0 < (MAX_PULL_MESSAGES * 16) as u64 {
                j += 1;
            }
            let span = (offsets[j - 1].0 - from.0 + 1) as usize;
            let mut got = 0usize;
            while got < span {
                let units = self
                    .read_units(key, QueueOffset(from.0 + got as u64), span - got)
                    .await?;
                if units.is_empty() {
                    break;
                }
                for (k, u) in units.iter().enumerate() {
                    let off = QueueOffset(from.0 + (got + k) as u64);
                    if let Ok(p) = offsets[i..j].binary_search(&off) {
                        if u.log_offset >= log_min {
                            slot[i + p] = Some(wanted.len());
                            wanted.push((off, *u));
                        }
                    }
                }
                got += units.len();
            }
            i = j;
        }
        let records = self.read_records(&wanted).await?;
        Ok(slot
            .into_iter()
            .map(|s| s.map(|w| (wanted[w].1.tags_code, records[w].clone())))
            .collect())
    }

    /// Store timestamp of the message at `offset` of a queue, if it exists.
    pub async fn store_time_at(&self, key: &QueueKey, offset: QueueOffset) -> Result<Option<i64>> {
        let units = self.read_units(key, offset, 1).await?;
        let Some(u) = units.first() else {
            return Ok(None);
        };
        if u.log_offset < self.log_range().0 {
            return Ok(None);
        }
        let head = self
            .read_log(u.log_offset, (u.size as usize).min(128))
            .await?;
        Ok(record::store_timestamp_of(&head))
    }

    /// Up to `n` consume-queue units of a queue from `from`, with their queue
    /// offsets: (queue offset, commitlog offset, size, tags code). Units
    /// whose record retention already deleted are left out.
    pub async fn queue_units(
        &self,
        key: &QueueKey,
        from: QueueOffset,
        n: usize,
    ) -> Result<Vec<(QueueOffset, LogOffset, u32, i64)>> {
        let units = self
            .read_units(key, from, n.min(MAX_PULL_MESSAGES * 16))
            .await?;
        let log_min = self.log_range().0;
        Ok(units
            .into_iter()
            .enumerate()
            .filter(|(_, u)| u.log_offset >= log_min)
            .map(|(i, u)| {
                (
                    QueueOffset(from.0 + i as u64),
                    u.log_offset,
                    u.size,
                    u.tags_code,
                )
            })
            .collect())
    }

    /// Whether the message at `offset` of a queue counts as in memory by
    /// Apache's rule: within `in_memory_bytes` (40 % of RAM) of the log end
    /// (true also when there is no such message). Apache answers a first
    /// offset query with 0 only in that case (reference §3.3).
    pub async fn is_in_memory(&self, key: &QueueKey, offset: QueueOffset) -> Result<bool> {
        let units = self.read_units(key, offset, 1).await?;
        let Some(u) = units.first() else {
            return Ok(true);
        };
        let end = self.inner.st.borrow().log.write_pos().0;
        Ok(end.saturating_sub(u.log_offset.0) <= self.inner.cfg.in_memory_bytes)
    }

    /// Store time of the oldest message of a queue (-1 when empty).
    pub async fn earliest_store_time(&self, key: &QueueKey) -> Result<i64> {
        let min = self.min_offset(key);
        Ok(self.store_time_at(key, min).await?.unwrap_or(-1))
    }

    /// Queue offset for a store timestamp, with Apache 4.9.7's semantics:
    /// binary search over the queue; an exact match if one exists, else the
    /// nearer neighbour (the lower on a tie); 0 for an empty queue.
    pub async fn offset_by_time(&self, key: &QueueKey, timestamp: i64) -> Result<QueueOffset> {
        let (min, max) = (self.min_offset(key), self.max_offset(key));
        if max.0 == 0 || min >= max {
            return Ok(QueueOffset(0));
        }
        let log_min = self.log_range().0;
        let (mut low, mut high) = (min.0 as i64, max.0 as i64 - 1);
        let (mut left, mut right) = (-1i64, -1i64);
        let (mut left_ts, mut right_ts) = (-1i64, -1i64);
        while high >= low {
            let mid = (low + high) / 2;
            let units = self.read_units(key, QueueOffset(mid as u64), 1).await?;
            let Some(u) = units.first() else { break };
            if u.log_offset < log_min {
                low = mid + 1;
                left = mid;
                continue;
            }
            let Some(ts) = self.store_time_at(key, QueueOffset(mid as u64)).await? else {
                return Ok(QueueOffset(0));
            };
            match ts.cmp(&timestamp) {
                std::cmp::Ordering::Equal => return Ok(QueueOffset(mid as u64)),
                std::cmp::Ordering::Greater => {
                    high = mid - 1;
                    right = mid;
                    right_ts = ts;
                }
                std::cmp::Ordering::Less => {
                    low = mid + 1;
                    left = mid;
                    left_ts = ts;
                }
            }
        }
        let off = if left_ts == -1 {
            right
        } else if right_ts == -1 {
            left
        } else if (timestamp - left_ts).abs() > (right_ts - timestamp).abs() {
            right
        } else {
            left
        };
        Ok(QueueOffset(off.max(0) as u64))
    }

    /// Records whose `KEYS` or `UNIQ_KEY` equal `key` in `topic`, stored within
    /// `[begin, end]` ms, newest first, at most `max`.
    pub async fn query_by_key(
        &self,
        topic: &str,
        key: &str,
        begin: i64,
        end: i64,
        max: usize,
    ) -> Result<Vec<Bytes>> {
        let max = max.clamp(1, MAX_QUERY_RESULTS);
        let probes = self
            .inner
            .st
            .borrow()
            .index
            .lookup_plan(topic, key, begin, end);
        let index = IndexCell(&self.inner.st);
        let mut offsets = Vec::new();
        for p in probes {
            // Collect more candidates than asked: collisions are filtered below.
            index.walk(p, begin, end, max * 4, &mut offsets).await?;
            if offsets.len() >= max * 4 {
                break;
            }
        }
        let mut out = Vec::new();
        for off in offsets {
            let Ok(rec) = self.read_record(LogOffset(off)).await else {
                continue;
            };
            let Ok(v) = record::decode(&rec, false) else {
                continue;
            };
            let matches = v.topic == topic
                && (v.property(property::UNIQ_KEY) == Some(key)
                    || v.property(property::KEYS)
                        .is_some_and(|k| k.split(' ').any(|x| x == key)));
            if matches && v.store_timestamp >= begin && v.store_timestamp <= end {
                out.push(rec.clone());
                if out.len() >= max {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Walks index probes against the index inside the shard state.
struct IndexCell<'a>(&'a RefCell<State>);

impl IndexCell<'_> {
    async fn walk(
        &self,
        p: crate::index::IndexProbe,
        begin: i64,
        end: i64,
        max: usize,
        out: &mut Vec<u64>,
    ) -> Result<()> {
        let cell = self.0;
        walk_probe(
            &|f, n| cell.borrow().index.entry_read(f, n),
            p,
            begin,
            end,
            max,
            out,
        )
        .await
    }
}
