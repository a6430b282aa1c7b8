//! The benchmark consumer (Java 4.9.7 `example.benchmark.Consumer`): a
//! CLUSTERING push consumer of one group that owns every queue of the topic
//! (and of `%RETRY%<group>` once it exists).
//!
//! What it does on the wire, as the Java push consumer does: HEART_BEAT with
//! the subscriptions (every 30 s); per queue QUERY_CONSUMER_OFFSET, and
//! GET_MAX_OFFSET when the group has none (CONSUME_FROM_LAST_OFFSET); then
//! PULL_MESSAGE with SUSPEND (15 s long polling) and COMMIT_OFFSET, one pull
//! in flight per queue, the next one sent as soon as the previous answers;
//! UPDATE_CONSUMER_OFFSET oneway every 5 s and synchronously at the end;
//! CONSUMER_SEND_MSG_BACK for the `-r` share of messages "failed" by the
//! listener; UNREGISTER_CLIENT at the end.
//!
//! Queues are rebalanced over the consumer's threads (`--connections`, one
//! connection per broker each). The Java tool's `-w` is the size of its
//! listener pool; the listener here only reads two timestamps, so it runs on
//! the pulling thread and `-w` only caps the number of threads.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use ringmq_remoting::body::check_client::CheckClientRequestBody;
use ringmq_remoting::heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel, ProducerData,
    SubscriptionData,
};
use ringmq_remoting::message::{find_property, iter_stored_messages, property, PullSysFlag};
use ringmq_remoting::{
    ConsumerSendMsgBackRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    PullMessageRequestHeader, PullMessageResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, RemotingCommand, RequestCode, ResponseCode,
    UpdateConsumerOffsetRequestHeader,
};
use serde_json::json;

use crate::conn::{poll_responses, Conn, ConnConfig};
use crate::error::{Error, Result};
use crate::limits::{
    CALL_TIMEOUT, HEARTBEAT_INTERVAL, HISTOGRAM_HANDOVER, MAX_RECONSUME_TIMES,
    OFFSET_PERSIST_INTERVAL, POLL_TICK, PULL_BATCH, PULL_ERROR_PAUSE, PULL_SUSPEND, PULL_TIMEOUT,
    ROUTE_REFRESH_INTERVAL, ROUTE_RETRY_INTERVAL,
};
use crate::producer::{round3, CLIENT_INNER_PRODUCER};
use crate::rpc::{self, request, MessageQueue, NameServers};
use crate::stats::{
    self, new_histogram, now_millis, rate, record, ErrorLog, HistSink, Percentiles, SnapshotWindow,
};
use crate::{java_bool, sleep_until, stop_on_signal, CommonArgs};

#[derive(Args, Debug)]
pub struct ConsumerArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Listener threads in the Java tool (`threadCount`); here an upper
    /// bound on the pulling threads (see --connections).
    #[arg(short = 'w', long = "threadCount", default_value_t = 20)]
    pub threads: usize,
    /// Consumer group.
    #[arg(short = 'g', long = "group", default_value = "benchmark_consumer")]
    pub group: String,
    /// Append `_<now_ms % 100>` to the group (Java `-p true`).
    #[arg(short = 'p', long = "groupSuffix", value_parser = java_bool, action = clap::ArgAction::Set, default_value = "false")]
    pub suffix: bool,
    /// Filter type with -e: TAG or SQL92.
    #[arg(short = 'f', long = "filterType")]
    pub filter_type: Option<String>,
    /// File holding the filter expression (with -f).
    #[arg(short = 'e', long = "expression")]
    pub expression: Option<PathBuf>,
    /// Share of messages the listener fails (sent back for a retry).
    #[arg(short = 'r', long = "failRate", default_value_t = 0.0)]
    pub fail_rate: f64,
}

/// Counters in the Java tool's snapshot order, plus ours.
#[derive(Default)]
struct Counters {
    received: AtomicU64,
    b2c_total_ms: AtomicU64,
    s2c_total_ms: AtomicU64,
    failed: AtomicU64,
    b2c_max_ms: AtomicU64,
    s2c_max_ms: AtomicU64,
    pulls: AtomicU64,
    send_back_failed: AtomicU64,
    /// Wall time (µs since the Unix epoch) of the first consumed message.
    first_us: AtomicU64,
    /// Wall time (µs since the Unix epoch) of the last consumed message.
    last_us: AtomicU64,
}

const C_RECEIVED: usize = 0;
const C_B2C: usize = 1;
const C_S2C: usize = 2;
const C_FAILED: usize = 3;

impl Counters {
    fn snapshot(&self) -> Vec<u64> {
        [
            &self.received,
            &self.b2c_total_ms,
            &self.s2c_total_ms,
            &self.failed,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect()
    }
}

/// A subscription: the expression and its parsed tags.
#[derive(Debug, Clone)]
struct Subscription {
    data: SubscriptionData,
}

impl Subscription {
    fn tag(topic: &str, expr: &str, version: i64) -> Self {
        let expr = expr.trim();
        let (tags, codes): (Vec<String>, Vec<i32>) = if expr.is_empty() || expr == "*" {
            (Vec::new(), Vec::new())
        } else {
            expr.split("||")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| (t.to_owned(), java_hash(t)))
                .unzip()
        };
        Self {
            data: SubscriptionData {
                class_filter_mode: false,
                code_set: codes,
                expression_type: "TAG".into(),
                sub_string: if expr.is_empty() {
                    "*".into()
                } else {
                    expr.into()
                },
                sub_version: version,
                tags_set: tags,
                topic: topic.into(),
            },
        }
    }

