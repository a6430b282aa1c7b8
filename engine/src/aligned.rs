//! A 4 KiB-aligned I/O buffer: the unit of the tail cache and the source of
//! every direct-I/O write.
//!
//! It is a glommio `DmaBuffer` behind an `Rc`, so a whole chunk can be handed
//! to a write without a copy ([`crate::disk::SegmentFile::write_buf`]) while
//! the tail cache keeps serving reads from it. A buffer that is being written
//! is never changed: [`AlignedBuf::bytes_mut`] asserts that nobody else holds it.

use std::rc::Rc;

use glommio::io::DmaBuffer;

use crate::limits::IO_ALIGN;

pub struct AlignedBuf {
    buf: Rc<DmaBuffer>,
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
        AlignedBuf { buf: Rc::new(buf) }
    }

    pub fn bytes(&self) -> &[u8] {
        self.buf.as_bytes()
    }

    /// The bytes, for writing into. Panics if a write still holds the buffer.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        Rc::get_mut(&mut self.buf)
            .expect("a buffer is never changed while a write holds it")
            .as_bytes_mut()
    }

    /// A handle for a zero-copy write of the whole buffer.
    pub fn share(&self) -> Rc<DmaBuffer> {
        self.buf.clone()
    }

    /// Whether only this handle holds the buffer (no write in flight).
    pub fn is_unshared(&self) -> bool {
        Rc::strong_count(&self.buf) == 1
    }

    pub fn len(&self) -> usize {
        self.buf.len()
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
        b.bytes_mut()[0] = 7;
        let shared = b.share();
        assert!(!b.is_unshared());
        assert_eq!(shared.as_bytes()[0], 7);
        drop(shared);
        assert!(b.is_unshared());
        b.bytes_mut()[1] = 8;
    }

    #[test]
    #[should_panic(expected = "never changed while a write holds it")]
    fn a_shared_buffer_cannot_be_changed() {
        let mut b = super::AlignedBuf::zeroed(4096);
        let _in_flight = b.share();
        b.bytes_mut()[0] = 1;
    }
}
