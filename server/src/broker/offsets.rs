//! Committed consumer offsets of the queues a shard owns, persisted in
//! `<store>/config/consumerOffset-<shard>.json` in Apache's shape
//! (`{"offsetTable":{"topic@group":{"0":12}}}`) every
//! `flushConsumerOffsetInterval` and at shutdown. Like Apache, offsets
//! committed after the last flush are lost by a crash: consumers then see
//! the uncommitted tail again (at-least-once).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Default)]
struct OffsetFile {
    #[serde(rename = "offsetTable")]
    offset_table: BTreeMap<String, BTreeMap<u32, i64>>,
}

/// `topic@group` → queue id → offset.
pub struct OffsetTable {
    table: HashMap<String, HashMap<u32, i64>>,
    path: PathBuf,
    dirty: bool,
}

fn key(group: &str, topic: &str) -> String {
    format!("{topic}@{group}")
}

impl OffsetTable {
    /// Loads the shard's file (a missing file is an empty table; a damaged
    /// one is refused, so offsets are never silently reset).
    pub fn load(config_dir: &Path, shard: u16) -> Result<OffsetTable, String> {
        let path = config_dir.join(format!("consumerOffset-{shard}.json"));
        let table = match std::fs::read(&path) {
            Ok(b) => {
                let f: OffsetFile =
                    serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", path.display()))?;
                f.offset_table
                    .into_iter()
                    .map(|(k, v)| (k, v.into_iter().collect()))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(OffsetTable {
            table,
            path,
            dirty: false,
        })
    }

    pub fn commit(&mut self, group: &str, topic: &str, queue_id: u32, offset: i64) {
        self.table
            .entry(key(group, topic))
            .or_default()
            .insert(queue_id, offset);
        self.dirty = true;
    }

    pub fn query(&self, group: &str, topic: &str, queue_id: u32) -> Option<i64> {
        self.table.get(&key(group, topic))?.get(&queue_id).copied()
    }

    /// Offsets of one group on one topic (queue id → offset).
    pub fn of(&self, group: &str, topic: &str) -> HashMap<u32, i64> {
        self.table
            .get(&key(group, topic))
            .cloned()
            .unwrap_or_default()
    }

    /// Every (topic, group) pair with offsets here.
    pub fn topic_groups(&self) -> Vec<(String, String)> {
        self.table
            .keys()
            .filter_map(|k| {
                let (t, g) = k.split_once('@')?;
                Some((t.to_string(), g.to_string()))
            })
            .collect()
    }

    /// Topics `group` has offsets for.
    pub fn topics_of(&self, group: &str) -> Vec<String> {
        let suffix = format!("@{group}");
        self.table
            .keys()
            .filter_map(|k| k.strip_suffix(&suffix).map(str::to_owned))
            .collect()
    }

    /// Gives `dest` a copy of `src`'s offsets on `topic` (replacing what
    /// `dest` had there), as Apache's `cloneOffset`; nothing if `src` has none.
    pub fn clone_offsets(&mut self, src: &str, dest: &str, topic: &str) {
        if let Some(offsets) = self.table.get(&key(src, topic)).cloned() {
            self.table.insert(key(dest, topic), offsets);
            self.dirty = true;
        }
    }

    /// Forgets a group (DELETE_SUBSCRIPTIONGROUP with removeOffset).
    pub fn remove_group(&mut self, group: &str) {
        let suffix = format!("@{group}");
        self.table.retain(|k, _| !k.ends_with(&suffix));
        self.dirty = true;
    }

    /// Forgets a topic (DELETE_TOPIC).
    pub fn remove_topic(&mut self, topic: &str) {
        let prefix = format!("{topic}@");
        self.table.retain(|k, _| !k.starts_with(&prefix));
        self.dirty = true;
    }

    /// Writes the file if anything changed (temp file, fsync, rename).
    pub fn persist(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let f = OffsetFile {
            offset_table: self
                .table
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|(q, o)| (*q, *o)).collect()))
                .collect(),
        };
        let bytes = serde_json::to_vec(&f).map_err(std::io::Error::other)?;
        crate::persist::write_atomically(&self.path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_persist_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = OffsetTable::load(dir.path(), 1).unwrap();
        t.commit("g", "T", 3, 42);
        t.commit("g", "T", 0, 7);
        t.persist().unwrap();
        let t2 = OffsetTable::load(dir.path(), 1).unwrap();
        assert_eq!(t2.query("g", "T", 3), Some(42));
        assert_eq!(t2.query("g", "T", 0), Some(7));
        assert_eq!(t2.query("g", "T", 1), None);
        assert_eq!(t2.query("h", "T", 3), None);
    }
}
