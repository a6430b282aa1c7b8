//! fastjson compatibility (reference §4.1): read what Java's fastjson 1.2.x
//! writes, and write what it would write.
//!
//! # Reading
//!
//! * [`from_slice`] parses a body into any `serde::Deserialize` type. It
//!   tries strict JSON first (the common case, no extra cost); if that
//!   fails it rewrites the text with [`normalize`] and tries again.
//! * [`normalize`] turns fastjson's non-standard output into RFC 8259 JSON:
//!   unquoted numeric keys (`{0:"a"}` ⇒ `{"0":"a"}`), identifier keys
//!   (`{a:1}` ⇒ `{"a":1}`), object or array keys (rule 6,
//!   `{{"queueId":0}:5}` ⇒ `{"{\"queueId\":0}":5}`: the key becomes a
//!   string holding the key's compact JSON text, which the caller parses
//!   again, e.g. with `serde_json::from_str::<MessageQueue>`),
//!   single-quoted strings, `\x41` escapes and trailing commas.
//! * [`OrderedMap`] deserializes a JSON object keeping its member order, so
//!   a Java body can be re-encoded byte for byte.
//!
//! # Writing
//!
//! Bodies are written by hand rather than through serde so the bytes match
//! fastjson's: members in alphabetical order, `null` members left out,
//! fastjson's string escaping, and the non-standard key forms.
//!
//! * [`ObjectWriter`] writes `{"a":..,"b":..}`; debug builds assert that
//!   members come in alphabetical order, as fastjson sorts them.
//! * [`write_str`] / [`write_str_styled`] write a string literal, with
//!   fastjson's default escaping or the `BrowserCompatible` one
//!   ([`Escaping`]).
//! * [`write_string_array`] writes `["a","b"]`.
//! * [`write_string_keyed_map`] writes `{"k":v}` (`Map<String, V>`).
//! * [`write_numeric_keyed_map`] writes `{0:v}` (`Map<Long|Integer, V>`,
//!   default encoding); [`write_quoted_numeric_keyed_map`] writes `{"0":v}`
//!   (the `BrowserCompatible` form used for route bodies).
//! * [`write_object_keyed_map`] writes
//!   `{{"brokerName":"b","queueId":0,"topic":"T"}:v}` (`Map<MessageQueue,
//!   V>`, rule 6). Keys and values are JSON texts the caller produced
//!   (typically with an [`ObjectWriter`]).
//!
//! Map entries are written in the order given. Java writes a `HashMap` in
//! its bucket order; [`sort_java_hash_order`] (with [`java_string_hash`],
//! [`java_long_hash`] and [`java_table_capacity`]) reproduces that order
//! when byte-identical output matters.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::HeaderError;

/// Deepest nesting of objects and arrays [`normalize`] accepts (serde_json
/// has the same limit); deeper input is rejected instead of exhausting the
/// stack.
pub const MAX_DEPTH: usize = 128;

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Parses a fastjson-written body: strict JSON first, then the
/// [`normalize`]d text.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HeaderError> {
    let strict_err = match serde_json::from_slice::<T>(bytes) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let text = normalize(bytes)
        .map_err(|e| HeaderError::InvalidBody(format!("{strict_err}; fastjson reading: {e}")))?;
    serde_json::from_str(&text).map_err(|e| HeaderError::InvalidBody(e.to_string()))
}

/// Rewrites fastjson output as strict, compact JSON (whitespace outside
/// strings is dropped). See the module documentation for what is accepted.
pub fn normalize(bytes: &[u8]) -> Result<String, HeaderError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| HeaderError::InvalidBody(format!("body is not UTF-8: {e}")))?;
    let mut n = Normalizer {
        text,
        bytes,
        pos: 0,
        depth: 0,
    };
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 8);
    n.skip_ws();
    n.value(&mut out)?;
    n.skip_ws();
    if n.pos != bytes.len() {
        return Err(n.err("trailing characters after the JSON value"));
    }
    Ok(out)
}

