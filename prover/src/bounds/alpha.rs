//! alpha-CROWN: the lower ReLU slopes of an objective, optimised by
//! projected gradient ascent on the (sound) CROWN bound.

use super::*;

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
pub(super) fn alpha_gradient(
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
                a = w.vec_left(&a);
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
                w.vec_right(g).iter().zip(b).map(|(x, bt)| x + bt).collect()
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
pub(super) fn line_for(
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
