//! The broker: request handlers on top of the storage engine, one shard per
//! core (design §2). [`run`] opens the store, starts the shards, binds the
//! broker port on each of them and registers with the name servers.

pub mod admin;
pub mod call_consumer;
pub mod clients;
pub mod config;
pub mod mesh;
pub mod metadata;
pub mod offsets;
pub mod pull;
pub mod query;
pub mod queue_locks;
pub mod queue_requests;
pub mod register;
pub mod retry;
pub mod schedule;
pub mod send;
pub mod service;
pub mod shard;
pub mod sql92;
pub mod stats;
pub mod subscription;
pub mod timer;
pub mod timer_heap;
pub mod topic_names;
pub mod transaction;

use std::cell::RefCell;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringmq_engine::notify::Broadcast;
use ringmq_engine::shard::{run_shards, StoreRoot};
use ringmq_engine::{ShardEnv, ShardStore, StoreConfig};

use self::config::BrokerConfig;
use self::metadata::Metadata;
use self::offsets::OffsetTable;
use self::service::BrokerService;
use self::shard::BrokerShard;
use crate::net::listen::{accept_loop, check_port_free};

/// A shard-local view of the process-wide stop flag that tasks can await.
pub struct Stop {
    flag: Arc<AtomicBool>,
    b: Broadcast,
}

impl Stop {
    pub fn new(flag: Arc<AtomicBool>) -> Rc<Stop> {
        let s = Rc::new(Stop {
            flag,
            b: Broadcast::default(),
        });
        // Signal handlers can only set an atomic; poll it.
        let w = s.clone();
        glommio::spawn_local(async move {
            while !w.is_set() {
                glommio::timer::sleep(Duration::from_millis(50)).await;
            }
            w.b.notify_all();
        })
        .detach();
        s
    }
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
    pub async fn wait(&self) {
        while !self.is_set() {
            self.b.wait().await;
        }
    }
}

/// What `run` reports once every shard listens and the first registration
/// with the name servers is done.
pub struct Ready {
    pub broker: SocketAddr,
    pub shards: u16,
    pub registered_with: usize,
}

fn store_config(cfg: &BrokerConfig, root: &StoreRoot, shards: u16) -> StoreConfig {
    let mut sc = StoreConfig::new(root.path(), shards);
    sc.flush_mode = cfg.flush_disk_type;
    sc.file_reserved_hours = cfg.file_reserved_time_hours;
    sc.delete_when = cfg
        .delete_when
        .split(';')
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    sc.disk_max_used_ratio = cfg.disk_max_used_space_ratio;
    sc.retention_interval = Duration::from_millis(cfg.clean_resource_interval_ms);
    sc.max_body_bytes = cfg.max_message_size.max(1);
    if let Some(mib) = cfg.tail_cache_mib {
        sc.tail_cache_bytes = (mib.max(4) as u64) << 20;
    }
    if let Some(mib) = cfg.segment_mib {
        sc.commitlog_segment_bytes = mib.max(4) << 20;
    }
    sc
}

