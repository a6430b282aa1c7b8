//! The name server driven with the golden requests a real 4.9.7 broker and
//! client sent to a real 4.9.7 name server (`shared/vectors/remoting`):
//! its answers must be the frames the Apache name server sent back, byte
//! for byte. Plus the behaviours the capture does not show: expiry, closed
//! connections, the KV config, data-version queries and the admin commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::BytesMut;
use ringmq::namesrv::crc32::java_crc32;
use ringmq::namesrv::{NameServer, NamesrvConfig};
use ringmq_remoting::body::kv_table::KVTable;
use ringmq_remoting::body::register_broker_body::RegisterBrokerBody;
use ringmq_remoting::body::route_data::TopicRouteData;
use ringmq_remoting::body::topic_config::{DataVersion, TopicConfig};
use ringmq_remoting::body::topic_list::TopicList;
use ringmq_remoting::*;

const BROKER_CONN: u64 = 1;
const CLIENT_CONN: u64 = 2;
/// The capture's clock (November 2026), a little after the registrations.
const NOW: i64 = 1_795_489_000_000;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/remoting")
}

fn frame_bytes(prefix: &str) -> Vec<u8> {
    let name = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with(prefix) && n.ends_with(".bin"))
        .unwrap_or_else(|| panic!("no golden frame {prefix}"));
    std::fs::read(vectors_dir().join(name)).unwrap()
}

fn frame(prefix: &str) -> RemotingCommand {
    let mut buf = BytesMut::from(&frame_bytes(prefix)[..]);
    decode_frame(&mut buf).unwrap().unwrap()
}

fn encode(cmd: &RemotingCommand) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_command(cmd, &mut out).unwrap();
    out.to_vec()
}

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn ask(ns: &mut NameServer, req: &RemotingCommand, conn: u64) -> RemotingCommand {
    ns.handle(req, conn, peer(), NOW).expect("a response")
}

/// Sends golden request `req` and checks the answer is golden frame `resp`.
fn assert_golden_exchange(ns: &mut NameServer, req: &str, resp: &str) {
    let answer = ask(ns, &frame(req), CLIENT_CONN);
    assert_eq!(
        String::from_utf8_lossy(&encode(&answer)),
        String::from_utf8_lossy(&frame_bytes(resp)),
        "{req} -> {resp}"
    );
}

fn registered() -> NameServer {
    let mut ns = NameServer::new(NamesrvConfig::default());
    let reg = frame("001-");
    let resp = ns.handle(&reg, BROKER_CONN, peer(), NOW).unwrap();
    assert_eq!(encode(&resp), frame_bytes("002-"));
    ns
}

fn request(code: RequestCode, fields: &[(&str, &str)]) -> RemotingCommand {
    let mut req = RemotingCommand::new_request(code, 77);
    let ext = req.ext_fields_mut();
    for (k, v) in fields {
        ext.insert(*k, *v);
    }
    req
}

#[test]
fn body_crc_of_the_golden_registration_matches() {
    for prefix in ["001-", "028-"] {
        let reg = frame(prefix);
        let h: RegisterBrokerRequestHeader = reg.decode_header().unwrap();
        assert_eq!(Some(java_crc32(&reg.body)), h.body_crc32, "{prefix}");
    }
}

