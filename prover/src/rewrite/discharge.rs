//! [`discharge`]: algebraic facts about a model's output, proved by rewriting
//! to `true` without any search over inputs.
//!
//! # The goal language
//!
//! ```text
//! goal  := (and goal goal) | (or goal goal) | (not goal) | true | false
//!        | (<= t t) | (< t t) | (>= t t) | (> t t) | (== t t)
//!        | (in t t t) | (in_open t t t)
//! t     := y | z | number | (idx v I) | (sum v)
//!        | (softmax v) | (sigmoid t) | (tanh t) | (relu t)
//! ```
//!
//! `y` is the output vector (row-major, length `n`), `(idx v I)` its element
//! `I` (an integer literal, `0 <= I < n`), `(sum v)` the sum of its elements.
//! A comparison or interval test with a vector holds when it holds for every
//! element: `(<= y 1)` is `∀i. yᵢ <= 1`. `(in A LO HI)` is `LO <= A <= HI`,
//! `(in_open A LO HI)` is `LO < A < HI`. Numbers are integers, decimals
//! (`-0.5`, `1e-3`) or fractions (`1/3`), all exact rationals.
//!
//! When the graph's output is produced by a Softmax (over all of its
//! elements), Sigmoid, Tanh or Relu, possibly followed by Identity, Flatten or
//! Reshape, the graph-specific rule `output-<op>` rewrites `y` to
//! `(<op> z)`, `z` being the activation's input (opaque); `z` may appear in
//! goals only then. `(softmax v)` in a goal is the softmax over all elements
//! of `v`.
//!
//! # The rules
//!
//! All rules are equalities in real arithmetic (the semantics of a graph:
//! its float32 weights taken as exact rationals). `?c` and `?d` must be
//! classes holding a number; conditions compare numbers exactly.
//!
//! | rule | rewrite | why |
//! |---|---|---|
//! | `output-softmax` | `y => (softmax z)` | the output op is a Softmax over the whole output |
//! | `output-sigmoid`, `output-tanh`, `output-relu` | `y => (sigmoid z)` … | the output op is that activation |
//! | `ge-flip` | `(>= ?a ?b) => (<= ?b ?a)` | definition of `>=` |
//! | `gt-flip` | `(> ?a ?b) => (< ?b ?a)` | definition of `>` |
//! | `in-split` | `(in ?a ?l ?h) => (and (<= ?l ?a) (<= ?a ?h))` | definition (element-wise for vectors: `∀i (P i ∧ Q i) ⇔ ∀i P i ∧ ∀i Q i`) |
//! | `in-open-split` | `(in_open ?a ?l ?h) => (and (< ?l ?a) (< ?a ?h))` | idem |
//! | `idx-sigmoid`, `idx-tanh`, `idx-relu` | `(idx (sigmoid ?v) ?i) => (sigmoid (idx ?v ?i))` | the activation is element-wise |
//! | `softmax-sum` | `(sum (softmax ?v)) => 1` | `Σᵢ e^{vᵢ} / Σⱼ e^{vⱼ} = 1` |
//! | `softmax-upper-le` / `softmax-idx-upper-le` | `(<= (softmax ?v) ?c) => true` if `?c >= 1` (resp. on `(idx (softmax ?v) ?i)`) | `0 < e^{vᵢ} <= Σⱼ e^{vⱼ}`, so every element is in `[0, 1]` |
//! | `softmax-upper-lt` / `softmax-idx-upper-lt` | `(< … ?c) => true` if `?c > 1` | idem |
//! | `softmax-lower-le` / `softmax-idx-lower-le` | `(<= ?c …) => true` if `?c <= 0` | idem |
//! | `softmax-lower-lt` / `softmax-idx-lower-lt` | `(< ?c …) => true` if `?c < 0` | idem (only the closed `[0, 1]` is used: a one-element softmax is exactly 1) |
//! | `sigmoid-upper-le` | `(<= (sigmoid ?a) ?c) => true` if `?c >= 1` | `σ(a) = 1 / (1 + e^{-a}) ∈ (0, 1)` |
//! | `sigmoid-upper-lt` | `(< (sigmoid ?a) ?c) => true` if `?c >= 1` | idem (open) |
//! | `sigmoid-lower-le` | `(<= ?c (sigmoid ?a)) => true` if `?c <= 0` | idem |
//! | `sigmoid-lower-lt` | `(< ?c (sigmoid ?a)) => true` if `?c <= 0` | idem (open) |
//! | `tanh-upper-le` / `tanh-upper-lt` | `(<= (tanh ?a) ?c)` if `?c >= 1` / `(< …)` if `?c > 1` | `tanh(a) ∈ [-1, 1]` (only the closed interval is used) |
//! | `tanh-lower-le` / `tanh-lower-lt` | `(<= ?c (tanh ?a))` if `?c <= -1` / `(< …)` if `?c < -1` | idem |
//! | `relu-lower-le` / `relu-lower-lt` | `(<= ?c (relu ?a))` if `?c <= 0` / `(< …)` if `?c < 0` | `max(a, 0) >= 0` |
//! | `const-le-true` / `const-le-false` | `(<= ?c ?d) => true` if `c <= d`, else `=> false` | exact comparison of rationals |
//! | `const-lt-true` / `const-lt-false` | `(< ?c ?d)` | idem |
//! | `const-eq-true` / `const-eq-false` | `(== ?c ?d)` | idem |
//! | `eq-refl` | `(== ?a ?a) => true` | reflexivity (every term denotes a real or a real vector) |
//! | `le-refl` | `(<= ?a ?a) => true` | idem |
//! | `and-true-l` / `and-true-r` | `(and true ?p) => ?p` / `(and ?p true) => ?p` | Boolean algebra |
//! | `and-false-l` / `and-false-r` | `(and false ?p) => false` / `(and ?p false) => false` | idem |
//! | `or-true-l` / `or-true-r` | `(or true ?p) => true` / `(or ?p true) => true` | idem |
//! | `or-false-l` / `or-false-r` | `(or false ?p) => ?p` / `(or ?p false) => ?p` | idem |
//! | `not-true` / `not-false` / `not-not` | `(not true) => false` / `(not false) => true` / `(not (not ?p)) => ?p` | idem |
//!
//! The bounds are facts of real arithmetic. A float32 execution can round a
//! sigmoid to exactly 0 or 1, or a softmax element to 0; a discharged open
//! bound is a statement about the real-arithmetic function.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use axiom_core::graph::{Graph, Op};
use std::collections::HashMap;

