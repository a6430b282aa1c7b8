//! Every limit and fixed interval of the tool, in one place. Values that
//! imitate the Java 4.9.7 client name the Java setting they copy.

use std::time::Duration;

/// Connecting to a name server or broker.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Set-up and shutdown requests (route, offsets, topic creation).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// A send not answered within this is a failure
/// (`DefaultMQProducer.sendMsgTimeout`).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// The Java benchmark producer's sender sleeps this long after a remoting
/// error or a broker error before its next send.
pub const SEND_FAILURE_PAUSE: Duration = Duration::from_secs(3);
/// In-flight sends with `-y true` (`Producer.MAX_LENGTH_ASYNC_QUEUE`: the Java
/// tool stops submitting when 10 000 async sends are queued).
pub const ASYNC_MAX_IN_FLIGHT: usize = 10_000;
/// Long-polling hold the consumer asks for
/// (`brokerSuspendMaxTimeMillis` of the push consumer).
pub const PULL_SUSPEND: Duration = Duration::from_secs(15);
/// A pull not answered within this is a failure
/// (`consumerTimeoutMillisWhenSuspend`).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages per pull (`pullBatchSize`).
pub const PULL_BATCH: i32 = 32;
/// Pause after a pull error (`pullTimeDelayMillsWhenException`).
pub const PULL_ERROR_PAUSE: Duration = Duration::from_secs(1);
/// Consumer offsets are persisted this often
/// (`persistConsumerOffsetInterval`).
pub const OFFSET_PERSIST_INTERVAL: Duration = Duration::from_secs(5);
/// Heartbeats to the brokers (`heartbeatBrokerInterval`).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Routes are looked up again this often (`pollNameServerInterval`).
pub const ROUTE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// While a subscribed topic has no route yet, look again this often.
pub const ROUTE_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// `maxReconsumeTimes` sent with CONSUMER_SEND_MSG_BACK (client default).
pub const MAX_RECONSUME_TIMES: i32 = 16;
/// After the run, how long outstanding sends may still complete.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait of an I/O thread's `poll`, so stop requests and the
/// histogram hand-over are never late by more than this.
pub const POLL_TICK: Duration = Duration::from_millis(50);
/// How often an I/O thread hands its histograms to the reporter.
pub const HISTOGRAM_HANDOVER: Duration = Duration::from_millis(200);
/// Bytes one `read` takes from a socket.
pub const READ_CHUNK_BYTES: usize = 256 * 1024;
/// A thread stops queueing requests on a connection holding this many
/// unsent bytes until the peer reads.
pub const WRITE_BUFFER_HIGH_WATER: usize = 4 * 1024 * 1024;
/// Largest latency the histograms hold, microseconds (longer ones are
/// clamped to it).
pub const HIST_MAX_US: u64 = 600_000_000;
/// Distinct broker errors printed in full (later ones are only counted).
pub const ERRORS_PRINTED: usize = 20;
/// Largest `-w` accepted.
pub const MAX_SENDERS: usize = 100_000;
/// Largest `--connections` accepted.
pub const MAX_CONNECTIONS: usize = 64;
/// Largest `-s` accepted (4 MiB, the broker's default `maxMessageSize`).
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
/// `timer`: messages in flight while sending timers (default `-w`).
pub const TIMER_WINDOW: usize = 256;
/// `timer`: the default due time leaves the sends this long per message ...
pub const TIMER_SEND_ALLOWANCE_PER_MSG: Duration = Duration::from_micros(100);
/// ... plus this margin, so every timer is stored before it is due.
pub const TIMER_DUE_MARGIN: Duration = Duration::from_secs(5);
/// `timer --pending`: how long to wait for the broker to count every timer
/// as pending.
pub const TIMER_LOAD_WAIT: Duration = Duration::from_secs(120);
/// `timer --pending`: pause before reading the broker's RSS, so background
/// work (flush, timer loading) has settled.
pub const TIMER_SETTLE: Duration = Duration::from_secs(3);
/// Largest `--count` / `--pending` (the consumer keeps one bit per timer).
pub const TIMER_MAX_COUNT: u64 = 100_000_000;
