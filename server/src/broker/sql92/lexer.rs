//! Tokens of the selector language, produced one at a time on demand.
//!
//! The token set and the longest-match rules are those of Apache's
//! `SelectorParser.jj` (4.9.7): keywords win over identifiers only when they
//! are the whole word, a `--` comment needs its line end (at end of input the
//! two dashes are two minus signs), and only ASCII may appear outside string
//! literals and comments. Lexing is lazy on purpose: Apache reads exactly one
//! token past the end of the expression, so text after that token is never
//! looked at (see `parser`).

use super::SqlError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    /// `0` or `[1-9][0-9]*` with an optional `l`/`L`.
    Decimal,
    /// `1.`, `1.5`, `.5`, `1e5`, `1.5E-3`.
    Float,
    /// `'...'` with `''` standing for one quote.
    Str,
    /// `[A-Za-z_$][A-Za-z0-9_$]*`: a property name.
    Id,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    LParen,
    Comma,
    RParen,
    Plus,
    Minus,
    Eof,
}

/// A token: its kind and its byte range in the expression.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

const KEYWORDS: [(&str, Tok); 9] = [
    ("NOT", Tok::Not),
    ("AND", Tok::And),
    ("OR", Tok::Or),
    ("BETWEEN", Tok::Between),
    ("IN", Tok::In),
    ("TRUE", Tok::True),
    ("FALSE", Tok::False),
    ("NULL", Tok::Null),
    ("IS", Tok::Is),
];

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// No CR or LF at or after this offset (keeps a run of unterminated
    /// `--` from rescanning the rest of the input at every dash).
    no_eol_from: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            no_eol_from: usize::MAX,
        }
    }

    pub fn src(&self) -> &'a str {
        self.src
    }

    pub fn text(&self, t: Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    /// The next token, skipping white space (space, tab, CR, LF, FF) and
    /// comments. At the end of input it keeps answering `Eof`.
    pub fn next_token(&mut self) -> Result<Token, SqlError> {
        let b = self.src.as_bytes();
        loop {
            let p = self.pos;
            let Some(&c) = b.get(p) else {
                return Ok(Token {
                    kind: Tok::Eof,
                    start: p,
                    end: p,
                });
            };
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | 0x0c => self.pos += 1,
                b'-' if b.get(p + 1) == Some(&b'-') => {
                    let body = p + 2;
                    let eol = if body >= self.no_eol_from {
                        None
                    } else {
                        b[body..].iter().position(|&x| x == b'\n' || x == b'\r')
                    };
                    match eol {
                        Some(i) => {
                            let nl = body + i;
                            let crlf = b[nl] == b'\r' && b.get(nl + 1) == Some(&b'\n');
                            self.pos = nl + if crlf { 2 } else { 1 };
                        }
                        // No line end: not a comment, just a minus sign.
                        None => {
                            self.no_eol_from = self.no_eol_from.min(body);
                            return Ok(self.emit(Tok::Minus, p, p + 1));
                        }
                    }
                }
                b'/' if b.get(p + 1) == Some(&b'*') => match find(&b[p + 2..], b"*/") {
                    Some(i) => self.pos = p + 2 + i + 2,
                    None => return Err(SqlError::new(self.src, p, "unterminated comment")),
                },
                _ => return self.token_at(p, c),
            }
        }
    }

    fn emit(&mut self, kind: Tok, start: usize, end: usize) -> Token {
        self.pos = end;
        Token { kind, start, end }
    }

    fn token_at(&mut self, p: usize, c: u8) -> Result<Token, SqlError> {
        let b = self.src.as_bytes();
        let next = b.get(p + 1).copied();
        let tok = match c {
            b'=' => self.emit(Tok::Eq, p, p + 1),
            b'<' if next == Some(b'>') => self.emit(Tok::Ne, p, p + 2),
            b'<' if next == Some(b'=') => self.emit(Tok::Le, p, p + 2),
            b'<' => self.emit(Tok::Lt, p, p + 1),
            b'>' if next == Some(b'=') => self.emit(Tok::Ge, p, p + 2),
            b'>' => self.emit(Tok::Gt, p, p + 1),
            b'(' => self.emit(Tok::LParen, p, p + 1),
            b')' => self.emit(Tok::RParen, p, p + 1),
            b',' => self.emit(Tok::Comma, p, p + 1),
            b'+' => self.emit(Tok::Plus, p, p + 1),
            b'-' => self.emit(Tok::Minus, p, p + 1),
            b'\'' => match string_end(b, p) {
                Some(end) => self.emit(Tok::Str, p, end),
                None => return Err(SqlError::new(self.src, p, "unterminated string literal")),
            },
            b'0'..=b'9' | b'.' => match number(b, p) {
                Some((kind, end)) => self.emit(kind, p, end),
                None => return Err(unexpected_char(self.src, p)),
            },
            c if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => {
                let len = b[p..]
                    .iter()
                    .position(|&x| !(x.is_ascii_alphanumeric() || x == b'_' || x == b'$'))
                    .unwrap_or(b.len() - p);
                let word = &self.src[p..p + len];
                let kind = KEYWORDS
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(word))
                    .map_or(Tok::Id, |&(_, t)| t);
                self.emit(kind, p, p + len)
            }
            _ => return Err(unexpected_char(self.src, p)),
        };
        Ok(tok)
    }
}

