//! Black-box protocol tests: the real `ringmq serve` process, spoken to over
//! TCP with hand-built remoting frames. Expected codes and values come from
//! `shared/reference/remoting-protocol.md`; each assertion cites its section.
//!
//! Every wait is bounded (reads have deadlines, polls have deadlines), and
//! the bounds are generous for loaded 2-core CI machines. The tests run one
//! broker at a time (see [`serial`]): each starts its own process.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ringmq_remoting::{RemotingCommand, SerializeType};
use ringmq_tests::records::{
    decode_offset_msg_id, decode_records, properties_string, BatchItem, OffsetMsgId, StoredMessage,
};
use ringmq_tests::remoting_client::{call, ext_i64, ext_str, ClientError, RemotingClient};
use ringmq_tests::requests::{self, code, response, Message, Pull};
use ringmq_tests::server::{Ringmq, ServeOptions};

/// Bound of one request/response exchange.
const RPC: Duration = Duration::from_secs(10);
/// Bound of waits for asynchronous effects (registration with the name
/// server, index building, notifications).
const EVENTUAL: Duration = Duration::from_secs(30);
const GROUP: &str = "ringmq_test_group";

/// One broker process at a time: each uses two shards and real files, and
/// several at once on a 2-core machine would only make timings noisy.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn connect(addr: SocketAddr) -> RemotingClient {
    RemotingClient::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

fn assert_code(resp: &RemotingCommand, expected: i32, what: &str) {
    assert_eq!(
        resp.code, expected,
        "{what}: expected response code {expected}, got {} (remark {:?}, extFields {:?})",
        resp.code, resp.remark, resp.ext_fields
    );
    assert!(resp.is_response(), "{what}: RESPONSE flag not set (§1.3)");
}

/// Calls `f` every 50 ms until it returns `Some`, at most `timeout`.
fn poll_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not true within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create_topic(c: &mut RemotingClient, topic: &str, queues: i32) {
    let resp = call(c, requests::update_and_create_topic(topic, queues, queues));
    assert_code(&resp, response::SUCCESS, "UPDATE_AND_CREATE_TOPIC");
}

/// The name server's route for `topic` once `accept` holds for it.
fn wait_route(
    ns: &mut RemotingClient,
    topic: &str,
    accept: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    poll_until(
        &format!("route of {topic} at the name server"),
        EVENTUAL,
        || {
            let resp = call(ns, requests::get_route_info(topic));
            if resp.code != response::SUCCESS {
                return None;
            }
            let route: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_else(|e| {
                panic!(
                    "route body is not standard JSON (§4.2, caller version 407): {e}: {}",
                    String::from_utf8_lossy(&resp.body)
                )
            });
            accept(&route).then_some(route)
        },
    )
}

/// The single QueueData of a route served by one broker.
fn queue_data(route: &serde_json::Value) -> &serde_json::Value {
    let qds = route["queueDatas"]
        .as_array()
        .expect("queueDatas array (§4.2)");
    assert_eq!(qds.len(), 1, "one broker serves the topic: {route}");
    &qds[0]
}

fn read_queue_nums(route: &serde_json::Value) -> i64 {
    queue_data(route)["readQueueNums"].as_i64().unwrap_or(-1)
}

struct Sent {
    msg_id: String,
    queue_id: i32,
    queue_offset: i64,
    resp: RemotingCommand,
}

fn send(c: &mut RemotingClient, msg: &Message) -> Sent {
    let resp = call(c, requests::send_message_v2(msg));
    assert_code(&resp, response::SUCCESS, "SEND_MESSAGE_V2");
    Sent {
        msg_id: ext_str(&resp, "msgId").to_owned(),
        queue_id: ext_i64(&resp, "queueId") as i32,
        queue_offset: ext_i64(&resp, "queueOffset"),
        resp,
    }
}

fn send_code(c: &mut RemotingClient, msg: &Message) -> RemotingCommand {
    call(c, requests::send_message_v2(msg))
}

struct Pulled {
    code: i32,
    next_begin_offset: i64,
    min_offset: i64,
    max_offset: i64,
    messages: Vec<StoredMessage>,
    resp: RemotingCommand,
}

fn pulled(resp: RemotingCommand) -> Pulled {
    assert!(resp.is_response(), "pull answer is a response (§1.3)");
    let known = [
        response::SUCCESS,
        response::PULL_NOT_FOUND,
        response::PULL_RETRY_IMMEDIATELY,
        response::PULL_OFFSET_MOVED,
    ];
    if !known.contains(&resp.code) {
        // Errors carry no pull header.
        return Pulled {
            code: resp.code,
            next_begin_offset: -1,
            min_offset: -1,
            max_offset: -1,
            messages: Vec::new(),
            resp,
        };
    }
    // §3.3: all four header longs are mandatory on 0/19/20/21.
    let suggest = ext_i64(&resp, "suggestWhichBrokerId");
    assert_eq!(
        suggest, 0,
        "suggestWhichBrokerId of a lone master (§6.2 step 7)"
    );
    let messages = if resp.code == response::SUCCESS {
        decode_records(&resp.body)
            .unwrap_or_else(|e| panic!("pull body is not stored records (§5.3): {e}"))
    } else {
        assert!(
            resp.body.is_empty(),
            "only SUCCESS carries a body (§3.3), code {}",
            resp.code
        );
        Vec::new()
    };
    Pulled {
        code: resp.code,
        next_begin_offset: ext_i64(&resp, "nextBeginOffset"),
        min_offset: ext_i64(&resp, "minOffset"),
        max_offset: ext_i64(&resp, "maxOffset"),
        messages,
        resp,
    }
}

fn pull(c: &mut RemotingClient, p: &Pull) -> Pulled {
    pulled(call(c, p.build()))
}

fn offset_of(c: &mut RemotingClient, cmd: RemotingCommand, what: &str) -> i64 {
    let resp = call(c, cmd);
    assert_code(&resp, response::SUCCESS, what);
    ext_i64(&resp, "offset")
}

fn bodies(msgs: &[StoredMessage]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect()
}

fn queue_offsets(msgs: &[StoredMessage]) -> Vec<i64> {
    msgs.iter().map(|m| m.queue_offset).collect()
}

// ---------------------------------------------------------------------------

