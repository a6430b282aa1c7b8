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

/// A lock for the tasks of one shard that passes from holder to waiter in
/// the order they asked for it.
///
/// glommio's `Semaphore` is not fair that way: it takes a woken waiter off
/// its list before that waiter runs, and a task that asks for the permit
/// in between gets it; the waiter goes to the back of the line. Under load
/// the flusher, kicked by every append, asks again right after each of its
/// rounds: in an experiment where SYNC_FLUSH appends ran group commits
/// themselves, one waited 3 s for the flush lock that way. Here a release
/// hands the lock to the first waiter directly; nobody can take it in
/// between.
#[derive(Default)]
pub struct FairLock {
    held: Cell<bool>,
    next_ticket: Cell<u64>,
    /// Waiters in arrival order: ticket and the waker of its last poll.
    line: RefCell<std::collections::VecDeque<(u64, Waker)>>,
    /// The waiter the lock was handed to, until its wait sees it.
    granted: Cell<Option<u64>>,
}

impl FairLock {
    pub fn lock(&self) -> LockWait<'_> {
        LockWait {
            lock: self,
            ticket: None,
        }
    }

    /// Whether a task holds the lock (or it was handed to a waiter).
    pub fn is_held(&self) -> bool {
        self.held.get()
    }

    fn release(&self) {
        assert!(self.held.get(), "release of a lock not held");
        debug_assert!(self.granted.get().is_none(), "handed to two waiters");
        let next = self.line.borrow_mut().pop_front();
        match next {
            Some((ticket, waker)) => {
                // Still held: it now belongs to that waiter.
                self.granted.set(Some(ticket));
                waker.wake();
            }
            None => self.held.set(false),
        }
    }
}

pub struct LockWait<'a> {
    lock: &'a FairLock,
    /// Set once this wait stands in line; cleared when it gets the lock.
    ticket: Option<u64>,
}

impl<'a> Future for LockWait<'a> {
    type Output = LockGuard<'a>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a>> {
        let lock = self.lock;
        match self.ticket {
            None if !lock.held.get() => {
                lock.held.set(true);
                return Poll::Ready(LockGuard { lock });
            }
            None => {
                let t = lock.next_ticket.get();
                lock.next_ticket.set(t + 1);
                lock.line.borrow_mut().push_back((t, cx.waker().clone()));
                self.ticket = Some(t);
            }
            Some(t) if lock.granted.get() == Some(t) => {
                lock.granted.set(None);
                self.ticket = None;
                return Poll::Ready(LockGuard { lock });
            }
            Some(t) => {
                if let Some(e) = lock.line.borrow_mut().iter_mut().find(|e| e.0 == t) {
                    e.1 = cx.waker().clone();
                }
            }
        }
        Poll::Pending
    }
}

impl Drop for LockWait<'_> {
    fn drop(&mut self) {
        let Some(t) = self.ticket else { return };
        if self.lock.granted.get() == Some(t) {
            // Handed the lock, gone before it saw it: pass it on.
            self.lock.granted.set(None);
            self.lock.release();
        } else {
            self.lock.line.borrow_mut().retain(|e| e.0 != t);
        }
    }
}

/// Holds a [`FairLock`]; dropping it hands the lock on.
pub struct LockGuard<'a> {
    lock: &'a FairLock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.release();
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
    fn fair_lock_goes_to_waiters_in_order_and_cannot_be_taken_in_between() {
        let lock = FairLock::default();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let g = Box::pin(lock.lock()).as_mut().poll(&mut cx);
        let Poll::Ready(g) = g else {
            panic!("a free lock is taken at once")
        };
        let mut a = Box::pin(lock.lock());
        let mut b = Box::pin(lock.lock());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        drop(g);
        // Released while `a` waits: a newcomer does not get it, `a` does.
        let mut late = Box::pin(lock.lock());
        assert!(late.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending(), "b is behind a");
        let Poll::Ready(ga) = a.as_mut().poll(&mut cx) else {
            panic!("a is first in line")
        };
        drop(ga);
        // `b` leaves the line after it was handed the lock: it passes on.
        drop(b);
        let Poll::Ready(gl) = late.as_mut().poll(&mut cx) else {
            panic!("the newcomer is next in line now")
        };
        assert!(lock.is_held());
        drop(gl);
        assert!(!lock.is_held());
    }

    #[test]
    fn fair_lock_is_free_again_after_its_last_holder() {
        let lock = FairLock::default();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(g) = Box::pin(lock.lock()).as_mut().poll(&mut cx) else {
            panic!("free")
        };
        let mut w = Box::pin(lock.lock());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        drop(w);
        drop(g);
        assert!(!lock.is_held(), "a waiter that left is not handed the lock");
        assert!(Box::pin(lock.lock()).as_mut().poll(&mut cx).is_ready());
    }

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
