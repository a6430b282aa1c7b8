//! Writing zeros over a new commitlog segment before it is used.
//!
//! A segment is created preallocated (`fallocate`): its blocks are reserved
//! but marked unwritten. The first write to each block must then change the
//! file's extent tree, and the fdatasync after it must write that metadata
//! as well as the data: one more device write per group commit, on the path
//! of every SYNC_FLUSH acknowledgement. Blocks that were written once (with
//! zeros) are plain overwrites: the fdatasync has only data to flush.
//!
//! Measured on this project's VM (virtio disk, ext4, `engine-bench --shards
//! 2 --modes sync --zero-fill on|off`, back to back): SYNC_FLUSH with 64
//! appenders per shard went from 281–294 K to 372–406 K msgs/s, and from
//! 0.72–0.84 to 0.97–1.06 of the same-run baseline (a plain file grown by
//! its writes). PostgreSQL fills its WAL segments with zeros for the same
//! reason.
//!
//! The cost is writing each segment twice. So the fill runs where nothing
//! waits for it: a new log's first segment while the store opens, and
//! otherwise the segment created ahead of need, in the background, one
//! write at a time while the log has no I/O in flight, until the log needs
//! the segment (the rest of it is then written the slow way). A store
//! reopened on an existing log also fills its active segment past the log's
//! end, the same way, until the log catches up with the fill (see
//! `ShardStore::start_active_segment_fill`). Under
//! ASYNC_FLUSH fdatasyncs are rare and the fill would only take disk
//! bandwidth, so it is off there by default
//! ([`crate::StoreConfig::zero_fills_log_segments`]).

use std::io;
use std::ops::Range;
use std::rc::Rc;

use crate::disk::SegmentFile;
use crate::limits::IO_ALIGN;

/// Bytes per zero-fill write: small enough that a group commit arriving
/// while one is in flight waits little behind it.
pub const FILL_WRITE_BYTES: usize = 256 << 10;

/// How a fill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    /// Bytes written with zeros, from where the fill started.
    pub bytes: u64,
    /// Whether `stop` ended the fill before the end of the file.
    pub cut_short: bool,
}

