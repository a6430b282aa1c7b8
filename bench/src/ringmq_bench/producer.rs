//! The benchmark producer (Java 4.9.7 `example.benchmark.Producer`).
//!
//! Java runs `-w` threads, each sending one message synchronously and then
//! the next. Here the `-w` senders are slots of an event loop: a slot sends,
//! waits for its response (matched by opaque) and sends again, so `-w 64`
//! keeps 64 sends in flight on the connection(s) exactly like 64 blocking
//! threads, without 64 thread wake-ups per round trip. Queues are taken
//! round-robin over the topic's write queues (the Java client's default
//! `selectOneMessageQueue`). Each send is a SEND_MESSAGE_V2 with the
//! properties a Java client sets (UNIQ_KEY, WAIT=true, and KEYS / TAGS /
//! DELAY when asked). No client-side retries: every failed send is counted.
//!
//! Counters follow the Java tool: "Send Failed" counts remoting errors
//! (timeouts, broken connections), "Response Failed" counts error codes from
//! the broker (with `-y true`, Java reports both as "Send Failed"). After a
//! failure a synchronous sender pauses 3 s, as the Java sender thread does.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use hdrhistogram::Histogram;
use ringmq_remoting::body::route_data::TopicRouteData;
use ringmq_remoting::heartbeat::{HeartbeatData, ProducerData};
use ringmq_remoting::message::property;
use ringmq_remoting::{RemotingCommand, RequestCode, ResponseCode, SendMessageResponseHeader};
use serde_json::json;

use crate::conn::{poll_responses, Conn};
use crate::error::{Error, Result};
use crate::limits::{
    ASYNC_MAX_IN_FLIGHT, DRAIN_TIMEOUT, HISTOGRAM_HANDOVER, MAX_MESSAGE_SIZE, MAX_SENDERS,
    POLL_TICK, SEND_FAILURE_PAUSE, SEND_TIMEOUT,
};
use crate::rpc::{self, MessageQueue, NameServers, DEFAULT_TOPIC, DEFAULT_TOPIC_QUEUE_NUMS};
use crate::stats::{
    self, new_histogram, now_millis, rate, record, ErrorLog, HistSink, Percentiles, SnapshotWindow,
};
use crate::uniq::UniqKeys;
use crate::{java_bool, sleep_until, stop_on_signal, CommonArgs};

/// The producer group of the Java benchmark.
pub const PRODUCER_GROUP: &str = "benchmark_producer";
/// The producer group every Java client instance also registers.
pub const CLIENT_INNER_PRODUCER: &str = "CLIENT_INNER_PRODUCER";
/// A paced sender more than this far behind its schedule restarts the
/// schedule instead of bursting to catch up.
const PACE_MAX_LAG: Duration = Duration::from_millis(100);
/// How often in-flight sends are checked against [`SEND_TIMEOUT`].
const TIMEOUT_SCAN: Duration = Duration::from_millis(100);

#[derive(Args, Debug)]
pub struct ProducerArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Concurrent senders, each with one synchronous send in flight
    /// (`threadCount`; 1 with `-y true`).
    #[arg(short = 'w', long = "threadCount", default_value_t = 64)]
    pub threads: usize,
    /// Body bytes (`messageSize`).
    #[arg(short = 's', long = "messageSize", default_value_t = 128)]
    pub size: usize,
    /// KEYS = send time in seconds (`keyEnable`).
    #[arg(short = 'k', long = "keyEnable", value_parser = java_bool, action = clap::ArgAction::Set, default_value = "false")]
    pub keys: bool,
    /// User properties of about this many bytes (`propertySize`).
    #[arg(short = 'p', long = "propertySize", default_value_t = 0)]
    pub property_size: usize,
    /// TAGS = "tag<now_ms % tagCount>" (`tagCount`; 0 = no tag).
    #[arg(short = 'l', long = "tagCount", default_value_t = 0)]
    pub tag_count: u64,
    /// Messages to send, then stop (`messageQuantity`; 0 = no limit).
    #[arg(short = 'q', long = "messageQuantity", default_value_t = 0)]
    pub quantity: u64,
    /// Delayed messages (`delayEnable`).
    #[arg(short = 'd', long = "delayEnable", value_parser = java_bool, action = clap::ArgAction::Set, default_value = "false")]
    pub delay: bool,
    /// Delay level with `-d true` (`delayLevel`).
    #[arg(short = 'e', long = "delayLevel", default_value_t = 1)]
    pub delay_level: i32,
    /// Asynchronous sends (`asyncEnable`): one sender that does not wait,
    /// up to 10 000 sends in flight.
    #[arg(short = 'y', long = "asyncEnable", value_parser = java_bool, action = clap::ArgAction::Set, default_value = "false")]
    pub async_send: bool,
    /// Send at most this many messages per second in total (paced evenly);
    /// for latency at a given load. Default: as fast as the senders go.
    #[arg(long)]
    pub tps: Option<f64>,
}