use egg::{
    define_language, Analysis, Applier, DidMerge, EGraph, ENodeOrVar, FlatTerm, Id, Pattern,
    PatternAst, RecExpr, Rewrite, Runner, SimpleScheduler, Subst, Symbol, Var,
};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};

use super::RewriteError;

/// A discharged goal: the rewrite chain from the goal to `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discharge {
    /// egg's flat explanation, one term per line: the first line is the goal,
    /// the last `true` (or `(Rewrite=> rule true)`); every line after the
    /// first differs from the one before by exactly one rewrite, marked
    /// `(Rewrite=> rule term)` (the previous term rewritten by `rule`) or
    /// `(Rewrite<= rule term)` (this term rewritten by `rule` gives the
    /// previous one).
    pub explanation: Vec<String>,
    /// The rules used, in order of first use.
    pub rules: Vec<String>,
}

/// An exact rational constant of the goal language. Written as an integer
/// (`-2`) or a fraction (`1/2`); parsed also from decimals (`0.5`, `1e-3`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Num(pub BigRational);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_integer() {
            write!(f, "{}", self.0.numer())
        } else {
            write!(f, "{}/{}", self.0.numer(), self.0.denom())
        }
    }
}

/// Decimal exponents beyond this are refused (they would only build huge
/// integers).
const MAX_EXPONENT: i64 = 400;

impl FromStr for Num {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a number");
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let value = if let Some((n, d)) = body.split_once('/') {
            if !digits(n) || !digits(d) {
                return Err(bad());
            }
            let n: BigInt = n.parse().map_err(|_| bad())?;
            let d: BigInt = d.parse().map_err(|_| bad())?;
            if d.is_zero() {
                return Err(format!("'{s}' divides by zero"));
            }
            BigRational::new(n, d)
        } else {
            let (mantissa, exp) = match body.find(['e', 'E']) {
                Some(i) => {
                    let e = &body[i + 1..];
                    let (eneg, edigits) = match e.as_bytes().first() {
                        Some(b'-') => (true, &e[1..]),
                        Some(b'+') => (false, &e[1..]),
                        _ => (false, e),
                    };
                    if !digits(edigits) || edigits.len() > 6 {
                        return Err(bad());
                    }
                    let v: i64 = edigits.parse().map_err(|_| bad())?;
                    (&body[..i], if eneg { -v } else { v })
                }
                None => (body, 0),
            };
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            if !(digits(int) || (int.is_empty() && digits(frac)))
                || !(frac.is_empty() || digits(frac))
            {
                return Err(bad());
            }
            let all: BigInt = format!("{int}{frac}").parse().map_err(|_| bad())?;
            let exp = exp - frac.len() as i64;
            if exp.abs() > MAX_EXPONENT {
                return Err(format!("'{s}': exponent out of range"));
            }
            let p = BigInt::from(10).pow(exp.unsigned_abs() as u32);
            if exp >= 0 {
                BigRational::from_integer(all * p)
            } else {
                BigRational::new(all, p)
            }
        };
        Ok(Num(if neg { -value } else { value }))
    }
}

define_language! {
    /// The goal language (see the module docs).
    pub(crate) enum GoalLang {
        "true" = True,
        "false" = False,
        "y" = Y,
        "z" = Z,
        "softmax" = Softmax(Id),
        "sigmoid" = Sigmoid(Id),
        "tanh" = Tanh(Id),
        "relu" = Relu(Id),
        "idx" = Idx([Id; 2]),
        "sum" = Sum(Id),
        "<=" = Le([Id; 2]),
        "<" = Lt([Id; 2]),
        ">=" = Ge([Id; 2]),
        ">" = Gt([Id; 2]),
        "==" = Eq([Id; 2]),
        "in" = In([Id; 3]),
        "in_open" = InOpen([Id; 3]),
        "and" = And([Id; 2]),
        "or" = Or([Id; 2]),
        "not" = Not(Id),
        Num(Num),
    }
}

/// The constant value of each class (when it holds a number).
#[derive(Debug, Default)]
pub(crate) struct Constants {
    conflict: Option<String>,
}

impl Analysis<GoalLang> for Constants {
    type Data = Option<BigRational>;

    fn make(_: &mut EGraph<GoalLang, Self>, enode: &GoalLang, _: Id) -> Self::Data {
        match enode {
            GoalLang::Num(n) => Some(n.0.clone()),
            _ => None,
        }
    }

    fn merge(&mut self, a: &mut Self::Data, b: Self::Data) -> DidMerge {
        match (a.as_ref(), b) {
            (None, Some(v)) => {
                *a = Some(v);
                DidMerge(true, false)
            }
            (Some(x), Some(y)) if *x != y => {
                self.conflict = Some(format!(
                    "two different numbers were proved equal: {x} and {y}"
                ));
                DidMerge(false, true)
            }
            (Some(_), None) => DidMerge(false, true),
            _ => DidMerge(false, false),
        }
    }
}

type GoalGraph = EGraph<GoalLang, Constants>;

/// What a rule requires of the numbers it matched.
#[derive(Debug, Clone, Copy)]
enum Cond {
    Always,
    /// `?c >= k`
    AtLeast(i64),
    /// `?c > k`
    Above(i64),
    /// `?c <= k`
    AtMost(i64),
    /// `?c < k`
    Below(i64),
    /// `?c` and `?d` numbers, and `(?c op ?d) == holds`
    Compare(CmpOp, bool),
}

#[derive(Debug, Clone, Copy)]
enum CmpOp {
    Le,
    Lt,
    Eq,
}

