//! Sound bound propagation on batches of input boxes: interval bounds (IBP)
//! forward, and linear bounds propagated backwards (CROWN) for every
//! activation's input and for the objectives.
//!
//! # Soundness under floating point
//!
//! Every bound this module returns holds for the real-arithmetic network
//! (the float32 weights taken as exact rationals) on every point of the box.
//! The arithmetic is ordinary round-to-nearest `f64`; instead of directed
//! rounding, each step carries a *proven error margin*:
//!
//! - A dot product of length `n` computed in floating point (any order,
//!   with or without FMA) differs from the exact one by at most
//!   `γ(n) · Σ|aᵢ bᵢ|` with `γ(n) = n u / (1 - n u)`, `u = 2⁻⁵³` (Higham,
//!   *Accuracy and Stability of Numerical Algorithms*, §3.1).
//! - Backward steps compute coefficient matrices `A' = fl(A W)`; the exact
//!   identity is `A·v = A'·v' + (A W - A')·v' + A b`, and the error term is
//!   bounded by `γ(n) (|A| |W|) M` where `M` bounds `|v'|` (from the interval
//!   bounds of that value). The bound's constant is lowered by that slack, so
//!   any error in the coefficients is paid for, not assumed away.
//! - Constants and slacks are accumulated with the same bound per addition;
//!   the slack itself is an upper estimate inflated by a relative
//!   `SLACK_INFLATE` that covers the rounding of its own computation.
//! - Interval steps (IBP) use the same dot-product bound, and results are
//!   moved one ulp outward (`next_down`/`next_up`).
//! - ReLU relaxations use exact slopes (0 or 1) for the lower line; the
//!   upper line's slope is rounded and its intercept is then computed with
//!   directed rounding so the line lies above ReLU at both ends of the
//!   interval (hence on all of it, by convexity).
//! - Sigmoid and tanh relaxations (chords and tangents, or constants across
//!   the inflection point) get an intercept margin of
//!   `S_MARGIN · (1 + |slope| M + |intercept|)`, far above the few-ulp
//!   errors of `exp`/`tanh` and of the line arithmetic.
//! - BatchNorm `y = k (x - m) + β` with the exact factor `k` only enclosed,
//!   `k ∈ [k_lo, k_hi]`: both lines have the slope `k_lo` and
//!   `y = k_lo x + (β - k_lo m) + (k - k_lo)(x - m)`, where the last term lies
//!   in `[d min(l - m, 0), d max(u - m, 0)]` for `x ∈ [l, u]` and any
//!   `d >= k_hi - k_lo`; the intercepts take those ends, and the rounding of
//!   `β - k_lo m` and of the sums is paid for with a margin.
//!
//! - A sum of computed values (a residual connection) adds their bounds
//!   with the same dot-product bound (a dot product with ones). Going
//!   backwards, a value read by several layers gets the sum of their
//!   coefficients; computing that sum `fl(A₁ + A₂)` errs by at most
//!   `U |fl(A₁ + A₂)|` per entry, paid for as `U (|fl(A₁ + A₂)|) M` in the
//!   slack, `M` the value's magnitude. Concatenation only moves
//!   coefficients.
//!
//! Any NaN or infinity makes a bound `-inf`/`+inf`, which proves nothing.

use ndarray::{s, Array2, Array3, ArrayView2};

use crate::deadline::Deadline;
use crate::network::{sigmoid, Layer, MatrixRef, Network, SparseRows};

/// Unit roundoff of f64.
const U: f64 = f64::EPSILON / 2.0;
/// Relative inflation applied to every computed slack or error estimate.
const SLACK_INFLATE: f64 = 1.0 + 1e-10;
/// Intercept margin for the S-shaped relaxations.
const S_MARGIN: f64 = 1e-12;

/// `γ(n)`, rounded up generously.
fn gamma(n: usize) -> f64 {
    let nu = (n as f64 + 2.0) * U;
    nu / (1.0 - nu) * SLACK_INFLATE
}

/// Sound lower and upper bounds of one value (a layer's output) for every box
/// of a batch: `[batch, width]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueBounds {
    pub lower: Array2<f64>,
    pub upper: Array2<f64>,
}

impl ValueBounds {
    /// `max(|lower|, |upper|)` per element: a bound on the value's magnitude.
    fn magnitude(&self) -> Array2<f64> {
        let mut m = self.lower.mapv(f64::abs);
        m.zip_mut_with(&self.upper, |a, &b| *a = a.max(b.abs()));
        m
    }
}

/// Objectives: rows `c` over the network's outputs, per batch shared; the
/// bound sought is a lower bound of `c · y` over each box.
#[derive(Debug, Clone)]
pub struct Objectives {
    /// `[m, n_out]`.
    pub rows: Array2<f64>,
}

/// The result of bounding a batch.
#[derive(Debug, Clone)]
pub struct BatchBounds {
    /// Bounds of every value: index 0 is the input, `i + 1` layer `i`'s output.
    pub values: Vec<ValueBounds>,
    /// Sound lower bounds of each objective row on each box: `[batch, m]`.
    pub objective_lower: Array2<f64>,
    /// The input coefficients of each objective's linear bound: `[batch, m,
    /// n_in]` (for split heuristics; no soundness role).
    pub input_coeffs: Array3<f64>,
}

/// How bounds are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Interval bounds only.
    Interval,
    /// Interval bounds tightened by CROWN at every activation input, and
    /// CROWN for the objectives.
    Crown,
}

/// A ReLU fixed to one phase on a sub-problem (a ReLU split): the input `z`
/// of neuron `neuron` of layer `layer` (an index into `Network::layers`, a
/// ReLU layer) is `>= 0` when `active`, else `<= 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseFix {
    pub layer: usize,
    pub neuron: usize,
    pub active: bool,
}

/// Bounds a batch of boxes `[batch, n_in]`.
pub fn bound_batch(
    net: &Network,
    lower: ArrayView2<f64>,
    upper: ArrayView2<f64>,
    objectives: &Objectives,
    method: Method,
) -> BatchBounds {
    bound_batch_with_phases(
        net,
        lower,
        upper,
        &[],
        objectives,
        method,
        &Deadline::never(),
    )
}

