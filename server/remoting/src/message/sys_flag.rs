//! Flag bits: the message SYSFLAG (Java `MessageSysFlag`, reference §5.4)
//! and the pull request's sysFlag (Java `PullSysFlag`, §6.1). Both stay
//! plain `i32`s on the wire and in headers; these types only name the bits
//! and read them.

/// Bits of a message's SYSFLAG (send header `f`, stored record field 8).
#[derive(Debug, Clone, Copy)]
pub struct MessageSysFlag;

impl MessageSysFlag {
    /// Body compressed.
    pub const COMPRESSED_FLAG: i32 = 0x1;
    /// Topic filter type MULTI_TAG (set by the broker from the topic config).
    pub const MULTI_TAGS_FLAG: i32 = 0x1 << 1;
    /// Transaction type: none.
    pub const TRANSACTION_NOT_TYPE: i32 = 0;
    /// Transaction type: prepared (half message).
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x1 << 2;
    /// Transaction type: commit.
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x2 << 2;
    /// Transaction type: rollback (also the mask of the two type bits).
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0x3 << 2;
    /// BORNHOST is IPv6 (20 bytes).
    pub const BORNHOST_V6_FLAG: i32 = 0x1 << 4;
    /// STOREHOST is IPv6 (20 bytes).
    pub const STOREHOSTADDRESS_V6_FLAG: i32 = 0x1 << 5;
    /// 5.x inner batch.
    pub const NEED_UNWRAP_FLAG: i32 = 0x1 << 6;
    /// 5.x inner batch.
    pub const INNER_BATCH_FLAG: i32 = 0x1 << 7;
    /// Compression type LZ4.
    pub const COMPRESSION_LZ4_TYPE: i32 = 0x1 << 8;
    /// Compression type ZSTD.
    pub const COMPRESSION_ZSTD_TYPE: i32 = 0x2 << 8;
    /// Compression type ZLIB.
    pub const COMPRESSION_ZLIB_TYPE: i32 = 0x3 << 8;
    /// Mask of the compression type bits.
    pub const COMPRESSION_TYPE_COMPARATOR: i32 = 0x7 << 8;

    /// The transaction-type bits (`getTransactionValue`).
    pub const fn transaction_value(flag: i32) -> i32 {
        flag & Self::TRANSACTION_ROLLBACK_TYPE
    }

    /// Replaces the transaction-type bits (`resetTransactionValue`).
    pub const fn reset_transaction_value(flag: i32, ty: i32) -> i32 {
        (flag & !Self::TRANSACTION_ROLLBACK_TYPE) | ty
    }

    /// Clears COMPRESSED_FLAG (`clearCompressedFlag`).
    pub const fn clear_compressed_flag(flag: i32) -> i32 {
        flag & !Self::COMPRESSED_FLAG
    }

    /// Whether COMPRESSED_FLAG is set.
    pub const fn is_compressed(flag: i32) -> bool {
        flag & Self::COMPRESSED_FLAG != 0
    }

    /// Whether BORNHOST is IPv6.
    pub const fn born_host_v6(flag: i32) -> bool {
        flag & Self::BORNHOST_V6_FLAG != 0
    }

    /// Whether STOREHOST is IPv6.
    pub const fn store_host_v6(flag: i32) -> bool {
        flag & Self::STOREHOSTADDRESS_V6_FLAG != 0
    }

    /// The compression algorithm of a compressed body
    /// (`getCompressionType`): type bits 0 (old clients) and 3 are ZLIB,
    /// 1 LZ4, 2 ZSTD; `None` for the undefined values 4..7.
    pub const fn compression_type(flag: i32) -> Option<CompressionType> {
        match (flag & Self::COMPRESSION_TYPE_COMPARATOR) >> 8 {
            1 => Some(CompressionType::Lz4),
            2 => Some(CompressionType::Zstd),
            0 | 3 => Some(CompressionType::Zlib),
            _ => None,
        }
    }
}

/// Body compression algorithms (`CompressionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionType {
    /// LZ4 frame.
    Lz4,
    /// Zstandard.
    Zstd,
    /// zlib stream (RFC 1950), Java's `Deflater`.
    Zlib,
}

