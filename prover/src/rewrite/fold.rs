//! The folds themselves: pure functions from the ops of two neighbouring
//! nodes to the one op that computes the same function, or the reason there
//! is none.
//!
//! Every result value is computed exactly (see [`super::exact`]) and kept
//! only if it is exactly a float32; otherwise the fold answers
//! [`INEXACT`]. A fold never rounds.

use axiom_core::graph::{broadcast_shapes, Op};
use ndarray::{Array1, Array2, Array4, ArrayD};
use num_rational::BigRational;

use super::exact::{exact_sqrt, f32_to_rational, rational_to_f32, DyadicSum, INEXACT};

/// Folds whose exact computation would take more multiply-adds than this are
/// skipped (the cost of an exact product grows with the weights' size).
pub const MAX_FOLD_WORK: usize = 1 << 24;

/// An element-wise op with a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Elementwise {
    Add,
    Sub,
    Mul,
    Div,
}

impl Elementwise {
    /// The op's constant, when `op` is this element-wise op.
    pub fn constant(self, op: &Op) -> Option<&ArrayD<f32>> {
        match (self, op) {
            (Elementwise::Add, Op::Add { c })
            | (Elementwise::Sub, Op::Sub { c })
            | (Elementwise::Mul, Op::Mul { c })
            | (Elementwise::Div, Op::Div { c }) => Some(c),
            _ => None,
        }
    }
}

type FoldResult = Result<Op, String>;

fn gemm_parts(op: &Op) -> Result<(&Array2<f32>, Option<&Array1<f32>>), String> {
    match op {
        Op::Gemm { weight, bias } => Ok((weight, bias.as_ref())),
        other => Err(format!("expected a Gemm, found {}", other.kind())),
    }
}

fn inexact() -> String {
    INEXACT.to_string()
}

/// `second ∘ first` for two Gemms: `W = W2·W1`, `b = W2·b1 + b2`.
pub fn gemm_gemm(first: &Op, second: &Op) -> FoldResult {
    let (w1, b1) = gemm_parts(first)?;
    let (w2, b2) = gemm_parts(second)?;
    let (k, n_in) = w1.dim();
    let (n_out, k2) = w2.dim();
    if k != k2 {
        return Err(format!(
            "the second Gemm expects {k2} inputs, the first produces {k}"
        ));
    }
    let work = n_out
        .saturating_mul(k)
        .saturating_mul(n_in.saturating_add(1));
    if work > MAX_FOLD_WORK {
        return Err(format!(
            "folding would take {work} exact multiply-adds (limit {MAX_FOLD_WORK})"
        ));
    }
    let mut sum = DyadicSum::new();
    let mut w = Array2::<f32>::zeros((n_out, n_in));
    for o in 0..n_out {
        for i in 0..n_in {
            sum.clear();
            for j in 0..k {
                sum.add_product(w2[[o, j]], w1[[j, i]]);
            }
            w[[o, i]] = sum.to_f32().ok_or_else(inexact)?;
        }
    }
    let bias = if b1.is_none() && b2.is_none() {
        None
    } else {
        let mut b = Array1::<f32>::zeros(n_out);
        for o in 0..n_out {
            sum.clear();
            if let Some(b1) = b1 {
                for j in 0..k {
                    sum.add_product(w2[[o, j]], b1[j]);
                }
            }
            if let Some(b2) = b2 {
                sum.add(b2[o]);
            }
            b[o] = sum.to_f32().ok_or_else(inexact)?;
        }
        Some(b)
    };
    Ok(Op::Gemm { weight: w, bias })
}

