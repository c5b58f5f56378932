//! The exact re-check of a proof.
//!
//! This is the trusted base of a `Proved` verdict, so it is written to be
//! read: no floating point (every f64 in the evidence is read as the exact
//! dyadic rational it is), no code shared with the prover, one bound method.
//!
//! What is checked, for every case of the property:
//! 1. the root box of the case's proof contains the case's exact input box;
//! 2. walking the split tree (a split at `x[dim] = at` gives the children
//!    `x[dim] <= at` and `x[dim] >= at`, which cover the parent whatever `at`
//!    is; a ReLU split gives the children `z <= 0` and `z >= 0` for the
//!    neuron's input `z`, which cover it too), every leaf's region gets, for
//!    every disjunct of the output condition, a refutation on the leaf or on
//!    an ancestor;
//! 3. every `Bound` refutation: the checker computes its own lower bound of
//!    the constraint's left-hand side over the box, by linear bound
//!    propagation in exact rational arithmetic (interval bounds, tightened by
//!    back-substitution at every ReLU input, the triangle relaxation, or the
//!    refutation's own lower ReLU slopes (alpha) for the objective; the
//!    objective's bound is the larger of its back-substituted and interval
//!    bounds) of the refutation's combination of the disjunct's constraints,
//!    and requires it to be `> 0` (`>= 0` when a strict constraint takes
//!    part); on a region with fixed ReLU phases, the interval bounds of each
//!    fixed neuron's input are clamped to `[max(l, 0), u]` (active) or
//!    `[l, min(u, 0)]` (inactive) before they are used, which is sound on
//!    the region, and a region whose bounds become empty (`l > u`) has no
//!    point, so every refutation on it holds;
//! 4. `Smt` refutations are not re-solved here; they are counted and reported
//!    as trusted to the SMT solver.
//!
//! To keep numbers small, the checker rounds — always in the sound
//! direction, and exactly: interval bounds outward to `PRECISION`-bit
//! dyadics, and back-substitution coefficients to nearest `PRECISION`-bit
//! dyadics with the exact rounding error moved into the bound's constant
//! (`λ·z = λ̃·z + (λ - λ̃)·z >= λ̃·z + min over z in [l, u] of (λ - λ̃)·z`).

use axiom_core::graph::{broadcast_shapes, Graph, Op};
use axiom_core::spec::{Constraint, Property, Var};
use num_rational::BigRational;
use num_traits::Signed;

use rayon::prelude::*;

use crate::dyadic::Dyadic;
use crate::evidence::{Counterexample, Evidence, ProofNode, Refutation};

type Q = Dyadic;

/// Significant bits kept when rounding bounds and coefficients.
pub const PRECISION: u64 = 64;

/// Why a check failed: the first failing check, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {reason}")]
pub struct CheckError {
    /// Where: `case 0, leaf at path 0101`, `model`, ...
    pub place: String,
    pub reason: String,
}

fn fail<T>(place: impl Into<String>, reason: impl Into<String>) -> Result<T, CheckError> {
    Err(CheckError {
        place: place.into(),
        reason: reason.into(),
    })
}

/// What a successful check covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub leaves: usize,
    /// Refutations re-derived exactly.
    pub bound_refutations: usize,
    /// Refutations trusted to the SMT solver (not re-derived here).
    pub smt_refutations: usize,
}

/// One exact layer of the network.
enum ExactLayer {
    /// `y = W x + b`, dense rows.
    Affine {
        w: Vec<Vec<Q>>,
        b: Vec<Q>,
    },
    Relu,
}

fn q(v: f64) -> Q {
    // Finite by construction: the graph validation rejects non-finite
    // weights and the callers reject non-finite evidence numbers.
    Dyadic::from_f64(v).unwrap_or_else(Q::zero)
}

/// `1 / c` when it is a dyadic (c a power of two).
fn dyadic_recip(c: f32) -> Option<Q> {
    let r = 1.0 / f64::from(c);
    let pow2 = |x: f64| x.is_normal() && x.abs().to_bits() & ((1u64 << 52) - 1) == 0;
    (pow2(f64::from(c)) && pow2(r)).then(|| q(r))
}

