//! Broker statistics by name and key, as Apache's `BrokerStatsManager`
//! keeps them and VIEW_BROKER_STATS_DATA (315) reports them (`mqadmin
//! statsAll`, the dashboard's topic charts): `TOPIC_PUT_NUMS` /
//! `TOPIC_PUT_SIZE` keyed by topic, `GROUP_GET_NUMS` / `GROUP_GET_SIZE`
//! keyed by `topic@group`, `BROKER_PUT_NUMS` / `BROKER_GET_NUMS` keyed by
//! the cluster name.
//!
//! Each shard counts what happens on it (puts and gets run on the queue's
//! shard); the handler adds the shards' figures. An item is a running
//! value and call count, snapshotted every `statsSampleInterval` (10 s) into
//! the last minute (7 snapshots), every 60 samples into the last hour (7),
//! and every 360 into the last day (25), as Apache's `StatsItem` samples.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use ringmq_remoting::{RemotingCommand, ResponseCode};
use serde::Serialize;

use super::shard::BrokerShard;
use crate::net::conn::reply;
use crate::net::Connection;

pub const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
pub const TOPIC_PUT_SIZE: &str = "TOPIC_PUT_SIZE";
pub const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";
pub const GROUP_GET_SIZE: &str = "GROUP_GET_SIZE";
pub const BROKER_PUT_NUMS: &str = "BROKER_PUT_NUMS";
pub const BROKER_GET_NUMS: &str = "BROKER_GET_NUMS";

/// (time ms, value, times) at one sample.
#[derive(Clone, Copy, Debug, Default)]
struct Snap {
    at_ms: i64,
    value: u64,
    times: u64,
}

#[derive(Debug, Default)]
struct Item {
    value: u64,
    times: u64,
    minute: VecDeque<Snap>,
    hour: VecDeque<Snap>,
    day: VecDeque<Snap>,
}

/// One window's figures: Apache's `StatsSnapshot` (sum, tps, avgpt), plus
/// the call count the shards' figures are combined with.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    pub sum: u64,
    pub tps: f64,
    pub times: u64,
}

fn window(snaps: &VecDeque<Snap>) -> Window {
    match (snaps.front(), snaps.back()) {
        (Some(first), Some(last)) if last.at_ms > first.at_ms => {
            let sum = last.value - first.value;
            Window {
                sum,
                tps: sum as f64 * 1000.0 / (last.at_ms - first.at_ms) as f64,
                times: last.times - first.times,
            }
        }
        _ => Window::default(),
    }
}

/// A shard's statistics: name → key → item.
#[derive(Debug, Default)]
pub struct StatsTable {
    items: HashMap<&'static str, HashMap<String, Item>>,
    samples: u64,
}

impl StatsTable {
    /// Adds `value` (one call) to the item `name`/`key`.
    pub fn add(&mut self, name: &'static str, key: &str, value: u64) {
        let by_key = self.items.entry(name).or_default();
        let item = match by_key.get_mut(key) {
            Some(i) => i,
            None => by_key.entry(key.to_owned()).or_default(),
        };
        item.value += value;
        item.times += 1;
    }

    /// Takes a sample of every item, at `now_ms`, every `interval_ms`. A
    /// window's first sample is preceded by a zero one period earlier (as
    /// Apache's `StatsItem`), so an item's first counts show.
    pub fn sample(&mut self, now_ms: i64, interval_ms: i64) {
        self.samples += 1;
        let (hourly, daily) = (self.samples % 60 == 1, self.samples % 360 == 1);
        for item in self.items.values_mut().flat_map(|m| m.values_mut()) {
            let s = Snap {
                at_ms: now_ms,
                value: item.value,
                times: item.times,
            };
            push(&mut item.minute, s, 7, interval_ms);
            if hourly {
                push(&mut item.hour, s, 7, 60 * interval_ms);
            }
            if daily {
                push(&mut item.day, s, 25, 360 * interval_ms);
            }
        }
    }

