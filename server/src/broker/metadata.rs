//! Cluster metadata of the broker: topic configs, subscription-group configs
//! and the published consumer subscriptions.
//!
//! Every shard reads it on the data path, so reads are lock-free loads of an
//! immutable snapshot (`ArcSwap`). Changes are rare (topic creation, group
//! creation, admin commands, membership changes): a writer takes the write
//! mutex, copies the table, changes it, persists it (topics and groups, in
//! Apache's file shapes under `<store>/config/`) and publishes the new
//! snapshot. Topic changes also ask the name-server registration task for
//! an immediate registration, as Apache does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use super::config::BrokerConfig;
use super::subscription::TopicSubscription;
use super::topic_names as names;

/// Permission bits (`PermName`).
pub mod perm {
    pub const PRIORITY: u32 = 8;
    pub const READ: u32 = 4;
    pub const WRITE: u32 = 2;
    pub const INHERIT: u32 = 1;
}

/// A topic as the broker keeps it (Apache `TopicConfig`, same JSON names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConf {
    pub topic_name: String,
    pub read_queue_nums: u32,
    pub write_queue_nums: u32,
    pub perm: u32,
    /// `SINGLE_TAG` or `MULTI_TAG`.
    #[serde(default = "single_tag")]
    pub topic_filter_type: String,
    #[serde(default)]
    pub topic_sys_flag: u32,
    #[serde(default)]
    pub order: bool,
}

fn single_tag() -> String {
    "SINGLE_TAG".into()
}

impl TopicConf {
    pub fn new(name: &str, queues: u32, perm: u32) -> TopicConf {
        TopicConf {
            topic_name: name.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm,
            topic_filter_type: single_tag(),
            topic_sys_flag: 0,
            order: false,
        }
    }
}

/// A subscription group (Apache `SubscriptionGroupConfig`, same JSON names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupConf {
    pub group_name: String,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_broadcast_enable: bool,
    pub retry_queue_nums: u32,
    pub retry_max_times: i32,
    pub broker_id: i64,
    pub which_broker_when_consume_slowly: i64,
    pub notify_consumer_ids_changed_enable: bool,
}

impl Default for GroupConf {
    fn default() -> Self {
        GroupConf {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
        }
    }
}

/// `DataVersion`: bumped on every change of a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataVersion {
    pub timestamp: i64,
    pub counter: i64,
}

