//! Evaluation against a message's properties, following Apache's
//! expression classes (4.9.7 `ComparisonExpression`, `LogicExpression`,
//! `UnaryExpression`; 5.x for the string tests).
//!
//! A result is TRUE, FALSE, NULL (`Ok(None)`) or an error. Apache throws on
//! a failed conversion (and on a few type mismatches); the broker catches
//! that and drops the message, so an error is kept apart from FALSE only
//! because `NOT`, `AND` and `OR` pass it on rather than combine it.

use std::cmp::Ordering;

use super::ast::{CmpOp, Expr, Lit, TextOp};
use super::java_num::{cmp_double, parse_bool, parse_double, parse_int, parse_long};

/// A non-NULL value: Java's `Boolean`, `Integer`, `Long`, `Double`, `String`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value<'v> {
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'v str),
}

/// Evaluation failed (Apache threw); the message does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EvalError;

pub(crate) type Outcome<'v> = Result<Option<Value<'v>>, EvalError>;

pub(crate) fn eval<'v, 'e: 'v, 'p: 'v>(
    e: &'e Expr,
    get: &dyn Fn(&str) -> Option<&'p str>,
) -> Outcome<'v> {
    let v = match e {
        Expr::Lit(lit) => lit_value(lit),
        Expr::Prop(name) => get(name).map(Value::Str),
        Expr::Neg(x) => match eval(x, get)? {
            Some(Value::Int(i)) => Some(Value::Int(i.wrapping_neg())),
            Some(Value::Long(l)) => Some(Value::Long(l.wrapping_neg())),
            Some(Value::Double(d)) => Some(Value::Double(-d)),
            _ => None,
        },
        Expr::BoolCast(name) => get(name).map(|_| Value::Bool(false)),
        Expr::Not(x) => truth(eval(x, get)?)?.map(|b| Value::Bool(!b)),
        Expr::And(items) => logic(items, false, get)?,
        Expr::Or(items) => logic(items, true, get)?,
        Expr::Cmp(op, l, r) => {
            let Some(lv) = eval(l, get)? else {
                return Ok(None);
            };
            let Some(rv) = eval(r, get)? else {
                return Ok(None);
            };
            let ord = match (lv, rv) {
                // Two strings are ordered as doubles.
                (Value::Str(a), Value::Str(b)) => cmp_double(to_double(a)?, to_double(b)?),
                _ => compare(lv, rv)?,
            };
            Some(Value::Bool(op.holds(ord)))
        }
        Expr::Eq(l, r) => {
            let lv = eval(l, get)?;
            let rv = eval(r, get)?;
            match (lv, rv) {
                (None, None) => Some(Value::Bool(true)),
                (None, Some(_)) => None,
                (Some(_), None) => Some(Value::Bool(false)),
                (Some(a), Some(b)) => Some(Value::Bool(equal(a, b)?)),
            }
        }
        Expr::IsNull(x) => Some(Value::Bool(eval(x, get)?.is_none())),
        Expr::In { prop, set, negated } => get(prop)
            .map(|s| Value::Bool(set.binary_search_by(|item| (**item).cmp(s)).is_ok() != *negated)),
        Expr::Text {
            op,
            negated,
            operand,
            search,
        } => {
            if search.is_empty() {
                return Ok(Some(Value::Bool(false)));
            }
            match eval(operand, get)? {
                Some(Value::Str(s)) => Some(Value::Bool(op.test(s, search) != *negated)),
                _ => Some(Value::Bool(false)),
            }
        }
    };
    Ok(v)
}

fn lit_value(lit: &Lit) -> Option<Value<'_>> {
    match lit {
        Lit::Null => None,
        Lit::Bool(b) => Some(Value::Bool(*b)),
        Lit::Int(i) => Some(Value::Int(*i)),
        Lit::Long(l) => Some(Value::Long(*l)),
        Lit::Double(d) => Some(Value::Double(*d)),
        Lit::Str(s) => Some(Value::Str(s)),
    }
}

/// A boolean operand's value; Apache casts to `Boolean` (never fails for
/// the trees the parser builds).
fn truth(v: Option<Value<'_>>) -> Result<Option<bool>, EvalError> {
    match v {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(EvalError),
    }
}

