//! Tests against the golden frames captured between the Apache RocketMQ
//! 4.9.7 Java client and a real 4.9.7 name server / broker
//! (`shared/vectors/remoting`, described by its README and `index.tsv`),
//! plus malformed-input and mutation tests of the decoder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::{BufMut, BytesMut};
use ringmq_remoting::*;

// ---------------------------------------------------------------------------
// Loading the vectors
// ---------------------------------------------------------------------------

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/remoting")
}

/// One row of `index.tsv`.
#[derive(Debug, Clone)]
struct Row {
    file: String,
    request_code: i32,
    response_code: Option<i32>,
    opaque: i32,
    serialize_type: u8,
    header_length: usize,
    body_length: usize,
    description: String,
    connection: String,
    paired_with: String,
}

impl Row {
    fn is_response(&self) -> bool {
        self.file.ends_with("-resp.bin")
    }

    fn seq(&self) -> u32 {
        self.file[..3].parse().unwrap()
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(vectors_dir().join(&self.file)).unwrap()
    }

    fn decode(&self) -> RemotingCommand {
        let mut buf = BytesMut::from(&self.bytes()[..]);
        let cmd = decode_frame(&mut buf)
            .unwrap_or_else(|e| panic!("{}: {e}", self.file))
            .unwrap_or_else(|| panic!("{}: incomplete", self.file));
        assert!(buf.is_empty(), "{}: bytes left over", self.file);
        cmd
    }

    /// The ` | `-separated segments of the description.
    fn segments(&self) -> Vec<&str> {
        self.description.split(" | ").collect()
    }