    fn sql(topic: &str, expr: &str, version: i64) -> Self {
        Self {
            data: SubscriptionData {
                class_filter_mode: false,
                code_set: Vec::new(),
                expression_type: "SQL92".into(),
                sub_string: expr.trim().into(),
                sub_version: version,
                tags_set: Vec::new(),
                topic: topic.into(),
            },
        }
    }

    /// The client-side tag re-filter of the push consumer.
    fn accepts(&self, tags: Option<&str>) -> bool {
        if self.data.expression_type != "TAG" || self.data.tags_set.is_empty() {
            return true;
        }
        tags.is_some_and(|t| self.data.tags_set.iter().any(|s| s == t))
    }
}

/// Java `String.hashCode`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32))
}

/// The retry topic of a group.
fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}

/// What the I/O threads read.
struct Plan {
    group: String,
    client_id: String,
    heartbeat: HeartbeatData,
    /// Subscription by topic.
    subs: HashMap<String, Subscription>,
    fail_rate: f64,
    config: ConnConfig,
}

/// What the I/O threads and the reporter share.
struct Shared {
    stop: Arc<AtomicBool>,
    counters: Counters,
    /// Born-to-consume and store-to-consume, µs (millisecond resolution:
    /// the stored timestamps are milliseconds).
    hist: HistSink,
    errors: ErrorLog,
}

/// A queue handed to a thread.
struct Assignment {
    mq: MessageQueue,
    addr: String,
}

