//! The property AST: what a VNN-LIB file says, in exact rational arithmetic.
//!
//! # Semantics
//!
//! A VNN-LIB file describes the **unsafe** set. Its [`Property`] is *violated*
//! (a verifier answers `sat`) iff there is an input `x` in some case's input
//! region — its [`InputBox`] intersected with its `input_constraints` — such
//! that `y = f(x)` satisfies that case's output condition (a disjunction of
//! conjunctions of [`Constraint`]s over the outputs). If no such `x` exists for
//! any case, the property holds (`unsat`). A property with no cases has an
//! empty unsafe set and holds trivially.
//!
//! [`Property::assertion`] keeps the conjunction of all `assert`s as parsed,
//! each comparison normalised to `expr <= 0` or `expr < 0`.
//! [`Property::cases`] is derived from it (see [`Property::new`]): the
//! assertion is expanded into disjunctive normal form; each term's atoms are
//! split into input-only atoms (over `X` variables), output-only atoms (over
//! `Y` variables) and constant atoms (evaluated exactly: a false one drops the
//! term, a true one is dropped); terms with the same input part are merged
//! into one [`SpecCase`] whose output condition is the union of their output
//! parts. A term whose input box is empty (some lower bound above its upper
//! bound) can never be violated and is dropped; [`Property::warnings`] names
//! it, since a file that says so is almost always a mistake.
//!
//! All numbers are exact [`Rational`]s: `0.1` is exactly `1/10`. Use
//! [`InputBox::lower_f64`] and friends to get floats.
//!
//! ```
//! use axiom_core::spec::{parse_decimal, Property, Var};
//!
//! let prop = axiom_core::vnnlib::parse(
//!     "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n\
//!      (assert (>= X_0 -1))\n(assert (<= X_0 0.1))\n(assert (>= Y_0 100))",
//! )
//! .unwrap();
//! assert_eq!(prop.cases.len(), 1);
//! let case = &prop.cases[0];
//! assert_eq!(case.input.upper[0], parse_decimal("0.1").unwrap()); // exactly 1/10
//! assert_eq!(case.output[0][0].to_string(), "Y_0 >= 100");
//! assert_eq!(Var::X(3).to_string(), "X_3");
//! ```

use crate::{Error, Result};
use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// An exact rational number.
pub type Rational = num_rational::BigRational;

/// The most terms the disjunctive normal form of an assertion may have.
pub const MAX_DNF_TERMS: usize = 100_000;

/// The largest decimal exponent (in absolute value) [`parse_decimal`] accepts.
pub const MAX_DECIMAL_EXPONENT: i64 = 10_000;

/// A variable: a network input `X_i` or output `Y_j`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    /// Input `X_i`.
    X(usize),
    /// Output `Y_j`.
    Y(usize),
}

impl Var {
    /// Whether this is an input variable.
    pub fn is_input(&self) -> bool {
        matches!(self, Var::X(_))
    }

    /// Whether this is an output variable.
    pub fn is_output(&self) -> bool {
        matches!(self, Var::Y(_))
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::X(i) => write!(f, "X_{i}"),
            Var::Y(j) => write!(f, "Y_{j}"),
        }
    }
}

/// A linear expression `sum(c_v * v) + constant` with exact coefficients.
///
/// Invariant: no coefficient in `terms` is zero (the arithmetic helpers keep
/// it; code that builds one by hand should too).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LinearExpr {
    /// Coefficient of each variable (never zero).
    pub terms: BTreeMap<Var, Rational>,
    /// The constant term.
    pub constant: Rational,
}

impl LinearExpr {
    /// The expression `0`.
    pub fn zero() -> Self {
        Self::default()
    }

    /// The constant expression `c`.
    pub fn constant(c: Rational) -> Self {
        LinearExpr {
            terms: BTreeMap::new(),
            constant: c,
        }
    }

    /// The expression `v`.
    pub fn var(v: Var) -> Self {
        let mut terms = BTreeMap::new();
        terms.insert(v, Rational::one());
        LinearExpr {
            terms,
            constant: Rational::zero(),
        }
    }

    /// Adds `k * other` to `self`, dropping coefficients that become zero.
    pub fn add_scaled(&mut self, other: &LinearExpr, k: &Rational) {
        if k.is_zero() {
            return;
        }
        for (v, c) in &other.terms {
            let sum = self.terms.get(v).cloned().unwrap_or_else(Rational::zero) + c * k;
            if sum.is_zero() {
                self.terms.remove(v);
            } else {
                self.terms.insert(*v, sum);
            }
        }
        self.constant += &other.constant * k;
    }

    /// `k * self`.
    pub fn scaled(&self, k: &Rational) -> LinearExpr {
        let mut out = LinearExpr::zero();
        out.add_scaled(self, k);
        out
    }

    /// `self - other`.
    pub fn minus(&self, other: &LinearExpr) -> LinearExpr {
        let mut out = self.clone();
        out.add_scaled(other, &-Rational::one());
        out
    }

