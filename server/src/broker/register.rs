//! Registration with the name servers (reference §3.1 REGISTER_BROKER):
//! at start, every `registerNameServerPeriod`, and at once when a topic is
//! created (oneway with every topic when the broker created it itself;
//! request/response with only that topic for an admin create). Runs on
//! shard 0; a broken link is re-dialled at the next registration.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use ringmq_remoting::body::register_broker_body::RegisterBrokerBody;
use ringmq_remoting::body::topic_config::{
    DataVersion, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType,
};
use ringmq_remoting::{RegisterBrokerRequestHeader, RemotingCommand, RequestCode, ResponseCode};

use super::metadata::{RegisterKick, TopicConf};
use super::shard::BrokerShard;
use crate::net::client;
use crate::net::{ConnId, Connection};

/// Apache's register timeout (4.x).
const REGISTER_TIMEOUT: Duration = Duration::from_secs(6);
/// Connection ids of outbound links start here (accepted ones count up from 1).
const OUTBOUND_IDS: u64 = 1 << 47;

/// The wire form of a topic config.
pub fn wire_topic(t: &TopicConf) -> TopicConfig {
    let mut w = TopicConfig::new(t.topic_name.clone());
    w.read_queue_nums = t.read_queue_nums as i32;
    w.write_queue_nums = t.write_queue_nums as i32;
    w.perm = t.perm as i32;
    w.topic_filter_type =
        TopicFilterType::from_java_name(&t.topic_filter_type).unwrap_or(TopicFilterType::SingleTag);
    w.topic_sys_flag = t.topic_sys_flag as i32;
    w.order = t.order;
    w
}

/// The topic table as a `TopicConfigSerializeWrapper`, optionally one topic only.
pub fn topic_wrapper(shard: &BrokerShard, only: Option<&str>) -> TopicConfigSerializeWrapper {
    let table = shard.meta.topics();
    let mut names: Vec<&String> = table.topic_config_table.keys().collect();
    names.sort();
    let mut w = TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter: table.data_version.counter,
            timestamp: table.data_version.timestamp,
        },
        ..Default::default()
    };
    for n in names {
        if only.is_some_and(|o| o != n.as_str()) {
            continue;
        }
        w.topic_config_table
            .insert(n.clone(), wire_topic(&table.topic_config_table[n]));
    }
    w
}

struct Registrar {
    shard: Rc<BrokerShard>,
    links: HashMap<String, Rc<Connection>>,
    next_id: u64,
}

