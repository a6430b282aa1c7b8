//! SQL92 filtering over the wire (reference §6.6): with
//! `enablePropertyFilter=true` (ringmq's default) a pull with an SQL92 subscription returns only
//! the messages whose properties satisfy it; without it, or with an
//! expression that does not compile, the broker refuses as Apache does.

use ringmq_remoting::RemotingCommand;
use ringmq_tests::records::decode_records;
use ringmq_tests::remoting_client::{call, ext_i64, RemotingClient};
use ringmq_tests::requests::{self, response, Message, Pull};
use ringmq_tests::server::{Ringmq, ServeOptions};

const GROUP: &str = "sql_group";
/// SUBSCRIPTION_PARSE_FAILED (reference §2.3).
const SUBSCRIPTION_PARSE_FAILED: i32 = 23;

fn sql_pull(topic: &str, offset: i64, expr: &str) -> RemotingCommand {
    let mut cmd = Pull::new(GROUP, topic, 0, offset)
        .subscription(expr)
        .build();
    cmd.ext_fields_mut().insert("expressionType", "SQL92");
    cmd
}

fn fill(c: &mut RemotingClient, topic: &str) {
    assert_eq!(
        call(c, requests::update_and_create_topic(topic, 1, 1)).code,
        response::SUCCESS
    );
    for a in 1..=5 {
        let msg = Message::new(topic, 0, format!("m{a}"))
            .with_property("a", &a.to_string())
            .with_property("color", if a % 2 == 0 { "red" } else { "blue" });
        assert_eq!(
            call(c, requests::send_message_v2(&msg)).code,
            response::SUCCESS
        );
    }
}

#[test]
fn sql92_pulls_return_only_matching_messages() {
    let mq = Ringmq::start();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let topic = "SqlTopic";
    fill(&mut c, topic);
    let resp = call(&mut c, sql_pull(topic, 0, "a > 2 AND color = 'blue'"));
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    let bodies: Vec<Vec<u8>> = decode_records(&resp.body)
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, vec![b"m3".to_vec(), b"m5".to_vec()]);
    assert_eq!(
        ext_i64(&resp, "nextBeginOffset"),
        5,
        "skipped messages are passed over"
    );
    // Nothing matches: retry immediately, past what was scanned.
    let resp = call(&mut c, sql_pull(topic, 0, "a BETWEEN 10 AND 20"));
    assert_eq!(resp.code, response::PULL_RETRY_IMMEDIATELY);
    assert_eq!(ext_i64(&resp, "nextBeginOffset"), 5);
    // A missing property is NULL: never a match.
    let resp = call(&mut c, sql_pull(topic, 0, "nope IS NOT NULL"));
    assert_eq!(resp.code, response::PULL_RETRY_IMMEDIATELY);
    let resp = call(&mut c, sql_pull(topic, 0, "a >"));
    assert_eq!(resp.code, SUBSCRIPTION_PARSE_FAILED, "{:?}", resp.remark);
}

#[test]
fn sql92_is_refused_when_the_property_filter_is_off() {
    let mq = Ringmq::start_with(ServeOptions::default().set("enablePropertyFilter", "false"));
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let topic = "SqlOffTopic";
    fill(&mut c, topic);
    let resp = call(&mut c, sql_pull(topic, 0, "a > 2"));
    assert_eq!(resp.code, response::SYSTEM_ERROR);
    assert!(resp.remark.unwrap_or_default().contains("SQL92"));
}
