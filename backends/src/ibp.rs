//! Batched interval bound propagation (IBP) through networks of affine
//! layers and ReLUs — chains, or DAGs with sums (residual connections) and
//! concatenations — with bounds that hold for the real-arithmetic network.
//!
//! An [`IbpNetwork`] is a list of [`IbpLayer`]s (`y = W x + b` with float32
//! `W`, `b`, and ReLU, each reading the previous layer's output; `Load`,
//! `Sum` and `Concat` read any earlier values by number: 0 is the network
//! input, `i + 1` the output of layer `i`). [`ibp_cpu`] propagates a batch of input boxes (one
//! box per row of `lower`/`upper`) through it in `f64` and returns, for every
//! box, an interval around every output that contains the output of the
//! *exact* network — the float32 weights taken as exact rationals, real
//! arithmetic — at every point of the box. The CUDA backend's
//! `cuda::CudaIbp` (feature `cuda`) computes the same kind of bound in
//! `f32` on the GPU, with the same formula and the same proof below; this
//! module is its reference and the part of it that CI can run.
//!
//! # Center/radius form
//!
//! A box is kept as a center `c` and a radius `r ≥ 0` per coordinate: the box
//! is (contained in) `[c - r, c + r]`. For `x` in the box the exact affine
//! image satisfies `|W x + b - (W c + b)| ≤ |W| r`, so each affine layer is
//! two matrix products over the whole batch: `W c` and `|W| q` (below). A
//! ReLU maps `[c - r, c + r]` to `[max(c - r, 0), max(c + r, 0)]`, which is
//! re-centred.
//!
//! # Soundness under floating point
//!
//! Let `u` be the unit roundoff of the float type the products are computed
//! in (`2⁻²⁴` for `f32`, `2⁻⁵³` for `f64`), `λ` its smallest positive normal
//! number, `n` the length of the dot products (the layer's input width) and
//! `γ = n u / (1 - n u)`. [`IbpNetwork::new`] requires `n ≤ 2²⁰`, so
//! `γ ≤ 1/4` in `f32` and `1 + γ ≤ 2`, `1/(1 - γ) ≤ 2`.
//!
//! 1. **Dot products.** A dot product `Σⱼ wⱼ xⱼ` of length `n` computed in
//!    floating point — in *any* order, with or without fused multiply-adds,
//!    split into partial sums in any way (as cuBLAS may do) — satisfies
//!    `|ŝ - s| ≤ γ Σⱼ |wⱼ xⱼ| + 2λ (Σⱼ |xⱼ| + Σⱼ |wⱼ| + 3n)`. The first term
//!    is the classical bound (Higham, *Accuracy and Stability of Numerical
//!    Algorithms*, 2nd ed., §3.1, eq. 3.5 and the remark that it holds for any
//!    order of evaluation). The second covers underflow even on hardware
//!    that flushes subnormal inputs and results to zero: a flushed input
//!    perturbs a product by at most `λ |xⱼ|` or `λ |wⱼ|` (or `λ²`), and each
//!    of the at most `2n` roundings adds at most `λ` absolutely; these
//!    absolute errors are amplified by later roundings by at most
//!    `1 + γ ≤ 2`.
//! 2. **Affine layer.** The kernels compute, with upward rounding,
//!    `q ≥ r + γ |c|` and `sᵦ ≥ Σⱼ (|cⱼ| + qⱼ)` per box, and in the working
//!    precision `C = fl(W c)`, `S = fl(|W| q)`, `c' = fl(C + b)`. For `x` in the
//!    box, with `z = W x + b`:
//!    `|z - c'| ≤ |W| r + |W c - C| + |C + b - c'|`
//!    `≤ |W| r + γ |W| |c| + E₁ + u/(1-u) |c'| + λ`
//!    `≤ |W| q + E₁ + u/(1-u) |c'| + λ`,
//!    where `E₁ ≤ 2λ (Σ|cⱼ| + w₁ + 3n)` is the underflow term of `C` and
//!    `w₁ ≥ Σⱼ |Wᵢⱼ|` (row sums, rounded up once per network). All terms of
//!    `|W| q` are non-negative, so by (1) `|W| q ≤ (S + E₂)/(1 - γ)` with
//!    `E₂ ≤ 2λ (Σ qⱼ + w₁ + 3n)`. Collecting the underflow terms with
//!    `1/(1 - γ) ≤ 2`: `E₁ + λ + E₂/(1-γ) ≤ 8λ (w₁ + sᵦ + 3n + 1)`. So the
//!    new radius
//!
//!    `r' = S/(1-γ) + u/(1-u) |c'| + 8λ (w₁ + sᵦ + 3n + 1)`,
//!
//!    evaluated with every operation rounded upward and every constant
//!    (`γ`, `1/(1-γ)`, `u/(1-u)`) rounded up, satisfies `|z - c'| ≤ r'`:
//!    the interval `[c' - r', c' + r']` contains every exact output.
//! 3. **ReLU.** `l = ↓(c - r)`, `h = ↑(c + r)` (directed rounding) bound the
//!    input interval; the output `[max(l, 0), max(h, 0)]` is re-centred at any
//!    `c''` with `r'' = max(↑(max(h,0) - c''), ↑(c'' - max(l,0)))`.
//! 4. **Sum** of values `[cⱼ ± rⱼ]`, `j = 0, 1, ...`, added left to right:
//!    the partial center is `s₀ = c₀`, `sⱼ = fl(sⱼ₋₁ + cⱼ)` in the working
//!    precision, the partial radius `R₀ = r₀` and
//!    `Rⱼ = ↑(↑(Rⱼ₋₁ + rⱼ) + ↑(↑(u/(1-u) |sⱼ|) + λ))`. By induction the
//!    exact partial sum `Zⱼ = Zⱼ₋₁ + zⱼ` of points of the intervals satisfies
//!    `|Zⱼ - sⱼ| ≤ |Zⱼ₋₁ - sⱼ₋₁| + |zⱼ - cⱼ| + |sⱼ₋₁ + cⱼ - sⱼ|`
//!    `≤ Rⱼ₋₁ + rⱼ + u/(1-u) |sⱼ| + λ ≤ Rⱼ`: each rounded addition of centers
//!    is charged `u/(1-u)` of its result plus `λ` for underflow, as the bias
//!    addition `c' = fl(C + b)` of (2), and the radii are added upward.
//! 5. **Concat** and **Load** move centers and radii without arithmetic:
//!    exact.
//! 6. **Input and output.** Input boxes `[l, h]` (`f64`) are converted to a
//!    center in the working precision and a radius
//!    `r = ↑max(↑(h - c), ↑(c - l))`; outputs are returned as
//!    `[↓(c - r), ↑(c + r)]` in `f64`.
//! 7. **Non-finite values.** Any NaN or infinity met in a box's computation
//!    (overflow, an infinite input bound) marks the box, and every output
//!    interval of a marked box is `[-∞, +∞]`, which claims nothing.
//!
//! Directed rounding is `next_up`/`next_down` after a round-to-nearest
//! operation on the CPU (which can only move the result further outward),
//! and the `__fadd_ru`-style intrinsics on the GPU (compiled without
//! flush-to-zero). The GPU products must be true IEEE binary32 operations:
//! the CUDA backend sets cuBLAS's pedantic math mode (no TF32, no
//! reduced-precision reductions) and refuses to run when
//! `NVIDIA_TF32_OVERRIDE` asks for anything but `0`.
//!
//! ```
//! use axiom_backends::ibp::{ibp_cpu, IbpLayer, IbpNetwork};
//! use ndarray::{arr1, arr2};
//!
//! // y = relu(x0 - x1) on the box [0, 1] x [0, 1].
//! let net = IbpNetwork::new(2, vec![
//!     IbpLayer::Affine { weight: arr2(&[[1.0, -1.0]]), bias: arr1(&[0.0]) },
//!     IbpLayer::Relu,
//! ])?;
//! let b = ibp_cpu(&net, arr2(&[[0.0, 0.0]]).view(), arr2(&[[1.0, 1.0]]).view())?;
//! assert!(b.lower[[0, 0]] <= 0.0 && b.upper[[0, 0]] >= 1.0);
//! assert!(b.upper[[0, 0]] < 1.0 + 1e-12);
//! # Ok::<(), axiom_backends::BackendError>(())
//! ```