    /// Whether the expression has no variables.
    pub fn is_constant(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether some input variable `X_i` occurs.
    pub fn has_inputs(&self) -> bool {
        self.terms.keys().any(Var::is_input)
    }

    /// Whether some output variable `Y_j` occurs.
    pub fn has_outputs(&self) -> bool {
        self.terms.keys().any(Var::is_output)
    }
}

impl fmt::Display for LinearExpr {
    /// Prints e.g. `2*X_0 - Y_1 + 0.5`, or `0` for the zero expression.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (v, c) in &self.terms {
            let negative = c.is_negative();
            let abs = c.abs();
            match (first, negative) {
                (true, true) => write!(f, "-")?,
                (true, false) => {}
                (false, true) => write!(f, " - ")?,
                (false, false) => write!(f, " + ")?,
            }
            if !abs.is_one() {
                if abs.is_integer() || has_finite_decimal(&abs) {
                    write!(f, "{}*", format_rational(&abs))?;
                } else {
                    write!(f, "({})*", format_rational(&abs))?;
                }
            }
            write!(f, "{v}")?;
            first = false;
        }
        if first {
            write!(f, "{}", format_rational(&self.constant))?;
        } else if self.constant.is_positive() {
            write!(f, " + {}", format_rational(&self.constant))?;
        } else if self.constant.is_negative() {
            write!(f, " - {}", format_rational(&-&self.constant))?;
        }
        Ok(())
    }
}

/// A linear constraint `expr <= 0`, or `expr < 0` when `strict`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    /// The left-hand side, compared against zero.
    pub expr: LinearExpr,
    /// `<` rather than `<=`.
    pub strict: bool,
}

impl Constraint {
    /// `lhs <= rhs` (or `lhs < rhs` when `strict`), normalised to `lhs - rhs <= 0`.
    pub fn le(lhs: &LinearExpr, rhs: &LinearExpr, strict: bool) -> Self {
        Constraint {
            expr: lhs.minus(rhs),
            strict,
        }
    }

    /// The negation: `not (e <= 0)` is `-e < 0`, `not (e < 0)` is `-e <= 0`.
    pub fn negated(&self) -> Self {
        Constraint {
            expr: self.expr.scaled(&-Rational::one()),
            strict: !self.strict,
        }
    }

    /// For a constraint without variables, whether it holds; `None` otherwise.
    pub fn constant_truth(&self) -> Option<bool> {
        if !self.expr.is_constant() {
            return None;
        }
        let c = &self.expr.constant;
        Some(if self.strict {
            c.is_negative()
        } else {
            !c.is_positive()
        })
    }

    /// Whether the constraint mentions both inputs and outputs.
    pub fn mixes_inputs_and_outputs(&self) -> bool {
        self.expr.has_inputs() && self.expr.has_outputs()
    }
}

impl fmt::Display for Constraint {
    /// Prints the constraint with positive coefficients on both sides:
    /// `X_0 >= 0.6` (one variable), `Y_1 <= Y_0`, `X_0 + X_1 < 1`, `0 <= 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (le, ge) = if self.strict {
            ("<", ">")
        } else {
            ("<=", ">=")
        };
        let k = &self.expr.constant;
        if self.expr.terms.len() == 1 {
            if let Some((v, c)) = self.expr.terms.iter().next() {
                // c*v + k <= 0  <=>  v <= -k/c (c > 0)  or  v >= -k/c (c < 0).
                let bound = format_rational(&(-k / c));
                let op = if c.is_positive() { le } else { ge };
                return write!(f, "{v} {op} {bound}");
            }
        }
        let mut pos = LinearExpr::zero();
        let mut neg = LinearExpr::zero();
        for (v, c) in &self.expr.terms {
            if c.is_positive() {
                pos.terms.insert(*v, c.clone());
            } else {
                neg.terms.insert(*v, -c);
            }
        }
        if !pos.terms.is_empty() {
            // pos - neg + k <= 0  <=>  pos <= neg - k
            neg.constant = -k;
            write!(f, "{pos} {le} {neg}")
        } else if !neg.terms.is_empty() {
            // -neg + k <= 0  <=>  neg >= k
            write!(f, "{neg} {ge} {}", format_rational(k))
        } else {
            write!(f, "{} {le} 0", format_rational(k))
        }
    }
}

/// A formula over linear constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Formula {
    /// A single constraint.
    Atom(Constraint),
    /// Conjunction; `And(vec![])` is true.
    And(Vec<Formula>),
    /// Disjunction; `Or(vec![])` is false.
    Or(Vec<Formula>),
}

impl Formula {
    /// The negation, pushed down to the atoms (De Morgan).
    pub fn negated(&self) -> Formula {
        match self {
            Formula::Atom(c) => Formula::Atom(c.negated()),
            Formula::And(fs) => Formula::Or(fs.iter().map(Formula::negated).collect()),
            Formula::Or(fs) => Formula::And(fs.iter().map(Formula::negated).collect()),
        }
    }

    /// Calls `visit` on every atom, left to right.
    pub fn for_each_atom<'a>(&'a self, visit: &mut impl FnMut(&'a Constraint)) {
        match self {
            Formula::Atom(c) => visit(c),
            Formula::And(fs) | Formula::Or(fs) => {
                for f in fs {
                    f.for_each_atom(visit);
                }
            }
        }
    }
}

impl fmt::Display for Formula {
    /// Infix: `(X_0 >= 0 and (Y_0 <= 1 or Y_1 <= 1))`; `true` / `false` for
    /// the empty conjunction / disjunction.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (items, sep, empty) = match self {
            Formula::Atom(c) => return write!(f, "{c}"),
            Formula::And(items) => (items, " and ", "true"),
            Formula::Or(items) => (items, " or ", "false"),
        };
        match items.as_slice() {
            [] => write!(f, "{empty}"),
            [only] => write!(f, "{only}"),
            _ => {
                write!(f, "(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, "{sep}")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, ")")
            }
        }
    }
}

