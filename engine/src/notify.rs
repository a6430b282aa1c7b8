//! Single-thread wake-up primitives for tasks of one shard (no locks: a shard
//! is one thread).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A level-triggered signal for one waiting task (the flusher): `notify` sets
/// a permit that the next `wait` consumes.
#[derive(Default)]
pub struct Notify {
    permit: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Notify {
    pub fn notify(&self) {
        self.permit.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    pub fn wait(&self) -> NotifyWait<'_> {
        NotifyWait { n: self }
    }
}

pub struct NotifyWait<'a> {
    n: &'a Notify,
}

impl Future for NotifyWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.n.permit.replace(false) {
            Poll::Ready(())
        } else {
            *self.n.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Many tasks waiting for a broadcast ("progress was made"). Each `wait`
/// completes at the next `notify_all` after it was created. A wait that is
/// dropped before that (a timeout won a race) takes its waker out again, so
/// long-lived tasks that re-arm waits do not pile up wakers.
#[derive(Default)]
pub struct Broadcast {
    generation: Cell<u64>,
    next_token: Cell<u64>,
    wakers: RefCell<std::collections::HashMap<u64, Waker>>,
}

impl Broadcast {
    pub fn notify_all(&self) {
        self.generation.set(self.generation.get() + 1);
        let wakers: Vec<Waker> = self.wakers.borrow_mut().drain().map(|(_, w)| w).collect();
        for w in wakers {
            w.wake();
        }
    }

    pub fn wait(&self) -> BroadcastWait<'_> {
        let token = self.next_token.get();
        self.next_token.set(token + 1);
        BroadcastWait {
            b: self,
            seen: self.generation.get(),
            token,
        }
    }

    /// Waiters currently registered (tests, leak checks).
    pub fn waiters(&self) -> usize {
        self.wakers.borrow().len()
    }
}

pub struct BroadcastWait<'a> {
    b: &'a Broadcast,
    seen: u64,
    token: u64,
}

impl Future for BroadcastWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.b.generation.get() != self.seen {
            self.b.wakers.borrow_mut().remove(&self.token);
            Poll::Ready(())
        } else {
            // One entry per wait: a re-poll replaces its waker.
            self.b
                .wakers
                .borrow_mut()
                .insert(self.token, cx.waker().clone());
            Poll::Pending
        }
    }
}

impl Drop for BroadcastWait<'_> {
    fn drop(&mut self) {
        self.b.wakers.borrow_mut().remove(&self.token);
    }
}

/// A one-shot result slot: the flusher completes it, an appender awaits it.
pub struct Slot<T> {
    value: RefCell<Option<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Slot<T> {
    pub fn new() -> Rc<Self> {
        Rc::new(Slot {
            value: RefCell::new(None),
            waker: RefCell::new(None),
        })
    }

    pub fn complete(&self, v: T) {
        *self.value.borrow_mut() = Some(v);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    pub fn wait(self: &Rc<Self>) -> SlotWait<T> {
        SlotWait { s: self.clone() }
    }
}

pub struct SlotWait<T> {
    s: Rc<Slot<T>>,
}

impl<T> Future for SlotWait<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(v) = self.s.value.borrow_mut().take() {
            Poll::Ready(v)
        } else {
            *self.s.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Awaits all futures concurrently (each is polled until ready), returning their outputs in order.
pub async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    futures_util::future::join_all(futs).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_and_repolled_waits_leave_no_waker_behind() {
        let b = Broadcast::default();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..1000 {
            let mut w = Box::pin(b.wait());
            assert!(w.as_mut().poll(&mut cx).is_pending());
            assert!(w.as_mut().poll(&mut cx).is_pending());
            assert_eq!(b.waiters(), 1);
        }
        assert_eq!(b.waiters(), 0, "dropped waits unregister");
        let mut w = Box::pin(b.wait());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        b.notify_all();
        assert!(w.as_mut().poll(&mut cx).is_ready());
        assert_eq!(b.waiters(), 0);
    }
}