pub fn run(args: ConsumerArgs) -> Result<()> {
    let common = &args.common;
    common.check()?;
    if !(0.0..=1.0).contains(&args.fail_rate) {
        return Err(Error::Usage("-r must be within 0..=1".into()));
    }
    if args.threads == 0 {
        return Err(Error::Usage("-w must be at least 1".into()));
    }
    let group = if args.suffix {
        format!("{}_{}", args.group, now_millis() % 100)
    } else {
        args.group.clone()
    };
    let version = now_millis();
    let expression = match (&args.filter_type, &args.expression) {
        (Some(f), Some(path)) => Some((
            f.clone(),
            std::fs::read_to_string(path).map_err(|e| Error::Io {
                op: "read expression file",
                addr: path.display().to_string(),
                source: e,
            })?,
        )),
        _ => None,
    };
    if !common.json {
        println!(
            "topic: {}, threadCount {}, group: {}, suffix: {}, filterType: {}, expression: {}, msgTraceEnable: {}, aclEnable: {}",
            common.topic,
            args.threads,
            group,
            args.suffix,
            args.filter_type.as_deref().unwrap_or("null"),
            args.expression
                .as_ref()
                .map_or("null".to_owned(), |p| p.display().to_string()),
            common.trace,
            common.acl
        );
    }
    let main_sub = match &expression {
        None => Subscription::tag(&common.topic, "*", version),
        Some((f, expr)) if f == "TAG" => {
            if !common.json {
                println!("Expression: {expr}");
            }
            Subscription::tag(&common.topic, expr, version)
        }
        Some((f, expr)) if f == "SQL92" => {
            if !common.json {
                println!("Expression: {expr}");
            }
            Subscription::sql(&common.topic, expr, version)
        }
        Some((f, _)) => return Err(Error::Usage(format!("Not support filter type! {f}"))),
    };
    let retry = retry_topic(&group);
    let retry_sub = Subscription::tag(&retry, "*", version);

    let config = common.conn_config();
    let mut ns = NameServers::new(&common.namesrv, config.clone())?;
    let client_ip: IpAddr = ns.conn()?.local_addr().ip();
    let client_id = format!("{}@{}", client_ip, now_millis());
    let heartbeat = HeartbeatData {
        client_id: client_id.clone(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
            consume_type: ConsumeType::ConsumePassively,
            group_name: group.clone(),
            message_model: MessageModel::Clustering,
            subscription_data_set: vec![main_sub.data.clone(), retry_sub.data.clone()],
            unit_mode: false,
        }],
        heartbeat_fingerprint: None,
        producer_data_set: vec![ProducerData {
            group_name: CLIENT_INNER_PRODUCER.into(),
        }],
        without_sub: None,
    };
    let mut subs = HashMap::new();
    subs.insert(common.topic.clone(), main_sub.clone());
    subs.insert(retry.clone(), retry_sub);
    let plan = Arc::new(Plan {
        group: group.clone(),
        client_id,
        heartbeat,
        subs,
        fail_rate: args.fail_rate,
        config: config.clone(),
    });
    let shared = Arc::new(Shared {
        stop: stop_on_signal(),
        counters: Counters::default(),
        hist: HistSink::new(2),
        errors: ErrorLog::new(),
    });

    let start = Instant::now();
    let deadline = common.deadline(start);
    let threads = common.connections.min(args.threads);
    let mut senders: Vec<Sender<Assignment>> = Vec::with_capacity(threads);
    let mut handles = Vec::with_capacity(threads);
    let sql_checked = Arc::new(Mutex::new(Vec::<String>::new()));
    for i in 0..threads {
        let (tx, rx) = mpsc::channel();
        senders.push(tx);
        let (plan, shared, checked) = (plan.clone(), shared.clone(), sql_checked.clone());
        handles.push(
            std::thread::Builder::new()
                .name(format!("consumer-{i}"))
                .spawn(move || {
                    let mut t = PullLoop::new(plan, shared.clone(), rx, checked, i as u64);
                    let r = t.run();
                    t.close();
                    shared.hist.absorb(&mut t.hist);
                    r
                })
                .map_err(|e| Error::Io {
                    op: "spawn thread",
                    addr: String::new(),
                    source: e,
                })?,
        );
    }

    // Rebalance: every queue of the subscribed topics goes to the thread
    // holding the fewest (this process is the group's only member).
    let mut assigned: HashMap<MessageQueue, usize> = HashMap::new();
    let mut per_thread = vec![0usize; threads];
    let mut refresh =
        |ns: &mut NameServers, assigned: &mut HashMap<MessageQueue, usize>| -> Result<bool> {
            let mut found_main = false;
            for topic in [common.topic.as_str(), retry.as_str()] {
                let Some(route) = ns.route(topic)? else {
                    continue;
                };
                found_main |= topic == common.topic;
                for mq in rpc::read_queues(topic, &route) {
                    if assigned.contains_key(&mq) {
                        continue;
                    }
                    let addr = rpc::master_addr(&route, &mq.broker_name)
                        .expect("read_queues keeps queues with a master")
                        .to_owned();
                    let t = (0..threads).min_by_key(|t| per_thread[*t]).unwrap_or(0);
                    per_thread[t] += 1;
                    assigned.insert(mq.clone(), t);
                    // A thread that ended has reported why; nothing to hand it.
                    let _ = senders[t].send(Assignment { mq, addr });
                }
            }
            Ok(found_main)
        };

    let mut have_main = false;
    let mut next_route = start;
    let mut window = SnapshotWindow::new();
    let mut totals = vec![new_histogram(), new_histogram()];
    let cpu_start = stats::self_cpu();
    let mut last_print = (start, cpu_start);
    let mut tick: u32 = 1;
    loop {
        let now = Instant::now();
        if now >= next_route {
            match refresh(&mut ns, &mut assigned) {
                Ok(found) => {
                    if found && !have_main {
                        have_main = true;
                        if common.json {
                            println!(
                                "{}",
                                json!({"type": "started", "role": "consumer", "queues": assigned.len()})
                            );
                        } else {
                            println!("Consumer Started.");
                        }
                    }
                }
                Err(e) => shared.errors.note(format!("route lookup: {e}")),
            }
            next_route = now
                + if have_main {
                    ROUTE_REFRESH_INTERVAL
                } else {
                    ROUTE_RETRY_INTERVAL
                };
        }
        let next = start + Duration::from_secs(tick as u64);
        let until = deadline.map_or(next, |d| d.min(next)).min(next_route);
        sleep_until(until, &shared.stop);
        let now = Instant::now();
        if shared.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| now >= d)
            || handles.iter().all(|h| h.is_finished())
        {
            break;
        }
        if now < next {
            continue;
        }
        window.push(now, shared.counters.snapshot());
        if tick.is_multiple_of(10) {
            let h = shared.hist.take();
            for (t, i) in totals.iter_mut().zip(h.iter()) {
                t.add(i).expect("same bounds");
            }
            let cpu = stats::self_cpu();
            let cores = (cpu - last_print.1).as_secs_f64() / (now - last_print.0).as_secs_f64();
            last_print = (now, cpu);
            if window.full() {
                interval_report(common.json, &shared, &window, &h, cores);
            }
        }
        tick += 1;
    }
    let stopped = Instant::now();
    shared.stop.store(true, Ordering::Relaxed);
    drop(senders);
    let mut failure = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some(Error::Usage("a consumer thread panicked".into())),
        }
    }
    let end = Instant::now();
    let cpu = stats::self_cpu() - cpu_start;
    for (t, i) in totals.iter_mut().zip(shared.hist.take().iter()) {
        t.add(i).expect("same bounds");
    }
    summary(
        common.json,
        &shared,
        &totals,
        stopped - start,
        end - start,
        cpu,
        &common.topic,
        &group,
        threads,
    );
    for (what, n) in shared.errors.summary() {
        eprintln!("ringmq-bench: {n} x {what}");
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn interval_report(
    json: bool,
    shared: &Shared,
    window: &SnapshotWindow,
    h: &[Histogram<u64>],
    cores: f64,
) {
    let Some((begin, end)) = window.ends() else {
        return;
    };
    let c = &shared.counters;
    let tps = rate(begin, end, C_RECEIVED) as u64;
    let b2c = stats::mean(&begin.1, &end.1, C_B2C, C_RECEIVED);
    let s2c = stats::mean(&begin.1, &end.1, C_S2C, C_RECEIVED);
    let fail = end.1[C_FAILED] - begin.1[C_FAILED];
    // Java resets both maxima at each print.
    let b2c_max = c.b2c_max_ms.swap(0, Ordering::Relaxed);
    let s2c_max = c.s2c_max_ms.swap(0, Ordering::Relaxed);
    let (pb, ps) = (Percentiles::of(&h[0]), Percentiles::of(&h[1]));
    if json {
        println!(
            "{}",
            json!({
                "type": "interval", "role": "consumer", "time": now_millis(),
                "consume_tps": tps, "fail": fail,
                "b2c_avg_ms": round3(b2c), "s2c_avg_ms": round3(s2c),
                "b2c_max_ms": b2c_max, "s2c_max_ms": s2c_max,
                "b2c_p50_ms": pb.p50 / 1000, "b2c_p99_ms": pb.p99 / 1000,
                "b2c_p999_ms": pb.p999 / 1000,
                "s2c_p50_ms": ps.p50 / 1000, "s2c_p99_ms": ps.p99 / 1000,
                "s2c_p999_ms": ps.p999 / 1000, "tool_cores": round3(cores),
            })
        );
    } else {
        println!(
            "Current Time: {} TPS: {} FAIL: {} AVG(B2C) RT(ms): {:7.3} AVG(S2C) RT(ms): {:7.3} MAX(B2C) RT(ms): {} MAX(S2C) RT(ms): {} \
             | B2C p50/p99/p999/max(ms): {} S2C p50/p99/p999/max(ms): {} Tool CPU(cores): {:.3}",
            now_millis(),
            tps,
            fail,
            b2c,
            s2c,
            b2c_max,
            s2c_max,
            ms_text(&pb),
            ms_text(&ps),
            cores
        );
    }
}

/// Percentiles recorded at millisecond resolution, printed as integers.
fn ms_text(p: &Percentiles) -> String {
    format!(
        "{}/{}/{}/{}",
        p.p50 / 1000,
        p.p99 / 1000,
        p.p999 / 1000,
        p.max / 1000
    )
}

#[allow(clippy::too_many_arguments)]
fn summary(
    json: bool,
    shared: &Shared,
    totals: &[Histogram<u64>],
    running: Duration,
    wall: Duration,
    cpu: Duration,
    topic: &str,
    group: &str,
    threads: usize,
) {
    let c = &shared.counters;
    let n = c.received.load(Ordering::Relaxed);
    let mean = |t: &AtomicU64| {
        if n == 0 {
            0.0
        } else {
            t.load(Ordering::Relaxed) as f64 / n as f64
        }
    };
    let (b2c, s2c) = (mean(&c.b2c_total_ms), mean(&c.s2c_total_ms));
    // Rate over the time messages were flowing: from the first consumed
    // message to the last (the consumer may start before the producer and
    // outlive it).
    let (first, last) = (
        c.first_us.load(Ordering::Relaxed),
        c.last_us.load(Ordering::Relaxed),
    );
    let active = if n > 1 && last > first {
        (last - first) as f64 / 1e6
    } else {
        running.as_secs_f64()
    };
    let tps = if active > 0.0 { n as f64 / active } else { 0.0 };
    let (pb, ps) = (Percentiles::of(&totals[0]), Percentiles::of(&totals[1]));
    let cpu_s = cpu.as_secs_f64();
    let cores = cpu_s / wall.as_secs_f64().max(1e-9);
    let us_per_msg = if n > 0 { cpu_s * 1e6 / n as f64 } else { 0.0 };
    let failed = c.failed.load(Ordering::Relaxed);
    let send_back_failed = c.send_back_failed.load(Ordering::Relaxed);
    let pulls = c.pulls.load(Ordering::Relaxed);
    if json {
        println!(
            "{}",
            json!({
                "type": "summary", "role": "consumer", "topic": topic, "group": group,
                "connections": threads, "seconds": round3(running.as_secs_f64()),
                "active_seconds": round3(active), "consumed": n, "consume_tps": round3(tps),
                "fail": failed, "send_back_failed": send_back_failed, "pulls": pulls,
                "b2c_avg_ms": round3(b2c), "s2c_avg_ms": round3(s2c),
                "b2c_p50_ms": pb.p50 / 1000, "b2c_p99_ms": pb.p99 / 1000,
                "b2c_p999_ms": pb.p999 / 1000, "b2c_max_ms": pb.max / 1000,
                "s2c_p50_ms": ps.p50 / 1000, "s2c_p99_ms": ps.p99 / 1000,
                "s2c_p999_ms": ps.p999 / 1000, "s2c_max_ms": ps.max / 1000,
                "tool_cpu_s": round3(cpu_s), "tool_cores": round3(cores),
                "tool_cpu_us_per_msg": round3(us_per_msg),
            })
        );
        return;
    }
    println!(
        "[Complete] Consumed: {} TPS: {:.0} FAIL: {} AVG(B2C) RT(ms): {:7.3} AVG(S2C) RT(ms): {:7.3} MAX(B2C) RT(ms): {} MAX(S2C) RT(ms): {}",
        n,
        tps,
        failed,
        b2c,
        s2c,
        pb.max / 1000,
        ps.max / 1000
    );
    println!(
        "[Summary] Seconds: {:.3} (messages flowing {:.3}) Pulls: {} B2C p50/p99/p999/max(ms): {} S2C p50/p99/p999/max(ms): {} \
         Send-back failed: {} Tool CPU: {:.3} s = {:.3} cores = {:.2} us/msg",
        running.as_secs_f64(),
        active,
        pulls,
        ms_text(&pb),
        ms_text(&ps),
        send_back_failed,
        cpu_s,
        cores,
        us_per_msg
    );
}

/// Where a queue is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Needs its starting offset (QUERY_CONSUMER_OFFSET).
    NeedOffset,
    /// A set-up request is in flight.
    Resolving,
    /// Ready to pull (at `retry_at`, if set).
    Ready,
    /// A pull is in flight.
    Pulling,
}

