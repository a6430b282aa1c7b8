//! Helpers for the interoperability tests that drive `ringmq` with the
//! independent `rocketmq-client-rust` crate (see `../interop_client_rust.rs`).
//!
//! Everything here is bounded in time: every wait takes a deadline and
//! returns when the condition holds or the deadline passed; the caller then
//! asserts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock};
use std::time::{Duration, Instant};

use ringmq_tests::server::Ringmq;
use rocketmq_client_rust::{
    ClientConfig, ClientRuntime, ClientRuntimeConfig, ConsumeConcurrentlyContext,
    ConsumeConcurrentlyStatus, ConsumeOrderlyContext, ConsumeOrderlyStatus, DefaultMQAdminExt,
    DefaultMQProducer, DefaultMQPushConsumer, MQAdminMutationExt, MQPushConsumer, SendResult,
    SendStatus, TelemetryHandle,
};
use rocketmq_model::common::config::TopicConfig;
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_model::common::message::message_queue::MessageQueue;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::common::message::MessageTrait;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

/// Generous bound for a whole delivery phase on a loaded 2-core CI machine.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound for a topic route to become visible on the name server.
pub const ROUTE_TIMEOUT: Duration = Duration::from_secs(60);
/// Send timeout handed to the client (ms).
pub const SEND_TIMEOUT_MS: u64 = 10_000;
/// Prefix of the user properties the tests set and compare.
pub const USER_PROP_PREFIX: &str = "u_";
/// The user property that identifies a message across send and receive.
pub const ID_PROP: &str = "u_id";

/// The broker tests of this binary run one at a time: each starts its own
/// `ringmq serve` and a client runtime, and on a 2-core CI machine running
/// them all at once would turn every latency bound into a coin toss.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Points the client's local offset store (broadcast consumers) at a
/// directory of this test process instead of `$HOME/.rocketmq_offsets`.
/// The client reads the variable once (a `LazyLock`), so this runs before
/// any client exists in the process.
pub fn isolate_local_offset_store() {
    static ONCE: Once = Once::new();
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    ONCE.call_once(|| {
        let dir =
            std::env::temp_dir().join(format!("ringmq-interop-offsets-{}", std::process::id()));
        std::env::set_var("rocketmq.client.localOffsetStoreDir", &dir);
        let _ = DIR.set(dir);
    });
}

/// With `INTEROP_CLIENT_LOG=<filter>` (e.g. `rocketmq_client_rust=debug`)
/// the client's own tracing output goes to the test's stderr.
pub fn client_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("INTEROP_CLIENT_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}

/// One application-owned client runtime (the crate's explicit ownership
/// model: a `RuntimeOwner` holding the Tokio runtime, and a `ClientRuntime`
/// shared by every producer/consumer/admin of a test).
pub struct ClientEnv {
    owner: Option<RuntimeOwner>,
    runtime: Arc<ClientRuntime>,
    /// Distinguishes instance names of clients in this process.
    pub tag: String,
}

impl ClientEnv {
    pub fn new(scope: &'static str) -> ClientEnv {
        isolate_local_offset_store();
        client_logging();
        let mut config = RuntimeConfig {
            thread_name: format!("interop-{scope}"),
            shutdown_timeout: Duration::from_secs(20),
            ..Default::default()
        };
        // The push consumer runs listeners on the metadata-io blocking lane,
        // whose default queue (8 x cores) overflows under a burst and makes
        // the client send messages back for retry. Make it deep.
        let lane = &mut config.blocking_lane_policies.metadata_io;
        lane.max_queue_depth = 65_536;
        lane.queue_timeout = Duration::from_secs(120);
        let owner = RuntimeOwner::plan(config)
            .expect("valid client runtime configuration")
            .build()
            .expect("build the client's Tokio runtime");
        let runtime = ClientRuntime::try_new(
            owner.root_context().component(scope),
            ClientRuntimeConfig {
                shutdown_timeout: Duration::from_secs(20),
                ..Default::default()
            },
            TelemetryHandle::noop(),
        )
        .expect("create the ClientRuntime");
        ClientEnv {
            owner: Some(owner),
            runtime,
            tag: format!("{scope}-{}", std::process::id()),
        }
    }

    pub fn runtime(&self) -> Arc<ClientRuntime> {
        self.runtime.clone()
    }

    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.owner.as_ref().expect("runtime owner").block_on(f)
    }

    /// Lets the clients run for `d` (a settling window in which late
    /// redeliveries would show, never a readiness wait).
    pub fn settle(&self, d: Duration) {
        self.block_on(async { tokio::time::sleep(d).await });
    }

    /// A client configuration with a distinct instance name.
    pub fn client_config(&self, namesrv: &str, instance: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.namesrv_addr = Some(namesrv.to_owned().into());
        c.instance_name = format!("{}-{instance}", self.tag).into();
        c
    }

    pub fn producer(&self, namesrv: &str, group: &str, instance: &str) -> DefaultMQProducer {
        let mut p = DefaultMQProducer::builder(self.runtime())
            .client_config(self.client_config(namesrv, instance))
            .producer_group(group.to_owned())
            .send_msg_timeout(SEND_TIMEOUT_MS as u32)
            .build();
        self.block_on(p.start()).expect("start the producer");
        p
    }

    /// Shuts the client runtime and the Tokio runtime down; prints (does not
    /// fail on) an unhealthy report, which concerns the client's internals.
    pub fn shutdown(mut self) {
        self.shutdown_inner();
    }

    fn shutdown_inner(&mut self) {
        let Some(owner) = self.owner.take() else {
            return;
        };
        let report = owner.block_on(self.runtime.shutdown());
        if !report.is_healthy() {
            eprintln!("client runtime shutdown unhealthy: {}", report.to_json());
        }
        match owner.shutdown_runtime_blocking_with_timeout(Duration::from_secs(20)) {
            Ok(r) if !r.is_healthy() => eprintln!("runtime shutdown unhealthy: {}", r.to_json()),
            Ok(_) => {}
            Err(e) => eprintln!("runtime shutdown failed: {e}"),
        }
    }
}