/// One rule: name, left-hand side, right-hand side, condition.
type Spec = (&'static str, &'static str, &'static str, Cond);

/// The rules every goal may use (the `output-*` rules come on top, per
/// graph).
const RULES: &[Spec] = &[
    ("ge-flip", "(>= ?a ?b)", "(<= ?b ?a)", Cond::Always),
    ("gt-flip", "(> ?a ?b)", "(< ?b ?a)", Cond::Always),
    (
        "in-split",
        "(in ?a ?l ?h)",
        "(and (<= ?l ?a) (<= ?a ?h))",
        Cond::Always,
    ),
    (
        "in-open-split",
        "(in_open ?a ?l ?h)",
        "(and (< ?l ?a) (< ?a ?h))",
        Cond::Always,
    ),
    (
        "idx-sigmoid",
        "(idx (sigmoid ?v) ?i)",
        "(sigmoid (idx ?v ?i))",
        Cond::Always,
    ),
    (
        "idx-tanh",
        "(idx (tanh ?v) ?i)",
        "(tanh (idx ?v ?i))",
        Cond::Always,
    ),
    (
        "idx-relu",
        "(idx (relu ?v) ?i)",
        "(relu (idx ?v ?i))",
        Cond::Always,
    ),
    ("softmax-sum", "(sum (softmax ?v))", "1", Cond::Always),
    (
        "softmax-upper-le",
        "(<= (softmax ?v) ?c)",
        "true",
        Cond::AtLeast(1),
    ),
    (
        "softmax-upper-lt",
        "(< (softmax ?v) ?c)",
        "true",
        Cond::Above(1),
    ),
    (
        "softmax-lower-le",
        "(<= ?c (softmax ?v))",
        "true",
        Cond::AtMost(0),
    ),
    (
        "softmax-lower-lt",
        "(< ?c (softmax ?v))",
        "true",
        Cond::Below(0),
    ),
    (
        "softmax-idx-upper-le",
        "(<= (idx (softmax ?v) ?i) ?c)",
        "true",
        Cond::AtLeast(1),
    ),
    (
        "softmax-idx-upper-lt",
        "(< (idx (softmax ?v) ?i) ?c)",
        "true",
        Cond::Above(1),
    ),
    (
        "softmax-idx-lower-le",
        "(<= ?c (idx (softmax ?v) ?i))",
        "true",
        Cond::AtMost(0),
    ),
    (
        "softmax-idx-lower-lt",
        "(< ?c (idx (softmax ?v) ?i))",
        "true",
        Cond::Below(0),
    ),
    (
        "sigmoid-upper-le",
        "(<= (sigmoid ?a) ?c)",
        "true",
        Cond::AtLeast(1),
    ),
    (
        "sigmoid-upper-lt",
        "(< (sigmoid ?a) ?c)",
        "true",
        Cond::AtLeast(1),
    ),
    (
        "sigmoid-lower-le",
        "(<= ?c (sigmoid ?a))",
        "true",
        Cond::AtMost(0),
    ),
    (
        "sigmoid-lower-lt",
        "(< ?c (sigmoid ?a))",
        "true",
        Cond::AtMost(0),
    ),
    (
        "tanh-upper-le",
        "(<= (tanh ?a) ?c)",
        "true",
        Cond::AtLeast(1),
    ),
    ("tanh-upper-lt", "(< (tanh ?a) ?c)", "true", Cond::Above(1)),
    (
        "tanh-lower-le",
        "(<= ?c (tanh ?a))",
        "true",
        Cond::AtMost(-1),
    ),
    ("tanh-lower-lt", "(< ?c (tanh ?a))", "true", Cond::Below(-1)),
    (
        "relu-lower-le",
        "(<= ?c (relu ?a))",
        "true",
        Cond::AtMost(0),
    ),
    ("relu-lower-lt", "(< ?c (relu ?a))", "true", Cond::Below(0)),
    (
        "const-le-true",
        "(<= ?c ?d)",
        "true",
        Cond::Compare(CmpOp::Le, true),
    ),
    (
        "const-le-false",
        "(<= ?c ?d)",
        "false",
        Cond::Compare(CmpOp::Le, false),
    ),
    (
        "const-lt-true",
        "(< ?c ?d)",
        "true",
        Cond::Compare(CmpOp::Lt, true),
    ),
    (
        "const-lt-false",
        "(< ?c ?d)",
        "false",
        Cond::Compare(CmpOp::Lt, false),
    ),
    (
        "const-eq-true",
        "(== ?c ?d)",
        "true",
        Cond::Compare(CmpOp::Eq, true),
    ),
    (
        "const-eq-false",
        "(== ?c ?d)",
        "false",
        Cond::Compare(CmpOp::Eq, false),
    ),
    ("eq-refl", "(== ?a ?a)", "true", Cond::Always),
    ("le-refl", "(<= ?a ?a)", "true", Cond::Always),
    ("and-true-l", "(and true ?p)", "?p", Cond::Always),
    ("and-true-r", "(and ?p true)", "?p", Cond::Always),
    ("and-false-l", "(and false ?p)", "false", Cond::Always),
    ("and-false-r", "(and ?p false)", "false", Cond::Always),
    ("or-true-l", "(or true ?p)", "true", Cond::Always),
    ("or-true-r", "(or ?p true)", "true", Cond::Always),
    ("or-false-l", "(or false ?p)", "?p", Cond::Always),
    ("or-false-r", "(or ?p false)", "?p", Cond::Always),
    ("not-true", "(not true)", "false", Cond::Always),
    ("not-false", "(not false)", "true", Cond::Always),
    ("not-not", "(not (not ?p))", "?p", Cond::Always),
];

/// The graph-specific rules naming the output's activation.
const OUTPUT_RULES: &[(Activation, &str, &str)] = &[
    (Activation::Softmax, "output-softmax", "(softmax z)"),
    (Activation::Sigmoid, "output-sigmoid", "(sigmoid z)"),
    (Activation::Tanh, "output-tanh", "(tanh z)"),
    (Activation::Relu, "output-relu", "(relu z)"),
];

/// The name of every rule [`discharge`] may use (stable: explanations name
/// them, and an independent checker replays them). The meaning of each is in
/// the [module docs](self).
pub fn rule_names() -> Vec<&'static str> {
    OUTPUT_RULES
        .iter()
        .map(|(_, n, _)| *n)
        .chain(RULES.iter().map(|r| r.0))
        .collect()
}