use axiom_core::{Graph, Op};
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};

use crate::BackendError;

/// The longest dot product (layer input width) an [`IbpNetwork`] may hold;
/// keeps `γ ≤ 1/4` in `f32` (see the module documentation).
pub const MAX_IBP_WIDTH: usize = 1 << 20;

/// The most entries of the dense 0/1 layer a `Transpose` or `Pad` is lowered
/// to (2^26: 256 MiB as `f32`); [`IbpNetwork::from_graph`] refuses larger.
const MAX_GATHER_ENTRIES: usize = 1 << 26;

/// One layer of an [`IbpNetwork`]. Layer `i` produces value `i + 1`; value
/// 0 is the network input. `Affine` and `Relu` read the previous value (value
/// `i`); `Load`, `Sum` and `Concat` read earlier values by number.
#[derive(Debug, Clone, PartialEq)]
pub enum IbpLayer {
    /// `y = W x + b`; `weight` is `[out, in]`, `bias` is `[out]`.
    Affine {
        /// `[out, in]`.
        weight: Array2<f32>,
        /// `[out]`.
        bias: Array1<f32>,
    },
    /// `y = max(x, 0)` elementwise.
    Relu,
    /// `y = ` value `value` again, so that the next layer reads it (a branch
    /// that starts at an earlier value).
    Load {
        /// An earlier value (at most the layer's index).
        value: usize,
    },
    /// `y = v₀ + v₁ + ...` elementwise, of one or more earlier values of the
    /// same width (a residual connection), added in that order.
    Sum {
        /// Earlier values (each at most the layer's index).
        values: Vec<usize>,
    },
    /// The concatenation of one or more earlier values in `outer` blocks:
    /// each value is `outer` consecutive blocks of `width / outer` elements,
    /// and block `o` of the output is block `o` of every value in turn (the
    /// row-major concatenation along an axis whose leading axes hold `outer`
    /// elements; `outer = 1` appends the values).
    Concat {
        /// Earlier values (each at most the layer's index).
        values: Vec<usize>,
        /// Blocks per value (at least 1; divides every value's width).
        outer: usize,
    },
}