/// Bounds a batch of sub-problems: boxes `[batch, n_in]`, each with the ReLU
/// phases `phases[b]` fixed (`phases` may be empty: no phase fixed). A fixed
/// neuron's input bounds are clamped to `[max(l, 0), u]` (active) or
/// `[l, min(u, 0)]` (inactive) before anything uses them, which is sound on
/// the sub-problem's region; when a clamp leaves `l > u` the region is empty
/// (see [`is_empty`]).
///
/// Once `deadline` has passed, the layers left get interval bounds only (no
/// CROWN back-substitution): looser, still sound, and quick, so that a
/// timeout is not overrun by one batch's bounds.
pub fn bound_batch_with_phases(
    net: &Network,
    lower: ArrayView2<f64>,
    upper: ArrayView2<f64>,
    phases: &[&[PhaseFix]],
    objectives: &Objectives,
    method: Method,
    deadline: &Deadline,
) -> BatchBounds {
    let sparse = sparse_layers(net);
    let mut values = vec![ValueBounds {
        lower: lower.to_owned(),
        upper: upper.to_owned(),
    }];
    let mut seen_activation = false;
    let consumers = net.consumers();
    for (i, layer) in net.layers.iter().enumerate() {
        let src = net.src(i);
        if matches!(layer, Layer::Relu) {
            let pre = &mut values[src];
            for (bi, fixes) in phases.iter().enumerate() {
                for f in fixes.iter().filter(|f| f.layer == i) {
                    if f.active {
                        let l = &mut pre.lower[[bi, f.neuron]];
                        *l = l.max(0.0);
                    } else {
                        let u = &mut pre.upper[[bi, f.neuron]];
                        *u = u.min(0.0);
                    }
                }
            }
        }
        let prev = &values[src];
        let next = if layer.is_linear() {
            let mut vb = match layer {
                Layer::Linear { .. } | Layer::SparseLinear { .. } => {
                    let (w, b) = matrix_of(layer, sparse[i].as_ref());
                    interval_linear(prev, w, b)
                }
                Layer::Sum => interval_sum(&values, &net.inputs[i]),
                Layer::Concat { from } => interval_concat(&values, &net.inputs[i], from),
                _ => unreachable!("linear layers"),
            };
            let feeds_activation = consumers[i + 1]
                .iter()
                .any(|&c| net.layers[c].is_elementwise());
            if method == Method::Crown && seen_activation && feeds_activation && !deadline.passed()
            {
                // Only ReLUs read the value: a neuron whose interval bounds
                // are already on one side of 0 on every box is stable, and
                // tighter bounds would not change its (exact) relaxation.
                let only_relus = consumers[i + 1]
                    .iter()
                    .all(|&c| matches!(net.layers[c], Layer::Relu));
                let neurons: Vec<usize> = (0..vb.lower.ncols())
                    .filter(|&t| {
                        !only_relus
                            || (0..vb.lower.nrows())
                                .any(|bi| vb.lower[[bi, t]] < 0.0 && vb.upper[[bi, t]] > 0.0)
                    })
                    .collect();
                if !neurons.is_empty() {
                    let width = vb.lower.ncols();
                    let (lo, hi) =
                        crown_value_bounds(net, &sparse, &values, i + 1, width, &neurons, deadline);
                    for (n, &t) in neurons.iter().enumerate() {
                        for bi in 0..vb.lower.nrows() {
                            let l = &mut vb.lower[[bi, t]];
                            *l = l.max(lo[[bi, n]]);
                            let u = &mut vb.upper[[bi, t]];
                            *u = u.min(hi[[bi, n]]);
                        }
                    }
                }
            }
            vb
        } else {
            seen_activation = true;
            interval_activation(prev, layer)
        };
        values.push(next);
    }
    let batch = lower.nrows();
    // The interval bound of each objective; CROWN's is usually tighter but
    // not always, so the larger of the two (both sound) is kept.
    let out = &values[net.layers.len()];
    let mut objective_lower = Array2::from_shape_fn((batch, objectives.rows.nrows()), |(bi, r)| {
        interval_dot_lower(objectives.rows.row(r), out.lower.row(bi), out.upper.row(bi))
    });
    let input_coeffs = if method == Method::Crown && !deadline.passed() {
        let rows = objectives.rows.view();
        let a = Array3::from_shape_fn((batch, rows.nrows(), rows.ncols()), |(_, r, c)| {
            rows[[r, c]]
        });
        let (lb, coeffs) =
            crown_backward(net, &sparse, &values, net.layers.len(), a, None, deadline);
        objective_lower.zip_mut_with(&lb, |a, &b| *a = a.max(b));
        coeffs
    } else {
        Array3::zeros((batch, objectives.rows.nrows(), lower.ncols()))
    };
    BatchBounds {
        values,
        objective_lower,
        input_coeffs,
    }
}

/// Whether the bounds of box `row` show its region empty: some value's lower
/// bound is above its upper bound (possible only when fixed ReLU phases
/// contradict the box). Every claim holds on an empty region.
pub fn is_empty(bounds: &BatchBounds, row: usize) -> bool {
    bounds.values.iter().any(|v| {
        v.lower
            .row(row)
            .iter()
            .zip(v.upper.row(row))
            .any(|(l, u)| l > u)
    })
}

/// A sound lower bound of `c · v` for `v` in `[lo, hi]`.
pub(crate) fn interval_dot_lower(
    c: ndarray::ArrayView1<f64>,
    lo: ndarray::ArrayView1<f64>,
    hi: ndarray::ArrayView1<f64>,
) -> f64 {
    let mut sum = 0.0;
    let mut abs = 0.0;
    for ((&ci, &l), &h) in c.iter().zip(lo).zip(hi) {
        let t = if ci >= 0.0 { ci * l } else { ci * h };
        sum += t;
        abs += t.abs();
    }
    finish_lower(sum, gamma(c.len()) * abs)
}

/// `value - slack`, moved one ulp down; NaN becomes `-inf`.
fn finish_lower(value: f64, slack: f64) -> f64 {
    let r = (value - slack * SLACK_INFLATE).next_down();
    if r.is_nan() {
        f64::NEG_INFINITY
    } else {
        r
    }
}

fn finish_upper(value: f64, slack: f64) -> f64 {
    let r = (value + slack * SLACK_INFLATE).next_up();
    if r.is_nan() {
        f64::INFINITY
    } else {
        r
    }
}

/// Interval bounds of `W v + b` for `v` in the box: center/radius form,
/// `y = W c + b ± (|W| r)`, with the dot-product error bound folded in.
fn interval_linear(prev: &ValueBounds, w: MatrixRef<'_>, b: &ndarray::Array1<f64>) -> ValueBounds {
    let n = w.ncols();
    let g = gamma(n + 1);
    let c = &prev.lower * 0.5 + &prev.upper * 0.5;
    // r >= max(hi - c, c - lo) exactly, so the box lies in [c - r, c + r].
    let mut r = Array2::zeros(c.raw_dim());
    ndarray::Zip::from(&mut r)
        .and(&prev.lower)
        .and(&prev.upper)
        .and(&c)
        .for_each(|r, &l, &h, &cc| *r = (h - cc).next_up().max((cc - l).next_up()));
    // q = r + g |c| covers the error of computing W c + b (with the |b| term
    // added below); one GEMM with |W| bounds both the radius and the error.
    let q = &r + &(c.mapv(f64::abs) * g);
    let center = w.right_product(c.view(), false) + b;
    let spread = w.right_product(q.view(), true);
    let babs = b.mapv(f64::abs) * g;
    let mut lower = center.clone();
    let mut upper = center;
    let inflate = 1.0 + 2.0 * gamma(n);
    ndarray::Zip::from(&mut lower)
        .and(&mut upper)
        .and(&spread)
        .and_broadcast(&babs)
        .for_each(|lo, hi, &s, &bb| {
            let e = (s * inflate + bb) * SLACK_INFLATE;
            let (l, h) = (finish_lower(*lo, e), finish_upper(*hi, e));
            *lo = l;
            *hi = h;
        });
    ValueBounds { lower, upper }
}