/// Lowers the graph to exact layers (independently of the prover).
fn lower(graph: &Graph) -> Result<(usize, Vec<ExactLayer>), CheckError> {
    let shapes = graph.infer_shapes().map_err(|e| CheckError {
        place: "model".into(),
        reason: e.to_string(),
    })?;
    let mut layers = Vec::new();
    let graph = graph.clone().without_dead_nodes();
    for (i, node) in graph.nodes.iter().enumerate() {
        let place = format!("model node '{}'", node.name);
        if node.inputs != [i] {
            return fail(place, "the checker handles chains of nodes only");
        }
        let sin = &shapes[i];
        let n_in: usize = sin.iter().product();
        match &node.op {
            Op::Relu => layers.push(ExactLayer::Relu),
            Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => {}
            Op::Gemm { weight, bias } => {
                let (o, k) = weight.dim();
                let blocks = n_in / k;
                let mut w = vec![vec![Q::zero(); n_in]; blocks * o];
                let mut b = vec![Q::zero(); blocks * o];
                for blk in 0..blocks {
                    for r in 0..o {
                        for c in 0..k {
                            w[blk * o + r][blk * k + c] = q(f64::from(weight[[r, c]]));
                        }
                        if let Some(bias) = bias {
                            b[blk * o + r] = q(f64::from(bias[r]));
                        }
                    }
                }
                layers.push(ExactLayer::Affine { w, b });
            }
            Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c } => {
                let Some(out) = broadcast_shapes(sin, c.shape()) else {
                    return fail(place, "shapes do not broadcast");
                };
                let n_out: usize = out.iter().product();
                let cv: Vec<f32> = c.iter().copied().collect();
                let mut w = vec![vec![Q::zero(); n_in]; n_out];
                let mut b = vec![Q::zero(); n_out];
                for o in 0..n_out {
                    let src = broadcast_source(sin, &out, o);
                    let c32 = cv[broadcast_source(c.shape(), &out, o)];
                    let cval = q(f64::from(c32));
                    match &node.op {
                        Op::Add { .. } => (w[o][src], b[o]) = (Q::one(), cval),
                        Op::Sub { .. } => (w[o][src], b[o]) = (Q::one(), -&cval),
                        Op::Mul { .. } => w[o][src] = cval,
                        _ => match dyadic_recip(c32) {
                            Some(r) => w[o][src] = r,
                            None => {
                                return fail(
                                    place,
                                    "division by a constant that is not a power of two",
                                )
                            }
                        },
                    }
                }
                layers.push(ExactLayer::Affine { w, b });
            }
            other => {
                return fail(
                    place,
                    format!("the checker does not support {} yet", other.kind()),
                )
            }
        }
    }
    Ok((graph.input_len(), layers))
}

/// The flat index in `shape` that numpy broadcasting reads for flat index
/// `o` of `out`.
fn broadcast_source(shape: &[usize], out: &[usize], mut o: usize) -> usize {
    let pad = out.len() - shape.len();
    let mut idx = vec![0; out.len()];
    for d in (0..out.len()).rev() {
        idx[d] = o % out[d];
        o /= out[d];
    }
    let mut flat = 0;
    for (d, &len) in shape.iter().enumerate() {
        flat = flat * len + if len == 1 { 0 } else { idx[d + pad] };
    }
    flat
}

fn round_dyadic(v: &Q, up: bool) -> Q {
    v.round(PRECISION, up)
}

/// Interval bounds of one affine layer, exact.
fn interval_affine(w: &[Vec<Q>], b: &[Q], lo: &[Q], hi: &[Q]) -> (Vec<Q>, Vec<Q>) {
    let mut l = Vec::with_capacity(w.len());
    let mut u = Vec::with_capacity(w.len());
    for (row, br) in w.iter().zip(b) {
        let (mut a, mut c) = (br.clone(), br.clone());
        for ((wv, x0), x1) in row.iter().zip(lo).zip(hi) {
            if wv.is_zero() {
                continue;
            }
            if wv.is_positive() {
                a += &(wv * x0);
                c += &(wv * x1);
            } else {
                a += &(wv * x1);
                c += &(wv * x0);
            }
        }
        l.push(round_dyadic(&a, false));
        u.push(round_dyadic(&c, true));
    }
    (l, u)
}

