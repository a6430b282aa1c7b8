//! Every named limit of the engine, in one place.
//!
//! A limit exists so that no input (from a client, from disk) can make the
//! engine allocate without bound or loop forever. Violations are reported as
//! [`crate::StoreError`] values, never as panics.

/// Largest message body accepted by default (`maxMessageSize`, 4 MiB in Apache).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Extra room above the body limit for the fixed fields, topic and properties
/// (Apache refuses records larger than `maxMessageSize + 64 KiB`).
pub const RECORD_OVERHEAD_ALLOWANCE: usize = 64 * 1024;
/// Longest topic name in a v1 record: its length is one signed byte.
pub const MAX_TOPIC_BYTES: usize = 127;
/// Longest properties string: its length is a signed 16-bit integer.
pub const MAX_PROPERTIES_BYTES: usize = i16::MAX as usize;
/// Most messages in one append (one batch send).
pub const MAX_BATCH_MESSAGES: usize = 4096;
/// Most index keys taken from one message (`UNIQ_KEY` first, then `KEYS` tokens).
pub const MAX_KEYS_PER_MESSAGE: usize = 64;
/// Largest queue id accepted.
pub const MAX_QUEUE_ID: u32 = 1 << 16;
/// Most shards a store may have (physical offsets carry the shard in their top bits).
pub const MAX_SHARDS: u16 = 127;
/// Largest single read from the commitlog in one call (a pull answer).
pub const MAX_READ_BYTES: usize = 64 * 1024 * 1024;
/// Most messages one pull returns (Apache caps pull batches at 32 by default, 1024 hard).
pub const MAX_PULL_MESSAGES: usize = 1024;
/// Most keys collected by one query by key (`maxMsgsNumBatch` in Apache).
pub const MAX_QUERY_RESULTS: usize = 64;
/// Most index chain links followed in one file for one key (bounds a corrupt chain).
pub const MAX_INDEX_CHAIN: usize = 1 << 20;
/// Largest I/O issued to a file in one request.
pub const MAX_IO_BYTES: usize = 1024 * 1024;
/// Alignment of every direct I/O (buffer address, file position, length).
pub const IO_ALIGN: usize = 4096;
/// Most queues a shard may hold (bounds the checkpoint manifest).
pub const MAX_QUEUES_PER_SHARD: usize = 1 << 20;
/// Largest checkpoint file read at start (bounds the allocation from its length field).
pub const MAX_CHECKPOINT_BYTES: usize = 256 * 1024 * 1024;

const _: () = assert!(IO_ALIGN.is_power_of_two());
const _: () = assert!(MAX_IO_BYTES.is_multiple_of(IO_ALIGN));
const _: () = assert!(MAX_TOPIC_BYTES <= i8::MAX as usize);
