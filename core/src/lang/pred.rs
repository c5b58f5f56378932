//! Predicates over a model's input `x` and output `y`: the conditions of
//! `assume`, `ensure` and `prove`, with exact rational constants.
//!
//! A [`Pred`] keeps the shape it was written in (`sum(y) == 1` stays a
//! comparison of [`Term::Sum`] with `1`), so that rewriters can recognise it
//! ([`Pred::to_sexpr`], [`LinExpr::is_sum`], [`LinExpr::as_elem`]). It has
//! two meanings:
//!
//! - [`Pred::eval`]: a check of one concrete `(x, y)` in floating point, for
//!   runtime `ensure`s;
//! - [`Pred::violation_dnf`] / [`Pred::to_formula`]: exact linear constraints
//!   (over `X_i` / `Y_j`, see [`crate::spec`]) for proofs, where the
//!   violation set is the negation of the predicate in disjunctive normal
//!   form (rules in [`Pred::violation_dnf`]).

use crate::spec::{
    format_rational, rational_to_f64, Constraint, Formula, LinearExpr, Rational, Var,
};
use num_traits::{One, Zero};
use std::collections::BTreeMap;

/// The most disjuncts [`Pred::violation_dnf`] builds before giving up.
pub const MAX_VIOLATION_DISJUNCTS: usize = 10_000;

/// The model's input or its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IoRef {
    /// The input `x`.
    Input,
    /// The output `y`.
    Output,
}

impl IoRef {
    /// `"x"` or `"y"`: the canonical names used by [`Pred::to_sexpr`].
    pub fn canonical_name(&self) -> &'static str {
        match self {
            IoRef::Input => "x",
            IoRef::Output => "y",
        }
    }
}

/// A variable-like term of a [`LinExpr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Term {
    /// One element, by flat (row-major) index: `y[3]`.
    Elem(IoRef, usize),
    /// The sum of all elements: `sum(y)`.
    Sum(IoRef),
}

/// A linear expression `Σ c·t + constant` over [`Term`]s with exact
/// coefficients, as written (`sum(y)` is kept as one term).
///
/// Invariant: no coefficient is zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LinExpr {
    /// Coefficient of each term (never zero).
    pub terms: BTreeMap<Term, Rational>,
    /// The constant term.
    pub constant: Rational,
}

impl LinExpr {
    /// The constant expression `c`.
    pub fn constant(c: Rational) -> Self {
        LinExpr {
            terms: BTreeMap::new(),
            constant: c,
        }
    }

    /// The expression `t`.
    pub fn term(t: Term) -> Self {
        let mut terms = BTreeMap::new();
        terms.insert(t, Rational::one());
        LinExpr {
            terms,
            constant: Rational::zero(),
        }
    }

    /// Adds `k * other`, dropping coefficients that become zero.
    pub fn add_scaled(&mut self, other: &LinExpr, k: &Rational) {
        for (t, c) in &other.terms {
            let sum = self.terms.get(t).cloned().unwrap_or_else(Rational::zero) + c * k;
            if sum.is_zero() {
                self.terms.remove(t);
            } else {
                self.terms.insert(*t, sum);
            }
        }
        self.constant += &other.constant * k;
    }

    /// `k * self`.
    pub fn scaled(&self, k: &Rational) -> LinExpr {
        let mut out = LinExpr::default();
        out.add_scaled(self, k);
        out
    }

    /// The value, when the expression has no terms.
    pub fn as_constant(&self) -> Option<&Rational> {
        self.terms.is_empty().then_some(&self.constant)
    }

    /// `Some((io, i))` when the expression is exactly `io[i]`.
    pub fn as_elem(&self) -> Option<(IoRef, usize)> {
        match self.single_term()? {
            Term::Elem(io, i) => Some((io, i)),
            Term::Sum(_) => None,
        }
    }

    /// Whether the expression is exactly `sum(io)`.
    pub fn is_sum(&self, io: IoRef) -> bool {
        self.single_term() == Some(Term::Sum(io))
    }