fn unexpected_char(src: &str, p: usize) -> SqlError {
    let ch = src[p..].chars().next().unwrap_or('\0');
    SqlError::new(src, p, format!("unexpected character {ch:?}"))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End of the longest string literal starting at the quote at `p`. Every
/// quote met while inside the literal may close it; a quote followed by
/// another quote may instead be an escaped quote, so the scan goes on and
/// the last possible closing point wins (`'a''` is the literal `'a'`
/// followed by a stray quote).
fn string_end(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p + 1;
    let mut end = None;
    while let Some(q) = b[i..].iter().position(|&x| x == b'\'') {
        let q = i + q;
        end = Some(q + 1);
        if b.get(q + 1) == Some(&b'\'') {
            i = q + 2;
        } else {
            break;
        }
    }
    end
}

fn digits(b: &[u8], p: usize) -> usize {
    b[p.min(b.len())..]
        .iter()
        .take_while(|x| x.is_ascii_digit())
        .count()
}

/// Length of a complete exponent (`e`, optional sign, digits) at `p`.
fn exponent(b: &[u8], p: usize) -> usize {
    if !matches!(b.get(p), Some(b'e' | b'E')) {
        return 0;
    }
    let sign = usize::from(matches!(b.get(p + 1), Some(b'+' | b'-')));
    match digits(b, p + 1 + sign) {
        0 => 0,
        n => 1 + sign + n,
    }
}

/// The longest numeric literal at `p`: a decimal or a float, the decimal
/// winning a tie (it never ties in practice).
fn number(b: &[u8], p: usize) -> Option<(Tok, usize)> {
    let int_len = digits(b, p);
    let decimal = match b[p] {
        b'0' => 1,
        b'1'..=b'9' => int_len + usize::from(matches!(b.get(p + int_len), Some(b'l' | b'L'))),
        _ => 0,
    };
    let float = if int_len > 0 {
        let after = p + int_len;
        if b.get(after) == Some(&b'.') {
            let frac = digits(b, after + 1);
            int_len + 1 + frac + exponent(b, after + 1 + frac)
        } else {
            match exponent(b, after) {
                0 => 0,
                e => int_len + e,
            }
        }
    } else {
        // b[p] == '.'
        match digits(b, p + 1) {
            0 => 0,
            frac => 1 + frac + exponent(b, p + 1 + frac),
        }
    };
    if float > decimal {
        Some((Tok::Float, p + float))
    } else if decimal > 0 {
        Some((Tok::Decimal, p + decimal))
    } else {
        None
    }
}
