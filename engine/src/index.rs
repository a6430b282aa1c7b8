//! The key index of a shard: message keys (`KEYS`, space separated) and
//! `UNIQ_KEY` → commitlog offsets, queryable by key within a time range.
//!
//! Like Apache's index file (storage-format §5): a hash-slot table whose
//! slots hold the newest entry number for their hash, and 20-byte entries
//! `(keyHash i32, log offset i64, timeDiff i32 seconds, prev entry u32)`
//! chained backwards. Files live in `index/<20-digit id>/`: `entries/` (a
//! one-segment area written like every other log) and, once the file is full
//! and sealed, `slots` (a 4 KiB header, then the table). The slot table of the
//! active file lives in memory and is rebuilt from its entries at start, so
//! a crash can never leave slots that point at entries that were lost.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::disk::{Disk, SegmentFile};
use crate::error::{Result, StoreError};
use crate::limits::{IO_ALIGN, MAX_INDEX_CHAIN};
use crate::segmented::{Geometry, SegmentedLog};

pub const ENTRY_BYTES: usize = 20;
const HEADER_BYTES: usize = IO_ALIGN;
const ENTRIES_PER_CHUNK: usize = 1024;

/// Sizes of index files.
#[derive(Clone, Debug)]
pub struct IndexGeometry {
    /// Hash slots per file.
    pub slots: u32,
    /// Entries per file (a multiple of 1024).
    pub entries: u32,
}

/// Header of one index file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexHeader {
    pub begin_timestamp: i64,
    pub end_timestamp: i64,
    pub begin_log_offset: u64,
    pub end_log_offset: u64,
    /// Entries used (entry numbers are 1..=count).
    pub count: u32,
}

impl IndexHeader {
    fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_BYTES];
        b[0..8].copy_from_slice(&self.begin_timestamp.to_be_bytes());
        b[8..16].copy_from_slice(&self.end_timestamp.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_log_offset.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_log_offset.to_be_bytes());
        b[32..36].copy_from_slice(&self.count.to_be_bytes());
        let crc = crc32fast::hash(&b[0..36]);
        b[36..40].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<IndexHeader> {
        if b.len() < 40 || crc32fast::hash(&b[0..36]).to_be_bytes() != b[36..40] {
            return None;
        }
        Some(IndexHeader {
            begin_timestamp: i64::from_be_bytes(b[0..8].try_into().ok()?),
            end_timestamp: i64::from_be_bytes(b[8..16].try_into().ok()?),
            begin_log_offset: u64::from_be_bytes(b[16..24].try_into().ok()?),
            end_log_offset: u64::from_be_bytes(b[24..32].try_into().ok()?),
            count: u32::from_be_bytes(b[32..36].try_into().ok()?),
        })
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    key_hash: i32,
    log_offset: u64,
    time_diff: i32,
    prev: u32,
}

impl Entry {
    fn encode(&self) -> [u8; ENTRY_BYTES] {
        let mut b = [0u8; ENTRY_BYTES];
        b[0..4].copy_from_slice(&self.key_hash.to_be_bytes());
        b[4..12].copy_from_slice(&self.log_offset.to_be_bytes());
        b[12..16].copy_from_slice(&self.time_diff.to_be_bytes());
        b[16..20].copy_from_slice(&self.prev.to_be_bytes());
        b
    }
    fn decode(b: &[u8]) -> Entry {
        Entry {
            key_hash: i32::from_be_bytes(b[0..4].try_into().expect("4")),
            log_offset: u64::from_be_bytes(b[4..12].try_into().expect("8")),
            time_diff: i32::from_be_bytes(b[12..16].try_into().expect("4")),
            prev: u32::from_be_bytes(b[16..20].try_into().expect("4")),
        }
    }
}