fn internal(e: impl fmt::Display) -> RewriteError {
    RewriteError::Internal(e.to_string())
}

/// Whether `cond` holds of the numbers bound to `?c` and `?d`.
fn holds(cond: Cond, c: Option<&BigRational>, d: Option<&BigRational>) -> bool {
    let k = |n: i64| BigRational::from_integer(n.into());
    match cond {
        Cond::Always => true,
        Cond::AtLeast(n) => c.is_some_and(|x| *x >= k(n)),
        Cond::Above(n) => c.is_some_and(|x| *x > k(n)),
        Cond::AtMost(n) => c.is_some_and(|x| *x <= k(n)),
        Cond::Below(n) => c.is_some_and(|x| *x < k(n)),
        Cond::Compare(op, expected) => match (c, d) {
            (Some(x), Some(y)) => {
                let r = match op {
                    CmpOp::Le => x <= y,
                    CmpOp::Lt => x < y,
                    CmpOp::Eq => x == y,
                };
                r == expected
            }
            _ => false,
        },
    }
}

/// The applier of a rule with a numeric condition. It fires when the
/// classes matched by `?c` (and `?d`) hold numbers satisfying the condition,
/// and unions the right-hand side with the left-hand side *with those
/// numbers written in*: egg's explanation then shows the step on literal
/// numbers (`(== 1 1)`, not `(== (sum y) (sum y))`), so that a checker can
/// verify the condition on the term itself.
#[derive(Debug)]
struct LiteralApplier {
    lhs: PatternAst<GoalLang>,
    rhs: PatternAst<GoalLang>,
    cond: Cond,
    c: Var,
    d: Var,
}

impl Applier<GoalLang, Constants> for LiteralApplier {
    fn apply_one(
        &self,
        egraph: &mut GoalGraph,
        eclass: Id,
        subst: &Subst,
        _searcher_ast: Option<&PatternAst<GoalLang>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        let value = |v: Var| subst.get(v).and_then(|id| egraph[*id].data.clone());
        let (c, d) = (value(self.c), value(self.d));
        if !holds(self.cond, c.as_ref(), d.as_ref()) {
            return vec![];
        }
        let literal: Vec<ENodeOrVar<GoalLang>> = self
            .lhs
            .as_ref()
            .iter()
            .map(|n| {
                match n {
                    ENodeOrVar::Var(v) if *v == self.c => c.clone().map(Num),
                    ENodeOrVar::Var(v) if *v == self.d => d.clone().map(Num),
                    _ => None,
                }
                .map_or_else(|| n.clone(), |num| ENodeOrVar::ENode(GoalLang::Num(num)))
            })
            .collect();
        let from: PatternAst<GoalLang> = RecExpr::from(literal);
        if egraph.are_explanations_enabled() {
            let (id, changed) = egraph.union_instantiations(&from, &self.rhs, subst, rule_name);
            if changed {
                vec![id]
            } else {
                vec![]
            }
        } else {
            let id = egraph.add_instantiation(&self.rhs, subst);
            if egraph.union(eclass, id) {
                vec![eclass]
            } else {
                vec![]
            }
        }
    }

    fn vars(&self) -> Vec<Var> {
        self.lhs
            .as_ref()
            .iter()
            .filter_map(|n| match n {
                ENodeOrVar::Var(v) => Some(*v),
                ENodeOrVar::ENode(_) => None,
            })
            .collect()
    }
}

fn rules_for(
    output: Option<Activation>,
) -> Result<Vec<Rewrite<GoalLang, Constants>>, RewriteError> {
    let pat = |s: &str| s.parse::<Pattern<GoalLang>>().map_err(internal);
    let ast = |s: &str| s.parse::<PatternAst<GoalLang>>().map_err(internal);
    let mut rules = Vec::new();
    for &(act, name, rhs) in OUTPUT_RULES {
        if output == Some(act) {
            rules.push(Rewrite::new(name, pat("y")?, pat(rhs)?).map_err(internal)?);
        }
    }
    for &(name, lhs, rhs, cond) in RULES {
        let rule = match cond {
            Cond::Always => Rewrite::new(name, pat(lhs)?, pat(rhs)?),
            _ => Rewrite::new(
                name,
                pat(lhs)?,
                LiteralApplier {
                    lhs: ast(lhs)?,
                    rhs: ast(rhs)?,
                    cond,
                    c: "?c".parse().map_err(internal)?,
                    d: "?d".parse().map_err(internal)?,
                },
            ),
        };
        rules.push(rule.map_err(internal)?);
    }
    Ok(rules)
}

/// The activation that produces the output, when `y` may be rewritten to
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Softmax,
    Sigmoid,
    Tanh,
    Relu,
}

/// The output's activation, looking through Identity/Flatten/Reshape (they
/// keep the row-major order of the elements). A Softmax counts only when it
/// normalises over all of the output's elements.
fn output_activation(graph: &Graph, shapes: &[Vec<usize>]) -> Option<Activation> {
    let mut v = graph.output;
    loop {
        let node = graph.nodes.get(v.checked_sub(1)?)?;
        let input = *node.inputs.first()?;
        match &node.op {
            Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => v = input,
            Op::Sigmoid => return Some(Activation::Sigmoid),
            Op::Tanh => return Some(Activation::Tanh),
            Op::Relu => return Some(Activation::Relu),
            Op::Softmax { axis } => {
                let shape = shapes.get(input)?;
                let n: usize = shape.iter().product();
                return (shape.get(*axis) == Some(&n)).then_some(Activation::Softmax);
            }
            _ => return None,
        }
    }
}

/// An s-expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sexp {
    Atom(String),
    List(Vec<Sexp>),
}

