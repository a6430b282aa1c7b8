//! Group-list bodies (reference §3.3, §3.5, §4.6):
//!
//! * [`GetConsumerListByGroupResponseBody`] (GET_CONSUMER_LIST_BY_GROUP):
//!   `{"consumerIdList":["<clientId>",...]}`;
//! * [`GroupList`] (QUERY_TOPIC_CONSUME_BY_WHO). Java 4.9.7's member is
//!   `groupList` (getter `getGroupList`), so the body is
//!   `{"groupList":["g1",...]}`.

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter};
use crate::error::HeaderError;

/// GET_CONSUMER_LIST_BY_GROUP response body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerListByGroupResponseBody {
    /// `consumerIdList`: client ids of the group's live consumers.
    pub consumer_id_list: Vec<String>,
}

impl GetConsumerListByGroupResponseBody {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("consumerIdList", |out| {
            fastjson::write_string_array(out, &self.consumer_id_list)
        });
        o.finish();
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

/// QUERY_TOPIC_CONSUME_BY_WHO response body (`GroupList`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    /// `groupList` (a Java `HashSet`).
    pub group_list: Vec<String>,
}

impl GroupList {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("groupList", |out| {
            fastjson::write_string_array(out, &self.group_list)
        });
        o.finish();
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let body = br#"{"consumerIdList":["192.0.2.2@vec-pull@STREAM"]}"#;
        let b = GetConsumerListByGroupResponseBody::decode(body).unwrap();
        assert_eq!(b.consumer_id_list, ["192.0.2.2@vec-pull@STREAM"]);
        assert_eq!(b.encode(), body.to_vec());
        let g = GroupList {
            group_list: vec!["g1".into(), "g2".into()],
        };
        assert_eq!(g.encode(), br#"{"groupList":["g1","g2"]}"#.to_vec());
        assert_eq!(GroupList::decode(&g.encode()).unwrap(), g);
        assert_eq!(
            GetConsumerListByGroupResponseBody::decode(b"{}").unwrap(),
            GetConsumerListByGroupResponseBody::default()
        );
    }
}