/// UPDATE_AND_CREATE_TOPIC on the broker, then GET_ROUTEINFO_BY_TOPIC from
/// the name server (§3.1, §4.2).
#[test]
fn route_of_created_topic() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut ns = connect(mq.namesrv);
    let mut b = connect(mq.broker);

    // §3.1: no route ⇒ TOPIC_NOT_EXIST (17) with the Java remark.
    let resp = call(&mut ns, requests::get_route_info("NoSuchRouteTopic"));
    assert_code(
        &resp,
        response::TOPIC_NOT_EXIST,
        "route of an unknown topic",
    );
    let remark = resp.remark.clone().unwrap_or_default();
    assert!(
        remark.contains("No topic route info in name server for the topic: NoSuchRouteTopic"),
        "remark of TOPIC_NOT_EXIST (§3.1): {remark:?}"
    );
    assert!(resp.body.is_empty(), "TOPIC_NOT_EXIST has no body (§3.1)");

    // §7.3: with autoCreateTopicEnable (default) TBW102 is registered with
    // perm 7 (read, write, inherit).
    let tbw = wait_route(&mut ns, "TBW102", |_| true);
    assert_eq!(queue_data(&tbw)["perm"], 7, "TBW102 perm (§7.3): {tbw}");

    create_topic(&mut b, "RouteTopic", 8);
    // §3.1: the broker registers the created topic (incremental
    // registration); wait for it rather than sleeping.
    let route = wait_route(&mut ns, "RouteTopic", |r| read_queue_nums(r) == 8);
    let qd = queue_data(&route);
    assert_eq!(qd["writeQueueNums"], 8, "{route}");
    assert_eq!(qd["perm"], 6, "perm R+W (§4.2): {route}");
    assert_eq!(qd["topicSysFlag"], 0, "{route}");
    let bds = route["brokerDatas"].as_array().expect("brokerDatas (§4.2)");
    assert_eq!(bds.len(), 1, "{route}");
    assert_eq!(bds[0]["brokerName"], qd["brokerName"], "{route}");
    assert!(
        bds[0]["cluster"].is_string(),
        "cluster name (§4.2): {route}"
    );
    // Standard JSON: quoted brokerId keys, master is "0" (§4.2).
    let master = bds[0]["brokerAddrs"]["0"]
        .as_str()
        .unwrap_or_else(|| panic!("brokerAddrs has master id \"0\" (§4.2): {route}"));
    let master: SocketAddr = master
        .parse()
        .unwrap_or_else(|e| panic!("master address {master:?} is ip:port: {e}"));
    assert_eq!(master.port(), mq.broker.port(), "master address {master}");
    // The advertised address must be reachable by clients.
    let mut via_route = connect(master);
    let resp = call(&mut via_route, requests::get_max_offset("RouteTopic", 7));
    assert_code(
        &resp,
        response::SUCCESS,
        "GET_MAX_OFFSET via the routed address",
    );
}

/// SEND_MESSAGE_V2 to each queue, then PULL_MESSAGE (§3.2, §3.3, §5.3, §5.5,
/// §6.2).
#[test]
fn send_then_pull_round_trip() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    let topic = "RoundTripTopic";
    create_topic(&mut b, topic, 4);

    let started = requests::now_millis();
    let mut sent = Vec::new();
    let mut last_phys = -1;
    for q in 0..4 {
        for i in 0..3i64 {
            let msg = Message::new(topic, q, format!("body q{q} #{i}"))
                .with_tags(if i % 2 == 0 { "TagA" } else { "TagB" })
                .with_keys(&format!("key-{q}-{i} common-key"))
                .with_property("userProp", &format!("value-{q}-{i}"));
            let s = send(&mut b, &msg);
            // §3.2 response header and the ext fields every send response
            // must carry.
            assert_eq!(s.queue_id, q, "queueId actually written (§3.2)");
            assert_eq!(s.queue_offset, i, "consume-queue offsets 0,1,2 (§3.2)");
            assert!(
                s.resp.ext_field("MSG_REGION").is_some(),
                "MSG_REGION (§3.2)"
            );
            let trace = s.resp.ext_field("TRACE_ON");
            assert!(
                trace == Some("true") || trace == Some("false"),
                "TRACE_ON (§3.2): {trace:?}"
            );
            // §5.5: 32 uppercase hex chars = IPv4 store host + port + offset.
            assert_eq!(s.msg_id.len(), 32, "IPv4 offset msgId (§5.5): {}", s.msg_id);
            assert!(
                s.msg_id
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)),
                "uppercase hex (§5.5): {}",
                s.msg_id
            );
            let id = decode_offset_msg_id(&s.msg_id).unwrap();
            assert_eq!(
                id.store_host.port(),
                mq.broker.port(),
                "store host port (§5.5)"
            );
            // Commit log offsets identify records (VIEW_MESSAGE_BY_ID, §3.3),
            // so they are distinct; a sharded store need not order them across
            // queues, but within a queue they grow.
            if i > 0 {
                assert!(
                    id.physical_offset > last_phys,
                    "commit log offsets grow in a queue"
                );
            }
            assert!(
                sent.iter()
                    .all(
                        |(_, _, other): &(Message, Sent, OffsetMsgId)| other.physical_offset
                            != id.physical_offset
                    ),
                "distinct commit log offsets: {}",
                s.msg_id
            );
            last_phys = id.physical_offset;
            sent.push((msg, s, id));
        }
    }
    let finished = requests::now_millis();

    let client_addr = b.local_addr();
    for q in 0..4 {
        let p = pull(&mut b, &Pull::new(GROUP, topic, q, 0));
        assert_code(&p.resp, response::SUCCESS, "PULL_MESSAGE");
        assert_eq!(p.resp.remark.as_deref(), Some("FOUND"), "remark (§3.3)");
        assert_eq!((p.next_begin_offset, p.min_offset, p.max_offset), (3, 0, 3));
        assert_eq!(p.messages.len(), 3);
        for (i, m) in p.messages.iter().enumerate() {
            let (msg, s, id) = &sent[q as usize * 3 + i];
            assert_eq!(m.body, msg.body, "body");
            assert_eq!(m.topic, topic);
            assert_eq!(m.queue_id, q);
            assert_eq!(m.queue_offset, i as i64);
            assert_eq!(
                m.physical_offset, id.physical_offset,
                "PHYSICALOFFSET = msgId offset"
            );
            assert_eq!(
                m.offset_msg_id(),
                s.msg_id,
                "msgId from STOREHOST+PHYSICALOFFSET (§5.3)"
            );
            assert_eq!(m.store_host, id.store_host);
            assert!(m.body_crc_ok(), "BODYCRC = crc32(body) & 0x7FFFFFFF (§5.6)");
            assert_eq!(
                m.magic,
                ringmq_tests::records::MAGIC_V1,
                "v1 records for 4.x (§5.3)"
            );
            assert_eq!(m.flag, 0);
            assert_eq!(m.sys_flag, 0);
            assert_eq!(m.reconsume_times, 0);
            // §7.2 step 9: born host = the connection's peer address.
            assert_eq!(m.born_host, client_addr, "BORNHOST (§7.2 step 9)");
            assert!(
                m.store_timestamp >= started - 1000 && m.store_timestamp <= finished + 1000,
                "STORETIMESTAMP {} outside the send window [{started}, {finished}]",
                m.store_timestamp
            );
            for (k, v) in &msg.properties {
                if k == "WAIT" {
                    continue;
                }
                assert_eq!(m.property(k), Some(v.as_str()), "property {k}");
            }
            // §5.2 / §7.2 step 9: the broker adds CLUSTER; 4.9.7 drops WAIT
            // from the stored copy of a plain single send.
            assert!(m.property("CLUSTER").is_some(), "CLUSTER property (§5.2)");
            assert_eq!(m.property("WAIT"), None, "WAIT dropped (§7.2 table)");
        }
    }

    // maxMsgNums bounds the batch; the next pull continues there.
    let p = pull(&mut b, &Pull::new(GROUP, topic, 2, 0).max(2));
    assert_eq!(p.code, response::SUCCESS);
    assert_eq!(queue_offsets(&p.messages), [0, 1]);
    assert_eq!(p.next_begin_offset, 2);
    let p = pull(&mut b, &Pull::new(GROUP, topic, 2, 2));
    assert_eq!(queue_offsets(&p.messages), [2]);
    assert_eq!(p.next_begin_offset, 3);
}