/// Counters in the Java tool's snapshot order.
#[derive(Default)]
struct Counters {
    send_ok: AtomicU64,
    send_failed: AtomicU64,
    resp_ok: AtomicU64,
    resp_failed: AtomicU64,
    rt_total_us: AtomicU64,
    max_rt_us: AtomicU64,
}

const C_SEND_FAILED: usize = 1;
const C_RESP_OK: usize = 2;
const C_RESP_FAILED: usize = 3;
const C_RT_TOTAL: usize = 4;

impl Counters {
    fn snapshot(&self) -> Vec<u64> {
        [
            &self.send_ok,
            &self.send_failed,
            &self.resp_ok,
            &self.resp_failed,
            &self.rt_total_us,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect()
    }
}

/// What every I/O thread reads.
struct Plan {
    topic: String,
    queues: Vec<MessageQueue>,
    /// Broker (connection) index of each queue.
    queue_broker: Vec<usize>,
    body: Bytes,
    keys: bool,
    property_size: usize,
    tag_count: u64,
    delay_level: Option<i32>,
    async_send: bool,
    client_ip: IpAddr,
}

/// What the I/O threads and the reporter share.
struct Shared {
    stop: Arc<AtomicBool>,
    /// Sends left with `-q`.
    budget: Option<AtomicU64>,
    counters: Counters,
    hist: HistSink,
    errors: ErrorLog,
    /// When the last I/O thread finished on its own (`-q` reached), µs
    /// after the start; 0 while any is running.
    done_us: AtomicU64,
}

impl Shared {
    /// Takes one send from the `-q` budget; false when it is used up.
    fn take_budget(&self) -> bool {
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

pub fn run(args: ProducerArgs) -> Result<()> {
    let common = &args.common;
    common.check()?;
    let senders = if args.async_send { 1 } else { args.threads };
    if senders == 0 || senders > MAX_SENDERS {
        return Err(Error::Usage(format!("-w must be 1..={MAX_SENDERS}")));
    }
    if args.size > MAX_MESSAGE_SIZE {
        return Err(Error::Usage(format!(
            "-s must be at most {MAX_MESSAGE_SIZE}"
        )));
    }
    if let Some(t) = args.tps {
        if !(t > 0.0 && t.is_finite()) {
            return Err(Error::Usage("--tps must be a positive number".into()));
        }
    }
    if !common.json {
        println!(
            "topic: {} threadCount: {} messageSize: {} keyEnable: {} propertySize: {} tagCount: {} \
             traceEnable: {} aclEnable: {} messageQuantity: {}\ndelayEnable: {} delayLevel: {}\nasyncEnable: {}",
            common.topic,
            senders,
            args.size,
            args.keys,
            args.property_size,
            args.tag_count,
            common.trace,
            common.acl,
            args.quantity,
            args.delay,
            args.delay_level,
            args.async_send
        );
    }

    // Route: the topic's own, or the auto-create template's (the Java
    // client then sends to TBW102's brokers and the broker creates the topic).
    let config = common.conn_config();
    let mut ns = NameServers::new(&common.namesrv, config.clone())?;
    let (route, queues) = match ns.route(&common.topic)? {
        Some(route) => {
            let q = rpc::write_queues(&common.topic, &route);
            (route, q)
        }
        None => auto_create_route(&mut ns, &common.topic)?,
    };
    if queues.is_empty() {
        return Err(Error::Usage(format!(
            "topic {}: the route has no writable queue on a master",
            common.topic
        )));
    }
    let client_ip = ns.conn()?.local_addr().ip();
    let mut brokers: Vec<String> = Vec::new();
    let mut queue_broker = Vec::with_capacity(queues.len());
    for q in &queues {
        let addr = rpc::master_addr(&route, &q.broker_name)
            .expect("write_queues keeps queues with a master")
            .to_owned();
        let idx = match brokers.iter().position(|b| *b == addr) {
            Some(i) => i,
            None => {
                brokers.push(addr);
                brokers.len() - 1
            }
        };
        queue_broker.push(idx);
    }

    let client_id = format!("{}@{}", client_ip, now_millis());
    let heartbeat = HeartbeatData {
        client_id: client_id.clone(),
        consumer_data_set: Vec::new(),
        heartbeat_fingerprint: None,
        producer_data_set: vec![
            ProducerData {
                group_name: CLIENT_INNER_PRODUCER.into(),
            },
            ProducerData {
                group_name: PRODUCER_GROUP.into(),
            },
        ],
        without_sub: None,
    };

    let slots = if args.async_send {
        ASYNC_MAX_IN_FLIGHT
    } else {
        senders
    };
    let threads = common.connections.min(slots);
    let mut thread_conns = Vec::with_capacity(threads);
    for _ in 0..threads {
        let mut conns = Vec::with_capacity(brokers.len());
        for addr in &brokers {
            let mut c = Conn::connect(addr, config.clone())?;
            rpc::heartbeat(&mut c, &heartbeat)?;
            conns.push(c);
        }
        thread_conns.push(conns);
    }

    let plan = Arc::new(Plan {
        topic: common.topic.clone(),
        queues,
        queue_broker,
        body: Bytes::from(random_alphanumeric(args.size)),
        keys: args.keys,
        property_size: args.property_size,
        tag_count: args.tag_count,
        delay_level: args.delay.then_some(args.delay_level),
        async_send: args.async_send,
        client_ip,
    });
    let shared = Arc::new(Shared {
        stop: stop_on_signal(),
        budget: (args.quantity > 0).then(|| AtomicU64::new(args.quantity)),
        counters: Counters::default(),
        hist: HistSink::new(1),
        errors: ErrorLog::new(),
        done_us: AtomicU64::new(0),
    });

    let start = Instant::now();
    let cpu_start = stats::self_cpu();
    let mut handles = Vec::with_capacity(threads);
    for (i, conns) in thread_conns.into_iter().enumerate() {
        let my_slots = slots / threads + usize::from(i < slots % threads);
        let pace = args
            .tps
            .map(|t| Duration::from_secs_f64(threads as f64 / t));
        let (plan, shared, client_id) = (plan.clone(), shared.clone(), client_id.clone());
        let salt = start.elapsed().subsec_nanos() ^ (std::process::id() << 8) ^ i as u32;
        handles.push(
            std::thread::Builder::new()
                .name(format!("producer-{i}"))
                .spawn(move || {
                    let mut t =
                        SenderLoop::new(i, conns, plan, shared.clone(), my_slots, pace, salt);
                    let r = t.run();
                    stats::raise(&shared.done_us, start.elapsed().as_micros() as u64);
                    t.close(&client_id);
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

    let report = Reporter {
        json: common.json,
        shared: &shared,
    };
    let deadline = common.deadline(start);
    let mut window = SnapshotWindow::new();
    let mut total = new_histogram();
    let mut last_print = (start, cpu_start);
    let mut tick: u32 = 1;
    loop {
        let next = start + Duration::from_secs(tick as u64);
        let until = deadline.map_or(next, |d| d.min(next));
        wait(until, &shared.stop, &handles);
        let now = Instant::now();
        if shared.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| now >= d)
            || handles.iter().all(|h| h.is_finished())
        {
            break;
        }
        window.push(now, shared.counters.snapshot());
        if tick.is_multiple_of(10) {
            let h = shared.hist.take().remove(0);
            total.add(&h).expect("same bounds");
            let cpu = stats::self_cpu();
            let cores = (cpu - last_print.1).as_secs_f64() / (now - last_print.0).as_secs_f64();
            last_print = (now, cpu);
            if window.full() {
                report.interval(&window, &h, cores);
            }
        }
        tick += 1;
    }
    let mut stopped = Instant::now();
    if handles.iter().all(|h| h.is_finished()) {
        // Every thread ended by itself (-q): the run ended with the last one.
        stopped = start + Duration::from_micros(shared.done_us.load(Ordering::Relaxed));
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut failure = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(_) => failure = Some(Error::Usage("a producer thread panicked".into())),
        }
    }
    let end = Instant::now();
    let cpu = stats::self_cpu() - cpu_start;
    total.add(&shared.hist.take()[0]).expect("same bounds");
    window.push(end, shared.counters.snapshot());
    report.summary(
        &window,
        &total,
        stopped - start,
        end - start,
        cpu,
        &args,
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

/// Sleeps until `until`, a stop request, or every thread having ended.
fn wait(until: Instant, stop: &AtomicBool, handles: &[std::thread::JoinHandle<Result<()>>]) {
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) || handles.iter().all(|h| h.is_finished()) {
            return;
        }
        sleep_until(until.min(Instant::now() + Duration::from_millis(100)), stop);
    }
}

/// Java's fallback when the topic has no route: send to the brokers of the
/// template topic with `min(defaultTopicQueueNums, its queues)` queues.
fn auto_create_route(
    ns: &mut NameServers,
    topic: &str,
) -> Result<(TopicRouteData, Vec<MessageQueue>)> {
    let route = ns.route(DEFAULT_TOPIC)?.ok_or_else(|| {
        Error::Usage(format!(
            "no route for topic {topic} nor for the auto-create template {DEFAULT_TOPIC}: create the topic first"
        ))
    })?;
    let mut queues = Vec::new();
    for q in rpc::write_queues(DEFAULT_TOPIC, &route) {
        let per_broker = route
            .queue_datas
            .iter()
            .find(|d| d.broker_name == q.broker_name)
            .map_or(0, |d| d.write_queue_nums.min(DEFAULT_TOPIC_QUEUE_NUMS));
        if q.queue_id < per_broker {
            queues.push(MessageQueue {
                topic: topic.to_owned(),
                ..q
            });
        }
    }
    Ok((route, queues))
}

/// `n` random ASCII letters and digits (the Java tool's body).
pub(crate) fn random_alphanumeric(n: usize) -> Vec<u8> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = (stats::now_micros() as u64) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            CHARS[(x % CHARS.len() as u64) as usize]
        })
        .collect()
}

/// One I/O thread: its connections (one per broker) and its sender slots.
struct SenderLoop {
    index: usize,
    conns: Vec<Conn>,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    /// Send time of each in-flight request, per connection, by opaque.
    pending: Vec<HashMap<i32, Instant>>,
    in_flight: usize,
    idle: usize,
    /// Slots pausing after a failure, with their wake-up time (FIFO: every
    /// pause has the same length).
    paused: VecDeque<Instant>,
    pace: Option<Duration>,
    next_send: Instant,
    rr: usize,
    uniq: UniqKeys,
    hist: Vec<Histogram<u64>>,
    key_buf: String,
}

impl SenderLoop {
    fn new(
        index: usize,
        conns: Vec<Conn>,
        plan: Arc<Plan>,
        shared: Arc<Shared>,
        slots: usize,
        pace: Option<Duration>,
        salt: u32,
    ) -> Self {
        let uniq = UniqKeys::new(plan.client_ip, salt);
        Self {
            index,
            pending: conns
                .iter()
                .map(|_| HashMap::with_capacity(slots))
                .collect(),
            conns,
            rr: index * 7,
            plan,
            shared,
            in_flight: 0,
            idle: slots,
            paused: VecDeque::new(),
            pace,
            next_send: Instant::now(),
            uniq,
            hist: vec![new_histogram()],
            key_buf: String::with_capacity(64),
        }
    }

