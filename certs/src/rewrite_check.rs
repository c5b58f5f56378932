//! The independent replay of the rewriter's discharge chains.
//!
//! The prover discharges a goal about a graph's output by rewriting it to
//! `true` with e-graphs; its evidence is egg's flat explanation: the first
//! line is the goal, every later line the whole term with exactly one marker
//! `(Rewrite=> rule t)` (the previous line's subterm at that position,
//! rewritten by `rule`, gives `t`) or `(Rewrite<= rule t)` (`t` rewritten by
//! `rule` gives the previous subterm), the last line's term is `true`.
//! [`check_rewrite_chain`] replays such a chain against the rule table below,
//! which this module owns (it shares no code with the prover).
//!
//! # Terms
//!
//! ```text
//! goal := (and goal goal) | (or goal goal) | (not goal) | true | false
//!       | (<= t t) | (< t t) | (>= t t) | (> t t) | (== t t)
//!       | (in t t t) | (in_open t t t)
//! t    := y | z | number | (idx v I) | (sum v) | (softmax v)
//!       | (sigmoid t) | (tanh t) | (relu t)
//! ```
//!
//! `y` is the output (row-major, `n` elements), `z` the input of the output's
//! activation (allowed only when the checker recognises one), `(idx v I)`
//! element `I` (an integer literal, `0 <= I < n`), `(softmax v)` the softmax
//! over all elements of `v`. A comparison with a vector holds when it holds
//! for every element. Numbers are exact rationals: `-2`, `1/3`, `0.5`,
//! `1e-3`. Every line is type-checked (propositions, scalars, vectors of `n`
//! elements), so every step is an equality between meaningful terms and a
//! chain of such steps proves the goal equivalent to `true`.
//!
//! In the goal an index is an integer literal in `0..n`. Later lines may
//! index by any scalar term (egg sometimes rewrites the index `1` into
//! `(sum y)` when the two are proved equal): `(idx v t)` then denotes
//! `v[clamp(floor(t), 0, n - 1)]`, which is `v[I]` for every literal index
//! `I` of the goal and under which every rule below still holds (each holds
//! for every element of a vector, whichever element it is).
//!
//! # The rules
//!
//! Each rule is an equality `lhs = rhs` of real arithmetic (a graph's
//! semantics: its float32 weights as exact rationals), valid for every
//! well-typed instance; `?c` and `?d` must be number literals and their
//! conditions are checked exactly.
//!
//! | rule | lhs => rhs | condition | why |
//! |---|---|---|---|
//! | `output-softmax` | `y => (softmax z)` | output is a Softmax over all its elements | definition of the graph |
//! | `output-sigmoid`, `-tanh`, `-relu` | `y => (sigmoid z)` … | output is that op | idem |
//! | `ge-flip`, `gt-flip` | `(>= ?a ?b) => (<= ?b ?a)`, `(> ?a ?b) => (< ?b ?a)` | | definition of `>=`, `>` |
//! | `in-split` | `(in ?a ?l ?h) => (and (<= ?l ?a) (<= ?a ?h))` | | definition (`∀` distributes over `∧`) |
//! | `in-open-split` | `(in_open ?a ?l ?h) => (and (< ?l ?a) (< ?a ?h))` | | idem |
//! | `idx-sigmoid`, `-tanh`, `-relu` | `(idx (sigmoid ?v) ?i) => (sigmoid (idx ?v ?i))` … | | element-wise ops |
//! | `softmax-sum` | `(sum (softmax ?v)) => 1` | | `Σ e^vᵢ / Σ e^vⱼ = 1` (`n >= 1`) |
//! | `softmax-upper-le`, `softmax-idx-upper-le` | `(<= S ?c) => true` | `c >= 1` | `0 < e^vᵢ <= Σ e^vⱼ`: `S ∈ [0, 1]` |
//! | `softmax-upper-lt`, `softmax-idx-upper-lt` | `(< S ?c) => true` | `c > 1` | idem |
//! | `softmax-lower-le`, `softmax-idx-lower-le` | `(<= ?c S) => true` | `c <= 0` | idem |
//! | `softmax-lower-lt`, `softmax-idx-lower-lt` | `(< ?c S) => true` | `c < 0` | idem |
//! | `sigmoid-upper-le`, `sigmoid-upper-lt` | `(<= (sigmoid ?a) ?c)`, `(< …) => true` | `c >= 1` | `1 / (1 + e^-a) ∈ (0, 1)` |
//! | `sigmoid-lower-le`, `sigmoid-lower-lt` | `(<= ?c (sigmoid ?a))`, `(< …) => true` | `c <= 0` | idem |
//! | `tanh-upper-le` / `tanh-upper-lt` | `(<= (tanh ?a) ?c)` / `(< …) => true` | `c >= 1` / `c > 1` | `tanh a ∈ [-1, 1]` |
//! | `tanh-lower-le` / `tanh-lower-lt` | `(<= ?c (tanh ?a))` / `(< …) => true` | `c <= -1` / `c < -1` | idem |
//! | `relu-lower-le` / `relu-lower-lt` | `(<= ?c (relu ?a))` / `(< …) => true` | `c <= 0` / `c < 0` | `max(a, 0) >= 0` |
//! | `const-le-true` / `-false` | `(<= ?c ?d) => true` / `false` | `c <= d` / not | exact rationals |
//! | `const-lt-true` / `-false` | `(< ?c ?d) => true` / `false` | `c < d` / not | idem |
//! | `const-eq-true` / `-false` | `(== ?c ?d) => true` / `false` | `c = d` / not | idem |
//! | `eq-refl`, `le-refl` | `(== ?a ?a) => true`, `(<= ?a ?a) => true` | | reflexivity |
//! | `and-true-l`, `-r` | `(and true ?p) => ?p`, `(and ?p true) => ?p` | | Boolean algebra |
//! | `and-false-l`, `-r` | `(and false ?p) => false`, `(and ?p false) => false` | | idem |
//! | `or-true-l`, `-r` | `(or true ?p) => true`, `(or ?p true) => true` | | idem |
//! | `or-false-l`, `-r` | `(or false ?p) => ?p`, `(or ?p false) => ?p` | | idem |
//! | `not-true`, `not-false`, `not-not` | `(not true) => false`, `(not false) => true`, `(not (not ?p)) => ?p` | | idem |
//!
//! `S` is `(softmax ?v)` or `(idx (softmax ?v) ?i)`. The output rules look
//! through Identity, Flatten and Reshape (they keep the row-major order and
//! the element count); a graph with an empty output is refused.

