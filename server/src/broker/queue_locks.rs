//! Ordered consumption: LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (reference §9.4).
//!
//! The lock table of a group lives on the group's owner shard, next to its
//! membership: one hop for a whole batch of queues. A lock is held by a
//! client id and expires 60 s after its last renewal
//! (`rocketmq.broker.rebalance.lockMaxLiveTime`); orderly consumers renew
//! every 20 s.

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

/// Apache's broker-side lock lifetime.
pub const LOCK_MAX_LIVE: Duration = Duration::from_secs(60);

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
    ) -> Vec<MessageQueue> {
        let table = self.groups.entry(group.to_string()).or_default();
        let mut held = Vec::new();
        for mq in mqs {
            let ok = match table.get(&mq) {
                None => true,
                Some(l) => l.client_id == client || now.duration_since(l.renewed) > LOCK_MAX_LIVE,
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
    let owner = shard.group_owner(&body.consumer_group);
    let held = shard
        .on_owner(owner, move |s| async move {
            s.locks.borrow_mut().lock(
                &body.consumer_group,
                &body.client_id,
                body.mq_set,
                Instant::now(),
            )
        })
        .await
        .unwrap_or_default();
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
    let owner = shard.group_owner(&body.consumer_group);
    shard
        .on_owner(owner, move |s| async move {
            s.locks
                .borrow_mut()
                .unlock(&body.consumer_group, &body.client_id, &body.mq_set)
        })
        .await;
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
        let mut t = LockTable::default();
        let now = Instant::now();
        assert_eq!(
            t.lock("g", "c1", vec![mq(0), mq(1)], now),
            vec![mq(0), mq(1)]
        );
        // Another client gets only what is free.
        assert_eq!(t.lock("g", "c2", vec![mq(1), mq(2)], now), vec![mq(2)]);
        // The holder renews.
        assert_eq!(t.lock("g", "c1", vec![mq(1)], now), vec![mq(1)]);
        // Expired locks go to whoever asks.
        let later = now + LOCK_MAX_LIVE + Duration::from_secs(1);
        assert_eq!(t.lock("g", "c2", vec![mq(0)], later), vec![mq(0)]);
        // Unlock releases only one's own.
        t.unlock("g", "c1", &[mq(0), mq(1)]);
        assert_eq!(t.lock("g", "c3", vec![mq(0), mq(1)], later), vec![mq(1)]);
    }
}
