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
//! the segment (the rest of it is then written the slow way). Under
//! ASYNC_FLUSH fdatasyncs are rare and the fill would only take disk
//! bandwidth, so it is off there by default
//! ([`crate::StoreConfig::zero_fills_log_segments`]).

use std::io;
use std::rc::Rc;

use crate::disk::SegmentFile;
use crate::limits::IO_ALIGN;

/// Bytes per zero-fill write: small enough that a group commit arriving
/// while one is in flight waits little behind it.
pub const FILL_WRITE_BYTES: usize = 256 << 10;

/// How a fill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    /// Bytes from the start of the file that hold written zeros.
    pub bytes: u64,
    /// Whether `stop` ended the fill before the end of the file.
    pub cut_short: bool,
}

/// Writes zeros over `file` from its start, one write at a time, awaiting
/// `go_on` before each (which may wait for the disk to be free, and says
/// whether to go on at all); then fdatasyncs what
/// it wrote, unless it was stopped (the segment is wanted now, and the
/// log's own first fdatasync of the file covers the fill's metadata too).
/// The file must be new: every byte of it is overwritten.
pub async fn zero_fill<F: std::future::Future<Output = bool>>(
    file: &Rc<dyn SegmentFile>,
    mut go_on: impl FnMut() -> F,
) -> io::Result<Filled> {
    let len = file.len();
    assert!(
        len.is_multiple_of(IO_ALIGN as u64),
        "segment length {len} is not a multiple of the I/O alignment"
    );
    // One zeroed buffer shared by every write: writes only read it.
    let mut zeros = glommio::allocate_dma_buffer_global(FILL_WRITE_BYTES);
    zeros.as_bytes_mut().fill(0);
    let zeros = Rc::new(zeros);
    let mut pos = 0u64;
    let mut cut_short = false;
    while pos < len {
        if !go_on().await {
            cut_short = true;
            break;
        }
        let n = (len - pos).min(FILL_WRITE_BYTES as u64) as usize;
        file.write_buf(pos, zeros.clone(), 0..n).await?;
        pos += n as u64;
    }
    if pos > 0 && !cut_short {
        file.sync().await?;
    }
    Ok(Filled {
        bytes: pos,
        cut_short,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use super::*;
    use crate::disk::Disk;
    use crate::env::{DiskUsage, ShardEnv, SystemClock};
    use crate::fault_disk::FaultDisk;
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
            let filled = zero_fill(&f, || async { true }).await.expect("fill");
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
            let filled = zero_fill(&f, || {
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
            clock: Rc::new(SystemClock),
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

    #[test]
    fn a_failed_write_is_an_error() {
        run(|| async {
            let disk = FaultDisk::new();
            let f = disk
                .open(Path::new("/z/seg"), Some(LEN))
                .await
                .expect("create");
            disk.set_fail_writes(true);
            assert!(zero_fill(&f, || async { true }).await.is_err());
        });
    }
}
