//! Reads back the s-expression of a condition ([`Pred::to_sexpr`]), which is
//! how a certificate discharged by rewriting states its goal.

use axiom_core::lang::{CmpOp, IoRef, LinExpr, Pred, Term};
use axiom_core::spec::{parse_decimal, Rational};
use num_bigint::BigInt;
use num_traits::Zero;

#[derive(Debug, Clone, PartialEq)]
enum Sx {
    Atom(String),
    List(Vec<Sx>),
}

fn tokens(s: &str) -> Vec<String> {
    s.replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn parse_sx(toks: &[String], at: &mut usize, depth: usize) -> Result<Sx, String> {
    if depth > 256 {
        return Err("nested too deeply".into());
    }
    let t = toks.get(*at).ok_or("unexpected end")?;
    *at += 1;
    match t.as_str() {
        "(" => {
            let mut items = Vec::new();
            loop {
                match toks.get(*at).map(String::as_str) {
                    Some(")") => {
                        *at += 1;
                        return Ok(Sx::List(items));
                    }
                    Some(_) => items.push(parse_sx(toks, at, depth + 1)?),
                    None => return Err("a '(' is not closed".into()),
                }
            }
        }
        ")" => Err("unexpected ')'".into()),
        _ => Ok(Sx::Atom(t.clone())),
    }
}

fn number(s: &str) -> Result<Rational, String> {
    if let Some((p, q)) = s.split_once('/') {
        let p: BigInt = p.parse().map_err(|_| format!("bad number '{s}'"))?;
        let q: BigInt = q.parse().map_err(|_| format!("bad number '{s}'"))?;
        if q.is_zero() {
            return Err(format!("bad number '{s}'"));
        }
        return Ok(Rational::new(p, q));
    }
    parse_decimal(s).ok_or_else(|| format!("bad number '{s}'"))
}

fn io(s: &Sx) -> Result<IoRef, String> {
    match s {
        Sx::Atom(a) if a == "x" => Ok(IoRef::Input),
        Sx::Atom(a) if a == "y" => Ok(IoRef::Output),
        other => Err(format!("expected x or y, found {other:?}")),
    }
}

fn lin(s: &Sx) -> Result<LinExpr, String> {
    match s {
        Sx::Atom(a) => Ok(LinExpr::constant(number(a)?)),
        Sx::List(items) => match items.as_slice() {
            [Sx::Atom(h), v, Sx::Atom(i)] if h == "idx" => Ok(LinExpr::term(Term::Elem(
                io(v)?,
                i.parse().map_err(|_| format!("bad index '{i}'"))?,
            ))),
            [Sx::Atom(h), v] if h == "sum" => Ok(LinExpr::term(Term::Sum(io(v)?))),
            [Sx::Atom(h), Sx::Atom(c), t] if h == "*" => Ok(lin(t)?.scaled(&number(c)?)),
            [Sx::Atom(h), rest @ ..] if h == "+" => {
                let mut acc = LinExpr::default();
                for r in rest {
                    acc.add_scaled(&lin(r)?, &Rational::from_integer(1.into()));
                }
                Ok(acc)
            }
            _ => Err(format!("not a linear expression: {s:?}")),
        },
    }
}

fn cmp(op: &str) -> Option<CmpOp> {
    Some(match op {
        "<=" => CmpOp::Le,
        "<" => CmpOp::Lt,
        ">=" => CmpOp::Ge,
        ">" => CmpOp::Gt,
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        _ => return None,
    })
}

fn pred(s: &Sx) -> Result<Pred, String> {
    let Sx::List(items) = s else {
        return Err(format!("not a condition: {s:?}"));
    };
    let head = match items.first() {
        Some(Sx::Atom(h)) => h.as_str(),
        _ => return Err(format!("not a condition: {s:?}")),
    };
    let rest = &items[1..];
    match (head, rest) {
        ("and", ps) => Ok(Pred::And(ps.iter().map(pred).collect::<Result<_, _>>()?)),
        ("or", ps) => Ok(Pred::Or(ps.iter().map(pred).collect::<Result<_, _>>()?)),
        ("not", [p]) => Ok(Pred::Not(Box::new(pred(p)?))),
        ("finite", [v]) => Ok(Pred::Finite(io(v)?)),
        ("in" | "in_open" | "in_lopen" | "in_ropen", [e, Sx::Atom(lo), Sx::Atom(hi)]) => {
            Ok(Pred::InRange {
                expr: lin(e)?,
                lo: number(lo)?,
                hi: number(hi)?,
                lo_open: matches!(head, "in_open" | "in_lopen"),
                hi_open: matches!(head, "in_open" | "in_ropen"),
            })
        }
        (op, [Sx::List(f), Sx::Atom(k)])
            if matches!(op, "==" | "!=")
                && matches!(f.as_slice(), [Sx::Atom(g), Sx::Atom(y)] if (g == "argmax" || g == "argmin") && y == "y") =>
        {
            let k = k.parse().map_err(|_| format!("bad index '{k}'"))?;
            let eq = op == "==";
            Ok(match &f[0] {
                Sx::Atom(g) if g == "argmax" => Pred::ArgMax { k, eq },
                _ => Pred::ArgMin { k, eq },
            })
        }
        (op, [a, b]) => match cmp(op) {
            Some(op) => Ok(Pred::Cmp(lin(a)?, op, lin(b)?)),
            None => Err(format!("unknown condition '{head}'")),
        },
        _ => Err(format!("unknown condition '{head}'")),
    }
}

/// Reads a condition written by [`Pred::to_sexpr`].
///
/// ```
/// use axiom_lean_export::sexpr::parse_pred;
/// let p = parse_pred("(and (>= (idx y 0) 0) (== (sum y) 1))").unwrap();
/// assert_eq!(p.to_sexpr(), "(and (>= (idx y 0) 0) (== (sum y) 1))");
/// ```
pub fn parse_pred(text: &str) -> Result<Pred, String> {
    let toks = tokens(text);
    let mut at = 0;
    let sx = parse_sx(&toks, &mut at, 0)?;
    if at != toks.len() {
        return Err("text after the condition".into());
    }
    pred(&sx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "(== (sum y) 1)",
            "(in (idx y 0) 0 1)",
            "(in_open (idx y 1) -0.5 1/3)",
            "(== (argmax y) 2)",
            "(!= (argmin y) 0)",
            "(not (< (+ (* 2 (idx y 0)) (idx y 1) -3) (idx x 1)))",
            "(or (finite y) (>= (idx y 3) 0.25))",
        ] {
            assert_eq!(parse_pred(s).unwrap().to_sexpr(), s, "{s}");
        }
        for bad in [
            "",
            "(",
            "(== (sum y))",
            "(foo 1 2)",
            "(== (idx z 0) 1)",
            "(and) x",
        ] {
            assert!(parse_pred(bad).is_err(), "{bad}");
        }
    }
}
