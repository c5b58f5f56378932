//! Interval bounds (IBP) of each kind of layer.

use super::*;

/// Interval bounds of `W v + b` for `v` in the box: center/radius form,
/// `y = W c + b ± (|W| r)`, with the dot-product error bound folded in.
pub(super) fn interval_linear(
    prev: &ValueBounds,
    w: MatrixRef<'_>,
    b: &ndarray::Array1<f64>,
) -> ValueBounds {
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
pub(super) fn interval_sum(values: &[ValueBounds], ins: &[usize]) -> ValueBounds {
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
pub(super) fn interval_concat(
    values: &[ValueBounds],
    ins: &[usize],
    from: &[(usize, usize)],
) -> ValueBounds {
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
pub(super) fn interval_activation(prev: &ValueBounds, act: &Layer) -> ValueBounds {
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

pub(super) fn s_lower(v: f64, floor: f64) -> f64 {
    if v.is_nan() {
        floor
    } else {
        (v - S_MARGIN).max(floor)
    }
}

pub(super) fn s_upper(v: f64, ceil: f64) -> f64 {
    if v.is_nan() {
        ceil
    } else {
        (v + S_MARGIN).min(ceil)
    }
}
