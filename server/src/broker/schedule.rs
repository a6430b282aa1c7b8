//! Delay levels (reference §7.6), as Apache 4.x does them: a message whose
//! `DELAY` property names a level is stored in `SCHEDULE_TOPIC_XXXX`, queue
//! `level - 1`, with `REAL_TOPIC` / `REAL_QID` naming its destination. The
//! shard that owns a level's queue runs one delivery task for it: messages
//! of one level are due in store order, so the task walks the queue from its
//! persisted offset (`config/delayOffset-<shard>.json`), sleeps until the
//! head is due (store time + the level's delay) and re-puts it into its
//! real queue (on that queue's shard). Nothing is lost by a restart: the
//! messages are in the commitlog and the offset only moves after a re-put
//! succeeded; a crash between the two repeats a delivery (at least once).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use ringmq_engine::record;
use ringmq_engine::store::GetStatus;
use ringmq_engine::{MessageInput, QueueKey, QueueOffset};
use ringmq_remoting::message::{property, MessageProperties};

use super::metadata::now_ms;
use super::shard::BrokerShard;
use super::topic_names::SCHEDULE_TOPIC;

/// Parses `messageDelayLevel` ("1s 5s 10s 30s 1m ... 2h"; units s/m/h/d).
pub fn parse_levels(spec: &str) -> Result<Vec<Duration>, String> {
    spec.split_whitespace()
        .map(|item| {
            let (num, unit) = item.split_at(item.len().saturating_sub(1));
            let n: u64 = num.parse().map_err(|_| {
                format!("messageDelayLevel item {item:?}: expected e.g. 10s, 1m, 2h, 1d")
            })?;
            let secs = match unit {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                "d" => n * 86_400,
                _ => {
                    return Err(format!(
                        "messageDelayLevel item {item:?}: unit must be s, m, h or d"
                    ))
                }
            };
            Ok(Duration::from_secs(secs))
        })
        .collect()
}

/// Rewrites a message with a delay level into the schedule topic: returns
/// false (and changes nothing) when it is not delayed.
pub fn divert(m: &mut MessageInput, props: &mut MessageProperties, levels: usize) -> bool {
    let Some(level) = props
        .get(property::DELAY)
        .and_then(|v| v.trim().parse::<i64>().ok())
    else {
        return false;
    };
    let tx = m.sys_flag & ringmq_remoting::message::MessageSysFlag::TRANSACTION_ROLLBACK_TYPE;
    let committed_or_plain =
        tx == 0 || tx == ringmq_remoting::message::MessageSysFlag::TRANSACTION_COMMIT_TYPE;
    if level <= 0 || levels == 0 || !committed_or_plain {
        return false;
    }
    let level = (level as usize).min(levels);
    props.insert(property::DELAY, level.to_string());
    props.insert(property::REAL_TOPIC, m.topic.clone());
    props.insert(property::REAL_QUEUE_ID, m.queue_id.to_string());
    m.topic = SCHEDULE_TOPIC.to_string();
    m.queue_id = (level - 1) as u32;
    true
}

