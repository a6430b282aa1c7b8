//! `ringmq-bench timer`: arbitrary-time delivery (issue #5), measured from
//! outside the broker.
//!
//! * **Burst** (default): `--count` messages, all with `__STARTDELIVERTIME`
//!   = the same due time T, sent as fast as a window of `-w` pipelined sends
//!   allows; a pull consumer (long polling, one pull in flight per queue,
//!   started at each queue's end before the sends) records for every
//!   delivered message its **client lateness** (arrival of the pull response
//!   − T, µs) and its **broker lateness** (store timestamp of the delivered
//!   record − T, ms: the time the timer re-put it into its real queue). Each
//!   message carries its run id and sequence number as user properties, so
//!   the consumer counts early, missing and duplicate deliveries exactly.
//! * **Memory** (`--pending N`): N timers due `--ahead-days` from now; the
//!   broker's VmRSS and RssAnon (`/proc/<pid>/status`) before the sends and
//!   after the broker counts them all as pending (GET_BROKER_RUNTIME_INFO
//!   `timerPending`). `--plain` sends the same messages without a delivery
//!   time: the memory the stored messages cost anyway, to subtract.
//!
//! One thread sends (one connection per broker), another pulls; the main
//! thread only sets up and reports. Sending and the broker's runtime table
//! are here; `burst.rs` and `memory.rs` are the two modes.

mod burst;
mod memory;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use ringmq_remoting::body::kv_table::KVTable;
use ringmq_remoting::heartbeat::{HeartbeatData, ProducerData};
use ringmq_remoting::message::property;
use ringmq_remoting::{
    RemotingCommand, RequestCode, ResponseCode, SendMessageResponseHeader, SerializeType,
};

use crate::conn::{poll_responses, Conn, ConnConfig};
use crate::error::{Error, Result};
use crate::limits::{
    CALL_TIMEOUT, MAX_MESSAGE_SIZE, MAX_SENDERS, POLL_TICK, SEND_TIMEOUT, TIMER_MAX_COUNT,
    TIMER_WINDOW,
};
use crate::producer::{push_prop, PRODUCER_GROUP};
use crate::rpc::{self, MessageQueue, NameServers};
use crate::stats::{new_histogram, now_micros, now_millis, record, ErrorLog};
use crate::uniq::UniqKeys;
use crate::{create_topic, TopicArgs};

/// User property holding the run id (deliveries of other runs are ignored).
const RUN_PROPERTY: &str = "ringmqBenchTimerRun";
/// User property holding the message's sequence number in its run.
const SEQ_PROPERTY: &str = "ringmqBenchTimerSeq";
/// How often in-flight requests are checked against their timeout.
const TIMEOUT_SCAN: Duration = Duration::from_millis(100);

#[derive(Args, Debug)]
pub struct TimerArgs {
    /// Name server address list, `;`-separated.
    #[arg(short = 'n', long = "namesrvAddr", default_value = "127.0.0.1:9876")]
    pub namesrv: String,
    /// Topic (created, or updated, with --queues queues on every master).
    #[arg(short = 't', long = "topic", default_value = "TimerBench8")]
    pub topic: String,
    /// Read and write queues of the topic.
    #[arg(long, default_value_t = 8)]
    pub queues: i32,
    /// Body bytes.
    #[arg(short = 's', long = "messageSize", default_value_t = 1024)]
    pub size: usize,
    /// Sends in flight.
    #[arg(short = 'w', long = "window", default_value_t = TIMER_WINDOW)]
    pub window: usize,
    /// Burst: timers due at the same time.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Burst: the due time, in ms after the sends start. Default: 5 s plus
    /// 100 µs per message (room for sends at 10 000 msg/s).
    #[arg(long = "due-in-ms")]
    pub due_in_ms: Option<u64>,
    /// Burst: seconds after the due time to wait for the last delivery.
    #[arg(long, default_value_t = 60.0)]
    pub wait: f64,
    /// Burst: consumer group of the pulls.
    #[arg(short = 'g', long = "group", default_value = "timer_bench_consumer")]
    pub group: String,
    /// Memory mode: send this many timers due --ahead-days ahead and report
    /// the broker's RSS before and after.
    #[arg(long)]
    pub pending: Option<u64>,
    /// Memory mode: how far ahead the timers are due, in days (at most 40).
    #[arg(long = "ahead-days", default_value_t = 30.0)]
    pub ahead_days: f64,
    /// Memory mode: send the same messages without a delivery time (the
    /// baseline: what storing them costs without the timers).
    #[arg(long)]
    pub plain: bool,
    /// Memory mode: plain messages sent first, before the "before" reading,
    /// so caches that fill with any traffic (the tail cache) are full in
    /// both readings.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Memory mode: send in this many equal steps, reading the RSS after
    /// each (the report adds a least-squares slope over the readings).
    #[arg(long, default_value_t = 1)]
    pub steps: u64,
    /// Memory mode: the broker's pid (default: the process listening on the
    /// broker's port).
    #[arg(long = "broker-pid")]
    pub broker_pid: Option<u32>,
    /// One JSON object (the summary) instead of text.
    #[arg(long)]
    pub json: bool,
}

