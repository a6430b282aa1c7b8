//! `ringmq`: the broker binary.
//!
//! Today it opens the storage engine (lock, shard count, recovery) on one
//! pinned shard per CPU and keeps it running until interrupted. The remoting
//! front end (name server on :9876, broker on :10911) is issue #3 and is not
//! built yet: `serve` says so at start.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ringmq_engine::shard::{run_shards, StoreRoot};
use ringmq_engine::{FlushMode, ShardEnv, ShardStore, StoreConfig};

#[derive(Parser)]
#[command(
    name = "ringmq",
    about = "RocketMQ-compatible broker on a thread-per-core io_uring engine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Name server + broker with the embedded defaults.
    Serve {
        /// Store root (storePathRootDir).
        #[arg(long, default_value = "./ringmq-data")]
        data: PathBuf,
        /// Shards (default: one per available CPU).
        #[arg(long)]
        shards: Option<u16>,
        /// CPUs to pin shards to, e.g. 0,1.
        #[arg(long, value_delimiter = ',')]
        cpus: Vec<usize>,
        /// SYNC_FLUSH instead of ASYNC_FLUSH.
        #[arg(long)]
        sync_flush: bool,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    ringmq_engine::shard::tune_allocator();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve {
            data,
            shards,
            cpus,
            sync_flush,
        } => {
            let shards = shards.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get() as u16)
                    .unwrap_or(1)
            });
            let root = match StoreRoot::open(&data, shards) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("ringmq: {e}");
                    std::process::exit(2);
                }
            };
            let mut cfg = StoreConfig::new(root.path(), shards);
            if sync_flush {
                cfg.flush_mode = FlushMode::Sync;
            }
            tracing::warn!("the remoting front end (issue #3) is not built yet: the engine runs, no port is opened");
            // SIGINT / SIGTERM: every shard writes a clean checkpoint and stops.
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
                    eprintln!("ringmq: cannot install signal handler: {e}");
                    std::process::exit(2);
                }
            }
            let r = run_shards(shards, &cpus, move |shard| {
                let cfg = cfg.clone();
                let stop = stop.clone();
                async move {
                    match ShardStore::open(cfg, shard, ShardEnv::real()).await {
                        Ok(store) => {
                            tracing::info!(shard, "shard ready");
                            while !stop.load(Ordering::Relaxed) {
                                glommio::timer::sleep(std::time::Duration::from_millis(100)).await;
                            }
                            match store.shutdown().await {
                                Ok(()) => tracing::info!(shard, "shard stopped cleanly"),
                                Err(e) => {
                                    tracing::error!(shard, error = %e, "clean shutdown failed")
                                }
                            }
                        }
                        Err(e) => {
                            eprintln!("ringmq: shard {shard}: {e}");
                            std::process::exit(2);
                        }
                    }
                }
            });
            if let Err(e) = r {
                eprintln!("ringmq: {e}");
                std::process::exit(2);
            }
        }
    }
}
