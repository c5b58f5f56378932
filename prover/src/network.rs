//! The prover's view of a graph: exact linear layers, element-wise
//! activations, sums and concatenations on flat vectors, in topological
//! order (a DAG: a layer reads one or more earlier values).
//!
//! Lowering is exact: every coefficient of a [`Layer::Linear`] or
//! [`Layer::SparseLinear`] is a float32 weight of the graph (or 0, 1, the
//! negation of one, or the exact reciprocal of a power of two), held in an
//! `f64` without rounding. BatchNorm's factor `scale / sqrt(var + eps)` is
//! irrational in general; it becomes a [`Layer::BatchNorm`] that holds an
//! exactly verified f64 enclosure of each factor, and every bound treats the
//! factor as an unknown inside it; a division by a constant that is not a
//! power of two is the same layer with the reciprocal enclosed. An op whose
//! lowering would round otherwise is refused with a reason naming the node,
//! so the prover never reasons about a network other than the one it was
//! given. `MaxPool` is first expanded into ReLUs (`axiom_core::maxpool`).

use axiom_core::graph::{broadcast_shapes, Graph, Op};
use ndarray::{Array1, Array2, ArrayView2};

/// A matrix by its non-zero entries, row by row (compressed sparse rows):
/// the lowering of a convolution, a pool or an element-wise op, whose dense
/// matrix would be mostly zeros (and, for large inputs, too large to hold).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseRows {
    /// Row `t`'s entries are `start[t]..start[t + 1]` of `col` and `val`.
    start: Vec<usize>,
    col: Vec<usize>,
    val: Vec<f64>,
    ncols: usize,
}

/// A matrix with at most one non-zero entry in this many is held (and
/// multiplied) as sparse rows.
pub const SPARSE_DENSITY: usize = 8;

impl SparseRows {
    /// `w`'s rows, when at most one entry in [`SPARSE_DENSITY`] is non-zero
    /// (below that, a dense GEMM is faster).
    pub fn of(w: &Array2<f64>) -> Option<SparseRows> {
        let nnz = w.iter().filter(|v| **v != 0.0).count();
        if nnz.saturating_mul(SPARSE_DENSITY) > w.len() {
            return None;
        }
        Some(SparseRows::from_rows(
            w.ncols(),
            w.rows().into_iter().map(|row| {
                row.iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(c, &v)| (c, v))
                    .collect()
            }),
        ))
    }

    /// A matrix of `ncols` columns from its rows' `(column, value)` entries
    /// (zeros dropped; entries of one column are summed, in order).
    pub fn from_rows(
        ncols: usize,
        rows: impl IntoIterator<Item = Vec<(usize, f64)>>,
    ) -> SparseRows {
        let mut m = SparseRows {
            start: vec![0],
            col: Vec::new(),
            val: Vec::new(),
            ncols,
        };
        for mut row in rows {
            row.sort_by_key(|e| e.0);
            let first = m.col.len();
            for (c, v) in row {
                if m.col.len() > first && m.col.last() == Some(&c) {
                    *m.val.last_mut().expect("an entry was pushed") += v;
                } else {
                    m.col.push(c);
                    m.val.push(v);
                }
            }
            // Drop exact zeros (entries that cancelled, or were 0).
            let mut k = first;
            for i in first..m.col.len() {
                if m.val[i] != 0.0 {
                    m.col[k] = m.col[i];
                    m.val[k] = m.val[i];
                    k += 1;
                }
            }
            m.col.truncate(k);
            m.val.truncate(k);
            m.start.push(m.col.len());
        }
        m
    }

    pub fn nrows(&self) -> usize {
        self.start.len() - 1
    }

    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Row `t`'s non-zero entries, `(column, value)`.
    pub fn row(&self, t: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        (self.start[t]..self.start[t + 1]).map(move |k| (self.col[k], self.val[k]))
    }

    /// Whether every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.val.iter().all(|v| v.is_finite())
    }

    /// `a · W` for `a` of shape `[rows, W's rows]`, rows in parallel.
    pub fn left_product(&self, a: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((a.nrows(), self.ncols));
        ndarray::Zip::from(out.rows_mut())
            .and(a.rows())
            .par_for_each(|mut o, arow| {
                for (t, &x) in arow.iter().enumerate() {
                    if x == 0.0 {
                        continue;
                    }
                    for k in self.start[t]..self.start[t + 1] {
                        o[self.col[k]] += x * self.val[k];
                    }
                }
            });
        out
    }

    /// `m · Wᵀ` (with `|W|` when `abs`) for `m` of shape `[rows, W's
    /// columns]`: per row of `m`, a dot product of at most W's column count
    /// with each row of W.
    pub fn right_product(&self, m: ArrayView2<f64>, abs: bool) -> Array2<f64> {
        let mut out = Array2::zeros((m.nrows(), self.nrows()));
        ndarray::Zip::from(out.rows_mut())
            .and(m.rows())
            .par_for_each(|mut o, mrow| {
                for (t, ot) in o.iter_mut().enumerate() {
                    let mut sum = 0.0;
                    for k in self.start[t]..self.start[t + 1] {
                        let v = if abs { self.val[k].abs() } else { self.val[k] };
                        sum += v * mrow[self.col[k]];
                    }
                    *ot = sum;
                }
            });
        out
    }
}

