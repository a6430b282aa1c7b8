//! GET_ROUTEINFO_BY_TOPIC (105) header.

use crate::custom_header::{CommandCustomHeader, FieldReader, FieldWriter};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// Route query header.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetRouteInfoRequestHeader {
    /// `topic`.
    pub topic: String,
    /// `acceptStandardJsonOnly`: asks for a strict-JSON route body. Java
    /// clients never set it; they get strict JSON by version (≥ 4.9.4).
    pub accept_standard_json_only: Option<bool>,
}

impl CommandCustomHeader for GetRouteInfoRequestHeader {
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError> {
        let r = FieldReader::new(fields);
        Ok(Self {
            topic: r.req_str("topic")?,
            accept_standard_json_only: r.opt_bool("acceptStandardJsonOnly"),
        })
    }

    fn to_ext_fields(&self, fields: &mut ExtFields) {
        FieldWriter::new(fields)
            .str("topic", &self.topic)
            .opt_value("acceptStandardJsonOnly", self.accept_standard_json_only);
    }
}
