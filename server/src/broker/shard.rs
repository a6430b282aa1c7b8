//! A broker shard: one pinned executor owning its slice of the store (the
//! queues `shard_of` maps to it), the consumer offsets and long-polling
//! waiters of those queues, the groups `group_shard` maps to it, and the
//! connections it accepted. Nothing in here is shared with another thread
//! except through [`Metadata`] snapshots and the [`Mesh`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use ringmq_engine::notify::Broadcast;
use ringmq_engine::{shard_of, QueueKey, ShardStore};

use super::clients::GroupRegistry;
use super::config::BrokerConfig;
use super::mesh::Mesh;
use super::metadata::Metadata;
use super::offsets::OffsetTable;
use crate::net::{ConnId, Connection};

/// The shard that owns a group's membership (`hash(group) % N`, design §2).
pub fn group_shard(group: &str, shards: u16) -> u16 {
    (ringmq_engine::offset::stable_topic_hash(group) % shards as u32) as u16
}

pub struct BrokerShard {
    pub id: u16,
    pub cfg: Arc<BrokerConfig>,
    pub meta: Arc<Metadata>,
    pub mesh: Mesh,
    pub store: ShardStore,
    /// `brokerIP1:listenPort`, written into every record as its store host.
    pub store_host: SocketAddr,
    /// Start time (ms), reported in runtime info.
    pub boot_ms: i64,
    /// Connections this shard accepted.
    pub conns: RefCell<HashMap<ConnId, Rc<Connection>>>,
    /// Committed consumer offsets of the queues this shard owns.
    pub offsets: RefCell<OffsetTable>,
    /// Producer and consumer groups this shard owns.
    pub groups: RefCell<GroupRegistry>,
    /// Ordered-consumption locks of the groups this shard owns.
    pub locks: RefCell<super::queue_locks::LockTable>,
    /// `messageDelayLevel`, parsed.
    pub delay_levels: Rc<Vec<std::time::Duration>>,
    /// Delivery offsets of the delay levels this shard owns.
    pub delays: RefCell<super::schedule::DelayOffsets>,
    /// Resolved half messages (on the half queue's owner, see `transaction`).
    pub tx_resolved: RefCell<super::transaction::Resolved>,
    /// Half messages given up after `transactionCheckMax` checks.
    pub tx_given_up: std::cell::Cell<u64>,
    /// Pending timers of this shard's timer queue.
    pub timers: RefCell<super::timer::TimerState>,
    /// Messages stored by sends and messages returned by pulls on this
    /// shard's queues since start (runtime info).
    pub msgs_put: std::cell::Cell<u64>,
    pub msgs_got: std::cell::Cell<u64>,
    /// Per topic / group / broker figures for VIEW_BROKER_STATS_DATA.
    pub stats: RefCell<super::stats::StatsTable>,
    /// (time, msgs_put, msgs_got) every 10 s over the last 10 minutes, for
    /// the TPS figures of runtime info.
    pub samples: RefCell<std::collections::VecDeque<(std::time::Instant, u64, u64)>>,
    /// Long-polling waiters per queue; woken (and removed) by an arrival.
    pub holds: RefCell<HashMap<QueueKey, Rc<Broadcast>>>,
}

impl BrokerShard {
    pub fn shards(&self) -> u16 {
        self.mesh.shards()
    }

    /// The shard that owns queue `(topic, queue_id)`.
    pub fn owner_of(&self, topic: &str, queue_id: u32) -> u16 {
        shard_of(topic, queue_id, self.shards())
    }

    /// The shard that owns `group`'s membership.
    pub fn group_owner(&self, group: &str) -> u16 {
        group_shard(group, self.shards())
    }

    /// Wakes the pulls held on `key` (the store's arrival listener).
    pub fn on_arrival(&self, topic: &str, queue_id: u32) {
        // Most appends find no held pull: no key is built for them.
        if self.holds.borrow().is_empty() {
            return;
        }
        let waiters = self
            .holds
            .borrow_mut()
            .remove(&QueueKey::new(topic, queue_id));
        if let Some(b) = waiters {
            b.notify_all();
        }
    }

    /// The broadcast a held pull on `key` waits for.
    pub fn hold_on(&self, key: &QueueKey) -> Rc<Broadcast> {
        self.holds
            .borrow_mut()
            .entry(key.clone())
            .or_insert_with(|| Rc::new(Broadcast::default()))
            .clone()
    }

    /// Puts and gets per second over the last `secs` seconds (from samples).
    pub fn tps(&self, secs: u64) -> (f64, f64) {
        let samples = self.samples.borrow();
        let now = std::time::Instant::now();
        let (put, got) = (self.msgs_put.get(), self.msgs_got.get());
        let base = samples
            .iter()
            .find(|(t, _, _)| now.duration_since(*t).as_secs() <= secs)
            .copied();
        match base {
            Some((t, p0, g0)) => {
                let dt = now.duration_since(t).as_secs_f64().max(1.0);
                ((put - p0) as f64 / dt, (got - g0) as f64 / dt)
            }
            None => (0.0, 0.0),
        }
    }

    /// Forgets `key`'s broadcast once nobody waits on it, so idle queues do
    /// not keep one each.
    pub fn release_hold(&self, key: &QueueKey) {
        let mut holds = self.holds.borrow_mut();
        if holds
            .get(key)
            .is_some_and(|b| b.waiters() == 0 && Rc::strong_count(b) == 1)
        {
            holds.remove(key);
        }
    }

    /// Runs `f` on the shard that owns `topic`/`queue_id` (here if local).
    pub async fn on_owner<T, F, Fut>(self: &Rc<Self>, owner: u16, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce(Rc<BrokerShard>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = T> + 'static,
    {
        if owner == self.id {
            Some(f(self.clone()).await)
        } else {
            self.mesh.call(owner, f).await.ok()
        }
    }
}
