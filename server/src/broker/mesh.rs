//! The shard mesh: how a shard runs work on another shard.
//!
//! Each shard has one bounded inbox; every shard holds a sender to every
//! inbox. A message is a boxed closure that the target shard runs with its
//! own context, spawning the future it returns so that a slow call (a held
//! pull) does not block the inbox. Results come back over a oneshot channel,
//! so replies may complete out of order.
//!
//! Why not glommio's `channel_mesh`: its peer indexes follow executor ids,
//! not shard numbers, and one inbox per shard (many producers, one consumer)
//! is what routing needs. The inbox bound is the backpressure between shards.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures_channel::oneshot;

use super::shard::BrokerShard;

/// Calls queued for one shard before senders wait.
pub const INBOX_CAPACITY: usize = 4096;

type LocalFut = Pin<Box<dyn Future<Output = ()>>>;
/// A unit of work for a shard.
pub type Call = Box<dyn FnOnce(Rc<BrokerShard>) -> LocalFut + Send>;

/// Senders to every shard's inbox (cloned into each shard).
#[derive(Clone)]
pub struct Mesh {
    inboxes: Vec<flume::Sender<Call>>,
}

/// Builds the mesh: the senders every shard shares and one receiver per shard.
pub fn build(shards: u16) -> (Mesh, Vec<flume::Receiver<Call>>) {
    let (tx, rx): (Vec<_>, Vec<_>) = (0..shards)
        .map(|_| flume::bounded::<Call>(INBOX_CAPACITY))
        .unzip();
    (Mesh { inboxes: tx }, rx)
}

/// Why a cross-shard call produced no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardGone;

impl Mesh {
    pub fn shards(&self) -> u16 {
        self.inboxes.len() as u16
    }

    /// Runs `f` on shard `target` and returns its result.
    pub async fn call<T, F, Fut>(&self, target: u16, f: F) -> Result<T, ShardGone>
    where
        T: Send + 'static,
        F: FnOnce(Rc<BrokerShard>) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let (tx, rx) = oneshot::channel::<T>();
        let call: Call = Box::new(move |shard| {
            Box::pin(async move {
                let v = f(shard).await;
                let _ = tx.send(v);
            })
        });
        self.inboxes[target as usize]
            .send_async(call)
            .await
            .map_err(|_| ShardGone)?;
        rx.await.map_err(|_| ShardGone)
    }

    /// Runs `f` on shard `target` without waiting for it.
    pub async fn post<F, Fut>(&self, target: u16, f: F)
    where
        F: FnOnce(Rc<BrokerShard>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let call: Call = Box::new(move |shard| Box::pin(f(shard)));
        let _ = self.inboxes[target as usize].send_async(call).await;
    }
}

/// A shard's inbox loop: runs every call addressed to it.
pub async fn serve_inbox(shard: Rc<BrokerShard>, inbox: flume::Receiver<Call>) {
    while let Ok(call) = inbox.recv_async().await {
        glommio::spawn_local(call(shard.clone())).detach();
    }
}