/// The capture's name-server conversation, replayed: every answer equals
/// the Apache name server's frame. The only inputs not from the capture are
/// the connection ids and the clock, neither of which reaches the wire.
#[test]
fn golden_conversation_is_answered_byte_for_byte() {
    let mut ns = registered();

    // Cluster info, JSON and ROCKETMQ headers.
    assert_golden_exchange(&mut ns, "003-", "004-");
    assert_golden_exchange(&mut ns, "105-", "106-");
    // Route of TBW102 (perm 7, 8 queues) from the start-up registration.
    assert_golden_exchange(&mut ns, "005-", "006-");
    // Unknown topic: TOPIC_NOT_EXIST with Java's remark.
    assert_golden_exchange(&mut ns, "009-", "010-");

    // The registration after the topic creations is oneway: no answer.
    let oneway = frame("028-");
    assert!(oneway.is_oneway());
    assert!(ns.handle(&oneway, BROKER_CONN, peer(), NOW).is_none());
    assert_golden_exchange(&mut ns, "011-", "012-");
    // A signed request: the name server ignores the ACL fields.
    assert_golden_exchange(&mut ns, "097-", "098-");

    // VecRmqTopic (2 queues) was created later by an admin request; the
    // broker's incremental registration for it was not among the saved
    // frames, so it is rebuilt here from the broker's own topic config.
    let mut body = RegisterBrokerBody::decode(&oneway.body, false).unwrap();
    let w = &mut body.topic_config_serialize_wrapper;
    w.data_version.counter += 1;
    let mut t = TopicConfig::new("VecRmqTopic");
    t.read_queue_nums = 2;
    t.write_queue_nums = 2;
    w.topic_config_table = [("VecRmqTopic".to_owned(), t)].into_iter().collect();
    let mut reg = frame("001-");
    reg.body = body.encode(false).into();
    let crc = java_crc32(&reg.body).to_string();
    reg.ext_fields_mut().insert("bodyCrc32", crc);
    assert_eq!(ask(&mut ns, &reg, BROKER_CONN).code, 0);
    assert_golden_exchange(&mut ns, "109-", "110-");
    // Earlier topics survive an incremental registration.
    assert_golden_exchange(&mut ns, "011-", "012-");

    // Clean broker shutdown, then the routes are gone.
    assert_golden_exchange(&mut ns, "130-", "131-");
    let gone = ask(&mut ns, &frame("011-"), CLIENT_CONN);
    assert_eq!(gone.code, ResponseCode::TopicNotExist.to_i32());
    let ci = ask(&mut ns, &frame("003-"), CLIENT_CONN);
    assert_eq!(
        &ci.body[..],
        br#"{"brokerAddrTable":{},"clusterAddrTable":{}}"#
    );
}

