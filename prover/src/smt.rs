//! An exact, complete SMT encoding of one sub-problem, decided by Z3.
//!
//! A [`SmtQuery`] asks: is there an input `x` in the box (and meeting the
//! input constraints) whose output `y = f(x)` meets one output conjunction?
//! [`solve`] answers with Z3 over linear real arithmetic, [`to_smtlib`] prints
//! the same encoding as an SMT-LIB 2 script (kept as evidence; `z3 -in`
//! accepts it).
//!
//! # Encoding
//!
//! - one real variable per input `x_i`, with the box asserted as
//!   `lower_i <= x_i <= upper_i`;
//! - for every [`Layer::Linear`], one variable per output and the equality
//!   `n = sum(w * v) + b`, with `w` and `b` the exact rationals of the f64
//!   weights (every f64 is a dyadic rational; nothing is rounded);
//! - for every ReLU, one variable `a` per neuron with pre-activation `z`:
//!   `(z >= 0 and a = z) or (z <= 0 and a = 0)`, or, when the bounds fix the
//!   neuron, `a = z` (lower bound `>= 0`) or `a = 0` (upper bound `<= 0`);
//! - the pre-activation bounds themselves (`lo <= z <= hi`) and, for neurons
//!   that are split, the valid cuts `a >= 0`, `a >= z` and the triangle
//!   `a <= hi (z - lo) / (hi - lo)`, which only help the solver;
//! - the input constraints and the output conjunction, exactly as given.
//!
//! The pre-activation bounds are the intersection of the caller's
//! [`SmtQuery::relu_bounds`] (which must be sound: the encoding is exact only
//! relative to them) with interval bounds the encoder computes itself, in
//! exact rational arithmetic rounded outward to f64 after every layer.
//!
//! Sigmoid and Tanh are not piecewise linear; [`solve`] answers
//! [`SmtOutcome::Unknown`] for them (see [`REASON_S_SHAPED`]).
//!
//! A BatchNorm `a = k (z - m) + β` whose factor `k` is only enclosed,
//! `k ∈ [k_lo, k_hi]` (see [`Layer::BatchNorm`]), is encoded by what the
//! enclosure implies: with bounds `l <= z <= h`, the two inequalities
//! `k_lo (z - m) + d min(l - m, 0) <= a - β <= k_lo (z - m) + d max(h - m, 0)`,
//! `d = k_hi - k_lo` (no case split); without bounds (they overflowed), `a`
//! is left free. Every point of the network
//! satisfies it, so `unsat` is still a proof; a `sat` point may miss the
//! property by the enclosure's width (an ulp or two of `k`), which the
//! caller's exact re-check of every point catches. A factor that is exactly
//! an f64 (`k_lo == k_hi`) is encoded as the equality.
//!
//! ```
//! use axiom_prover::network::{Layer, Network};
//! use axiom_prover::smt::{solve, SmtOutcome, SmtQuery};
//! use ndarray::{arr1, arr2};
//!
//! // y = relu(x) on x in [-1, 1]; is y <= -1/2 possible? No.
//! let net = Network::chain(
//!     1,
//!     vec![Layer::Linear { w: arr2(&[[1.0]]), b: arr1(&[0.0]) }, Layer::Relu],
//! );
//! let out = axiom_core::vnnlib::parse(
//!     "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n\
//!      (assert (>= X_0 -1))\n(assert (<= X_0 1))\n(assert (<= Y_0 -0.5))",
//! )
//! .unwrap();
//! let query = SmtQuery {
//!     net: &net,
//!     lower: &[-1.0],
//!     upper: &[1.0],
//!     input_constraints: &[],
//!     disjunct: &out.cases[0].output[0],
//!     relu_bounds: None,
//! };
//! assert_eq!(solve(&query, None, None), SmtOutcome::Unsat);
//! assert!(axiom_prover::smt::to_smtlib(&query).contains("(check-sat)"));
//! ```

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axiom_core::spec::{format_rational, parse_decimal, Constraint, Var};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use z3::ast::{Bool, Real};
use z3::{Context, Params, SatResult, Solver};

use crate::network::{Layer, Network};
use crate::problem::{exact, rational_down, rational_up};

/// The reason [`solve`] gives when its time limit ran out.
pub const REASON_TIMEOUT: &str = "timeout";
/// The reason [`solve`] gives when its cancel flag was raised.
pub const REASON_INTERRUPTED: &str = "interrupted";
/// The reason [`solve`] gives for networks with Sigmoid or Tanh layers.
pub const REASON_S_SHAPED: &str = "S-shaped activations are not encoded exactly";

/// How often the watcher thread of [`solve`] looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// The outcome of one SMT query.
#[derive(Debug, Clone, PartialEq)]
pub enum SmtOutcome {
    /// No input of the region reaches the output conjunction (exactly, given
    /// sound [`SmtQuery::relu_bounds`]).
    Unsat,
    /// Z3 found an input reaching the output conjunction; each coordinate is
    /// the f64 nearest Z3's exact rational value (so it stays inside the
    /// f64 box). The rounding can move the point off a thin input constraint
    /// or across an output threshold: the caller re-executes the network and
    /// re-checks the point (e.g. with
    /// [`recheck_counterexample`](crate::problem::recheck_counterexample))
    /// before reporting it.
    Sat(Vec<f64>),
    /// No answer; the reason is [`REASON_TIMEOUT`], [`REASON_INTERRUPTED`],
    /// [`REASON_S_SHAPED`], or a sentence (an ill-formed query, Z3's own
    /// reason for `unknown`).
    Unknown(String),
}