/// Interval bounds of the sum of the values `ins` (all of one width): the
/// sums of their bounds, with the dot-product error bound of a dot product
/// with ones.
fn interval_sum(values: &[ValueBounds], ins: &[usize]) -> ValueBounds {
    let first = &values[ins[0]];
    let mut lower = first.lower.clone();
    let mut upper = first.upper.clone();
    let mut lo_abs = first.lower.mapv(f64::abs);
    let mut up_abs = first.upper.mapv(f64::abs);
    for &v in &ins[1..] {
        lower += &values[v].lower;
        upper += &values[v].upper;
        lo_abs.zip_mut_with(&values[v].lower, |a, &x| *a += x.abs());
        up_abs.zip_mut_with(&values[v].upper, |a, &x| *a += x.abs());
    }
    let g = gamma(ins.len());
    lower.zip_mut_with(&lo_abs, |l, &a| *l = finish_lower(*l, g * a));
    upper.zip_mut_with(&up_abs, |u, &a| *u = finish_upper(*u, g * a));
    ValueBounds { lower, upper }
}

/// Interval bounds of a concatenation: the inputs' bounds, moved.
fn interval_concat(values: &[ValueBounds], ins: &[usize], from: &[(usize, usize)]) -> ValueBounds {
    let batch = values[0].lower.nrows();
    let pick = |upper: bool| {
        Array2::from_shape_fn((batch, from.len()), |(bi, e)| {
            let (k, t) = from[e];
            let v = &values[ins[k]];
            if upper {
                v.upper[[bi, t]]
            } else {
                v.lower[[bi, t]]
            }
        })
    };
    ValueBounds {
        lower: pick(false),
        upper: pick(true),
    }
}

/// Interval bounds through a monotone activation.
fn interval_activation(prev: &ValueBounds, act: &Layer) -> ValueBounds {
    match act {
        Layer::Relu => ValueBounds {
            lower: prev.lower.mapv(|v| {
                if v.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    v.max(0.0)
                }
            }),
            upper: prev.upper.mapv(|v| {
                if v.is_nan() {
                    f64::INFINITY
                } else {
                    v.max(0.0)
                }
            }),
        },
        Layer::Sigmoid => ValueBounds {
            lower: prev.lower.mapv(|v| s_lower(sigmoid(v), 0.0)),
            upper: prev.upper.mapv(|v| s_upper(sigmoid(v), 1.0)),
        },
        Layer::Tanh => ValueBounds {
            lower: prev.lower.mapv(|v| s_lower(v.tanh(), -1.0)),
            upper: prev.upper.mapv(|v| s_upper(v.tanh(), 1.0)),
        },
        Layer::BatchNorm { .. } => {
            // The minimum and maximum of the relaxation lines over [l, u].
            let mut lower = prev.lower.clone();
            let mut upper = prev.upper.clone();
            for ((bi, t), lo) in lower.indexed_iter_mut() {
                let (l, u) = (prev.lower[[bi, t]], prev.upper[[bi, t]]);
                let (down, up) = act_lines(act, t, l, u);
                let at = |line: &Line, x: f64| {
                    let p = line.slope * x;
                    (p + line.intercept, U * p.abs())
                };
                let (v, e) = at(&down, if down.slope >= 0.0 { l } else { u });
                *lo = finish_lower(v, e + U * v.abs());
                let (v, e) = at(&up, if up.slope >= 0.0 { u } else { l });
                upper[[bi, t]] = finish_upper(v, e + U * v.abs());
            }
            ValueBounds { lower, upper }
        }
        Layer::Linear { .. } | Layer::SparseLinear { .. } | Layer::Sum | Layer::Concat { .. } => {
            unreachable!("interval_activation is called on activations only")
        }
    }
}

fn s_lower(v: f64, floor: f64) -> f64 {
    if v.is_nan() {
        floor
    } else {
        (v - S_MARGIN).max(floor)
    }
}

fn s_upper(v: f64, ceil: f64) -> f64 {
    if v.is_nan() {
        ceil
    } else {
        (v + S_MARGIN).min(ceil)
    }
}

/// Sound lower and upper bounds of the elements `neurons` of value `k`
/// (of width `width`) by
/// CROWN from the input: lower bounds of `+e_t · v_k` and of `-e_t · v_k`
/// for every listed `t`; column `n` of the results belongs to `neurons[n]`.
fn crown_value_bounds(
    net: &Network,
    sparse: &[Option<SparseRows>],
    values: &[ValueBounds],
    k: usize,
    width: usize,
    neurons: &[usize],
    deadline: &Deadline,
) -> (Array2<f64>, Array2<f64>) {
    let batch = values[0].lower.nrows();
    let count = neurons.len();
    let mut a = Array3::zeros((batch, 2 * count, width));
    for bi in 0..batch {
        for (n, &t) in neurons.iter().enumerate() {
            a[[bi, n, t]] = 1.0;
            a[[bi, count + n, t]] = -1.0;
        }
    }
    let (lb, _) = crown_backward(net, sparse, values, k, a, None, deadline);
    let lower = lb.slice(s![.., ..count]).to_owned();
    let upper = lb.slice(s![.., count..]).mapv(|v| -v);
    (lower, upper)
}

/// One line `y >= slope·z + intercept` (or `<=`) per neuron.
struct Line {
    slope: f64,
    intercept: f64,
}

/// The ReLU relaxation on `[l, u]`: (lower line, upper line).
fn relu_lines(l: f64, u: f64) -> (Line, Line) {
    if l >= 0.0 {
        (
            Line {
                slope: 1.0,
                intercept: 0.0,
            },
            Line {
                slope: 1.0,
                intercept: 0.0,
            },
        )
    } else if u <= 0.0 {
        (
            Line {
                slope: 0.0,
                intercept: 0.0,
            },
            Line {
                slope: 0.0,
                intercept: 0.0,
            },
        )
    } else if !(l.is_finite() && u.is_finite()) {
        // No finite upper line exists; an infinite intercept makes any bound
        // that uses it -inf.
        (
            Line {
                slope: 0.0,
                intercept: 0.0,
            },
            Line {
                slope: 0.0,
                intercept: f64::INFINITY,
            },
        )
    } else {
        let s = u / (u - l);
        // The line s z + t is above ReLU at l (needs t >= -s l) and at u
        // (needs t >= u - s u); both computed rounding up.
        let t1 = (-s * l).next_up();
        let t2 = (u - (s * u).next_down()).next_up();
        let lower_slope = if u >= -l { 1.0 } else { 0.0 };
        (
            Line {
                slope: lower_slope,
                intercept: 0.0,
            },
            Line {
                slope: s,
                intercept: t1.max(t2),
            },
        )
    }
}

