//! Shared helpers of the engine tests.
#![allow(dead_code)]

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

use ringmq_engine::disk::Disk;
use ringmq_engine::env::{Clock, DiskUsage, ShardEnv, StatvfsUsage, SystemClock};
use ringmq_engine::MessageInput;

/// Runs `f` on a fresh glommio executor (small I/O memory: `ulimit -l` is small).
pub fn run<T: Send + 'static, F, Fut>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    ringmq_engine::shard::shard_executor(0, &[])
        .spawn(f)
        .expect("executor")
        .join()
        .expect("join")
}

pub struct TestClock {
    pub ms: Cell<i64>,
    pub hour: Cell<u32>,
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.ms.get()
    }
    fn local_hour(&self) -> u32 {
        self.hour.get()
    }
}

pub struct TestUsage(pub Cell<u32>);

impl DiskUsage for TestUsage {
    fn used_percent(&self, _: &Path) -> std::io::Result<u32> {
        Ok(self.0.get())
    }
}

pub fn env_with(disk: Rc<dyn Disk>) -> ShardEnv {
    ShardEnv {
        disk,
        clock: Rc::new(SystemClock::new()),
        usage: Rc::new(FixedUsage(10)),
    }
}

pub struct FixedUsage(pub u32);
impl DiskUsage for FixedUsage {
    fn used_percent(&self, _: &Path) -> std::io::Result<u32> {
        Ok(self.0)
    }
}

pub fn real_env() -> ShardEnv {
    let mut e = ShardEnv::real();
    e.usage = Rc::new(FixedUsage(10));
    let _ = StatvfsUsage;
    e
}

/// A deterministic message: body and keys derive from `seq`.
pub fn msg(topic: &str, queue: u32, seq: u64, body_len: usize) -> MessageInput {
    let mut body = vec![0u8; body_len];
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in body.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let props = format!(
        "KEYS\u{1}key-{seq} common\u{2}TAGS\u{1}Tag{}\u{2}UNIQ_KEY\u{1}U{seq:016X}\u{2}",
        seq % 3
    );
    let mut m = MessageInput::simple(topic, queue, &body, &props);
    m.born_timestamp = seq as i64;
    m
}
