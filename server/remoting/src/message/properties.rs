//! The properties string (reference §5.1): entries `name U+0001 value`
//! separated by `U+0002`, no trailing separator.
//!
//! Java parses it into a `HashMap` (`string2messageProperties`): an entry is
//! kept only if it holds a `U+0001` with a non-empty name before it and a
//! non-empty value after it; a name that occurs twice keeps its **last**
//! value. Stored batch records really do carry `WAIT` twice, so the
//! decoders here keep every entry in order and answer lookups with the last
//! occurrence. Encoding an ordered list joins it exactly like
//! `messageProperties2String` joins a map in its iteration order.

use std::borrow::Cow;

/// `MessageDecoder.NAME_VALUE_SEPARATOR`.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// `MessageDecoder.PROPERTY_SEPARATOR`.
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Longest encoded properties string (the length travels as an i16); Java
/// answers longer ones with MESSAGE_ILLEGAL / PROPERTIES_SIZE_EXCEEDED.
pub const MAX_PROPERTIES_BYTES: usize = i16::MAX as usize;

const PROPERTY_BYTE: u8 = 0x02;

/// Iterates over the entries Java's parser keeps, in string order,
/// duplicates included. No allocation.
pub fn iter_properties(s: &str) -> PropertiesIter<'_> {
    PropertiesIter { rest: Some(s) }
}

/// Iterator of [`iter_properties`].
#[derive(Debug, Clone)]
pub struct PropertiesIter<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for PropertiesIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest?;
            let entry = match rest.split_once(PROPERTY_SEPARATOR) {
                Some((entry, tail)) => {
                    self.rest = Some(tail);
                    entry
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            // The first U+0001 splits name and value; both must be
            // non-empty (the value may itself contain U+0001).
            if let Some((name, value)) = entry.split_once(NAME_VALUE_SEPARATOR) {
                if !name.is_empty() && !value.is_empty() {
                    return Some((name, value));
                }
            }
        }
    }
}

/// Value of `name` as Java's parsed map would hold it (the last
/// occurrence). No allocation; suits the send path (TAGS, KEYS, UNIQ_KEY,
/// DELAY lookups).
pub fn find_property<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    iter_properties(s)
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .last()
}

/// Appends `entries` joined as Java's `messageProperties2String` joins a
/// map: `name U+0001 value`, separated by `U+0002`, nothing trailing.
pub fn encode_properties<'a, I>(entries: I, out: &mut String)
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    for (i, (name, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(PROPERTY_SEPARATOR);
        }
        out.push_str(name);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(value);
    }
}

/// Length of [`join_properties`]'s output.
pub fn joined_properties_len(item: &[u8], extra: &[u8]) -> usize {
    item.len() + extra.len() + usize::from(needs_join_separator(item, extra))
}

/// Writes the properties a stored batch record gets: the item's own
/// properties, then the batch-level ones (`extra`, the send header's
/// properties plus `CLUSTER`, already encoded). A `U+0002` goes between
/// them when both are non-empty and the item's string does not already end
/// with one — exactly the bytes the 4.9.7 broker stores. The result may
/// exceed [`MAX_PROPERTIES_BYTES`]; check [`joined_properties_len`] first.
pub fn join_properties(item: &[u8], extra: &[u8], out: &mut Vec<u8>) {
    out.reserve(joined_properties_len(item, extra));
    out.extend_from_slice(item);
    if needs_join_separator(item, extra) {
        out.push(PROPERTY_BYTE);
    }
    out.extend_from_slice(extra);
}

fn needs_join_separator(item: &[u8], extra: &[u8]) -> bool {
    !item.is_empty() && !extra.is_empty() && item.last() != Some(&PROPERTY_BYTE)
}

/// An ordered, owned property list (Java `Map<String, String>` with the
/// order kept), for building and editing properties.
///
/// Lookups answer with the last occurrence of a name (Java's map value);
/// [`insert`](Self::insert) and [`remove`](Self::remove) act on every
/// occurrence, so after them a name occurs at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageProperties {
    entries: Vec<(String, String)>,
}

