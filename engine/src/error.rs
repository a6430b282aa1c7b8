//! Operating errors of the engine. Bugs are assertions; everything a client or
//! the disk can cause is one of these values, with enough context to act on.

use std::path::PathBuf;

/// What went wrong, as a value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation failed; `op` says which, `path` where.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A previous write or fdatasync failed: nothing more is acknowledged.
    #[error("commitlog of shard {shard} is poisoned by an earlier I/O failure: {cause}")]
    Poisoned { shard: u16, cause: String },
    /// The message breaks a limit (body, topic, properties, batch size).
    #[error("message illegal: {0}")]
    MessageIllegal(String),
    /// The properties string is longer than 32767 bytes.
    #[error("properties too long: {len} bytes, limit {limit}")]
    PropertiesTooLong { len: usize, limit: usize },
    /// Disk use is above the refuse-writes watermark.
    #[error("disk full: {used_percent}% used, writes refused above {limit_percent}%")]
    DiskFull {
        used_percent: u32,
        limit_percent: u32,
    },
    /// The store directory is held by another process.
    #[error("store {path} is locked by another process (lock file {path}/lock)")]
    Locked { path: PathBuf },
    /// The store was created with another shard count.
    #[error("store {path} was created with {recorded} shards, refusing to open it with {requested}; re-sharding is not supported")]
    ShardCountMismatch {
        path: PathBuf,
        recorded: u16,
        requested: u16,
    },
    /// A file on disk does not have the expected shape.
    #[error("corrupt store file {path}: {what}")]
    Corrupt { path: PathBuf, what: String },
    /// A configuration value is invalid.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// The store is shutting down.
    #[error("store is shutting down")]
    ShuttingDown,
}

impl StoreError {
    /// Wraps an I/O error with the operation and path it came from.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Result alias of the engine.
pub type Result<T> = std::result::Result<T, StoreError>;
