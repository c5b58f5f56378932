//! The linear relaxations of the element-wise layers: ReLU (triangle and
//! adaptive lower line), sigmoid and tanh (chords and tangents), and
//! BatchNorm's enclosed factor.

use super::*;

/// One line `y >= slope·z + intercept` (or `<=`) per neuron.
pub(super) struct Line {
    pub(super) slope: f64,
    pub(super) intercept: f64,
}

/// The ReLU relaxation on `[l, u]`: (lower line, upper line).
pub(super) fn relu_lines(l: f64, u: f64) -> (Line, Line) {
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
pub(super) fn s_lines(
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
pub(super) fn batchnorm_lines(
    k_lo: f64,
    k_hi: f64,
    m: f64,
    beta: f64,
    l: f64,
    u: f64,
) -> (Line, Line) {
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
pub(super) fn act_lines(act: &Layer, t: usize, l: f64, u: f64) -> (Line, Line) {
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

pub(super) fn dsigmoid(x: f64) -> f64 {
    let s = sigmoid(x);
    s * (1.0 - s)
}

pub(super) fn dtanh(x: f64) -> f64 {
    let t = x.tanh();
    1.0 - t * t
}