struct QueueState {
    mq: MessageQueue,
    conn: usize,
    phase: Phase,
    /// Offset of the next pull.
    next: i64,
    /// Consumed offset (committed with the next pull and persisted).
    committed: i64,
    /// Last offset sent with UPDATE_CONSUMER_OFFSET.
    persisted: i64,
    retry_at: Option<Instant>,
}

/// What an in-flight request was.
#[derive(Debug, Clone, Copy)]
enum Pending {
    QueryOffset(usize),
    MaxOffset(usize),
    Pull(usize),
    SendBack,
    Heartbeat,
}

/// One pulling thread: its queues and its connections (one per broker).
struct PullLoop {
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    inbox: Receiver<Assignment>,
    sql_checked: Arc<Mutex<Vec<String>>>,
    conns: Vec<Conn>,
    conn_by_addr: HashMap<String, usize>,
    queues: Vec<QueueState>,
    pending: Vec<HashMap<i32, (Pending, Instant)>>,
    hist: Vec<Histogram<u64>>,
    rng: u64,
}

impl PullLoop {
    fn new(
        plan: Arc<Plan>,
        shared: Arc<Shared>,
        inbox: Receiver<Assignment>,
        sql_checked: Arc<Mutex<Vec<String>>>,
        seed: u64,
    ) -> Self {
        Self {
            plan,
            shared,
            inbox,
            sql_checked,
            conns: Vec::new(),
            conn_by_addr: HashMap::new(),
            queues: Vec::new(),
            pending: Vec::new(),
            hist: vec![new_histogram(), new_histogram()],
            rng: (stats::now_micros() as u64 ^ (seed << 32)) | 1,
        }
    }

