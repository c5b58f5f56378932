//! The exact re-check of a proof.
//!
//! This is the trusted base of a `Proved` verdict, so it is written to be
//! read: no floating point in any bound (every f64 in the evidence is read as
//! the exact dyadic rational it is; the f64 computations, the first guesses
//! of a BatchNorm factor or of a reciprocal, are verified exactly before they
//! are used), no code shared with the prover, one bound method.
//!
//! The network is lowered to exact layers: affine maps (Gemm, Conv2d,
//! AveragePool, Transpose and constant Pad, held by their non-zero entries
//! — an average only when it divides by a
//! power of two, so that its coefficient is an exact dyadic — and the
//! element-wise constant ops), ReLU, and the element-wise scaling of an
//! inference-mode BatchNorm, `y = k (x - mean) + bias` with
//! `k = scale / sqrt(var + epsilon)` per channel. That `k` is irrational in
//! general, so the checker never uses its value: it encloses it in dyadics
//! `[lo, hi]` that it verifies exactly (`lo² (var + epsilon) <= scale²` and
//! `hi² (var + epsilon) >= scale²`, with signs; see `batchnorm_enclosure`)
//! and every bound below holds for every `k` in the enclosure, hence for the
//! true one. A division by a constant `c` that is not a power of two (input
//! normalisation) is the same scaling with `k = 1/c`, enclosed by `lo c <= 1
//! <= hi c` (`reciprocal_enclosure`), mean and bias 0.
//!
//! A `MaxPool` is first rewritten by `axiom_core::maxpool::expand_max_pools`
//! as `max(a, b) = b + relu(a - b)` in rounds of pairs, each window cell
//! picked out by a depthwise convolution with a one-hot kernel: an identity
//! of real arithmetic with exact weights (0, ±1), so the checker's trusted
//! base grows by that rewrite (in the core crate it already trusts for the
//! graph) and no relaxation of its own.
//!
//! The network may be a DAG (residual connections, concatenations): the
//! exact layers follow the graph's node order (a topological order), each
//! reads one or more earlier exact values (value 0 the input, layer `j`
//! produces value `j + 1`), and the reshapes (Identity, Flatten, Reshape, a
//! Concat of one value) are no layers: their output is their input's value,
//! whose row-major order and element count they keep. `Sum` (`y = a + b +
//! ...`, one width) and `Concat` (each output element is one input element,
//! by the index map of `ExactLayer::Concat`) are exact linear layers. ReLU
//! layers are named, in splits and slopes, by their ordinal among the ReLU
//! layers in node order, and a ReLU's phase is about the value it reads.
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
//!    back-substitution at every value that a linear layer — affine, Sum,
//!    Concat — makes, that a ReLU or BatchNorm layer reads, and that comes
//!    after a first ReLU or BatchNorm layer in node order (so at every such
//!    value with a ReLU or BatchNorm among its ancestors), the triangle
//!    relaxation,
//!    or the refutation's own lower ReLU slopes (alpha) for the objective;
//!    a BatchNorm is substituted with the slope `lo` and the bounded error
//!    `(k - lo)(x - mean)`; the objective's bound is the larger of its
//!    back-substituted and interval bounds) of the refutation's combination
//!    of the disjunct's constraints,
//!    and requires it to be `> 0` (`>= 0` when a strict constraint takes
//!    part); on a region with fixed ReLU phases, the interval bounds of each
//!    fixed neuron's input are clamped to `[max(l, 0), u]` (active) or
//!    `[l, min(u, 0)]` (inactive) before they are used, which is sound on
//!    the region (the clamp applies to that value for every layer that
//!    reads it: every point of the region meets the phase), and a region
//!    whose bounds become empty (`l > u`) has no point, so every refutation
//!    on it holds;
//! 4. `Smt` refutations are not re-solved here; they are counted and reported
//!    as trusted to the SMT solver.
//!
//! To keep numbers small, the checker rounds — always in the sound
//! direction, and exactly: interval bounds outward to `PRECISION`-bit
//! dyadics, and back-substitution coefficients to nearest `PRECISION`-bit
//! dyadics with the exact rounding error moved into the bound's constant
//! (`λ·z = λ̃·z + (λ - λ̃)·z >= λ̃·z + min over z in [l, u] of (λ - λ̃)·z`).
//!
//! Over a DAG: a Sum's interval bounds are the sums of its inputs' lower and
//! upper bounds, rounded down and up; a Concat's are its inputs' bounds,
//! placed by its index map (no rounding). Back-substitution for `a·v_k`
//! keeps one coefficient vector per value (absent until a layer reading that
//! value contributes) and the invariant `a·v_k >= c + Σ_v λ_v·v` on the
//! region. It processes the layers from `k - 1` down to 0; when it reaches
//! layer `j`, every layer before `k` that reads value `j + 1` comes after
//! `j` and has been processed, so `λ_{j+1}` is complete. Its term is then
//! replaced by an equal linear form in the layer's inputs (affine; a Sum
//! gives `λ` to each input, `λ·(a + b) = λ·a + λ·b`; a Concat gives each
//! input the coefficients of its own elements) or by a smaller one (the ReLU
//! and Scale relaxations, valid at every point of the region given the
//! input's bounds there), added into the inputs' coefficients; so the
//! invariant holds after every step, and when only the input is left its
//! minimum over the box is a lower bound of `a·v_k`. The rounding of
//! coefficients and constants is paid for as on a chain.

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

/// An exact matrix by its non-zero entries, row by row (a convolution's
/// rows hold a kernel's worth of entries, not the whole input).
struct Rows {
    /// The number of columns (the input's width).
    n_in: usize,
    /// Row `r`'s `(column, weight)` entries, columns increasing and
    /// distinct, weights non-zero.
    rows: Vec<Vec<(usize, Q)>>,
}

impl Rows {
    /// `n_out` empty rows over `n_in` columns that will hold at most
    /// `entries` weights, or the refusal when that is more than
    /// `MAX_LAYER_ENTRIES`.
    fn new(
        place: &str,
        n_out: usize,
        n_in: usize,
        entries: Option<usize>,
    ) -> Result<Rows, CheckError> {
        match entries {
            Some(n) if n <= MAX_LAYER_ENTRIES => Ok(Rows {
                n_in,
                rows: vec![Vec::new(); n_out],
            }),
            _ => fail(
                place,
                format!(
                    "the layer would hold more than the checker's limit of {MAX_LAYER_ENTRIES} weights ({n_out} outputs over {n_in} inputs)"
                ),
            ),
        }
    }

    /// Adds `v` at `(r, c)` (entries of one place are summed by `finish`).
    fn add(&mut self, r: usize, c: usize, v: Q) {
        if !v.is_zero() {
            self.rows[r].push((c, v));
        }
    }

    /// Sorts every row by column and sums the entries of one column, exactly;
    /// zero sums are dropped.
    fn finish(mut self) -> Rows {
        for row in &mut self.rows {
            row.sort_by_key(|e| e.0);
            let mut merged: Vec<(usize, Q)> = Vec::with_capacity(row.len());
            for (c, v) in row.drain(..) {
                match merged.last_mut() {
                    Some((lc, lv)) if *lc == c => *lv += &v,
                    _ => merged.push((c, v)),
                }
            }
            merged.retain(|(_, v)| !v.is_zero());
            *row = merged;
        }
        self
    }

    #[cfg(test)]
    fn from_dense(n_in: usize, w: Vec<Vec<Q>>) -> Rows {
        let mut rows = Rows {
            n_in,
            rows: vec![Vec::new(); w.len()],
        };
        for (r, row) in w.into_iter().enumerate() {
            for (c, v) in row.into_iter().enumerate() {
                rows.add(r, c, v);
            }
        }
        rows.finish()
    }
}

/// One exact layer of the network.
enum ExactLayer {
    /// `y = W x + b`, `W` by its non-zero entries.
    Affine {
        w: Rows,
        b: Vec<Q>,
    },
    Relu,
    /// Element-wise `y_e = k_e (x_e - mean_e) + beta_e`, one entry per flat
    /// element, where the constant `k_e` is not known exactly, only to lie in
    /// `[lo_e, hi_e]` (`lo_e <= hi_e`). Every use of this layer must be sound
    /// for every `k_e` in the enclosure. (BatchNorm, with
    /// `k = scale / sqrt(var + epsilon)` and `beta` its bias.)
    Scale {
        lo: Vec<Q>,
        hi: Vec<Q>,
        mean: Vec<Q>,
        beta: Vec<Q>,
    },
    /// `y = a + b + ...`: the element-wise sum of the values the layer reads
    /// (all of one width).
    Sum,
    /// The concatenation of the values the layer reads along one axis,
    /// flattened row-major: for every outer index `o < outer` (the product of
    /// the dimensions before the axis), input `k` in order contributes its
    /// elements `o·chunks[k] .. (o + 1)·chunks[k]`, where `chunks[k]` is its
    /// length along the axis times the product of the dimensions after it.
    /// So output element `o·C + off_k + r` (`C` the sum of the chunks,
    /// `off_k` the sum of those before `k`, `r < chunks[k]`) is element
    /// `o·chunks[k] + r` of input `k`.
    Concat {
        outer: usize,
        chunks: Vec<usize>,
    },
}

