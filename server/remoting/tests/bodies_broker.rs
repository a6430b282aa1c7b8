//! Broker-side headers, bodies and message bytes against the golden frames
//! captured between the Apache RocketMQ 4.9.7 Java client and a 4.9.7
//! broker (`shared/vectors/remoting`, described by its README, `index.tsv`
//! and `messages.tsv`): typed headers of every covered request/response,
//! JSON bodies re-encoded byte for byte, the SEND_BATCH_MESSAGE body, and
//! every stored record of the pull, query, view and check-back bodies —
//! plus truncation and mutation tests of the message decoders.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::BytesMut;
use ringmq_remoting::body::consumer_list::GetConsumerListByGroupResponseBody;
use ringmq_remoting::body::lock_batch::{
    LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody,
};
use ringmq_remoting::body::message_queue::MessageQueue;
use ringmq_remoting::body::topic_config::TopicFilterType;
use ringmq_remoting::message::{
    decode_batch, encode_batch, find_property, iter_batch, iter_stored_messages, join_properties,
    property, BatchItem, MessageProperties, MessageSysFlag, OffsetMsgId, PullSysFlag,
    StoredMessage, TransactionType, MAGIC_CODE_V1,
};
use ringmq_remoting::*;

// ---------------------------------------------------------------------------
// Loading the vectors
// ---------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/remoting")
}

/// Decodes the frame whose file name starts with `prefix` (e.g. "038").
fn frame(prefix: &str) -> RemotingCommand {
    let dir = vectors_dir();
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with(&format!("{prefix}-")) && n.ends_with(".bin"))
        .unwrap_or_else(|| panic!("no frame {prefix}"));
    let bytes = std::fs::read(dir.join(&name)).unwrap();
    let mut buf = BytesMut::from(&bytes[..]);
    let cmd = decode_frame(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty(), "{name}");
    cmd
}

/// Ext fields that RPC hooks add next to any header (reference §1.3).
const HOOK_FIELDS: &[&str] = &["ReqT", "AccessKey", "SecurityToken", "Signature"];

/// Decodes the header, checks that encoding it again gives the frame's
/// extFields back (minus hook fields), and returns it.
fn header<H: CommandCustomHeader + std::fmt::Debug>(cmd: &RemotingCommand) -> H {
    let h: H = cmd
        .decode_header()
        .unwrap_or_else(|e| panic!("opaque {}: {e}", cmd.opaque));
    let mut want = cmd.ext_fields.clone().unwrap_or_default();
    for k in HOOK_FIELDS {
        want.remove(k);
    }
    assert_eq!(h.to_new_ext_fields(), want, "{h:?}");
    h
}

/// One row of `messages.tsv`.
#[derive(Debug)]
struct MsgRow {
    file: String,
    index: usize,
    format: String,
    cols: Vec<String>,
}

impl MsgRow {
    fn col(&self, name: &str) -> &str {
        const NAMES: [&str; 20] = [
            "file",
            "index",
            "format",
            "topic",
            "queueId",
            "queueOffset",
            "commitLogOffset",
            "sysFlag",
            "flag",
            "bornHost",
            "storeHost",
            "bornTimestamp",
            "storeTimestamp",
            "reconsumeTimes",
            "preparedTransactionOffset",
            "totalSize",
            "bodyLength",
            "bodyCRC",
            "body",
            "properties_json",
        ];
        let i = NAMES.iter().position(|n| *n == name).unwrap();
        &self.cols[i]
    }

    fn num<T: std::str::FromStr>(&self, name: &str) -> T
    where
        T::Err: std::fmt::Debug,
    {
        self.col(name).parse().unwrap()
    }

    fn properties(&self) -> BTreeMap<String, String> {
        serde_json::from_str(self.col("properties_json")).unwrap()
    }

    /// The body as JSON text, or `None` for the compressed summary.
    fn body(&self) -> Option<Vec<u8>> {
        let b = self.col("body");
        b.starts_with('"')
            .then(|| serde_json::from_str::<String>(b).unwrap().into_bytes())
    }
}

fn message_rows() -> Vec<MsgRow> {
    let text = std::fs::read_to_string(vectors_dir().join("messages.tsv")).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("file\tindex\tformat"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<String> = l.split('\t').map(str::to_owned).collect();
            assert_eq!(cols.len(), 20, "{l}");
            MsgRow {
                file: cols[0].clone(),
                index: cols[1].parse().unwrap(),
                format: cols[2].clone(),
                cols,
            }
        })
        .collect()
}