/// Long polling (§6.3): a held pull wakes up when a message arrives.
#[test]
fn long_poll_wakes_up_on_send() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut producer = connect(mq.broker);
    let mut consumer = connect(mq.broker);
    let topic = "LongPollTopic";
    create_topic(&mut producer, topic, 1);
    send(&mut producer, &Message::new(topic, 0, "first"));

    // At max offset (1) with SUSPEND: OFFSET_OVERFLOW_ONE ⇒ held (§6.2 step 8).
    let opaque = consumer
        .send_request(Pull::new(GROUP, topic, 0, 1).suspend(20_000).build())
        .unwrap();
    match consumer.read_command(Duration::from_millis(1500)) {
        Err(ClientError::Timeout) => {}
        other => panic!(
            "a pull at the max offset with SUSPEND must be held (§6.2 step 8, §6.3), got {other:?}"
        ),
    }
    let sent_at = Instant::now();
    send(&mut producer, &Message::new(topic, 0, "wake up"));
    let resp = consumer
        .wait_response(opaque, Duration::from_secs(25))
        .unwrap_or_else(|e| panic!("held pull never answered: {e}"));
    let waited = sent_at.elapsed();
    let p = pulled(resp);
    assert_code(&p.resp, response::SUCCESS, "woken pull (§6.3 trigger a)");
    assert!(
        waited < Duration::from_secs(10),
        "the held pull answered {waited:?} after the send (§6.3: wake-up on dispatch)"
    );
    assert_eq!(bodies(&p.messages), ["wake up"]);
    assert_eq!(queue_offsets(&p.messages), [1]);
    assert_eq!((p.next_begin_offset, p.max_offset), (2, 2));
}

/// Long polling (§6.3): a held pull with nothing new answers PULL_NOT_FOUND
/// at its deadline.
#[test]
fn long_poll_times_out_with_not_found() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    let topic = "LongPollTimeoutTopic";
    create_topic(&mut b, topic, 1);
    send(&mut b, &Message::new(topic, 0, "only"));

    let started = Instant::now();
    let resp = b
        .invoke(
            Pull::new(GROUP, topic, 0, 1).suspend(1000).build(),
            Duration::from_secs(20),
        )
        .unwrap_or_else(|e| panic!("held pull never answered: {e}"));
    let waited = started.elapsed();
    let p = pulled(resp);
    // §6.3: re-run at the deadline, still nothing ⇒ PULL_NOT_FOUND (19),
    // nextBeginOffset = request offset for OFFSET_OVERFLOW_ONE.
    assert_code(
        &p.resp,
        response::PULL_NOT_FOUND,
        "held pull at its deadline",
    );
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(10),
        "a 1000 ms hold answered after {waited:?}"
    );
    assert_eq!((p.next_begin_offset, p.min_offset, p.max_offset), (1, 0, 1));
}

/// The pull status table of §6.2 step 6 (and the checks of step 3).
#[test]
fn pull_status_by_offset() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    let topic = "PullStatusTopic";
    create_topic(&mut b, topic, 1);

    // Empty queue (max == 0): offset 0 ⇒ PULL_NOT_FOUND, else
    // PULL_OFFSET_MOVED; nextBeginOffset 0 (§6.2 step 6, rows 1-2).
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 0));
    assert_code(
        &p.resp,
        response::PULL_NOT_FOUND,
        "empty queue, offset 0 (§6.2)",
    );
    assert_eq!((p.next_begin_offset, p.min_offset, p.max_offset), (0, 0, 0));
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 5));
    assert_code(
        &p.resp,
        response::PULL_OFFSET_MOVED,
        "empty queue, offset 5 (§6.2)",
    );
    assert_eq!(p.next_begin_offset, 0);

    for i in 0..3 {
        send(&mut b, &Message::new(topic, 0, format!("m{i}")));
    }
    // offset == max ⇒ OFFSET_OVERFLOW_ONE ⇒ PULL_NOT_FOUND, next = offset.
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 3));
    assert_code(&p.resp, response::PULL_NOT_FOUND, "offset == max (§6.2)");
    assert_eq!((p.next_begin_offset, p.min_offset, p.max_offset), (3, 0, 3));
    // offset > max ⇒ OFFSET_OVERFLOW_BADLY ⇒ PULL_OFFSET_MOVED, next = max
    // (Java 4.9.7 `DefaultMessageStore.getMessage`:
    // `nextOffsetCorrection(offset, maxOffset)`; up to 4.9.3 it was the min
    // offset when that was 0, 4.9.4+ always the max).
    for offset in [4, 100] {
        let p = pull(&mut b, &Pull::new(GROUP, topic, 0, offset));
        assert_code(&p.resp, response::PULL_OFFSET_MOVED, "offset > max (§6.2)");
        assert_eq!(
            (p.next_begin_offset, p.min_offset, p.max_offset),
            (3, 0, 3),
            "(nextBeginOffset, minOffset, maxOffset) for offset {offset} > max 3 (§6.2: next = max)"
        );
    }
    // offset < min ⇒ OFFSET_TOO_SMALL ⇒ PULL_OFFSET_MOVED, next = min. Java
    // 4.9.7 passes a negative queueOffset to the store unchanged, so -1 is
    // such an offset while the queue starts at 0.
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, -1));
    assert_code(&p.resp, response::PULL_OFFSET_MOVED, "offset < min (§6.2)");
    assert_eq!(p.next_begin_offset, 0);
    // Inside [min, max) ⇒ FOUND.
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 1));
    assert_code(&p.resp, response::SUCCESS, "offset inside the queue (§6.2)");
    assert_eq!(bodies(&p.messages), ["m1", "m2"]);
    assert_eq!(p.next_begin_offset, 3);

    // §6.2 step 3: queueId >= readQueueNums ⇒ SYSTEM_ERROR; unknown topic ⇒
    // TOPIC_NOT_EXIST.
    let p = pull(&mut b, &Pull::new(GROUP, topic, 1, 0));
    assert_code(
        &p.resp,
        response::SYSTEM_ERROR,
        "queueId out of range (§6.2 step 3)",
    );
    let p = pull(&mut b, &Pull::new(GROUP, "NoSuchPullTopic", 0, 0));
    assert_code(
        &p.resp,
        response::TOPIC_NOT_EXIST,
        "unknown topic (§6.2 step 3)",
    );
}