/// `shape_op(kind(x, c))` as `kind(shape_op(x), c')`: Flatten and Reshape
/// keep the row-major order, so `c'` is `c` broadcast to `x`'s shape and laid
/// out in the shape op's output shape (no arithmetic: always exact).
pub fn commute_through_shape(ew: &Op, x_shape: &[usize], out_shape: &[usize]) -> FoldResult {
    let (Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c }) = ew else {
        return Err(format!("expected Add/Sub/Mul/Div, found {}", ew.kind()));
    };
    if broadcast_shapes(x_shape, c.shape()).as_deref() != Some(x_shape) {
        return Err(format!(
            "the constant of shape {:?} broadcasts the value of shape {x_shape:?} to another shape",
            c.shape()
        ));
    }
    let n: usize = x_shape.iter().product();
    if n > MAX_FOLD_WORK || out_shape.iter().product::<usize>() != n {
        return Err(format!(
            "cannot lay out {n} constants in shape {out_shape:?}"
        ));
    }
    let values: Vec<f32> = c
        .broadcast(ndarray::IxDyn(x_shape))
        .ok_or("the constant does not broadcast")?
        .iter()
        .copied()
        .collect();
    let c = ArrayD::from_shape_vec(ndarray::IxDyn(out_shape), values).map_err(|e| e.to_string())?;
    Ok(match ew {
        Op::Add { .. } => Op::Add { c },
        Op::Sub { .. } => Op::Sub { c },
        Op::Mul { .. } => Op::Mul { c },
        _ => Op::Div { c },
    })
}

/// The constant of an element-wise op as one value per position of the last
/// axis of `shape`, when it is the same for every row (every position of the
/// other axes) and does not enlarge `shape` by broadcasting.
fn constant_row(c: &ArrayD<f32>, shape: &[usize]) -> Result<Vec<f32>, String> {
    let Some(&last) = shape.last() else {
        return Err("the value is a scalar".into());
    };
    if broadcast_shapes(shape, c.shape()).as_deref() != Some(shape) {
        return Err(format!(
            "the constant of shape {:?} broadcasts the value of shape {shape:?} to another shape",
            c.shape()
        ));
    }
    let cs = c.shape();
    if let Some(d) = cs[..cs.len().saturating_sub(1)]
        .iter()
        .position(|&d| d != 1)
    {
        return Err(format!(
            "the constant of shape {cs:?} varies along axis {d}, not only along the last axis"
        ));
    }
    let values: Vec<f32> = c.iter().copied().collect();
    match values.len() {
        1 => Ok(vec![values[0]; last]),
        n if n == last => Ok(values),
        n => Err(format!("the constant has {n} values for an axis of {last}")),
    }
}

/// `kind(gemm(x), c)`: an element-wise op applied to a Gemm's output
/// (`out_shape`), folded into the Gemm.
pub fn gemm_then(gemm: &Op, kind: Elementwise, op: &Op, out_shape: &[usize]) -> FoldResult {
    let (w, b) = gemm_parts(gemm)?;
    let c = kind
        .constant(op)
        .ok_or_else(|| format!("expected {kind:?}, found {}", op.kind()))?;
    let row = constant_row(c, out_shape)?;
    let (n_out, n_in) = w.dim();
    if row.len() != n_out {
        return Err(format!(
            "the constant has {} values, the Gemm {n_out} outputs",
            row.len()
        ));
    }
    let mut sum = DyadicSum::new();
    match kind {
        Elementwise::Add | Elementwise::Sub => {
            let mut nb = Array1::<f32>::zeros(n_out);
            for o in 0..n_out {
                sum.clear();
                if let Some(b) = b {
                    sum.add(b[o]);
                }
                if kind == Elementwise::Add {
                    sum.add(row[o]);
                } else {
                    sum.sub(row[o]);
                }
                nb[o] = sum.to_f32().ok_or_else(inexact)?;
            }
            Ok(Op::Gemm {
                weight: w.clone(),
                bias: Some(nb),
            })
        }
        Elementwise::Mul | Elementwise::Div => {
            // Row `o` of W and b_o times (or divided by) c_o.
            let factors = row_factors(kind, &row)?;
            let mut nw = Array2::<f32>::zeros((n_out, n_in));
            for o in 0..n_out {
                for i in 0..n_in {
                    nw[[o, i]] = scale(w[[o, i]], &factors[o])?;
                }
            }
            let nb = match b {
                Some(b) => Some(
                    (0..n_out)
                        .map(|o| scale(b[o], &factors[o]))
                        .collect::<Result<Array1<f32>, String>>()?,
                ),
                None => None,
            };
            Ok(Op::Gemm {
                weight: nw,
                bias: nb,
            })
        }
    }
}

