//! Blocking set-up and shutdown calls: routes at the name server, topic
//! creation, consumer offsets, heartbeat and unregistration. The hot paths
//! (send, pull) are in the producer and consumer event loops.

use ringmq_remoting::body::cluster_info::ClusterInfo;
use ringmq_remoting::body::route_data::TopicRouteData;
use ringmq_remoting::body::topic_config::{TopicFilterType, PERM_READ, PERM_WRITE};
use ringmq_remoting::heartbeat::HeartbeatData;
use ringmq_remoting::{
    CommandCustomHeader, CreateTopicRequestHeader, GetRouteInfoRequestHeader, RemotingCommand,
    RequestCode, ResponseCode, SendMessageRequestHeader, UnregisterClientRequestHeader,
};

use crate::conn::{Conn, ConnConfig};
use crate::error::{Error, Result};
use crate::limits::CALL_TIMEOUT;

/// Template topic named in sends and topic creation (`TBW102`).
pub const DEFAULT_TOPIC: &str = "TBW102";
/// Queues of an auto-created topic (`defaultTopicQueueNums`).
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;

/// One queue of a topic on one broker group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageQueue {
    pub topic: String,
    pub broker_name: String,
    pub queue_id: i32,
}

/// A request with a typed header.
pub fn request<H: CommandCustomHeader>(code: RequestCode, header: &H) -> RemotingCommand {
    let mut cmd = RemotingCommand::new_request(code, 0);
    cmd.encode_header(header);
    cmd
}

/// Fails unless `resp` has one of the `expected` codes.
pub fn expect(
    resp: &RemotingCommand,
    request: RequestCode,
    addr: &str,
    expected: &'static str,
    ok: &[ResponseCode],
) -> Result<()> {
    if ok.contains(&resp.response_code()) {
        return Ok(());
    }
    Err(Error::Unexpected {
        request: request.to_string(),
        addr: addr.to_owned(),
        expected,
        actual: resp.response_code().to_string(),
        remark: resp.remark.clone(),
    })
}

/// Fails unless `resp` is SUCCESS.
pub fn expect_success(resp: &RemotingCommand, request: RequestCode, addr: &str) -> Result<()> {
    expect(resp, request, addr, "SUCCESS", &[ResponseCode::Success])
}

/// The name servers of `-n` (`;`-separated, as the Java client takes them).
pub struct NameServers {
    addrs: Vec<String>,
    config: ConnConfig,
    conn: Option<Conn>,
}

impl NameServers {
    pub fn new(list: &str, config: ConnConfig) -> Result<Self> {
        let addrs: Vec<String> = list
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        if addrs.is_empty() {
            return Err(Error::Usage("-n: no name server address".into()));
        }
        Ok(Self {
            addrs,
            config,
            conn: None,
        })
    }

    /// A connection to the first name server that accepts one.
    pub fn conn(&mut self) -> Result<&mut Conn> {
        if self.conn.is_none() {
            let mut last = None;
            for a in &self.addrs {
                match Conn::connect(a, self.config.clone()) {
                    Ok(c) => {
                        self.conn = Some(c);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if self.conn.is_none() {
                return Err(last.unwrap_or_else(|| Error::Usage("no name server".into())));
            }
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    /// Sends `cmd` to a name server, reconnecting once after a failure.
    fn call(&mut self, cmd: RemotingCommand) -> Result<(RemotingCommand, String)> {
        let first = {
            let conn = self.conn()?;
            conn.call(cmd.clone(), CALL_TIMEOUT)
                .map(|r| (r, conn.addr().to_owned()))
        };
        match first {
            Ok(r) => Ok(r),
            Err(_) => {
                self.conn = None;
                let conn = self.conn()?;
                let r = conn.call(cmd, CALL_TIMEOUT)?;
                Ok((r, conn.addr().to_owned()))
            }
        }
    }

    /// The topic's route, or `None` when the name server has none
    /// (TOPIC_NOT_EXIST).
    pub fn route(&mut self, topic: &str) -> Result<Option<TopicRouteData>> {
        let code = RequestCode::GetRouteinfoByTopic;
        let h = GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            accept_standard_json_only: None,
        };
        let (resp, addr) = self.call(request(code, &h))?;
        if resp.response_code() == ResponseCode::TopicNotExist {
            return Ok(None);
        }
        expect(
            &resp,
            code,
            &addr,
            "SUCCESS or TOPIC_NOT_EXIST",
            &[ResponseCode::Success],
        )?;
        TopicRouteData::decode(&resp.body)
            .map(Some)
            .map_err(|source| Error::Header {
                request: code.to_string(),
                addr,
                source,
            })
    }

    /// Every broker group the name server knows.
    pub fn cluster_info(&mut self) -> Result<ClusterInfo> {
        let code = RequestCode::GetBrokerClusterInfo;
        let (resp, addr) = self.call(RemotingCommand::new_request(code, 0))?;
        expect_success(&resp, code, &addr)?;
        ClusterInfo::decode(&resp.body).map_err(|source| Error::Header {
            request: code.to_string(),
            addr,
            source,
        })
    }
}

/// Master address of `broker_name` in a route.
pub fn master_addr<'a>(route: &'a TopicRouteData, broker_name: &str) -> Option<&'a str> {
    route
        .broker_datas
        .iter()
        .find(|b| b.broker_name == broker_name)
        .and_then(|b| b.master_addr())
}

/// The queues a producer writes, in the Java client's order (broker groups
/// sorted by name, queue ids ascending), masters only.
pub fn write_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    queues(
        topic,
        route,
        |q| q.perm & PERM_WRITE != 0,
        |q| q.write_queue_nums,
    )
}

/// The queues a consumer reads.
pub fn read_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    queues(
        topic,
        route,
        |q| q.perm & PERM_READ != 0,
        |q| q.read_queue_nums,
    )
}

