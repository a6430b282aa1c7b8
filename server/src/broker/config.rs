//! Broker configuration: Apache's `broker.conf` keys as they are, plus
//! ringmq's own (shards, cpus, cache sizes, and every timing Apache hard-codes,
//! so tests can shorten them).
//!
//! The file format is Java properties as Apache's brokers read it:
//! `key=value` lines, `#`/`!` comments, blanks ignored. Unknown keys are
//! logged and ignored, as Apache does.

use std::path::{Path, PathBuf};

use ringmq_engine::FlushMode;

/// Everything the broker reads from `broker.conf` and the command line.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    pub broker_cluster_name: String,
    pub broker_name: String,
    pub broker_id: i64,
    /// `namesrvAddr`: name servers, `;`-separated.
    pub namesrv_addr: Vec<String>,
    /// `brokerIP1`: the address clients use (store host of every record).
    pub broker_ip1: String,
    pub listen_port: u16,
    /// Interface the broker port binds (ringmq's own; Apache binds all).
    pub listen_host: String,
    pub store_path_root_dir: PathBuf,
    pub flush_disk_type: FlushMode,
    pub auto_create_topic_enable: bool,
    pub auto_create_subscription_group: bool,
    pub default_topic_queue_nums: u32,
    pub max_message_size: usize,
    pub file_reserved_time_hours: u32,
    pub delete_when: String,
    pub disk_max_used_space_ratio: u32,
    /// `cleanResourceInterval` (ms): how often retention runs.
    pub clean_resource_interval_ms: u64,
    pub broker_permission: u32,
    pub region_id: String,
    pub trace_topic_enable: bool,
    /// `traceOn`: sent as TRACE_ON in send responses (clients skip their
    /// send traces when it is false).
    pub trace_on: bool,
    pub msg_trace_topic_name: String,
    pub cluster_topic_enable: bool,
    pub broker_topic_enable: bool,
    pub long_polling_enable: bool,
    pub short_polling_time_mills: u64,
    pub notify_consumer_ids_changed_enable: bool,
    pub enable_property_filter: bool,
    pub reject_transaction_message: bool,
    /// `registerNameServerPeriod` (ms; Apache clamps it to 10..60 s, ringmq
    /// accepts any positive value so tests can be quick).
    pub register_name_server_period_ms: u64,
    /// `flushConsumerOffsetInterval` (ms).
    pub flush_consumer_offset_interval_ms: u64,
    /// Client connections without a heartbeat for this long are closed
    /// (`channelExpiredTimeout`, 120 s).
    pub channel_expired_timeout_ms: u64,
    /// Idle connections are closed after this long
    /// (`serverChannelMaxIdleTimeSeconds`, 120 s).
    pub server_channel_max_idle_time_seconds: u64,
    /// Scan period of expired client connections (Apache 10 s).
    pub client_scan_interval_ms: u64,
    /// Long-polling re-check period (Apache 5 s).
    pub long_polling_check_interval_ms: u64,
    /// `transactionCheckInterval` / `transactionTimeOut` / `transactionCheckMax`.
    pub transaction_check_interval_ms: u64,
    pub transaction_timeout_ms: u64,
    pub transaction_check_max: u32,
    /// `messageDelayLevel`.
    pub message_delay_level: String,
    /// How long an ordered consumer's queue lock lives without renewal
    /// (Apache: the system property `rocketmq.broker.rebalance.lockMaxLiveTime`,
    /// 60 s; here the key `rebalanceLockMaxLiveTime`, ms).
    pub rebalance_lock_max_live_ms: u64,
    /// How often the per-topic / per-group statistics are sampled (Apache:
    /// every 10 s; here the key `statsSampleInterval`, ms).
    pub stats_sample_interval_ms: u64,
    // ringmq's own.
    pub shards: Option<u16>,
    pub cpus: Vec<usize>,
    pub tail_cache_mib: Option<usize>,
    pub segment_mib: Option<u64>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_id: 0,
            namesrv_addr: Vec::new(),
            broker_ip1: local_ipv4(),
            listen_port: 10911,
            listen_host: "0.0.0.0".into(),
            store_path_root_dir: Path::new(&home).join("store"),
            flush_disk_type: FlushMode::Async,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            max_message_size: 4 * 1024 * 1024,
            file_reserved_time_hours: 72,
            delete_when: "04".into(),
            clean_resource_interval_ms: 10_000,
            disk_max_used_space_ratio: 75,
            broker_permission: 6,
            region_id: "DefaultRegion".into(),
            // ringmq's defaults (Apache's are false): the managed service has
            // message trace and SQL92 filtering on.
            trace_topic_enable: true,
            trace_on: true,
            msg_trace_topic_name: "RMQ_SYS_TRACE_TOPIC".into(),
            cluster_topic_enable: true,
            broker_topic_enable: true,
            long_polling_enable: true,
            short_polling_time_mills: 1000,
            notify_consumer_ids_changed_enable: true,
            enable_property_filter: true,
            reject_transaction_message: false,
            register_name_server_period_ms: 30_000,
            flush_consumer_offset_interval_ms: 5_000,
            channel_expired_timeout_ms: 120_000,
            server_channel_max_idle_time_seconds: 120,
            client_scan_interval_ms: 10_000,
            long_polling_check_interval_ms: 5_000,
            transaction_check_interval_ms: 60_000,
            transaction_timeout_ms: 6_000,
            transaction_check_max: 15,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
                .into(),
            rebalance_lock_max_live_ms: 60_000,
            stats_sample_interval_ms: 10_000,
            shards: None,
            cpus: Vec::new(),
            tail_cache_mib: None,
            segment_mib: None,
        }
    }
}