/// `abs(javaHash("topic#key"))`, 0 for `i32::MIN` (storage-format §5.2).
pub fn key_hash(topic: &str, key: &str) -> i32 {
    // Java's hash of the concatenation, computed without building the string.
    let step = |h: i32, u: u16| h.wrapping_mul(31).wrapping_add(u as i32);
    let h = if topic.is_ascii() && key.is_ascii() {
        // Every UTF-16 unit is the byte itself (the usual case, and a hot
        // one: every message with a UNIQ_KEY is hashed on append).
        let h = java_hash_bytes(0, topic.as_bytes());
        java_hash_bytes(step(h, b'#' as u16), key.as_bytes())
    } else {
        topic
            .encode_utf16()
            .chain("#".encode_utf16())
            .chain(key.encode_utf16())
            .fold(0, step)
    };
    if h == i32::MIN {
        0
    } else {
        h.abs()
    }
}

/// Java's `h = 31 * h + c` over `bytes` (each one UTF-16 unit), starting
/// from `h`, four units per step: `h·31⁴ + c₀·31³ + c₁·31² + c₂·31 + c₃`
/// is the same value in wrapping (mod 2³²) arithmetic, with one dependent
/// multiply per four units instead of one per unit.
fn java_hash_bytes(mut h: i32, bytes: &[u8]) -> i32 {
    const P2: i32 = 31 * 31;
    const P3: i32 = P2 * 31;
    const P4: i32 = P3 * 31;
    let mut quads = bytes.chunks_exact(4);
    for q in &mut quads {
        let tail = (q[0] as i32 * P3)
            .wrapping_add(q[1] as i32 * P2)
            .wrapping_add(q[2] as i32 * 31)
            .wrapping_add(q[3] as i32);
        h = h.wrapping_mul(P4).wrapping_add(tail);
    }
    quads
        .remainder()
        .iter()
        .fold(h, |h, &b| h.wrapping_mul(31).wrapping_add(b as i32))
}

struct SealedFile {
    id: u64,
    header: IndexHeader,
    slots: Rc<dyn SegmentFile>,
    entries: SegmentedLog,
}

struct ActiveFile {
    id: u64,
    header: IndexHeader,
    slots: Vec<u32>,
    entries: SegmentedLog,
}

/// Inputs to open the next index file.
pub struct NextFilePlan {
    disk: Rc<dyn Disk>,
    dir: PathBuf,
    geo: IndexGeometry,
    cache_chunks: usize,
    old_id: u64,
    new_id: u64,
    header: IndexHeader,
}

/// The next index file, opened; install it with [`KeyIndex::install_next`].
pub struct NextFile {
    active: ActiveFile,
    old_slots: Rc<dyn SegmentFile>,
}

/// Opens the next index file and the slot-table file of the full one.
pub async fn open_next(p: NextFilePlan) -> Result<NextFile> {
    let active =
        KeyIndex::open_active(&p.disk, &p.dir, &p.geo, p.cache_chunks, p.new_id, p.header).await?;
    let slots_path = file_dir(&p.dir, p.old_id).join("slots");
    let old_slots = p
        .disk
        .open(&slots_path, Some(slots_file_len(&p.geo)))
        .await
        .map_err(|e| StoreError::io("create index slots", &slots_path, e))?;
    Ok(NextFile { active, old_slots })
}

/// The shard's key index.
pub struct KeyIndex {
    dir: PathBuf,
    disk: Rc<dyn Disk>,
    geo: IndexGeometry,
    cache_chunks: usize,
    sealed: Vec<SealedFile>,
    active: ActiveFile,
    /// A sealed file whose slot table still has to be written.
    pending_seal: Option<(u64, IndexHeader, Vec<u32>)>,
}

fn file_dir(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}"))
}

fn entries_geometry(geo: &IndexGeometry, cache_chunks: usize) -> Geometry {
    Geometry {
        segment_bytes: geo.entries as u64 * ENTRY_BYTES as u64,
        chunk_bytes: ENTRIES_PER_CHUNK * ENTRY_BYTES,
        max_chunks: cache_chunks,
    }
}

fn slots_file_len(geo: &IndexGeometry) -> u64 {
    (HEADER_BYTES as u64 + geo.slots as u64 * 4).div_ceil(IO_ALIGN as u64) * IO_ALIGN as u64
}