    /// (minute, hour, day) of an item, if this shard has it.
    pub fn view(&self, name: &str, key: &str) -> Option<[Window; 3]> {
        let item = self.items.get(name)?.get(key)?;
        Some([window(&item.minute), window(&item.hour), window(&item.day)])
    }
}

fn push(v: &mut VecDeque<Snap>, s: Snap, keep: usize, period_ms: i64) {
    if v.is_empty() {
        v.push_back(Snap {
            at_ms: s.at_ms - period_ms,
            value: 0,
            times: 0,
        });
    }
    v.push_back(s);
    while v.len() > keep {
        v.pop_front();
    }
}

/// `BrokerStatsItem` (fastjson: fields in name order).
#[derive(Serialize)]
struct StatsItemJson {
    avgpt: f64,
    sum: u64,
    tps: f64,
}

/// `BrokerStatsData`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatsDataJson {
    stats_day: StatsItemJson,
    stats_hour: StatsItemJson,
    stats_minute: StatsItemJson,
}

fn item_json(w: Window) -> StatsItemJson {
    StatsItemJson {
        avgpt: if w.times > 0 {
            w.sum as f64 / w.times as f64
        } else {
            0.0
        },
        sum: w.sum,
        tps: w.tps,
    }
}

/// VIEW_BROKER_STATS_DATA (315): the item summed over the shards.
pub async fn view_stats(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let (Some(name), Some(key)) = (req.ext_field("statsName"), req.ext_field("statsKey")) else {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            "the fields statsName and statsKey are required",
        ));
    };
    let mut total: Option<[Window; 3]> = None;
    for target in 0..shard.shards() {
        let (n, k) = (name.to_owned(), key.to_owned());
        let part = shard
            .on_owner(
                target,
                move |s| async move { s.stats.borrow().view(&n, &k) },
            )
            .await
            .flatten();
        if let Some(p) = part {
            let t = total.get_or_insert_with(Default::default);
            for (acc, w) in t.iter_mut().zip(p) {
                acc.sum += w.sum;
                acc.tps += w.tps;
                acc.times += w.times;
            }
        }
    }
    let Some([minute, hour, day]) = total else {
        return Some(reply(
            &req,
            ResponseCode::SystemError,
            format!("The stats <{name}> <{key}> not exist"),
        ));
    };
    let body = StatsDataJson {
        stats_day: item_json(day),
        stats_hour: item_json(hour),
        stats_minute: item_json(minute),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    Some(RemotingCommand::response_to(&req, ResponseCode::Success, None).with_body(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_differences_between_the_first_and_last_sample() {
        let mut t = StatsTable::default();
        t.add(TOPIC_PUT_NUMS, "T", 3);
        // The first sample counts from a zero one period earlier.
        t.sample(10_000, 10_000);
        let [minute, hour, day] = t.view(TOPIC_PUT_NUMS, "T").unwrap();
        assert_eq!((minute.sum, minute.times), (3, 1));
        assert!((minute.tps - 0.3).abs() < 1e-9);
        assert_eq!((hour.sum, day.sum), (3, 3));
        t.add(TOPIC_PUT_NUMS, "T", 5);
        t.add(TOPIC_PUT_NUMS, "T", 2);
        t.sample(20_000, 10_000);
        let [minute, hour, _] = t.view(TOPIC_PUT_NUMS, "T").unwrap();
        assert_eq!((minute.sum, minute.times), (10, 3));
        // The hour takes its next sample 60 samples later.
        assert_eq!(hour.sum, 3);
        assert!(t.view(TOPIC_PUT_NUMS, "other").is_none());
        assert!(t.view(GROUP_GET_NUMS, "T").is_none());
        // The minute keeps 7 samples: a minute's worth of 10 s steps.
        for i in 3..20 {
            t.add(TOPIC_PUT_NUMS, "T", 1);
            t.sample(i * 10_000, 10_000);
        }
        assert_eq!(t.view(TOPIC_PUT_NUMS, "T").unwrap()[0].sum, 6);
    }
}