/// The matrix of a linear layer, dense or by its non-zero entries.
#[derive(Debug, Clone, Copy)]
pub enum MatrixRef<'a> {
    Dense(&'a Array2<f64>),
    Sparse(&'a SparseRows),
}

impl MatrixRef<'_> {
    pub fn nrows(&self) -> usize {
        match self {
            MatrixRef::Dense(w) => w.nrows(),
            MatrixRef::Sparse(s) => s.nrows(),
        }
    }

    pub fn ncols(&self) -> usize {
        match self {
            MatrixRef::Dense(w) => w.ncols(),
            MatrixRef::Sparse(s) => s.ncols(),
        }
    }

    /// `a · W`: each entry a sum of at most `nrows` products, in some order.
    pub fn left_product(&self, a: ArrayView2<f64>) -> Array2<f64> {
        match self {
            MatrixRef::Dense(w) => a.dot(*w).as_standard_layout().into_owned(),
            MatrixRef::Sparse(s) => s.left_product(a),
        }
    }

    /// `m · Wᵀ`, or `m · |W|ᵀ` when `abs`: each entry a sum of at most
    /// `ncols` products, in some order.
    pub fn right_product(&self, m: ArrayView2<f64>, abs: bool) -> Array2<f64> {
        match self {
            MatrixRef::Dense(w) if abs => m.dot(&w.mapv(f64::abs).t()),
            MatrixRef::Dense(w) => m.dot(&w.t()),
            MatrixRef::Sparse(s) => s.right_product(m, abs),
        }
    }

    /// `a · W` for one row `a` (a plain loop: no matrix-product set-up for
    /// the single rows of the alpha gradient).
    pub fn vec_left(&self, a: &[f64]) -> Vec<f64> {
        let mut next = vec![0.0; self.ncols()];
        match self {
            MatrixRef::Dense(w) => {
                for (row, lam) in w.rows().into_iter().zip(a) {
                    if *lam != 0.0 {
                        for (nv, wv) in next.iter_mut().zip(row) {
                            *nv += lam * wv;
                        }
                    }
                }
            }
            MatrixRef::Sparse(s) => {
                for (t, lam) in a.iter().enumerate() {
                    if *lam != 0.0 {
                        for (c, v) in s.row(t) {
                            next[c] += lam * v;
                        }
                    }
                }
            }
        }
        next
    }

    /// `W g` for one vector `g`.
    pub fn vec_right(&self, g: &[f64]) -> Vec<f64> {
        match self {
            MatrixRef::Dense(w) => w
                .rows()
                .into_iter()
                .map(|row| row.dot(&ndarray::ArrayView1::from(g)))
                .collect(),
            MatrixRef::Sparse(s) => (0..s.nrows())
                .map(|t| s.row(t).map(|(c, v)| v * g[c]).sum())
                .collect(),
        }
    }

    /// Row `t`'s non-zero entries, `(column, value)`.
    pub fn row_entries(&self, t: usize) -> Vec<(usize, f64)> {
        match self {
            MatrixRef::Dense(w) => w
                .row(t)
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(c, &v)| (c, v))
                .collect(),
            MatrixRef::Sparse(s) => s.row(t).collect(),
        }
    }
}

/// One layer on flat vectors.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// `y = W x + b`, `w` is `[out, in]`; every entry exact.
    Linear {
        w: Array2<f64>,
        b: Array1<f64>,
    },
    /// `y = W x + b` with `W` held by its non-zero entries (a convolution,
    /// a pool or an element-wise op on a large value); every entry exact.
    SparseLinear {
        w: SparseRows,
        b: Array1<f64>,
    },
    Relu,
    Sigmoid,
    Tanh,
    /// Inference-mode BatchNorm, element-wise on the flat vector:
    /// `y_t = k_t (x_t - mean_t) + beta_t`, where the exact factor `k_t`
    /// (`scale / sqrt(var + eps)` of the element's channel) is known to lie
    /// in `[k_lo_t, k_hi_t]` (checked in exact arithmetic, see
    /// [`batchnorm_factor_enclosure`]); `mean` and `beta` are float32
    /// values, exact. `k_lo == k_hi` when the factor is exactly an f64.
    BatchNorm {
        k_lo: Array1<f64>,
        k_hi: Array1<f64>,
        mean: Array1<f64>,
        beta: Array1<f64>,
    },
    /// `y = a + b + ...`, the element-wise sum of the values the layer reads
    /// (all of the same width): a residual connection.
    Sum,
    /// A concatenation (any axis, flattened): output element `e` is element
    /// `from[e].1` of the `from[e].0`-th value the layer reads.
    Concat {
        from: Vec<(usize, usize)>,
    },
}