/// An axis-aligned box of inputs: `lower[i] <= X_i <= upper[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InputBox {
    /// Lower bound of each input.
    pub lower: Vec<Rational>,
    /// Upper bound of each input.
    pub upper: Vec<Rational>,
}

impl InputBox {
    /// The number of inputs.
    pub fn dim(&self) -> usize {
        self.lower.len()
    }

    /// Lower bounds, each rounded to the nearest `f64`.
    pub fn lower_f64(&self) -> Vec<f64> {
        self.lower.iter().map(rational_to_f64).collect()
    }

    /// Upper bounds, each rounded to the nearest `f64`.
    pub fn upper_f64(&self) -> Vec<f64> {
        self.upper.iter().map(rational_to_f64).collect()
    }

    /// The smallest box of `f64`s that contains this one: lower bounds
    /// rounded down, upper bounds rounded up. Use it where soundness needs the
    /// float box to cover the exact one.
    pub fn outer_f64(&self) -> (Vec<f64>, Vec<f64>) {
        (
            self.lower.iter().map(rational_to_f64_down).collect(),
            self.upper.iter().map(rational_to_f64_up).collect(),
        )
    }

    /// Whether some coordinate has `lower > upper` (the box has no point).
    pub fn is_empty(&self) -> bool {
        self.lower.iter().zip(&self.upper).any(|(l, u)| l > u)
    }

    /// Whether the point (exact rationals, one per input) lies in the box.
    pub fn contains(&self, x: &[Rational]) -> bool {
        x.len() == self.dim()
            && x.iter()
                .zip(self.lower.iter().zip(&self.upper))
                .all(|(v, (l, u))| l <= v && v <= u)
    }
}

/// One disjunct of the unsafe set: an input region and an output condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecCase {
    /// Bounds from the single-variable constraints on inputs.
    ///
    /// This is the *closure* of what the file says: a strict bound `X_i < c`
    /// becomes `X_i <= c` here and nothing else records the strictness. That
    /// only enlarges the region searched for a counterexample, so proofs of
    /// safety stay sound; a counterexample found exactly on such a boundary
    /// should be re-checked against [`Property::assertion`].
    pub input: InputBox,
    /// Constraints over two or more inputs (empty for ACAS Xu), sorted and
    /// without duplicates.
    pub input_constraints: Vec<Constraint>,
    /// Output condition in disjunctive normal form: an OR of ANDs over `Y`.
    /// An inner empty `Vec` means "true"; an empty outer `Vec` means "false".
    pub output: Vec<Vec<Constraint>>,
}

/// A parsed property: declarations, the assertion and its cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Number of inputs `X_0 .. X_{n-1}`.
    pub num_inputs: usize,
    /// Number of outputs `Y_0 .. Y_{m-1}`.
    pub num_outputs: usize,
    /// The conjunction (`And`) of all assertions, as parsed.
    pub assertion: Formula,
    /// The unsafe set as a list of cases (see the module docs); empty when the
    /// unsafe set is empty.
    pub cases: Vec<SpecCase>,
}

impl Property {
    /// Builds a property from its assertion, deriving [`Property::cases`].
    ///
    /// Errors: a variable out of range, or a constraint mixing inputs and
    /// outputs ([`ErrorKind::Invalid`](crate::ErrorKind) /
    /// [`ErrorKind::Unsupported`](crate::ErrorKind)); a DNF with more than
    /// [`MAX_DNF_TERMS`] terms (Unsupported); an input without a finite lower
    /// or upper bound in some non-empty case (Invalid).
    pub fn new(num_inputs: usize, num_outputs: usize, assertion: Formula) -> Result<Property> {
        let mut bad: Option<Error> = None;
        assertion.for_each_atom(&mut |c| {
            if bad.is_some() {
                return;
            }
            for v in c.expr.terms.keys() {
                let in_range = match v {
                    Var::X(i) => *i < num_inputs,
                    Var::Y(j) => *j < num_outputs,
                };
                if !in_range {
                    bad = Some(Error::invalid(format!(
                        "variable {v} is not declared (there are {num_inputs} inputs and {num_outputs} outputs)"
                    )));
                    return;
                }
            }
            if c.mixes_inputs_and_outputs() {
                bad = Some(mixed_atom_error(c));
            }
        });
        if let Some(e) = bad {
            return Err(e);
        }
        let cases = derive_cases(num_inputs, &assertion)?;
        Ok(Property {
            num_inputs,
            num_outputs,
            assertion,
            cases,
        })
    }

    /// Problems that do not make the property wrong but make (part of) it
    /// vacuous, one sentence each, for a person to read before trusting an
    /// answer.
    ///
    /// Today: a case whose input box is empty, because some input's lower
    /// bound is above its upper bound. Such a case can never be violated,
    /// so its answer is `unsat` whatever the network does, and it is left
    /// out of [`Property::cases`]. A case is an input region as the file
    /// states it; when there are several, the warning numbers it among all
    /// of them, empty ones included, as [`Property::summary`] does.
    ///
    /// ```
    /// let p = axiom_core::vnnlib::parse(
    ///     "(declare-const X_0 Real)(declare-const Y_0 Real)
    ///      (assert (>= X_0 0.5)) (assert (<= X_0 0.2)) (assert (>= Y_0 1))",
    /// )
    /// .unwrap();
    /// assert!(p.cases.is_empty()); // parsed: nothing can violate it
    /// assert_eq!(
    ///     p.warnings(),
    ///     ["X_0: lower bound 0.5 is above upper bound 0.2: the input region is empty, \
    ///       so the property can never be violated; the answer is vacuously unsat"]
    /// );
    /// ```
    pub fn warnings(&self) -> Vec<String> {
        let regions = input_regions(self.num_inputs, &self.assertion).unwrap_or_default();
        region_warnings(&regions)
    }

