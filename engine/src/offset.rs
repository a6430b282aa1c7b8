//! Strong types for the three kinds of position the engine deals in. They never
//! convert into each other implicitly.

use std::fmt;

/// Bits below the shard id in a physical offset: each shard owns a 64 PiB
/// window of the broker-wide offset space, so an offset msgId (store host +
/// physical offset) names exactly one record in exactly one shard.
pub const SHARD_SHIFT: u32 = 56;

/// A byte position in the broker-wide commitlog address space
/// (`PHYSICALOFFSET` of a record, the offset in an offset msgId).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogOffset(pub u64);

impl LogOffset {
    /// First offset of a shard's window.
    pub fn shard_base(shard: u16) -> LogOffset {
        LogOffset((shard as u64) << SHARD_SHIFT)
    }
    /// The shard whose window holds this offset.
    pub fn shard(self) -> u16 {
        (self.0 >> SHARD_SHIFT) as u16
    }
    pub fn plus(self, n: u64) -> LogOffset {
        LogOffset(self.0 + n)
    }
}

impl fmt::Debug for LogOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}:{}", self.shard(), self.0 & ((1 << SHARD_SHIFT) - 1))
    }
}

/// The index of a message in its consume queue (`QUEUEOFFSET`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct QueueOffset(pub u64);

/// A queue: topic plus queue id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct QueueKey {
    pub topic: String,
    pub queue_id: u32,
}

impl QueueKey {
    pub fn new(topic: impl Into<String>, queue_id: u32) -> Self {
        QueueKey {
            topic: topic.into(),
            queue_id,
        }
    }
}

/// A stable 32-bit hash of a topic name (FNV-1a), used for shard placement.
/// It must never change: placement of existing queues depends on it.
pub fn stable_topic_hash(topic: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in topic.as_bytes() {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Which shard owns queue `(topic, queue_id)`: `(hash(topic) + qid) % shards`,
/// so the queues of one topic spread over all shards.
pub fn shard_of(topic: &str, queue_id: u32, shards: u16) -> u16 {
    assert!(shards > 0);
    ((stable_topic_hash(topic) as u64 + queue_id as u64) % shards as u64) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_spreads_a_topic_over_all_shards() {
        for shards in 1..8u16 {
            let mut seen = vec![false; shards as usize];
            for q in 0..shards as u32 {
                seen[shard_of("TopicTest", q, shards) as usize] = true;
            }
            assert!(seen.iter().all(|s| *s), "shards={shards}");
        }
    }

    #[test]
    fn placement_is_stable() {
        // Changing the hash would move existing queues to other shards.
        assert_eq!(stable_topic_hash(""), 0x811c_9dc5);
        assert_eq!(stable_topic_hash("TopicTest"), 0x9bb6_8d60);
    }

    #[test]
    fn shard_is_in_top_bits() {
        let o = LogOffset::shard_base(3).plus(12345);
        assert_eq!(o.shard(), 3);
        assert!(o.0 < i64::MAX as u64);
    }
}