/// Relaxation of an S-shaped function `f` (sigmoid or tanh: convex below 0,
/// concave above) on `[l, u]`, with the intercept margin applied.
fn s_lines(
    f: fn(f64) -> f64,
    df: fn(f64) -> f64,
    l: f64,
    u: f64,
    lo_floor: f64,
    hi_ceil: f64,
) -> (Line, Line) {
    let constant = || {
        (
            Line {
                slope: 0.0,
                intercept: s_lower(f(l), lo_floor),
            },
            Line {
                slope: 0.0,
                intercept: s_upper(f(u), hi_ceil),
            },
        )
    };
    if !(l.is_finite() && u.is_finite()) || u - l < 1e-9 || (l < 0.0 && u > 0.0) {
        return constant();
    }
    let (fl, fu) = (f(l), f(u));
    let chord_slope = (fu - fl) / (u - l);
    let chord = Line {
        slope: chord_slope,
        intercept: fl - chord_slope * l,
    };
    let m = 0.5 * (l + u);
    let tangent_slope = df(m);
    let tangent = Line {
        slope: tangent_slope,
        intercept: f(m) - tangent_slope * m,
    };
    let mag = l.abs().max(u.abs());
    let margin = |line: &Line| S_MARGIN * (1.0 + line.slope.abs() * mag + line.intercept.abs());
    let (mut lower, mut upper) = if u <= 0.0 {
        // Convex: tangent below, chord above.
        (tangent, chord)
    } else {
        // Concave: chord below, tangent above.
        (chord, tangent)
    };
    lower.intercept -= margin(&lower);
    upper.intercept += margin(&upper);
    if !(lower.slope.is_finite()
        && lower.intercept.is_finite()
        && upper.slope.is_finite()
        && upper.intercept.is_finite())
    {
        return constant();
    }
    (lower, upper)
}

/// The BatchNorm relaxation of neuron `t` on `[l, u]` (see the module
/// documentation): `y = k (x - m) + β`, `k ∈ [k_lo, k_hi]`.
fn batchnorm_lines(k_lo: f64, k_hi: f64, m: f64, beta: f64, l: f64, u: f64) -> (Line, Line) {
    let p = k_lo * m;
    let base = beta - p;
    // |fl(β - fl(k_lo m)) - (β - k_lo m)| <= u |p| + u |base| (to first
    // order; SLACK_INFLATE and the 2 cover the rest).
    let base_err = 2.0 * U * (p.abs() + base.abs());
    // d >= k_hi - k_lo; the products below are rounded the safe way.
    let d = (k_hi - k_lo).next_up();
    let (below, above) = if k_hi == k_lo {
        (0.0, 0.0)
    } else {
        (
            (d * (l - m).next_down().min(0.0)).next_down(),
            (d * (u - m).next_up().max(0.0)).next_up(),
        )
    };
    let (lo_sum, hi_sum) = (base + below, base + above);
    (
        Line {
            slope: k_lo,
            intercept: finish_lower(lo_sum, base_err + U * lo_sum.abs()),
        },
        Line {
            slope: k_lo,
            intercept: finish_upper(hi_sum, base_err + U * hi_sum.abs()),
        },
    )
}

/// The relaxation of neuron `t` of activation layer `act` on `[l, u]`:
/// (lower line, upper line).
fn act_lines(act: &Layer, t: usize, l: f64, u: f64) -> (Line, Line) {
    match act {
        Layer::Relu => relu_lines(l, u),
        Layer::Sigmoid => s_lines(sigmoid, dsigmoid, l, u, 0.0, 1.0),
        Layer::Tanh => s_lines(f64::tanh, dtanh, l, u, -1.0, 1.0),
        Layer::BatchNorm {
            k_lo,
            k_hi,
            mean,
            beta,
        } => batchnorm_lines(k_lo[t], k_hi[t], mean[t], beta[t], l, u),
        Layer::Linear { .. } | Layer::SparseLinear { .. } | Layer::Sum | Layer::Concat { .. } => {
            unreachable!("act_lines is called on activations only")
        }
    }
}

fn dsigmoid(x: f64) -> f64 {
    let s = sigmoid(x);
    s * (1.0 - s)
}

fn dtanh(x: f64) -> f64 {
    let t = x.tanh();
    1.0 - t * t
}

/// Per layer, the sparse rows of a dense linear layer that is sparse
/// (`None` otherwise; a `SparseLinear` layer is its own): computed once per
/// call of the bound functions, not per back-substitution.
pub(crate) fn sparse_layers(net: &Network) -> Vec<Option<SparseRows>> {
    net.layers
        .iter()
        .map(|l| match l {
            Layer::Linear { w, .. } => SparseRows::of(w),
            _ => None,
        })
        .collect()
}

/// The matrix and bias of a linear layer, by its non-zero entries when it
/// has sparse rows.
pub(crate) fn matrix_of<'a>(
    layer: &'a Layer,
    sparse: Option<&'a SparseRows>,
) -> (MatrixRef<'a>, &'a ndarray::Array1<f64>) {
    let (w, b) = layer.matrix().expect("a Linear or SparseLinear layer");
    (sparse.map_or(w, MatrixRef::Sparse), b)
}