/// One sub-problem: a region of inputs and one output conjunction.
#[derive(Debug, Clone, Copy)]
pub struct SmtQuery<'a> {
    /// The network.
    pub net: &'a Network,
    /// The input box's lower corner (exact f64 values, finite).
    pub lower: &'a [f64],
    /// The input box's upper corner (exact f64 values, finite).
    pub upper: &'a [f64],
    /// Extra input constraints (over `X` variables), exact.
    pub input_constraints: &'a [Constraint],
    /// The output conjunction (over `Y` variables), exact.
    pub disjunct: &'a [Constraint],
    /// Optional sound bounds on the pre-activations of every activation
    /// layer: entry `k` belongs to `net.layers[k]` (entries of other layers
    /// are ignored) and holds per-neuron `(lower, upper)`. Neurons with
    /// `lower >= 0` are encoded as active, `upper <= 0` as inactive, the
    /// others get a case split; the bounds are asserted too. Non-finite
    /// entries, and entries of the wrong length, are ignored.
    pub relu_bounds: Option<&'a [(Vec<f64>, Vec<f64>)]>,
}

/// Decides the query with Z3.
///
/// `timeout` bounds the whole call (encoding included; Z3 gets what is left
/// as its `timeout` parameter). When `cancel` is given, a watcher thread
/// polls it every 10 ms and interrupts Z3 once it is set; the watcher ends
/// before `solve` returns. Every call uses a fresh Z3 context, so concurrent
/// calls from several threads do not interfere.
pub fn solve(
    query: &SmtQuery,
    timeout: Option<Duration>,
    cancel: Option<&AtomicBool>,
) -> SmtOutcome {
    let start = Instant::now();
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    if cancelled() {
        return SmtOutcome::Unknown(REASON_INTERRUPTED.into());
    }
    let encoding = match encode(query, false) {
        Ok(e) => e,
        Err(reason) => return SmtOutcome::Unknown(reason),
    };
    if cancelled() {
        return SmtOutcome::Unknown(REASON_INTERRUPTED.into());
    }
    let remaining = match timeout {
        None => None,
        Some(t) => match t.checked_sub(start.elapsed()) {
            Some(r) if !r.is_zero() => Some(r),
            _ => return SmtOutcome::Unknown(REASON_TIMEOUT.into()),
        },
    };
    // A fresh context per call: an interrupt leaves a Z3 context cancelled
    // for good, and contexts are not shared between threads.
    let config = z3::Config::new();
    z3::with_z3_config(&config, || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(&encoding, remaining, cancel)
        }))
        .unwrap_or_else(|_| {
            SmtOutcome::Unknown("the Z3 bindings failed (panicked) on this query".into())
        })
    })
}

/// The version of the Z3 library this process runs (for certificates).
pub fn z3_version() -> String {
    z3::full_version().to_string()
}

/// The encoding [`solve`] decides, as an SMT-LIB 2 script (`declare-fun`,
/// `assert`, `check-sat`); `z3 -in` answers `sat` or `unsat` on it.
///
/// For an ill-formed query (see [`SmtOutcome::Unknown`]) the script says why
/// in comments and asserts nothing, so its answer, `sat`, proves nothing.
/// For Sigmoid and Tanh layers, which [`solve`] refuses, the script replaces
/// each activation by its range (`[0, 1]`, `[-1, 1]`): an over-approximation,
/// so `unsat` on it is still a proof but `sat` is not a counterexample; the
/// header says so.
pub fn to_smtlib(query: &SmtQuery) -> String {
    let mut out = String::new();
    out.push_str("; Axiom: exact SMT encoding of one sub-problem (linear real arithmetic)\n");
    let encoding = match encode(query, true) {
        Ok(e) => e,
        Err(reason) => {
            for line in reason.lines() {
                let _ = writeln!(out, "; cannot encode: {line}");
            }
            out.push_str("; nothing is asserted: the answer `sat` below proves nothing\n(assert true)\n(check-sat)\n");
            return out;
        }
    };
    if encoding.relaxed {
        out.push_str(
            "; OVER-APPROXIMATION: Sigmoid/Tanh outputs are only bounded by their range;\n\
             ; `unsat` proves the sub-problem, `sat` is not a counterexample\n",
        );
    }
    if encoding.enclosed {
        out.push_str(
            "; BatchNorm factors scale / sqrt(var + eps) are irrational: each is encoded by an\n\
             ; exactly checked enclosure [k_lo, k_hi]; `unsat` proves the sub-problem, a `sat`\n\
             ; point must be re-checked\n",
        );
    }
    let inputs: Vec<&str> = encoding
        .inputs
        .iter()
        .map(|&v| encoding.names[v].as_str())
        .collect();
    let outputs: Vec<&str> = encoding
        .outputs
        .iter()
        .map(|&v| encoding.names[v].as_str())
        .collect();
    let _ = writeln!(out, "; inputs X_0.. are {}", inputs.join(" "));
    let _ = writeln!(out, "; outputs Y_0.. are {}", outputs.join(" "));
    let _ = writeln!(
        out,
        "; ReLU neurons: {} fixed active, {} fixed inactive, {} split",
        encoding.fixed_active, encoding.fixed_inactive, encoding.split
    );
    out.push_str("(set-logic QF_LRA)\n");
    for name in &encoding.names {
        let _ = writeln!(out, "(declare-fun {name} () Real)");
    }
    for f in &encoding.assertions {
        out.push_str("(assert ");
        write_formula(&mut out, f, &encoding.names);
        out.push_str(")\n");
    }
    out.push_str("(check-sat)\n");
    out
}

