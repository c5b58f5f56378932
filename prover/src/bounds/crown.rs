//! CROWN: linear bounds propagated backwards over the network's DAG, a
//! value's coefficients summed over the layers that read it.

use super::*;

/// Sound lower and upper bounds of the elements `neurons` of value `k`
/// (of width `width`) by
/// CROWN from the input: lower bounds of `+e_t · v_k` and of `-e_t · v_k`
/// for every listed `t`; column `n` of the results belongs to `neurons[n]`.
pub(super) fn crown_value_bounds(
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

/// Backward linear bound propagation from value `k`, starting with
/// coefficients `a` (`[batch, m, width_k]`), down to the input. Returns sound
/// lower bounds of `a · v_k` per box and row, and the input coefficients.
/// Once `deadline` has passed (checked before each layer) it gives up: the
/// bounds are `-∞` (true of anything) and the coefficients 0.
pub(super) fn crown_backward(
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
pub(super) fn accumulate(
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