/// `gemm(kind(x, c))`: an element-wise op on the Gemm's input (`x_shape`),
/// folded into the Gemm.
pub fn then_gemm(kind: Elementwise, op: &Op, gemm: &Op, x_shape: &[usize]) -> FoldResult {
    let (w, b) = gemm_parts(gemm)?;
    let c = kind
        .constant(op)
        .ok_or_else(|| format!("expected {kind:?}, found {}", op.kind()))?;
    let row = constant_row(c, x_shape)?;
    let (n_out, n_in) = w.dim();
    if row.len() != n_in {
        return Err(format!(
            "the constant has {} values, the Gemm {n_in} inputs",
            row.len()
        ));
    }
    let mut sum = DyadicSum::new();
    match kind {
        Elementwise::Add | Elementwise::Sub => {
            // W(x ± c) + b = Wx + (b ± Wc).
            let mut nb = Array1::<f32>::zeros(n_out);
            for o in 0..n_out {
                sum.clear();
                if let Some(b) = b {
                    sum.add(b[o]);
                }
                for i in 0..n_in {
                    let v = if kind == Elementwise::Add {
                        row[i]
                    } else {
                        -row[i]
                    };
                    sum.add_product(w[[o, i]], v);
                }
                nb[o] = sum.to_f32().ok_or_else(inexact)?;
            }
            Ok(Op::Gemm {
                weight: w.clone(),
                bias: Some(nb),
            })
        }
        Elementwise::Mul | Elementwise::Div => {
            // W(x ⊙ c) = (W diag c) x: column `i` of W times (or divided by) c_i.
            let factors = row_factors(kind, &row)?;
            let mut nw = Array2::<f32>::zeros((n_out, n_in));
            for o in 0..n_out {
                for i in 0..n_in {
                    nw[[o, i]] = scale(w[[o, i]], &factors[i])?;
                }
            }
            Ok(Op::Gemm {
                weight: nw,
                bias: b.cloned(),
            })
        }
    }
}

/// The exact multipliers of a Mul (`c`) or Div (`1/c`) constant.
fn row_factors(kind: Elementwise, row: &[f32]) -> Result<Vec<BigRational>, String> {
    row.iter()
        .map(|&c| {
            let r = f32_to_rational(c).ok_or("the constant is not finite")?;
            if kind == Elementwise::Div {
                if num_traits::Zero::is_zero(&r) {
                    return Err("division by zero".to_string());
                }
                Ok(num_traits::Inv::inv(r))
            } else {
                Ok(r)
            }
        })
        .collect()
}

/// `v · k` when it is exactly a float32.
fn scale(v: f32, k: &BigRational) -> Result<f32, String> {
    let r = f32_to_rational(v).ok_or("a weight is not finite")?;
    rational_to_f32(&(r * k)).ok_or_else(inexact)
}

/// `a · k + s` when it is exactly a float32.
fn scale_shift(a: &BigRational, k: &BigRational, s: &BigRational) -> Result<f32, String> {
    rational_to_f32(&(a * k + s)).ok_or_else(inexact)
}

/// Per channel, the exact `k = scale / sqrt(var + eps)` and
/// `s = bias - mean · k`, so that BatchNorm is `y = k·x + s`.
fn batchnorm_factors(bn: &Op) -> Result<Vec<(BigRational, BigRational)>, String> {
    let Op::BatchNorm {
        scale,
        bias,
        mean,
        var,
        epsilon,
    } = bn
    else {
        return Err(format!("expected a BatchNorm, found {}", bn.kind()));
    };
    let rat = |v: f32| f32_to_rational(v).ok_or_else(|| "a constant is not finite".to_string());
    let eps = rat(*epsilon)?;
    (0..scale.len())
        .map(|ch| {
            let denom = exact_sqrt(&(rat(var[ch])? + &eps)).ok_or_else(inexact)?;
            let k = rat(scale[ch])? / denom;
            let s = rat(bias[ch])? - rat(mean[ch])? * &k;
            Ok((k, s))
        })
        .collect()
}