/// TAG filtering on the consume queue (§6.5, §6.2 scanning).
#[test]
fn tag_filtering() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    let topic = "TagTopic";
    create_topic(&mut b, topic, 1);
    let tags = ["TagA", "TagC", "TagB", "TagC", "TagA", "TagC", "TagC"];
    for (i, t) in tags.iter().enumerate() {
        send(
            &mut b,
            &Message::new(topic, 0, format!("{t}-{i}")).with_tags(t),
        );
    }

    // Matching units are returned, the others skipped; nextBeginOffset counts
    // every scanned unit, so the trailing TagC units are passed over.
    let p = pull(
        &mut b,
        &Pull::new(GROUP, topic, 0, 0).subscription("TagA||TagB"),
    );
    assert_code(&p.resp, response::SUCCESS, "TagA||TagB");
    assert_eq!(queue_offsets(&p.messages), [0, 2, 4]);
    assert_eq!(bodies(&p.messages), ["TagA-0", "TagB-2", "TagA-4"]);
    assert_eq!(p.next_begin_offset, 7, "skipped units count (§6.2 step 6)");
    assert_eq!(p.max_offset, 7);

    // Spaces around `||` are trimmed (§6.5); maxMsgNums stops the scan right
    // after the second match.
    let p = pull(
        &mut b,
        &Pull::new(GROUP, topic, 0, 0)
            .subscription("TagA || TagB")
            .max(2),
    );
    assert_code(&p.resp, response::SUCCESS, "TagA || TagB, max 2");
    assert_eq!(queue_offsets(&p.messages), [0, 2]);
    assert_eq!(p.next_begin_offset, 3);

    // Nothing matches in the scanned range ⇒ PULL_RETRY_IMMEDIATELY, next
    // past the scanned units (§6.2 step 6, NO_MATCHED_MESSAGE).
    let p = pull(
        &mut b,
        &Pull::new(GROUP, topic, 0, 5).subscription("TagA||TagB"),
    );
    assert_code(
        &p.resp,
        response::PULL_RETRY_IMMEDIATELY,
        "no match in [5, 7)",
    );
    assert_eq!(p.next_begin_offset, 7);

    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 0).subscription("TagC"));
    assert_eq!(queue_offsets(&p.messages), [1, 3, 5, 6]);
    // `*` matches everything (§6.5).
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 0).subscription("*"));
    assert_eq!(queue_offsets(&p.messages), [0, 1, 2, 3, 4, 5, 6]);
    for (m, t) in p.messages.iter().zip(tags) {
        assert_eq!(m.property("TAGS"), Some(t));
    }
}

/// UPDATE_CONSUMER_OFFSET / QUERY_CONSUMER_OFFSET, across a restart (§3.3).
#[test]
fn consumer_offsets_survive_restart() {
    let _s = serial();
    let mut mq = Ringmq::start();
    let topic = "OffsetTopic";
    {
        let mut b = connect(mq.broker);
        create_topic(&mut b, topic, 2);
        send(&mut b, &Message::new(topic, 0, "a"));
        send(&mut b, &Message::new(topic, 0, "b"));

        // §3.3: no committed offset, queue min 0 and its first message in
        // memory (or the queue empty) ⇒ SUCCESS with offset 0.
        let resp = call(
            &mut b,
            requests::query_consumer_offset("FreshGroup", topic, 0),
        );
        assert_code(
            &resp,
            response::SUCCESS,
            "fresh group, message 0 in memory (§3.3)",
        );
        assert_eq!(ext_i64(&resp, "offset"), 0);
        let resp = call(
            &mut b,
            requests::query_consumer_offset("FreshGroup", topic, 1),
        );
        assert_code(&resp, response::SUCCESS, "fresh group, empty queue (§3.3)");
        assert_eq!(ext_i64(&resp, "offset"), 0);

        // Synchronous update: SUCCESS (§3.3).
        let resp = call(&mut b, requests::update_consumer_offset(GROUP, topic, 0, 2));
        assert_code(&resp, response::SUCCESS, "UPDATE_CONSUMER_OFFSET");
        assert_eq!(
            offset_of(
                &mut b,
                requests::query_consumer_offset(GROUP, topic, 0),
                "query"
            ),
            2
        );
        // Oneway update (what 4.9.7 consumers send), stored as given without
        // range checks (§3.3): 5 > max offset 0 of queue 1.
        b.oneway(requests::update_consumer_offset(GROUP, topic, 1, 5))
            .unwrap();
        poll_until("oneway offset update applied", EVENTUAL, || {
            let resp = call(&mut b, requests::query_consumer_offset(GROUP, topic, 1));
            (resp.code == response::SUCCESS && ext_i64(&resp, "offset") == 5).then_some(())
        });
        // Overwrite: the latest commit wins.
        let resp = call(&mut b, requests::update_consumer_offset(GROUP, topic, 0, 1));
        assert_code(&resp, response::SUCCESS, "UPDATE_CONSUMER_OFFSET again");
        assert_eq!(
            offset_of(
                &mut b,
                requests::query_consumer_offset(GROUP, topic, 0),
                "query"
            ),
            1
        );
    }

    mq.restart();

    let mut b = connect(mq.broker);
    assert_eq!(
        offset_of(
            &mut b,
            requests::query_consumer_offset(GROUP, topic, 0),
            "query after restart"
        ),
        1,
        "committed offset survives a clean restart"
    );
    assert_eq!(
        offset_of(
            &mut b,
            requests::query_consumer_offset(GROUP, topic, 1),
            "query after restart"
        ),
        5
    );
    // And the messages too.
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 0));
    assert_code(&p.resp, response::SUCCESS, "pull after restart");
    assert_eq!(bodies(&p.messages), ["a", "b"]);
}