/// Runs the broker until `stop` is set. `on_ready` is called once, from
/// shard 0, when the broker accepts connections.
pub fn run(
    cfg: BrokerConfig,
    stop: Arc<AtomicBool>,
    on_ready: impl Fn(Ready) + Send + Sync + 'static,
) -> Result<(), String> {
    let shards = cfg.shards.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as u16)
            .unwrap_or(1)
    });
    let listen: SocketAddr = (cfg.listen_host.as_str(), cfg.listen_port)
        .to_socket_addrs()
        .map_err(|e| {
            format!(
                "listen address {}:{}: {e}",
                cfg.listen_host, cfg.listen_port
            )
        })?
        .next()
        .ok_or("no listen address")?;
    check_port_free(listen, "broker")?;
    let root = StoreRoot::open(&cfg.store_path_root_dir, shards).map_err(|e| e.to_string())?;
    let store_cfg = store_config(&cfg, &root, shards);
    store_cfg.validate().map_err(|e| e.to_string())?;
    let config_dir = root.path().join("config");
    let (meta, kicks) = Metadata::open(&config_dir, &cfg)?;
    let store_host: SocketAddr = cfg
        .broker_addr()
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("brokerIP1 {} is not an IP address", cfg.broker_ip1))?;
    let delay_levels = schedule::parse_levels(&cfg.message_delay_level)?;
    let meta = Arc::new(meta);
    let cfg = Arc::new(cfg);
    let (mesh, inboxes) = mesh::build(shards);
    let listening = Arc::new(AtomicUsize::new(0));
    let on_ready = Arc::new(on_ready);
    let boot_ms = metadata::now_ms();
    let cpus = cfg.cpus.clone();
    let failed = Arc::new(std::sync::Mutex::new(None::<String>));
    let failed2 = failed.clone();
    run_shards(shards, &cpus, move |i| {
        let (cfg, meta, mesh, store_cfg) =
            (cfg.clone(), meta.clone(), mesh.clone(), store_cfg.clone());
        let (inbox, kicks, listening) = (
            inboxes[i as usize].clone(),
            kicks.clone(),
            listening.clone(),
        );
        let (stop, on_ready, config_dir, failed) = (
            stop.clone(),
            on_ready.clone(),
            config_dir.clone(),
            failed2.clone(),
        );
        let delay_levels = Rc::new(delay_levels.clone());
        async move {
            let stop_all = stop.clone();
            let fail = move |e: String| {
                tracing::error!(shard = i, error = %e, "shard failed to start");
                *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                stop_all.store(true, Ordering::Relaxed);
            };
            let store = match ShardStore::open(store_cfg, i, ShardEnv::real()).await {
                Ok(s) => s,
                Err(e) => return fail(format!("shard {i}: {e}")),
            };
            let offsets = match OffsetTable::load(&config_dir, i) {
                Ok(o) => o,
                Err(e) => return fail(e),
            };
            let delays = match schedule::DelayOffsets::load(&config_dir, i) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let timers = match timer::TimerState::load(&config_dir, i) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let shard = Rc::new(BrokerShard {
                id: i,
                cfg: cfg.clone(),
                meta,
                mesh,
                store,
                store_host,
                boot_ms,
                conns: RefCell::new(Default::default()),
                offsets: RefCell::new(offsets),
                groups: RefCell::new(Default::default()),
                locks: RefCell::new(Default::default()),
                delay_levels,
                delays: RefCell::new(delays),
                tx_resolved: RefCell::new(Default::default()),
                tx_given_up: Default::default(),
                timers: RefCell::new(timers),
                msgs_put: Default::default(),
                msgs_got: Default::default(),
                stats: Default::default(),
                samples: RefCell::new(Default::default()),
                holds: RefCell::new(Default::default()),
            });
            let weak = Rc::downgrade(&shard);
            shard.store.set_arrival_listener(move |topic, queue_id, _| {
                if let Some(s) = weak.upgrade() {
                    s.on_arrival(topic, queue_id);
                }
            });
            let stop = Stop::new(stop);
            glommio::spawn_local(mesh::serve_inbox(shard.clone(), inbox)).detach();
            let listener = match crate::net::listen::bind_shared(listen) {
                Ok(l) => l,
                Err(e) => return fail(format!("cannot listen on {listen}: {e}")),
            };
            let svc = Rc::new(BrokerService {
                shard: shard.clone(),
            });
            let acceptor = glommio::spawn_local(accept_loop(listener, svc, i));
            spawn_periodic(&shard, &stop);
            schedule::start(&shard, &stop);
            transaction::start_checker(&shard, &stop);
            timer::start(&shard, &stop);
            listening.fetch_add(1, Ordering::SeqCst);
            let registrar = if i == 0 {
                while listening.load(Ordering::SeqCst) < shards as usize && !stop.is_set() {
                    glommio::timer::sleep(Duration::from_millis(2)).await;
                }
                let (tx, rx) = flume::bounded(1);
                let t = glommio::spawn_local(register::run(shard.clone(), kicks, tx, stop.clone()));
                let registered_with = rx.recv_async().await.unwrap_or(0);
                on_ready(Ready {
                    broker: listen,
                    shards,
                    registered_with,
                });
                Some(t)
            } else {
                None
            };
            stop.wait().await;
            drop(acceptor);
            if let Some(t) = registrar {
                let _ = glommio::timer::timeout(Duration::from_secs(5), async {
                    t.await;
                    Ok(())
                })
                .await;
            }
            if let Err(e) = shard.offsets.borrow_mut().persist() {
                tracing::error!(shard = i, error = %e, "cannot persist consumer offsets");
            }
            if let Err(e) = shard.delays.borrow_mut().persist() {
                tracing::error!(shard = i, error = %e, "cannot persist delay offsets");
            }
            if let Err(e) = shard.timers.borrow_mut().persist() {
                tracing::error!(shard = i, error = %e, "cannot persist timer state");
            }
            match shard.store.shutdown().await {
                Ok(()) => tracing::info!(shard = i, "shard stopped cleanly"),
                Err(e) => tracing::error!(shard = i, error = %e, "clean shutdown failed"),
            }
        }
    })
    .map_err(|e| e.to_string())?;
    drop(root);
    let failure = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Per-shard housekeeping: client expiry and idle connections, consumer
/// offset persistence.
fn spawn_periodic(shard: &Rc<BrokerShard>, stop: &Rc<Stop>) {
    let (s, st) = (shard.clone(), stop.clone());
    glommio::spawn_local(async move {
        let every = Duration::from_millis(s.cfg.client_scan_interval_ms);
        while !st.is_set() {
            glommio::timer::sleep(every).await;
            clients::scan_expired(&s).await;
        }
    })
    .detach();
    let (s, st) = (shard.clone(), stop.clone());
    glommio::spawn_local(async move {
        while !st.is_set() {
            {
                let mut v = s.samples.borrow_mut();
                v.push_back((
                    std::time::Instant::now(),
                    s.msgs_put.get(),
                    s.msgs_got.get(),
                ));
                while v.len() > 61 {
                    v.pop_front();
                }
            }
            glommio::timer::sleep(Duration::from_secs(10)).await;
        }
    })
    .detach();
    let (s, st) = (shard.clone(), stop.clone());
    glommio::spawn_local(async move {
        let every = Duration::from_millis(s.cfg.stats_sample_interval_ms);
        while !st.is_set() {
            glommio::timer::sleep(every).await;
            s.stats
                .borrow_mut()
                .sample(metadata::now_ms(), every.as_millis() as i64);
        }
    })
    .detach();
    let (s, st) = (shard.clone(), stop.clone());
    glommio::spawn_local(async move {
        let every = Duration::from_millis(s.cfg.flush_consumer_offset_interval_ms);
        while !st.is_set() {
            glommio::timer::sleep(every).await;
            if let Err(e) = s.offsets.borrow_mut().persist() {
                tracing::error!(shard = s.id, error = %e, "cannot persist consumer offsets");
            }
            if let Err(e) = s.delays.borrow_mut().persist() {
                tracing::error!(shard = s.id, error = %e, "cannot persist delay offsets");
            }
        }
    })
    .detach();
}