    /// A human-readable, multi-line summary (for `axiom info p.vnnlib`),
    /// with the [`warnings`](Property::warnings) first.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "{} input{} ({}), {} output{} ({})\n",
            self.num_inputs,
            plural(self.num_inputs),
            var_range('X', self.num_inputs),
            self.num_outputs,
            plural(self.num_outputs),
            var_range('Y', self.num_outputs),
        ));
        let regions = input_regions(self.num_inputs, &self.assertion).unwrap_or_default();
        for w in region_warnings(&regions) {
            s.push_str(&format!("warning: {w}\n"));
        }
        let empty = regions
            .iter()
            .filter(|r| r.empty_inputs().next().is_some())
            .count();
        // The cases are the non-empty regions, in order; number every region.
        let numbered = empty > 0 && regions.len() - empty == self.cases.len();
        if self.cases.is_empty() {
            if numbered {
                s.push_str("0 cases with a non-empty input region: the unsafe set is empty, so the property holds (vacuously)\n");
            } else {
                s.push_str("0 cases: the unsafe set is empty, so the property holds\n");
            }
            return s;
        }
        let total = if numbered {
            regions.len()
        } else {
            self.cases.len()
        };
        let note = if numbered {
            format!(" ({empty} with an empty input region, never violated)")
        } else {
            String::new()
        };
        s.push_str(&format!(
            "{total} case{}{note}; the property is violated if, in some case, an input in the region gives outputs meeting the condition\n",
            plural(total)
        ));
        let mut cases = self.cases.iter();
        for k in 1..=total {
            if numbered && regions[k - 1].empty_inputs().next().is_some() {
                s.push_str(&format!(
                    "case {k} of {total}: its input region is empty (see the warning)\n"
                ));
                continue;
            }
            let Some(case) = cases.next() else { break };
            s.push_str(&format!("case {k} of {total}:\n"));
            for (i, (lo, hi)) in case.input.lower.iter().zip(&case.input.upper).enumerate() {
                s.push_str(&format!(
                    "  X_{i} in [{}, {}]\n",
                    format_rational(lo),
                    format_rational(hi)
                ));
            }
            for c in &case.input_constraints {
                s.push_str(&format!("  and {c}\n"));
            }
            s.push_str(&format!("  unsafe if: {}\n", format_dnf(&case.output)));
        }
        s
    }
}