/// The checker's bound machinery for one box.
struct BoxBounds<'a> {
    layers: &'a [ExactLayer],
    /// Bounds of every value: index 0 the input, `i + 1` layer `i`'s output.
    values: Vec<(Vec<Q>, Vec<Q>)>,
    /// Whether some bound is empty (`l > u`): the region has no point.
    empty: bool,
}

impl<'a> BoxBounds<'a> {
    /// The bounds on the region `[lo, hi]` with the ReLU phases `phases`
    /// fixed (as `(relu layer, neuron, active)`, checked by the caller).
    fn new(layers: &'a [ExactLayer], lo: Vec<Q>, hi: Vec<Q>, phases: &[Phase]) -> Self {
        let empty = lo.iter().zip(&hi).any(|(l, u)| l > u);
        let mut bb = BoxBounds {
            layers,
            values: vec![(lo, hi)],
            empty,
        };
        let mut seen_relu = false;
        let mut relu_ordinal = 0;
        for (i, layer) in layers.iter().enumerate() {
            if matches!(layer, ExactLayer::Relu) {
                // Clamp the fixed neurons' inputs: sound on the region.
                let (l, u) = &mut bb.values[i];
                for &(k, t, active) in phases {
                    if k == relu_ordinal {
                        if active {
                            l[t] = l[t].clone().max(Q::zero());
                        } else {
                            u[t] = u[t].clone().min(Q::zero());
                        }
                        bb.empty |= l[t] > u[t];
                    }
                }
                relu_ordinal += 1;
            }
            let (l, u) = &bb.values[i];
            let next = match layer {
                ExactLayer::Affine { w, b } => {
                    let (mut nl, mut nu) = interval_affine(w, b, l, u);
                    let feeds_relu = matches!(layers.get(i + 1), Some(ExactLayer::Relu));
                    if seen_relu && feeds_relu {
                        // Back-substitution bounds for every neuron (also the
                        // stable ones: their tighter bounds tighten the next
                        // layer's interval bounds), intersected with the
                        // interval bounds.
                        for r in 0..nl.len() {
                            let mut e = vec![Q::zero(); nl.len()];
                            e[r] = Q::one();
                            let lower = bb.backward(i + 1, e.clone());
                            e[r] = -&Q::one();
                            let upper = -&bb.backward(i + 1, e);
                            nl[r] = nl[r].clone().max(round_dyadic(&lower, false));
                            nu[r] = nu[r].clone().min(round_dyadic(&upper, true));
                            bb.empty |= nl[r] > nu[r];
                        }
                    }
                    (nl, nu)
                }
                ExactLayer::Relu => {
                    seen_relu = true;
                    (
                        l.iter().map(|v| v.clone().max(Q::zero())).collect(),
                        u.iter().map(|v| v.clone().max(Q::zero())).collect(),
                    )
                }
            };
            bb.values.push(next);
        }
        bb
    }

    /// A lower bound of `a · v_k` over the box, by back-substitution.
    /// A lower bound of `a · v_k` over the box, by back-substitution with the
    /// adaptive ReLU slopes.
    fn backward(&self, k: usize, a: Vec<Q>) -> Q {
        self.backward_with(k, a, &[])
    }