    fn run(&mut self) -> Result<()> {
        let mut drain_until: Option<Instant> = None;
        let mut budget_done = false;
        let mut last_handover = Instant::now();
        let mut last_scan = Instant::now();
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(self.conns.len());
        let mut arrived = Vec::new();
        loop {
            let now = Instant::now();
            if drain_until.is_none() && (self.shared.stop.load(Ordering::Relaxed) || budget_done) {
                drain_until = Some(now + DRAIN_TIMEOUT);
            }
            if let Some(d) = drain_until {
                if self.in_flight == 0 || now >= d {
                    return Ok(());
                }
            }
            while self.paused.front().is_some_and(|t| *t <= now) {
                self.paused.pop_front();
                self.idle += 1;
            }
            if drain_until.is_none() {
                budget_done = !self.send_ready(now)?;
            }
            for c in &mut self.conns {
                c.flush()?;
            }
            if now - last_scan >= TIMEOUT_SCAN {
                self.expire(now);
                last_scan = now;
            }
            if now - last_handover >= HISTOGRAM_HANDOVER {
                self.shared.hist.absorb(&mut self.hist);
                last_handover = now;
            }

            let mut timeout = POLL_TICK;
            if self.idle > 0 && self.pace.is_some() && drain_until.is_none() {
                timeout = timeout.min(self.next_send.saturating_duration_since(now));
            }
            if let Some(t) = self.paused.front() {
                timeout = timeout.min(t.saturating_duration_since(now));
            }
            poll_responses(&mut self.conns, &mut fds, timeout, &mut arrived)?;
            for (i, resp) in arrived.drain(..) {
                self.on_response(i, resp);
            }
        }
    }