/// Delivery offsets of the levels a shard owns.
pub struct DelayOffsets {
    table: BTreeMap<u32, i64>,
    path: PathBuf,
    dirty: bool,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct DelayFile {
    #[serde(rename = "offsetTable")]
    offset_table: BTreeMap<u32, i64>,
}

impl DelayOffsets {
    pub fn load(config_dir: &Path, shard: u16) -> Result<DelayOffsets, String> {
        let path = config_dir.join(format!("delayOffset-{shard}.json"));
        let table = match std::fs::read(&path) {
            Ok(b) => {
                serde_json::from_slice::<DelayFile>(&b)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .offset_table
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(DelayOffsets {
            table,
            path,
            dirty: false,
        })
    }

    fn get(&self, level: u32) -> i64 {
        self.table.get(&level).copied().unwrap_or(0)
    }

    fn set(&mut self, level: u32, offset: i64) {
        self.table.insert(level, offset);
        self.dirty = true;
    }

    pub fn persist(&mut self) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&DelayFile {
            offset_table: self.table.clone(),
        })
        .map_err(std::io::Error::other)?;
        crate::persist::write_atomically(&self.path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

/// Starts a delivery task for every level whose queue this shard owns.
pub fn start(shard: &Rc<BrokerShard>, stop: &Rc<super::Stop>) {
    for (i, delay) in shard.delay_levels.iter().enumerate() {
        let qid = i as u32;
        if shard.owner_of(SCHEDULE_TOPIC, qid) != shard.id {
            continue;
        }
        glommio::spawn_local(deliver_level(shard.clone(), stop.clone(), qid, *delay)).detach();
    }
}

/// What to do after looking at the head of a level's queue.
enum Step {
    /// Delivered or skipped up to here.
    Advance(i64),
    /// Nothing due: wait this long at most.
    Wait(Duration),
}

async fn deliver_level(s: Rc<BrokerShard>, stop: Rc<super::Stop>, qid: u32, delay: Duration) {
    let key = QueueKey::new(SCHEDULE_TOPIC, qid);
    let delay_ms = delay.as_millis() as i64;
    while !stop.is_set() {
        let offset = s.delays.borrow().get(qid);
        // Register before reading, so an arrival in between is not missed.
        let arrivals = s.hold_on(&key);
        let arrival = arrivals.wait();
        let step = match s
            .store
            .get_messages(
                &key,
                QueueOffset(offset.max(0) as u64),
                32,
                1 << 20,
                &|_| true,
            )
            .await
        {
            Err(e) => {
                tracing::warn!(level = qid + 1, error = %e, "schedule queue read failed");
                Step::Wait(Duration::from_secs(1))
            }
            Ok(r) => match r.status {
                GetStatus::Found => deliver_due(&s, &r.messages, &r.queue_offsets, delay_ms).await,
                GetStatus::OffsetTooSmall | GetStatus::OffsetOverflowBadly => {
                    Step::Advance(r.next_begin_offset.0 as i64)
                }
                _ => Step::Wait(Duration::from_secs(1)),
            },
        };
        match step {
            Step::Advance(next) => {
                if next != offset {
                    s.delays.borrow_mut().set(qid, next);
                }
            }
            Step::Wait(d) => {
                let _ = glommio::timer::timeout(d, async {
                    futures_lite::future::or(arrival, stop.wait()).await;
                    Ok(())
                })
                .await;
            }
        }
    }
}

/// Re-puts every due message at the head of `messages`; stops at the first
/// one not yet due or not re-put.
async fn deliver_due(
    s: &Rc<BrokerShard>,
    messages: &[bytes::Bytes],
    offsets: &[QueueOffset],
    delay_ms: i64,
) -> Step {
    let mut done: Option<i64> = None;
    for (rec, off) in messages.iter().zip(offsets) {
        let Ok(v) = record::decode(rec, false) else {
            // A record that does not decode cannot be delivered; skip it.
            tracing::error!(
                offset = off.0,
                "undecodable record in the schedule queue skipped"
            );
            done = Some(off.0 as i64 + 1);
            continue;
        };
        let due = v.store_timestamp.saturating_add(delay_ms);
        let now = now_ms();
        if due > now {
            return match done {
                Some(n) => Step::Advance(n),
                None => Step::Wait(
                    Duration::from_millis((due - now) as u64).min(Duration::from_secs(1)),
                ),
            };
        }
        let props = MessageProperties::parse(v.properties);
        let (Some(topic), Some(qid)) = (
            props.get(property::REAL_TOPIC).map(String::from),
            props
                .get(property::REAL_QUEUE_ID)
                .and_then(|q| q.parse::<u32>().ok()),
        ) else {
            tracing::error!(
                offset = off.0,
                "scheduled message without REAL_TOPIC/REAL_QID skipped"
            );
            done = Some(off.0 as i64 + 1);
            continue;
        };
        let input = MessageInput {
            topic: topic.clone(),
            queue_id: qid,
            flag: v.flag,
            body: bytes::Bytes::copy_from_slice(v.body),
            properties: v.properties.to_string(),
            sys_flag: v.sys_flag,
            born_timestamp: v.born_timestamp,
            born_host: v.born_host,
            store_host: v.store_host,
            reconsume_times: v.reconsume_times,
            prepared_transaction_offset: 0,
        };
        let owner = s.owner_of(&topic, qid);
        let put = s
            .on_owner(owner, move |o| async move {
                o.store.append(&[input]).await.map(|_| ())
            })
            .await;
        match put {
            Some(Ok(())) => done = Some(off.0 as i64 + 1),
            Some(Err(e)) => {
                tracing::warn!(topic = %topic, error = %e, "delayed message re-put failed; retrying");
                return match done {
                    Some(n) => Step::Advance(n),
                    None => Step::Wait(Duration::from_secs(1)),
                };
            }
            None => return Step::Wait(Duration::from_secs(1)),
        }
    }
    match done {
        Some(n) => Step::Advance(n),
        None => Step::Wait(Duration::from_secs(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_default_levels() {
        let l = parse_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h").unwrap();
        assert_eq!(l.len(), 18);
        assert_eq!(l[0], Duration::from_secs(1));
        assert_eq!(l[4], Duration::from_secs(60));
        assert_eq!(l[17], Duration::from_secs(7200));
        assert_eq!(
            parse_levels("1d").unwrap(),
            vec![Duration::from_secs(86_400)]
        );
        assert!(parse_levels("10x").is_err());
        assert!(parse_levels("s").is_err());
    }

    #[test]
    fn divert_moves_delayed_messages_to_their_level() {
        let mut m = MessageInput::simple("T", 3, b"x", "");
        let mut p = MessageProperties::parse("DELAY\u{1}99\u{2}KEYS\u{1}k");
        assert!(divert(&mut m, &mut p, 18));
        assert_eq!((m.topic.as_str(), m.queue_id), (SCHEDULE_TOPIC, 17));
        assert_eq!(p.get(property::REAL_TOPIC), Some("T"));
        assert_eq!(p.get(property::REAL_QUEUE_ID), Some("3"));
        let mut m = MessageInput::simple("T", 3, b"x", "");
        let mut p = MessageProperties::parse("KEYS\u{1}k");
        assert!(!divert(&mut m, &mut p, 18));
        assert_eq!(m.topic, "T");
    }
}
