//! Crash tests on the fault-injecting disk: append under SYNC_FLUSH from many
//! tasks, "lose power" at a random moment (unsynced writes kept, dropped or
//! torn sector by sector), recover, and check that every acknowledged record
//! is there byte for byte and that nothing served is torn.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use ringmq_engine::fault_disk::FaultDisk;
use ringmq_engine::record;
use ringmq_engine::{
    FlushMode, GetStatus, LogOffset, QueueKey, QueueOffset, ShardStore, StoreConfig,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[derive(Clone)]
struct Ack {
    seq: u64,
    queue: u32,
    log_offset: LogOffset,
    queue_offset: QueueOffset,
}

const QUEUES: u32 = 3;

async fn verify(store: &ShardStore, acked: &[Ack]) {
    for a in acked {
        let rec = store.read_record(a.log_offset).await.unwrap_or_else(|e| {
            panic!("acknowledged seq {} at {:?} lost: {e}", a.seq, a.log_offset)
        });
        let want = msg("C", a.queue, a.seq, body_len(a.seq));
        let v = record::decode(&rec, true).expect("acknowledged record intact");
        assert_eq!(v.body, &want.body[..], "seq {}", a.seq);
        assert_eq!(v.properties, want.properties);
        assert_eq!(v.queue_offset as u64, a.queue_offset.0);
    }
    // Every queue serves an unbroken sequence of intact records.
    for q in 0..QUEUES {
        let key = QueueKey::new("C", q);
        let mut off = store.min_offset(&key);
        let max = store.max_offset(&key);
        while off < max {
            let r = store
                .get_messages(&key, off, 64, 1 << 20, &|_| true)
                .await
                .unwrap();
            assert_eq!(r.status, GetStatus::Found);
            for (rec, qo) in r.messages.iter().zip(&r.queue_offsets) {
                let v = record::decode(rec, true).expect("served record intact");
                assert_eq!(v.queue_offset as u64, qo.0);
                assert_eq!(v.queue_id as u32, q);
            }
            off = r.next_begin_offset;
        }
    }
    for a in acked {
        let key = QueueKey::new("C", a.queue);
        assert!(
            a.queue_offset < store.max_offset(&key),
            "queue lost acknowledged seq {}",
            a.seq
        );
    }
}

fn body_len(seq: u64) -> usize {
    20 + (seq * 37 % 3000) as usize
}

fn crash_round(seed: u64, mode: FlushMode) {
    run(move || async move {
        let mut rng = Rng(seed * 0x9E37_79B9 + 12345);
        let disk = FaultDisk::new();
        let mut cfg = StoreConfig::small_for_tests("/crash", 1);
        cfg.flush_mode = mode;
        cfg.checkpoint_interval = std::time::Duration::from_millis(5 + rng.next(30));
        let store = ShardStore::open(cfg.clone(), 0, env_with(Rc::new(disk.clone())))
            .await
            .unwrap();
        let acked: Rc<RefCell<Vec<Ack>>> = Rc::default();
        let next_seq = Rc::new(std::cell::Cell::new(0u64));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            let acked = acked.clone();
            let next_seq = next_seq.clone();
            tasks.push(glommio::spawn_local(async move {
                loop {
                    let seq = next_seq.get();
                    next_seq.set(seq + 1);
                    let q = (seq % QUEUES as u64) as u32;
                    let m = msg("C", q, seq, body_len(seq));
                    match store.append(&[m]).await {
                        Ok(r) => acked.borrow_mut().push(Ack {
                            seq,
                            queue: q,
                            log_offset: r.records[0].log_offset,
                            queue_offset: r.records[0].queue_offset.unwrap(),
                        }),
                        Err(_) => break,
                    }
                }
            }));
        }
        let target = 20 + rng.next(1500) as usize;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while acked.borrow().len() < target {
            assert!(
                std::time::Instant::now() < deadline,
                "appends stalled (seed {seed})"
            );
            glommio::timer::sleep(std::time::Duration::from_micros(200)).await;
        }
        // Power loss: what is durable survives; unsynced writes may be kept, lost or torn.
        let image = disk.crash_image(&mut |n| rng.next(n));
        let acked_at_crash: Vec<Ack> = acked.borrow().clone();
        for t in tasks {
            drop(t);
        }
        drop(store);

        let recovered = ShardStore::open(cfg.clone(), 0, env_with(Rc::new(image.clone())))
            .await
            .unwrap();
        if mode == FlushMode::Sync {
            verify(&recovered, &acked_at_crash).await;
        } else {
            verify(&recovered, &[]).await;
        }
        // It takes appends again and survives a clean restart.
        let r = recovered.append(&[msg("C", 0, 1 << 40, 10)]).await.unwrap();
        recovered.shutdown().await.unwrap();
        drop(recovered);
        let again = ShardStore::open(cfg, 0, env_with(Rc::new(image)))
            .await
            .unwrap();
        assert!(again.read_record(r.records[0].log_offset).await.is_ok());
        if mode == FlushMode::Sync {
            verify(&again, &acked_at_crash).await;
        }
    });
}

#[test]
fn sync_flush_crash_at_random_points_keeps_every_acknowledged_record() {
    for seed in 1..=40 {
        crash_round(seed, FlushMode::Sync);
    }
}

#[test]
fn async_flush_crash_never_serves_a_torn_record() {
    for seed in 100..=120 {
        crash_round(seed, FlushMode::Async);
    }
}

