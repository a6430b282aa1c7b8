//! Transactional messages over the wire (reference §8): a half message is
//! invisible until END_TRANSACTION commits it, exactly once; a rollback
//! discards it; an unresolved half is checked back with the producer, and
//! given up after `transactionCheckMax` checks.

use std::time::{Duration, Instant};

use ringmq_remoting::RemotingCommand;
use ringmq_tests::records::{decode_offset_msg_id, decode_records};
use ringmq_tests::remoting_client::{call, ext_i64, ext_str, RemotingClient};
use ringmq_tests::requests::{self, response, Message, Pull};
use ringmq_tests::server::{Ringmq, ServeOptions};

const PRODUCER: &str = "tx_producer_group";
const GROUP: &str = "tx_consumer_group";
const END_TRANSACTION: i32 = 37;
const CHECK_TRANSACTION_STATE: i32 = 39;
const COMMIT: i32 = 8;
const ROLLBACK: i32 = 12;

/// The producer's heartbeat, so that check-backs have a connection to go to.
fn producer_heartbeat(c: &mut RemotingClient) {
    let body = serde_json::json!({
        "clientID": "127.0.0.1@tx-test",
        "consumerDataSet": [],
        "producerDataSet": [{"groupName": PRODUCER}, {"groupName": "CLIENT_INNER_PRODUCER"}],
    });
    let hb = requests::request(requests::code::HEART_BEAT).with_body(body.to_string().into_bytes());
    assert_eq!(call(c, hb).code, response::SUCCESS);
}

struct Half {
    commit_log_offset: i64,
    queue_offset: i64,
    uniq: String,
}

fn send_half(c: &mut RemotingClient, topic: &str, body: &str) -> Half {
    let mut msg = Message::new(topic, 0, body)
        .with_property("TRAN_MSG", "true")
        .with_property("PGROUP", PRODUCER);
    msg.sys_flag = 0x4;
    let resp = call(c, requests::send_message_v2(&msg));
    assert_eq!(resp.code, response::SUCCESS, "half send: {:?}", resp.remark);
    assert_eq!(
        ext_i64(&resp, "queueId"),
        0,
        "the queue the producer chose (§8.1)"
    );
    Half {
        commit_log_offset: decode_offset_msg_id(ext_str(&resp, "msgId"))
            .unwrap()
            .physical_offset,
        queue_offset: ext_i64(&resp, "queueOffset"),
        uniq: msg.uniq_key().to_string(),
    }
}

fn end(h: &Half, state: i32, from_check: bool) -> RemotingCommand {
    requests::request_with(
        END_TRANSACTION,
        &[
            ("producerGroup", PRODUCER.to_string()),
            ("tranStateTableOffset", h.queue_offset.to_string()),
            ("commitLogOffset", h.commit_log_offset.to_string()),
            ("commitOrRollback", state.to_string()),
            ("fromTransactionCheck", from_check.to_string()),
            ("msgId", h.uniq.clone()),
        ],
    )
}

fn pull_code(c: &mut RemotingClient, topic: &str, offset: i64) -> (i32, Vec<Vec<u8>>) {
    let resp = call(c, Pull::new(GROUP, topic, 0, offset).build());
    let bodies = if resp.code == response::SUCCESS {
        decode_records(&resp.body)
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect()
    } else {
        Vec::new()
    };
    (resp.code, bodies)
}

#[test]
fn commit_is_visible_once_and_rollback_never() {
    let mq = Ringmq::start();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let topic = "TxTopic";
    assert_eq!(
        call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
        response::SUCCESS
    );
    producer_heartbeat(&mut c);

    let a = send_half(&mut c, topic, "a");
    assert_eq!(
        pull_code(&mut c, topic, 0).0,
        response::PULL_NOT_FOUND,
        "a half message is invisible"
    );
    // A wrong producer group is refused and changes nothing.
    let mut wrong = end(&a, COMMIT, false);
    wrong.ext_fields_mut().insert("producerGroup", "other");
    assert_eq!(call(&mut c, wrong).code, response::SYSTEM_ERROR);
    assert_eq!(call(&mut c, end(&a, COMMIT, false)).code, response::SUCCESS);
    let (code, bodies) = pull_code(&mut c, topic, 0);
    assert_eq!((code, bodies), (response::SUCCESS, vec![b"a".to_vec()]));
    // The same answer again (a retried oneway, a late check answer): still once.
    assert_eq!(call(&mut c, end(&a, COMMIT, true)).code, response::SUCCESS);
    c.oneway(end(&a, COMMIT, false)).unwrap();
    let b = send_half(&mut c, topic, "b");
    assert_eq!(
        call(&mut c, end(&b, ROLLBACK, false)).code,
        response::SUCCESS
    );
    let d = send_half(&mut c, topic, "d");
    c.oneway(end(&d, COMMIT, false)).unwrap();
    let end_at = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, bodies) = pull_code(&mut c, topic, 1);
        if code == response::SUCCESS {
            assert_eq!(
                bodies,
                vec![b"d".to_vec()],
                "after a: only d (b rolled back, a not twice)"
            );
            break;
        }
        assert!(
            Instant::now() < end_at,
            "the oneway commit of d never became visible"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let max = ext_i64(&call(&mut c, requests::get_max_offset(topic, 0)), "offset");
    assert_eq!(max, 2, "exactly a and d in the queue");
}

