//! Name server configuration, and its Java-properties view for
//! UPDATE_NAMESRV_CONFIG / GET_NAMESRV_CONFIG (reference §3.1).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Java `RouteInfoManager.BROKER_CHANNEL_EXPIRED_TIME`.
pub const DEFAULT_BROKER_EXPIRE_MS: i64 = 120_000;

/// Name server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesrvConfig {
    /// A broker whose last registration is older than this is dropped
    /// (Apache: 120 s).
    pub broker_expire_ms: i64,
    /// Where the KV config is persisted (`kvConfigPath`; Apache
    /// `~/namesrv/kvConfig.json`). `None` keeps it in memory only.
    pub kv_config_path: Option<PathBuf>,
    /// `orderMessageEnable`: fill a route's `orderTopicConf` from the
    /// `ORDER_TOPIC_CONFIG` KV namespace.
    pub order_message_enable: bool,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        Self {
            broker_expire_ms: DEFAULT_BROKER_EXPIRE_MS,
            kv_config_path: None,
            order_message_enable: false,
        }
    }
}

/// Keys UPDATE_NAMESRV_CONFIG may never change (Apache refuses them with
/// NO_PERMISSION since the fix for remote file writes).
pub const PROTECTED_KEYS: [&str; 2] = ["kvConfigPath", "configStorePath"];

/// The name server's configuration as Java exposes it: the `NamesrvConfig`
/// members ringmq has, by their Java names. Only keys present here can be
/// updated (Java's `Configuration.update` merges existing keys only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesrvProperties {
    values: BTreeMap<&'static str, String>,
}

impl NamesrvProperties {
    /// The properties of `cfg`, with Java's defaults for members ringmq
    /// does not use.
    pub fn from_config(cfg: &NamesrvConfig) -> Self {
        let mut values = BTreeMap::new();
        values.insert("clusterTest", "false".to_owned());
        values.insert(
            "kvConfigPath",
            cfg.kv_config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
        values.insert("orderMessageEnable", cfg.order_message_enable.to_string());
        values.insert("productEnvName", "center".to_owned());
        Self { values }
    }

    /// Applies parsed properties: known keys are updated, others ignored.
    /// Returns the new `orderMessageEnable` if it was among them.
    pub fn update(&mut self, props: &[(String, String)]) -> Option<bool> {
        let mut order = None;
        for (k, v) in props {
            if let Some(slot) = self.values.get_mut(k.as_str()) {
                *slot = v.clone();
                if k == "orderMessageEnable" {
                    // Java: Boolean.parseBoolean.
                    order = Some(v.trim().eq_ignore_ascii_case("true"));
                }
            }
        }
        order
    }

    /// `key=value\n` lines, sorted by key (Java `MixAll.properties2String`;
    /// Java's order is its `Hashtable`'s).
    pub fn to_text(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }
}

/// Parses Java properties text leniently: one `key=value` (or `key:value`,
/// or `key value`) per line, `#`/`!` comments and blank lines skipped,
/// surrounding whitespace trimmed. Backslash escapes and line
/// continuations are not interpreted.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| {
            let split = l
                .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
                .unwrap_or(l.len());
            let key = l[..split].to_owned();
            let rest = l[split..].trim_start();
            let value = rest
                .strip_prefix(['=', ':'])
                .unwrap_or(rest)
                .trim_start()
                .to_owned();
            (key, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_round_trip() {
        let mut p = NamesrvProperties::from_config(&NamesrvConfig::default());
        assert_eq!(
            p.to_text(),
            "clusterTest=false\nkvConfigPath=\norderMessageEnable=false\nproductEnvName=center\n"
        );
        let parsed =
            parse_properties("# c\n\norderMessageEnable = TRUE\nunknown=1\nproductEnvName:x y\n");
        assert_eq!(
            parsed,
            vec![
                ("orderMessageEnable".to_owned(), "TRUE".to_owned()),
                ("unknown".to_owned(), "1".to_owned()),
                ("productEnvName".to_owned(), "x y".to_owned()),
            ]
        );
        assert_eq!(p.update(&parsed), Some(true));
        assert!(p.to_text().contains("productEnvName=x y\n"));
        assert!(!p.to_text().contains("unknown"));
        assert_eq!(
            parse_properties("k v"),
            vec![("k".to_owned(), "v".to_owned())]
        );
        assert_eq!(parse_properties("k"), vec![("k".to_owned(), String::new())]);
    }
}