struct Normalizer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Normalizer<'_> {
    fn err(&self, what: &str) -> HeaderError {
        HeaderError::InvalidBody(format!("{what} at byte {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self, out: &mut String) -> Result<(), HeaderError> {
        match self.peek() {
            Some(b'{') => self.object(out),
            Some(b'[') => self.array(out),
            Some(q @ (b'"' | b'\'')) => self.string(out, q),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => {
                let num = self.number_text();
                out.push_str(num.strip_prefix('+').unwrap_or(num));
                Ok(())
            }
            Some(c) if is_ident_start(c) => {
                let word = self.ident();
                match word {
                    "true" | "false" | "null" => out.push_str(word),
                    "undefined" => out.push_str("null"),
                    _ => return Err(self.err("unexpected identifier")),
                }
                Ok(())
            }
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn enter(&mut self) -> Result<(), HeaderError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn object(&mut self, out: &mut String) -> Result<(), HeaderError> {
        self.enter()?;
        self.pos += 1; // '{'
        out.push('{');
        let mut first = true;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') if !first => {
                    // A separator directly followed by '}' is a trailing
                    // comma; a doubled comma is an error.
                    return Err(self.err("unexpected ','"));
                }
                None => return Err(self.err("unterminated object")),
                _ => {}
            }
            if !first {
                out.push(',');
            }
            first = false;
            self.key(out)?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.pos += 1;
            out.push(':');
            self.skip_ws();
            self.value(out)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
        out.push('}');
        self.depth -= 1;
        Ok(())
    }

    fn array(&mut self, out: &mut String) -> Result<(), HeaderError> {
        self.enter()?;
        self.pos += 1; // '['
        out.push('[');
        let mut first = true;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') => return Err(self.err("unexpected ','")),
                None => return Err(self.err("unterminated array")),
                _ => {}
            }
            if !first {
                out.push(',');
            }
            first = false;
            self.value(out)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
        out.push(']');
        self.depth -= 1;
        Ok(())
    }

    /// An object key, written as a JSON string.
    fn key(&mut self, out: &mut String) -> Result<(), HeaderError> {
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.string(out, q),
            Some(b'{' | b'[') => {
                // Rule 6: the key is itself JSON; keep its compact text.
                let mut inner = String::new();
                self.value(&mut inner)?;
                write_str(out, &inner);
                Ok(())
            }
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => {
                let num = self.number_text();
                write_str(out, num.strip_prefix('+').unwrap_or(num));
                Ok(())
            }
            Some(c) if is_ident_start(c) => {
                let word = self.ident();
                write_str(out, word);
                Ok(())
            }
            Some(_) => Err(self.err("unexpected character in object key")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn number_text(&mut self) -> &str {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn ident(&mut self) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_ident_start(c) || c.is_ascii_digit() {
                self.pos += 1;
            } else {
                break;
            }
        }
        &self.text[start..self.pos]
    }

    /// A string delimited by `quote`, rewritten with double quotes.
    fn string(&mut self, out: &mut String, quote: u8) -> Result<(), HeaderError> {
        self.pos += 1; // opening quote
        out.push('"');
        let mut run = self.pos; // start of bytes not yet copied
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            if b == quote {
                out.push_str(&self.text[run..self.pos]);
                self.pos += 1;
                break;
            }
            match b {
                b'\\' => {
                    out.push_str(&self.text[run..self.pos]);
                    let Some(e) = self.bytes.get(self.pos + 1).copied() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 2;
                    match e {
                        b'"' => out.push_str("\\\""),
                        b'\'' => out.push('\''),
                        b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            out.push('\\');
                            out.push(e as char);
                        }
                        b'u' => {
                            let hex = self.hex_digits(4)?;
                            out.push_str("\\u");
                            out.push_str(hex);
                        }
                        b'x' => {
                            let hex = self.hex_digits(2)?;
                            out.push_str("\\u00");
                            out.push_str(hex);
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                    run = self.pos;
                }
                b'"' => {
                    // Only reachable inside a single-quoted string.
                    out.push_str(&self.text[run..self.pos]);
                    out.push_str("\\\"");
                    self.pos += 1;
                    run = self.pos;
                }
                0..=0x1f => {
                    out.push_str(&self.text[run..self.pos]);
                    push_unicode_escape(out, u16::from(b));
                    self.pos += 1;
                    run = self.pos;
                }
                _ => self.pos += 1,
            }
        }
        out.push('"');
        Ok(())
    }

    fn hex_digits(&mut self, n: usize) -> Result<&str, HeaderError> {
        let end = self.pos + n;
        match self.bytes.get(self.pos..end) {
            Some(h) if h.iter().all(u8::is_ascii_hexdigit) => {
                let s = &self.text[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => Err(self.err("invalid hex escape")),
        }
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$'
}

/// A JSON object read with its member order kept (Java `HashMap` and
/// `ConcurrentHashMap` bodies come in bucket order; keeping it lets a
/// decoded body be written back byte for byte). A repeated key keeps its
/// first position and its last value, as a Java map would.
///
/// Lookups are linear scans; build a `HashMap` for heavy lookup use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V> OrderedMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key`; an existing entry keeps its position. Returns the old
    /// value.
    pub fn insert(&mut self, key: impl Into<String>, value: V) -> Option<V> {
        let key = key.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(idx).1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Values in order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries, in order.
    pub fn into_entries(self) -> Vec<(String, V)> {
        self.entries
    }
}

impl<V> FromIterator<(String, V)> for OrderedMap<V> {
    fn from_iter<I: IntoIterator<Item = (String, V)>>(iter: I) -> Self {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut entries: Vec<(String, V)> = Vec::new();
        for (k, v) in iter {
            match index.get(&k) {
                Some(&i) => entries[i].1 = v,
                None => {
                    index.insert(k.clone(), entries.len());
                    entries.push((k, v));
                }
            }
        }
        Self { entries }
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    entries.push((k, v));
                }
                Ok(entries.into_iter().collect())
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                // `null` where a map is expected: Java leaves the field null,
                // which every reader treats as empty.
                Ok(OrderedMap::new())
            }
        }

        deserializer.deserialize_any(MapVisitor(PhantomData))
    }
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// String escaping of the two fastjson modes the Java servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escaping {
    /// `JSON.toJSONString` default: `"` `\` and controls escaped, DEL and
    /// C1 controls as `\u00XX`, everything else (including non-ASCII) raw.
    #[default]
    Default,
    /// `SerializerFeature.BrowserCompatible`: additionally `/` as `\/` and
    /// every UTF-16 unit ≥ 0x7F as `\uXXXX` (upper-case hex).
    BrowserCompatible,
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_unicode_escape(out: &mut String, unit: u16) {
    out.push_str("\\u");
    for shift in [12u16, 8, 4, 0] {
        out.push(HEX_UPPER[usize::from((unit >> shift) & 0xF)] as char);
    }
}

/// Writes `s` as a JSON string literal with fastjson's default escaping.
pub fn write_str(out: &mut String, s: &str) {
    write_str_styled(out, s, Escaping::Default);
}

/// Writes `s` as a JSON string literal with the given escaping.
pub fn write_str_styled(out: &mut String, s: &str, escaping: Escaping) {
    let browser = escaping == Escaping::BrowserCompatible;
    out.push('"');
    let mut run = 0;
    for (i, c) in s.char_indices() {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{c}' => Some("\\f"),
            '\r' => Some("\\r"),
            '/' if browser => Some("\\/"),
            _ => None,
        };
        let unicode = short.is_none()
            && (c < ' '
                || (browser && c >= '\u{7f}')
                || (!browser && ('\u{7f}'..='\u{9f}').contains(&c)));
        if short.is_none() && !unicode {
            continue;
        }
        out.push_str(&s[run..i]);
        match short {
            Some(e) => out.push_str(e),
            None => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_unicode_escape(out, *unit);
                }
            }
        }
        run = i + c.len_utf8();
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Writes one JSON object member by member. fastjson orders members
/// alphabetically (Java `String.compareTo`, i.e. by UTF-16 unit, which for
/// ASCII names is byte order); debug builds assert the caller does too.
/// Call [`ObjectWriter::finish`] to close the object.
#[must_use = "call finish() to close the object"]
pub struct ObjectWriter<'a> {
    out: &'a mut String,
    escaping: Escaping,
    last: Option<&'static str>,
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object with default escaping.
    pub fn new(out: &'a mut String) -> Self {
        Self::with_escaping(out, Escaping::Default)
    }

    /// Opens an object whose string values use `escaping`.
    pub fn with_escaping(out: &'a mut String, escaping: Escaping) -> Self {
        out.push('{');
        Self {
            out,
            escaping,
            last: None,
        }
    }

    fn name(&mut self, name: &'static str) {
        debug_assert!(
            self.last.is_none_or(|prev| prev < name),
            "member {name:?} written after {:?}: fastjson orders members alphabetically",
            self.last
        );
        if self.last.is_some() {
            self.out.push(',');
        }
        self.last = Some(name);
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
    }

    /// A member whose value is already JSON text.
    pub fn raw(&mut self, name: &'static str, json: &str) -> &mut Self {
        self.name(name);
        self.out.push_str(json);
        self
    }

    /// A member whose value the closure writes.
    pub fn with(&mut self, name: &'static str, f: impl FnOnce(&mut String)) -> &mut Self {
        self.name(name);
        f(self.out);
        self
    }

    /// A string member.
    pub fn str(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.name(name);
        write_str_styled(self.out, value, self.escaping);
        self
    }

    /// A string member, left out when `None` (fastjson skips nulls).
    pub fn opt_str(&mut self, name: &'static str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.str(name, v);
        }
        self
    }

    /// An integer member (`int`/`long`).
    pub fn int(&mut self, name: &'static str, value: i64) -> &mut Self {
        self.name(name);
        self.out.push_str(&value.to_string());
        self
    }

    /// A boolean member.
    pub fn bool(&mut self, name: &'static str, value: bool) -> &mut Self {
        self.name(name);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// Closes the object.
    pub fn finish(self) {
        self.out.push('}');
    }
}