/// Writes zeros over `ranges` of `file` (ascending), one write at a time,
/// awaiting `go_on(pos)` before the write at `pos` (which may wait for the
/// disk to be free, and says whether to go on at all); then fdatasyncs what
/// it wrote, unless it was stopped (the segment is wanted now, and the
/// log's own first fdatasync of the file covers the fill's metadata too).
/// Every byte of `ranges` is overwritten: nothing there may matter.
pub async fn zero_fill<F: std::future::Future<Output = bool>>(
    file: &Rc<dyn SegmentFile>,
    ranges: &[Range<u64>],
    mut go_on: impl FnMut(u64) -> F,
) -> io::Result<Filled> {
    let len = file.len();
    let aligned = |v: u64| v.is_multiple_of(IO_ALIGN as u64);
    assert!(
        ranges
            .iter()
            .all(|r| aligned(r.start) && aligned(r.end) && r.end <= len)
            && ranges.windows(2).all(|w| w[0].end <= w[1].start),
        "fill of {ranges:?} in a segment of {len} bytes: not ascending, aligned blocks"
    );
    // One zeroed buffer shared by every write: writes only read it.
    let mut zeros = glommio::allocate_dma_buffer_global(FILL_WRITE_BYTES);
    zeros.as_bytes_mut().fill(0);
    let zeros = Rc::new(zeros);
    let mut bytes = 0u64;
    let mut cut_short = false;
    'fill: for r in ranges {
        let mut pos = r.start;
        while pos < r.end {
            if !go_on(pos).await {
                cut_short = true;
                break 'fill;
            }
            let n = (r.end - pos).min(FILL_WRITE_BYTES as u64) as usize;
            file.write_buf(pos, zeros.clone(), 0..n).await?;
            pos += n as u64;
            bytes += n as u64;
        }
    }
    if bytes > 0 && !cut_short {
        file.sync().await?;
    }
    Ok(Filled { bytes, cut_short })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use super::*;
    use crate::disk::Disk;
    use crate::env::{DiskUsage, ShardEnv, SystemClock};
    use crate::fault_disk::FaultDisk;
    use crate::offset::LogOffset;
    use crate::record::decode;
    use crate::segmented::segment_name;
    use crate::segmented::tests::run;
    use crate::{FlushMode, MessageInput, ShardStore, StoreConfig};

    const LEN: u64 = 6 << 20;

    #[test]
    fn fills_the_whole_segment_with_durable_zeros() {
        run(|| async {
            let (disk, path) = (FaultDisk::new(), Path::new("/z/seg"));
            let f = disk.open(path, Some(LEN)).await.expect("create");
            // Whatever was there is overwritten (the fault disk starts a
            // file with zeros; make them not zeros to see the fill).
            disk.poke(path, 0, &[7u8; 4096]);
            disk.poke(path, (LEN - 4096) as usize, &[7u8; 4096]);
            let syncs = disk.syncs();
            let filled = zero_fill(&f, std::slice::from_ref(&(0..LEN)), |_| async { true })
                .await
                .expect("fill");
            assert_eq!(
                filled,
                Filled {
                    bytes: LEN,
                    cut_short: false
                }
            );
            let bytes = disk.contents(path).expect("file");
            assert_eq!(bytes.len() as u64, LEN);
            assert!(bytes.iter().all(|&b| b == 0), "every byte written as zero");
            assert_eq!(disk.syncs(), syncs + 1, "the fill is made durable");
        });
    }

    #[test]
    fn stops_when_asked_between_writes() {
        run(|| async {
            let (disk, path) = (FaultDisk::new(), Path::new("/z/seg"));
            let f = disk.open(path, Some(LEN)).await.expect("create");
            disk.poke(path, (LEN - 4096) as usize, &[7u8; 4096]);
            let syncs = disk.syncs();
            let asked = Cell::new(0);
            let filled = zero_fill(&f, std::slice::from_ref(&(0..LEN)), |_| {
                asked.set(asked.get() + 1);
                let go_on = asked.get() == 1;
                async move { go_on }
            })
            .await
            .expect("fill");
            assert_eq!(
                filled,
                Filled {
                    bytes: FILL_WRITE_BYTES as u64,
                    cut_short: true
                }
            );
            let bytes = disk.contents(path).expect("file");
            assert_eq!(bytes[(LEN - 1) as usize], 7, "the end was not written");
            assert_eq!(
                disk.syncs(),
                syncs,
                "a segment wanted now is not synced first"
            );
        });
    }

    fn store_env(disk: &FaultDisk) -> ShardEnv {
        struct Room;
        impl DiskUsage for Room {
            fn used_percent(&self, _: &Path) -> io::Result<u32> {
                Ok(10)
            }
        }
        ShardEnv {
            disk: Rc::new(disk.clone()),
            clock: Rc::new(SystemClock::new()),
            usage: Rc::new(Room),
        }
    }

    /// Appends 4000-byte messages until the log has grown by `bytes`.
    async fn append_bytes(store: &ShardStore, bytes: u64) {
        let mut appended = 0;
        while appended < bytes {
            let m = MessageInput::simple("Z", 0, &[1u8; 4000], "");
            let r = store.append(&[m]).await.expect("append");
            appended += r.records[0].size as u64;
        }
    }

    #[test]
    fn sync_flush_fills_the_segment_created_ahead_of_need_and_async_does_not() {
        run(|| async {
            for mode in [FlushMode::Sync, FlushMode::Async] {
                let disk = FaultDisk::new();
                let mut cfg = StoreConfig::small_for_tests("/w", 1);
                cfg.flush_mode = mode;
                let seg = cfg.commitlog_segment_bytes;
                let store = ShardStore::open(cfg, 0, store_env(&disk))
                    .await
                    .expect("open");
                let first = Path::new("/w/shard-0/commitlog").join(segment_name(0));
                match mode {
                    // A new log's first segment is filled while it opens.
                    FlushMode::Sync => {
                        assert_eq!(store.stats().zero_filled_bytes, seg);
                        assert!(disk.contents(&first).is_some());
                    }
                    FlushMode::Async => assert!(disk.contents(&first).is_none()),
                }
                // Into the second segment: the third is created ahead.
                append_bytes(&store, seg + seg / 2).await;
                let next = Path::new("/w/shard-0/commitlog").join(segment_name(2 * seg));
                // Sync: that third segment gets filled whole (the log does
                // not need it yet; the second may have been needed before
                // its fill was done). Async: it gets created, and stays
                // unfilled.
                let done = || match mode {
                    FlushMode::Sync => store.stats().zero_filled_bytes >= 2 * seg,
                    FlushMode::Async => disk.contents(&next).is_some(),
                };
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while !done() {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{mode:?}: {:?}",
                        store.stats()
                    );
                    glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                }
                if mode == FlushMode::Async {
                    glommio::timer::sleep(std::time::Duration::from_millis(20)).await;
                    assert_eq!(store.stats().zero_filled_bytes, 0, "{:?}", store.stats());
                }
                store.shutdown().await.expect("shutdown");
            }
        });
    }

    /// A SYNC_FLUSH store on `disk` with 4 MiB segments (room for a fill
    /// past the log's end in the first one), zero-filling them or not.
    async fn open_sync_filling(disk: &FaultDisk, fill: bool) -> ShardStore {
        let mut cfg = StoreConfig::small_for_tests("/w", 1);
        cfg.flush_mode = FlushMode::Sync;
        cfg.commitlog_segment_bytes = 4 << 20;
        cfg.zero_fill_log_segments = Some(fill);
        ShardStore::open(cfg, 0, store_env(disk))
            .await
            .expect("open")
    }

    async fn open_sync(disk: &FaultDisk) -> ShardStore {
        open_sync_filling(disk, true).await
    }

    /// Appends `n` distinct 4000-byte messages; returns their positions and bodies.
    async fn append_distinct(store: &ShardStore, n: usize, seed: u8) -> Vec<(LogOffset, Vec<u8>)> {
        let mut out = Vec::new();
        for i in 0..n {
            let body = vec![seed.wrapping_add(i as u8) | 1; 4000];
            let m = MessageInput::simple("Z", 0, &body, "");
            let r = store.append(&[m]).await.expect("append");
            out.push((r.records[0].log_offset, body));
        }
        out
    }

    /// Reopens the store (so that reads come from the disk) and checks every record.
    async fn assert_records_on_disk(
        disk: &FaultDisk,
        store: ShardStore,
        records: &[(LogOffset, Vec<u8>)],
    ) {
        store.shutdown().await.expect("shutdown");
        let store = open_sync(disk).await;
        for (pos, body) in records {
            let rec = store.read_record(*pos).await.expect("read");
            let v = decode(&rec, true).unwrap_or_else(|e| panic!("record at {pos:?}: {e:?}"));
            assert_eq!(v.body, &body[..], "record at {pos:?}");
        }
        store.shutdown().await.expect("shutdown");
    }

    async fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting: {what}"
            );
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    #[test]
    fn a_reopened_store_fills_its_active_segment_past_the_log_end() {
        run(|| async {
            let disk = FaultDisk::new();
            // Its first segment is not filled: it was created without.
            let store = open_sync_filling(&disk, false).await;
            let mut records = append_distinct(&store, 30, 1).await;
            store.shutdown().await.expect("shutdown");
            let seg = Path::new("/w/shard-0/commitlog").join(segment_name(0));
            let (end, len) = (records.last().unwrap().0 .0 + 4200, 4u64 << 20);
            // Stale bytes past the log's end, where the fill must write zeros.
            disk.poke(&seg, (len - 4096) as usize, &[7u8; 4096]);

            let store = open_sync(&disk).await;
            let from = (end + FILL_WRITE_BYTES as u64).div_ceil(FILL_WRITE_BYTES as u64)
                * FILL_WRITE_BYTES as u64;
            wait_until("the active segment's fill", || {
                store.stats().zero_filled_bytes >= len - from
            })
            .await;
            let st = store.stats();
            assert_eq!(st.zero_fills_cut_short, 0, "{st:?}");
            let bytes = disk.contents(&seg).expect("segment");
            assert!(
                bytes[from as usize..].iter().all(|&b| b == 0),
                "filled with zeros"
            );
            // The log goes on over the filled blocks.
            records.extend(append_distinct(&store, 300, 2).await);
            assert!(store.log_range().1 .0 > from + FILL_WRITE_BYTES as u64);
            assert_records_on_disk(&disk, store, &records).await;
        });
    }

    #[test]
    fn a_reopened_store_does_not_fill_its_active_segment_again() {
        run(|| async {
            let disk = FaultDisk::new();
            // The new log's first segment is filled whole while it opens.
            let store = open_sync(&disk).await;
            let mut records = append_distinct(&store, 30, 1).await;
            store.shutdown().await.expect("shutdown");
            let seg = Path::new("/w/shard-0/commitlog").join(segment_name(0));
            // Marks the end of the segment (written blocks stay written):
            // a fill would overwrite them.
            let len = 4usize << 20;
            disk.poke(&seg, len - 4096, &[7u8; 4096]);

            let store = open_sync(&disk).await;
            records.extend(append_distinct(&store, 100, 2).await);
            assert!(
                store.stats().zero_filled_bytes.is_multiple_of(4 << 20),
                "{:?}",
                store.stats()
            );
            store.shutdown().await.expect("shutdown");
            let bytes = disk.contents(&seg).expect("segment");
            assert!(
                bytes[len - 4096..].iter().all(|&b| b == 7),
                "not filled again"
            );
            let store = open_sync(&disk).await;
            assert_records_on_disk(&disk, store, &records).await;
        });
    }

    #[test]
    fn a_log_write_waits_for_the_active_fill_write_in_flight() {
        run(|| async {
            let disk = FaultDisk::new();
            let store = open_sync_filling(&disk, false).await;
            let mut records = append_distinct(&store, 30, 1).await;
            store.shutdown().await.expect("shutdown");
            let dir = Path::new("/w/shard-0/commitlog");
            let seg = dir.join(segment_name(0));

            // Every commitlog write is held; a pump completes them, as a
            // device would, except the fill's first one, which it keeps in
            // flight. While it is, no log write may overlap its blocks.
            let is_fill = |p: &Path, seg: &Path, pos: u64, len: usize| {
                p == seg && len == FILL_WRITE_BYTES && pos.is_multiple_of(FILL_WRITE_BYTES as u64)
            };
            let kept: Rc<Cell<Option<u64>>> = Rc::default();
            let fill_released = Rc::new(Cell::new(false));
            let stop = Rc::new(Cell::new(false));
            disk.set_hold_writes_under(Some(dir.to_path_buf()));
            let pump = {
                let (disk, kept, stop, seg) =
                    (disk.clone(), kept.clone(), stop.clone(), seg.clone());
                let fill_released = fill_released.clone();
                glommio::spawn_local(async move {
                    while !stop.get() {
                        let held = disk.held_writes();
                        for (i, (p, pos, len)) in held.iter().enumerate().rev() {
                            if kept.get().is_none() && is_fill(p, &seg, *pos, *len) {
                                kept.set(Some(*pos));
                            }
                            if let Some(k) = kept.get().filter(|_| !fill_released.get()) {
                                let fill = k..k + FILL_WRITE_BYTES as u64;
                                let this = *pos..*pos + *len as u64;
                                if is_fill(p, &seg, *pos, *len) && *pos == k {
                                    continue;
                                }
                                assert!(
                                    *p != seg || this.end <= fill.start || this.start >= fill.end,
                                    "log write {this:?} overlaps the fill's write in flight {fill:?}"
                                );
                            }
                            disk.release_write(i);
                        }
                        glommio::timer::sleep(std::time::Duration::from_micros(100)).await;
                    }
                })
            };
            let store = Rc::new(open_sync(&disk).await);
            wait_until("the fill's first write", || kept.get().is_some()).await;
            let from = kept.get().expect("fill write");

            // Appends that cross the fill's block: their group commit
            // must wait for the fill's write instead of racing it.
            let appender = {
                let store = store.clone();
                glommio::spawn_local(async move { append_distinct(&store, 120, 2).await })
            };
            wait_until("the log to reach the fill", || {
                store.log_range().1 .0 > from
            })
            .await;
            glommio::timer::sleep(std::time::Duration::from_millis(20)).await;
            assert!(
                store.durable_offset().0 <= from,
                "nothing past the fill's write in flight is acknowledged"
            );

            // The fill's write completes: the fill stops, the log goes on.
            let i = disk
                .held_writes()
                .iter()
                .position(|(p, pos, _)| *p == seg && *pos == from)
                .expect("the fill's write is still held");
            fill_released.set(true);
            disk.release_write(i);
            records.extend(appender.await);
            stop.set(true);
            pump.await;
            disk.set_hold_writes_under(None);
            for i in (0..disk.held_writes().len()).rev() {
                disk.release_write(i);
            }
            assert_eq!(store.stats().zero_fills_cut_short, 1, "{:?}", store.stats());
            assert!(
                store.durable_offset().0 > from,
                "the log went on past the fill"
            );
            let store = Rc::try_unwrap(store).ok().expect("one owner");
            assert_records_on_disk(&disk, store, &records).await;
        });
    }

    #[test]
    fn a_failed_write_is_an_error() {
        run(|| async {
            let disk = FaultDisk::new();
            let f = disk
                .open(Path::new("/z/seg"), Some(LEN))
                .await
                .expect("create");
            disk.set_fail_writes(true);
            assert!(
                zero_fill(&f, std::slice::from_ref(&(0..LEN)), |_| async { true })
                    .await
                    .is_err()
            );
        });
    }
}