impl KeyIndex {
    /// Opens the index. `active` is the checkpointed state of the active file
    /// (id and header); files with a larger id were created after the
    /// checkpoint and are deleted: re-dispatch from the checkpoint rebuilds them.
    pub async fn open(
        disk: Rc<dyn Disk>,
        dir: &Path,
        geo: IndexGeometry,
        cache_chunks: usize,
        active: (u64, IndexHeader),
    ) -> Result<Self> {
        if geo.entries == 0
            || !(geo.entries as usize).is_multiple_of(ENTRIES_PER_CHUNK)
            || geo.slots == 0
        {
            return Err(StoreError::Config(format!(
                "index entries per file must be a positive multiple of {ENTRIES_PER_CHUNK}, slots positive"
            )));
        }
        disk.create_dir_all(dir)
            .map_err(|e| StoreError::io("create dir", dir, e))?;
        let (active_id, active_header) = active;
        let mut sealed = Vec::new();
        for name in disk
            .list_dirs(dir)
            .map_err(|e| StoreError::io("list", dir, e))?
        {
            let Ok(id) = name.parse::<u64>() else {
                continue;
            };
            let fdir = file_dir(dir, id);
            if id > active_id {
                {
                    let sub = fdir.join("slots");
                    let _ = disk.remove_file(&sub);
                }
                let entries_dir = fdir.join("entries");
                for (n, _) in disk.list(&entries_dir).unwrap_or_default() {
                    let _ = disk.remove_file(&entries_dir.join(n));
                }
                continue;
            }
            if id == active_id {
                continue;
            }
            let slots_path = fdir.join("slots");
            let Ok(slots) = disk.open(&slots_path, None).await else {
                tracing::warn!(path = %slots_path.display(), "index file without slot table, skipped");
                continue;
            };
            let hb = slots
                .read_at(0, HEADER_BYTES)
                .await
                .map_err(|e| StoreError::io("read index header", &slots_path, e))?;
            let Some(header) = IndexHeader::decode(&hb) else {
                tracing::warn!(path = %slots_path.display(), "index header invalid, skipped");
                continue;
            };
            let mut entries = SegmentedLog::open(
                disk.clone(),
                &fdir.join("entries"),
                entries_geometry(&geo, 2),
                0,
            )
            .await?;
            // A sealed file holds exactly `count` entries (its header says so).
            entries
                .reset_tail(header.count.min(geo.entries) as u64 * ENTRY_BYTES as u64)
                .await?;
            sealed.push(SealedFile {
                id,
                header,
                slots,
                entries,
            });
        }
        sealed.sort_by_key(|s| s.id);
        let active =
            Self::open_active(&disk, dir, &geo, cache_chunks, active_id, active_header).await?;
        Ok(KeyIndex {
            dir: dir.to_path_buf(),
            disk,
            geo,
            cache_chunks,
            sealed,
            active,
            pending_seal: None,
        })
    }

    async fn open_active(
        disk: &Rc<dyn Disk>,
        dir: &Path,
        geo: &IndexGeometry,
        cache_chunks: usize,
        id: u64,
        header: IndexHeader,
    ) -> Result<ActiveFile> {
        let mut entries = SegmentedLog::open(
            disk.clone(),
            &file_dir(dir, id).join("entries"),
            entries_geometry(geo, cache_chunks),
            0,
        )
        .await?;
        let count = header.count.min(geo.entries);
        // Rebuild the slot table from the entries the checkpoint vouches for.
        let mut slots = vec![0u32; geo.slots as usize];
        let used = count as u64 * ENTRY_BYTES as u64;
        if used > 0 {
            let f = entries.segment_file(0).ok_or_else(|| StoreError::Corrupt {
                path: file_dir(dir, id),
                what: format!("checkpoint lists {count} index entries but the file is missing"),
            })?;
            let mut pos = 0u64;
            while pos < used {
                let n = (used - pos).min(4 << 20) as usize;
                let data = f
                    .read_at(pos, n)
                    .await
                    .map_err(|e| StoreError::io("read index entries", f.path(), e))?;
                for (i, b) in data.chunks_exact(ENTRY_BYTES).enumerate() {
                    let e = Entry::decode(b);
                    let num = (pos / ENTRY_BYTES as u64) as u32 + i as u32 + 1;
                    slots[(e.key_hash as u32 % geo.slots) as usize] = num;
                }
                pos += n as u64;
            }
        }
        // Entry number n lives at byte (n-1)*20.
        entries.reset_tail(used).await?;
        Ok(ActiveFile {
            id,
            header: IndexHeader { count, ..header },
            slots,
            entries,
        })
    }

