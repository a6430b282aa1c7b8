//! `ringmq-bench`: Apache RocketMQ 4.9.7's benchmark tool
//! (`benchmark/producer.sh`, `benchmark/consumer.sh`) in Rust, over the
//! ringmq remoting codec, for any RocketMQ-compatible broker.
//!
//! * `ringmq-bench producer -n NS -t TOPIC -s 1024 -w 64`: the Java
//!   `Producer`'s flags and meaning; `-w` senders each keep one synchronous
//!   send in flight, sharing the connection(s) by opaque.
//! * `ringmq-bench consumer -n NS -t TOPIC -g GROUP`: the Java `Consumer`'s
//!   flags and meaning: a push consumer (heartbeat, long-polling pulls,
//!   offsets committed) that owns every queue of the topic.
//! * `ringmq-bench topic -n NS -t TOPIC --queues 8`: creates the topic on
//!   every master broker and waits for its route.
//! * `ringmq-bench timer -n NS -t TOPIC --count 100000`: arbitrary-time
//!   delivery: lateness of a burst of timers due at the same moment, or
//!   (`--pending N`) the broker's memory per pending timer.
//!
//! Both print every 10 s (and at the end) what the Java tool prints, plus
//! p50/p99/p999/max from an HDR histogram and the tool's own CPU use.
//! Extra flags: `--duration`, `--json`, `--tps` (producer), `--connections`.
//!
//! Threads: one per connection (`--connections`, default 1 as the Java
//! client), each driving a non-blocking socket with `poll`; the main thread
//! only reports. So the tool needs little CPU and leaves the cores to the
//! broker (pin it with `taskset` to keep them apart).

mod acl;
mod conn;
mod consumer;
mod error;
mod limits;
mod producer;
mod rpc;
mod stats;
mod timer;
mod uniq;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use ringmq_remoting::SerializeType;

use crate::acl::{Acl, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};
use crate::conn::{Conn, ConnConfig};
use crate::error::{Error, Result};
use crate::limits::{CALL_TIMEOUT, MAX_CONNECTIONS};
use crate::rpc::NameServers;

#[derive(Parser)]
#[command(
    name = "ringmq-bench",
    about = "Apache RocketMQ's benchmark producer and consumer, for any RocketMQ-compatible broker"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The benchmark producer (Java `benchmark.Producer`).
    Producer(producer::ProducerArgs),
    /// The benchmark consumer (Java `benchmark.Consumer`).
    Consumer(consumer::ConsumerArgs),
    /// Create a topic on every master broker and wait for its route.
    Topic(TopicArgs),
    /// Arbitrary-time delivery (`__STARTDELIVERTIME`): lateness of a burst
    /// of timers due at once, or broker memory per pending timer.
    Timer(timer::TimerArgs),
}

/// Java booleans: `Boolean.parseBoolean` is true only for "true" in any case.
pub(crate) fn java_bool(s: &str) -> std::result::Result<bool, String> {
    Ok(s.eq_ignore_ascii_case("true"))
}

/// Flags both roles share.
#[derive(Args, Clone, Debug)]
pub struct CommonArgs {
    /// Name server address list, `;`-separated (`-n`, Java `namesrvAddr`).
    #[arg(short = 'n', long = "namesrvAddr", default_value = "127.0.0.1:9876")]
    pub namesrv: String,
    /// Topic name.
    #[arg(short = 't', long = "topic", default_value = "BenchmarkTest")]
    pub topic: String,
    /// Message trace (`-m true`): not implemented, refused.
    #[arg(short = 'm', long = "msgTraceEnable", value_parser = java_bool, action = clap::ArgAction::Set, default_value = "false")]
    pub trace: bool,
    /// ACL (`-a true`): sign every request like `AclClientRPCHook`.
    #[arg(short = 'a', long = "aclEnable", value_parser = java_bool, action = clap::ArgAction::Set, default_value = "false")]
    pub acl: bool,
    /// ACL access key (`-ak`).
    #[arg(long = "accessKey", default_value = DEFAULT_ACCESS_KEY)]
    pub access_key: String,
    /// ACL secret key (`-sk`).
    #[arg(long = "secretKey", default_value = DEFAULT_SECRET_KEY)]
    pub secret_key: String,
    /// Stop after this many seconds (default: run until -q is reached or
    /// Ctrl-C, as the Java tool).
    #[arg(long)]
    pub duration: Option<f64>,
    /// JSON lines instead of text: one object per report, the last with
    /// "type":"summary".
    #[arg(long)]
    pub json: bool,
    /// TCP connections to each broker, each driven by its own thread
    /// (the Java client uses one).
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Header encoding of requests (the Java benchmark sets ROCKETMQ).
    #[arg(long, value_parser = ["rocketmq", "json"], default_value = "rocketmq")]
    pub serialize: String,
}

