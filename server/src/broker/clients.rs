//! Client bookkeeping (reference §9.3): which connections belong to which
//! producer and consumer groups, with what subscriptions.
//!
//! A group lives on its owner shard (`group_shard`). Heartbeats, unregisters
//! and connection closes are forwarded there; when a consumer group's
//! membership or topic set changes, the owner publishes the group's
//! subscriptions for the pull path and sends NOTIFY_CONSUMER_IDS_CHANGED to
//! every member through the shard that holds its connection.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use ringmq_remoting::heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel, SubscriptionData,
};
use ringmq_remoting::{ExtFields, LanguageCode, RemotingCommand, RequestCode, ResponseCode};

use super::metadata::{perm, PublishedGroup};
use super::shard::BrokerShard;
use super::subscription::{TagFilter, TopicSubscription};
use super::topic_names;
use crate::net::conn::reply;
use crate::net::{ConnId, Connection};

/// One client connection in a group.
#[derive(Clone, Debug)]
pub struct ClientChannel {
    pub conn: ConnId,
    pub client_id: String,
    pub language: LanguageCode,
    pub version: i32,
    pub peer: SocketAddr,
    pub last_update: Instant,
}

/// A consumer group on its owner shard.
#[derive(Clone, Debug)]
pub struct ConsumerGroupInfo {
    pub channels: BTreeMap<ConnId, ClientChannel>,
    pub consume_type: ConsumeType,
    pub message_model: MessageModel,
    pub consume_from_where: ConsumeFromWhere,
    pub subscriptions: HashMap<String, SubscriptionData>,
}

/// What a consumer heartbeat changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Registered {
    notify: bool,
    publish: bool,
}

#[derive(Default)]
pub struct GroupRegistry {
    pub consumers: HashMap<String, ConsumerGroupInfo>,
    pub producers: HashMap<String, BTreeMap<ConnId, ClientChannel>>,
}

impl GroupRegistry {
    /// Registers a consumer heartbeat. Returns whether the group's member
    /// set or topic set changed (members must be told) and whether its
    /// subscriptions changed at all (the pull path must see them: Java
    /// consumers bump `subVersion` at every rebalance and pull with it).
    fn register_consumer(&mut self, ch: ClientChannel, data: &ConsumerData) -> Registered {
        let g = self
            .consumers
            .entry(data.group_name.clone())
            .or_insert_with(|| ConsumerGroupInfo {
                channels: BTreeMap::new(),
                consume_type: data.consume_type,
                message_model: data.message_model,
                consume_from_where: data.consume_from_where,
                subscriptions: HashMap::new(),
            });
        g.consume_type = data.consume_type;
        g.message_model = data.message_model;
        g.consume_from_where = data.consume_from_where;
        let new_member = match g.channels.get_mut(&ch.conn) {
            Some(old) => {
                let changed = old.client_id != ch.client_id;
                *old = ch;
                changed
            }
            None => {
                g.channels.insert(ch.conn, ch);
                true
            }
        };
        // Subscriptions: newer versions replace, topics not sent are dropped.
        let mut topics_changed = false;
        let mut subs_changed = false;
        let mut next = HashMap::new();
        for sub in &data.subscription_data_set {
            match g.subscriptions.get(&sub.topic) {
                Some(old) if old.sub_version >= sub.sub_version => {
                    next.insert(sub.topic.clone(), old.clone());
                }
                Some(_) => {
                    subs_changed = true;
                    next.insert(sub.topic.clone(), sub.clone());
                }
                None => {
                    topics_changed = true;
                    next.insert(sub.topic.clone(), sub.clone());
                }
            }
        }
        if g.subscriptions.keys().any(|t| !next.contains_key(t)) {
            topics_changed = true;
        }
        g.subscriptions = next;
        Registered {
            notify: new_member || topics_changed,
            publish: new_member || topics_changed || subs_changed,
        }
    }

    /// Removes a connection from every group; returns the consumer groups
    /// that lost a member.
    fn drop_connection(&mut self, conn: ConnId) -> Vec<String> {
        let mut changed = Vec::new();
        self.consumers.retain(|name, g| {
            if g.channels.remove(&conn).is_some() {
                changed.push(name.clone());
            }
            !g.channels.is_empty()
        });
        self.producers.retain(|_, p| {
            p.remove(&conn);
            !p.is_empty()
        });
        changed
    }