    /// A lower bound of `a · v_k` over the box, by back-substitution;
    /// `slopes[i]`, when given and non-empty, holds the lower slope of every
    /// neuron of the `i`-th ReLU layer (each in `[0, 1]`, checked by the
    /// caller), used for every positive coefficient of that layer instead of
    /// the slope the bounds suggest.
    fn backward_with(&self, k: usize, mut a: Vec<Q>, slopes: &[Vec<Q>]) -> Q {
        let mut cst = Q::zero();
        let relu_index = |j: usize| {
            self.layers[..j]
                .iter()
                .filter(|l| matches!(l, ExactLayer::Relu))
                .count()
        };
        for j in (0..k).rev() {
            match &self.layers[j] {
                ExactLayer::Affine { w, b } => {
                    let mut next = vec![Q::zero(); w.first().map_or(0, Vec::len)];
                    for ((row, br), lam) in w.iter().zip(b).zip(&a) {
                        if lam.is_zero() {
                            continue;
                        }
                        cst += &(lam * br);
                        for (n, wv) in next.iter_mut().zip(row) {
                            if !wv.is_zero() {
                                *n += &(lam * wv);
                            }
                        }
                    }
                    a = next;
                }
                ExactLayer::Relu => {
                    let (l, u) = &self.values[j];
                    let given = slopes.get(relu_index(j)).filter(|v| !v.is_empty());
                    for t in 0..a.len() {
                        let lam = a[t].clone();
                        if lam.is_zero() {
                            continue;
                        }
                        let (lt, ut) = (&l[t], &u[t]);
                        let coeff = if let (Some(al), true) = (given, lam.is_positive()) {
                            // relu(z) >= alpha z for every z when alpha is in
                            // [0, 1]: the given slope is a valid lower line
                            // whatever the bounds say.
                            &lam * &al[t]
                        } else if !lt.is_negative() {
                            lam // active: relu(z) = z
                        } else if !ut.is_positive() {
                            Q::zero() // inactive: relu(z) = 0
                        } else if lam.is_positive() {
                            // relu(z) >= alpha z, alpha 1 or 0 by the interval.
                            if *ut >= -lt {
                                lam
                            } else {
                                Q::zero()
                            }
                        } else {
                            // relu(z) <= s z + t on [l, u]: the chord, with a
                            // rounded slope and the intercept that keeps the
                            // line above both ends.
                            // u - l > 0 here, since l < 0 < u.
                            let s = ut
                                .div_round(&(ut - lt), PRECISION, true)
                                .unwrap_or_else(Q::one);
                            let t0 = (-&(&s * lt)).max(ut - &(&s * ut));
                            cst += &(&lam * &t0);
                            &lam * &s
                        };
                        // Round the coefficient; pay for it exactly.
                        let rounded = round_dyadic(&coeff, false);
                        let diff = &coeff - &rounded;
                        cst += &(if diff.is_positive() {
                            &diff * lt
                        } else {
                            &diff * ut
                        });
                        a[t] = rounded;
                    }
                    cst = round_dyadic(&cst, false);
                }
            }
        }
        let (lo, hi) = &self.values[0];
        for ((c, l), u) in a.iter().zip(lo).zip(hi) {
            cst += &(if c.is_positive() { c * l } else { c * u });
        }
        cst
    }
}