impl Drop for ClientEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Do not wait on a client whose test already failed.
            if let Some(owner) = self.owner.take() {
                let _ = owner.shutdown_background();
            }
            return;
        }
        self.shutdown_inner();
    }
}

/// The name server and broker addresses of `broker`.
pub fn broker_addrs(broker: &Ringmq) -> (String, String) {
    (broker.namesrv_addr(), broker.broker.to_string())
}

/// The set-up every test starts from: a client runtime `scope` for
/// `broker`, in which `topic` is created with `queues` queues and has a
/// route ([`create_topic`]). Returns the name server address and the
/// runtime.
pub fn env_with_topic(
    broker: &Ringmq,
    scope: &'static str,
    topic: &str,
    queues: u32,
) -> (String, ClientEnv) {
    let (ns, ba) = broker_addrs(broker);
    let env = ClientEnv::new(scope);
    create_topic(&env, &ns, &ba, topic, queues);
    (ns, env)
}

/// Creates `topic` with `queues` read and write queues on the broker at
/// `broker_addr` through the client's admin API (`MQAdminMutationExt::
/// upsert_topic_config`, i.e. request code 17 UPDATE_AND_CREATE_TOPIC), then
/// waits until the name server serves a route with `queues` write queues.
pub fn create_topic(env: &ClientEnv, namesrv: &str, broker_addr: &str, topic: &str, queues: u32) {
    env.block_on(async {
        let mut admin =
            DefaultMQAdminExt::with_admin_ext_group(env.runtime(), "interop_admin_group");
        *admin.client_config_mut() = env.client_config(namesrv, "admin");
        admin.start().await.expect("start the admin client");
        let config = TopicConfig::with_queues(topic, queues, queues);
        admin
            .upsert_topic_config(broker_addr.to_owned().into(), config)
            .await
            .unwrap_or_else(|e| panic!("UPDATE_AND_CREATE_TOPIC {topic} on {broker_addr}: {e}"));
        admin.shutdown().await;
    });
    let mut producer = env.producer(namesrv, "interop_route_probe", "route-probe");
    let n = wait_for_route(env, &mut producer, topic);
    assert_eq!(
        n, queues as usize,
        "name server route of {topic}: expected {queues} writable queues, got {n}"
    );
    env.block_on(producer.shutdown());
}

