//! JSON command header (serialize type 0, reference §1.4).
//!
//! Reading uses serde_json and is lenient the way fastjson is: keys in any
//! order, unknown keys ignored, every key optional (Java defaults), language
//! as a name or an ordinal, extFields values as strings or scalars.
//!
//! Writing imitates fastjson so closely that a decoded Java header re-encodes
//! to the same bytes: compact form, top-level keys in alphabetical order,
//! null members omitted, `extFields` as `{}` when present but empty,
//! extFields entries in the map's order, non-ASCII text as raw UTF-8, and
//! control characters escaped (`\b \t \n \f \r`, otherwise `\u00XX` with
//! uppercase hex).

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::code::LanguageCode;
use crate::error::CodecError;
use crate::ext_fields::ExtFields;
use crate::header::{RemotingCommand, SerializeType};

/// Wire shape of the JSON header. Every member defaults like the Java field
/// initialisers (`language = JAVA`, numbers 0, strings null).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireHeader {
    #[serde(default)]
    code: i32,
    #[serde(default)]
    language: Option<WireLanguage>,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default)]
    ext_fields: Option<ExtFields>,
    // `serializeTypeCurrentRPC` is a Java getter artefact; the frame's type
    // byte is authoritative, so the member is ignored like any unknown key.
}

/// `language` as fastjson accepts it: the enum name or its ordinal.
struct WireLanguage(LanguageCode);

impl<'de> Deserialize<'de> for WireLanguage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WireLanguage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a LanguageCode name or ordinal")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireLanguage, E> {
                LanguageCode::from_java_name(v)
                    .map(WireLanguage)
                    .ok_or_else(|| E::custom(format!("unknown language {v:?}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireLanguage, E> {
                u8::try_from(v)
                    .map(|b| WireLanguage(LanguageCode::from_byte(b)))
                    .map_err(|_| E::custom(format!("language ordinal {v} out of range")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireLanguage, E> {
                u8::try_from(v)
                    .map(|b| WireLanguage(LanguageCode::from_byte(b)))
                    .map_err(|_| E::custom(format!("language ordinal {v} out of range")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Decodes a JSON header. The returned command has an empty body and
/// `serialize_type == Json`.
pub fn decode_json_header(header: &[u8]) -> Result<RemotingCommand, CodecError> {
    // serde would also fill a struct from a JSON array, positionally; a
    // header is only ever an object.
    if header.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(CodecError::InvalidJsonHeader(
            "header is not a JSON object".to_owned(),
        ));
    }
    let wire: WireHeader =
        serde_json::from_slice(header).map_err(|e| CodecError::InvalidJsonHeader(e.to_string()))?;
    Ok(RemotingCommand {
        code: wire.code,
        language: wire.language.map_or(LanguageCode::Java, |l| l.0),
        version: wire.version,
        opaque: wire.opaque,
        flag: wire.flag,
        remark: wire.remark,
        ext_fields: wire.ext_fields,
        serialize_type: SerializeType::Json,
        body: Default::default(),
    })
}

/// Appends the JSON header of `cmd` to `out` (the body is not written).
pub fn encode_json_header(cmd: &RemotingCommand, out: &mut BytesMut) {
    out.put_slice(b"{\"code\":");
    put_int(out, cmd.code as i64);
    if let Some(ext) = &cmd.ext_fields {
        out.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in ext.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            put_json_string(out, k);
            out.put_u8(b':');
            put_json_string(out, v);
        }
        out.put_u8(b'}');
    }
    out.put_slice(b",\"flag\":");
    put_int(out, cmd.flag as i64);
    out.put_slice(b",\"language\":");
    match cmd.language.java_name() {
        Some(name) => put_json_string(out, name),
        // No name to write; fastjson also accepts the ordinal.
        None => put_int(out, cmd.language.to_byte() as i64),
    }
    out.put_slice(b",\"opaque\":");
    put_int(out, cmd.opaque as i64);
    if let Some(remark) = &cmd.remark {
        out.put_slice(b",\"remark\":");
        put_json_string(out, remark);
    }
    // Java always emits this getter artefact, and for a JSON header it always
    // says JSON; writing it keeps the output identical to Java's.
    out.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    put_int(out, cmd.version as i64);
    out.put_u8(b'}');
}

fn put_int(out: &mut BytesMut, v: i64) {
    out.put_slice(v.to_string().as_bytes());
}

/// Writes a JSON string literal with fastjson's escaping.
pub(crate) fn put_json_string(out: &mut BytesMut, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\u{8}' => Some(b"\\b"),
            '\t' => Some(b"\\t"),
            '\n' => Some(b"\\n"),
            '\u{c}' => Some(b"\\f"),
            '\r' => Some(b"\\r"),
            _ => None,
        };
        // C0 controls must be escaped in JSON; DEL and the C1 controls are
        // escaped too (as fastjson does), which every JSON reader accepts.
        let unicode_escape = escape.is_none() && (c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c));
        if escape.is_none() && !unicode_escape {
            continue;
        }
        out.put_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.put_slice(e),
            None => {
                let n = c as u32;
                out.put_slice(b"\\u00");
                out.put_u8(HEX[((n >> 4) & 0xF) as usize]);
                out.put_u8(HEX[(n & 0xF) as usize]);
            }
        }
        start = i + c.len_utf8();
    }
    out.put_slice(&bytes[start..]);
    out.put_u8(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(cmd: &RemotingCommand) -> String {
        let mut b = BytesMut::new();
        encode_json_header(cmd, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn reference_example_round_trips() {
        let text = r#"{"code":105,"extFields":{"topic":"TopicTest"},"flag":0,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":407}"#;
        assert_eq!(text.len(), 131);
        let cmd = decode_json_header(text.as_bytes()).unwrap();
        assert_eq!(cmd.code, 105);
        assert_eq!(cmd.ext_field("topic"), Some("TopicTest"));
        assert_eq!(enc(&cmd), text);
    }

    #[test]
    fn lenient_reading() {
        let cmd = decode_json_header(br#"{"opaque":3,"language":0,"x":[1,{}],"code":34}"#).unwrap();
        assert_eq!(
            (cmd.code, cmd.opaque, cmd.language),
            (34, 3, LanguageCode::Java)
        );
        assert_eq!(cmd.ext_fields, None);
        let cmd = decode_json_header(br#"{"language":"RUST"}"#).unwrap();
        assert_eq!(cmd.language, LanguageCode::Rust);
        assert!(decode_json_header(br#"{"language":"KLINGON"}"#).is_err());
        assert!(decode_json_header(br#"{"code":"x"}"#).is_err());
        assert!(decode_json_header(br#"[]"#).is_err());
        assert!(decode_json_header(br#"{} x"#).is_err());
    }

    #[test]
    fn escaping() {
        let cmd = RemotingCommand {
            remark: Some("a\"b\\c\n\u{1}\u{2}\u{7f}Gr\u{f6}\u{df}e".to_owned()),
            ..Default::default()
        };
        let s = enc(&cmd);
        let expected = format!(
            r#""remark":"a\"b\\c\n\u0001\u0002\u007FGr{}e""#,
            "\u{f6}\u{df}"
        );
        assert!(s.contains(&expected), "{s}");
        let back = decode_json_header(s.as_bytes()).unwrap();
        assert_eq!(back.remark, cmd.remark);
    }
}
