//! The logical remoting command (reference §1.3): the fields both header
//! encodings carry, plus the body and the encoding the command travelled in.

use bytes::Bytes;

use crate::code::{LanguageCode, RequestCode, ResponseCode};
use crate::custom_header::CommandCustomHeader;
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;
use crate::version::CURRENT_VERSION;

/// `flag` bit 0: the command is a response. Receivers tell requests from
/// responses by this bit alone.
pub const FLAG_RESPONSE: i32 = 0x1;
/// `flag` bit 1: the request expects no response, not even an error.
pub const FLAG_ONEWAY: i32 = 0x2;

/// Header encoding, carried in the high byte of the header-length word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// fastjson-style JSON object (type 0, the Java default).
    #[default]
    Json,
    /// `RocketMQSerializable` binary layout (type 1).
    RocketMq,
}

impl SerializeType {
    /// The byte in the header-length word.
    pub fn to_byte(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    /// Decodes the header-length word's high byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }

    /// The name Java uses (`JSON`, `ROCKETMQ`).
    pub fn name(self) -> &'static str {
        match self {
            SerializeType::Json => "JSON",
            SerializeType::RocketMq => "ROCKETMQ",
        }
    }
}

/// One remoting command: a request or a response.
///
/// `serialize_type` records the encoding the command arrived in (or should
/// be sent in). Responses built with [`RemotingCommand::response_to`] copy it
/// from the request, so a client that speaks ROCKETMQ gets ROCKETMQ back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code or response code, depending on [`FLAG_RESPONSE`].
    pub code: i32,
    /// Sender's implementation language.
    pub language: LanguageCode,
    /// Sender's version ordinal (see [`crate::version`]).
    pub version: i32,
    /// Request id; a response carries its request's opaque.
    pub opaque: i32,
    /// [`FLAG_RESPONSE`] / [`FLAG_ONEWAY`] bits.
    pub flag: i32,
    /// Free text, usually an error message on responses.
    pub remark: Option<String>,
    /// Command-specific header fields. `None` and an empty map are different
    /// in JSON (`extFields` omitted vs `{}`); the binary header cannot tell
    /// them apart and decodes both as `None`.
    pub ext_fields: Option<ExtFields>,
    /// Encoding of the header (`serializeTypeCurrentRPC` in Java).
    pub serialize_type: SerializeType,
    /// Payload; empty means "no body" (Java `body == null`).
    pub body: Bytes,
}

impl Default for RemotingCommand {
    fn default() -> Self {
        Self {
            code: 0,
            language: LanguageCode::Java,
            version: CURRENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: None,
            serialize_type: SerializeType::Json,
            body: Bytes::new(),
        }
    }
}

impl RemotingCommand {
    /// A request with the given code and opaque, sent as JAVA /
    /// [`CURRENT_VERSION`] in JSON.
    pub fn new_request(code: RequestCode, opaque: i32) -> Self {
        Self {
            code: code.to_i32(),
            opaque,
            ..Self::default()
        }
    }

    /// A response to `request`: same opaque, same serialize type, RESPONSE
    /// flag set.
    pub fn response_to(
        request: &RemotingCommand,
        code: ResponseCode,
        remark: Option<String>,
    ) -> Self {
        Self {
            code: code.to_i32(),
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            remark,
            serialize_type: request.serialize_type,
            ..Self::default()
        }
    }

    /// Whether flag bit 0 (RESPONSE) is set.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether flag bit 1 (ONEWAY) is set.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// Sets the RESPONSE bit.
    pub fn mark_response(&mut self) {
        self.flag |= FLAG_RESPONSE;
    }

    /// Sets the ONEWAY bit.
    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }

    /// `code` read as a request code (meaningful for requests only).
    pub fn request_code(&self) -> RequestCode {
        RequestCode::from_i32(self.code)
    }

    /// `code` read as a response code (meaningful for responses only).
    pub fn response_code(&self) -> ResponseCode {
        ResponseCode::from_i32(self.code)
    }

    /// One extFields value.
    pub fn ext_field(&self, key: &str) -> Option<&str> {
        self.ext_fields.as_ref().and_then(|m| m.get(key))
    }

    /// The extFields map, created empty if the command had none.
    pub fn ext_fields_mut(&mut self) -> &mut ExtFields {
        self.ext_fields.get_or_insert_with(ExtFields::new)
    }

    /// Parses the extFields into a typed header.
    pub fn decode_header<H: CommandCustomHeader>(&self) -> Result<H, HeaderError> {
        static EMPTY: ExtFields = ExtFields::EMPTY;
        H::from_ext_fields(self.ext_fields.as_ref().unwrap_or(&EMPTY))
    }

    /// Writes a typed header into the extFields (creating them; entries with
    /// other keys, e.g. hook fields, are kept).
    pub fn encode_header<H: CommandCustomHeader>(&mut self, header: &H) {
        header.to_ext_fields(self.ext_fields_mut());
    }

    /// Builder-style body setter.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Builder-style remark setter.
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.remark = Some(remark.into());
        self
    }
}
