//! kill -9 under load: a child process appends under SYNC_FLUSH and prints what
//! was acknowledged; it is killed at random moments (20 rounds, each restart
//! recovering the previous crash); every acknowledged record must be there,
//! byte for byte, in its queue.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use ringmq_engine::shard::{run_shards, StoreRoot};
use ringmq_engine::{record, LogOffset, QueueKey, ShardEnv, ShardStore, StoreConfig};
use ringmq_tests::{body_of, TOPIC};

struct Ack {
    seq: u64,
    log_offset: u64,
    queue: u32,
    queue_offset: u64,
}

/// The child's next line; `None` once it closed its output. A child silent
/// for a minute is killed and the test fails (no unbounded wait).
fn next_line(
    rx: &std::sync::mpsc::Receiver<String>,
    child: &mut std::process::Child,
    round: u64,
) -> Option<String> {
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => Some(line),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            let _ = child.kill();
            panic!("child silent for 60 s in round {round}");
        }
    }
}

/// `ACK <seq> <log offset> <queue> <queue offset>` as the child prints it.
fn parse_ack(line: &str) -> Option<Ack> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 5 || f[0] != "ACK" {
        return None;
    }
    Some(Ack {
        seq: f[1].parse().ok()?,
        log_offset: f[2].parse().ok()?,
        queue: f[3].parse().ok()?,
        queue_offset: f[4].parse().ok()?,
    })
}

fn verify(dir: &std::path::Path, acks: Vec<Ack>) -> usize {
    let root = StoreRoot::open(dir, 1).expect("store root free after kill");
    let cfg = StoreConfig::small_for_tests(dir, 1);
    let n = acks.len();
    let acks = std::sync::Arc::new(acks);
    run_shards(1, &[], move |shard| {
        let cfg = cfg.clone();
        let acks = acks.clone();
        async move {
            let store = ShardStore::open(cfg, shard, ShardEnv::real())
                .await
                .expect("recover");
            for a in acks.iter() {
                let rec = store
                    .read_record(LogOffset(a.log_offset))
                    .await
                    .unwrap_or_else(|e| panic!("acknowledged seq {} lost: {e}", a.seq));
                let v = record::decode(&rec, true).expect("intact");
                assert_eq!(v.body, &body_of(a.seq)[..], "seq {}", a.seq);
                assert_eq!(v.queue_offset as u64, a.queue_offset);
                let key = QueueKey::new(TOPIC, a.queue);
                assert!(
                    store.max_offset(&key).0 > a.queue_offset,
                    "queue lost seq {}",
                    a.seq
                );
            }
            store.shutdown().await.expect("clean shutdown");
        }
    })
    .expect("verify shard");
    drop(root);
    n
}

#[test]
fn kill_9_under_sync_load_loses_no_acknowledged_record() {
    let dir = std::env::temp_dir().join(format!("ringmq-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut acks = Vec::new();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for round in 0..20u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-child"))
            .arg(&dir)
            .arg((round * 10_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        // A reader thread, so that every wait for the child is bounded.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for readiness (recovery of the previous crash).
        loop {
            let line = next_line(&rx, &mut child, round).expect("child exited before READY");
            if line.trim() == "READY" {
                break;
            }
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let want = 20 + (seed % 400) as usize;
        let mut got = 0;
        while got < want {
            let Some(line) = next_line(&rx, &mut child, round) else {
                break;
            };
            if let Some(a) = parse_ack(&line) {
                acks.push(a);
                got += 1;
            }
        }
        // SIGKILL while appends are in flight.
        // SAFETY: plain kill(2) on our child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().expect("wait child");
        // Lines printed before the kill are acknowledged too: drain them.
        reader.join().expect("reader thread");
        for line in rx.try_iter() {
            if let Some(a) = parse_ack(&line) {
                acks.push(a);
            }
        }
        assert!(got > 0, "round {round} acknowledged nothing");
    }
    let n = verify(&dir, acks);
    assert!(n >= 400, "only {n} acknowledged appends");
    let _ = std::fs::remove_dir_all(&dir);
}
