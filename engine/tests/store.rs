//! Shard store behaviour on real files (direct I/O) and on the fault-injecting disk.

mod common;

use std::rc::Rc;

use common::*;
use ringmq_engine::fault_disk::FaultDisk;
use ringmq_engine::record;
use ringmq_engine::{
    FlushMode, GetStatus, QueueKey, QueueOffset, ShardStore, StoreConfig, StoreError,
};

#[test]
fn append_read_restart_on_real_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    run(move || async move {
        let cfg = StoreConfig::small_for_tests(&root, 1);
        let store = ShardStore::open(cfg.clone(), 0, real_env()).await.unwrap();
        let mut acked = Vec::new();
        for seq in 0..4000u64 {
            let m = msg("TopicA", (seq % 4) as u32, seq, 700 + (seq % 50) as usize);
            let r = store.append(std::slice::from_ref(&m)).await.unwrap();
            acked.push((m, r.records[0]));
        }
        // Several 1 MiB segments were filled: records never straddle them.
        let (min, max) = store.log_range();
        assert!(max.0 - min.0 > 2 << 20);
        for (m, a) in acked.iter().step_by(97) {
            let rec = store.read_record(a.log_offset).await.unwrap();
            let v = record::decode(&rec, true).unwrap();
            assert_eq!(v.body, &m.body[..]);
            assert_eq!(v.queue_offset as u64, a.queue_offset.unwrap().0);
        }
        let key = QueueKey::new("TopicA", 1);
        assert_eq!(store.max_offset(&key), QueueOffset(1000));
        let r = store
            .get_messages(&key, QueueOffset(10), 32, 1 << 20, &|_| true)
            .await
            .unwrap();
        assert_eq!(r.status, GetStatus::Found);
        assert_eq!(r.messages.len(), 32);
        assert_eq!(r.next_begin_offset, QueueOffset(42));
        for (i, rec) in r.messages.iter().enumerate() {
            let v = record::decode(rec, true).unwrap();
            assert_eq!(v.queue_offset, 10 + i as i64);
            assert_eq!(v.queue_id, 1);
        }
        // Tag filter by tags code: only Tag0 (seq % 3 == 0).
        let tag0 = record::tags_code(Some("Tag0"));
        let r = store
            .get_messages(&key, QueueOffset(0), 10, 1 << 20, &|c| c == tag0)
            .await
            .unwrap();
        for rec in &r.messages {
            assert_eq!(
                record::decode(rec, true).unwrap().property("TAGS"),
                Some("Tag0")
            );
        }
        let r = store
            .get_messages(&key, QueueOffset(1000), 10, 1 << 20, &|_| true)
            .await
            .unwrap();
        assert_eq!(r.status, GetStatus::OffsetOverflowOne);
        let r = store
            .get_messages(&key, QueueOffset(1200), 10, 1 << 20, &|_| true)
            .await
            .unwrap();
        assert_eq!(r.status, GetStatus::OffsetOverflowBadly);
        // Apache 4.9.7: the next offset of an overflow is the max, even
        // while the min is 0.
        assert_eq!(r.next_begin_offset, QueueOffset(1000));
        let r = store
            .get_messages(
                &QueueKey::new("Nope", 0),
                QueueOffset(0),
                10,
                1 << 20,
                &|_| true,
            )
            .await
            .unwrap();
        assert_eq!(r.status, GetStatus::NoMatchedLogicQueue);
        // Query by key and by unique key.
        let found = store
            .query_by_key("TopicA", "key-1234", 0, i64::MAX, 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            record::decode(&found[0], true).unwrap().born_timestamp,
            1234
        );
        let found = store
            .query_by_key("TopicA", &format!("U{:016X}", 77), 0, i64::MAX, 10)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        let common = store
            .query_by_key("TopicA", "common", 0, i64::MAX, 64)
            .await
            .unwrap();
        assert_eq!(common.len(), 64);
        store.shutdown().await.unwrap();
        drop(store);

        // A clean restart finds everything where it was.
        let store = ShardStore::open(cfg, 0, real_env()).await.unwrap();
        // The shutdown closed the last round with a marker.
        assert_eq!(
            store.log_range().1,
            max.plus(ringmq_engine::commitlog::MARKER_BYTES as u64)
        );
        assert_eq!(store.max_offset(&key), QueueOffset(1000));
        for (m, a) in acked.iter().step_by(131) {
            let rec = store.read_record(a.log_offset).await.unwrap();
            assert_eq!(record::decode(&rec, true).unwrap().body, &m.body[..]);
        }
        let r = store
            .get_messages(&key, QueueOffset(950), 100, 1 << 20, &|_| true)
            .await
            .unwrap();
        assert_eq!(r.messages.len(), 50);
        assert_eq!(
            store
                .query_by_key("TopicA", "key-3999", 0, i64::MAX, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        // Appends continue after the restart with the next queue offset.
        let r = store.append(&[msg("TopicA", 1, 5000, 10)]).await.unwrap();
        assert_eq!(r.records[0].queue_offset, Some(QueueOffset(1000)));
        store.shutdown().await.unwrap();
    });
}

#[test]
fn offset_by_time_has_apache_semantics() {
    run(|| async {
        let disk = FaultDisk::new();
        let clock = Rc::new(TestClock {
            ms: 1000.into(),
            hour: 0.into(),
        });
        let mut env = env_with(Rc::new(disk));
        env.clock = clock.clone();
        let store = ShardStore::open(StoreConfig::small_for_tests("/s", 1), 0, env)
            .await
            .unwrap();
        let key = QueueKey::new("T", 0);
        assert_eq!(store.offset_by_time(&key, 5).await.unwrap(), QueueOffset(0));
        // Store times 1000, 2000, ..., 10000 at offsets 0..9.
        for i in 0..10 {
            clock.ms.set(1000 * (i + 1));
            store.append(&[msg("T", 0, i as u64, 10)]).await.unwrap();
        }
        let cases = [
            (3000, 2),   // exact
            (3400, 2),   // nearer to the lower
            (3600, 3),   // nearer to the upper
            (3500, 2),   // tie: the lower
            (1, 0),      // before everything: the first
            (99_999, 9), // after everything: the last message (not max)
        ];
        for (ts, want) in cases {
            assert_eq!(
                store.offset_by_time(&key, ts).await.unwrap(),
                QueueOffset(want),
                "ts {ts}"
            );
        }
        assert_eq!(store.earliest_store_time(&key).await.unwrap(), 1000);
    });
}

#[test]
fn failed_fdatasync_poisons_the_log() {
    run(|| async {
        let disk = FaultDisk::new();
        let mut cfg = StoreConfig::small_for_tests("/p", 1);
        cfg.flush_mode = FlushMode::Sync;
        let store = ShardStore::open(cfg, 0, env_with(Rc::new(disk.clone())))
            .await
            .unwrap();
        store.append(&[msg("T", 0, 1, 100)]).await.unwrap();
        disk.set_fail_syncs(true);
        let e = store.append(&[msg("T", 0, 2, 100)]).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Poisoned { .. } | StoreError::Io { .. }),
            "{e}"
        );
        disk.set_fail_syncs(false);
        // Never acknowledged again, even though the disk "recovered".
        let e = store.append(&[msg("T", 0, 3, 100)]).await.unwrap_err();
        assert!(matches!(e, StoreError::Poisoned { .. }), "{e}");
    });
}