impl ExactLayer {
    /// Whether the layer is an exact linear map (no relaxation).
    fn is_linear(&self) -> bool {
        matches!(
            self,
            ExactLayer::Affine { .. } | ExactLayer::Sum | ExactLayer::Concat { .. }
        )
    }

    /// Whether the layer is relaxed element-wise (ReLU, Scale).
    fn is_elementwise(&self) -> bool {
        !self.is_linear()
    }
}

/// The network as exact layers over a DAG of exact values: value 0 is the
/// input, layer `j` produces value `j + 1` and reads the values `reads[j]`,
/// each at most `j` (so the layers are in a topological order, the graph's
/// node order). Built by [`Net::new`], which checks every width.
struct Net {
    input_dim: usize,
    layers: Vec<ExactLayer>,
    reads: Vec<Vec<usize>>,
    /// The value that is the network's output.
    output: usize,
    /// The number of elements of every value.
    widths: Vec<usize>,
    /// The index of every ReLU layer, in layer order: the evidence's ReLU
    /// layer `i` (in splits and slopes) is layer `relus[i]`.
    relus: Vec<usize>,
    /// For every layer, its ordinal among the ReLU layers, if it is one.
    relu_ordinal: Vec<Option<usize>>,
    /// For every value, whether its bounds are tightened by
    /// back-substitution (see [`Net::new`]).
    tighten: Vec<bool>,
}

impl Net {
    /// The network of `layers` reading `reads`, with every width checked
    /// (so that no index into a layer's vectors can go out of range later).
    ///
    /// A value is tightened by back-substitution when a linear layer
    /// (affine, Sum, Concat) produces it, some ReLU or Scale layer reads it,
    /// and a ReLU or Scale layer comes before it in layer order (so every
    /// such value with one of those among its ancestors is). On a chain this
    /// is "every affine output that feeds a non-linear layer after a first
    /// non-linear layer", which mirrors the prover. (Which bounds are
    /// tightened affects only how tight they are: the interval bounds are
    /// sound on their own.)
    fn new(
        input_dim: usize,
        layers: Vec<ExactLayer>,
        reads: Vec<Vec<usize>>,
        output: usize,
    ) -> Result<Net, CheckError> {
        let bad = |j: usize| {
            fail::<Net>(
                "model",
                format!("layer {j}'s size does not match the values it reads"),
            )
        };
        if reads.len() != layers.len() || output > layers.len() {
            return fail("model", "the lowered network is inconsistent");
        }
        let mut widths = vec![input_dim];
        for (j, (layer, ins)) in layers.iter().zip(&reads).enumerate() {
            if ins.is_empty() || ins.iter().any(|&v| v > j) {
                return fail("model", format!("layer {j} reads no value or a later one"));
            }
            let w_in: Vec<usize> = ins.iter().map(|&v| widths[v]).collect();
            let one = ins.len() == 1;
            let width = match layer {
                ExactLayer::Affine { w, b } => {
                    let in_range = w.rows.iter().flatten().all(|(c, _)| *c < w.n_in);
                    if !one || w.rows.len() != b.len() || w.n_in != w_in[0] || !in_range {
                        return bad(j);
                    }
                    b.len()
                }
                ExactLayer::Relu if one => w_in[0],
                ExactLayer::Scale { lo, hi, mean, beta }
                    if one && [lo, hi, mean, beta].iter().all(|v| v.len() == w_in[0]) =>
                {
                    w_in[0]
                }
                ExactLayer::Sum if w_in.iter().all(|&n| n == w_in[0]) => w_in[0],
                ExactLayer::Concat { outer, chunks } => {
                    let parts_fit = chunks.len() == ins.len()
                        && chunks
                            .iter()
                            .zip(&w_in)
                            .all(|(&c, &n)| outer.checked_mul(c) == Some(n));
                    let total = chunks
                        .iter()
                        .try_fold(0usize, |t, &c| t.checked_add(c))
                        .and_then(|c| outer.checked_mul(c));
                    match total {
                        Some(n) if parts_fit => n,
                        _ => return bad(j),
                    }
                }
                _ => return bad(j),
            };
            widths.push(width);
        }
        let mut relus = Vec::new();
        let mut relu_ordinal = Vec::with_capacity(layers.len());
        let mut feeds_elementwise = vec![false; layers.len() + 1];
        for (j, layer) in layers.iter().enumerate() {
            if matches!(layer, ExactLayer::Relu) {
                relu_ordinal.push(Some(relus.len()));
                relus.push(j);
            } else {
                relu_ordinal.push(None);
            }
            if layer.is_elementwise() {
                for &v in &reads[j] {
                    feeds_elementwise[v] = true;
                }
            }
        }
        let mut tighten = vec![false; layers.len() + 1];
        let mut seen_elementwise = false;
        for (j, layer) in layers.iter().enumerate() {
            tighten[j + 1] = seen_elementwise && layer.is_linear() && feeds_elementwise[j + 1];
            seen_elementwise |= layer.is_elementwise();
        }
        Ok(Net {
            input_dim,
            layers,
            reads,
            output,
            widths,
            relus,
            relu_ordinal,
            tighten,
        })
    }

    /// A chain: layer `j` reads value `j`, the output is the last value.
    #[cfg(test)]
    fn chain(input_dim: usize, layers: Vec<ExactLayer>) -> Net {
        let reads = (0..layers.len()).map(|j| vec![j]).collect();
        let output = layers.len();
        match Net::new(input_dim, layers, reads, output) {
            Ok(net) => net,
            Err(e) => panic!("{e}"),
        }
    }

    /// The value ReLU or Scale layer `j` reads (its only one).
    fn src(&self, j: usize) -> usize {
        self.reads[j][0]
    }
}

/// The elements of a Concat layer's output, taken from its inputs `parts`
/// (see [`ExactLayer::Concat`] for the index map).
fn concat_parts<T: Clone>(outer: usize, chunks: &[usize], parts: &[&[T]]) -> Vec<T> {
    let mut out = Vec::with_capacity(outer * chunks.iter().sum::<usize>());
    for o in 0..outer {
        for (&c, part) in chunks.iter().zip(parts) {
            out.extend_from_slice(&part[o * c..(o + 1) * c]);
        }
    }
    out
}

/// The inverse of [`concat_parts`]: a Concat output's elements (here
/// back-substitution coefficients) split among its inputs.
fn split_concat(outer: usize, chunks: &[usize], v: Vec<Q>) -> Vec<Vec<Q>> {
    let mut parts: Vec<Vec<Q>> = chunks
        .iter()
        .map(|&c| Vec::with_capacity(outer * c))
        .collect();
    let mut it = v.into_iter();
    for _ in 0..outer {
        for (&c, part) in chunks.iter().zip(parts.iter_mut()) {
            part.extend(it.by_ref().take(c));
        }
    }
    parts
}

/// How many ulps the enclosure of a BatchNorm factor may step outward from
/// its f64 guess before the checker gives up (the guess is within a few).
const ENCLOSURE_STEPS: usize = 64;

/// Dyadics `[lo, hi]` that provably contain `k = scale / sqrt(var + eps)`,
/// all three read as the exact rationals they are.
///
/// The f64 quotient is only a first guess; each end is verified exactly and,
/// until it is, stepped outward by one ulp. With `g = scale` and
/// `v = var + eps > 0` exact, and `c > 0`: `c <= |g| / sqrt(v)` iff
/// `c² v <= g²`, and `c >= |g| / sqrt(v)` iff `c² v >= g²` (both sides of
/// each are non-negative, and squaring is monotone there). So for `g > 0`
/// a lower end `lo` is valid when `lo <= 0` or `lo² v <= g²`, an upper end
/// `hi` when `hi > 0` and `hi² v >= g²`; for `g < 0` the enclosure
/// `[a, b]` of `|g| / sqrt(v)` gives `[-b, -a]`; for `g = 0`, `k = 0`.
fn batchnorm_enclosure(scale: f32, var: f32, eps: f32) -> Result<(Q, Q), String> {
    if !(scale.is_finite() && var.is_finite() && eps.is_finite()) {
        return Err("a constant is not finite".into());
    }
    let g = q(f64::from(scale));
    let v = &q(f64::from(var)) + &q(f64::from(eps));
    if !v.is_positive() {
        return Err("var + epsilon is not above 0".into());
    }
    if g.is_zero() {
        return Ok((Q::zero(), Q::zero()));
    }
    let g2 = &g * &g;
    let c2v = |c: f64| {
        let c = q(c);
        &(&c * &c) * &v
    };
    let lower_ok = |c: f64| c <= 0.0 || c2v(c) <= g2;
    let upper_ok = |c: f64| c > 0.0 && c2v(c) >= g2;
    // The guess: any value would do, a close one saves steps.
    let guess = f64::from(scale).abs() / (f64::from(var) + f64::from(eps)).sqrt();
    let lo = step_until_valid(guess, f64::next_down, lower_ok)
        .ok_or("no verified lower end of scale / sqrt(var + epsilon) near the f64 guess")?;
    let hi = step_until_valid(guess, f64::next_up, upper_ok)
        .ok_or("no verified upper end of scale / sqrt(var + epsilon) near the f64 guess")?;
    let (lo, hi) = (q(lo), q(hi));
    Ok(if g.is_negative() {
        (-&hi, -&lo)
    } else {
        (lo, hi)
    })
}