/// Java's view of a properties string: a map, last value wins.
fn property_map(props: &[u8]) -> BTreeMap<String, String> {
    MessageProperties::parse_bytes(props)
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `UtilAll.crc32`: CRC-32 (IEEE) with the sign bit cleared.
fn java_crc32(data: &[u8]) -> i32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    (!crc & 0x7FFF_FFFF) as i32
}

const BROKER: &str = "127.0.0.1:10931";

fn inflate(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The 8192-byte body the client compressed (README §6).
fn big_body() -> Vec<u8> {
    let mut s = String::new();
    for i in 0.. {
        if s.len() >= 8192 {
            break;
        }
        s.push_str(&format!(
            "line {i:04}: the quick brown fox jumps over the lazy dog\n"
        ));
    }
    s.truncate(8192);
    s.into_bytes()
}

// ---------------------------------------------------------------------------
// Message bytes
// ---------------------------------------------------------------------------

#[test]
fn crc_helper_matches_the_reference() {
    assert_eq!(java_crc32(b"a"), 0x68B7_BE43);
}

#[test]
fn stored_records_match_messages_tsv() {
    let rows = message_rows();
    let stored: Vec<&MsgRow> = rows.iter().filter(|r| r.format == "stored").collect();
    assert_eq!(stored.len(), 28);
    let mut files: Vec<&str> = stored.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    assert_eq!(files.len(), 14);
    for file in files {
        let cmd = frame(&file[..3]);
        let body = &cmd.body[..];
        let records: Vec<StoredMessage<'_>> = iter_stored_messages(body)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let expected: Vec<&&MsgRow> = stored.iter().filter(|r| r.file == file).collect();
        assert_eq!(records.len(), expected.len(), "{file}");

        let mut reencoded = Vec::new();
        for (m, row) in records.iter().zip(&expected) {
            let what = format!("{file} #{}", row.index);
            assert_eq!(m.magic, MAGIC_CODE_V1, "{what}");
            assert_eq!(m.topic_str(), row.col("topic"), "{what}");
            assert_eq!(m.queue_id, row.num::<i32>("queueId"), "{what}");
            assert_eq!(m.queue_offset, row.num::<i64>("queueOffset"), "{what}");
            assert_eq!(
                m.physical_offset,
                row.num::<i64>("commitLogOffset"),
                "{what}"
            );
            assert_eq!(m.sys_flag, row.num::<i32>("sysFlag"), "{what}");
            assert_eq!(m.flag, row.num::<i32>("flag"), "{what}");
            assert_eq!(m.born_host, row.num::<SocketAddr>("bornHost"), "{what}");
            assert_eq!(m.store_host, row.num::<SocketAddr>("storeHost"), "{what}");
            assert_eq!(m.born_timestamp, row.num::<i64>("bornTimestamp"), "{what}");
            assert_eq!(
                m.store_timestamp,
                row.num::<i64>("storeTimestamp"),
                "{what}"
            );
            assert_eq!(
                m.reconsume_times,
                row.num::<i32>("reconsumeTimes"),
                "{what}"
            );
            assert_eq!(
                m.prepared_transaction_offset,
                row.num::<i64>("preparedTransactionOffset"),
                "{what}"
            );
            assert_eq!(m.encoded_len(), row.num::<usize>("totalSize"), "{what}");
            assert_eq!(m.body.len(), row.num::<usize>("bodyLength"), "{what}");
            assert_eq!(m.body_crc, row.num::<i32>("bodyCRC"), "{what}");
            assert_eq!(m.body_crc, java_crc32(m.body), "{what}");
            match row.body() {
                Some(b) => assert_eq!(m.body, &b[..], "{what}"),
                None => {
                    // The zlib-compressed 8 KiB body (README §6).
                    assert!(m.is_compressed(), "{what}");
                    assert_eq!(m.sys_flag, 769);
                    assert_eq!(
                        m.compression_type(),
                        Some(ringmq_remoting::message::CompressionType::Zlib)
                    );
                    assert_eq!(inflate(m.body), big_body(), "{what}");
                }
            }
            assert_eq!(property_map(m.properties), row.properties(), "{what}");
            assert_eq!(
                m.offset_msg_id(),
                OffsetMsgId::new(BROKER.parse().unwrap(), m.physical_offset)
            );
            m.encode_into(&mut reencoded).unwrap();
        }
        assert_eq!(reencoded, body, "{file}: records re-encode byte for byte");
    }
}

#[test]
fn batch_body_019_decodes_and_reencodes() {
    let cmd = frame("019");
    let h = SendMessageRequestHeader::from_command(&cmd).unwrap();
    assert!(h.batch);
    assert_eq!(
        h.properties.as_deref().map(MessageProperties::parse),
        Some([("WAIT", "true")].into_iter().collect())
    );
    let items = decode_batch(&cmd.body).unwrap();
    let rows: Vec<MsgRow> = message_rows()
        .into_iter()
        .filter(|r| r.format == "batch")
        .collect();
    assert_eq!(items.len(), 3);
    assert_eq!(rows.len(), 3);
    for (item, row) in items.iter().zip(&rows) {
        assert_eq!(item.flag, row.num::<i32>("flag"));
        assert_eq!(item.encoded_len(), row.num::<usize>("totalSize"));
        assert_eq!(item.body.len(), row.num::<usize>("bodyLength"));
        assert_eq!(Some(item.body.to_vec()), row.body());
        assert_eq!(property_map(item.properties), row.properties());
        // Each item carries its own UNIQ_KEY.
        let props = item.properties_str();
        assert!(find_property(&props, property::UNIQ_KEY).is_some());
        assert_eq!(find_property(&props, property::WAIT), Some("true"));
    }
    assert_eq!(encode_batch(items.iter().copied()).unwrap(), cmd.body);
    assert_eq!(iter_batch(&cmd.body).count(), 3);

    // The broker stored each item with the batch header's properties plus
    // CLUSTER appended (records 0..2 of the q1 pull, 042).
    let pull = frame("042");
    let stored: Vec<_> = iter_stored_messages(&pull.body)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let extra = "CLUSTER\u{1}DefaultCluster\u{2}WAIT\u{1}true";
    for (item, rec) in items.iter().zip(&stored) {
        let mut joined = Vec::new();
        join_properties(item.properties, extra.as_bytes(), &mut joined);
        assert_eq!(rec.properties, &joined[..]);
        assert_eq!(rec.body, item.body);
        assert_eq!(rec.flag, item.flag);
        // WAIT occurs twice in the stored record.
        let p = rec.parsed_properties();
        assert_eq!(p.iter().filter(|(n, _)| *n == property::WAIT).count(), 2);
        assert_eq!(p.encode().as_bytes(), rec.properties);
    }

    // The response lists one offset msgId per stored item, in order.
    let resp = header::<SendMessageResponseHeader>(&{
        let mut r = frame("020");
        // MSG_REGION / TRACE_ON are raw fields next to the header.
        let f = r.ext_fields.as_mut().unwrap();
        f.remove(EXT_MSG_REGION);
        f.remove(EXT_TRACE_ON);
        r
    });
    let ids: Vec<OffsetMsgId> = resp.msg_id.split(',').map(|s| s.parse().unwrap()).collect();
    assert_eq!(
        ids,
        stored[..3]
            .iter()
            .map(StoredMessage::offset_msg_id)
            .collect::<Vec<_>>()
    );
}

#[test]
fn send_msg_ids_point_at_the_stored_records() {
    // Every stored record seen in a body, by commit-log offset.
    let mut by_offset = BTreeMap::new();
    for f in [
        "038", "040", "042", "044", "046", "052", "077", "079", "081", "089", "091", "104", "116",
        "124",
    ] {
        let cmd = frame(f);
        for m in iter_stored_messages(&cmd.body) {
            let m = m.unwrap();
            by_offset.insert(
                m.physical_offset,
                (m.queue_id, m.queue_offset, m.topic.to_vec()),
            );
        }
    }
    let mut matched = 0;
    for f in ["014", "016", "023", "025", "027", "100", "112"] {
        let cmd = frame(f);
        let id: OffsetMsgId = cmd.ext_field("msgId").unwrap().parse().unwrap();
        assert_eq!(id.store_host, BROKER.parse::<SocketAddr>().unwrap());
        assert_eq!(id.encode(), cmd.ext_field("msgId").unwrap());
        let queue_id: i32 = cmd.ext_field("queueId").unwrap().parse().unwrap();
        let queue_offset: i64 = cmd.ext_field("queueOffset").unwrap().parse().unwrap();
        // Delayed and half messages are stored under system topics first
        // and never pulled from there.
        if let Some((q, qo, _)) = by_offset.get(&id.physical_offset) {
            assert_eq!((*q, *qo), (queue_id, queue_offset), "{f}");
            matched += 1;
        }
    }
    assert!(
        matched >= 4,
        "only {matched} send responses matched a record"
    );

    // VIEW_MESSAGE_BY_ID: the offset comes from an offset msgId, and the
    // viewed record is the one at that offset.
    let view = header::<ViewMessageRequestHeader>(&frame("076"));
    let rec = frame("077");
    let (m, _) = StoredMessage::decode(&rec.body).unwrap();
    assert_eq!(m.physical_offset, view.offset);
    assert_eq!(
        m.offset_msg_id().encode(),
        "7F00000100002AB30000000000000000"
    );
}

#[test]
fn send_properties_reencode_byte_for_byte() {
    for f in ["013", "015", "021", "022", "024", "026", "099", "111"] {
        let cmd = frame(f);
        let h = SendMessageRequestHeader::from_command(&cmd).unwrap();
        let props = h.properties.unwrap();
        let p = MessageProperties::parse(&props);
        assert_eq!(p.encode(), props, "{f}");
        assert_eq!(p.encoded_len(), props.len(), "{f}");
        assert_eq!(p.get(property::WAIT), Some("true"), "{f}");
        assert_eq!(
            find_property(&props, property::UNIQ_KEY).map(str::len),
            Some(56),
            "{f}: IPv6 UNIQ_KEY"
        );
        // Sysflags the client sends: compressed zlib, prepared.
        match f {
            "022" => {
                assert_eq!(inflate(&cmd.body), big_body());
                assert!(MessageSysFlag::is_compressed(h.sys_flag));
                assert_eq!(
                    h.sys_flag & MessageSysFlag::COMPRESSION_TYPE_COMPARATOR,
                    0x300
                );
            }
            "026" => {
                assert_eq!(
                    TransactionType::from_sys_flag(h.sys_flag),
                    TransactionType::Prepared
                );
                assert_eq!(p.get(property::TRANSACTION_PREPARED), Some("true"));
                assert_eq!(p.get(property::PRODUCER_GROUP), Some("VecTxProducerGroup"));
            }
            "024" => assert_eq!(p.get(property::DELAY), Some("1")),
            _ => assert_eq!(h.sys_flag, 0),
        }
    }
}

#[test]
fn stored_record_properties_of_special_messages() {
    // 046: the delivered delayed message carries REAL_TOPIC / REAL_QID.
    let cmd = frame("046");
    let (m, _) = StoredMessage::decode(&cmd.body).unwrap();
    let p = m.parsed_properties();
    assert_eq!(p.get(property::REAL_TOPIC), Some("VecTopic"));
    assert_eq!(p.get(property::REAL_QUEUE_ID), Some("3"));
    assert_eq!(p.get(property::DELAY), Some("1"));
    // 091: the check-back body is the half message, under its real topic.
    let cmd = frame("091");
    let h = header::<CheckTransactionStateRequestHeader>(&cmd);
    let (m, size) = StoredMessage::decode(&cmd.body).unwrap();
    assert_eq!(size, cmd.body.len());
    assert_eq!(m.topic_str(), "VecTxTopic");
    assert_eq!(m.physical_offset, h.commit_log_offset);
    assert_eq!(m.queue_offset, h.tran_state_table_offset);
    assert_eq!(h.offset_msg_id, Some(m.offset_msg_id().encode()));
    let p = m.parsed_properties();
    assert_eq!(p.get(property::UNIQ_KEY), h.msg_id.as_deref());
    assert!(p.get(property::TRANSACTION_CHECK_TIMES).is_some());
    assert_eq!(p.get(property::WAIT), Some("false"));
}

// ---------------------------------------------------------------------------
// Typed headers
// ---------------------------------------------------------------------------

#[test]
fn admin_and_client_headers() {
    for f in ["007", "107"] {
        let h = header::<CreateTopicRequestHeader>(&frame(f));
        assert_eq!(h.default_topic, "TBW102");
        assert_eq!(h.perm, 6);
        assert_eq!(h.topic_filter_type, TopicFilterType::SingleTag);
        assert_eq!(h.topic_sys_flag, Some(0));
        assert!(!h.order);
    }
    assert_eq!(
        header::<CreateTopicRequestHeader>(&frame("107")).read_queue_nums,
        2
    );

    let commit = header::<EndTransactionRequestHeader>(&frame("029"));
    assert_eq!(commit.producer_group, "VecTxProducerGroup");
    assert_eq!(commit.commit_log_offset, 3241);
    assert_eq!(commit.transaction_type(), TransactionType::Commit);
    assert_eq!(commit.bname.as_deref(), Some("broker-a"));
    assert!(!commit.from_transaction_check);
    assert_eq!(
        header::<EndTransactionRequestHeader>(&frame("030")).transaction_type(),
        TransactionType::Rollback
    );
    assert_eq!(
        header::<EndTransactionRequestHeader>(&frame("031")).transaction_type(),
        TransactionType::Not
    );
    let checked = header::<EndTransactionRequestHeader>(&frame("092"));
    assert!(checked.from_transaction_check);
    assert_eq!(
        checked.transaction_id.as_deref(),
        Some(checked.msg_id.as_str())
    );

    for f in ["034", "125"] {
        let h = header::<NotifyConsumerIdsChangedRequestHeader>(&frame(f));
        assert!(h.consumer_group.starts_with("Vec"));
    }
    for (f, group) in [
        ("035", "VecPullGroup"),
        ("060", "VecNoSuchGroup"),
        ("126", "VecRmqPullGroup"),
    ] {
        assert_eq!(
            header::<GetConsumerListByGroupRequestHeader>(&frame(f)).consumer_group,
            group
        );
    }

    let back = header::<ConsumerSendMsgBackRequestHeader>(&frame("062"));
    assert_eq!(back.offset, 254);
    assert_eq!(back.group, "VecPullGroup");
    assert_eq!(back.delay_level, 0);
    assert_eq!(back.max_reconsume_times, Some(16));
    assert_eq!(back.origin_topic.as_deref(), Some("VecTopic"));
    assert_eq!(back.bname, None);
    // The offset is the commit-log offset of key-1 (038 record #1).
    let pulled = frame("038");
    let key1 = iter_stored_messages(&pulled.body)
        .map(Result::unwrap)
        .find(|m| m.physical_offset == back.offset)
        .unwrap();
    let props = key1.parsed_properties();
    assert_eq!(props.get(property::KEYS), Some("key-1"));
    assert_eq!(props.get(property::UNIQ_KEY), back.origin_msg_id.as_deref());

    let u = header::<UnregisterClientRequestHeader>(&frame("093"));
    assert_eq!(u.client_id, "192.0.2.2@vec-pull@STREAM");
    assert_eq!(u.consumer_group.as_deref(), Some("VecPullGroup"));
    assert_eq!(u.producer_group, None);
    for f in ["095", "128"] {
        let u = header::<UnregisterClientRequestHeader>(&frame(f));
        assert!(u.producer_group.is_some() && u.consumer_group.is_none());
    }
}

#[test]
fn offset_query_headers() {
    let s = header::<SearchOffsetRequestHeader>(&frame("068"));
    assert_eq!(s.timestamp, 1_795_488_991_753);
    assert_eq!(s.boundary_type, None);
    assert_eq!(
        header::<SearchOffsetResponseHeader>(&frame("069")).offset,
        2
    );

    for (req, resp, topic, max) in [
        ("070", "071", "VecTopic", 6),
        ("119", "120", "VecRmqTopic", 3),
    ] {
        let cmd = frame(req);
        let h = header::<GetMaxOffsetRequestHeader>(&cmd);
        assert_eq!(h.topic, topic);
        assert!(h.committed_or_default());
        assert_eq!(h.bname.as_deref(), Some("broker-a"));
        assert_eq!(
            header::<GetMaxOffsetResponseHeader>(&frame(resp)).offset,
            max
        );
    }
    // 119 travelled with a ROCKETMQ binary header.
    assert_eq!(frame("119").serialize_type, SerializeType::RocketMq);

    let h = header::<GetMinOffsetRequestHeader>(&frame("072"));
    assert_eq!((h.topic.as_str(), h.queue_id), ("VecTopic", 0));
    assert_eq!(
        header::<GetMinOffsetResponseHeader>(&frame("073")).offset,
        0
    );

    header::<GetEarliestMsgStoretimeRequestHeader>(&frame("074"));
    let t = header::<GetEarliestMsgStoretimeResponseHeader>(&frame("075"));
    // The earliest store time is that of VecTopic q0's first record.
    let q0 = frame("038");
    let (first, _) = StoredMessage::decode(&q0.body).unwrap();
    assert_eq!(t.timestamp, first.store_timestamp);
}

#[test]
fn query_headers() {
    let by_key = header::<QueryMessageRequestHeader>(&frame("078"));
    assert_eq!(by_key.key, "key-1");
    assert_eq!(by_key.max_num, 32);
    assert_eq!(by_key.unique_key_query, Some(false));
    let by_uniq = header::<QueryMessageRequestHeader>(&frame("080"));
    assert_eq!(by_uniq.unique_key_query, Some(true));
    assert_eq!(by_uniq.end_timestamp, i64::MAX);
    for (f, key) in [("079", by_key.key.as_str()), ("081", by_uniq.key.as_str())] {
        let cmd = frame(f);
        let h = header::<QueryMessageResponseHeader>(&cmd);
        assert_eq!(h.index_last_update_phyoffset, 5685);
        let (m, _) = StoredMessage::decode(&cmd.body).unwrap();
        let p = m.parsed_properties();
        let keys = p.get(property::KEYS).unwrap_or_default();
        assert!(
            keys.split(property::KEY_SEPARATOR).any(|k| k == key)
                || p.get(property::UNIQ_KEY) == Some(key),
            "{f}"
        );
    }
}

#[test]
fn pull_sys_flags_of_golden_pulls() {
    for (f, suspend, subscription, commit) in [
        ("037", false, true, false),
        ("051", true, true, false),
        ("088", true, false, false),
        ("090", true, false, true),
    ] {
        let h = header::<PullMessageRequestHeader>(&frame(f));
        assert_eq!(PullSysFlag::has_suspend_flag(h.sys_flag), suspend, "{f}");
        assert_eq!(
            PullSysFlag::has_subscription_flag(h.sys_flag),
            subscription,
            "{f}"
        );
        assert_eq!(
            PullSysFlag::has_commit_offset_flag(h.sys_flag),
            commit,
            "{f}"
        );
        assert!(!PullSysFlag::has_lite_pull_flag(h.sys_flag));
    }
}

// ---------------------------------------------------------------------------
// JSON bodies
// ---------------------------------------------------------------------------

#[test]
fn consumer_list_bodies_reencode() {
    for (f, id) in [
        ("036", "192.0.2.2@vec-pull@STREAM"),
        ("127", "192.0.2.2@vec-rmq-pull@STREAM"),
    ] {
        let cmd = frame(f);
        let b = GetConsumerListByGroupResponseBody::decode(&cmd.body).unwrap();
        assert_eq!(b.consumer_id_list, [id]);
        assert_eq!(b.encode(), cmd.body, "{f}");
    }
}

#[test]
fn lock_bodies_reencode() {
    for f in ["064", "084"] {
        let cmd = frame(f);
        assert!(cmd
            .ext_fields
            .as_ref()
            .is_none_or(|e| e.keys().all(|k| k == "ReqT")));
        let b = LockBatchRequestBody::decode(&cmd.body).unwrap();
        assert!(b.mq_set.iter().all(|mq| mq.topic == "VecTopic"));
        assert_eq!(b.only_this_broker, None);
        assert_eq!(b.encode(), cmd.body, "{f}");
    }
    let unlock = frame("066");
    let u = UnlockBatchRequestBody::decode(&unlock.body).unwrap();
    assert_eq!(u.consumer_group, "VecPullGroup");
    assert_eq!(u.client_id, "192.0.2.2@vec-pull@STREAM");
    let mut queues = u.mq_set.clone();
    queues.sort();
    assert_eq!(
        queues,
        [
            MessageQueue::new("VecTopic", "broker-a", 0),
            MessageQueue::new("VecTopic", "broker-a", 1)
        ]
    );
    assert_eq!(u.encode(), unlock.body);

    for (f, n) in [("065", 2), ("085", 1)] {
        let cmd = frame(f);
        let b = LockBatchResponseBody::decode(&cmd.body).unwrap();
        assert_eq!(b.lock_ok_mq_set.len(), n);
        assert_eq!(b.encode(), cmd.body, "{f}");
    }
    // The lock answer holds exactly the requested queues.
    let req = LockBatchRequestBody::decode(&frame("064").body).unwrap();
    let resp = LockBatchResponseBody::decode(&frame("065").body).unwrap();
    assert_eq!(req.mq_set, resp.lock_ok_mq_set);
}

// ---------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exercise(body: &[u8]) {
    for m in iter_stored_messages(body).flatten() {
        let _ = m.parsed_properties();
        let _ = m.offset_msg_id().encode();
        let _ = m.encode();
    }
    for item in iter_batch(body).flatten() {
        let _ = item.properties_str();
    }
    let _ = MessageProperties::parse_bytes(body);
    if let Ok(s) = std::str::from_utf8(body) {
        let _ = OffsetMsgId::decode(s);
    }
}

