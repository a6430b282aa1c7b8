//! A 4 KiB-aligned I/O buffer: the unit of the tail cache and the source of
//! every direct-I/O write.
//!
//! It is a glommio `DmaBuffer` behind an `Rc`, so a write can go straight
//! from it ([`crate::disk::SegmentFile::write_buf`]) while the tail cache
//! keeps serving reads from it and appends go on past the bytes written.
//! The rule that makes this sound: the bytes a write in flight reads are
//! never changed. [`AlignedBuf::share`] marks `[0, end)` of the buffer
//! frozen for as long as any write holds it, and [`AlignedBuf::bytes_mut`]
//! asserts that it changes nothing below that mark.

use std::cell::Cell;
use std::ops::Range;
use std::rc::Rc;

use glommio::io::DmaBuffer;

use crate::limits::IO_ALIGN;

/// Bytes per CPU cache line (x86-64 and most arm64 parts).
const CACHE_LINE: usize = 64;

pub struct AlignedBuf {
    buf: Rc<DmaBuffer>,
    /// The buffer's memory, taken while this handle was its only owner:
    /// every change goes through it (the `Rc` shares the handle, not the
    /// memory, which the kernel reads by address).
    ptr: *mut u8,
    /// While a write holds the buffer: the end of the bytes handed to
    /// writes, which must not change.
    frozen: Cell<usize>,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes; `len` must be a positive multiple of [`IO_ALIGN`].
    pub fn zeroed(len: usize) -> Self {
        assert!(
            len > 0 && len.is_multiple_of(IO_ALIGN),
            "aligned buffer length {len}"
        );
        // The global allocation needs no executor (the fault-injecting disk
        // runs without real I/O); glommio's registered pool is far smaller
        // than a tail cache anyway.
        let mut buf = glommio::allocate_dma_buffer_global(len);
        buf.as_bytes_mut().fill(0);
        let ptr = buf.as_bytes_mut().as_mut_ptr();
        AlignedBuf {
            buf: Rc::new(buf),
            ptr,
            frozen: Cell::new(0),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` addresses `len()` bytes owned by `buf`; nothing
        // changes them while this borrow of `self` lives (changes need
        // `&mut self`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len()) }
    }

    /// Bytes `range` of the buffer, for writing into. Panics if a write in
    /// flight may read any of them.
    pub fn bytes_mut(&mut self, range: Range<usize>) -> &mut [u8] {
        if self.is_unshared() {
            self.frozen.set(0);
        }
        assert!(
            range.start >= self.frozen.get() && range.start <= range.end && range.end <= self.len(),
            "bytes {range:?} of a buffer whose first {} bytes a write holds",
            self.frozen.get()
        );
        // SAFETY: in bounds (asserted); no write in flight reads these
        // bytes (asserted) and `&mut self` excludes every other borrow.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }

    /// A handle for a zero-copy write of bytes below `end`, which stay
    /// unchanged until every handle is dropped.
    pub fn share(&self, end: usize) -> Rc<DmaBuffer> {
        assert!(end <= self.len(), "share past the buffer");
        if self.is_unshared() {
            self.frozen.set(0);
        }
        self.frozen.set(self.frozen.get().max(end));
        self.buf.clone()
    }

    /// Whether only this handle holds the buffer (no write in flight).
    pub fn is_unshared(&self) -> bool {
        Rc::strong_count(&self.buf) == 1
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Asks the CPU to load the cache lines of `range` (clipped to the
    /// buffer) ahead of a write to them. A hint only: no fault, no effect
    /// on the contents.
    pub fn prefetch(&self, range: Range<usize>) {
        let end = range.end.min(self.len());
        let mut at = range.start - range.start % CACHE_LINE;
        while at < end {
            // SAFETY: `at` is inside the buffer (below `end` <= len), and a
            // prefetch reads nothing architecturally.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch::<_MM_HINT_T0>(self.ptr.add(at) as *const i8);
            }
            at += CACHE_LINE;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligned_zeroed_and_exclusive_while_unshared() {
        let mut b = super::AlignedBuf::zeroed(8192);
        assert_eq!(b.bytes().as_ptr() as usize % 4096, 0);
        assert!(b.bytes().iter().all(|x| *x == 0));
        b.bytes_mut(0..1)[0] = 7;
        let shared = b.share(4096);
        assert!(!b.is_unshared());
        assert_eq!(shared.as_bytes()[0], 7);
        // Past the bytes the write holds, appends go on.
        b.bytes_mut(4096..4097)[0] = 9;
        assert_eq!(shared.as_bytes()[4096], 9);
        drop(shared);
        assert!(b.is_unshared());
        b.bytes_mut(1..2)[0] = 8;
        assert_eq!(&b.bytes()[..2], &[7, 8]);
    }

    #[test]
    #[should_panic(expected = "a write holds")]
    fn bytes_a_write_holds_cannot_be_changed() {
        let mut b = super::AlignedBuf::zeroed(8192);
        let _in_flight = b.share(4096);
        b.bytes_mut(4095..4097)[0] = 1;
    }
}
