//! DELETE_TOPIC_IN_BROKER (215) drops the topic's consume queues, as
//! Apache's `cleanUnusedTopic` does: the old messages are no longer
//! readable, and a topic created again under the same name starts empty at
//! queue offset 0, also after a restart.

use ringmq_tests::records::decode_records;
use ringmq_tests::remoting_client::{call, ext_i64, RemotingClient};
use ringmq_tests::requests::{self, response, Message, Pull};
use ringmq_tests::server::Ringmq;

const TOPIC: &str = "DeleteMeTopic";
const GROUP: &str = "delete_topic_group";
const DELETE_TOPIC_IN_BROKER: i32 = 215;

fn max_offset(c: &mut RemotingClient, queue: i32) -> i64 {
    let resp = call(c, requests::get_max_offset(TOPIC, queue));
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    ext_i64(&resp, "offset")
}

/// Bodies readable from offset 0 of a queue.
fn bodies(c: &mut RemotingClient, queue: i32) -> Vec<Vec<u8>> {
    let resp = call(c, Pull::new(GROUP, TOPIC, queue, 0).max(32).build());
    if resp.code != response::SUCCESS {
        return Vec::new();
    }
    decode_records(&resp.body)
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

fn send(c: &mut RemotingClient, queue: i32, body: &str) -> i64 {
    let resp = call(
        c,
        requests::send_message_v2(&Message::new(TOPIC, queue, body)),
    );
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    ext_i64(&resp, "queueOffset")
}

#[test]
fn deleted_topic_loses_its_queues_and_starts_empty_when_created_again() {
    let mut mq = Ringmq::start();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    let create = || requests::update_and_create_topic(TOPIC, 4, 4);
    assert_eq!(call(&mut c, create()).code, response::SUCCESS);
    for q in 0..4 {
        for i in 0..3 {
            send(&mut c, q, &format!("old-{q}-{i}"));
        }
    }
    assert_eq!(bodies(&mut c, 0).len(), 3);

    let del = requests::request_with(DELETE_TOPIC_IN_BROKER, &[("topic", TOPIC.to_owned())]);
    let resp = call(&mut c, del);
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    for q in 0..4 {
        assert_eq!(max_offset(&mut c, q), 0, "queue {q} dropped");
        assert!(bodies(&mut c, q).is_empty(), "queue {q}: old messages gone");
    }

    // Created again: empty, and new messages start at queue offset 0.
    assert_eq!(call(&mut c, create()).code, response::SUCCESS);
    for q in 0..4 {
        assert_eq!(max_offset(&mut c, q), 0);
        assert_eq!(send(&mut c, q, &format!("new-{q}")), 0, "queue {q}");
    }
    let only_new = |c: &mut RemotingClient| {
        for q in 0..4 {
            assert_eq!(
                bodies(c, q),
                vec![format!("new-{q}").into_bytes()],
                "queue {q}"
            );
        }
    };
    only_new(&mut c);

    // A restart brings back neither the old queues nor their messages.
    mq.restart();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    only_new(&mut c);
    mq.restart_after_kill9();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    for q in 0..4 {
        assert!(
            bodies(&mut c, q).iter().all(|b| b.starts_with(b"new-")),
            "queue {q}: no old message after crash recovery"
        );
    }
}