const MAX_DEPTH: usize = 200;
const MAX_GOAL_LEN: usize = 1 << 16;

fn malformed(msg: impl Into<String>) -> RewriteError {
    RewriteError::Goal(msg.into())
}

fn parse_sexp(src: &str) -> Result<Sexp, RewriteError> {
    if src.len() > MAX_GOAL_LEN {
        return Err(malformed(format!(
            "the goal has {} characters (at most {MAX_GOAL_LEN})",
            src.len()
        )));
    }
    let mut tokens = Vec::new();
    let mut atom = String::new();
    for ch in src.chars() {
        if ch == '(' || ch == ')' || ch.is_whitespace() {
            if !atom.is_empty() {
                tokens.push(std::mem::take(&mut atom));
            }
            if !ch.is_whitespace() {
                tokens.push(ch.to_string());
            }
        } else {
            atom.push(ch);
        }
    }
    if !atom.is_empty() {
        tokens.push(atom);
    }
    let mut stack: Vec<Vec<Sexp>> = vec![Vec::new()];
    for t in tokens {
        match t.as_str() {
            "(" => {
                if stack.len() > MAX_DEPTH {
                    return Err(malformed(format!("the goal nests deeper than {MAX_DEPTH}")));
                }
                stack.push(Vec::new());
            }
            ")" => {
                let list = stack.pop().ok_or_else(|| malformed("unbalanced ')'"))?;
                stack
                    .last_mut()
                    .ok_or_else(|| malformed("unbalanced ')'"))?
                    .push(Sexp::List(list));
            }
            _ => stack
                .last_mut()
                .ok_or_else(|| malformed("unbalanced ')'"))?
                .push(Sexp::Atom(t)),
        }
    }
    if stack.len() != 1 {
        return Err(malformed("unbalanced '(': a list is not closed"));
    }
    let mut top = stack.pop().unwrap_or_default();
    match top.len() {
        0 => Err(malformed("the goal is empty")),
        1 => top.pop().ok_or_else(|| malformed("the goal is empty")),
        n => Err(malformed(format!(
            "the goal must be one expression, found {n}"
        ))),
    }
}

/// The type of a goal term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Scalar,
    Vector,
}

struct GoalBuilder {
    expr: RecExpr<GoalLang>,
    n: usize,
    z_defined: bool,
}

impl GoalBuilder {
    fn build(&mut self, s: &Sexp) -> Result<(Id, Ty), RewriteError> {
        match s {
            Sexp::Atom(a) => {
                let (node, ty) = match a.as_str() {
                    "true" => (GoalLang::True, Ty::Bool),
                    "false" => (GoalLang::False, Ty::Bool),
                    "y" => (GoalLang::Y, Ty::Vector),
                    "z" if self.z_defined => (GoalLang::Z, Ty::Vector),
                    "z" => {
                        return Err(malformed(
                            "'z' names the input of the output's Softmax/Sigmoid/Tanh/Relu; this graph's output has none",
                        ))
                    }
                    other => match other.parse::<Num>() {
                        Ok(n) => (GoalLang::Num(n), Ty::Scalar),
                        Err(_) => {
                            return Err(malformed(format!(
                                "unknown symbol '{other}' (expected y, z, true, false or a number)"
                            )))
                        }
                    },
                };
                Ok((self.expr.add(node), ty))
            }
            Sexp::List(items) => {
                let Some((Sexp::Atom(head), args)) = items.split_first() else {
                    return Err(malformed("a list must start with an operator name"));
                };
                let arity = |k: usize| -> Result<(), RewriteError> {
                    if args.len() == k {
                        Ok(())
                    } else {
                        Err(malformed(format!(
                            "'{head}' takes {k} argument(s), found {}",
                            args.len()
                        )))
                    }
                };
                let expect = |got: Ty, want: &[Ty], what: &str| -> Result<(), RewriteError> {
                    if want.contains(&got) {
                        Ok(())
                    } else {
                        Err(malformed(format!(
                            "'{head}' needs {what}, found a {got:?} argument"
                        )))
                    }
                };
                let value = [Ty::Scalar, Ty::Vector];
                match head.as_str() {
                    "idx" => {
                        arity(2)?;
                        let (v, vt) = self.build(&args[0])?;
                        expect(vt, &[Ty::Vector], "a vector")?;
                        let index = match &args[1] {
                            Sexp::Atom(a) => a.parse::<Num>().ok(),
                            Sexp::List(_) => None,
                        }
                        .filter(|n| n.0.is_integer() && !n.0.is_negative())
                        .ok_or_else(|| malformed("'idx' needs an integer literal index"))?;
                        let ok = index.0 < BigRational::from_integer(self.n.into());
                        if !ok {
                            return Err(malformed(format!(
                                "index {} is out of range: the output has {} elements",
                                index, self.n
                            )));
                        }
                        let i = self.expr.add(GoalLang::Num(index));
                        Ok((self.expr.add(GoalLang::Idx([v, i])), Ty::Scalar))
                    }
                    "sum" | "softmax" => {
                        arity(1)?;
                        let (v, vt) = self.build(&args[0])?;
                        expect(vt, &[Ty::Vector], "a vector")?;
                        Ok(if head == "sum" {
                            (self.expr.add(GoalLang::Sum(v)), Ty::Scalar)
                        } else {
                            (self.expr.add(GoalLang::Softmax(v)), Ty::Vector)
                        })
                    }
                    "sigmoid" | "tanh" | "relu" => {
                        arity(1)?;
                        let (a, t) = self.build(&args[0])?;
                        expect(t, &value, "a number or a vector")?;
                        let node = match head.as_str() {
                            "sigmoid" => GoalLang::Sigmoid(a),
                            "tanh" => GoalLang::Tanh(a),
                            _ => GoalLang::Relu(a),
                        };
                        Ok((self.expr.add(node), t))
                    }
                    "<=" | "<" | ">=" | ">" | "==" => {
                        arity(2)?;
                        let (a, at) = self.build(&args[0])?;
                        expect(at, &value, "numbers or vectors")?;
                        let (b, bt) = self.build(&args[1])?;
                        expect(bt, &value, "numbers or vectors")?;
                        let node = match head.as_str() {
                            "<=" => GoalLang::Le([a, b]),
                            "<" => GoalLang::Lt([a, b]),
                            ">=" => GoalLang::Ge([a, b]),
                            ">" => GoalLang::Gt([a, b]),
                            _ => GoalLang::Eq([a, b]),
                        };
                        Ok((self.expr.add(node), Ty::Bool))
                    }
                    "in" | "in_open" => {
                        arity(3)?;
                        let (a, at) = self.build(&args[0])?;
                        expect(at, &value, "a number or a vector to test")?;
                        let (lo, lt) = self.build(&args[1])?;
                        expect(lt, &[Ty::Scalar], "number bounds")?;
                        let (hi, ht) = self.build(&args[2])?;
                        expect(ht, &[Ty::Scalar], "number bounds")?;
                        let node = if head == "in" {
                            GoalLang::In([a, lo, hi])
                        } else {
                            GoalLang::InOpen([a, lo, hi])
                        };
                        Ok((self.expr.add(node), Ty::Bool))
                    }
                    "and" | "or" => {
                        arity(2)?;
                        let (p, pt) = self.build(&args[0])?;
                        expect(pt, &[Ty::Bool], "propositions")?;
                        let (q, qt) = self.build(&args[1])?;
                        expect(qt, &[Ty::Bool], "propositions")?;
                        let node = if head == "and" {
                            GoalLang::And([p, q])
                        } else {
                            GoalLang::Or([p, q])
                        };
                        Ok((self.expr.add(node), Ty::Bool))
                    }
                    "not" => {
                        arity(1)?;
                        let (p, pt) = self.build(&args[0])?;
                        expect(pt, &[Ty::Bool], "a proposition")?;
                        Ok((self.expr.add(GoalLang::Not(p)), Ty::Bool))
                    }
                    other => Err(malformed(format!("unknown operator '{other}'"))),
                }
            }
        }
    }
}

