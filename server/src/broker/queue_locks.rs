//! Ordered consumption: LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (reference §9.4).
//!
//! A (group, queue) lock lives on the shard that owns the queue, with the
//! rest of the queue's state; a batch is split by owner shard, one mesh hop
//! per shard that owns some of its queues. A lock is held by a client id
//! and expires 60 s after its last renewal (`rebalanceLockMaxLiveTime`,
//! Apache's `rocketmq.broker.rebalance.lockMaxLiveTime`); orderly consumers
//! renew every 20 s.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ringmq_remoting::body::lock_batch::{
    LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody,
};
use ringmq_remoting::body::message_queue::MessageQueue;
use ringmq_remoting::{RemotingCommand, ResponseCode};

use super::shard::BrokerShard;
use crate::net::conn::reply;
use crate::net::Connection;

struct Lock {
    client_id: String,
    renewed: Instant,
}

/// group → queue → lock.
#[derive(Default)]
pub struct LockTable {
    groups: HashMap<String, HashMap<MessageQueue, Lock>>,
}

impl LockTable {
    /// Locks what is free, expired or already ours; returns what we hold.
    pub fn lock(
        &mut self,
        group: &str,
        client: &str,
        mqs: Vec<MessageQueue>,
        now: Instant,
        max_live: Duration,
    ) -> Vec<MessageQueue> {
        let table = self.groups.entry(group.to_string()).or_default();
        let mut held = Vec::new();
        for mq in mqs {
            let ok = match table.get(&mq) {
                None => true,
                Some(l) => l.client_id == client || now.duration_since(l.renewed) > max_live,
            };
            if ok {
                table.insert(
                    mq.clone(),
                    Lock {
                        client_id: client.to_string(),
                        renewed: now,
                    },
                );
                held.push(mq);
            }
        }
        held
    }

    /// Releases the queues `client` holds.
    pub fn unlock(&mut self, group: &str, client: &str, mqs: &[MessageQueue]) {
        if let Some(table) = self.groups.get_mut(group) {
            for mq in mqs {
                if table.get(mq).is_some_and(|l| l.client_id == client) {
                    table.remove(mq);
                }
            }
            if table.is_empty() {
                self.groups.remove(group);
            }
        }
    }
}

/// The queues of a batch grouped by the shard that owns each.
fn by_owner(shard: &BrokerShard, mqs: Vec<MessageQueue>) -> Vec<(u16, Vec<MessageQueue>)> {
    let mut out: Vec<(u16, Vec<MessageQueue>)> = Vec::new();
    for mq in mqs {
        let owner = shard.owner_of(&mq.topic, mq.queue_id.max(0) as u32);
        match out.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, v)) => v.push(mq),
            None => out.push((owner, vec![mq])),
        }
    }
    out
}

/// LOCK_BATCH_MQ (41).
pub async fn lock_batch(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let body = match LockBatchRequestBody::decode(&req.body) {
        Ok(b) => b,
        Err(e) => return Some(reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let mut held = Vec::new();
    for (owner, mqs) in by_owner(&shard, body.mq_set) {
        let (group, client) = (body.consumer_group.clone(), body.client_id.clone());
        let got = shard
            .on_owner(owner, move |s| async move {
                let max_live = Duration::from_millis(s.cfg.rebalance_lock_max_live_ms);
                s.locks
                    .borrow_mut()
                    .lock(&group, &client, mqs, Instant::now(), max_live)
            })
            .await;
        // A shard that cannot answer locks nothing: the client retries.
        held.extend(got.unwrap_or_default());
    }
    let resp = LockBatchResponseBody {
        lock_ok_mq_set: held,
    };
    Some(RemotingCommand::response_to(&req, ResponseCode::Success, None).with_body(resp.encode()))
}

/// UNLOCK_BATCH_MQ (42), often sent oneway.
pub async fn unlock_batch(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let body = match UnlockBatchRequestBody::decode(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return (!req.is_oneway())
                .then(|| reply(&req, ResponseCode::SystemError, e.to_string()))
        }
    };
    for (owner, mqs) in by_owner(&shard, body.mq_set) {
        let (group, client) = (body.consumer_group.clone(), body.client_id.clone());
        shard
            .on_owner(owner, move |s| async move {
                s.locks.borrow_mut().unlock(&group, &client, &mqs)
            })
            .await;
    }
    (!req.is_oneway()).then(|| RemotingCommand::response_to(&req, ResponseCode::Success, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue::new("T", "broker-a", q)
    }

    #[test]
    fn locks_are_exclusive_until_they_expire() {
        const LIVE: Duration = Duration::from_secs(60);
        let mut t = LockTable::default();
        let now = Instant::now();
        assert_eq!(
            t.lock("g", "c1", vec![mq(0), mq(1)], now, LIVE),
            vec![mq(0), mq(1)]
        );
        // Another client gets only what is free.
        assert_eq!(
            t.lock("g", "c2", vec![mq(1), mq(2)], now, LIVE),
            vec![mq(2)]
        );
        // The holder renews.
        assert_eq!(t.lock("g", "c1", vec![mq(1)], now, LIVE), vec![mq(1)]);
        // Expired locks go to whoever asks.
        let later = now + LIVE + Duration::from_secs(1);
        assert_eq!(t.lock("g", "c2", vec![mq(0)], later, LIVE), vec![mq(0)]);
        // Unlock releases only one's own.
        t.unlock("g", "c1", &[mq(0), mq(1)]);
        assert_eq!(
            t.lock("g", "c3", vec![mq(0), mq(1)], later, LIVE),
            vec![mq(1)]
        );
    }
}