// ---------------------------------------------------------------------------
// The encoding, independent of the back end.

/// `sum(c * v) + constant` over the encoding's variables.
#[derive(Debug, Clone, PartialEq)]
struct Lin {
    terms: Vec<(BigRational, usize)>,
    constant: BigRational,
}

impl Lin {
    fn var(v: usize) -> Lin {
        Lin {
            terms: vec![(BigRational::one(), v)],
            constant: BigRational::zero(),
        }
    }

    fn constant(q: BigRational) -> Lin {
        Lin {
            terms: Vec::new(),
            constant: q,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Le,
    Lt,
    Ge,
    Eq,
}

#[derive(Debug, Clone, PartialEq)]
enum Formula {
    Atom(Lin, Rel, Lin),
    And(Vec<Formula>),
    Or(Vec<Formula>),
}

impl Formula {
    fn var_rel(v: usize, rel: Rel, q: BigRational) -> Formula {
        Formula::Atom(Lin::var(v), rel, Lin::constant(q))
    }

    fn var_eq(a: usize, b: usize) -> Formula {
        Formula::Atom(Lin::var(a), Rel::Eq, Lin::var(b))
    }
}

/// Variables, assertions, and what the printer and the solver need to know.
#[derive(Debug, Clone)]
struct Encoding {
    names: Vec<String>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    assertions: Vec<Formula>,
    /// Whether S-shaped activations were replaced by their range.
    relaxed: bool,
    /// Whether some BatchNorm factor is only enclosed.
    enclosed: bool,
    fixed_active: usize,
    fixed_inactive: usize,
    split: usize,
}

/// An interval of f64 bounds; `None` is unbounded.
type Bound = (Option<f64>, Option<f64>);

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Builds the encoding; `relax_s_shaped` replaces Sigmoid/Tanh by their range
/// instead of refusing them.
fn encode(query: &SmtQuery, relax_s_shaped: bool) -> Result<Encoding, String> {
    let net = query.net;
    let n_in = net.input_dim;
    if query.lower.len() != n_in || query.upper.len() != n_in {
        return Err(format!(
            "the input box has {} lower and {} upper bounds, the network {n_in} inputs",
            query.lower.len(),
            query.upper.len()
        ));
    }
    if let Some(i) = (0..n_in).find(|&i| !query.lower[i].is_finite() || !query.upper[i].is_finite())
    {
        return Err(format!("the input box is not finite at X_{i}"));
    }
    let s_shaped = |l: &Layer| matches!(l, Layer::Sigmoid | Layer::Tanh);
    if !relax_s_shaped && net.layers.iter().any(s_shaped) {
        return Err(REASON_S_SHAPED.into());
    }
    let mut enc = Encoding {
        names: Vec::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        assertions: Vec::new(),
        relaxed: false,
        enclosed: false,
        fixed_active: 0,
        fixed_inactive: 0,
        split: 0,
    };
    let mut cur: Vec<usize> = Vec::with_capacity(n_in);
    let mut bounds: Vec<Bound> = Vec::with_capacity(n_in);
    for i in 0..n_in {
        let v = enc.names.len();
        enc.names.push(format!("x_{i}"));
        cur.push(v);
        let (lo, hi) = (query.lower[i], query.upper[i]);
        bounds.push((Some(lo), Some(hi)));
        enc.assertions.push(Formula::var_rel(v, Rel::Ge, exact(lo)));
        enc.assertions.push(Formula::var_rel(v, Rel::Le, exact(hi)));
    }
    enc.inputs = cur.clone();
    for c in query.input_constraints {
        enc.assertions
            .push(constraint_formula(c, &enc.inputs, None)?);
    }
    if net.inputs.len() != net.layers.len()
        || net
            .inputs
            .iter()
            .enumerate()
            .any(|(k, ins)| ins.is_empty() || ins.iter().any(|&v| v > k))
    {
        return Err("the network's layers do not read earlier values".into());
    }
    // The variables and bounds of every value (value 0 the input).
    let mut vars: Vec<Vec<usize>> = vec![cur];
    let mut vbounds: Vec<Vec<Bound>> = vec![bounds];
    for (k, layer) in net.layers.iter().enumerate() {
        let ins = &net.inputs[k];
        let cur = vars[ins[0]].clone();
        let mut bounds = vbounds[ins[0]].clone();
        match layer {
            Layer::Sum => {
                if ins.iter().any(|&v| vars[v].len() != cur.len()) {
                    return Err(format!("layer {k} sums values of different widths"));
                }
                let mut next = Vec::with_capacity(cur.len());
                let mut next_bounds = Vec::with_capacity(cur.len());
                for r in 0..cur.len() {
                    let terms = ins.iter().map(|&src| (1.0, vars[src][r], vbounds[src][r]));
                    let (v, bound) = affine_variable(&mut enc, format!("n{k}_{r}"), 0.0, terms);
                    next.push(v);
                    next_bounds.push(bound);
                }
                vars.push(next);
                vbounds.push(next_bounds);
            }
            Layer::Concat { from } => {
                let mut next = Vec::with_capacity(from.len());
                let mut next_bounds = Vec::with_capacity(from.len());
                for &(kk, t) in from {
                    let Some(v) = ins.get(kk).and_then(|&v| vars[v].get(t)) else {
                        return Err(format!(
                            "layer {k} concatenates an element that does not exist"
                        ));
                    };
                    next.push(*v);
                    next_bounds.push(vbounds[ins[kk]][t]);
                }
                vars.push(next);
                vbounds.push(next_bounds);
            }
            layer @ (Layer::Linear { .. } | Layer::SparseLinear { .. }) => {
                let (w, b) = layer.matrix().expect("a linear layer");
                if w.ncols() != cur.len() || b.len() != w.nrows() {
                    return Err(format!(
                        "layer {k} is a {} x {} matrix with {} biases but reads {} values",
                        w.nrows(),
                        w.ncols(),
                        b.len(),
                        cur.len()
                    ));
                }
                let finite_w = match layer {
                    Layer::Linear { w, .. } => w.iter().all(|v| v.is_finite()),
                    Layer::SparseLinear { w, .. } => w.is_finite(),
                    _ => true,
                };
                if !finite_w || b.iter().any(|v| !v.is_finite()) {
                    return Err(format!("layer {k} has a weight that is not finite"));
                }
                let mut next = Vec::with_capacity(w.nrows());
                let mut next_bounds = Vec::with_capacity(w.nrows());
                for r in 0..w.nrows() {
                    let terms = w
                        .row_entries(r)
                        .into_iter()
                        .map(|(c, wv)| (wv, cur[c], bounds[c]));
                    let (v, bound) = affine_variable(&mut enc, format!("n{k}_{r}"), b[r], terms);
                    next.push(v);
                    next_bounds.push(bound);
                }
                vars.push(next);
                vbounds.push(next_bounds);
            }
            act => {
                if let Layer::BatchNorm {
                    k_lo,
                    k_hi,
                    mean,
                    beta,
                } = act
                {
                    if [k_lo.len(), k_hi.len(), mean.len(), beta.len()] != [cur.len(); 4] {
                        return Err(format!(
                            "BatchNorm layer {k} does not have one factor, mean and bias per value of its {} inputs",
                            cur.len()
                        ));
                    }
                    let params = k_lo.iter().chain(k_hi).chain(mean).chain(beta);
                    if params.copied().any(|v| !v.is_finite())
                        || k_lo.iter().zip(k_hi).any(|(l, h)| l > h)
                    {
                        return Err(format!("BatchNorm layer {k} has a factor or constant that is not finite, or an empty enclosure"));
                    }
                }
                tighten(&mut bounds, query.relu_bounds.and_then(|rb| rb.get(k)));
                let mut next = Vec::with_capacity(cur.len());
                let mut next_bounds = Vec::with_capacity(cur.len());
                for (j, (&z, &(lo, hi))) in cur.iter().zip(&bounds).enumerate() {
                    let a = enc.names.len();
                    enc.names.push(format!("n{k}_{j}"));
                    next.push(a);
                    if let Some(lo) = lo {
                        enc.assertions.push(Formula::var_rel(z, Rel::Ge, exact(lo)));
                    }
                    if let Some(hi) = hi {
                        enc.assertions.push(Formula::var_rel(z, Rel::Le, exact(hi)));
                    }
                    match act {
                        Layer::Relu => {
                            next_bounds.push((
                                Some(lo.map_or(0.0, |l| l.max(0.0))),
                                hi.map(|h| h.max(0.0)),
                            ));
                            let f = relu_formula(z, a, lo, hi, &mut enc);
                            enc.assertions.push(f);
                        }
                        Layer::BatchNorm {
                            k_lo,
                            k_hi,
                            mean,
                            beta,
                        } => {
                            let params = [k_lo[j], k_hi[j], mean[j], beta[j]];
                            let bound = batchnorm_formula(z, a, (lo, hi), params, &mut enc);
                            next_bounds.push(bound);
                        }
                        _ => {
                            enc.relaxed = true;
                            let floor = if matches!(act, Layer::Sigmoid) {
                                0.0
                            } else {
                                -1.0
                            };
                            next_bounds.push((Some(floor), Some(1.0)));
                            enc.assertions
                                .push(Formula::var_rel(a, Rel::Ge, exact(floor)));
                            enc.assertions
                                .push(Formula::var_rel(a, Rel::Le, exact(1.0)));
                        }
                    }
                }
                vars.push(next);
                vbounds.push(next_bounds);
            }
        }
    }
    let cur = vars.pop().expect("the input is a value");
    enc.outputs = cur;
    for c in query.disjunct {
        enc.assertions
            .push(constraint_formula(c, &enc.inputs, Some(&enc.outputs))?);
    }
    Ok(enc)
}

/// A new variable `name = constant + Σ coef · var` (asserted exactly), and
/// its interval bounds from the terms' bounds (each end rounded outward to
/// an f64; `None` where a term's needed end is unbounded).
fn affine_variable(
    enc: &mut Encoding,
    name: String,
    constant: f64,
    terms: impl Iterator<Item = (f64, usize, Bound)>,
) -> (usize, Bound) {
    let v = enc.names.len();
    enc.names.push(name);
    let mut rhs = Lin::constant(exact(constant));
    let mut lo = Some(exact(constant));
    let mut hi = Some(exact(constant));
    for (coef, src, (blo, bhi)) in terms {
        let q = exact(coef);
        let (low_end, high_end) = if coef > 0.0 { (blo, bhi) } else { (bhi, blo) };
        lo = lo.and_then(|acc| low_end.map(|x| acc + &q * exact(x)));
        hi = hi.and_then(|acc| high_end.map(|x| acc + &q * exact(x)));
        rhs.terms.push((q, src));
    }
    enc.assertions
        .push(Formula::Atom(Lin::var(v), Rel::Eq, rhs));
    let bound = (
        lo.map(|q| rational_down(&q)).and_then(finite),
        hi.map(|q| rational_up(&q)).and_then(finite),
    );
    (v, bound)
}

/// Intersects interval bounds with the caller's bounds for this layer.
fn tighten(bounds: &mut [Bound], given: Option<&(Vec<f64>, Vec<f64>)>) {
    let Some((glo, ghi)) = given else { return };
    if glo.len() != bounds.len() || ghi.len() != bounds.len() {
        return;
    }
    for ((b, &l), &h) in bounds.iter_mut().zip(glo).zip(ghi) {
        if l.is_finite() {
            b.0 = Some(b.0.map_or(l, |old| old.max(l)));
        }
        if h.is_finite() {
            b.1 = Some(b.1.map_or(h, |old| old.min(h)));
        }
    }
}

/// Asserts what BatchNorm's enclosure implies for its output
/// `a = k (z - m) + b`, `k` in `[k_lo, k_hi]`, and returns the bounds of `a`. With
/// `z` in `[l, h]`: `a = k_lo (z - m) + b + (k - k_lo)(z - m)`, the last term
/// in `[d min(l - m, 0), d max(h - m, 0)]`, `d = k_hi - k_lo`: two
/// inequalities, no case split. Without bounds of `z` (they overflowed) an
/// inexact factor leaves `a` free, which is sound. An exact factor
/// (`k_lo == k_hi`) is the equality.
fn batchnorm_formula(
    z: usize,
    a: usize,
    (lo, hi): Bound,
    [k_lo, k_hi, m, b]: [f64; 4],
    enc: &mut Encoding,
) -> Bound {
    let (kl, kh, m, b) = (exact(k_lo), exact(k_hi), exact(m), exact(b));
    // k (z - m) + b as a linear term, for one end k of the enclosure.
    let line = |k: &BigRational| Lin {
        terms: vec![(k.clone(), z)],
        constant: &b - k * &m,
    };
    if kl == kh {
        enc.assertions
            .push(Formula::Atom(Lin::var(a), Rel::Eq, line(&kl)));
    } else {
        enc.enclosed = true;
    }
    let (Some(l), Some(h)) = (lo, hi) else {
        return (None, None);
    };
    let (sl, sh) = (exact(l) - &m, exact(h) - &m);
    if kl != kh {
        let d = &kh - &kl;
        let zero = BigRational::zero();
        let mut low = line(&kl);
        low.constant += &d * sl.clone().min(zero.clone());
        let mut high = line(&kl);
        high.constant += &d * sh.clone().max(zero);
        enc.assertions
            .push(Formula::Atom(Lin::var(a), Rel::Ge, low));
        enc.assertions
            .push(Formula::Atom(Lin::var(a), Rel::Le, high));
    }
    // Interval bounds of k (z - m) + b over both ends of k.
    let ends = [&kl * &sl, &kl * &sh, &kh * &sl, &kh * &sh];
    let min = ends.iter().min().map(|v| v + &b);
    let max = ends.iter().max().map(|v| v + &b);
    (
        min.map(|q| rational_down(&q)).and_then(finite),
        max.map(|q| rational_up(&q)).and_then(finite),
    )
}

/// `a = relu(z)` given `lo <= z <= hi` (already asserted).
fn relu_formula(
    z: usize,
    a: usize,
    lo: Option<f64>,
    hi: Option<f64>,
    enc: &mut Encoding,
) -> Formula {
    if lo.is_some_and(|l| l >= 0.0) {
        enc.fixed_active += 1;
        return Formula::var_eq(a, z);
    }
    if hi.is_some_and(|h| h <= 0.0) {
        enc.fixed_inactive += 1;
        return Formula::var_rel(a, Rel::Eq, BigRational::zero());
    }
    enc.split += 1;
    let zero = BigRational::zero;
    let mut parts = vec![
        Formula::Or(vec![
            Formula::And(vec![
                Formula::var_rel(z, Rel::Ge, zero()),
                Formula::var_eq(a, z),
            ]),
            Formula::And(vec![
                Formula::var_rel(z, Rel::Le, zero()),
                Formula::var_rel(a, Rel::Eq, zero()),
            ]),
        ]),
        // Valid cuts: they hold on both branches.
        Formula::var_rel(a, Rel::Ge, zero()),
        Formula::Atom(Lin::var(a), Rel::Ge, Lin::var(z)),
    ];
    if let (Some(l), Some(h)) = (lo, hi) {
        // a <= h (z - l) / (h - l), with l < 0 < h.
        let (l, h) = (exact(l), exact(h));
        let k = &h / (&h - &l);
        let rhs = Lin {
            terms: vec![(k.clone(), z)],
            constant: -(k * l),
        };
        parts.push(Formula::Atom(Lin::var(a), Rel::Le, rhs));
    }
    Formula::And(parts)
}

/// An exact constraint of the property over the encoding's variables.
fn constraint_formula(
    c: &Constraint,
    inputs: &[usize],
    outputs: Option<&[usize]>,
) -> Result<Formula, String> {
    let mut lhs = Lin::constant(BigRational::zero());
    for (var, q) in &c.expr.terms {
        let v = match *var {
            Var::X(i) => inputs.get(i).copied(),
            Var::Y(j) => outputs.and_then(|o| o.get(j).copied()),
        };
        let Some(v) = v else {
            let what = if outputs.is_some() {
                "outputs"
            } else {
                "input constraints"
            };
            return Err(format!(
                "constraint '{c}' mentions {var}, which the network's {what} do not have ({} inputs, {} outputs)",
                inputs.len(),
                outputs.map_or(0, <[usize]>::len)
            ));
        };
        lhs.terms.push((q.clone(), v));
    }
    let rel = if c.strict { Rel::Lt } else { Rel::Le };
    Ok(Formula::Atom(
        lhs,
        rel,
        Lin::constant(-c.expr.constant.clone()),
    ))
}

// ---------------------------------------------------------------------------
// SMT-LIB text.

fn write_num(out: &mut String, q: &BigRational) {
    if q.is_negative() {
        out.push_str("(- ");
        write_num(out, &-q);
        out.push(')');
        return;
    }
    let decimal = format_rational(q);
    if decimal.len() <= 48 && !decimal.contains('/') {
        out.push_str(&decimal);
        if !decimal.contains('.') {
            out.push_str(".0");
        }
    } else {
        let _ = write!(out, "(/ {}.0 {}.0)", q.numer(), q.denom());
    }
}

fn write_lin(out: &mut String, lin: &Lin, names: &[String]) {
    let count = lin.terms.len() + usize::from(!lin.constant.is_zero());
    if count == 0 {
        out.push_str("0.0");
        return;
    }
    if count > 1 {
        out.push_str("(+");
    }
    for (i, (c, v)) in lin.terms.iter().enumerate() {
        if count > 1 || i > 0 {
            out.push(' ');
        }
        if c.is_one() {
            out.push_str(&names[*v]);
        } else {
            out.push_str("(* ");
            write_num(out, c);
            let _ = write!(out, " {})", names[*v]);
        }
    }
    if !lin.constant.is_zero() {
        if count > 1 {
            out.push(' ');
        }
        write_num(out, &lin.constant);
    }
    if count > 1 {
        out.push(')');
    }
}

fn write_formula(out: &mut String, f: &Formula, names: &[String]) {
    match f {
        Formula::Atom(lhs, rel, rhs) => {
            let op = match rel {
                Rel::Le => "<=",
                Rel::Lt => "<",
                Rel::Ge => ">=",
                Rel::Eq => "=",
            };
            let _ = write!(out, "({op} ");
            write_lin(out, lhs, names);
            out.push(' ');
            write_lin(out, rhs, names);
            out.push(')');
        }
        Formula::And(fs) | Formula::Or(fs) => {
            out.push_str(if matches!(f, Formula::And(_)) {
                "(and"
            } else {
                "(or"
            });
            for g in fs {
                out.push(' ');
                write_formula(out, g, names);
            }
            if fs.is_empty() {
                out.push_str(if matches!(f, Formula::And(_)) {
                    " true"
                } else {
                    " false"
                });
            }
            out.push(')');
        }
    }
}

// ---------------------------------------------------------------------------
// Z3.

/// Sets a flag when dropped, so the watcher thread stops even if Z3 panics.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Runs in the fresh thread-local context set up by [`solve`].
fn check(enc: &Encoding, timeout: Option<Duration>, cancel: Option<&AtomicBool>) -> SmtOutcome {
    let cannot = |what: &str| SmtOutcome::Unknown(format!("Z3 could not build the query: {what}"));
    let solver = Solver::new();
    if let Some(t) = timeout {
        let mut params = Params::new();
        let ms = u32::try_from(t.as_millis()).unwrap_or(u32::MAX).max(1);
        params.set_u32("timeout", ms);
        solver.set_params(&params);
    }
    let vars: Vec<Real> = enc
        .names
        .iter()
        .map(|n| Real::new_const(n.as_str()))
        .collect();
    for f in &enc.assertions {
        match z3_formula(f, &vars) {
            Some(b) => solver.assert(&b),
            None => return cannot("a numeral was refused"),
        }
    }
    let ctx = Context::thread_local();
    let handle = ctx.handle();
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        let _stop = SetOnDrop(&done);
        if let Some(flag) = cancel {
            let (handle, done) = (&handle, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    if flag.load(Ordering::Relaxed) {
                        // Repeated on purpose: harmless, and it also catches a
                        // check that had not started at the first interrupt.
                        handle.interrupt();
                    }
                    std::thread::sleep(CANCEL_POLL);
                }
            });
        }
        solver.check()
    });
    let cancelled = cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    match result {
        SatResult::Unsat => SmtOutcome::Unsat,
        SatResult::Sat => {
            let point = solver.get_model().and_then(|model| {
                enc.inputs
                    .iter()
                    .map(|&v| {
                        let value = model.eval(&vars[v], true)?;
                        parse_z3_real(&value.to_string())?.to_f64()
                    })
                    .collect::<Option<Vec<f64>>>()
            });
            match point {
                Some(x) if x.iter().all(|v| v.is_finite()) => SmtOutcome::Sat(x),
                _ if cancelled => SmtOutcome::Unknown(REASON_INTERRUPTED.into()),
                _ => SmtOutcome::Unknown("Z3 answered sat but its model could not be read".into()),
            }
        }
        SatResult::Unknown => {
            let reason = solver.get_reason_unknown().unwrap_or_default();
            if cancelled {
                SmtOutcome::Unknown(REASON_INTERRUPTED.into())
            } else if timeout.is_some()
                && (reason.contains("timeout") || reason.contains("canceled"))
            {
                SmtOutcome::Unknown(REASON_TIMEOUT.into())
            } else {
                SmtOutcome::Unknown(format!("Z3 said unknown: {reason}"))
            }
        }
    }
}