/// Parses and type-checks a goal for an output of `n` elements.
fn parse_goal(goal: &str, n: usize, z_defined: bool) -> Result<RecExpr<GoalLang>, RewriteError> {
    let sexp = parse_sexp(goal)?;
    let mut b = GoalBuilder {
        expr: RecExpr::default(),
        n,
        z_defined,
    };
    let (_, ty) = b.build(&sexp)?;
    if ty != Ty::Bool {
        return Err(malformed(format!(
            "the goal must be a proposition, found a {ty:?}"
        )));
    }
    Ok(b.expr)
}

/// The rules of a flat explanation, in order of first use.
fn rules_of(flat: &[FlatTerm<GoalLang>]) -> Vec<String> {
    fn walk(t: &FlatTerm<GoalLang>, out: &mut Vec<String>) {
        for r in [t.forward_rule, t.backward_rule].into_iter().flatten() {
            let r = r.to_string();
            if !out.contains(&r) {
                out.push(r);
            }
        }
        for c in &t.children {
            walk(c, out);
        }
    }
    let mut out = Vec::new();
    for t in flat {
        walk(t, &mut out);
    }
    out
}

/// Saturation limits; a run stopped by one only discharges less.
const ITER_LIMIT: usize = 32;
const NODE_LIMIT: usize = 10_000;
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// Proves `goal` (see the [module docs](self) for the language) about the
/// output of `graph` by rewriting it to `true`.
///
/// `Ok(Some(_))` carries the rewrite chain; `Ok(None)` means the rules do not
/// prove it (it may be false, or true for reasons the rules do not know);
/// `Err` means the goal is malformed (syntax, types, an index out of range,
/// `z` on a graph without an output activation) or the graph is invalid.
///
/// ```
/// use axiom_core::graph::{GraphBuilder, Op};
/// use axiom_prover::rewrite::discharge;
/// use ndarray::arr2;
///
/// let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
/// let h = b.push("fc", Op::Gemm { weight: arr2(&[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), bias: None }, 0);
/// let y = b.push("softmax", Op::Softmax { axis: 1 }, h);
/// let g = b.finish(y)?;
///
/// let d = discharge(&g, "(and (== (sum y) 1) (in (idx y 2) 0 1))")?.expect("proved");
/// assert_eq!(d.explanation.first().map(String::as_str), Some("(and (== (sum y) 1) (in (idx y 2) 0 1))"));
/// assert!(d.explanation.last().is_some_and(|l| l.ends_with("true)")));
/// assert!(d.rules.contains(&"softmax-sum".to_string()));
/// assert!(discharge(&g, "(<= (idx y 0) 0.5)")?.is_none());
/// assert!(discharge(&g, "(<= (idx y 3) 1)").is_err()); // index out of range
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn discharge(graph: &Graph, goal: &str) -> Result<Option<Discharge>, RewriteError> {
    graph
        .validate()
        .map_err(|e| RewriteError::Graph(e.to_string()))?;
    let shapes = graph
        .infer_shapes()
        .map_err(|e| RewriteError::Graph(e.to_string()))?;
    let n: usize = shapes
        .get(graph.output)
        .ok_or_else(|| RewriteError::Graph("the output is not a value".into()))?
        .iter()
        .product();
    let activation = output_activation(graph, &shapes);
    let goal = parse_goal(goal, n, activation.is_some())?;
    let truth: RecExpr<GoalLang> = "true".parse().map_err(internal)?;
    let falsity: RecExpr<GoalLang> = "false".parse().map_err(internal)?;

    let rules = rules_for(activation)?;
    let mut runner = Runner::<GoalLang, Constants, ()>::new(Constants::default())
        .with_explanations_enabled()
        .with_scheduler(SimpleScheduler)
        .with_iter_limit(ITER_LIMIT)
        .with_node_limit(NODE_LIMIT)
        .with_time_limit(TIME_LIMIT)
        .with_expr(&goal)
        .with_expr(&truth)
        .with_expr(&falsity)
        .run(&rules);
    let egraph = &mut runner.egraph;
    if let Some(c) = egraph.analysis.conflict.take() {
        return Err(internal(format!("the rules are inconsistent: {c}")));
    }
    let (Some(g), Some(t), Some(f)) = (
        egraph.lookup_expr(&goal),
        egraph.lookup_expr(&truth),
        egraph.lookup_expr(&falsity),
    ) else {
        return Err(internal("the goal left the e-graph"));
    };
    if egraph.find(t) == egraph.find(f) {
        return Err(internal("the rules proved true = false"));
    }
    if egraph.find(g) != egraph.find(t) {
        return Ok(None);
    }
    let mut explanation = egraph.explain_equivalence(&goal, &truth);
    let lines = explanation.get_flat_strings();
    let rules = rules_of(explanation.make_flat_explanation());
    // Claim nothing the chain does not show step by step.
    let output_rule = OUTPUT_RULES
        .iter()
        .find(|(act, _, _)| Some(*act) == activation)
        .map(|(_, name, _)| *name);
    replay(&goal.to_string(), &lines, output_rule)
        .map_err(|e| internal(format!("the explanation does not replay: {e}")))?;
    Ok(Some(Discharge {
        explanation: lines,
        rules,
    }))
}