/// `batchnorm(gemm(x))` on a rank-2 value `[N, C]` (the channel axis is the
/// Gemm's output axis): row `o` of W times `k_o`, `b'_o = b_o·k_o + s_o`.
pub fn gemm_batchnorm(gemm: &Op, bn: &Op, gemm_out_shape: &[usize]) -> FoldResult {
    if gemm_out_shape.len() != 2 {
        return Err(format!(
            "BatchNorm normalises axis 1 of {gemm_out_shape:?}, which is not the Gemm's output axis"
        ));
    }
    let (w, b) = gemm_parts(gemm)?;
    let factors = batchnorm_factors(bn)?;
    let (n_out, n_in) = w.dim();
    if factors.len() != n_out {
        return Err("BatchNorm and Gemm disagree on the channel count".into());
    }
    let mut nw = Array2::<f32>::zeros((n_out, n_in));
    let mut nb = Array1::<f32>::zeros(n_out);
    let zero = BigRational::from_integer(0.into());
    for (o, (k, s)) in factors.iter().enumerate() {
        for i in 0..n_in {
            nw[[o, i]] = scale(w[[o, i]], k)?;
        }
        let bo = match b {
            Some(b) => f32_to_rational(b[o]).ok_or("a bias is not finite")?,
            None => zero.clone(),
        };
        nb[o] = scale_shift(&bo, k, s)?;
    }
    Ok(Op::Gemm {
        weight: nw,
        bias: Some(nb),
    })
}

/// `batchnorm(conv(x))`: output channel `m` of the kernel times `k_m`,
/// `b'_m = b_m·k_m + s_m`.
pub fn conv_batchnorm(conv: &Op, bn: &Op) -> FoldResult {
    let Op::Conv2d {
        weight,
        bias,
        strides,
        pads,
        dilations,
        group,
    } = conv
    else {
        return Err(format!("expected a Conv2d, found {}", conv.kind()));
    };
    let factors = batchnorm_factors(bn)?;
    let (m, cg, kh, kw) = weight.dim();
    if factors.len() != m {
        return Err("BatchNorm and Conv2d disagree on the channel count".into());
    }
    let mut nw = Array4::<f32>::zeros((m, cg, kh, kw));
    let mut nb = Array1::<f32>::zeros(m);
    let zero = BigRational::from_integer(0.into());
    for (oc, (k, s)) in factors.iter().enumerate() {
        for ((c, y), x) in (0..cg)
            .flat_map(|c| (0..kh).map(move |y| (c, y)))
            .flat_map(|cy| (0..kw).map(move |x| (cy, x)))
        {
            nw[[oc, c, y, x]] = scale(weight[[oc, c, y, x]], k)?;
        }
        let bo = match bias {
            Some(b) => f32_to_rational(b[oc]).ok_or("a bias is not finite")?,
            None => zero.clone(),
        };
        nb[oc] = scale_shift(&bo, k, s)?;
    }
    Ok(Op::Conv2d {
        weight: nw,
        bias: Some(nb),
        strides: *strides,
        pads: *pads,
        dilations: *dilations,
        group: *group,
    })
}