/// Re-checks a proof of "no input of the property's regions reaches its
/// unsafe set" exactly. Returns what was checked, or the first failure.
pub fn check_proof(
    graph: &Graph,
    property: &Property,
    evidence: &Evidence,
) -> Result<CheckReport, CheckError> {
    let (input_dim, layers) = lower(graph)?;
    if input_dim != property.num_inputs {
        return fail(
            "model",
            "the property's input count differs from the model's",
        );
    }
    // The width of every ReLU layer, for the splits to name.
    let relu_widths: Vec<usize> = widths_of_relus(input_dim, &layers);
    let mut report = CheckReport::default();
    let mut tasks = Vec::new();
    for (ci, case) in property.cases.iter().enumerate() {
        let place = format!("case {ci}");
        let Some(proof) = evidence.cases.iter().find(|p| p.case == ci) else {
            return fail(place, "the evidence has no proof for this case");
        };
        if proof.lower.len() != input_dim || proof.upper.len() != input_dim {
            return fail(place, "the proof's root box has the wrong dimension");
        }
        for i in 0..input_dim {
            let finite = proof.lower[i].is_finite() && proof.upper[i].is_finite();
            if !finite
                || q(proof.lower[i]).to_rational() > case.input.lower[i]
                || q(proof.upper[i]).to_rational() < case.input.upper[i]
            {
                return fail(
                    place,
                    format!("the proof's root box does not contain the case's box in X_{i}"),
                );
            }
        }
        // Depth-first over the tree with the box and the disjuncts refuted
        // by ancestors: the structure (coverage of every leaf) is checked
        // here, the refutations' bounds afterwards, in parallel.
        let mut stack = vec![Visit {
            node: &proof.root,
            lo: proof.lower.clone(),
            hi: proof.upper.clone(),
            phases: Vec::new(),
            done: vec![false; case.output.len()],
            path: String::new(),
        }];
        while let Some(Visit {
            node,
            lo,
            hi,
            phases,
            mut done,
            path,
        }) = stack.pop()
        {
            let here = || format!("case {ci}, node at path '{path}'");
            let refutations = match node {
                ProofNode::Split { refutations, .. } | ProofNode::ReluSplit { refutations, .. } => {
                    refutations
                }
                ProofNode::Leaf(leaf) => &leaf.refutations,
            };
            for r in refutations {
                let d = match r {
                    Refutation::Bound { disjunct, .. } | Refutation::Smt { disjunct, .. } => {
                        *disjunct
                    }
                };
                if d >= done.len() {
                    return fail(
                        here(),
                        format!("refutes disjunct {d}, which does not exist"),
                    );
                }
                done[d] = true;
            }
            if !refutations.is_empty() {
                tasks.push(Task {
                    case: ci,
                    place: here(),
                    lo: lo.clone(),
                    hi: hi.clone(),
                    phases: phases.clone(),
                    refutations,
                });
            }
            match node {
                ProofNode::Split {
                    dim, at, children, ..
                } => {
                    if *dim >= input_dim || !at.is_finite() {
                        return fail(here(), "a split names a bad dimension or point");
                    }
                    let (mut lo_hi, mut hi_lo) = (hi.clone(), lo.clone());
                    lo_hi[*dim] = *at;
                    hi_lo[*dim] = *at;
                    stack.push(Visit {
                        node: &children[1],
                        lo: hi_lo,
                        hi: hi.clone(),
                        phases: phases.clone(),
                        done: done.clone(),
                        path: format!("{path}1"),
                    });
                    stack.push(Visit {
                        node: &children[0],
                        lo,
                        hi: lo_hi,
                        phases,
                        done,
                        path: format!("{path}0"),
                    });
                }
                ProofNode::ReluSplit {
                    relu_layer,
                    neuron,
                    children,
                    ..
                } => {
                    if relu_widths.get(*relu_layer).is_none_or(|w| neuron >= w) {
                        return fail(
                            here(),
                            format!("a ReLU split names neuron {neuron} of ReLU layer {relu_layer}, which does not exist"),
                        );
                    }
                    for (child, active) in [(&children[1], true), (&children[0], false)] {
                        let mut p = phases.clone();
                        p.push((*relu_layer, *neuron, active));
                        stack.push(Visit {
                            node: child,
                            lo: lo.clone(),
                            hi: hi.clone(),
                            phases: p,
                            done: done.clone(),
                            path: format!("{path}{}", if active { 'a' } else { 'i' }),
                        });
                    }
                }
                ProofNode::Leaf(_) => {
                    report.leaves += 1;
                    if let Some(d) = done.iter().position(|x| !x) {
                        return fail(
                            here(),
                            format!(
                                "disjunct {d} of the output condition is not refuted on this leaf"
                            ),
                        );
                    }
                }
            }
        }
    }
    // One task per node: its box's bounds are computed once and serve all
    // of its refutations.
    let outcomes: Vec<Result<Vec<Checked>, CheckError>> = tasks
        .par_iter()
        .map(|t| {
            check_node(&layers, &property.cases[t.case].output, t).map_err(|reason| CheckError {
                place: t.place.clone(),
                reason,
            })
        })
        .collect();
    for outcome in outcomes {
        for checked in outcome? {
            match checked {
                Checked::Bound => report.bound_refutations += 1,
                Checked::Smt => report.smt_refutations += 1,
            }
        }
    }
    Ok(report)
}

/// A node to visit, with its region and the disjuncts refuted above it.
struct Visit<'a> {
    node: &'a ProofNode,
    lo: Vec<f64>,
    hi: Vec<f64>,
    phases: Vec<Phase>,
    done: Vec<bool>,
    path: String,
}

/// The width of every ReLU layer, in order.
fn widths_of_relus(input_dim: usize, layers: &[ExactLayer]) -> Vec<usize> {
    let mut width = input_dim;
    let mut out = Vec::new();
    for layer in layers {
        match layer {
            ExactLayer::Affine { b, .. } => width = b.len(),
            ExactLayer::Relu => out.push(width),
        }
    }
    out
}

/// A ReLU phase fixed on a region: (ReLU layer ordinal, neuron, active).
type Phase = (usize, usize, bool);