/// A term of an explanation line, with its rewrite marker removed: the
/// term, and per marker its path, rule and direction.
type Marked = (Sexp, Vec<(Vec<usize>, String, bool)>);

fn strip_markers(
    s: &Sexp,
    path: &mut Vec<usize>,
    found: &mut Vec<(Vec<usize>, String, bool)>,
) -> Result<Sexp, String> {
    match s {
        Sexp::Atom(_) => Ok(s.clone()),
        Sexp::List(items) => {
            if let Some(Sexp::Atom(head)) = items.first() {
                if head == "Rewrite=>" || head == "Rewrite<=" {
                    let [_, Sexp::Atom(rule), term] = items.as_slice() else {
                        return Err(format!("a malformed rewrite marker: {s:?}"));
                    };
                    found.push((path.clone(), rule.clone(), head == "Rewrite=>"));
                    return strip_markers(term, path, found);
                }
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i);
                out.push(strip_markers(item, path, found)?);
                path.pop();
            }
            Ok(Sexp::List(out))
        }
    }
}

fn marked(line: &str) -> Result<Marked, String> {
    let s = parse_sexp(line).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    let term = strip_markers(&s, &mut Vec::new(), &mut found)?;
    Ok((term, found))
}

fn at<'a>(s: &'a Sexp, path: &[usize]) -> Option<&'a Sexp> {
    path.iter().try_fold(s, |t, &i| match t {
        Sexp::List(items) => items.get(i),
        Sexp::Atom(_) => None,
    })
}

fn replace_at(s: &Sexp, path: &[usize], with: &Sexp) -> Option<Sexp> {
    match path.split_first() {
        None => Some(with.clone()),
        Some((&i, rest)) => match s {
            Sexp::List(items) => {
                let mut items = items.clone();
                let child = replace_at(items.get(i)?, rest, with)?;
                items[i] = child;
                Some(Sexp::List(items))
            }
            Sexp::Atom(_) => None,
        },
    }
}

fn bind(pattern: &Sexp, term: &Sexp, env: &mut HashMap<String, Sexp>) -> bool {
    match (pattern, term) {
        (Sexp::Atom(p), _) if p.starts_with('?') => match env.get(p) {
            Some(bound) => bound == term,
            None => {
                env.insert(p.clone(), term.clone());
                true
            }
        },
        (Sexp::Atom(p), Sexp::Atom(t)) => p == t,
        (Sexp::List(ps), Sexp::List(ts)) => {
            ps.len() == ts.len() && ps.iter().zip(ts).all(|(p, t)| bind(p, t, env))
        }
        _ => false,
    }
}

fn instantiate(pattern: &Sexp, env: &HashMap<String, Sexp>) -> Option<Sexp> {
    match pattern {
        Sexp::Atom(p) if p.starts_with('?') => env.get(p).cloned(),
        Sexp::Atom(_) => Some(pattern.clone()),
        Sexp::List(ps) => ps
            .iter()
            .map(|p| instantiate(p, env))
            .collect::<Option<Vec<_>>>()
            .map(Sexp::List),
    }
}

/// Whether `rule` rewrites `from` into `to`, its condition checked on the
/// numbers written in `from`.
fn rule_rewrites(
    rule: &str,
    from: &Sexp,
    to: &Sexp,
    output_rule: Option<&str>,
) -> Result<bool, String> {
    let spec: Option<(&str, &str, Cond)> = OUTPUT_RULES
        .iter()
        .find(|(_, name, _)| *name == rule && Some(*name) == output_rule)
        .map(|(_, _, rhs)| ("y", *rhs, Cond::Always))
        .or_else(|| RULES.iter().find(|r| r.0 == rule).map(|r| (r.1, r.2, r.3)));
    let Some((lhs, rhs, cond)) = spec else {
        return Err(format!("unknown or disallowed rule '{rule}'"));
    };
    let lhs = parse_sexp(lhs).map_err(|e| e.to_string())?;
    let rhs = parse_sexp(rhs).map_err(|e| e.to_string())?;
    let mut env = HashMap::new();
    if !bind(&lhs, from, &mut env) {
        return Ok(false);
    }
    let number = |v: &str| match env.get(v) {
        Some(Sexp::Atom(a)) => a.parse::<Num>().ok().map(|n| n.0),
        _ => None,
    };
    if !holds(cond, number("?c").as_ref(), number("?d").as_ref()) {
        return Ok(false);
    }
    Ok(instantiate(&rhs, &env).as_ref() == Some(to))
}

