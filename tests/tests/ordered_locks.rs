//! Ordered consumption's broker side over the wire: LOCK_BATCH_MQ /
//! UNLOCK_BATCH_MQ per (group, queue). The queues of one batch live on
//! different shards (two shards, eight queues), a lock held by a live
//! client is refused to another, renewal keeps it, unlock releases only
//! one's own, and a lock not renewed within `rebalanceLockMaxLiveTime`
//! goes to whoever asks.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ringmq_tests::remoting_client::{call, RemotingClient};
use ringmq_tests::requests::{self, code, response};
use ringmq_tests::server::{Ringmq, ServeOptions};

const GROUP: &str = "ordered_lock_group";
const TOPIC: &str = "OrderedLockTopic";
const BROKER: &str = "broker-a";
/// Lock lifetime for this test (Apache: 60 s).
const LIVE_MS: u64 = 1500;

/// Queue ids the broker says `client` now holds, of those asked for.
fn lock(
    c: &mut RemotingClient,
    client: &str,
    queues: impl IntoIterator<Item = i32>,
) -> BTreeSet<i32> {
    let resp = call(
        c,
        requests::lock_batch(code::LOCK_BATCH_MQ, GROUP, client, BROKER, TOPIC, queues),
    );
    assert_eq!(resp.code, response::SUCCESS, "LOCK_BATCH_MQ: {resp:?}");
    let body: serde_json::Value = serde_json::from_slice(&resp.body).expect("JSON body");
    body["lockOKMQSet"]
        .as_array()
        .expect("lockOKMQSet")
        .iter()
        .map(|mq| {
            assert_eq!(mq["topic"], TOPIC);
            assert_eq!(mq["brokerName"], BROKER);
            mq["queueId"].as_i64().expect("queueId") as i32
        })
        .collect()
}

fn unlock(c: &mut RemotingClient, client: &str, queues: impl IntoIterator<Item = i32>) {
    let resp = call(
        c,
        requests::lock_batch(code::UNLOCK_BATCH_MQ, GROUP, client, BROKER, TOPIC, queues),
    );
    assert_eq!(resp.code, response::SUCCESS, "UNLOCK_BATCH_MQ: {resp:?}");
}

#[test]
fn queue_locks_are_exclusive_renewable_and_expire() {
    let mq = Ringmq::start_with(
        ServeOptions::default().set("rebalanceLockMaxLiveTime", &LIVE_MS.to_string()),
    );
    assert_eq!(mq.options().shards, 2, "queues spread over two shards");
    let mut a = RemotingClient::connect(mq.broker).unwrap();
    let mut b = RemotingClient::connect(mq.broker).unwrap();
    assert_eq!(
        call(&mut a, requests::update_and_create_topic(TOPIC, 8, 8)).code,
        response::SUCCESS
    );
    let all: BTreeSet<i32> = (0..8).collect();

    let t0 = Instant::now();
    assert_eq!(
        lock(&mut a, "client-a", 0..8),
        all,
        "free queues are granted"
    );
    let refused = lock(&mut b, "client-b", 0..8);
    // Only if A's locks could have expired meanwhile may B get any.
    if t0.elapsed() < Duration::from_millis(LIVE_MS) {
        assert!(refused.is_empty(), "held by a live client: {refused:?}");
    }

    // A gives back half; B gets exactly that half.
    unlock(&mut a, "client-a", 0..4);
    let t1 = Instant::now();
    assert_eq!(lock(&mut a, "client-a", 4..8), (4..8).collect(), "renewal");
    let got = lock(&mut b, "client-b", 0..8);
    if t1.elapsed() < Duration::from_millis(LIVE_MS) {
        assert_eq!(got, (0..4).collect(), "B gets the released half only");
    }
    // B unlocking A's queues changes nothing.
    unlock(&mut b, "client-b", 4..8);
    let t2 = Instant::now();
    let mine = lock(&mut a, "client-a", 0..8);
    if t2.elapsed() < Duration::from_millis(LIVE_MS) {
        assert_eq!(mine, (4..8).collect(), "A still holds its half, not B's");
    }

    // Not renewed: after the lifetime every lock goes to the next asker.
    std::thread::sleep(Duration::from_millis(LIVE_MS + 500));
    assert_eq!(
        lock(&mut b, "client-c", 0..8),
        all,
        "expired locks are free"
    );
    // Another group's locks are independent.
    let resp = call(
        &mut a,
        requests::lock_batch(
            code::LOCK_BATCH_MQ,
            "other_group",
            "client-a",
            BROKER,
            TOPIC,
            0..8,
        ),
    );
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["lockOKMQSet"].as_array().unwrap().len(), 8);
}
