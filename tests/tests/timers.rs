//! Arbitrary-time delivery over the wire: `__STARTDELIVERTIME`,
//! `TIMER_DELIVER_MS`, `TIMER_DELAY_SEC`, `TIMER_DELAY_MS`; nothing early,
//! nothing lost or repeated across a clean restart, limits refused.

use std::time::{Duration, Instant};

use ringmq_remoting::RemotingCommand;
use ringmq_tests::records::{decode_offset_msg_id, decode_records};
use ringmq_tests::remoting_client::{call, ext_str, RemotingClient};
use ringmq_tests::requests::{self, now_millis, response, Message, Pull};
use ringmq_tests::server::{Ringmq, ServeOptions};

const GROUP: &str = "timer_test_group";

/// Bodies in the queue from `offset` on, right now (pulls of at most 32,
/// the broker's cap, until the queue's end).
fn bodies(c: &mut RemotingClient, topic: &str, offset: i64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut next = offset;
    loop {
        let resp = call(c, Pull::new(GROUP, topic, 0, next).max(32).build());
        if resp.code != response::SUCCESS {
            return out;
        }
        let recs = decode_records(&resp.body).unwrap();
        let Some(last) = recs.last() else {
            return out;
        };
        next = last.queue_offset + 1;
        out.extend(recs.into_iter().map(|m| m.body));
    }
}

