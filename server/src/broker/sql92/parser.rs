//! Parser for Apache's selector grammar (4.9.7
//! `SelectorParser.jj`) plus the 5.x string tests, with the checks Apache
//! makes while building the tree (they are parse errors, not evaluation
//! errors).
//!
//! ```text
//! or    := and (OR and)*
//! and   := eq (AND eq)*
//! eq    := cmp ('=' cmp | '<>' cmp | IS NULL | IS NOT NULL)*
//! cmp   := unary ( ('>'|'>='|'<'|'<=') unary
//!                | [NOT] BETWEEN unary AND unary
//!                | [NOT] IN '(' string (',' string)* ')'
//!                | [NOT] (CONTAINS|STARTSWITH|ENDSWITH) string )*
//! unary := '+' unary | '-' unary | NOT unary | primary
//! primary := literal | property | '(' or ')'
//! ```
//!
//! Like Apache, parsing stops after one complete expression: the token that
//! follows it is read (so a lexical error there is reported) and everything
//! after is ignored, so `a = 1 b` compiles as `a = 1`.
//!
//! CONTAINS, STARTSWITH and ENDSWITH are recognised only where an operator
//! is expected; elsewhere they stay property names as in 4.9.7.

use super::ast::{CmpOp, Expr, Lit, TextOp};
use super::eval::compare_lits;
use super::lexer::{Lexer, Tok, Token};
use super::{SqlError, MAX_DEPTH, MAX_IN_LIST};

/// The binary operator levels handled by `Parser::expr`, loosest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Equality,
}

/// A parsed sub-expression: the tree, its height and where it starts.
struct Node {
    expr: Expr,
    depth: usize,
    start: usize,
}

pub(crate) fn parse(src: &str) -> Result<Expr, SqlError> {
    let mut p = Parser {
        lex: Lexer::new(src),
        ahead: [EOF_TOKEN; 2],
        n_ahead: 0,
        nesting: 0,
    };
    let top = p.expr()?;
    // Apache reads the next token (lexical errors count) and stops there.
    p.peek()?;
    Ok(p.as_boolean(top)?.expr)
}

const EOF_TOKEN: Token = Token {
    kind: Tok::Eof,
    start: 0,
    end: 0,
};

struct Parser<'a> {
    lex: Lexer<'a>,
    ahead: [Token; 2],
    n_ahead: usize,
    /// Current parenthesis nesting (the only recursion of the parser),
    /// bounded by `MAX_DEPTH` so that no input overflows the stack.
    nesting: usize,
}

impl<'a> Parser<'a> {
    // ---- tokens ----

    fn peek(&mut self) -> Result<Token, SqlError> {
        if self.n_ahead == 0 {
            self.ahead[0] = self.lex.next_token()?;
            self.n_ahead = 1;
        }
        Ok(self.ahead[0])
    }

    fn peek2(&mut self) -> Result<Token, SqlError> {
        self.peek()?;
        if self.n_ahead == 1 {
            self.ahead[1] = self.lex.next_token()?;
            self.n_ahead = 2;
        }
        Ok(self.ahead[1])
    }

    /// Takes the peeked token.
    fn bump(&mut self) -> Token {
        debug_assert!(self.n_ahead > 0, "bump without peek");
        let t = self.ahead[0];
        self.ahead[0] = self.ahead[1];
        self.n_ahead = self.n_ahead.saturating_sub(1);
        t
    }

    fn expect(&mut self, kind: Tok, what: &str) -> Result<Token, SqlError> {
        let t = self.peek()?;
        if t.kind == kind {
            Ok(self.bump())
        } else {
            Err(self.unexpected(t, what))
        }
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&self, t: Token, expected: &str) -> SqlError {
        let found = if t.kind == Tok::Eof {
            "end of input".to_string()
        } else {
            let text = self.lex.text(t);
            match text.char_indices().nth(40) {
                Some((cut, _)) => format!("\"{}...\"", &text[..cut]),
                None => format!("\"{text}\""),
            }
        };
        self.error(t.start, format!("encountered {found}, expected {expected}"))
    }

    #[cold]
    #[inline(never)]
    fn error(&self, at: usize, msg: impl Into<String>) -> SqlError {
        SqlError::new(self.lex.src(), at, msg)
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, at: usize) -> SqlError {
        self.error(
            at,
            format!("expression nested deeper than {MAX_DEPTH} levels"),
        )
    }