/// Waits (bounded) until the name server returns a route for `topic`
/// with at least one writable queue; returns the number of queues.
pub fn wait_for_route(env: &ClientEnv, producer: &mut DefaultMQProducer, topic: &str) -> usize {
    env.block_on(async {
        let deadline = Instant::now() + ROUTE_TIMEOUT;
        loop {
            let last = match producer.fetch_publish_message_queues(topic).await {
                Ok(q) if !q.is_empty() => return q.len(),
                Ok(_) => "empty queue list".to_owned(),
                // Permanent: waiting cannot help.
                Err(e) if e.to_string().contains("Serialization failed") => panic!(
                    "the client cannot decode the name server's GET_ROUTEINFO_BY_TOPIC (105) \
                     answer for {topic}: {e} (rocketmq-client-rust 1.0.0 requires \
                     `enableActingMaster` in every BrokerData)"
                ),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                panic!("no route for {topic} within {ROUTE_TIMEOUT:?}: {last}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Shuts `producer` down, consuming it.
pub fn shutdown_producer(env: &ClientEnv, mut producer: DefaultMQProducer) {
    env.block_on(producer.shutdown());
}

/// Sends `m` (test id `id`) synchronously through a `MessageQueueSelector`
/// that picks queue `key % queues`, so all messages of one order key go to
/// one queue; the send must be SEND_OK.
pub async fn send_to_key_queue(
    producer: &DefaultMQProducer,
    m: Message,
    id: &str,
    key: usize,
) -> SendResult {
    let r = producer
        .send_with_selector_timeout(
            m,
            |mqs: &[MessageQueue], _m: &Message, k: &usize| Some(mqs[*k % mqs.len()].clone()),
            key,
            SEND_TIMEOUT_MS,
        )
        .await
        .unwrap_or_else(|err| panic!("send {id}: {err}"))
        .expect("a sync send returns a SendResult");
    assert_eq!(r.send_status, SendStatus::SendOk);
    r
}

/// The queues from which the messages of order key `key` (test ids
/// `order<key>-…`, sent with [`send_to_key_queue`]) were delivered.
pub fn queues_of_order_key<'a>(
    key: usize,
    received: impl IntoIterator<Item = &'a Got>,
) -> BTreeSet<i32> {
    let family = format!("order{key}-");
    received
        .into_iter()
        .filter(|g| g.id.as_deref().is_some_and(|id| id.starts_with(&family)))
        .map(|g| g.queue_id)
        .collect()
}

/// Asks the broker (request code 14 QUERY_CONSUMER_OFFSET, via the admin
/// API) for the committed offset of `group` on each queue of `topic`.
pub fn committed_offsets(
    env: &ClientEnv,
    namesrv: &str,
    broker_addr: &str,
    group: &str,
    topic: &str,
    queues: u32,
) -> Vec<Result<i64, String>> {
    env.block_on(async {
        let mut admin =
            DefaultMQAdminExt::with_admin_ext_group(env.runtime(), "interop_admin_group");
        *admin.client_config_mut() = env.client_config(namesrv, "offset-admin");
        admin.start().await.expect("start the admin client");
        let mut out = Vec::new();
        for q in 0..queues as i32 {
            let r = admin
                .mutation_consumer_offset(
                    broker_addr.to_owned().into(),
                    group.to_owned().into(),
                    topic.to_owned().into(),
                    q,
                )
                .await
                .map_err(|e| e.to_string());
            out.push(r);
        }
        admin.shutdown().await;
        out
    })
}

/// What the test sent, keyed by [`ID_PROP`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub id: String,
    pub keys: String,
    pub tags: Option<String>,
    pub body: Vec<u8>,
    pub user_props: BTreeMap<String, String>,
}

/// Builds message `i` of a family `mode`: unique id, two keys, `tag`,
/// a deterministic binary body of `len` bytes, and three user properties
/// (one with non-ASCII text).
pub fn make_message(
    topic: &str,
    mode: &str,
    i: usize,
    tag: Option<&str>,
    len: usize,
) -> (Message, Expected) {
    let id = format!("{mode}-{i}");
    let keys = vec![format!("K-{id}"), format!("alt{i}")];
    let body = body_of(&id, len);
    let mut user_props = BTreeMap::new();
    user_props.insert(ID_PROP.to_owned(), id.clone());
    user_props.insert("u_mode".to_owned(), mode.to_owned());
    user_props.insert("u_text".to_owned(), format!("héllo wörld ✓ {i}"));
    let mut b = Message::builder()
        .topic(topic.to_owned())
        .keys(keys.clone())
        .body(body.clone());
    if let Some(t) = tag {
        b = b.tags(t.to_owned());
    }
    for (k, v) in &user_props {
        b = b.raw_property(k.clone(), v.clone()).expect("user property");
    }
    let msg = b.build().expect("valid message");
    (
        msg,
        Expected {
            id,
            keys: keys.join(" "),
            tags: tag.map(str::to_owned),
            body,
            user_props,
        },
    )
}

/// A deterministic body: printable header then pseudo-random bytes.
pub fn body_of(id: &str, len: usize) -> Vec<u8> {
    let mut out = format!("body of {id}:").into_bytes();
    let mut x: u64 = id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(x as u8);
    }
    out.truncate(len.max(1));
    out
}

/// One delivered message as a listener saw it.
#[derive(Debug, Clone)]
pub struct Got {
    pub id: Option<String>,
    pub keys: Option<String>,
    pub tags: Option<String>,
    pub body: Vec<u8>,
    pub user_props: BTreeMap<String, String>,
    pub queue_id: i32,
    pub queue_offset: i64,
    /// Non-zero for a message redelivered through the group's retry topic.
    pub reconsume_times: i32,
    /// Which consumer of the test received it.
    pub consumer: usize,
}

impl Got {
    pub fn from_ext(m: &MessageExt, consumer: usize) -> Got {
        let user_props: BTreeMap<String, String> = m
            .properties()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with(USER_PROP_PREFIX))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Got {
            id: user_props.get(ID_PROP).cloned(),
            keys: m.get_keys().map(|k| k.to_string()),
            tags: m.get_tags().map(|t| t.to_string()),
            body: m.body().map(|b| b.to_vec()).unwrap_or_default(),
            user_props,
            queue_id: m.queue_id(),
            queue_offset: m.queue_offset(),
            reconsume_times: m.reconsume_times(),
            consumer,
        }
    }

    /// Differences between what was sent and what arrived (empty = equal).
    pub fn diff(&self, e: &Expected) -> Vec<String> {
        let mut d = Vec::new();
        if self.keys.as_deref() != Some(e.keys.as_str()) {
            d.push(format!("keys {:?} != sent {:?}", self.keys, e.keys));
        }
        if self.tags != e.tags {
            d.push(format!("tags {:?} != sent {:?}", self.tags, e.tags));
        }
        if self.body != e.body {
            d.push(format!(
                "body ({} bytes, starts {:?}) != sent ({} bytes, starts {:?})",
                self.body.len(),
                String::from_utf8_lossy(&self.body[..self.body.len().min(24)]),
                e.body.len(),
                String::from_utf8_lossy(&e.body[..e.body.len().min(24)])
            ));
        }
        if self.user_props != e.user_props {
            d.push(format!(
                "user properties {:?} != sent {:?}",
                self.user_props, e.user_props
            ));
        }
        d
    }
}

/// What a concurrent listener answers.
pub type ConcurrentOutcome = rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus>;

/// A listener for `register_message_listener_concurrently` (a name for
/// the bound, which the listener builders return).
pub trait ConcurrentListener:
    Fn(&[&MessageExt], &ConsumeConcurrentlyContext) -> ConcurrentOutcome + Send + Sync + 'static
{
}

impl<F> ConcurrentListener for F where
    F: Fn(&[&MessageExt], &ConsumeConcurrentlyContext) -> ConcurrentOutcome + Send + Sync + 'static
{
}

/// Shared sink the listeners append to.
#[derive(Clone, Default)]
pub struct Collector {
    inner: Arc<Mutex<Vec<Got>>>,
}

impl Collector {
    pub fn push(&self, g: Got) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).push(g);
    }

    pub fn snapshot(&self) -> Vec<Got> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether every id of `expected` was received at least once.
    pub fn has_all(&self, expected: &[Expected]) -> bool {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let ids: std::collections::HashSet<&str> =
            g.iter().filter_map(|m| m.id.as_deref()).collect();
        expected.iter().all(|e| ids.contains(e.id.as_str()))
    }

    /// A concurrent listener recording every message as consumer `consumer`.
    pub fn concurrently(&self, consumer: usize) -> impl ConcurrentListener {
        let c = self.clone();
        move |msgs: &[&MessageExt], _ctx: &ConsumeConcurrentlyContext| {
            for m in msgs {
                c.push(Got::from_ext(m, consumer));
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    /// An orderly listener recording every message as consumer `consumer`.
    pub fn orderly(
        &self,
        consumer: usize,
    ) -> impl Fn(
        &[&MessageExt],
        &mut ConsumeOrderlyContext,
    ) -> rocketmq_client_rust::ClientResult<ConsumeOrderlyStatus>
           + Send
           + Sync
           + 'static {
        let c = self.clone();
        move |msgs: &[&MessageExt], _ctx: &mut ConsumeOrderlyContext| {
            for m in msgs {
                c.push(Got::from_ext(m, consumer));
            }
            Ok(ConsumeOrderlyStatus::Success)
        }
    }
}

/// Polls `cond` every 50 ms until it holds or `timeout` passed; returns
/// whether it held.
pub async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return cond();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The outcome of comparing what was sent with what arrived.
#[derive(Debug, Default)]
pub struct Delivery {
    pub missing: Vec<String>,
    /// id -> times received beyond the first.
    pub duplicates: BTreeMap<String, usize>,
    pub unexpected: Vec<String>,
    pub mismatched: Vec<String>,
    /// Deliveries with `reconsumeTimes > 0` (came back through %RETRY%).
    pub retried: usize,
}

impl Delivery {
    /// Every copy that arrived is identical to what was sent, and nothing
    /// arrived that was not sent.
    #[track_caller]
    pub fn assert_intact_and_nothing_unexpected(&self) {
        assert!(
            self.mismatched.is_empty(),
            "content differs: {}",
            self.describe()
        );
        assert!(
            self.unexpected.is_empty(),
            "unexpected messages: {}",
            self.describe()
        );
    }

    pub fn duplicate_count(&self) -> usize {
        self.duplicates.values().sum()
    }

    pub fn describe(&self) -> String {
        format!(
            "missing {} {:?}; duplicated {} {:?}; unexpected {} {:?}; mismatched {} {:?}; \
             {} deliveries with reconsumeTimes > 0",
            self.missing.len(),
            first(&self.missing),
            self.duplicate_count(),
            self.duplicates.iter().take(10).collect::<Vec<_>>(),
            self.unexpected.len(),
            first(&self.unexpected),
            self.mismatched.len(),
            first(&self.mismatched),
            self.retried,
        )
    }
}

fn first(v: &[String]) -> &[String] {
    &v[..v.len().min(10)]
}

/// Compares `got` with `expected` by id, checking content of every copy.
pub fn compare(expected: &[Expected], got: &[Got]) -> Delivery {
    let by_id: HashMap<&str, &Expected> = expected.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut d = Delivery::default();
    for g in got {
        if g.reconsume_times > 0 {
            d.retried += 1;
        }
        let Some(id) = g.id.as_deref() else {
            d.unexpected
                .push(format!("message without {ID_PROP}: {g:?}"));
            continue;
        };
        let Some(e) = by_id.get(id) else {
            d.unexpected.push(id.to_owned());
            continue;
        };
        *seen.entry(id).or_default() += 1;
        let diff = g.diff(e);
        if !diff.is_empty() {
            d.mismatched.push(format!("{id}: {}", diff.join("; ")));
        }
    }
    for e in expected {
        match seen.get(e.id.as_str()) {
            None => d.missing.push(e.id.clone()),
            Some(&n) if n > 1 => {
                d.duplicates.insert(e.id.clone(), n - 1);
            }
            _ => {}
        }
    }
    d
}

/// A push consumer to start: of `group` (instance name `instance`) on
/// `topic`, consuming from the first offset. [`PushSpec::new`] gives the
/// common case; the tests change the other fields.
#[derive(Clone, Copy)]
pub struct PushSpec<'a> {
    pub group: &'a str,
    pub instance: &'a str,
    pub topic: &'a str,
    /// Tag expression (`*`: every message).
    pub expression: &'a str,
    pub model: MessageModel,
    /// `persistConsumerOffsetInterval`; `None`: the client's default.
    pub persist_interval_ms: Option<u32>,
    /// An orderly listener instead of a concurrent one.
    pub orderly: bool,
}

impl<'a> PushSpec<'a> {
    /// Cluster mode, every tag, the client's offset persistence interval,
    /// a concurrent listener.
    pub fn new(group: &'a str, instance: &'a str, topic: &'a str) -> PushSpec<'a> {
        PushSpec {
            group,
            instance,
            topic,
            expression: "*",
            model: MessageModel::Clustering,
            persist_interval_ms: None,
            orderly: false,
        }
    }

    /// Starts the consumer, recording into `collector` as consumer `index`.
    pub fn start(
        self,
        env: &ClientEnv,
        namesrv: &str,
        collector: &Collector,
        index: usize,
    ) -> DefaultMQPushConsumer {
        let mut config = env.client_config(namesrv, self.instance);
        if let Some(ms) = self.persist_interval_ms {
            config.persist_consumer_offset_interval = ms;
        }
        let mut c = DefaultMQPushConsumer::builder(env.runtime())
            .client_config(config)
            .consumer_group(self.group.to_owned())
            .message_model(self.model)
            .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
            .build();
        env.block_on(async {
            c.subscribe(self.topic.to_owned(), self.expression.to_owned())
                .await
                .expect("subscribe");
            if self.orderly {
                c.register_message_listener_orderly(collector.orderly(index));
            } else {
                c.register_message_listener_concurrently(collector.concurrently(index));
            }
            c.start().await.expect("start the push consumer");
        });
        c
    }
}