impl TimerArgs {
    fn check(&self) -> Result<()> {
        let n = self.pending.unwrap_or(self.count);
        if n == 0 || n > TIMER_MAX_COUNT {
            return Err(Error::Usage(format!(
                "--count / --pending must be 1..={TIMER_MAX_COUNT}"
            )));
        }
        if self.window == 0 || self.window > MAX_SENDERS {
            return Err(Error::Usage(format!("-w must be 1..={MAX_SENDERS}")));
        }
        if self.size > MAX_MESSAGE_SIZE {
            return Err(Error::Usage(format!(
                "-s must be at most {MAX_MESSAGE_SIZE}"
            )));
        }
        if !(self.ahead_days > 0.0 && self.ahead_days <= 40.0) {
            return Err(Error::Usage("--ahead-days must be within (0, 40]".into()));
        }
        if !(self.wait > 0.0 && self.wait.is_finite()) {
            return Err(Error::Usage("--wait must be a positive number".into()));
        }
        if (self.plain || self.warmup > 0 || self.steps != 1) && self.pending.is_none() {
            return Err(Error::Usage(
                "--plain, --warmup and --steps go with --pending".into(),
            ));
        }
        if self.steps == 0 {
            return Err(Error::Usage("--steps must be at least 1".into()));
        }
        if self.warmup > TIMER_MAX_COUNT {
            return Err(Error::Usage(format!(
                "--warmup must be at most {TIMER_MAX_COUNT}"
            )));
        }
        Ok(())
    }
}

pub fn run(args: TimerArgs) -> Result<()> {
    args.check()?;
    let ready = create_topic(&TopicArgs {
        namesrv: args.namesrv.clone(),
        topic: args.topic.clone(),
        queues: args.queues,
        wait: 30.0,
    })?;
    if !args.json {
        println!("{ready}");
    }
    let config = ConnConfig {
        serialize_type: SerializeType::RocketMq,
        acl: None,
    };
    let mut ns = NameServers::new(&args.namesrv, config.clone())?;
    let route = ns
        .route(&args.topic)?
        .ok_or_else(|| Error::Usage(format!("topic {}: no route", args.topic)))?;
    let target = Target::new(&route, rpc::write_queues(&args.topic, &route))?;
    let read = Target::new(&route, rpc::read_queues(&args.topic, &route))?;
    match args.pending {
        Some(n) => memory::run(&args, n, &target, &config),
        None => burst::run(&args, &target, &read, &config),
    }
}

/// Queues and the broker (connection index) of each.
struct Target {
    queues: Vec<MessageQueue>,
    queue_conn: Vec<usize>,
    addrs: Vec<String>,
}

