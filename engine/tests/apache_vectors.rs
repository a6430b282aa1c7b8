//! The decoder reads the commitlog and consume queues an Apache 4.9.7 broker wrote
//! (`shared/vectors/store/`).

use ringmq_engine::consume_queue::{CqUnit, CQ_UNIT_BYTES};
use ringmq_engine::record::{self, java_string_hash, property};

fn vectors() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/store")
}

#[test]
fn apache_commitlog_prefix_decodes_into_the_listed_records() {
    let log = std::fs::read(vectors().join("commitlog-00000000000000000000.prefix")).unwrap();
    let mut pos = 0usize;
    let mut recs = Vec::new();
    while pos < log.len() {
        let v =
            record::decode(&log[pos..], true).unwrap_or_else(|e| panic!("record at {pos}: {e:?}"));
        assert_eq!(v.physical_offset as usize, pos);
        // Re-encoding the decoded fields gives the same bytes.
        let m = record::MessageInput {
            topic: v.topic.to_string(),
            queue_id: v.queue_id as u32,
            flag: v.flag,
            body: bytes::Bytes::copy_from_slice(v.body),
            properties: v.properties.to_string(),
            sys_flag: v.sys_flag,
            born_timestamp: v.born_timestamp,
            born_host: v.born_host,
            store_host: v.store_host,
            reconsume_times: v.reconsume_times,
            prepared_transaction_offset: v.prepared_transaction_offset,
        };
        let mut again = Vec::new();
        record::encode_into(
            &mut again,
            &m,
            ringmq_engine::QueueOffset(v.queue_offset as u64),
            ringmq_engine::LogOffset(v.physical_offset as u64),
            v.store_timestamp,
        );
        assert_eq!(again, v.bytes, "re-encoding record at {pos}");
        recs.push((
            pos,
            v.total_size,
            v.topic.to_string(),
            v.queue_id,
            v.queue_offset,
            v.sys_flag,
            v.property(property::KEYS).map(str::to_string),
            v.property(property::TAGS).map(str::to_string),
        ));
        pos += v.total_size;
    }
    assert_eq!(pos, 8565);
    assert_eq!(recs.len(), 30);
    let offsets: Vec<usize> = recs.iter().map(|r| r.0).collect();
    assert_eq!(&offsets[..5], &[0, 254, 501, 748, 995]);
    assert_eq!(offsets[29], 8324);
    let r0 = &recs[0];
    assert_eq!(
        (r0.2.as_str(), r0.3, r0.4, r0.6.as_deref(), r0.7.as_deref()),
        ("VecTopic", 0, 0, Some("key-0 key-0b"), Some("TagA"))
    );
    let r9 = &recs[9];
    assert_eq!((r9.1, r9.5), (647, 769)); // the zlib-compressed body
    let r13 = &recs[13];
    assert_eq!((r13.2.as_str(), r13.5), ("VecTxTopic", 8));
    assert_eq!(recs[20].2, "SCHEDULE_TOPIC_XXXX");
    assert_eq!(recs[24].2, "%RETRY%VecPullGroup");
}

#[test]
fn apache_consume_queues_point_at_matching_records() {
    let log = std::fs::read(vectors().join("commitlog-00000000000000000000.prefix")).unwrap();
    let cq_root = vectors().join("consumequeue");
    let mut total = 0;
    for topic in std::fs::read_dir(&cq_root).unwrap() {
        let topic = topic.unwrap();
        for q in std::fs::read_dir(topic.path()).unwrap() {
            let q = q.unwrap();
            let qid: i32 = q.file_name().to_string_lossy().parse().unwrap();
            let data = std::fs::read(q.path().join("00000000000000000000.prefix")).unwrap();
            for (i, u) in data.chunks_exact(CQ_UNIT_BYTES).enumerate() {
                let u = CqUnit::decode(u);
                let v = record::decode(&log[u.log_offset.0 as usize..], true).unwrap();
                assert_eq!(v.total_size as u32, u.size);
                assert_eq!(v.topic, topic.file_name().to_string_lossy());
                assert_eq!(v.queue_id, qid);
                assert_eq!(v.queue_offset, i as i64);
                if v.topic == "SCHEDULE_TOPIC_XXXX" {
                    let level: i64 = v.property("DELAY").unwrap().parse().unwrap();
                    let delay = [1000, 5000, 10000][(level - 1) as usize];
                    assert_eq!(u.tags_code, v.store_timestamp + delay);
                } else {
                    assert_eq!(u.tags_code, record::tags_code(v.property(property::TAGS)));
                }
                total += 1;
            }
        }
    }
    assert_eq!(total, 30);
    assert_eq!(java_string_hash("TagB"), 2598920);
}