/// The refutations of one node, to check on its region.
struct Task<'a> {
    case: usize,
    place: String,
    lo: Vec<f64>,
    hi: Vec<f64>,
    phases: Vec<Phase>,
    refutations: &'a [Refutation],
}

/// Checks every refutation of a node, computing the box's bounds once.
fn check_node(
    layers: &[ExactLayer],
    disjuncts: &[Vec<Constraint>],
    t: &Task,
) -> Result<Vec<Checked>, String> {
    let mut bounds: Option<BoxBounds> = None;
    let mut out = Vec::with_capacity(t.refutations.len());
    for r in t.refutations {
        if matches!(r, Refutation::Smt { .. }) {
            out.push(Checked::Smt);
            continue;
        }
        if bounds.is_none() {
            if t.lo.iter().chain(&t.hi).any(|v| !v.is_finite()) {
                return Err("a box bound is not finite".into());
            }
            bounds = Some(BoxBounds::new(
                layers,
                t.lo.iter().map(|&v| q(v)).collect(),
                t.hi.iter().map(|&v| q(v)).collect(),
                &t.phases,
            ));
        }
        if let Some(bb) = &bounds {
            out.push(check_refutation(layers, disjuncts, bb, r)?);
        }
    }
    Ok(out)
}

/// How a refutation was checked.
enum Checked {
    /// Re-derived exactly.
    Bound,
    /// Trusted to the SMT solver.
    Smt,
}

/// Checks one refutation on a box whose bounds `bb` holds.
fn check_refutation(
    layers: &[ExactLayer],
    disjuncts: &[Vec<Constraint>],
    bb: &BoxBounds,
    r: &Refutation,
) -> Result<Checked, String> {
    match r {
        Refutation::Smt { .. } => Ok(Checked::Smt),
        Refutation::Bound {
            disjunct,
            multipliers,
            relu_slopes,
            ..
        } => {
            let Some(constraints) = disjuncts.get(*disjunct) else {
                return Err(format!("refutes disjunct {disjunct}, which does not exist"));
            };
            if bb.empty {
                // No point of the region: nothing to refute.
                return Ok(Checked::Bound);
            }
            if multipliers.len() != constraints.len()
                || multipliers.iter().any(|m| !(m.is_finite() && *m >= 0.0))
                || multipliers.iter().all(|m| *m == 0.0)
            {
                return Err(format!(
                    "the multipliers of disjunct {disjunct} must be {} non-negative numbers, not all zero",
                    constraints.len()
                ));
            }
            // The combined left-hand side: Σ m_k (c_k · y + d_k), exactly.
            let mut combined = std::collections::BTreeMap::<usize, BigRational>::new();
            let mut constant = BigRational::from_integer(0.into());
            let mut strict = false;
            for (c, m) in constraints.iter().zip(multipliers) {
                if *m == 0.0 {
                    continue;
                }
                let m = q(*m).to_rational();
                strict |= c.strict;
                constant += &m * &c.expr.constant;
                for (var, coef) in &c.expr.terms {
                    let Var::Y(i) = var else {
                        return Err(format!("disjunct {disjunct} mentions {var}, not an output"));
                    };
                    *combined
                        .entry(*i)
                        .or_insert_with(|| BigRational::from_integer(0.into())) += &m * coef;
                }
            }
            let out_bounds = &bb.values[layers.len()];
            let n_out = out_bounds.0.len();
            if combined.keys().any(|i| *i >= n_out) {
                return Err(format!(
                    "disjunct {disjunct} mentions an output beyond the network's {n_out}"
                ));
            }
            // Back-substitution needs dyadic coefficients: bound the dyadic
            // part and pay for the rest exactly, c·y = c̃·y + (c - c̃)·y.
            let mut coeffs = vec![Q::zero(); n_out];
            let mut substituted = constant.clone();
            let mut interval = constant;
            for (i, coef) in &combined {
                let (lo_y, hi_y) = (
                    out_bounds.0[*i].to_rational(),
                    out_bounds.1[*i].to_rational(),
                );
                coeffs[*i] = Dyadic::from_rational(coef, PRECISION, false);
                let diff = coef - coeffs[*i].to_rational();
                substituted += if diff.is_positive() {
                    diff * &lo_y
                } else {
                    diff * &hi_y
                };
                interval += if coef.is_positive() {
                    coef * lo_y
                } else {
                    coef * hi_y
                };
            }
            // Optional optimised slopes: any value in [0, 1] is a valid lower
            // line, so they only need to be in range.
            let n_relu_layers = layers
                .iter()
                .filter(|l| matches!(l, ExactLayer::Relu))
                .count();
            let mut slopes = Vec::with_capacity(relu_slopes.len());
            for (i, layer_slopes) in relu_slopes.iter().enumerate() {
                let width = layers
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| matches!(l, ExactLayer::Relu))
                    .nth(i)
                    .map(|(j, _)| bb.values[j].0.len());
                let fits = i < n_relu_layers
                    && (layer_slopes.is_empty() || Some(layer_slopes.len()) == width)
                    && layer_slopes.iter().all(|v| (0.0..=1.0).contains(v));
                if !fits {
                    return Err(format!(
                        "the ReLU slopes of layer {i} are not one value in [0, 1] per neuron"
                    ));
                }
                slopes.push(layer_slopes.iter().map(|&v| q(v)).collect());
            }
            substituted += bb
                .backward_with(layers.len(), coeffs, &slopes)
                .to_rational();
            // The checker's bound: the larger of back-substitution and the
            // interval bound of the output.
            let lower = substituted.max(interval);
            let ok = if strict {
                !lower.is_negative()
            } else {
                lower.is_positive()
            };
            if !ok {
                return Err(format!(
                    "the exact bound of the combination {multipliers:?} of disjunct {disjunct} is {} (about {:e}), not above 0",
                    lower,
                    num_traits::ToPrimitive::to_f64(&lower).unwrap_or(f64::NAN)
                ));
            }
            Ok(Checked::Bound)
        }
    }
}