    /// Lets every idle slot send (subject to `--tps` and `-q`). Returns
    /// false once the `-q` budget is used up.
    fn send_ready(&mut self, now: Instant) -> Result<bool> {
        while self.idle > 0 {
            let qi = self.rr % self.plan.queues.len();
            let b = self.plan.queue_broker[qi];
            if self.conns[b].write_backlogged() {
                break;
            }
            if self.pace.is_some() && now < self.next_send {
                break;
            }
            if !self.shared.take_budget() {
                return Ok(false);
            }
            if let Some(p) = self.pace {
                self.next_send += p;
                if self.next_send + PACE_MAX_LAG < now {
                    self.next_send = now;
                }
            }
            self.rr = self.rr.wrapping_add(1);
            let opaque = self.conns[b].next_opaque();
            let cmd = self.build(qi, opaque);
            self.conns[b].queue(cmd)?;
            self.pending[b].insert(opaque, Instant::now());
            self.in_flight += 1;
            self.idle -= 1;
        }
        Ok(true)
    }

    /// The SEND_MESSAGE_V2 request for queue `qi`.
    fn build(&mut self, qi: usize, opaque: i32) -> RemotingCommand {
        let plan = &*self.plan;
        let mq = &plan.queues[qi];
        let born = now_millis();
        self.uniq.next_into(&mut self.key_buf);
        let mut props = String::with_capacity(96 + plan.property_size);
        push_prop(&mut props, property::UNIQ_KEY, &self.key_buf);
        push_prop(&mut props, property::WAIT, "true");
        if plan.keys {
            push_prop(&mut props, property::KEYS, &(born / 1000).to_string());
        }
        if plan.tag_count > 0 {
            let tag = format!("tag{}", born as u64 % plan.tag_count);
            push_prop(&mut props, property::TAGS, &tag);
        }
        if let Some(level) = plan.delay_level {
            push_prop(&mut props, property::DELAY, &level.to_string());
        }
        if plan.property_size > 0 {
            user_properties(&mut props, plan.property_size, born);
        }
        let header = rpc::send_header(PRODUCER_GROUP, &plan.topic, mq, born, props);
        let mut cmd = RemotingCommand::new_request(RequestCode::SendMessageV2, opaque);
        header.to_v2_ext_fields(cmd.ext_fields_mut());
        cmd.body = plan.body.clone();
        cmd
    }

