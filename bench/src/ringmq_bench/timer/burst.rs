//! Burst mode: `--count` timers due at the same moment, a pull consumer
//! measuring how late each one arrives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use ringmq_remoting::heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel, SubscriptionData,
};
use ringmq_remoting::message::{find_property, iter_stored_messages, property, PullSysFlag};
use ringmq_remoting::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, PullMessageRequestHeader,
    PullMessageResponseHeader, RemotingCommand, RequestCode, ResponseCode,
};
use serde_json::json;

use super::{
    producer_heartbeat, runtime_sum, send_all, Due, Target, TimerArgs, RUN_PROPERTY, SEQ_PROPERTY,
    TIMEOUT_SCAN,
};
use crate::conn::{poll_responses, Conn, ConnConfig};
use crate::error::{Error, Result};
use crate::limits::{
    CALL_TIMEOUT, POLL_TICK, PULL_BATCH, PULL_ERROR_PAUSE, PULL_SUSPEND, PULL_TIMEOUT,
    TIMER_DUE_MARGIN, TIMER_SEND_ALLOWANCE_PER_MSG,
};
use crate::producer::{random_alphanumeric, round3};
use crate::rpc::{self, request, MessageQueue};
use crate::stats::{new_histogram, now_micros, now_millis, record, ErrorLog, Percentiles};
use crate::stop_on_signal;

/// What the consumer thread found.
#[derive(Default)]
struct Deliveries {
    /// Distinct messages of this run received.
    unique: u64,
    duplicates: u64,
    /// Records of other runs (or without our properties) in the queues.
    foreign: u64,
    /// Received (client clock) before their due time.
    early_client: u64,
    /// Stored (broker clock) before their due time.
    early_store: u64,
    /// Delivered records whose due-time property is missing.
    no_due: u64,
    /// Receive time − due, µs (early ones recorded as 1).
    client: Option<Histogram<u64>>,
    /// Store timestamp − due, µs at 1 ms resolution (early ones as 1).
    store: Option<Histogram<u64>>,
    /// Earliest and latest receive time, µs since the epoch.
    first_us: i64,
    last_us: i64,
    pulls: u64,
}

/// What the main thread tells the consumer thread.
struct DrainControl {
    stop: Arc<AtomicBool>,
    /// Messages to wait for (set when the sends are done; `u64::MAX` before).
    expected: AtomicU64,
    /// Give up at this wall-clock time (ms).
    give_up_ms: i64,
}

struct DrainQueue {
    mq: MessageQueue,
    conn: usize,
    next: i64,
    pulling: bool,
    retry_at: Option<Instant>,
}

/// The pull consumer of the burst: one pull in flight per queue, 15 s long
/// polling, from the queue ends found before the sends.
struct Drain {
    conns: Vec<Conn>,
    queues: Vec<DrainQueue>,
    /// Pull in flight by connection and opaque: (queue, sent).
    pending: Vec<HashMap<i32, (usize, Instant)>>,
    group: String,
    sub_version: i64,
    run_id: String,
    count: u64,
    /// One bit per sequence number received.
    seen: Vec<u64>,
    out: Deliveries,
    errors: Arc<ErrorLog>,
    control: Arc<DrainControl>,
}

impl Drain {
    fn run(mut self) -> Result<Deliveries> {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(self.conns.len());
        let mut arrived = Vec::new();
        let mut last_scan = Instant::now();
        loop {
            let expected = self.control.expected.load(Ordering::Relaxed);
            if self.out.unique >= expected
                || now_millis() >= self.control.give_up_ms
                || self.control.stop.load(Ordering::Relaxed)
            {
                return Ok(self.out);
            }
            let now = Instant::now();
            for qi in 0..self.queues.len() {
                self.pull(qi, now)?;
            }
            for c in &mut self.conns {
                c.flush()?;
            }
            if now - last_scan >= TIMEOUT_SCAN {
                last_scan = now;
                self.expire(now);
            }
            let mut timeout = POLL_TICK;
            for q in &self.queues {
                if let (false, Some(t)) = (q.pulling, q.retry_at) {
                    timeout = timeout.min(t.saturating_duration_since(now));
                }
            }
            poll_responses(&mut self.conns, &mut fds, timeout, &mut arrived)?;
            for (ci, resp) in arrived.drain(..) {
                if let Some((qi, _)) = self.pending[ci].remove(&resp.opaque) {
                    self.on_pull(qi, resp);
                }
            }
        }
    }