/// Waits until the queue holds `n` messages; returns when that happened.
fn wait_for(c: &mut RemotingClient, topic: &str, n: usize, within: Duration) -> Instant {
    let end = Instant::now() + within;
    loop {
        if bodies(c, topic, 0).len() >= n {
            return Instant::now();
        }
        assert!(
            Instant::now() < end,
            "{topic}: fewer than {n} messages within {within:?} (got {})",
            bodies(c, topic, 0).len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send(c: &mut RemotingClient, topic: &str, body: &str, prop: (&str, String)) -> RemotingCommand {
    call(
        c,
        requests::send_message_v2(&Message::new(topic, 0, body).with_property(prop.0, &prop.1)),
    )
}

#[test]
fn timers_deliver_on_time_and_refuse_what_is_out_of_range() {
    let mq = Ringmq::start();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let topic = "TimerTopic";
    assert_eq!(
        call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
        response::SUCCESS
    );
    let start = Instant::now();
    let at = now_millis() + 3000;
    assert_eq!(
        send(&mut c, topic, "abs", ("__STARTDELIVERTIME", at.to_string())).code,
        response::SUCCESS
    );
    assert_eq!(
        send(&mut c, topic, "sec", ("TIMER_DELAY_SEC", "2".into())).code,
        response::SUCCESS
    );
    assert_eq!(
        send(&mut c, topic, "ms", ("TIMER_DELAY_MS", "1500".into())).code,
        response::SUCCESS
    );
    assert_eq!(
        send(
            &mut c,
            topic,
            "deliver",
            ("TIMER_DELIVER_MS", (now_millis() + 2500).to_string())
        )
        .code,
        response::SUCCESS
    );
    // A time in the past is delivered at once.
    assert_eq!(
        send(&mut c, topic, "past", ("__STARTDELIVERTIME", "1".into())).code,
        response::SUCCESS
    );
    assert_eq!(
        bodies(&mut c, topic, 0),
        vec![b"past".to_vec()],
        "only the past one at once"
    );

    let all = wait_for(&mut c, topic, 5, Duration::from_secs(30));
    assert!(
        all - start >= Duration::from_millis(2900),
        "the 3 s timer came after {:?}",
        all - start
    );
    let mut got = bodies(&mut c, topic, 0);
    got.sort();
    let mut want: Vec<Vec<u8>> = ["abs", "deliver", "ms", "past", "sec"]
        .iter()
        .map(|b| b.as_bytes().to_vec())
        .collect();
    want.sort();
    assert_eq!(got, want, "each timer exactly once");

    // More than 40 days ahead, or not a number: MESSAGE_ILLEGAL.
    let too_far = now_millis() + 40 * 24 * 3600 * 1000 + 60_000;
    let r = send(
        &mut c,
        topic,
        "x",
        ("__STARTDELIVERTIME", too_far.to_string()),
    );
    assert_eq!(r.code, response::MESSAGE_ILLEGAL, "{:?}", r.remark);
    assert!(r.remark.unwrap_or_default().contains("40 days"));
    let r = send(&mut c, topic, "x", ("TIMER_DELAY_SEC", "soon".into()));
    assert_eq!(r.code, response::MESSAGE_ILLEGAL);
    // 39 days is accepted (and stays pending).
    let r = send(
        &mut c,
        topic,
        "later",
        ("TIMER_DELAY_SEC", (39 * 24 * 3600).to_string()),
    );
    assert_eq!(r.code, response::SUCCESS);
}

#[test]
fn timers_survive_a_clean_restart_without_repeats() {
    let mut mq = Ringmq::start();
    let topic = "TimerRestartTopic";
    {
        let mut c = RemotingClient::connect(mq.broker).unwrap();
        assert_eq!(
            call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
            response::SUCCESS
        );
        assert_eq!(
            send(&mut c, topic, "early", ("TIMER_DELAY_MS", "300".into())).code,
            response::SUCCESS
        );
        wait_for(&mut c, topic, 1, Duration::from_secs(30));
        let r = send(
            &mut c,
            topic,
            "after-restart",
            ("TIMER_DELAY_SEC", "4".into()),
        );
        assert_eq!(r.code, response::SUCCESS);
    }
    let sent = Instant::now();
    mq.restart();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let arrived = wait_for(&mut c, topic, 2, Duration::from_secs(40));
    assert!(
        arrived - sent >= Duration::from_millis(3900),
        "delivered early, after {:?}",
        arrived - sent
    );
    // Give a repeat every chance to show up.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        bodies(&mut c, topic, 0),
        vec![b"early".to_vec(), b"after-restart".to_vec()],
        "each once, across the restart"
    );
}

/// Retention never deletes a pending timer: the timer's segment expires
/// (fileReservedTime=0, every hour a deleteWhen hour) and is deleted while
/// the timer is pending; the timer was rolled forward first and is
/// delivered once, on time, with its properties.
#[test]
fn a_pending_timer_survives_retention_of_its_segment() {
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let mq = Ringmq::start_with(
        ServeOptions {
            shards: 1,
            ..ServeOptions::default()
        }
        .set("mappedFileSizeCommitLogMiB", "4")
        .set("maxMessageSize", "1048576")
        .set("fileReservedTime", "0")
        .set("deleteWhen", &hours.join(";"))
        .set("cleanResourceInterval", "200"),
    );
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let (topic, filler) = ("TimerRetentionTopic", "TimerRetentionFiller");
    for t in [topic, filler] {
        assert_eq!(
            call(&mut c, requests::update_and_create_topic(t, 1, 1)).code,
            response::SUCCESS
        );
    }
    // The timer is the first record of the log, so its segment goes first.
    let due_in = Duration::from_secs(20);
    let sent = Instant::now();
    let timer = call(
        &mut c,
        requests::send_message_v2(
            &Message::new(topic, 0, "kept")
                .with_property("TIMER_DELAY_SEC", &due_in.as_secs().to_string())
                .with_property("color", "blue"),
        ),
    );
    assert_eq!(timer.code, response::SUCCESS);
    let timer_at = decode_offset_msg_id(ext_str(&timer, "msgId")).unwrap();
    // Three segments of filler: the first two expire at once.
    let body = vec![b'f'; 512 * 1024];
    for _ in 0..24 {
        let r = call(
            &mut c,
            requests::send_message_v2(&Message::new(filler, 0, body.clone())),
        );
        assert_eq!(r.code, response::SUCCESS);
    }
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let min = call(&mut c, requests::get_min_offset(filler, 0));
        if ext_str(&min, "offset").parse::<i64>().unwrap() > 0 {
            break;
        }
        assert!(
            Instant::now() < end,
            "retention deleted nothing within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        sent.elapsed() < due_in,
        "the segment must go while the timer is pending (took {:?})",
        sent.elapsed()
    );
    let gone = call(
        &mut c,
        requests::view_message_by_id(timer_at.physical_offset),
    );
    assert_ne!(
        gone.code,
        response::SUCCESS,
        "the timer's original record was deleted with its segment"
    );
    assert!(bodies(&mut c, topic, 0).is_empty(), "not delivered early");
    let arrived = wait_for(&mut c, topic, 1, due_in + Duration::from_secs(40));
    assert!(
        arrived - sent >= due_in - Duration::from_millis(100),
        "delivered early, after {:?}",
        arrived - sent
    );
    std::thread::sleep(Duration::from_millis(1500));
    let resp = call(&mut c, Pull::new(GROUP, topic, 0, 0).max(64).build());
    let got = decode_records(&resp.body).unwrap();
    assert_eq!(got.len(), 1, "delivered exactly once");
    assert_eq!(got[0].body, b"kept");
    assert_eq!(got[0].property("color"), Some("blue"));
}

/// kill -9 with timers pending (SYNC_FLUSH, so every acknowledged send is
/// on disk): after crash recovery every timer is delivered, none before its
/// time; a repeat is allowed (at least once), a loss is not.
#[test]
fn pending_timers_survive_kill_9() {
    let mut mq = Ringmq::start_with(ServeOptions {
        sync_flush: true,
        ..ServeOptions::default()
    });
    let topic = "TimerCrashTopic";
    let due_in = Duration::from_secs(5);
    let n = 40;
    let sent;
    {
        let mut c = RemotingClient::connect(mq.broker).unwrap();
        assert_eq!(
            call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
            response::SUCCESS
        );
        let at = now_millis() + due_in.as_millis() as i64;
        sent = Instant::now();
        for i in 0..n {
            let r = send(
                &mut c,
                topic,
                &format!("t{i}"),
                ("__STARTDELIVERTIME", at.to_string()),
            );
            assert_eq!(r.code, response::SUCCESS, "timer {i}");
        }
    }
    mq.restart_after_kill9();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let arrived = wait_for(&mut c, topic, n, due_in + Duration::from_secs(40));
    assert!(
        arrived - sent >= due_in - Duration::from_millis(100),
        "delivered early, after {:?}",
        arrived - sent
    );
    let got: std::collections::BTreeSet<Vec<u8>> = bodies(&mut c, topic, 0).into_iter().collect();
    let want: std::collections::BTreeSet<Vec<u8>> =
        (0..n).map(|i| format!("t{i}").into_bytes()).collect();
    assert_eq!(got, want, "every acknowledged timer, after the crash");
}