    fn on_response(&mut self, conn: usize, resp: RemotingCommand) {
        // A response to a send that already timed out is ignored, as Java
        // ignores a response whose future is gone.
        let Some(sent) = self.pending[conn].remove(&resp.opaque) else {
            return;
        };
        self.in_flight -= 1;
        let now = Instant::now();
        let us = now.duration_since(sent).as_micros() as u64;
        let c = &self.shared.counters;
        let code = resp.response_code();
        let ok_code = matches!(
            code,
            ResponseCode::Success
                | ResponseCode::FlushDiskTimeout
                | ResponseCode::FlushSlaveTimeout
                | ResponseCode::SlaveNotAvailable
        );
        let problem = if !ok_code {
            Some(format!(
                "SEND_MESSAGE_V2 to {}: expected SUCCESS, got {code} (remark {:?})",
                self.conns[conn].addr(),
                resp.remark
            ))
        } else if let Err(e) = resp.decode_header::<SendMessageResponseHeader>() {
            Some(format!(
                "SEND_MESSAGE_V2 to {}: {code} without a usable SendMessageResponseHeader ({e})",
                self.conns[conn].addr()
            ))
        } else {
            None
        };
        match problem {
            None => {
                if code != ResponseCode::Success {
                    // The Java client returns these as a SendResult status,
                    // so the benchmark counts them as sent; note them anyway.
                    self.shared.errors.note(format!(
                        "SEND_MESSAGE_V2 to {}: {code} (counted as sent, as Java does)",
                        self.conns[conn].addr()
                    ));
                }
                c.send_ok.fetch_add(1, Ordering::Relaxed);
                c.resp_ok.fetch_add(1, Ordering::Relaxed);
                c.rt_total_us.fetch_add(us, Ordering::Relaxed);
                stats::raise(&c.max_rt_us, us);
                record(&mut self.hist[0], us);
                self.idle += 1;
            }
            Some(what) => {
                self.shared.errors.note(what);
                if self.plan.async_send {
                    c.send_failed.fetch_add(1, Ordering::Relaxed);
                    self.idle += 1;
                } else {
                    c.resp_failed.fetch_add(1, Ordering::Relaxed);
                    self.paused.push_back(now + SEND_FAILURE_PAUSE);
                }
            }
        }
    }

