//! Minimal zlib (RFC 1950) over DEFLATE (RFC 1951) for the compressed
//! REGISTER_BROKER body, which Java writes with `DeflaterOutputStream`.
//!
//! [`decompress`] is a complete inflater (stored, fixed and dynamic Huffman
//! blocks) with an output limit, so a small hostile body cannot expand
//! without bound. [`compress`] writes stored (uncompressed) blocks: a valid
//! stream every inflater, Java's included, accepts; registration bodies are
//! small enough that their size does not matter.

/// Why a stream could not be inflated.
pub type ZlibError = String;

/// Largest stored block.
const MAX_STORED_BLOCK: usize = 65_535;

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Order in which code-length code lengths are sent.
const CLEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
const MAX_BITS: usize = 15;

/// Adler-32 of `data` (the zlib trailer).
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 is the largest run for which `b` cannot overflow before the
    // modulo (zlib's NMAX).
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Wraps `data` in a zlib stream of stored blocks.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let blocks = data.len().div_ceil(MAX_STORED_BLOCK).max(1);
    let mut out = Vec::with_capacity(data.len() + blocks * 5 + 6);
    // CMF: deflate, 32 KiB window; FLG: no dictionary, level 0, check bits.
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(MAX_STORED_BLOCK).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xFF, 0xFF]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last)); // BFINAL, BTYPE = 00
        let len = chunk.len() as u16; // ≤ MAX_STORED_BLOCK by construction
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// Inflates a zlib stream, failing if the output would exceed `max_out`
/// bytes. A missing Adler-32 trailer is tolerated (Java reads only the
/// bytes it needs); a wrong one is an error.
pub fn decompress(data: &[u8], max_out: usize) -> Result<Vec<u8>, ZlibError> {
    let (&cmf, &flg) = match data {
        [a, b, ..] => (a, b),
        _ => return Err("zlib header truncated".into()),
    };
    if cmf & 0x0F != 8 || cmf >> 4 > 7 {
        return Err(format!("not a deflate stream (CMF {cmf:#04x})"));
    }
    if (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err("zlib header check bits wrong".into());
    }
    if flg & 0x20 != 0 {
        return Err("zlib preset dictionary not supported".into());
    }
    let mut inf = Inflater {
        bits: BitReader {
            data,
            pos: 2,
            buf: 0,
            cnt: 0,
        },
        out: Vec::new(),
        max_out,
    };
    loop {
        let last = inf.bits.take(1)? == 1;
        match inf.bits.take(2)? {
            0 => inf.stored()?,
            1 => inf.codes(&fixed_lit(), &fixed_dist())?,
            2 => {
                let (lit, dist) = inf.dynamic_tables()?;
                inf.codes(&lit, &dist)?;
            }
            _ => return Err("invalid deflate block type 3".into()),
        }
        if last {
            break;
        }
    }
    let pos = inf.bits.pos; // the reader never holds whole unread bytes past a block end
    if let Some(trailer) = data.get(pos..pos + 4) {
        let want = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        if want != adler32(&inf.out) {
            return Err("zlib Adler-32 mismatch".into());
        }
    }
    Ok(inf.out)
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    cnt: u32,
}

impl BitReader<'_> {
    /// Takes `n` ≤ 16 bits, least significant first.
    fn take(&mut self, n: u32) -> Result<u32, ZlibError> {
        debug_assert!(n <= 16);
        while self.cnt < n {
            let Some(&b) = self.data.get(self.pos) else {
                return Err("deflate stream truncated".into());
            };
            self.pos += 1;
            self.buf |= u32::from(b) << self.cnt;
            self.cnt += 8;
        }
        let v = self.buf & ((1u32 << n) - 1);
        self.buf >>= n;
        self.cnt -= n;
        Ok(v)
    }

    /// Drops the bits left in the current byte.
    fn align(&mut self) {
        self.buf = 0;
        self.cnt = 0;
    }
}

