//! CHECK_CLIENT_CONFIG (46) request body (`CheckClientRequestBody`,
//! reference §4.8): `{"clientId":…,"group":…,"subscriptionData":<SubscriptionData>}`.
//! A 4.9.7 push consumer sends it at start for every non-TAG subscription
//! and fails to start unless the broker answers SUCCESS.

use serde::Deserialize;

use crate::body::connection::write_subscription_data;
use crate::body::fastjson::{self, ObjectWriter};
use crate::error::HeaderError;
use crate::heartbeat::SubscriptionData;

/// The body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckClientRequestBody {
    /// `clientId`.
    pub client_id: String,
    /// `group`: consumer group.
    pub group: String,
    /// `namespace` (5.x).
    pub namespace: Option<String>,
    /// `subscriptionData`: the subscription to check (expression type and
    /// expression).
    pub subscription_data: Option<SubscriptionData>,
}

impl CheckClientRequestBody {
    /// The JSON body.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.str("clientId", &self.client_id)
            .str("group", &self.group)
            .opt_str("namespace", self.namespace.as_deref());
        if let Some(sd) = &self.subscription_data {
            o.with("subscriptionData", |out| write_subscription_data(out, sd));
        }
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
    fn round_trip() {
        let body = br#"{"clientId":"10.0.0.5@1","group":"g","subscriptionData":{"classFilterMode":false,"codeSet":[],"expressionType":"SQL92","subString":"a > 5","subVersion":1700000000000,"tagsSet":[],"topic":"T"}}"#;
        let b = CheckClientRequestBody::decode(body).unwrap();
        let sd = b.subscription_data.as_ref().unwrap();
        assert_eq!(sd.expression_type, "SQL92");
        assert_eq!(sd.sub_string, "a > 5");
        assert_eq!(b.namespace, None);
        assert_eq!(b.encode(), body.to_vec());
        assert!(CheckClientRequestBody::decode(b"{\"clientId\":1").is_err());
    }
}