    /// Fails sends older than [`SEND_TIMEOUT`].
    fn expire(&mut self, now: Instant) {
        for (i, pending) in self.pending.iter_mut().enumerate() {
            let before = pending.len();
            pending.retain(|_, sent| now.duration_since(*sent) < SEND_TIMEOUT);
            let expired = before - pending.len();
            if expired == 0 {
                continue;
            }
            self.in_flight -= expired;
            self.shared
                .counters
                .send_failed
                .fetch_add(expired as u64, Ordering::Relaxed);
            self.shared.errors.note(format!(
                "SEND_MESSAGE_V2 to {}: no response within {} ms",
                self.conns[i].addr(),
                SEND_TIMEOUT.as_millis()
            ));
            for _ in 0..expired {
                if self.plan.async_send {
                    self.idle += 1;
                } else {
                    self.paused.push_back(now + SEND_FAILURE_PAUSE);
                }
            }
        }
    }

    /// Leaves the producer group on every broker (as Java's shutdown does).
    fn close(&mut self, client_id: &str) {
        if self.index > 0 {
            return;
        }
        for c in &mut self.conns {
            if let Err(e) = rpc::unregister(c, client_id, Some(PRODUCER_GROUP), None) {
                self.shared.errors.note(e.to_string());
            }
        }
    }
}

pub(crate) fn push_prop(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('\u{2}');
    }
    out.push_str(name);
    out.push('\u{1}');
    out.push_str(value);
}

/// The Java tool's `-p` properties: pairs `prop<i>=hello<v>`,
/// `prop<i+1>=<v>` until their characters exceed `size`.
fn user_properties(out: &mut String, size: usize, seed: i64) {
    let mut start = (seed.rem_euclid(100)) as u64;
    let mut i = 0u64;
    let mut total = 0usize;
    loop {
        let (k1, v1) = (format!("prop{i}"), format!("hello{start}"));
        let (k2, v2) = (format!("prop{}", i + 1), start.to_string());
        push_prop(out, &k1, &v1);
        push_prop(out, &k2, &v2);
        total += k1.len() + k2.len() + v1.len() + v2.len();
        if total > size {
            return;
        }
        i += 2;
        start += 2;
    }
}

/// Prints reports in the Java tool's words (or JSON).
struct Reporter<'a> {
    json: bool,
    shared: &'a Shared,
}