/// Re-checks a counterexample exactly: the input lies in the case's region
/// and the network's exact output (float32 weights as rationals, exact
/// arithmetic) meets the disjunct. Piecewise-linear networks only.
pub fn check_counterexample(
    graph: &Graph,
    property: &Property,
    cex: &Counterexample,
) -> Result<(), CheckError> {
    let (input_dim, layers) = lower(graph)?;
    let place = "counterexample";
    if cex.input.len() != input_dim || cex.input.iter().any(|v| !v.is_finite()) {
        return fail(
            place,
            "the input has the wrong length or a non-finite value",
        );
    }
    let Some(case) = property.cases.get(cex.case) else {
        return fail(place, "names a case that does not exist");
    };
    let Some(disjunct) = case.output.get(cex.disjunct) else {
        return fail(place, "names a disjunct that does not exist");
    };
    let mut v: Vec<Q> = cex.input.iter().map(|&v| q(v)).collect();
    let x: Vec<BigRational> = v.iter().map(Dyadic::to_rational).collect();
    for (i, xi) in x.iter().enumerate() {
        if *xi < case.input.lower[i] || *xi > case.input.upper[i] {
            return fail(place, format!("X_{i} lies outside the case's box"));
        }
    }
    for layer in &layers {
        v = match layer {
            ExactLayer::Affine { w, b } => w
                .iter()
                .zip(b)
                .map(|(row, br)| {
                    row.iter()
                        .zip(&v)
                        .fold(br.clone(), |acc, (wv, xv)| &acc + &(wv * xv))
                })
                .collect(),
            ExactLayer::Relu => v.into_iter().map(|t| t.max(Q::zero())).collect(),
        };
    }
    let v: Vec<BigRational> = v.iter().map(Dyadic::to_rational).collect();
    let holds = |c: &Constraint| {
        let mut s = c.expr.constant.clone();
        for (var, coef) in &c.expr.terms {
            let val = match var {
                Var::X(i) => x.get(*i),
                Var::Y(i) => v.get(*i),
            };
            match val {
                Some(val) => s += coef * val,
                None => return false,
            }
        }
        if c.strict {
            s.is_negative()
        } else {
            !s.is_positive()
        }
    };
    if !case.input_constraints.iter().all(holds) {
        return fail(place, "the input violates the case's input constraints");
    }
    if let Some(k) = disjunct.iter().position(|c| !holds(c)) {
        return fail(
            place,
            format!("the exact output does not meet constraint {k} of the disjunct"),
        );
    }
    Ok(())
}