    /// Sends the queue's next pull if none is in flight.
    fn pull(&mut self, qi: usize, now: Instant) -> Result<()> {
        let q = &self.queues[qi];
        if q.pulling || q.retry_at.is_some_and(|t| t > now) {
            return Ok(());
        }
        let h = PullMessageRequestHeader {
            consumer_group: self.group.clone(),
            topic: q.mq.topic.clone(),
            queue_id: q.mq.queue_id,
            queue_offset: q.next,
            max_msg_nums: PULL_BATCH,
            sys_flag: PullSysFlag::build(false, true, true, false, false),
            commit_offset: 0,
            suspend_timeout_millis: PULL_SUSPEND.as_millis() as i64,
            subscription: Some("*".into()),
            sub_version: self.sub_version,
            expression_type: Some("TAG".into()),
            bname: Some(q.mq.broker_name.clone()),
            max_msg_bytes: None,
        };
        let ci = q.conn;
        let mut cmd = request(RequestCode::PullMessage, &h);
        let opaque = self.conns[ci].next_opaque();
        cmd.opaque = opaque;
        self.conns[ci].queue(cmd)?;
        self.pending[ci].insert(opaque, (qi, now));
        self.queues[qi].pulling = true;
        self.out.pulls += 1;
        Ok(())
    }

    fn expire(&mut self, now: Instant) {
        let mut late = Vec::new();
        for p in &mut self.pending {
            p.retain(|_, (qi, sent)| {
                let keep = now.duration_since(*sent) < PULL_TIMEOUT;
                if !keep {
                    late.push(*qi);
                }
                keep
            });
        }
        for qi in late {
            self.retry_later(
                qi,
                format!(
                    "PULL_MESSAGE to {}: no response within {} ms",
                    self.conns[self.queues[qi].conn].addr(),
                    PULL_TIMEOUT.as_millis()
                ),
            );
        }
    }

    fn retry_later(&mut self, qi: usize, what: String) {
        self.errors.note(what);
        let q = &mut self.queues[qi];
        q.pulling = false;
        q.retry_at = Some(Instant::now() + PULL_ERROR_PAUSE);
    }

    fn on_pull(&mut self, qi: usize, resp: RemotingCommand) {
        let recv_us = now_micros();
        let addr = self.conns[self.queues[qi].conn].addr().to_owned();
        let code = resp.response_code();
        let header = match code {
            ResponseCode::Success
            | ResponseCode::PullNotFound
            | ResponseCode::PullRetryImmediately
            | ResponseCode::PullOffsetMoved => resp.decode_header::<PullMessageResponseHeader>(),
            _ => {
                self.retry_later(
                    qi,
                    format!(
                        "PULL_MESSAGE to {addr}: expected SUCCESS or PULL_NOT_FOUND, got {code} (remark {:?})",
                        resp.remark
                    ),
                );
                return;
            }
        };
        let header = match header {
            Ok(h) => h,
            Err(e) => {
                self.retry_later(
                    qi,
                    format!("PULL_MESSAGE from {addr}: {code} without a usable header ({e})"),
                );
                return;
            }
        };
        if code == ResponseCode::Success {
            self.consume(qi, &addr, &resp.body, recv_us);
        } else if code == ResponseCode::PullOffsetMoved {
            self.errors.note(format!(
                "PULL_MESSAGE to {addr}: PULL_OFFSET_MOVED at {} (next {})",
                self.queues[qi].next, header.next_begin_offset
            ));
        }
        let q = &mut self.queues[qi];
        q.next = header.next_begin_offset;
        q.pulling = false;
        q.retry_at = None;
    }