/// Dyadics `[lo, hi]` that provably contain `1 / c`, `c` read as the exact
/// rational it is: for `c > 0`, `lo <= 1/c` iff `lo <= 0` or `lo c <= 1`,
/// and `hi >= 1/c` iff `hi > 0` and `hi c >= 1` (multiplying by `c > 0`
/// keeps the order); a negative `c` mirrors the enclosure of `1/|c|`.
fn reciprocal_enclosure(c: f32) -> Result<(Q, Q), String> {
    if !c.is_finite() || c == 0.0 {
        return Err("the divisor is 0 or not finite".into());
    }
    let a = q(f64::from(c.abs()));
    let one = Q::one();
    let lower_ok = |x: f64| x <= 0.0 || &q(x) * &a <= one;
    let upper_ok = |x: f64| x > 0.0 && &q(x) * &a >= one;
    let guess = 1.0 / f64::from(c.abs());
    let lo = step_until_valid(guess, f64::next_down, lower_ok)
        .ok_or("no verified lower end of the reciprocal near the f64 guess")?;
    let hi = step_until_valid(guess, f64::next_up, upper_ok)
        .ok_or("no verified upper end of the reciprocal near the f64 guess")?;
    let (lo, hi) = (q(lo), q(hi));
    Ok(if c < 0.0 { (-&hi, -&lo) } else { (lo, hi) })
}