/// Backward linear bound propagation from value `k`, starting with
/// coefficients `a` (`[batch, m, width_k]`), down to the input. Returns sound
/// lower bounds of `a · v_k` per box and row, and the input coefficients.
/// Once `deadline` has passed (checked before each layer) it gives up: the
/// bounds are `-∞` (true of anything) and the coefficients 0.
fn crown_backward(
    net: &Network,
    sparse: &[Option<SparseRows>],
    values: &[ValueBounds],
    k: usize,
    a: Array3<f64>,
    alphas: Option<&Alphas>,
    deadline: &Deadline,
) -> (Array2<f64>, Array3<f64>) {
    let (batch, m, _) = a.dim();
    let mut cst = Array2::<f64>::zeros((batch, m));
    let mut slack = Array2::<f64>::zeros((batch, m));
    // The coefficients on each value, summed over the layers that read it
    // (absent until one does).
    let mut coeffs: Vec<Option<Array3<f64>>> = vec![None; k + 1];
    coeffs[k] = Some(a);
    for j in (0..k).rev() {
        if deadline.passed() {
            return (
                Array2::from_elem((batch, m), f64::NEG_INFINITY),
                Array3::zeros((batch, m, values[0].lower.ncols())),
            );
        }
        let Some(mut a) = coeffs[j + 1].take() else {
            // No path from this layer to value k.
            continue;
        };
        let src = net.src(j);
        match &net.layers[j] {
            layer @ (Layer::Linear { .. } | Layer::SparseLinear { .. }) => {
                let (w, b) = matrix_of(layer, sparse[j].as_ref());
                let n = w.nrows();
                let g = gamma(n + 1);
                // slack += γ · |A| (|W| M + |b|), M the magnitude of the
                // value the layer reads.
                let mag = values[src].magnitude();
                let abs_w_mag = w.right_product(mag.view(), true);
                let q = (abs_w_mag * (1.0 + 2.0 * gamma(w.ncols())) + b.mapv(f64::abs))
                    .as_standard_layout()
                    .into_owned();
                let a_s = a.as_slice().expect("A is in standard layout");
                let q_s = q.as_slice().expect("q is in standard layout");
                let b_s = b.as_slice().expect("biases are contiguous");
                let (cst_s, slack_s) = (
                    cst.as_slice_mut().expect("standard layout"),
                    slack.as_slice_mut().expect("standard layout"),
                );
                let inflate = 1.0 + 2.0 * gamma(n);
                for bi in 0..batch {
                    let qb = &q_s[bi * n..(bi + 1) * n];
                    for r in 0..m {
                        let idx = bi * m + r;
                        let row = &a_s[idx * n..(idx + 1) * n];
                        let (mut dot_b, mut dot_q) = (0.0, 0.0);
                        for ((&x, &bt), &qt) in row.iter().zip(b_s).zip(qb) {
                            dot_b += x * bt;
                            dot_q += x.abs() * qt;
                        }
                        let c = cst_s[idx] + dot_b;
                        slack_s[idx] += (g * dot_q) * inflate + U * c.abs();
                        cst_s[idx] = c;
                    }
                }
                // A <- A W as one product over the whole batch: a GEMM, or
                // for a sparse W (a convolution, a pool, an element-wise
                // op, lowered to a dense matrix) one that skips W's zeros.
                // Either sums at most n products per entry, in some order,
                // which is all the slack above assumes.
                let flat = a
                    .into_shape_with_order((batch * m, n))
                    .expect("A is in standard layout");
                let next = w.left_product(flat.view());
                a = next
                    .into_shape_with_order((batch, m, w.ncols()))
                    .expect("GEMM output is in standard layout");
            }
            Layer::Sum => {
                // A · (v₁ + v₂ + ...) = A · v₁ + A · v₂ + ...: exact.
                for &v in &net.inputs[j][1..] {
                    accumulate(&mut coeffs, v, a.clone(), values, &mut slack);
                }
            }
            Layer::Concat { from } => {
                // Each output coefficient moves to the input element it came
                // from: exact. (A value concatenated twice gets the sum.)
                let ins = &net.inputs[j];
                let mut parts: Vec<Array3<f64>> = ins
                    .iter()
                    .map(|&v| Array3::zeros((batch, m, values[v].lower.ncols())))
                    .collect();
                for (e, &(kk, t)) in from.iter().enumerate() {
                    let col = a.slice(s![.., .., e]);
                    let mut dst = parts[kk].slice_mut(s![.., .., t]);
                    dst += &col;
                }
                let mut parts = parts.into_iter();
                a = parts.next().expect("a concatenation reads a value");
                for (&v, part) in ins[1..].iter().zip(parts) {
                    accumulate(&mut coeffs, v, part, values, &mut slack);
                }
            }
            act => {
                let pre = &values[src];
                let n = pre.lower.ncols();
                let inflate = 1.0 + 2.0 * gamma(n);
                // Per neuron of one box: slope, intercept, and the weight of
                // the coefficient's rounding error (|z|'s bound when the
                // slope is not 0 or 1, whose products are exact), for the
                // lower line (used by λ >= 0) and the upper line (λ < 0).
                let mut lo_line = vec![(0.0, 0.0, 0.0); n];
                let mut up_line = vec![(0.0, 0.0, 0.0); n];
                let a_s = a.as_slice_mut().expect("A is in standard layout");
                for bi in 0..batch {
                    for t in 0..n {
                        let (l, u) = (pre.lower[[bi, t]], pre.upper[[bi, t]]);
                        let (lo, up) = act_lines(act, t, l, u);
                        let mag = l.abs().max(u.abs());
                        let weight = |slope: f64| {
                            if slope == 0.0 || slope == 1.0 {
                                0.0
                            } else {
                                mag
                            }
                        };
                        lo_line[t] = (lo.slope, lo.intercept, weight(lo.slope));
                        up_line[t] = (up.slope, up.intercept, weight(up.slope));
                    }
                    // Per-row lower slopes of unstable ReLUs, when given.
                    let row_alphas = alphas.and_then(|al| al.get(j)).and_then(Option::as_ref);
                    for r in 0..m {
                        let idx = bi * m + r;
                        let row = &mut a_s[idx * n..(idx + 1) * n];
                        let (mut add, mut add_abs, mut coeff_err) = (0.0, 0.0, 0.0);
                        for (t, (x, (lo, up))) in
                            row.iter_mut().zip(lo_line.iter().zip(&up_line)).enumerate()
                        {
                            let lam = *x;
                            if lam == 0.0 {
                                continue;
                            }
                            let alpha_line;
                            let lo = match row_alphas {
                                Some(al)
                                    if pre.lower[[bi, t]] < 0.0 && pre.upper[[bi, t]] > 0.0 =>
                                {
                                    let alpha = al[[r, t]];
                                    alpha_line = (
                                        alpha,
                                        0.0,
                                        if alpha == 0.0 || alpha == 1.0 {
                                            0.0
                                        } else {
                                            pre.lower[[bi, t]].abs().max(pre.upper[[bi, t]])
                                        },
                                    );
                                    &alpha_line
                                }
                                _ => lo,
                            };
                            let (slope, intercept, weight) = if lam >= 0.0 { lo } else { up };
                            let nl = lam * slope;
                            if *intercept != 0.0 {
                                let term = lam * intercept;
                                add += term;
                                add_abs += term.abs();
                            }
                            coeff_err += nl.abs() * weight;
                            *x = nl;
                        }
                        let c = cst[[bi, r]] + add;
                        slack[[bi, r]] +=
                            (gamma(n) * add_abs + U * coeff_err) * inflate + U * c.abs();
                        cst[[bi, r]] = c;
                    }
                }
            }
        }
        accumulate(&mut coeffs, src, a, values, &mut slack);
    }
    let a = coeffs[0]
        .take()
        .unwrap_or_else(|| Array3::zeros((batch, m, values[0].lower.ncols())));
    // Concretise over the input box.
    let input = &values[0];
    let n0 = input.lower.ncols();
    let mut out = Array2::zeros((batch, m));
    for bi in 0..batch {
        for r in 0..m {
            let mut sum = cst[[bi, r]];
            let mut abs = cst[[bi, r]].abs();
            for t in 0..n0 {
                let c = a[[bi, r, t]];
                let v = if c >= 0.0 {
                    c * input.lower[[bi, t]]
                } else {
                    c * input.upper[[bi, t]]
                };
                sum += v;
                abs += v.abs();
            }
            out[[bi, r]] = finish_lower(sum, slack[[bi, r]] + gamma(n0 + 1) * abs);
        }
    }
    (out, a)
}

/// Lower slopes of the unstable ReLUs, per objective row: entry `j` is
/// `Some([m, n_j])` for a ReLU layer `j` (values in `[0, 1]`), `None` for
/// other layers. Every slope in `[0, 1]` gives a valid lower line.
/// Adds coefficients `a` on value `v` to those already there. The first
/// contribution is stored as it is; a later one is added in floating point,
/// and the rounding, at most `U |fl(A₁ + A₂)|` per entry, is paid for in the
/// slack as `U · |fl(A₁ + A₂)| · M` (`M` the value's magnitude), inflated.
fn accumulate(
    coeffs: &mut [Option<Array3<f64>>],
    v: usize,
    a: Array3<f64>,
    values: &[ValueBounds],
    slack: &mut Array2<f64>,
) {
    match &mut coeffs[v] {
        slot @ None => *slot = Some(a),
        Some(acc) => {
            *acc += &a;
            let mag = values[v].magnitude();
            let n = mag.ncols();
            let inflate = 1.0 + 2.0 * gamma(n);
            for ((bi, r), sl) in slack.indexed_iter_mut() {
                let row = acc.slice(s![bi, r, ..]);
                let err: f64 = row
                    .iter()
                    .zip(mag.row(bi))
                    .map(|(x, mt)| x.abs() * mt)
                    .sum();
                *sl += U * err * inflate * SLACK_INFLATE;
            }
        }
    }
}