/// A SYNC_FLUSH store at `/d` on a fault disk, with a clock the test moves
/// and no timer round (a flush interval of an hour): only the appends'
/// group commits run.
async fn open_sync_store_without_timer() -> (FaultDisk, Rc<TestClock>, ShardStore) {
    let disk = FaultDisk::new();
    let clock = Rc::new(TestClock {
        ms: std::cell::Cell::new(1_000_000),
        hour: std::cell::Cell::new(12),
    });
    let mut cfg = StoreConfig::small_for_tests("/d", 1);
    cfg.flush_mode = FlushMode::Sync;
    cfg.flush_interval = std::time::Duration::from_secs(3600);
    let env = ringmq_engine::ShardEnv {
        disk: Rc::new(disk.clone()),
        clock: clock.clone(),
        usage: Rc::new(FixedUsage(10)),
    };
    let store = ShardStore::open(cfg, 0, env).await.unwrap();
    (disk, clock, store)
}

/// A record made durable by its group commit is acknowledged even when the
/// same round then fails to write derived data and poisons the log: the
/// append looks at the durable mark before the poison.
#[test]
fn a_record_synced_before_the_log_is_poisoned_is_acknowledged() {
    run(|| async {
        let (disk, clock, store) = open_sync_store_without_timer().await;
        store.append(&[msg("T", 0, 1, 100)]).await.unwrap();
        // The next round is due to write the consume queues too, and their
        // writes fail: the round syncs the log, then fails.
        clock.ms.set(clock.ms.get() + 3_600_001);
        disk.set_fail_writes_under(Some("/d/shard-0/consumequeue".into()));
        store
            .append(&[msg("T", 0, 2, 100)])
            .await
            .expect("synced before the failure: acknowledged");
        let e = store.append(&[msg("T", 0, 3, 100)]).await.unwrap_err();
        assert!(matches!(e, StoreError::Poisoned { .. }), "{e}");
    });
}

