//! The consume queues of a shard, found by `(topic, queue id)` without
//! allocating a key on the append path.

use rustc_hash::FxHashMap;

use crate::consume_queue::ConsumeQueue;
use crate::offset::QueueKey;

/// Keys are the shard's own topics and queue ids, not attacker-chosen in a
/// way that matters here (a topic must be created first), so a fast
/// non-keyed hash does: every append looks its queue up.
#[derive(Default)]
pub struct QueueTable {
    by_topic: FxHashMap<String, FxHashMap<u32, ConsumeQueue>>,
}

impl QueueTable {
    pub fn get_by(&self, topic: &str, queue_id: u32) -> Option<&ConsumeQueue> {
        self.by_topic.get(topic)?.get(&queue_id)
    }
    pub fn get_mut_by(&mut self, topic: &str, queue_id: u32) -> Option<&mut ConsumeQueue> {
        self.by_topic.get_mut(topic)?.get_mut(&queue_id)
    }
    pub fn get(&self, key: &QueueKey) -> Option<&ConsumeQueue> {
        self.get_by(&key.topic, key.queue_id)
    }
    pub fn get_mut(&mut self, key: &QueueKey) -> Option<&mut ConsumeQueue> {
        self.get_mut_by(&key.topic, key.queue_id)
    }
    pub fn contains_key(&self, key: &QueueKey) -> bool {
        self.get(key).is_some()
    }
    /// Inserts unless present; returns the queue held.
    pub fn insert_if_absent(&mut self, key: QueueKey, q: ConsumeQueue) -> &mut ConsumeQueue {
        self.by_topic
            .entry(key.topic)
            .or_default()
            .entry(key.queue_id)
            .or_insert(q)
    }
    /// Removes every queue of `topic`; returns their ids.
    pub fn remove_topic(&mut self, topic: &str) -> Vec<u32> {
        self.by_topic
            .remove(topic)
            .map(|qs| qs.into_keys().collect())
            .unwrap_or_default()
    }
    pub fn len(&self) -> usize {
        self.by_topic.values().map(FxHashMap::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn iter(&self) -> impl Iterator<Item = (QueueKey, &ConsumeQueue)> {
        self.by_topic.iter().flat_map(|(t, qs)| {
            qs.iter()
                .map(move |(id, q)| (QueueKey::new(t.clone(), *id), q))
        })
    }
    pub fn keys(&self) -> impl Iterator<Item = QueueKey> + '_ {
        self.iter().map(|(k, _)| k)
    }
}
