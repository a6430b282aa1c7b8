//! Name server bodies against the golden frames captured between the
//! Apache RocketMQ 4.9.7 broker/client and a real 4.9.7 name server
//! (`shared/vectors/remoting`): every body decodes, and where Java's output
//! is deterministic our encoder reproduces it byte for byte.

use std::path::PathBuf;

use bytes::BytesMut;
use ringmq_remoting::body::cluster_info::ClusterInfo;
use ringmq_remoting::body::fastjson;
use ringmq_remoting::body::register_broker_body::RegisterBrokerBody;
use ringmq_remoting::body::route_data::{RouteEncoding, TopicRouteData};
use ringmq_remoting::body::topic_config::{TopicConfigSerializeWrapper, TopicFilterType};
use ringmq_remoting::*;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/remoting")
}

/// Every frame file whose name contains `pattern` (e.g. `-REGISTER_BROKER-req`),
/// decoded, in capture order.
fn frames(pattern: &str) -> Vec<(String, RemotingCommand)> {
    let mut names: Vec<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".bin") && n.contains(pattern))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no golden frame matches {pattern}");
    names
        .into_iter()
        .map(|n| {
            let bytes = std::fs::read(vectors_dir().join(&n)).unwrap();
            let mut buf = BytesMut::from(&bytes[..]);
            let cmd = decode_frame(&mut buf).unwrap().unwrap();
            (n, cmd)
        })
        .collect()
}

#[test]
fn register_broker_bodies_decode_and_reencode_identically() {
    let regs = frames("-REGISTER_BROKER-req");
    assert_eq!(regs.len(), 2);
    for (name, cmd) in &regs {
        let h: RegisterBrokerRequestHeader = cmd.decode_header().unwrap();
        assert!(!h.compressed);
        let body = RegisterBrokerBody::decode(&cmd.body, h.compressed).unwrap();
        assert!(body.filter_server_list.is_empty(), "{name}");
        let table = &body.topic_config_serialize_wrapper.topic_config_table;
        for (topic, tc) in table.iter() {
            assert_eq!(topic, tc.topic_name, "{name}");
            assert_eq!(tc.topic_filter_type, TopicFilterType::SingleTag);
            assert_eq!(tc.topic_sys_flag, 0);
            assert!(!tc.order);
        }
        let tbw = table.get("TBW102").unwrap();
        assert_eq!(
            (tbw.perm, tbw.read_queue_nums, tbw.write_queue_nums),
            (7, 8, 8)
        );
        assert_eq!(
            table.get("SCHEDULE_TOPIC_XXXX").unwrap().read_queue_nums,
            18
        );
        assert_eq!(table.get("BenchmarkTest").unwrap().write_queue_nums, 1024);

        // Java's JSON, byte for byte.
        assert_eq!(body.encode(false), cmd.body.to_vec(), "{name}");

        // The compressed form carries the same registration (topicSysFlag and
        // order are not in it, and are 0/false here anyway).
        let z = body.encode(true);
        assert_eq!(
            RegisterBrokerBody::decode(&z, true).unwrap(),
            body,
            "{name}"
        );
    }

    let first = RegisterBrokerBody::decode(&regs[0].1.body, false).unwrap();
    let later = RegisterBrokerBody::decode(&regs[1].1.body, false).unwrap();
    let (v0, v2) = (
        first.topic_config_serialize_wrapper.data_version,
        later.topic_config_serialize_wrapper.data_version,
    );
    assert_eq!((v0.counter, v0.timestamp), (0, 1795488983883));
    assert_eq!((v2.counter, v2.timestamp), (2, 1795488992251));
    assert_eq!(
        first
            .topic_config_serialize_wrapper
            .topic_config_table
            .len(),
        8
    );
    let later_table = &later.topic_config_serialize_wrapper.topic_config_table;
    assert_eq!(later_table.len(), 10);
    let vec_topic = later_table.get("VecTopic").unwrap();
    assert_eq!((vec_topic.perm, vec_topic.read_queue_nums), (6, 4));
    assert!(later_table.get("VecTxTopic").is_some());
}