impl CommonArgs {
    pub fn conn_config(&self) -> ConnConfig {
        ConnConfig {
            serialize_type: if self.serialize == "json" {
                SerializeType::Json
            } else {
                SerializeType::RocketMq
            },
            acl: self.acl.then(|| {
                Arc::new(Acl {
                    access_key: self.access_key.clone(),
                    secret_key: self.secret_key.clone(),
                })
            }),
        }
    }

    pub fn check(&self) -> Result<()> {
        if self.trace {
            return Err(Error::Usage(
                "-m true (message trace) is not implemented by ringmq-bench".into(),
            ));
        }
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return Err(Error::Usage(format!(
                "--connections must be 1..={MAX_CONNECTIONS}"
            )));
        }
        if let Some(d) = self.duration {
            if !(d > 0.0 && d.is_finite()) {
                return Err(Error::Usage("--duration must be a positive number".into()));
            }
        }
        Ok(())
    }

    pub fn deadline(&self, start: Instant) -> Option<Instant> {
        self.duration.map(|d| start + Duration::from_secs_f64(d))
    }
}

#[derive(Args)]
struct TopicArgs {
    /// Name server address list, `;`-separated.
    #[arg(short = 'n', long = "namesrvAddr", default_value = "127.0.0.1:9876")]
    namesrv: String,
    /// Topic name.
    #[arg(short = 't', long = "topic", default_value = "BenchmarkTest")]
    topic: String,
    /// Read and write queues on each master.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Seconds to wait for the brokers to show up and the route to appear.
    #[arg(long, default_value_t = 30.0)]
    wait: f64,
}

/// Creates the topic on every master and waits until the name server's
/// route lists the requested write queues on each. Returns the line that
/// says so.
fn create_topic(args: &TopicArgs) -> Result<String> {
    let config = ConnConfig {
        serialize_type: SerializeType::Json,
        acl: None,
    };
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait.max(0.0));
    let mut ns = NameServers::new(&args.namesrv, config.clone())?;
    let masters = loop {
        let info = ns.cluster_info();
        let masters: Vec<String> = match &info {
            Ok(info) => info
                .broker_addr_table
                .values()
                .filter_map(|b| b.master_addr().map(str::to_owned))
                .collect(),
            Err(_) => Vec::new(),
        };
        if !masters.is_empty() {
            break masters;
        }
        if Instant::now() >= deadline {
            return Err(match info {
                Err(e) => e,
                Ok(_) => Error::Usage("the name server knows no master broker".into()),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for addr in &masters {
        let mut broker = Conn::connect(addr, config.clone())?;
        rpc::create_topic(&mut broker, &args.topic, args.queues)?;
    }
    loop {
        if let Some(route) = ns.route(&args.topic)? {
            let per_broker = route
                .queue_datas
                .iter()
                .filter(|q| q.write_queue_nums == args.queues && q.read_queue_nums == args.queues)
                .count();
            if per_broker >= masters.len() {
                return Ok(format!(
                    "topic {} ready: {} queues on {} broker(s) {}",
                    args.topic,
                    args.queues,
                    masters.len(),
                    masters.join(",")
                ));
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                request: format!("route of {} with {} queues", args.topic, args.queues),
                addr: args.namesrv.clone(),
                millis: (args.wait * 1000.0) as u128,
            });
        }
        std::thread::sleep(CALL_TIMEOUT.min(Duration::from_millis(200)));
    }
}

/// SIGINT/SIGTERM set the returned flag: the run ends and prints its summary.
pub fn stop_on_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Failing to install a handler only loses the graceful Ctrl-C.
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    stop
}

/// Sleeps until `until` or until `stop` is set, in short steps.
pub fn sleep_until(until: Instant, stop: &AtomicBool) {
    loop {
        let now = Instant::now();
        if now >= until || stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
}

/// The Java tool's two-letter short options (`-ak`, `-sk`) as long ones.
fn java_args() -> Vec<String> {
    std::env::args()
        .map(|a| match a.as_str() {
            "-ak" => "--accessKey".to_owned(),
            "-sk" => "--secretKey".to_owned(),
            _ => a,
        })
        .collect()
}

fn main() {
    let cli = Cli::parse_from(java_args());
    let r = match cli.cmd {
        Cmd::Producer(a) => producer::run(a),
        Cmd::Consumer(a) => consumer::run(a),
        Cmd::Topic(a) => create_topic(&a).map(|ready| println!("{ready}")),
        Cmd::Timer(a) => timer::run(a),
    };
    if let Err(e) = r {
        eprintln!("ringmq-bench: {e}");
        std::process::exit(1);
    }
}
