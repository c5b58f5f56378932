//! Obligations as Lean propositions over `x` (the input) and `y` (the
//! output), both `List Q`.

use crate::number;
use axiom_core::lang::{CmpOp, IoRef, LinExpr, Pred, Region, Term};
use axiom_core::spec::{Formula, LinearExpr, Rational, Var};
use num_traits::{One, Zero};

fn io(io: IoRef) -> &'static str {
    match io {
        IoRef::Input => "x",
        IoRef::Output => "y",
    }
}

/// `c * t + ... + k` from (coefficient, term) pairs and a constant.
fn linear(terms: Vec<(Rational, String)>, constant: &Rational) -> String {
    let mut parts: Vec<String> = terms
        .into_iter()
        .map(|(c, t)| {
            if c.is_one() {
                t
            } else {
                format!("{} * {t}", number::rational(&c))
            }
        })
        .collect();
    if !constant.is_zero() || parts.is_empty() {
        parts.push(number::rational(constant));
    }
    parts.join(" + ")
}

/// A linear expression of the `.axiom` language.
pub fn lin_expr(e: &LinExpr) -> String {
    let terms = e
        .terms
        .iter()
        .map(|(t, c)| {
            let t = match t {
                Term::Elem(i, k) => format!("nth {} {k}", io(*i)),
                Term::Sum(i) => format!("sum {}", io(*i)),
            };
            (c.clone(), t)
        })
        .collect();
    linear(terms, &e.constant)
}

fn paren(s: String) -> String {
    format!("({s})")
}

/// `a ≤ b`, `a < b` or value equality.
fn compare(a: String, op: CmpOp, b: String) -> String {
    let (a, b) = (paren(a), paren(b));
    match op {
        CmpOp::Le => format!("{a} ≤ {b}"),
        CmpOp::Lt => format!("{a} < {b}"),
        CmpOp::Ge => format!("{b} ≤ {a}"),
        CmpOp::Gt => format!("{b} < {a}"),
        CmpOp::Eq => format!("Q.eqv {a} {b}"),
        CmpOp::Ne => format!("¬ Q.eqv {a} {b}"),
    }
}

fn conj(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "True".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => parts.into_iter().map(paren).collect::<Vec<_>>().join(" ∧ "),
    }
}

fn disj(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "False".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => parts.into_iter().map(paren).collect::<Vec<_>>().join(" ∨ "),
    }
}

/// `argmax(y) == k` (`max = true`) or `argmin(y) == k`: `y[k]` is the first
/// largest (smallest) element.
fn arg_extreme(k: usize, outputs: usize, max: bool) -> String {
    let yk = format!("nth y {k}");
    let parts = (0..outputs)
        .filter(|&j| j != k)
        .map(|j| {
            let yj = format!("nth y {j}");
            let (small, large) = if max {
                (yj, yk.clone())
            } else {
                (yk.clone(), yj)
            };
            if j < k {
                format!("{small} < {large}")
            } else {
                format!("{small} ≤ {large}")
            }
        })
        .collect();
    conj(parts)
}

/// A condition of the `.axiom` language; `outputs` is the output's length.
/// `finite(...)` is `True`: every exact value is finite (the float32
/// meaning of `finite` is about the run time, see the docs).
pub fn pred(p: &Pred, outputs: usize) -> String {
    match p {
        Pred::Cmp(a, op, b) => compare(lin_expr(a), *op, lin_expr(b)),
        Pred::ArgMax { k, eq } | Pred::ArgMin { k, eq } => {
            let s = arg_extreme(*k, outputs, matches!(p, Pred::ArgMax { .. }));
            if *eq {
                s
            } else {
                format!("¬ ({s})")
            }
        }
        Pred::InRange {
            expr,
            lo,
            hi,
            lo_open,
            hi_open,
        } => {
            let e = paren(lin_expr(expr));
            let op = |open: bool| if open { "<" } else { "≤" };
            format!(
                "({} {} {e}) ∧ ({e} {} {})",
                number::rational(lo),
                op(*lo_open),
                op(*hi_open),
                number::rational(hi)
            )
        }
        Pred::Finite(_) => "True".into(),
        Pred::And(ps) => conj(ps.iter().map(|p| pred(p, outputs)).collect()),
        Pred::Or(ps) => disj(ps.iter().map(|p| pred(p, outputs)).collect()),
        Pred::Not(p) => format!("¬ ({})", pred(p, outputs)),
    }
}

/// The box `lower[i] ≤ x[i] ≤ upper[i]`.
pub fn region(r: &Region) -> String {
    let parts = r
        .lower
        .iter()
        .zip(&r.upper)
        .enumerate()
        .flat_map(|(i, (lo, hi))| {
            [
                format!("{} ≤ nth x {i}", number::rational(lo)),
                format!("nth x {i} ≤ {}", number::rational(hi)),
            ]
        })
        .collect();
    conj(parts)
}

/// A VNN-LIB linear expression over `X_i` and `Y_j`.
fn linear_expr(e: &LinearExpr) -> String {
    let terms = e
        .terms
        .iter()
        .map(|(v, c)| {
            let t = match v {
                Var::X(i) => format!("nth x {i}"),
                Var::Y(j) => format!("nth y {j}"),
            };
            (c.clone(), t)
        })
        .collect();
    linear(terms, &e.constant)
}

/// A VNN-LIB formula (the unsafe set: inputs and outputs together).
pub fn formula(f: &Formula) -> String {
    match f {
        Formula::Atom(c) => {
            let op = if c.strict { "<" } else { "≤" };
            format!("({}) {op} 0", linear_expr(&c.expr))
        }
        Formula::And(fs) => conj(fs.iter().map(formula).collect()),
        Formula::Or(fs) => disj(fs.iter().map(formula).collect()),
    }
}

/// When `p` is `c ≤ y[i]` (written `y[i] >= c` or `c <= y[i]`) with a
/// constant `c <= 0`, or a conjunction of such, the indices and constants:
/// what a ReLU output satisfies for every input.
pub fn relu_nonneg_atoms(p: &Pred) -> Option<Vec<(usize, Rational)>> {
    match p {
        Pred::Cmp(a, op, b) => {
            let (small, large) = match op {
                CmpOp::Ge => (b, a),
                CmpOp::Le => (a, b),
                _ => return None,
            };
            let c = small.as_constant()?;
            match large.as_elem()? {
                (IoRef::Output, i) if !num_traits::Signed::is_positive(c) => {
                    Some(vec![(i, c.clone())])
                }
                _ => None,
            }
        }
        Pred::And(ps) if !ps.is_empty() => {
            let mut all = Vec::new();
            for p in ps {
                all.extend(relu_nonneg_atoms(p)?);
            }
            Some(all)
        }
        _ => None,
    }
}
