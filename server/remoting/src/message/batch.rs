//! SEND_BATCH_MESSAGE body (reference §5.7, Java
//! `MessageDecoder.encodeMessages` / `decodeMessages`): concatenated items
//!
//! | Field | Size | Value |
//! |---|---|---|
//! | TOTALSIZE | 4 | 22 + n + m |
//! | MAGICCODE | 4 | 0, ignored |
//! | BODYCRC | 4 | 0, ignored (the broker computes it) |
//! | FLAG | 4 | user flag |
//! | BODY | 4 + n | i32 length + body |
//! | PROPERTIES | 2 + m | i16 length + properties string |
//!
//! Java's readers ignore TOTALSIZE and fail on the first short read. This
//! decoder is stricter: each item must lie within the body and TOTALSIZE
//! must equal the sum of its fields, so a corrupted length is reported at
//! the item where it happened instead of shifting every later item.

use std::borrow::Cow;

use super::properties::{lossy, MAX_PROPERTIES_BYTES};
use super::{Cursor, MessageError};

/// Bytes of an item besides its body and properties.
pub const BATCH_ITEM_FIXED_BYTES: usize = 4 + 4 + 4 + 4 + 4 + 2;

/// One message of a batch body, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchItem<'a> {
    /// User flag (`Message.flag`).
    pub flag: i32,
    /// Body, never compressed in batches.
    pub body: &'a [u8],
    /// Raw properties string (carries the item's own UNIQ_KEY, TAGS, KEYS,
    /// WAIT, ...), kept as bytes so it can be stored unchanged.
    pub properties: &'a [u8],
}

impl<'a> BatchItem<'a> {
    /// The properties as Java reads them (invalid UTF-8 becomes U+FFFD).
    pub fn properties_str(&self) -> Cow<'a, str> {
        lossy(self.properties)
    }

    /// Encoded size of this item (its TOTALSIZE).
    pub fn encoded_len(&self) -> usize {
        BATCH_ITEM_FIXED_BYTES + self.body.len() + self.properties.len()
    }

    /// Appends the encoded item to `out`. Fails, writing nothing, if the
    /// properties exceed [`MAX_PROPERTIES_BYTES`] or the item exceeds an
    /// i32 size.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), MessageError> {
        let props_len =
            i16::try_from(self.properties.len()).map_err(|_| MessageError::TooLong {
                field: "batch item properties",
                length: self.properties.len(),
                limit: MAX_PROPERTIES_BYTES,
            })?;
        let too_long = || MessageError::TooLong {
            field: "batch item",
            length: self.encoded_len(),
            limit: i32::MAX as usize,
        };
        let total = i32::try_from(self.encoded_len()).map_err(|_| too_long())?;
        let body_len = i32::try_from(self.body.len()).map_err(|_| too_long())?;
        out.reserve(self.encoded_len());
        out.extend_from_slice(&total.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&self.flag.to_be_bytes());
        out.extend_from_slice(&body_len.to_be_bytes());
        out.extend_from_slice(self.body);
        out.extend_from_slice(&props_len.to_be_bytes());
        out.extend_from_slice(self.properties);
        Ok(())
    }
}

/// Iterates over the items of a batch body. After the first error the
/// iterator ends.
pub fn iter_batch(body: &[u8]) -> BatchIter<'_> {
    BatchIter {
        body,
        pos: 0,
        failed: false,
    }
}

/// Decodes a whole batch body; any malformed item fails the batch (Java
/// rejects the request too).
pub fn decode_batch(body: &[u8]) -> Result<Vec<BatchItem<'_>>, MessageError> {
    iter_batch(body).collect()
}

/// Encodes items into one batch body.
pub fn encode_batch<'a, I>(items: I) -> Result<Vec<u8>, MessageError>
where
    I: IntoIterator<Item = BatchItem<'a>>,
{
    let mut out = Vec::new();
    for item in items {
        item.encode_into(&mut out)?;
    }
    Ok(out)
}