/// A canonical Huffman code: how many codes of each length, and the
/// symbols ordered by code.
struct Huffman {
    count: [u16; MAX_BITS + 1],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Self, ZlibError> {
        let mut count = [0u16; MAX_BITS + 1];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err("over-subscribed Huffman code".into());
            }
        }
        let mut offs = [0u16; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            offs[len + 1] = offs[len] + count[len];
        }
        let mut symbol = vec![0u16; usize::from(offs[MAX_BITS + 1])];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let slot = &mut offs[usize::from(l)];
                symbol[usize::from(*slot)] = sym as u16;
                *slot += 1;
            }
        }
        Ok(Self { count, symbol })
    }

    fn decode(&self, bits: &mut BitReader<'_>) -> Result<u16, ZlibError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=MAX_BITS {
            code |= bits.take(1)? as i32;
            let count = i32::from(self.count[len]);
            if code - first < count {
                return Ok(self.symbol[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid Huffman code".into())
    }
}

fn fixed_lit() -> Huffman {
    let mut l = [0u8; 288];
    l[..144].fill(8);
    l[144..256].fill(9);
    l[256..280].fill(7);
    l[280..].fill(8);
    Huffman::new(&l).unwrap_or_else(|_| unreachable!("the fixed code is complete"))
}

fn fixed_dist() -> Huffman {
    Huffman::new(&[5u8; 30]).unwrap_or_else(|_| unreachable!("the fixed code is complete"))
}

struct Inflater<'a> {
    bits: BitReader<'a>,
    out: Vec<u8>,
    max_out: usize,
}

impl Inflater<'_> {
    fn room(&self, n: usize) -> Result<(), ZlibError> {
        if self.out.len() + n > self.max_out {
            return Err(format!("inflated data exceeds {} bytes", self.max_out));
        }
        Ok(())
    }

    fn stored(&mut self) -> Result<(), ZlibError> {
        self.bits.align();
        let d = self.bits.data;
        let p = self.bits.pos;
        let hdr = d.get(p..p + 4).ok_or("stored block header truncated")?;
        let len = u16::from_le_bytes([hdr[0], hdr[1]]);
        let nlen = u16::from_le_bytes([hdr[2], hdr[3]]);
        if len != !nlen {
            return Err("stored block length check failed".into());
        }
        let len = usize::from(len);
        let bytes = d.get(p + 4..p + 4 + len).ok_or("stored block truncated")?;
        self.room(len)?;
        self.out.extend_from_slice(bytes);
        self.bits.pos = p + 4 + len;
        Ok(())
    }

    fn dynamic_tables(&mut self) -> Result<(Huffman, Huffman), ZlibError> {
        let nlen = self.bits.take(5)? as usize + 257;
        let ndist = self.bits.take(5)? as usize + 1;
        let ncode = self.bits.take(4)? as usize + 4;
        if nlen > 286 || ndist > 30 {
            return Err("bad dynamic block counts".into());
        }
        let mut clen = [0u8; 19];
        for &i in &CLEN_ORDER[..ncode] {
            clen[i] = self.bits.take(3)? as u8;
        }
        let clcode = Huffman::new(&clen)?;
        let mut lengths = [0u8; 286 + 30];
        let mut i = 0;
        while i < nlen + ndist {
            let sym = clcode.decode(&mut self.bits)?;
            let (value, repeat) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    let prev = *lengths[..i]
                        .last()
                        .ok_or("length repeat with no previous length")?;
                    (prev, 3 + self.bits.take(2)? as usize)
                }
                17 => (0, 3 + self.bits.take(3)? as usize),
                _ => (0, 11 + self.bits.take(7)? as usize),
            };
            if i + repeat > nlen + ndist {
                return Err("code lengths overrun".into());
            }
            lengths[i..i + repeat].fill(value);
            i += repeat;
        }
        if lengths[256] == 0 {
            return Err("no end-of-block code".into());
        }
        Ok((
            Huffman::new(&lengths[..nlen])?,
            Huffman::new(&lengths[nlen..nlen + ndist])?,
        ))
    }

    fn codes(&mut self, lit: &Huffman, dist: &Huffman) -> Result<(), ZlibError> {
        loop {
            let sym = lit.decode(&mut self.bits)?;
            match sym {
                0..=255 => {
                    self.room(1)?;
                    self.out.push(sym as u8);
                }
                256 => return Ok(()),
                _ => {
                    let i = usize::from(sym - 257);
                    if i >= LEN_BASE.len() {
                        return Err("invalid length symbol".into());
                    }
                    let len = usize::from(LEN_BASE[i])
                        + self.bits.take(u32::from(LEN_EXTRA[i]))? as usize;
                    let d = usize::from(dist.decode(&mut self.bits)?);
                    if d >= DIST_BASE.len() {
                        return Err("invalid distance symbol".into());
                    }
                    let back = usize::from(DIST_BASE[d])
                        + self.bits.take(u32::from(DIST_EXTRA[d]))? as usize;
                    if back > self.out.len() {
                        return Err("distance reaches before the start of the output".into());
                    }
                    self.room(len)?;
                    let start = self.out.len() - back;
                    for k in 0..len {
                        let b = self.out[start + k];
                        self.out.push(b);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_round_trip() {
        for n in [
            0usize,
            1,
            1000,
            MAX_STORED_BLOCK,
            MAX_STORED_BLOCK + 1,
            200_000,
        ] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let z = compress(&data);
            assert_eq!(decompress(&z, usize::MAX).unwrap(), data, "n={n}");
        }
    }

    #[test]
    fn adler() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    /// `zlib.compress(b"hello hello hello hello", 9)`: a fixed-Huffman
    /// block with a back reference.
    const HELLO_FIXED: &[u8] = &[
        0x78, 0xda, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x27, 0x01, 0x68, 0x03, 0x08,
        0xb1,
    ];

    /// `zlib.compress(b"".join(b"Topic%d 8 8 6 SINGLE_TAG;" % i for i in
    /// range(40)), 9)`: a dynamic-Huffman block.
    const TOPICS_DYNAMIC: &[u8] = &[
        0x78, 0xda, 0x75, 0xd2, 0x21, 0x0e, 0xc2, 0x00, 0x10, 0x44, 0xd1, 0xab, 0xf4, 0x08, 0xec,
        0x0e, 0x94, 0x12, 0x14, 0x82, 0x34, 0x4d, 0x08, 0x86, 0x7a, 0x04, 0x0a, 0x05, 0xf7, 0x57,
        0x80, 0xe7, 0x65, 0xdd, 0x77, 0x2f, 0xb3, 0xeb, 0xeb, 0xfd, 0x7c, 0x6c, 0x86, 0xe9, 0x7b,
        0xe3, 0x70, 0x5b, 0xae, 0xf3, 0xe5, 0x7c, 0x5f, 0x4f, 0xf3, 0x71, 0xfd, 0xf5, 0x42, 0x6f,
        0xf4, 0xa0, 0x6f, 0xd1, 0x77, 0xe8, 0x23, 0xfa, 0x1e, 0x7d, 0x42, 0x3f, 0xc8, 0x45, 0xb0,
        0xc4, 0x25, 0x72, 0xc9, 0x5c, 0x42, 0x97, 0xd4, 0x25, 0x76, 0xc9, 0x5d, 0x82, 0x97, 0xe4,
        0x2d, 0x79, 0x73, 0x6b, 0xc9, 0x5b, 0xf2, 0x96, 0xbc, 0x25, 0x6f, 0xc9, 0x5b, 0xf2, 0x96,
        0xbc, 0x25, 0x8f, 0xe4, 0x91, 0x3c, 0x7c, 0x73, 0xc9, 0x23, 0x79, 0x24, 0x8f, 0xe4, 0x91,
        0x3c, 0x92, 0xe7, 0x8f, 0xfc, 0x03, 0x55, 0x68, 0x0c, 0xa8,
    ];

    #[test]
    fn dynamic_huffman_stream() {
        let want: Vec<u8> = (0..40)
            .flat_map(|i| format!("Topic{i} 8 8 6 SINGLE_TAG;").into_bytes())
            .collect();
        assert_eq!(decompress(TOPICS_DYNAMIC, 1 << 20).unwrap(), want);
        for cut in 0..TOPICS_DYNAMIC.len() - 4 {
            assert!(
                decompress(&TOPICS_DYNAMIC[..cut], 1 << 20).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn fixed_huffman_stream() {
        assert_eq!(
            decompress(HELLO_FIXED, 1000).unwrap(),
            b"hello hello hello hello"
        );
        assert!(decompress(HELLO_FIXED, 10).is_err());
        // Trailer missing: tolerated; trailer wrong: rejected.
        assert!(decompress(&HELLO_FIXED[..HELLO_FIXED.len() - 4], 1000).is_ok());
        let mut bad = HELLO_FIXED.to_vec();
        *bad.last_mut().unwrap() ^= 1;
        assert!(decompress(&bad, 1000).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        assert!(decompress(b"", 10).is_err());
        assert!(decompress(b"\x78", 10).is_err());
        assert!(decompress(b"\x78\x02", 10).is_err());
        assert!(decompress(b"{\"a\":1}", 10).is_err());
        // Every truncation and many bit flips of a valid stream.
        for cut in 0..HELLO_FIXED.len() - 4 {
            assert!(decompress(&HELLO_FIXED[..cut], 1000).is_err(), "cut {cut}");
        }
        let mut seed = 0x2545_F491u32;
        for round in 0..40_000 {
            let z = if round % 2 == 0 {
                HELLO_FIXED
            } else {
                TOPICS_DYNAMIC
            };
            let mut m = z.to_vec();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let i = 2 + (seed as usize % (m.len() - 2));
            m[i] ^= 1 << (seed >> 29);
            let _ = decompress(&m, 1 << 16);
        }
    }
}