impl Target {
    fn new(
        route: &ringmq_remoting::body::route_data::TopicRouteData,
        queues: Vec<MessageQueue>,
    ) -> Result<Self> {
        if queues.is_empty() {
            return Err(Error::Usage(
                "the topic has no usable queue on a master".into(),
            ));
        }
        let mut addrs: Vec<String> = Vec::new();
        let mut queue_conn = Vec::with_capacity(queues.len());
        for q in &queues {
            let addr = rpc::master_addr(route, &q.broker_name)
                .expect("write_queues and read_queues keep queues with a master");
            let i = match addrs.iter().position(|a| a == addr) {
                Some(i) => i,
                None => {
                    addrs.push(addr.to_owned());
                    addrs.len() - 1
                }
            };
            queue_conn.push(i);
        }
        Ok(Self {
            queues,
            queue_conn,
            addrs,
        })
    }

    fn connect(&self, config: &ConnConfig, heartbeat: &HeartbeatData) -> Result<Vec<Conn>> {
        self.addrs
            .iter()
            .map(|a| {
                let mut c = Conn::connect(a, config.clone())?;
                rpc::heartbeat(&mut c, heartbeat)?;
                Ok(c)
            })
            .collect()
    }
}

/// When each message is due.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// The same absolute time (ms) for all.
    At(i64),
    /// This many ms after its send.
    Ahead(i64),
    /// No delivery time (`--plain`).
    Never,
}

/// What one run of sends did.
struct SendOutcome {
    ok: u64,
    failed: u64,
    /// From the first send to the last answer.
    elapsed: Duration,
    /// Wall clock (ms) of the last answer.
    last_answer_ms: i64,
    rt: Histogram<u64>,
}

/// Sends `count` messages round-robin over the queues, `window` in flight,
/// no retries (a failed send is counted and noted).
#[allow(clippy::too_many_arguments)]
fn send_all(
    conns: &mut [Conn],
    target: &Target,
    topic: &str,
    count: u64,
    window: usize,
    body: &Bytes,
    run_id: &str,
    due: Due,
    errors: &ErrorLog,
    stop: &AtomicBool,
) -> Result<SendOutcome> {
    let client_ip = conns[0].local_addr().ip();
    let mut uniq = UniqKeys::new(client_ip, std::process::id() ^ (now_micros() as u32));
    let mut key = String::with_capacity(64);
    let mut pending: Vec<HashMap<i32, Instant>> = conns.iter().map(|_| HashMap::new()).collect();
    let mut fds: Vec<libc::pollfd> = Vec::with_capacity(conns.len());
    let mut arrived = Vec::new();
    let mut rt = new_histogram();
    let (mut ok, mut failed, mut next, mut in_flight) = (0u64, 0u64, 0u64, 0usize);
    let start = Instant::now();
    let mut last_answer = (start, now_millis());
    let mut last_scan = start;
    loop {
        while in_flight < window && next < count && !stop.load(Ordering::Relaxed) {
            let qi = (next % target.queues.len() as u64) as usize;
            let ci = target.queue_conn[qi];
            if conns[ci].write_backlogged() {
                break;
            }
            let mq = &target.queues[qi];
            let born = now_millis();
            uniq.next_into(&mut key);
            let mut props = String::with_capacity(160);
            push_prop(&mut props, property::UNIQ_KEY, &key);
            push_prop(&mut props, property::WAIT, "true");
            match due {
                Due::At(t) => push_prop(&mut props, property::START_DELIVER_TIME, &t.to_string()),
                Due::Ahead(ms) => push_prop(
                    &mut props,
                    property::START_DELIVER_TIME,
                    &(born + ms).to_string(),
                ),
                Due::Never => {}
            }
            push_prop(&mut props, RUN_PROPERTY, run_id);
            push_prop(&mut props, SEQ_PROPERTY, &next.to_string());
            let header = rpc::send_header(PRODUCER_GROUP, topic, mq, born, props);
            let opaque = conns[ci].next_opaque();
            let mut cmd = RemotingCommand::new_request(RequestCode::SendMessageV2, opaque);
            header.to_v2_ext_fields(cmd.ext_fields_mut());
            cmd.body = body.clone();
            conns[ci].queue(cmd)?;
            pending[ci].insert(opaque, Instant::now());
            in_flight += 1;
            next += 1;
        }
        if in_flight == 0 && (next >= count || stop.load(Ordering::Relaxed)) {
            break;
        }
        for c in conns.iter_mut() {
            c.flush()?;
        }
        let now = Instant::now();
        if now - last_scan >= TIMEOUT_SCAN {
            last_scan = now;
            for (ci, p) in pending.iter_mut().enumerate() {
                let before = p.len();
                p.retain(|_, sent| now.duration_since(*sent) < SEND_TIMEOUT);
                let expired = before - p.len();
                if expired > 0 {
                    in_flight -= expired;
                    failed += expired as u64;
                    errors.note(format!(
                        "SEND_MESSAGE_V2 to {}: no response within {} ms",
                        conns[ci].addr(),
                        SEND_TIMEOUT.as_millis()
                    ));
                }
            }
        }
        poll_responses(conns, &mut fds, POLL_TICK, &mut arrived)?;
        for (ci, resp) in arrived.drain(..) {
            let Some(sent) = pending[ci].remove(&resp.opaque) else {
                continue;
            };
            in_flight -= 1;
            let now = Instant::now();
            last_answer = (now, now_millis());
            let code = resp.response_code();
            let good = matches!(
                code,
                ResponseCode::Success
                    | ResponseCode::FlushDiskTimeout
                    | ResponseCode::FlushSlaveTimeout
                    | ResponseCode::SlaveNotAvailable
            ) && resp.decode_header::<SendMessageResponseHeader>().is_ok();
            if good {
                ok += 1;
                record(&mut rt, now.duration_since(sent).as_micros() as u64);
            } else {
                failed += 1;
                errors.note(format!(
                    "SEND_MESSAGE_V2 to {}: expected SUCCESS with a SendMessageResponseHeader, got {code} (remark {:?})",
                    conns[ci].addr(),
                    resp.remark
                ));
            }
        }
    }
    Ok(SendOutcome {
        ok,
        failed,
        elapsed: last_answer.0.duration_since(start),
        last_answer_ms: last_answer.1,
        rt,
    })
}

