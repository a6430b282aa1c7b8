//! `extFields`: the string-to-string map that carries every command-specific
//! header field (Java `HashMap<String, String>`).
//!
//! The map is kept as an insertion-ordered list rather than a hash or tree
//! map because the order is observable on the wire: Java writes entries in
//! its own iteration order, and keeping the received order lets a decoded
//! header be re-encoded byte for byte (the golden-vector tests rely on this).
//! Headers hold a dozen entries at most, so linear lookup is cheaper than
//! hashing.
//!
//! Equality ignores order, like Java's `Map.equals`.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Ordered `extFields` map. Inserting an existing key replaces its value in
/// place; this is also how duplicate keys in a ROCKETMQ header resolve (the
/// last value wins, as in Java).
#[derive(Debug, Clone, Default, Eq)]
pub struct ExtFields {
    entries: Vec<(String, String)>,
}

impl ExtFields {
    /// An empty map usable in `static`/`const` position.
    pub const EMPTY: ExtFields = ExtFields {
        entries: Vec::new(),
    };

    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
        }
    }

    /// Value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`. An existing entry keeps its position; a new one
    /// goes to the end. Returns the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let idx = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(idx).1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Copies every entry of `other` into `self` (replacing values of keys
    /// that exist in both).
    pub fn extend_from(&mut self, other: &ExtFields) {
        for (k, v) in other.iter() {
            self.insert(k, v);
        }
    }

    /// Reorders the entries the way a Java `HashMap` built by inserting them
    /// in the current order would iterate them.
    ///
    /// Useful when a byte-exact imitation of a Java peer's JSON header is
    /// wanted; Java peers themselves accept any order. The model: the table
    /// starts with 16 buckets and doubles whenever the size exceeds 3/4 of
    /// the capacity; a key's bucket is `(h ^ (h >>> 16)) & (capacity - 1)`
    /// with `h = String.hashCode()` over UTF-16 code units; iteration visits
    /// buckets in index order and, within a bucket, keys in insertion order
    /// (resizing preserves that relative order). Tree bins (8+ colliding
    /// keys) do not occur at header sizes.
    pub fn sort_java_hash_order(&mut self) {
        let mut capacity: usize = 16;
        while self.entries.len() > capacity / 4 * 3 {
            capacity *= 2;
        }
        let mask = (capacity - 1) as u32;
        // Stable sort: equal buckets keep insertion order.
        self.entries.sort_by_key(|(k, _)| {
            let h = java_string_hash(k) as u32;
            (h ^ (h >> 16)) & mask
        });
    }
}

/// Java `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code
/// units with wrapping 32-bit arithmetic.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32))
}

impl PartialEq for ExtFields {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = ExtFields::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl IntoIterator for ExtFields {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Serialize for ExtFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ExtFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ExtFieldsVisitor)
    }
}

struct ExtFieldsVisitor;

impl<'de> Visitor<'de> for ExtFieldsVisitor {
    type Value = ExtFields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ExtFields, A::Error> {
        let mut map = ExtFields::with_capacity(access.size_hint().unwrap_or(0).min(64));
        while let Some(key) = access.next_key::<String>()? {
            // Java writes every value as a string; numbers and booleans are
            // accepted anyway because fastjson coerces them into a
            // HashMap<String, String>. A null value is the same as absent.
            if let Some(value) = access.next_value::<Option<ScalarText>>()? {
                map.insert(key, value.0);
            }
        }
        Ok(map)
    }
}

/// A JSON scalar (string, number or boolean) read as its text.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarText, E> {
                Ok(ScalarText(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_keeps_position_and_last_value() {
        let mut m = ExtFields::new();
        m.insert("a", "1");
        m.insert("b", "2");
        assert_eq!(m.insert("a", "3"), Some("1".to_owned()));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.get("a"), Some("3"));
        assert_eq!(m.remove("a"), Some("3".to_owned()));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn equality_ignores_order() {
        let a: ExtFields = [("x", "1"), ("y", "2")].into_iter().collect();
        let b: ExtFields = [("y", "2"), ("x", "1")].into_iter().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn java_hash() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("topic"), 110546223);
    }

    #[test]
    fn json_values_may_be_scalars() {
        let m: ExtFields = serde_json::from_str(r#"{"a":"x","b":1,"c":true,"d":null}"#).unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(m.get("b"), Some("1"));
        assert!(serde_json::from_str::<ExtFields>(r#"{"a":[1]}"#).is_err());
    }
}