/// [`Property::warnings`] for the regions [`input_regions`] found.
fn region_warnings(regions: &[TermParts]) -> Vec<String> {
    let n = regions.len();
    regions
        .iter()
        .enumerate()
        .filter_map(|(k, r)| empty_region_warning(r, (n > 1).then_some((k + 1, n))))
        .collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn var_range(name: char, n: usize) -> String {
    match n {
        0 => "none".to_string(),
        1 => format!("{name}_0"),
        _ => format!("{name}_0 .. {name}_{}", n - 1),
    }
}

/// Prints an output DNF as `(a and b) or (c)`; `true` / `false` when trivial.
pub fn format_dnf(dnf: &[Vec<Constraint>]) -> String {
    if dnf.is_empty() {
        return "false".to_string();
    }
    if dnf.iter().any(Vec::is_empty) {
        return "true".to_string();
    }
    dnf.iter()
        .map(|conj| {
            let inner: Vec<String> = conj.iter().map(ToString::to_string).collect();
            format!("({})", inner.join(" and "))
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

fn mixed_atom_error(c: &Constraint) -> Error {
    Error::unsupported(format!("constraint '{c}' mixes inputs (X) and outputs (Y)"))
        .with_hint("Axiom supports constraints over inputs only or over outputs only")
}

/// Total order on constraints, used to canonicalise input constraints.
fn cmp_constraint(a: &Constraint, b: &Constraint) -> Ordering {
    a.expr
        .terms
        .cmp(&b.expr.terms)
        .then_with(|| a.expr.constant.cmp(&b.expr.constant))
        .then_with(|| a.strict.cmp(&b.strict))
}

/// A DNF term: a conjunction of (non-constant) atoms.
type Term<'a> = Vec<&'a Constraint>;

fn too_many_terms() -> Error {
    Error::unsupported(format!(
        "the assertion has more than {MAX_DNF_TERMS} terms in disjunctive normal form"
    ))
    .with_hint("split the property into several files, each with fewer disjunctions")
}

/// Expands `f` into DNF; constant atoms are evaluated on the way.
fn dnf(f: &Formula) -> Result<Vec<Term<'_>>> {
    match f {
        Formula::Atom(c) => Ok(match c.constant_truth() {
            Some(true) => vec![Vec::new()],
            Some(false) => Vec::new(),
            None => vec![vec![c]],
        }),
        Formula::Or(fs) => {
            let mut out = Vec::new();
            for g in fs {
                let part = dnf(g)?;
                if out.len() + part.len() > MAX_DNF_TERMS {
                    return Err(too_many_terms());
                }
                out.extend(part);
            }
            Ok(out)
        }
        Formula::And(fs) => {
            let mut parts = Vec::with_capacity(fs.len());
            for g in fs {
                let part = dnf(g)?;
                if part.is_empty() {
                    return Ok(Vec::new());
                }
                parts.push(part);
            }
            let mut out: Vec<Term<'_>> = vec![Vec::new()];
            for part in parts {
                if part.len() == 1 {
                    for t in &mut out {
                        t.extend_from_slice(&part[0]);
                    }
                    continue;
                }
                if out.len().saturating_mul(part.len()) > MAX_DNF_TERMS {
                    return Err(too_many_terms());
                }
                let mut next = Vec::with_capacity(out.len() * part.len());
                for t in &out {
                    for u in &part {
                        let mut term = t.clone();
                        term.extend_from_slice(u);
                        next.push(term);
                    }
                }
                out = next;
            }
            Ok(out)
        }
    }
}

/// One DNF term taken apart: the tightest bound it states on each input
/// (`None`: none), its constraints over two or more inputs, and its output
/// atoms.
struct TermParts {
    lower: Vec<Option<Rational>>,
    upper: Vec<Option<Rational>>,
    input_constraints: Vec<Constraint>,
    output: Vec<Constraint>,
}

impl TermParts {
    fn new(num_inputs: usize, term: &[&Constraint]) -> Result<TermParts> {
        let mut lower: Vec<Option<Rational>> = vec![None; num_inputs];
        let mut upper: Vec<Option<Rational>> = vec![None; num_inputs];
        let mut input_constraints: Vec<Constraint> = Vec::new();
        let mut output: Vec<Constraint> = Vec::new();
        for &atom in term {
            if atom.mixes_inputs_and_outputs() {
                return Err(mixed_atom_error(atom));
            }
            if atom.expr.has_inputs() {
                let single = match atom.expr.terms.iter().next() {
                    Some((Var::X(i), c)) if atom.expr.terms.len() == 1 => Some((*i, c)),
                    _ => None,
                };
                match single {
                    Some((i, c)) if i < num_inputs => {
                        // c*X_i + k <= 0 (or < 0; relaxed to the closure).
                        let bound = -&atom.expr.constant / c;
                        let slot = if c.is_positive() {
                            &mut upper[i]
                        } else {
                            &mut lower[i]
                        };
                        let tighter = match slot {
                            None => true,
                            Some(old) if c.is_positive() => bound < *old,
                            Some(old) => bound > *old,
                        };
                        if tighter {
                            *slot = Some(bound);
                        }
                    }
                    Some((i, _)) => {
                        return Err(Error::invalid(format!(
                            "variable X_{i} is not declared (there are {num_inputs} inputs)"
                        )))
                    }
                    None => {
                        if !input_constraints.contains(atom) {
                            input_constraints.push(atom.clone());
                        }
                    }
                }
            } else if !output.contains(atom) {
                output.push(atom.clone());
            }
        }
        input_constraints.sort_by(cmp_constraint);
        input_constraints.dedup();
        Ok(TermParts {
            lower,
            upper,
            input_constraints,
            output,
        })
    }

    /// The inputs whose lower bound is above their upper bound: the term's
    /// input box has no point.
    fn empty_inputs(&self) -> impl Iterator<Item = (usize, &Rational, &Rational)> + '_ {
        self.lower
            .iter()
            .zip(&self.upper)
            .enumerate()
            .filter_map(|(i, b)| match b {
                (Some(l), Some(u)) if l > u => Some((i, l, u)),
                _ => None,
            })
    }
}

/// The input regions the assertion states, each once, in the order they
/// first appear: the input parts of its DNF terms, empty ones included.
/// The non-empty ones are the [`Property::cases`], in the same order.
fn input_regions(num_inputs: usize, assertion: &Formula) -> Result<Vec<TermParts>> {
    let mut regions: Vec<TermParts> = Vec::new();
    type Key = (
        Vec<Option<Rational>>,
        Vec<Option<Rational>>,
        Vec<Constraint>,
    );
    let mut seen: HashSet<Key> = HashSet::new();
    for term in dnf(assertion)? {
        let mut parts = TermParts::new(num_inputs, &term)?;
        parts.output.clear();
        let key = (
            parts.lower.clone(),
            parts.upper.clone(),
            parts.input_constraints.clone(),
        );
        if seen.insert(key) {
            regions.push(parts);
        }
    }
    Ok(regions)
}

/// The warning about an input region with no point (see
/// [`Property::warnings`]); `None` when the region is not empty. `place` is
/// the region's number and the count, when there are several.
fn empty_region_warning(region: &TermParts, place: Option<(usize, usize)>) -> Option<String> {
    let bounds: Vec<String> = region
        .empty_inputs()
        .map(|(i, l, u)| {
            format!(
                "X_{i}: lower bound {} is above upper bound {}",
                format_rational(l),
                format_rational(u)
            )
        })
        .collect();
    if bounds.is_empty() {
        return None;
    }
    let bounds = bounds.join("; ");
    Some(match place {
        Some((k, n)) => format!(
            "{bounds} (case {k} of {n}): this case's input region is empty, so it can never be violated; the answer for it is vacuously unsat"
        ),
        None => format!(
            "{bounds}: the input region is empty, so the property can never be violated; the answer is vacuously unsat"
        ),
    })
}

/// Derives the cases of a property from its assertion (see the module docs).
fn derive_cases(num_inputs: usize, assertion: &Formula) -> Result<Vec<SpecCase>> {
    let terms = dnf(assertion)?;
    let mut cases: Vec<SpecCase> = Vec::new();
    let mut index: HashMap<(InputBox, Vec<Constraint>), usize> = HashMap::new();
    let mut seen_outputs: Vec<HashSet<Vec<Constraint>>> = Vec::new();
    for term in terms {
        let parts = TermParts::new(num_inputs, &term)?;
        // An empty box (some lower > upper) drops the term, whatever else.
        if parts.empty_inputs().next().is_some() {
            continue;
        }
        let TermParts {
            lower,
            upper,
            input_constraints,
            output,
        } = parts;
        let mut lo = Vec::with_capacity(num_inputs);
        let mut hi = Vec::with_capacity(num_inputs);
        for (i, (l, u)) in lower.into_iter().zip(upper).enumerate() {
            match (l, u) {
                (Some(l), Some(u)) => {
                    lo.push(l);
                    hi.push(u);
                }
                (l, _) => {
                    let (which, op) = if l.is_none() {
                        ("lower", ">=")
                    } else {
                        ("upper", "<=")
                    };
                    return Err(Error::invalid(format!("input X_{i} has no {which} bound"))
                        .with_hint(format!(
                            "every input needs finite bounds: add (assert ({op} X_{i} ...))"
                        )));
                }
            }
        }
        let key = (
            InputBox {
                lower: lo,
                upper: hi,
            },
            input_constraints,
        );
        let k = match index.get(&key) {
            Some(&k) => k,
            None => {
                let k = cases.len();
                cases.push(SpecCase {
                    input: key.0.clone(),
                    input_constraints: key.1.clone(),
                    output: Vec::new(),
                });
                seen_outputs.push(HashSet::new());
                index.insert(key, k);
                k
            }
        };
        let case = &mut cases[k];
        if case.output.len() == 1 && case.output[0].is_empty() {
            continue; // already "true"
        }
        if output.is_empty() {
            case.output = vec![Vec::new()];
            continue;
        }
        if seen_outputs[k].insert(output.clone()) {
            case.output.push(output);
        }
    }
    Ok(cases)
}

/// Parses a decimal number exactly: `7`, `-0.5`, `.5`, `3.991125645861615`,
/// `1e-3`, `-2.5E+4`. No float is involved.
///
/// Returns `None` for anything else (including exponents beyond
/// ±[`MAX_DECIMAL_EXPONENT`]).
///
/// ```
/// use axiom_core::spec::{parse_decimal, Rational};
/// use num_bigint::BigInt;
/// assert_eq!(parse_decimal("0.1"), Some(Rational::new(BigInt::from(1), BigInt::from(10))));
/// assert_eq!(parse_decimal("-2.5E+4"), Some(Rational::from_integer(BigInt::from(-25000))));
/// assert_eq!(parse_decimal("1.2.3"), None);
/// ```
pub fn parse_decimal(s: &str) -> Option<Rational> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = &s[int_start..i];
    let mut frac_digits = "";
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = &s[frac_start..i];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exponent: i64 = 0;
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        let exp_negative = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(b[i] - b'0'));
            i += 1;
        }
        if i == exp_start || exponent > MAX_DECIMAL_EXPONENT {
            return None;
        }
        if exp_negative {
            exponent = -exponent;
        }
    }
    if i != b.len() {
        return None;
    }
    let digits = format!("{int_digits}{frac_digits}");
    let mut mantissa = BigInt::parse_bytes(digits.as_bytes(), 10)?;
    if negative {
        mantissa = -mantissa;
    }
    let frac_len = i64::try_from(frac_digits.len()).ok()?;
    let exp10 = exponent.checked_sub(frac_len)?;
    let pow = |e: i64| -> Option<BigInt> {
        let e = u32::try_from(e.unsigned_abs()).ok()?;
        Some(num_traits::pow(BigInt::from(10), e as usize))
    };
    Some(if exp10 >= 0 {
        Rational::from_integer(mantissa * pow(exp10)?)
    } else {
        Rational::new(mantissa, pow(exp10)?)
    })
}

