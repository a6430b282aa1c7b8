//! Shared pieces of the black-box tests.
//!
//! * [`server`]: runs the real `ringmq serve` process (free ports, temporary
//!   data directory, bounded waits, restart and kill -9).
//! * [`remoting_client`]: a blocking protocol-level client on the
//!   `ringmq-remoting` frame codec; [`requests`] builds the requests,
//!   [`records`] decodes stored records and message ids.

pub mod records;
pub mod remoting_client;
pub mod requests;
pub mod server;

/// The deterministic body of message `seq` (the child writes it, the test checks it).
pub fn body_of(seq: u64) -> Vec<u8> {
    let len = 16 + (seq * 131 % 2000) as usize;
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub const TOPIC: &str = "KillTopic";
pub const QUEUES: u32 = 4;