/// GET_MAX_OFFSET / GET_MIN_OFFSET / SEARCH_OFFSET_BY_TIMESTAMP (§3.3).
#[test]
fn max_min_and_search_offsets() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    let topic = "OffsetQueryTopic";
    create_topic(&mut b, topic, 2);

    // §3.3 table: an empty / never-used queue has max 0 and min 0.
    assert_eq!(
        offset_of(&mut b, requests::get_max_offset(topic, 0), "max"),
        0
    );
    assert_eq!(
        offset_of(&mut b, requests::get_min_offset(topic, 0), "min"),
        0
    );

    // Distinct store timestamps: the sends are ≥ 20 ms apart.
    for i in 0..5 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        send(&mut b, &Message::new(topic, 0, format!("t{i}")));
    }
    assert_eq!(
        offset_of(&mut b, requests::get_max_offset(topic, 0), "max"),
        5
    );
    assert_eq!(
        offset_of(&mut b, requests::get_min_offset(topic, 0), "min"),
        0
    );
    assert_eq!(
        offset_of(&mut b, requests::get_max_offset(topic, 1), "max q1"),
        0
    );

    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 0));
    let ts: Vec<i64> = p.messages.iter().map(|m| m.store_timestamp).collect();
    assert_eq!(ts.len(), 5);
    assert!(
        ts.windows(2).all(|w| w[1] >= w[0] + 10),
        "store timestamps of sends 20 ms apart: {ts:?}"
    );

    let search = |b: &mut RemotingClient, t: i64| {
        offset_of(
            b,
            requests::search_offset_by_timestamp(topic, 0, t),
            "search",
        )
    };
    // §3.3: exact match if any, else the closer neighbour.
    for (i, &t) in ts.iter().enumerate() {
        assert_eq!(search(&mut b, t), i as i64, "exact store timestamp of #{i}");
        assert_eq!(
            search(&mut b, t + 1),
            i as i64,
            "1 ms after #{i}: closer to #{i}"
        );
    }
    assert_eq!(
        search(&mut b, ts[0] - 60_000),
        0,
        "before everything: the first"
    );
    assert_eq!(
        search(&mut b, ts[4] + 60_000),
        4,
        "after everything: the last"
    );
}

/// Hostile frames make the broker close that connection (§1.1, §1.2) and
/// nothing else.
#[test]
fn hostile_frames_close_only_their_connection() {
    let _s = serial();
    let mq = Ringmq::start();
    let topic = "HostileTopic";
    let mut good = connect(mq.broker);
    create_topic(&mut good, topic, 1);

    let mut garbage = vec![0u8; 4096];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for g in garbage.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *g = x as u8;
    }
    garbage[0] |= 0x01; // total_length >= 16 MiB whatever the seed gives

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        // total_length 16 MiB ⇒ frame of 16 MiB + 4 > frameMaxLength (§1.1):
        // refused from the length alone, without waiting for the bytes.
        (
            "frame > 16 MiB",
            [&(16u32 << 20).to_be_bytes()[..], &[0, 0, 0, 10]].concat(),
        ),
        (
            "frame length 0xFFFFFFFF",
            vec![0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0],
        ),
        // header_length > total_length - 4 (§1.2).
        (
            "header longer than the frame",
            [&20u32.to_be_bytes()[..], &100u32.to_be_bytes(), &[b'{'; 16]].concat(),
        ),
        // serialize type byte 5 (§1.2: only 0 and 1).
        (
            "unknown serialize type",
            [
                &12u32.to_be_bytes()[..],
                &0x0500_0008u32.to_be_bytes(),
                &[0; 8],
            ]
            .concat(),
        ),
        // total_length < 4 (§1.2: it includes the header-length word).
        ("frame length 2", vec![0, 0, 0, 2, 0, 0]),
        // A JSON header that is not JSON (§1.1: decoding error ⇒ close).
        (
            "undecodable JSON header",
            [
                &14u32.to_be_bytes()[..],
                &10u32.to_be_bytes(),
                b"not json!!",
            ]
            .concat(),
        ),
        ("random garbage", garbage),
    ];
    for (what, bytes) in cases.drain(..) {
        let mut c = connect(mq.broker);
        // The broker may close while we still write: that is fine.
        let _ = c.send_raw(&bytes);
        match c.expect_closed(RPC) {
            Ok(()) => {}
            Err(e) => panic!("{what}: the broker must close the connection (§1.1), got {e}"),
        }
    }

    // The connection opened before still works, and so does a new one.
    let s = send(&mut good, &Message::new(topic, 0, "still alive"));
    assert_eq!(s.queue_offset, 0);
    let mut fresh = connect(mq.broker);
    send(&mut fresh, &Message::new(topic, 0, "fresh"));
    let p = pull(&mut fresh, &Pull::new(GROUP, topic, 0, 0));
    assert_code(&p.resp, response::SUCCESS, "pull after hostile frames");
    assert_eq!(bodies(&p.messages), ["still alive", "fresh"]);
}

/// Unknown request codes (§1.9, §2.2).
#[test]
fn unknown_request_code_is_not_supported() {
    let _s = serial();
    let mq = Ringmq::start();
    for addr in [mq.broker, mq.namesrv] {
        let mut c = connect(addr);
        let resp = call(&mut c, requests::request(9999));
        assert_code(
            &resp,
            response::REQUEST_CODE_NOT_SUPPORTED,
            "code 9999 (§1.9)",
        );
        let remark = resp.remark.clone().unwrap_or_default();
        assert!(
            remark.contains("9999") && remark.contains("not supported"),
            "remark \" request type 9999 not supported\" (§1.9): {remark:?}"
        );
        // The connection stays usable.
        let resp = call(&mut c, requests::get_route_info("TBW102"));
        assert!(resp.is_response());
    }
}