impl Layer {
    /// Whether the layer is an exact affine map (bounds pass through it
    /// without a relaxation). A [`Layer::BatchNorm`] is affine for a fixed
    /// factor, but its factor is only enclosed, so it is relaxed like an
    /// activation.
    pub fn is_linear(&self) -> bool {
        matches!(
            self,
            Layer::Linear { .. } | Layer::SparseLinear { .. } | Layer::Sum | Layer::Concat { .. }
        )
    }

    /// The matrix and bias of a linear layer (`Linear` or `SparseLinear`).
    pub fn matrix(&self) -> Option<(MatrixRef<'_>, &Array1<f64>)> {
        match self {
            Layer::Linear { w, b } => Some((MatrixRef::Dense(w), b)),
            Layer::SparseLinear { w, b } => Some((MatrixRef::Sparse(w), b)),
            _ => None,
        }
    }

    /// Whether the layer is an element-wise relaxed map (an activation or a
    /// BatchNorm): one input, the same width out.
    pub fn is_elementwise(&self) -> bool {
        !self.is_linear()
    }
}

/// An f64 enclosure `[lo, hi]` of BatchNorm's factor `scale / sqrt(var +
/// eps)` (the float32 values taken as exact rationals), each end checked in
/// exact rational arithmetic: for `scale > 0`, `lo <= k` iff `lo <= 0` or
/// `lo² (var + eps) <= scale²`, and `k <= hi` iff `hi > 0` and `hi² (var +
/// eps) >= scale²`; a negative scale mirrors the positive case. Usually one
/// or two ulps wide; `lo == hi` when the factor is exactly that f64. `None`
/// when `var + eps <= 0` or a value is not finite.
pub fn batchnorm_factor_enclosure(scale: f32, var: f32, eps: f32) -> Option<(f64, f64)> {
    use num_rational::BigRational;
    use num_traits::{Signed, Zero};
    let rat = |v: f32| BigRational::from_float(v);
    let (g, v) = (rat(scale)?, rat(var)? + rat(eps)?);
    if !v.is_positive() {
        return None;
    }
    if g.is_zero() {
        return Some((0.0, 0.0));
    }
    let g2 = &g * &g;
    // For |scale|: lo below the factor, hi above it.
    let below = |x: f64| {
        x <= 0.0 || {
            let q = BigRational::from_float(x).unwrap_or_default();
            &q * &q * &v <= g2
        }
    };
    let above = |x: f64| {
        x > 0.0 && {
            let q = BigRational::from_float(x).unwrap_or_default();
            &q * &q * &v >= g2
        }
    };
    let approx = f64::from(scale).abs() / (f64::from(var) + f64::from(eps)).sqrt();
    if !approx.is_finite() {
        return None;
    }
    let (lo, hi) = step_outward(approx, below, above)?;
    Some(if g.is_negative() {
        (-hi, -lo)
    } else {
        (lo, hi)
    })
}

/// The f64s nearest `approx` (at most 64 ulps away) that `below` and
/// `above` accept: the ends of an enclosure whose checks are exact.
fn step_outward(
    approx: f64,
    below: impl Fn(f64) -> bool,
    above: impl Fn(f64) -> bool,
) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (approx, approx);
    for _ in 0..64 {
        if below(lo) {
            break;
        }
        lo = lo.next_down();
    }
    for _ in 0..64 {
        if above(hi) {
            break;
        }
        hi = hi.next_up();
    }
    (below(lo) && above(hi) && hi.is_finite()).then_some((lo, hi))
}

/// An f64 enclosure `[lo, hi]` of `1 / c` (the float32 `c` taken as the
/// exact rational it is), each end checked in exact rational arithmetic:
/// for `c > 0`, `lo <= 1/c` iff `lo c <= 1`, and `1/c <= hi` iff `hi c >=
/// 1`; a negative `c` mirrors it. `lo == hi` when `1/c` is an f64 (c a power
/// of two), else they are adjacent or nearly so. `None` for 0 or a
/// non-finite `c`, or a reciprocal beyond the f64 range.
pub fn reciprocal_enclosure(c: f32) -> Option<(f64, f64)> {
    use num_rational::BigRational;
    use num_traits::One;
    if c == 0.0 || !c.is_finite() {
        return None;
    }
    let a = BigRational::from_float(c.abs())?;
    let times_a = |x: f64| BigRational::from_float(x).map(|q| q * &a);
    let below = |x: f64| x <= 0.0 || times_a(x).is_some_and(|p| p <= BigRational::one());
    let above = |x: f64| x > 0.0 && times_a(x).is_some_and(|p| p >= BigRational::one());
    let approx = 1.0 / f64::from(c.abs());
    if !approx.is_finite() {
        return None;
    }
    let (lo, hi) = step_outward(approx, below, above)?;
    Some(if c < 0.0 { (-hi, -lo) } else { (lo, hi) })
}