#[test]
fn unresolved_halves_are_checked_back_then_given_up() {
    let mq = Ringmq::start_with(
        ServeOptions::default()
            .set("transactionCheckInterval", "300")
            .set("transactionTimeOut", "300")
            .set("transactionCheckMax", "2"),
    );
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let topic = "TxCheckTopic";
    assert_eq!(
        call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
        response::SUCCESS
    );
    producer_heartbeat(&mut c);

    // First half: answered when checked.
    let first = send_half(&mut c, topic, "checked");
    let check = c
        .wait_request(CHECK_TRANSACTION_STATE, Duration::from_secs(30))
        .expect("a check-back");
    assert!(
        check.is_oneway(),
        "CHECK_TRANSACTION_STATE is oneway (§8.3)"
    );
    let recs = decode_records(&check.body).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].topic, topic, "the body carries the real topic");
    assert_eq!(recs[0].body, b"checked");
    assert_eq!(check.ext_field("msgId"), Some(first.uniq.as_str()));
    let copy = Half {
        commit_log_offset: ext_i64(&check, "commitLogOffset"),
        queue_offset: ext_i64(&check, "tranStateTableOffset"),
        uniq: first.uniq.clone(),
    };
    assert_ne!(
        copy.commit_log_offset, first.commit_log_offset,
        "the check names the re-appended copy"
    );
    c.oneway(end(&copy, COMMIT, true)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pull_code(&mut c, topic, 0).0 != response::SUCCESS {
        assert!(
            Instant::now() < deadline,
            "the answered check never committed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Second half: never answered; after 2 checks it is given up.
    let _second = send_half(&mut c, topic, "abandoned");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let resp = call(
            &mut c,
            Pull::new(GROUP, "TRANS_CHECK_MAX_TIME_TOPIC", 0, 0).build(),
        );
        if resp.code == response::SUCCESS {
            let recs = decode_records(&resp.body).unwrap();
            assert_eq!(recs[0].body, b"abandoned");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unanswered half was never given up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        pull_code(&mut c, topic, 1).0,
        response::PULL_NOT_FOUND,
        "given up is not committed"
    );
}

#[test]
fn pending_and_resolved_halves_survive_a_restart() {
    let mut mq = Ringmq::start_with(
        ServeOptions::default()
            .set("transactionCheckInterval", "300")
            .set("transactionTimeOut", "300"),
    );
    let topic = "TxRestartTopic";
    let (done, pending) = {
        let mut c = RemotingClient::connect(mq.broker).unwrap();
        assert_eq!(
            call(&mut c, requests::update_and_create_topic(topic, 1, 1)).code,
            response::SUCCESS
        );
        let done = send_half(&mut c, topic, "committed-before");
        assert_eq!(
            call(&mut c, end(&done, COMMIT, false)).code,
            response::SUCCESS
        );
        let pending = send_half(&mut c, topic, "pending");
        (done, pending)
    };
    mq.restart();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    producer_heartbeat(&mut c);
    // A repeated answer about the half committed before the restart changes nothing.
    assert_eq!(
        call(&mut c, end(&done, COMMIT, true)).code,
        response::SUCCESS
    );
    // The pending half is checked again after the restart.
    let check = c
        .wait_request(CHECK_TRANSACTION_STATE, Duration::from_secs(30))
        .expect("a check-back after restart");
    assert_eq!(check.ext_field("msgId"), Some(pending.uniq.as_str()));
    let copy = Half {
        commit_log_offset: ext_i64(&check, "commitLogOffset"),
        queue_offset: ext_i64(&check, "tranStateTableOffset"),
        uniq: pending.uniq.clone(),
    };
    assert_eq!(
        call(&mut c, end(&copy, COMMIT, true)).code,
        response::SUCCESS
    );
    let (code, bodies) = pull_code(&mut c, topic, 0);
    assert_eq!(code, response::SUCCESS);
    assert_eq!(
        bodies,
        vec![b"committed-before".to_vec(), b"pending".to_vec()],
        "each exactly once"
    );
}
