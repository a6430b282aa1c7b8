//! Queue offset queries (reference §3.3): GET_MAX_OFFSET (30),
//! GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32) and
//! SEARCH_OFFSET_BY_TIMESTAMP (29).
//!
//! LITE_PULL_MESSAGE (361, 5.x) needs nothing here: it carries the same
//! `PullMessageRequestHeader` as PULL_MESSAGE (with the lite-pull sysFlag
//! bit).

use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// GET_MAX_OFFSET request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetMaxOffsetRequestHeader {
    /// `topic`.
    pub topic: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `committed` (5.x, default true): max of the committed (replicated)
    /// part only.
    pub committed: Option<bool>,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
}

impl GetMaxOffsetRequestHeader {
    /// `committed` with the Java default applied.
    pub fn committed_or_default(&self) -> bool {
        self.committed.unwrap_or(true)
    }
}

impl CommandCustomHeader for GetMaxOffsetRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            topic: r.req_str("topic")?,
            queue_id: r.req_i32("queueId")?,
            committed: r.opt_bool("committed"),
            bname: r.opt_str("bname"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("topic", &self.topic)
            .value("queueId", self.queue_id)
            .opt_value("committed", self.committed)
            .opt_str("bname", self.bname.as_deref());
    }
}

/// Defines a `topic` + `queueId` + `bname` request header.
macro_rules! topic_queue_header {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// `topic`.
            pub topic: String,
            /// `queueId`.
            pub queue_id: i32,
            /// `bname` (4.9.x+).
            pub bname: Option<String>,
        }

        impl CommandCustomHeader for $name {
            fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
                let r = FieldReader::new(fields);
                Ok(Self {
                    topic: r.req_str("topic")?,
                    queue_id: r.req_i32("queueId")?,
                    bname: r.opt_str("bname"),
                })
            }

            fn to_ext_fields(&self, fields: &mut ExtFields) {
                FieldWriter::new(fields)
                    .str("topic", &self.topic)
                    .value("queueId", self.queue_id)
                    .opt_str("bname", self.bname.as_deref());
            }
        }
    };
}

topic_queue_header! {
    /// GET_MIN_OFFSET request header.
    GetMinOffsetRequestHeader
}

topic_queue_header! {
    /// GET_EARLIEST_MSG_STORETIME request header.
    GetEarliestMsgStoretimeRequestHeader
}

/// Defines a response header with one mandatory `long`.
macro_rules! long_response_header {
    ($(#[$doc:meta])* $name:ident { $(#[$fdoc:meta])* $field:ident => $key:literal }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $(#[$fdoc])*
            pub $field: i64,
        }

        impl CommandCustomHeader for $name {
            fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
                Ok(Self {
                    $field: FieldReader::new(fields).req_i64($key)?,
                })
            }

            fn to_ext_fields(&self, fields: &mut ExtFields) {
                FieldWriter::new(fields).value($key, self.$field);
            }
        }
    };
}

long_response_header! {
    /// GET_MAX_OFFSET response header.
    GetMaxOffsetResponseHeader {
        /// `offset`: next offset to be written (0 if the queue is unknown).
        offset => "offset"
    }
}

long_response_header! {
    /// GET_MIN_OFFSET response header.
    GetMinOffsetResponseHeader {
        /// `offset`: the queue's min offset.
        offset => "offset"
    }
}

long_response_header! {
    /// GET_EARLIEST_MSG_STORETIME response header.
    GetEarliestMsgStoretimeResponseHeader {
        /// `timestamp`: store time of the message at the min offset (-1 if
        /// none).
        timestamp => "timestamp"
    }
}

long_response_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP response header.
    SearchOffsetResponseHeader {
        /// `offset`: the offset found (0 if nothing).
        offset => "offset"
    }
}

/// 5.x `BoundaryType` of SEARCH_OFFSET_BY_TIMESTAMP: which neighbour to
/// answer when no message has exactly the timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BoundaryType {
    /// The lower bound (the default).
    #[default]
    Lower,
    /// The upper bound.
    Upper,
}

impl BoundaryType {
    /// Java's reading (`BoundaryType.getType`): `upper` in any case is
    /// Upper, anything else Lower.
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("upper") {
            BoundaryType::Upper
        } else {
            BoundaryType::Lower
        }
    }

    /// What Java's header encoder writes (the enum constant's name).
    pub fn java_name(self) -> &'static str {
        match self {
            BoundaryType::Lower => "LOWER",
            BoundaryType::Upper => "UPPER",
        }
    }
}

/// SEARCH_OFFSET_BY_TIMESTAMP request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchOffsetRequestHeader {
    /// `topic`.
    pub topic: String,
    /// `queueId`.
    pub queue_id: i32,
    /// `timestamp`: store time to search for, ms.
    pub timestamp: i64,
    /// `boundaryType` (5.x; absent means Lower).
    pub boundary_type: Option<BoundaryType>,
    /// `bname` (4.9.x+).
    pub bname: Option<String>,
}

impl CommandCustomHeader for SearchOffsetRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            topic: r.req_str("topic")?,
            queue_id: r.req_i32("queueId")?,
            timestamp: r.req_i64("timestamp")?,
            boundary_type: r.raw("boundaryType").map(BoundaryType::parse),
            bname: r.opt_str("bname"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("topic", &self.topic)
            .value("queueId", self.queue_id)
            .value("timestamp", self.timestamp)
            .opt_str(
                "boundaryType",
                self.boundary_type.map(BoundaryType::java_name),
            )
            .opt_str("bname", self.bname.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(pairs: &[(&str, &str)]) -> ExtFields {
        pairs.iter().copied().collect()
    }

    #[test]
    fn max_offset_committed_defaults_to_true() {
        let f = ext(&[("topic", "T"), ("queueId", "0"), ("bname", "broker-a")]);
        let h = GetMaxOffsetRequestHeader::from_ext_fields(&f).unwrap();
        assert!(h.committed_or_default());
        assert_eq!(h.to_new_ext_fields(), f);
        let h = GetMaxOffsetRequestHeader::from_ext_fields(&ext(&[
            ("topic", "T"),
            ("queueId", "0"),
            ("committed", "false"),
        ]))
        .unwrap();
        assert!(!h.committed_or_default());
    }

    #[test]
    fn search_offset_boundary_type() {
        let f = ext(&[
            ("topic", "T"),
            ("queueId", "1"),
            ("timestamp", "5"),
            ("boundaryType", "upper"),
        ]);
        let h = SearchOffsetRequestHeader::from_ext_fields(&f).unwrap();
        assert_eq!(h.boundary_type, Some(BoundaryType::Upper));
        assert_eq!(h.to_new_ext_fields().get("boundaryType"), Some("UPPER"));
        assert_eq!(BoundaryType::parse("x"), BoundaryType::Lower);
        assert_eq!(
            SearchOffsetRequestHeader::from_ext_fields(&ext(&[("topic", "T"), ("queueId", "1")])),
            Err(HeaderError::MissingField("timestamp"))
        );
    }

    #[test]
    fn response_headers() {
        let h = GetEarliestMsgStoretimeResponseHeader { timestamp: -1 };
        let w = h.to_new_ext_fields();
        assert_eq!(w.get("timestamp"), Some("-1"));
        assert_eq!(
            GetEarliestMsgStoretimeResponseHeader::from_ext_fields(&w).unwrap(),
            h
        );
        assert!(GetMinOffsetResponseHeader::from_ext_fields(&ext(&[("offset", "x")])).is_err());
    }
}