fn z3_num(q: &BigRational) -> Option<Real> {
    Real::from_rational_str(&q.numer().to_string(), &q.denom().to_string())
}

fn z3_lin(lin: &Lin, vars: &[Real]) -> Option<Real> {
    let mut parts = Vec::with_capacity(lin.terms.len() + 1);
    for (c, v) in &lin.terms {
        let var = vars.get(*v)?.clone();
        parts.push(if c.is_one() {
            var
        } else {
            Real::mul(&[z3_num(c)?, var])
        });
    }
    if !lin.constant.is_zero() || parts.is_empty() {
        parts.push(z3_num(&lin.constant)?);
    }
    Some(if parts.len() == 1 {
        parts.pop()?
    } else {
        Real::add(&parts)
    })
}

fn z3_formula(f: &Formula, vars: &[Real]) -> Option<Bool> {
    Some(match f {
        Formula::Atom(lhs, rel, rhs) => {
            let (l, r) = (z3_lin(lhs, vars)?, z3_lin(rhs, vars)?);
            match rel {
                Rel::Le => l.le(&r),
                Rel::Lt => l.lt(&r),
                Rel::Ge => l.ge(&r),
                Rel::Eq => l.eq(&r),
            }
        }
        Formula::And(fs) => Bool::and(
            &fs.iter()
                .map(|g| z3_formula(g, vars))
                .collect::<Option<Vec<_>>>()?,
        ),
        Formula::Or(fs) => Bool::or(
            &fs.iter()
                .map(|g| z3_formula(g, vars))
                .collect::<Option<Vec<_>>>()?,
        ),
    })
}