impl DataVersion {
    fn next(self) -> DataVersion {
        DataVersion {
            timestamp: now_ms(),
            counter: self.counter + 1,
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicTable {
    pub topic_config_table: HashMap<String, Arc<TopicConf>>,
    pub data_version: DataVersion,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupTable {
    pub subscription_group_table: HashMap<String, Arc<GroupConf>>,
    pub data_version: DataVersion,
}

/// What a consumer group's owner shard publishes for the pull path.
#[derive(Clone, Default)]
pub struct PublishedGroup {
    pub broadcast: bool,
    pub topics: HashMap<String, TopicSubscription>,
}

/// A request to the name-server registration task.
#[derive(Clone, Debug)]
pub enum RegisterKick {
    /// Register everything now, oneway (a topic the broker created itself).
    AllOneway,
    /// Register everything now and say when the name servers answered
    /// (admin create: Apache replies only after that registration).
    AllThenTell(flume::Sender<()>),
}

pub enum TopicLookup {
    Found(Arc<TopicConf>),
    Missing,
}

pub struct Metadata {
    topics: ArcSwap<TopicTable>,
    groups: ArcSwap<GroupTable>,
    consumers: ArcSwap<HashMap<String, Arc<PublishedGroup>>>,
    write: Mutex<()>,
    config_dir: PathBuf,
    kicks: flume::Sender<RegisterKick>,
}

impl Metadata {
    /// Loads `topics.json` and `subscriptionGroup.json` and adds the system
    /// topics Apache creates at start. Returns the receiver of registration
    /// kicks.
    pub fn open(
        config_dir: &Path,
        cfg: &BrokerConfig,
    ) -> Result<(Metadata, flume::Receiver<RegisterKick>), String> {
        std::fs::create_dir_all(config_dir)
            .map_err(|e| format!("{}: {e}", config_dir.display()))?;
        let topics: TopicTable = load_json(&config_dir.join("topics.json"))?.unwrap_or_default();
        let groups: GroupTable =
            load_json(&config_dir.join("subscriptionGroup.json"))?.unwrap_or_default();
        let (tx, rx) = flume::bounded(64);
        let meta = Metadata {
            topics: ArcSwap::from_pointee(topics),
            groups: ArcSwap::from_pointee(groups),
            consumers: ArcSwap::from_pointee(HashMap::new()),
            write: Mutex::new(()),
            config_dir: config_dir.to_path_buf(),
            kicks: tx,
        };
        meta.add_system_topics(cfg)?;
        Ok((meta, rx))
    }

    /// The topics Apache's `TopicConfigManager` creates at start.
    fn add_system_topics(&self, cfg: &BrokerConfig) -> Result<(), String> {
        use perm::*;
        let mut sys = vec![
            TopicConf::new(names::SELF_TEST_TOPIC, 1, READ | WRITE),
            TopicConf::new(names::BENCHMARK_TOPIC, 1024, READ | WRITE),
            TopicConf::new(names::OFFSET_MOVED_EVENT, 1, READ | WRITE),
            TopicConf::new(names::SCHEDULE_TOPIC, 18, READ | WRITE),
            TopicConf::new(
                &format!("{}{}", cfg.broker_cluster_name, names::REPLY_TOPIC_SUFFIX),
                1,
                READ | WRITE,
            ),
        ];
        if cfg.auto_create_topic_enable {
            sys.push(TopicConf::new(
                names::AUTO_CREATE_TOPIC,
                cfg.default_topic_queue_nums,
                INHERIT | READ | WRITE,
            ));
        }
        let cluster_perm = if cfg.cluster_topic_enable {
            INHERIT | READ | WRITE
        } else {
            INHERIT
        };
        sys.push(TopicConf::new(&cfg.broker_cluster_name, 16, cluster_perm));
        let broker_perm = if cfg.broker_topic_enable {
            INHERIT | READ | WRITE
        } else {
            INHERIT
        };
        sys.push(TopicConf::new(&cfg.broker_name, 1, broker_perm));
        if cfg.trace_topic_enable {
            sys.push(TopicConf::new(&cfg.msg_trace_topic_name, 1, READ | WRITE));
        }
        let _g = self.lock();
        let mut t = (**self.topics.load()).clone();
        let mut changed = false;
        for tc in sys {
            if !t.topic_config_table.contains_key(&tc.topic_name) {
                t.topic_config_table
                    .insert(tc.topic_name.clone(), Arc::new(tc));
                changed = true;
            }
        }
        if changed {
            t.data_version = t.data_version.next();
            self.save_topics(&t)
                .map_err(|e| format!("topics.json: {e}"))?;
            self.topics.store(Arc::new(t));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        // A panic while holding it cannot leave a half-written table: the
        // snapshot is replaced only after a successful write.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save_topics(&self, t: &TopicTable) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(t).map_err(std::io::Error::other)?;
        crate::persist::write_atomically(&self.config_dir.join("topics.json"), &bytes)
    }

    fn save_groups(&self, t: &GroupTable) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(t).map_err(std::io::Error::other)?;
        crate::persist::write_atomically(&self.config_dir.join("subscriptionGroup.json"), &bytes)
    }

    pub fn topic(&self, name: &str) -> Option<Arc<TopicConf>> {
        self.topics.load().topic_config_table.get(name).cloned()
    }

    pub fn topics(&self) -> Arc<TopicTable> {
        self.topics.load_full()
    }

    /// Changes the topic table with `f` (which returns whether it changed
    /// anything), persists and publishes it.
    fn update_topics(&self, f: impl FnOnce(&mut TopicTable) -> bool) -> Result<bool, String> {
        let _g = self.lock();
        let mut t = (**self.topics.load()).clone();
        if !f(&mut t) {
            return Ok(false);
        }
        t.data_version = t.data_version.next();
        self.save_topics(&t)
            .map_err(|e| format!("cannot persist topics.json: {e}"))?;
        self.topics.store(Arc::new(t));
        Ok(true)
    }

    fn kick(&self, k: RegisterKick) {
        // A full kick queue already holds a registration of everything.
        let _ = self.kicks.try_send(k);
    }

    /// Auto-creation on send (§7.3): from `default_topic` when it exists with
    /// the INHERIT bit and auto-creation is on; `%RETRY%` topics always.
    pub fn create_topic_in_send(
        &self,
        topic: &str,
        default_topic: &str,
        queues: u32,
        cfg: &BrokerConfig,
    ) -> TopicLookup {
        if let Some(t) = self.topic(topic) {
            return TopicLookup::Found(t);
        }
        let conf = if topic.starts_with(names::RETRY_PREFIX) {
            TopicConf::new(topic, queues.max(1), perm::READ | perm::WRITE)
        } else {
            let Some(def) = self.topic(default_topic) else {
                return TopicLookup::Missing;
            };
            if !cfg.auto_create_topic_enable && default_topic == names::AUTO_CREATE_TOPIC {
                return TopicLookup::Missing;
            }
            if def.perm & perm::INHERIT == 0 {
                return TopicLookup::Missing;
            }
            let n = queues.min(def.write_queue_nums).max(1);
            TopicConf {
                topic_filter_type: def.topic_filter_type.clone(),
                ..TopicConf::new(topic, n, def.perm & !perm::INHERIT)
            }
        };
        self.insert_created(conf)
    }

    /// Creates a topic the broker itself needs (`%RETRY%`, `%DLQ%`, ...).
    pub fn create_system_topic(
        &self,
        topic: &str,
        queues: u32,
        perm: u32,
        _cfg: &BrokerConfig,
    ) -> Arc<TopicConf> {
        match self.insert_created(TopicConf::new(topic, queues, perm)) {
            TopicLookup::Found(t) => t,
            TopicLookup::Missing => Arc::new(TopicConf::new(topic, queues, perm)),
        }
    }

    fn insert_created(&self, conf: TopicConf) -> TopicLookup {
        let name = conf.topic_name.clone();
        let mut created = None;
        let r = self.update_topics(|t| {
            if let Some(existing) = t.topic_config_table.get(&name) {
                created = Some(existing.clone());
                return false;
            }
            let c = Arc::new(conf);
            t.topic_config_table.insert(name.clone(), c.clone());
            created = Some(c);
            true
        });
        match r {
            Ok(true) => {
                tracing::info!(topic = %name, "topic created");
                self.kick(RegisterKick::AllOneway);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(topic = %name, error = %e, "topic creation not persisted");
                return TopicLookup::Missing;
            }
        }
        created
            .map(TopicLookup::Found)
            .unwrap_or(TopicLookup::Missing)
    }

    /// UPDATE_AND_CREATE_TOPIC: insert or replace. The receiver says when
    /// the name servers have the new table.
    pub fn upsert_topic(&self, conf: TopicConf) -> Result<flume::Receiver<()>, String> {
        let name = conf.topic_name.clone();
        self.update_topics(|t| {
            t.topic_config_table.insert(name.clone(), Arc::new(conf));
            true
        })?;
        let (tx, rx) = flume::bounded(1);
        self.kick(RegisterKick::AllThenTell(tx));
        Ok(rx)
    }

    /// DELETE_TOPIC_IN_BROKER.
    pub fn delete_topic(&self, topic: &str) -> Result<bool, String> {
        self.update_topics(|t| t.topic_config_table.remove(topic).is_some())
    }

    pub fn group(&self, name: &str) -> Option<Arc<GroupConf>> {
        self.groups
            .load()
            .subscription_group_table
            .get(name)
            .cloned()
    }

    pub fn groups(&self) -> Arc<GroupTable> {
        self.groups.load_full()
    }

    /// The group's config, created with defaults when
    /// `autoCreateSubscriptionGroup` allows (Apache `findSubscriptionGroupConfig`).
    pub fn group_or_create(&self, name: &str, cfg: &BrokerConfig) -> Option<Arc<GroupConf>> {
        if let Some(g) = self.group(name) {
            return Some(g);
        }
        if !cfg.auto_create_subscription_group && !name.starts_with("CID_RMQ_SYS_") {
            return None;
        }
        let conf = GroupConf {
            group_name: name.into(),
            ..GroupConf::default()
        };
        match self.upsert_group_inner(conf, false) {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::error!(group = name, error = %e, "group creation not persisted");
                None
            }
        }
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.
    pub fn upsert_group(&self, conf: GroupConf) -> Result<Arc<GroupConf>, String> {
        self.upsert_group_inner(conf, true)
    }

    fn upsert_group_inner(&self, conf: GroupConf, replace: bool) -> Result<Arc<GroupConf>, String> {
        let _g = self.lock();
        let mut t = (**self.groups.load()).clone();
        if !replace {
            if let Some(g) = t.subscription_group_table.get(&conf.group_name) {
                return Ok(g.clone());
            }
        }
        let c = Arc::new(conf);
        t.subscription_group_table
            .insert(c.group_name.clone(), c.clone());
        t.data_version = t.data_version.next();
        self.save_groups(&t)
            .map_err(|e| format!("cannot persist subscriptionGroup.json: {e}"))?;
        self.groups.store(Arc::new(t));
        Ok(c)
    }

    /// DELETE_SUBSCRIPTIONGROUP.
    pub fn delete_group(&self, name: &str) -> Result<bool, String> {
        let _g = self.lock();
        let mut t = (**self.groups.load()).clone();
        if t.subscription_group_table.remove(name).is_none() {
            return Ok(false);
        }
        t.data_version = t.data_version.next();
        self.save_groups(&t)
            .map_err(|e| format!("cannot persist subscriptionGroup.json: {e}"))?;
        self.groups.store(Arc::new(t));
        Ok(true)
    }

    /// Publishes (or withdraws) a consumer group's subscriptions.
    pub fn publish_consumers(&self, group: &str, view: Option<PublishedGroup>) {
        let _g = self.lock();
        let mut m = (**self.consumers.load()).clone();
        match view {
            Some(v) => m.insert(group.to_string(), Arc::new(v)),
            None => m.remove(group),
        };
        self.consumers.store(Arc::new(m));
    }

    /// Online groups that subscribe to `topic`.
    pub fn groups_subscribed_to(&self, topic: &str) -> Vec<String> {
        self.consumers
            .load()
            .iter()
            .filter(|(_, g)| g.topics.contains_key(topic))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The subscription a push consumer registered for `topic` (§6.2 step 4).
    pub fn consumer_subscription(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<TopicSubscription, String> {
        let all = self.consumers.load();
        let Some(g) = all.get(group) else {
            return Err(format!(
                "the consumer's group info not exist, group: {group}"
            ));
        };
        match g.topics.get(topic) {
            Some(s) => Ok(TopicSubscription {
                broadcast: g.broadcast,
                ..s.clone()
            }),
            None => Err(format!(
                "the consumer's subscription not exist, group: {group}, topic: {topic}"
            )),
        }
    }
}

fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