    /// `ext: k=v k=v ...`, plus the ACL `signed (AccessKey=.., Signature=..)`.
    fn ext(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for seg in self.segments() {
            if let Some(rest) = seg.strip_prefix("ext: ") {
                for tok in rest.split(' ') {
                    match tok.split_once('=') {
                        Some((k, v)) => out.push((k.to_owned(), v.to_owned())),
                        // A value with a space in it: glue it back.
                        None => out.last_mut().unwrap().1.push_str(&format!(" {tok}")),
                    }
                }
            }
            if let Some(rest) = seg.strip_prefix("signed (") {
                for tok in rest.trim_end_matches(')').split(", ") {
                    let (k, v) = tok.split_once('=').unwrap();
                    out.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        out
    }

    /// `V2 header: b(topic)=VecTopic, e(queueId)=0, f(sysFlag)=0`.
    fn v2_header(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for seg in self.segments() {
            if let Some(rest) = seg.strip_prefix("V2 header: ") {
                for tok in rest.split(", ") {
                    let (k, v) = tok.split_once('=').unwrap();
                    let letter = k.split('(').next().unwrap();
                    out.push((letter.to_owned(), v.to_owned()));
                }
            }
        }
        out
    }

    /// `properties={...}` as a map.
    fn properties(&self) -> Option<BTreeMap<String, String>> {
        self.segments()
            .iter()
            .find_map(|s| s.strip_prefix("properties="))
            .map(|json| serde_json::from_str(json).unwrap())
    }

    /// `remark='...'` with `\n` unescaped.
    fn remark(&self) -> Option<String> {
        self.segments().iter().find_map(|s| {
            s.strip_prefix("remark='")
                .map(|r| r.trim_end_matches('\'').replace("\\n", "\n"))
        })
    }

    fn is_oneway(&self) -> bool {
        self.segments().contains(&"oneway")
    }
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(vectors_dir().join("index.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(header[0], "file");
    let rows: Vec<Row> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 11, "{l}");
            Row {
                file: c[0].to_owned(),
                request_code: c[2].parse().unwrap(),
                response_code: (!c[3].is_empty()).then(|| c[3].parse().unwrap()),
                opaque: c[4].parse().unwrap(),
                serialize_type: c[5].parse().unwrap(),
                header_length: c[6].parse().unwrap(),
                body_length: c[7].parse().unwrap(),
                description: c[8].to_owned(),
                connection: c[9].to_owned(),
                paired_with: c[10].to_owned(),
            }
        })
        .collect();
    assert_eq!(rows.len(), 131, "README promises 131 frames");
    rows
}

fn rows_with(request: RequestCode, response: bool) -> Vec<Row> {
    rows()
        .into_iter()
        .filter(|r| r.request_code == request.to_i32() && r.is_response() == response)
        .collect()
}

fn parse_properties(s: &str) -> BTreeMap<String, String> {
    s.split('\u{2}')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('\u{1}').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn header_bytes(frame: &[u8]) -> &[u8] {
    let hlen = u32::from_be_bytes(frame[4..8].try_into().unwrap()) & 0xFF_FFFF;
    &frame[8..8 + hlen as usize]
}

// ---------------------------------------------------------------------------
// Framing and header decoding of every frame
// ---------------------------------------------------------------------------

#[test]
fn every_frame_decodes_and_matches_the_index() {
    let all = rows();
    for row in &all {
        let bytes = row.bytes();
        let f = &row.file;
        // Framing facts straight from the bytes.
        let total = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, bytes.len() - 4, "{f}");
        assert_eq!(bytes[4], row.serialize_type, "{f}");
        let hlen = (u32::from_be_bytes(bytes[4..8].try_into().unwrap()) & 0xFF_FFFF) as usize;
        assert_eq!(hlen, row.header_length, "{f}");
        assert_eq!(total - 4 - hlen, row.body_length, "{f}");

        let cmd = row.decode();
        let expected_type = if row.serialize_type == 0 {
            SerializeType::Json
        } else {
            SerializeType::RocketMq
        };
        assert_eq!(cmd.serialize_type, expected_type, "{f}");
        assert_eq!(cmd.body.len(), row.body_length, "{f}");
        assert_eq!(cmd.opaque, row.opaque, "{f}");
        assert_eq!(cmd.language, LanguageCode::Java, "{f}");
        assert_eq!(cmd.version, version::V4_9_7, "{f}");
        assert_eq!(cmd.is_response(), row.is_response(), "{f}");
        assert_eq!(cmd.is_oneway(), row.is_oneway(), "{f}");
        if row.is_response() {
            assert_eq!(Some(cmd.code), row.response_code, "{f}");
            assert_eq!(cmd.flag, FLAG_RESPONSE, "{f}");
            assert!(
                !matches!(cmd.response_code(), ResponseCode::Unknown(_)),
                "{f}"
            );
        } else {
            assert_eq!(cmd.code, row.request_code, "{f}");
            // The file name carries the Java constant name.
            let name = cmd.request_code().java_name().unwrap();
            assert!(f.contains(&format!("-{name}-")), "{f} vs {name}");
        }
        for (k, v) in row.ext() {
            assert_eq!(cmd.ext_field(&k), Some(v.as_str()), "{f}: ext {k}");
        }
        for (k, v) in row.v2_header() {
            assert_eq!(cmd.ext_field(&k), Some(v.as_str()), "{f}: V2 {k}");
        }
        if let Some(props) = row.properties() {
            assert_eq!(parse_properties(cmd.ext_field("i").unwrap()), props, "{f}");
        }
        assert_eq!(cmd.remark, row.remark(), "{f}");
    }
}

#[test]
fn oneway_requests_are_the_ones_the_readme_lists() {
    let oneway: Vec<u32> = rows()
        .iter()
        .filter(|r| r.decode().is_oneway())
        .map(Row::seq)
        .collect();
    assert_eq!(oneway, [21, 28, 29, 30, 31, 34, 53, 91, 92, 125]);
}

#[test]
fn responses_pair_with_requests_by_opaque() {
    let all = rows();
    for row in all.iter().filter(|r| r.is_response()) {
        let req = all.iter().find(|r| r.file == row.paired_with).unwrap();
        assert_eq!(req.connection, row.connection);
        assert_eq!(req.decode().opaque, row.decode().opaque, "{}", row.file);
        assert_eq!(req.request_code, row.request_code);
    }
}

#[test]
fn frames_decode_when_fed_byte_by_byte() {
    for row in rows() {
        let bytes = row.bytes();
        let mut buf = BytesMut::new();
        for (i, b) in bytes.iter().enumerate() {
            buf.put_u8(*b);
            let out = decode_frame(&mut buf).unwrap();
            if i + 1 < bytes.len() {
                assert!(out.is_none(), "{} complete after {} bytes", row.file, i + 1);
            } else {
                assert_eq!(out.unwrap(), row.decode());
            }
        }
    }
}

#[test]
fn concatenated_stream_decodes_in_order() {
    let all = rows();
    let mut buf = BytesMut::new();
    for row in &all {
        buf.put_slice(&row.bytes());
    }
    let decoder = FrameDecoder::new();
    for row in &all {
        let cmd = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(cmd.opaque, row.opaque, "{}", row.file);
    }
    assert!(buf.is_empty());
    assert_eq!(decoder.decode(&mut buf), Ok(None));
}

// ---------------------------------------------------------------------------
// Re-encoding
// ---------------------------------------------------------------------------

#[test]
fn reencoding_reproduces_every_frame() {
    let mut json = 0;
    let mut binary = 0;
    for row in rows() {
        let original = row.bytes();
        let cmd = row.decode();
        let mut out = BytesMut::new();
        encode_command(&cmd, &mut out).unwrap();

        // Same command after a second decode.
        let mut again = out.clone();
        assert_eq!(
            decode_frame(&mut again).unwrap().unwrap(),
            cmd,
            "{}",
            row.file
        );

        if cmd.serialize_type == SerializeType::Json {
            json += 1;
            // Structural comparison of the two JSON headers ...
            let a: serde_json::Value = serde_json::from_slice(header_bytes(&original)).unwrap();
            let b: serde_json::Value = serde_json::from_slice(header_bytes(&out)).unwrap();
            assert_eq!(a, b, "{}", row.file);
        } else {
            binary += 1;
        }
        // ... and, since extFields keep their order, the exact bytes in both
        // encodings.
        assert_eq!(&out[..], &original[..], "{}", row.file);
    }
    assert_eq!((json, binary), (108, 23));
}

#[test]
fn json_command_reencodes_as_rocketmq_and_back() {
    for row in rows() {
        let cmd = row.decode();
        let mut out = BytesMut::new();
        encode_frame(&cmd, SerializeType::RocketMq, &mut out).unwrap();
        let back = decode_frame(&mut out).unwrap().unwrap();
        assert_eq!(back.serialize_type, SerializeType::RocketMq);
        assert_eq!(back.code, cmd.code);
        assert_eq!(back.remark, cmd.remark);
        assert_eq!(back.body, cmd.body);
        // The binary header cannot carry an empty map: `{}` comes back as
        // no extFields.
        let non_empty = cmd.ext_fields.clone().filter(|m| !m.is_empty());
        assert_eq!(back.ext_fields, non_empty, "{}", row.file);
    }
}

#[test]
fn json_top_level_keys_are_alphabetical() {
    let cmd = rows()[12].decode(); // 013, a send with every member
    let mut out = BytesMut::new();
    encode_command(&cmd, &mut out).unwrap();
    let text = std::str::from_utf8(header_bytes(&out)).unwrap();
    let order = [
        "\"code\"",
        "\"extFields\"",
        "\"flag\"",
        "\"language\"",
        "\"opaque\"",
        "\"serializeTypeCurrentRPC\"",
        "\"version\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn null_and_empty_ext_fields_are_distinguished_in_json() {
    let all = rows();
    let r002 = all.iter().find(|r| r.seq() == 2).unwrap().decode();
    assert_eq!(r002.ext_fields, Some(ExtFields::new()));
    let r131 = all.iter().find(|r| r.seq() == 131).unwrap().decode();
    assert_eq!(r131.ext_fields, None);
}

// ---------------------------------------------------------------------------
// Typed headers
// ---------------------------------------------------------------------------

#[test]
fn send_request_headers() {
    let mut reqs = rows_with(RequestCode::SendMessageV2, false);
    reqs.extend(rows_with(RequestCode::SendBatchMessage, false));
    assert!(reqs.len() >= 9);
    for row in reqs {
        let cmd = row.decode();
        let h = SendMessageRequestHeader::from_command(&cmd).unwrap();
        let v2: BTreeMap<_, _> = row.v2_header().into_iter().collect();
        assert_eq!(h.topic, v2["b"]);
        assert_eq!(h.queue_id.to_string(), v2["e"]);
        assert_eq!(h.sys_flag.to_string(), v2["f"]);
        assert_eq!(h.default_topic, "TBW102");
        assert_eq!(h.default_topic_queue_nums, 4);
        assert_eq!(h.bname.as_deref(), Some("broker-a"));
        assert_eq!(h.batch, cmd.request_code() == RequestCode::SendBatchMessage);
        assert!(!h.unit_mode);
        assert_eq!(h.reconsume_times, Some(0));
        assert_eq!(h.max_reconsume_times, None);
        assert!(h.born_timestamp > 1_700_000_000_000);
        let props = parse_properties(h.properties.as_deref().unwrap());
        assert_eq!(props.get("WAIT").map(String::as_str), Some("true"));
        if let Some(expected) = row.properties() {
            assert_eq!(props, expected);
        }
        // Writing the V2 header back gives the same fields in the same
        // order (a..n), the hook fields excepted.
        let rewritten = SendMessageRequestHeaderV2(h.clone()).to_new_ext_fields();
        let wire: Vec<&str> = cmd
            .ext_fields
            .as_ref()
            .unwrap()
            .keys()
            .filter(|k| k.len() == 1)
            .collect();
        assert_eq!(rewritten.keys().collect::<Vec<_>>(), wire, "{}", row.file);
        for (k, v) in rewritten.iter() {
            assert_eq!(cmd.ext_field(k), Some(v), "{}: {k}", row.file);
        }
        // V1 names carry the same header.
        let v1 = h.to_new_ext_fields();
        assert_eq!(v1.get("producerGroup"), cmd.ext_field("a"));
        assert_eq!(SendMessageRequestHeader::from_ext_fields(&v1).unwrap(), h);
    }
}

#[test]
fn send_response_headers() {
    let mut resps = rows_with(RequestCode::SendMessageV2, true);
    resps.extend(rows_with(RequestCode::SendBatchMessage, true));
    for row in resps {
        let cmd = row.decode();
        let h: SendMessageResponseHeader = cmd.decode_header().unwrap();
        let ext: BTreeMap<_, _> = row.ext().into_iter().collect();
        assert_eq!(h.msg_id, ext["msgId"]);
        assert_eq!(h.queue_id.to_string(), ext["queueId"]);
        assert_eq!(h.queue_offset.to_string(), ext["queueOffset"]);
        assert_eq!(h.transaction_id, None);
        assert_eq!(cmd.ext_field(EXT_MSG_REGION), Some("DefaultRegion"));
        assert_eq!(cmd.ext_field(EXT_TRACE_ON), Some("true"));
    }
}

/// Builds a send response the way a ringmq broker would and checks it is
/// byte-identical to what the Java broker sent, in both encodings.
#[test]
fn built_send_responses_match_java_bytes() {
    let all = rows();
    for (req_seq, resp_seq) in [(111, 112), (13, 14)] {
        let req = all.iter().find(|r| r.seq() == req_seq).unwrap().decode();
        let resp_row = all.iter().find(|r| r.seq() == resp_seq).unwrap();
        let java = resp_row.decode();
        let h: SendMessageResponseHeader = java.decode_header().unwrap();

        let mut resp = RemotingCommand::response_to(&req, ResponseCode::Success, None);
        assert_eq!(resp.serialize_type, req.serialize_type);
        resp.encode_header(&h);
        resp.ext_fields_mut().insert(EXT_TRACE_ON, "true");
        resp.ext_fields_mut()
            .insert(EXT_MSG_REGION, "DefaultRegion");
        if resp.serialize_type == SerializeType::Json {
            // Java's JSON shows HashMap order.
            resp.ext_fields_mut().sort_java_hash_order();
        }
        let mut out = BytesMut::new();
        encode_command(&resp, &mut out).unwrap();
        assert_eq!(&out[..], &resp_row.bytes()[..], "{}", resp_row.file);
    }
}

#[test]
fn pull_request_headers() {
    let reqs = rows_with(RequestCode::PullMessage, false);
    assert!(reqs.len() >= 10);
    for row in reqs {
        let cmd = row.decode();
        let h: PullMessageRequestHeader = cmd.decode_header().unwrap();
        let ext: BTreeMap<_, _> = row.ext().into_iter().collect();
        assert_eq!(h.consumer_group, ext["consumerGroup"]);
        assert_eq!(h.topic, ext["topic"]);
        assert_eq!(h.queue_id.to_string(), ext["queueId"]);
        assert_eq!(h.queue_offset.to_string(), ext["queueOffset"]);
        assert_eq!(h.max_msg_nums.to_string(), ext["maxMsgNums"]);
        assert_eq!(h.sys_flag.to_string(), ext["sysFlag"]);
        assert_eq!(h.commit_offset.to_string(), ext["commitOffset"]);
        assert_eq!(
            h.suspend_timeout_millis.to_string(),
            ext["suspendTimeoutMillis"]
        );
        assert_eq!(h.sub_version.to_string(), ext["subVersion"]);
        assert_eq!(
            h.subscription.as_deref(),
            ext.get("subscription").map(String::as_str)
        );
        assert_eq!(h.expression_type.as_deref(), Some("TAG"));
        assert_eq!(h.bname.as_deref(), Some("broker-a"));
        if cmd.serialize_type == SerializeType::RocketMq {
            // Binary pull headers use the fixed FastCodesHeader order; the
            // typed encoder writes the same order.
            let wire: Vec<&str> = cmd
                .ext_fields
                .as_ref()
                .unwrap()
                .keys()
                .filter(|k| *k != "ReqT")
                .collect();
            let typed = h.to_new_ext_fields();
            assert_eq!(typed.keys().collect::<Vec<_>>(), wire, "{}", row.file);
        }
    }
    // The push consumer's pull carries no subscription.
    let r088 = rows().into_iter().find(|r| r.seq() == 88).unwrap().decode();
    let h: PullMessageRequestHeader = r088.decode_header().unwrap();
    assert_eq!(h.subscription, None);
    assert_eq!(h.sys_flag, 2);
}

#[test]
fn pull_response_headers() {
    for row in rows_with(RequestCode::PullMessage, true) {
        let cmd = row.decode();
        let h: PullMessageResponseHeader = cmd.decode_header().unwrap();
        let ext: BTreeMap<_, _> = row.ext().into_iter().collect();
        assert_eq!(h.suggest_which_broker_id, 0);
        assert_eq!(h.next_begin_offset.to_string(), ext["nextBeginOffset"]);
        assert_eq!(h.min_offset.to_string(), ext["minOffset"]);
        assert_eq!(h.max_offset.to_string(), ext["maxOffset"]);
        let status = cmd.response_code();
        assert!(matches!(
            status,
            ResponseCode::Success
                | ResponseCode::PullNotFound
                | ResponseCode::PullRetryImmediately
                | ResponseCode::PullOffsetMoved
        ));
        assert_eq!(cmd.body.is_empty(), status != ResponseCode::Success);

        // Rebuilt from the typed header, the binary responses match Java's
        // bytes exactly.
        if cmd.serialize_type == SerializeType::RocketMq {
            let mut rebuilt = RemotingCommand {
                code: cmd.code,
                opaque: cmd.opaque,
                flag: FLAG_RESPONSE,
                remark: cmd.remark.clone(),
                serialize_type: SerializeType::RocketMq,
                body: cmd.body.clone(),
                ..Default::default()
            };
            rebuilt.encode_header(&h);
            let mut out = BytesMut::new();
            encode_command(&rebuilt, &mut out).unwrap();
            assert_eq!(&out[..], &row.bytes()[..], "{}", row.file);
        }
    }
}

#[test]
fn consumer_offset_headers() {
    for row in rows_with(RequestCode::QueryConsumerOffset, false) {
        let cmd = row.decode();
        let h: QueryConsumerOffsetRequestHeader = cmd.decode_header().unwrap();
        assert!(h.consumer_group.starts_with("Vec"));
        assert!(h.topic.starts_with("Vec"));
        assert_eq!(h.queue_id.to_string(), cmd.ext_field("queueId").unwrap());
        assert_eq!(h.set_zero_if_not_found, None);
    }
    for row in rows_with(RequestCode::QueryConsumerOffset, true) {
        let cmd = row.decode();
        let h: QueryConsumerOffsetResponseHeader = cmd.decode_header().unwrap();
        assert_eq!(Some(h.offset.to_string().as_str()), cmd.ext_field("offset"));
    }
    let updates = rows_with(RequestCode::UpdateConsumerOffset, false);
    assert!(!updates.is_empty());
    for row in updates {
        let cmd = row.decode();
        let h: UpdateConsumerOffsetRequestHeader = cmd.decode_header().unwrap();
        let ext: BTreeMap<_, _> = row.ext().into_iter().collect();
        assert_eq!(h.commit_offset.to_string(), ext["commitOffset"]);
        assert_eq!(h.queue_id.to_string(), ext["queueId"]);
        assert_eq!(h.bname.as_deref(), ext.get("bname").map(String::as_str));
    }
    // The sync UPDATE_CONSUMER_OFFSET response has `extFields: {}`.
    let r055 = rows().into_iter().find(|r| r.seq() == 55).unwrap().decode();
    assert_eq!(r055.ext_fields, Some(ExtFields::new()));
}

#[test]
fn route_and_register_broker_headers() {
    for row in rows_with(RequestCode::GetRouteinfoByTopic, false) {
        let cmd = row.decode();
        let h: GetRouteInfoRequestHeader = cmd.decode_header().unwrap();
        assert_eq!(Some(h.topic.as_str()), cmd.ext_field("topic"));
        assert_eq!(h.accept_standard_json_only, None);
    }
    for row in rows_with(RequestCode::RegisterBroker, false) {
        let cmd = row.decode();
        let h: RegisterBrokerRequestHeader = cmd.decode_header().unwrap();
        assert_eq!(h.broker_name, "broker-a");
        assert_eq!(h.broker_addr, "127.0.0.1:10931");
        assert_eq!(h.cluster_name, "DefaultCluster");
        assert_eq!(h.ha_server_addr, "127.0.0.1:10932");
        assert_eq!(h.broker_id, 0);
        assert!(!h.compressed);
        // bodyCrc32 = crc32(body) & 0x7FFFFFFF, so never negative.
        assert!(h.body_crc32.unwrap() > 0);
        assert_eq!(h.to_new_ext_fields(), *cmd.ext_fields.as_ref().unwrap());
    }
    for row in rows_with(RequestCode::RegisterBroker, true) {
        let h: RegisterBrokerResponseHeader = row.decode().decode_header().unwrap();
        assert_eq!(h, RegisterBrokerResponseHeader::default());
    }
}

#[test]
fn heartbeat_bodies() {
    let beats = rows_with(RequestCode::HeartBeat, false);
    assert_eq!(beats.len(), 5);
    for row in beats {
        let cmd = row.decode();
        let hb = HeartbeatData::decode(&cmd.body).unwrap();
        assert!(hb.client_id.starts_with("192.0.2.2@vec-"));
        assert!(hb
            .producer_data_set
            .iter()
            .any(|p| p.group_name == "CLIENT_INNER_PRODUCER"));
        // Field order matches fastjson, so the body re-serialises exactly.
        assert_eq!(hb.encode(), cmd.body.to_vec(), "{}", row.file);
    }
    let pull = rows().into_iter().find(|r| r.seq() == 32).unwrap().decode();
    let hb = HeartbeatData::decode(&pull.body).unwrap();
    assert!(hb.client_id.ends_with("@STREAM"));
    let c = &hb.consumer_data_set[0];
    assert_eq!(c.consume_type, heartbeat::ConsumeType::ConsumeActively);
    assert_eq!(c.message_model, heartbeat::MessageModel::Clustering);
    assert_eq!(c.subscription_data_set[0].sub_string, "*");

    let push = rows().into_iter().find(|r| r.seq() == 82).unwrap().decode();
    let hb = HeartbeatData::decode(&push.body).unwrap();
    let c = &hb.consumer_data_set[0];
    assert_eq!(c.consume_type, heartbeat::ConsumeType::ConsumePassively);
    assert_eq!(
        c.consume_from_where,
        heartbeat::ConsumeFromWhere::ConsumeFromFirstOffset
    );
    let sub = c
        .subscription_data_set
        .iter()
        .find(|s| s.topic == "VecTopic")
        .unwrap();
    // codeSet holds Java String.hashCode of each tag.
    let mut tags_codes: Vec<i32> = sub
        .tags_set
        .iter()
        .map(|t| ext_fields::java_string_hash(t))
        .collect();
    let mut codes = sub.code_set.clone();
    tags_codes.sort();
    codes.sort();
    assert_eq!(tags_codes, codes);
}

#[test]
fn typed_header_errors_are_clear() {
    let cmd = rows().into_iter().find(|r| r.seq() == 37).unwrap().decode();
    let mut broken = cmd.clone();
    broken.ext_fields_mut().remove("queueOffset");
    assert_eq!(
        broken.decode_header::<PullMessageRequestHeader>(),
        Err(HeaderError::MissingField("queueOffset"))
    );
    let mut broken = cmd.clone();
    broken.ext_fields_mut().insert("maxMsgNums", "lots");
    let err = broken
        .decode_header::<PullMessageRequestHeader>()
        .unwrap_err();
    assert!(err.to_string().contains("maxMsgNums"), "{err}");
    let no_ext = RemotingCommand::default();
    assert_eq!(
        no_ext.decode_header::<GetRouteInfoRequestHeader>(),
        Err(HeaderError::MissingField("topic"))
    );
}

// ---------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------

fn frame_of(seq: u32) -> Vec<u8> {
    rows().into_iter().find(|r| r.seq() == seq).unwrap().bytes()
}

fn decode_bytes(bytes: &[u8]) -> Result<Option<RemotingCommand>, CodecError> {
    decode_frame(&mut BytesMut::from(bytes))
}

fn set_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn truncated_frames_wait_for_more_bytes() {
    for row in rows() {
        let bytes = row.bytes();
        for cut in [0, 1, 3, 4, 7, 8, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(
                decode_bytes(&bytes[..cut]),
                Ok(None),
                "{} cut {cut}",
                row.file
            );
        }
    }
}

#[test]
fn frames_cut_short_inside_the_header_are_rejected() {
    // Shrink the frame so that it ends inside the header while the
    // header-length word still claims the full header.
    for seq in [13, 112] {
        let mut bytes = frame_of(seq);
        let hlen = (u32::from_be_bytes(bytes[4..8].try_into().unwrap()) & 0xFF_FFFF) as usize;
        bytes.truncate(8 + hlen / 2);
        let total = bytes.len() as u32 - 4;
        set_u32(&mut bytes, 0, total);
        assert!(matches!(
            decode_bytes(&bytes),
            Err(CodecError::HeaderLengthOutOfRange { .. })
        ));
        // Same cut, with the header length adjusted to match: now the header
        // itself is truncated.
        let word = (u32::from(bytes[4]) << 24) | (total - 4);
        set_u32(&mut bytes, 4, word);
        let err = decode_bytes(&bytes).unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::InvalidJsonHeader(_) | CodecError::TruncatedHeader(_)
            ),
            "{err:?}"
        );
    }
}

#[test]
fn oversized_length_is_rejected_before_waiting() {
    let mut bytes = frame_of(3);
    set_u32(&mut bytes, 0, MAX_FRAME_BYTES as u32); // + 4 prefix > limit
    assert!(matches!(
        decode_bytes(&bytes[..4]),
        Err(CodecError::FrameTooLarge { .. })
    ));
    set_u32(&mut bytes, 0, u32::MAX); // -1 as a Java int
    assert!(matches!(
        decode_bytes(&bytes),
        Err(CodecError::FrameTooLarge { .. })
    ));
    // A stricter decoder limit applies to real frames too.
    let small = FrameDecoder::with_max_frame_bytes(64);
    let err = small
        .decode(&mut BytesMut::from(&frame_of(13)[..]))
        .unwrap_err();
    assert!(matches!(err, CodecError::FrameTooLarge { limit: 64, .. }));
}

#[test]
fn header_length_larger_than_frame_is_rejected() {
    for seq in [3, 105] {
        let mut bytes = frame_of(seq);
        let total = bytes.len() as u32 - 4;
        let word = (u32::from(bytes[4]) << 24) | (total - 4 + 1);
        set_u32(&mut bytes, 4, word);
        // Refused from the first 8 bytes alone.
        assert!(matches!(
            decode_bytes(&bytes[..8]),
            Err(CodecError::HeaderLengthOutOfRange { .. })
        ));
        let word = (u32::from(bytes[4]) << 24) | 0xFF_FFFF;
        set_u32(&mut bytes, 4, word);
        assert!(decode_bytes(&bytes).is_err());
    }
}

#[test]
fn unknown_serialize_type_is_rejected() {
    let mut bytes = frame_of(3);
    bytes[4] = 2;
    assert_eq!(
        decode_bytes(&bytes),
        Err(CodecError::UnknownSerializeType(2))
    );
}

#[test]
fn invalid_json_header_is_rejected() {
    let mut bytes = frame_of(13);
    bytes[8] = b'x'; // first byte of the header, was '{'
    assert!(matches!(
        decode_bytes(&bytes),
        Err(CodecError::InvalidJsonHeader(_))
    ));
    let mut bytes = frame_of(13);
    let hlen = header_bytes(&bytes).len();
    bytes[8 + hlen - 1] = b','; // closing brace
    assert!(matches!(
        decode_bytes(&bytes),
        Err(CodecError::InvalidJsonHeader(_))
    ));
    // A header that is JSON but not an object.
    let mut out = BytesMut::new();
    out.put_u32(4 + 2);
    out.put_u32(2);
    out.put_slice(b"[]");
    assert!(matches!(
        decode_frame(&mut out),
        Err(CodecError::InvalidJsonHeader(_))
    ));
}

#[test]
fn invalid_utf8_is_rejected() {
    // JSON: break the UTF-8 of the property value "Größe-日本" in 015.
    let mut bytes = frame_of(15);
    let pos = bytes.windows(2).position(|w| w == [0xC3, 0xB6]).unwrap(); // 'ö'
    bytes[pos + 1] = 0x28;
    assert!(matches!(
        decode_bytes(&bytes),
        Err(CodecError::InvalidJsonHeader(_))
    ));
    // ROCKETMQ: the remark of 108 ("not set any response code").
    let mut bytes = frame_of(108);
    let pos = bytes.windows(3).position(|w| w == b"not").unwrap();
    bytes[pos] = 0xFF;
    assert_eq!(decode_bytes(&bytes), Err(CodecError::InvalidUtf8("remark")));
    // ROCKETMQ: an extFields value of 112.
    let mut bytes = frame_of(112);
    let pos = bytes
        .windows(13)
        .position(|w| w == b"DefaultRegion")
        .unwrap();
    bytes[pos] = 0xC0;
    assert_eq!(
        decode_bytes(&bytes),
        Err(CodecError::InvalidUtf8("extFields value"))
    );
}

/// Offset of the ext_len word in a ROCKETMQ frame.
fn ext_len_offset(frame: &[u8]) -> usize {
    let remark_len = u32::from_be_bytes(frame[8 + 13..8 + 17].try_into().unwrap()) as usize;
    8 + 17 + remark_len
}

#[test]
fn rocketmq_lengths_pointing_past_the_end_are_rejected() {
    let original = frame_of(115); // binary pull request with 13 ext fields
    let at = ext_len_offset(&original);
    let ext_len = u32::from_be_bytes(original[at..at + 4].try_into().unwrap());

    let mut bytes = original.clone();
    set_u32(&mut bytes, at, ext_len + 1);
    assert_eq!(
        decode_bytes(&bytes),
        Err(CodecError::TruncatedHeader("extFields"))
    );

    let mut bytes = original.clone();
    set_u32(&mut bytes, at, 0x7FFF_FFFF);
    assert_eq!(
        decode_bytes(&bytes),
        Err(CodecError::TruncatedHeader("extFields"))
    );

    let mut bytes = original.clone();
    set_u32(&mut bytes, at, 0x8000_0000);
    assert!(matches!(
        decode_bytes(&bytes),
        Err(CodecError::NegativeLength { .. })
    ));

    // First key length pointing past the map area.
    let mut bytes = original.clone();
    bytes[at + 4..at + 6].copy_from_slice(&0x7FFFu16.to_be_bytes());
    assert_eq!(
        decode_bytes(&bytes),
        Err(CodecError::TruncatedHeader("extFields key"))
    );

    // First value length pointing past the map area.
    let mut bytes = original.clone();
    let key_len = u16::from_be_bytes(bytes[at + 4..at + 6].try_into().unwrap()) as usize;
    let val_at = at + 6 + key_len;
    set_u32(&mut bytes, val_at, ext_len);
    assert_eq!(
        decode_bytes(&bytes),
        Err(CodecError::TruncatedHeader("extFields value"))
    );

    // Remark length pointing past the header.
    let mut bytes = original.clone();
    set_u32(&mut bytes, 8 + 13, 1000);
    assert_eq!(
        decode_bytes(&bytes),
        Err(CodecError::TruncatedHeader("remark"))
    );

    // Shorter ext_len: the last entry is cut in the middle.
    let mut bytes = original.clone();
    set_u32(&mut bytes, at, ext_len - 1);
    assert!(matches!(
        decode_bytes(&bytes),
        Err(CodecError::TruncatedHeader(_))
    ));
}

// ---------------------------------------------------------------------------
// Randomised mutation test
// ---------------------------------------------------------------------------

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, frame: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        match rng.below(9) {
            // Flip one bit.
            0 => {
                let i = rng.below(frame.len());
                if let Some(b) = frame.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            // Random byte.
            1 => {
                let i = rng.below(frame.len());
                if let Some(b) = frame.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            // Interesting bytes in the header area.
            2 => {
                let i = rng.below(frame.len().min(64));
                let v = [0x00, 0x01, 0x7F, 0x80, 0xFF, b'"', b'\\', b'{', b'}'][rng.below(9)];
                if let Some(b) = frame.get_mut(i) {
                    *b = v;
                }
            }
            // Truncate.
            3 => {
                let n = rng.below(frame.len() + 1);
                frame.truncate(n);
            }
            // Insert random bytes.
            4 => {
                let i = rng.below(frame.len() + 1);
                for _ in 0..1 + rng.below(8) {
                    frame.insert(i.min(frame.len()), rng.next() as u8);
                }
            }
            // Delete a range.
            5 => {
                let i = rng.below(frame.len());
                let n = rng.below(16).min(frame.len() - i.min(frame.len()));
                frame.drain(i..i + n);
            }
            // Rewrite the total length consistently with the new size, so
            // the header decoders get exercised rather than the framing.
            6 => {
                if frame.len() >= 4 {
                    let total = frame.len() as u32 - 4;
                    frame[0..4].copy_from_slice(&total.to_be_bytes());
                }
            }
            // Random 32-bit word somewhere (lengths!).
            7 => {
                if frame.len() >= 4 {
                    let i = rng.below(frame.len() - 3);
                    let v = match rng.below(4) {
                        0 => 0,
                        1 => u32::MAX,
                        2 => rng.below(frame.len() * 2) as u32,
                        _ => rng.next() as u32,
                    };
                    frame[i..i + 4].copy_from_slice(&v.to_be_bytes());
                }
            }
            // Random 16-bit word (ROCKETMQ key lengths, code, version).
            _ => {
                if frame.len() >= 2 {
                    let i = rng.below(frame.len() - 1);
                    let v = rng.next() as u16;
                    frame[i..i + 2].copy_from_slice(&v.to_be_bytes());
                }
            }
        }
    }
}

#[test]
fn mutated_frames_never_panic() {
    let frames: Vec<Vec<u8>> = rows().iter().map(Row::bytes).collect();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut ok, mut err, mut wait) = (0u32, 0u32, 0u32);
    for _ in 0..20_000 {
        let mut frame = frames[rng.below(frames.len())].clone();
        mutate(&mut rng, &mut frame);
        let mut buf = BytesMut::from(&frame[..]);
        // Drain the buffer the way a connection loop would.
        loop {
            match decode_frame(&mut buf) {
                Ok(Some(cmd)) => {
                    ok += 1;
                    // Whatever decodes must re-encode and decode to itself.
                    let mut out = BytesMut::new();
                    if encode_command(&cmd, &mut out).is_ok() {
                        let back = decode_frame(&mut out).unwrap().unwrap();
                        assert_eq!(back, cmd);
                    }
                    // Typed parsing must not panic either.
                    let _ = SendMessageRequestHeader::from_command(&cmd);
                    let _ = cmd.decode_header::<PullMessageRequestHeader>();
                    let _ = cmd.decode_header::<PullMessageResponseHeader>();
                    let _ = HeartbeatData::decode(&cmd.body);
                }
                Ok(None) => {
                    wait += 1;
                    break;
                }
                Err(_) => {
                    err += 1;
                    break;
                }
            }
        }
    }
    // The mutations must reach all three outcomes to be meaningful.
    assert!(ok > 1000 && err > 1000 && wait > 1000, "{ok} {err} {wait}");
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if bytes.len() >= 8 && rng.below(2) == 0 {
            // Plausible prefix: consistent total, type 0/1, small header.
            let total = bytes.len() as u32 - 4;
            bytes[0..4].copy_from_slice(&total.to_be_bytes());
            let word = ((rng.below(2) as u32) << 24) | rng.below(bytes.len()) as u32;
            bytes[4..8].copy_from_slice(&word.to_be_bytes());
        }
        let _ = decode_bytes(&bytes);
    }
}
