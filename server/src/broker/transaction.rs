//! Transactional messages (reference §8): half messages, END_TRANSACTION
//! and the check-back to producers.
//!
//! Everything about transactions runs on one shard, the owner of the half
//! queue (`RMQ_SYS_TRANS_HALF_TOPIC`, queue 0): it stores the half
//! messages, keeps the set of half offsets already resolved (commit,
//! rollback or given up; each one also has an op record in
//! `RMQ_SYS_TRANS_OP_HALF_TOPIC`, body = the half queue offset, from which
//! the set is rebuilt at start), and runs the checker. Resolving on one
//! shard, marking before storing, is what makes a commit visible exactly
//! once even when a producer answers twice.
//!
//! The checker walks the half queue from its progress offset (kept as the
//! consumer offset of the system group `CID_RMQ_SYS_TRANS`, so it survives
//! restarts): resolved halves are passed; a half younger than
//! `transactionTimeOut` stops the walk; one checked `transactionCheckMax`
//! times goes to `TRANS_CHECK_MAX_TIME_TOPIC`; any other is re-appended
//! with its check count + 1 and CHECK_TRANSACTION_STATE is sent about the
//! new copy to one live connection of its producer group.

use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use ringmq_engine::record::{self, RecordView};
use ringmq_engine::{LogOffset, MessageInput, QueueKey, QueueOffset};
use ringmq_remoting::message::{
    property, MessageProperties, MessageSysFlag, OffsetMsgId, StoredMessage,
};
use ringmq_remoting::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, RemotingCommand, RequestCode,
    ResponseCode,
};

use super::metadata::{now_ms, perm};
use super::shard::BrokerShard;
use super::topic_names::{TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC};
use crate::net::conn::reply;
use crate::net::Connection;

/// The system group whose offset on the half queue is the checker's progress.
pub const CHECK_GROUP: &str = "CID_RMQ_SYS_TRANS";
const TX_MASK: i32 = MessageSysFlag::TRANSACTION_ROLLBACK_TYPE;
const CHECK_TIMES: &str = property::TRANSACTION_CHECK_TIMES;
const CHECK_IMMUNITY: &str = property::CHECK_IMMUNITY_TIME_IN_SECONDS;

fn half_key() -> QueueKey {
    QueueKey::new(TRANS_HALF_TOPIC, 0)
}

/// Half offsets already resolved (on the half queue's owner shard).
#[derive(Default)]
pub struct Resolved {
    offsets: HashSet<i64>,
    loaded: bool,
}

/// Turns a prepared send into its half message (§8.1 step 2): topic and
/// queue move into REAL_TOPIC / REAL_QID, the transaction bits are cleared.
pub fn to_half(m: &mut MessageInput, props: &mut MessageProperties) {
    props.insert(property::REAL_TOPIC, m.topic.clone());
    props.insert(property::REAL_QUEUE_ID, m.queue_id.to_string());
    m.topic = TRANS_HALF_TOPIC.to_string();
    m.queue_id = 0;
    m.sys_flag &= !TX_MASK;
}