    fn run(&mut self) -> Result<()> {
        let mut last_handover = Instant::now();
        let mut last_persist = Instant::now();
        let mut last_heartbeat = Instant::now();
        let mut last_scan = Instant::now();
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut arrived = Vec::new();
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            while let Ok(a) = self.inbox.try_recv() {
                self.adopt(a)?;
            }
            let now = Instant::now();
            for qi in 0..self.queues.len() {
                self.advance(qi, now)?;
            }
            if now - last_persist >= OFFSET_PERSIST_INTERVAL {
                self.persist_offsets()?;
                last_persist = now;
            }
            if now - last_heartbeat >= HEARTBEAT_INTERVAL {
                for ci in 0..self.conns.len() {
                    let opaque = self.conns[ci].next_opaque();
                    let mut cmd = rpc::heartbeat_request(&self.plan.heartbeat);
                    cmd.opaque = opaque;
                    self.conns[ci].queue(cmd)?;
                    self.pending[ci].insert(opaque, (Pending::Heartbeat, now));
                }
                last_heartbeat = now;
            }
            if now - last_scan >= Duration::from_millis(200) {
                self.expire(now);
                last_scan = now;
            }
            if now - last_handover >= HISTOGRAM_HANDOVER {
                self.shared.hist.absorb(&mut self.hist);
                last_handover = now;
            }
            for c in &mut self.conns {
                c.flush()?;
            }
            let mut timeout = POLL_TICK;
            for q in &self.queues {
                if let (Phase::Ready | Phase::NeedOffset, Some(t)) = (q.phase, q.retry_at) {
                    timeout = timeout.min(t.saturating_duration_since(now));
                }
            }
            poll_responses(&mut self.conns, &mut fds, timeout, &mut arrived)?;
            for (ci, resp) in arrived.drain(..) {
                self.on_response(ci, resp)?;
            }
        }
    }

    /// Takes a queue: connects to its broker if new (heartbeat first, and
    /// the SQL92 check the Java consumer does at start).
    fn adopt(&mut self, a: Assignment) -> Result<()> {
        let conn = match self.conn_by_addr.get(&a.addr) {
            Some(&i) => i,
            None => {
                let mut c = Conn::connect(&a.addr, self.plan.config.clone())?;
                rpc::heartbeat(&mut c, &self.plan.heartbeat)?;
                self.check_sql(&mut c)?;
                self.conns.push(c);
                self.pending.push(HashMap::new());
                self.conn_by_addr.insert(a.addr, self.conns.len() - 1);
                self.conns.len() - 1
            }
        };
        self.queues.push(QueueState {
            mq: a.mq,
            conn,
            phase: Phase::NeedOffset,
            next: 0,
            committed: 0,
            persisted: 0,
            retry_at: None,
        });
        Ok(())
    }

    /// CHECK_CLIENT_CONFIG for non-TAG subscriptions, once per broker.
    fn check_sql(&self, c: &mut Conn) -> Result<()> {
        for sub in self.plan.subs.values() {
            if sub.data.expression_type == "TAG" {
                continue;
            }
            let mut done = self.sql_checked.lock().unwrap_or_else(|e| e.into_inner());
            if done.iter().any(|a| a == c.addr()) {
                continue;
            }
            let body = CheckClientRequestBody {
                client_id: self.plan.client_id.clone(),
                group: self.plan.group.clone(),
                namespace: None,
                subscription_data: Some(sub.data.clone()),
            };
            let cmd = RemotingCommand::new_request(RequestCode::CheckClientConfig, 0)
                .with_body(body.encode());
            let resp = c.call(cmd, CALL_TIMEOUT)?;
            rpc::expect(
                &resp,
                RequestCode::CheckClientConfig,
                c.addr(),
                "SUCCESS",
                &[ResponseCode::Success],
            )?;
            done.push(c.addr().to_owned());
        }
        Ok(())
    }

    /// Sends what a queue needs next.
    fn advance(&mut self, qi: usize, now: Instant) -> Result<()> {
        let q = &self.queues[qi];
        if q.retry_at.is_some_and(|t| t > now) {
            return Ok(());
        }
        match q.phase {
            Phase::NeedOffset => {
                let h = QueryConsumerOffsetRequestHeader {
                    consumer_group: self.plan.group.clone(),
                    topic: q.mq.topic.clone(),
                    queue_id: q.mq.queue_id,
                    set_zero_if_not_found: None,
                    bname: Some(q.mq.broker_name.clone()),
                };
                self.send(
                    qi,
                    request(RequestCode::QueryConsumerOffset, &h),
                    Pending::QueryOffset(qi),
                    now,
                )?;
                self.queues[qi].phase = Phase::Resolving;
            }
            Phase::Ready => {
                let sub = &self.plan.subs[&q.mq.topic];
                let h = PullMessageRequestHeader {
                    consumer_group: self.plan.group.clone(),
                    topic: q.mq.topic.clone(),
                    queue_id: q.mq.queue_id,
                    queue_offset: q.next,
                    max_msg_nums: PULL_BATCH,
                    sys_flag: PullSysFlag::build(q.committed > 0, true, false, false, false),
                    commit_offset: q.committed,
                    suspend_timeout_millis: PULL_SUSPEND.as_millis() as i64,
                    subscription: None,
                    sub_version: sub.data.sub_version,
                    expression_type: Some(sub.data.expression_type.clone()),
                    bname: Some(q.mq.broker_name.clone()),
                    max_msg_bytes: None,
                };
                self.send(
                    qi,
                    request(RequestCode::PullMessage, &h),
                    Pending::Pull(qi),
                    now,
                )?;
                self.shared.counters.pulls.fetch_add(1, Ordering::Relaxed);
                self.queues[qi].phase = Phase::Pulling;
            }
            Phase::Resolving | Phase::Pulling => {}
        }
        Ok(())
    }

    fn send(
        &mut self,
        qi: usize,
        mut cmd: RemotingCommand,
        what: Pending,
        now: Instant,
    ) -> Result<()> {
        let ci = self.queues[qi].conn;
        let opaque = self.conns[ci].next_opaque();
        cmd.opaque = opaque;
        self.conns[ci].queue(cmd)?;
        self.pending[ci].insert(opaque, (what, now));
        Ok(())
    }

    fn on_response(&mut self, ci: usize, resp: RemotingCommand) -> Result<()> {
        let Some((what, _)) = self.pending[ci].remove(&resp.opaque) else {
            return Ok(());
        };
        let addr = self.conns[ci].addr().to_owned();
        let code = resp.response_code();
        match what {
            Pending::QueryOffset(qi) => {
                let q = &mut self.queues[qi];
                match code {
                    ResponseCode::Success => match resp.decode_header::<QueryConsumerOffsetResponseHeader>() {
                        Ok(h) => q.start_at(h.offset),
                        Err(e) => self.retry_later(qi, format!("QUERY_CONSUMER_OFFSET from {addr}: SUCCESS without offset ({e})")),
                    },
                    ResponseCode::QueryNotFound if q.mq.topic.starts_with("%RETRY%") => q.start_at(0),
                    ResponseCode::QueryNotFound => {
                        // CONSUME_FROM_LAST_OFFSET: start at the queue's end.
                        let h = GetMaxOffsetRequestHeader {
                            topic: q.mq.topic.clone(),
                            queue_id: q.mq.queue_id,
                            committed: None,
                            bname: Some(q.mq.broker_name.clone()),
                        };
                        self.send(qi, request(RequestCode::GetMaxOffset, &h), Pending::MaxOffset(qi), Instant::now())?;
                    }
                    _ => self.retry_later(
                        qi,
                        format!("QUERY_CONSUMER_OFFSET to {addr}: expected SUCCESS or QUERY_NOT_FOUND, got {code} (remark {:?})", resp.remark),
                    ),
                }
            }
            Pending::MaxOffset(qi) => match (code, resp.decode_header::<GetMaxOffsetResponseHeader>()) {
                (ResponseCode::Success, Ok(h)) => self.queues[qi].start_at(h.offset),
                _ => self.retry_later(
                    qi,
                    format!("GET_MAX_OFFSET to {addr}: expected SUCCESS with offset, got {code} (remark {:?})", resp.remark),
                ),
            },
            Pending::Pull(qi) => self.on_pull(qi, &addr, resp)?,
            Pending::SendBack => {
                if code != ResponseCode::Success {
                    self.shared.counters.send_back_failed.fetch_add(1, Ordering::Relaxed);
                    self.shared.errors.note(format!(
                        "CONSUMER_SEND_MSG_BACK to {addr}: expected SUCCESS, got {code} (remark {:?})",
                        resp.remark
                    ));
                }
            }
            Pending::Heartbeat => {
                if code != ResponseCode::Success {
                    self.shared.errors.note(format!(
                        "HEART_BEAT to {addr}: expected SUCCESS, got {code} (remark {:?})",
                        resp.remark
                    ));
                }
            }
        }
        Ok(())
    }

    fn retry_later(&mut self, qi: usize, what: String) {
        self.shared.errors.note(what);
        let q = &mut self.queues[qi];
        q.phase = match q.phase {
            Phase::Pulling => Phase::Ready,
            _ => Phase::NeedOffset,
        };
        q.retry_at = Some(Instant::now() + PULL_ERROR_PAUSE);
    }

    fn on_pull(&mut self, qi: usize, addr: &str, resp: RemotingCommand) -> Result<()> {
        let code = resp.response_code();
        let requested = self.queues[qi].next;
        let header = match code {
            ResponseCode::Success
            | ResponseCode::PullNotFound
            | ResponseCode::PullRetryImmediately
            | ResponseCode::PullOffsetMoved => resp.decode_header::<PullMessageResponseHeader>(),
            _ => {
                self.retry_later(
                    qi,
                    format!("PULL_MESSAGE to {addr}: expected SUCCESS or PULL_NOT_FOUND, got {code} (remark {:?})", resp.remark),
                );
                return Ok(());
            }
        };
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                self.retry_later(qi, format!("PULL_MESSAGE from {addr}: {code} without a usable PullMessageResponseHeader ({e})"));
                return Ok(());
            }
        };
        if code == ResponseCode::Success {
            self.consume(qi, addr, requested, &header, &resp.body)?;
        } else if code == ResponseCode::PullOffsetMoved {
            self.shared.errors.note(format!(
                "PULL_MESSAGE to {addr}: PULL_OFFSET_MOVED for {}:{} at offset {requested} (next {})",
                self.queues[qi].mq.topic, self.queues[qi].mq.queue_id, header.next_begin_offset
            ));
        }
        let q = &mut self.queues[qi];
        q.next = header.next_begin_offset;
        q.committed = header.next_begin_offset;
        q.phase = Phase::Ready;
        q.retry_at = None;
        Ok(())
    }

    /// The listener: counts each message and its born/store-to-consume
    /// latency, fails the `-r` share (sending it back), after the push
    /// consumer's client-side tag re-filter.
    fn consume(
        &mut self,
        qi: usize,
        addr: &str,
        requested: i64,
        header: &PullMessageResponseHeader,
        body: &[u8],
    ) -> Result<()> {
        let now_ms = now_millis();
        let (shared, plan) = (self.shared.clone(), self.plan.clone());
        let c = &shared.counters;
        let mq = self.queues[qi].mq.clone();
        let sub = &plan.subs[&mq.topic];
        let (mut n, mut b2c_total, mut s2c_total, mut b2c_max, mut s2c_max) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut expected_offset = requested;
        let mut send_back = Vec::new();
        let mut records = 0usize;
        for m in iter_stored_messages(body) {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    self.shared.errors.note(format!(
                        "PULL_MESSAGE from {addr}: undecodable record in the body of {}:{} ({e})",
                        mq.topic, mq.queue_id
                    ));
                    break;
                }
            };
            records += 1;
            if m.queue_id != mq.queue_id
                || m.queue_offset < expected_offset
                || m.queue_offset >= header.next_begin_offset
            {
                self.shared.errors.note(format!(
                    "PULL_MESSAGE from {addr}: record {}:{}@{} outside the pulled range {}:{}@{}..{}",
                    m.topic_str(),
                    m.queue_id,
                    m.queue_offset,
                    mq.topic,
                    mq.queue_id,
                    expected_offset,
                    header.next_begin_offset
                ));
            }
            expected_offset = m.queue_offset + 1;
            let props = m.properties_str();
            if !sub.accepts(find_property(&props, property::TAGS)) {
                continue;
            }
            let b2c = (now_ms - m.born_timestamp).max(0) as u64;
            let s2c = (now_ms - m.store_timestamp).max(0) as u64;
            n += 1;
            b2c_total += b2c;
            s2c_total += s2c;
            b2c_max = b2c_max.max(b2c);
            s2c_max = s2c_max.max(s2c);
            record(&mut self.hist[0], b2c * 1000);
            record(&mut self.hist[1], s2c * 1000);
            if self.plan.fail_rate > 0.0 && self.next_unit() < self.plan.fail_rate {
                c.failed.fetch_add(1, Ordering::Relaxed);
                let origin_topic = find_property(&props, property::RETRY_TOPIC)
                    .map_or_else(|| m.topic_str().into_owned(), str::to_owned);
                let origin_id = find_property(&props, property::UNIQ_KEY)
                    .map_or_else(|| m.offset_msg_id().encode(), str::to_owned);
                send_back.push(ConsumerSendMsgBackRequestHeader {
                    offset: m.physical_offset,
                    group: self.plan.group.clone(),
                    delay_level: 0,
                    origin_msg_id: Some(origin_id),
                    origin_topic: Some(origin_topic),
                    unit_mode: false,
                    max_reconsume_times: Some(MAX_RECONSUME_TIMES),
                    bname: Some(mq.broker_name.clone()),
                });
            }
        }
        if records == 0 {
            self.shared.errors.note(format!(
                "PULL_MESSAGE from {addr}: SUCCESS with no record for {}:{}@{requested}",
                mq.topic, mq.queue_id
            ));
        }
        if n > 0 {
            let now_us = stats::now_micros() as u64;
            let _ = c
                .first_us
                .compare_exchange(0, now_us, Ordering::Relaxed, Ordering::Relaxed);
            stats::raise(&c.last_us, now_us);
            c.received.fetch_add(n, Ordering::Relaxed);
            c.b2c_total_ms.fetch_add(b2c_total, Ordering::Relaxed);
            c.s2c_total_ms.fetch_add(s2c_total, Ordering::Relaxed);
            stats::raise(&c.b2c_max_ms, b2c_max);
            stats::raise(&c.s2c_max_ms, s2c_max);
        }
        let now = Instant::now();
        for h in send_back {
            self.send(
                qi,
                request(RequestCode::ConsumerSendMsgBack, &h),
                Pending::SendBack,
                now,
            )?;
        }
        Ok(())
    }

    fn next_unit(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    /// UPDATE_CONSUMER_OFFSET, oneway, for queues whose offset moved.
    fn persist_offsets(&mut self) -> Result<()> {
        for qi in 0..self.queues.len() {
            let q = &self.queues[qi];
            if q.committed == q.persisted || matches!(q.phase, Phase::NeedOffset | Phase::Resolving)
            {
                continue;
            }
            let cmd = request(RequestCode::UpdateConsumerOffset, &self.offset_header(qi));
            let ci = q.conn;
            self.conns[ci].send_oneway(cmd)?;
            self.queues[qi].persisted = self.queues[qi].committed;
        }
        Ok(())
    }

    fn offset_header(&self, qi: usize) -> UpdateConsumerOffsetRequestHeader {
        let q = &self.queues[qi];
        UpdateConsumerOffsetRequestHeader {
            consumer_group: self.plan.group.clone(),
            topic: q.mq.topic.clone(),
            queue_id: q.mq.queue_id,
            commit_offset: q.committed,
            bname: Some(q.mq.broker_name.clone()),
        }
    }

    /// Requests unanswered for too long: a pull after the long-poll hold
    /// plus margin ([`PULL_TIMEOUT`]), anything else after [`CALL_TIMEOUT`].
    fn expire(&mut self, now: Instant) {
        let mut late = Vec::new();
        for (ci, pending) in self.pending.iter_mut().enumerate() {
            pending.retain(|_, (what, sent)| {
                let limit = if matches!(what, Pending::Pull(_)) {
                    PULL_TIMEOUT
                } else {
                    CALL_TIMEOUT
                };
                let keep = now.duration_since(*sent) < limit;
                if !keep {
                    late.push((ci, *what, limit));
                }
                keep
            });
        }
        for (ci, what, limit) in late {
            let msg = format!(
                "{what:?} to {}: no response within {} ms",
                self.conns[ci].addr(),
                limit.as_millis()
            );
            match what {
                Pending::QueryOffset(qi) | Pending::MaxOffset(qi) | Pending::Pull(qi) => {
                    self.retry_later(qi, msg)
                }
                Pending::SendBack => {
                    self.shared
                        .counters
                        .send_back_failed
                        .fetch_add(1, Ordering::Relaxed);
                    self.shared.errors.note(msg);
                }
                Pending::Heartbeat => self.shared.errors.note(msg),
            }
        }
    }

    /// Persists every offset synchronously and leaves the group, as the
    /// Java consumer's shutdown does.
    fn close(&mut self) {
        for qi in 0..self.queues.len() {
            if matches!(self.queues[qi].phase, Phase::NeedOffset | Phase::Resolving) {
                continue;
            }
            let cmd = request(RequestCode::UpdateConsumerOffset, &self.offset_header(qi));
            let ci = self.queues[qi].conn;
            let r = self.conns[ci].call(cmd, CALL_TIMEOUT).and_then(|resp| {
                rpc::expect(
                    &resp,
                    RequestCode::UpdateConsumerOffset,
                    self.conns[ci].addr(),
                    "SUCCESS",
                    &[ResponseCode::Success],
                )
            });
            if let Err(e) = r {
                self.shared.errors.note(e.to_string());
            }
        }
        for c in &mut self.conns {
            if let Err(e) = rpc::unregister(c, &self.plan.client_id, None, Some(&self.plan.group)) {
                self.shared.errors.note(e.to_string());
            }
        }
    }
}

impl QueueState {
    fn start_at(&mut self, offset: i64) {
        self.next = offset;
        self.committed = offset;
        self.persisted = offset;
        self.phase = Phase::Ready;
        self.retry_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_subscription() {
        let s = Subscription::tag("T", " TagA || TagB ||", 1);
        assert_eq!(s.data.tags_set, ["TagA", "TagB"]);
        assert_eq!(s.data.code_set, [java_hash("TagA"), java_hash("TagB")]);
        assert!(s.accepts(Some("TagA")));
        assert!(!s.accepts(Some("TagC")));
        assert!(!s.accepts(None));
        let all = Subscription::tag("T", "*", 1);
        assert!(all.data.tags_set.is_empty());
        assert!(all.accepts(None));
        assert_eq!(java_hash("TagA"), 2598919);
    }
}
