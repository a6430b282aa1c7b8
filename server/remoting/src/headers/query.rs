//! QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33) headers (reference
//! §3.3). Both responses carry stored message records as their body
//! (`crate::message::iter_stored_messages`). VIEW_MESSAGE_BY_ID's response
//! has no header fields (Java's `ViewMessageResponseHeader` is empty).

use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// Raw ext field the 4.9.7 client always adds to QUERY_MESSAGE (Java
/// `MixAll.UNIQUE_MSG_QUERY_FLAG`): `"true"` for a query by UNIQ_KEY,
/// `"false"` for a query by key.
pub const EXT_UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

/// QUERY_MESSAGE request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryMessageRequestHeader {
    /// `topic`.
    pub topic: String,
    /// `key`: a KEYS entry, or the UNIQ_KEY.
    pub key: String,
    /// `maxNum`: most messages wanted (the broker uses its
    /// `defaultQueryMaxNum` for a UNIQ_KEY query).
    pub max_num: i32,
    /// `beginTimestamp`: store-time range start, ms.
    pub begin_timestamp: i64,
    /// `endTimestamp`: store-time range end, ms.
    pub end_timestamp: i64,
    /// The [`EXT_UNIQUE_KEY_QUERY`] ext field (not part of Java's header
    /// class, but read by the broker next to it): `Some(true)` for a query
    /// by UNIQ_KEY. Written after the header fields when present.
    pub unique_key_query: Option<bool>,
}

impl CommandCustomHeader for QueryMessageRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            topic: r.req_str("topic")?,
            key: r.req_str("key")?,
            max_num: r.req_i32("maxNum")?,
            begin_timestamp: r.req_i64("beginTimestamp")?,
            end_timestamp: r.req_i64("endTimestamp")?,
            unique_key_query: r.opt_bool(EXT_UNIQUE_KEY_QUERY),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("topic", &self.topic)
            .str("key", &self.key)
            .value("maxNum", self.max_num)
            .value("beginTimestamp", self.begin_timestamp)
            .value("endTimestamp", self.end_timestamp)
            .opt_value(EXT_UNIQUE_KEY_QUERY, self.unique_key_query);
    }
}

/// QUERY_MESSAGE response header (SUCCESS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryMessageResponseHeader {
    /// `indexLastUpdateTimestamp`: store time of the newest indexed message.
    pub index_last_update_timestamp: i64,
    /// `indexLastUpdatePhyoffset`: commit-log offset of the newest indexed
    /// message.
    pub index_last_update_phyoffset: i64,
}

impl CommandCustomHeader for QueryMessageResponseHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            index_last_update_timestamp: r.req_i64("indexLastUpdateTimestamp")?,
            index_last_update_phyoffset: r.req_i64("indexLastUpdatePhyoffset")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .value("indexLastUpdateTimestamp", self.index_last_update_timestamp)
            .value("indexLastUpdatePhyoffset", self.index_last_update_phyoffset);
    }
}

/// VIEW_MESSAGE_BY_ID request header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ViewMessageRequestHeader {
    /// `offset`: commit-log offset (from an offset message id).
    pub offset: i64,
}

impl CommandCustomHeader for ViewMessageRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        Ok(Self {
            offset: FieldReader::new(fields).req_i64("offset")?,
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields).value("offset", self.offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_message_keeps_the_unique_key_flag() {
        let f: ExtFields = [
            ("topic", "T"),
            ("key", "k"),
            ("maxNum", "32"),
            ("beginTimestamp", "0"),
            ("endTimestamp", "9223372036854775807"),
            ("_UNIQUE_KEY_QUERY", "false"),
        ]
        .into_iter()
        .collect();
        let h = QueryMessageRequestHeader::from_ext_fields(&f).unwrap();
        assert_eq!(h.unique_key_query, Some(false));
        assert_eq!(h.end_timestamp, i64::MAX);
        assert_eq!(h.to_new_ext_fields(), f);
        let v = ViewMessageRequestHeader { offset: 254 };
        assert_eq!(
            ViewMessageRequestHeader::from_ext_fields(&v.to_new_ext_fields()).unwrap(),
            v
        );
    }
}