/// Whether a send is the prepared half of a transaction.
pub fn is_prepared(sys_flag: i32, props: &MessageProperties) -> bool {
    sys_flag & TX_MASK == MessageSysFlag::TRANSACTION_PREPARED_TYPE
        && props
            .get(property::TRANSACTION_PREPARED)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

async fn ensure_loaded(s: &Rc<BrokerShard>) {
    if s.tx_resolved.borrow().loaded {
        return;
    }
    // Rebuild the resolved set from the op records.
    let key = QueueKey::new(TRANS_OP_HALF_TOPIC, 0);
    let mut offset = s.store.min_offset(&key).0;
    let mut set = HashSet::new();
    loop {
        let Ok(r) = s
            .store
            .get_messages(&key, QueueOffset(offset), 256, 4 << 20, &|_| true)
            .await
        else {
            break;
        };
        if r.messages.is_empty() {
            break;
        }
        for m in &r.messages {
            if let Ok(v) = record::decode(m, false) {
                if let Some(o) = std::str::from_utf8(v.body)
                    .ok()
                    .and_then(|b| b.parse::<i64>().ok())
                {
                    set.insert(o);
                }
            }
        }
        offset = r.next_begin_offset.0;
    }
    let mut r = s.tx_resolved.borrow_mut();
    if !r.loaded {
        r.offsets.extend(set);
        r.loaded = true;
    }
}

/// END_TRANSACTION (37), normally oneway.
pub async fn end_transaction(
    shard: Rc<BrokerShard>,
    _c: Rc<Connection>,
    req: RemotingCommand,
) -> Option<RemotingCommand> {
    let oneway = req.is_oneway();
    let h: EndTransactionRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return (!oneway).then(|| reply(&req, ResponseCode::SystemError, e.to_string())),
    };
    let state = h.commit_or_rollback;
    if state != MessageSysFlag::TRANSACTION_COMMIT_TYPE
        && state != MessageSysFlag::TRANSACTION_ROLLBACK_TYPE
    {
        return None;
    }
    let owner = shard.owner_of(TRANS_HALF_TOPIC, 0);
    let outcome = shard
        .on_owner(owner, move |s| async move { resolve(&s, &h).await })
        .await
        .unwrap_or_else(|| Err("shard unavailable".into()));
    if oneway {
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "END_TRANSACTION refused");
        }
        return None;
    }
    Some(match outcome {
        Ok(()) => RemotingCommand::response_to(&req, ResponseCode::Success, None),
        Err(e) => reply(&req, ResponseCode::SystemError, e),
    })
}

/// Commit or rollback, on the half queue's owner.
async fn resolve(s: &Rc<BrokerShard>, h: &EndTransactionRequestHeader) -> Result<(), String> {
    ensure_loaded(s).await;
    let pos = LogOffset(h.commit_log_offset.max(0) as u64);
    if h.commit_log_offset < 0 || pos.shard() != s.id {
        return Err("Find prepared transaction message failed".into());
    }
    let rec = s
        .store
        .read_record(pos)
        .await
        .map_err(|_| "Find prepared transaction message failed".to_string())?;
    let v = record::decode(&rec, false)
        .map_err(|_| "Find prepared transaction message failed".to_string())?;
    if v.topic != TRANS_HALF_TOPIC {
        return Err("Find prepared transaction message failed".into());
    }
    let props = MessageProperties::parse(v.properties);
    if props.get(property::PRODUCER_GROUP) != Some(h.producer_group.as_str()) {
        return Err("The producer group wrong".into());
    }
    if v.queue_offset != h.tran_state_table_offset {
        return Err("The transaction state table offset wrong".into());
    }
    if v.physical_offset != h.commit_log_offset {
        return Err("The commit log offset wrong".into());
    }
    // Mark first: a second answer for the same half finds it resolved.
    if !s.tx_resolved.borrow_mut().offsets.insert(v.queue_offset) {
        return Ok(());
    }
    if h.commit_or_rollback == MessageSysFlag::TRANSACTION_COMMIT_TYPE {
        if let Err(e) = commit(s, &v, &props).await {
            s.tx_resolved.borrow_mut().offsets.remove(&v.queue_offset);
            return Err(e);
        }
    }
    write_op(s, v.queue_offset).await
}

async fn commit(
    s: &Rc<BrokerShard>,
    v: &RecordView<'_>,
    props: &MessageProperties,
) -> Result<(), String> {
    let topic = props
        .get(property::REAL_TOPIC)
        .unwrap_or_default()
        .to_string();
    let queue_id: u32 = props
        .get(property::REAL_QUEUE_ID)
        .and_then(|q| q.parse().ok())
        .ok_or("half message without REAL_QID")?;
    let m = MessageInput {
        topic: topic.clone(),
        queue_id,
        flag: v.flag,
        body: Bytes::copy_from_slice(v.body),
        // As Apache: the committed record keeps REAL_TOPIC / REAL_QID / TRAN_MSG.
        properties: v.properties.to_string(),
        sys_flag: (v.sys_flag & !TX_MASK) | MessageSysFlag::TRANSACTION_COMMIT_TYPE,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        store_host: v.store_host,
        reconsume_times: v.reconsume_times,
        prepared_transaction_offset: v.physical_offset,
    };
    let owner = s.owner_of(&topic, queue_id);
    match s
        .on_owner(owner, move |o| async move {
            o.store.append(&[m]).await.map(|_| ())
        })
        .await
    {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("shard unavailable".into()),
    }
}

