//! Retention and disk watermarks with small segments, an injected clock and an
//! injected disk-usage gauge.

mod common;

use std::rc::Rc;

use common::*;
use ringmq_engine::env::ShardEnv;
use ringmq_engine::fault_disk::FaultDisk;
use ringmq_engine::{GetStatus, QueueKey, QueueOffset, ShardStore, StoreConfig, StoreError};

/// A store on the fault-injecting disk at 12:00, 50 % disk use, files
/// written at t = 1000 s, 1 h retention, retention driven by the test.
struct Fixture {
    store: ShardStore,
    disk: FaultDisk,
    clock: Rc<TestClock>,
    usage: Rc<TestUsage>,
}

async fn fixture(root: &str) -> Fixture {
    let disk = FaultDisk::new();
    let clock = Rc::new(TestClock {
        ms: 1_000_000.into(),
        hour: 12.into(),
    });
    let usage = Rc::new(TestUsage(50.into()));
    disk.set_now_secs(1000);
    let env = ShardEnv {
        disk: Rc::new(disk.clone()),
        clock: clock.clone(),
        usage: usage.clone(),
    };
    let mut cfg = StoreConfig::small_for_tests(root, 1);
    cfg.file_reserved_hours = 1;
    cfg.retention_interval = std::time::Duration::from_secs(3600);
    let store = ShardStore::open(cfg, 0, env).await.unwrap();
    Fixture {
        store,
        disk,
        clock,
        usage,
    }
}

#[test]
fn expired_segments_go_at_delete_when_or_above_watermarks() {
    run(|| async {
        let Fixture { store, clock, .. } = fixture("/r").await;
        let key = QueueKey::new("R", 0);
        // ~5 segments of 1 MiB.
        for seq in 0..5000u64 {
            store.append(&[msg("R", 0, seq, 1000)]).await.unwrap();
        }
        store.checkpoint_now(false).await.unwrap();
        let segments_before = store.log_range();
        // Not the hour, disk not full, files young: nothing goes.
        assert_eq!(store.retention_once().await.unwrap().segments_deleted, 0);
        // Files are now 2 h old, but it is not 04:00 and the disk is at 50 %: nothing goes.
        clock.ms.set(1_000_000 + 2 * 3600 * 1000);
        assert_eq!(store.retention_once().await.unwrap().segments_deleted, 0);
        // At the deleteWhen hour the expired segments go (never the active one).
        clock.hour.set(4);
        let r = store.retention_once().await.unwrap();
        assert!(r.segments_deleted >= 3, "{r:?}");
        assert!(store.log_range().0 > segments_before.0);
        // The queue's min offset moved; reads below it answer "offset too small".
        let min = store.min_offset(&key);
        assert!(min > QueueOffset(0));
        let g = store
            .get_messages(&key, QueueOffset(0), 10, 1 << 20, &|_| true)
            .await
            .unwrap();
        assert_eq!(g.status, GetStatus::OffsetTooSmall);
        assert_eq!(g.next_begin_offset, min);
        let g = store
            .get_messages(&key, min, 10, 1 << 20, &|_| true)
            .await
            .unwrap();
        assert_eq!(g.status, GetStatus::Found);
    });
}

#[test]
fn watermarks_clean_early_force_clean_and_refuse_writes() {
    run(|| async {
        let Fixture {
            store,
            disk,
            clock,
            usage,
        } = fixture("/w").await;
        for seq in 0..5000u64 {
            store.append(&[msg("W", 1, seq, 1000)]).await.unwrap();
        }
        store.checkpoint_now(false).await.unwrap();
        // 80 %: above diskMaxUsedSpaceRatio, but files are young: kept.
        usage.0.set(80);
        assert_eq!(store.retention_once().await.unwrap().segments_deleted, 0);
        // 80 % and expired: deleted at any hour.
        clock.ms.set(1_000_000 + 2 * 3600 * 1000);
        disk.set_now_secs(1000 + 10);
        let r = store.retention_once().await.unwrap();
        assert!(r.segments_deleted >= 1);
        // New young data; 86 %: force clean deletes unexpired segments too.
        disk.set_now_secs(clock.ms.get() / 1000);
        for seq in 0..3000u64 {
            store.append(&[msg("W", 1, seq, 1000)]).await.unwrap();
        }
        store.checkpoint_now(false).await.unwrap();
        usage.0.set(86);
        let r = store.retention_once().await.unwrap();
        assert!(r.segments_deleted >= 1, "{r:?}");
        assert!(!r.disk_full);
        // 91 %: writes are refused with a distinct error until usage drops.
        usage.0.set(91);
        assert!(store.retention_once().await.unwrap().disk_full);
        let e = store.append(&[msg("W", 1, 1, 10)]).await.unwrap_err();
        assert!(matches!(e, StoreError::DiskFull { .. }), "{e}");
        usage.0.set(60);
        store.retention_once().await.unwrap();
        store.append(&[msg("W", 1, 2, 10)]).await.unwrap();
    });
}

#[test]
fn store_root_is_locked_and_remembers_its_shard_count() {
    let dir = tempfile::tempdir().unwrap();
    let root = ringmq_engine::shard::StoreRoot::open(dir.path(), 2).unwrap();
    let e = ringmq_engine::shard::StoreRoot::open(dir.path(), 2)
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    drop(root);
    let e = ringmq_engine::shard::StoreRoot::open(dir.path(), 3)
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            StoreError::ShardCountMismatch {
                recorded: 2,
                requested: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(ringmq_engine::shard::StoreRoot::open(dir.path(), 2).is_ok());
}
