//! The name server's routing state (Java `RouteInfoManager`, 4.9.7): which
//! broker groups exist, which queues each serves per topic, and which
//! broker addresses are alive.
//!
//! Tables (all keyed by strings, kept sorted for deterministic output):
//!
//! * `topic_queue_table`: topic → brokerName → QueueData
//! * `broker_addr_table`: brokerName → BrokerData (cluster, id → address)
//! * `cluster_addr_table`: cluster → brokerNames
//! * `broker_live_table`: brokerAddr → last registration, data version,
//!   connection, HA address
//! * `filter_server_table`: brokerAddr → filter servers
//!
//! A broker address leaves through UNREGISTER_BROKER, a closed connection
//! or expiry. When its group has no address left, the group's queue data is
//! removed from every topic, and topics left without queue data disappear.
//! Lists sent to clients come in the order Java's `HashMap`s would give.

use std::collections::{BTreeMap, BTreeSet};

use ringmq_remoting::body::cluster_info::ClusterInfo;
use ringmq_remoting::body::fastjson;
use ringmq_remoting::body::route_data::{BrokerData, QueueData, TopicRouteData};
use ringmq_remoting::body::topic_config::{
    DataVersion, TopicConfig, TopicConfigSerializeWrapper, PERM_READ, PERM_WRITE,
    TOPIC_SYS_FLAG_UNIT, TOPIC_SYS_FLAG_UNIT_SUB,
};
use ringmq_remoting::body::topic_list::TopicList;

/// Broker id of a group's master (Java `MixAll.MASTER_ID`).
pub const MASTER_ID: i64 = 0;

/// Initial capacity of Java's per-topic `HashMap<brokerName, QueueData>`.
const QUEUE_DATA_MAP_CAPACITY: usize = 16;

/// What the name server knows about a live broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BrokerLiveInfo {
    last_update_ms: i64,
    data_version: DataVersion,
    conn: u64,
    ha_server_addr: String,
}

/// One registration, as REGISTER_BROKER carries it.
#[derive(Debug, Clone)]
pub struct Registration<'a> {
    /// `clusterName`.
    pub cluster_name: &'a str,
    /// `brokerAddr`.
    pub broker_addr: &'a str,
    /// `brokerName`.
    pub broker_name: &'a str,
    /// `brokerId`.
    pub broker_id: i64,
    /// `haServerAddr`.
    pub ha_server_addr: &'a str,
    /// The topic table and its version.
    pub topics: &'a TopicConfigSerializeWrapper,
    /// Filter servers; `None` (brokers before V3_0_11) leaves the stored
    /// list alone, an empty list removes it.
    pub filter_server_list: Option<&'a [String]>,
}

/// Result of a registration: for a slave, where its master is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterResult {
    /// The master's HA address.
    pub ha_server_addr: Option<String>,
    /// The master's address.
    pub master_addr: Option<String>,
}

/// The routing tables.
#[derive(Debug, Default)]
pub struct RouteTable {
    topic_queue_table: BTreeMap<String, BTreeMap<String, QueueData>>,
    broker_addr_table: BTreeMap<String, BrokerData>,
    cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
    broker_live_table: BTreeMap<String, BrokerLiveInfo>,
    filter_server_table: BTreeMap<String, Vec<String>>,
}

