//! Table-driven tests of the SQL92 filter against Apache 4.9.7 behaviour,
//! plus hostile inputs.

use std::collections::HashMap;

use super::eval::{eval, Value};
use super::java_num::{cmp_double, parse_double, parse_int, parse_long};
use super::{parser, SqlFilter, MAX_DEPTH, MAX_EXPRESSION_BYTES, MAX_IN_LIST};

/// The full outcome of an expression, finer than `matches`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum R {
    /// TRUE
    T,
    /// FALSE
    F,
    /// NULL
    N,
    /// evaluation error
    E,
    /// does not compile
    P,
}
use R::*;

fn props(kv: &[(&str, &str)]) -> HashMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn outcome(expr: &str, kv: &[(&str, &str)]) -> R {
    let Ok(root) = parser::parse(expr) else {
        return P;
    };
    let m = props(kv);
    let get = |k: &str| m.get(k).map(String::as_str);
    let r = match eval(&root, &get) {
        Ok(Some(Value::Bool(true))) => T,
        Ok(Some(Value::Bool(false))) => F,
        Ok(None) => N,
        Ok(Some(v)) => panic!("{expr}: non-boolean result {v:?}"),
        Err(_) => E,
    };
    // The public API agrees: only TRUE matches.
    let f = SqlFilter::compile(expr).expect("compiles");
    assert_eq!(f.matches(&get), r == T, "{expr}");
    r
}

/// Property names and values of one message.
type Props<'a> = &'a [(&'a str, &'a str)];

/// Expression, message properties, expected outcome.
type Case<'a> = (&'a str, Props<'a>, R);