use axiom_core::graph::{Graph, Op};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use std::fmt;

use crate::check::CheckError;

/// What a replayed chain showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteReport {
    /// The rewrites replayed (the lines after the first).
    pub steps: usize,
    /// The rules used, distinct, in order of first use.
    pub rules: Vec<String>,
}

/// Limits on hostile input: nesting, characters per line and per atom,
/// lines per chain, decimal exponents.
const MAX_DEPTH: usize = 256;
const MAX_LINE_LEN: usize = 1 << 18;
const MAX_ATOM_LEN: usize = 4096;
const MAX_LINES: usize = 1 << 16;
const MAX_EXPONENT: i64 = 400;

/// What a rule requires of the numbers bound to `?c` (and `?d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    /// The graph's output is produced by the rule's activation.
    Output,
    Always,
    AtLeast(i64),
    Above(i64),
    AtMost(i64),
    Below(i64),
    /// `(c <= d) == .0`, `(c < d) == .0`, `(c == d) == .0`.
    Le(bool),
    Lt(bool),
    Eq(bool),
}
use Cond::*;

/// The rules: name, lhs, rhs, condition (see the module docs).
#[rustfmt::skip]
const RULES: &[(&str, &str, &str, Cond)] = &[
    ("output-softmax", "y", "(softmax z)", Output),
    ("output-sigmoid", "y", "(sigmoid z)", Output),
    ("output-tanh", "y", "(tanh z)", Output),
    ("output-relu", "y", "(relu z)", Output),
    ("ge-flip", "(>= ?a ?b)", "(<= ?b ?a)", Always),
    ("gt-flip", "(> ?a ?b)", "(< ?b ?a)", Always),
    ("in-split", "(in ?a ?l ?h)", "(and (<= ?l ?a) (<= ?a ?h))", Always),
    ("in-open-split", "(in_open ?a ?l ?h)", "(and (< ?l ?a) (< ?a ?h))", Always),
    ("idx-sigmoid", "(idx (sigmoid ?v) ?i)", "(sigmoid (idx ?v ?i))", Always),
    ("idx-tanh", "(idx (tanh ?v) ?i)", "(tanh (idx ?v ?i))", Always),
    ("idx-relu", "(idx (relu ?v) ?i)", "(relu (idx ?v ?i))", Always),
    ("softmax-sum", "(sum (softmax ?v))", "1", Always),
    ("softmax-upper-le", "(<= (softmax ?v) ?c)", "true", AtLeast(1)),
    ("softmax-upper-lt", "(< (softmax ?v) ?c)", "true", Above(1)),
    ("softmax-lower-le", "(<= ?c (softmax ?v))", "true", AtMost(0)),
    ("softmax-lower-lt", "(< ?c (softmax ?v))", "true", Below(0)),
    ("softmax-idx-upper-le", "(<= (idx (softmax ?v) ?i) ?c)", "true", AtLeast(1)),
    ("softmax-idx-upper-lt", "(< (idx (softmax ?v) ?i) ?c)", "true", Above(1)),
    ("softmax-idx-lower-le", "(<= ?c (idx (softmax ?v) ?i))", "true", AtMost(0)),
    ("softmax-idx-lower-lt", "(< ?c (idx (softmax ?v) ?i))", "true", Below(0)),
    ("sigmoid-upper-le", "(<= (sigmoid ?a) ?c)", "true", AtLeast(1)),
    ("sigmoid-upper-lt", "(< (sigmoid ?a) ?c)", "true", AtLeast(1)),
    ("sigmoid-lower-le", "(<= ?c (sigmoid ?a))", "true", AtMost(0)),
    ("sigmoid-lower-lt", "(< ?c (sigmoid ?a))", "true", AtMost(0)),
    ("tanh-upper-le", "(<= (tanh ?a) ?c)", "true", AtLeast(1)),
    ("tanh-upper-lt", "(< (tanh ?a) ?c)", "true", Above(1)),
    ("tanh-lower-le", "(<= ?c (tanh ?a))", "true", AtMost(-1)),
    ("tanh-lower-lt", "(< ?c (tanh ?a))", "true", Below(-1)),
    ("relu-lower-le", "(<= ?c (relu ?a))", "true", AtMost(0)),
    ("relu-lower-lt", "(< ?c (relu ?a))", "true", Below(0)),
    ("const-le-true", "(<= ?c ?d)", "true", Le(true)),
    ("const-le-false", "(<= ?c ?d)", "false", Le(false)),
    ("const-lt-true", "(< ?c ?d)", "true", Lt(true)),
    ("const-lt-false", "(< ?c ?d)", "false", Lt(false)),
    ("const-eq-true", "(== ?c ?d)", "true", Eq(true)),
    ("const-eq-false", "(== ?c ?d)", "false", Eq(false)),
    ("eq-refl", "(== ?a ?a)", "true", Always),
    ("le-refl", "(<= ?a ?a)", "true", Always),
    ("and-true-l", "(and true ?p)", "?p", Always),
    ("and-true-r", "(and ?p true)", "?p", Always),
    ("and-false-l", "(and false ?p)", "false", Always),
    ("and-false-r", "(and ?p false)", "false", Always),
    ("or-true-l", "(or true ?p)", "true", Always),
    ("or-true-r", "(or ?p true)", "true", Always),
    ("or-false-l", "(or false ?p)", "?p", Always),
    ("or-false-r", "(or ?p false)", "?p", Always),
    ("not-true", "(not true)", "false", Always),
    ("not-false", "(not false)", "true", Always),
    ("not-not", "(not (not ?p))", "?p", Always),
];