/// The op record of a resolved half (§8.2).
async fn write_op(s: &Rc<BrokerShard>, half_offset: i64) -> Result<(), String> {
    s.meta
        .create_system_topic(TRANS_OP_HALF_TOPIC, 1, perm::READ | perm::WRITE, &s.cfg);
    let mut m = MessageInput::simple(
        TRANS_OP_HALF_TOPIC,
        0,
        half_offset.to_string().as_bytes(),
        "TAGS\u{1}d\u{2}WAIT\u{1}true",
    );
    m.born_timestamp = now_ms();
    m.born_host = s.store_host;
    m.store_host = s.store_host;
    let owner = s.owner_of(TRANS_OP_HALF_TOPIC, 0);
    match s
        .on_owner(owner, move |o| async move {
            o.store.append(&[m]).await.map(|_| ())
        })
        .await
    {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("shard unavailable".into()),
    }
}

/// Starts the checker on the half queue's owner.
pub fn start_checker(shard: &Rc<BrokerShard>, stop: &Rc<super::Stop>) {
    if shard.owner_of(TRANS_HALF_TOPIC, 0) != shard.id {
        return;
    }
    let (s, st) = (shard.clone(), stop.clone());
    glommio::spawn_local(async move {
        let every = Duration::from_millis(s.cfg.transaction_check_interval_ms);
        while !st.is_set() {
            let _ = glommio::timer::timeout(every, async {
                st.wait().await;
                Ok(())
            })
            .await;
            if st.is_set() {
                break;
            }
            if let Err(e) = check_once(&s).await {
                tracing::warn!(error = %e, "transaction check round failed");
            }
        }
    })
    .detach();
}

/// One checker round over the half queue.
pub async fn check_once(s: &Rc<BrokerShard>) -> Result<(), String> {
    ensure_loaded(s).await;
    let key = half_key();
    let min = s.store.min_offset(&key).0 as i64;
    let mut progress = s
        .offsets
        .borrow()
        .query(CHECK_GROUP, TRANS_HALF_TOPIC, 0)
        .unwrap_or(0)
        .max(min);
    let max = s.store.max_offset(&key).0 as i64;
    let now = now_ms();
    while progress < max {
        let r = s
            .store
            .get_messages(&key, QueueOffset(progress as u64), 32, 4 << 20, &|_| true)
            .await
            .map_err(|e| e.to_string())?;
        if r.messages.is_empty() {
            progress = progress.max(r.next_begin_offset.0 as i64);
            break;
        }
        let mut stop_walk = false;
        for (rec, off) in r.messages.iter().zip(&r.queue_offsets) {
            let off = off.0 as i64;
            if s.tx_resolved.borrow().offsets.contains(&off) {
                progress = off + 1;
                continue;
            }
            let Ok(v) = record::decode(rec, false) else {
                progress = off + 1;
                continue;
            };
            let props = MessageProperties::parse(v.properties);
            let immunity_ms = props
                .get(CHECK_IMMUNITY)
                .and_then(|t| t.parse::<i64>().ok())
                .map(|secs| secs * 1000)
                .unwrap_or(s.cfg.transaction_timeout_ms as i64);
            if now - v.born_timestamp.max(v.store_timestamp) < immunity_ms {
                stop_walk = true;
                break;
            }
            let checks: u32 = props
                .get(CHECK_TIMES)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            if checks >= s.cfg.transaction_check_max {
                give_up(s, &v).await?;
            } else {
                check_back(s, &v, props, checks + 1).await?;
            }
            s.tx_resolved.borrow_mut().offsets.insert(off);
            progress = off + 1;
        }
        s.offsets
            .borrow_mut()
            .commit(CHECK_GROUP, TRANS_HALF_TOPIC, 0, progress);
        if stop_walk {
            break;
        }
    }
    s.offsets
        .borrow_mut()
        .commit(CHECK_GROUP, TRANS_HALF_TOPIC, 0, progress);
    Ok(())
}