#[test]
fn truncated_bodies_are_errors_not_panics() {
    for f in ["038", "044", "089", "091"] {
        let body = frame(f).body;
        let total = iter_stored_messages(&body).count();
        for cut in 0..body.len() {
            let got: Vec<_> = iter_stored_messages(&body[..cut]).collect();
            let ok = got.iter().filter(|r| r.is_ok()).count();
            assert!(ok <= total);
            // Unless the cut falls exactly between records, the last
            // result is an error.
            if let Some(Ok(_)) = got.last() {
                let consumed: usize = got.iter().map(|r| r.as_ref().unwrap().encoded_len()).sum();
                assert_eq!(consumed, cut, "{f} cut {cut}");
            }
        }
    }
    let batch = frame("019").body;
    for cut in 0..batch.len() {
        let _ = decode_batch(&batch[..cut]);
    }
}

#[test]
fn mutated_bodies_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let seeds: Vec<Vec<u8>> = ["019", "038", "042", "044", "077", "091"]
        .iter()
        .map(|f| frame(f).body.to_vec())
        .collect();

    for round in 0..3000 {
        let mut body = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.below(4) {
            if body.is_empty() {
                break;
            }
            let at = rng.below(body.len());
            match rng.below(4) {
                0 => body[at] = rng.next() as u8,
                1 => body[at] ^= 0x80,
                2 => body.truncate(at),
                _ => {
                    // Overwrite a 4-byte length-looking word.
                    let v = [0u32, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000][rng.below(5)];
                    let end = (at + 4).min(body.len());
                    body[at..end].copy_from_slice(&v.to_be_bytes()[..end - at]);
                }
            }
        }
        exercise(&body);
    }
    for _ in 0..2000 {
        let len = rng.below(300);
        let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        exercise(&body);
    }
}

