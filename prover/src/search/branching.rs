//! Branching heuristics: the objective's sensitivity to each neuron and
//! the ReLU split it suggests (BaBSR-like).

use super::*;

/// An upper bound on the sensitivity of `c·y` to every input over box `row`
/// of a batch (no soundness role; it steers splitting), for a non-negative
/// `g` = `|c|`: `g` propagated back through `|W|`, zeroing neurons that are
/// surely inactive and scaling S-shaped and BatchNorm ones by their largest
/// slope.
/// `at_relu(j, g)` sees, at every ReLU layer `j` on the way, the sensitivity
/// to that layer's outputs.
pub(super) fn sensitivity(
    net: &crate::Network,
    bb: &BatchBounds,
    row: usize,
    g: Vec<f64>,
    mut at_relu: impl FnMut(usize, &[f64]),
) -> Vec<f64> {
    let k = net.layers.len();
    // Per value, the sum over the layers that read it.
    let mut gs: Vec<Option<Vec<f64>>> = vec![None; k + 1];
    gs[k] = Some(g);
    let add_into = |slot: &mut Option<Vec<f64>>, g: Vec<f64>| match slot {
        None => *slot = Some(g),
        Some(acc) => acc.iter_mut().zip(g).for_each(|(a, b)| *a += b),
    };
    for (j, layer) in net.layers.iter().enumerate().rev() {
        let Some(mut g) = gs[j + 1].take() else {
            continue;
        };
        let ins = &net.inputs[j];
        match layer {
            crate::Layer::Linear { w, .. } => {
                let mut next = vec![0.0; w.ncols()];
                for (r, gr) in g.iter().enumerate() {
                    if *gr == 0.0 {
                        continue;
                    }
                    for (n, wv) in next.iter_mut().zip(w.row(r)) {
                        *n += gr * wv.abs();
                    }
                }
                g = next;
            }
            crate::Layer::SparseLinear { w, .. } => {
                let mut next = vec![0.0; w.ncols()];
                for (r, gr) in g.iter().enumerate() {
                    if *gr == 0.0 {
                        continue;
                    }
                    for (c, wv) in w.row(r) {
                        next[c] += gr * wv.abs();
                    }
                }
                g = next;
            }
            crate::Layer::Relu => {
                at_relu(j, &g);
                let pre = &bb.values[ins[0]];
                for (t, gt) in g.iter_mut().enumerate() {
                    if pre.upper[[row, t]] <= 0.0 {
                        *gt = 0.0;
                    }
                }
            }
            crate::Layer::Sigmoid => g.iter_mut().for_each(|v| *v *= 0.25),
            crate::Layer::Tanh => {}
            crate::Layer::BatchNorm { k_lo, k_hi, .. } => {
                for ((gt, lo), hi) in g.iter_mut().zip(k_lo).zip(k_hi) {
                    *gt *= lo.abs().max(hi.abs());
                }
            }
            crate::Layer::Sum => {
                for &v in &ins[1..] {
                    add_into(&mut gs[v], g.clone());
                }
            }
            crate::Layer::Concat { from } => {
                let mut parts: Vec<Vec<f64>> = ins
                    .iter()
                    .map(|&v| vec![0.0; bb.values[v].lower.ncols()])
                    .collect();
                for (&x, &(kk, t)) in g.iter().zip(from) {
                    parts[kk][t] += x;
                }
                let mut parts = parts.into_iter();
                g = parts.next().expect("a concatenation reads a value");
                for (&v, part) in ins[1..].iter().zip(parts) {
                    add_into(&mut gs[v], part);
                }
            }
        }
        add_into(&mut gs[ins[0]], g);
    }
    gs[0].take().unwrap_or_else(|| vec![0.0; net.input_dim])
}

/// The unstable ReLU to split on box `row`, by a BaBSR-like score: the
/// objective's [`sensitivity`] to the neuron's output (summed over the rows
/// `rows`) times the area the triangle relaxation gives away,
/// `-l u / (u - l)`. `None` when no ReLU is unstable. No soundness role.
pub(super) fn relu_branch(
    net: &crate::Network,
    bb: &BatchBounds,
    row: usize,
    rows: &[usize],
    objectives: &Objectives,
) -> Option<Branch> {
    let mut g = vec![0.0; net.output_dim()];
    for &r in rows {
        for (gi, c) in g.iter_mut().zip(objectives.rows.row(r)) {
            *gi += c.abs();
        }
    }
    let mut best: Option<(f64, Branch)> = None;
    sensitivity(net, bb, row, g, |j, g| {
        let pre = &bb.values[net.src(j)];
        for (t, gt) in g.iter().enumerate() {
            let (l, u) = (pre.lower[[row, t]], pre.upper[[row, t]]);
            if l < 0.0 && u > 0.0 && l.is_finite() && u.is_finite() {
                let score = gt * (-l * u / (u - l));
                // Layers come last to first: ties go to the earliest layer,
                // and within a layer to the highest neuron.
                if best.as_ref().is_none_or(|(s, _)| score >= *s) {
                    best = Some((
                        score,
                        Branch::Relu {
                            layer: j,
                            neuron: t,
                        },
                    ));
                }
            }
        }
    });
    best.map(|(_, b)| b)
}