/// The first of `start`, `step(start)`, `step(step(start))`, ... (at most
/// `ENCLOSURE_STEPS` steps) that is finite and `valid`.
fn step_until_valid(start: f64, step: fn(f64) -> f64, valid: impl Fn(f64) -> bool) -> Option<f64> {
    let mut c = start;
    for _ in 0..=ENCLOSURE_STEPS {
        if c.is_finite() && valid(c) {
            return Some(c);
        }
        c = step(c);
    }
    None
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

/// `1 / count` when it is a dyadic (count a power of two; as such it is
/// exact in an f32, below 2^64 < 2^127).
fn count_recip(count: usize) -> Option<Q> {
    if !count.is_power_of_two() {
        return None;
    }
    dyadic_recip(count as f32)
}

/// The most weights (non-zero entries) one linear layer may hold: the
/// checker holds every linear layer as rows of exact numbers, so a larger
/// layer is refused instead of exhausting memory.
pub const MAX_LAYER_ENTRIES: usize = 1 << 26;

/// The multi-index of row-major flat index `e` in `shape`.
fn multi_index(mut e: usize, shape: &[usize]) -> Vec<usize> {
    let mut at = vec![0; shape.len()];
    for k in (0..shape.len()).rev() {
        let d = shape[k].max(1);
        at[k] = e % d;
        e /= d;
    }
    at
}

/// The row-major flat index of multi-index `at` in `shape`.
fn flat_index(at: &[usize], shape: &[usize]) -> usize {
    at.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// The number of elements of `shape`, or `None` when it overflows.
fn checked_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The input coordinate that kernel tap `k` of output coordinate `o` reads
/// along one axis of length `len`: `o · stride + k · dilation - pad`, or
/// `None` when that lies in the zero padding.
fn tap(
    o: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    len: usize,
) -> Option<usize> {
    let padded = o
        .checked_mul(stride)?
        .checked_add(k.checked_mul(dilation)?)?;
    let i = padded.checked_sub(pad)?;
    (i < len).then_some(i)
}

/// Lowers the graph to exact layers over a DAG (independently of the
/// prover): one layer per node in node order, but for the reshapes
/// (Identity, Flatten, Reshape, a Concat of one value), whose output is
/// their input's exact value (row-major order and element count unchanged).
fn lower(graph: &Graph) -> Result<Net, CheckError> {
    // The shapes of the graph that is lowered (dead nodes removed), so that
    // `shapes[v]` is the shape of graph value `v`; `infer_shapes` also checks
    // that every node reads as many values as its op takes, all earlier.
    // MaxPool nodes are first rewritten with ReLUs, `max(a, b) = b + relu(a
    // - b)` (`axiom_core::maxpool`, an identity of real arithmetic with
    // exact 0/±1 weights), as the prover does, so that ReLU ordinals agree.
    let graph = axiom_core::maxpool::expand_max_pools(graph)
        .map_err(|e| CheckError {
            place: "model".into(),
            reason: e.to_string(),
        })?
        .without_dead_nodes();
    let shapes = graph.infer_shapes().map_err(|e| CheckError {
        place: "model".into(),
        reason: e.to_string(),
    })?;
    let mut layers = Vec::new();
    let mut reads = Vec::new();
    // The exact value of every graph value: `exact[v]`.
    let mut exact: Vec<usize> = vec![0];
    for (i, node) in graph.nodes.iter().enumerate() {
        let place = format!("model node '{}'", node.name);
        let srcs: Option<Vec<usize>> = node.inputs.iter().map(|&v| exact.get(v).copied()).collect();
        let (Some(srcs), Some(&first)) = (srcs, node.inputs.first()) else {
            return fail(place, "the node reads no value or a later one");
        };
        let sin = &shapes[first];
        let n_in: usize = sin.iter().product();
        match &node.op {
            Op::Relu => layers.push(ExactLayer::Relu),
            Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => {
                exact.push(srcs[0]);
                continue;
            }
            Op::Concat { .. } if srcs.len() == 1 => {
                exact.push(srcs[0]);
                continue;
            }
            Op::Sum => layers.push(ExactLayer::Sum),
            Op::Concat { axis } => {
                // Every input has the same dimensions but along `axis`
                // (checked by the shape inference): the same outer count,
                // and a chunk of its length along `axis` times the inner
                // count per outer index.
                let Some(outer) = checked_len(&sin[..(*axis).min(sin.len())]) else {
                    return fail(place, "the output has too many elements");
                };
                let mut chunks = Vec::with_capacity(node.inputs.len());
                for &v in &node.inputs {
                    let s = &shapes[v];
                    let chunk = s.get(*axis..).and_then(checked_len);
                    let Some(chunk) = chunk.filter(|_| s.len() == sin.len()) else {
                        return fail(place, "Concat of values of different ranks");
                    };
                    chunks.push(chunk);
                }
                layers.push(ExactLayer::Concat { outer, chunks });
            }
            Op::Gemm { weight, bias } => {
                let (o, k) = weight.dim();
                let blocks = n_in / k;
                let mut w = Rows::new(&place, blocks * o, n_in, (blocks * o).checked_mul(k))?;
                let mut b = vec![Q::zero(); blocks * o];
                for blk in 0..blocks {
                    for r in 0..o {
                        for c in 0..k {
                            w.add(blk * o + r, blk * k + c, q(f64::from(weight[[r, c]])));
                        }
                        if let Some(bias) = bias {
                            b[blk * o + r] = q(f64::from(bias[r]));
                        }
                    }
                }
                layers.push(ExactLayer::Affine { w: w.finish(), b });
            }
            // Division by constants not all powers of two: 1/c is not a
            // dyadic, so it is enclosed (checked exactly) and the layer is
            // an element-wise Scale, sound for every factor in the
            // enclosure, as BatchNorm's.
            Op::Div { c } if c.iter().any(|&v| dyadic_recip(v).is_none()) => {
                let Some(out) = broadcast_shapes(sin, c.shape()) else {
                    return fail(place, "shapes do not broadcast");
                };
                if out.as_slice() != sin {
                    return fail(
                        place,
                        "division by a constant that broadcasts its input to a larger shape",
                    );
                }
                let cv: Vec<f32> = c.iter().copied().collect();
                let (mut lo, mut hi) = (Vec::with_capacity(n_in), Vec::with_capacity(n_in));
                for e in 0..n_in {
                    let c32 = cv[broadcast_source(c.shape(), &out, e)];
                    let (l, h) = reciprocal_enclosure(c32).map_err(|reason| CheckError {
                        place: place.clone(),
                        reason: format!("division by {c32}: {reason}"),
                    })?;
                    lo.push(l);
                    hi.push(h);
                }
                layers.push(ExactLayer::Scale {
                    lo,
                    hi,
                    mean: vec![Q::zero(); n_in],
                    beta: vec![Q::zero(); n_in],
                });
            }
            Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c } => {
                let Some(out) = broadcast_shapes(sin, c.shape()) else {
                    return fail(place, "shapes do not broadcast");
                };
                let n_out: usize = out.iter().product();
                let cv: Vec<f32> = c.iter().copied().collect();
                let mut w = Rows::new(&place, n_out, n_in, Some(n_out))?;
                let mut b = vec![Q::zero(); n_out];
                for o in 0..n_out {
                    let src = broadcast_source(sin, &out, o);
                    let c32 = cv[broadcast_source(c.shape(), &out, o)];
                    let cval = q(f64::from(c32));
                    match &node.op {
                        Op::Add { .. } => {
                            w.add(o, src, Q::one());
                            b[o] = cval;
                        }
                        Op::Sub { .. } => {
                            w.add(o, src, Q::one());
                            b[o] = -&cval;
                        }
                        Op::Mul { .. } => w.add(o, src, cval),
                        _ => match dyadic_recip(c32) {
                            Some(r) => w.add(o, src, r),
                            None => {
                                return fail(
                                    place,
                                    "division by a constant that is not a power of two",
                                )
                            }
                        },
                    }
                }
                layers.push(ExactLayer::Affine { w: w.finish(), b });
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                epsilon,
            } => {
                // The input is [N, C, rest...]: flat element e (row-major)
                // is in channel (e / inner) % C, inner = product of rest.
                let Some(&channels) = sin.get(1) else {
                    return fail(place, "BatchNorm needs an input of rank >= 2");
                };
                let inner: usize = sin[2..].iter().product();
                let lens = [scale.len(), bias.len(), mean.len(), var.len()];
                if lens.iter().any(|&n| n != channels) {
                    return fail(place, "BatchNorm constants do not match the channels");
                }
                let mut per_channel = Vec::with_capacity(channels);
                for ch in 0..channels {
                    let (lo, hi) =
                        batchnorm_enclosure(scale[ch], var[ch], *epsilon).map_err(|reason| {
                            CheckError {
                                place: place.clone(),
                                reason: format!("BatchNorm channel {ch}: {reason}"),
                            }
                        })?;
                    per_channel.push((lo, hi, q(f64::from(mean[ch])), q(f64::from(bias[ch]))));
                }
                let (mut lo, mut hi, mut m, mut beta) = (
                    Vec::with_capacity(n_in),
                    Vec::with_capacity(n_in),
                    Vec::with_capacity(n_in),
                    Vec::with_capacity(n_in),
                );
                for e in 0..n_in {
                    // n_in > 0 here, so inner > 0 and channels > 0.
                    let (l, h, mc, bc) = &per_channel[(e / inner) % channels];
                    lo.push(l.clone());
                    hi.push(h.clone());
                    m.push(mc.clone());
                    beta.push(bc.clone());
                }
                layers.push(ExactLayer::Scale {
                    lo,
                    hi,
                    mean: m,
                    beta,
                });
            }
            Op::Conv2d {
                weight,
                bias,
                strides,
                pads,
                dilations,
                group,
            } => {
                // Input [N, C, H, W], output [N, M, OH, OW], weight
                // [M, C / group, kH, kW]; output channel oc reads the input
                // channels of its group g = oc / (M / group).
                let (&[n, c, h, wd], &[n_o, m, oh, ow]) =
                    (sin.as_slice(), shapes[i + 1].as_slice())
                else {
                    return fail(place, "Conv2d needs [N, C, H, W] input and output shapes");
                };
                let (wm, cg, kh, kw) = weight.dim();
                let fits = *group > 0
                    && c % group == 0
                    && m % group == 0
                    && cg == c / group
                    && wm == m
                    && n_o == n
                    && bias.as_ref().is_none_or(|b| b.len() == m);
                if !fits {
                    return fail(place, "the Conv2d weight does not fit its input and output");
                }
                let mg = m / group;
                let Some(n_out) = checked_len(&[n, m, oh, ow]) else {
                    return fail(place, "the output has too many elements");
                };
                let per_row = cg.checked_mul(kh).and_then(|v| v.checked_mul(kw));
                let entries = per_row.and_then(|v| v.checked_mul(n_out));
                let mut w = Rows::new(&place, n_out, n_in, entries)?;
                let mut b = vec![Q::zero(); n_out];
                let wq = weight.map(|&v| q(f64::from(v)));
                for img in 0..n {
                    for oc in 0..m {
                        let g = oc / mg;
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let row = ((img * m + oc) * oh + oy) * ow + ox;
                                if let Some(bias) = bias {
                                    b[row] = q(f64::from(bias[oc]));
                                }
                                for icg in 0..cg {
                                    let ic = g * cg + icg;
                                    for ky in 0..kh {
                                        let Some(iy) =
                                            tap(oy, ky, strides[0], dilations[0], pads[0], h)
                                        else {
                                            continue;
                                        };
                                        for kx in 0..kw {
                                            let Some(ix) =
                                                tap(ox, kx, strides[1], dilations[1], pads[1], wd)
                                            else {
                                                continue;
                                            };
                                            let col = ((img * c + ic) * h + iy) * wd + ix;
                                            // Added, never overwritten: two
                                            // taps on one cell both count
                                            // (`finish` sums them).
                                            w.add(row, col, wq[[oc, icg, ky, kx]].clone());
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                layers.push(ExactLayer::Affine { w: w.finish(), b });
            }
            Op::AveragePool {
                kernel,
                strides,
                pads,
                count_include_pad,
            } => {
                // Each output is the sum of its window's in-range cells
                // divided by the window's area (count_include_pad) or by the
                // number of those cells; a window of padding only is 0.
                let (&[n, c, h, wd], &[n_o, c_o, oh, ow]) =
                    (sin.as_slice(), shapes[i + 1].as_slice())
                else {
                    return fail(
                        place,
                        "AveragePool needs [N, C, H, W] input and output shapes",
                    );
                };
                if (n_o, c_o) != (n, c) {
                    return fail(place, "AveragePool changes the batch or channel count");
                }
                let Some(n_out) = checked_len(&[n, c, oh, ow]) else {
                    return fail(place, "the output has too many elements");
                };
                let entries = kernel[0]
                    .checked_mul(kernel[1])
                    .and_then(|v| v.checked_mul(n_out));
                let mut w = Rows::new(&place, n_out, n_in, entries)?;
                for plane in 0..n * c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let row = (plane * oh + oy) * ow + ox;
                            let mut cells = Vec::new();
                            for ky in 0..kernel[0] {
                                let Some(iy) = tap(oy, ky, strides[0], 1, pads[0], h) else {
                                    continue;
                                };
                                for kx in 0..kernel[1] {
                                    if let Some(ix) = tap(ox, kx, strides[1], 1, pads[1], wd) {
                                        cells.push((plane * h + iy) * wd + ix);
                                    }
                                }
                            }
                            if cells.is_empty() {
                                // 0 exactly, whatever the divisor.
                                continue;
                            }
                            let count = if *count_include_pad {
                                kernel[0] * kernel[1]
                            } else {
                                cells.len()
                            };
                            let Some(r) = count_recip(count) else {
                                return fail(
                                    place,
                                    format!(
                                        "averaging over {count} cells divides by a number \
                                         that is not a power of two"
                                    ),
                                );
                            };
                            for col in cells {
                                w.add(row, col, r.clone());
                            }
                        }
                    }
                }
                let b = vec![Q::zero(); n_out];
                layers.push(ExactLayer::Affine { w: w.finish(), b });
            }
            // Both move elements (Pad adds its constant where it pads).
            Op::Transpose { perm } => {
                let sout = &shapes[i + 1];
                let n_out = n_in;
                let mut w = Rows::new(&place, n_out, n_in, Some(n_out))?;
                let mut at_in = vec![0; sin.len()];
                for e in 0..n_out {
                    let o = multi_index(e, sout);
                    for (k, &a) in perm.iter().enumerate() {
                        at_in[a] = o[k];
                    }
                    w.add(e, flat_index(&at_in, sin), Q::one());
                }
                layers.push(ExactLayer::Affine {
                    w: w.finish(),
                    b: vec![Q::zero(); n_out],
                });
            }
            Op::Pad { pads, value } => {
                let sout = &shapes[i + 1];
                let Some(n_out) = checked_len(sout) else {
                    return fail(place, "the output has too many elements");
                };
                let rank = sin.len();
                if pads.len() != 2 * rank {
                    return fail(place, "Pad does not list two pads per axis");
                }
                let mut w = Rows::new(&place, n_out, n_in, Some(n_out))?;
                let mut b = vec![Q::zero(); n_out];
                for (e, be) in b.iter_mut().enumerate() {
                    let o = multi_index(e, sout);
                    let at: Option<Vec<usize>> = (0..rank)
                        .map(|k| o[k].checked_sub(pads[k]).filter(|&v| v < sin[k]))
                        .collect();
                    match at {
                        Some(at) => w.add(e, flat_index(&at, sin), Q::one()),
                        None => *be = q(f64::from(*value)),
                    }
                }
                layers.push(ExactLayer::Affine { w: w.finish(), b });
            }
            other => {
                return fail(
                    place,
                    format!("the checker does not support {} yet", other.kind()),
                )
            }
        }
        reads.push(srcs);
        exact.push(layers.len());
    }
    // Every layer reads values of the widths it expects (true by
    // construction from the shapes; checked by `Net::new`).
    let output = exact.get(graph.output).copied();
    let Some(output) = output else {
        return fail("model", "the output is not a value of the graph");
    };
    Net::new(graph.input_len(), layers, reads, output)
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

/// The exact range `(min, max)` of one affine layer's outputs over the box
/// `[lo, hi]` (no rounding: for a point box, the exact output).
fn exact_interval_affine(w: &Rows, b: &[Q], lo: &[Q], hi: &[Q]) -> (Vec<Q>, Vec<Q>) {
    let mut l = Vec::with_capacity(w.rows.len());
    let mut u = Vec::with_capacity(w.rows.len());
    for (row, br) in w.rows.iter().zip(b) {
        let (mut a, mut c) = (br.clone(), br.clone());
        for (col, wv) in row {
            let (x0, x1) = (&lo[*col], &hi[*col]);
            if wv.is_positive() {
                a += &(wv * x0);
                c += &(wv * x1);
            } else {
                a += &(wv * x1);
                c += &(wv * x0);
            }
        }
        l.push(a);
        u.push(c);
    }
    (l, u)
}

/// Interval bounds of one affine layer, rounded outward.
fn interval_affine(w: &Rows, b: &[Q], lo: &[Q], hi: &[Q]) -> (Vec<Q>, Vec<Q>) {
    let (l, u) = exact_interval_affine(w, b, lo, hi);
    (
        l.iter().map(|v| round_dyadic(v, false)).collect(),
        u.iter().map(|v| round_dyadic(v, true)).collect(),
    )
}

/// The exact range `(min, max)` of `k (x - m) + beta` over every `k` in
/// `[k_lo, k_hi]` and every `x` in `[l, u]`: the product `k s` with
/// `s = x - m` in `[l - m, u - m]` is bilinear, so its extremes over the
/// rectangle are among the four corner products.
fn exact_interval_scale(k_lo: &Q, k_hi: &Q, m: &Q, beta: &Q, l: &Q, u: &Q) -> (Q, Q) {
    let (s_lo, s_hi) = (l - m, u - m);
    let corners = [k_lo * &s_lo, k_lo * &s_hi, k_hi * &s_lo, k_hi * &s_hi];
    let mut min = corners[0].clone();
    let mut max = corners[0].clone();
    for c in &corners[1..] {
        min = min.min(c.clone());
        max = max.max(c.clone());
    }
    (&min + beta, &max + beta)
}

/// The checker's bound machinery for one box.
struct BoxBounds<'a> {
    net: &'a Net,
    /// Bounds of every value: index 0 the input, `i + 1` layer `i`'s output.
    values: Vec<(Vec<Q>, Vec<Q>)>,
    /// Whether some bound is empty (`l > u`): the region has no point.
    empty: bool,
}

impl<'a> BoxBounds<'a> {
    /// The bounds on the region `[lo, hi]` with the ReLU phases `phases`
    /// fixed (as `(relu layer, neuron, active)`, checked by the caller).
    fn new(net: &'a Net, lo: Vec<Q>, hi: Vec<Q>, phases: &[Phase]) -> Self {
        let empty = lo.iter().zip(&hi).any(|(l, u)| l > u);
        let mut values = Vec::with_capacity(net.layers.len() + 1);
        values.push((lo, hi));
        let mut bb = BoxBounds { net, values, empty };
        bb.clamp(0, phases);
        for (i, layer) in net.layers.iter().enumerate() {
            let reads = &net.reads[i];
            let (l, u) = &bb.values[reads[0]];
            let next = match layer {
                ExactLayer::Affine { w, b } => {
                    let (nl, nu) = interval_affine(w, b, l, u);
                    bb.tightened(i + 1, nl, nu)
                }
                ExactLayer::Sum => {
                    // The sum of the inputs' bounds, rounded outward.
                    let (mut nl, mut nu) = (l.clone(), u.clone());
                    for &v in &reads[1..] {
                        let (vl, vu) = &bb.values[v];
                        nl.iter_mut().zip(vl).for_each(|(a, b)| *a += b);
                        nu.iter_mut().zip(vu).for_each(|(a, b)| *a += b);
                    }
                    let nl = nl.iter().map(|v| round_dyadic(v, false)).collect();
                    let nu = nu.iter().map(|v| round_dyadic(v, true)).collect();
                    bb.tightened(i + 1, nl, nu)
                }
                ExactLayer::Concat { outer, chunks } => {
                    // The inputs' bounds, placed by the index map.
                    let los: Vec<&[Q]> = reads.iter().map(|&v| &bb.values[v].0[..]).collect();
                    let his: Vec<&[Q]> = reads.iter().map(|&v| &bb.values[v].1[..]).collect();
                    let nl = concat_parts(*outer, chunks, &los);
                    let nu = concat_parts(*outer, chunks, &his);
                    bb.tightened(i + 1, nl, nu)
                }
                ExactLayer::Relu => (
                    l.iter().map(|v| v.clone().max(Q::zero())).collect(),
                    u.iter().map(|v| v.clone().max(Q::zero())).collect(),
                ),
                ExactLayer::Scale { lo, hi, mean, beta } => {
                    // Interval bounds only: a Scale layer's output is not
                    // tightened by back-substitution.
                    let mut nl = Vec::with_capacity(l.len());
                    let mut nu = Vec::with_capacity(l.len());
                    for (t, (lt, ut)) in l.iter().zip(u).enumerate() {
                        let (a, c) =
                            exact_interval_scale(&lo[t], &hi[t], &mean[t], &beta[t], lt, ut);
                        nl.push(round_dyadic(&a, false));
                        nu.push(round_dyadic(&c, true));
                    }
                    (nl, nu)
                }
            };
            bb.values.push(next);
            bb.clamp(i + 1, phases);
        }
        bb
    }

    /// Clamps the bounds of value `v` where it is the input of a ReLU whose
    /// phase the region fixes: to `[max(l, 0), u]` (active) or
    /// `[l, min(u, 0)]` (inactive). Sound on the region, whichever layer
    /// reads `v`: every point of the region meets the phase.
    fn clamp(&mut self, v: usize, phases: &[Phase]) {
        for &(k, t, active) in phases {
            if self.net.relus.get(k).map(|&j| self.net.src(j)) != Some(v) {
                continue;
            }
            let (l, u) = &mut self.values[v];
            if active {
                l[t] = l[t].clone().max(Q::zero());
            } else {
                u[t] = u[t].clone().min(Q::zero());
            }
            self.empty |= l[t] > u[t];
        }
    }

    /// The interval bounds `(nl, nu)` of value `v` (not yet in `values`),
    /// tightened by back-substitution when the network says so
    /// ([`Net::new`]): for every neuron (also the stable ones: their tighter
    /// bounds tighten the next layer's interval bounds), intersected with
    /// the interval bounds.
    fn tightened(&mut self, v: usize, mut nl: Vec<Q>, mut nu: Vec<Q>) -> (Vec<Q>, Vec<Q>) {
        if !self.net.tighten[v] {
            return (nl, nu);
        }
        for r in 0..nl.len() {
            let mut e = vec![Q::zero(); nl.len()];
            e[r] = Q::one();
            let lower = self.backward(v, e.clone());
            e[r] = -&Q::one();
            let upper = -&self.backward(v, e);
            nl[r] = nl[r].clone().max(round_dyadic(&lower, false));
            nu[r] = nu[r].clone().min(round_dyadic(&upper, true));
            self.empty |= nl[r] > nu[r];
        }
        (nl, nu)
    }

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
    ///
    /// Needs the bounds of every value before `k` only. Over the DAG: every
    /// value `v` has a coefficient vector `coef[v]` (absent until a layer
    /// that reads `v` contributes one), and at every step
    /// `a · v_k >= cst + Σ coef[v] · v_v` on the region. The layers are
    /// processed from `k - 1` down to 0; when layer `j` is, every layer that
    /// reads its output `j + 1` and could matter (those before `k`) has
    /// been, so `coef[j + 1]` is complete, and its term is replaced by an
    /// equal (affine, Sum, Concat) or smaller (ReLU, Scale relaxations,
    /// valid on the region given the input's bounds) linear form in the
    /// layer's inputs, added into their coefficients. In the end only the
    /// input is left, whose term is bounded over the box.
    fn backward_with(&self, k: usize, a: Vec<Q>, slopes: &[Vec<Q>]) -> Q {
        let net = self.net;
        let mut cst = Q::zero();
        let mut coef: Vec<Option<Vec<Q>>> = (0..=k).map(|_| None).collect();
        coef[k] = Some(a);
        for j in (0..k).rev() {
            let Some(mut a) = coef[j + 1].take() else {
                continue; // not an ancestor of v_k
            };
            let reads = &net.reads[j];
            match &net.layers[j] {
                ExactLayer::Affine { w, b } => {
                    let mut next = vec![Q::zero(); w.n_in];
                    for ((row, br), lam) in w.rows.iter().zip(b).zip(&a) {
                        if lam.is_zero() {
                            continue;
                        }
                        cst += &(lam * br);
                        for (col, wv) in row {
                            next[*col] += &(lam * wv);
                        }
                    }
                    add_into(&mut coef[reads[0]], next);
                }
                ExactLayer::Sum => {
                    // λ·(a + b + ...) = λ·a + λ·b + ...
                    for &v in &reads[1..] {
                        add_into(&mut coef[v], a.clone());
                    }
                    add_into(&mut coef[reads[0]], a);
                }
                ExactLayer::Concat { outer, chunks } => {
                    // Each output element is one input element: its
                    // coefficient goes to that element.
                    for (&v, part) in reads.iter().zip(split_concat(*outer, chunks, a)) {
                        add_into(&mut coef[v], part);
                    }
                }
                ExactLayer::Relu => {
                    let (l, u) = &self.values[reads[0]];
                    let given = net.relu_ordinal[j]
                        .and_then(|i| slopes.get(i))
                        .filter(|v| !v.is_empty());
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
                        a[t] = round_and_pay(&coeff, lt, ut, &mut cst);
                    }
                    cst = round_dyadic(&cst, false);
                    add_into(&mut coef[reads[0]], a);
                }
                ExactLayer::Scale { lo, hi, mean, beta } => {
                    // Output t is y = k (x - m) + beta with the true k in
                    // [lo, hi] (the verified enclosure) and x, this layer's
                    // input, in [l, u] (its bounds on the region). With lo
                    // as the slope:
                    //   λ y = λ lo x + λ (beta - lo m) + λ (k - lo)(x - m).
                    // In the last term d = k - lo is in [0, D], D = hi - lo,
                    // and s = x - m is in [l - m, u - m]. For a fixed s, d s
                    // lies between min(0, D s) and max(0, D s); over s the
                    // first is smallest at s = l - m, the second largest at
                    // s = u - m (D >= 0). So the last term is at least
                    //   λ D min(l - m, 0)   when λ >= 0,
                    //   λ D max(u - m, 0)   when λ < 0.
                    // The new coefficient of x is λ lo (rounded and paid
                    // for below), the rest goes into the constant.
                    let (l, u) = &self.values[reads[0]];
                    for t in 0..a.len() {
                        let lam = a[t].clone();
                        if lam.is_zero() {
                            continue;
                        }
                        let (lt, ut) = (&l[t], &u[t]);
                        let (k_lo, m) = (&lo[t], &mean[t]);
                        let spread = &hi[t] - k_lo;
                        cst += &(&lam * &(&beta[t] - &(k_lo * m)));
                        let error = if lam.is_positive() {
                            &spread * &(lt - m).min(Q::zero())
                        } else {
                            &spread * &(ut - m).max(Q::zero())
                        };
                        cst += &(&lam * &error);
                        a[t] = round_and_pay(&(&lam * k_lo), lt, ut, &mut cst);
                    }
                    cst = round_dyadic(&cst, false);
                    add_into(&mut coef[reads[0]], a);
                }
            }
        }
        if let Some(a) = &coef[0] {
            let (lo, hi) = &self.values[0];
            for ((c, l), u) in a.iter().zip(lo).zip(hi) {
                cst += &(if c.is_positive() { c * l } else { c * u });
            }
        }
        cst
    }
}

/// Adds the coefficients `v` into `slot` (which takes them as they are when
/// it has none yet: on a chain, a move).
fn add_into(slot: &mut Option<Vec<Q>>, v: Vec<Q>) {
    match slot {
        None => *slot = Some(v),
        Some(acc) => {
            for (x, y) in acc.iter_mut().zip(&v) {
                if !y.is_zero() {
                    *x += y;
                }
            }
        }
    }
}

/// Rounds a back-substitution coefficient of a value `z` in `[l, u]` and
/// pays for it exactly: `coeff·z = rounded·z + (coeff - rounded)·z`, and the
/// last term is at least `diff·l` when `diff > 0`, `diff·u` otherwise; that
/// bound goes into `cst`. Returns the rounded coefficient.
fn round_and_pay(coeff: &Q, l: &Q, u: &Q, cst: &mut Q) -> Q {
    let rounded = round_dyadic(coeff, false);
    let diff = coeff - &rounded;
    *cst += &(if diff.is_positive() {
        &diff * l
    } else {
        &diff * u
    });
    rounded
}

/// Re-checks a proof of "no input of the property's regions reaches its
/// unsafe set" exactly. Returns what was checked, or the first failure.
pub fn check_proof(
    graph: &Graph,
    property: &Property,
    evidence: &Evidence,
) -> Result<CheckReport, CheckError> {
    let net = lower(graph)?;
    let input_dim = net.input_dim;
    if input_dim != property.num_inputs {
        return fail(
            "model",
            "the property's input count differs from the model's",
        );
    }
    // The width of every ReLU layer, for the splits to name.
    let relu_widths: Vec<usize> = widths_of_relus(&net);
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
            check_node(&net, &property.cases[t.case].output, t).map_err(|reason| CheckError {
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

/// The width of every ReLU layer (of the value it reads), in order.
fn widths_of_relus(net: &Net) -> Vec<usize> {
    net.relus.iter().map(|&j| net.widths[net.src(j)]).collect()
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
fn check_node(net: &Net, disjuncts: &[Vec<Constraint>], t: &Task) -> Result<Vec<Checked>, String> {
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
                net,
                t.lo.iter().map(|&v| q(v)).collect(),
                t.hi.iter().map(|&v| q(v)).collect(),
                &t.phases,
            ));
        }
        if let Some(bb) = &bounds {
            out.push(check_refutation(net, disjuncts, bb, r)?);
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
    net: &Net,
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
            let out_bounds = &bb.values[net.output];
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
            let mut slopes = Vec::with_capacity(relu_slopes.len());
            for (i, layer_slopes) in relu_slopes.iter().enumerate() {
                let width = net.relus.get(i).map(|&j| net.widths[net.src(j)]);
                let fits = width.is_some()
                    && (layer_slopes.is_empty() || Some(layer_slopes.len()) == width)
                    && layer_slopes.iter().all(|v| (0.0..=1.0).contains(v));
                if !fits {
                    return Err(format!(
                        "the ReLU slopes of layer {i} are not one value in [0, 1] per neuron"
                    ));
                }
                slopes.push(layer_slopes.iter().map(|&v| q(v)).collect());
            }
            substituted += bb.backward_with(net.output, coeffs, &slopes).to_rational();
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
/// arithmetic) meets the disjunct.
///
/// Piecewise-linear networks (Gemm, Conv2d, AveragePool over power-of-two
/// counts, the element-wise constant ops, ReLU, reshapes, Sum and Concat of
/// computed values, over a DAG, MaxPool as ReLUs) plus BatchNorm; the
/// smooth activations are refused.
///
/// An input coordinate that the case's box fixes to a value `c` no f64
/// equals (VNN-LIB's decimals, `0.1`) cannot be given exactly; the
/// counterexample gives one of the two f64s around `c` instead, and then
/// stands for the input with `c` in that place: that coordinate is
/// evaluated on the range between the two f64s (which contains `c`), and
/// the acceptance below holds for every point of the range, `c` included. A BatchNorm factor
/// `scale / sqrt(var + epsilon)` is known only up to its exact enclosure, so
/// the network is evaluated on intervals, exactly (no rounding): the result
/// is a box that contains the true output, a single point when the network
/// has no BatchNorm. The counterexample is accepted only when every
/// constraint of the disjunct holds at every point of that box — so a point
/// whose output meets the disjunct by less than the enclosure can resolve is
/// rejected, never accepted on a guess.
pub fn check_counterexample(
    graph: &Graph,
    property: &Property,
    cex: &Counterexample,
) -> Result<(), CheckError> {
    let net = lower(graph)?;
    let input_dim = net.input_dim;
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
    if case.input.lower.len() != input_dim || case.input.upper.len() != input_dim {
        return fail(place, "the case's box has the wrong dimension");
    }
    // The exact input, and an exact dyadic range of it. A coordinate inside
    // the box is itself (a point range). A coordinate the box fixes to a
    // value `c` that no f64 equals (a decimal such as 0.1: VNN-LIB boxes
    // often fix most inputs so) stands for `c` when it is one of the two
    // f64s around `c`; its range is then those two f64s, which contain `c`,
    // and the claim is about the input with `c` in that place.
    let mut x: Vec<BigRational> = Vec::with_capacity(input_dim);
    let (mut in_lo, mut in_hi) = (Vec::with_capacity(input_dim), Vec::with_capacity(input_dim));
    for (i, &v) in cex.input.iter().enumerate() {
        let (lower, upper) = (&case.input.lower[i], &case.input.upper[i]);
        let xi = q(v).to_rational();
        if *lower <= xi && xi <= *upper {
            x.push(xi);
            in_lo.push(q(v));
            in_hi.push(q(v));
            continue;
        }
        let (below, above) = (q(v.next_down()).to_rational(), q(v.next_up()).to_rational());
        if lower == upper && below < *lower && *lower < above {
            let (a, b) = if *lower < xi {
                (v.next_down(), v)
            } else {
                (v, v.next_up())
            };
            x.push(lower.clone());
            in_lo.push(q(a));
            in_hi.push(q(b));
            continue;
        }
        return fail(place, format!("X_{i} lies outside the case's box"));
    }
    // The exact range of every value, starting from the input's range.
    let mut values: Vec<(Vec<Q>, Vec<Q>)> = Vec::with_capacity(net.layers.len() + 1);
    values.push((in_lo, in_hi));
    for (layer, reads) in net.layers.iter().zip(&net.reads) {
        let (lo, hi) = &values[reads[0]];
        let next = match layer {
            ExactLayer::Affine { w, b } => exact_interval_affine(w, b, lo, hi),
            ExactLayer::Relu => (
                lo.iter().map(|t| t.clone().max(Q::zero())).collect(),
                hi.iter().map(|t| t.clone().max(Q::zero())).collect(),
            ),
            ExactLayer::Scale {
                lo: k_lo,
                hi: k_hi,
                mean,
                beta,
            } => (0..lo.len())
                .map(|t| {
                    exact_interval_scale(&k_lo[t], &k_hi[t], &mean[t], &beta[t], &lo[t], &hi[t])
                })
                .unzip(),
            ExactLayer::Sum => {
                // Exact: the sum of the inputs' ends.
                let (mut sl, mut su) = (lo.clone(), hi.clone());
                for &v in &reads[1..] {
                    sl.iter_mut().zip(&values[v].0).for_each(|(a, b)| *a += b);
                    su.iter_mut().zip(&values[v].1).for_each(|(a, b)| *a += b);
                }
                (sl, su)
            }
            ExactLayer::Concat { outer, chunks } => {
                let los: Vec<&[Q]> = reads.iter().map(|&v| &values[v].0[..]).collect();
                let his: Vec<&[Q]> = reads.iter().map(|&v| &values[v].1[..]).collect();
                (
                    concat_parts(*outer, chunks, &los),
                    concat_parts(*outer, chunks, &his),
                )
            }
        };
        values.push(next);
    }
    let (lo, hi) = &values[net.output];
    let y_lo: Vec<BigRational> = lo.iter().map(Dyadic::to_rational).collect();
    let y_hi: Vec<BigRational> = hi.iter().map(Dyadic::to_rational).collect();
    // Whether `c` holds at every point of the output box (with the exact
    // input): its left-hand side's maximum there, each output at the end of
    // its range that its coefficient's sign makes largest, meets it. (The
    // output box contains the exact output at `x`, whatever the BatchNorm
    // factors in their enclosures and the fixed inputs in their ranges.)
    let holds = |c: &Constraint| {
        let mut s = c.expr.constant.clone();
        for (var, coef) in &c.expr.terms {
            let val = match var {
                Var::X(i) => x.get(*i),
                Var::Y(i) if coef.is_positive() => y_hi.get(*i),
                Var::Y(i) => y_lo.get(*i),
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
            format!(
                "the exact output does not meet constraint {k} of the disjunct \
                 (for every value in the enclosure of its BatchNorm factors)"
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigInt;

    fn r(v: &Q) -> BigRational {
        v.to_rational()
    }

    /// Whether `[lo, hi]` contains `k = g / sqrt(v)` (g, v exact, v > 0),
    /// decided by squares: for `x` and `k` of the same sign, `|x| <= |k|`
    /// iff `x² v <= g²`.
    fn encloses(lo: &Q, hi: &Q, scale: f32, var: f32, eps: f32) -> bool {
        let g = q(f64::from(scale)).to_rational();
        let v = q(f64::from(var)).to_rational() + q(f64::from(eps)).to_rational();
        let g2 = &g * &g;
        let (lo, hi) = (r(lo), r(hi));
        let sq_v = |x: &BigRational| x * x * &v;
        let lo_ok = if g.is_negative() {
            lo.is_negative() && sq_v(&lo) >= g2
        } else {
            !lo.is_positive() || sq_v(&lo) <= g2
        };
        let hi_ok = if g.is_negative() {
            !hi.is_negative() || sq_v(&hi) <= g2
        } else {
            !hi.is_negative() && sq_v(&hi) >= g2
        };
        lo_ok && hi_ok
    }

    #[test]
    fn the_enclosure_of_a_rational_factor_is_that_factor() {
        // var + eps = 3 + 1 = 4: k = scale / 2 exactly.
        for scale in [0.7f32, -0.7, 3.0, 1e-30] {
            let (lo, hi) = batchnorm_enclosure(scale, 3.0, 1.0).unwrap();
            let half = q(f64::from(scale) / 2.0); // exact: a halving
            assert_eq!((lo, hi), (half.clone(), half), "scale {scale}");
        }
    }

    #[test]
    fn the_enclosure_of_an_irrational_factor_is_verified_and_tight() {
        let eps = 1e-5f32;
        for scale in [0.7f32, -0.7, 1e-30, -3e38, 1.0] {
            for var in [2.0f32, 3.0, 1e-20, 7e37] {
                let (lo, hi) = batchnorm_enclosure(scale, var, eps).unwrap();
                assert!(encloses(&lo, &hi, scale, var, eps), "{scale} {var}");
                // Irrational k: neither end can equal it, so lo < hi.
                assert!(lo < hi, "{scale} {var}");
                // A few ulps wide: hi - lo <= |lo| · 2^-48.
                let width = r(&hi) - r(&lo);
                let ulps = r(&lo).abs() / BigRational::from_integer(BigInt::from(1u64 << 48));
                assert!(width <= ulps, "{scale} {var}: [{lo:?}, {hi:?}]");
                // The sign of k.
                assert_eq!(lo.is_positive(), scale > 0.0);
                assert_eq!(hi.is_negative(), scale < 0.0);
            }
        }
    }

    #[test]
    fn the_enclosure_of_a_zero_scale_is_zero() {
        for scale in [0.0f32, -0.0] {
            let (lo, hi) = batchnorm_enclosure(scale, 2.0, 1e-5).unwrap();
            assert!(lo.is_zero() && hi.is_zero());
        }
    }

    #[test]
    fn bad_constants_fail_cleanly() {
        assert!(batchnorm_enclosure(1.0, -1.0, 0.5).is_err());
        assert!(batchnorm_enclosure(1.0, 0.0, 0.0).is_err());
        assert!(batchnorm_enclosure(f32::NAN, 1.0, 0.0).is_err());
        assert!(batchnorm_enclosure(1.0, f32::INFINITY, 0.0).is_err());
    }

    #[test]
    fn stepping_is_bounded() {
        assert_eq!(
            step_until_valid(1.0, f64::next_up, |c| c > 1.0),
            Some(1.0f64.next_up())
        );
        assert_eq!(step_until_valid(1.0, f64::next_up, |c| c >= 2.0), None);
        assert_eq!(
            step_until_valid(f64::MAX, f64::next_up, |_| true),
            Some(f64::MAX)
        );
        assert_eq!(step_until_valid(f64::NAN, f64::next_up, |_| true), None);
    }

    fn scale_layer(k_lo: f64, k_hi: f64, m: f64, beta: f64) -> ExactLayer {
        ExactLayer::Scale {
            lo: vec![q(k_lo)],
            hi: vec![q(k_hi)],
            mean: vec![q(m)],
            beta: vec![q(beta)],
        }
    }

    #[test]
    fn bounds_through_a_scale_hold_for_every_factor_in_the_enclosure() {
        // A wide enclosure, so that the factor's uncertainty matters.
        for (k_lo, k_hi) in [(0.5, 0.75), (-0.75, -0.5), (-0.25, 0.5)] {
            let (m, beta) = (0.25, -1.0);
            let net = Net::chain(1, vec![scale_layer(k_lo, k_hi, m, beta)]);
            for (l, u) in [
                (-1.0, 2.0),
                (0.5, 2.0),
                (-2.0, 0.0),
                (-1.0, 0.25),
                (0.25, 0.25),
            ] {
                let bb = BoxBounds::new(&net, vec![q(l)], vec![q(u)], &[]);
                // k (x - m) + beta is bilinear in (k, x): its extremes over
                // the rectangle are at the corners.
                let corners: Vec<Q> = [(k_lo, l), (k_lo, u), (k_hi, l), (k_hi, u)]
                    .iter()
                    .map(|&(k, x)| &(&q(k) * &(&q(x) - &q(m))) + &q(beta))
                    .collect();
                let (vl, vu) = &bb.values[1];
                for c in &corners {
                    assert!(vl[0] <= *c && *c <= vu[0], "interval bounds miss a corner");
                }
                for lam in [1.0, -1.0, 3.0, -0.5] {
                    let bound = bb.backward(1, vec![q(lam)]);
                    let min = corners.iter().map(|c| &q(lam) * c).min().unwrap();
                    // Sound, and loose by at most the error term's range,
                    // |λ| (hi - lo) max(|l - m|, |u - m|).
                    assert!(bound <= min, "[{l}, {u}] λ {lam}: {bound:?} > {min:?}");
                    let spread = q((k_hi - k_lo) * lam.abs() * (l - m).abs().max((u - m).abs()));
                    assert!(&min - &bound <= spread, "[{l}, {u}] λ {lam}: too loose");
                    // With lo > 0 the slope lo and the error term together
                    // give the corner value exactly (no rounding at these
                    // sizes).
                    if k_lo > 0.0 {
                        assert_eq!(
                            bound, min,
                            "k in [{k_lo}, {k_hi}], x in [{l}, {u}], λ {lam}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn an_affine_output_after_a_scale_is_tightened() {
        // Scale by 1, then z = x - x through two affine layers: the interval
        // bounds of z are [-2, 2], back-substitution gives [0, 0]. Only the
        // second affine layer feeds a non-linear layer, after a Scale.
        for last in [ExactLayer::Relu, scale_layer(1.0, 1.0, 0.0, 0.0)] {
            let layers = vec![
                scale_layer(1.0, 1.0, 0.0, 0.0),
                ExactLayer::Affine {
                    w: Rows::from_dense(1, vec![vec![Q::one()], vec![-&Q::one()]]),
                    b: vec![Q::zero(), Q::zero()],
                },
                ExactLayer::Affine {
                    w: Rows::from_dense(2, vec![vec![Q::one(), Q::one()]]),
                    b: vec![Q::zero()],
                },
                last,
            ];
            let net = Net::chain(1, layers);
            let bb = BoxBounds::new(&net, vec![q(-1.0)], vec![q(1.0)], &[]);
            assert_eq!(bb.values[2], (vec![q(-1.0), q(-1.0)], vec![q(1.0), q(1.0)]));
            assert_eq!(bb.values[3], (vec![Q::zero()], vec![Q::zero()]));
        }
    }

    #[test]
    fn the_concat_index_map_follows_the_multi_index() {
        // Inputs of shapes [2, d_k, 3] concatenated along axis 1: output
        // element (a, off_k + i, b) is element (a, i, b) of input k.
        let dims = [2usize, 1, 3];
        let (outer, inner) = (2usize, 3usize);
        let parts: Vec<Vec<(usize, usize)>> = dims
            .iter()
            .enumerate()
            .map(|(k, &d)| (0..outer * d * inner).map(|e| (k, e)).collect())
            .collect();
        let chunks: Vec<usize> = dims.iter().map(|d| d * inner).collect();
        let slices: Vec<&[(usize, usize)]> = parts.iter().map(Vec::as_slice).collect();
        let out = concat_parts(outer, &chunks, &slices);
        let total: usize = dims.iter().sum();
        assert_eq!(out.len(), outer * total * inner);
        for a in 0..outer {
            let mut off = 0;
            for (k, &d) in dims.iter().enumerate() {
                for i in 0..d {
                    for b in 0..inner {
                        let o = (a * total + off + i) * inner + b;
                        assert_eq!(out[o], (k, (a * d + i) * inner + b), "{a} {k} {i} {b}");
                    }
                }
                off += d;
            }
        }
        // Splitting undoes it.
        let flat: Vec<Q> = (0..out.len()).map(|e| q(e as f64)).collect();
        let split = split_concat(outer, &chunks, flat);
        for (o, &(k, e)) in out.iter().enumerate() {
            assert_eq!(split[k][e], q(o as f64));
        }
    }

    fn affine(w: &[&[f64]]) -> ExactLayer {
        ExactLayer::Affine {
            w: Rows::from_dense(
                w.first().map_or(0, |r| r.len()),
                w.iter()
                    .map(|r| r.iter().map(|&v| q(v)).collect())
                    .collect(),
            ),
            b: vec![Q::zero(); w.len()],
        }
    }

    #[test]
    fn back_substitution_accumulates_over_every_consumer() {
        // v1 = scale(x) = x, v2 = -v1, v3 = v1 + v2 (Sum) or v3 =
        // (v1, v2) (Concat) then v4 = v3_0 + v3_1; then a ReLU. The interval
        // bounds give [-2, 2], back-substitution (v1 gets coefficients from
        // two consumers) 0.
        for (concat, first_scale) in [(false, true), (true, true), (false, false), (true, false)] {
            // Without a first Scale, nothing is tightened (the interval
            // bounds stay loose: the tightening is what makes them 0).
            let first = if first_scale {
                scale_layer(1.0, 1.0, 0.0, 0.0)
            } else {
                affine(&[&[1.0]])
            };
            let mut layers = vec![first, affine(&[&[-1.0]])];
            let mut reads = vec![vec![0], vec![1]];
            if concat {
                layers.push(ExactLayer::Concat {
                    outer: 1,
                    chunks: vec![1, 1],
                });
                reads.push(vec![1, 2]);
                layers.push(affine(&[&[1.0, 1.0]]));
                reads.push(vec![3]);
            } else {
                layers.push(ExactLayer::Sum);
                reads.push(vec![1, 2]);
            }
            let z = layers.len();
            layers.push(ExactLayer::Relu);
            reads.push(vec![z]);
            let net = Net::new(1, layers, reads, z + 1).unwrap();
            assert_eq!(net.tighten[z], first_scale);
            assert!(!net.tighten[2] && !net.tighten[1]);
            let bb = BoxBounds::new(&net, vec![q(-1.0)], vec![q(1.0)], &[]);
            let expected = if first_scale { 0.0 } else { 2.0 };
            assert_eq!(
                bb.values[z],
                (vec![q(-expected)], vec![q(expected)]),
                "{concat} {first_scale}"
            );
            // The objective v_z itself: 0 by back-substitution.
            assert_eq!(bb.backward(z, vec![Q::one()]), Q::zero());
            assert_eq!(bb.backward(z, vec![-&Q::one()]), Q::zero());
        }
    }

    #[test]
    fn bad_dags_are_refused() {
        let sum_of = |w1: usize| {
            let layers = vec![affine(&vec![&[1.0][..]; w1]), ExactLayer::Sum];
            Net::new(1, layers, vec![vec![0], vec![0, 1]], 2)
        };
        assert!(sum_of(1).is_ok());
        assert!(sum_of(2).is_err(), "a Sum of widths 1 and 2");
        let later = Net::new(1, vec![ExactLayer::Relu], vec![vec![1]], 1);
        assert!(later.is_err(), "a layer reading its own output");
        let concat = |chunks: Vec<usize>| {
            let layers = vec![ExactLayer::Concat { outer: 1, chunks }];
            Net::new(2, layers, vec![vec![0, 0]], 1)
        };
        assert_eq!(concat(vec![2, 2]).map(|n| n.widths[1]).ok(), Some(4));
        assert!(concat(vec![2, 1]).is_err(), "a chunk that does not fit");
        assert!(concat(vec![2]).is_err(), "one chunk for two inputs");
    }
}