/// `["a","b"]` with default escaping.
pub fn write_string_array<I, S>(out: &mut String, items: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    write_string_array_styled(out, items, Escaping::Default);
}

/// `["a","b"]` with the given escaping.
pub fn write_string_array_styled<I, S>(out: &mut String, items: I, escaping: Escaping)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    out.push('[');
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str_styled(out, s.as_ref(), escaping);
    }
    out.push(']');
}

fn write_map<K>(
    out: &mut String,
    entries: impl IntoIterator<Item = (K, String)>,
    key: impl Fn(&mut String, K),
) {
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        key(out, k);
        out.push(':');
        out.push_str(&v);
    }
    out.push('}');
}

/// `{"k":v,...}` (`Map<String, V>`); values are JSON texts.
pub fn write_string_keyed_map<K: AsRef<str>>(
    out: &mut String,
    entries: impl IntoIterator<Item = (K, String)>,
) {
    write_string_keyed_map_styled(out, entries, Escaping::Default);
}

/// `{"k":v,...}` with the given key escaping.
pub fn write_string_keyed_map_styled<K: AsRef<str>>(
    out: &mut String,
    entries: impl IntoIterator<Item = (K, String)>,
    escaping: Escaping,
) {
    write_map(out, entries, |out, k| {
        write_str_styled(out, k.as_ref(), escaping)
    });
}

