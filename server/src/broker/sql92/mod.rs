//! SQL92 message filtering: Apache RocketMQ's JMS-selector dialect
//! (`rocketmq-filter` 4.9.7, reference §6.6), compiled once per subscription
//! and evaluated against each message's properties.
//!
//! Semantics follow Apache 4.9.7 (`SelectorParser.jj`, the `expression`
//! classes, and the broker's `ExpressionMessageFilter`), quirks included:
//!
//! * A message matches only when the expression yields TRUE; FALSE, NULL
//!   and evaluation errors (a failed number conversion) all drop it.
//! * A missing property is NULL. Ordering comparisons with NULL are NULL;
//!   AND/OR/NOT use three-valued logic, evaluated left to right with short
//!   cuts (`FALSE AND <error>` is FALSE, `TRUE AND <error>` is an error).
//! * `=` is not symmetric about NULL: `prop = 'x'` is NULL when `prop` is
//!   missing, `'x' = prop` is FALSE (so `'x' <> prop` is TRUE); two missing
//!   properties are equal.
//! * A property compared with a number literal is converted to that
//!   literal's type: `Integer.valueOf` for literals in the int range,
//!   `Long.valueOf` beyond, `Double.valueOf` for literals with a point or
//!   exponent. So `a = 1` is an error (no match) when `a` is "1.0", while
//!   `a = 1.0` matches "1". Two properties compare as strings with `=`/`<>`
//!   and as doubles with `>`, `>=`, `<`, `<=`.
//! * `prop = TRUE` matches when `prop` is "true" in any case; `prop = FALSE`
//!   matches any other value; `TRUE = prop` is always an error (Apache's
//!   `ClassCastException`).
//! * A bare property used as a boolean is FALSE when present (it is never a
//!   Boolean), so `NOT prop` matches every message that has `prop`.
//! * `-prop` is NULL (only numbers are negated); `+x` is `x`. Prefix
//!   operators bind tighter than comparisons: `NOT a = 'x'` is
//!   `(NOT a) = 'x'` (never TRUE), and `NOT a IN (...)` does not compile.
//! * IN takes only string literals and needs a property on its left; it
//!   compares exactly. BETWEEN with two literal bounds refuses low > high.
//! * A float literal that reads as zero or infinity is refused, as are
//!   `= NULL`, `> 'string'`, `TRUE = 1` and non-boolean top-level
//!   expressions.
//! * Parsing stops after one complete expression and ignores what follows
//!   the next token: `a = 1 b = 2` compiles as `a = 1`. A `--` comment
//!   needs a line end; at end of input it reads as two minus signs (and,
//!   being after the expression, is then ignored).
//! * CONTAINS, STARTSWITH, ENDSWITH (and their NOT forms) from RocketMQ 5.x
//!   are accepted where an operator is expected, with 5.x semantics: FALSE
//!   (not NULL) for a missing or non-string operand or an empty search
//!   string. Elsewhere these words stay property names, as in 4.9.7 (5.x
//!   reserves them). 4.9.7 itself has no such operators: it compiles
//!   `a CONTAINS 'x'` as the bare property `a` followed by ignored text.
//!
//! Differences from Apache, all on inputs no client is expected to send:
//! expressions longer than [`MAX_EXPRESSION_BYTES`], nested deeper than
//! [`MAX_DEPTH`] or with IN lists longer than [`MAX_IN_LIST`] are refused
//! (Apache has no limits but its thread stack); property strings made of
//! non-ASCII Unicode digits are not numbers here (Java's `Integer.parseInt`
//! accepts e.g. Arabic-Indic digits); error messages are our own.

mod ast;
mod eval;
mod java_num;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

/// Longest expression compiled, in bytes.
pub const MAX_EXPRESSION_BYTES: usize = 64 * 1024;
/// Deepest nesting: parentheses, a run of prefix operators, and the height
/// of the compiled tree (AND/OR chains count as one level). Bounds the
/// parser's recursion and that of evaluating, cloning and dropping a tree.
pub const MAX_DEPTH: usize = 256;
/// Most string literals in one IN list.
pub const MAX_IN_LIST: usize = 10_000;

/// A compiled SQL92 filter expression.
#[derive(Clone)]
pub struct SqlFilter {
    root: Arc<ast::Expr>,
}

impl SqlFilter {
    /// Compiles a subscription expression; the error reads like the
    /// remark of a SUBSCRIPTION_PARSE_FAILED answer.
    pub fn compile(expr: &str) -> Result<SqlFilter, SqlError> {
        if expr.len() > MAX_EXPRESSION_BYTES {
            return Err(SqlError::new(
                expr,
                MAX_EXPRESSION_BYTES,
                format!("expression longer than {MAX_EXPRESSION_BYTES} bytes"),
            ));
        }
        let root = parser::parse(expr)?;
        Ok(SqlFilter {
            root: Arc::new(root),
        })
    }

    /// True only if the expression evaluates to TRUE against the message
    /// whose properties `get` looks up (a missing property is NULL; an
    /// evaluation error means no match), as Apache's
    /// `ExpressionMessageFilter.isMatchedByCommitLog` decides.
    pub fn matches<'p>(&self, get: &dyn Fn(&str) -> Option<&'p str>) -> bool {
        matches!(
            eval::eval(&self.root, get),
            Ok(Some(eval::Value::Bool(true)))
        )
    }
}

impl fmt::Debug for SqlFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlFilter")
            .field("root", &self.root)
            .finish()
    }
}

const _: () = {
    const fn shareable<T: Send + Sync + Clone>() {}
    shareable::<SqlFilter>();
};

/// Why an expression does not compile: what was wrong and where. (One
/// pointer wide, so that parser frames stay small.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError(Box<ErrorDetail>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct ErrorDetail {
    offset: usize,
    line: usize,
    column: usize,
    message: String,
}

impl SqlError {
    /// An error at byte `offset` of `src`; line and column (1-based, in
    /// characters) are worked out from it.
    #[cold]
    #[inline(never)]
    fn new(src: &str, offset: usize, message: impl Into<String>) -> SqlError {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let mut line = 1;
        let mut prev_cr = false;
        for b in before.bytes() {
            match b {
                b'\n' if prev_cr => {}
                b'\n' | b'\r' => line += 1,
                _ => {}
            }
            prev_cr = b == b'\r';
        }
        let column = before[line_start..].chars().count() + 1;
        SqlError(Box::new(ErrorDetail {
            offset,
            line,
            column,
            message: message.into(),
        }))
    }

    /// Byte offset in the expression.
    pub fn offset(&self) -> usize {
        self.0.offset
    }

    pub fn line(&self) -> usize {
        self.0.line
    }

    pub fn column(&self) -> usize {
        self.0.column
    }

    /// What went wrong, without the position.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid MessageSelector: {} at line {}, column {}",
            self.0.message, self.0.line, self.0.column
        )
    }
}

impl std::error::Error for SqlError {}