/// The exact value of a Z3 real numeral as printed: `2.0`, `(- 2.0)`,
/// `(/ 1.0 3.0)`, `(- (/ 1.0 3.0))` (and `+`, `*` for good measure).
fn parse_z3_real(text: &str) -> Option<BigRational> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let value = parse_sexpr(&tokens, &mut pos, 0)?;
    (pos == tokens.len()).then_some(value)
}

fn parse_sexpr(tokens: &[&str], pos: &mut usize, depth: usize) -> Option<BigRational> {
    if depth > 64 {
        return None;
    }
    let tok = *tokens.get(*pos)?;
    *pos += 1;
    if tok != "(" {
        return parse_decimal(tok);
    }
    let op = *tokens.get(*pos)?;
    *pos += 1;
    let mut args = Vec::new();
    while *tokens.get(*pos)? != ")" {
        args.push(parse_sexpr(tokens, pos, depth + 1)?);
    }
    *pos += 1;
    match (op, args.as_slice()) {
        ("-", [a]) => Some(-a),
        ("-", [a, rest @ ..]) => Some(rest.iter().fold(a.clone(), |acc, b| acc - b)),
        ("+", _) => Some(args.iter().fold(BigRational::zero(), |acc, b| acc + b)),
        ("*", _) => Some(args.iter().fold(BigRational::one(), |acc, b| acc * b)),
        ("/", [a, b]) if !b.is_zero() => Some(a / b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axiom_core::spec::LinearExpr;
    use ndarray::{arr1, arr2};
    use num_bigint::BigInt;

    fn q(n: i64, d: i64) -> BigRational {
        BigRational::new(BigInt::from(n), BigInt::from(d))
    }

    #[test]
    fn z3_numerals_parse_exactly() {
        assert_eq!(parse_z3_real("2.0"), Some(q(2, 1)));
        assert_eq!(parse_z3_real("(- 2.5)"), Some(q(-5, 2)));
        assert_eq!(parse_z3_real("(/ 1.0 3.0)"), Some(q(1, 3)));
        assert_eq!(parse_z3_real("(- (/ 1.0 3.0))"), Some(q(-1, 3)));
        assert_eq!(parse_z3_real("(/ (- 1.0) 3.0)"), Some(q(-1, 3)));
        assert_eq!(parse_z3_real("(/ 1.0 0.0)"), None);
        assert_eq!(parse_z3_real("(root-obj (+ (^ x 2) (- 2)) 1)"), None);
        assert_eq!(parse_z3_real("1.0 2.0"), None);
        assert_eq!(parse_z3_real("("), None);
    }

    #[test]
    fn z3_round_trips_big_rationals() {
        // Far beyond i64: a numerator and denominator of ~100 digits.
        let big = BigRational::new(
            num_traits::pow(BigInt::from(3), 200) * -1,
            num_traits::pow(BigInt::from(7), 120),
        );
        let read = z3::with_z3_config(&z3::Config::new(), || {
            let x = Real::new_const("x");
            let solver = Solver::new();
            solver.assert(x.eq(&z3_num(&big)?));
            (solver.check() == SatResult::Sat).then_some(())?;
            let value = solver.get_model()?.eval(&x, true)?;
            parse_z3_real(&value.to_string())
        });
        assert_eq!(read, Some(big));
    }

    #[test]
    fn numerals_print_as_smtlib_reals() {
        let mut s = String::new();
        write_num(&mut s, &q(-3, 4));
        assert_eq!(s, "(- 0.75)");
        s.clear();
        write_num(&mut s, &q(1, 3));
        assert_eq!(s, "(/ 1.0 3.0)");
        s.clear();
        write_num(&mut s, &q(7, 1));
        assert_eq!(s, "7.0");
        s.clear();
        write_num(&mut s, &exact(0.1f32 as f64));
        assert_eq!(s, "0.100000001490116119384765625");
    }

    #[test]
    fn relu_bounds_fix_neurons_and_cut_the_others() {
        // One ReLU neuron on x in [-1, 2].
        let net = Network::chain(
            1,
            vec![
                Layer::Linear {
                    w: arr2(&[[1.0]]),
                    b: arr1(&[0.0]),
                },
                Layer::Relu,
            ],
        );
        let y_le = |k: i64| Constraint {
            expr: {
                let mut e = LinearExpr::var(Var::Y(0));
                e.constant = q(-k, 1);
                e
            },
            strict: false,
        };
        let disjunct = [y_le(5)];
        let mut query = SmtQuery {
            net: &net,
            lower: &[-1.0],
            upper: &[2.0],
            input_constraints: &[],
            disjunct: &disjunct,
            relu_bounds: None,
        };
        let enc = encode(&query, false).unwrap();
        assert_eq!((enc.fixed_active, enc.fixed_inactive, enc.split), (0, 0, 1));
        let bounds = [(vec![], vec![]), (vec![0.5], vec![2.0])];
        query.relu_bounds = Some(&bounds);
        let enc = encode(&query, false).unwrap();
        assert_eq!((enc.fixed_active, enc.fixed_inactive, enc.split), (1, 0, 0));
        let bounds = [(vec![], vec![]), (vec![-1.0], vec![0.0])];
        query.relu_bounds = Some(&bounds);
        let enc = encode(&query, false).unwrap();
        assert_eq!((enc.fixed_active, enc.fixed_inactive, enc.split), (0, 1, 0));
        // Wrong lengths and non-finite entries are ignored.
        let bounds = [
            (vec![], vec![]),
            (vec![f64::NEG_INFINITY, 1.0], vec![f64::NAN]),
        ];
        query.relu_bounds = Some(&bounds);
        let enc = encode(&query, false).unwrap();
        assert_eq!(enc.split, 1);
    }

    #[test]
    fn ill_formed_queries_are_unknown_not_panics() {
        let net = Network::chain(
            2,
            vec![Layer::Linear {
                w: arr2(&[[1.0, 1.0]]),
                b: arr1(&[0.0]),
            }],
        );
        let bad_y = [Constraint {
            expr: LinearExpr::var(Var::Y(3)),
            strict: true,
        }];
        let base = SmtQuery {
            net: &net,
            lower: &[0.0, 0.0],
            upper: &[1.0, 1.0],
            input_constraints: &[],
            disjunct: &bad_y,
            relu_bounds: None,
        };
        assert!(matches!(solve(&base, None, None), SmtOutcome::Unknown(r) if r.contains("Y_3")));
        let short = SmtQuery {
            lower: &[0.0],
            ..base
        };
        assert!(matches!(solve(&short, None, None), SmtOutcome::Unknown(_)));
        let infinite = SmtQuery {
            upper: &[1.0, f64::INFINITY],
            disjunct: &[],
            ..base
        };
        assert!(
            matches!(solve(&infinite, None, None), SmtOutcome::Unknown(r) if r.contains("X_1"))
        );
        assert!(to_smtlib(&infinite).contains("cannot encode"));
    }
}