impl Registrar {
    async fn link(&mut self, addr: &str) -> Option<Rc<Connection>> {
        if let Some(c) = self.links.get(addr) {
            if !c.is_closed() {
                return Some(c.clone());
            }
        }
        let sa: SocketAddr = addr.to_socket_addrs().ok()?.next()?;
        self.next_id += 1;
        let id = ConnId::new(self.shard.id, OUTBOUND_IDS + self.next_id);
        match client::connect(sa, REGISTER_TIMEOUT, id).await {
            Ok(c) => {
                self.links.insert(addr.to_string(), c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::warn!(namesrv = addr, error = %e, "cannot reach name server");
                None
            }
        }
    }

    fn request(&self, code: RequestCode, only: Option<&str>) -> RemotingCommand {
        let cfg = &self.shard.cfg;
        let mut wrapper = topic_wrapper(&self.shard, only);
        // A broker that is not read-write advertises its own permission on
        // every topic, as Apache does, so clients route around it.
        let rw = super::metadata::perm::READ | super::metadata::perm::WRITE;
        if cfg.broker_permission & rw != rw {
            let names: Vec<String> = wrapper
                .topic_config_table
                .iter()
                .map(|(n, _)| n.to_string())
                .collect();
            for n in names {
                if let Some(mut t) = wrapper.topic_config_table.get(&n).cloned() {
                    t.perm = cfg.broker_permission as i32;
                    wrapper.topic_config_table.insert(n, t);
                }
            }
        }
        let body = RegisterBrokerBody {
            topic_config_serialize_wrapper: wrapper,
            filter_server_list: Vec::new(),
        }
        .encode(false);
        let crc = (crc32fast::hash(&body) & 0x7FFF_FFFF) as i32;
        let mut req = RemotingCommand::new_request(code, 0);
        req.encode_header(&RegisterBrokerRequestHeader {
            broker_name: cfg.broker_name.clone(),
            broker_addr: cfg.broker_addr(),
            cluster_name: cfg.broker_cluster_name.clone(),
            ha_server_addr: format!("{}:{}", cfg.broker_ip1, cfg.listen_port as u32 + 1),
            broker_id: cfg.broker_id,
            compressed: false,
            body_crc32: Some(crc),
            heartbeat_timeout_millis: None,
            enable_acting_master: None,
            zone_name: None,
        });
        req.body = body.into();
        req
    }

    /// Registers with every name server; returns how many accepted.
    async fn register(&mut self, only: Option<&str>, oneway: bool) -> usize {
        let mut ok = 0;
        for addr in self.shard.cfg.namesrv_addr.clone() {
            let Some(link) = self.link(&addr).await else {
                continue;
            };
            let mut req = self.request(RequestCode::RegisterBroker, only);
            if oneway {
                req.mark_oneway();
                if link.send(req).await {
                    ok += 1;
                }
                continue;
            }
            match link.invoke(req, REGISTER_TIMEOUT).await {
                Some(r) if r.code == ResponseCode::Success.to_i32() => ok += 1,
                Some(r) => {
                    tracing::warn!(namesrv = %addr, code = r.code, remark = ?r.remark, "registration refused")
                }
                None => {
                    tracing::warn!(namesrv = %addr, "registration got no answer");
                    link.close();
                    self.links.remove(&addr);
                }
            }
        }
        ok
    }

    /// UNREGISTER_BROKER at shutdown.
    async fn unregister(&mut self) {
        let cfg = self.shard.cfg.clone();
        for addr in cfg.namesrv_addr.clone() {
            let Some(link) = self.link(&addr).await else {
                continue;
            };
            let mut req = RemotingCommand::new_request(RequestCode::UnregisterBroker, 0);
            let ext = req.ext_fields_mut();
            ext.insert("brokerName", cfg.broker_name.clone());
            ext.insert("brokerAddr", cfg.broker_addr());
            ext.insert("clusterName", cfg.broker_cluster_name.clone());
            ext.insert("brokerId", cfg.broker_id.to_string());
            let _ = link.invoke(req, Duration::from_secs(2)).await;
        }
    }
}

/// Registers once (at start, before the broker says it is ready) and then
/// keeps registering until `stop` says so; unregisters at the end.
pub async fn run(
    shard: Rc<BrokerShard>,
    kicks: flume::Receiver<RegisterKick>,
    first_done: flume::Sender<usize>,
    stop: Rc<crate::broker::Stop>,
) {
    let mut r = Registrar {
        shard: shard.clone(),
        links: HashMap::new(),
        next_id: 0,
    };
    let n = r.register(None, false).await;
    let _ = first_done.send(n);
    let period = Duration::from_millis(shard.cfg.register_name_server_period_ms);
    loop {
        let kick = futures_lite::future::or(
            async {
                glommio::timer::sleep(period).await;
                Some(None)
            },
            futures_lite::future::or(async { kicks.recv_async().await.ok().map(Some) }, async {
                stop.wait().await;
                None
            }),
        )
        .await;
        match kick {
            None => break,
            Some(None) => {
                r.register(None, false).await;
            }
            Some(Some(RegisterKick::AllOneway)) => {
                r.register(None, true).await;
            }
            Some(Some(RegisterKick::AllThenTell(done))) => {
                r.register(None, false).await;
                let _ = done.try_send(());
            }
        }
    }
    r.unregister().await;
}