/// Under SYNC_FLUSH the consume queues and the index are written by a task
/// of their own: a group commit neither waits for those writes nor holds
/// the next group's commit behind them.
#[test]
fn a_stalled_consume_queue_write_does_not_hold_sync_acknowledgements() {
    run(|| async {
        let (disk, clock, store) = open_sync_store_without_timer().await;
        store.append(&[msg("T", 0, 1, 100)]).await.unwrap();
        // The next group commit is due to have the consume queues written,
        // and their writes stall.
        clock.ms.set(clock.ms.get() + 3_600_001);
        let cq_dir = std::path::PathBuf::from("/d/shard-0/consumequeue");
        disk.set_hold_writes_under(Some(cq_dir.clone()));
        store.append(&[msg("T", 0, 2, 100)]).await.unwrap();
        let held = disk.held_writes();
        assert!(
            held.iter().any(|(p, _, _)| p.starts_with(&cq_dir)),
            "a consume-queue write is in flight: {held:?}"
        );
        let syncs = disk.syncs();
        // The next group commits while that write is still held.
        let third = glommio::timer::timeout(std::time::Duration::from_secs(10), async {
            Ok(store.append(&[msg("T", 0, 3, 100)]).await)
        })
        .await
        .expect("acknowledged while the consume-queue write stalls");
        third.unwrap();
        assert!(disk.syncs() > syncs, "acknowledged after an fdatasync");
        // Released, the queue is written and a clean shutdown completes.
        disk.set_hold_writes_under(None);
        while !disk.held_writes().is_empty() {
            disk.release_write(0);
        }
        store.shutdown().await.unwrap();
        let cq = disk.contents(&cq_dir.join("T/0/00000000000000000000"));
        let cq = cq.expect("the queue's first file");
        assert!(
            cq[2 * 20..3 * 20].iter().any(|&b| b != 0),
            "the third unit is on disk"
        );
    });
}

#[test]
fn failed_write_poisons_async_log() {
    run(|| async {
        let disk = FaultDisk::new();
        let store = ShardStore::open(
            StoreConfig::small_for_tests("/w", 1),
            0,
            env_with(Rc::new(disk.clone())),
        )
        .await
        .unwrap();
        disk.set_fail_writes(true);
        store.append(&[msg("T", 0, 1, 100)]).await.unwrap();
        // The background flush fails within its interval; appends then fail.
        let mut poisoned = false;
        for _ in 0..500 {
            glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
            if let Err(StoreError::Poisoned { .. }) = store.append(&[msg("T", 0, 2, 100)]).await {
                poisoned = true;
                break;
            }
        }
        assert!(poisoned);
    });
}