/// The `f64` nearest to `r` (ties to even; `±inf` beyond the range).
pub fn rational_to_f64(r: &Rational) -> f64 {
    r.to_f64().unwrap_or(f64::NAN)
}

/// The largest `f64` that is `<= r` (`-inf` below the range).
pub fn rational_to_f64_down(r: &Rational) -> f64 {
    let f = rational_to_f64(r);
    if f == f64::INFINITY {
        return f64::MAX;
    }
    match Rational::from_float(f) {
        Some(exact) if exact > *r => next_down(f),
        _ => f,
    }
}

/// The smallest `f64` that is `>= r` (`+inf` above the range).
pub fn rational_to_f64_up(r: &Rational) -> f64 {
    -rational_to_f64_down(&-r)
}

/// The next `f64` below `x` (for finite `x`).
fn next_down(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return x;
    }
    if x == 0.0 {
        return -f64::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f64::from_bits(bits - 1)
    } else {
        f64::from_bits(bits + 1)
    }
}

/// Whether `r` has a finite decimal expansion (its reduced denominator has
/// no prime factors other than 2 and 5).
fn has_finite_decimal(r: &Rational) -> bool {
    decimal_scale(r.denom()).is_some()
}

/// For a denominator `2^a * 5^b`, returns `max(a, b)`; `None` otherwise.
fn decimal_scale(denom: &BigInt) -> Option<u64> {
    let mut d = denom.abs();
    if d.is_zero() {
        return None;
    }
    let twos = d.trailing_zeros().unwrap_or(0);
    d >>= twos;
    let five = BigInt::from(5);
    let mut fives = 0u64;
    while (&d % &five).is_zero() {
        d /= &five;
        fives += 1;
    }
    d.is_one().then_some(twos.max(fives))
}