    fn consume(&mut self, qi: usize, addr: &str, body: &[u8], recv_us: i64) {
        let queue_id = self.queues[qi].mq.queue_id;
        for m in iter_stored_messages(body) {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    self.errors.note(format!(
                        "PULL_MESSAGE from {addr}: undecodable record in queue {queue_id} ({e})"
                    ));
                    return;
                }
            };
            let props = m.properties_str();
            if find_property(&props, RUN_PROPERTY) != Some(self.run_id.as_str()) {
                self.out.foreign += 1;
                continue;
            }
            let Some(seq) = find_property(&props, SEQ_PROPERTY)
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|s| *s < self.count)
            else {
                self.out.foreign += 1;
                continue;
            };
            let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
            if self.seen[word] & bit != 0 {
                self.out.duplicates += 1;
                continue;
            }
            self.seen[word] |= bit;
            self.out.unique += 1;
            if self.out.first_us == 0 || recv_us < self.out.first_us {
                self.out.first_us = recv_us;
            }
            self.out.last_us = self.out.last_us.max(recv_us);
            let Some(due) = find_property(&props, property::START_DELIVER_TIME)
                .and_then(|s| s.parse::<i64>().ok())
            else {
                self.out.no_due += 1;
                continue;
            };
            let client_us = recv_us - due * 1000;
            if client_us < 0 {
                self.out.early_client += 1;
            }
            let store_ms = m.store_timestamp - due;
            if store_ms < 0 {
                self.out.early_store += 1;
            }
            record(
                self.out.client.get_or_insert_with(new_histogram),
                client_us.max(1) as u64,
            );
            record(
                self.out.store.get_or_insert_with(new_histogram),
                (store_ms.max(0) * 1000).max(1) as u64,
            );
        }
    }
}

/// The consumer's heartbeat: a pull consumer of the topic, everything.
fn consumer_heartbeat(client_id: &str, group: &str, topic: &str, version: i64) -> HeartbeatData {
    HeartbeatData {
        client_id: client_id.to_owned(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
            consume_type: ConsumeType::ConsumeActively,
            group_name: group.to_owned(),
            message_model: MessageModel::Clustering,
            subscription_data_set: vec![SubscriptionData {
                class_filter_mode: false,
                code_set: Vec::new(),
                expression_type: "TAG".into(),
                sub_string: "*".into(),
                sub_version: version,
                tags_set: Vec::new(),
                topic: topic.to_owned(),
            }],
            unit_mode: false,
        }],
        heartbeat_fingerprint: None,
        producer_data_set: Vec::new(),
        without_sub: None,
    }
}