#[test]
fn damage_that_bodycrc_cannot_see_is_caught_by_the_round_checksum() {
    run(|| async {
        let disk = FaultDisk::new();
        let mut cfg = StoreConfig::small_for_tests("/corrupt", 1);
        cfg.checkpoint_interval = std::time::Duration::from_secs(3600);
        let store = ShardStore::open(cfg.clone(), 0, env_with(Rc::new(disk.clone())))
            .await
            .unwrap();
        for seq in 0..10 {
            store.append(&[msg("C", 0, seq, 100)]).await.unwrap();
        }
        store.checkpoint_now(false).await.unwrap();
        let mut offs = Vec::new();
        for seq in 10..20 {
            offs.push(
                store
                    .append(&[msg("C", 0, seq, 100)])
                    .await
                    .unwrap()
                    .records[0],
            );
        }
        // Let the background flush write (not checkpoint) the second round.
        glommio::timer::sleep(std::time::Duration::from_millis(100)).await;
        // The round was closed by a marker (the log grew past the last record).
        assert!(store.log_range().1 > offs[9].log_offset.plus(offs[9].size as u64));
        let image = disk.crash_image(&mut |_| 0);
        drop(store);
        // Flip a byte inside record 15's properties: its BODYCRC still matches.
        let seg = std::path::Path::new("/corrupt/shard-0/commitlog/00000000000000000000");
        let a = offs[5];
        let pos = (a.log_offset.0 + a.size as u64 - 2) as usize;
        let mut rec = image.contents(seg).unwrap()[a.log_offset.0 as usize..pos + 2].to_vec();
        let at = rec.len() - 2;
        let old = rec[at];
        image.poke(seg, pos, &[old ^ 0x20]);
        rec[at] ^= 0x20;
        assert!(
            record::decode(&rec, true).is_ok(),
            "the damage is invisible to the record format"
        );
        let recovered = ShardStore::open(cfg, 0, env_with(Rc::new(image)))
            .await
            .unwrap();
        // The whole damaged round is discarded; the checkpointed prefix stays.
        assert_eq!(
            recovered.max_offset(&QueueKey::new("C", 0)),
            QueueOffset(10)
        );
        assert!(recovered.read_record(offs[5].log_offset).await.is_err());
    });
}

/// A round closed by a marker from before `ROUND_CRC_SKIPS_BODIES` (its CRC
/// over every byte of the round, flags 0) is still recovered, and still
/// checked: damage in it discards it.
#[test]
fn rounds_checksummed_over_every_byte_are_still_recovered_and_checked() {
    use ringmq_engine::commitlog::{encode_marker, MAGIC_ROUND, MARKER_BYTES};
    for damage in [false, true] {
        run(move || async move {
            let disk = FaultDisk::new();
            let mut cfg = StoreConfig::small_for_tests("/legacy", 1);
            cfg.checkpoint_interval = std::time::Duration::from_secs(3600);
            let store = ShardStore::open(cfg.clone(), 0, env_with(Rc::new(disk.clone())))
                .await
                .unwrap();
            for seq in 0..10 {
                store.append(&[msg("L", 0, seq, 100)]).await.unwrap();
            }
            store.checkpoint_now(false).await.unwrap();
            let mut last = None;
            for seq in 10..20 {
                last = Some(
                    store
                        .append(&[msg("L", 0, seq, 100)])
                        .await
                        .unwrap()
                        .records[0],
                );
            }
            glommio::timer::sleep(std::time::Duration::from_millis(100)).await;
            let image = disk.crash_image(&mut |_| 0);
            drop(store);
            // Rewrite the marker after record 19 the way it was written
            // before the flag existed.
            let seg = std::path::Path::new("/legacy/shard-0/commitlog/00000000000000000000");
            let last = last.unwrap();
            let at = (last.log_offset.0 + last.size as u64) as usize;
            let bytes = image.contents(seg).unwrap();
            let m = &bytes[at..at + MARKER_BYTES];
            assert_eq!(i32::from_be_bytes(m[4..8].try_into().unwrap()), MAGIC_ROUND);
            let start = u64::from_be_bytes(m[8..16].try_into().unwrap());
            let generation = u32::from_be_bytes(m[16..20].try_into().unwrap());
            let full = crc32fast::hash(&bytes[start as usize..at]);
            image.poke(seg, at, &encode_marker(start, generation, full, 0));
            if damage {
                // A byte of record 19's properties: invisible to BODYCRC.
                image.poke(seg, at - 2, &[bytes[at - 2] ^ 0x20]);
            }
            let recovered = ShardStore::open(cfg, 0, env_with(Rc::new(image)))
                .await
                .unwrap();
            let want = if damage { 10 } else { 20 };
            assert_eq!(
                recovered.max_offset(&QueueKey::new("L", 0)),
                QueueOffset(want),
                "damage: {damage}"
            );
        });
    }
}

#[test]
fn a_segment_left_short_by_an_interrupted_creation_is_completed_at_start() {
    run(|| async {
        use ringmq_engine::disk::Disk;
        let disk = FaultDisk::new();
        let cfg = StoreConfig::small_for_tests("/short", 1);
        let store = ShardStore::open(cfg.clone(), 0, env_with(Rc::new(disk.clone())))
            .await
            .unwrap();
        let a = store.append(&[msg("C", 0, 1, 100)]).await.unwrap().records[0];
        store.shutdown().await.unwrap();
        drop(store);
        // The next segment was created but the crash came before its preallocation.
        let next =
            std::path::Path::new("/short/shard-0/commitlog").join(format!("{:020}", 1u64 << 20));
        disk.open(&next, Some(4096)).await.unwrap();
        let store = ShardStore::open(cfg, 0, env_with(Rc::new(disk.clone())))
            .await
            .unwrap();
        assert!(store.read_record(a.log_offset).await.is_ok());
        // Completed to full length, then dropped as lying past the recovered end.
        assert!(disk.contents(&next).is_none_or(|c| c.len() == 1 << 20));
    });
}