pub type Alphas = Vec<Option<Array2<f64>>>;

/// Optimises the lower ReLU slopes of each objective row on one box (batch
/// row `row` of `bounds`; the intermediate bounds stay fixed) by projected
/// gradient ascent, `iterations` steps from the adaptive slopes (fewer once
/// `deadline` has passed). Returns, per objective row, the best sound lower
/// bound found and its slopes.
pub fn optimize_alphas(
    net: &Network,
    bounds: &BatchBounds,
    row: usize,
    objectives: ndarray::ArrayView2<f64>,
    iterations: usize,
    deadline: &Deadline,
) -> Vec<(f64, Alphas)> {
    let values: Vec<ValueBounds> = bounds
        .values
        .iter()
        .map(|v| ValueBounds {
            lower: v.lower.slice(s![row..row + 1, ..]).to_owned(),
            upper: v.upper.slice(s![row..row + 1, ..]).to_owned(),
        })
        .collect();
    let m = objectives.nrows();
    let sparse = sparse_layers(net);
    // Start from the adaptive slopes.
    let mut alphas: Alphas = net
        .layers
        .iter()
        .enumerate()
        .map(|(j, layer)| {
            matches!(layer, Layer::Relu).then(|| {
                let pre = &values[net.src(j)];
                let n = pre.lower.ncols();
                Array2::from_shape_fn((m, n), |(_, t)| {
                    if pre.upper[[0, t]] >= -pre.lower[[0, t]] {
                        1.0
                    } else {
                        0.0
                    }
                })
            })
        })
        .collect();
    let mut best: Vec<(f64, Alphas)> = vec![(f64::NEG_INFINITY, alphas.clone()); m];
    let k = net.layers.len();
    for it in 0..=iterations {
        let a = Array3::from_shape_fn((1, m, objectives.ncols()), |(_, r, c)| objectives[[r, c]]);
        let (lb, _) = crown_backward(net, &sparse, &values, k, a, Some(&alphas), deadline);
        for r in 0..m {
            if lb[[0, r]] > best[r].0 {
                best[r] = (
                    lb[[0, r]],
                    alphas
                        .iter()
                        .map(|al| al.as_ref().map(|x| x.slice(s![r..r + 1, ..]).to_owned()))
                        .collect(),
                );
            }
        }
        if it == iterations || deadline.passed() {
            break;
        }
        let step = 0.5 / (1.0 + it as f64 * 0.3);
        for r in 0..m {
            let grads = alpha_gradient(net, &values, objectives.row(r), &alphas, r);
            for (al, g) in alphas.iter_mut().zip(grads) {
                if let (Some(al), Some(g)) = (al.as_mut(), g) {
                    let scale = g.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
                    if scale > 0.0 {
                        for (t, gt) in g.iter().enumerate() {
                            al[[r, t]] = (al[[r, t]] + step * gt / scale).clamp(0.0, 1.0);
                        }
                    }
                }
            }
        }
    }
    // The slopes of each row's best bound, as one-row arrays.
    best
}

/// The gradient of row `r`'s (float, unguarded) CROWN bound with respect to
/// its lower ReLU slopes, by a forward adjoint pass over the back-substitution.
fn alpha_gradient(
    net: &Network,
    values: &[ValueBounds],
    c: ndarray::ArrayView1<f64>,
    alphas: &Alphas,
    r: usize,
) -> Vec<Option<Vec<f64>>> {
    let k = net.layers.len();
    let add_into = |slot: &mut Option<Vec<f64>>, a: Vec<f64>| match slot {
        None => *slot = Some(a),
        Some(acc) => acc.iter_mut().zip(a).for_each(|(x, y)| *x += y),
    };
    // Backward, recording the coefficients entering each activation layer;
    // a value's coefficients are the sum over the layers that read it.
    let mut coeffs: Vec<Option<Vec<f64>>> = vec![None; k + 1];
    coeffs[k] = Some(c.to_vec());
    let mut lams: Vec<Option<Vec<f64>>> = vec![None; k];
    for j in (0..k).rev() {
        let Some(mut a) = coeffs[j + 1].take() else {
            continue;
        };
        let ins = &net.inputs[j];
        match &net.layers[j] {
            layer @ (Layer::Linear { .. } | Layer::SparseLinear { .. }) => {
                let (w, _) = matrix_of(layer, None);
                let row = ndarray::ArrayView2::from_shape((1, a.len()), &a)
                    .expect("one row of the layer's width");
                a = w.left_product(row).row(0).to_vec();
            }
            Layer::Sum => {
                for &v in &ins[1..] {
                    add_into(&mut coeffs[v], a.clone());
                }
            }
            Layer::Concat { from } => {
                let mut parts: Vec<Vec<f64>> = ins
                    .iter()
                    .map(|&v| vec![0.0; values[v].lower.ncols()])
                    .collect();
                for (&x, &(kk, t)) in a.iter().zip(from) {
                    parts[kk][t] += x;
                }
                let mut parts = parts.into_iter();
                a = parts.next().expect("a concatenation reads a value");
                for (&v, part) in ins[1..].iter().zip(parts) {
                    add_into(&mut coeffs[v], part);
                }
            }
            layer => {
                let pre = &values[ins[0]];
                lams[j] = Some(a.clone());
                for (t, x) in a.iter_mut().enumerate() {
                    let (l, u) = (pre.lower[[0, t]], pre.upper[[0, t]]);
                    let (slope, _) = line_for(layer, l, u, *x, alphas, j, r, t);
                    *x *= slope;
                }
            }
        }
        add_into(&mut coeffs[ins[0]], a);
    }
    // Forward adjoint: g_v = d bound / d (coefficients on value v), which is
    // the relaxed network evaluated at the bound's minimising input.
    let input = &values[0];
    let a0 = coeffs[0]
        .take()
        .unwrap_or_else(|| vec![0.0; input.lower.ncols()]);
    let first: Vec<f64> = a0
        .iter()
        .enumerate()
        .map(|(t, &x)| {
            if x >= 0.0 {
                input.lower[[0, t]]
            } else {
                input.upper[[0, t]]
            }
        })
        .collect();
    let mut gs: Vec<Vec<f64>> = vec![first];
    let mut grads = vec![None; k];
    for j in 0..k {
        let ins = &net.inputs[j];
        let g = &gs[ins[0]];
        let next = match &net.layers[j] {
            layer @ (Layer::Linear { .. } | Layer::SparseLinear { .. }) => {
                let (w, b) = matrix_of(layer, None);
                let row = ndarray::ArrayView2::from_shape((1, g.len()), g)
                    .expect("one row of the layer's input width");
                (w.right_product(row, false).row(0).to_owned() + b).to_vec()
            }
            Layer::Sum => {
                let mut y = g.clone();
                for &v in &ins[1..] {
                    y.iter_mut().zip(&gs[v]).for_each(|(a, b)| *a += b);
                }
                y
            }
            Layer::Concat { from } => from.iter().map(|&(kk, t)| gs[ins[kk]][t]).collect(),
            layer => match lams[j].as_ref() {
                // Not on a path to the objective: its lines do not matter.
                None => vec![0.0; g.len()],
                Some(lam) => {
                    let pre = &values[ins[0]];
                    let mut grad = vec![0.0; g.len()];
                    let mut y = g.clone();
                    for t in 0..g.len() {
                        let (l, u) = (pre.lower[[0, t]], pre.upper[[0, t]]);
                        let (slope, intercept) = line_for(layer, l, u, lam[t], alphas, j, r, t);
                        if matches!(layer, Layer::Relu) && lam[t] >= 0.0 && l < 0.0 && u > 0.0 {
                            grad[t] = g[t] * lam[t];
                        }
                        y[t] = g[t] * slope + intercept;
                    }
                    if matches!(layer, Layer::Relu) {
                        grads[j] = Some(grad);
                    }
                    y
                }
            },
        };
        gs.push(next);
    }
    grads
}