/// A validated list of [`IbpLayer`]s: widths agree, weights are finite,
/// every layer reads only earlier values, every width is positive and at
/// most [`MAX_IBP_WIDTH`].
#[derive(Debug, Clone, PartialEq)]
pub struct IbpNetwork {
    input_len: usize,
    output_len: usize,
    layers: Vec<IbpLayer>,
}

impl IbpNetwork {
    /// Checks the layers: each affine layer's input width is the previous
    /// value's width, weights and biases are finite; `Load`, `Sum` and
    /// `Concat` read earlier values, a `Sum` values of one width, a `Concat`
    /// values whose widths `outer` divides; every width is positive and at
    /// most [`MAX_IBP_WIDTH`].
    pub fn new(input_len: usize, layers: Vec<IbpLayer>) -> Result<Self, BackendError> {
        if input_len == 0 || input_len > MAX_IBP_WIDTH {
            return Err(BackendError::Other(format!(
                "IBP network input width {input_len} is not in 1..={MAX_IBP_WIDTH}"
            )));
        }
        // The width of every value so far.
        let mut widths = vec![input_len];
        for (i, layer) in layers.iter().enumerate() {
            let err = |why: String| BackendError::Other(format!("IBP layer {i}: {why}"));
            let width = widths[i];
            let earlier = |values: &[usize]| -> Result<Vec<usize>, BackendError> {
                if values.is_empty() {
                    return Err(err("reads no value".into()));
                }
                values
                    .iter()
                    .map(|&v| {
                        widths.get(v).copied().ok_or_else(|| {
                            err(format!("reads value {v}, which is not computed before it"))
                        })
                    })
                    .collect()
            };
            let out = match layer {
                IbpLayer::Affine { weight, bias } => {
                    let (out, inp) = weight.dim();
                    if inp != width || bias.len() != out {
                        return Err(err(format!(
                            "weight is [{out}, {inp}] and bias has {} values, \
                             but the layer reads {width} values",
                            bias.len()
                        )));
                    }
                    if !weight.iter().chain(bias).all(|v| v.is_finite()) {
                        return Err(err("weights must be finite".into()));
                    }
                    out
                }
                IbpLayer::Relu => width,
                IbpLayer::Load { value } => earlier(std::slice::from_ref(value))?[0],
                IbpLayer::Sum { values } => {
                    let ws = earlier(values)?;
                    if ws.iter().any(|&w| w != ws[0]) {
                        return Err(err(format!("sums values of widths {ws:?}")));
                    }
                    ws[0]
                }
                IbpLayer::Concat { values, outer } => {
                    let ws = earlier(values)?;
                    if *outer == 0 || ws.iter().any(|&w| w % outer != 0) {
                        return Err(err(format!(
                            "concatenates values of widths {ws:?} in {outer} blocks"
                        )));
                    }
                    ws.iter().sum()
                }
            };
            if out == 0 || out > MAX_IBP_WIDTH {
                return Err(err(format!(
                    "output width {out} is not in 1..={MAX_IBP_WIDTH}"
                )));
            }
            widths.push(out);
        }
        Ok(IbpNetwork {
            input_len,
            output_len: widths[layers.len()],
            layers,
        })
    }

    /// Per value (0 the input, `i + 1` layer `i`'s output): the last layer
    /// that reads it by number (`Load`, `Sum`, `Concat`), if any — the values
    /// to keep after the next layer has run.
    pub(crate) fn last_named_reads(&self) -> Vec<Option<usize>> {
        let mut last = vec![None; self.layers.len() + 1];
        for (i, layer) in self.layers.iter().enumerate() {
            let values: &[usize] = match layer {
                IbpLayer::Load { value } => std::slice::from_ref(value),
                IbpLayer::Sum { values } | IbpLayer::Concat { values, .. } => values,
                IbpLayer::Affine { .. } | IbpLayer::Relu => &[],
            };
            for &v in values {
                last[v] = Some(i);
            }
        }
        last
    }