impl CompressionType {
    /// The SYSFLAG bits of this type (`getCompressionFlag`).
    pub const fn sys_flag_bits(self) -> i32 {
        match self {
            CompressionType::Lz4 => MessageSysFlag::COMPRESSION_LZ4_TYPE,
            CompressionType::Zstd => MessageSysFlag::COMPRESSION_ZSTD_TYPE,
            CompressionType::Zlib => MessageSysFlag::COMPRESSION_ZLIB_TYPE,
        }
    }
}

/// The transaction type held in SYSFLAG bits 2–3 (also END_TRANSACTION's
/// `commitOrRollback` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// Not transactional (also "unknown" in END_TRANSACTION).
    Not,
    /// Half message.
    Prepared,
    /// Commit.
    Commit,
    /// Rollback.
    Rollback,
}

impl TransactionType {
    /// Reads the type bits of a SYSFLAG.
    pub const fn from_sys_flag(flag: i32) -> Self {
        match MessageSysFlag::transaction_value(flag) {
            MessageSysFlag::TRANSACTION_PREPARED_TYPE => TransactionType::Prepared,
            MessageSysFlag::TRANSACTION_COMMIT_TYPE => TransactionType::Commit,
            MessageSysFlag::TRANSACTION_ROLLBACK_TYPE => TransactionType::Rollback,
            _ => TransactionType::Not,
        }
    }

    /// The SYSFLAG bits of this type.
    pub const fn sys_flag_bits(self) -> i32 {
        match self {
            TransactionType::Not => MessageSysFlag::TRANSACTION_NOT_TYPE,
            TransactionType::Prepared => MessageSysFlag::TRANSACTION_PREPARED_TYPE,
            TransactionType::Commit => MessageSysFlag::TRANSACTION_COMMIT_TYPE,
            TransactionType::Rollback => MessageSysFlag::TRANSACTION_ROLLBACK_TYPE,
        }
    }
}

/// Bits of PULL_MESSAGE's `sysFlag`.
#[derive(Debug, Clone, Copy)]
pub struct PullSysFlag;

impl PullSysFlag {
    /// Header `commitOffset` is valid; store it as the group's offset.
    pub const FLAG_COMMIT_OFFSET: i32 = 0x1;
    /// The broker may hold the request (long polling).
    pub const FLAG_SUSPEND: i32 = 0x1 << 1;
    /// Header `subscription`/`expressionType` is authoritative.
    pub const FLAG_SUBSCRIPTION: i32 = 0x1 << 2;
    /// Legacy class-filter mode.
    pub const FLAG_CLASS_FILTER: i32 = 0x1 << 3;
    /// Set by lite-pull consumers.
    pub const FLAG_LITE_PULL_MESSAGE: i32 = 0x1 << 4;

    /// Builds a flag (`buildSysFlag`).
    pub const fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
        lite_pull: bool,
    ) -> i32 {
        (if commit_offset {
            Self::FLAG_COMMIT_OFFSET
        } else {
            0
        }) | (if suspend { Self::FLAG_SUSPEND } else { 0 })
            | (if subscription {
                Self::FLAG_SUBSCRIPTION
            } else {
                0
            })
            | (if class_filter {
                Self::FLAG_CLASS_FILTER
            } else {
                0
            })
            | (if lite_pull {
                Self::FLAG_LITE_PULL_MESSAGE
            } else {
                0
            })
    }

    /// Clears FLAG_COMMIT_OFFSET (`clearCommitOffsetFlag`).
    pub const fn clear_commit_offset_flag(flag: i32) -> i32 {
        flag & !Self::FLAG_COMMIT_OFFSET
    }

    /// Whether FLAG_COMMIT_OFFSET is set.
    pub const fn has_commit_offset_flag(flag: i32) -> bool {
        flag & Self::FLAG_COMMIT_OFFSET != 0
    }

    /// Whether FLAG_SUSPEND is set.
    pub const fn has_suspend_flag(flag: i32) -> bool {
        flag & Self::FLAG_SUSPEND != 0
    }

    /// Whether FLAG_SUBSCRIPTION is set.
    pub const fn has_subscription_flag(flag: i32) -> bool {
        flag & Self::FLAG_SUBSCRIPTION != 0
    }

    /// Whether FLAG_CLASS_FILTER is set.
    pub const fn has_class_filter_flag(flag: i32) -> bool {
        flag & Self::FLAG_CLASS_FILTER != 0
    }

    /// Whether FLAG_LITE_PULL_MESSAGE is set.
    pub const fn has_lite_pull_flag(flag: i32) -> bool {
        flag & Self::FLAG_LITE_PULL_MESSAGE != 0
    }
}