/// Prints `r` exactly: as a decimal (`-0.5`, `3.991125645861615`, `7`) when it
/// has a finite decimal expansion, else as a fraction `p/q`.
///
/// ```
/// use axiom_core::spec::{format_rational, parse_decimal, Rational};
/// use num_bigint::BigInt;
/// assert_eq!(format_rational(&parse_decimal("-0.0500").unwrap()), "-0.05");
/// assert_eq!(format_rational(&Rational::new(BigInt::from(1), BigInt::from(3))), "1/3");
/// ```
pub fn format_rational(r: &Rational) -> String {
    if r.is_integer() {
        return r.numer().to_string();
    }
    let Some(scale) = decimal_scale(r.denom()) else {
        return format!("{}/{}", r.numer(), r.denom());
    };
    let Ok(scale_u32) = u32::try_from(scale) else {
        return format!("{}/{}", r.numer(), r.denom());
    };
    let ten_pow = num_traits::pow(BigInt::from(10), scale_u32 as usize);
    let scaled = r.numer() * (ten_pow / r.denom());
    let digits = scaled.abs().to_string();
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits)
    } else {
        digits
    };
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let sign = if r.is_negative() { "-" } else { "" };
    format!("{sign}{int_part}.{frac_part}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Rational {
        parse_decimal(s).unwrap()
    }

    fn frac(n: i64, d: i64) -> Rational {
        Rational::new(BigInt::from(n), BigInt::from(d))
    }

    #[test]
    fn parse_decimal_is_exact() {
        assert_eq!(q("0.1"), frac(1, 10));
        assert_eq!(q("-0.5"), frac(-1, 2));
        assert_eq!(
            q("3.991125645861615"),
            frac(3991125645861615, 1_000_000_000_000_000)
        );
        assert_eq!(q("1e-3"), frac(1, 1000));
        assert_eq!(q("-2.5E+4"), frac(-25000, 1));
        assert_eq!(q("7"), frac(7, 1));
        assert_eq!(q(".5"), frac(1, 2));
        assert_eq!(q("5."), frac(5, 1));
        assert_eq!(q("+0.25"), frac(1, 4));
        assert_eq!(q("0.0"), frac(0, 1));
        for bad in [
            "", "-", ".", "1.2.3", "e5", "1e", "1e+", "0x10", "1 ", "--1", "1e99999", "inf", "NaN",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_rational_decimal_or_fraction() {
        assert_eq!(format_rational(&q("0.679857769")), "0.679857769");
        assert_eq!(format_rational(&q("-0.45")), "-0.45");
        assert_eq!(format_rational(&q("-3")), "-3");
        assert_eq!(format_rational(&q("0.0001")), "0.0001");
        assert_eq!(format_rational(&q("-1e-3")), "-0.001");
        assert_eq!(format_rational(&frac(1, 8)), "0.125");
        assert_eq!(format_rational(&frac(-2, 3)), "-2/3");
        assert_eq!(format_rational(&frac(0, 3)), "0");
    }

    #[test]
    fn display_of_expressions_and_constraints() {
        let y0 = LinearExpr::var(Var::Y(0));
        let y1 = LinearExpr::var(Var::Y(1));
        let c = Constraint::le(&y1, &y0, false);
        assert_eq!(c.expr.to_string(), "-Y_0 + Y_1");
        assert_eq!(c.to_string(), "Y_1 <= Y_0");
        let bound = Constraint::le(
            &LinearExpr::constant(q("0.6")),
            &LinearExpr::var(Var::X(0)),
            false,
        );
        assert_eq!(bound.to_string(), "X_0 >= 0.6");
        let mut sum = LinearExpr::var(Var::X(0));
        sum.add_scaled(&LinearExpr::var(Var::X(1)), &frac(2, 1));
        let c = Constraint::le(&sum, &LinearExpr::constant(frac(1, 3)), true);
        assert_eq!(c.expr.to_string(), "X_0 + 2*X_1 - 1/3");
        assert_eq!(c.to_string(), "X_0 + 2*X_1 < 1/3");
        assert_eq!(c.negated().to_string(), "X_0 + 2*X_1 >= 1/3");
        let c = Constraint::le(&LinearExpr::constant(frac(1, 1)), &sum, false);
        assert_eq!(c.to_string(), "X_0 + 2*X_1 >= 1");
        assert_eq!(LinearExpr::zero().to_string(), "0");
        let third = LinearExpr::var(Var::Y(2)).scaled(&frac(-1, 3));
        assert_eq!(third.to_string(), "-(1/3)*Y_2");
    }

    #[test]
    fn add_scaled_drops_zero_coefficients() {
        let x = LinearExpr::var(Var::X(0));
        let d = x.minus(&x);
        assert!(d.terms.is_empty());
        assert_eq!(d, LinearExpr::zero());
    }

    fn atom(lhs: LinearExpr, rhs: LinearExpr) -> Formula {
        Formula::Atom(Constraint::le(&lhs, &rhs, false))
    }
    fn x(i: usize) -> LinearExpr {
        LinearExpr::var(Var::X(i))
    }
    fn y(j: usize) -> LinearExpr {
        LinearExpr::var(Var::Y(j))
    }
    fn k(s: &str) -> LinearExpr {
        LinearExpr::constant(q(s))
    }

    #[test]
    fn cases_merge_terms_with_the_same_input_part() {
        // (x0 in [0,1]) and (y0 <= y1 or y1 <= y0)
        let f = Formula::And(vec![
            atom(k("0"), x(0)),
            atom(x(0), k("1")),
            Formula::Or(vec![atom(y(0), y(1)), atom(y(1), y(0))]),
        ]);
        let p = Property::new(1, 2, f).unwrap();
        assert_eq!(p.cases.len(), 1);
        assert_eq!(p.cases[0].input.lower, vec![q("0")]);
        assert_eq!(p.cases[0].input.upper, vec![q("1")]);
        assert_eq!(p.cases[0].output.len(), 2);
        let s = p.summary();
        assert!(s.contains("X_0 in [0, 1]"), "{s}");
        assert!(s.contains("(Y_0 <= Y_1) or (Y_1 <= Y_0)"), "{s}");
    }

    #[test]
    fn constant_atoms_are_evaluated_and_empty_boxes_dropped() {
        let f = Formula::And(vec![
            atom(k("0"), x(0)),
            atom(x(0), k("1")),
            Formula::Or(vec![
                atom(k("1"), k("0")), // false: term dropped
                Formula::And(vec![atom(k("0"), k("1")), atom(y(0), k("0"))]), // true atom dropped
            ]),
        ]);
        let p = Property::new(1, 1, f).unwrap();
        assert_eq!(p.cases.len(), 1);
        assert_eq!(
            p.cases[0].output,
            vec![vec![Constraint::le(&y(0), &k("0"), false)]]
        );

        let empty = Formula::And(vec![atom(k("2"), x(0)), atom(x(0), k("1"))]);
        let p = Property::new(1, 1, empty).unwrap();
        assert!(p.cases.is_empty());
        assert!(p.summary().contains("unsafe set is empty"));
    }

    #[test]
    fn output_true_absorbs_other_disjuncts() {
        let f = Formula::And(vec![
            atom(k("0"), x(0)),
            atom(x(0), k("1")),
            Formula::Or(vec![atom(y(0), k("0")), Formula::And(vec![])]),
        ]);
        let p = Property::new(1, 1, f).unwrap();
        assert_eq!(p.cases[0].output, vec![Vec::<Constraint>::new()]);
        assert_eq!(format_dnf(&p.cases[0].output), "true");
    }

    #[test]
    fn unbounded_input_is_invalid_with_hint() {
        let f = Formula::And(vec![atom(k("0"), x(0))]);
        let e = Property::new(1, 0, f).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Invalid);
        assert!(e.message.contains("X_0 has no upper bound"), "{e}");
        assert!(e.hint.clone().unwrap().contains("(assert (<= X_0 ...))"));
    }

    #[test]
    fn dnf_blowup_is_unsupported() {
        // 2^20 terms.
        let f = Formula::And(
            (0..20)
                .map(|_| Formula::Or(vec![atom(y(0), k("0")), atom(y(0), k("1"))]))
                .collect(),
        );
        let e = Property::new(0, 1, f).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Unsupported);
    }

    #[test]
    fn outer_box_covers_the_exact_box() {
        let b = InputBox {
            lower: vec![q("0.1"), q("-0.1"), q("0.5")],
            upper: vec![q("0.1"), q("-0.1"), q("0.5")],
        };
        let (lo, hi) = b.outer_f64();
        for i in 0..3 {
            assert!(Rational::from_float(lo[i]).unwrap() <= b.lower[i]);
            assert!(Rational::from_float(hi[i]).unwrap() >= b.upper[i]);
        }
        assert_eq!(lo[2], 0.5);
        assert_eq!(hi[2], 0.5);
        assert!(lo[0] < hi[0]);
        assert_eq!(b.lower_f64()[0], 0.1);
    }

    proptest! {
        #[test]
        fn parse_decimal_round_trips_f64(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            prop_assume!(f.is_finite());
            for text in [format!("{f}"), format!("{f:e}"), format!("{f:E}")] {
                let r = parse_decimal(&text);
                prop_assert!(r.is_some(), "{}", text);
                let r = r.unwrap();
                prop_assert_eq!(rational_to_f64(&r).to_bits(), if f == 0.0 { 0.0f64.to_bits() } else { f.to_bits() });
            }
        }

        #[test]
        fn parse_decimal_is_exact_for_plain_decimals(n in any::<i64>(), scale in 0u32..30) {
            let text = {
                let digits = n.unsigned_abs().to_string();
                let padded = format!("{}{}", "0".repeat((scale as usize + 1).saturating_sub(digits.len())), digits);
                let (a, b) = padded.split_at(padded.len() - scale as usize);
                format!("{}{}.{}", if n < 0 { "-" } else { "" }, a, b)
            };
            let expected = Rational::new(BigInt::from(n), num_traits::pow(BigInt::from(10), scale as usize));
            prop_assert_eq!(parse_decimal(&text), Some(expected.clone()));
            prop_assert_eq!(parse_decimal(&format_rational(&expected)), Some(expected));
        }

        #[test]
        fn directed_rounding_brackets(n in any::<i64>(), d in 1i64..1_000_000_007) {
            let r = Rational::new(BigInt::from(n), BigInt::from(d));
            let lo = rational_to_f64_down(&r);
            let hi = rational_to_f64_up(&r);
            prop_assert!(Rational::from_float(lo).unwrap() <= r);
            prop_assert!(Rational::from_float(hi).unwrap() >= r);
            prop_assert!(hi == lo || next_down(hi) == lo);
        }
    }
}
