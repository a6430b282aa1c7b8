//! Java's number parsing and ordering as the filter uses them:
//! `Integer.valueOf`, `Long.valueOf`, `Double.valueOf` applied to property
//! strings, and `Double.compareTo`. A property is compared with a literal
//! by first converting it with the literal's type, so these decide which
//! property values match.

use std::cmp::Ordering;

/// `Integer.parseInt(s)`: an optional `+`/`-`, then decimal digits, no
/// white space, in range. (Java also takes non-ASCII Unicode digits; these
/// are refused here, see the module notes.)
pub(crate) fn parse_int(s: &str) -> Option<i32> {
    let v = parse_long(s)?;
    i32::try_from(v).ok()
}

/// `Long.parseLong(s)`: as [`parse_int`] with the `long` range.
pub(crate) fn parse_long(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    const LIMIT: u64 = 1 << 63; // |i64::MIN|
    let mut acc: u64 = 0;
    for &c in digits.as_bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        if acc > LIMIT {
            return None;
        }
    }
    if neg {
        Some(0i64.wrapping_sub_unsigned(acc))
    } else {
        i64::try_from(acc).ok()
    }
}

/// `Double.parseDouble(s)`: leading and trailing characters up to U+0020
/// trimmed; optional sign; `NaN`, `Infinity`, a decimal number with optional
/// exponent, or a hexadecimal `0x1.8p3` form; one optional trailing
/// `f`/`F`/`d`/`D`. Correctly rounded.
pub(crate) fn parse_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c <= ' ');
    let b = t.as_bytes();
    let sign_len = usize::from(matches!(b.first()?, b'+' | b'-'));
    let neg = b[0] == b'-';
    let body = &t[sign_len..];
    match body.as_bytes() {
        [b'N', ..] => return (body == "NaN").then_some(f64::NAN),
        [b'I', ..] => {
            return (body == "Infinity").then_some(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        [b'0', b'x' | b'X', ..] => return parse_hex(neg, &body[2..]),
        _ => {}
    }
    let mut i = sign_len;
    let mut n_digits = 0usize;
    let mut seen_point = false;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_digit() {
            n_digits += 1;
        } else if c == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if n_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    let number = &t[..i];
    let rest = &b[i..];
    if !(rest.is_empty() || matches!(rest, [b'f' | b'F' | b'd' | b'D'])) {
        return None;
    }
    // The Java grammar accepted here is a subset of Rust's, which rounds
    // correctly and saturates huge exponents as Java does.
    number.parse::<f64>().ok()
}

/// The part of a hexadecimal double after `0x`: `HHH[.HHH]p[+-]DDD[fFdD]`
/// with at least one hex digit, rounded to nearest, ties to even.
fn parse_hex(neg: bool, s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut seen_point = false;
    let mut n_digits = 0usize;
    let mut frac_digits: i64 = 0;
    // Up to 15 significant hex digits (60 bits) kept exactly, the rest
    // folded into a sticky bit: more than enough for 53-bit rounding.
    let mut mant: u64 = 0;
    let mut kept = 0u32;
    let mut dropped: i64 = 0;
    let mut sticky = false;
    while let Some(&c) = b.get(i) {
        if let Some(d) = (c as char).to_digit(16) {
            n_digits += 1;
            if seen_point {
                frac_digits += 1;
            }
            if kept < 15 {
                if mant != 0 || d != 0 {
                    mant = mant << 4 | u64::from(d);
                    kept += 1;
                }
            } else {
                dropped += 1;
                sticky |= d != 0;
            }
        } else if c == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if n_digits == 0 || !matches!(b.get(i), Some(b'p' | b'P')) {
        return None;
    }
    i += 1;
    let exp_neg = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let exp_digits = &b[i..];
    let exp_len = exp_digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if exp_len == 0 {
        return None;
    }
    let rest = &exp_digits[exp_len..];
    if !(rest.is_empty() || matches!(rest, [b'f' | b'F' | b'd' | b'D'])) {
        return None;
    }
    // Saturate the exponent: past 2^31 Java answers infinity or zero, and
    // anything beyond a few thousand already is infinity or zero.
    let mut exp: i64 = 0;
    for &c in &exp_digits[..exp_len] {
        exp = (exp * 10 + i64::from(c - b'0')).min(1 << 40);
    }
    if exp_neg {
        exp = -exp;
    }
    let signed = |v: f64| if neg { -v } else { v };
    if mant == 0 {
        return Some(signed(0.0));
    }
    let e2 = exp - 4 * frac_digits + 4 * dropped; // value = mant * 2^e2 (+ sticky)
    Some(signed(round_to_f64(mant, e2, sticky)))
}

/// `m * 2^e2` (plus a sliver below the last bit when `sticky`) rounded to
/// the nearest double, ties to even. `m` is non-zero.
fn round_to_f64(m: u64, e2: i64, sticky: bool) -> f64 {
    let bits = i64::from(64 - m.leading_zeros());
    let mut msb = e2 + bits - 1;
    if msb > 1023 {
        return f64::INFINITY;
    }
    let normal = msb >= -1022;
    let lsb = if normal { msb - 52 } else { -1074 };
    let shift = lsb - e2;
    let mut mant: u64 = if shift <= 0 {
        // Exact: the result has at most 53 bits. (Sticky is only ever set
        // with 15 kept digits, at least 57 bits, so never on this path.)
        m << (-shift)
    } else if shift > 64 {
        0 // far below half of the smallest subnormal
    } else {
        let wide = u128::from(m);
        let kept = (wide >> shift) as u64;
        let rem = wide & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let up = rem > half || (rem == half && (sticky || kept & 1 == 1));
        kept + u64::from(up)
    };
    if normal {
        if mant == 1 << 53 {
            mant >>= 1;
            msb += 1;
            if msb > 1023 {
                return f64::INFINITY;
            }
        }
        let biased = (msb + 1023) as u64;
        f64::from_bits(biased << 52 | (mant & ((1 << 52) - 1)))
    } else {
        // Subnormal: the bits are the mantissa; a carry into bit 52 is
        // exactly the smallest normal number.
        f64::from_bits(mant)
    }
}

/// `Double.compare(a, b)`: NaN is above everything and equal to itself,
/// and -0.0 is below 0.0.
pub(crate) fn cmp_double(a: f64, b: f64) -> Ordering {
    if a < b {
        return Ordering::Less;
    }
    if a > b {
        return Ordering::Greater;
    }
    let key = |x: f64| {
        if x.is_nan() {
            0x7ff8_0000_0000_0000_i64
        } else {
            x.to_bits() as i64
        }
    };
    key(a).cmp(&key(b))
}

/// `Boolean.valueOf(s)`: true only for "true" in any letter case.
pub(crate) fn parse_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true")
}
