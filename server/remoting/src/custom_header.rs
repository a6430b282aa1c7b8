//! Typed views of `extFields` ("custom headers" in Java).
//!
//! Every command-specific header travels as strings in `extFields`; a typed
//! header parses them once, with the Java parsing rules (reference §1.3):
//! decimal integers with an optional sign, booleans that are `true` only for
//! a case-insensitive "true", unknown keys ignored. Unlike Java, which logs a
//! missing mandatory field and carries on with a default, parsing here fails
//! with [`HeaderError::MissingField`]: Java clients always send those fields,
//! and a clear error beats a later failure on a zero value.

use crate::error::HeaderError;
use crate::ext_fields::ExtFields;

/// A header that maps to and from `extFields`.
pub trait CommandCustomHeader: Sized {
    /// Parses the header from the command's extFields.
    fn from_ext_fields(fields: &ExtFields) -> Result<Self, HeaderError>;

    /// Writes the header's fields into `fields`. Fields that Java declares
    /// as wrapper types (`Integer`, `String`, ...) are skipped when `None`;
    /// primitive ones are always written, as Java does.
    fn to_ext_fields(&self, fields: &mut ExtFields);

    /// Convenience: a fresh extFields map holding only this header.
    fn to_new_ext_fields(&self) -> ExtFields {
        let mut fields = ExtFields::new();
        self.to_ext_fields(&mut fields);
        fields
    }
}

/// Reads typed values out of extFields with Java's parsing rules.
#[derive(Debug, Clone, Copy)]
pub struct FieldReader<'a> {
    fields: &'a ExtFields,
}

impl<'a> FieldReader<'a> {
    /// Wraps a map.
    pub fn new(fields: &'a ExtFields) -> Self {
        Self { fields }
    }

    /// A raw value.
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.fields.get(name)
    }

    /// A mandatory string.
    pub fn req_str(&self, name: &'static str) -> Result<String, HeaderError> {
        self.opt_str(name).ok_or(HeaderError::MissingField(name))
    }

    /// An optional string.
    pub fn opt_str(&self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    /// A mandatory `int`.
    pub fn req_i32(&self, name: &'static str) -> Result<i32, HeaderError> {
        self.opt_i32(name)?.ok_or(HeaderError::MissingField(name))
    }

    /// An optional `Integer`.
    pub fn opt_i32(&self, name: &'static str) -> Result<Option<i32>, HeaderError> {
        self.parse_num(name, "a 32-bit decimal integer")
    }

    /// A mandatory `long`.
    pub fn req_i64(&self, name: &'static str) -> Result<i64, HeaderError> {
        self.opt_i64(name)?.ok_or(HeaderError::MissingField(name))
    }

    /// An optional `Long`.
    pub fn opt_i64(&self, name: &'static str) -> Result<Option<i64>, HeaderError> {
        self.parse_num(name, "a 64-bit decimal integer")
    }

    /// A primitive `boolean`: absent means `false`, as a Java field default.
    pub fn bool_or_false(&self, name: &str) -> bool {
        self.opt_bool(name).unwrap_or(false)
    }

    /// An optional `Boolean`. Any text other than a case-insensitive "true"
    /// is `false` (`Boolean.parseBoolean`), so this never fails.
    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.raw(name).map(|v| v.eq_ignore_ascii_case("true"))
    }

    fn parse_num<T: std::str::FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, HeaderError> {
        match self.raw(name) {
            None => Ok(None),
            // Rust's integer parser matches Integer.parseInt/Long.parseLong
            // on ASCII input: optional '+'/'-', decimal digits, range-checked.
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|_| HeaderError::InvalidField {
                    field: name,
                    value: v.to_owned(),
                    expected,
                }),
        }
    }
}

/// Writes typed values into extFields in Java's text form.
#[derive(Debug)]
pub struct FieldWriter<'a> {
    fields: &'a mut ExtFields,
}

impl<'a> FieldWriter<'a> {
    /// Wraps a map.
    pub fn new(fields: &'a mut ExtFields) -> Self {
        Self { fields }
    }

    /// Writes a string.
    pub fn str(&mut self, name: &str, value: &str) -> &mut Self {
        self.fields.insert(name, value);
        self
    }

    /// Writes a string if present.
    pub fn opt_str(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.fields.insert(name, v);
        }
        self
    }

    /// Writes a number or boolean (anything whose `Display` is Java's text).
    pub fn value(&mut self, name: &str, value: impl ToString) -> &mut Self {
        self.fields.insert(name, value.to_string());
        self
    }

    /// Writes a number or boolean if present.
    pub fn opt_value<T: ToString>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.fields.insert(name, v.to_string());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_parsing_rules() {
        let m: ExtFields = [
            ("a", "+5"),
            ("b", "-7"),
            ("c", "TRUE"),
            ("d", "yes"),
            ("e", "x"),
        ]
        .into_iter()
        .collect();
        let r = FieldReader::new(&m);
        assert_eq!(r.req_i32("a"), Ok(5));
        assert_eq!(r.req_i64("b"), Ok(-7));
        assert!(r.bool_or_false("c"));
        assert!(!r.bool_or_false("d"));
        assert!(!r.bool_or_false("zz"));
        assert_eq!(r.opt_bool("zz"), None);
        assert_eq!(r.req_i32("zz"), Err(HeaderError::MissingField("zz")));
        assert!(matches!(
            r.req_i32("e"),
            Err(HeaderError::InvalidField { field: "e", .. })
        ));
        let big: ExtFields = [("n", "2147483648")].into_iter().collect();
        assert!(FieldReader::new(&big).req_i32("n").is_err());
        assert_eq!(FieldReader::new(&big).req_i64("n"), Ok(2147483648));
    }
}