    /// The width of every value (0 the input, `i + 1` layer `i`'s output).
    #[cfg(feature = "cuda")]
    pub(crate) fn widths(&self) -> Vec<usize> {
        let mut widths = vec![self.input_len];
        for layer in &self.layers {
            let w = match layer {
                IbpLayer::Affine { weight, .. } => weight.nrows(),
                IbpLayer::Relu => widths[widths.len() - 1],
                IbpLayer::Load { value } => widths[*value],
                IbpLayer::Sum { values } => widths[values[0]],
                IbpLayer::Concat { values, .. } => values.iter().map(|&v| widths[v]).sum(),
            };
            widths.push(w);
        }
        widths
    }

    /// The network a graph of `Gemm`, `Relu`, `Add`/`Sub`/`Mul` of
    /// constants, `Sum`, `Concat`, `Transpose`, `Pad`, `Flatten`, `Reshape`
    /// and `Identity` computes, exactly: `Add`/`Sub` become affine layers
    /// with the identity weight (the bias `±c` is exact), `Mul` one with the
    /// diagonal weight `c` (exact), `Transpose` and `Pad` one whose weight
    /// rows are 0 but for a 1 at the element copied and whose bias is 0 or,
    /// where `Pad` pads, its (finite, float32) constant — the exact map,
    /// bounded by the affine-layer proof; one that moves nothing disappears,
    /// as reshapes do (larger than 2^26 weight entries is refused); a node
    /// that reads a value other than
    /// the previous layer's output is preceded by a `Load`. Anything else (or
    /// a `Gemm` applied to more than one row of the sample) is refused with
    /// the op named.
    pub fn from_graph(graph: &Graph) -> Result<Self, BackendError> {
        graph.validate()?;
        let shapes = graph.infer_shapes()?;
        let live = graph.live_nodes();
        let mut layers = Vec::new();
        // The network value of every graph value computed so far.
        let mut value_of: Vec<Option<usize>> = vec![None; graph.nodes.len() + 1];
        value_of[0] = Some(0);
        for (i, node) in graph.nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let refuse = |why: &str| {
                BackendError::Other(format!(
                    "IBP: node '{}' ({}) {why}",
                    node.name,
                    node.op.kind()
                ))
            };
            let ins: Vec<usize> = node
                .inputs
                .iter()
                .map(|&v| value_of.get(v).copied().flatten())
                .collect::<Option<_>>()
                .ok_or_else(|| refuse("reads a value that is not computed before it"))?;
            let Some(&first) = ins.first() else {
                return Err(refuse("reads no value"));
            };
            let in_shape = &shapes[node.inputs[0]];
            let in_len: usize = in_shape.iter().product();
            let out_len: usize = shapes[i + 1].iter().product();
            // A layer that reads the previous value: load `first` unless it
            // is the value the layers so far end with.
            let chain = |layers: &mut Vec<IbpLayer>, layer: IbpLayer| {
                if first != layers.len() {
                    layers.push(IbpLayer::Load { value: first });
                }
                layers.push(layer);
            };
            match &node.op {
                Op::Gemm { weight, bias } => {
                    if weight.ncols() != in_len {
                        return Err(refuse("applies to more than one row of the sample"));
                    }
                    let bias = bias
                        .clone()
                        .unwrap_or_else(|| Array1::zeros(weight.nrows()));
                    chain(
                        &mut layers,
                        IbpLayer::Affine {
                            weight: weight.clone(),
                            bias,
                        },
                    );
                }
                Op::Add { c } | Op::Sub { c } => {
                    if out_len != in_len {
                        return Err(refuse("broadcasts the sample to a larger shape"));
                    }
                    let full = c
                        .broadcast(ndarray::IxDyn(&shapes[i + 1]))
                        .ok_or_else(|| refuse("has a constant that does not broadcast"))?;
                    let sign = if matches!(node.op, Op::Sub { .. }) {
                        -1.0
                    } else {
                        1.0
                    };
                    let bias: Array1<f32> = full.iter().map(|&v| sign * v).collect();
                    chain(
                        &mut layers,
                        IbpLayer::Affine {
                            weight: Array2::eye(in_len),
                            bias,
                        },
                    );
                }
                Op::Mul { c } => {
                    if out_len != in_len {
                        return Err(refuse("broadcasts the sample to a larger shape"));
                    }
                    let full = c
                        .broadcast(ndarray::IxDyn(&shapes[i + 1]))
                        .ok_or_else(|| refuse("has a constant that does not broadcast"))?;
                    let diag: Array1<f32> = full.iter().copied().collect();
                    chain(
                        &mut layers,
                        IbpLayer::Affine {
                            weight: Array2::from_diag(&diag),
                            bias: Array1::zeros(in_len),
                        },
                    );
                }
                Op::Relu => chain(&mut layers, IbpLayer::Relu),
                Op::Sum => layers.push(IbpLayer::Sum { values: ins }),
                Op::Concat { axis } => {
                    if ins.len() == 1 {
                        // The concatenation of one value is that value.
                        value_of[i + 1] = Some(first);
                        continue;
                    }
                    let outer = shapes[i + 1][..*axis].iter().product::<usize>();
                    layers.push(IbpLayer::Concat { values: ins, outer });
                }
                Op::Flatten { .. } | Op::Reshape { .. } | Op::Identity => {
                    // Row-major order is unchanged: the same value.
                    value_of[i + 1] = Some(first);
                    continue;
                }
                Op::Transpose { .. } | Op::Pad { .. } => {
                    let sources = crate::layout::gather_sources(&node.op, in_shape)
                        .map_err(|e| refuse(&e))?;
                    if crate::layout::is_identity(&sources, in_len) {
                        // Only axes of length 1 move, or nothing is padded.
                        value_of[i + 1] = Some(first);
                        continue;
                    }
                    if sources.len() != out_len
                        || out_len
                            .checked_mul(in_len)
                            .is_none_or(|n| n > MAX_GATHER_ENTRIES)
                    {
                        return Err(refuse(&format!(
                            "is too large to bound as a dense {out_len} x {in_len} layer"
                        )));
                    }
                    let pad = match &node.op {
                        Op::Pad { value, .. } => *value,
                        _ => 0.0,
                    };
                    // Row j copies input element sources[j] (weight 1) or is
                    // the constant `pad` (the bias): exact.
                    let mut weight = Array2::zeros((out_len, in_len));
                    let mut bias = Array1::zeros(out_len);
                    for (j, src) in sources.iter().enumerate() {
                        match *src {
                            Some(k) => weight[[j, k]] = 1.0,
                            None => bias[j] = pad,
                        }
                    }
                    chain(&mut layers, IbpLayer::Affine { weight, bias });
                }
                _ => return Err(refuse("is not supported by interval propagation")),
            }
            value_of[i + 1] = Some(layers.len());
        }
        let out = value_of
            .get(graph.output)
            .copied()
            .flatten()
            .ok_or_else(|| BackendError::Other("IBP: the graph output is not computed".into()))?;
        if out != layers.len() {
            layers.push(IbpLayer::Load { value: out });
        }
        IbpNetwork::new(graph.input_len(), layers)
    }

    /// Scalars per input box row.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Scalars per output row.
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[IbpLayer] {
        &self.layers
    }
}

