//! Interoperability, message semantics: `ringmq serve` driven by the
//! crates.io client `rocketmq-client-rust` 1.0.0 (see
//! `interop_client_rust.rs` for plain send/consume). Covered here, each
//! against its own broker: delay levels, arbitrary-time delivery
//! (`__STARTDELIVERTIME`, `TIMER_DELIVER_MS`, `TIMER_DELAY_SEC`,
//! `TIMER_DELAY_MS`), consumer retries and the dead-letter queue,
//! transactional messages (commit, rollback, check-back), SQL92 filtering,
//! orderly consumption with an in-place retry, and message trace.
//!
//! Timing is asserted two ways only: nothing is delivered before it is due
//! (against the earliest time the broker can have computed as due, with
//! [`CLOCK_SLACK_MS`] for millisecond truncation), and everything due is
//! delivered within a generous bound ([`DUE_BOUND`]). Every wait is bounded;
//! the tests of this file run one at a time ([`interop::serial`]).

#[allow(dead_code)] // shared helpers, not all of them used here
mod interop;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use interop::{
    compare, env_with_topic, make_message, queues_of_order_key, send_to_key_queue, serial,
    shutdown_producer, wait_for_route, wait_until, ClientEnv, Collector, ConcurrentListener,
    Expected, Got, DELIVERY_TIMEOUT, ID_PROP, SEND_TIMEOUT_MS,
};
use ringmq_tests::records::decode_records;
use ringmq_tests::remoting_client::RemotingClient;
use ringmq_tests::requests;
use ringmq_tests::server::{Ringmq, ServeOptions};
use rocketmq_client_rust::{
    ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, ConsumeOrderlyContext,
    ConsumeOrderlyStatus, DefaultMQProducer, DefaultMQPushConsumer, LocalTransactionState,
    MQPushConsumer, MessageSelector, SendResult, SendStatus, TransactionListener,
    TransactionMQProducer,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;

/// The broker's `messageDelayLevel` for these tests: 18 levels, level 2 is
/// 3 s, every other level 1 s (so consumer retries, which use level
/// `3 + reconsumeTimes`, come back after 1 s).
const DELAY_TABLE: &str = "1s 3s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s";
/// Level 2 of [`DELAY_TABLE`].
const LEVEL_2_MS: i64 = 3_000;
/// Levels 3.. of [`DELAY_TABLE`] (the retry back-off).
const RETRY_DELAY_MS: i64 = 1_000;
/// A due message must arrive within this bound (loaded 2-core machine).
const DUE_BOUND: Duration = Duration::from_secs(30);
/// Clock granularity allowance for "not before due": the broker stores
/// and compares times in whole milliseconds.
const CLOCK_SLACK_MS: i64 = 5;
/// After everything expected arrived, how long to keep listening for
/// redeliveries (a settling window, not a readiness wait).
const SETTLE: Duration = Duration::from_secs(2);

fn start_broker(opts: ServeOptions) -> Ringmq {
    Ringmq::start_with(opts.set("messageDelayLevel", DELAY_TABLE))
}

/// Wall-clock milliseconds since the epoch (the broker's clock: same host).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// One delivery as a listener saw it, with when and every property.
#[derive(Debug, Clone)]
struct Seen {
    got: Got,
    /// Wall-clock ms at which the listener was called.
    at_ms: i64,
    msg_id: String,
    props: BTreeMap<String, String>,
}

impl Seen {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props.get(name).map(String::as_str)
    }
}

/// Shared log of deliveries.
#[derive(Clone, Default)]
struct Seens(Arc<Mutex<Vec<Seen>>>);

