//! The in-memory part of a shard's timers: a min-heap of (delivery time,
//! timer-queue offset) in 12 bytes per entry, so that 10 M pending timers
//! fit in ~120-240 MiB (the heap's vector grows by doubling).
//!
//! The delivery time is kept as milliseconds after `base` in a `u32` (49.7
//! days of range, more than the 40 days a timer may ask for); the queue
//! offset as two `u32` halves, which keeps the entry's alignment at 4. When
//! a new timer falls beyond the range (the broker has been up for weeks),
//! the whole heap is shifted to a later base: the shift is the same for
//! every entry, so the heap order is unchanged and no entry moves earlier.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// (delivery ms after base, queue offset high half, low half).
type Entry = (u32, u32, u32);

pub struct DueHeap {
    base: i64,
    heap: BinaryHeap<Reverse<Entry>>,
}

impl DueHeap {
    /// An empty heap whose times count from `now`.
    pub fn new(now: i64) -> DueHeap {
        DueHeap {
            base: now,
            heap: BinaryHeap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Bytes held by the heap's buffer.
    pub fn memory_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<Reverse<Entry>>()
    }

    /// Adds the timer at queue offset `off`, due at `due` (epoch ms). A
    /// time before the base counts as the base: it is due already.
    pub fn push(&mut self, due: i64, off: u64) {
        if due - self.base > u32::MAX as i64 {
            self.rebase(due);
        }
        // After a rebase the range may still fall short only when an entry
        // weeks overdue pins the base; such a timer is then clamped to the
        // range's end, so it pops too soon: the caller compares every popped
        // timer with the time stored in its unit and pushes it back.
        let rel = (due - self.base).clamp(0, u32::MAX as i64) as u32;
        self.heap
            .push(Reverse((rel, (off >> 32) as u32, off as u32)));
    }

    /// Returns the heap's spare room to the allocator once most of it is
    /// unused (after a burst was delivered); true if it did.
    pub fn shrink_if_sparse(&mut self) -> bool {
        let (len, cap) = (self.heap.len(), self.heap.capacity());
        if cap >= 1 << 16 && len < cap / 4 {
            self.heap.shrink_to(len * 2);
            return true;
        }
        false
    }

    /// Delivery time of the earliest timer.
    pub fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse(e)| self.base + e.0 as i64)
    }

    /// Removes and returns the earliest timer if it is due at `now`:
    /// (delivery time, queue offset).
    pub fn pop_due(&mut self, now: i64) -> Option<(i64, u64)> {
        let Reverse((rel, hi, lo)) = *self.heap.peek()?;
        let due = self.base + rel as i64;
        if due > now {
            return None;
        }
        self.heap.pop();
        Some((due, ((hi as u64) << 32) | lo as u64))
    }

    /// Moves the base as late as the earliest entry allows (at most to
    /// `due`), shifting every entry by the same amount.
    fn rebase(&mut self, due: i64) {
        let earliest = self.next_due().unwrap_or(due).min(due);
        let shift = earliest - self.base;
        if shift <= 0 {
            return;
        }
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .map(|Reverse((rel, hi, lo))| {
                // No entry is earlier than `earliest`, so none underflows.
                debug_assert!(rel as i64 >= shift);
                Reverse(((rel as i64 - shift) as u32, hi, lo))
            })
            .collect();
        self.base = earliest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Reverse<Entry>>(), 12);
    }

    #[test]
    fn a_drained_heap_gives_its_room_back() {
        let mut h = DueHeap::new(0);
        for off in 0..200_000 {
            h.push(off as i64, off);
        }
        assert!(!h.shrink_if_sparse(), "full: nothing to give back");
        while h.len() > 10_000 {
            h.pop_due(i64::MAX);
        }
        assert!(h.shrink_if_sparse());
        assert!(h.memory_bytes() <= 20_000 * 12);
        assert_eq!(h.pop_due(i64::MAX), Some((190_000, 190_000)), "order kept");
    }

    #[test]
    fn pops_in_time_then_offset_order_and_only_when_due() {
        let mut h = DueHeap::new(1_000);
        h.push(5_000, 7);
        h.push(3_000, 1 << 40);
        h.push(3_000, 2);
        h.push(500, 9); // in the past: due at once
        assert_eq!(h.next_due(), Some(1_000));
        assert_eq!(h.pop_due(1_000), Some((1_000, 9)));
        assert_eq!(h.pop_due(2_999), None);
        assert_eq!(h.pop_due(4_000), Some((3_000, 2)));
        assert_eq!(h.pop_due(4_000), Some((3_000, 1 << 40)));
        assert_eq!(h.pop_due(4_999), None);
        assert_eq!(h.pop_due(5_000), Some((5_000, 7)));
        assert!(h.is_empty());
    }

    #[test]
    fn a_time_beyond_the_range_rebases_without_reordering() {
        let day = 24 * 3600 * 1000i64;
        let start = 1_700_000_000_000;
        let mut h = DueHeap::new(start);
        // Up for 30 days, then a 40-day timer arrives next to older ones.
        h.push(start + 30 * day + 10, 1);
        h.push(start + 30 * day + 20, 2);
        h.push(start + 70 * day, 3);
        assert_eq!(h.next_due(), Some(start + 30 * day + 10));
        assert_eq!(
            h.pop_due(start + 30 * day + 10),
            Some((start + 30 * day + 10, 1))
        );
        assert_eq!(
            h.pop_due(start + 70 * day - 1),
            Some((start + 30 * day + 20, 2))
        );
        assert_eq!(h.pop_due(start + 70 * day - 1), None);
        assert_eq!(h.pop_due(start + 70 * day), Some((start + 70 * day, 3)));
    }

    #[test]
    fn a_time_that_cannot_be_represented_pops_at_the_range_end() {
        let day = 24 * 3600 * 1000i64;
        let mut h = DueHeap::new(0);
        h.push(0, 1); // pins the base at 0
        h.push(60 * day, 2); // beyond u32 ms from the pinned base
        assert_eq!(h.pop_due(0), Some((0, 1)));
        // Clamped to the end of the range (49.7 days): the caller re-checks
        // the stored time and pushes it back, now with room after the base.
        assert_eq!(h.pop_due(49 * day), None);
        let (due, off) = h.pop_due(50 * day).expect("range end");
        assert_eq!((due, off), (u32::MAX as i64, 2));
        h.push(60 * day, 2);
        assert_eq!(h.pop_due(60 * day - 1), None);
        assert_eq!(h.pop_due(60 * day), Some((60 * day, 2)));
    }
}
