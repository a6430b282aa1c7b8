//! VIEW_BROKER_STATS_DATA (315), as `mqadmin statsAll` and the dashboard
//! read it: per-topic puts, per-group gets and broker totals over the last
//! minute (sum, tps, avgpt), summed over the shards; an unknown item gets
//! SYSTEM_ERROR.

use std::time::{Duration, Instant};

use ringmq_tests::records::decode_records;
use ringmq_tests::remoting_client::{call, RemotingClient};
use ringmq_tests::requests::{self, response, Message, Pull};
use ringmq_tests::server::{Ringmq, ServeOptions};

const VIEW_BROKER_STATS_DATA: i32 = 315;
const TOPIC: &str = "StatsTopic";
const GROUP: &str = "stats_group";

fn view(c: &mut RemotingClient, name: &str, key: &str) -> (i32, serde_json::Value) {
    let resp = call(
        c,
        requests::request_with(
            VIEW_BROKER_STATS_DATA,
            &[("statsName", name.to_owned()), ("statsKey", key.to_owned())],
        ),
    );
    let body = serde_json::from_slice(&resp.body).unwrap_or(serde_json::Value::Null);
    (resp.code, body)
}

/// Waits until the last minute's sum of an item is `want` (samples come
/// every second here; the minute keeps 7 of them).
fn minute_reaches(c: &mut RemotingClient, name: &str, key: &str, want: u64) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = view(c, name, key);
        if code == response::SUCCESS && body["statsMinute"]["sum"].as_u64() == Some(want) {
            return body;
        }
        assert!(
            Instant::now() < end,
            "{name} {key}: minute sum never {want} (last: {code} {body})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn puts_and_gets_are_counted_per_topic_group_and_broker() {
    let mq = Ringmq::start_with(ServeOptions::default().set("statsSampleInterval", "1000"));
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    assert_eq!(
        call(&mut c, requests::update_and_create_topic(TOPIC, 2, 2)).code,
        response::SUCCESS
    );
    for i in 0..5 {
        let m = Message::new(TOPIC, i % 2, format!("m{i}"));
        assert_eq!(
            call(&mut c, requests::send_message_v2(&m)).code,
            response::SUCCESS
        );
    }
    let mut got = 0;
    for q in 0..2 {
        let resp = call(&mut c, Pull::new(GROUP, TOPIC, q, 0).max(32).build());
        assert_eq!(resp.code, response::SUCCESS);
        got += decode_records(&resp.body).unwrap().len();
    }
    assert_eq!(got, 5);

    let put = minute_reaches(&mut c, "TOPIC_PUT_NUMS", TOPIC, 5);
    assert_eq!(put["statsMinute"]["avgpt"].as_f64(), Some(1.0), "{put}");
    assert!(put["statsMinute"]["tps"].as_f64().unwrap() > 0.0, "{put}");
    for window in ["statsHour", "statsDay"] {
        assert!(put[window]["sum"].is_u64(), "{put}");
    }
    // Stored bytes: each record is its body plus the header, topic and
    // properties.
    let (code, size) = view(&mut c, "TOPIC_PUT_SIZE", TOPIC);
    assert_eq!(code, response::SUCCESS);
    assert!(
        size["statsMinute"]["sum"].as_u64().unwrap() > 5 * 80,
        "{size}"
    );
    minute_reaches(&mut c, "GROUP_GET_NUMS", &format!("{TOPIC}@{GROUP}"), 5);
    minute_reaches(&mut c, "BROKER_PUT_NUMS", "DefaultCluster", 5);
    minute_reaches(&mut c, "BROKER_GET_NUMS", "DefaultCluster", 5);

    let (code, _) = view(&mut c, "TOPIC_PUT_NUMS", "NoSuchTopic");
    assert_eq!(code, response::SYSTEM_ERROR);
}