impl Seens {
    fn record(&self, m: &MessageExt, consumer: usize) {
        let s = Seen {
            got: Got::from_ext(m, consumer),
            at_ms: now_ms(),
            msg_id: m.msg_id().to_string(),
            props: m
                .properties()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    }

    fn snapshot(&self) -> Vec<Seen> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Deliveries of the message with test id `id`, in arrival order.
    fn of(&self, id: &str) -> Vec<Seen> {
        self.snapshot()
            .into_iter()
            .filter(|s| s.got.id.as_deref() == Some(id))
            .collect()
    }

    fn count(&self, id: &str) -> usize {
        self.of(id).len()
    }

    fn gots(&self) -> Vec<Got> {
        self.snapshot().into_iter().map(|s| s.got).collect()
    }

    /// A concurrent listener that records everything and answers `status`
    /// for each message (batches are of one message: the client's default
    /// `consumeMessageBatchMaxSize` is 1).
    fn listener(
        &self,
        consumer: usize,
        status: impl Fn(&MessageExt) -> ConsumeConcurrentlyStatus + Send + Sync + 'static,
    ) -> impl ConcurrentListener {
        let log = self.clone();
        move |msgs: &[&MessageExt], _ctx: &ConsumeConcurrentlyContext| {
            let mut out = ConsumeConcurrentlyStatus::ConsumeSuccess;
            for m in msgs {
                log.record(m, consumer);
                if status(m) == ConsumeConcurrentlyStatus::ReconsumeLater {
                    out = ConsumeConcurrentlyStatus::ReconsumeLater;
                }
            }
            Ok(out)
        }
    }

    /// A listener that records everything and consumes it.
    fn consume_all(&self, consumer: usize) -> impl ConcurrentListener {
        self.listener(consumer, |_| ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// The test id (`u_id`) of a message, from any message type.
fn id_of(props: &std::collections::HashMap<impl AsRef<str>, impl AsRef<str>>) -> String {
    props
        .iter()
        .find(|(k, _)| k.as_ref() == ID_PROP)
        .map(|(_, v)| v.as_ref().to_owned())
        .unwrap_or_default()
}

/// Consumer options the tests vary.
#[derive(Clone, Copy, Default)]
struct Opts {
    /// `maxReconsumeTimes` (client default: 16 for concurrent listeners).
    max_reconsume_times: Option<i32>,
    /// Repeat the subscription in every PULL_MESSAGE (FLAG_SUBSCRIPTION)
    /// instead of relying on the one registered by the heartbeat (the
    /// default, as in the Java client).
    post_subscription_when_pull: bool,
}

/// Builds a cluster-mode push consumer of `group` (consuming from the
/// first offset), lets `register` install its listener, subscribes
/// `topic` with `selector` and starts it. Returns the consumer and the
/// outcome of subscribe + start.
#[allow(clippy::too_many_arguments)]
fn push_consumer_with(
    env: &ClientEnv,
    namesrv: &str,
    group: &str,
    instance: &str,
    topic: &str,
    selector: MessageSelector,
    opts: Opts,
    register: impl FnOnce(&mut DefaultMQPushConsumer),
) -> (DefaultMQPushConsumer, Result<(), String>) {
    let mut b = DefaultMQPushConsumer::builder(env.runtime())
        .client_config(env.client_config(namesrv, instance))
        .consumer_group(group.to_owned())
        .message_model(MessageModel::Clustering)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset);
    if let Some(n) = opts.max_reconsume_times {
        b = b.max_reconsume_times(n);
    }
    if opts.post_subscription_when_pull {
        b = b.post_subscription_when_pull(true);
    }
    let mut c = b.build();
    let started = env.block_on(async {
        c.subscribe_with_selector(topic, Some(selector))
            .await
            .map_err(|e| format!("subscribe {topic}: {e}"))?;
        register(&mut c);
        c.start()
            .await
            .map_err(|e| format!("start the push consumer of {group}: {e}"))
    });
    (c, started)
}

/// [`push_consumer_with`] with a concurrent listener; panics if it does not start.
fn concurrent_consumer(
    env: &ClientEnv,
    namesrv: &str,
    group: &str,
    topic: &str,
    selector: MessageSelector,
    opts: Opts,
    listener: impl ConcurrentListener,
) -> DefaultMQPushConsumer {
    let (c, started) = push_consumer_with(env, namesrv, group, group, topic, selector, opts, |c| {
        c.register_message_listener_concurrently(listener)
    });
    started.unwrap_or_else(|e| panic!("{e}"));
    c
}

fn all_tags() -> MessageSelector {
    MessageSelector::by_tag("*")
}

/// A push consumer of `group` on `topic` (every tag, default options)
/// that records every delivery, as consumer `index`, into the returned log
/// and consumes it.
fn recording_consumer(
    env: &ClientEnv,
    namesrv: &str,
    group: &str,
    topic: &str,
    index: usize,
) -> (Seens, DefaultMQPushConsumer) {
    let seen = Seens::default();
    let consumer = concurrent_consumer(
        env,
        namesrv,
        group,
        topic,
        all_tags(),
        Opts::default(),
        seen.consume_all(index),
    );
    (seen, consumer)
}

/// A synchronous send that must succeed with SEND_OK.
fn send_ok(env: &ClientEnv, producer: &DefaultMQProducer, msg: Message, what: &str) -> SendResult {
    let r = env
        .block_on(producer.send_with_timeout(msg, SEND_TIMEOUT_MS))
        .unwrap_or_else(|e| panic!("send {what}: {e}"))
        .unwrap_or_else(|| panic!("send {what}: a sync send returns a SendResult"));
    assert_eq!(r.send_status, SendStatus::SendOk, "send {what}: {r:?}");
    r
}

/// Sends one plain message and waits until `seen` has it: the consumer is
/// subscribed, rebalanced and pulling, so later arrival times measure the
/// broker, not the consumer's start-up.
fn warm_up(env: &ClientEnv, producer: &DefaultMQProducer, seen: &Seens, topic: &str) {
    let (m, e) = make_message(topic, "warmup", 0, Some("TagWarm"), 16);
    send_ok(env, producer, m, &e.id);
    let ok = env.block_on(wait_until(DELIVERY_TIMEOUT, || seen.count(&e.id) > 0));
    assert!(
        ok,
        "the consumer did not receive a plain message within {DELIVERY_TIMEOUT:?}"
    );
}

/// A producer of `producer_group` and a [`recording_consumer`] of
/// `consumer_group` on `topic`, [`warm_up`]ed.
fn producer_and_warm_consumer(
    env: &ClientEnv,
    namesrv: &str,
    topic: &str,
    producer_group: &str,
    consumer_group: &str,
) -> (DefaultMQProducer, Seens, DefaultMQPushConsumer) {
    let producer = env.producer(namesrv, producer_group, "producer");
    let (seen, consumer) = recording_consumer(env, namesrv, consumer_group, topic, 0);
    warm_up(env, &producer, &seen, topic);
    (producer, seen, consumer)
}

/// Checks one delayed delivery: exactly one copy, content intact, not
/// before `due_ms`.
fn assert_delivered_on_time(seen: &Seens, e: &Expected, due_ms: i64, what: &str) -> i64 {
    let copies = seen.of(&e.id);
    assert_eq!(
        copies.len(),
        1,
        "{what} ({}): expected exactly one delivery within {DUE_BOUND:?} of its due time, got {}",
        e.id,
        copies.len()
    );
    let s = &copies[0];
    let diff = s.got.diff(e);
    assert!(
        diff.is_empty(),
        "{what} ({}): content differs: {diff:?}",
        e.id
    );
    let early = due_ms - s.at_ms;
    assert!(
        early <= CLOCK_SLACK_MS,
        "{what} ({}) delivered {early} ms before it was due (due at {due_ms}, delivered at {})",
        e.id,
        s.at_ms
    );
    s.at_ms - due_ms
}

/// Delay level 2 (3 s with this broker's `messageDelayLevel`): not
/// delivered before send time + 3 s, delivered within [`DUE_BOUND`] with
/// body, keys, tags and user properties intact; a plain message sent right
/// after it is not held back.
#[test]
fn delay_level_message_arrives_after_its_level_and_intact() {
    let _serial = serial();
    let broker = start_broker(ServeOptions::default());
    let topic = "SemDelayLevel";
    let (ns, env) = env_with_topic(&broker, "sem-delay-level", topic, 2);
    let (producer, seen, mut consumer) =
        producer_and_warm_consumer(&env, &ns, topic, "sem_delay_pg", "sem_delay_cg");

    let (mut m, delayed) = make_message(topic, "delayed", 0, Some("TagDelay"), 700);
    m.set_delay_time_level(2);
    let (plain_m, plain) = make_message(topic, "plain", 0, Some("TagPlain"), 40);
    let sent_at = now_ms();
    send_ok(&env, &producer, m, &delayed.id);
    send_ok(&env, &producer, plain_m, &plain.id);

    let plain_ok = env.block_on(wait_until(DELIVERY_TIMEOUT, || seen.count(&plain.id) > 0));
    assert!(
        plain_ok,
        "the plain message sent after the delayed one never arrived"
    );
    let plain_at = seen.of(&plain.id)[0].at_ms;
    let arrived = env.block_on(wait_until(DUE_BOUND, || seen.count(&delayed.id) > 0));
    env.settle(SETTLE);
    env.block_on(consumer.shutdown());
    assert!(
        arrived,
        "a delay-level-2 message ({LEVEL_2_MS} ms) did not arrive within {DUE_BOUND:?}"
    );
    let late = assert_delivered_on_time(&seen, &delayed, sent_at + LEVEL_2_MS, "delay level 2");
    eprintln!(
        "delay level 2: due {LEVEL_2_MS} ms after send, delivered {late} ms after due; the plain \
         message arrived {} ms after send",
        plain_at - sent_at
    );
    let d = compare(
        std::slice::from_ref(&plain),
        &seen
            .of(&plain.id)
            .into_iter()
            .map(|s| s.got)
            .collect::<Vec<_>>(),
    );
    assert!(d.mismatched.is_empty(), "plain message: {}", d.describe());
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// Arbitrary-time delivery with the client's APIs: `__STARTDELIVERTIME`
/// (a user property, absolute epoch ms), `set_deliver_time_ms`
/// (`TIMER_DELIVER_MS`, absolute), `set_delay_time_sec` (`TIMER_DELAY_SEC`)
/// and `set_delay_time_ms` (`TIMER_DELAY_MS`): none delivered before its
/// time, each delivered once, intact, within [`DUE_BOUND`].
#[test]
fn timer_messages_arrive_at_their_requested_time() {
    let _serial = serial();
    let broker = start_broker(ServeOptions::default());
    let topic = "SemTimers";
    let (ns, env) = env_with_topic(&broker, "sem-timers", topic, 2);
    let (producer, seen, mut consumer) =
        producer_and_warm_consumer(&env, &ns, topic, "sem_timers_pg", "sem_timers_cg");

    // (expected, due time, what)
    let mut cases: Vec<(Expected, i64, &str)> = Vec::new();

    let (mut m, e) = make_message(topic, "startdeliver", 0, Some("TagTimer"), 120);
    let due = now_ms() + 3_000;
    m.put_user_property("__STARTDELIVERTIME".into(), due.to_string().into())
        .expect("__STARTDELIVERTIME is a user property for this client");
    send_ok(&env, &producer, m, &e.id);
    cases.push((e, due, "__STARTDELIVERTIME"));

    let (mut m, e) = make_message(topic, "delivertime", 0, Some("TagTimer"), 130);
    let due = now_ms() + 3_500;
    m.set_deliver_time_ms(due as u64);
    send_ok(&env, &producer, m, &e.id);
    cases.push((e, due, "TIMER_DELIVER_MS"));

    let (mut m, e) = make_message(topic, "delaysec", 0, Some("TagTimer"), 140);
    m.set_delay_time_sec(3);
    // The broker computes the due time when the send arrives, after this.
    let due = now_ms() + 3_000;
    send_ok(&env, &producer, m, &e.id);
    cases.push((e, due, "TIMER_DELAY_SEC"));

    let (mut m, e) = make_message(topic, "delayms", 0, Some("TagTimer"), 150);
    m.set_delay_time_ms(2_500);
    let due = now_ms() + 2_500;
    send_ok(&env, &producer, m, &e.id);
    cases.push((e, due, "TIMER_DELAY_MS"));

    // A __STARTDELIVERTIME in the past is delivered at once.
    let (mut m, past) = make_message(topic, "pastdeliver", 0, Some("TagTimer"), 60);
    m.put_user_property(
        "__STARTDELIVERTIME".into(),
        (now_ms() - 60_000).to_string().into(),
    )
    .expect("user property");
    send_ok(&env, &producer, m, &past.id);

    let expected: Vec<Expected> = cases
        .iter()
        .map(|c| c.0.clone())
        .chain([past.clone()])
        .collect();
    let all = env.block_on(wait_until(DUE_BOUND, || {
        expected.iter().all(|e| seen.count(&e.id) > 0)
    }));
    env.settle(SETTLE);
    env.block_on(consumer.shutdown());
    let missing: Vec<&str> = cases
        .iter()
        .filter(|c| seen.count(&c.0.id) == 0)
        .map(|c| c.2)
        .chain((seen.count(&past.id) == 0).then_some("__STARTDELIVERTIME in the past"))
        .collect();
    assert!(
        all && missing.is_empty(),
        "timer messages not delivered within {DUE_BOUND:?}: {missing:?}"
    );
    for (e, due, what) in &cases {
        let late = assert_delivered_on_time(&seen, e, *due, what);
        eprintln!("{what}: delivered {late} ms after due");
    }
    let p = seen.of(&past.id);
    assert_eq!(
        p.len(),
        1,
        "past __STARTDELIVERTIME delivered {} times",
        p.len()
    );
    assert!(
        p[0].got.diff(&past).is_empty(),
        "past: {:?}",
        p[0].got.diff(&past)
    );
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// A listener answering RECONSUME_LATER: the message comes back through
/// `%RETRY%<group>` (reconsumeTimes 1, 2, each after the 1 s retry level),
/// and after `maxReconsumeTimes` (2) it lands in `%DLQ%<group>` exactly
/// once, body, keys, tags and user properties intact, with RETRY_TOPIC
/// naming the original topic, ORIGIN_MESSAGE_ID the original record's
/// offset message id, and reconsumeTimes 3. A message consumed
/// successfully by the same consumer is not retried.
#[test]
fn reconsume_later_retries_then_dead_letters() {
    let _serial = serial();
    const MAX_RECONSUME: i32 = 2;
    let broker = start_broker(ServeOptions::default());
    let topic = "SemRetry";
    let group = "sem_retry_cg";
    let (ns, env) = env_with_topic(&broker, "sem-retry", topic, 2);
    let mut producer = env.producer(&ns, "sem_retry_pg", "producer");
    let seen = Seens::default();
    let mut consumer = concurrent_consumer(
        &env,
        &ns,
        group,
        topic,
        all_tags(),
        Opts {
            max_reconsume_times: Some(MAX_RECONSUME),
            ..Opts::default()
        },
        seen.listener(0, |m| {
            if id_of(m.properties()).starts_with("fail-") {
                ConsumeConcurrentlyStatus::ReconsumeLater
            } else {
                ConsumeConcurrentlyStatus::ConsumeSuccess
            }
        }),
    );
    let (m, failing) = make_message(topic, "fail", 0, Some("TagRetry"), 900);
    let sent = send_ok(&env, &producer, m, &failing.id);
    let (m, ok) = make_message(topic, "ok", 0, Some("TagRetry"), 90);
    send_ok(&env, &producer, m, &ok.id);

    let n = MAX_RECONSUME as usize + 1;
    let retried = env.block_on(wait_until(DELIVERY_TIMEOUT, || {
        seen.count(&failing.id) >= n
    }));
    let deliveries = seen.of(&failing.id);
    assert!(
        retried,
        "a RECONSUME_LATER message was delivered {} times within {DELIVERY_TIMEOUT:?}, expected \
         {n} (first + {MAX_RECONSUME} retries): reconsumeTimes {:?}",
        deliveries.len(),
        deliveries
            .iter()
            .map(|s| s.got.reconsume_times)
            .collect::<Vec<_>>()
    );

    // The dead-letter topic exists once the last send-back went there.
    let dlq = format!("%DLQ%{group}");
    let queues = wait_for_route(&env, &mut producer, &dlq);
    assert_eq!(queues, 1, "{dlq} has one queue");
    let (dead, mut reader) = recording_consumer(&env, &ns, "sem_dlq_reader_cg", &dlq, 1);
    let in_dlq = env.block_on(wait_until(DELIVERY_TIMEOUT, || dead.count(&failing.id) > 0));
    env.settle(SETTLE);
    env.block_on(async {
        reader.shutdown().await;
        consumer.shutdown().await;
    });

    let deliveries = seen.of(&failing.id);
    let times: Vec<i32> = deliveries.iter().map(|s| s.got.reconsume_times).collect();
    assert_eq!(
        times,
        (0..=MAX_RECONSUME).collect::<Vec<_>>(),
        "reconsumeTimes of the deliveries of a message that always asks for RECONSUME_LATER \
         with maxReconsumeTimes {MAX_RECONSUME}"
    );
    for s in &deliveries {
        let diff = s.got.diff(&failing);
        assert!(
            diff.is_empty(),
            "retry delivery {} differs: {diff:?}",
            s.got.reconsume_times
        );
    }
    for w in deliveries.windows(2) {
        let gap = w[1].at_ms - w[0].at_ms;
        assert!(
            gap >= RETRY_DELAY_MS - CLOCK_SLACK_MS,
            "retry {} came {gap} ms after the previous delivery, before its {RETRY_DELAY_MS} ms \
             delay level",
            w[1].got.reconsume_times
        );
    }
    assert_eq!(
        seen.count(&ok.id),
        1,
        "the consumed message was redelivered"
    );

    assert!(
        in_dlq,
        "the message never reached {dlq} within {DELIVERY_TIMEOUT:?} after its last retry"
    );
    let copies = dead.of(&failing.id);
    assert_eq!(copies.len(), 1, "{dlq} holds {} copies", copies.len());
    assert_eq!(dead.count(&ok.id), 0, "the consumed message is in {dlq}");
    let d = &copies[0];
    let diff = d.got.diff(&failing);
    assert!(diff.is_empty(), "the dead letter differs: {diff:?}");
    assert_eq!(
        d.prop("RETRY_TOPIC"),
        Some(topic),
        "RETRY_TOPIC of the dead letter"
    );
    assert_eq!(
        d.got.reconsume_times,
        MAX_RECONSUME + 1,
        "reconsumeTimes of the dead letter"
    );
    // Apache 4.9.7 (CONSUMER_SEND_MSG_BACK) sets ORIGIN_MESSAGE_ID, when
    // absent, to the offset message id of the record it read back (the
    // header's originMsgId is not used); it is kept through the retries.
    let origin = d.prop("ORIGIN_MESSAGE_ID");
    let offset_id = sent.offset_msg_id.clone();
    eprintln!(
        "dead letter: ORIGIN_MESSAGE_ID {origin:?}; original offsetMsgId {offset_id:?}, msgId \
         {:?} (the listener saw msgId {}); deliveries at +{:?} ms",
        sent.msg_id,
        deliveries[0].msg_id,
        deliveries
            .iter()
            .map(|s| s.at_ms - deliveries[0].at_ms)
            .collect::<Vec<_>>()
    );
    assert!(
        offset_id.is_some(),
        "SendResult without offsetMsgId: {sent:?}"
    );
    assert_eq!(
        origin,
        offset_id.as_deref(),
        "ORIGIN_MESSAGE_ID of the dead letter is not the offset message id of the original"
    );
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// What the transaction listener was asked, and when.
#[derive(Default)]
struct TxLog {
    executed: Vec<(String, i64)>,
    checked: Vec<(String, i64)>,
}

/// Decides by the test id: `txcommit-*` commits, `txrollback-*` rolls
/// back, `txunknown-*` answers UNKNOW and commits when checked back.
struct TxListener(Arc<Mutex<TxLog>>);

fn decide(id: &str, checking: bool) -> LocalTransactionState {
    if id.starts_with("txcommit-") {
        LocalTransactionState::CommitMessage
    } else if id.starts_with("txrollback-") {
        LocalTransactionState::RollbackMessage
    } else if checking {
        LocalTransactionState::CommitMessage
    } else {
        LocalTransactionState::Unknown
    }
}

impl TxListener {
    /// [`decide`]s for test id `id` and logs the question.
    fn answer(&self, id: String, checking: bool) -> LocalTransactionState {
        let state = decide(&id, checking);
        let mut log = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let asked = if checking {
            &mut log.checked
        } else {
            &mut log.executed
        };
        asked.push((id, now_ms()));
        state
    }
}

impl TransactionListener for TxListener {
    fn execute_local_transaction(
        &self,
        msg: &dyn MessageTrait,
        _arg: Option<&(dyn std::any::Any + Send + Sync)>,
    ) -> LocalTransactionState {
        self.answer(id_of(msg.get_properties()), false)
    }

    fn check_local_transaction(&self, msg: &MessageExt) -> LocalTransactionState {
        self.answer(id_of(msg.properties()), true)
    }
}

/// Transactional messages through `TransactionMQProducer`: COMMIT is
/// delivered exactly once; ROLLBACK never; UNKNOW is checked back by the
/// broker (CHECK_TRANSACTION_STATE, not before `transactionTimeOut`), the
/// listener's check answers COMMIT, and then it is delivered exactly once.
#[test]
fn transactions_commit_rollback_and_check_back() {
    let _serial = serial();
    const TX_TIMEOUT_MS: i64 = 1_000;
    const PER_KIND: usize = 3;
    let broker = start_broker(
        ServeOptions::default()
            .set("transactionTimeOut", &TX_TIMEOUT_MS.to_string())
            .set("transactionCheckInterval", "1000"),
    );
    let topic = "SemTransactions";
    let (ns, env) = env_with_topic(&broker, "sem-tx", topic, 2);
    let (seen, mut consumer) = recording_consumer(&env, &ns, "sem_tx_cg", topic, 0);
    let log: Arc<Mutex<TxLog>> = Arc::default();
    let mut producer = TransactionMQProducer::builder(env.runtime())
        .client_config(env.client_config(&ns, "tx-producer"))
        .producer_group("sem_tx_pg")
        .send_msg_timeout(SEND_TIMEOUT_MS as u32)
        .transaction_listener(TxListener(log.clone()))
        .build();
    env.block_on(producer.start())
        .expect("start the transaction producer");

    let mut commits = Vec::new();
    let mut rollbacks = Vec::new();
    let mut unknowns = Vec::new();
    let mut sent_at: BTreeMap<String, i64> = BTreeMap::new();
    env.block_on(async {
        for i in 0..PER_KIND {
            for (kind, out, want) in [
                (
                    "txcommit",
                    &mut commits,
                    LocalTransactionState::CommitMessage,
                ),
                (
                    "txrollback",
                    &mut rollbacks,
                    LocalTransactionState::RollbackMessage,
                ),
                ("txunknown", &mut unknowns, LocalTransactionState::Unknown),
            ] {
                let (m, e) = make_message(topic, kind, i, Some("TagTx"), 64 + i * 7);
                sent_at.insert(e.id.clone(), now_ms());
                let r = producer
                    .send_message_in_transaction::<(), _>(m, None)
                    .await
                    .unwrap_or_else(|err| panic!("send {} in a transaction: {err}", e.id));
                let sr = r
                    .send_result
                    .as_ref()
                    .expect("a transactional send has a SendResult");
                assert_eq!(
                    sr.send_status,
                    SendStatus::SendOk,
                    "half message {}: {sr:?}",
                    e.id
                );
                assert_eq!(r.local_transaction_state, Some(want), "{}", e.id);
                out.push(e);
            }
        }
    });

    let visible: Vec<Expected> = commits.iter().chain(&unknowns).cloned().collect();
    let all = env.block_on(wait_until(DUE_BOUND, || {
        visible.iter().all(|e| seen.count(&e.id) > 0)
    }));
    // Settling window: longer than a check round (1 s timeout + 1 s
    // interval), so a second commit of a checked-back half, or a rolled-back
    // half made visible, would show.
    env.settle(Duration::from_secs(3));
    env.block_on(async {
        consumer.shutdown().await;
        producer.shutdown().await;
    });
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    let checks = |id: &str| -> Vec<i64> {
        log.checked
            .iter()
            .filter(|(c, _)| c == id)
            .map(|(_, t)| *t)
            .collect()
    };
    eprintln!(
        "transactions: {} executions, checks {:?}",
        log.executed.len(),
        log.checked
            .iter()
            .map(|(id, t)| format!("{id}@+{}ms", t - sent_at.get(id).copied().unwrap_or(*t)))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        log.executed.len(),
        3 * PER_KIND,
        "local transactions executed: {:?}",
        log.executed
    );
    let missing: Vec<&str> = visible
        .iter()
        .filter(|e| seen.count(&e.id) == 0)
        .map(|e| e.id.as_str())
        .collect();
    assert!(
        all && missing.is_empty(),
        "not delivered within {DUE_BOUND:?}: {missing:?} (an UNKNOW transaction is delivered \
         only after the broker's CHECK_TRANSACTION_STATE got COMMIT from the listener's check; \
         checks so far: {:?})",
        log.checked
    );
    let d = compare(&visible, &seen.gots());
    let rolled_back: Vec<&String> = d.unexpected.iter().collect();
    assert!(
        rolled_back.is_empty(),
        "rolled-back (or other unexpected) messages were delivered: {rolled_back:?}"
    );
    assert!(d.mismatched.is_empty(), "content differs: {}", d.describe());
    assert_eq!(
        d.duplicate_count(),
        0,
        "delivered more than once: {}",
        d.describe()
    );
    for e in &rollbacks {
        assert_eq!(seen.count(&e.id), 0, "rolled-back {} was delivered", e.id);
    }
    for e in &unknowns {
        let c = checks(&e.id);
        assert!(
            !c.is_empty(),
            "UNKNOW {} was delivered but its producer was never checked back",
            e.id
        );
        let sent = sent_at[&e.id];
        assert!(
            c[0] >= sent + TX_TIMEOUT_MS - CLOCK_SLACK_MS,
            "{} was checked back {} ms after it was sent, before transactionTimeOut \
             {TX_TIMEOUT_MS} ms",
            e.id,
            c[0] - sent
        );
        let delivered = seen.of(&e.id)[0].at_ms;
        assert!(
            delivered >= c[0] - CLOCK_SLACK_MS,
            "UNKNOW {} was delivered at {delivered}, before the check-back at {}",
            e.id,
            c[0]
        );
    }
    drop(log);
    env.shutdown();
}

/// A message of the SQL92 test: user properties `a` (absent for every
/// seventh) and `color`.
fn sql_message(
    topic: &str,
    mode: &str,
    i: usize,
    a: Option<i64>,
    color: &str,
) -> (Message, Expected) {
    let (mut m, e) = make_message(topic, mode, i, Some("TagSql"), 30 + i);
    if let Some(a) = a {
        m.put_user_property("a".into(), a.to_string().into())
            .expect("user property a");
    }
    m.put_user_property("color".into(), color.to_owned().into())
        .expect("user property color");
    (m, e)
}

fn sql_matches(a: Option<i64>, color: &str) -> bool {
    matches!(a, Some(3..=6)) && color == "red"
}

/// SQL92 filtering: a push consumer subscribed with
/// `a BETWEEN 3 AND 6 AND color = 'red'` receives exactly the matching
/// messages, each once, whether the broker takes the expression from the
/// consumer's heartbeat (the default) or from each pull. Before that, a
/// consumer with a malformed expression either fails to start
/// (CHECK_CLIENT_CONFIG refused) or receives nothing; either way the
/// broker keeps serving.
#[test]
fn sql92_selector_receives_exactly_the_matching_messages() {
    let _serial = serial();
    let mut broker = start_broker(ServeOptions::default());
    let topic = "SemSql92";
    let (ns, env) = env_with_topic(&broker, "sem-sql", topic, 4);
    let mut producer = env.producer(&ns, "sem_sql_pg", "producer");

    // A malformed expression first.
    let bad_seen = Collector::default();
    let (mut bad, bad_started) = push_consumer_with(
        &env,
        &ns,
        "sem_sql_bad_cg",
        "bad",
        topic,
        MessageSelector::by_sql("a BETWEEN AND (( color ="),
        Opts::default(),
        |c| c.register_message_listener_concurrently(bad_seen.concurrently(9)),
    );
    eprintln!("consumer with a malformed SQL92 expression: start -> {bad_started:?}");
    assert!(
        broker.is_running(),
        "the broker exited after a malformed SQL92 subscription"
    );

    let colors = ["red", "blue", "green"];
    let mut wanted = Vec::new();
    let mut unwanted = Vec::new();
    for i in 0..60 {
        let a = (i % 7 != 6).then_some((i % 10) as i64);
        let color = colors[i % colors.len()];
        let (m, e) = sql_message(topic, "sql", i, a, color);
        send_ok(&env, &producer, m, &e.id);
        if sql_matches(a, color) {
            wanted.push(e);
        } else {
            unwanted.push(e);
        }
    }
    // One matching message last on every queue: once all matching messages
    // arrived, the consumer has read past every other one.
    let queues: Vec<MessageQueue> = env
        .block_on(producer.fetch_publish_message_queues(topic))
        .expect("fetch the publish queues");
    env.block_on(async {
        for (k, q) in queues.into_iter().enumerate() {
            let (m, e) = sql_message(topic, "sqltail", k, Some(4), "red");
            producer
                .send_to_queue_with_timeout(m, q, SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|err| panic!("send {}: {err}", e.id));
            wanted.push(e);
        }
    });
    assert!(!wanted.is_empty() && unwanted.len() > wanted.len());

    // Two groups with the same expression: one relies on the subscription
    // its heartbeat registered (what Java and this client do by default),
    // the other repeats it in every PULL_MESSAGE (FLAG_SUBSCRIPTION).
    let expression = "a BETWEEN 3 AND 6 AND color = 'red'";
    let groups = [
        ("heartbeat subscription", "sem_sql_cg", false),
        (
            "subscription posted with each pull",
            "sem_sql_posted_cg",
            true,
        ),
    ];
    let seens: Vec<Seens> = groups.iter().map(|_| Seens::default()).collect();
    let mut consumers: Vec<DefaultMQPushConsumer> = groups
        .iter()
        .zip(&seens)
        .enumerate()
        .map(|(i, ((_, group, posted), seen))| {
            concurrent_consumer(
                &env,
                &ns,
                group,
                topic,
                MessageSelector::by_sql(expression),
                Opts {
                    post_subscription_when_pull: *posted,
                    ..Opts::default()
                },
                seen.consume_all(i),
            )
        })
        .collect();
    let all = env.block_on(wait_until(DUE_BOUND, || {
        seens
            .iter()
            .all(|seen| wanted.iter().all(|e| seen.count(&e.id) > 0))
    }));
    env.settle(SETTLE);
    env.block_on(async {
        for c in &mut consumers {
            c.shutdown().await;
        }
        if bad_started.is_ok() {
            bad.shutdown().await;
        }
    });
    let mut failures = Vec::new();
    for ((what, group, _), seen) in groups.iter().zip(&seens) {
        let stray: Vec<String> = seen
            .snapshot()
            .iter()
            .filter(|s| {
                let a = s.prop("a").and_then(|v| v.parse().ok());
                !sql_matches(a, s.prop("color").unwrap_or(""))
            })
            .map(|s| {
                format!(
                    "{:?} a={:?} color={:?}",
                    s.got.id,
                    s.prop("a"),
                    s.prop("color")
                )
            })
            .collect();
        let d = compare(&wanted, &seen.gots());
        if !stray.is_empty() {
            failures.push(format!(
                "{group} ({what}) received non-matching messages {stray:?}"
            ));
        }
        if !d.missing.is_empty()
            || !d.unexpected.is_empty()
            || !d.mismatched.is_empty()
            || d.duplicate_count() > 0
        {
            failures.push(format!(
                "{group} ({what}), {} of {} matching messages received within {DUE_BOUND:?}: {}",
                wanted.len() - d.missing.len(),
                wanted.len(),
                d.describe()
            ));
        }
    }
    assert!(
        all && failures.is_empty(),
        "SQL92 `{expression}`:\n{}",
        failures.join("\n")
    );
    let bad_got = bad_seen.snapshot();
    assert!(
        bad_got.is_empty(),
        "the consumer with a malformed SQL92 expression (start: {bad_started:?}) received {} \
         messages, first {:?}",
        bad_got.len(),
        bad_got.first().map(|g| &g.id)
    );
    assert!(broker.is_running(), "the broker is no longer running");
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// An orderly listener that answers SUSPEND_CURRENT_QUEUE_A_MOMENT once
/// for one message gets that message again (in place, reconsumeTimes 1)
/// before anything after it of the same order key, and every key's
/// messages in send order.
#[test]
fn orderly_consumer_suspend_retries_in_place_and_keeps_order() {
    let _serial = serial();
    const KEYS: usize = 3;
    const PER_KEY: usize = 10;
    const SUSPENDED: &str = "order1-4";
    let broker = start_broker(ServeOptions::default());
    let topic = "SemOrderly";
    let (ns, env) = env_with_topic(&broker, "sem-orderly", topic, 4);
    let producer = env.producer(&ns, "sem_orderly_pg", "producer");
    let mut expected = Vec::new();
    env.block_on(async {
        for seq in 0..PER_KEY {
            for key in 0..KEYS {
                let (m, e) =
                    make_message(topic, &format!("order{key}"), seq, Some("TagO"), 24 + seq);
                send_to_key_queue(&producer, m, &e.id, key).await;
                expected.push(e);
            }
        }
    });

    let seen = Seens::default();
    let suspended_once = Arc::new(AtomicBool::new(false));
    let (mut consumer, started) = {
        let log = seen.clone();
        let once = suspended_once.clone();
        push_consumer_with(
            &env,
            &ns,
            "sem_orderly_cg",
            "consumer",
            topic,
            all_tags(),
            Opts::default(),
            move |c| {
                c.register_message_listener_orderly(
                    move |msgs: &[&MessageExt], ctx: &mut ConsumeOrderlyContext| {
                        for m in msgs {
                            log.record(m, 0);
                        }
                        let hit = msgs.iter().any(|m| id_of(m.properties()) == SUSPENDED);
                        if hit && !once.swap(true, Ordering::SeqCst) {
                            ctx.set_suspend_current_queue_time_millis(200);
                            return Ok(ConsumeOrderlyStatus::SuspendCurrentQueueAMoment);
                        }
                        Ok(ConsumeOrderlyStatus::Success)
                    },
                )
            },
        )
    };
    started.unwrap_or_else(|e| panic!("{e}"));
    let all = env.block_on(wait_until(DELIVERY_TIMEOUT, || {
        expected.iter().all(|e| seen.count(&e.id) > 0) && seen.count(SUSPENDED) >= 2
    }));
    env.settle(SETTLE);
    env.block_on(consumer.shutdown());
    let received = seen.snapshot();
    let d = compare(&expected, &seen.gots());
    assert!(
        all && d.missing.is_empty(),
        "orderly consumer missing messages after {DELIVERY_TIMEOUT:?} (suspended message seen \
         {} times): {}",
        seen.count(SUSPENDED),
        d.describe()
    );
    assert!(d.mismatched.is_empty(), "content differs: {}", d.describe());
    assert!(suspended_once.load(Ordering::SeqCst));
    for key in 0..KEYS {
        let family = format!("order{key}-");
        let seqs: Vec<(usize, i32)> = received
            .iter()
            .filter_map(|s| {
                let seq = s.got.id.as_deref()?.strip_prefix(&family)?.parse().ok()?;
                Some((seq, s.got.reconsume_times))
            })
            .collect();
        let mut want: Vec<(usize, i32)> = (0..PER_KEY).map(|s| (s, 0)).collect();
        if key == 1 {
            want.insert(5, (4, 1));
        }
        assert_eq!(
            seqs, want,
            "order key {key}: (sequence, reconsumeTimes) as delivered"
        );
        assert_eq!(
            queues_of_order_key(key, received.iter().map(|s| &s.got)),
            BTreeSet::from([key as i32]),
            "order key {key} queues"
        );
    }
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// Message trace: a producer with `enable_trace` sends; its trace
/// dispatcher publishes a record to `RMQ_SYS_TRACE_TOPIC` (the broker
/// creates it, `traceTopicEnable`) that names the message's msgId, its
/// topic, its keys and the offsetMsgId the broker answered.
#[test]
fn traced_send_publishes_a_trace_record() {
    let _serial = serial();
    const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
    let broker = start_broker(ServeOptions::default());
    let topic = "SemTrace";
    let (ns, env) = env_with_topic(&broker, "sem-trace", topic, 2);
    let mut config = env.client_config(&ns, "traced-producer");
    config.enable_trace = true;
    let mut producer = DefaultMQProducer::builder(env.runtime())
        .client_config(config)
        .producer_group("sem_trace_pg".to_owned())
        .send_msg_timeout(SEND_TIMEOUT_MS as u32)
        .build();
    env.block_on(producer.start())
        .expect("start the traced producer");
    let queues = wait_for_route(&env, &mut producer, TRACE_TOPIC);
    assert!(queues > 0, "{TRACE_TOPIC} has no queue");

    let (m, e) = make_message(topic, "traced", 0, Some("TagTrace"), 50);
    let r = send_ok(&env, &producer, m, &e.id);
    let msg_id = r
        .msg_id
        .as_ref()
        .map(|m| m.to_string())
        .expect("SendResult carries the msgId");

    let (traces, mut reader) = recording_consumer(&env, &ns, "sem_trace_reader_cg", TRACE_TOPIC, 1);
    let mentions = |s: &Seen| String::from_utf8_lossy(&s.got.body).contains(msg_id.as_str());
    // The client's dispatcher flushes every 5 s.
    let found = env.block_on(wait_until(DUE_BOUND, || {
        traces.snapshot().iter().any(mentions)
    }));
    env.block_on(reader.shutdown());
    let all = traces.snapshot();
    let record = all.iter().find(|s| mentions(s));
    assert!(
        found && record.is_some(),
        "no record in {TRACE_TOPIC} names msgId {msg_id} within {DUE_BOUND:?} ({} trace \
         messages read: {:?})",
        all.len(),
        all.iter()
            .take(5)
            .map(|s| String::from_utf8_lossy(&s.got.body).into_owned())
            .collect::<Vec<_>>()
    );
    let record = record.expect("checked above");
    let body = String::from_utf8_lossy(&record.got.body).into_owned();
    eprintln!("trace record: {body:?}; properties {:?}", record.props);
    assert!(
        body.contains(topic),
        "the trace record does not name topic {topic}: {body:?}"
    );
    assert!(
        body.contains(&format!("K-{}", e.id)),
        "the trace record does not name the keys {:?}: {body:?}",
        e.keys
    );
    // The broker's part of the record: the offsetMsgId it answered.
    let offset_id = r
        .offset_msg_id
        .clone()
        .expect("SendResult carries the offsetMsgId");
    assert!(
        body.contains(&offset_id),
        "the trace record does not name the offsetMsgId {offset_id}: {body:?}"
    );
    // Trace records are found by key (the client keys them by msgId), as
    // the console's trace view asks: QUERY_MESSAGE on the trace topic.
    let keys = record.props.get("KEYS").cloned().unwrap_or_default();
    assert!(
        keys.split(' ').any(|k| k == msg_id),
        "the trace record is not keyed by msgId {msg_id}: KEYS={keys:?}"
    );
    let mut admin = RemotingClient::connect(broker.broker).expect("connect to the broker");
    let resp = admin
        .invoke(
            requests::query_message(TRACE_TOPIC, &msg_id, 0, i64::MAX, false),
            Duration::from_secs(30),
        )
        .expect("QUERY_MESSAGE");
    assert_eq!(
        resp.code, 0,
        "QUERY_MESSAGE on {TRACE_TOPIC}: {:?}",
        resp.remark
    );
    let found = decode_records(&resp.body).expect("stored records");
    assert!(
        found
            .iter()
            .any(|m| m.topic == TRACE_TOPIC && String::from_utf8_lossy(&m.body).contains(&msg_id)),
        "QUERY_MESSAGE by key {msg_id} did not return the trace record"
    );
    env.block_on(producer.shutdown());
    env.shutdown();
}
