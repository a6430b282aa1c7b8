//! The child of the kill -9 test: appends under SYNC_FLUSH from many tasks on
//! one shard and prints `ACK <seq> <log offset> <queue> <queue offset>` for
//! every acknowledged append, until it is killed.
//!
//! Usage: crash-child <store dir> <first seq>

use std::io::Write;
use std::rc::Rc;

use ringmq_engine::shard::{run_shards, StoreRoot};
use ringmq_engine::{FlushMode, MessageInput, ShardEnv, ShardStore, StoreConfig};
use ringmq_tests::{body_of, QUEUES, TOPIC};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let first: u64 = args[2].parse().expect("first seq");
    let _root = StoreRoot::open(&dir, 1).expect("store root");
    let mut cfg = StoreConfig::small_for_tests(&dir, 1);
    cfg.flush_mode = FlushMode::Sync;
    run_shards(1, &[], move |shard| {
        let cfg = cfg.clone();
        async move {
            let store = ShardStore::open(cfg, shard, ShardEnv::real())
                .await
                .expect("open");
            println!("READY");
            let next = Rc::new(std::cell::Cell::new(first));
            let mut tasks = Vec::new();
            for _ in 0..16 {
                let store = store.clone();
                let next = next.clone();
                tasks.push(glommio::spawn_local(async move {
                    loop {
                        let seq = next.get();
                        next.set(seq + 1);
                        let q = (seq % QUEUES as u64) as u32;
                        let m = MessageInput::simple(
                            TOPIC,
                            q,
                            &body_of(seq),
                            &format!("KEYS\u{1}k{seq}"),
                        );
                        let r = store.append(&[m]).await.expect("append");
                        let a = r.records[0];
                        let mut out = std::io::stdout().lock();
                        writeln!(
                            out,
                            "ACK {seq} {} {q} {}",
                            a.log_offset.0,
                            a.queue_offset.unwrap().0
                        )
                        .unwrap();
                        out.flush().unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await;
            }
        }
    })
    .expect("shards");
}