impl BrokerConfig {
    /// Reads a `broker.conf` file on top of the defaults.
    pub fn from_file(path: &Path) -> Result<BrokerConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut cfg = BrokerConfig::default();
        for (key, value) in parse_properties(&text) {
            cfg.set(&key, &value)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(cfg)
    }

    /// The broker's client-facing address `brokerIP1:listenPort`.
    pub fn broker_addr(&self) -> String {
        format!("{}:{}", self.broker_ip1, self.listen_port)
    }

    /// Sets one key (Apache spelling). Unknown keys are logged, not refused.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        let bad = |what: &str| format!("{key}={v:?}: expected {what}");
        let num = |what| v.parse::<u64>().map_err(|_| bad(what));
        let flag = || match v.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad("true or false")),
        };
        match key {
            "brokerClusterName" => self.broker_cluster_name = v.into(),
            "brokerName" => self.broker_name = v.into(),
            "brokerId" => self.broker_id = v.parse().map_err(|_| bad("an integer"))?,
            "namesrvAddr" => {
                self.namesrv_addr = v
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "brokerIP1" => self.broker_ip1 = v.into(),
            "listenHost" => self.listen_host = v.into(),
            "listenPort" => self.listen_port = v.parse().map_err(|_| bad("a port"))?,
            "storePathRootDir" => self.store_path_root_dir = PathBuf::from(v),
            "flushDiskType" => {
                self.flush_disk_type = match v {
                    "ASYNC_FLUSH" => FlushMode::Async,
                    "SYNC_FLUSH" => FlushMode::Sync,
                    _ => return Err(bad("ASYNC_FLUSH or SYNC_FLUSH")),
                }
            }
            "autoCreateTopicEnable" => self.auto_create_topic_enable = flag()?,
            "autoCreateSubscriptionGroup" => self.auto_create_subscription_group = flag()?,
            "defaultTopicQueueNums" => self.default_topic_queue_nums = num("a count")? as u32,
            "maxMessageSize" => self.max_message_size = num("a size in bytes")? as usize,
            "fileReservedTime" => self.file_reserved_time_hours = num("hours")? as u32,
            "deleteWhen" => self.delete_when = v.into(),
            "cleanResourceInterval" => self.clean_resource_interval_ms = num("ms")?.max(1),
            "diskMaxUsedSpaceRatio" => self.disk_max_used_space_ratio = num("a percentage")? as u32,
            "brokerPermission" => self.broker_permission = num("permission bits")? as u32,
            "regionId" => self.region_id = v.into(),
            "traceOn" => self.trace_on = flag()?,
            "traceTopicEnable" => self.trace_topic_enable = flag()?,
            "msgTraceTopicName" => self.msg_trace_topic_name = v.into(),
            "clusterTopicEnable" => self.cluster_topic_enable = flag()?,
            "brokerTopicEnable" => self.broker_topic_enable = flag()?,
            "longPollingEnable" => self.long_polling_enable = flag()?,
            "shortPollingTimeMills" => self.short_polling_time_mills = num("ms")?,
            "notifyConsumerIdsChangedEnable" => self.notify_consumer_ids_changed_enable = flag()?,
            "enablePropertyFilter" => self.enable_property_filter = flag()?,
            "rejectTransactionMessage" => self.reject_transaction_message = flag()?,
            "registerNameServerPeriod" => self.register_name_server_period_ms = num("ms")?.max(1),
            "flushConsumerOffsetInterval" => {
                self.flush_consumer_offset_interval_ms = num("ms")?.max(1)
            }
            "channelExpiredTimeout" => self.channel_expired_timeout_ms = num("ms")?,
            "serverChannelMaxIdleTimeSeconds" => {
                self.server_channel_max_idle_time_seconds = num("seconds")?
            }
            "clientScanInterval" => self.client_scan_interval_ms = num("ms")?.max(1),
            "longPollingCheckInterval" => self.long_polling_check_interval_ms = num("ms")?.max(1),
            "transactionCheckInterval" => self.transaction_check_interval_ms = num("ms")?.max(1),
            "transactionTimeOut" => self.transaction_timeout_ms = num("ms")?,
            "transactionCheckMax" => self.transaction_check_max = num("a count")? as u32,
            "messageDelayLevel" => self.message_delay_level = v.into(),
            "statsSampleInterval" => self.stats_sample_interval_ms = num("ms")?.max(1),
            "rebalanceLockMaxLiveTime" | "rocketmq.broker.rebalance.lockMaxLiveTime" => {
                self.rebalance_lock_max_live_ms = num("ms")?.max(1)
            }
            "shards" => self.shards = Some(num("a shard count")?.clamp(1, 64) as u16),
            "cpus" => {
                self.cpus = v
                    .split(',')
                    .map(|c| c.trim().parse::<usize>().map_err(|_| bad("CPU numbers")))
                    .collect::<Result<_, _>>()?
            }
            "tailCacheMiB" => self.tail_cache_mib = Some(num("MiB")? as usize),
            "mappedFileSizeCommitLogMiB" => self.segment_mib = Some(num("MiB")?),
            _ => tracing::warn!(key, "unknown broker config key ignored"),
        }
        Ok(())
    }
}

