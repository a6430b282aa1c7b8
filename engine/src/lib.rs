//! ringmq storage engine: a shard-per-core commitlog on direct I/O with
//! consume queues, a key index, crash recovery and retention. No sockets, no
//! protocol: `server/` builds the broker on top of it.
//!
//! Layers, dependencies one way:
//! - [`record`], [`offset`], [`limits`], [`error`]: formats, strong types, limits;
//! - [`disk`] (trait + glommio) and [`fault_disk`] (crash-test implementation);
//! - [`segmented`]: segment files + aligned tail cache + write-back;
//!   [`zero_fill`]: new commitlog segments written with zeros ahead of use;
//! - [`commitlog`], [`consume_queue`], [`queue_table`], [`index`], [`checkpoint`]: the structures;
//! - [`store`]: one shard's store (append, reads, flush, recovery, retention);
//! - [`shard`]: placement, the store root (lock, shard count), starting shards.

pub mod aligned;
pub mod checkpoint;
pub mod commitlog;
pub mod config;
pub mod consume_queue;
pub mod disk;
pub mod env;
pub mod error;
pub mod fault_disk;
pub mod index;
pub mod limits;
pub mod log_ring;
pub mod notify;
pub mod offset;
pub mod queue_table;
pub mod record;
pub mod segmented;
pub mod shard;
pub mod store;
pub mod zero_fill;

pub use config::{FlushMode, StoreConfig};
pub use env::{Clock, DiskUsage, ShardEnv};
pub use error::{Result, StoreError};
pub use offset::{shard_of, LogOffset, QueueKey, QueueOffset};
pub use record::MessageInput;
pub use store::{
    AppendResult, Appended, GetResult, GetStatus, RetentionReport, ShardStore, StoreStats,
};
