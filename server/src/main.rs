//! `ringmq`: name server and broker speaking Apache RocketMQ's remoting
//! protocol, on a thread-per-core io_uring storage engine.
//!
//! * `ringmq serve`: name server + broker in one process, zero configuration.
//! * `ringmq broker -c broker.conf`: a broker, configured like Apache's.
//! * `ringmq namesrv`: a name server alone.
//!
//! Each prints one line starting with `ringmq ready` once it accepts
//! connections; tests wait for that line.

use std::io::Write;

/// mimalloc rather than glibc's malloc: per-request buffers and tasks are
/// allocated and freed on the shard threads at 100 K+/s, where glibc's
/// free-list consolidation showed as ~20 % of a busy shard's CPU.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ringmq::broker::{self, config::BrokerConfig};
use ringmq::namesrv::NamesrvConfig;
use ringmq::namesrv_service::{self, NamesrvTimings};
use ringmq_engine::FlushMode;

#[derive(Parser)]
#[command(
    name = "ringmq",
    version,
    about = "RocketMQ-compatible name server and broker on a thread-per-core io_uring engine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Settings shared by the broker-running subcommands.
#[derive(clap::Args)]
struct BrokerArgs {
    /// Shards (default: one per available CPU; fixed when the store is created).
    #[arg(long)]
    shards: Option<u16>,
    /// CPUs to pin shards to, e.g. 0,1 (default: unpinned).
    #[arg(long, value_delimiter = ',')]
    cpus: Vec<usize>,
    /// SYNC_FLUSH instead of ASYNC_FLUSH.
    #[arg(long)]
    sync_flush: bool,
    /// Any broker.conf key, e.g. --set maxMessageSize=1024 (repeatable;
    /// also the name-server keys brokerExpireMillis and
    /// scanNotActiveBrokerInterval under `serve`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Name server + broker in one process (127.0.0.1:9876 and :10911, data in ./ringmq-data).
    Serve {
        /// Store root (storePathRootDir).
        #[arg(long, default_value = "./ringmq-data")]
        data: PathBuf,
        /// Name server port.
        #[arg(long, default_value_t = 9876)]
        namesrv_port: u16,
        /// Broker port.
        #[arg(long, default_value_t = 10911)]
        broker_port: u16,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// A broker configured by an Apache broker.conf.
    Broker {
        /// The broker.conf file (Apache keys plus ringmq's own).
        #[arg(short = 'c', long = "config")]
        config: Option<PathBuf>,
        /// Name servers, `;`-separated (overrides namesrvAddr).
        #[arg(short = 'n', long = "namesrv-addr")]
        namesrv_addr: Option<String>,
        #[command(flatten)]
        broker: BrokerArgs,
    },
    /// A name server alone.
    Namesrv {
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        host: String,
        /// Port to listen on.
        #[arg(long, default_value_t = 9876)]
        port: u16,
        /// KV config file (Apache ~/namesrv/kvConfig.json).
        #[arg(long)]
        kv_config: Option<PathBuf>,
        /// Milliseconds without registration after which a broker is dropped.
        #[arg(long, default_value_t = 120_000)]
        broker_expire_millis: i64,
        /// How often silent brokers are looked for (ms).
        #[arg(long, default_value_t = 10_000)]
        scan_interval_millis: u64,
    },
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("ringmq: {msg}");
    std::process::exit(2);
}

fn stop_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            fail(format!("cannot install signal handler: {e}"));
        }
    }
    stop
}