impl MessageProperties {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a properties string, keeping every entry Java keeps, in order
    /// (duplicates included).
    pub fn parse(s: &str) -> Self {
        Self {
            entries: iter_properties(s)
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// Parses raw bytes the way Java does: invalid UTF-8 becomes U+FFFD
    /// (`new String(bytes, UTF_8)`).
    pub fn parse_bytes(bytes: &[u8]) -> Self {
        Self::parse(&String::from_utf8_lossy(bytes))
    }

    /// Value of `name` (the last occurrence).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` (Java `Map.put`): the first occurrence keeps its position
    /// and takes the new value, later duplicates are dropped; a new name goes
    /// to the end. Returns the previous value (the last occurrence).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let name = name.into();
        let value = value.into();
        let previous = self.remove_after_first(&name);
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                let first = std::mem::replace(v, value);
                previous.or(Some(first))
            }
            None => {
                self.entries.push((name, value));
                None
            }
        }
    }

    /// Appends an entry without looking for an existing one (the list may
    /// then hold `name` twice, as stored batch records do).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Removes every occurrence of `name`, returning the last value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let mut last = None;
        self.entries.retain_mut(|(n, v)| {
            if n == name {
                last = Some(std::mem::take(v));
                false
            } else {
                true
            }
        });
        last
    }

    /// Removes the occurrences of `name` after the first, returning the last
    /// removed value.
    fn remove_after_first(&mut self, name: &str) -> Option<String> {
        let mut seen = false;
        let mut last = None;
        self.entries.retain_mut(|(n, v)| {
            if n != name {
                return true;
            }
            if !seen {
                seen = true;
                return true;
            }
            last = Some(std::mem::take(v));
            false
        });
        last
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of entries (duplicates counted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Byte length of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        let content: usize = self
            .entries
            .iter()
            .map(|(n, v)| n.len() + v.len() + 1)
            .sum();
        content + self.entries.len().saturating_sub(1)
    }

    /// The properties string, in list order.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the properties string to `out`.
    pub fn encode_into(&self, out: &mut String) {
        encode_properties(self.iter(), out);
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for MessageProperties {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(iter: I) -> Self {
        Self {
            entries: iter
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

/// Java's view of raw property bytes: `new String(bytes, UTF_8)`.
pub(crate) fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Whether a raw properties string is made of valid entries only, i.e.
/// re-parsing and re-encoding gives the same bytes.
#[cfg(test)]
fn is_canonical(s: &str) -> bool {
    MessageProperties::parse(s).encode() == s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "TAGS\u{1}TagA\u{2}KEYS\u{1}order-1 order-2\u{2}WAIT\u{1}true";

    #[test]
    fn parses_in_order_and_reencodes_byte_exact() {
        let p = MessageProperties::parse(EXAMPLE);
        let names: Vec<_> = p.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["TAGS", "KEYS", "WAIT"]);
        assert_eq!(p.get("KEYS"), Some("order-1 order-2"));
        assert_eq!(p.encode(), EXAMPLE);
        assert_eq!(p.encoded_len(), EXAMPLE.len());
        assert!(is_canonical(EXAMPLE));
        assert_eq!(MessageProperties::new().encode(), "");
        assert_eq!(MessageProperties::new().encoded_len(), 0);
    }

    #[test]
    fn java_drops_what_it_drops() {
        // Trailing separator (old clients), empty name, empty value, no
        // separator at all, empty entries.
        let s = "A\u{1}1\u{2}\u{1}x\u{2}B\u{1}\u{2}junk\u{2}\u{2}C\u{1}3\u{2}";
        let got: Vec<_> = iter_properties(s).collect();
        assert_eq!(got, [("A", "1"), ("C", "3")]);
        assert!(!is_canonical(s));
        // The value keeps any further U+0001.
        let got: Vec<_> = iter_properties("K\u{1}v\u{1}w").collect();
        assert_eq!(got, [("K", "v\u{1}w")]);
        assert_eq!(iter_properties("").count(), 0);
        assert_eq!(iter_properties("\u{2}\u{2}").count(), 0);
    }

    #[test]
    fn duplicates_answer_with_the_last_value() {
        let s = "WAIT\u{1}true\u{2}CLUSTER\u{1}c\u{2}WAIT\u{1}false";
        assert_eq!(find_property(s, "WAIT"), Some("false"));
        assert_eq!(find_property(s, "CLUSTER"), Some("c"));
        assert_eq!(find_property(s, "NOPE"), None);
        let mut p = MessageProperties::parse(s);
        assert_eq!(p.len(), 3);
        assert_eq!(p.encode(), s);
        assert_eq!(p.get("WAIT"), Some("false"));
        assert_eq!(p.insert("WAIT", "x"), Some("false".to_owned()));
        assert_eq!(p.encode(), "WAIT\u{1}x\u{2}CLUSTER\u{1}c");
        p.push("WAIT", "y");
        assert_eq!(p.remove("WAIT"), Some("y".to_owned()));
        assert_eq!(p.encode(), "CLUSTER\u{1}c");
        assert_eq!(p.insert("N", "1"), None);
        assert_eq!(p.encode(), "CLUSTER\u{1}c\u{2}N\u{1}1");
    }

    #[test]
    fn join_inserts_a_separator_only_when_needed() {
        let mut out = Vec::new();
        join_properties(b"A\x011", b"WAIT\x01true", &mut out);
        assert_eq!(out, b"A\x011\x02WAIT\x01true");
        assert_eq!(joined_properties_len(b"A\x011", b"WAIT\x01true"), out.len());
        for (item, extra, want) in [
            (&b"A\x011\x02"[..], &b"W\x01t"[..], &b"A\x011\x02W\x01t"[..]),
            (b"", b"W\x01t", b"W\x01t"),
            (b"A\x011", b"", b"A\x011"),
            (b"", b"", b""),
        ] {
            let mut out = Vec::new();
            join_properties(item, extra, &mut out);
            assert_eq!(out, want);
            assert_eq!(joined_properties_len(item, extra), want.len());
        }
    }

    #[test]
    fn invalid_utf8_is_read_like_java() {
        let p = MessageProperties::parse_bytes(b"K\x01\xff\x02L\x01ok");
        assert_eq!(p.get("K"), Some("\u{fffd}"));
        assert_eq!(p.get("L"), Some("ok"));
        assert_eq!(lossy(b"ab"), "ab");
    }
}