/// The names of the rules this checker accepts.
pub fn rule_names() -> Vec<&'static str> {
    RULES.iter().map(|r| r.0).collect()
}

/// An s-expression; number atoms are exact rationals (compared by value).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Num(BigRational),
    Sym(String),
    List(Vec<Term>),
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Num(q) => write!(f, "{q}"),
            Term::Sym(s) => f.write_str(s),
            Term::List(items) => {
                f.write_str("(")?;
                for (i, t) in items.iter().enumerate() {
                    write!(f, "{}{t}", if i > 0 { " " } else { "" })?;
                }
                f.write_str(")")
            }
        }
    }
}

/// A term as an error message shows it (clipped).
fn clip(t: &Term) -> String {
    let s = t.to_string();
    match s.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// An exact number: `[+-]digits/digits` or `[+-]digits[.digits][e[+-]digits]`.
fn number(s: &str) -> Option<BigRational> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let value = if let Some((n, d)) = body.split_once('/') {
        if !digits(n) || !digits(d) {
            return None;
        }
        let d: BigInt = d.parse().ok().filter(|d: &BigInt| !d.is_zero())?;
        BigRational::new(n.parse().ok()?, d)
    } else {
        let (mantissa, exp) = match body.split_once(['e', 'E']) {
            Some((m, e)) => {
                let ed = e.strip_prefix(['-', '+']).unwrap_or(e);
                let v: i64 = ed.parse().ok().filter(|_| digits(ed) && ed.len() <= 6)?;
                (m, if e.starts_with('-') { -v } else { v })
            }
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let ok_int = digits(int) || (int.is_empty() && digits(frac));
        if !ok_int || !(frac.is_empty() || digits(frac)) {
            return None;
        }
        let all: BigInt = format!("{int}{frac}").parse().ok()?;
        let exp = exp - i64::try_from(frac.len()).ok()?;
        if exp.abs() > MAX_EXPONENT {
            return None;
        }
        let p = BigInt::from(10).pow(u32::try_from(exp.unsigned_abs()).ok()?);
        if exp >= 0 {
            BigRational::from_integer(all * p)
        } else {
            BigRational::new(all, p)
        }
    };
    Some(if neg { -value } else { value })
}

/// Parses one s-expression, iteratively, within the limits.
fn parse(src: &str) -> Result<Term, String> {
    if src.len() > MAX_LINE_LEN {
        return Err(format!("longer than {MAX_LINE_LEN} characters"));
    }
    let mut stack: Vec<Vec<Term>> = vec![Vec::new()];
    let mut rest = src.trim_start();
    while let Some(c) = rest.chars().next() {
        let (item, len) = match c {
            '(' if stack.len() > MAX_DEPTH => {
                return Err(format!("nested deeper than {MAX_DEPTH}"))
            }
            '(' => {
                stack.push(Vec::new());
                rest = rest[1..].trim_start();
                continue;
            }
            ')' if stack.len() < 2 => return Err("unbalanced ')'".into()),
            ')' => (Term::List(stack.pop().unwrap_or_default()), 1),
            _ => {
                let end = rest.find(['(', ')']).unwrap_or(rest.len());
                let end = rest[..end].find(char::is_whitespace).unwrap_or(end);
                let atom = &rest[..end];
                if atom.len() > MAX_ATOM_LEN {
                    return Err(format!("an atom longer than {MAX_ATOM_LEN} characters"));
                }
                let t = number(atom).map_or_else(|| Term::Sym(atom.to_string()), Term::Num);
                (t, end)
            }
        };
        if let Some(top) = stack.last_mut() {
            top.push(item);
        }
        rest = rest[len..].trim_start();
    }
    match stack.as_mut_slice() {
        [top] if top.len() == 1 => Ok(top.pop().unwrap_or(Term::Sym(String::new()))),
        [top] => Err(format!("expected one expression, found {}", top.len())),
        _ => Err("unbalanced '(': a list is not closed".into()),
    }
}

/// The type of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Scalar,
    Vector,
}

impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ty::Bool => "proposition",
            Ty::Scalar => "scalar",
            Ty::Vector => "vector",
        })
    }
}

