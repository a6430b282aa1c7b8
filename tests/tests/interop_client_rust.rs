//! Interoperability: `ringmq serve` driven by a RocketMQ client nobody here
//! wrote, the crate `rocketmq-client-rust` (crates.io). Each test starts its
//! own broker (`Ringmq::start()`), creates its topic through the client's
//! admin API (request code 17 UPDATE_AND_CREATE_TOPIC sent to the broker,
//! then waits for the name server route), and checks end to end what the
//! client sees: bodies, keys, tags and user properties byte for byte, no
//! loss, and how many redeliveries.
//!
//! Every wait is bounded (a delivery phase gets [`DELIVERY_TIMEOUT`]); the
//! tests of this file run one at a time ([`interop::serial`]).

mod interop;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interop::{
    broker_addrs, committed_offsets, compare, create_topic, env_with_topic, make_message,
    queues_of_order_key, send_to_key_queue, serial, shutdown_producer, wait_until, ClientEnv,
    Collector, Expected, Got, PushSpec, DELIVERY_TIMEOUT, SEND_TIMEOUT_MS,
};
use ringmq_tests::server::Ringmq;
#[allow(deprecated)] // the classic pull consumer is tested on purpose
use rocketmq_client_rust::{
    ClientOptions, DefaultLitePullConsumer, DefaultLitePullConsumerBuilder, DefaultMQProducer,
    DefaultMQPullConsumer, DefaultMQPushConsumer, SendStatus,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::result::PullStatus;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;

/// After everything expected arrived, how long to keep listening for
/// redeliveries before counting them (a settling window, not a readiness
/// wait).
const SETTLE: Duration = Duration::from_secs(2);

/// Waits (at most [`DELIVERY_TIMEOUT`]) until `got` holds every message of
/// `expected`, lets `consumer` run for [`SETTLE`] more, then shuts it down.
/// Returns whether everything arrived in time, and all that was received.
fn receive_all(
    env: &ClientEnv,
    consumer: &mut DefaultMQPushConsumer,
    got: &Collector,
    expected: &[Expected],
) -> (bool, Vec<Got>) {
    let all = env.block_on(wait_until(DELIVERY_TIMEOUT, || got.has_all(expected)));
    env.settle(SETTLE);
    env.block_on(consumer.shutdown());
    (all, got.snapshot())
}

/// Sync, async (callback), oneway and batch sends to one topic; one
/// cluster-mode push consumer then receives every message exactly once,
/// identical in body, keys, tags and user properties, at the queue and
/// offset the broker acknowledged for sync sends.
#[test]
fn send_modes_then_push_consumer_receives_each_exactly_once() {
    let _serial = serial();
    let broker = Ringmq::start();
    let topic = "InteropSendModes";
    let (ns, env) = env_with_topic(&broker, "send-modes", topic, 4);
    let producer = env.producer(&ns, "interop_send_modes_pg", "producer");

    let mut expected: Vec<Expected> = Vec::new();
    // id -> (queue id, queue offset) the broker acknowledged.
    let mut acked: HashMap<String, (i32, u64)> = HashMap::new();

    // Sync: every fifth body is above the client's 4 KiB compression
    // threshold, so it travels compressed (sysFlag bit) and must come back
    // decompressed and identical.
    env.block_on(async {
        for i in 0..20 {
            let len = if i % 5 == 4 {
                5_000 + i * 1_000
            } else {
                16 + i * 37
            };
            let (m, e) = make_message(topic, "sync", i, Some("TagSync"), len);
            let r = producer
                .send_with_timeout(m, SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|err| panic!("sync send {}: {err}", e.id))
                .expect("a sync send returns a SendResult");
            assert_eq!(
                r.send_status,
                SendStatus::SendOk,
                "sync send {}: {r:?}",
                e.id
            );
            let mq = r.message_queue.clone().expect("SendResult names its queue");
            assert_eq!(mq.topic_str(), topic);
            acked.insert(e.id.clone(), (mq.queue_id(), r.queue_offset));
            expected.push(e);
        }
    });

    // Async with a callback per message.
    let results: Arc<Mutex<Vec<Result<String, String>>>> = Arc::default();
    env.block_on(async {
        for i in 0..20 {
            let (m, e) = make_message(topic, "async", i, Some("TagAsync"), 64 + i * 11);
            let sink = results.clone();
            let id = e.id.clone();
            producer
                .send_with_callback_timeout(
                    m,
                    move |r, err| {
                        let out = match (r, err) {
                            (Some(r), None) if r.send_status == SendStatus::SendOk => {
                                Ok(id.clone())
                            }
                            (r, err) => Err(format!("{id}: result {r:?}, error {err:?}")),
                        };
                        sink.lock().unwrap_or_else(|e| e.into_inner()).push(out);
                    },
                    SEND_TIMEOUT_MS,
                )
                .await
                .unwrap_or_else(|err| panic!("async send {}: {err}", e.id));
            expected.push(e);
        }
        let all = wait_until(DELIVERY_TIMEOUT, || {
            results.lock().unwrap_or_else(|e| e.into_inner()).len() == 20
        })
        .await;
        let r = results.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert!(
            all,
            "only {} of 20 async send callbacks within {DELIVERY_TIMEOUT:?}",
            r.len()
        );
        let failed: Vec<_> = r.iter().filter_map(|x| x.as_ref().err()).collect();
        assert!(failed.is_empty(), "async sends failed: {failed:?}");
    });

    // Oneway: unacknowledged, but on a healthy loopback broker every one
    // must still arrive.
    env.block_on(async {
        for i in 0..20 {
            let (m, e) = make_message(topic, "oneway", i, Some("TagOneway"), 32 + i * 5);
            producer
                .send_oneway(m)
                .await
                .unwrap_or_else(|err| panic!("oneway send {}: {err}", e.id));
            expected.push(e);
        }
    });

    // One batch of 20 (request code 320 SEND_BATCH_MESSAGE).
    env.block_on(async {
        let mut batch = Vec::new();
        for i in 0..20 {
            let (m, e) = make_message(topic, "batch", i, Some("TagBatch"), 100 + i * 3);
            batch.push(m);
            expected.push(e);
        }
        let r = producer
            .send_batch_with_timeout(batch, SEND_TIMEOUT_MS)
            .await
            .unwrap_or_else(|err| panic!("batch send: {err}"));
        assert_eq!(r.send_status, SendStatus::SendOk, "batch send: {r:?}");
    });

    let got = Collector::default();
    let mut consumer =
        PushSpec::new("interop_send_modes_cg", "consumer", topic).start(&env, &ns, &got, 0);
    let (all, received) = receive_all(&env, &mut consumer, &got, &expected);
    let d = compare(&expected, &received);
    assert!(
        all && d.missing.is_empty(),
        "not all {} messages arrived within {DELIVERY_TIMEOUT:?}: {}",
        expected.len(),
        d.describe()
    );
    d.assert_intact_and_nothing_unexpected();
    assert_eq!(
        d.duplicate_count(),
        0,
        "single consumer got redeliveries: {}",
        d.describe()
    );
    assert_eq!(
        d.retried,
        0,
        "deliveries through the retry topic: {}",
        d.describe()
    );

    // Sync sends: delivered at the queue and offset the broker acknowledged.
    for g in &received {
        if let Some((q, off)) = g.id.as_ref().and_then(|id| acked.get(id)) {
            assert_eq!(
                (g.queue_id, g.queue_offset),
                (*q, *off as i64),
                "{:?}: delivered at (queue, offset) != acknowledged by SEND_MESSAGE",
                g.id
            );
        }
    }
    // No two messages share a (queue, offset).
    let mut slots = BTreeMap::new();
    for g in &received {
        if let Some(other) = slots.insert((g.queue_id, g.queue_offset), g.id.clone()) {
            panic!(
                "queue {} offset {} holds both {:?} and {:?}",
                g.queue_id, g.queue_offset, other, g.id
            );
        }
    }
    // Offsets of each queue are 0..n without holes.
    let mut per_queue: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for (q, off) in slots.keys() {
        per_queue.entry(*q).or_default().push(*off);
    }
    for (q, offs) in &per_queue {
        let want: Vec<i64> = (0..offs.len() as i64).collect();
        assert_eq!(offs, &want, "queue {q}: offsets not dense from 0");
    }
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// Sends message `n` of the split test synchronously.
async fn send_split(producer: &DefaultMQProducer, topic: &str, n: usize) -> Expected {
    let (m, e) = make_message(topic, "split", n, Some("TagSplit"), 40 + n);
    producer
        .send_with_timeout(m, SEND_TIMEOUT_MS)
        .await
        .unwrap_or_else(|err| panic!("send {}: {err}", e.id));
    e
}

/// Two push consumers of one group (distinct instance names) split the
/// queues — each receives some — and together receive every message. A
/// rebalance may redeliver (at-least-once); duplicates are reported.
#[test]
fn two_push_consumers_in_one_group_split_the_queues() {
    let _serial = serial();
    let broker = Ringmq::start();
    let topic = "InteropSplit";
    let (ns, env) = env_with_topic(&broker, "split", topic, 8);
    let producer = env.producer(&ns, "interop_split_pg", "producer");

    let got = Collector::default();
    let group = "interop_split_cg";
    let mut c0 = PushSpec::new(group, "c0", topic).start(&env, &ns, &got, 0);
    let mut c1 = PushSpec::new(group, "c1", topic).start(&env, &ns, &got, 1);

    // Send rounds until both consumers have received something (that is,
    // the group has rebalanced over the two), then one more round.
    let mut expected = Vec::new();
    let started = Instant::now();
    let mut round = 0;
    let both = env.block_on(async {
        loop {
            for i in 0..16 {
                expected.push(send_split(&producer, topic, round * 16 + i).await);
            }
            round += 1;
            let by = |c: usize| got.snapshot().iter().any(|g| g.consumer == c);
            if wait_until(Duration::from_secs(1), || by(0) && by(1)).await {
                return true;
            }
            if started.elapsed() > DELIVERY_TIMEOUT {
                return false;
            }
        }
    });
    let rebalanced_after = started.elapsed();
    env.block_on(async {
        for i in 0..32 {
            expected.push(send_split(&producer, topic, round * 16 + i).await);
        }
    });
    let all = env.block_on(wait_until(DELIVERY_TIMEOUT, || got.has_all(&expected)));
    env.settle(SETTLE);
    env.block_on(async {
        c0.shutdown().await;
        c1.shutdown().await;
    });
    let received = got.snapshot();
    let d = compare(&expected, &received);
    let count = |c: usize| received.iter().filter(|g| g.consumer == c).count();
    let queues = |c: usize| -> BTreeSet<i32> {
        received
            .iter()
            .filter(|g| g.consumer == c)
            .map(|g| g.queue_id)
            .collect()
    };
    eprintln!(
        "split: {} sent; consumer0 got {} from queues {:?}; consumer1 got {} from queues {:?}; \
         both receiving after {:?}; {} redelivered ({} with reconsumeTimes > 0)",
        expected.len(),
        count(0),
        queues(0),
        count(1),
        queues(1),
        rebalanced_after,
        d.duplicate_count(),
        d.retried
    );
    assert!(
        both,
        "within {DELIVERY_TIMEOUT:?} one consumer received nothing (consumer0 {}, consumer1 {}): \
         the group never split its queues",
        count(0),
        count(1)
    );
    assert!(
        all && d.missing.is_empty(),
        "messages missing after {DELIVERY_TIMEOUT:?}: {}",
        d.describe()
    );
    d.assert_intact_and_nothing_unexpected();
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// Sends `n` messages of family `mode` synchronously; returns what was sent.
fn send_sync(
    env: &ClientEnv,
    producer: &DefaultMQProducer,
    topic: &str,
    mode: &str,
    n: usize,
) -> Vec<Expected> {
    env.block_on(async {
        let mut expected = Vec::new();
        for i in 0..n {
            let (m, e) = make_message(topic, mode, i, Some("TagPull"), 20 + i * 13);
            let r = producer
                .send_with_timeout(m, SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|err| panic!("send {}: {err}", e.id))
                .expect("a sync send returns a SendResult");
            assert_eq!(r.send_status, SendStatus::SendOk);
            expected.push(e);
        }
        expected
    })
}

/// A `DefaultLitePullConsumer` of `group` (instance name `lite`), set up
/// further by `configure`.
fn lite_pull_consumer(
    env: &ClientEnv,
    ns: &str,
    group: &str,
    configure: impl FnOnce(DefaultLitePullConsumerBuilder) -> DefaultLitePullConsumerBuilder,
) -> DefaultLitePullConsumer {
    let builder = DefaultLitePullConsumer::builder(env.runtime())
        .client_options(ClientOptions::from(env.client_config(ns, "lite")))
        .consumer_group(group);
    configure(builder)
        // Short long-polls: the client's shutdown waits for the ones in
        // flight (the broker holds each up to this long).
        .broker_suspend_max_time_millis(2_000)
        .consumer_timeout_millis_when_suspend(10_000)
        .build()
        .expect("build the lite pull consumer")
}

/// Polls `consumer` into `got` until every message of `expected` arrived
/// (at most [`DELIVERY_TIMEOUT`]), then for [`SETTLE`]; then shuts it down.
async fn poll_all_then_shutdown(
    consumer: &DefaultLitePullConsumer,
    got: &Collector,
    expected: &[Expected],
) {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    while !got.has_all(expected) && Instant::now() < deadline {
        for m in consumer.poll_with_timeout(1_000).await {
            got.push(Got::from_ext(&m, 0));
        }
    }
    // Settling window: anything polled now is a redelivery.
    let settle = Instant::now() + SETTLE;
    while Instant::now() < settle {
        for m in consumer.poll_with_timeout(500).await {
            got.push(Got::from_ext(&m, 0));
        }
    }
    consumer.shutdown().await;
}

/// Lite pull consumer `who` (in `mode`) read every message of `expected`
/// exactly once, intact, and nothing else.
fn assert_lite_pull_read_each_once(expected: &[Expected], got: &Collector, mode: &str, who: &str) {
    let d = compare(expected, &got.snapshot());
    assert!(
        d.missing.is_empty(),
        "lite pull ({mode}) missed messages: {}",
        d.describe()
    );
    d.assert_intact_and_nothing_unexpected();
    assert_eq!(
        d.duplicate_count(),
        0,
        "{who} got redeliveries: {}",
        d.describe()
    );
}

/// `DefaultLitePullConsumer` in subscribe mode (the client rebalances and
/// pulls; `poll` hands out messages) reads every message exactly once.
#[test]
fn lite_pull_consumer_subscribe_reads_every_message() {
    let _serial = serial();
    let broker = Ringmq::start();
    let topic = "InteropLiteSubscribe";
    let (ns, env) = env_with_topic(&broker, "lite-sub", topic, 4);
    let producer = env.producer(&ns, "interop_lite_sub_pg", "producer");
    let expected = send_sync(&env, &producer, topic, "litesub", 60);

    let consumer = lite_pull_consumer(&env, &ns, "interop_lite_sub_cg", |b| {
        b.consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
    });
    let got = Collector::default();
    env.block_on(async {
        consumer
            .subscribe_with_expression(topic, "*")
            .await
            .expect("subscribe");
        consumer
            .start()
            .await
            .expect("start the lite pull consumer");
        poll_all_then_shutdown(&consumer, &got, &expected).await;
    });
    assert_lite_pull_read_each_once(&expected, &got, "subscribe", "single lite consumer");
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// `DefaultLitePullConsumer` in assign mode (queues chosen by the test,
/// offsets sought to the beginning) reads every message exactly once.
#[test]
fn lite_pull_consumer_assign_reads_every_message() {
    let _serial = serial();
    let broker = Ringmq::start();
    let topic = "InteropLiteAssign";
    let (ns, env) = env_with_topic(&broker, "lite-assign", topic, 4);
    let producer = env.producer(&ns, "interop_lite_assign_pg", "producer");
    let expected = send_sync(&env, &producer, topic, "liteassign", 60);

    let consumer = lite_pull_consumer(&env, &ns, "interop_lite_assign_cg", |b| {
        b.auto_commit(false)
    });
    let got = Collector::default();
    env.block_on(async {
        consumer
            .start()
            .await
            .expect("start the lite pull consumer");
        let queues = consumer
            .fetch_message_queues(topic)
            .await
            .expect("fetch the message queues of the topic");
        assert_eq!(queues.len(), 4, "queues of {topic}: {queues:?}");
        consumer.assign(queues.clone()).await.expect("assign");
        for q in &queues {
            consumer
                .seek_to_begin(q)
                .await
                .expect("seek to the beginning");
        }
        poll_all_then_shutdown(&consumer, &got, &expected).await;
    });
    assert_lite_pull_read_each_once(&expected, &got, "assign", "assigned lite consumer");
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// The classic `DefaultMQPullConsumer`: explicit PULL_MESSAGE requests at
/// explicit offsets, queue by queue, until the broker says there is nothing
/// new; reads every message once, and the broker's max offsets match.
#[test]
#[allow(deprecated)] // DefaultMQPullConsumer: classic pull, tested on purpose
fn classic_pull_consumer_reads_every_message() {
    let _serial = serial();
    let broker = Ringmq::start();
    let topic = "InteropClassicPull";
    let (ns, env) = env_with_topic(&broker, "pull", topic, 4);
    let producer = env.producer(&ns, "interop_pull_pg", "producer");
    let expected = send_sync(&env, &producer, topic, "pull", 60);

    let consumer = DefaultMQPullConsumer::builder(env.runtime())
        .client_options(ClientOptions::from(env.client_config(&ns, "pull")))
        .consumer_group("interop_pull_cg")
        .broker_suspend_max_time(Duration::from_secs(2))
        .consumer_timeout_when_suspend(Duration::from_secs(10))
        .build()
        .expect("build the pull consumer");
    let got = Collector::default();
    let mut max_offsets = BTreeMap::new();
    env.block_on(async {
        consumer.start().await.expect("start the pull consumer");
        let queues: Vec<MessageQueue> = consumer
            .fetch_subscribe_message_queues(topic)
            .await
            .expect("fetch the message queues of the topic");
        assert_eq!(queues.len(), 4, "queues of {topic}: {queues:?}");
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        for q in &queues {
            let max = consumer.max_offset(q).await.expect("GET_MAX_OFFSET");
            max_offsets.insert(q.queue_id(), max);
            let mut offset = 0i64;
            while offset < max {
                assert!(
                    Instant::now() < deadline,
                    "pulling {q:?} took over {DELIVERY_TIMEOUT:?}"
                );
                let r = consumer
                    .pull(q, "*", offset, 32)
                    .await
                    .unwrap_or_else(|e| panic!("PULL_MESSAGE {q:?} at {offset}: {e}"));
                match r.pull_status() {
                    PullStatus::Found => {
                        let msgs = r.msg_found_list().unwrap_or_default();
                        assert!(!msgs.is_empty(), "FOUND with no messages at {q:?}@{offset}");
                        for m in msgs {
                            assert_eq!(m.queue_id(), q.queue_id());
                            got.push(Got::from_ext(m, 0));
                        }
                        assert!(
                            r.next_begin_offset() as i64 > offset,
                            "nextBeginOffset {} does not advance past {offset} on {q:?}",
                            r.next_begin_offset()
                        );
                        offset = r.next_begin_offset() as i64;
                    }
                    other => panic!(
                        "PULL_MESSAGE {q:?} at {offset} (< max offset {max}): {other:?}, \
                         next {} min {} max {}",
                        r.next_begin_offset(),
                        r.min_offset(),
                        r.max_offset()
                    ),
                }
            }
        }
        let _ = consumer.shutdown().await;
    });
    let total: i64 = max_offsets.values().sum();
    assert_eq!(
        total,
        expected.len() as i64,
        "max offsets {max_offsets:?} do not add up to the {} messages sent",
        expected.len()
    );
    let d = compare(&expected, &got.snapshot());
    assert!(
        d.missing.is_empty(),
        "pull consumer missed messages: {}",
        d.describe()
    );
    assert!(d.mismatched.is_empty(), "content differs: {}", d.describe());
    assert_eq!(d.duplicate_count(), 0, "pulled twice: {}", d.describe());
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// A push consumer subscribed to `TagA||TagB` (no spaces: this client
/// hashes the untrimmed tag) receives all TagA and TagB messages and
/// nothing tagged TagC or untagged.
#[test]
fn tag_filtered_subscription_receives_only_and_all_matching_tags() {
    let _serial = serial();
    let broker = Ringmq::start();
    let topic = "InteropTags";
    let (ns, env) = env_with_topic(&broker, "tags", topic, 4);
    let mut producer = env.producer(&ns, "interop_tags_pg", "producer");
    let queues = env
        .block_on(producer.fetch_publish_message_queues(topic))
        .expect("fetch the publish queues");

    let tags = [Some("TagA"), Some("TagB"), Some("TagC"), None];
    let mut wanted = Vec::new();
    let mut unwanted = Vec::new();
    env.block_on(async {
        for i in 0..80 {
            let tag = tags[i % tags.len()];
            let (m, e) = make_message(topic, "tags", i, tag, 30 + i);
            producer
                .send_with_timeout(m, SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|err| panic!("send {}: {err}", e.id));
            match tag {
                Some("TagA") | Some("TagB") => wanted.push(e),
                _ => unwanted.push(e),
            }
        }
        // One matching message last on every queue, so once all matching
        // messages arrived the consumer has read past every unwanted one.
        for (k, q) in queues.into_iter().enumerate() {
            let (m, e) = make_message(topic, "tagtail", k, Some("TagB"), 10);
            producer
                .send_to_queue_with_timeout(m, q, SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|err| panic!("send {}: {err}", e.id));
            wanted.push(e);
        }
    });

    let got = Collector::default();
    let mut consumer = PushSpec {
        expression: "TagA||TagB",
        ..PushSpec::new("interop_tags_cg", "consumer", topic)
    }
    .start(&env, &ns, &got, 0);
    let (all, received) = receive_all(&env, &mut consumer, &got, &wanted);
    let d = compare(&wanted, &received);
    let stray: Vec<String> = received
        .iter()
        .filter(|g| !matches!(g.tags.as_deref(), Some("TagA") | Some("TagB")))
        .map(|g| format!("{:?} tagged {:?}", g.id, g.tags))
        .collect();
    assert!(
        stray.is_empty(),
        "TagA||TagB subscription received {stray:?}"
    );
    assert!(
        all && d.missing.is_empty(),
        "matching messages missing after {DELIVERY_TIMEOUT:?}: {}",
        d.describe()
    );
    assert!(d.mismatched.is_empty(), "content differs: {}", d.describe());
    assert_eq!(d.duplicate_count(), 0, "redeliveries: {}", d.describe());
    assert_eq!(unwanted.len(), 40);
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// Two broadcasting push consumers of one group each receive every message.
#[test]
fn broadcast_consumers_each_receive_every_message() {
    let _serial = serial();
    let broker = Ringmq::start();
    let topic = "InteropBroadcast";
    let (ns, env) = env_with_topic(&broker, "broadcast", topic, 4);
    let producer = env.producer(&ns, "interop_broadcast_pg", "producer");

    let got0 = Collector::default();
    let got1 = Collector::default();
    let group = "interop_broadcast_cg";
    let broadcast = |instance| PushSpec {
        model: MessageModel::Broadcasting,
        ..PushSpec::new(group, instance, topic)
    };
    let mut c0 = broadcast("b0").start(&env, &ns, &got0, 0);
    let mut c1 = broadcast("b1").start(&env, &ns, &got1, 1);
    let expected = send_sync(&env, &producer, topic, "broadcast", 40);
    let all = env.block_on(wait_until(DELIVERY_TIMEOUT, || {
        got0.has_all(&expected) && got1.has_all(&expected)
    }));
    env.settle(SETTLE);
    env.block_on(async {
        c0.shutdown().await;
        c1.shutdown().await;
    });
    for (i, got) in [&got0, &got1].into_iter().enumerate() {
        let d = compare(&expected, &got.snapshot());
        assert!(
            all && d.missing.is_empty(),
            "broadcast consumer {i} missing messages after {DELIVERY_TIMEOUT:?}: {}",
            d.describe()
        );
        assert!(
            d.mismatched.is_empty(),
            "consumer {i}: content differs: {}",
            d.describe()
        );
        assert_eq!(
            d.duplicate_count(),
            0,
            "consumer {i}: redeliveries: {}",
            d.describe()
        );
    }
    shutdown_producer(&env, producer);
    env.shutdown();
}

/// Consumer offsets survive a broker restart: consume N, wait until the
/// broker reports them committed (QUERY_CONSUMER_OFFSET), stop the client,
/// `restart()` the broker, send N more; a new consumer of the same group
/// receives the second N and none of the first.
#[test]
fn committed_offsets_survive_broker_restart() {
    let _serial = serial();
    const N: usize = 50;
    const QUEUES: u32 = 4;
    let mut broker = Ringmq::start();
    let (ns, ba) = broker_addrs(&broker);
    let topic = "InteropRestart";
    let group = "interop_restart_cg";

    // Phase 1: produce and consume N; wait for the commit to reach the broker.
    let env = ClientEnv::new("restart-1");
    create_topic(&env, &ns, &ba, topic, QUEUES);
    let producer = env.producer(&ns, "interop_restart_pg", "producer");
    let first = env.block_on(async {
        let mut expected = Vec::new();
        let mut ends = BTreeMap::new();
        for i in 0..N {
            let (m, e) = make_message(topic, "before", i, Some("TagR"), 50 + i);
            let r = producer
                .send_with_timeout(m, SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|err| panic!("send {}: {err}", e.id))
                .expect("a sync send returns a SendResult");
            let q = r.message_queue.as_ref().expect("queue").queue_id();
            let end = ends.entry(q).or_insert(0i64);
            *end = (*end).max(r.queue_offset as i64 + 1);
            expected.push(e);
        }
        (expected, ends)
    });
    let (first, ends) = first;
    let got1 = Collector::default();
    let mut c = PushSpec {
        persist_interval_ms: Some(1_000),
        ..PushSpec::new(group, "before", topic)
    }
    .start(&env, &ns, &got1, 0);
    let all = env.block_on(wait_until(DELIVERY_TIMEOUT, || got1.has_all(&first)));
    let d = compare(&first, &got1.snapshot());
    assert!(
        all && d.missing.is_empty(),
        "phase 1 delivery: {}",
        d.describe()
    );

    // The client persists offsets every second (UPDATE_CONSUMER_OFFSET);
    // wait until the broker answers QUERY_CONSUMER_OFFSET with the end of
    // every queue.
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let mut last;
    loop {
        last = committed_offsets(&env, &ns, &ba, group, topic, QUEUES);
        let done = (0..QUEUES as i32).all(|q| {
            let want = ends.get(&q).copied().unwrap_or(0);
            matches!(last[q as usize], Ok(v) if v == want)
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "committed offsets never reached the queue ends {ends:?} within {DELIVERY_TIMEOUT:?}: \
             QUERY_CONSUMER_OFFSET answered {last:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    env.block_on(c.shutdown());
    shutdown_producer(&env, producer);
    env.shutdown();

    // Restart the broker on the same data directory and ports.
    broker.restart();

    // Phase 2: fresh clients; the topic and the offsets must have survived.
    let env = ClientEnv::new("restart-2");
    let after = committed_offsets(&env, &ns, &ba, group, topic, QUEUES);
    let mut producer = env.producer(&ns, "interop_restart_pg", "producer2");
    let queues = interop::wait_for_route(&env, &mut producer, topic);
    assert_eq!(queues, QUEUES as usize, "route of {topic} after restart");
    let second = env.block_on(async {
        let mut expected = Vec::new();
        for i in 0..N {
            let (m, e) = make_message(topic, "after", i, Some("TagR"), 50 + i);
            producer
                .send_with_timeout(m, SEND_TIMEOUT_MS)
                .await
                .unwrap_or_else(|err| panic!("send {} after restart: {err}", e.id));
            expected.push(e);
        }
        expected
    });
    let got2 = Collector::default();
    let mut c = PushSpec {
        persist_interval_ms: Some(1_000),
        ..PushSpec::new(group, "after", topic)
    }
    .start(&env, &ns, &got2, 0);
    let (all, received) = receive_all(&env, &mut c, &got2, &second);
    let redelivered: Vec<&Got> = received
        .iter()
        .filter(|g| g.id.as_deref().is_some_and(|id| id.starts_with("before-")))
        .collect();
    let only_second: Vec<Got> = received
        .iter()
        .filter(|g| !g.id.as_deref().is_some_and(|id| id.starts_with("before-")))
        .cloned()
        .collect();
    let d = compare(&second, &only_second);
    eprintln!(
        "restart: committed before {last:?}, after restart {after:?}; {} of the first {N} \
         redelivered after restart",
        redelivered.len()
    );
    assert!(
        all && d.missing.is_empty(),
        "messages sent after the restart missing: {}",
        d.describe()
    );
    assert!(d.mismatched.is_empty(), "content differs: {}", d.describe());
    for (q, r) in after.iter().enumerate() {
        let want = ends.get(&(q as i32)).copied().unwrap_or(0);
        assert_eq!(
            r.as_ref().ok().copied(),
            Some(want),
            "queue {q}: QUERY_CONSUMER_OFFSET after restart answered {r:?}, committed before \
             was {want}"
        );
    }
    assert!(
        redelivered.is_empty(),
        "{} messages committed before the restart were delivered again (first: {:?})",
        redelivered.len(),
        redelivered
            .iter()
            .take(5)
            .map(|g| &g.id)
            .collect::<Vec<_>>()
    );
    env.block_on(producer.shutdown());
    env.shutdown();
}

/// Ordered messages: a `MessageQueueSelector` sends each of three order
/// keys to one queue; an orderly push listener (which needs the broker's
/// LOCK_BATCH_MQ) receives each key's messages in send order, once.
#[test]
fn orderly_consumer_receives_each_order_key_in_order() {
    let _serial = serial();
    const KEYS: usize = 3;
    const PER_KEY: usize = 30;
    let broker = Ringmq::start();
    let topic = "InteropOrderly";
    let (ns, env) = env_with_topic(&broker, "orderly", topic, 4);
    let producer = env.producer(&ns, "interop_orderly_pg", "producer");
    let mut expected = Vec::new();
    env.block_on(async {
        for seq in 0..PER_KEY {
            for key in 0..KEYS {
                let i = key * PER_KEY + seq;
                let (m, e) = make_message(topic, &format!("order{key}"), seq, Some("TagO"), 24 + i);
                let r = send_to_key_queue(&producer, m, &e.id, key).await;
                assert_eq!(
                    r.message_queue.as_ref().map(|q| q.queue_id()),
                    Some(key as i32),
                    "selector chose queue {key}"
                );
                expected.push(e);
            }
        }
    });
    let got = Collector::default();
    let mut consumer = PushSpec {
        orderly: true,
        ..PushSpec::new("interop_orderly_cg", "consumer", topic)
    }
    .start(&env, &ns, &got, 0);
    let (all, received) = receive_all(&env, &mut consumer, &got, &expected);
    let d = compare(&expected, &received);
    assert!(
        all && d.missing.is_empty(),
        "orderly consumer missing messages after {DELIVERY_TIMEOUT:?} (an orderly consumer only \
         consumes queues it could lock with LOCK_BATCH_MQ): {}",
        d.describe()
    );
    assert!(d.mismatched.is_empty(), "content differs: {}", d.describe());
    assert_eq!(d.duplicate_count(), 0, "redeliveries: {}", d.describe());
    for key in 0..KEYS {
        let family = format!("order{key}-");
        let seqs: Vec<usize> = received
            .iter()
            .filter_map(|g| g.id.as_deref()?.strip_prefix(&family)?.parse().ok())
            .collect();
        let want: Vec<usize> = (0..PER_KEY).collect();
        assert_eq!(seqs, want, "order key {key} received out of order");
        assert_eq!(
            queues_of_order_key(key, &received),
            BTreeSet::from([key as i32]),
            "order key {key} queues"
        );
    }
    shutdown_producer(&env, producer);
    env.shutdown();
}
