//! LOCK_BATCH_MQ (41) / UNLOCK_BATCH_MQ (42) bodies (reference §4.7, §9.4):
//!
//! ```text
//! {"clientId":"…","consumerGroup":"my_group","mqSet":[<MessageQueue>,...]}
//! {"lockOKMQSet":[<MessageQueue>,...]}
//! ```
//!
//! 5.x adds `onlyThisBroker` to the requests (broker-to-broker strict lock
//! mode); it is kept when present.

use serde::Deserialize;

use crate::body::fastjson::{self, ObjectWriter};
use crate::body::message_queue::{write_mq_array, MessageQueue};
use crate::error::HeaderError;

/// LOCK_BATCH_MQ request body (`LockBatchRequestBody`); UNLOCK_BATCH_MQ's
/// `UnlockBatchRequestBody` has the same members.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    /// `clientId`: the client asking.
    pub client_id: String,
    /// `consumerGroup`.
    pub consumer_group: String,
    /// `mqSet`: queues of this broker group to (un)lock.
    pub mq_set: Vec<MessageQueue>,
    /// `onlyThisBroker` (5.x).
    pub only_this_broker: Option<bool>,
}

/// UNLOCK_BATCH_MQ request body: the same members as the lock request.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

impl LockBatchRequestBody {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.str("clientId", &self.client_id)
            .str("consumerGroup", &self.consumer_group)
            .with("mqSet", |out| write_mq_array(out, &self.mq_set));
        if let Some(only) = self.only_this_broker {
            o.bool("onlyThisBroker", only);
        }
        o.finish();
        s.into_bytes()
    }

    /// Parses a body.
    pub fn decode(body: &[u8]) -> Result<Self, HeaderError> {
        fastjson::from_slice(body)
    }
}

/// LOCK_BATCH_MQ response body (`LockBatchResponseBody`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// `lockOKMQSet`: the requested queues now locked by the client.
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

impl LockBatchResponseBody {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("lockOKMQSet", |out| {
            write_mq_array(out, &self.lock_ok_mq_set)
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
    fn reference_example() {
        let body = br#"{"clientId":"10.0.0.5@12345#9876543210","consumerGroup":"my_group","mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"TopicTest"},{"brokerName":"broker-a","queueId":1,"topic":"TopicTest"}]}"#;
        let b = LockBatchRequestBody::decode(body).unwrap();
        assert_eq!(b.mq_set.len(), 2);
        assert_eq!(b.mq_set[1], MessageQueue::new("TopicTest", "broker-a", 1));
        assert_eq!(b.encode(), body.to_vec());
        let five = LockBatchRequestBody {
            only_this_broker: Some(false),
            ..b.clone()
        };
        let enc = five.encode();
        assert!(enc.ends_with(br#"],"onlyThisBroker":false}"#));
        assert_eq!(UnlockBatchRequestBody::decode(&enc).unwrap(), five);
        let r = LockBatchResponseBody {
            lock_ok_mq_set: b.mq_set,
        };
        assert_eq!(LockBatchResponseBody::decode(&r.encode()).unwrap(), r);
        assert_eq!(
            LockBatchResponseBody::default().encode(),
            br#"{"lockOKMQSet":[]}"#.to_vec()
        );
    }
}