/// A feed-forward network on flat vectors, exactly the function of the graph
/// it was lowered from (row-major flattening of every value).
///
/// Values are numbered as in the graph: value 0 is the input and layer `j`
/// produces value `j + 1`; `inputs[j]` lists the values layer `j` reads,
/// all earlier than `j + 1` (one value, except for [`Layer::Sum`] and
/// [`Layer::Concat`]). The output is the last value.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub input_dim: usize,
    pub layers: Vec<Layer>,
    pub inputs: Vec<Vec<usize>>,
}

/// The linear layer `y = W x + b` of `n_in` inputs whose rows have the given
/// `(column, value)` entries: [`Layer::SparseLinear`] when at most one entry
/// in [`SPARSE_DENSITY`] is non-zero, else a dense [`Layer::Linear`] (refused
/// above [`MAX_DENSE_ENTRIES`] entries).
fn linear_layer(
    n_in: usize,
    rows: impl IntoIterator<Item = Vec<(usize, f64)>>,
    b: Array1<f64>,
) -> Result<Layer, String> {
    let w = SparseRows::from_rows(n_in, rows);
    let n_out = w.nrows();
    let entries = n_out.saturating_mul(n_in);
    if w.col.len().saturating_mul(SPARSE_DENSITY) <= entries {
        return Ok(Layer::SparseLinear { w, b });
    }
    if entries > MAX_DENSE_ENTRIES {
        return Err(format!(
            "a dense {n_out} x {n_in} matrix is too large for the prover"
        ));
    }
    let mut dense = Array2::zeros((n_out, n_in));
    for t in 0..n_out {
        for (c, v) in w.row(t) {
            dense[[t, c]] = v;
        }
    }
    Ok(Layer::Linear { w: dense, b })
}

/// Why a graph cannot be lowered for the prover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("node '{node}' ({op}): {reason}")]
pub struct LowerError {
    pub node: String,
    pub op: String,
    pub reason: String,
}

/// Dense matrices larger than this are refused (a sparse one, such as a
/// convolution's, is held by its non-zero entries instead).
pub const MAX_DENSE_ENTRIES: usize = 1 << 26;

impl Network {
    /// A chain: layer `j` reads value `j`.
    pub fn chain(input_dim: usize, layers: Vec<Layer>) -> Network {
        let inputs = (0..layers.len()).map(|j| vec![j]).collect();
        Network {
            input_dim,
            layers,
            inputs,
        }
    }

    /// The value layer `j` reads (its first, for a [`Layer::Sum`] or
    /// [`Layer::Concat`]).
    pub fn src(&self, j: usize) -> usize {
        self.inputs[j][0]
    }

    /// Whether every layer reads the value just before it.
    pub fn is_chain(&self) -> bool {
        self.inputs.iter().enumerate().all(|(j, i)| i == &[j])
    }

