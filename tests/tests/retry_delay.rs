//! Delay levels and CONSUMER_SEND_MSG_BACK over the wire (reference §7.5,
//! §7.6): a delayed message reaches its queue only after its level's delay;
//! a message handed back goes to `%RETRY%<group>` after the back-off delay,
//! and to `%DLQ%<group>` once `maxReconsumeTimes` is reached.

use std::time::{Duration, Instant};

use ringmq_tests::records::{decode_records, StoredMessage};
use ringmq_tests::remoting_client::{call, RemotingClient};
use ringmq_tests::requests::{self, response, Message, Pull};
use ringmq_tests::server::{Ringmq, ServeOptions};

const GROUP: &str = "retry_test_group";
/// CONSUMER_SEND_MSG_BACK (reference §2.1).
const CONSUMER_SEND_MSG_BACK: i32 = 36;

/// Held pulls until one returns messages or `deadline` passes.
fn pull_until_found(
    c: &mut RemotingClient,
    topic: &str,
    queue: i32,
    offset: i64,
    deadline: Duration,
) -> Vec<StoredMessage> {
    let end = Instant::now() + deadline;
    loop {
        let resp = call(
            c,
            Pull::new(GROUP, topic, queue, offset).suspend(2000).build(),
        );
        if resp.code == response::SUCCESS {
            return decode_records(&resp.body).expect("stored records");
        }
        assert!(
            [
                response::PULL_NOT_FOUND,
                response::PULL_OFFSET_MOVED,
                response::PULL_RETRY_IMMEDIATELY
            ]
            .contains(&resp.code),
            "pull of {topic}: code {} remark {:?}",
            resp.code,
            resp.remark
        );
        assert!(
            Instant::now() < end,
            "nothing in {topic}:{queue} within {deadline:?}"
        );
    }
}

fn broker() -> Ringmq {
    // Level 2 is 5 s; the 16-step back-off (levels 3 + n) clamps to level 4: 1 s.
    Ringmq::start_with(ServeOptions::default().set("messageDelayLevel", "1s 5s 1s 1s"))
}

#[test]
fn delayed_message_arrives_after_its_level() {
    let mq = broker();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let topic = "DelayTopic";
    let resp = call(&mut c, requests::update_and_create_topic(topic, 1, 1));
    assert_eq!(resp.code, response::SUCCESS);
    let sent_at = Instant::now();
    let resp = call(
        &mut c,
        requests::send_message_v2(&Message::new(topic, 0, "later").with_property("DELAY", "2")),
    );
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    // Not in the real queue yet (the delay is 5 s; a pull right away finds nothing).
    let resp = call(&mut c, Pull::new(GROUP, topic, 0, 0).build());
    assert_eq!(
        resp.code,
        response::PULL_NOT_FOUND,
        "delayed message visible at once"
    );
    let msgs = pull_until_found(&mut c, topic, 0, 0, Duration::from_secs(30));
    let waited = sent_at.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "delivered after {waited:?}, before its 1 s delay"
    );
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body, b"later");
    assert_eq!(
        msgs[0].properties.get("REAL_TOPIC").map(String::as_str),
        Some(topic)
    );
}

#[test]
fn sent_back_messages_retry_then_dead_letter() {
    let mq = broker();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let topic = "RetryTopic";
    assert_eq!(
        call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
        response::SUCCESS
    );
    let msg = Message::new(topic, 0, "try me").with_keys("k1");
    assert_eq!(
        call(&mut c, requests::send_message_v2(&msg)).code,
        response::SUCCESS
    );
    let first = pull_until_found(&mut c, topic, 0, 0, Duration::from_secs(10)).remove(0);

    let back = |offset: i64, max: i32| {
        requests::request_with(
            CONSUMER_SEND_MSG_BACK,
            &[
                ("offset", offset.to_string()),
                ("group", GROUP.to_string()),
                ("delayLevel", "0".to_string()),
                ("originMsgId", msg.uniq_key().to_string()),
                ("originTopic", topic.to_string()),
                ("unitMode", "false".to_string()),
                ("maxReconsumeTimes", max.to_string()),
            ],
        )
    };
    let resp = call(&mut c, back(first.physical_offset, 2));
    assert_eq!(resp.code, response::SUCCESS, "send back: {:?}", resp.remark);
    let retry_topic = format!("%RETRY%{GROUP}");
    let retried = pull_until_found(&mut c, &retry_topic, 0, 0, Duration::from_secs(30)).remove(0);
    assert_eq!(retried.body, b"try me");
    assert_eq!(retried.reconsume_times, 1);
    assert_eq!(
        retried.properties.get("RETRY_TOPIC").map(String::as_str),
        Some(topic)
    );
    // The stored record's offset msgId, not the header's originMsgId (as
    // 4.9.7; the store vectors show the same).
    assert_eq!(
        retried
            .properties
            .get("ORIGIN_MESSAGE_ID")
            .map(String::as_str),
        Some(first.offset_msg_id().as_str())
    );
    assert_eq!(
        retried.properties.get("KEYS").map(String::as_str),
        Some("k1")
    );

    // reconsumeTimes 1 < 2: retried again; then 2 >= 2: dead letter.
    let resp = call(&mut c, back(retried.physical_offset, 2));
    assert_eq!(resp.code, response::SUCCESS);
    let again = pull_until_found(&mut c, &retry_topic, 0, 1, Duration::from_secs(30)).remove(0);
    assert_eq!(again.reconsume_times, 2);
    let resp = call(&mut c, back(again.physical_offset, 2));
    assert_eq!(resp.code, response::SUCCESS);
    let dlq = pull_until_found(
        &mut c,
        &format!("%DLQ%{GROUP}"),
        0,
        0,
        Duration::from_secs(10),
    )
    .remove(0);
    assert_eq!(dlq.body, b"try me");
    assert_eq!(dlq.reconsume_times, 3);
    assert!(
        !dlq.properties.contains_key("DELAY"),
        "a dead letter is not delayed"
    );

    // An offset that names no record is refused (§7.5 step 2).
    let resp = call(&mut c, back(1 << 40, 16));
    assert_eq!(resp.code, response::SYSTEM_ERROR);
}

#[test]
fn pending_retries_survive_a_restart() {
    let mut mq =
        Ringmq::start_with(ServeOptions::default().set("messageDelayLevel", "1s 5s 3s 3s"));
    let topic = "RetryRestartTopic";
    {
        let mut c = RemotingClient::connect(mq.broker).unwrap();
        assert_eq!(
            call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
            response::SUCCESS
        );
        let msg = Message::new(topic, 0, "retry me");
        assert_eq!(
            call(&mut c, requests::send_message_v2(&msg)).code,
            response::SUCCESS
        );
        let first = pull_until_found(&mut c, topic, 0, 0, Duration::from_secs(10)).remove(0);
        let back = requests::request_with(
            CONSUMER_SEND_MSG_BACK,
            &[
                ("offset", first.physical_offset.to_string()),
                ("group", GROUP.to_string()),
                ("delayLevel", "0".to_string()),
                ("unitMode", "false".to_string()),
                ("maxReconsumeTimes", "16".to_string()),
            ],
        );
        assert_eq!(call(&mut c, back).code, response::SUCCESS);
    }
    // Restart while the retry waits out its 3 s level.
    mq.restart();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let retried = pull_until_found(
        &mut c,
        &format!("%RETRY%{GROUP}"),
        0,
        0,
        Duration::from_secs(30),
    );
    assert_eq!(retried.len(), 1, "the pending retry arrives once");
    assert_eq!(retried[0].body, b"retry me");
}