/// `{0:v,1:v}`: fastjson's default form of `Map<Long|Integer, V>`, with
/// unquoted numeric keys (not valid RFC 8259 JSON; every Java peer expects
/// it). Values are JSON texts.
pub fn write_numeric_keyed_map(out: &mut String, entries: impl IntoIterator<Item = (i64, String)>) {
    write_map(out, entries, |out, k| out.push_str(&k.to_string()));
}

/// `{"0":v}`: the `BrowserCompatible` form of a numeric-keyed map.
pub fn write_quoted_numeric_keyed_map(
    out: &mut String,
    entries: impl IntoIterator<Item = (i64, String)>,
) {
    write_map(out, entries, |out, k| {
        out.push('"');
        out.push_str(&k.to_string());
        out.push('"');
    });
}

/// `{{...}:v,...}`: a map whose keys are objects (`Map<MessageQueue, V>`,
/// rule 6). Each entry is (key JSON text, value JSON text), e.g.
/// (`{"brokerName":"broker-a","queueId":0,"topic":"T"}`, `{"brokerOffset":10,...}`).
pub fn write_object_keyed_map<I>(out: &mut String, entries: I)
where
    I: IntoIterator<Item = (String, String)>,
{
    write_map(out, entries, |out, k: String| out.push_str(&k));
}