/// Lower and upper bounds for a batch of boxes: `[batch, width]` each.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalBatch {
    /// Lower bounds, one row per box.
    pub lower: Array2<f64>,
    /// Upper bounds, one row per box.
    pub upper: Array2<f64>,
}

/// The constants of the affine-layer radius formula for one input width
/// `n` and one float type, each rounded up (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AffineMargins {
    /// `≥ γ = n u / (1 - n u)`.
    pub gamma: f64,
    /// `≥ 1 / (1 - γ)`.
    pub inv_one_minus_gamma: f64,
    /// `≥ u / (1 - u)`.
    pub rel: f64,
    /// `8λ`.
    pub tiny: f64,
    /// `3n + 1`.
    pub count: f64,
}

impl AffineMargins {
    /// For dot products of length `n` in a type with unit roundoff `unit` and
    /// smallest positive normal `lambda`. `n ≤ MAX_IBP_WIDTH`.
    pub(crate) fn new(n: usize, unit: f64, lambda: f64) -> Self {
        // n u is exact (n < 2^53, u a power of two); 1 - n u is exact for the
        // units used (a multiple of u in [1/2, 1)).
        let nu = n as f64 * unit;
        let gamma = (nu / (1.0 - nu)).next_up();
        let inv_one_minus_gamma = (1.0 / (1.0 - gamma).next_down()).next_up();
        let rel = (unit / (1.0 - unit)).next_up();
        AffineMargins {
            gamma,
            inv_one_minus_gamma,
            rel,
            tiny: 8.0 * lambda,
            count: (3 * n + 1) as f64,
        }
    }

    /// `λ`, the underflow charge of one rounded addition (`tiny / 8`).
    pub(crate) fn lambda(&self) -> f64 {
        self.tiny / 8.0
    }

    /// For `f64` products.
    pub(crate) fn f64(n: usize) -> Self {
        AffineMargins::new(n, f64::EPSILON / 2.0, f64::MIN_POSITIVE)
    }