/// A BatchNorm on a rank-2 value `[N, C]` as a diagonal Gemm:
/// `W = diag(k)`, `b = s`.
pub fn batchnorm_as_gemm(bn: &Op, x_shape: &[usize]) -> FoldResult {
    if x_shape.len() != 2 {
        return Err(format!(
            "a BatchNorm on {x_shape:?} is a Gemm only on a rank-2 value"
        ));
    }
    let factors = batchnorm_factors(bn)?;
    let n = factors.len();
    if n.saturating_mul(n) > MAX_FOLD_WORK {
        return Err(format!("a {n} x {n} diagonal Gemm is too large"));
    }
    let mut w = Array2::<f32>::zeros((n, n));
    let mut b = Array1::<f32>::zeros(n);
    let zero = BigRational::from_integer(0.into());
    for (ch, (k, s)) in factors.iter().enumerate() {
        w[[ch, ch]] = rational_to_f32(k).ok_or_else(inexact)?;
        b[ch] = scale_shift(&zero, k, s)?;
    }
    Ok(Op::Gemm {
        weight: w,
        bias: Some(b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    fn gemm(w: Array2<f32>, b: Option<Array1<f32>>) -> Op {
        Op::Gemm { weight: w, bias: b }
    }

    #[test]
    fn gemm_gemm_is_the_product() {
        let a = gemm(arr2(&[[1.0, 2.0], [0.5, -1.0]]), Some(arr1(&[1.0, -2.0])));
        let b = gemm(arr2(&[[2.0, 0.25]]), Some(arr1(&[0.5])));
        let Op::Gemm { weight, bias } = gemm_gemm(&a, &b).unwrap() else {
            panic!()
        };
        assert_eq!(weight, arr2(&[[2.125, 3.75]]));
        assert_eq!(bias, Some(arr1(&[2.0])));
        let c = gemm(arr2(&[[0.1, 0.2]]), None);
        let d = gemm(arr2(&[[0.3]]), None);
        assert_eq!(gemm_gemm(&c, &d).unwrap_err(), INEXACT);
    }

    #[test]
    fn constants_that_vary_across_rows_are_refused() {
        let g = gemm(arr2(&[[1.0], [2.0]]), None);
        let add = Op::Add {
            c: ndarray::ArrayD::from_shape_vec(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
        };
        let err = gemm_then(&g, Elementwise::Add, &add, &[2, 2]).unwrap_err();
        assert!(err.contains("varies"), "{err}");
        let add = Op::Add {
            c: arr1(&[1.0, 2.0]).into_dyn(),
        };
        let Op::Gemm { bias, .. } = gemm_then(&g, Elementwise::Add, &add, &[2, 2]).unwrap() else {
            panic!()
        };
        assert_eq!(bias, Some(arr1(&[1.0, 2.0])));
    }

    #[test]
    fn division_folds_only_when_exact() {
        let g = gemm(arr2(&[[3.0, 6.0]]), Some(arr1(&[9.0])));
        let div3 = Op::Div {
            c: arr1(&[3.0f32]).into_dyn(),
        };
        let Op::Gemm { weight, bias } = gemm_then(&g, Elementwise::Div, &div3, &[1]).unwrap()
        else {
            panic!()
        };
        assert_eq!(weight, arr2(&[[1.0, 2.0]]));
        assert_eq!(bias, Some(arr1(&[3.0])));
        let g = gemm(arr2(&[[1.0, 6.0]]), None);
        assert_eq!(
            gemm_then(&g, Elementwise::Div, &div3, &[1]).unwrap_err(),
            INEXACT
        );
    }

    #[test]
    fn batchnorm_needs_an_exact_square_root() {
        let bn = |var: f32, eps: f32| Op::BatchNorm {
            scale: arr1(&[2.0]),
            bias: arr1(&[1.0]),
            mean: arr1(&[0.5]),
            var: arr1(&[var]),
            epsilon: eps,
        };
        let g = gemm(arr2(&[[1.0, -1.0]]), Some(arr1(&[0.0])));
        // sqrt(3.75 + 0.25) = 2: k = 1, s = 1 - 0.5 = 0.5.
        let Op::Gemm { weight, bias } = gemm_batchnorm(&g, &bn(3.75, 0.25), &[1, 1]).unwrap()
        else {
            panic!()
        };
        assert_eq!(weight, arr2(&[[1.0, -1.0]]));
        assert_eq!(bias, Some(arr1(&[0.5])));
        assert_eq!(
            gemm_batchnorm(&g, &bn(1.0, 1e-5), &[1, 1]).unwrap_err(),
            INEXACT
        );
        assert!(batchnorm_as_gemm(&bn(4.0, 0.0), &[1, 1]).is_ok());
    }
}