/// MESSAGE_ILLEGAL for a body over maxMessageSize and properties over 32767
/// bytes (§7.4, §2.3).
#[test]
fn oversize_message_is_illegal() {
    let _s = serial();
    let mq = Ringmq::start_with(ServeOptions::default().set("maxMessageSize", "1024"));
    let mut b = connect(mq.broker);
    let topic = "OversizeTopic";
    create_topic(&mut b, topic, 1);

    let resp = send_code(&mut b, &Message::new(topic, 0, vec![b'x'; 1025]));
    assert_code(
        &resp,
        response::MESSAGE_ILLEGAL,
        "body of 1025 > maxMessageSize 1024 (§7.4)",
    );
    assert!(
        resp.remark.as_deref().is_some_and(|r| !r.is_empty()),
        "MESSAGE_ILLEGAL comes with a remark"
    );
    // Exactly at the limit is fine (§7.4: body > maxMessageSize is refused).
    let s = send(&mut b, &Message::new(topic, 0, vec![b'y'; 1024]));
    assert_eq!(s.queue_offset, 0, "nothing was stored for the refused send");

    let big = "v".repeat(40_000);
    let resp = send_code(
        &mut b,
        &Message::new(topic, 0, "p").with_property("big", &big),
    );
    assert_code(
        &resp,
        response::MESSAGE_ILLEGAL,
        "properties > 32767 bytes (§5.1, §7.4)",
    );

    let s = send(&mut b, &Message::new(topic, 0, "small"));
    assert_eq!(s.queue_offset, 1);
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 0));
    assert_eq!(p.messages.len(), 2);
    assert_eq!(p.messages[0].body.len(), 1024);
}

/// Topic names refused by §7.2 steps 3 and 4.
#[test]
fn invalid_topic_names_are_refused() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    // Step 3: blank, characters outside [%|a-zA-Z0-9_-], longer than 127 ⇒
    // SYSTEM_ERROR.
    let long = "T".repeat(200);
    for topic in ["bad topic!", "slash/topic", "dot.topic", long.as_str(), ""] {
        let resp = send_code(&mut b, &Message::new(topic, 0, "x"));
        assert_code(
            &resp,
            response::SYSTEM_ERROR,
            &format!("topic {topic:?} (§7.2 step 3)"),
        );
    }
    // Exactly 127 allowed characters is a valid name (auto-created, §7.3).
    let ok = format!("%|_-{}", "a".repeat(123));
    assert_eq!(ok.len(), 127);
    send(&mut b, &Message::new(&ok, 0, "x"));
    // Step 4: system topics nobody may send to ⇒ NO_PERMISSION.
    for topic in [
        "SCHEDULE_TOPIC_XXXX",
        "RMQ_SYS_TRANS_HALF_TOPIC",
        "RMQ_SYS_TRANS_OP_HALF_TOPIC",
        "TRANS_CHECK_MAX_TIME_TOPIC",
        "SELF_TEST_TOPIC",
        "OFFSET_MOVED_EVENT",
    ] {
        let resp = send_code(&mut b, &Message::new(topic, 0, "x"));
        assert_code(
            &resp,
            response::NO_PERMISSION,
            &format!("{topic} (§7.2 step 4)"),
        );
    }
    // queueId >= max(writeQueueNums, readQueueNums) ⇒ SYSTEM_ERROR (step 6).
    create_topic(&mut b, "TwoQueueTopic", 2);
    let resp = send_code(&mut b, &Message::new("TwoQueueTopic", 2, "x"));
    assert_code(
        &resp,
        response::SYSTEM_ERROR,
        "queueId 2 of 2 (§7.2 step 6)",
    );
    // queueId < 0 ⇒ the broker picks a queue in [0, writeQueueNums).
    let s = send(&mut b, &Message::new("TwoQueueTopic", -1, "x"));
    assert!(
        (0..2).contains(&s.queue_id),
        "queue picked by the broker: {}",
        s.queue_id
    );
}

/// Auto-creation (§7.3): on by default, TOPIC_NOT_EXIST when disabled.
#[test]
fn topic_auto_creation() {
    let _s = serial();
    {
        let mq = Ringmq::start();
        let mut b = connect(mq.broker);
        let mut ns = connect(mq.namesrv);
        let s = send(&mut b, &Message::new("AutoCreatedTopic", 1, "x"));
        assert_eq!((s.queue_id, s.queue_offset), (1, 0));
        // min(header d = 4, TBW102 writeQueueNums = 8) queues, perm 6, and
        // the broker registers it at once (§7.3).
        let route = wait_route(&mut ns, "AutoCreatedTopic", |_| true);
        assert_eq!(read_queue_nums(&route), 4, "{route}");
        assert_eq!(queue_data(&route)["writeQueueNums"], 4, "{route}");
        assert_eq!(queue_data(&route)["perm"], 6, "{route}");
    }
    let mq = Ringmq::start_with(ServeOptions::default().set("autoCreateTopicEnable", "false"));
    let mut b = connect(mq.broker);
    let resp = send_code(&mut b, &Message::new("NeverCreatedTopic", 0, "x"));
    assert_code(
        &resp,
        response::TOPIC_NOT_EXIST,
        "auto-create disabled (§7.2 step 5, §7.3)",
    );
    let remark = resp.remark.clone().unwrap_or_default();
    assert!(
        remark.contains("not exist"),
        "remark (§7.2 step 5): {remark:?}"
    );
    // Created topics still work.
    create_topic(&mut b, "CreatedTopic", 1);
    send(&mut b, &Message::new("CreatedTopic", 0, "x"));
}

/// SEND_BATCH_MESSAGE (§3.2, §5.7).
#[test]
fn batch_send_and_pull() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    let topic = "BatchTopic";
    create_topic(&mut b, topic, 2);

    let items: Vec<BatchItem> = (0..3)
        .map(|i| BatchItem {
            flag: i,
            body: format!("batch message {i}").into_bytes(),
            properties: properties_string(&[
                ("batchIdx", i.to_string()),
                ("KEYS", format!("batch-{i}")),
                (
                    "UNIQ_KEY",
                    requests::uniq_key(topic, 1, format!("b{i}").as_bytes()),
                ),
                ("WAIT", "true".to_owned()),
                ("TAGS", "TagBatch".to_owned()),
            ]),
        })
        .collect();
    let resp = call(&mut b, requests::send_batch_message(topic, 1, &items));
    assert_code(&resp, response::SUCCESS, "SEND_BATCH_MESSAGE");
    assert_eq!(ext_i64(&resp, "queueId"), 1);
    assert_eq!(
        ext_i64(&resp, "queueOffset"),
        0,
        "offset of the first message (§5.7)"
    );
    // §3.2: one offset msgId per stored message, comma-separated, in order.
    let ids: Vec<_> = ext_str(&resp, "msgId")
        .split(',')
        .map(|id| decode_offset_msg_id(id).unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids
        .windows(2)
        .all(|w| w[0].physical_offset < w[1].physical_offset));

    let p = pull(&mut b, &Pull::new(GROUP, topic, 1, 0));
    assert_code(&p.resp, response::SUCCESS, "pull the batch");
    assert_eq!(
        queue_offsets(&p.messages),
        [0, 1, 2],
        "consecutive offsets (§5.7)"
    );
    assert_eq!((p.next_begin_offset, p.max_offset), (3, 3));
    for ((m, it), id) in p.messages.iter().zip(&items).zip(&ids) {
        assert_eq!(m.body, it.body);
        assert_eq!(m.flag, it.flag, "inner FLAG (§5.7)");
        assert_eq!(m.queue_id, 1);
        assert_eq!(m.topic, topic);
        assert_eq!(m.physical_offset, id.physical_offset);
        assert!(m.body_crc_ok(), "BODYCRC computed by the broker (§5.7)");
        let own = ringmq_tests::records::parse_properties(&it.properties);
        for (k, v) in &own {
            assert_eq!(m.property(k), Some(v.as_str()), "item property {k}");
        }
        // The batch header's properties and CLUSTER are appended (§5.7).
        assert!(m.property("CLUSTER").is_some(), "CLUSTER appended (§5.7)");
        assert_eq!(
            m.properties_raw.matches("WAIT\u{1}true").count(),
            2,
            "WAIT twice: the item's and the batch header's (§5.1, §7.2 table): {:?}",
            m.properties_raw
        );
    }

    let resp = call(&mut b, requests::send_batch_message(topic, 1, &items[..1]));
    assert_code(&resp, response::SUCCESS, "second batch");
    assert_eq!(ext_i64(&resp, "queueOffset"), 3);
}