#[test]
fn hand_built_batches_round_trip_through_the_stored_form() {
    // What the benchmark client sends and what a broker would store.
    let props = "KEYS\u{1}k\u{2}UNIQ_KEY\u{1}ABC\u{2}WAIT\u{1}true";
    let items = [
        BatchItem {
            flag: 0,
            body: b"one",
            properties: props.as_bytes(),
        },
        BatchItem {
            flag: 5,
            body: b"",
            properties: b"",
        },
    ];
    let body = encode_batch(items).unwrap();
    let back = decode_batch(&body).unwrap();
    assert_eq!(back, items);
    let mut stored = Vec::new();
    for (i, item) in back.iter().enumerate() {
        let mut p = Vec::new();
        join_properties(item.properties, b"CLUSTER\x01c", &mut p);
        StoredMessage {
            magic: MAGIC_CODE_V1,
            body_crc: java_crc32(item.body),
            queue_id: 1,
            flag: item.flag,
            queue_offset: i as i64,
            physical_offset: 1000 + stored.len() as i64,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: "10.0.0.1:5".parse().unwrap(),
            store_timestamp: 2,
            store_host: BROKER.parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: item.body,
            topic: b"T",
            properties: &p,
        }
        .encode_into(&mut stored)
        .unwrap();
    }
    let recs: Vec<_> = iter_stored_messages(&stored)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].physical_offset, 1000 + recs[0].encoded_len() as i64);
    assert_eq!(recs[1].properties_str(), "CLUSTER\u{1}c");
    assert_eq!(
        find_property(&recs[0].properties_str(), property::CLUSTER),
        Some("c")
    );
}