    /// For `f32` products (the constants are still `f64`; round them up to
    /// `f32` with [`f32_up`] before use in `f32`).
    #[cfg(any(feature = "cuda", test))]
    pub(crate) fn f32(n: usize) -> Self {
        AffineMargins::new(
            n,
            f64::from(f32::EPSILON) / 2.0,
            f64::from(f32::MIN_POSITIVE),
        )
    }
}

/// The smallest `f32` at or above `x` (`+inf` above the `f32` range, NaN
/// stays NaN).
#[cfg(any(feature = "cuda", test))]
pub(crate) fn f32_up(x: f64) -> f32 {
    let y = x as f32;
    if f64::from(y) < x {
        y.next_up()
    } else {
        y
    }
}

/// `Σ |row|` per row of `w`, rounded up: `≥` the exact sums.
pub(crate) fn abs_row_sums(w: &Array2<f32>) -> Vec<f64> {
    w.outer_iter()
        .map(|row| {
            row.iter()
                .fold(0.0f64, |s, &v| (s + f64::from(v.abs())).next_up())
        })
        .collect()
}

/// Checks the boxes against the network: widths, no NaN, `lower ≤ upper`.
pub(crate) fn check_boxes(
    input_len: usize,
    lower: &ArrayView2<'_, f64>,
    upper: &ArrayView2<'_, f64>,
) -> Result<(), BackendError> {
    if lower.dim() != upper.dim() {
        return Err(BackendError::Other(format!(
            "IBP: lower bounds are {:?} but upper bounds are {:?}",
            lower.dim(),
            upper.dim()
        )));
    }
    if lower.ncols() != input_len {
        return Err(BackendError::InputLength {
            expected: input_len,
            got: lower.ncols(),
            shape: vec![input_len],
        });
    }
    for (i, (l, u)) in lower.outer_iter().zip(upper.outer_iter()).enumerate() {
        if l.iter()
            .zip(&u)
            .any(|(l, u)| l.is_nan() || u.is_nan() || l > u)
        {
            return Err(BackendError::Other(format!(
                "IBP: box {i} has a NaN bound or a lower bound above its upper bound"
            )));
        }
    }
    Ok(())
}

/// `[↓(c - r), ↑(c + r)]` per entry; rows marked in `bad` (or with a
/// non-finite result) become `[-∞, +∞]`.
pub(crate) fn finish_bounds(c: &Array2<f64>, r: &Array2<f64>, bad: &[bool]) -> IntervalBatch {
    let mut lower = Array2::zeros(c.raw_dim());
    let mut upper = Array2::zeros(c.raw_dim());
    Zip::from(&mut lower)
        .and(&mut upper)
        .and(c)
        .and(r)
        .for_each(|l, u, &c, &r| {
            *l = (c - r).next_down();
            *u = (c + r).next_up();
        });
    for (i, (mut l, mut u)) in lower
        .outer_iter_mut()
        .zip(upper.outer_iter_mut())
        .enumerate()
    {
        let unbounded =
            bad.get(i).copied().unwrap_or(true) || l.iter().chain(u.iter()).any(|v| v.is_nan());
        if unbounded {
            l.fill(f64::NEG_INFINITY);
            u.fill(f64::INFINITY);
        }
    }
    IntervalBatch { lower, upper }
}