/// HEART_BEAT, GET_CONSUMER_LIST_BY_GROUP and NOTIFY_CONSUMER_IDS_CHANGED
/// (§3.2, §3.3, §3.4, §9.3).
#[test]
fn heartbeat_consumer_list_and_notification() {
    let _s = serial();
    let mq = Ringmq::start();
    let topic = "HeartbeatTopic";
    let group = "HeartbeatGroup";
    let mut admin = connect(mq.broker);
    create_topic(&mut admin, topic, 4);

    // §3.3: a group without live consumers ⇒ SYSTEM_ERROR.
    let resp = call(&mut admin, requests::get_consumer_list_by_group(group));
    assert_code(
        &resp,
        response::SYSTEM_ERROR,
        "no consumer for this group (§3.3)",
    );

    let mut c1 = connect(mq.broker);
    let resp = call(
        &mut c1,
        requests::heart_beat("127.0.0.1@c1", &[requests::consumer_data(group, topic)]),
    );
    assert_code(&resp, response::SUCCESS, "HEART_BEAT c1");
    // §1.8: clients record the heartbeat response's version as the broker's;
    // below V4_1_0_SNAPSHOT (232) they refuse SQL92 subscriptions.
    assert!(
        resp.version >= 232,
        "realistic broker version (§1.8): {}",
        resp.version
    );
    // §9.3: the group's connections changed ({} → {c1}) ⇒ notify every
    // connection of the group, c1 included.
    let n = c1
        .wait_request(code::NOTIFY_CONSUMER_IDS_CHANGED, EVENTUAL)
        .unwrap_or_else(|e| panic!("c1 notified of its own registration (§9.3): {e}"));
    assert_eq!(n.ext_field("consumerGroup"), Some(group), "§3.4 header");
    assert!(
        n.is_oneway(),
        "NOTIFY_CONSUMER_IDS_CHANGED is oneway (§2.1)"
    );

    let mut c2 = connect(mq.broker);
    let resp = call(
        &mut c2,
        requests::heart_beat("127.0.0.1@c2", &[requests::consumer_data(group, topic)]),
    );
    assert_code(&resp, response::SUCCESS, "HEART_BEAT c2");
    let n = c1
        .wait_request(code::NOTIFY_CONSUMER_IDS_CHANGED, EVENTUAL)
        .unwrap_or_else(|e| panic!("c1 notified when c2 joined (§9.3): {e}"));
    assert_eq!(n.ext_field("consumerGroup"), Some(group));
    c2.wait_request(code::NOTIFY_CONSUMER_IDS_CHANGED, EVENTUAL)
        .unwrap_or_else(|e| panic!("c2 notified when it joined (§9.3): {e}"));

    let ids = |c: &mut RemotingClient| -> BTreeSet<String> {
        let resp = call(c, requests::get_consumer_list_by_group(group));
        if resp.code != response::SUCCESS {
            return BTreeSet::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&resp.body)
            .unwrap_or_else(|e| panic!("consumer list body (§3.3): {e}"));
        v["consumerIdList"]
            .as_array()
            .unwrap_or_else(|| panic!("consumerIdList (§3.3): {v}"))
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let both: BTreeSet<String> = ["127.0.0.1@c1", "127.0.0.1@c2"].map(String::from).into();
    assert_eq!(ids(&mut admin), both, "GET_CONSUMER_LIST_BY_GROUP (§3.3)");

    // §7.5 / §9.3: the heartbeat created %RETRY%<group> (1 queue) and the
    // broker registered it with the name server.
    let mut ns = connect(mq.namesrv);
    let route = wait_route(&mut ns, &format!("%RETRY%{group}"), |_| true);
    assert_eq!(
        read_queue_nums(&route),
        1,
        "retryQueueNums 1 (§7.5): {route}"
    );

    // §9.3: closing c2's connection removes it and notifies c1.
    drop(c2);
    c1.wait_request(code::NOTIFY_CONSUMER_IDS_CHANGED, EVENTUAL)
        .unwrap_or_else(|e| panic!("c1 notified when c2's connection closed (§9.3): {e}"));
    let only_c1: BTreeSet<String> = ["127.0.0.1@c1".to_owned()].into();
    poll_until("c2 gone from the consumer list", EVENTUAL, || {
        (ids(&mut admin) == only_c1).then_some(())
    });
}

/// QUERY_MESSAGE by key and by UNIQ_KEY, VIEW_MESSAGE_BY_ID (§3.3).
#[test]
fn query_message_and_view_by_id() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    let topic = "QueryTopic";
    create_topic(&mut b, topic, 2);
    let before = requests::now_millis() - 1000;
    let mut sent = Vec::new();
    for i in 0..3 {
        let msg = Message::new(topic, i % 2, format!("query body {i}"))
            .with_keys(&format!("qk-{i} qcommon"))
            .with_tags("TagQ");
        let s = send(&mut b, &msg);
        sent.push((msg, s));
    }

    let query = |b: &mut RemotingClient, key: &str, unique: bool| {
        call(
            b,
            requests::query_message(topic, key, before, i64::MAX, unique),
        )
    };
    // The index may be built after the send is acknowledged: wait for it.
    let resp = poll_until("key qk-1 indexed", EVENTUAL, || {
        let r = query(&mut b, "qk-1", false);
        (r.code == response::SUCCESS).then_some(r)
    });
    assert!(
        resp.ext_field("indexLastUpdateTimestamp").is_some(),
        "§3.3 header"
    );
    assert!(
        resp.ext_field("indexLastUpdatePhyoffset").is_some(),
        "§3.3 header"
    );
    let found = decode_records(&resp.body).unwrap();
    // Hash collisions may add others; the client filters by key itself.
    let hits: Vec<_> = found
        .iter()
        .filter(|m| {
            m.property("KEYS")
                .is_some_and(|k| k.split(' ').any(|k| k == "qk-1"))
        })
        .collect();
    assert_eq!(hits.len(), 1, "{found:?}");
    assert_eq!(hits[0].body, sent[1].0.body);
    assert_eq!(hits[0].offset_msg_id(), sent[1].1.msg_id);

    let resp = poll_until("key qcommon indexed", EVENTUAL, || {
        let r = query(&mut b, "qcommon", false);
        let n = if r.code == response::SUCCESS {
            decode_records(&r.body).unwrap().len()
        } else {
            0
        };
        (n == 3).then_some(r)
    });
    let mut got = bodies(&decode_records(&resp.body).unwrap());
    got.sort();
    assert_eq!(got, ["query body 0", "query body 1", "query body 2"]);

    // By UNIQ_KEY (`_UNIQUE_KEY_QUERY=true`).
    let uniq = sent[2].0.uniq_key().to_owned();
    let resp = poll_until("UNIQ_KEY indexed", EVENTUAL, || {
        let r = query(&mut b, &uniq, true);
        (r.code == response::SUCCESS).then_some(r)
    });
    let found = decode_records(&resp.body).unwrap();
    assert!(
        found
            .iter()
            .any(|m| m.body == sent[2].0.body && m.property("UNIQ_KEY") == Some(&uniq)),
        "{found:?}"
    );

    // §3.3: nothing found ⇒ QUERY_NOT_FOUND.
    let resp = query(&mut b, "no-such-key", false);
    assert_code(&resp, response::QUERY_NOT_FOUND, "unknown key (§3.3)");

    // VIEW_MESSAGE_BY_ID with the offset from the msgId, sent to the address
    // in the msgId (§3.3, §5.5).
    for (msg, s) in &sent {
        let id = decode_offset_msg_id(&s.msg_id).unwrap();
        let mut v = connect(id.store_host);
        let resp = call(&mut v, requests::view_message_by_id(id.physical_offset));
        assert_code(&resp, response::SUCCESS, "VIEW_MESSAGE_BY_ID");
        let recs = decode_records(&resp.body).unwrap();
        assert_eq!(recs.len(), 1, "one stored record (§3.3)");
        assert_eq!(recs[0].body, msg.body);
        assert_eq!(recs[0].physical_offset, id.physical_offset);
        assert_eq!(recs[0].queue_offset, s.queue_offset);
        assert_eq!(recs[0].queue_id, s.queue_id);
    }
    // §3.3: no message at that offset ⇒ SYSTEM_ERROR.
    let resp = call(&mut b, requests::view_message_by_id(1 << 40));
    assert_code(
        &resp,
        response::SYSTEM_ERROR,
        "offset past the commit log (§3.3)",
    );
}