    /// For each value, the layers that read it.
    pub fn consumers(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.layers.len() + 1];
        for (j, ins) in self.inputs.iter().enumerate() {
            for &v in ins {
                if !out[v].contains(&j) {
                    out[v].push(j);
                }
            }
        }
        out
    }

    /// Lowers a validated graph (a DAG; dead nodes are ignored). Nodes that
    /// only reshape (Identity, Flatten, Reshape) are no layer: their value
    /// is the value they read.
    ///
    /// `MaxPool` nodes are first expanded into ReLUs
    /// ([`axiom_core::maxpool::expand_max_pools`], as the checker does too).
    pub fn from_graph(graph: &Graph) -> Result<Network, LowerError> {
        let graph = axiom_core::maxpool::expand_max_pools(graph)
            .map_err(|e| {
                let (node, op) = match &e.location {
                    Some(axiom_core::Location::Node { name, op }) => (name.clone(), op.clone()),
                    _ => (String::new(), "MaxPool".into()),
                };
                LowerError {
                    node,
                    op,
                    reason: e.message.clone(),
                }
            })?
            .without_dead_nodes();
        let shapes = graph.infer_shapes().map_err(|e| LowerError {
            node: String::new(),
            op: String::new(),
            reason: e.to_string(),
        })?;
        let mut layers = Vec::new();
        let mut inputs: Vec<Vec<usize>> = Vec::new();
        // The network value of each graph value.
        let mut value_of = vec![0usize; graph.nodes.len() + 1];
        for (i, node) in graph.nodes.iter().enumerate() {
            let fail = |reason: String| LowerError {
                node: node.name.clone(),
                op: node.op.kind().to_string(),
                reason,
            };
            let srcs: Vec<usize> = node.inputs.iter().map(|&v| value_of[v]).collect();
            let before = layers.len();
            let in_shape = &shapes[node.inputs[0]];
            let out_shape = &shapes[i + 1];
            let n_in: usize = in_shape.iter().product();
            let n_out: usize = out_shape.iter().product();
            match &node.op {
                Op::Relu => layers.push(Layer::Relu),
                Op::Sigmoid => layers.push(Layer::Sigmoid),
                Op::Tanh => layers.push(Layer::Tanh),
                Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => {}
                Op::Gemm { weight, bias } => {
                    // Over the last axis: one block per row of the value.
                    let (o, k) = weight.dim();
                    let blocks = n_in / k;
                    let rows = (0..blocks * o).map(|row| {
                        let (blk, r) = (row / o, row % o);
                        (0..k)
                            .map(|c| (blk * k + c, f64::from(weight[[r, c]])))
                            .collect()
                    });
                    let b = (0..blocks * o)
                        .map(|row| bias.as_ref().map_or(0.0, |bias| f64::from(bias[row % o])))
                        .collect();
                    layers.push(linear_layer(n_in, rows, b).map_err(fail)?);
                }
                // Division by constants not all powers of two (the input
                // normalisation `(x - mean) / std` of image networks): the
                // exact factor 1/c is not an f64, so the layer holds an
                // exactly checked enclosure of it and is relaxed like
                // BatchNorm (with mean and beta 0).
                Op::Div { c } if c.iter().any(|&v| exact_reciprocal(f64::from(v)).is_none()) => {
                    let out = broadcast_shapes(in_shape, c.shape())
                        .ok_or_else(|| fail("shapes do not broadcast".into()))?;
                    if out.as_slice() != in_shape.as_slice() {
                        return Err(fail(format!(
                            "division by a constant of shape {:?} broadcasts the input {in_shape:?} \
                             to {out:?}; the prover divides element-wise only",
                            c.shape()
                        )));
                    }
                    let cst = broadcast_index(c.shape(), &out);
                    let cv: Vec<f32> = c.iter().copied().collect();
                    let mut factors = Vec::with_capacity(cst.len());
                    for &ci in &cst {
                        factors.push(reciprocal_enclosure(cv[ci]).ok_or_else(|| {
                            fail(format!("division by {}: no finite reciprocal", cv[ci]))
                        })?);
                    }
                    layers.push(Layer::BatchNorm {
                        k_lo: factors.iter().map(|f| f.0).collect(),
                        k_hi: factors.iter().map(|f| f.1).collect(),
                        mean: Array1::zeros(n_in),
                        beta: Array1::zeros(n_in),
                    });
                }
                Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c } => {
                    let out = broadcast_shapes(in_shape, c.shape())
                        .ok_or_else(|| fail("shapes do not broadcast".into()))?;
                    let src = broadcast_index(in_shape, &out);
                    let cst = broadcast_index(c.shape(), &out);
                    let cv: Vec<f32> = c.iter().copied().collect();
                    let mut rows = Vec::with_capacity(src.len());
                    let mut b = Array1::zeros(src.len());
                    for (o, (&s, &ci)) in src.iter().zip(&cst).enumerate() {
                        let v = f64::from(cv[ci]);
                        let (scale, shift) = match &node.op {
                            Op::Add { .. } => (1.0, v),
                            Op::Sub { .. } => (1.0, -v),
                            Op::Mul { .. } => (v, 0.0),
                            // Every divisor is a power of two here (the arm
                            // above takes the others).
                            _ => (
                                exact_reciprocal(v).ok_or_else(|| {
                                    fail(format!("division by {v}, whose reciprocal is not exact"))
                                })?,
                                0.0,
                            ),
                        };
                        rows.push(vec![(s, scale)]);
                        b[o] = shift;
                    }
                    layers.push(linear_layer(n_in, rows, b).map_err(fail)?);
                }
                Op::Conv2d {
                    weight,
                    bias,
                    strides,
                    pads,
                    dilations,
                    group,
                } => {
                    let (n, c, h, wd) = (in_shape[0], in_shape[1], in_shape[2], in_shape[3]);
                    let (m, oh, ow) = (out_shape[1], out_shape[2], out_shape[3]);
                    let (_, cg, kh, kw) = weight.dim();
                    let mg = m / group;
                    let mut rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_out];
                    let mut b = Array1::zeros(n_out);
                    for img in 0..n {
                        for oc in 0..m {
                            let g = oc / mg;
                            for oy in 0..oh {
                                for ox in 0..ow {
                                    let row = ((img * m + oc) * oh + oy) * ow + ox;
                                    if let Some(bias) = bias {
                                        b[row] = f64::from(bias[oc]);
                                    }
                                    for icg in 0..cg {
                                        let ic = g * cg + icg;
                                        for ky in 0..kh {
                                            for kx in 0..kw {
                                                let iy = (oy * strides[0] + ky * dilations[0])
                                                    as isize
                                                    - pads[0] as isize;
                                                let ix = (ox * strides[1] + kx * dilations[1])
                                                    as isize
                                                    - pads[1] as isize;
                                                if iy < 0
                                                    || ix < 0
                                                    || iy >= h as isize
                                                    || ix >= wd as isize
                                                {
                                                    continue;
                                                }
                                                let col = ((img * c + ic) * h + iy as usize) * wd
                                                    + ix as usize;
                                                rows[row].push((
                                                    col,
                                                    f64::from(weight[[oc, icg, ky, kx]]),
                                                ));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    layers.push(linear_layer(n_in, rows, b).map_err(fail)?);
                }
                Op::AveragePool {
                    kernel,
                    strides,
                    pads,
                    count_include_pad,
                } => {
                    let (n, c, h, wd) = (in_shape[0], in_shape[1], in_shape[2], in_shape[3]);
                    let (oh, ow) = (out_shape[2], out_shape[3]);
                    let mut rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_out];
                    for nc in 0..n * c {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let row = (nc * oh + oy) * ow + ox;
                                let mut cells = Vec::new();
                                for ky in 0..kernel[0] {
                                    for kx in 0..kernel[1] {
                                        let iy = (oy * strides[0] + ky) as isize - pads[0] as isize;
                                        let ix = (ox * strides[1] + kx) as isize - pads[1] as isize;
                                        if iy >= 0
                                            && ix >= 0
                                            && (iy as usize) < h
                                            && (ix as usize) < wd
                                        {
                                            cells.push((nc * h + iy as usize) * wd + ix as usize);
                                        }
                                    }
                                }
                                let count = if *count_include_pad {
                                    kernel[0] * kernel[1]
                                } else {
                                    cells.len()
                                };
                                if count == 0 {
                                    continue;
                                }
                                let coef = exact_reciprocal(count as f64).ok_or_else(|| {
                                    fail(format!(
                                        "averaging over {count} cells divides by a number that is not a power of two"
                                    ))
                                })?;
                                rows[row] = cells.into_iter().map(|col| (col, coef)).collect();
                            }
                        }
                    }
                    layers.push(linear_layer(n_in, rows, Array1::zeros(n_out)).map_err(fail)?);
                }
                Op::BatchNorm {
                    scale,
                    bias,
                    mean,
                    var,
                    epsilon,
                } => {
                    // Channel axis 1 of [N, C, rest...]: flat element e is in
                    // channel (e / inner) % C.
                    let channels = in_shape.get(1).copied().unwrap_or(0);
                    let inner: usize = in_shape.iter().skip(2).product();
                    if channels == 0 || scale.len() != channels {
                        return Err(fail(format!(
                            "BatchNorm has {} channels, its input {in_shape:?}",
                            scale.len()
                        )));
                    }
                    let mut factors = Vec::with_capacity(channels);
                    for ch in 0..channels {
                        factors.push(batchnorm_factor_enclosure(scale[ch], var[ch], *epsilon).ok_or_else(|| {
                            fail(format!(
                                "channel {ch}: scale {} / sqrt(var {} + epsilon {epsilon}) is not a finite number",
                                scale[ch], var[ch]
                            ))
                        })?);
                    }
                    let channel = |e: usize| (e / inner.max(1)) % channels;
                    layers.push(Layer::BatchNorm {
                        k_lo: Array1::from_shape_fn(n_in, |e| factors[channel(e)].0),
                        k_hi: Array1::from_shape_fn(n_in, |e| factors[channel(e)].1),
                        mean: Array1::from_shape_fn(n_in, |e| f64::from(mean[channel(e)])),
                        beta: Array1::from_shape_fn(n_in, |e| f64::from(bias[channel(e)])),
                    });
                }
                // Both move elements (and Pad adds its constant): exact.
                Op::Transpose { .. } | Op::Pad { .. } => {
                    let sources = node.op.gather_sources(in_shape).map_err(fail)?;
                    let value = match &node.op {
                        Op::Pad { value, .. } => f64::from(*value),
                        _ => 0.0,
                    };
                    let b = sources
                        .iter()
                        .map(|s| if s.is_some() { 0.0 } else { value })
                        .collect();
                    let rows = sources
                        .iter()
                        .map(|s| s.map(|c| vec![(c, 1.0)]).unwrap_or_default());
                    layers.push(linear_layer(n_in, rows, b).map_err(fail)?);
                }
                Op::Sum => layers.push(Layer::Sum),
                Op::Concat { axis } => {
                    // Row-major: per index of the axes before `axis`, each
                    // input contributes a block of `d_k * inner` elements.
                    let outer: usize = out_shape[..*axis].iter().product();
                    let inner: usize = out_shape[axis + 1..].iter().product();
                    let mut from = Vec::with_capacity(n_out);
                    for o in 0..outer {
                        for (k, &v) in node.inputs.iter().enumerate() {
                            let block = shapes[v][*axis] * inner;
                            from.extend((0..block).map(|t| (k, o * block + t)));
                        }
                    }
                    layers.push(Layer::Concat { from });
                }
                Op::MaxPool { .. } => {
                    return Err(fail("MaxPool is expanded into ReLUs before lowering".into()))
                }
                Op::Softmax { .. } => {
                    return Err(fail(
                        "the prover does not support Softmax (not piecewise linear); state the property on the logits before it".into(),
                    ))
                }
            }
            if layers.len() > before {
                inputs.push(srcs);
                value_of[i + 1] = layers.len();
            } else {
                // A node that only reshapes: its value is the one it reads.
                value_of[i + 1] = srcs[0];
            }
        }
        Ok(Network {
            input_dim: graph.input_len(),
            layers,
            inputs,
        })
    }

    /// The width of the output.
    pub fn output_dim(&self) -> usize {
        *self.dims().last().unwrap_or(&self.input_dim)
    }

    /// The width of every value: the input, then each layer's output.
    pub fn dims(&self) -> Vec<usize> {
        let mut dims = vec![self.input_dim];
        for (l, ins) in self.layers.iter().zip(&self.inputs) {
            let width = match l {
                Layer::Linear { w, .. } => w.nrows(),
                Layer::SparseLinear { w, .. } => w.nrows(),
                Layer::Concat { from } => from.len(),
                _ => dims[ins[0]],
            };
            dims.push(width);
        }
        dims
    }

    /// Plain f64 evaluation (no soundness claim; for attacks and tests).
    pub fn eval(&self, x: &[f64]) -> Vec<f64> {
        let mut values: Vec<Array1<f64>> = vec![Array1::from(x.to_vec())];
        for (l, ins) in self.layers.iter().zip(&self.inputs) {
            let v = &values[ins[0]];
            let y = match l {
                Layer::Linear { w, b } => w.dot(v) + b,
                Layer::SparseLinear { w, b } => {
                    let row = v.view().insert_axis(ndarray::Axis(0));
                    w.right_product(row, false).row(0).to_owned() + b
                }
                Layer::Relu => v.mapv(|t| t.max(0.0)),
                Layer::Sigmoid => v.mapv(sigmoid),
                Layer::Tanh => v.mapv(f64::tanh),
                Layer::BatchNorm {
                    k_lo, mean, beta, ..
                } => (v - mean) * k_lo + beta,
                Layer::Sum => {
                    let mut y = v.clone();
                    for &o in &ins[1..] {
                        y += &values[o];
                    }
                    y
                }
                Layer::Concat { from } => from.iter().map(|&(k, t)| values[ins[k]][t]).collect(),
            };
            values.push(y);
        }
        values.pop().expect("the input is a value").to_vec()
    }
}

pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `1 / v` when it is exactly representable (v a power of two), else `None`.
fn exact_reciprocal(v: f64) -> Option<f64> {
    if v == 0.0 || !v.is_finite() {
        return None;
    }
    let r = 1.0 / v;
    // v and 1/v are both exact iff v is a power of two; then r * v == 1
    // exactly and r is a power of two as well.
    let is_pow2 = |x: f64| x.abs().to_bits() & ((1u64 << 52) - 1) == 0 && x.is_normal();
    (is_pow2(v) && is_pow2(r)).then_some(r)
}

/// For every flat index of `out`, the flat index of `shape` that numpy
/// broadcasting reads.
fn broadcast_index(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let rank = out.len();
    let padded: Vec<usize> = std::iter::repeat_n(1, rank - shape.len())
        .chain(shape.iter().copied())
        .collect();
    let total: usize = out.iter().product();
    let mut result = Vec::with_capacity(total);
    let mut idx = vec![0usize; rank];
    for _ in 0..total {
        let mut flat = 0;
        for d in 0..rank {
            let i = if padded[d] == 1 { 0 } else { idx[d] };
            flat = flat * padded[d] + i;
        }
        result.push(flat);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < out[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use axiom_backends::{cpu::CpuBackend, Backend};
    use axiom_core::GraphBuilder;
    use ndarray::{arr1, arr2, ArrayD, IxDyn};

    #[test]
    fn lowering_computes_the_graph_function() {
        let mut b = GraphBuilder::new("t", "x", vec![1, 2, 2, 2]);
        let mut v = b.push(
            "conv",
            Op::Conv2d {
                weight: ArrayD::from_shape_fn(IxDyn(&[2, 2, 2, 2]), |i| {
                    (i[0] + 2 * i[1] + i[2] + 3 * i[3]) as f32 * 0.25 - 0.5
                })
                .into_dimensionality()
                .unwrap(),
                bias: Some(arr1(&[0.5, -0.25])),
                strides: [1, 1],
                pads: [1, 0, 0, 1],
                dilations: [1, 1],
                group: 1,
            },
            0,
        );
        v = b.push(
            "bn",
            Op::BatchNorm {
                scale: arr1(&[0.7, -1.3]),
                bias: arr1(&[0.25, -0.1]),
                mean: arr1(&[0.3, -0.2]),
                var: arr1(&[2.0, 0.5]),
                epsilon: 1e-5,
            },
            v,
        );
        v = b.push(
            "sub",
            Op::Sub {
                c: arr1(&[0.5f32]).into_dyn(),
            },
            v,
        );
        v = b.push(
            "div",
            Op::Div {
                c: arr1(&[4.0f32]).into_dyn(),
            },
            v,
        );
        v = b.push("relu", Op::Relu, v);
        v = b.push("flat", Op::Flatten { axis: 1 }, v);
        let n: usize = 2 * 2 * 2;
        v = b.push(
            "fc",
            Op::Gemm {
                weight: ndarray::Array2::from_shape_fn((3, n), |(r, c)| {
                    (r as f32 - c as f32) * 0.125
                }),
                bias: Some(arr1(&[1.0, 0.0, -1.0])),
            },
            v,
        );
        v = b.push("tanh", Op::Tanh, v);
        let g = b.finish(v).unwrap();
        let net = Network::from_graph(&g).unwrap();
        let model = CpuBackend.compile(&g).unwrap();
        let x: Vec<f64> = (0..8).map(|i| (i as f64 - 3.5) / 3.0).collect();
        let want = model
            .run_f64(
                ndarray::Array2::from_shape_vec((1, 8), x.clone())
                    .unwrap()
                    .view(),
            )
            .unwrap();
        let got = net.eval(&x);
        for (a, b) in got.iter().zip(want.iter()) {
            assert!((a - b).abs() < 1e-12, "{got:?} vs {want}");
        }
        assert_eq!(net.output_dim(), 3);
    }

    #[test]
    fn batchnorm_factor_enclosures_are_exact_and_tight() {
        use num_rational::BigRational;
        let q = |v: f64| BigRational::from_float(v).unwrap();
        for (scale, var, eps) in [
            (0.7f32, 2.0f32, 1e-5f32),
            (-0.7, 2.0, 1e-5),
            (1.0, 3.0, 0.0),
            (3.5, 1e-6, 1e-3),
            (1e-20, 7.0, 0.5),
        ] {
            let (lo, hi) = batchnorm_factor_enclosure(scale, var, eps).unwrap();
            let g = BigRational::from_float(scale).unwrap();
            let v = BigRational::from_float(var).unwrap() + BigRational::from_float(eps).unwrap();
            // k = g / sqrt(v) lies in [lo, hi] iff, on the side of g's sign,
            // lo² v <= g² <= hi² v (both ends with g's sign).
            assert!(
                lo <= hi && lo.signum() == hi.signum() && lo.signum() == f64::from(scale).signum()
            );
            let (a, b) = if scale > 0.0 { (lo, hi) } else { (-hi, -lo) };
            assert!(q(a) * q(a) * &v <= &g * &g && &g * &g <= q(b) * q(b) * &v);
            assert!(
                b.next_down().next_down() <= a,
                "[{lo}, {hi}] is wider than 2 ulps"
            );
        }
        // sqrt(4) = 2 exactly: the factor is an f64, the enclosure a point.
        assert_eq!(
            batchnorm_factor_enclosure(3.0, 3.75, 0.25),
            Some((1.5, 1.5))
        );
        assert_eq!(batchnorm_factor_enclosure(0.0, 2.0, 0.0), Some((0.0, 0.0)));
        assert_eq!(batchnorm_factor_enclosure(1.0, -1.0, 0.5), None);
        assert_eq!(batchnorm_factor_enclosure(1.0, 0.0, 0.0), None);
    }

    #[test]
    fn inexact_division_is_enclosed_and_a_broadcasting_one_refused() {
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let v = b.push(
            "div",
            Op::Div {
                c: arr1(&[3.0f32]).into_dyn(),
            },
            0,
        );
        let g = b.finish(v).unwrap();
        let net = Network::from_graph(&g).unwrap();
        match &net.layers[..] {
            [Layer::BatchNorm {
                k_lo,
                k_hi,
                mean,
                beta,
            }] => {
                assert!(k_lo
                    .iter()
                    .all(|&k| k < 1.0 / 3.0 + 1e-16 && k * 3.0 <= 1.0));
                assert!(k_hi.iter().all(|&k| k * 3.0 >= 1.0 && k_lo[0] < k));
                assert!(mean.iter().chain(beta).all(|&v| v == 0.0));
            }
            other => panic!("{other:?}"),
        }
        // [1] / [3 values] would grow the vector: refused, naming the node.
        let mut b = GraphBuilder::new("t", "x", vec![1]);
        let v = b.push(
            "div",
            Op::Div {
                c: arr1(&[3.0f32, 5.0, 7.0]).into_dyn(),
            },
            0,
        );
        let g = b.finish(v).unwrap();
        let err = Network::from_graph(&g).unwrap_err();
        assert_eq!(err.node, "div");
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let v = b.push(
            "fc",
            Op::Gemm {
                weight: arr2(&[[1.0, 2.0]]),
                bias: None,
            },
            0,
        );
        let g = b.finish(v).unwrap();
        assert!(Network::from_graph(&g).is_ok());
    }
}