/// AND (`stop_on` false) or OR (`stop_on` true), left to right: the first
/// operand equal to `stop_on` decides; otherwise NULL if any operand was
/// NULL. Apache nests pairs (`(a AND b) AND c`), which evaluates the same
/// operands in the same order with the same result, errors included.
fn logic<'v, 'e: 'v, 'p: 'v>(
    items: &'e [Expr],
    stop_on: bool,
    get: &dyn Fn(&str) -> Option<&'p str>,
) -> Result<Option<Value<'v>>, EvalError> {
    let mut saw_null = false;
    for item in items {
        match truth(eval(item, get)?)? {
            Some(b) if b == stop_on => return Ok(Some(Value::Bool(stop_on))),
            Some(_) => {}
            None => saw_null = true,
        }
    }
    Ok(if saw_null {
        None
    } else {
        Some(Value::Bool(!stop_on))
    })
}

fn to_double(s: &str) -> Result<f64, EvalError> {
    parse_double(s).ok_or(EvalError)
}

/// `=` on two non-NULL values: Apache answers TRUE for equal objects and
/// otherwise compares with conversion; for the value kinds here that is
/// exactly "compares as equal". Two strings are compared as they are.
fn equal(a: Value<'_>, b: Value<'_>) -> Result<bool, EvalError> {
    if let (Value::Str(x), Value::Str(y)) = (a, b) {
        return Ok(x == y);
    }
    Ok(compare(a, b)? == Ordering::Equal)
}

/// Apache `ComparisonExpression.__compare` with string conversion on: the
/// right value is converted to the left one's numeric type (or the left to
/// the right's when the left is a string); incomparable kinds answer
/// "less"; a failed conversion is an error, and so is a Boolean on the left
/// of a string (Apache's `ClassCastException`).
pub(crate) fn compare(a: Value<'_>, b: Value<'_>) -> Result<Ordering, EvalError> {
    use Value::*;
    let ord = match (a, b) {
        (Bool(x), Bool(y)) => x.cmp(&y),
        (Int(x), Int(y)) => x.cmp(&y),
        (Long(x), Long(y)) => x.cmp(&y),
        (Double(x), Double(y)) => cmp_double(x, y),
        (Str(x), Str(y)) => x.encode_utf16().cmp(y.encode_utf16()),

        (Bool(_), Str(_)) => return Err(EvalError),
        (Bool(_), _) => Ordering::Less,

        (Int(x), Long(y)) => i64::from(x).cmp(&y),
        (Int(x), Double(y)) => cmp_double(f64::from(x), y),
        (Int(x), Str(y)) => x.cmp(&parse_int(y).ok_or(EvalError)?),
        (Long(x), Int(y)) => x.cmp(&i64::from(y)),
        (Long(x), Double(y)) => cmp_double(x as f64, y),
        (Long(x), Str(y)) => x.cmp(&parse_long(y).ok_or(EvalError)?),
        (Double(x), Int(y)) => cmp_double(x, f64::from(y)),
        (Double(x), Long(y)) => cmp_double(x, y as f64),
        (Double(x), Str(y)) => cmp_double(x, to_double(y)?),
        (Int(_) | Long(_) | Double(_), Bool(_)) => Ordering::Less,

        (Str(x), Bool(y)) => parse_bool(x).cmp(&y),
        (Str(x), Int(y)) => parse_int(x).ok_or(EvalError)?.cmp(&y),
        (Str(x), Long(y)) => parse_long(x).ok_or(EvalError)?.cmp(&y),
        (Str(x), Double(y)) => cmp_double(to_double(x)?, y),
    };
    Ok(ord)
}

/// The BETWEEN bounds check at parse time: `compare(high, low)` on two
/// non-NULL literals.
pub(crate) fn compare_lits(a: &Lit, b: &Lit) -> Result<Ordering, ()> {
    match (lit_value(a), lit_value(b)) {
        (Some(x), Some(y)) => compare(x, y).map_err(|_| ()),
        _ => Err(()),
    }
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Gt => ord.is_gt(),
            CmpOp::Ge => ord.is_ge(),
            CmpOp::Lt => ord.is_lt(),
            CmpOp::Le => ord.is_le(),
        }
    }
}

impl TextOp {
    fn test(self, s: &str, search: &str) -> bool {
        match self {
            TextOp::Contains => s.contains(search),
            TextOp::StartsWith => s.starts_with(search),
            TextOp::EndsWith => s.ends_with(search),
        }
    }
}