/// ROCKETMQ binary headers (§1.5, §1.6): a normal response comes back in the
/// request's encoding.
#[test]
fn rocketmq_binary_headers() {
    let _s = serial();
    let mq = Ringmq::start();
    let mut b = connect(mq.broker);
    b.set_serialize_type(SerializeType::RocketMq);
    let topic = "BinaryHeaderTopic";
    create_topic(&mut b, topic, 1);
    let resp = call(
        &mut b,
        requests::send_message_v2(&Message::new(topic, 0, "binary").with_tags("TagA")),
    );
    assert_code(&resp, response::SUCCESS, "SEND_MESSAGE_V2 in ROCKETMQ");
    assert_eq!(
        resp.serialize_type,
        SerializeType::RocketMq,
        "same type as the request (§1.6)"
    );
    assert_eq!(ext_i64(&resp, "queueOffset"), 0);
    let p = pull(&mut b, &Pull::new(GROUP, topic, 0, 0));
    assert_code(&p.resp, response::SUCCESS, "PULL_MESSAGE in ROCKETMQ");
    assert_eq!(
        p.resp.serialize_type,
        SerializeType::RocketMq,
        "answered at once (§1.6)"
    );
    assert_eq!(bodies(&p.messages), ["binary"]);
    let mut ns = connect(mq.namesrv);
    ns.set_serialize_type(SerializeType::RocketMq);
    let resp = call(&mut ns, requests::get_route_info(topic));
    assert_eq!(
        resp.serialize_type,
        SerializeType::RocketMq,
        "name server too (§1.6)"
    );
}

/// Under SYNC_FLUSH a SUCCESS means flushed (§7.4: otherwise
/// FLUSH_DISK_TIMEOUT): every acknowledged message survives kill -9, and
/// the queue continues after them.
#[test]
fn sync_flush_messages_survive_kill9() {
    let _s = serial();
    let mut mq = Ringmq::start_with(ServeOptions {
        sync_flush: true,
        ..ServeOptions::default()
    });
    let topic = "Kill9Topic";
    let mut sent = Vec::new();
    {
        let mut b = connect(mq.broker);
        create_topic(&mut b, topic, 2);
        for i in 0..20 {
            let msg = Message::new(topic, i % 2, format!("durable {i}"));
            let s = send(&mut b, &msg);
            sent.push((msg, s));
        }
    }
    mq.restart_after_kill9();

    let mut b = connect(mq.broker);
    for q in 0..2 {
        let p = pull(&mut b, &Pull::new(GROUP, topic, q, 0));
        assert_code(&p.resp, response::SUCCESS, "pull after kill -9");
        let want: Vec<_> = sent
            .iter()
            .filter(|(_, s)| s.queue_id == q)
            .map(|(m, s)| (m.body.clone(), s.queue_offset, s.msg_id.clone()))
            .collect();
        let got: Vec<_> = p
            .messages
            .iter()
            .map(|m| (m.body.clone(), m.queue_offset, m.offset_msg_id()))
            .collect();
        assert_eq!(got, want, "queue {q} after kill -9");
        assert_eq!(p.max_offset, 10);
    }
    let s = send(&mut b, &Message::new(topic, 0, "after"));
    assert_eq!(s.queue_offset, 10, "the queue continues after recovery");
}