    fn single_term(&self) -> Option<Term> {
        if self.terms.len() != 1 || !self.constant.is_zero() {
            return None;
        }
        let (t, c) = self.terms.iter().next()?;
        c.is_one().then_some(*t)
    }

    /// Whether some term reads `io`.
    pub fn mentions(&self, io: IoRef) -> bool {
        self.terms.keys().any(|t| match t {
            Term::Elem(r, _) | Term::Sum(r) => *r == io,
        })
    }

    /// The expression over `X_i` / `Y_j` ([`crate::spec::Var`]), `sum`
    /// expanded over `num_inputs` / `num_outputs` elements.
    pub fn to_linear(&self, num_inputs: usize, num_outputs: usize) -> LinearExpr {
        let mut out = LinearExpr::constant(self.constant.clone());
        for (t, c) in &self.terms {
            let vars: Vec<Var> = match t {
                Term::Elem(IoRef::Input, i) => vec![Var::X(*i)],
                Term::Elem(IoRef::Output, j) => vec![Var::Y(*j)],
                Term::Sum(IoRef::Input) => (0..num_inputs).map(Var::X).collect(),
                Term::Sum(IoRef::Output) => (0..num_outputs).map(Var::Y).collect(),
            };
            for v in vars {
                out.add_scaled(&LinearExpr::var(v), c);
            }
        }
        out
    }

    /// The value at `(x, y)` in `f64` (NaN when an index is out of range).
    pub fn eval(&self, x: &[f64], y: &[f64]) -> f64 {
        let mut acc = rational_to_f64(&self.constant);
        for (t, c) in &self.terms {
            let v = match t {
                Term::Elem(io, i) => pick(io, x, y).get(*i).copied().unwrap_or(f64::NAN),
                Term::Sum(io) => pick(io, x, y).iter().sum(),
            };
            acc += rational_to_f64(c) * v;
        }
        acc
    }

    /// The s-expression: `1`, `(idx y 0)`, `(sum y)`,
    /// `(+ (* 2 (idx y 0)) (idx y 1) -3)`; the input is always `x` and the
    /// output `y`, whatever the model calls them.
    pub fn to_sexpr(&self) -> String {
        let mut parts: Vec<String> = self
            .terms
            .iter()
            .map(|(t, c)| {
                let t = match t {
                    Term::Elem(io, i) => format!("(idx {} {i})", io.canonical_name()),
                    Term::Sum(io) => format!("(sum {})", io.canonical_name()),
                };
                if c.is_one() {
                    t
                } else {
                    format!("(* {} {t})", format_rational(c))
                }
            })
            .collect();
        if !self.constant.is_zero() || parts.is_empty() {
            parts.push(format_rational(&self.constant));
        }
        match parts.len() {
            1 => parts.pop().unwrap_or_default(),
            _ => format!("(+ {})", parts.join(" ")),
        }
    }
}