/// Checked too often: keep a copy in TRANS_CHECK_MAX_TIME_TOPIC and forget it.
async fn give_up(s: &Rc<BrokerShard>, v: &RecordView<'_>) -> Result<(), String> {
    tracing::warn!(
        offset = v.queue_offset,
        "half message checked too often: moved to {TRANS_CHECK_MAX_TIME_TOPIC}"
    );
    s.tx_given_up.set(s.tx_given_up.get() + 1);
    s.meta.create_system_topic(
        TRANS_CHECK_MAX_TIME_TOPIC,
        1,
        perm::READ | perm::WRITE,
        &s.cfg,
    );
    let m = copy_of(v, TRANS_CHECK_MAX_TIME_TOPIC, v.properties.to_string());
    let owner = s.owner_of(TRANS_CHECK_MAX_TIME_TOPIC, 0);
    match s
        .on_owner(owner, move |o| async move {
            o.store.append(&[m]).await.map(|_| ())
        })
        .await
    {
        Some(Ok(())) => write_op(s, v.queue_offset).await,
        Some(Err(e)) => Err(e.to_string()),
        None => Err("shard unavailable".into()),
    }
}

fn copy_of(v: &RecordView<'_>, topic: &str, properties: String) -> MessageInput {
    MessageInput {
        topic: topic.to_string(),
        queue_id: 0,
        flag: v.flag,
        body: Bytes::copy_from_slice(v.body),
        properties,
        sys_flag: v.sys_flag,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        store_host: v.store_host,
        reconsume_times: v.reconsume_times,
        prepared_transaction_offset: 0,
    }
}

/// Re-appends the half with its check count and asks a producer about it.
async fn check_back(
    s: &Rc<BrokerShard>,
    v: &RecordView<'_>,
    mut props: MessageProperties,
    checks: u32,
) -> Result<(), String> {
    props.insert(CHECK_TIMES, checks.to_string());
    let copy = copy_of(v, TRANS_HALF_TOPIC, props.encode());
    let appended = s
        .store
        .append(std::slice::from_ref(&copy))
        .await
        .map_err(|e| e.to_string())?;
    let Some(a) = appended.records.first().copied() else {
        return Ok(());
    };
    let Some(group) = props.get(property::PRODUCER_GROUP).map(String::from) else {
        return Ok(());
    };
    let uniq = props
        .get(property::UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        .map(String::from);
    // The body is the half as the producer knows it: real topic and queue.
    let real_topic = props
        .get(property::REAL_TOPIC)
        .unwrap_or_default()
        .to_string();
    let real_qid: i32 = props
        .get(property::REAL_QUEUE_ID)
        .and_then(|q| q.parse().ok())
        .unwrap_or(0);
    let stored = s
        .store
        .read_record(a.log_offset)
        .await
        .map_err(|e| e.to_string())?;
    let body = match StoredMessage::decode(&stored) {
        Ok((mut m, _)) => {
            m.topic = real_topic.as_bytes();
            m.queue_id = real_qid;
            m.encode().map_err(|e| e.to_string())?
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut req = RemotingCommand::new_request(RequestCode::CheckTransactionState, 0);
    req.encode_header(&CheckTransactionStateRequestHeader {
        tran_state_table_offset: a.queue_offset.map(|q| q.0 as i64).unwrap_or(0),
        commit_log_offset: a.log_offset.0 as i64,
        msg_id: uniq.clone(),
        transaction_id: uniq,
        offset_msg_id: Some(OffsetMsgId::new(s.store_host, a.log_offset.0 as i64).encode()),
        bname: None,
    });
    req.body = Bytes::from(body);
    req.mark_oneway();
    // One live connection of the producer group, through its shard.
    let producers = super::clients::producer_group_snapshot(s, &group)
        .await
        .unwrap_or_default();
    let Some(target) = producers.first().map(|c| c.conn) else {
        return Ok(());
    };
    s.mesh
        .post(target.shard(), move |t| async move {
            let c = t.conns.borrow().get(&target).cloned();
            if let Some(c) = c {
                c.try_send(req);
            }
        })
        .await;
    Ok(())
}