    /// The 5.x string operator an identifier names, if any.
    fn text_op(&self, t: Token) -> Option<TextOp> {
        if t.kind != Tok::Id {
            return None;
        }
        let w = self.lex.text(t);
        [
            ("CONTAINS", TextOp::Contains),
            ("STARTSWITH", TextOp::StartsWith),
            ("ENDSWITH", TextOp::EndsWith),
        ]
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(w))
        .map(|(_, op)| op)
    }

    // ---- grammar ----
    //
    // The three lowest levels (OR, AND, and `=`/`<>`/IS) are parsed by one
    // operator-precedence loop rather than three mutually recursive
    // functions; it builds the same left-leaning trees. Prefix operators are
    // a loop too. Only parentheses recurse (expr -> cmp_expr -> unary ->
    // expr), which keeps the stack per nesting level small.

    fn expr(&mut self) -> Result<Node, SqlError> {
        let mut operands = vec![self.cmp_expr()?];
        let mut ops: Vec<(Level, Token)> = Vec::new();
        loop {
            let t = self.peek()?;
            let level = match t.kind {
                Tok::Or => Level::Or,
                Tok::And => Level::And,
                Tok::Eq | Tok::Ne | Tok::Is => Level::Equality,
                _ => break,
            };
            // Left-associative: finish pending operators that bind at
            // least as tightly before this one.
            while ops.last().is_some_and(|(l, _)| *l >= level) {
                self.reduce(&mut operands, &mut ops)?;
            }
            self.bump();
            if t.kind == Tok::Is {
                let operand = operands.pop().expect("an operand before IS");
                operands.push(self.is_null(operand, t)?);
            } else {
                ops.push((level, t));
                operands.push(self.cmp_expr()?);
            }
        }
        while !ops.is_empty() {
            self.reduce(&mut operands, &mut ops)?;
        }
        debug_assert_eq!(operands.len(), 1);
        Ok(operands.pop().expect("one operand left"))
    }

    /// The rest of `operand IS [NOT] NULL` after IS.
    #[inline(never)]
    fn is_null(&mut self, operand: Node, is: Token) -> Result<Node, SqlError> {
        let negated = self.peek()?.kind == Tok::Not;
        if negated {
            self.bump();
        }
        self.expect(Tok::Null, if negated { "NULL" } else { "NULL or NOT NULL" })?;
        let is_null = self.wrap(operand, is.start, |e| Expr::IsNull(Box::new(e)))?;
        if negated {
            self.wrap(is_null, is.start, |e| Expr::Not(Box::new(e)))
        } else {
            Ok(is_null)
        }
    }

    /// Applies the last pending operator to the last two operands.
    #[inline(never)]
    fn reduce(
        &self,
        operands: &mut Vec<Node>,
        ops: &mut Vec<(Level, Token)>,
    ) -> Result<(), SqlError> {
        let (_, op) = ops.pop().expect("an operator to reduce");
        let right = operands.pop().expect("a right operand");
        let left = operands.pop().expect("a left operand");
        let node = match op.kind {
            Tok::Or => self.logic(false, left, right, op.start)?,
            Tok::And => self.logic(true, left, right, op.start)?,
            Tok::Eq => self.equal(left, right, op.start)?,
            _ => {
                let eq = self.equal(left, right, op.start)?;
                self.wrap(eq, op.start, |e| Expr::Not(Box::new(e)))?
            }
        };
        operands.push(node);
        Ok(())
    }

    /// `unary` followed by any number of `>`, `>=`, `<`, `<=`, [NOT]
    /// BETWEEN, [NOT] IN and [NOT] CONTAINS/STARTSWITH/ENDSWITH.
    fn cmp_expr(&mut self) -> Result<Node, SqlError> {
        let mut left = self.unary()?;
        loop {
            let op = self.peek()?;
            let cmp = match op.kind {
                Tok::Gt => CmpOp::Gt,
                Tok::Ge => CmpOp::Ge,
                Tok::Lt => CmpOp::Lt,
                Tok::Le => CmpOp::Le,
                _ => {
                    let negated = op.kind == Tok::Not;
                    let keyword = if negated { self.peek2()? } else { op };
                    if keyword.kind != Tok::Between
                        && keyword.kind != Tok::In
                        && self.text_op(keyword).is_none()
                    {
                        if negated {
                            return Err(self.unexpected(
                                keyword,
                                "BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT",
                            ));
                        }
                        return Ok(left);
                    }
                    self.bump();
                    if negated {
                        self.bump();
                    }
                    left = self.keyword_operator(left, op, keyword, negated)?;
                    continue;
                }
            };
            self.bump();
            let right = self.unary()?;
            left = self.compare(cmp, left, right, op.start)?;
        }
    }

    /// The rest of `left [NOT] BETWEEN|IN|CONTAINS|...` after the keyword.
    #[inline(never)]
    fn keyword_operator(
        &mut self,
        left: Node,
        op: Token,
        keyword: Token,
        negated: bool,
    ) -> Result<Node, SqlError> {
        match keyword.kind {
            Tok::Between => {
                let low = self.unary()?;
                self.expect(Tok::And, "AND")?;
                let high = self.unary()?;
                self.between(negated, left, low, high, op.start)
            }
            Tok::In => {
                let set = self.in_list()?;
                self.in_set(negated, left, set, op.start)
            }
            _ => {
                let text_op = self.text_op(keyword).unwrap_or(TextOp::Contains);
                let t = self.expect(Tok::Str, "a string literal")?;
                let search = decode_string(self.lex.text(t));
                self.wrap(left, op.start, |operand| Expr::Text {
                    op: text_op,
                    negated,
                    operand: Box::new(operand),
                    search,
                })
            }
        }
    }

    #[inline(never)]
    fn in_list(&mut self) -> Result<Vec<Box<str>>, SqlError> {
        self.expect(Tok::LParen, "'('")?;
        let mut items = Vec::new();
        loop {
            let t = self.expect(Tok::Str, "a string literal")?;
            if items.len() == MAX_IN_LIST {
                return Err(self.error(t.start, format!("IN list longer than {MAX_IN_LIST} items")));
            }
            items.push(decode_string(self.lex.text(t)));
            let sep = self.peek()?;
            match sep.kind {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(items);
                }
                _ => return Err(self.unexpected(sep, "',' or ')'")),
            }
        }
    }

    /// Prefix operators, then a primary. `+x` is `x` itself (whatever x
    /// is), `-x` a negation, `NOT x` needs a boolean (or property) operand;
    /// they apply innermost first.
    fn unary(&mut self) -> Result<Node, SqlError> {
        let mut prefixes: Vec<Token> = Vec::new();
        loop {
            let t = self.peek()?;
            if !matches!(t.kind, Tok::Plus | Tok::Minus | Tok::Not) {
                break;
            }
            if prefixes.len() >= MAX_DEPTH {
                return Err(self.too_deep(t.start));
            }
            prefixes.push(self.bump());
        }
        let node = self.primary()?;
        if prefixes.is_empty() {
            return Ok(node);
        }
        self.apply_prefixes(node, &prefixes)
    }

    #[inline(never)]
    fn apply_prefixes(&self, mut node: Node, prefixes: &[Token]) -> Result<Node, SqlError> {
        for t in prefixes.iter().rev() {
            node = match t.kind {
                Tok::Minus => self.wrap(node, t.start, |e| Expr::Neg(Box::new(e)))?,
                Tok::Not => {
                    let operand = self.as_boolean(node)?;
                    self.wrap(operand, t.start, |e| Expr::Not(Box::new(e)))?
                }
                _ => node,
            };
        }
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, SqlError> {
        let t = self.peek()?;
        match t.kind {
            // Parentheses only group: `(a)` is the property itself.
            Tok::LParen => self.parenthesized(),
            _ => self.leaf(t),
        }
    }

    /// A literal or a property.
    #[inline(never)]
    fn leaf(&mut self, t: Token) -> Result<Node, SqlError> {
        let expr = match t.kind {
            Tok::Str => Expr::Lit(Lit::Str(decode_string(self.lex.text(t)))),
            Tok::Decimal => Expr::Lit(self.decimal(t)?),
            Tok::Float => Expr::Lit(self.float(t)?),
            Tok::True => Expr::Lit(Lit::Bool(true)),
            Tok::False => Expr::Lit(Lit::Bool(false)),
            Tok::Null => Expr::Lit(Lit::Null),
            Tok::Id => Expr::Prop(self.lex.text(t).into()),
            _ => return Err(self.unexpected(t, "a literal, a property name, '(', '+', '-' or NOT")),
        };
        self.bump();
        Ok(Node {
            expr,
            depth: 1,
            start: t.start,
        })
    }

    fn parenthesized(&mut self) -> Result<Node, SqlError> {
        let open = self.bump();
        if self.nesting >= MAX_DEPTH {
            return Err(self.too_deep(open.start));
        }
        self.nesting += 1;
        let inner = self.expr();
        self.nesting -= 1;
        let inner = inner?;
        self.expect(Tok::RParen, "')'")?;
        Ok(inner)
    }

    /// Apache `createFromDecimal`: an optional `l`/`L` is dropped, the value
    /// must fit a long, and is an int when it fits one.
    #[inline(never)]
    fn decimal(&self, t: Token) -> Result<Lit, SqlError> {
        let text = self.lex.text(t);
        let digits = text.trim_end_matches(['l', 'L']);
        match digits.parse::<i64>() {
            Ok(v) => Ok(i32::try_from(v).map_or(Lit::Long(v), Lit::Int)),
            Err(_) => Err(self.error(t.start, format!("number {text} is out of the long range"))),
        }
    }

    /// Apache `createFloat`: a double, refused when it is infinite or below
    /// `Double.MIN_VALUE` (so any literal that reads as zero is refused).
    #[inline(never)]
    fn float(&self, t: Token) -> Result<Lit, SqlError> {
        let text = self.lex.text(t);
        let v = text
            .parse::<f64>()
            .map_err(|_| self.error(t.start, format!("bad number {text}")))?;
        if v > f64::MAX {
            return Err(self.error(
                t.start,
                format!("{text} is greater than 1.7976931348623157E308"),
            ));
        }
        if v < f64::from_bits(1) {
            return Err(self.error(t.start, format!("{text} is less than 4.9E-324")));
        }
        Ok(Lit::Double(v))
    }

    // ---- tree building, with Apache's checks ----

    /// A node over one child.
    fn wrap(&self, child: Node, at: usize, f: impl FnOnce(Expr) -> Expr) -> Result<Node, SqlError> {
        let depth = child.depth + 1;
        self.check_depth(depth, at)?;
        Ok(Node {
            expr: f(child.expr),
            depth,
            start: child.start.min(at),
        })
    }

    /// A node over two children.
    fn pair(
        &self,
        l: Node,
        r: Node,
        at: usize,
        f: impl FnOnce(Expr, Expr) -> Expr,
    ) -> Result<Node, SqlError> {
        let depth = l.depth.max(r.depth) + 1;
        self.check_depth(depth, at)?;
        Ok(Node {
            expr: f(l.expr, r.expr),
            depth,
            start: l.start,
        })
    }

    fn check_depth(&self, depth: usize, at: usize) -> Result<(), SqlError> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        Ok(())
    }

    /// Apache `asBooleanExpression`: boolean nodes pass, a property becomes
    /// a boolean cast, anything else is refused.
    fn as_boolean(&self, n: Node) -> Result<Node, SqlError> {
        match n.expr {
            Expr::Prop(name) => Ok(Node {
                expr: Expr::BoolCast(name),
                ..n
            }),
            ref e if e.is_boolean() => Ok(n),
            _ => Err(self.error(n.start, "expression will not result in a boolean value")),
        }
    }

    /// AND (`is_and`) or OR of two operands, chains flattened into one node.
    fn logic(&self, is_and: bool, l: Node, r: Node, at: usize) -> Result<Node, SqlError> {
        let l = self.as_boolean(l)?;
        let r = self.as_boolean(r)?;
        let start = l.start;
        let mut depth = 0;
        let mut items = Vec::new();
        for n in [l, r] {
            let same = matches!(
                (&n.expr, is_and),
                (Expr::And(_), true) | (Expr::Or(_), false)
            );
            match n.expr {
                Expr::And(v) | Expr::Or(v) if same => {
                    depth = depth.max(n.depth);
                    items.extend(v);
                }
                e => {
                    depth = depth.max(n.depth + 1);
                    items.push(e);
                }
            }
        }
        self.check_depth(depth, at)?;
        let expr = if is_and {
            Expr::And(items)
        } else {
            Expr::Or(items)
        };
        Ok(Node { expr, depth, start })
    }

    /// Apache `checkLessThanOperand`: only numeric literals, properties and
    /// negations may be ordered.
    fn check_orderable(&self, n: &Node) -> Result<(), SqlError> {
        match &n.expr {
            Expr::Lit(Lit::Int(_) | Lit::Long(_) | Lit::Double(_)) => Ok(()),
            Expr::Lit(_) => Err(self.error(
                n.start,
                "this value cannot be compared with '>', '>=', '<' or '<='",
            )),
            e if e.is_boolean() => Err(self.error(
                n.start,
                "a boolean expression cannot be compared with '>', '>=', '<' or '<='",
            )),
            _ => Ok(()),
        }
    }

    #[inline(never)]
    fn compare(&self, op: CmpOp, l: Node, r: Node, at: usize) -> Result<Node, SqlError> {
        self.check_orderable(&l)?;
        self.check_orderable(&r)?;
        self.pair(l, r, at, |a, b| Expr::Cmp(op, Box::new(a), Box::new(b)))
    }

    /// Apache `createEqual`: NULL may not be an operand (use IS NULL), and a
    /// TRUE/FALSE literal on the left may only meet another boolean literal
    /// when the right side is a literal too.
    fn equal(&self, l: Node, r: Node, at: usize) -> Result<Node, SqlError> {
        for n in [&l, &r] {
            if matches!(n.expr, Expr::Lit(Lit::Null)) {
                return Err(self.error(
                    n.start,
                    "NULL cannot be compared with '=' or '<>', use IS [NOT] NULL",
                ));
            }
        }
        if let (Expr::Lit(a), Expr::Lit(b)) = (&l.expr, &r.expr) {
            if matches!(a, Lit::Bool(_)) && !matches!(b, Lit::Bool(_) | Lit::Null) {
                return Err(self.error(
                    l.start,
                    "a boolean literal cannot be compared with a non-boolean literal",
                ));
            }
        }
        self.pair(l, r, at, |a, b| Expr::Eq(Box::new(a), Box::new(b)))
    }

    /// `v BETWEEN low AND high` is `v >= low AND v <= high`; with two literal
    /// bounds Apache first checks low <= high. `v NOT BETWEEN low AND high`
    /// is `v < low OR v > high`, without that check.
    #[inline(never)]
    fn between(
        &self,
        negated: bool,
        v: Node,
        low: Node,
        high: Node,
        at: usize,
    ) -> Result<Node, SqlError> {
        if !negated {
            if let (Expr::Lit(lo), Expr::Lit(hi)) = (&low.expr, &high.expr) {
                if matches!(lo, Lit::Null) || matches!(hi, Lit::Null) {
                    return Err(self.error(at, "illegal values of BETWEEN: values can not be NULL"));
                }
                match compare_lits(hi, lo) {
                    Err(()) => {
                        return Err(
                            self.error(at, "illegal values of BETWEEN: bounds cannot be compared")
                        )
                    }
                    Ok(std::cmp::Ordering::Less) => {
                        return Err(self.error(at, "illegal values of BETWEEN: the low value must not exceed the high value"));
                    }
                    Ok(_) => {}
                }
            }
        }
        let copy = Node {
            expr: v.expr.clone(),
            ..v
        };
        let (op_low, op_high) = if negated {
            (CmpOp::Lt, CmpOp::Gt)
        } else {
            (CmpOp::Ge, CmpOp::Le)
        };
        let first = self.compare(op_low, v, low, at)?;
        let second = self.compare(op_high, copy, high, at)?;
        self.logic(!negated, first, second, at)
    }

    /// Apache `createInFilter`: the left side must be a property.
    #[inline(never)]
    fn in_set(
        &self,
        negated: bool,
        left: Node,
        mut items: Vec<Box<str>>,
        at: usize,
    ) -> Result<Node, SqlError> {
        let Expr::Prop(prop) = left.expr else {
            return Err(self.error(left.start, "expected a property name before IN"));
        };
        items.sort_unstable();
        items.dedup();
        let expr = Expr::In {
            prop,
            set: items.into_boxed_slice(),
            negated,
        };
        Ok(Node {
            expr,
            depth: 2,
            start: left.start.min(at),
        })
    }
}

/// The value of a string literal token: quotes removed, `''` read as `'`.
fn decode_string(token: &str) -> Box<str> {
    let inner = &token[1..token.len() - 1];
    if inner.contains('\'') {
        inner.replace("''", "'").into()
    } else {
        inner.into()
    }
}