// The transaction mask covers exactly the three non-zero types.
const _: () = assert!(
    MessageSysFlag::TRANSACTION_PREPARED_TYPE | MessageSysFlag::TRANSACTION_COMMIT_TYPE
        == MessageSysFlag::TRANSACTION_ROLLBACK_TYPE
);
// Every compression type lies inside the compression mask.
const _: () = assert!(
    (MessageSysFlag::COMPRESSION_LZ4_TYPE
        | MessageSysFlag::COMPRESSION_ZSTD_TYPE
        | MessageSysFlag::COMPRESSION_ZLIB_TYPE)
        & !MessageSysFlag::COMPRESSION_TYPE_COMPARATOR
        == 0
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sys_flag() {
        // The golden compressed record: COMPRESSED | ZLIB << 8.
        assert_eq!(
            MessageSysFlag::compression_type(769),
            Some(CompressionType::Zlib)
        );
        assert!(MessageSysFlag::is_compressed(769));
        assert_eq!(MessageSysFlag::clear_compressed_flag(769), 768);
        assert_eq!(
            MessageSysFlag::compression_type(1),
            Some(CompressionType::Zlib)
        );
        assert_eq!(
            MessageSysFlag::compression_type(0x101),
            Some(CompressionType::Lz4)
        );
        assert_eq!(
            MessageSysFlag::compression_type(0x201),
            Some(CompressionType::Zstd)
        );
        assert_eq!(MessageSysFlag::compression_type(0x401), None);
        assert_eq!(CompressionType::Zlib.sys_flag_bits(), 0x300);
        assert_eq!(MessageSysFlag::reset_transaction_value(0x4 | 0x1, 0x8), 0x9);
        assert_eq!(
            TransactionType::from_sys_flag(0x4 | 0x2),
            TransactionType::Prepared
        );
        assert_eq!(
            TransactionType::from_sys_flag(0xC),
            TransactionType::Rollback
        );
        assert_eq!(TransactionType::from_sys_flag(0x30), TransactionType::Not);
        for t in [
            TransactionType::Not,
            TransactionType::Prepared,
            TransactionType::Commit,
            TransactionType::Rollback,
        ] {
            assert_eq!(TransactionType::from_sys_flag(t.sys_flag_bits()), t);
        }
        assert!(MessageSysFlag::born_host_v6(0x10));
        assert!(!MessageSysFlag::store_host_v6(0x10));
        assert!(MessageSysFlag::store_host_v6(0x20));
    }

    #[test]
    fn pull_sys_flag() {
        // What the golden pulls carry: push 2/3, pull consumer 4/6.
        assert_eq!(PullSysFlag::build(false, true, false, false, false), 2);
        assert_eq!(PullSysFlag::build(true, true, false, false, false), 3);
        assert_eq!(PullSysFlag::build(false, false, true, false, false), 4);
        assert_eq!(PullSysFlag::build(false, true, true, false, false), 6);
        assert_eq!(PullSysFlag::build(true, true, true, true, true), 0x1f);
        assert!(PullSysFlag::has_commit_offset_flag(3));
        assert_eq!(PullSysFlag::clear_commit_offset_flag(3), 2);
        assert!(PullSysFlag::has_suspend_flag(6));
        assert!(PullSysFlag::has_subscription_flag(6));
        assert!(!PullSysFlag::has_class_filter_flag(6));
        assert!(PullSysFlag::has_lite_pull_flag(0x10));
    }
}