// ---------------------------------------------------------------------------
// Java HashMap iteration order
// ---------------------------------------------------------------------------

/// Java `String.hashCode()` (over UTF-16 units).
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// Java `Long.hashCode()`.
pub fn java_long_hash(v: i64) -> i32 {
    (v ^ ((v as u64) >> 32) as i64) as i32
}

/// Table size of a Java `HashMap` created with `initial_capacity`
/// (`new HashMap<>()` is 16; `HashSet()` likewise) after `len` insertions:
/// the next power of two, doubled while `len` exceeds 3/4 of it. Removals
/// never shrink a Java table, so after removals the real table may be
/// larger than this.
pub fn java_table_capacity(initial_capacity: usize, len: usize) -> usize {
    let mut cap = initial_capacity.max(1).next_power_of_two();
    while len.saturating_mul(4) > cap.saturating_mul(3) && cap < (1 << 30) {
        cap *= 2;
    }
    cap
}

/// Reorders `items`, given in insertion order, the way a Java `HashMap`
/// (or `HashSet`, or `ConcurrentHashMap` without resizes) with a table of
/// `capacity` buckets iterates them: by bucket index
/// `(h ^ (h >>> 16)) & (capacity - 1)`, and within a bucket in insertion
/// order (the sort is stable). Tree bins (8+ colliding keys) are not
/// modelled.
pub fn sort_java_hash_order<T>(items: &mut [T], capacity: usize, hash: impl Fn(&T) -> i32) {
    debug_assert!(capacity.is_power_of_two());
    let mask = (capacity.max(1) - 1) as u32;
    items.sort_by_cached_key(|item| {
        let h = hash(item) as u32;
        (h ^ (h >> 16)) & mask
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn norm(s: &str) -> String {
        normalize(s.as_bytes()).unwrap()
    }

    #[test]
    fn strict_json_passes_through() {
        let s = r#"{"a":[1,-2.5e3,true,false,null],"b":{"c":"x\"y\u00e9"}}"#;
        assert_eq!(norm(s), s);
    }

    #[test]
    fn fastjson_forms_become_strict() {
        assert_eq!(norm(r#"{0:"a",1:"b"}"#), r#"{"0":"a","1":"b"}"#);
        assert_eq!(norm(r#"{ a : 1 , $b_2:2, }"#), r#"{"a":1,"$b_2":2}"#);
        assert_eq!(
            norm(r#"['x"y', 'it\'s', "\x41"]"#),
            r#"["x\"y","it's","\u0041"]"#
        );
        assert_eq!(norm("[1,2,]"), "[1,2]");
        assert_eq!(norm("{\"a\":+1}"), "{\"a\":1}");
        assert_eq!(
            norm(r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"o":1}}}"#),
            r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":{"o":1}}}"#
        );
        // Whitespace inside an object key is dropped from the key text.
        assert_eq!(norm("{{ \"q\" : 1 }:2}"), r#"{"{\"q\":1}":2}"#);
        // Raw control characters in strings get escaped.
        assert_eq!(norm("[\"a\u{1}b\"]"), "[\"a\\u0001b\"]");
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "",
            "{",
            "[",
            "{\"a\"}",
            "{\"a\":}",
            "[1,,2]",
            "{,}",
            "{\"a\":1}x",
            "\"abc",
            "'a\\",
            "[\"\\q\"]",
            "[\"\\u12\"]",
            "{@:1}",
            "[foo]",
            "{\"a\":1,,}",
        ] {
            assert!(normalize(bad.as_bytes()).is_err(), "{bad:?} accepted");
        }
        assert!(normalize(&[b'"', 0xff, b'"']).is_err());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(normalize(deep.as_bytes()).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(normalize(ok.as_bytes()).is_ok());
    }

    #[test]
    fn from_slice_reads_numeric_keys() {
        let m: BTreeMap<i64, String> = from_slice(br#"{0:"a",1:"b"}"#).unwrap();
        assert_eq!(m[&0], "a");
        assert_eq!(m[&1], "b");
        let e = from_slice::<BTreeMap<i64, String>>(b"{0:").unwrap_err();
        assert!(matches!(e, HeaderError::InvalidBody(_)));
    }

    #[test]
    fn ordered_map_keeps_order_and_last_value() {
        let m: OrderedMap<i32> = from_slice(br#"{"z":1,"a":2,"z":3}"#).unwrap();
        let v: Vec<(&str, &i32)> = m.iter().collect();
        assert_eq!(v, vec![("z", &3), ("a", &2)]);
        let n: OrderedMap<i32> = from_slice(b"null").unwrap();
        assert!(n.is_empty());
    }

    #[test]
    fn escaping_modes() {
        let mut d = String::new();
        write_str(&mut d, "a/\"\\\n\u{1}\u{7f}é€");
        assert_eq!(d, "\"a/\\\"\\\\\\n\\u0001\\u007Fé€\"");
        let mut b = String::new();
        write_str_styled(&mut b, "a/é😀", Escaping::BrowserCompatible);
        assert_eq!(b, "\"a\\/\\u00E9\\uD83D\\uDE00\"");
    }

    #[test]
    fn writers() {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("a", |out| {
            write_numeric_keyed_map(out, [(0, "\"x\"".to_owned())])
        })
        .with("b", |out| {
            write_quoted_numeric_keyed_map(out, [(0, "1".to_owned()), (1, "2".to_owned())])
        })
        .with("c", |out| {
            write_object_keyed_map(out, [("{\"q\":0}".to_owned(), "5".to_owned())])
        })
        .with("d", |out| {
            write_string_keyed_map(out, [("k", "[]".to_owned())])
        })
        .with("e", |out| write_string_array(out, ["p", "q"]))
        .opt_str("f", None)
        .int("g", -3)
        .bool("h", true);
        o.finish();
        assert_eq!(
            s,
            r#"{"a":{0:"x"},"b":{"0":1,"1":2},"c":{{"q":0}:5},"d":{"k":[]},"e":["p","q"],"g":-3,"h":true}"#
        );
        // What we write, we read.
        let v: serde_json::Value = from_slice(s.as_bytes()).unwrap();
        assert_eq!(v["c"]["{\"q\":0}"], 5);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "alphabetically")]
    fn members_out_of_order_are_a_bug() {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.int("b", 1).int("a", 2);
        o.finish();
    }

    #[test]
    fn java_hashes() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(
            java_string_hash("broker-a"),
            "broker-a"
                .encode_utf16()
                .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(u as i32))
        );
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB")); // a classic collision
        assert_eq!(java_long_hash(0), 0);
        assert_eq!(java_long_hash(1), 1);
        assert_eq!(java_long_hash(-1), 0);
        assert_eq!(java_long_hash(1 << 32), 1);
        assert_eq!(java_table_capacity(16, 12), 16);
        assert_eq!(java_table_capacity(16, 13), 32);
        assert_eq!(java_table_capacity(128, 3), 128);
        assert_eq!(java_table_capacity(0, 1), 2);
    }

    #[test]
    fn java_hash_order_of_small_long_keys_is_numeric() {
        let mut ids = vec![3i64, 0, 17, 1];
        sort_java_hash_order(&mut ids, 16, |v| java_long_hash(*v));
        assert_eq!(ids, vec![0, 17, 1, 3]); // 17 & 15 == 1, inserted before 1
    }
}