/// The typing context: the output's element count, whether `z` is defined,
/// whether indices must be literals (in the goal).
#[derive(Clone, Copy)]
struct Ctx {
    n: usize,
    z: bool,
    literal_idx: bool,
}

impl Ctx {
    fn ty(&self, t: &Term) -> Result<Ty, String> {
        use Ty::*;
        let (head, args) = match t {
            Term::Num(_) => return Ok(Scalar),
            Term::Sym(s) => {
                return match s.as_str() {
                    "true" | "false" => Ok(Bool),
                    "y" => Ok(Vector),
                    "z" if self.z => Ok(Vector),
                    "z" => Err("'z' is used but the output has no recognised activation".into()),
                    _ => Err(format!("unknown symbol '{s}'")),
                };
            }
            Term::List(items) => match items.split_first() {
                Some((Term::Sym(head), args)) => (head.as_str(), args),
                _ => return Err("a list must start with an operator name".into()),
            },
        };
        if head == "idx" {
            let [v, i] = args else {
                return Err("'idx' takes a vector and an index".into());
            };
            let n = BigRational::from_integer(self.n.into());
            match i {
                Term::Num(i) if !(i.is_integer() && !i.is_negative() && *i < n) => {
                    return Err(format!(
                        "index {i} is out of range (the output has {n} elements)"
                    ))
                }
                Term::Num(_) => {}
                _ if self.literal_idx => {
                    return Err("an index of the goal must be an integer literal".into())
                }
                _ if self.ty(i)? != Scalar => return Err("'idx' needs a scalar index".into()),
                _ => {}
            }
            return match self.ty(v)? {
                Vector => Ok(Scalar),
                other => Err(format!("'idx' of a {other}")),
            };
        }
        let tys = args
            .iter()
            .map(|a| self.ty(a))
            .collect::<Result<Vec<_>, _>>()?;
        match (head, tys.as_slice()) {
            ("sum", [Vector]) => Ok(Scalar),
            ("softmax", [Vector]) => Ok(Vector),
            ("sigmoid" | "tanh" | "relu", [a]) if *a != Bool => Ok(*a),
            ("<=" | "<" | ">=" | ">" | "==", [a, b]) if *a != Bool && *b != Bool => Ok(Bool),
            ("in" | "in_open", [a, Scalar, Scalar]) if *a != Bool => Ok(Bool),
            ("and" | "or", [Bool, Bool]) | ("not", [Bool]) => Ok(Bool),
            _ => Err(format!(
                "'{head}' does not take arguments of types ({})",
                tys.iter().map(Ty::to_string).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// Parses a line, removes its rewrite markers and type-checks the term.
    fn read(&self, line: &str) -> Result<(Term, Vec<Mark>), String> {
        let mut marks = Vec::new();
        let term = strip(parse(line)?, &mut Vec::new(), &mut marks)?;
        match self.ty(&term)? {
            Ty::Bool => Ok((term, marks)),
            other => Err(format!("a {other} where a proposition is expected")),
        }
    }
}

/// A rewrite marker: its position, rule name and direction (`=>`: true).
type Mark = (Vec<usize>, String, bool);

fn strip(t: Term, path: &mut Vec<usize>, marks: &mut Vec<Mark>) -> Result<Term, String> {
    let Term::List(mut items) = t else {
        return Ok(t);
    };
    let forward = match items.first() {
        Some(Term::Sym(h)) if h == "Rewrite=>" => Some(true),
        Some(Term::Sym(h)) if h == "Rewrite<=" => Some(false),
        _ => None,
    };
    if let Some(forward) = forward {
        let inner = items.pop();
        return match (items.as_slice(), inner) {
            ([_, Term::Sym(rule)], Some(inner)) => {
                marks.push((path.clone(), rule.clone(), forward));
                strip(inner, path, marks)
            }
            _ => Err("a malformed rewrite marker".into()),
        };
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        path.push(i);
        out.push(strip(item, path, marks)?);
        path.pop();
    }
    Ok(Term::List(out))
}

/// The subterms of `a` and `b` at `path`, when they agree everywhere else.
fn differ_at<'a>(a: &'a Term, b: &'a Term, path: &[usize]) -> Option<(&'a Term, &'a Term)> {
    let Some((&i, rest)) = path.split_first() else {
        return Some((a, b));
    };
    match (a, b) {
        (Term::List(x), Term::List(y)) if x.len() == y.len() && i < x.len() => {
            let same = x
                .iter()
                .zip(y)
                .enumerate()
                .all(|(j, (p, q))| j == i || p == q);
            same.then(|| differ_at(&x[i], &y[i], rest))?
        }
        _ => None,
    }
}

/// Matches `pat` against `t`, binding `?` variables consistently.
fn bind<'a>(pat: &'a Term, t: &'a Term, env: &mut Vec<(&'a str, &'a Term)>) -> bool {
    match (pat, t) {
        (Term::Sym(v), _) if v.starts_with('?') => match env.iter().find(|(k, _)| k == v) {
            Some((_, bound)) => *bound == t,
            None => {
                env.push((v, t));
                true
            }
        },
        (Term::List(ps), Term::List(ts)) => {
            ps.len() == ts.len() && ps.iter().zip(ts).all(|(p, t)| bind(p, t, env))
        }
        _ => pat == t,
    }
}

/// Whether the rule `(lhs, rhs, cond)` rewrites `from` into `to`. Every
/// variable of a rule's rhs occurs in its lhs, so matching the rhs against
/// `to` with the lhs's bindings checks `to` is the instantiated rhs.
fn rewrites(lhs: &str, rhs: &str, cond: Cond, from: &Term, to: &Term) -> Result<bool, String> {
    let (lhs, rhs) = (parse(lhs)?, parse(rhs)?);
    let mut env = Vec::new();
    if !bind(&lhs, from, &mut env) {
        return Ok(false);
    }
    let num = |v: &str| match env.iter().find(|(k, _)| *k == v) {
        Some((_, Term::Num(q))) => Some(q.clone()),
        _ => None,
    };
    let k = |i: i64| BigRational::from_integer(i.into());
    let holds = match (cond, num("?c"), num("?d")) {
        (Output | Always, _, _) => true,
        (AtLeast(i), Some(c), _) => c >= k(i),
        (Above(i), Some(c), _) => c > k(i),
        (AtMost(i), Some(c), _) => c <= k(i),
        (Below(i), Some(c), _) => c < k(i),
        (Le(want), Some(c), Some(d)) => (c <= d) == want,
        (Lt(want), Some(c), Some(d)) => (c < d) == want,
        (Eq(want), Some(c), Some(d)) => (c == d) == want,
        _ => false,
    };
    Ok(holds && bind(&rhs, to, &mut env))
}

/// The output rule the graph allows: the op producing the output, looking
/// through Identity/Flatten/Reshape (same element order and count); a
/// Softmax only when its axis spans all elements of its input.
///
/// A Sum or Concat of computed values (the graph may be a DAG) is no
/// activation: an output made by one allows no output rule (a node that
/// reads several values is refused before its op is looked at). The
/// activation's own input may be any earlier value: `z` is that value.
fn output_rule(graph: &Graph, shapes: &[Vec<usize>], n: usize) -> Option<&'static str> {
    let mut v = graph.output;
    loop {
        let node = graph.nodes.get(v.checked_sub(1)?)?;
        let &[input] = node.inputs.as_slice() else {
            return None;
        };
        let shape = shapes.get(input)?;
        if input >= v || shape.iter().product::<usize>() != n {
            return None;
        }
        match &node.op {
            Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => v = input,
            Op::Sigmoid => return Some("output-sigmoid"),
            Op::Tanh => return Some("output-tanh"),
            Op::Relu => return Some("output-relu"),
            Op::Softmax { axis } => {
                return (shape.get(*axis) == Some(&n)).then_some("output-softmax")
            }
            Op::Sum | Op::Concat { .. } => return None,
            _ => return None,
        }
    }
}

/// Replays one line after `prev`: its term and the rule it used.
fn step(
    cx: &Ctx,
    output: Option<&str>,
    prev: &Term,
    line: &str,
) -> Result<(Term, &'static str), String> {
    let (cur, marks) = cx.read(line)?;
    let [(path, name, forward)] = marks.as_slice() else {
        return Err(format!(
            "{} rewrite markers, expected exactly one",
            marks.len()
        ));
    };
    let (old, new) = differ_at(prev, &cur, path)
        .ok_or("the term differs from the previous line outside the rewritten position")?;
    let &(rule, lhs, rhs, cond) = RULES
        .iter()
        .find(|r| r.0 == name)
        .ok_or_else(|| format!("unknown rule '{name}'"))?;
    if cond == Output && output != Some(rule) {
        return Err(format!(
            "'{rule}' does not hold: the graph's output is not produced by that op"
        ));
    }
    let (from, to, dir) = if *forward {
        (old, new, "=>")
    } else {
        (new, old, "<=")
    };
    if !rewrites(lhs, rhs, cond, from, to)? {
        return Err(format!(
            "'{rule}' does not rewrite {} into {} (direction {dir})",
            clip(from),
            clip(to)
        ));
    }
    Ok((cur, rule))
}

/// Replays `chain` (egg's flat explanation) from `goal` to `true` about the output of `graph`.
pub fn check_rewrite_chain(
    graph: &Graph,
    goal: &str,
    chain: &[String],
) -> Result<RewriteReport, CheckError> {
    let fail = |place: &str, reason: String| CheckError {
        place: place.into(),
        reason,
    };
    let shapes = graph
        .validate()
        .and_then(|()| graph.infer_shapes())
        .map_err(|e| fail("model", e.to_string()))?;
    let n: usize = shapes
        .get(graph.output)
        .ok_or_else(|| fail("model", "the output is not a value".into()))?
        .iter()
        .product();
    if n == 0 {
        return Err(fail("model", "the output has no elements".into()));
    }
    let output = output_rule(graph, &shapes, n);
    let cx = Ctx {
        n,
        z: output.is_some(),
        literal_idx: false,
    };
    let goal_cx = Ctx {
        literal_idx: true,
        ..cx
    };
    let (goal, _) = goal_cx
        .read(goal)
        .and_then(|(t, marks)| match marks.len() {
            0 => Ok((t, marks)),
            _ => Err("the goal carries a rewrite marker".into()),
        })
        .map_err(|e| fail("rewrite goal", e))?;
    let Some((first, rest)) = chain.split_first() else {
        return Err(fail("rewrite chain", "the chain is empty".into()));
    };
    if chain.len() > MAX_LINES {
        return Err(fail(
            "rewrite chain",
            format!("more than {MAX_LINES} lines"),
        ));
    }
    let place = |i: usize| format!("rewrite chain, line {}", i + 1);
    let (mut prev, marks) = cx.read(first).map_err(|e| fail(&place(0), e))?;
    if !marks.is_empty() {
        return Err(fail(
            &place(0),
            "the first line carries a rewrite marker".into(),
        ));
    }
    if prev != goal {
        return Err(fail(
            &place(0),
            format!("the first line is not the goal {}", clip(&goal)),
        ));
    }
    let mut rules: Vec<String> = Vec::new();
    for (i, line) in rest.iter().enumerate() {
        let (cur, rule) = step(&cx, output, &prev, line).map_err(|e| fail(&place(i + 1), e))?;
        if !rules.iter().any(|r| r == rule) {
            rules.push(rule.to_string());
        }
        prev = cur;
    }
    if prev != Term::Sym("true".into()) {
        return Err(fail(
            &place(chain.len() - 1),
            format!("the chain ends in {}, not true", clip(&prev)),
        ));
    }
    Ok(RewriteReport {
        steps: rest.len(),
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axiom_core::graph::GraphBuilder;
    use ndarray::arr2;

    /// `x[1,2] -> Gemm[3] -> op` (or no op).
    fn graph(op: Option<Op>) -> Graph {
        let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
        let w = arr2(&[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
        let mut v = b.push(
            "fc",
            Op::Gemm {
                weight: w,
                bias: None,
            },
            0,
        );
        if let Some(op) = op {
            v = b.push("act", op, v);
        }
        b.finish(v).expect("valid graph")
    }

    fn lines(ls: &[&str]) -> Vec<String> {
        ls.iter().map(|s| s.to_string()).collect()
    }

    const SUM_GOAL: &str = "(== (sum y) 1)";
    const SUM: &[&str] = &[
        "(== (sum y) 1)",
        "(== (sum (Rewrite=> output-softmax (softmax z))) 1)",
        "(== (Rewrite=> softmax-sum 1) 1)",
        "(Rewrite=> const-eq-true true)",
    ];

    #[test]
    fn valid_softmax_chains_replay() {
        let g = graph(Some(Op::Softmax { axis: 1 }));
        let r = check_rewrite_chain(&g, SUM_GOAL, &lines(SUM)).unwrap();
        assert_eq!(r.steps, 3);
        assert_eq!(r.rules, ["output-softmax", "softmax-sum", "const-eq-true"]);
        let chain = lines(&[
            "(in (idx y 2) 0 1)",
            "(Rewrite=> in-split (and (<= 0 (idx y 2)) (<= (idx y 2) 1)))",
            "(and (<= 0 (idx (Rewrite=> output-softmax (softmax z)) 2)) (<= (idx y 2) 1))",
            "(and (Rewrite=> softmax-idx-lower-le true) (<= (idx y 2) 1))",
            "(and true (<= (idx (Rewrite=> output-softmax (softmax z)) 2) 1))",
            "(and true (Rewrite=> softmax-idx-upper-le true))",
            "(Rewrite=> and-true-l true)",
        ]);
        // The goal may spell its numbers differently (0.0, 1e0): compared by value.
        let r = check_rewrite_chain(&g, "(in (idx y 2) 0.0 1e0)", &chain).unwrap();
        assert_eq!(r.steps, 6);
        assert_eq!(r.rules.len(), 5);
        // A backward step: `(>= 1 (idx y 0))` rewritten by ge-flip gives the goal.
        let chain = lines(&[
            "(<= (idx y 0) 1/1)",
            "(Rewrite<= ge-flip (>= 1 (idx y 0)))",
            "(Rewrite=> ge-flip (<= (idx y 0) 1))",
            "(<= (idx (Rewrite=> output-softmax (softmax z)) 0) 1)",
            "(Rewrite=> softmax-idx-upper-le true)",
        ]);
        check_rewrite_chain(&g, "(<= (idx y 0) 1)", &chain).unwrap();
        // egg may rewrite an index into an equal scalar term (here 1 = (sum y)).
        let goal = "(<= (idx (softmax z) 1) (sum y))";
        let chain = lines(&[
            goal,
            "(<= (idx (softmax z) (Rewrite<= softmax-sum (sum (softmax z)))) (sum y))",
            "(<= (idx (softmax z) (sum (Rewrite<= output-softmax y))) (sum y))",
            "(<= (idx (softmax z) (sum y)) (sum (Rewrite=> output-softmax (softmax z))))",
            "(<= (idx (softmax z) (sum y)) (Rewrite=> softmax-sum 1))",
            "(Rewrite=> softmax-idx-upper-le true)",
        ]);
        check_rewrite_chain(&g, goal, &chain).unwrap();
        // ... but the goal's own indices are integer literals.
        let goal = "(<= (idx (softmax z) (sum y)) 1)";
        let chain = lines(&[goal, "(Rewrite=> softmax-idx-upper-le true)"]);
        let e = check_rewrite_chain(&g, goal, &chain).expect_err("non-literal index");
        assert_eq!(e.place, "rewrite goal");
        // Looking through Flatten/Reshape.
        let mut b = GraphBuilder::new("t", "x", vec![1, 3]);
        let s = b.push("sm", Op::Softmax { axis: 1 }, 0);
        let f = b.push("flat", Op::Flatten { axis: 1 }, s);
        let r = b.push("rs", Op::Reshape { shape: vec![3, 1] }, f);
        let g2 = b.finish(r).unwrap();
        check_rewrite_chain(&g2, SUM_GOAL, &lines(SUM)).unwrap();
    }

    fn rejected(g: &Graph, goal: &str, chain: &[&str], why: &str) {
        let e = check_rewrite_chain(g, goal, &lines(chain)).expect_err(why);
        assert!(!e.reason.is_empty() && !e.place.is_empty(), "{why}");
    }

    #[test]
    fn forged_chains_are_rejected() {
        let g = graph(Some(Op::Softmax { axis: 1 }));
        let with = |i: usize, l: &'static str| {
            let mut c = SUM.to_vec();
            c[i] = l;
            c
        };
        rejected(
            &g,
            SUM_GOAL,
            &with(2, "(== (Rewrite=> softmax-sum 2) 1)"),
            "wrong number",
        );
        rejected(
            &g,
            SUM_GOAL,
            &with(3, "(Rewrite=> const-le-true true)"),
            "wrong rule",
        );
        rejected(
            &g,
            SUM_GOAL,
            &with(3, "(Rewrite=> const-eq-truth true)"),
            "unknown rule",
        );
        rejected(
            &g,
            SUM_GOAL,
            &with(3, "(Rewrite<= const-eq-true true)"),
            "wrong direction",
        );
        rejected(
            &g,
            SUM_GOAL,
            &with(2, "(<= (Rewrite=> softmax-sum 1) 1)"),
            "changed context",
        );
        rejected(
            &g,
            SUM_GOAL,
            &with(0, "(== (sum y) 2)"),
            "first line not the goal",
        );
        rejected(
            &g,
            SUM_GOAL,
            &with(0, "(== (sum (Rewrite=> eq-refl y)) 1)"),
            "marked first line",
        );
        rejected(&g, "(== (sum y) 2)", SUM, "goal mismatch");
        rejected(&g, SUM_GOAL, &SUM[..3], "last line not true");
        rejected(&g, SUM_GOAL, &[SUM[0], SUM[2], SUM[3]], "missing step");
        rejected(&g, SUM_GOAL, &[], "empty chain");
        let two = "(Rewrite=> const-eq-true (Rewrite=> const-eq-true true))";
        rejected(&g, SUM_GOAL, &with(3, two), "two markers");
        rejected(&g, SUM_GOAL, &with(3, "true"), "no marker");
        rejected(
            &g,
            SUM_GOAL,
            &with(3, "(Rewrite=> const-eq-true true extra)"),
            "bad marker",
        );
        // The output rule needs the graph's own activation.
        for op in [None, Some(Op::Sigmoid), Some(Op::Softmax { axis: 0 })] {
            rejected(&graph(op), SUM_GOAL, SUM, "output rule of another graph");
        }
        // Conditions are checked exactly on the numbers.
        let half = "(<= (softmax z) 1/2)";
        rejected(
            &g,
            half,
            &[half, "(Rewrite=> softmax-upper-le true)"],
            "c = 1/2 < 1",
        );
        let ok = "(<= (softmax z) 1)";
        check_rewrite_chain(&g, ok, &lines(&[ok, "(Rewrite=> softmax-upper-le true)"])).unwrap();
        let lt = "(< (softmax z) 1)";
        rejected(
            &g,
            lt,
            &[lt, "(Rewrite=> softmax-upper-lt true)"],
            "needs c > 1",
        );
        let c = "(<= 1/3 0.3)";
        rejected(&g, c, &[c, "(Rewrite=> const-le-true true)"], "1/3 > 0.3");
        check_rewrite_chain(&g, c, &lines(&[c, "(Rewrite=> const-le-false false)"]))
            .expect_err("ends in false");
        // Pattern variables bind consistently; indices stay in range.
        let r = "(<= (idx y 0) (idx y 1))";
        rejected(&g, r, &[r, "(Rewrite=> le-refl true)"], "?a bound twice");
        let i = "(<= (idx (softmax z) 3) 1)";
        rejected(
            &g,
            i,
            &[i, "(Rewrite=> softmax-idx-upper-le true)"],
            "index 3 of 3",
        );
        // Ill-typed terms are refused even when a rule would match them.
        let t = "(<= (sigmoid true) 1)";
        rejected(
            &g,
            t,
            &[t, "(Rewrite=> sigmoid-upper-le true)"],
            "sigmoid of a bool",
        );
    }

    #[test]
    fn hostile_input_is_refused_without_panic() {
        let g = graph(Some(Op::Softmax { axis: 1 }));
        let deep = format!("{}true{}", "(not ".repeat(100_000), ")".repeat(100_000));
        let wide = format!("(and {} true)", "true ".repeat(100_000));
        let huge = format!("(<= 1 1{})", "0".repeat(10_000));
        let nested = format!("{}true{}", "(not ".repeat(300), ")".repeat(300));
        for bad in [
            "",
            "(",
            ")",
            "(()",
            "())",
            "()",
            "(== 1)",
            "(<= 1 1) (<= 1 1)",
            "(1 2 3)",
            "(<= 1 1e9999999)",
            "(<= 1 1/0)",
            "(<= ?c 1)",
            "(<= (idx y -1) 1)",
            "(<= (idx y 0.5) 1)",
            "(<= (idx y) 1)",
            "(<= (idx 1 0) 1)",
            "(Rewrite=> x)",
            "((Rewrite=> a b) 1)",
            "(<= z\u{0} 1)",
            "(<= y\u{2003}1))",
            &deep,
            &wide,
            &huge,
            &nested,
        ] {
            assert!(
                check_rewrite_chain(&g, bad, &lines(&[bad, "true"])).is_err(),
                "{bad:.40}"
            );
            assert!(check_rewrite_chain(&g, SUM_GOAL, &lines(&[SUM_GOAL, bad])).is_err());
        }
        // Just within the depth limit: replayed, no stack overflow.
        let n = |k: usize| format!("{}true{}", "(not ".repeat(k), ")".repeat(k));
        let mut chain = vec![n(250)];
        chain.extend(
            (0..250)
                .step_by(2)
                .rev()
                .map(|k| format!("(Rewrite=> not-not {})", n(k))),
        );
        assert_eq!(
            check_rewrite_chain(&g, &n(250), &chain).map(|r| r.steps),
            Ok(125)
        );
        // `z` only where the checker recognises the output activation.
        let z = "(<= (sigmoid (idx z 0)) 1)";
        let chain = [z, "(Rewrite=> sigmoid-upper-le true)"];
        check_rewrite_chain(&g, z, &lines(&chain)).unwrap();
        rejected(&graph(None), z, &chain, "no z without an activation");
    }

    #[test]
    fn dag_outputs_get_an_output_rule_only_from_an_activation() {
        // x[1,2] -> fc -> relu -> Sum(relu, x) [-> relu | concat(x)].
        let dag = |tail: &str| {
            let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
            let w = arr2(&[[1.0, 0.0], [0.0, 1.0]]);
            let h = b.push(
                "fc",
                Op::Gemm {
                    weight: w,
                    bias: None,
                },
                0,
            );
            let a = b.push("relu", Op::Relu, h);
            let s = b.push_inputs("sum", Op::Sum, vec![a, 0], "s");
            let out = match tail {
                "relu" => b.push("out", Op::Relu, s),
                "concat" => b.push_inputs("cat", Op::Concat { axis: 1 }, vec![s, 0], "c"),
                "concat1" => b.push_inputs("cat", Op::Concat { axis: 1 }, vec![a], "c"),
                _ => s,
            };
            b.finish(out).expect("valid graph")
        };
        let goal = "(<= 0 (idx y 1))";
        let relu_chain = [
            goal,
            "(<= 0 (idx (Rewrite=> output-relu (relu z)) 1))",
            "(<= 0 (Rewrite=> idx-relu (relu (idx z 1))))",
            "(Rewrite=> relu-lower-le true)",
        ];
        // A ReLU after a residual Sum: y = relu(z), z the Sum's output.
        check_rewrite_chain(&dag("relu"), goal, &lines(&relu_chain)).unwrap();
        // A Sum or a Concat at the output is no activation (and a Concat of
        // one value is not looked through): refused, no panic.
        for tail in ["sum", "concat", "concat1"] {
            let e = check_rewrite_chain(&dag(tail), goal, &lines(&relu_chain))
                .expect_err("no output rule");
            assert_eq!(e.place, "rewrite chain, line 2", "{tail}: {e}");
            assert!(e.reason.contains("no recognised activation"), "{tail}: {e}");
            // Rules that do not look at the graph still replay.
            let c = "(<= 1/3 1/2)";
            check_rewrite_chain(
                &dag(tail),
                c,
                &lines(&[c, "(Rewrite=> const-le-true true)"]),
            )
            .unwrap();
        }
    }

    #[test]
    fn numbers_are_exact() {
        let q = |a: i64, b: i64| Some(BigRational::new(a.into(), b.into()));
        assert_eq!(number("0.5"), q(1, 2));
        assert_eq!(number("-2"), q(-2, 1));
        assert_eq!(number("+1e-3"), q(1, 1000));
        assert_eq!(number("2.5E2"), q(250, 1));
        assert_eq!(number("-1/3"), q(-1, 3));
        assert_eq!(number(".25"), q(1, 4));
        assert_eq!(number("2/4"), q(1, 2));
        for bad in [
            "", "-", "1/0", "1/-2", "--1", "1.2.3", "1e", "e5", "nan", "inf", "1_0", "1e401", "0x1",
        ] {
            assert_eq!(number(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_rule_table_is_well_formed() {
        let names = rule_names();
        assert_eq!(names.len(), 49);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "names are unique");
        fn vars<'a>(t: &'a Term, out: &mut Vec<&'a str>) {
            match t {
                Term::Sym(s) if s.starts_with('?') => out.push(s),
                Term::List(items) => items.iter().for_each(|i| vars(i, out)),
                _ => {}
            }
        }
        for &(name, lhs, rhs, cond) in RULES {
            let (mut l, mut r) = (Vec::new(), Vec::new());
            let (lt, rt) = (parse(lhs).unwrap(), parse(rhs).unwrap());
            vars(&lt, &mut l);
            vars(&rt, &mut r);
            assert!(
                r.iter().all(|v| l.contains(v)),
                "{name}: rhs variables are bound by the lhs"
            );
            let numeric = !matches!(cond, Output | Always);
            assert_eq!(numeric, l.contains(&"?c"), "{name}: a condition iff ?c");
            assert_eq!(
                matches!(cond, Le(_) | Lt(_) | Eq(_)),
                l.contains(&"?d"),
                "{name}"
            );
            assert_eq!(cond == Output, name.starts_with("output-"), "{name}");
        }
    }
}