/// The first non-loopback IPv4 address of this host (Apache's
/// `getLocalAddress` default for brokerIP1), else 127.0.0.1.
pub fn local_ipv4() -> String {
    let mut found = None;
    // SAFETY: getifaddrs allocates a list we only read and then free.
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut list) == 0 {
            let mut cur = list;
            while !cur.is_null() {
                let ifa = &*cur;
                if !ifa.ifa_addr.is_null() && (*ifa.ifa_addr).sa_family as i32 == libc::AF_INET {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                    if !ip.is_loopback() && !ip.is_unspecified() && found.is_none() {
                        found = Some(ip);
                    }
                }
                cur = ifa.ifa_next;
            }
            libc::freeifaddrs(list);
        }
    }
    found
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// Java-properties lines as (key, value), in file order.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let at = l.find(['=', ':'])?;
            Some((l[..at].trim().to_string(), l[at + 1..].trim().to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_broker_conf_is_read_as_is() {
        let text = "# comment\nbrokerClusterName = C1\nbrokerName=broker-b\nbrokerId=0\n\
                    deleteWhen=04\nfileReservedTime=48\nbrokerRole=ASYNC_MASTER\n\
                    flushDiskType=SYNC_FLUSH\nnamesrvAddr=10.0.0.1:9876;10.0.0.2:9876\n\
                    listenPort=10921\nautoCreateTopicEnable=false\n";
        let mut cfg = BrokerConfig::default();
        for (k, v) in parse_properties(text) {
            cfg.set(&k, &v).unwrap();
        }
        assert_eq!(cfg.broker_cluster_name, "C1");
        assert_eq!(cfg.broker_name, "broker-b");
        assert_eq!(cfg.file_reserved_time_hours, 48);
        assert_eq!(cfg.flush_disk_type, FlushMode::Sync);
        assert_eq!(cfg.namesrv_addr, vec!["10.0.0.1:9876", "10.0.0.2:9876"]);
        assert_eq!(cfg.listen_port, 10921);
        assert!(!cfg.auto_create_topic_enable);
    }

    #[test]
    fn bad_values_are_refused_with_the_key() {
        let mut cfg = BrokerConfig::default();
        let e = cfg.set("listenPort", "nine").unwrap_err();
        assert!(e.contains("listenPort"), "{e}");
        assert!(cfg.set("flushDiskType", "SOMETIMES").is_err());
    }
}
