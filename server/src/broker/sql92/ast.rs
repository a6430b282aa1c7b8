//! The compiled form of a selector: a tree whose node kinds mirror Apache's
//! expression classes, with the parse-time desugaring Apache does (BETWEEN
//! into two comparisons, `<>` and IS NOT NULL into NOT of `=` and IS NULL).

/// A literal. The numeric kinds are Java's `Integer`, `Long` and `Double`:
/// which one a literal gets decides how a property string is converted when
/// compared with it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(Box<str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
}

/// The string tests RocketMQ 5.x added (CONTAINS, STARTSWITH, ENDSWITH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Lit(Lit),
    /// A property value (a string), NULL when the message lacks it.
    Prop(Box<str>),
    /// Unary minus; NULL unless the operand is a number.
    Neg(Box<Expr>),
    /// A property used where a boolean is needed (Apache's boolean cast):
    /// NULL when missing, otherwise FALSE (a string is never a Boolean).
    BoolCast(Box<str>),
    Not(Box<Expr>),
    /// Left-to-right, stopping at the first FALSE; a chain `a AND b AND c`
    /// is one node (same result as Apache's nested pairs, see `eval`).
    And(Vec<Expr>),
    /// Left-to-right, stopping at the first TRUE.
    Or(Vec<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>),
    /// `prop [NOT] IN ('a', ...)`; `set` is sorted and deduplicated.
    In {
        prop: Box<str>,
        set: Box<[Box<str>]>,
        negated: bool,
    },
    /// `operand [NOT] CONTAINS|STARTSWITH|ENDSWITH 'search'` (5.x).
    Text {
        op: TextOp,
        negated: bool,
        operand: Box<Expr>,
        search: Box<str>,
    },
}

impl Expr {
    /// Apache's `instanceof BooleanExpression`: every node that yields a
    /// Boolean (or NULL), including the TRUE, FALSE and NULL literals.
    pub fn is_boolean(&self) -> bool {
        match self {
            Expr::Lit(Lit::Null | Lit::Bool(_)) => true,
            Expr::Lit(_) | Expr::Prop(_) | Expr::Neg(_) => false,
            Expr::BoolCast(_)
            | Expr::Not(_)
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Cmp(..)
            | Expr::Eq(..)
            | Expr::IsNull(_)
            | Expr::In { .. }
            | Expr::Text { .. } => true,
        }
    }
}