fn ready(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Applies command-line broker settings; returns the name-server ones.
fn apply(cfg: &mut BrokerConfig, args: &BrokerArgs) -> (NamesrvConfig, NamesrvTimings) {
    let mut ns = NamesrvConfig::default();
    let mut timings = NamesrvTimings::default();
    if let Some(s) = args.shards {
        cfg.shards = Some(s);
    }
    if !args.cpus.is_empty() {
        cfg.cpus = args.cpus.clone();
    }
    if args.sync_flush {
        cfg.flush_disk_type = FlushMode::Sync;
    }
    for kv in &args.sets {
        let Some((k, v)) = kv.split_once('=') else {
            fail(format!("--set {kv}: expected KEY=VALUE"));
        };
        let (k, v) = (k.trim(), v.trim());
        let ms = || {
            v.parse::<u64>()
                .unwrap_or_else(|_| fail(format!("--set {kv}: expected milliseconds")))
        };
        match k {
            "brokerExpireMillis" => ns.broker_expire_ms = ms() as i64,
            "scanNotActiveBrokerInterval" => {
                timings.scan_interval = Duration::from_millis(ms().max(1))
            }
            _ => {
                if let Err(e) = cfg.set(k, v) {
                    fail(e);
                }
            }
        }
    }
    (ns, timings)
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    ringmq_engine::shard::tune_allocator();
    match Cli::parse().cmd {
        Cmd::Serve {
            data,
            namesrv_port,
            broker_port,
            broker,
        } => {
            let mut cfg = BrokerConfig {
                store_path_root_dir: data.clone(),
                listen_port: broker_port,
                listen_host: "127.0.0.1".into(),
                broker_ip1: "127.0.0.1".into(),
                namesrv_addr: vec![format!("127.0.0.1:{namesrv_port}")],
                ..BrokerConfig::default()
            };
            let (mut ns, timings) = apply(&mut cfg, &broker);
            ns.kv_config_path = Some(data.join("namesrv").join("kvConfig.json"));
            let stop = stop_flag();
            let ns_addr = SocketAddr::from(([127, 0, 0, 1], namesrv_port));
            let ns_thread = namesrv_service::start(ns_addr, ns, timings, stop.clone())
                .unwrap_or_else(|e| fail(e));
            let r = broker::run(cfg, stop.clone(), move |r| {
                ready(format!(
                    "ringmq ready: namesrv {ns_addr}, broker {} ({} shards)",
                    r.broker, r.shards
                ))
            });
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = ns_thread.join();
            if let Err(e) = r {
                fail(e);
            }
        }
        Cmd::Broker {
            config,
            namesrv_addr,
            broker,
        } => {
            let mut cfg = match &config {
                Some(p) => BrokerConfig::from_file(p).unwrap_or_else(|e| fail(e)),
                None => BrokerConfig::default(),
            };
            if let Some(n) = namesrv_addr {
                cfg.set("namesrvAddr", &n).unwrap_or_else(|e| fail(e));
            }
            apply(&mut cfg, &broker);
            if cfg.namesrv_addr.is_empty() {
                tracing::warn!("no namesrvAddr configured: clients will not find this broker");
            }
            let stop = stop_flag();
            let r = broker::run(cfg, stop, |r| {
                ready(format!(
                    "ringmq ready: broker {} ({} shards, registered with {} name servers)",
                    r.broker, r.shards, r.registered_with
                ))
            });
            if let Err(e) = r {
                fail(e);
            }
        }
        Cmd::Namesrv {
            host,
            port,
            kv_config,
            broker_expire_millis,
            scan_interval_millis,
        } => {
            let addr: SocketAddr = format!("{host}:{port}")
                .parse()
                .unwrap_or_else(|e| fail(format!("{host}:{port}: {e}")));
            let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
            let ns =
                NamesrvConfig {
                    broker_expire_ms: broker_expire_millis,
                    kv_config_path: Some(kv_config.unwrap_or_else(|| {
                        PathBuf::from(home).join("namesrv").join("kvConfig.json")
                    })),
                    ..NamesrvConfig::default()
                };
            let timings = NamesrvTimings {
                scan_interval: Duration::from_millis(scan_interval_millis.max(1)),
            };
            let stop = stop_flag();
            let t = namesrv_service::start(addr, ns, timings, stop).unwrap_or_else(|e| fail(e));
            ready(format!("ringmq ready: namesrv {addr}"));
            let _ = t.join();
        }
    }
}