pub(super) fn run(
    args: &TimerArgs,
    target: &Target,
    read: &Target,
    config: &ConnConfig,
) -> Result<()> {
    let stop = stop_on_signal();
    let errors = Arc::new(ErrorLog::new());
    let count = args.count;
    let run_id = format!("{}-{}", std::process::id(), now_micros());
    let client_id = format!("timer-bench@{run_id}");
    let version = now_millis();

    // The consumer starts at each queue's end, before anything is sent.
    let hb = consumer_heartbeat(&client_id, &args.group, &args.topic, version);
    let mut pull_conns = read.connect(config, &hb)?;
    let mut queues = Vec::with_capacity(read.queues.len());
    for (mq, &ci) in read.queues.iter().zip(&read.queue_conn) {
        let h = GetMaxOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            committed: None,
            bname: Some(mq.broker_name.clone()),
        };
        let code = RequestCode::GetMaxOffset;
        let c = &mut pull_conns[ci];
        let resp = c.call(request(code, &h), CALL_TIMEOUT)?;
        rpc::expect_success(&resp, code, c.addr())?;
        let next = resp
            .decode_header::<GetMaxOffsetResponseHeader>()
            .map_err(|source| Error::Header {
                request: code.to_string(),
                addr: c.addr().to_owned(),
                source,
            })?
            .offset;
        queues.push(DrainQueue {
            mq: mq.clone(),
            conn: ci,
            next,
            pulling: false,
            retry_at: None,
        });
    }
    let mut send_conns = target.connect(config, &producer_heartbeat(&client_id))?;
    let mut info_conns: Vec<Conn> = target
        .addrs
        .iter()
        .map(|a| Conn::connect(a, config.clone()))
        .collect::<Result<_>>()?;
    let pending_before = runtime_sum(&mut info_conns, "timerPending")?;
    let delivered_before = runtime_sum(&mut info_conns, "timerDelivered")?;

    let due_in = args.due_in_ms.map_or_else(
        || TIMER_DUE_MARGIN + TIMER_SEND_ALLOWANCE_PER_MSG * count.min(u32::MAX as u64) as u32,
        Duration::from_millis,
    );
    let due = now_millis() + due_in.as_millis() as i64;
    let control = Arc::new(DrainControl {
        stop: stop.clone(),
        expected: AtomicU64::new(u64::MAX),
        give_up_ms: due + (args.wait * 1000.0) as i64,
    });
    let drain = Drain {
        pending: pull_conns.iter().map(|_| HashMap::new()).collect(),
        conns: pull_conns,
        queues,
        group: args.group.clone(),
        sub_version: version,
        run_id: run_id.clone(),
        count,
        seen: vec![0; count.div_ceil(64) as usize],
        out: Deliveries::default(),
        errors: errors.clone(),
        control: control.clone(),
    };
    let consumer = std::thread::Builder::new()
        .name("timer-consumer".into())
        .spawn(move || drain.run())
        .map_err(|e| Error::Io {
            op: "spawn thread",
            addr: String::new(),
            source: e,
        })?;
    if !args.json {
        println!(
            "[Timer burst] {count} messages of {} bytes over {} queues, all due at {due} (in {} ms), window {}",
            args.size,
            target.queues.len(),
            due_in.as_millis(),
            args.window
        );
    }

    let body = Bytes::from(random_alphanumeric(args.size));
    let sent = send_all(
        &mut send_conns,
        target,
        &args.topic,
        count,
        args.window,
        &body,
        &run_id,
        Due::At(due),
        &errors,
        &stop,
    )?;
    control.expected.store(sent.ok, Ordering::Relaxed);
    let margin_ms = due - sent.last_answer_ms;
    let pending_after_sends = runtime_sum(&mut info_conns, "timerPending")?;
    let send_tps = sent.ok as f64 / sent.elapsed.as_secs_f64().max(1e-9);
    if !args.json {
        println!(
            "[Send] {} sent, {} failed in {:.3} s ({:.0} msg/s, RT p50/p99/p999/max(us) {}); last answer {} ms before the due time; broker timers pending: {}",
            sent.ok,
            sent.failed,
            sent.elapsed.as_secs_f64(),
            send_tps,
            Percentiles::of(&sent.rt).us_text(),
            margin_ms,
            opt_text(pending_after_sends),
        );
        println!(
            "[Wait] until the due time + up to {} s for every delivery ...",
            args.wait
        );
    }
    let got = match consumer.join() {
        Ok(r) => r?,
        Err(_) => return Err(Error::Usage("the consumer thread panicked".into())),
    };
    let delivered_after = runtime_sum(&mut info_conns, "timerDelivered")?;
    let pending_after = runtime_sum(&mut info_conns, "timerPending")?;

    let missing = sent.ok.saturating_sub(got.unique);
    let empty = new_histogram();
    let pc = Percentiles::of(got.client.as_ref().unwrap_or(&empty));
    let store_hist = got.store.as_ref().unwrap_or(&empty);
    let ps = Percentiles::of(store_hist);
    let store_min_ms = if store_hist.is_empty() {
        0
    } else {
        store_hist.min() / 1000
    };
    let first_ms = if got.unique > 0 {
        (got.first_us - due * 1000) as f64 / 1000.0
    } else {
        0.0
    };
    let last_ms = if got.unique > 0 {
        (got.last_us - due * 1000) as f64 / 1000.0
    } else {
        0.0
    };
    let delivered_by_broker = delivered_after
        .zip(delivered_before)
        .map(|(a, b)| a.saturating_sub(b));
    let mut problems = Vec::new();
    if sent.failed > 0 {
        problems.push(format!("{} sends failed", sent.failed));
    }
    if margin_ms <= 0 {
        problems.push(format!(
            "the sends ended {} ms after the due time: raise --due-in-ms",
            -margin_ms
        ));
    }
    if got.early_client > 0 || got.early_store > 0 {
        problems.push(format!(
            "early deliveries: {} received and {} stored before the due time",
            got.early_client, got.early_store
        ));
    }
    if missing > 0 {
        problems.push(format!(
            "{missing} of {} messages not delivered within {} s after the due time",
            sent.ok, args.wait
        ));
    }
    if got.duplicates > 0 {
        problems.push(format!("{} duplicate deliveries", got.duplicates));
    }
    if got.no_due > 0 {
        problems.push(format!(
            "{} delivered records lost their {}",
            got.no_due,
            property::START_DELIVER_TIME
        ));
    }
    let p99_ok = ps.p99 <= 1_000_000;
    if args.json {
        println!(
            "{}",
            json!({
                "type": "summary", "role": "timer-burst", "topic": args.topic,
                "queues": target.queues.len(), "message_size": args.size,
                "count": count, "sent": sent.ok, "send_failed": sent.failed,
                "send_seconds": round3(sent.elapsed.as_secs_f64()), "send_tps": round3(send_tps),
                "due_ms": due, "due_in_ms": due_in.as_millis() as u64,
                "sends_done_before_due_ms": margin_ms,
                "timers_pending_before": pending_before,
                "timers_pending_after_sends": pending_after_sends,
                "timers_pending_after": pending_after,
                "timers_delivered": delivered_by_broker,
                "received": got.unique, "missing": missing, "duplicates": got.duplicates,
                "foreign": got.foreign, "early_client": got.early_client,
                "early_store": got.early_store, "pulls": got.pulls,
                "client_late_p50_ms": ms3(pc.p50), "client_late_p99_ms": ms3(pc.p99),
                "client_late_p999_ms": ms3(pc.p999), "client_late_max_ms": ms3(pc.max),
                "store_late_min_ms": store_min_ms, "store_late_p50_ms": ps.p50 / 1000, "store_late_p99_ms": ps.p99 / 1000,
                "store_late_p999_ms": ps.p999 / 1000, "store_late_max_ms": ps.max / 1000,
                "first_received_late_ms": round3(first_ms),
                "last_received_late_ms": round3(last_ms),
                "store_p99_within_1s": p99_ok, "problems": problems,
            })
        );
    } else {
        println!(
            "[Delivery] received {} of {} ({} missing, {} duplicates, {} foreign); before the due time: {} received, {} stored; broker timers delivered: {}, still pending: {}; {} pulls",
            got.unique,
            sent.ok,
            missing,
            got.duplicates,
            got.foreign,
            got.early_client,
            got.early_store,
            opt_text(delivered_by_broker),
            opt_text(pending_after),
            got.pulls
        );
        println!(
            "[Lateness] client (received - due) p50/p99/p999/max(ms): {:.3}/{:.3}/{:.3}/{:.3}; first {:.3} ms, last {:.3} ms after the due time",
            ms3(pc.p50),
            ms3(pc.p99),
            ms3(pc.p999),
            ms3(pc.max),
            first_ms,
            last_ms
        );
        println!(
            "[Lateness] broker (store timestamp - due) min/p50/p99/p999/max(ms): {}/{}/{}/{}/{}; p99 <= 1 s: {}",
            store_min_ms,
            ps.p50 / 1000,
            ps.p99 / 1000,
            ps.p999 / 1000,
            ps.max / 1000,
            if p99_ok { "yes" } else { "NO" }
        );
    }
    for (what, n) in errors.summary() {
        eprintln!("ringmq-bench: {n} x {what}");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "timer burst: {}",
            problems.join("; ")
        )))
    }
}

/// Microseconds as milliseconds with three decimals.
fn ms3(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn opt_text(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| v.to_string())
}