/// The broker's topic table is a `ConcurrentHashMap(1024)` (a 2048-bucket
/// table); the topics appear in its bucket order, which
/// `sort_java_hash_order` reproduces.
#[test]
fn topic_table_order_is_java_hash_order() {
    for (name, cmd) in frames("-REGISTER_BROKER-req") {
        let body = RegisterBrokerBody::decode(&cmd.body, false).unwrap();
        let wire: Vec<String> = body
            .topic_config_serialize_wrapper
            .topic_config_table
            .iter()
            .map(|(k, _)| k.to_owned())
            .collect();
        let mut sorted = wire.clone();
        sorted.sort();
        fastjson::sort_java_hash_order(&mut sorted, 2048, |t| fastjson::java_string_hash(t));
        assert_eq!(sorted, wire, "{name}");
    }
}

#[test]
fn legacy_bare_wrapper_body_decodes() {
    // Brokers older than V3_0_11 send the TopicConfigSerializeWrapper alone.
    let (_, cmd) = &frames("001-b2n-REGISTER_BROKER-req")[0];
    let body = RegisterBrokerBody::decode(&cmd.body, false).unwrap();
    let bare = body.topic_config_serialize_wrapper.encode();
    let w = TopicConfigSerializeWrapper::decode(&bare).unwrap();
    assert_eq!(w, body.topic_config_serialize_wrapper);
}

#[test]
fn route_bodies_decode_and_reencode_identically() {
    let resps: Vec<(String, RemotingCommand)> = frames("-GET_ROUTEINFO_BY_TOPIC-resp")
        .into_iter()
        .filter(|(_, c)| c.code == 0)
        .collect();
    assert_eq!(resps.len(), 4);
    for (name, cmd) in resps {
        let route = TopicRouteData::decode(&cmd.body).unwrap();
        assert_eq!(route.broker_datas.len(), 1);
        assert_eq!(route.queue_datas.len(), 1);
        assert_eq!(route.broker_datas[0].master_addr(), Some("127.0.0.1:10931"));
        assert_eq!(route.order_topic_conf, None);
        // 4.9.7 callers (version 407 ≥ 401) get the standard encoding.
        assert_eq!(
            route.encode(RouteEncoding::Standard),
            cmd.body.to_vec(),
            "{name}"
        );
        // The legacy form differs only in the unquoted broker id.
        let legacy = String::from_utf8(route.encode(RouteEncoding::Legacy)).unwrap();
        let std = String::from_utf8(cmd.body.to_vec()).unwrap();
        assert_eq!(legacy, std.replace(r#"{"0":"#, "{0:"), "{name}");
        assert_eq!(TopicRouteData::decode(legacy.as_bytes()).unwrap(), route);
    }
}

#[test]
fn cluster_info_bodies_decode_and_reencode_identically() {
    let resps = frames("-GET_BROKER_CLUSTER_INFO-resp");
    assert_eq!(resps.len(), 2);
    for (name, cmd) in resps {
        let ci = ClusterInfo::decode(&cmd.body).unwrap();
        assert_eq!(ci.broker_addr_table.len(), 1);
        assert_eq!(ci.broker_addr_table["broker-a"].cluster, "DefaultCluster");
        assert_eq!(
            ci.all_addrs_of_cluster("DefaultCluster"),
            vec!["127.0.0.1:10931"]
        );
        assert_eq!(ci.encode(), cmd.body.to_vec(), "{name}");
    }
}

#[test]
fn register_broker_response_has_empty_ext_fields_and_no_body() {
    let (_, resp) = &frames("-REGISTER_BROKER-resp")[0];
    assert_eq!(resp.ext_fields, Some(ExtFields::new()));
    assert!(resp.body.is_empty());
}