    /// Connections whose last heartbeat is older than `max_age`.
    fn expired(&self, max_age: std::time::Duration) -> Vec<ConnId> {
        let mut v: Vec<ConnId> = self
            .consumers
            .values()
            .flat_map(|g| g.channels.values())
            .chain(self.producers.values().flat_map(|p| p.values()))
            .filter(|c| c.last_update.elapsed() > max_age)
            .map(|c| c.conn)
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// HEART_BEAT (34).
pub async fn heartbeat(
    shard: Rc<BrokerShard>,
    conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let hb = match HeartbeatData::decode(&req.body) {
        Ok(h) => h,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let ch = ClientChannel {
        conn: conn.id,
        client_id: hb.client_id.clone(),
        language: req.language,
        version: req.version,
        peer: conn.peer,
        last_update: Instant::now(),
    };
    for data in &hb.consumer_data_set {
        // Apache creates the group config and its retry topic here, so the
        // consumer finds a route for %RETRY%<group> at once.
        let Some(gc) = shard.meta.group_or_create(&data.group_name, &shard.cfg) else {
            continue;
        };
        if gc.retry_queue_nums > 0 {
            let retry = format!("{}{}", topic_names::RETRY_PREFIX, data.group_name);
            if shard.meta.topic(&retry).is_none() {
                shard.meta.create_system_topic(
                    &retry,
                    gc.retry_queue_nums,
                    perm::READ | perm::WRITE,
                    &shard.cfg,
                );
            }
        }
        let notify_enabled =
            shard.cfg.notify_consumer_ids_changed_enable && gc.notify_consumer_ids_changed_enable;
        let (ch, data) = (ch.clone(), data.clone());
        let owner = shard.group_owner(&data.group_name);
        shard
            .on_owner(owner, move |s| async move {
                let r = s.groups.borrow_mut().register_consumer(ch, &data);
                if r.publish {
                    publish_and_notify(&s, &data.group_name, notify_enabled && r.notify).await;
                }
            })
            .await;
    }
    for p in &hb.producer_data_set {
        let ch = ch.clone();
        let group = p.group_name.clone();
        let owner = shard.group_owner(&group);
        shard
            .on_owner(owner, move |s| async move {
                s.groups
                    .borrow_mut()
                    .producers
                    .entry(group)
                    .or_default()
                    .insert(ch.conn, ch);
            })
            .await;
    }
    if conn.is_closed() {
        // The connection closed while this heartbeat was registering: make
        // sure no group keeps it.
        connection_gone(&shard, conn.id).await;
    }
    Some(RemotingCommand::response_to(
        &req,
        ResponseCode::Success,
        None,
    ))
}

/// On the group's owner: publish its subscriptions and tell its members.
async fn publish_and_notify(s: &Rc<BrokerShard>, group: &str, notify: bool) {
    let (view, members) = {
        let groups = s.groups.borrow();
        match groups.consumers.get(group) {
            None => (None, Vec::new()),
            Some(g) => {
                let broadcast = g.message_model == MessageModel::Broadcasting;
                let topics = g
                    .subscriptions
                    .iter()
                    .map(|(t, sub)| {
                        (
                            t.clone(),
                            TopicSubscription {
                                filter: TagFilter::from_subscription(sub),
                                sql: (sub.expression_type == "SQL92")
                                    .then(|| super::sql92::SqlFilter::compile(&sub.sub_string).ok())
                                    .flatten(),
                                expression_type: sub.expression_type.clone(),
                                sub_version: sub.sub_version,
                                broadcast,
                            },
                        )
                    })
                    .collect();
                (
                    Some(PublishedGroup { broadcast, topics }),
                    g.channels.keys().copied().collect::<Vec<_>>(),
                )
            }
        }
    };
    s.meta.publish_consumers(group, view);
    if !notify {
        return;
    }
    for conn in members {
        let group = group.to_string();
        s.mesh
            .post(conn.shard(), move |s| async move {
                let c = s.conns.borrow().get(&conn).cloned();
                if let Some(c) = c {
                    let mut ext = ExtFields::new();
                    ext.insert("consumerGroup", group);
                    let mut cmd =
                        RemotingCommand::new_request(RequestCode::NotifyConsumerIdsChanged, 0);
                    cmd.ext_fields = Some(ext);
                    cmd.mark_oneway();
                    c.try_send(cmd);
                }
            })
            .await;
    }
}

/// UNREGISTER_CLIENT (35).
pub async fn unregister(
    shard: Rc<BrokerShard>,
    conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let ext = req.ext_fields.clone().unwrap_or_default();
    let id = conn.id;
    if let Some(group) = ext.get("producerGroup").map(String::from) {
        let owner = shard.group_owner(&group);
        shard
            .on_owner(owner, move |s| async move {
                let mut g = s.groups.borrow_mut();
                if let Some(p) = g.producers.get_mut(&group) {
                    p.remove(&id);
                    if p.is_empty() {
                        g.producers.remove(&group);
                    }
                }
            })
            .await;
    }
    if let Some(group) = ext.get("consumerGroup").map(String::from) {
        let notify = shard.cfg.notify_consumer_ids_changed_enable
            && shard
                .meta
                .group(&group)
                .map(|g| g.notify_consumer_ids_changed_enable)
                .unwrap_or(true);
        let owner = shard.group_owner(&group);
        shard
            .on_owner(owner, move |s| async move {
                let removed = {
                    let mut g = s.groups.borrow_mut();
                    match g.consumers.get_mut(&group) {
                        Some(c) => {
                            let r = c.channels.remove(&id).is_some();
                            if c.channels.is_empty() {
                                g.consumers.remove(&group);
                            }
                            r
                        }
                        None => false,
                    }
                };
                if removed {
                    publish_and_notify(&s, &group, notify).await;
                }
            })
            .await;
    }
    (!req.is_oneway()).then(|| RemotingCommand::response_to(&req, ResponseCode::Success, None))
}

/// A connection closed (or expired): every shard forgets it.
pub async fn connection_gone(shard: &Rc<BrokerShard>, conn: ConnId) {
    shard.conns.borrow_mut().remove(&conn);
    for target in 0..shard.shards() {
        let notify = shard.cfg.notify_consumer_ids_changed_enable;
        let f = move |s: Rc<BrokerShard>| async move {
            let changed = s.groups.borrow_mut().drop_connection(conn);
            for group in changed {
                let n = notify
                    && s.meta
                        .group(&group)
                        .map(|g| g.notify_consumer_ids_changed_enable)
                        .unwrap_or(true);
                publish_and_notify(&s, &group, n).await;
            }
        };
        if target == shard.id {
            f(shard.clone()).await;
        } else {
            shard.mesh.post(target, f).await;
        }
    }
}

/// Periodic scan (Apache every 10 s): close connections of clients that
/// stopped heartbeating, and idle connections.
pub async fn scan_expired(shard: &Rc<BrokerShard>) {
    let max_age = std::time::Duration::from_millis(shard.cfg.channel_expired_timeout_ms);
    let expired = shard.groups.borrow().expired(max_age);
    for conn in expired {
        tracing::info!(?conn, "client channel expired: no heartbeat");
        shard
            .mesh
            .post(conn.shard(), move |s| async move {
                let c = s.conns.borrow().get(&conn).cloned();
                if let Some(c) = c {
                    c.close();
                }
            })
            .await;
        let changed = shard.groups.borrow_mut().drop_connection(conn);
        for group in changed {
            publish_and_notify(shard, &group, shard.cfg.notify_consumer_ids_changed_enable).await;
        }
    }
    let idle = std::time::Duration::from_secs(shard.cfg.server_channel_max_idle_time_seconds);
    let idle_conns: Vec<_> = shard
        .conns
        .borrow()
        .values()
        .filter(|c| c.idle_for() > idle)
        .cloned()
        .collect();
    for c in idle_conns {
        tracing::info!(peer = %c.peer, "closing idle connection");
        c.close();
    }
}

/// GET_CONSUMER_LIST_BY_GROUP (38).
pub async fn consumer_list(
    shard: Rc<BrokerShard>,
    _conn: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let Some(group) = req.ext_field("consumerGroup").map(String::from) else {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            "missing required header field `consumerGroup`",
        ));
    };
    let g = group.clone();
    let ids = shard
        .on_owner(shard.group_owner(&group), move |s| async move {
            s.groups.borrow().consumers.get(&g).map(|c| {
                c.channels
                    .values()
                    .map(|ch| ch.client_id.clone())
                    .collect::<Vec<_>>()
            })
        })
        .await
        .flatten();
    Some(match ids {
        Some(ids) if !ids.is_empty() => {
            let body = serde_json::json!({ "consumerIdList": ids });
            RemotingCommand::response_to(&req, ResponseCode::Success, None)
                .with_body(body.to_string().into_bytes())
        }
        _ => reply(
            &req,
            ResponseCode::SystemError,
            format!("no consumer for this group, {group}"),
        ),
    })
}

/// Snapshot of a consumer group for admin commands (runs on its owner).
pub async fn consumer_group_snapshot(
    shard: &Rc<BrokerShard>,
    group: &str,
) -> Option<ConsumerGroupInfo> {
    let g = group.to_string();
    shard
        .on_owner(shard.group_owner(group), move |s| async move {
            s.groups.borrow().consumers.get(&g).cloned()
        })
        .await
        .flatten()
}

/// Snapshot of a producer group's connections.
pub async fn producer_group_snapshot(
    shard: &Rc<BrokerShard>,
    group: &str,
) -> Option<Vec<ClientChannel>> {
    let g = group.to_string();
    shard
        .on_owner(shard.group_owner(group), move |s| async move {
            s.groups
                .borrow()
                .producers
                .get(&g)
                .map(|p| p.values().cloned().collect())
        })
        .await
        .flatten()
}
