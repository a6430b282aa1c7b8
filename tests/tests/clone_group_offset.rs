//! CLONE_GROUP_OFFSET (314, `mqadmin cloneGroupOffset`): the destination
//! group gets the source group's committed offsets on a topic, on every
//! queue (the queues live on different shards); a topic the source has no
//! offsets for changes nothing.

use ringmq_tests::remoting_client::{call, ext_i64, RemotingClient};
use ringmq_tests::requests::{self, response};
use ringmq_tests::server::Ringmq;

const CLONE_GROUP_OFFSET: i32 = 314;
const TOPIC: &str = "CloneOffsetTopic";
const OTHER: &str = "CloneOffsetOther";

fn committed(c: &mut RemotingClient, group: &str, topic: &str, queue: i32) -> Option<i64> {
    let resp = call(c, requests::query_consumer_offset(group, topic, queue));
    (resp.code == response::SUCCESS).then(|| ext_i64(&resp, "offset"))
}

fn clone(c: &mut RemotingClient, src: &str, dest: &str, topic: &str) {
    let resp = call(
        c,
        requests::request_with(
            CLONE_GROUP_OFFSET,
            &[
                ("srcGroup", src.to_owned()),
                ("destGroup", dest.to_owned()),
                ("topic", topic.to_owned()),
                ("offline", "true".to_owned()),
            ],
        ),
    );
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
}

#[test]
fn clone_copies_every_queue_offset_of_the_topic() {
    let mq = Ringmq::start();
    let mut c = RemotingClient::connect(mq.broker).unwrap();
    for t in [TOPIC, OTHER] {
        assert_eq!(
            call(&mut c, requests::update_and_create_topic(t, 4, 4)).code,
            response::SUCCESS
        );
    }
    for q in 0..4 {
        let r = call(
            &mut c,
            requests::update_consumer_offset("src_group", TOPIC, q, 10 + q as i64),
        );
        assert_eq!(r.code, response::SUCCESS);
    }
    let r = call(
        &mut c,
        requests::update_consumer_offset("dest_group", OTHER, 0, 99),
    );
    assert_eq!(r.code, response::SUCCESS);

    clone(&mut c, "src_group", "dest_group", TOPIC);
    for q in 0..4 {
        assert_eq!(
            committed(&mut c, "dest_group", TOPIC, q),
            Some(10 + q as i64),
            "queue {q}"
        );
        assert_eq!(
            committed(&mut c, "src_group", TOPIC, q),
            Some(10 + q as i64),
            "source kept"
        );
    }
    // The destination's offsets elsewhere are untouched, and cloning a
    // topic the source has nothing on changes nothing.
    clone(&mut c, "src_group", "dest_group", OTHER);
    assert_eq!(committed(&mut c, "dest_group", OTHER, 0), Some(99));
}