/// Propagates every box (a row of `lower`/`upper`) through `net` in `f64`
/// with the margins of the module documentation. Sound for the exact
/// network; the reference for the GPU's `f32` version.
///
/// Rows of the wrong width give [`BackendError::InputLength`]; a NaN bound
/// or `lower > upper` gives [`BackendError::Other`]. Infinite input bounds
/// give `[-∞, +∞]` outputs for that box.
pub fn ibp_cpu(
    net: &IbpNetwork,
    lower: ArrayView2<'_, f64>,
    upper: ArrayView2<'_, f64>,
) -> Result<IntervalBatch, BackendError> {
    check_boxes(net.input_len, &lower, &upper)?;
    let batch = lower.nrows();
    let mut bad: Vec<bool> = lower
        .outer_iter()
        .zip(upper.outer_iter())
        .map(|(l, u)| !l.iter().chain(u.iter()).all(|v| v.is_finite()))
        .collect();
    let mut c = Array2::<f64>::zeros((batch, net.input_len));
    let mut r = Array2::<f64>::zeros((batch, net.input_len));
    Zip::from(&mut c)
        .and(&mut r)
        .and(&lower)
        .and(&upper)
        .for_each(|c, r, &l, &h| {
            let m = 0.5 * l + 0.5 * h;
            *c = m;
            *r = (h - m).next_up().max((m - l).next_up());
        });
    // Values that a later layer reads by number, kept until their last reader.
    let last_reads = net.last_named_reads();
    let mut kept: Vec<Kept> = vec![None; last_reads.len()];
    if last_reads[0].is_some() {
        kept[0] = Some((c.clone(), r.clone()));
    }
    for (li, layer) in net.layers.iter().enumerate() {
        match layer {
            IbpLayer::Load { value } => (c, r) = kept_value(&kept, *value)?.clone(),
            IbpLayer::Sum { values } => {
                let k = AffineMargins::f64(1);
                let lambda = k.lambda();
                let (first, rest) = values
                    .split_first()
                    .ok_or_else(|| BackendError::Other("IBP: a Sum of no value".into()))?;
                (c, r) = kept_value(&kept, *first)?.clone();
                for &v in rest {
                    let (cv, rv) = kept_value(&kept, v)?;
                    // s = fl(s + c_v); R = ↑(↑(R + r_v) + ↑(↑(u/(1-u)|s|) + λ)).
                    Zip::from(&mut c)
                        .and(&mut r)
                        .and(cv)
                        .and(rv)
                        .for_each(|c, r, &cv, &rv| {
                            let s = *c + cv;
                            let round = ((k.rel * s.abs()).next_up() + lambda).next_up();
                            *r = ((*r + rv).next_up() + round).next_up();
                            *c = s;
                        });
                }
            }
            IbpLayer::Concat { values, outer } => {
                let parts: Vec<&(Array2<f64>, Array2<f64>)> = values
                    .iter()
                    .map(|&v| kept_value(&kept, v))
                    .collect::<Result<_, _>>()?;
                let cs: Vec<&Array2<f64>> = parts.iter().map(|p| &p.0).collect();
                let rs: Vec<&Array2<f64>> = parts.iter().map(|p| &p.1).collect();
                c = concat_blocks(&cs, *outer, batch);
                r = concat_blocks(&rs, *outer, batch);
            }
            IbpLayer::Affine { weight, bias } => {
                let n = weight.ncols();
                let k = AffineMargins::f64(n);
                let w = weight.mapv(f64::from);
                let wabs = w.mapv(f64::abs);
                let b = bias.mapv(f64::from);
                let w1 = abs_row_sums(weight);
                // q ≥ r + γ|c|, and per box s ≥ Σ (|c| + q).
                let mut q = r.clone();
                Zip::from(&mut q)
                    .and(&c)
                    .for_each(|q, &c| *q = (*q + (k.gamma * c.abs()).next_up()).next_up());
                let s: Vec<f64> = c
                    .outer_iter()
                    .zip(q.outer_iter())
                    .map(|(c, q)| {
                        c.iter().zip(&q).fold(0.0f64, |s, (&c, &q)| {
                            (s + (c.abs() + q).next_up()).next_up()
                        })
                    })
                    .collect();
                let mut cn = c.dot(&w.t());
                let sn = q.dot(&wabs.t());
                cn += &b.view().insert_axis(Axis(0));
                let mut rn = sn;
                for (bi, (crow, mut rrow)) in cn.outer_iter().zip(rn.outer_iter_mut()).enumerate() {
                    for (i, (&cc, rr)) in crow.iter().zip(rrow.iter_mut()).enumerate() {
                        let tiny =
                            (k.tiny * ((w1[i] + s[bi]).next_up() + k.count).next_up()).next_up();
                        let spread = (k.inv_one_minus_gamma * *rr).next_up();
                        let round = (k.rel * cc.abs()).next_up();
                        *rr = ((spread + round).next_up() + tiny).next_up();
                    }
                }
                c = cn;
                r = rn;
            }
            IbpLayer::Relu => {
                Zip::from(&mut c).and(&mut r).for_each(|c, r| {
                    let l = (*c - *r).next_down().max(0.0);
                    let h = (*c + *r).next_up().max(0.0);
                    let m = 0.5 * l + 0.5 * h;
                    let rad = (h - m).next_up().max((m - l).next_up());
                    // A NaN center or radius stays NaN (f64::max would drop it).
                    if c.is_nan() || r.is_nan() {
                        *r = f64::NAN;
                    } else {
                        *c = m;
                        *r = rad;
                    }
                });
            }
        }
        for (i, (crow, rrow)) in c.outer_iter().zip(r.outer_iter()).enumerate() {
            if !crow.iter().chain(rrow.iter()).all(|v| v.is_finite()) {
                bad[i] = true;
            }
        }
        // Free what this layer read last; keep its output if read by number.
        for (v, last) in last_reads.iter().enumerate() {
            if *last == Some(li) {
                kept[v] = None;
            }
        }
        if last_reads[li + 1].is_some() {
            kept[li + 1] = Some((c.clone(), r.clone()));
        }
    }
    Ok(finish_bounds(&c, &r, &bad))
}

/// A value's centers and radii, while a later layer reads it.
type Kept = Option<(Array2<f64>, Array2<f64>)>;