fn queues(
    topic: &str,
    route: &TopicRouteData,
    usable: impl Fn(&ringmq_remoting::body::route_data::QueueData) -> bool,
    count: impl Fn(&ringmq_remoting::body::route_data::QueueData) -> i32,
) -> Vec<MessageQueue> {
    let mut qds: Vec<_> = route.queue_datas.iter().collect();
    qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let mut out = Vec::new();
    for qd in qds {
        if !usable(qd) || master_addr(route, &qd.broker_name).is_none() {
            continue;
        }
        for queue_id in 0..count(qd) {
            out.push(MessageQueue {
                topic: topic.to_owned(),
                broker_name: qd.broker_name.clone(),
                queue_id,
            });
        }
    }
    out
}

/// UPDATE_AND_CREATE_TOPIC with `queues` read and write queues, perm RW.
pub fn create_topic(broker: &mut Conn, topic: &str, queues: i32) -> Result<()> {
    let code = RequestCode::UpdateAndCreateTopic;
    let h = CreateTopicRequestHeader {
        topic: topic.to_owned(),
        default_topic: DEFAULT_TOPIC.to_owned(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: PERM_READ | PERM_WRITE,
        topic_filter_type: TopicFilterType::SingleTag,
        topic_sys_flag: Some(0),
        order: false,
        attributes: None,
        force: None,
    };
    let resp = broker.call(request(code, &h), CALL_TIMEOUT)?;
    expect_success(&resp, code, broker.addr())
}

/// The SEND_MESSAGE_V2 header of one benchmark message (producer group
/// `producer_group`, queue `mq`, properties already encoded), with the
/// auto-create template the Java producer names.
pub fn send_header(
    producer_group: &str,
    topic: &str,
    mq: &MessageQueue,
    born: i64,
    properties: String,
) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: producer_group.to_owned(),
        topic: topic.to_owned(),
        default_topic: DEFAULT_TOPIC.to_owned(),
        default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
        queue_id: mq.queue_id,
        sys_flag: 0,
        born_timestamp: born,
        flag: 0,
        properties: Some(properties),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        bname: Some(mq.broker_name.clone()),
    }
}

/// The HEART_BEAT request for `data`.
pub fn heartbeat_request(data: &HeartbeatData) -> RemotingCommand {
    RemotingCommand::new_request(RequestCode::HeartBeat, 0).with_body(data.encode())
}

/// Sends a heartbeat and checks the answer.
pub fn heartbeat(broker: &mut Conn, data: &HeartbeatData) -> Result<()> {
    let resp = broker.call(heartbeat_request(data), CALL_TIMEOUT)?;
    expect_success(&resp, RequestCode::HeartBeat, broker.addr())
}

/// UNREGISTER_CLIENT for one producer or consumer group.
pub fn unregister(
    broker: &mut Conn,
    client_id: &str,
    producer_group: Option<&str>,
    consumer_group: Option<&str>,
) -> Result<()> {
    let code = RequestCode::UnregisterClient;
    let h = UnregisterClientRequestHeader {
        client_id: client_id.to_owned(),
        producer_group: producer_group.map(str::to_owned),
        consumer_group: consumer_group.map(str::to_owned),
    };
    let resp = broker.call(request(code, &h), CALL_TIMEOUT)?;
    expect_success(&resp, code, broker.addr())
}