impl Reporter<'_> {
    /// The Java tool's line every 10 s, plus percentiles and our CPU.
    fn interval(&self, window: &SnapshotWindow, h: &Histogram<u64>, tool_cores: f64) {
        let Some((begin, end)) = window.ends() else {
            return;
        };
        let tps = rate(begin, end, C_RESP_OK) as u64;
        let avg_ms = stats::mean(&begin.1, &end.1, C_RT_TOTAL, C_RESP_OK) / 1000.0;
        let max_ms = self.shared.counters.max_rt_us.load(Ordering::Relaxed) / 1000;
        let p = Percentiles::of(h);
        if self.json {
            println!(
                "{}",
                json!({
                    "type": "interval", "role": "producer", "time": stats::human_time_now(),
                    "send_tps": tps, "max_rt_ms": max_ms, "avg_rt_ms": round3(avg_ms),
                    "send_failed": end.1[C_SEND_FAILED], "response_failed": end.1[C_RESP_FAILED],
                    "send_p50_us": p.p50, "send_p99_us": p.p99, "send_p999_us": p.p999,
                    "send_max_us": p.max, "tool_cores": round3(tool_cores),
                })
            );
        } else {
            println!(
                "Current Time: {} Send TPS: {} Max RT(ms): {} Average RT(ms): {:7.3} Send Failed: {} Response Failed: {} \
                 | RT p50/p99/p999/max(us): {} Tool CPU(cores): {:.3}",
                stats::human_time_now(),
                tps,
                max_ms,
                avg_ms,
                end.1[C_SEND_FAILED],
                end.1[C_RESP_FAILED],
                p.us_text(),
                tool_cores
            );
        }
    }

    /// The Java tool's `[Complete]` line and the whole-run figures.
    #[allow(clippy::too_many_arguments)]
    fn summary(
        &self,
        window: &SnapshotWindow,
        total: &Histogram<u64>,
        sending: Duration,
        wall: Duration,
        cpu: Duration,
        args: &ProducerArgs,
        threads: usize,
    ) {
        let c = &self.shared.counters;
        let last = window.ends().map(|(_, e)| e.1.clone()).unwrap_or_default();
        let ok = last.get(C_RESP_OK).copied().unwrap_or(0);
        let send_failed = last.get(C_SEND_FAILED).copied().unwrap_or(0);
        let resp_failed = last.get(C_RESP_FAILED).copied().unwrap_or(0);
        let secs = sending.as_secs_f64().max(1e-9);
        let tps = ok as f64 / secs;
        let avg_ms = if ok > 0 {
            c.rt_total_us.load(Ordering::Relaxed) as f64 / ok as f64 / 1000.0
        } else {
            0.0
        };
        let max_ms = c.max_rt_us.load(Ordering::Relaxed) / 1000;
        let p = Percentiles::of(total);
        let cpu_s = cpu.as_secs_f64();
        let cores = cpu_s / wall.as_secs_f64().max(1e-9);
        let us_per_msg = if ok > 0 { cpu_s * 1e6 / ok as f64 } else { 0.0 };
        if self.json {
            println!(
                "{}",
                json!({
                    "type": "summary", "role": "producer", "topic": args.common.topic,
                    "threads": if args.async_send { 1 } else { args.threads },
                    "async": args.async_send, "connections": threads, "message_size": args.size,
                    "tps_limit": args.tps, "seconds": round3(secs), "sent": ok,
                    "send_failed": send_failed, "response_failed": resp_failed,
                    "produce_tps": round3(tps), "avg_rt_ms": round3(avg_ms), "max_rt_ms": max_ms,
                    "send_p50_us": p.p50, "send_p99_us": p.p99, "send_p999_us": p.p999,
                    "send_max_us": p.max, "tool_cpu_s": round3(cpu_s),
                    "tool_cores": round3(cores), "tool_cpu_us_per_msg": round3(us_per_msg),
                })
            );
            return;
        }
        // Java: over the last window of one-second snapshots when it has
        // more than one, else totals only.
        match window.ends() {
            Some((begin, end)) if window.len() > 1 => println!(
                "[Complete] Send Total: {} Send TPS: {} Max RT(ms): {} Average RT(ms): {:7.3} Send Failed: {} Response Failed: {}",
                ok + send_failed,
                rate(begin, end, C_RESP_OK) as u64,
                max_ms,
                stats::mean(&begin.1, &end.1, C_RT_TOTAL, C_RESP_OK) / 1000.0,
                send_failed,
                resp_failed
            ),
            _ => println!(
                "[Complete] Send Total: {} Send Failed: {} Response Failed: {}",
                ok + send_failed,
                send_failed,
                resp_failed
            ),
        }
        println!(
            "[Summary] Seconds: {:.3} Sent: {} Send TPS: {:.0} Average RT(ms): {:.3} RT p50/p99/p999/max(us): {} \
             Send Failed: {} Response Failed: {} Tool CPU: {:.3} s = {:.3} cores = {:.2} us/msg",
            secs,
            ok,
            tps,
            avg_ms,
            p.us_text(),
            send_failed,
            resp_failed,
            cpu_s,
            cores,
            us_per_msg
        );
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_exceed_the_size() {
        let mut s = String::new();
        user_properties(&mut s, 20, 5);
        assert!(s.starts_with("prop0\u{1}hello5\u{2}prop1\u{1}5"));
        let chars: usize = ringmq_remoting::message::iter_properties(&s)
            .map(|(k, v)| k.len() + v.len())
            .sum();
        assert!(chars > 20);
    }

    #[test]
    fn body_is_alphanumeric() {
        let b = random_alphanumeric(1024);
        assert_eq!(b.len(), 1024);
        assert!(b.iter().all(u8::is_ascii_alphanumeric));
    }
}
