//! The floating-point error model every bound step pays with: the unit
//! roundoff, the dot-product bound `γ(n)`, and the outward finish of a bound
//! (see the soundness argument in the parent module).

/// Unit roundoff of f64.
pub(super) const U: f64 = f64::EPSILON / 2.0;

/// Relative inflation applied to every computed slack or error estimate.
pub(super) const SLACK_INFLATE: f64 = 1.0 + 1e-10;

/// Intercept margin for the S-shaped relaxations.
pub(super) const S_MARGIN: f64 = 1e-12;

/// `γ(n)`, rounded up generously.
pub(super) fn gamma(n: usize) -> f64 {
    let nu = (n as f64 + 2.0) * U;
    nu / (1.0 - nu) * SLACK_INFLATE
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
pub(super) fn finish_lower(value: f64, slack: f64) -> f64 {
    let r = (value - slack * SLACK_INFLATE).next_down();
    if r.is_nan() {
        f64::NEG_INFINITY
    } else {
        r
    }
}

pub(super) fn finish_upper(value: f64, slack: f64) -> f64 {
    let r = (value + slack * SLACK_INFLATE).next_up();
    if r.is_nan() {
        f64::INFINITY
    } else {
        r
    }
}