/// The (slope, intercept) the back-substitution uses for coefficient `lam`
/// on neuron `t` of activation layer `j`.
#[allow(clippy::too_many_arguments)]
fn line_for(
    layer: &Layer,
    l: f64,
    u: f64,
    lam: f64,
    alphas: &Alphas,
    j: usize,
    r: usize,
    t: usize,
) -> (f64, f64) {
    let (lo, up) = act_lines(layer, t, l, u);
    if lam >= 0.0 {
        match (&alphas[j], layer) {
            (Some(al), Layer::Relu) if l < 0.0 && u > 0.0 => (al[[r, t]], 0.0),
            _ => (lo.slope, lo.intercept),
        }
    } else {
        (up.slope, up.intercept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    fn relu_net() -> Network {
        Network::chain(
            2,
            vec![
                Layer::Linear {
                    w: arr2(&[[1.0, 1.0], [1.0, -1.0], [-0.5, 2.0]]),
                    b: arr1(&[0.0, 0.5, -0.25]),
                },
                Layer::Relu,
                Layer::Linear {
                    w: arr2(&[[1.0, -1.0, 0.5], [0.25, 1.0, -2.0]]),
                    b: arr1(&[0.1, 0.0]),
                },
                Layer::Relu,
                Layer::Linear {
                    w: arr2(&[[1.0, -1.0]]),
                    b: arr1(&[0.0]),
                },
            ],
        )
    }

    fn grid(lo: &[f64], hi: &[f64], steps: usize) -> Vec<Vec<f64>> {
        let mut pts = Vec::new();
        for i in 0..=steps {
            for j in 0..=steps {
                let x = lo[0] + (hi[0] - lo[0]) * i as f64 / steps as f64;
                let y = lo[1] + (hi[1] - lo[1]) * j as f64 / steps as f64;
                pts.push(vec![x, y]);
            }
        }
        pts
    }

    /// `relu_net` with a BatchNorm before its first ReLU, factors enclosed
    /// in one-ulp intervals (and one exact factor).
    fn batchnorm_net() -> Network {
        let mut layers = relu_net().layers;
        let k_lo = arr1(&[0.7, -1.3, 0.45]);
        let k_hi = arr1(&[0.7f64.next_up(), (-1.3f64).next_up(), 0.45]);
        layers.insert(
            1,
            Layer::BatchNorm {
                k_lo,
                k_hi,
                mean: arr1(&[0.25, -0.5, 0.0]),
                beta: arr1(&[-0.1, 0.3, 0.05]),
            },
        );
        Network::chain(2, layers)
    }

    /// The network with every BatchNorm factor at the top of its enclosure
    /// (`eval` uses the bottom): both are functions the bounds must contain.
    fn at_top_of_enclosures(net: &Network) -> Network {
        let mut n = net.clone();
        for l in &mut n.layers {
            if let Layer::BatchNorm { k_lo, k_hi, .. } = l {
                *k_lo = k_hi.clone();
            }
        }
        n
    }

    #[test]
    fn bounds_contain_sampled_outputs() {
        for net in [
            relu_net(),
            {
                let mut n = relu_net();
                n.layers[1] = Layer::Sigmoid;
                n.layers[3] = Layer::Tanh;
                n
            },
            batchnorm_net(),
        ] {
            let top = at_top_of_enclosures(&net);
            let boxes = [
                ([-1.0, -1.0], [1.0, 1.0]),
                ([0.2, -0.3], [0.4, 0.1]),
                ([0.5, 0.5], [0.5, 0.5]),
            ];
            let lower = Array2::from_shape_fn((3, 2), |(b, i)| boxes[b].0[i]);
            let upper = Array2::from_shape_fn((3, 2), |(b, i)| boxes[b].1[i]);
            let obj = Objectives {
                rows: arr2(&[[1.0], [-1.0]]),
            };
            for method in [Method::Interval, Method::Crown] {
                let bb = bound_batch(&net, lower.view(), upper.view(), &obj, method);
                for (bi, (lo, hi)) in boxes.iter().enumerate() {
                    for x in grid(lo, hi, 20) {
                        for y in [net.eval(&x)[0], top.eval(&x)[0]] {
                            assert!(
                                bb.objective_lower[[bi, 0]] <= y,
                                "{method:?} box {bi}: lb {} > {y}",
                                bb.objective_lower[[bi, 0]]
                            );
                            assert!(bb.objective_lower[[bi, 1]] <= -y);
                            let out = &bb.values[net.layers.len()];
                            assert!(out.lower[[bi, 0]] <= y && y <= out.upper[[bi, 0]]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn phase_bounds_contain_every_point_of_their_region() {
        // Every phase of every first-layer neuron on the box [-1, 1]^2: the
        // bounds must contain the output at each grid point whose
        // pre-activation meets the phase, and the region is empty only
        // when no such point exists.
        let net = relu_net();
        let Layer::Linear { w, b } = &net.layers[0] else {
            unreachable!()
        };
        let (lo, hi) = ([-1.0, -1.0], [1.0, 1.0]);
        let obj = Objectives {
            rows: arr2(&[[1.0], [-1.0]]),
        };
        for neuron in 0..3 {
            for active in [false, true] {
                let fix = [PhaseFix {
                    layer: 1,
                    neuron,
                    active,
                }];
                let bb = bound_batch_with_phases(
                    &net,
                    arr2(&[lo]).view(),
                    arr2(&[hi]).view(),
                    &[&fix],
                    &obj,
                    Method::Crown,
                    &Deadline::never(),
                );
                let pre = &bb.values[1];
                assert!(if active {
                    pre.lower[[0, neuron]] >= 0.0
                } else {
                    pre.upper[[0, neuron]] <= 0.0
                });
                let mut inside = 0;
                for x in grid(&lo, &hi, 40) {
                    let z = w[[neuron, 0]] * x[0] + w[[neuron, 1]] * x[1] + b[neuron];
                    if (z >= 0.0) != active && z != 0.0 {
                        continue;
                    }
                    inside += 1;
                    let y = net.eval(&x)[0];
                    assert!(bb.objective_lower[[0, 0]] <= y, "neuron {neuron} {active}");
                    assert!(bb.objective_lower[[0, 1]] <= -y, "neuron {neuron} {active}");
                }
                assert!(inside > 0 && !is_empty(&bb, 0));
            }
        }
        // x0 + x1 >= 0 on [-1, -0.5]^2 is empty, and the bounds see it.
        let fix = [PhaseFix {
            layer: 1,
            neuron: 0,
            active: true,
        }];
        let bb = bound_batch_with_phases(
            &net,
            arr2(&[[-1.0, -1.0]]).view(),
            arr2(&[[-0.5, -0.5]]).view(),
            &[&fix],
            &obj,
            Method::Crown,
            &Deadline::never(),
        );
        assert!(is_empty(&bb, 0));
    }

    #[test]
    fn objective_bounds_are_never_looser_than_intervals() {
        let net = relu_net();
        let lower = arr2(&[[-1.0, -1.0]]);
        let upper = arr2(&[[1.0, 1.0]]);
        let obj = Objectives {
            rows: arr2(&[[1.0]]),
        };
        let ibp = bound_batch(&net, lower.view(), upper.view(), &obj, Method::Interval);
        let crown = bound_batch(&net, lower.view(), upper.view(), &obj, Method::Crown);
        assert!(crown.objective_lower[[0, 0]] >= ibp.objective_lower[[0, 0]] - 1e-9);
    }

    #[test]
    fn after_the_deadline_the_bounds_are_the_interval_bounds_and_alpha_stops() {
        let net = relu_net();
        let lower = arr2(&[[-1.0, -1.0]]);
        let upper = arr2(&[[1.0, 1.0]]);
        let obj = Objectives {
            rows: arr2(&[[1.0], [-1.0]]),
        };
        let ibp = bound_batch(&net, lower.view(), upper.view(), &obj, Method::Interval);
        let crown = bound_batch(&net, lower.view(), upper.view(), &obj, Method::Crown);
        assert_ne!(
            crown.objective_lower, ibp.objective_lower,
            "a network where CROWN is tighter"
        );
        let passed = Deadline::new(
            std::time::Instant::now(),
            Some(std::time::Duration::ZERO),
            None,
        );
        let late = bound_batch_with_phases(
            &net,
            lower.view(),
            upper.view(),
            &[],
            &obj,
            Method::Crown,
            &passed,
        );
        assert_eq!(late.objective_lower, ibp.objective_lower);
        for (a, b) in late.values.iter().zip(&ibp.values) {
            assert_eq!((&a.lower, &a.upper), (&b.lower, &b.upper));
        }
        // Alpha and the back-substitution itself give up: the trivial
        // bound, true of anything.
        let late = optimize_alphas(&net, &crown, 0, obj.rows.view(), 20, &passed);
        assert!(late.iter().all(|b| b.0 == f64::NEG_INFINITY));
        let (lb, coeffs) = crown_backward(
            &net,
            &sparse_layers(&net),
            &crown.values,
            net.layers.len(),
            Array3::from_elem((1, 1, 1), 1.0),
            None,
            &passed,
        );
        assert_eq!(lb[[0, 0]], f64::NEG_INFINITY);
        assert!(coeffs.iter().all(|&c| c == 0.0));
        let on_time = optimize_alphas(&net, &crown, 0, obj.rows.view(), 20, &Deadline::never());
        assert!(on_time.iter().all(|b| b.0.is_finite()));
    }

    #[test]
    fn sparse_layers_are_multiplied_sparsely_and_bounded_soundly() {
        // 2 -> 32 (dense) -> ReLU -> 32 -> 32 with 2 non-zeros per row
        // (sparse) -> ReLU -> 32 -> 1 (dense).
        let mut seed = 0x5a5a_u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        let dense = |rows: usize, cols: usize, next: &mut dyn FnMut() -> f64| {
            Array2::from_shape_fn((rows, cols), |_| (next() * 64.0).round() / 64.0)
        };
        let w1 = dense(32, 2, &mut next);
        let w2 = Array2::from_shape_fn((32, 32), |(r, c)| {
            if c == r || c == (r * 7 + 3) % 32 {
                1.0 - (r as f64) / 64.0
            } else {
                0.0
            }
        });
        let w3 = dense(1, 32, &mut next);
        let sparse = SparseRows::of(&w2).expect("2 of 32 entries per row");
        assert!(SparseRows::of(&w1).is_none() && SparseRows::of(&w3).is_none());
        let a = dense(5, 32, &mut next);
        let (got, want) = (sparse.left_product(a.view()), a.dot(&w2));
        assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-12));
        let net = Network::chain(
            2,
            vec![
                Layer::Linear {
                    w: w1,
                    b: ndarray::Array1::from_shape_fn(32, |i| i as f64 / 128.0 - 0.1),
                },
                Layer::Relu,
                Layer::Linear {
                    w: w2,
                    b: ndarray::Array1::zeros(32),
                },
                Layer::Relu,
                Layer::Linear {
                    w: w3,
                    b: arr1(&[0.0]),
                },
            ],
        );
        let (lo, hi) = ([-1.0, -0.5], [0.5, 1.0]);
        let obj = Objectives {
            rows: arr2(&[[1.0], [-1.0]]),
        };
        let bb = bound_batch(
            &net,
            arr2(&[lo]).view(),
            arr2(&[hi]).view(),
            &obj,
            Method::Crown,
        );
        for x in grid(&lo, &hi, 40) {
            let y = net.eval(&x)[0];
            assert!(bb.objective_lower[[0, 0]] <= y && y <= -bb.objective_lower[[0, 1]]);
        }
    }

    #[test]
    fn point_boxes_are_nearly_exact() {
        let net = relu_net();
        let x = [0.3, -0.7];
        let lower = arr2(&[x]);
        let obj = Objectives {
            rows: arr2(&[[1.0], [-1.0]]),
        };
        let bb = bound_batch(&net, lower.view(), lower.view(), &obj, Method::Crown);
        let y = net.eval(&x)[0];
        assert!(bb.objective_lower[[0, 0]] <= y && y - bb.objective_lower[[0, 0]] < 1e-12);
        assert!(-bb.objective_lower[[0, 1]] >= y && -bb.objective_lower[[0, 1]] - y < 1e-12);
    }

    #[test]
    fn batchnorm_point_boxes_are_nearly_exact() {
        // The enclosure costs about an ulp of each factor, no more.
        let net = batchnorm_net();
        let x = [0.3, -0.7];
        let obj = Objectives {
            rows: arr2(&[[1.0], [-1.0]]),
        };
        let point = arr2(&[x]);
        let bb = bound_batch(&net, point.view(), point.view(), &obj, Method::Crown);
        for y in [net.eval(&x)[0], at_top_of_enclosures(&net).eval(&x)[0]] {
            assert!(bb.objective_lower[[0, 0]] <= y && y - bb.objective_lower[[0, 0]] < 1e-12);
            assert!(-bb.objective_lower[[0, 1]] >= y && -bb.objective_lower[[0, 1]] - y < 1e-12);
        }
    }

    #[test]
    fn relu_upper_line_is_above_relu() {
        for (l, u) in [
            (-1.0, 1.0),
            (-1e-300, 1e300),
            (-3.3, 0.7),
            (-0.1, 1e-17),
            (-7.0, 3.0),
        ] {
            let (_, up) = relu_lines(l, u);
            for z in [l, u, 0.0] {
                let line = up.slope * z + up.intercept;
                assert!(line >= z.max(0.0) - 1e-300, "({l}, {u}) at {z}: {line}");
            }
        }
    }
}