fn check(cases: &[Case<'_>]) {
    let mut failed = Vec::new();
    for &(expr, kv, want) in cases {
        let got = outcome(expr, kv);
        if got != want {
            failed.push(format!("{expr:?} with {kv:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

const NONE: &[(&str, &str)] = &[];

#[test]
fn equality_and_null() {
    check(&[
        ("a = 'x'", &[("a", "x")], T),
        ("a = 'x'", &[("a", "y")], F),
        ("a = 'x'", NONE, N),
        ("a <> 'x'", NONE, N),
        ("a <> 'x'", &[("a", "y")], T),
        // Asymmetric: a missing right operand gives FALSE, not NULL.
        ("'x' = a", NONE, F),
        ("'x' <> a", NONE, T),
        // Two missing properties are equal.
        ("a = b", NONE, T),
        ("a <> b", NONE, F),
        ("a = b", &[("a", "1")], F),
        ("a = b", &[("b", "1")], N),
        ("a = b", &[("a", "1"), ("b", "1.0")], F),
        ("a = b", &[("a", "x"), ("b", "x")], T),
        ("a IS NULL", NONE, T),
        ("a IS NULL", &[("a", "")], F),
        ("a IS NOT NULL", &[("a", "")], T),
        ("a IS NOT NULL", NONE, F),
        ("NULL IS NULL", NONE, T),
        ("1 IS NULL", NONE, F),
        ("TRUE IS NOT NULL", NONE, T),
        ("(a > 1) IS NULL", NONE, T),
        ("(a > 1) IS NULL", &[("a", "x")], E),
        ("a = 'x' IS NULL", NONE, T),
        ("a = 'x' = TRUE", &[("a", "x")], T),
        ("a = 'x' = FALSE", &[("a", "y")], T),
        ("a = 'it''s'", &[("a", "it's")], T),
        ("a = ''''", &[("a", "'")], T),
        ("a = ''", &[("a", "")], T),
        ("a = 'é✓'", &[("a", "é✓")], T),
        ("a = 'x\ny'", &[("a", "x\ny")], T),
        // Property names are case-sensitive, keywords are not.
        ("A = 'x'", &[("a", "x")], N),
        ("a = 'x' aNd B iS nOt NuLl", &[("a", "x"), ("B", "")], T),
        ("$a_1 = 'x'", &[("$a_1", "x")], T),
    ]);
}

#[test]
fn numeric_conversions() {
    check(&[
        // Int literal: property read with Integer.valueOf.
        ("a = 10", &[("a", "10")], T),
        ("a = 10", &[("a", "+10")], T),
        ("a = 10", &[("a", "010")], T),
        ("a = 10", &[("a", "10.0")], E),
        ("a = 10", &[("a", " 10")], E),
        ("a = 10", &[("a", "ten")], E),
        ("a <> 10", &[("a", "ten")], E),
        ("a = 10", &[("a", "3000000000")], E),
        ("a > 10", &[("a", "11")], T),
        ("a > 10", &[("a", "9")], F),
        ("a > 10", &[("a", "10.5")], E),
        ("a > 10", NONE, N),
        ("10 < a", &[("a", "11")], T),
        ("10 = a", &[("a", "x")], E),
        // Long literal (beyond int range, or with L).
        ("a = 3000000000", &[("a", "3000000000")], T),
        ("a = 10L", &[("a", "10")], T),
        (
            "a > 9223372036854775807",
            &[("a", "9223372036854775808")],
            E,
        ),
        ("a = -2147483648", &[("a", "-2147483648")], T),
        // Double literal: Double.valueOf (trims, suffixes, hex, NaN).
        ("a = 10.0", &[("a", "10")], T),
        ("a > 5.0", &[("a", " 6 ")], T),
        ("a > 5.0", &[("a", "6f")], T),
        ("a > 5.0", &[("a", "6d")], T),
        ("a > 5.0", &[("a", "0x10p0")], T),
        ("a > 5.0", &[("a", "1e1")], T),
        ("a > 5.0", &[("a", "Infinity")], T),
        ("a > 5.0", &[("a", "-Infinity")], F),
        ("a > 5.0", &[("a", "NaN")], T), // Double.compareTo puts NaN above all
        ("a = 5.0", &[("a", "NaN")], F),
        ("a > 5.0", &[("a", "nan")], E),
        ("a > 5.0", &[("a", "6g")], E),
        ("a > .5", &[("a", "1")], T),
        ("a < 5.", &[("a", "1")], T),
        ("a < 5E1", &[("a", "49")], T),
        // Two properties: ordered as doubles, equal as strings.
        ("a > b", &[("a", "10"), ("b", "9")], T),
        ("a > b", &[("a", "10"), ("b", "x")], E),
        ("a >= b", &[("a", "NaN"), ("b", "NaN")], T),
        ("a > b", &[("a", "NaN"), ("b", "NaN")], F),
        ("a < b", &[("a", "-0.0"), ("b", "0.0")], T),
        ("a > b", &[("a", "1")], N),
        ("a > b", &[("b", "1")], N),
        // Literals against each other.
        ("1 = 1.0", NONE, T),
        ("1 = 1L", NONE, T),
        ("3000000000 > 1", NONE, T),
        ("2 > 1.5", NONE, T),
        ("1 = TRUE", NONE, F),
        ("'1' = 1", NONE, T),
        ("'x' = 'x'", NONE, T),
        // Negation: numbers only.
        ("-a > 1", &[("a", "5")], N),
        ("a > -1", &[("a", "0")], T),
        ("a = - 5", &[("a", "-5")], T),
        ("- - 5 = 5", NONE, T),
        ("-(-5) = 5", NONE, T),
        ("a = -1.5", &[("a", "-1.5")], T),
        ("-'x' > 1", NONE, N),
        ("+a = 'x'", &[("a", "x")], T),
        ("+'x' = a", &[("a", "x")], T),
    ]);
}

#[test]
fn boolean_literals_and_casts() {
    check(&[
        ("TRUE", NONE, T),
        ("FALSE", NONE, F),
        ("NULL", NONE, N),
        ("a = TRUE", &[("a", "true")], T),
        ("a = TRUE", &[("a", "TRUE")], T),
        ("a = TRUE", &[("a", "yes")], F),
        ("a = FALSE", &[("a", "yes")], T),
        ("a = FALSE", NONE, N),
        ("TRUE = a", &[("a", "true")], E),
        ("TRUE = a", NONE, F),
        ("TRUE <> a", NONE, T),
        ("TRUE = TRUE", NONE, T),
        ("TRUE = FALSE", NONE, F),
        ("(a = 'x') = TRUE", &[("a", "x")], T),
        ("(a = 'x') = 'true'", &[("a", "x")], E),
        ("'true' = (a = 'x')", &[("a", "x")], T),
        // A property as a boolean: FALSE when present.
        ("a", &[("a", "true")], F),
        ("a", NONE, N),
        ("(a)", &[("a", "true")], F),
        ("NOT a", &[("a", "true")], T),
        ("NOT a", NONE, N),
        ("NOT NOT a", &[("a", "")], F),
        // NOT binds tighter than comparisons: `(NOT a) = 'x'` compares a
        // Boolean with a string (an error in Apache) or is NULL.
        ("NOT a = 'x'", &[("a", "y")], E),
        ("NOT a = 'x'", NONE, N),
        ("NOT (a = 'x')", &[("a", "y")], T),
        ("NOT a CONTAINS 'x'", &[("a", "x")], F),
    ]);
}

#[test]
fn three_valued_logic() {
    // x is TRUE, FALSE or NULL as below; e errors.
    let t = "a = 'x'"; // with a = x
    let f = "a = 'y'";
    let n = "z = 'x'"; // z missing
    let e = "a > 1"; // a = x cannot be read as a number
    let kv: &[(&str, &str)] = &[("a", "x")];
    let cases: Vec<(String, R)> = vec![
        (format!("{t} AND {t}"), T),
        (format!("{t} AND {f}"), F),
        (format!("{t} AND {n}"), N),
        (format!("{f} AND {n}"), F),
        (format!("{n} AND {f}"), F),
        (format!("{n} AND {n}"), N),
        (format!("{t} OR {f}"), T),
        (format!("{f} OR {f}"), F),
        (format!("{f} OR {n}"), N),
        (format!("{n} OR {t}"), T),
        (format!("{n} OR {n}"), N),
        (format!("NOT ({n})"), N),
        (format!("NOT ({t})"), F),
        (format!("NOT ({f})"), T),
        // Left to right, stopping early; errors pass through NOT.
        (format!("{f} AND {e}"), F),
        (format!("{t} AND {e}"), E),
        (format!("{n} AND {e}"), E),
        (format!("{e} AND {f}"), E),
        (format!("{t} OR {e}"), T),
        (format!("{f} OR {e}"), E),
        (format!("NOT ({f} AND {e})"), T),
        (format!("NOT ({t} AND {e})"), E),
        (format!("NOT ({e})"), E),
        (format!("{f} AND {t} OR {t}"), T), // AND binds tighter
        (format!("{t} OR {t} AND {f}"), T),
        (format!("({t} OR {t}) AND {f}"), F),
        (format!("{f} OR {f} OR {n} OR {f}"), N),
        (format!("{t} AND {t} AND {n} AND {f}"), F),
        (format!("{t} AND ({t} AND ({n} AND {t}))"), N),
        ("NULL AND TRUE".to_string(), N),
        ("NULL OR TRUE".to_string(), T),
        ("NOT NULL".to_string(), N),
        ("a AND TRUE".to_string(), F),
        ("z OR TRUE".to_string(), T),
        ("z AND TRUE".to_string(), N),
    ];
    let table: Vec<Case<'_>> = cases.iter().map(|(x, r)| (x.as_str(), kv, *r)).collect();
    check(&table);
}

#[test]
fn between() {
    check(&[
        ("a BETWEEN 1 AND 10", &[("a", "5")], T),
        ("a BETWEEN 1 AND 10", &[("a", "1")], T),
        ("a BETWEEN 1 AND 10", &[("a", "10")], T),
        ("a BETWEEN 1 AND 10", &[("a", "0")], F),
        ("a BETWEEN 1 AND 10", &[("a", "11")], F),
        ("a BETWEEN 1 AND 10", NONE, N),
        ("a BETWEEN 1 AND 10", &[("a", "x")], E),
        ("a BETWEEN 1 AND 1", &[("a", "1")], T),
        ("a NOT BETWEEN 1 AND 10", &[("a", "0")], T),
        ("a NOT BETWEEN 1 AND 10", &[("a", "5")], F),
        ("a NOT BETWEEN 1 AND 10", NONE, N),
        ("a NOT BETWEEN 1 AND 10", &[("a", "x")], E),
        ("a NOT BETWEEN 10 AND 1", &[("a", "5")], T), // no bounds check
        // Each comparison converts with its own bound's type.
        ("a BETWEEN 1 AND 2.5", &[("a", "2")], T),
        ("a BETWEEN 1 AND 2.5", &[("a", "2.2")], E),
        ("a BETWEEN 1.0 AND 2.5", &[("a", "2.2")], T),
        // -1 is a negation, not a literal: no bounds check.
        ("a BETWEEN -10 AND -1", &[("a", "-5")], T),
        ("a BETWEEN 5 AND -1", &[("a", "2")], F),
        (
            "a BETWEEN b AND c",
            &[("a", "2"), ("b", "1"), ("c", "3")],
            T,
        ),
        (
            "a BETWEEN 1 AND 3 AND b = 'x'",
            &[("a", "2"), ("b", "x")],
            T,
        ),
        ("a BETWEEN 1 AND 3 = TRUE", &[("a", "2")], T),
    ]);
}

#[test]
fn in_lists() {
    check(&[
        ("a IN ('x', 'y')", &[("a", "x")], T),
        ("a IN ('x', 'y')", &[("a", "z")], F),
        ("a IN ('x', 'y')", NONE, N),
        ("a IN ('1')", &[("a", "1.0")], F),
        ("a NOT IN ('x', 'y')", &[("a", "z")], T),
        ("a NOT IN ('x', 'y')", &[("a", "x")], F),
        ("a NOT IN ('x')", NONE, N),
        ("(a) IN ('x')", &[("a", "x")], T),
        ("+a IN ('x')", &[("a", "x")], T),
        ("a IN ('x','x','x','y','z','w')", &[("a", "w")], T),
        ("a IN ('it''s')", &[("a", "it's")], T),
        ("a in ('')", &[("a", "")], T),
        ("a IN ('x') = FALSE", &[("a", "y")], T),
    ]);
}

#[test]
fn string_tests_from_5x() {
    check(&[
        ("a CONTAINS 'bc'", &[("a", "abcd")], T),
        ("a CONTAINS 'x'", &[("a", "abcd")], F),
        ("a contains 'bc'", NONE, F), // FALSE, not NULL
        ("NOT (a CONTAINS 'bc')", NONE, T),
        ("a NOT CONTAINS 'bc'", NONE, F),
        ("a NOT CONTAINS 'x'", &[("a", "abcd")], T),
        ("a CONTAINS ''", &[("a", "abcd")], F),
        ("a NOT CONTAINS ''", &[("a", "abcd")], F),
        ("a STARTSWITH 'ab'", &[("a", "abcd")], T),
        ("a StartsWith 'bc'", &[("a", "abcd")], F),
        ("a NOT STARTSWITH 'bc'", &[("a", "abcd")], T),
        ("a ENDSWITH 'cd'", &[("a", "abcd")], T),
        ("a NOT ENDSWITH 'cd'", &[("a", "abcd")], F),
        ("1 CONTAINS '1'", NONE, F),
        ("a CONTAINS 'b' = TRUE", &[("a", "abc")], T),
        ("a = 'x' OR b CONTAINS 'é'", &[("b", "café")], T),
        // Elsewhere the words are property names, as in 4.9.7.
        ("contains = 'x'", &[("contains", "x")], T),
        ("startswith IS NULL", NONE, T),
        ("endsWith CONTAINS 'x'", &[("endsWith", "xx")], T),
    ]);
}

#[test]
fn comments_whitespace_and_trailing_text() {
    check(&[
        ("/* c */ a = 'x' -- trailing\n", &[("a", "x")], T),
        ("a -- c\r\n= 'x'", &[("a", "x")], T),
        ("a -- c\r= 'x'", &[("a", "x")], T),
        ("a/**/=/***/'x'/* ** / */", &[("a", "x")], T),
        ("\t\r\n\u{c}a = 'x'", &[("a", "x")], T),
        // `--` without a line end is two minus signs; after a complete
        // expression they are ignored like any trailing text.
        ("a = 'x' -- no line end", &[("a", "x")], T),
        ("a = 'x' -- it's", &[("a", "x")], T),
        ("a = 'x' b = 'y'", &[("a", "x")], T),
        ("a = 'x')", &[("a", "x")], T),
        ("a = 'x' b 'unterminated", &[("a", "x")], T),
        ("a = 'x' ( #", &[("a", "x")], T),
        ("a = 1 0", &[("a", "1")], T),
        ("a = 0L", &[("a", "0")], T),  // `0` then `L`
        ("a = 007", &[("a", "0")], T), // `0` `0` `7`
        ("a = 1.5.5", &[("a", "1.5")], T),
        ("a = 5E", &[("a", "5")], T), // `5` then `E`
        ("a=1", &[("a", "1")], T),
        ("a<>1", &[("a", "2")], T),
        ("a>=1AND b<=2", &[("a", "1"), ("b", "2")], T),
        ("a IN('x')", &[("a", "x")], T),
        ("NOTa", &[("NOTa", "1")], F),    // an identifier, not NOT a
        ("a LIKE 'x'", &[("a", "x")], F), // LIKE is no keyword: `a`, then ignored text
        ("a = 01.5", &[("a", "1.5")], T), // a float may start with 0
    ]);
}

#[test]
fn parse_errors() {
    let bad = [
        "",
        "   ",
        "-- only a comment\n",
        "a =",
        "a = 'x' AND",
        "(a = 'x'",
        "a = 'unterminated",
        "a = 'x' #",     // the token after the expression is still read
        "a = 'x' 'open", // ... and must lex
        "a = 'x' /* open",
        "a = 'x' /",
        "a = \"x\"",
        "a = 'x' NOT",
        "a = 'x' NOT x",
        "a NOT LIKE 'x'",
        "a = 'x' IS",
        "a IS NOT",
        "a IS 'x'",
        "é = 'x'",
        "a = 'x' ; ",
        // Non-boolean results.
        "1",
        "'x'",
        "-a",
        "1.5",
        "(1)",
        "NOT 1",
        "NOT -a",
        "NOT 'x'",
        "a AND 1",
        "1 OR a",
        // Literal checks.
        "a > 0.0",
        "a > 0.",
        "a > 1e-400",
        "a > 1e400",
        "a = 9223372036854775808",
        "a = -9223372036854775808",
        "a = 99999999999999999999L",
        // Operand checks.
        "a = NULL",
        "NULL = a",
        "a <> NULL",
        "TRUE = 1",
        "FALSE = 'x'",
        "TRUE <> 1.5",
        "a > 'x'",
        "'x' < a",
        "a > TRUE",
        "a > NULL",
        "(a > 1) > 2",
        "a > (b = 1)",
        "a BETWEEN 10 AND 1",
        "a BETWEEN 'a' AND 'b'",
        "a BETWEEN NULL AND 1",
        "a BETWEEN 1 AND NULL",
        "a BETWEEN 1 AND 'x'",
        "a BETWEEN TRUE AND FALSE",
        "a BETWEEN 1",
        "a BETWEEN 1 OR 2",
        "a NOT BETWEEN 'a' AND 'b'",
        "(a = 1) BETWEEN 1 AND 2",
        "'x' IN ('x')",
        "NOT a IN ('x')",        // (NOT a) IN ...
        "NOT a BETWEEN 1 AND 2", // (NOT a) >= 1 ...
        "NOT a > 1",
        "1 IN ('1')",
        "-a IN ('1')",
        "a IN ()",
        "a IN (1)",
        "a IN ('x',)",
        "a IN ('x' 'y')",
        "a IN 'x'",
        "a IN ('x') IN ('y')",
        "a CONTAINS b",
        "a CONTAINS",
        "a NOT CONTAINS 1",
        "+",
        "a = +",
        "()",
        "a = ()",
    ];
    let mut failed = Vec::new();
    for expr in bad {
        match SqlFilter::compile(expr) {
            Ok(f) => failed.push(format!("{expr:?} compiled: {f:?}")),
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with("Invalid MessageSelector: "), "{text}");
                assert!(text.contains(" at line "), "{text}");
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn error_positions_and_messages() {
    let e = SqlFilter::compile("a = 'x' AND\n  b = ").unwrap_err();
    assert_eq!((e.line(), e.column()), (2, 7), "{e}");
    assert!(e.message().contains("end of input"), "{e}");
    assert!(e.message().contains("expected a literal"), "{e}");

    let e = SqlFilter::compile("(a = 'x'").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid MessageSelector: encountered end of input, expected ')' at line 1, column 9"
    );

    let e = SqlFilter::compile("a IN ('x' 'y')").unwrap_err();
    assert!(e.message().contains("expected ',' or ')'"), "{e}");
    assert_eq!(e.offset(), 10);

    let e = SqlFilter::compile("é = 1").unwrap_err();
    assert!(e.message().contains("unexpected character 'é'"), "{e}");

    let e = SqlFilter::compile("a = 'x' AND 'oops").unwrap_err();
    assert!(e.message().contains("unterminated string"), "{e}");
    assert_eq!(e.column(), 13);

    let e = SqlFilter::compile("a BETWEEN 3 AND 2").unwrap_err();
    assert!(e.message().contains("BETWEEN"), "{e}");

    let e = SqlFilter::compile("a = NULL").unwrap_err();
    assert!(e.message().contains("IS [NOT] NULL"), "{e}");

    let e = SqlFilter::compile("a NOT x").unwrap_err();
    assert!(e.message().contains("after NOT"), "{e}");

    let long = format!("a = '{}'", "y".repeat(100));
    let e = SqlFilter::compile(&format!("{long} NOT x")).unwrap_err();
    assert!(e.to_string().len() < 200, "{e}");
}

#[test]
fn java_number_parsing() {
    assert_eq!(parse_int("2147483647"), Some(i32::MAX));
    assert_eq!(parse_int("-2147483648"), Some(i32::MIN));
    assert_eq!(parse_int("2147483648"), None);
    assert_eq!(parse_int("+0"), Some(0));
    assert_eq!(parse_int("-"), None);
    assert_eq!(parse_int(""), None);
    assert_eq!(parse_int("1_0"), None);
    assert_eq!(parse_int("00000000000000000000012"), Some(12));
    assert_eq!(parse_long("9223372036854775807"), Some(i64::MAX));
    assert_eq!(parse_long("-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_long("9223372036854775808"), None);
    assert_eq!(parse_long("99999999999999999999999"), None);
    assert_eq!(parse_long("٣"), None); // Java accepts; documented difference

    let d = |s: &str| parse_double(s);
    assert_eq!(d("1"), Some(1.0));
    assert_eq!(d("  -1.5e3\t"), Some(-1500.0));
    assert_eq!(d("\u{1}2\u{0}"), Some(2.0)); // trim takes all chars <= U+0020
    assert_eq!(d("+.5"), Some(0.5));
    assert_eq!(d("-5."), Some(-5.0));
    assert_eq!(d("1.e2"), Some(100.0));
    assert_eq!(d("1e+2"), Some(100.0));
    assert_eq!(d("2f"), Some(2.0));
    assert_eq!(d("2.5D"), Some(2.5));
    assert_eq!(d("1e99999999999"), Some(f64::INFINITY));
    assert_eq!(d("1e-99999999999"), Some(0.0));
    assert_eq!(d("Infinity"), Some(f64::INFINITY));
    assert_eq!(d("-Infinity"), Some(f64::NEG_INFINITY));
    assert!(d("NaN").is_some_and(f64::is_nan));
    assert!(d("+NaN").is_some_and(f64::is_nan));
    for bad in [
        "",
        " ",
        ".",
        "+",
        "e5",
        "1e",
        "1e+",
        "1.2.3",
        "1ff",
        "1 2",
        "inf",
        "infinity",
        "nan",
        "NaNd",
        "Infinityf",
        "1,5",
        "\u{a0}1",
        "0x",
        "0x1",
        "0xp1",
        "0x1.p",
        "0xgp1",
        "00x1p1",
        "1_000",
    ] {
        assert_eq!(d(bad), None, "{bad:?}");
    }
    // Hexadecimal forms.
    assert_eq!(d("0x1p0"), Some(1.0));
    assert_eq!(d("0X1.8P1"), Some(3.0));
    assert_eq!(d("0x.8p1"), Some(1.0));
    assert_eq!(d("-0x10p-4"), Some(-1.0));
    assert_eq!(d("0x1p3f"), Some(8.0));
    assert_eq!(d("0x0p5"), Some(0.0));
    assert_eq!(d("-0x0.0p0").map(f64::to_bits), Some((-0.0f64).to_bits()));
    assert_eq!(d("0x1p-1074"), Some(f64::from_bits(1)));
    assert_eq!(d("0x1p-1075"), Some(0.0)); // tie, to even
    assert_eq!(d("0x1.0000000001p-1075"), Some(f64::from_bits(1)));
    assert_eq!(d("0x1.8p-1074"), Some(f64::from_bits(2))); // tie, to even
    assert_eq!(d("0x1p-1022"), Some(f64::MIN_POSITIVE));
    assert_eq!(d("0x0.fffffffffffff8p-1022"), Some(f64::MIN_POSITIVE)); // rounds up into the normals
    assert_eq!(d("0x1.fffffffffffffp1023"), Some(f64::MAX));
    assert_eq!(d("0x1.fffffffffffff8p1023"), Some(f64::INFINITY));
    assert_eq!(d("0x1p1024"), Some(f64::INFINITY));
    assert_eq!(d("0x1.fffffffffffff8p0"), Some(2.0)); // tie, odd: up
    assert_eq!(d("0x1.fffffffffffff7ffffffp0"), Some(1.9999999999999998));
    assert_eq!(d("0x1.00000000000008p0"), Some(1.0)); // tie, even: down
    assert_eq!(d("0x1.000000000000080000001p0"), Some(1.0000000000000002)); // sticky: up
    assert_eq!(d("0x123456789abcdef0123p0"), Some(5.373003642731685e21));
    assert_eq!(d("0x1p99999999999999999"), Some(f64::INFINITY));
    assert_eq!(d("0x1p-99999999999999999"), Some(0.0));

    use std::cmp::Ordering::*;
    assert_eq!(cmp_double(f64::NAN, f64::INFINITY), Greater);
    assert_eq!(cmp_double(f64::NAN, f64::NAN), Equal);
    assert_eq!(cmp_double(-0.0, 0.0), Less);
    assert_eq!(cmp_double(1.0, 2.0), Less);
}

#[test]
fn map_backed_lookup_compiles_and_matches() {
    let f = SqlFilter::compile("TAGS IN ('a', 'b') AND price > 10.5").unwrap();
    let m = props(&[("TAGS", "a"), ("price", "12")]);
    assert!(f.matches(&|k| m.get(k).map(String::as_str)));
    let m = props(&[("TAGS", "a"), ("price", "10")]);
    assert!(!f.matches(&|k| m.get(k).map(String::as_str)));
    assert!(!f.matches(&|_| None));
    // Clone shares the compiled tree and can move to other threads.
    let g = f.clone();
    let h = std::thread::spawn(move || {
        g.matches(&|k| if k == "TAGS" { Some("b") } else { Some("11") })
    });
    assert!(h.join().unwrap());
}

// ---- hostile inputs ----

#[test]
fn limits_length_depth_and_in_list() {
    let long = format!("a = '{}'", "x".repeat(MAX_EXPRESSION_BYTES));
    assert!(SqlFilter::compile(&long)
        .unwrap_err()
        .message()
        .contains("longer than"));
    let fits = format!("a = '{}'", "x".repeat(MAX_EXPRESSION_BYTES - 6));
    assert!(SqlFilter::compile(&fits).is_ok());

    // Nesting below the limit compiles and evaluates; past it, an error.
    let nested = |n: usize| format!("{}a = 'x'{}", "(".repeat(n), ")".repeat(n));
    let f = SqlFilter::compile(&nested(MAX_DEPTH)).unwrap();
    assert!(f.matches(&|_| Some("x")));
    for n in [MAX_DEPTH + 1, 30_000] {
        let e = SqlFilter::compile(&nested(n)).unwrap_err();
        assert!(e.message().contains("nested deeper"), "{e}");
    }
    for hostile in [
        format!("{}a", "NOT ".repeat(15_000)),
        format!("{}1 > a", "- ".repeat(30_000)),
        format!("{}a", "+".repeat(60_000)),
        "-".repeat(60_000), // never a comment: no line end
        format!("{}a", "(NOT ".repeat(12_000)),
    ] {
        let e = SqlFilter::compile(&hostile).unwrap_err();
        assert!(e.message().contains("nested deeper"), "{e}");
    }

    // Left-leaning chains: AND/OR chains are flat, so long ones are fine...
    let or_chain = (0..4000)
        .map(|i| format!("a = '{i}'"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let f = SqlFilter::compile(&or_chain).unwrap();
    assert!(f.matches(&|_| Some("3999")));
    assert!(!f.matches(&|_| Some("4000")));
    let and_chain = (0..3000)
        .map(|_| "a IS NOT NULL")
        .collect::<Vec<_>>()
        .join(" AND ");
    assert!(SqlFilter::compile(&and_chain)
        .unwrap()
        .matches(&|_| Some("")));
    // (Unterminated `--` read as minus signs, many times over: linear.)
    let dashes = "--1 = 1 OR ".repeat(5000) + "FALSE";
    assert!(SqlFilter::compile(&dashes).unwrap().matches(&|_| None));
    // ... other chains grow the tree and hit the depth limit.
    let eq_chain = format!("a = 'x'{}", " = TRUE".repeat(2000));
    assert!(SqlFilter::compile(&eq_chain)
        .unwrap_err()
        .message()
        .contains("nested deeper"));
    let is_chain = format!("a{}", " IS NULL".repeat(2000));
    assert!(SqlFilter::compile(&is_chain).is_err());
    let text_chain = format!("a{}", " CONTAINS 'x'".repeat(2000));
    assert!(SqlFilter::compile(&text_chain).is_err());

    // Short items (the length limit allows about 21k of them); duplicates
    // count towards the limit.
    let in_list = |n: usize| {
        let items: Vec<String> = (0..n)
            .map(|i| {
                if i % 100 == 7 {
                    format!("'{}'", i % 26)
                } else {
                    "'x'".into()
                }
            })
            .collect();
        format!("a IN ({})", items.join(","))
    };
    let f = SqlFilter::compile(&in_list(MAX_IN_LIST)).unwrap();
    assert!(f.matches(&|_| Some("x")));
    assert!(f.matches(&|_| Some("25")));
    assert!(!f.matches(&|_| Some("26")));
    let e = SqlFilter::compile(&in_list(MAX_IN_LIST + 1)).unwrap_err();
    assert!(e.message().contains("IN list"), "{e}");
}

#[test]
fn deepest_expression_fits_a_small_stack() {
    // Compile, evaluate, clone and drop the deepest accepted expressions on
    // a 512 KiB stack (executor threads get Rust's default 2 MiB). In this
    // build the parser needs about 1.4 KiB per parenthesis level, so the
    // worst case is near 360 KiB.
    let worst = [
        format!("{}a = 'x'{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH)),
        format!("{}a", "NOT ".repeat(MAX_DEPTH - 1)),
        format!("{}1 = a", "- ".repeat(MAX_DEPTH - 2)),
        format!(
            "{}a = 'x'{}",
            "(NOT ".repeat(MAX_DEPTH / 2 - 1),
            ")".repeat(MAX_DEPTH / 2 - 1)
        ),
        format!("a = 'x'{}", " = TRUE".repeat(MAX_DEPTH - 2)),
    ];
    let h = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            for w in &worst {
                let f = SqlFilter::compile(w).unwrap_or_else(|e| panic!("{w:.40}: {e}"));
                let _ = f.matches(&|_| Some("x"));
                drop(f.clone());
            }
        })
        .unwrap();
    h.join().unwrap();
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PROPERTY_SETS: &[&[(&str, &str)]] = &[
    &[],
    &[("a", "1"), ("b", "x"), ("c", "2.5")],
    &[("a", "NaN"), ("b", "true"), ("c", "-0")],
    &[("a", " 7 "), ("b", ""), ("c", "0x1p3")],
];

fn exercise(expr: &str) {
    if let Ok(f) = SqlFilter::compile(expr) {
        for kv in PROPERTY_SETS {
            let m = props(kv);
            let _ = f.matches(&|k| m.get(k).map(String::as_str));
        }
    }
}

#[test]
fn fuzz_random_bytes_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let alphabet: Vec<char> = " \t\n\r'()=<>+-,.*/$_aAeElL019xX#;\"é\u{0}\u{ffff}"
        .chars()
        .collect();
    for _ in 0..20_000 {
        let len = rng.below(40);
        let s: String = (0..len)
            .map(|_| {
                if rng.below(8) == 0 {
                    char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?')
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        exercise(&s);
    }
}

#[test]
fn fuzz_token_soup_never_panics() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let tokens = [
        "a",
        "b",
        "c",
        "z",
        "=",
        "<>",
        ">",
        ">=",
        "<",
        "<=",
        "(",
        ")",
        ",",
        "+",
        "-",
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "TRUE",
        "FALSE",
        "BETWEEN",
        "IN",
        "CONTAINS",
        "STARTSWITH",
        "ENDSWITH",
        "'x'",
        "'1'",
        "''",
        "1",
        "0",
        "2.5",
        ".5",
        "1e3",
        "3000000000",
        "9L",
        "--\n",
        "/**/",
    ];
    let mut compiled = 0;
    for _ in 0..50_000 {
        let n = 1 + rng.below(14);
        let s: Vec<&str> = (0..n).map(|_| rng.pick(&tokens)).collect();
        let s = s.join(" ");
        if SqlFilter::compile(&s).is_ok() {
            compiled += 1;
        }
        exercise(&s);
    }
    assert!(
        compiled > 500,
        "the soup should produce valid expressions too ({compiled})"
    );
}

#[test]
fn fuzz_generated_expressions_evaluate_consistently() {
    // Well-formed expressions from a small grammar; `x <> y` must always be
    // the NOT of `x = y`, and `NOT NOT e` must agree with `e` on TRUE/FALSE.
    fn gen(rng: &mut Rng, depth: usize) -> String {
        let atoms = [
            "a = 1",
            "b = 'x'",
            "c > 2.0",
            "a IS NULL",
            "b IN ('x','true')",
            "a BETWEEN 0 AND 3",
            "z",
            "TRUE",
            "NULL",
            "c < a",
            "b CONTAINS 'r'",
            "-a < 0",
        ];
        if depth == 0 || rng.below(3) == 0 {
            return rng.pick(&atoms).to_string();
        }
        match rng.below(3) {
            0 => format!("({} AND {})", gen(rng, depth - 1), gen(rng, depth - 1)),
            1 => format!("({} OR {})", gen(rng, depth - 1), gen(rng, depth - 1)),
            _ => format!("NOT ({})", gen(rng, depth - 1)),
        }
    }
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let e = gen(&mut rng, 5);
        for kv in PROPERTY_SETS {
            let once = outcome(&e, kv);
            assert_ne!(once, P, "{e}");
            let twice = outcome(&format!("NOT NOT ({e})"), kv);
            assert_eq!(once, twice, "{e} with {kv:?}");
            if e == "NULL" {
                continue; // `(NULL) = TRUE` does not compile: NULL may not be compared
            }
            let eq = outcome(&format!("({e}) = TRUE"), kv);
            let ne = outcome(&format!("({e}) <> TRUE"), kv);
            let flipped = match eq {
                T => F,
                F => T,
                other => other,
            };
            assert_eq!(ne, flipped, "{e} with {kv:?}");
        }
    }
}