/// Checks a flat explanation step by step: the first line is `goal`, every
/// further line differs from the one before by one instance of a named rule
/// (conditions checked on the numbers in the term), the last is `true`.
fn replay(goal: &str, lines: &[String], output_rule: Option<&str>) -> Result<(), String> {
    let (first, rest) = lines.split_first().ok_or("an empty explanation")?;
    let (mut prev, marks) = marked(first)?;
    if !marks.is_empty() {
        return Err("the first line carries a rewrite".into());
    }
    if prev != parse_sexp(goal).map_err(|e| e.to_string())? {
        return Err(format!("the first line is not the goal {goal}"));
    }
    for (i, line) in rest.iter().enumerate() {
        let (cur, marks) = marked(line)?;
        let [(path, rule, forward)] = marks.as_slice() else {
            return Err(format!(
                "line {}: {} rewrites, expected one",
                i + 2,
                marks.len()
            ));
        };
        let (a, b) = match (at(&prev, path), at(&cur, path)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(format!("line {}: the rewritten position is missing", i + 2)),
        };
        if replace_at(&prev, path, b).as_ref() != Some(&cur) {
            return Err(format!(
                "line {}: the term changed outside the rewrite",
                i + 2
            ));
        }
        let ok = if *forward {
            rule_rewrites(rule, a, b, output_rule)?
        } else {
            rule_rewrites(rule, b, a, output_rule)?
        };
        if !ok {
            return Err(format!("line {}: '{rule}' does not justify {line}", i + 2));
        }
        prev = cur;
    }
    if prev != Sexp::Atom("true".into()) {
        return Err("the chain does not end in true".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_traits::One;

    #[test]
    fn numbers_parse_exactly() {
        let q = |s: &str| s.parse::<Num>().map(|n| n.0);
        let r = |a: i64, b: i64| BigRational::new(a.into(), b.into());
        assert_eq!(q("0.5"), Ok(r(1, 2)));
        assert_eq!(q("-2"), Ok(r(-2, 1)));
        assert_eq!(q("1e-3"), Ok(r(1, 1000)));
        assert_eq!(q("2.5E2"), Ok(r(250, 1)));
        assert_eq!(q("-1/3"), Ok(r(-1, 3)));
        assert_eq!(q(".25"), Ok(r(1, 4)));
        assert_eq!(q("1"), Ok(BigRational::one()));
        for bad in [
            "",
            "-",
            "1/0",
            "abc",
            "1.2.3",
            "1e",
            "nan",
            "inf",
            "1e99999999",
            "--1",
            "1/-2",
        ] {
            assert!(q(bad).is_err(), "{bad}");
        }
        // Display round-trips through FromStr.
        for s in ["-1/3", "7", "0", "-5"] {
            assert_eq!(q(s).map(|n| Num(n).to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn goals_are_type_checked() {
        assert!(parse_goal("(<= (idx y 0) 1)", 3, false).is_ok());
        assert!(parse_goal("(in y 0 1)", 3, false).is_ok());
        for bad in [
            "",
            "(",
            ")",
            "(<= y 1",
            "(<= y 1))",
            "y",
            "1",
            "(idx y 3)",
            "(<= (idx y 3) 1)",
            "(<= (idx y -1) 1)",
            "(<= (idx y 0.5) 1)",
            "(<= (idx 1 0) 1)",
            "(<= (sum 1) 1)",
            "(and y true)",
            "(<= true 1)",
            "(<= 1)",
            "(foo 1 2)",
            "(<= w 1)",
            "(<= z 1)",
            "((<= 1 1))",
            "(in y y 1)",
            "(<= 1 1) (<= 1 1)",
        ] {
            assert!(parse_goal(bad, 3, false).is_err(), "{bad}");
        }
        assert!(parse_goal("(<= z 1)", 3, true).is_ok());
        let deep = format!("{}true{}", "(not ".repeat(500), ")".repeat(500));
        assert!(parse_goal(&deep, 3, false).is_err());
    }

    #[test]
    fn replay_refuses_tampered_chains() {
        let good = [
            "(== (sum y) 1)".to_string(),
            "(== (sum (Rewrite=> output-softmax (softmax z))) 1)".to_string(),
            "(== (Rewrite=> softmax-sum 1) 1)".to_string(),
            "(Rewrite=> const-eq-true true)".to_string(),
        ];
        assert_eq!(
            replay("(== (sum y) 1)", &good, Some("output-softmax")),
            Ok(())
        );
        // The output rule must be the graph's.
        assert!(replay("(== (sum y) 1)", &good, Some("output-sigmoid")).is_err());
        assert!(replay("(== (sum y) 1)", &good, None).is_err());
        // A wrong number, a wrong rule, a missing step, a changed context.
        let mut bad = good.clone();
        bad[2] = "(== (Rewrite=> softmax-sum 2) 1)".into();
        assert!(replay("(== (sum y) 1)", &bad, Some("output-softmax")).is_err());
        let mut bad = good.clone();
        bad[3] = "(Rewrite=> const-le-true true)".into();
        assert!(replay("(== (sum y) 1)", &bad, Some("output-softmax")).is_err());
        let mut bad = good.to_vec();
        bad.remove(1);
        assert!(replay("(== (sum y) 1)", &bad, Some("output-softmax")).is_err());
        let mut bad = good.clone();
        bad[2] = "(<= (Rewrite=> softmax-sum 1) 1)".into();
        assert!(replay("(== (sum y) 1)", &bad, Some("output-softmax")).is_err());
        // A condition that fails on the literal numbers.
        let lines = [
            "(== 1 2)".to_string(),
            "(Rewrite=> const-eq-true true)".to_string(),
        ];
        assert!(replay("(== 1 2)", &lines, None).is_err());
        let lines = [
            "(<= (sigmoid z) 1/2)".to_string(),
            "(Rewrite=> sigmoid-upper-le true)".to_string(),
        ];
        assert!(replay("(<= (sigmoid z) 1/2)", &lines, None).is_err());
        let lines = [
            "(<= (sigmoid z) 1)".to_string(),
            "(Rewrite=> sigmoid-upper-le true)".to_string(),
        ];
        assert_eq!(replay("(<= (sigmoid z) 1)", &lines, None), Ok(()));
    }

    #[test]
    fn every_rule_builds_and_names_are_unique() {
        let rules = rules_for(Some(Activation::Softmax)).unwrap();
        assert_eq!(rules.len(), RULES.len() + 1);
        let mut names = rule_names();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
