//! The name server's KV config (Java `KVConfigManager`): namespaces of
//! string key/value pairs, persisted after every change as
//! `{"configTable":{"<namespace>":{"<key>":"<value>"}}}` (reference §3.1),
//! the file format of Apache's `kvConfig.json`, so either server can read
//! the other's file.
//!
//! Persisting writes `<path>.tmp`, syncs it and renames it over `<path>`,
//! so a crash leaves the old or the new file, never a torn one. KV changes
//! are rare admin operations, so the synchronous file I/O is acceptable on
//! the name server's thread.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ringmq_remoting::body::fastjson::{self, ObjectWriter};
use ringmq_remoting::body::kv_table::KVTable;
use ringmq_remoting::HeaderError;

/// The namespace whose `topic → "brokerName:queueNum;..."` entries become
/// a route's `orderTopicConf`.
pub const NAMESPACE_ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Initial capacity of Java's `configTable` and of each namespace map
/// (`new HashMap<>()`), for writing the file in Java's order.
const JAVA_MAP_CAPACITY: usize = 16;

/// Why the KV file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KvLoadError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// The file is not a KV config.
    #[error("{path} is not a KV config file: {source}")]
    Parse { path: PathBuf, source: HeaderError },
}

/// Namespaces of key/value pairs.
#[derive(Debug, Default)]
pub struct KvConfig {
    table: BTreeMap<String, BTreeMap<String, String>>,
    path: Option<PathBuf>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct KvFile {
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

impl KvConfig {
    /// Loads the file at `path` (absent file: empty config); `None` keeps
    /// everything in memory.
    pub fn load(path: Option<PathBuf>) -> Result<Self, KvLoadError> {
        let mut kv = Self {
            table: BTreeMap::new(),
            path,
        };
        let Some(path) = &kv.path else {
            return Ok(kv);
        };
        match fs::read(path) {
            Ok(bytes) => {
                let file: KvFile =
                    fastjson::from_slice(&bytes).map_err(|source| KvLoadError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                kv.table = file.config_table;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(KvLoadError::Read {
                    path: path.clone(),
                    source,
                })
            }
        }
        Ok(kv)
    }

    /// An in-memory config that persists to `path` but starts empty (used
    /// when the file could not be loaded).
    pub fn empty(path: Option<PathBuf>) -> Self {
        Self {
            table: BTreeMap::new(),
            path,
        }
    }

    /// The value of `key` in `namespace`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<&str> {
        self.table.get(namespace)?.get(key).map(String::as_str)
    }

    /// Sets a value and persists.
    pub fn put(&mut self, namespace: &str, key: &str, value: &str) {
        self.table
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        self.persist();
    }

    /// Removes a value (a namespace left empty stays, as in Java) and
    /// persists, whether or not anything was removed.
    pub fn delete(&mut self, namespace: &str, key: &str) {
        if let Some(ns) = self.table.get_mut(namespace) {
            ns.remove(key);
        }
        self.persist();
    }

    /// The namespace as a `KVTable` body, or `None` if it never existed.
    pub fn namespace_body(&self, namespace: &str) -> Option<Vec<u8>> {
        let ns = self.table.get(namespace)?;
        Some(KVTable::from_java_hash_map(ns.iter().map(|(k, v)| (k.clone(), v.clone()))).encode())
    }

    /// The file's JSON text, maps in Java `HashMap` order.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let mut o = ObjectWriter::new(&mut s);
        o.with("configTable", |out| {
            let mut namespaces: Vec<(&String, &BTreeMap<String, String>)> =
                self.table.iter().collect();
            java_order(&mut namespaces);
            fastjson::write_string_keyed_map(
                out,
                namespaces.into_iter().map(|(ns, kvs)| {
                    let table = KVTable::from_java_hash_map(
                        kvs.iter().map(|(k, v)| (k.clone(), v.clone())),
                    );
                    let mut m = String::new();
                    fastjson::write_string_keyed_map(
                        &mut m,
                        table.table.iter().map(|(k, v)| {
                            let mut j = String::new();
                            fastjson::write_str(&mut j, v);
                            (k, j)
                        }),
                    );
                    (ns, m)
                }),
            )
        });
        o.finish();
        s
    }

    fn persist(&self) {
        let Some(path) = &self.path else {
            return;
        };
        // Java logs a failed write and answers the request with SUCCESS;
        // so does ringmq (the value is live in memory either way).
        if let Err(e) = write_atomically(path, self.to_json().as_bytes()) {
            tracing::error!(path = %path.display(), error = %e, "cannot persist the KV config");
        }
    }
}

fn java_order<V>(entries: &mut [(&String, V)]) {
    let cap = fastjson::java_table_capacity(JAVA_MAP_CAPACITY, entries.len());
    fastjson::sort_java_hash_order(entries, cap, |(k, _)| fastjson::java_string_hash(k));
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename durable; not every filesystem allows syncing a
        // directory, and the data itself is already synced.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ringmq-kv-{}-{}-{name}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        dir.join("namesrv").join("kvConfig.json")
    }

    #[test]
    fn persists_and_reloads() {
        let path = temp_path("reload");
        let mut kv = KvConfig::load(Some(path.clone())).unwrap();
        assert_eq!(kv.get("N", "k"), None);
        kv.put("N", "k", "v");
        kv.put(NAMESPACE_ORDER_TOPIC_CONFIG, "T", "broker-a:4");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""N":{"k":"v"}"#), "{text}");
        assert!(!path.with_extension("json.tmp").exists());
        let again = KvConfig::load(Some(path.clone())).unwrap();
        assert_eq!(again.get("N", "k"), Some("v"));
        assert_eq!(
            again.get(NAMESPACE_ORDER_TOPIC_CONFIG, "T"),
            Some("broker-a:4")
        );
        kv.delete("N", "k");
        kv.delete("nope", "k");
        let after = KvConfig::load(Some(path.clone())).unwrap();
        assert_eq!(after.get("N", "k"), None);
        assert_eq!(after.namespace_body("N"), Some(br#"{"table":{}}"#.to_vec()));
        assert_eq!(after.namespace_body("nope"), None);
        let _ = fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn reads_apache_files_and_rejects_garbage() {
        let path = temp_path("apache");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4;broker-b:4"}}}"#,
        )
        .unwrap();
        let kv = KvConfig::load(Some(path.clone())).unwrap();
        assert_eq!(
            kv.get(NAMESPACE_ORDER_TOPIC_CONFIG, "T"),
            Some("broker-a:4;broker-b:4")
        );
        assert_eq!(
            kv.to_json(),
            r#"{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4;broker-b:4"}}}"#
        );
        fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            KvConfig::load(Some(path.clone())),
            Err(KvLoadError::Parse { .. })
        ));
        let _ = fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }
}