/// Value `v` of `kept`.
fn kept_value(kept: &[Kept], v: usize) -> Result<&(Array2<f64>, Array2<f64>), BackendError> {
    kept.get(v)
        .and_then(Option::as_ref)
        .ok_or_else(|| BackendError::Other(format!("internal error in IBP: value {v} is not kept")))
}

/// The rows of `parts` (each `[batch, width]`) concatenated in `outer`
/// blocks: block `o` of an output row is block `o` of every part in turn.
fn concat_blocks(parts: &[&Array2<f64>], outer: usize, batch: usize) -> Array2<f64> {
    let width: usize = parts.iter().map(|p| p.ncols()).sum();
    let mut out = Array2::zeros((batch, width));
    for (b, mut row) in out.outer_iter_mut().enumerate() {
        let mut k = 0;
        for o in 0..outer {
            for p in parts {
                let block = p.ncols() / outer;
                for t in 0..block {
                    row[k] = p[[b, o * block + t]];
                    k += 1;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    #[test]
    fn margins_are_rounded_up() {
        let k = AffineMargins::f32(50);
        let u = 2f64.powi(-24);
        let exact_gamma = 50.0 * u / (1.0 - 50.0 * u);
        assert!(k.gamma >= exact_gamma && k.gamma < exact_gamma * (1.0 + 1e-12));
        assert!(k.inv_one_minus_gamma >= 1.0 / (1.0 - k.gamma));
        assert!(k.rel >= u / (1.0 - u));
        assert_eq!(k.count, 151.0);
        assert!(f64::from(f32_up(k.gamma)) >= k.gamma);
    }

    #[test]
    fn f32_up_rounds_up() {
        for x in [0.1f64, -0.1, 1.0, 1e-40, -1e-40, 3.0e38, 1e39, 0.0] {
            let y = f32_up(x);
            assert!(f64::from(y) >= x, "{x} -> {y}");
            assert!(
                y == f32::INFINITY || f64::from(y.next_down()) < x,
                "{x} -> {y}"
            );
        }
    }

    #[test]
    fn infinite_or_bad_boxes() {
        let net = IbpNetwork::new(
            1,
            vec![IbpLayer::Affine {
                weight: arr2(&[[2.0]]),
                bias: arr1(&[1.0]),
            }],
        )
        .unwrap();
        let b = ibp_cpu(
            &net,
            arr2(&[[f64::NEG_INFINITY], [0.0]]).view(),
            arr2(&[[0.0], [1.0]]).view(),
        )
        .unwrap();
        assert_eq!(b.lower[[0, 0]], f64::NEG_INFINITY);
        assert_eq!(b.upper[[0, 0]], f64::INFINITY);
        assert!(b.lower[[1, 0]] <= 1.0 && b.lower[[1, 0]] > 1.0 - 1e-12);
        assert!(b.upper[[1, 0]] >= 3.0 && b.upper[[1, 0]] < 3.0 + 1e-12);
        assert!(ibp_cpu(&net, arr2(&[[1.0]]).view(), arr2(&[[0.0]]).view()).is_err());
        assert!(ibp_cpu(&net, arr2(&[[f64::NAN]]).view(), arr2(&[[0.0]]).view()).is_err());
        assert!(matches!(
            ibp_cpu(&net, arr2(&[[0.0, 0.0]]).view(), arr2(&[[0.0, 0.0]]).view()),
            Err(BackendError::InputLength { .. })
        ));
    }

    #[test]
    fn overflow_gives_unbounded_rows() {
        let net = IbpNetwork::new(
            1,
            vec![
                IbpLayer::Affine {
                    weight: arr2(&[[f32::MAX], [1.0]]),
                    bias: arr1(&[0.0, 0.0]),
                },
                IbpLayer::Relu,
            ],
        )
        .unwrap();
        let b = ibp_cpu(&net, arr2(&[[1e300]]).view(), arr2(&[[2e300]]).view()).unwrap();
        assert!(b.lower.iter().all(|v| *v == f64::NEG_INFINITY));
        assert!(b.upper.iter().all(|v| *v == f64::INFINITY));
    }

    #[test]
    fn network_checks() {
        let affine = |o: usize, i: usize| IbpLayer::Affine {
            weight: Array2::zeros((o, i)),
            bias: Array1::zeros(o),
        };
        assert!(IbpNetwork::new(3, vec![affine(2, 3), IbpLayer::Relu, affine(1, 2)]).is_ok());
        assert!(IbpNetwork::new(3, vec![affine(2, 4)]).is_err());
        assert!(IbpNetwork::new(0, vec![]).is_err());
        assert!(IbpNetwork::new(3, vec![affine(0, 3)]).is_err());
        let nan = IbpLayer::Affine {
            weight: arr2(&[[f32::NAN]]),
            bias: arr1(&[0.0]),
        };
        assert!(IbpNetwork::new(1, vec![nan]).is_err());
    }
}