/// A producer-only heartbeat (the broker learns the producer group).
fn producer_heartbeat(client_id: &str) -> HeartbeatData {
    HeartbeatData {
        client_id: client_id.to_owned(),
        consumer_data_set: Vec::new(),
        heartbeat_fingerprint: None,
        producer_data_set: vec![ProducerData {
            group_name: PRODUCER_GROUP.into(),
        }],
        without_sub: None,
    }
}

/// GET_BROKER_RUNTIME_INFO: the broker's key/value status table.
fn runtime_info(conn: &mut Conn) -> Result<KVTable> {
    let code = RequestCode::GetBrokerRuntimeInfo;
    let resp = conn.call(RemotingCommand::new_request(code, 0), CALL_TIMEOUT)?;
    rpc::expect(
        &resp,
        code,
        conn.addr(),
        "SUCCESS",
        &[ResponseCode::Success],
    )?;
    KVTable::decode(&resp.body).map_err(|source| Error::Header {
        request: code.to_string(),
        addr: conn.addr().to_owned(),
        source,
    })
}

/// A numeric entry of the runtime table (ringmq's `timerPending`,
/// `timerDelivered`, `tailCacheBytes`); `None` if the broker has none.
fn kv_u64(t: &KVTable, key: &str) -> Option<u64> {
    t.table.get(key).and_then(|v| v.trim().parse().ok())
}

/// Both brokers' sums of a runtime counter, `None` if any lacks it.
fn runtime_sum(conns: &mut [Conn], key: &str) -> Result<Option<u64>> {
    let mut sum = 0;
    for c in conns {
        match kv_u64(&runtime_info(c)?, key) {
            Some(v) => sum += v,
            None => return Ok(None),
        }
    }
    Ok(Some(sum))
}