/// Iterator of [`iter_batch`].
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    body: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> BatchIter<'a> {
    /// Offset of the next item in the body.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn decode_item(&mut self) -> Result<BatchItem<'a>, MessageError> {
        let start = self.pos;
        let rest = &self.body[start..];
        let mut head = Cursor::new(rest, start);
        let declared = head.i32("batch item TOTALSIZE")?;
        // The declared size bounds everything read below.
        let size = usize::try_from(declared).map_err(|_| MessageError::NegativeLength {
            field: "batch item TOTALSIZE",
            offset: start,
            length: i64::from(declared),
        })?;
        if size < BATCH_ITEM_FIXED_BYTES {
            return Err(MessageError::SizeMismatch {
                offset: start,
                declared: i64::from(declared),
                actual: BATCH_ITEM_FIXED_BYTES,
            });
        }
        if size > rest.len() {
            return Err(MessageError::Truncated {
                field: "batch item",
                offset: start,
                needed: size,
                available: rest.len(),
            });
        }
        let mut c = Cursor::new(&rest[..size], start);
        c.take(4 + 4 + 4, "batch item header")?;
        let flag = c.i32("batch item FLAG")?;
        let body_len_at = c.offset();
        let body_len = c.i32("batch item body length")?;
        let body = c.sized(i64::from(body_len), body_len_at, "batch item body")?;
        let props_len_at = c.offset();
        let props_len = c.i16("batch item properties length")?;
        let properties = c.sized(i64::from(props_len), props_len_at, "batch item properties")?;
        if c.remaining() != 0 {
            return Err(MessageError::SizeMismatch {
                offset: start,
                declared: i64::from(declared),
                actual: size - c.remaining(),
            });
        }
        self.pos = start + size;
        Ok(BatchItem {
            flag,
            body,
            properties,
        })
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchItem<'a>, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.body.len() {
            return None;
        }
        let item = self.decode_item();
        self.failed = item.is_err();
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(flag: i32, body: &'a [u8], props: &'a str) -> BatchItem<'a> {
        BatchItem {
            flag,
            body,
            properties: props.as_bytes(),
        }
    }

    #[test]
    fn roundtrip() {
        let items = [
            item(0, b"Batch message 0", "KEYS\u{1}batch-0\u{2}WAIT\u{1}true"),
            item(7, b"", ""),
        ];
        let bytes = encode_batch(items).unwrap();
        assert_eq!(bytes.len(), items[0].encoded_len() + items[1].encoded_len());
        assert_eq!(&bytes[..4], &(22 + 15 + 22i32).to_be_bytes());
        assert_eq!(decode_batch(&bytes).unwrap(), items);
        assert_eq!(
            items[0].properties_str(),
            "KEYS\u{1}batch-0\u{2}WAIT\u{1}true"
        );
        assert!(decode_batch(b"").unwrap().is_empty());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode_batch([item(1, b"abc", "K\u{1}v"), item(2, b"de", "")]).unwrap();
        for cut in 1..bytes.len() {
            let r = decode_batch(&bytes[..cut]);
            // Cutting exactly between the items leaves one valid item.
            if cut == 22 + 3 + 3 {
                assert_eq!(r.unwrap().len(), 1);
            } else {
                assert!(r.is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn bad_lengths_are_reported() {
        let good = encode_batch([item(1, b"abc", "K\u{1}v")]).unwrap();
        // TOTALSIZE one too big / too small / negative / below the fixed part.
        for (total, check) in [(29i32, 0), (27, 0), (-1, 2), (5, 3)] {
            let mut b = good.clone();
            b[..4].copy_from_slice(&total.to_be_bytes());
            let e = decode_batch(&b).unwrap_err();
            match check {
                0 => assert!(matches!(e, MessageError::Truncated { .. }), "{e}"),
                2 => assert!(matches!(e, MessageError::NegativeLength { .. }), "{e}"),
                _ => assert!(matches!(e, MessageError::SizeMismatch { .. }), "{e}"),
            }
        }
        // Body length larger than the item, and negative.
        let mut b = good.clone();
        b[16..20].copy_from_slice(&1000i32.to_be_bytes());
        assert!(matches!(
            decode_batch(&b),
            Err(MessageError::Truncated { .. })
        ));
        b[16..20].copy_from_slice(&(-3i32).to_be_bytes());
        assert!(matches!(
            decode_batch(&b),
            Err(MessageError::NegativeLength { offset: 16, .. })
        ));
        // Negative properties length.
        let mut b = good.clone();
        b[23..25].copy_from_slice(&(-2i16).to_be_bytes());
        assert!(matches!(
            decode_batch(&b),
            Err(MessageError::NegativeLength { offset: 23, .. })
        ));
        // The iterator stops after an error.
        let mut two = good.clone();
        two.extend_from_slice(&[0, 0, 0, 1]);
        two.extend_from_slice(&good);
        let mut it = iter_batch(&two);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn oversized_properties_are_refused() {
        let props = "x".repeat(MAX_PROPERTIES_BYTES + 1);
        let mut out = Vec::new();
        let e = item(0, b"", &props).encode_into(&mut out).unwrap_err();
        assert!(matches!(e, MessageError::TooLong { .. }));
        assert!(out.is_empty());
    }
}