/// `items` (given in a deterministic order) reordered as a Java
/// `HashMap<String, _>` created with `initial` buckets iterates them.
fn java_order<T>(mut items: Vec<T>, initial: usize, key: impl Fn(&T) -> &str) -> Vec<T> {
    let cap = fastjson::java_table_capacity(initial, items.len());
    fastjson::sort_java_hash_order(&mut items, cap, |t| fastjson::java_string_hash(key(t)));
    items
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// REGISTER_BROKER. Topic queue data is rebuilt only for a master
    /// whose data version changed or that registers for the first time;
    /// topics missing from the body are kept.
    pub fn register_broker(
        &mut self,
        r: &Registration<'_>,
        conn: u64,
        now_ms: i64,
    ) -> RegisterResult {
        self.cluster_addr_table
            .entry(r.cluster_name.to_owned())
            .or_default()
            .insert(r.broker_name.to_owned());

        let mut register_first = false;
        let broker_data = self
            .broker_addr_table
            .entry(r.broker_name.to_owned())
            .or_insert_with(|| {
                register_first = true;
                BrokerData {
                    broker_addrs: BTreeMap::new(),
                    broker_name: r.broker_name.to_owned(),
                    cluster: r.cluster_name.to_owned(),
                }
            });
        // The same address under another id (a role change) is replaced.
        broker_data
            .broker_addrs
            .retain(|id, addr| !(addr == r.broker_addr && *id != r.broker_id));
        let old_addr = broker_data
            .broker_addrs
            .insert(r.broker_id, r.broker_addr.to_owned());
        register_first = register_first || old_addr.is_none();

        if r.broker_id == MASTER_ID
            && (register_first
                || self.is_broker_topic_config_changed(r.broker_addr, &r.topics.data_version))
        {
            for tc in r.topics.topic_config_table.values() {
                self.create_and_update_queue_data(r.broker_name, tc);
            }
        }

        self.broker_live_table.insert(
            r.broker_addr.to_owned(),
            BrokerLiveInfo {
                last_update_ms: now_ms,
                data_version: r.topics.data_version,
                conn,
                ha_server_addr: r.ha_server_addr.to_owned(),
            },
        );

        if let Some(list) = r.filter_server_list {
            if list.is_empty() {
                self.filter_server_table.remove(r.broker_addr);
            } else {
                self.filter_server_table
                    .insert(r.broker_addr.to_owned(), list.to_vec());
            }
        }

        let mut result = RegisterResult::default();
        if r.broker_id != MASTER_ID {
            let master = self
                .broker_addr_table
                .get(r.broker_name)
                .and_then(|bd| bd.broker_addrs.get(&MASTER_ID));
            if let Some(master) = master {
                if let Some(live) = self.broker_live_table.get(master) {
                    result.ha_server_addr = Some(live.ha_server_addr.clone());
                    result.master_addr = Some(master.clone());
                }
            }
        }
        result
    }

    fn create_and_update_queue_data(&mut self, broker_name: &str, tc: &TopicConfig) {
        let qd = QueueData {
            broker_name: broker_name.to_owned(),
            perm: tc.perm,
            read_queue_nums: tc.read_queue_nums,
            topic_sys_flag: tc.topic_sys_flag,
            write_queue_nums: tc.write_queue_nums,
        };
        let per_broker = self
            .topic_queue_table
            .entry(tc.topic_name.clone())
            .or_default();
        if let Some(old) = per_broker.insert(broker_name.to_owned(), qd) {
            if per_broker.get(broker_name) != Some(&old) {
                tracing::info!(topic = %tc.topic_name, broker = broker_name, "topic queue data changed");
            }
        }
    }

    /// Whether the stored data version of `broker_addr` is absent or
    /// differs from `version`.
    pub fn is_broker_topic_config_changed(&self, broker_addr: &str, version: &DataVersion) -> bool {
        self.data_version(broker_addr) != Some(version)
    }

    /// The data version `broker_addr` last registered.
    pub fn data_version(&self, broker_addr: &str) -> Option<&DataVersion> {
        self.broker_live_table
            .get(broker_addr)
            .map(|l| &l.data_version)
    }

    /// Refreshes the last-registration time of a live address.
    pub fn touch(&mut self, broker_addr: &str, now_ms: i64) {
        if let Some(live) = self.broker_live_table.get_mut(broker_addr) {
            live.last_update_ms = now_ms;
        }
    }

    /// UNREGISTER_BROKER: forgets `broker_addr` and the id it held in its
    /// group; an emptied group leaves its cluster and every topic.
    pub fn unregister_broker(
        &mut self,
        cluster_name: &str,
        broker_addr: &str,
        broker_name: &str,
        broker_id: i64,
    ) {
        self.broker_live_table.remove(broker_addr);
        self.filter_server_table.remove(broker_addr);
        let mut remove_broker_name = false;
        if let Some(bd) = self.broker_addr_table.get_mut(broker_name) {
            bd.broker_addrs.remove(&broker_id);
            if bd.broker_addrs.is_empty() {
                self.broker_addr_table.remove(broker_name);
                remove_broker_name = true;
            }
        }
        if remove_broker_name {
            if let Some(names) = self.cluster_addr_table.get_mut(cluster_name) {
                names.remove(broker_name);
                if names.is_empty() {
                    self.cluster_addr_table.remove(cluster_name);
                }
            }
            self.remove_topics_of_broker_name(broker_name);
        }
    }

    /// Removes a broker address the way Java's `onChannelDestroy` does:
    /// from the live table, then from the first group holding it; a group
    /// left empty leaves its cluster and every topic.
    pub fn remove_broker_addr(&mut self, broker_addr: &str) {
        self.broker_live_table.remove(broker_addr);
        self.filter_server_table.remove(broker_addr);
        let found = self.broker_addr_table.values_mut().find_map(|bd| {
            let id = bd
                .broker_addrs
                .iter()
                .find(|(_, a)| *a == broker_addr)
                .map(|(id, _)| *id)?;
            bd.broker_addrs.remove(&id);
            Some((bd.broker_name.clone(), bd.broker_addrs.is_empty()))
        });
        let Some((broker_name, emptied)) = found else {
            return;
        };
        if !emptied {
            return;
        }
        self.broker_addr_table.remove(&broker_name);
        let cluster = self
            .cluster_addr_table
            .iter_mut()
            .find(|(_, names)| names.contains(&broker_name));
        if let Some((cluster, names)) = cluster {
            names.remove(&broker_name);
            if names.is_empty() {
                let cluster = cluster.clone();
                self.cluster_addr_table.remove(&cluster);
            }
        }
        self.remove_topics_of_broker_name(&broker_name);
    }

    fn remove_topics_of_broker_name(&mut self, broker_name: &str) {
        self.topic_queue_table.retain(|_, per_broker| {
            per_broker.remove(broker_name);
            !per_broker.is_empty()
        });
    }

    /// Live addresses whose last registration is older than `expire_ms`
    /// (Java: `last + expire < now`), with their connections. They are
    /// not removed.
    pub fn expired(&self, now_ms: i64, expire_ms: i64) -> Vec<(String, u64)> {
        self.broker_live_table
            .iter()
            .filter(|(_, l)| l.last_update_ms.saturating_add(expire_ms) < now_ms)
            .map(|(addr, l)| (addr.clone(), l.conn))
            .collect()
    }

    /// Live addresses registered over connection `conn`.
    pub fn addrs_of_connection(&self, conn: u64) -> Vec<String> {
        self.broker_live_table
            .iter()
            .filter(|(_, l)| l.conn == conn)
            .map(|(addr, _)| addr.clone())
            .collect()
    }

    /// DELETE_TOPIC_IN_NAMESRV without a cluster.
    pub fn delete_topic(&mut self, topic: &str) {
        self.topic_queue_table.remove(topic);
    }

    /// DELETE_TOPIC_IN_NAMESRV for one cluster: removes the queue data of
    /// that cluster's broker groups only.
    pub fn delete_topic_in_cluster(&mut self, topic: &str, cluster: &str) {
        let Some(names) = self.cluster_addr_table.get(cluster) else {
            return;
        };
        if let Some(per_broker) = self.topic_queue_table.get_mut(topic) {
            for name in names {
                per_broker.remove(name);
            }
            if per_broker.is_empty() {
                self.topic_queue_table.remove(topic);
            }
        }
    }

    /// WIPE_WRITE_PERM_OF_BROKER: clears the write bit of the group's
    /// queue data in every topic; returns how many topics it touched.
    pub fn wipe_write_perm(&mut self, broker_name: &str) -> i32 {
        self.update_perm(broker_name, |perm| perm & !PERM_WRITE)
    }

    /// ADD_WRITE_PERM_OF_BROKER: sets the group's perm to read+write in
    /// every topic; returns how many topics it touched.
    pub fn add_write_perm(&mut self, broker_name: &str) -> i32 {
        self.update_perm(broker_name, |_| PERM_READ | PERM_WRITE)
    }

    fn update_perm(&mut self, broker_name: &str, f: impl Fn(i32) -> i32) -> i32 {
        let mut count = 0i32;
        for per_broker in self.topic_queue_table.values_mut() {
            if let Some(qd) = per_broker.get_mut(broker_name) {
                qd.perm = f(qd.perm);
                count = count.saturating_add(1);
            }
        }
        count
    }

    /// The route of `topic`, or `None` when it has no queue data or none
    /// of its groups is known.
    pub fn pickup_topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        let per_broker = self.topic_queue_table.get(topic)?;
        let queue_datas: Vec<QueueData> = java_order(
            per_broker.values().cloned().collect(),
            QUEUE_DATA_MAP_CAPACITY,
            |q| q.broker_name.as_str(),
        );
        let mut route = TopicRouteData::default();
        for qd in &queue_datas {
            let Some(bd) = self.broker_addr_table.get(&qd.broker_name) else {
                continue;
            };
            if !self.filter_server_table.is_empty() {
                for addr in bd.broker_addrs.values() {
                    if let Some(list) = self.filter_server_table.get(addr) {
                        route.filter_server_table.insert(addr.clone(), list.clone());
                    }
                }
            }
            route.broker_datas.push(bd.clone());
        }
        if route.broker_datas.is_empty() {
            return None;
        }
        route.queue_datas = queue_datas;
        Some(route)
    }

    /// GET_BROKER_CLUSTER_INFO.
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.broker_addr_table.clone(),
            cluster_addr_table: self.cluster_addr_table.clone(),
        }
    }

    fn topic_list(
        &self,
        topics: impl IntoIterator<Item = String>,
        broker_addr: Option<String>,
    ) -> TopicList {
        TopicList::from_java_hash_set(topics, broker_addr)
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
    pub fn all_topics(&self) -> TopicList {
        self.topic_list(self.topic_queue_table.keys().cloned(), None)
    }

    /// GET_TOPICS_BY_CLUSTER: topics served by any group of `cluster`
    /// (empty for an unknown cluster).
    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let Some(names) = self.cluster_addr_table.get(cluster) else {
            return TopicList::default();
        };
        let topics = names.iter().flat_map(|name| {
            self.topic_queue_table
                .iter()
                .filter(move |(_, per_broker)| per_broker.contains_key(name))
                .map(|(t, _)| t.clone())
        });
        self.topic_list(topics, None)
    }

    /// GET_SYSTEM_TOPIC_LIST_FROM_NS: every cluster name and broker-group
    /// name (each is a system topic), plus one broker address to ask.
    pub fn system_topics(&self) -> TopicList {
        let topics = self.cluster_addr_table.iter().flat_map(|(cluster, names)| {
            std::iter::once(cluster.clone()).chain(names.iter().cloned())
        });
        let groups = java_order(
            self.broker_addr_table.values().collect(),
            128,
            |bd: &&BrokerData| bd.broker_name.as_str(),
        );
        let broker_addr = groups
            .into_iter()
            .find_map(|bd| bd.broker_addrs.values().next().cloned());
        self.topic_list(topics, broker_addr)
    }

    /// Topics whose first queue data (in Java's order) satisfies `pick`.
    fn topics_where(&self, pick: impl Fn(i32) -> bool) -> TopicList {
        let topics = self
            .topic_queue_table
            .iter()
            .filter_map(|(topic, per_broker)| {
                let first = java_order(
                    per_broker.values().collect(),
                    QUEUE_DATA_MAP_CAPACITY,
                    |q: &&QueueData| q.broker_name.as_str(),
                )
                .into_iter()
                .next()?;
                pick(first.topic_sys_flag).then(|| topic.clone())
            });
        self.topic_list(topics, None)
    }

    /// GET_UNIT_TOPIC_LIST.
    pub fn unit_topics(&self) -> TopicList {
        self.topics_where(|f| f & TOPIC_SYS_FLAG_UNIT != 0)
    }

    /// GET_HAS_UNIT_SUB_TOPIC_LIST.
    pub fn has_unit_sub_topics(&self) -> TopicList {
        self.topics_where(|f| f & TOPIC_SYS_FLAG_UNIT_SUB != 0)
    }

    /// GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST.
    pub fn has_unit_sub_non_unit_topics(&self) -> TopicList {
        self.topics_where(|f| f & TOPIC_SYS_FLAG_UNIT == 0 && f & TOPIC_SYS_FLAG_UNIT_SUB != 0)
    }

    /// Number of live broker addresses.
    pub fn live_broker_count(&self) -> usize {
        self.broker_live_table.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapper(counter: i64, topics: &[(&str, i32, i32)]) -> TopicConfigSerializeWrapper {
        let mut w = TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter,
                timestamp: 1000 + counter,
            },
            ..Default::default()
        };
        for (name, queues, flag) in topics {
            let mut t = TopicConfig::new(*name);
            t.read_queue_nums = *queues;
            t.write_queue_nums = *queues;
            t.topic_sys_flag = *flag;
            w.topic_config_table.insert(*name, t);
        }
        w
    }

    fn reg<'a>(
        name: &'a str,
        addr: &'a str,
        id: i64,
        topics: &'a TopicConfigSerializeWrapper,
    ) -> Registration<'a> {
        Registration {
            cluster_name: "C",
            broker_addr: addr,
            broker_name: name,
            broker_id: id,
            ha_server_addr: "ha:1",
            topics,
            filter_server_list: Some(&[]),
        }
    }

    #[test]
    fn master_and_slave() {
        let mut rt = RouteTable::new();
        let w = wrapper(1, &[("T", 4, 0)]);
        let r = rt.register_broker(&reg("a", "m:1", 0, &w), 1, 0);
        assert_eq!(r, RegisterResult::default());
        let r = rt.register_broker(&reg("a", "s:1", 1, &wrapper(9, &[("X", 1, 0)])), 2, 0);
        assert_eq!(r.master_addr.as_deref(), Some("m:1"));
        assert_eq!(r.ha_server_addr.as_deref(), Some("ha:1"));
        // A slave's topics do not create queue data.
        assert!(rt.pickup_topic_route("X").is_none());
        let route = rt.pickup_topic_route("T").unwrap();
        assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
        assert_eq!(route.queue_datas[0].write_queue_nums, 4);
    }

    #[test]
    fn queue_data_changes_only_with_the_data_version() {
        let mut rt = RouteTable::new();
        rt.register_broker(&reg("a", "m:1", 0, &wrapper(1, &[("T", 4, 0)])), 1, 0);
        // Same version, different content: ignored (Java trusts the version).
        rt.register_broker(&reg("a", "m:1", 0, &wrapper(1, &[("T", 8, 0)])), 1, 0);
        assert_eq!(
            rt.pickup_topic_route("T").unwrap().queue_datas[0].read_queue_nums,
            4
        );
        rt.register_broker(&reg("a", "m:1", 0, &wrapper(2, &[("T", 8, 0)])), 1, 0);
        assert_eq!(
            rt.pickup_topic_route("T").unwrap().queue_datas[0].read_queue_nums,
            8
        );
        // Topics absent from a registration stay.
        rt.register_broker(&reg("a", "m:1", 0, &wrapper(3, &[("U", 1, 0)])), 1, 0);
        assert!(rt.pickup_topic_route("T").is_some());
        assert!(rt.pickup_topic_route("U").is_some());
    }

    #[test]
    fn role_change_replaces_the_old_id() {
        let mut rt = RouteTable::new();
        let w = wrapper(1, &[("T", 4, 0)]);
        rt.register_broker(&reg("a", "h:1", 1, &w), 1, 0);
        rt.register_broker(&reg("a", "h:1", 0, &w), 1, 0);
        let bd = &rt.cluster_info().broker_addr_table["a"];
        assert_eq!(bd.broker_addrs.len(), 1);
        assert_eq!(bd.master_addr(), Some("h:1"));
    }

    #[test]
    fn removal_paths() {
        let mut rt = RouteTable::new();
        let w = wrapper(1, &[("T", 4, 0)]);
        rt.register_broker(&reg("a", "m:1", 0, &w), 1, 0);
        rt.register_broker(&reg("a", "s:1", 1, &w), 2, 0);
        rt.register_broker(&reg("b", "b:1", 0, &w), 3, 0);
        assert_eq!(rt.addrs_of_connection(2), vec!["s:1".to_owned()]);
        rt.remove_broker_addr("s:1");
        rt.remove_broker_addr("nobody");
        assert_eq!(rt.live_broker_count(), 2);
        rt.unregister_broker("C", "m:1", "a", 0);
        // Group a is gone from the route, b still serves T.
        let route = rt.pickup_topic_route("T").unwrap();
        assert_eq!(route.queue_datas.len(), 1);
        assert_eq!(route.queue_datas[0].broker_name, "b");
        rt.remove_broker_addr("b:1");
        assert!(rt.pickup_topic_route("T").is_none());
        assert!(rt.cluster_info().cluster_addr_table.is_empty());
        assert!(rt.all_topics().topic_list.is_empty());
    }

    #[test]
    fn expiry_is_strictly_after_the_deadline() {
        let mut rt = RouteTable::new();
        rt.register_broker(&reg("a", "m:1", 0, &wrapper(1, &[])), 7, 1000);
        assert!(rt.expired(1000 + 120_000, 120_000).is_empty());
        assert_eq!(
            rt.expired(1001 + 120_000, 120_000),
            vec![("m:1".to_owned(), 7)]
        );
        rt.touch("m:1", 5000);
        assert!(rt.expired(1001 + 120_000, 120_000).is_empty());
    }

    #[test]
    fn perms_topics_and_lists() {
        let mut rt = RouteTable::new();
        rt.register_broker(
            &reg(
                "a",
                "m:1",
                0,
                &wrapper(1, &[("T", 4, 0), ("U", 1, 1), ("S", 1, 2), ("US", 1, 3)]),
            ),
            1,
            0,
        );
        assert_eq!(rt.wipe_write_perm("a"), 4);
        assert_eq!(
            rt.pickup_topic_route("T").unwrap().queue_datas[0].perm,
            PERM_READ
        );
        assert_eq!(rt.add_write_perm("a"), 4);
        assert_eq!(rt.pickup_topic_route("T").unwrap().queue_datas[0].perm, 6);
        assert_eq!(rt.wipe_write_perm("nobody"), 0);

        let sorted = |l: TopicList| {
            let mut v = l.topic_list;
            v.sort();
            v
        };
        assert_eq!(sorted(rt.unit_topics()), vec!["U", "US"]);
        assert_eq!(sorted(rt.has_unit_sub_topics()), vec!["S", "US"]);
        assert_eq!(sorted(rt.has_unit_sub_non_unit_topics()), vec!["S"]);
        assert_eq!(sorted(rt.topics_by_cluster("C")), vec!["S", "T", "U", "US"]);
        assert!(rt.topics_by_cluster("nope").topic_list.is_empty());
        let sys = rt.system_topics();
        assert_eq!(sys.broker_addr.as_deref(), Some("m:1"));
        assert_eq!(sorted(sys), vec!["C", "a"]);

        rt.delete_topic_in_cluster("T", "other");
        assert!(rt.pickup_topic_route("T").is_some());
        rt.delete_topic_in_cluster("T", "C");
        assert!(rt.pickup_topic_route("T").is_none());
        rt.delete_topic("U");
        assert_eq!(sorted(rt.all_topics()), vec!["S", "US"]);
    }

    #[test]
    fn filter_servers_travel_in_the_route() {
        let mut rt = RouteTable::new();
        let w = wrapper(1, &[("T", 4, 0)]);
        let fs = vec!["f:1".to_owned()];
        let mut r = reg("a", "m:1", 0, &w);
        r.filter_server_list = Some(&fs);
        rt.register_broker(&r, 1, 0);
        let route = rt.pickup_topic_route("T").unwrap();
        assert_eq!(route.filter_server_table["m:1"], fs);
        // A broker older than V3_0_11 (no list) leaves it alone; an empty
        // list removes it.
        r.filter_server_list = None;
        rt.register_broker(&r, 1, 0);
        assert!(!rt
            .pickup_topic_route("T")
            .unwrap()
            .filter_server_table
            .is_empty());
        r.filter_server_list = Some(&[]);
        rt.register_broker(&r, 1, 0);
        assert!(rt
            .pickup_topic_route("T")
            .unwrap()
            .filter_server_table
            .is_empty());
    }
}
