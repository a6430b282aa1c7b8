//! Admin requests the broker answers by asking a consumer client (4.9.7
//! `callConsumer`): GET_CONSUMER_RUNNING_INFO (307) and
//! CONSUME_MESSAGE_DIRECTLY (309). The broker forwards them to the
//! connection that registered the client id in the group, and hands the
//! client's answer back to the admin; an unknown client gets SYSTEM_ERROR.

use std::time::Duration;

use ringmq_remoting::{RemotingCommand, ResponseCode};
use ringmq_tests::records::decode_records;
use ringmq_tests::remoting_client::{call, ext_str, RemotingClient};
use ringmq_tests::requests::{self, response, Message};
use ringmq_tests::server::Ringmq;

const RPC: Duration = Duration::from_secs(30);
const GROUP: &str = "call_consumer_group";
const TOPIC: &str = "CallConsumerTopic";
const CLIENT: &str = "127.0.0.1@call-consumer-1";
const GET_CONSUMER_RUNNING_INFO: i32 = 307;
const CONSUME_MESSAGE_DIRECTLY: i32 = 309;

/// The consumer side answers one forwarded request with `body`; returns
/// what the admin then received.
fn forwarded(
    admin: &mut RemotingClient,
    consumer: &mut RemotingClient,
    req: RemotingCommand,
    body: &str,
    check: impl FnOnce(&RemotingCommand),
) -> RemotingCommand {
    let code = req.code;
    let opaque = admin.send_request(req).expect("send to the broker");
    let asked = consumer
        .wait_request(code, RPC)
        .expect("the broker forwards the request to the consumer");
    check(&asked);
    let mut answer = RemotingCommand::response_to(&asked, ResponseCode::Success, None);
    answer.body = body.as_bytes().to_vec().into();
    consumer.write_command(&answer).expect("answer the broker");
    admin
        .wait_response(opaque, RPC)
        .expect("the admin's answer")
}

#[test]
fn running_info_and_consume_directly_reach_the_consumer() {
    let broker = Ringmq::start();
    let mut admin = RemotingClient::connect(broker.broker).unwrap();
    let mut consumer = RemotingClient::connect(broker.broker).unwrap();
    assert_eq!(
        call(&mut admin, requests::update_and_create_topic(TOPIC, 1, 1)).code,
        response::SUCCESS
    );
    let hb = call(
        &mut consumer,
        requests::heart_beat(CLIENT, &[requests::consumer_data(GROUP, TOPIC)]),
    );
    assert_eq!(hb.code, response::SUCCESS, "{:?}", hb.remark);

    // GET_CONSUMER_RUNNING_INFO: forwarded with its fields, answered as is.
    let info = r#"{"properties":{"PROP_CONSUME_TYPE":"CONSUME_PASSIVELY"}}"#;
    let req = requests::request_with(
        GET_CONSUMER_RUNNING_INFO,
        &[
            ("consumerGroup", GROUP.to_owned()),
            ("clientId", CLIENT.to_owned()),
            ("jstackEnable", "false".to_owned()),
        ],
    );
    let got = forwarded(&mut admin, &mut consumer, req, info, |asked| {
        assert_eq!(ext_str(asked, "consumerGroup"), GROUP);
        assert_eq!(ext_str(asked, "clientId"), CLIENT);
    });
    assert_eq!(got.code, response::SUCCESS, "{:?}", got.remark);
    assert_eq!(&got.body[..], info.as_bytes());

    // CONSUME_MESSAGE_DIRECTLY: the broker puts the stored record in the
    // body and its own name in brokerName.
    let sent = call(
        &mut admin,
        requests::send_message_v2(&Message::new(TOPIC, 0, "direct me")),
    );
    assert_eq!(sent.code, response::SUCCESS);
    let msg_id = ext_str(&sent, "msgId").to_owned();
    let result = r#"{"consumeResult":"CR_SUCCESS","order":false,"autoCommit":true}"#;
    let req = requests::request_with(
        CONSUME_MESSAGE_DIRECTLY,
        &[
            ("consumerGroup", GROUP.to_owned()),
            ("clientId", CLIENT.to_owned()),
            ("msgId", msg_id.clone()),
        ],
    );
    let got = forwarded(&mut admin, &mut consumer, req, result, |asked| {
        assert_eq!(ext_str(asked, "msgId"), msg_id);
        assert!(!ext_str(asked, "brokerName").is_empty());
        let recs = decode_records(&asked.body).expect("a stored record as body");
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].body, b"direct me");
        assert_eq!(recs[0].offset_msg_id(), msg_id);
    });
    assert_eq!(got.code, response::SUCCESS, "{:?}", got.remark);
    assert_eq!(&got.body[..], result.as_bytes());

    // A client id the group does not have: Apache's "not online".
    let req = requests::request_with(
        GET_CONSUMER_RUNNING_INFO,
        &[
            ("consumerGroup", GROUP.to_owned()),
            ("clientId", "127.0.0.1@nobody".to_owned()),
            ("jstackEnable", "false".to_owned()),
        ],
    );
    let got = call(&mut admin, req);
    assert_eq!(got.code, response::SYSTEM_ERROR);
    assert!(
        got.remark.as_deref().unwrap_or("").contains("not online"),
        "{:?}",
        got.remark
    );
}