#[test]
fn limits_are_error_values() {
    run(|| async {
        let store = ShardStore::open(
            StoreConfig::small_for_tests("/l", 1),
            0,
            env_with(Rc::new(FaultDisk::new())),
        )
        .await
        .unwrap();
        let big = msg("T", 0, 1, 64 * 1024 + 1);
        assert!(matches!(
            store.append(&[big]).await,
            Err(StoreError::MessageIllegal(_))
        ));
        assert!(matches!(
            store.append(&[]).await,
            Err(StoreError::MessageIllegal(_))
        ));
        let mut m = msg("T", 0, 1, 1);
        m.properties = "x".repeat(40_000);
        assert!(matches!(
            store.append(&[m]).await,
            Err(StoreError::PropertiesTooLong { .. })
        ));
        // A batch that could never find room is refused, not left waiting forever.
        let too_many: Vec<_> = (0..1025).map(|i| msg("T", 0, i, 1)).collect();
        assert!(matches!(
            store.append(&too_many).await,
            Err(StoreError::MessageIllegal(_))
        ));
        let mut many_keys = msg("T", 0, 1, 1);
        many_keys.properties = format!(
            "KEYS\u{1}{}",
            (0..5000)
                .map(|i| format!("k{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let batch: Vec<_> = (0..80).map(|_| many_keys.clone()).collect();
        assert!(matches!(
            store.append(&batch).await,
            Err(StoreError::MessageIllegal(_))
        ));
        // A record id that is not a record start is an error, not a panic.
        let r = store.append(&[msg("T", 0, 2, 10)]).await.unwrap();
        assert!(store
            .read_record(r.records[0].log_offset.plus(3))
            .await
            .is_err());
        assert!(store
            .read_record(r.records[0].log_offset.plus(1 << 40))
            .await
            .is_err());
    });
}

#[test]
fn batch_gets_consecutive_offsets() {
    run(|| async {
        let store = ShardStore::open(
            StoreConfig::small_for_tests("/b", 1),
            0,
            env_with(Rc::new(FaultDisk::new())),
        )
        .await
        .unwrap();
        let batch: Vec<_> = (0..5).map(|i| msg("B", 2, i, 50)).collect();
        let r = store.append(&batch).await.unwrap();
        for (i, a) in r.records.iter().enumerate() {
            assert_eq!(a.queue_offset, Some(QueueOffset(i as u64)));
            if i > 0 {
                assert_eq!(
                    a.log_offset.0,
                    r.records[i - 1].log_offset.0 + r.records[i - 1].size as u64
                );
            }
        }
        // Prepared transaction records take no queue offset.
        let mut p = msg("B", 2, 9, 10);
        p.sys_flag = record::sysflag::TRANSACTION_PREPARED;
        let r = store.append(&[p]).await.unwrap();
        assert_eq!(r.records[0].queue_offset, None);
        assert_eq!(store.max_offset(&QueueKey::new("B", 2)), QueueOffset(5));
    });
}

#[test]
fn key_index_rolls_files_and_survives_restart() {
    run(|| async {
        let disk = FaultDisk::new();
        let mut cfg = StoreConfig::small_for_tests("/idx", 1);
        // Two keys per message (UNIQ_KEY, key-<seq>, common): a file every ~340 messages.
        cfg.index_entries = 1024;
        cfg.index_slots = 64;
        let store = ShardStore::open(cfg.clone(), 0, env_with(Rc::new(disk.clone())))
            .await
            .unwrap();
        for seq in 0..3000u64 {
            store
                .append(&[msg("I", (seq % 2) as u32, seq, 50)])
                .await
                .unwrap();
        }
        let check = |store: ShardStore| async move {
            let mut missing = Vec::new();
            for seq in 0..3000u64 {
                let found = store
                    .query_by_key("I", &format!("key-{seq}"), 0, i64::MAX, 4)
                    .await
                    .unwrap();
                if found.is_empty() {
                    missing.push(seq);
                }
            }
            assert!(
                missing.is_empty(),
                "{} keys not found, first {:?}",
                missing.len(),
                &missing[..missing.len().min(20)]
            );
            for seq in [0u64, 1, 345, 1024, 2047, 2999] {
                let found = store
                    .query_by_key("I", &format!("key-{seq}"), 0, i64::MAX, 4)
                    .await
                    .unwrap();
                assert_eq!(found.len(), 1, "key-{seq}");
                assert_eq!(
                    record::decode(&found[0], true).unwrap().born_timestamp,
                    seq as i64
                );
                let u = store
                    .query_by_key("I", &format!("U{seq:016X}"), 0, i64::MAX, 4)
                    .await
                    .unwrap();
                assert_eq!(u.len(), 1, "uniq key of {seq}");
            }
            // Newest first, capped at the asked maximum.
            let common = store
                .query_by_key("I", "common", 0, i64::MAX, 10)
                .await
                .unwrap();
            assert_eq!(common.len(), 10);
            assert_eq!(
                record::decode(&common[0], true).unwrap().born_timestamp,
                2999
            );
            assert!(store
                .query_by_key("I", "absent", 0, i64::MAX, 4)
                .await
                .unwrap()
                .is_empty());
            assert!(store
                .query_by_key("Other", "key-5", 0, i64::MAX, 4)
                .await
                .unwrap()
                .is_empty());
        };
        check(store.clone()).await;
        store.shutdown().await.unwrap();
        drop(store);
        let store = ShardStore::open(cfg, 0, env_with(Rc::new(disk)))
            .await
            .unwrap();
        check(store).await;
    });
}

#[test]
fn reads_spanning_the_tail_cache_start_after_restart_see_unwritten_appends() {
    run(|| async {
        let disk = FaultDisk::new();
        let mut cfg = StoreConfig::small_for_tests("/span", 1);
        // Nothing is written back during the test unless asked.
        cfg.flush_interval = std::time::Duration::from_secs(3600);
        cfg.checkpoint_interval = std::time::Duration::from_secs(3600);
        cfg.flush_threshold_bytes = 64 << 20;
        let store = ShardStore::open(cfg.clone(), 0, env_with(Rc::new(disk.clone())))
            .await
            .unwrap();
        for seq in 0..1500u64 {
            store.append(&[msg("S", 0, seq, 300)]).await.unwrap();
        }
        store.shutdown().await.unwrap();
        drop(store);
        // After the restart each tail cache holds one chunk; new appends stay in memory.
        let store = ShardStore::open(cfg, 0, env_with(Rc::new(disk)))
            .await
            .unwrap();
        for seq in 1500..1510u64 {
            store.append(&[msg("S", 0, seq, 300)]).await.unwrap();
        }
        let key = QueueKey::new("S", 0);
        let mut off = QueueOffset(1000);
        let mut seen = 0u64;
        while off < store.max_offset(&key) {
            let r = store
                .get_messages(&key, off, 64, 1 << 20, &|_| true)
                .await
                .unwrap();
            assert_eq!(r.status, GetStatus::Found, "at {off:?}");
            for (rec, qo) in r.messages.iter().zip(&r.queue_offsets) {
                let v = record::decode(rec, true).expect("intact record");
                assert_eq!(
                    v.born_timestamp as u64, qo.0,
                    "record at queue offset {qo:?}"
                );
                seen += 1;
            }
            off = r.next_begin_offset;
        }
        assert_eq!(seen, 510);
        // A read of the log that starts on disk and ends in memory.
        let first = store
            .get_messages(&key, QueueOffset(1499), 2, 1 << 20, &|_| true)
            .await
            .unwrap();
        assert_eq!(first.messages.len(), 2);
    });
}