    /// The active file's id and header (for the checkpoint).
    pub fn checkpoint_state(&self) -> (u64, IndexHeader) {
        (self.active.id, self.active.header)
    }

    pub fn active_entries(&mut self) -> &mut SegmentedLog {
        &mut self.active.entries
    }

    pub fn entries_room(&self, n: usize) -> bool {
        self.active.entries.has_room(n * ENTRY_BYTES)
    }

    /// Indexes one key of the record at `log_offset` stored at `store_ts`.
    /// Returns false when the active file is full (the caller seals and retries).
    pub fn put(&mut self, topic: &str, key: &str, log_offset: u64, store_ts: i64) -> bool {
        self.put_hashed(key_hash(topic, key), log_offset, store_ts)
    }

    /// Starts loading the slot of key hash `kh` into the cache. The slot
    /// table is megabytes and a slot is read at random: an append issues
    /// this before it encodes its records, so the miss overlaps that work
    /// instead of stalling [`Self::put_hashed`].
    #[inline]
    pub fn prefetch(&self, kh: i32) {
        let slot = (kh as u32 % self.geo.slots) as usize;
        #[cfg(target_arch = "x86_64")]
        {
            let p = self.active.slots.as_ptr().wrapping_add(slot) as *const i8;
            // SAFETY: a prefetch is a hint; it never faults, whatever the address.
            unsafe { std::arch::x86_64::_mm_prefetch(p, std::arch::x86_64::_MM_HINT_T0) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// [`Self::put`] with the key hash already computed ([`key_hash`]).
    pub fn put_hashed(&mut self, kh: i32, log_offset: u64, store_ts: i64) -> bool {
        let h = &mut self.active.header;
        if h.count >= self.geo.entries {
            return false;
        }
        if h.count == 0 {
            h.begin_timestamp = store_ts;
            h.begin_log_offset = log_offset;
        }
        let slot = (kh as u32 % self.geo.slots) as usize;
        let time_diff = ((store_ts - h.begin_timestamp) / 1000).clamp(0, i32::MAX as i64) as i32;
        let e = Entry {
            key_hash: kh,
            log_offset,
            time_diff,
            prev: self.active.slots[slot],
        };
        self.active.entries.append(&e.encode());
        h.count += 1;
        self.active.slots[slot] = h.count;
        h.end_timestamp = h.end_timestamp.max(store_ts);
        h.end_log_offset = h.end_log_offset.max(log_offset);
        true
    }

    /// Whether `n` more entries overflow the active file.
    pub fn is_full_for(&self, n: usize) -> bool {
        self.active.header.count as usize + n > self.geo.entries as usize
    }

    /// What opening the next active file needs (awaited outside any borrow by [`open_next`]).
    pub fn next_file_plan(&self) -> NextFilePlan {
        NextFilePlan {
            disk: self.disk.clone(),
            dir: self.dir.clone(),
            geo: self.geo.clone(),
            cache_chunks: self.cache_chunks,
            old_id: self.active.id,
            new_id: self.active.id + 1,
            header: IndexHeader {
                begin_timestamp: self.active.header.end_timestamp,
                end_timestamp: self.active.header.end_timestamp,
                begin_log_offset: self.active.header.end_log_offset,
                end_log_offset: self.active.header.end_log_offset,
                count: 0,
            },
        }
    }

    /// Switches to the next file; the full one becomes sealed once its slot
    /// table is written (see [`Self::take_pending_seal`]).
    pub fn install_next(&mut self, next: NextFile) {
        assert_eq!(
            next.active.id,
            self.active.id + 1,
            "index files roll in order"
        );
        let old = std::mem::replace(&mut self.active, next.active);
        self.pending_seal = Some((old.id, old.header, old.slots));
        self.sealed.push(SealedFile {
            id: old.id,
            header: old.header,
            slots: next.old_slots,
            entries: old.entries,
        });
    }

    /// The sealed file's slot table, to write and sync (outside any borrow).
    pub fn take_pending_seal(&mut self) -> Option<(Rc<dyn SegmentFile>, Vec<u8>)> {
        let (id, header, slots) = self.pending_seal.take()?;
        let f = self.sealed.iter().find(|s| s.id == id)?.slots.clone();
        let mut buf = header.encode();
        buf.reserve(slots.len() * 4);
        for s in slots {
            buf.extend_from_slice(&s.to_be_bytes());
        }
        buf.resize(slots_file_len(&self.geo) as usize, 0);
        Some((f, buf))
    }

    /// The sealed files' entry areas that still hold unwritten entries.
    pub fn sealed_areas_mut(&mut self) -> impl Iterator<Item = &mut SegmentedLog> {
        self.sealed.iter_mut().map(|s| &mut s.entries)
    }

    /// Deletes sealed files whose every entry points below `log_min`.
    pub fn delete_below(&mut self, log_min: u64) -> Result<()> {
        let (gone, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.sealed).into_iter().partition(|s| {
                s.header.end_log_offset < log_min
                    && s.entries.written_pos() >= s.entries.write_pos()
            });
        self.sealed = keep;
        for s in gone {
            let fdir = file_dir(&self.dir, s.id);
            for seg in s.entries.segment_starts() {
                let p = s.entries.segment_path(seg);
                self.disk
                    .remove_file(&p)
                    .map_err(|e| StoreError::io("delete index", &p, e))?;
            }
            let p = fdir.join("slots");
            self.disk
                .remove_file(&p)
                .map_err(|e| StoreError::io("delete index", &p, e))?;
        }
        Ok(())
    }

    /// Candidate log offsets for `key` stored within `[begin, end]` ms, newest
    /// first, at most `max`. Hash collisions are possible: the caller checks
    /// the records.
    pub fn lookup_plan(&self, topic: &str, key: &str, begin: i64, end: i64) -> Vec<IndexProbe> {
        let kh = key_hash(topic, key);
        let slot = kh as u32 % self.geo.slots;
        let mut out = Vec::new();
        let overlaps =
            |h: &IndexHeader| h.count > 0 && h.begin_timestamp <= end && h.end_timestamp >= begin;
        if overlaps(&self.active.header) {
            out.push(IndexProbe {
                key_hash: kh,
                header: self.active.header,
                head: ProbeHead::Memory(self.active.slots[slot as usize]),
                file: FileRef(self.active.id),
            });
        }
        for s in self.sealed.iter().rev() {
            if overlaps(&s.header) {
                out.push(IndexProbe {
                    key_hash: kh,
                    header: s.header,
                    head: ProbeHead::Disk(s.slots.clone(), HEADER_BYTES as u64 + slot as u64 * 4),
                    file: FileRef(s.id),
                });
            }
        }
        out
    }

    /// Reads entry `num` of a probed file: from memory if cached, else a disk read future.
    pub fn entry_read(&self, file: FileRef, num: u32) -> Result<EntryRead> {
        // By file id, not position: the active file may roll and sealed
        // files may be deleted while a walk awaits a read.
        let area = if file.0 == self.active.id {
            &self.active.entries
        } else {
            match self.sealed.iter().find(|s| s.id == file.0) {
                Some(s) => &s.entries,
                None => return Ok(EntryRead::Missing),
            }
        };
        let pos = (num as u64 - 1) * ENTRY_BYTES as u64;
        if pos + ENTRY_BYTES as u64 > area.write_pos() {
            return Ok(EntryRead::Missing);
        }
        let mut b = Vec::with_capacity(ENTRY_BYTES);
        if area.read_cached(pos, ENTRY_BYTES, &mut b) {
            return Ok(EntryRead::Ready(b));
        }
        Ok(EntryRead::Pending(area.read_disk(pos, ENTRY_BYTES)?))
    }
}

/// Which index file a probe walks (its id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRef(pub u64);

pub enum ProbeHead {
    Memory(u32),
    Disk(Rc<dyn SegmentFile>, u64),
}

pub struct IndexProbe {
    pub key_hash: i32,
    pub header: IndexHeader,
    pub head: ProbeHead,
    pub file: FileRef,
}

pub enum EntryRead {
    Ready(Vec<u8>),
    Pending(crate::disk::IoFuture<Vec<u8>>),
    Missing,
}

/// Walks one probe's chain, collecting log offsets within `[begin, end]`.
pub async fn walk_probe(
    entry_read: &dyn Fn(FileRef, u32) -> Result<EntryRead>,
    probe: IndexProbe,
    begin: i64,
    end: i64,
    max: usize,
    out: &mut Vec<u64>,
) -> Result<()> {
    let mut num = match probe.head {
        ProbeHead::Memory(n) => n,
        ProbeHead::Disk(f, pos) => {
            let b = f
                .read_at(pos, 4)
                .await
                .map_err(|e| StoreError::io("read index slot", f.path(), e))?;
            if b.len() < 4 {
                return Ok(());
            }
            u32::from_be_bytes(b[0..4].try_into().expect("4"))
        }
    };
    let mut steps = 0;
    while num > 0 && num <= probe.header.count && out.len() < max && steps < MAX_INDEX_CHAIN {
        steps += 1;
        let read = entry_read(probe.file, num)?;
        let bytes = match read {
            EntryRead::Ready(b) => b,
            EntryRead::Pending(f) => f
                .await
                .map_err(|e| StoreError::io("read index entry", PathBuf::from("index"), e))?,
            EntryRead::Missing => break,
        };
        if bytes.len() < ENTRY_BYTES {
            break;
        }
        let e = Entry::decode(&bytes);
        let ts = probe.header.begin_timestamp + e.time_diff as i64 * 1000;
        if e.key_hash == probe.key_hash && ts >= begin - 999 && ts <= end {
            out.push(e.log_offset);
        }
        if ts < begin - 999 || e.prev >= num {
            break;
        }
        num = e.prev;
    }
    Ok(())
}

#[cfg(test)]
mod key_hash_tests {
    #[test]
    fn same_as_hash_of_the_joined_string() {
        for (topic, key) in [
            ("TopicTest", "key-1"),
            ("TopicTest", "ключ-€-1"),
            ("Тема", "k"),
            ("T", "😀 surrogate pair"),
            (
                "a-long-topic-name-with-many-characters",
                "0123456789ABCDEF0123456789ABCDEF",
            ),
        ] {
            let joined = format!("{topic}#{key}");
            let want = crate::record::java_string_hash(&joined);
            let want = if want == i32::MIN { 0 } else { want.abs() };
            assert_eq!(super::key_hash(topic, key), want, "{joined}");
        }
    }

    #[test]
    fn four_units_per_step_is_the_plain_hash_at_every_length() {
        let text: String = (0..200u32)
            .map(|i| (b'!' + (i * 7 % 90) as u8) as char)
            .collect();
        for len in 0..text.len() {
            let key = &text[..len];
            let joined = format!("TopicTest#{key}");
            let want = crate::record::java_string_hash(&joined);
            let want = if want == i32::MIN { 0 } else { want.abs() };
            assert_eq!(super::key_hash("TopicTest", key), want, "length {len}");
        }
    }
}