fn pick<'a>(io: &IoRef, x: &'a [f64], y: &'a [f64]) -> &'a [f64] {
    match io {
        IoRef::Input => x,
        IoRef::Output => y,
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CmpOp {
    /// The operator as written: `"<="`, `"=="`, ...
    pub fn symbol(&self) -> &'static str {
        match self {
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// A condition on the input `x` and output `y` of a model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pred {
    /// `lhs op rhs`.
    Cmp(LinExpr, CmpOp, LinExpr),
    /// `argmax(y) == k` (`eq`) or `argmax(y) != k`.
    ArgMax { k: usize, eq: bool },
    /// `argmin(y) == k` (`eq`) or `argmin(y) != k`.
    ArgMin { k: usize, eq: bool },
    /// `expr in [lo, hi]`, each end open (`(`, `)`) or closed.
    InRange {
        expr: LinExpr,
        lo: Rational,
        hi: Rational,
        lo_open: bool,
        hi_open: bool,
    },
    /// `finite(x)` / `finite(y)`: no NaN or infinity (runtime checks only).
    Finite(IoRef),
    /// All of them (`and`); empty is true.
    And(Vec<Pred>),
    /// Some of them (`or`); empty is false.
    Or(Vec<Pred>),
    /// `not`.
    Not(Box<Pred>),
}

impl Pred {
    /// Whether the predicate holds at the concrete point `(x, y)`, computed
    /// in `f64` (runtime checks; proofs use [`Pred::violation_dnf`]).
    ///
    /// `argmax(y) == k` holds when `y[k]` is the first largest element (ties
    /// go to the lowest index; a NaN never wins); `argmin` likewise;
    /// `finite` when every element is finite. Comparisons involving NaN are
    /// false.
    ///
    /// ```
    /// use axiom_core::lang::Pred;
    /// let p = Pred::ArgMax { k: 0, eq: true };
    /// assert!(p.eval(&[], &[2.0, 2.0, 1.0])); // tie: the lowest index wins
    /// assert!(!p.eval(&[], &[1.0, 2.0]));
    /// ```
    pub fn eval(&self, x: &[f64], y: &[f64]) -> bool {
        match self {
            Pred::Cmp(lhs, op, rhs) => {
                let (a, b) = (lhs.eval(x, y), rhs.eval(x, y));
                match op {
                    CmpOp::Le => a <= b,
                    CmpOp::Lt => a < b,
                    CmpOp::Ge => a >= b,
                    CmpOp::Gt => a > b,
                    CmpOp::Eq => a == b,
                    CmpOp::Ne => a != b && !a.is_nan() && !b.is_nan(),
                }
            }
            Pred::ArgMax { k, eq } => (arg_best(y, |a, b| a > b) == Some(*k)) == *eq,
            Pred::ArgMin { k, eq } => (arg_best(y, |a, b| a < b) == Some(*k)) == *eq,
            Pred::InRange {
                expr,
                lo,
                hi,
                lo_open,
                hi_open,
            } => {
                let v = expr.eval(x, y);
                let (lo, hi) = (rational_to_f64(lo), rational_to_f64(hi));
                let above = if *lo_open { v > lo } else { v >= lo };
                let below = if *hi_open { v < hi } else { v <= hi };
                above && below
            }
            Pred::Finite(io) => pick(io, x, y).iter().all(|v| v.is_finite()),
            Pred::And(ps) => ps.iter().all(|p| p.eval(x, y)),
            Pred::Or(ps) => ps.iter().any(|p| p.eval(x, y)),
            Pred::Not(p) => !p.eval(x, y),
        }
    }

    /// The s-expression form, for rewriters and tests: `(== (sum y) 1)`,
    /// `(>= (idx y 2) 0)`, `(in (idx y 0) 0 1)` (closed), `(in_open ...)`
    /// (both ends open), `(in_lopen ...)` / `(in_ropen ...)` (left / right
    /// end open), `(== (argmax y) 2)`, `(!= (argmin y) 0)`, `(finite y)`,
    /// `(and A B)`, `(or A B)`, `(not A)`. See [`LinExpr::to_sexpr`].
    ///
    /// ```
    /// use axiom_core::lang::{CmpOp, IoRef, LinExpr, Pred, Term};
    /// use axiom_core::spec::parse_decimal;
    /// let p = Pred::Cmp(
    ///     LinExpr::term(Term::Sum(IoRef::Output)),
    ///     CmpOp::Eq,
    ///     LinExpr::constant(parse_decimal("1").unwrap()),
    /// );
    /// assert_eq!(p.to_sexpr(), "(== (sum y) 1)");
    /// ```
    pub fn to_sexpr(&self) -> String {
        match self {
            Pred::Cmp(lhs, op, rhs) => {
                format!("({} {} {})", op.symbol(), lhs.to_sexpr(), rhs.to_sexpr())
            }
            Pred::ArgMax { k, eq } => format!("({} (argmax y) {k})", if *eq { "==" } else { "!=" }),
            Pred::ArgMin { k, eq } => format!("({} (argmin y) {k})", if *eq { "==" } else { "!=" }),
            Pred::InRange {
                expr,
                lo,
                hi,
                lo_open,
                hi_open,
            } => {
                let head = match (lo_open, hi_open) {
                    (false, false) => "in",
                    (true, true) => "in_open",
                    (true, false) => "in_lopen",
                    (false, true) => "in_ropen",
                };
                format!(
                    "({head} {} {} {})",
                    expr.to_sexpr(),
                    format_rational(lo),
                    format_rational(hi)
                )
            }
            Pred::Finite(io) => format!("(finite {})", io.canonical_name()),
            Pred::And(ps) => nary("and", ps),
            Pred::Or(ps) => nary("or", ps),
            Pred::Not(p) => format!("(not {})", p.to_sexpr()),
        }
    }

    /// Whether the predicate reads `io` anywhere (`argmax`/`argmin` read the
    /// output).
    pub fn mentions(&self, io: IoRef) -> bool {
        match self {
            Pred::Cmp(a, _, b) => a.mentions(io) || b.mentions(io),
            Pred::ArgMax { .. } | Pred::ArgMin { .. } => io == IoRef::Output,
            Pred::InRange { expr, .. } => expr.mentions(io),
            Pred::Finite(r) => *r == io,
            Pred::And(ps) | Pred::Or(ps) => ps.iter().any(|p| p.mentions(io)),
            Pred::Not(p) => p.mentions(io),
        }
    }

    /// The predicate as an exact [`Formula`] over linear constraints (the
    /// set where it holds); `Err` for `finite`, which has no linear form.
    pub fn to_formula(&self, num_inputs: usize, num_outputs: usize) -> Result<Formula, String> {
        nnf(self, false, num_inputs, num_outputs)
    }

    /// The **violation set** (the negation of the predicate) in disjunctive
    /// normal form: an OR of ANDs of exact linear constraints over `X_i`,
    /// `Y_j`. Constant atoms are evaluated (a false one drops its disjunct,
    /// a true one is dropped); an empty outer list means the predicate can
    /// never be violated, an empty inner list means it always is.
    ///
    /// Negation rules (exact, strictness flips):
    ///
    /// | predicate | violated iff |
    /// |---|---|
    /// | `a <= b` / `a < b` | `a > b` / `a >= b` |
    /// | `a >= b` / `a > b` | `a < b` / `a <= b` |
    /// | `a == b` | `a < b` or `a > b` |
    /// | `a != b` | `a <= b` and `a >= b` |
    /// | `e in [lo, hi]` | `e < lo` or `e > hi` (`<=` / `>=` for open ends) |
    /// | `argmax(y) == k` | `y[j] >= y[k]` for some `j != k` |
    /// | `argmax(y) != k` | `y[k] > y[j]` for every `j != k` |
    /// | `argmin(y) == k` | `y[j] <= y[k]` for some `j != k` |
    /// | `argmin(y) != k` | `y[k] < y[j]` for every `j != k` |
    /// | `A and B` / `A or B` / `not A` | De Morgan / `A` |
    ///
    /// For proofs, `argmax(y) == k` thus means that `y[k]` is *strictly*
    /// the largest: a tie is a violation. Errors: `finite`, or more than
    /// [`MAX_VIOLATION_DISJUNCTS`] disjuncts.
    pub fn violation_dnf(
        &self,
        num_inputs: usize,
        num_outputs: usize,
    ) -> Result<Vec<Vec<Constraint>>, String> {
        let f = nnf(self, true, num_inputs, num_outputs)?;
        dnf(&f)
    }
}

/// A conjunction or disjunction as nested binary terms, `(and A (and B C))`
/// (the rewriter's `and`/`or` are binary); the empty one is `true` (and) or
/// `false` (or).
fn nary(head: &str, ps: &[Pred]) -> String {
    match ps.split_first() {
        None if head == "and" => "true".into(),
        None => "false".into(),
        Some((p, [])) => p.to_sexpr(),
        Some((p, rest)) => format!("({head} {} {})", p.to_sexpr(), nary(head, rest)),
    }
}

/// The index of the best element (`better(a, b)`: a beats b), the lowest on
/// ties; NaNs never win; `None` for an empty slice or all NaN.
fn arg_best(y: &[f64], better: impl Fn(f64, f64) -> bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &v) in y.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        match best {
            Some(b) if !better(v, y[b]) => {}
            _ => best = Some(i),
        }
    }
    best
}

fn atom(lhs: &LinearExpr, rhs: &LinearExpr, strict: bool) -> Formula {
    Formula::Atom(Constraint::le(lhs, rhs, strict))
}

/// The predicate (or, when `negate`, its negation) as a formula in negation
/// normal form over linear atoms.
fn nnf(p: &Pred, negate: bool, n_in: usize, n_out: usize) -> Result<Formula, String> {
    let lin = |e: &LinExpr| e.to_linear(n_in, n_out);
    let y = |j: usize| LinearExpr::var(Var::Y(j));
    Ok(match p {
        Pred::Cmp(a, op, b) => {
            let (a, b) = (lin(a), lin(b));
            // Each operator as (holds, violated).
            let le = |x: &LinearExpr, z: &LinearExpr, strict| atom(x, z, strict);
            match (op, negate) {
                (CmpOp::Le, false) => le(&a, &b, false),
                (CmpOp::Le, true) => le(&b, &a, true),
                (CmpOp::Lt, false) => le(&a, &b, true),
                (CmpOp::Lt, true) => le(&b, &a, false),
                (CmpOp::Ge, false) => le(&b, &a, false),
                (CmpOp::Ge, true) => le(&a, &b, true),
                (CmpOp::Gt, false) => le(&b, &a, true),
                (CmpOp::Gt, true) => le(&a, &b, false),
                (CmpOp::Eq, false) | (CmpOp::Ne, true) => {
                    Formula::And(vec![le(&a, &b, false), le(&b, &a, false)])
                }
                (CmpOp::Eq, true) | (CmpOp::Ne, false) => {
                    Formula::Or(vec![le(&a, &b, true), le(&b, &a, true)])
                }
            }
        }
        Pred::ArgMax { k, eq } | Pred::ArgMin { k, eq } => {
            let is_max = matches!(p, Pred::ArgMax { .. });
            let others = (0..n_out).filter(|j| j != k);
            // "k strictly beats j": y[j] < y[k] for argmax, y[k] < y[j] for argmin.
            let beats = |j: usize| {
                if is_max {
                    atom(&y(j), &y(*k), true)
                } else {
                    atom(&y(*k), &y(j), true)
                }
            };
            // "j ties or beats k": the negation of beats.
            let loses = |j: usize| {
                if is_max {
                    atom(&y(*k), &y(j), false)
                } else {
                    atom(&y(j), &y(*k), false)
                }
            };
            if *eq != negate {
                Formula::And(others.map(beats).collect())
            } else {
                Formula::Or(others.map(loses).collect())
            }
        }
        Pred::InRange {
            expr,
            lo,
            hi,
            lo_open,
            hi_open,
        } => {
            let e = lin(expr);
            let lo = LinearExpr::constant(lo.clone());
            let hi = LinearExpr::constant(hi.clone());
            if negate {
                Formula::Or(vec![atom(&e, &lo, !lo_open), atom(&hi, &e, !hi_open)])
            } else {
                Formula::And(vec![atom(&lo, &e, *lo_open), atom(&e, &hi, *hi_open)])
            }
        }
        Pred::Finite(io) => {
            return Err(format!(
                "`finite({})` is a runtime check and has no linear form; use it in `ensure`",
                io.canonical_name()
            ))
        }
        Pred::And(ps) | Pred::Or(ps) => {
            let parts = ps
                .iter()
                .map(|q| nnf(q, negate, n_in, n_out))
                .collect::<Result<Vec<_>, _>>()?;
            if matches!(p, Pred::And(_)) != negate {
                Formula::And(parts)
            } else {
                Formula::Or(parts)
            }
        }
        Pred::Not(q) => nnf(q, !negate, n_in, n_out)?,
    })
}

fn too_many() -> String {
    format!(
        "the violation set has more than {MAX_VIOLATION_DISJUNCTS} disjuncts in disjunctive normal form; split the obligation into several"
    )
}

/// Disjunctive normal form with constant atoms evaluated, capped at
/// [`MAX_VIOLATION_DISJUNCTS`].
fn dnf(f: &Formula) -> Result<Vec<Vec<Constraint>>, String> {
    Ok(match f {
        Formula::Atom(c) => match c.constant_truth() {
            Some(true) => vec![Vec::new()],
            Some(false) => Vec::new(),
            None => vec![vec![c.clone()]],
        },
        Formula::Or(fs) => {
            let mut out = Vec::new();
            for g in fs {
                let part = dnf(g)?;
                if out.len() + part.len() > MAX_VIOLATION_DISJUNCTS {
                    return Err(too_many());
                }
                out.extend(part);
            }
            out
        }
        Formula::And(fs) => {
            let mut out: Vec<Vec<Constraint>> = vec![Vec::new()];
            for g in fs {
                let part = dnf(g)?;
                if part.is_empty() {
                    return Ok(Vec::new());
                }
                if out.len().saturating_mul(part.len()) > MAX_VIOLATION_DISJUNCTS {
                    return Err(too_many());
                }
                let mut next = Vec::with_capacity(out.len() * part.len());
                for t in &out {
                    for u in &part {
                        let mut term = t.clone();
                        for c in u {
                            if !term.contains(c) {
                                term.push(c.clone());
                            }
                        }
                        next.push(term);
                    }
                }
                out = next;
            }
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_decimal;

    fn q(s: &str) -> Rational {
        parse_decimal(s).unwrap_or_default()
    }
    fn y(j: usize) -> LinExpr {
        LinExpr::term(Term::Elem(IoRef::Output, j))
    }

    #[test]
    fn sexpr_of_linear_expressions() {
        let mut e = y(0).scaled(&q("2"));
        e.add_scaled(&y(1), &q("1"));
        e.add_scaled(&LinExpr::constant(q("-3")), &q("1"));
        assert_eq!(e.to_sexpr(), "(+ (* 2 (idx y 0)) (idx y 1) -3)");
        assert_eq!(LinExpr::default().to_sexpr(), "0");
        assert_eq!(y(4).as_elem(), Some((IoRef::Output, 4)));
        assert!(LinExpr::term(Term::Sum(IoRef::Output)).is_sum(IoRef::Output));
        assert!(!e.is_sum(IoRef::Output));
    }

    #[test]
    fn negation_flips_strictness() {
        let p = Pred::Cmp(y(0), CmpOp::Le, LinExpr::constant(q("1")));
        let d = p.violation_dnf(0, 1).unwrap_or_default();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0][0].to_string(), "Y_0 > 1");
        let p = Pred::Cmp(y(0), CmpOp::Gt, LinExpr::constant(q("1")));
        let d = p.violation_dnf(0, 1).unwrap_or_default();
        assert_eq!(d[0][0].to_string(), "Y_0 <= 1");
    }

    #[test]
    fn argmax_with_one_output_is_never_violated() {
        let p = Pred::ArgMax { k: 0, eq: true };
        assert_eq!(p.violation_dnf(0, 1), Ok(Vec::new()));
        let p = Pred::ArgMax { k: 0, eq: false };
        assert_eq!(p.violation_dnf(0, 1), Ok(vec![Vec::new()]));
    }

    #[test]
    fn dnf_is_capped() {
        let one = Pred::Or(vec![
            Pred::Cmp(y(0), CmpOp::Le, LinExpr::constant(q("1"))),
            Pred::Cmp(y(1), CmpOp::Le, LinExpr::constant(q("1"))),
        ]);
        // not (A or B) ... : each negated `and` of 2-way ors multiplies.
        let p = Pred::Not(Box::new(Pred::And(vec![one; 14])));
        let e = p.violation_dnf(0, 2).unwrap_err();
        assert!(e.contains("10000"), "{e}");
    }
}