#[test]
fn old_callers_get_the_legacy_route_encoding() {
    let mut ns = registered();
    let mut req = frame("005-");
    req.version = version::V4_9_3;
    let resp = ask(&mut ns, &req, CLIENT_CONN);
    let golden = frame("006-");
    let expected = String::from_utf8(golden.body.to_vec())
        .unwrap()
        .replace(r#"{"0":"#, "{0:");
    assert_eq!(String::from_utf8(resp.body.to_vec()).unwrap(), expected);
    // ... unless they ask for standard JSON.
    req.ext_fields_mut()
        .insert("acceptStandardJsonOnly", "true");
    let resp = ask(&mut ns, &req, CLIENT_CONN);
    assert_eq!(resp.body, golden.body);
}

#[test]
fn silent_brokers_expire() {
    let mut ns = NameServer::new(NamesrvConfig::default());
    ns.handle(&frame("001-"), BROKER_CONN, peer(), NOW).unwrap();
    assert!(ns.expire_brokers(NOW + 120_000).is_empty());
    // A QUERY_DATA_VERSION with an unchanged version counts as a sign of life.
    let mut q = request(
        RequestCode::QueryDataVersion,
        &[
            ("brokerName", "broker-a"),
            ("brokerAddr", "127.0.0.1:10931"),
            ("clusterName", "DefaultCluster"),
            ("brokerId", "0"),
        ],
    );
    q.body = br#"{"counter":0,"timestamp":1795488983883}"#.to_vec().into();
    let resp = ns.handle(&q, BROKER_CONN, peer(), NOW + 60_000).unwrap();
    assert_eq!(resp.ext_field("changed"), Some("false"));
    assert!(ns.expire_brokers(NOW + 180_000).is_empty());
    assert_eq!(
        ns.expire_brokers(NOW + 180_001),
        vec!["127.0.0.1:10931".to_owned()]
    );
    let route = ask(&mut ns, &frame("005-"), CLIENT_CONN);
    assert_eq!(route.code, ResponseCode::TopicNotExist.to_i32());
    assert_eq!(
        route.remark.as_deref(),
        Some("No topic route info in name server for the topic: TBW102\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
    );
}

#[test]
fn closing_the_broker_connection_removes_it() {
    let mut ns = registered();
    ns.connection_closed(CLIENT_CONN);
    assert_eq!(ask(&mut ns, &frame("005-"), CLIENT_CONN).code, 0);
    ns.connection_closed(BROKER_CONN);
    assert_eq!(
        ask(&mut ns, &frame("005-"), CLIENT_CONN).code,
        ResponseCode::TopicNotExist.to_i32()
    );
    assert!(ns.expire_brokers(i64::MAX).is_empty());
}

#[test]
fn data_version_query() {
    let mut ns = registered();
    let fields = [
        ("brokerName", "broker-a"),
        ("brokerAddr", "127.0.0.1:10931"),
        ("clusterName", "DefaultCluster"),
        ("brokerId", "0"),
    ];
    let stored = br#"{"counter":0,"timestamp":1795488983883}"#;
    let mut q = request(RequestCode::QueryDataVersion, &fields);
    q.body = DataVersion {
        counter: 5,
        timestamp: 1,
    }
    .encode()
    .into();
    let resp = ask(&mut ns, &q, BROKER_CONN);
    assert_eq!(resp.code, 0);
    assert_eq!(resp.ext_field("changed"), Some("true"));
    assert_eq!(&resp.body[..], stored);
    // Unknown broker: changed, no body.
    let mut other = q.clone();
    other.ext_fields_mut().insert("brokerAddr", "10.9.9.9:1");
    let resp = ask(&mut ns, &other, BROKER_CONN);
    assert_eq!(resp.ext_field("changed"), Some("true"));
    assert!(resp.body.is_empty());
    // No body: SYSTEM_ERROR, as Java's NullPointerException.
    q.body = Default::default();
    assert_eq!(ask(&mut ns, &q, BROKER_CONN).code, 1);
}

#[test]
fn registration_checks_the_crc_and_answers_a_slave() {
    let mut ns = registered();
    let mut bad = frame("001-");
    bad.ext_fields_mut().insert("bodyCrc32", "12345");
    let resp = ask(&mut ns, &bad, BROKER_CONN);
    assert_eq!(resp.code, ResponseCode::SystemError.to_i32());
    assert_eq!(resp.remark.as_deref(), Some("crc32 not match"));
    assert_eq!(resp.ext_fields, Some(ExtFields::new()));

    // A slave of broker-a learns its master's addresses.
    let mut slave = frame("001-");
    let ext = slave.ext_fields_mut();
    ext.insert("brokerId", "1");
    ext.insert("brokerAddr", "127.0.0.1:10941");
    ext.insert("haServerAddr", "127.0.0.1:10942");
    let resp = ask(&mut ns, &slave, 3);
    assert_eq!(resp.code, 0);
    let h: RegisterBrokerResponseHeader = resp.decode_header().unwrap();
    assert_eq!(h.master_addr.as_deref(), Some("127.0.0.1:10931"));
    assert_eq!(h.ha_server_addr.as_deref(), Some("127.0.0.1:10932"));
    let route = TopicRouteData::decode(&ask(&mut ns, &frame("005-"), CLIENT_CONN).body).unwrap();
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);

    // The compressed body form is accepted too.
    let mut z = frame("001-");
    let body = RegisterBrokerBody::decode(&z.body, false).unwrap();
    z.body = body.encode(true).into();
    let crc = java_crc32(&z.body).to_string();
    let ext = z.ext_fields_mut();
    ext.insert("compressed", "true");
    ext.insert("bodyCrc32", crc);
    assert_eq!(ask(&mut ns, &z, BROKER_CONN).code, 0);

    // A body that is not a registration.
    let mut junk = frame("001-");
    junk.body = b"{nope".to_vec().into();
    junk.ext_fields_mut().insert("bodyCrc32", "0");
    let resp = ask(&mut ns, &junk, BROKER_CONN);
    assert_eq!(resp.code, ResponseCode::SystemError.to_i32());
    assert!(resp
        .remark
        .unwrap()
        .starts_with("invalid body: Failed to decode RegisterBrokerBody"));
}

fn temp_kv_path() -> PathBuf {
    std::env::temp_dir()
        .join(format!(
            "ringmq-namesrv-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ))
        .join("kvConfig.json")
}

#[test]
fn kv_config_round_trip_and_order_topic_conf() {
    let path = temp_kv_path();
    let cfg = NamesrvConfig {
        kv_config_path: Some(path.clone()),
        order_message_enable: true,
        ..NamesrvConfig::default()
    };
    let mut ns = NameServer::new(cfg.clone());
    let put = request(
        RequestCode::PutKvConfig,
        &[
            ("namespace", "ORDER_TOPIC_CONFIG"),
            ("key", "TBW102"),
            ("value", "broker-a:8"),
        ],
    );
    let resp = ask(&mut ns, &put, CLIENT_CONN);
    assert_eq!((resp.code, resp.ext_fields.clone()), (0, None));

    let get = request(
        RequestCode::GetKvConfig,
        &[("namespace", "ORDER_TOPIC_CONFIG"), ("key", "TBW102")],
    );
    let resp = ask(&mut ns, &get, CLIENT_CONN);
    assert_eq!(resp.code, 0);
    assert_eq!(resp.ext_field("value"), Some("broker-a:8"));

    // Persisted: a new name server on the same file sees it.
    let mut ns = NameServer::new(cfg);
    assert_eq!(
        ask(&mut ns, &get, CLIENT_CONN).ext_field("value"),
        Some("broker-a:8")
    );

    // The registration answer carries the ORDER_TOPIC_CONFIG namespace.
    let resp = ask(&mut ns, &frame("001-"), BROKER_CONN);
    let table = KVTable::decode(&resp.body).unwrap();
    assert_eq!(
        table.table.get("TBW102").map(String::as_str),
        Some("broker-a:8")
    );
    // orderMessageEnable puts it into the route.
    let route = TopicRouteData::decode(&ask(&mut ns, &frame("005-"), CLIENT_CONN).body).unwrap();
    assert_eq!(route.order_topic_conf.as_deref(), Some("broker-a:8"));

    let list = request(
        RequestCode::GetKvlistByNamespace,
        &[("namespace", "ORDER_TOPIC_CONFIG")],
    );
    let resp = ask(&mut ns, &list, CLIENT_CONN);
    assert_eq!(&resp.body[..], br#"{"table":{"TBW102":"broker-a:8"}}"#);
    let missing = request(RequestCode::GetKvlistByNamespace, &[("namespace", "NOPE")]);
    let resp = ask(&mut ns, &missing, CLIENT_CONN);
    assert_eq!(resp.code, ResponseCode::QueryNotFound.to_i32());
    assert_eq!(
        resp.remark.as_deref(),
        Some("No config item, Namespace: NOPE")
    );

    let del = request(
        RequestCode::DeleteKvConfig,
        &[("namespace", "ORDER_TOPIC_CONFIG"), ("key", "TBW102")],
    );
    assert_eq!(ask(&mut ns, &del, CLIENT_CONN).code, 0);
    let resp = ask(&mut ns, &get, CLIENT_CONN);
    assert_eq!(resp.code, ResponseCode::QueryNotFound.to_i32());
    assert_eq!(
        resp.remark.as_deref(),
        Some("No config item, Namespace: ORDER_TOPIC_CONFIG Key: TBW102")
    );
    assert_eq!(resp.ext_fields, Some(ExtFields::new()));

    let no_key = request(RequestCode::PutKvConfig, &[("namespace", "N")]);
    let resp = ask(&mut ns, &no_key, CLIENT_CONN);
    assert_eq!(resp.code, ResponseCode::SystemError.to_i32());
    assert_eq!(resp.remark.as_deref(), Some("namespace or key is null"));
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn corrupt_kv_file_is_moved_aside() {
    let path = temp_kv_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{broken").unwrap();
    let mut ns = NameServer::new(NamesrvConfig {
        kv_config_path: Some(path.clone()),
        ..NamesrvConfig::default()
    });
    let mut aside = path.clone().into_os_string();
    aside.push(".corrupt");
    assert_eq!(std::fs::read_to_string(&aside).unwrap(), "{broken");
    let get = request(
        RequestCode::GetKvConfig,
        &[("namespace", "N"), ("key", "k")],
    );
    assert_eq!(
        ask(&mut ns, &get, CLIENT_CONN).code,
        ResponseCode::QueryNotFound.to_i32()
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn unknown_codes_and_oneway_requests() {
    let mut ns = NameServer::new(NamesrvConfig::default());
    let req = request(RequestCode::from_i32(9999), &[]);
    let resp = ask(&mut ns, &req, CLIENT_CONN);
    assert_eq!(resp.code, ResponseCode::RequestCodeNotSupported.to_i32());
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 9999 not supported")
    );
    assert_eq!(resp.opaque, 77);
    assert!(resp.is_response());
    // 4.9.7 has no BROKER_HEARTBEAT.
    let hb = request(RequestCode::BrokerHeartbeat, &[]);
    assert_eq!(
        ask(&mut ns, &hb, CLIENT_CONN).code,
        ResponseCode::RequestCodeNotSupported.to_i32()
    );
    let mut oneway = req.clone();
    oneway.mark_oneway();
    assert!(ns.handle(&oneway, CLIENT_CONN, peer(), NOW).is_none());
    let mut response = req;
    response.mark_response();
    assert!(ns.handle(&response, CLIENT_CONN, peer(), NOW).is_none());
    // A missing mandatory header field is a SYSTEM_ERROR, not a crash.
    let bad = request(RequestCode::GetRouteinfoByTopic, &[]);
    let resp = ask(&mut ns, &bad, CLIENT_CONN);
    assert_eq!(resp.code, ResponseCode::SystemError.to_i32());
    assert!(resp.remark.unwrap().contains("topic"));
}

#[test]
fn admin_commands() {
    let mut ns = registered();
    let all = TopicList::decode(
        &ask(
            &mut ns,
            &request(RequestCode::GetAllTopicListFromNameserver, &[]),
            CLIENT_CONN,
        )
        .body,
    )
    .unwrap();
    assert_eq!(all.topic_list.len(), 8);
    assert!(all.topic_list.contains(&"TBW102".to_owned()));

    let by_cluster = request(
        RequestCode::GetTopicsByCluster,
        &[("cluster", "DefaultCluster")],
    );
    let list = TopicList::decode(&ask(&mut ns, &by_cluster, CLIENT_CONN).body).unwrap();
    assert_eq!(list.topic_list.len(), 8);
    let unknown = request(RequestCode::GetTopicsByCluster, &[("cluster", "X")]);
    assert_eq!(
        &ask(&mut ns, &unknown, CLIENT_CONN).body[..],
        br#"{"topicList":[]}"#
    );

    let sys = ask(
        &mut ns,
        &request(RequestCode::GetSystemTopicListFromNs, &[]),
        CLIENT_CONN,
    );
    let sys = TopicList::decode(&sys.body).unwrap();
    assert_eq!(sys.broker_addr.as_deref(), Some("127.0.0.1:10931"));
    let mut names = sys.topic_list.clone();
    names.sort();
    assert_eq!(names, vec!["DefaultCluster", "broker-a"]);
    for code in [
        RequestCode::GetUnitTopicList,
        RequestCode::GetHasUnitSubTopicList,
        RequestCode::GetHasUnitSubUnunitTopicList,
    ] {
        let resp = ask(&mut ns, &request(code, &[]), CLIENT_CONN);
        assert_eq!(&resp.body[..], br#"{"topicList":[]}"#, "{code}");
    }

    let wipe = request(
        RequestCode::WipeWritePermOfBroker,
        &[("brokerName", "broker-a")],
    );
    let resp = ask(&mut ns, &wipe, CLIENT_CONN);
    assert_eq!(resp.ext_field("wipeTopicCount"), Some("8"));
    let route = TopicRouteData::decode(&ask(&mut ns, &frame("005-"), CLIENT_CONN).body).unwrap();
    assert_eq!(route.queue_datas[0].perm, 5); // 7 without WRITE
    let add = request(
        RequestCode::AddWritePermOfBroker,
        &[("brokerName", "broker-a")],
    );
    assert_eq!(
        ask(&mut ns, &add, CLIENT_CONN).ext_field("addTopicCount"),
        Some("8")
    );
    let route = TopicRouteData::decode(&ask(&mut ns, &frame("005-"), CLIENT_CONN).body).unwrap();
    assert_eq!(route.queue_datas[0].perm, 6); // Java sets READ|WRITE, dropping INHERIT

    let del = request(
        RequestCode::DeleteTopicInNamesrv,
        &[("topic", "TBW102"), ("clusterName", "DefaultCluster")],
    );
    assert_eq!(ask(&mut ns, &del, CLIENT_CONN).code, 0);
    assert_eq!(
        ask(&mut ns, &frame("005-"), CLIENT_CONN).code,
        ResponseCode::TopicNotExist.to_i32()
    );
    let del = request(
        RequestCode::DeleteTopicInNamesrv,
        &[("topic", "BenchmarkTest")],
    );
    assert_eq!(ask(&mut ns, &del, CLIENT_CONN).code, 0);
    let all = TopicList::decode(
        &ask(
            &mut ns,
            &request(RequestCode::GetAllTopicListFromNameserver, &[]),
            CLIENT_CONN,
        )
        .body,
    )
    .unwrap();
    assert_eq!(all.topic_list.len(), 6);
}

#[test]
fn namesrv_config_commands() {
    let mut ns = NameServer::new(NamesrvConfig::default());
    let get = request(RequestCode::GetNamesrvConfig, &[]);
    let text = String::from_utf8(ask(&mut ns, &get, CLIENT_CONN).body.to_vec()).unwrap();
    assert!(text.contains("orderMessageEnable=false\n"), "{text}");

    let mut update = request(RequestCode::UpdateNamesrvConfig, &[]);
    update.body = b"orderMessageEnable=true\n".to_vec().into();
    assert_eq!(ask(&mut ns, &update, CLIENT_CONN).code, 0);
    assert!(ns.config().order_message_enable);
    let text = String::from_utf8(ask(&mut ns, &get, CLIENT_CONN).body.to_vec()).unwrap();
    assert!(text.contains("orderMessageEnable=true\n"), "{text}");

    update.body = b"kvConfigPath=/tmp/x\n".to_vec().into();
    let resp = ask(&mut ns, &update, CLIENT_CONN);
    assert_eq!(resp.code, ResponseCode::NoPermission.to_i32());
    assert_eq!(resp.remark.as_deref(), Some("Can not update config path"));
}
