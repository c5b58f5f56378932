//! The CPU backend: ndarray tensors, matrixmultiply GEMM kernels, rayon across
//! the batch.
//!
//! [`CpuBackend::compile`](crate::Backend::compile) validates the graph, drops
//! the nodes the output does not depend on, converts every constant once to
//! both `f32` and `f64`, and works out when each value is read for the last
//! time. Running a batch then walks the nodes in order on a batch tensor of
//! shape `[B, ...per-sample shape]`, freeing each value after its last reader
//! and updating values in place where the reader is the last one. A value
//! with several readers (a residual connection) is viewed by all but the last,
//! which alone may take it; `Sum` adds its inputs left to right (`(a + b) +
//! c`) in the buffer of the first or second when it may take it, `Concat`
//! copies its inputs into a new buffer along the sample axis (axis `axis + 1`
//! of the batch tensor).
//!
//! Batches of more than [`PARALLEL_THRESHOLD`] samples are cut into chunks that
//! rayon runs in parallel, each writing its own rows of the output; smaller
//! batches run inline on the calling thread. Every sample goes through the
//! same kernels in the same summation order whatever the batch size or the
//! split, so a sample's output does not depend on the batch it ran in (the
//! tests check this bit for bit). Small batches pay for the GEMM kernels'
//! packing of the weights; we keep them anyway rather than switch to
//! matrix-vector products, whose different summation order would break that.
//!
//! ```
//! use axiom_backends::{Backend, CpuBackend};
//! use axiom_core::{GraphBuilder, Op};
//! use ndarray::{arr2, Array2};
//!
//! let mut b = GraphBuilder::new("sig", "x", vec![3]);
//! let y = b.push("s", Op::Sigmoid, b.input());
//! let model = CpuBackend.compile(&b.finish(y)?)?;
//! let out = model.run_f64(Array2::zeros((1000, 3)).view())?;
//! assert!(out.iter().all(|&v| v == 0.5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Debug;

use axiom_core::{Graph, Op, ValueId};
use ndarray::linalg::general_mat_mul;
use ndarray::{
    s, Array, Array1, Array2, Array3, ArrayBase, ArrayD, ArrayView2, Axis, CowArray, Data,
    Dimension, IxDyn, LinalgScalar, Slice, Zip,
};
use rayon::prelude::*;

use crate::{Backend, BackendError, CompiledModel};

/// Batches with more samples than this are split into chunks run in parallel.
pub const PARALLEL_THRESHOLD: usize = 64;

/// The largest chunk a parallel batch is cut into (bounds the memory of the
/// intermediate values of one chunk).
const MAX_CHUNK: usize = 1024;

/// The CPU backend. Runs every [`Op`] in float32 or float64.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn compile(&self, graph: &Graph) -> Result<Box<dyn CompiledModel>, BackendError> {
        Ok(Box::new(CpuModel::new(graph)?))
    }
}

/// The float types the CPU backend computes in.
trait Real: LinalgScalar + num_traits::Float + Send + Sync + Debug {
    fn from_f32(v: f32) -> Self;
    fn from_f64(v: f64) -> Self;
}

impl Real for f32 {
    fn from_f32(v: f32) -> Self {
        v
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Real for f64 {
    fn from_f32(v: f32) -> Self {
        f64::from(v)
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// A graph compiled for the CPU: one plan per float type.
struct CpuModel {
    input_shape: Vec<usize>,
    input_len: usize,
    output_shape: Vec<usize>,
    output_len: usize,
    plan32: Plan<f32>,
    plan64: Plan<f64>,
}

impl CpuModel {
    fn new(graph: &Graph) -> Result<Self, BackendError> {
        graph.validate()?;
        let shapes = graph.infer_shapes()?;
        let output_shape = shapes
            .get(graph.output)
            .cloned()
            .ok_or_else(|| internal("graph output has no shape"))?;
        Ok(CpuModel {
            input_shape: graph.input.shape.clone(),
            input_len: graph.input_len(),
            output_len: output_shape.iter().product(),
            output_shape,
            plan32: Plan::new(graph, &shapes)?,
            plan64: Plan::new(graph, &shapes)?,
        })
    }

    /// Checks the input width, then runs inline or in parallel chunks.
    fn run<T: Real>(
        &self,
        plan: &Plan<T>,
        inputs: ArrayView2<'_, T>,
    ) -> Result<Array2<T>, BackendError> {
        if inputs.ncols() != self.input_len {
            return Err(BackendError::InputLength {
                expected: self.input_len,
                got: inputs.ncols(),
                shape: self.input_shape.clone(),
            });
        }
        let batch = inputs.nrows();
        if batch == 0 {
            return Ok(Array2::zeros((0, self.output_len)));
        }
        if batch <= PARALLEL_THRESHOLD {
            return plan.run(inputs);
        }
        let pieces = 4 * rayon::current_num_threads().max(1);
        let chunk = batch.div_ceil(pieces).clamp(PARALLEL_THRESHOLD, MAX_CHUNK);
        let mut out = Array2::zeros((batch, self.output_len));
        out.axis_chunks_iter_mut(Axis(0), chunk)
            .into_par_iter()
            .zip(inputs.axis_chunks_iter(Axis(0), chunk).into_par_iter())
            .try_for_each(|(mut rows, x)| {
                rows.assign(&plan.run(x)?);
                Ok::<(), BackendError>(())
            })?;
        Ok(out)
    }
}

impl CompiledModel for CpuModel {
    fn input_len(&self) -> usize {
        self.input_len
    }

    fn output_len(&self) -> usize {
        self.output_len
    }

    fn output_shape(&self) -> &[usize] {
        &self.output_shape
    }

    fn run_f32(&self, inputs: ArrayView2<'_, f32>) -> Result<Array2<f32>, BackendError> {
        self.run(&self.plan32, inputs)
    }

    fn run_f64(&self, inputs: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError> {
        self.run(&self.plan64, inputs)
    }
}

/// An internal invariant did not hold (a bug, not bad input).
fn internal(what: impl std::fmt::Display) -> BackendError {
    BackendError::Other(format!("internal error in the CPU backend: {what}"))
}

/// `[batch, ...sample]`.
fn batched(batch: usize, sample: &[usize]) -> Vec<usize> {
    let mut s = Vec::with_capacity(sample.len() + 1);
    s.push(batch);
    s.extend_from_slice(sample);
    s
}

/// `a` converted element by element, in standard (row-major) layout.
fn convert<T: Real, S: Data<Elem = f32>, D: Dimension>(
    a: &ArrayBase<S, D>,
) -> Result<Array<T, D>, BackendError> {
    let data: Vec<T> = a.iter().map(|&v| T::from_f32(v)).collect();
    Array::from_shape_vec(a.raw_dim(), data).map_err(internal)
}

/// `x` in standard layout, copying only when it is not already.
fn standard<T: Real>(x: CowArray<'_, T, IxDyn>) -> CowArray<'_, T, IxDyn> {
    if x.is_standard_layout() {
        x
    } else {
        CowArray::from(x.as_standard_layout().into_owned())
    }
}

/// `x` (any layout) reshaped to `shape`, without copying when it is standard.
fn reshape<'x, T: Real>(
    x: CowArray<'x, T, IxDyn>,
    shape: &[usize],
) -> Result<CowArray<'x, T, IxDyn>, BackendError> {
    standard(x)
        .into_shape_with_order(IxDyn(shape))
        .map_err(internal)
}

/// `f` applied to every element, in place when `x` is owned.
fn map_unary<'x, T: Real>(
    x: CowArray<'x, T, IxDyn>,
    f: impl Fn(T) -> T + Sync,
) -> CowArray<'x, T, IxDyn> {
    if x.is_view() {
        CowArray::from(x.mapv(f))
    } else {
        let mut a = x.into_owned();
        a.mapv_inplace(f);
        CowArray::from(a)
    }
}

/// Numerically stable logistic function.
fn sigmoid<T: Real>(v: T) -> T {
    if v >= T::zero() {
        T::one() / (T::one() + (-v).exp())
    } else {
        let e = v.exp();
        e / (T::one() + e)
    }
}

/// A graph compiled for one float type.
struct Plan<T> {
    /// Per-sample input shape.
    input_shape: Vec<usize>,
    /// Number of values (graph input + one per node).
    num_values: usize,
    /// The value the graph outputs.
    output: ValueId,
    /// Scalars per output sample.
    output_len: usize,
    /// The live nodes, in order.
    steps: Vec<Step<T>>,
}

/// One live node.
struct Step<T> {
    /// The values the node reads, in order (one for every op but `Sum` and
    /// `Concat`).
    inputs: Vec<Read>,
    output: ValueId,
    /// Values this step reads for the last time without taking them (a value
    /// the node lists more than once): dropped after the step.
    release: Vec<ValueId>,
    /// Per-sample shapes of the first input and of the output.
    in_shape: Vec<usize>,
    out_shape: Vec<usize>,
    kernel: Kernel<T>,
}

/// One value a step reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Read {
    value: ValueId,
    /// This step is the value's last reader, the value is not the graph
    /// output and the node lists it once: the step takes the value, freeing
    /// or reusing its memory. (A value with several readers is taken only by
    /// the last; the earlier ones read a view.)
    take: bool,
}

#[derive(Debug, Clone, Copy)]
enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// An op with its constants converted to `T` and its geometry worked out.
enum Kernel<T> {
    /// `weight` is `[out, in]`.
    Gemm {
        weight: Array2<T>,
        bias: Option<Array1<T>>,
    },
    /// `c` is the constant reshaped to `[1, ...]` of the output's rank + 1;
    /// `x_shape` is the sample shape padded with leading 1s to the output rank.
    Binary {
        op: BinaryOp,
        c: ArrayD<T>,
        x_shape: Vec<usize>,
    },
    Relu,
    Sigmoid,
    Tanh,
    Identity,
    /// Flatten and Reshape: to the step's output shape.
    Reshape,
    Conv2d(Box<Conv<T>>),
    /// `y = (x - mean) * factor + bias` per channel, `factor = scale / sqrt(var + eps)`.
    BatchNorm {
        factor: Array1<T>,
        mean: Array1<T>,
        bias: Array1<T>,
    },
    MaxPool(Pool),
    AveragePool {
        pool: Pool,
        count_include_pad: bool,
    },
    Softmax {
        axis: usize,
    },
    /// A permutation of the sample's axes.
    Transpose {
        perm: Vec<usize>,
    },
    /// Constant padding, `pads` before then after each sample axis.
    Pad {
        pads: Vec<usize>,
        value: T,
    },
    /// `a + b + ...` of two or more values, added left to right.
    Sum,
    /// Concatenation of two or more values along `axis` of the sample.
    Concat {
        axis: usize,
    },
}

/// A convolution's weights and geometry.
struct Conv<T> {
    /// `[M, C/group * kH * kW]`.
    weight: Array2<T>,
    bias: Option<Array1<T>>,
    /// Input `[N, C, H, W]`.
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    m: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    strides: [usize; 2],
    pads: [usize; 4],
    dilations: [usize; 2],
    group: usize,
}

/// A pooling window's geometry on an `[N, C, H, W]` sample.
#[derive(Debug, Clone, Copy)]
struct Pool {
    planes: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 4],
}

impl Pool {
    fn new(
        input: &[usize],
        output: &[usize],
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 4],
    ) -> Result<Self, BackendError> {
        match (input, output) {
            ([n, c, h, w], [_, _, oh, ow]) => Ok(Pool {
                planes: n * c,
                h: *h,
                w: *w,
                oh: *oh,
                ow: *ow,
                kernel,
                strides,
                pads,
            }),
            _ => Err(internal("pool on a sample that is not [N, C, H, W]")),
        }
    }

    /// The in-bounds input rows `[start, end)` of output row `o` along an axis
    /// of length `len` (empty when the window lies in the padding).
    fn window(o: usize, stride: usize, kernel: usize, pad: usize, len: usize) -> (usize, usize) {
        let start = o * stride;
        let end = start + kernel;
        // Clamped to `len`: a window may lie wholly in the end padding when the
        // padding is at least the kernel (the IR allows it).
        let lo = (start.max(pad) - pad).min(len);
        let hi = end.min(pad + len).saturating_sub(pad);
        (lo, hi.max(lo))
    }

    /// Runs the pool over a standard-layout batch of `batch` samples; `reduce`
    /// gets the in-bounds window of one plane and returns the output value.
    fn run<T: Real>(
        &self,
        xs: &[T],
        batch: usize,
        reduce: impl Fn(&[T], (usize, usize), (usize, usize)) -> T,
    ) -> Array3<T> {
        let planes = batch * self.planes;
        let mut out = Array3::zeros((planes, self.oh, self.ow));
        let plane_len = self.h * self.w;
        for (p, mut o) in out.outer_iter_mut().enumerate() {
            let plane = &xs[p * plane_len..(p + 1) * plane_len];
            for oy in 0..self.oh {
                let rows = Pool::window(oy, self.strides[0], self.kernel[0], self.pads[0], self.h);
                for ox in 0..self.ow {
                    let cols =
                        Pool::window(ox, self.strides[1], self.kernel[1], self.pads[1], self.w);
                    o[[oy, ox]] = reduce(plane, rows, cols);
                }
            }
        }
        out
    }
}

impl<T: Real> Plan<T> {
    /// Compiles the live nodes of a validated graph; `shapes` are its inferred
    /// per-sample shapes.
    fn new(graph: &Graph, shapes: &[Vec<usize>]) -> Result<Self, BackendError> {
        let live = graph.live_nodes();
        let num_values = graph.nodes.len() + 1;
        // The index of the last live node that reads each value.
        let mut last_reader: Vec<Option<usize>> = vec![None; num_values];
        for (i, node) in graph.nodes.iter().enumerate() {
            if live[i] {
                for &src in &node.inputs {
                    if let Some(slot) = last_reader.get_mut(src) {
                        *slot = Some(i);
                    }
                }
            }
        }
        let mut steps = Vec::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            // Validation established that every node reads as many earlier
            // values as its op takes.
            let (min, max) = node.op.arity();
            if node.inputs.len() < min
                || node.inputs.len() > max
                || node.inputs.iter().any(|&src| src > i)
            {
                return Err(internal(format!(
                    "node '{}' does not read {} earlier value(s)",
                    node.name, min
                )));
            }
            let mut inputs = Vec::with_capacity(node.inputs.len());
            let mut release = Vec::new();
            for &value in &node.inputs {
                let last = last_reader[value] == Some(i) && value != graph.output;
                let once = node.inputs.iter().filter(|&&v| v == value).count() == 1;
                if last && !once && !release.contains(&value) {
                    release.push(value);
                }
                inputs.push(Read {
                    value,
                    take: last && once,
                });
            }
            let in_shape = shapes[node.inputs[0]].clone();
            let out_shape = shapes[i + 1].clone();
            let kernel = Kernel::new(&node.op, &in_shape, &out_shape)?;
            steps.push(Step {
                inputs,
                output: i + 1,
                release,
                in_shape,
                out_shape,
                kernel,
            });
        }
        Ok(Plan {
            input_shape: graph.input.shape.clone(),
            num_values,
            output: graph.output,
            output_len: shapes[graph.output].iter().product(),
            steps,
        })
    }

    /// Runs one batch (of at least one sample) inline.
    fn run(&self, inputs: ArrayView2<'_, T>) -> Result<Array2<T>, BackendError> {
        let batch = inputs.nrows();
        let in_shape = batched(batch, &self.input_shape);
        let x = if inputs.is_standard_layout() {
            CowArray::from(
                inputs
                    .into_shape_with_order(IxDyn(&in_shape))
                    .map_err(internal)?,
            )
        } else {
            CowArray::from(
                inputs
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&in_shape))
                    .map_err(internal)?,
            )
        };
        let mut values: Vec<Option<CowArray<'_, T, IxDyn>>> =
            (0..self.num_values).map(|_| None).collect();
        values[0] = Some(x);
        let missing = |v: ValueId| internal(format!("value {v} is not computed"));
        for step in &self.steps {
            let y = if let [input] = step.inputs.as_slice() {
                if input.take {
                    let x = values[input.value]
                        .take()
                        .ok_or_else(|| missing(input.value))?;
                    step.exec(x, batch)?
                } else {
                    let x = values[input.value]
                        .as_ref()
                        .ok_or_else(|| missing(input.value))?;
                    CowArray::from(step.exec(CowArray::from(x.view()), batch)?.into_owned())
                }
            } else {
                // Take the values this step reads last, then view the others.
                let mut taken = Vec::with_capacity(step.inputs.len());
                for input in &step.inputs {
                    taken.push(if input.take {
                        Some(
                            values[input.value]
                                .take()
                                .ok_or_else(|| missing(input.value))?,
                        )
                    } else {
                        None
                    });
                }
                let mut parts = Vec::with_capacity(step.inputs.len());
                for (input, taken) in step.inputs.iter().zip(taken) {
                    parts.push(match taken {
                        Some(x) => x,
                        None => CowArray::from(
                            values[input.value]
                                .as_ref()
                                .ok_or_else(|| missing(input.value))?
                                .view(),
                        ),
                    });
                }
                CowArray::from(step.exec_many(parts, batch)?)
            };
            for &v in &step.release {
                values[v] = None;
            }
            values[step.output] = Some(y);
        }
        let y = values[self.output]
            .take()
            .ok_or_else(|| internal("the output is not computed"))?;
        let y = standard(y).into_owned();
        y.into_shape_with_order((batch, self.output_len))
            .map_err(internal)
    }
}

impl<T: Real> Kernel<T> {
    fn new(op: &Op, in_shape: &[usize], out_shape: &[usize]) -> Result<Self, BackendError> {
        let binary = |op: BinaryOp, c: &ArrayD<f32>| -> Result<Self, BackendError> {
            let rank = out_shape.len();
            let mut x_shape = vec![1; rank.saturating_sub(in_shape.len())];
            x_shape.extend_from_slice(in_shape);
            let mut c_shape = vec![1; 1 + rank.saturating_sub(c.ndim())];
            c_shape.extend_from_slice(c.shape());
            let c = convert::<T, _, _>(c)?
                .into_shape_with_order(IxDyn(&c_shape))
                .map_err(internal)?;
            Ok(Kernel::Binary { op, c, x_shape })
        };
        Ok(match op {
            Op::Gemm { weight, bias } => Kernel::Gemm {
                weight: convert(weight)?,
                bias: bias.as_ref().map(convert).transpose()?,
            },
            Op::Add { c } => binary(BinaryOp::Add, c)?,
            Op::Sub { c } => binary(BinaryOp::Sub, c)?,
            Op::Mul { c } => binary(BinaryOp::Mul, c)?,
            Op::Div { c } => binary(BinaryOp::Div, c)?,
            Op::Relu => Kernel::Relu,
            Op::Sigmoid => Kernel::Sigmoid,
            Op::Tanh => Kernel::Tanh,
            Op::Identity => Kernel::Identity,
            Op::Flatten { .. } | Op::Reshape { .. } => Kernel::Reshape,
            Op::Conv2d {
                weight,
                bias,
                strides,
                pads,
                dilations,
                group,
            } => {
                let ([n, c, h, w], [_, m, oh, ow]) = (in_shape, out_shape) else {
                    return Err(internal("Conv2d on a sample that is not [N, C, H, W]"));
                };
                let (_, cg, kh, kw) = weight.dim();
                let weight = convert(weight)?
                    .into_shape_with_order((*m, cg * kh * kw))
                    .map_err(internal)?;
                Kernel::Conv2d(Box::new(Conv {
                    weight,
                    bias: bias.as_ref().map(convert).transpose()?,
                    n: *n,
                    c: *c,
                    h: *h,
                    w: *w,
                    m: *m,
                    kh,
                    kw,
                    oh: *oh,
                    ow: *ow,
                    strides: *strides,
                    pads: *pads,
                    dilations: *dilations,
                    group: *group,
                }))
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                epsilon,
            } => {
                let eps = f64::from(*epsilon);
                let factor = Zip::from(scale)
                    .and(var)
                    .map_collect(|&s, &v| T::from_f64(f64::from(s) / (f64::from(v) + eps).sqrt()));
                Kernel::BatchNorm {
                    factor,
                    mean: convert(mean)?,
                    bias: convert(bias)?,
                }
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
            } => Kernel::MaxPool(Pool::new(in_shape, out_shape, *kernel, *strides, *pads)?),
            Op::AveragePool {
                kernel,
                strides,
                pads,
                count_include_pad,
            } => Kernel::AveragePool {
                pool: Pool::new(in_shape, out_shape, *kernel, *strides, *pads)?,
                count_include_pad: *count_include_pad,
            },
            Op::Softmax { axis } => Kernel::Softmax { axis: *axis },
            Op::Sum => Kernel::Sum,
            Op::Concat { axis } => Kernel::Concat { axis: *axis },
            Op::Transpose { perm } => Kernel::Transpose { perm: perm.clone() },
            Op::Pad { pads, value } => Kernel::Pad {
                pads: pads.clone(),
                value: T::from_f32(*value),
            },
        })
    }
}

impl<T: Real> Step<T> {
    /// Runs the step on the batch tensor `x` of shape `[batch, ...in_shape]`.
    fn exec<'x>(
        &self,
        x: CowArray<'x, T, IxDyn>,
        batch: usize,
    ) -> Result<CowArray<'x, T, IxDyn>, BackendError> {
        let out_shape = batched(batch, &self.out_shape);
        Ok(match &self.kernel {
            Kernel::Gemm { weight, bias } => {
                let (n_out, n_in) = weight.dim();
                let rows = batch
                    * self.in_shape[..self.in_shape.len() - 1]
                        .iter()
                        .product::<usize>();
                // Validation guarantees a Gemm input of rank >= 1, so `rows` is the
                // batch times the product of the leading axes.
                let x = standard(x);
                let x2 = x
                    .view()
                    .into_shape_with_order((rows, n_in))
                    .map_err(internal)?;
                let mut y = Array2::zeros((rows, n_out));
                let beta = match bias {
                    Some(b) => {
                        y.assign(b);
                        T::one()
                    }
                    None => T::zero(),
                };
                general_mat_mul(T::one(), &x2, &weight.t(), beta, &mut y);
                CowArray::from(
                    y.into_shape_with_order(IxDyn(&out_shape))
                        .map_err(internal)?,
                )
            }
            Kernel::Binary { op, c, x_shape } => {
                let x = reshape(x, &batched(batch, x_shape))?;
                match op {
                    BinaryOp::Add => binary(x, c, &out_shape, |a, b| a + b)?,
                    BinaryOp::Sub => binary(x, c, &out_shape, |a, b| a - b)?,
                    BinaryOp::Mul => binary(x, c, &out_shape, |a, b| a * b)?,
                    BinaryOp::Div => binary(x, c, &out_shape, |a, b| a / b)?,
                }
            }
            // `v < 0` rather than `max` so that a NaN input stays NaN.
            Kernel::Relu => map_unary(x, |v| if v < T::zero() { T::zero() } else { v }),
            Kernel::Sigmoid => map_unary(x, sigmoid),
            Kernel::Tanh => map_unary(x, T::tanh),
            // The concatenation of one value is that value.
            Kernel::Identity | Kernel::Concat { .. } => x,
            Kernel::Reshape => reshape(x, &out_shape)?,
            Kernel::Transpose { perm } => {
                // The batch axis stays in front.
                let x = reshape(x, &batched(batch, &self.in_shape))?;
                let axes: Vec<usize> = std::iter::once(0)
                    .chain(perm.iter().map(|a| a + 1))
                    .collect();
                CowArray::from(
                    x.view()
                        .permuted_axes(IxDyn(&axes))
                        .as_standard_layout()
                        .into_owned(),
                )
            }
            Kernel::Pad { pads, value } => {
                let x = reshape(x, &batched(batch, &self.in_shape))?;
                let mut y = ArrayD::from_elem(IxDyn(&out_shape), *value);
                y.slice_each_axis_mut(|ax| {
                    let i = ax.axis.index();
                    if i == 0 {
                        ndarray::Slice::from(..)
                    } else {
                        let start = pads[i - 1];
                        ndarray::Slice::from(start..start + self.in_shape[i - 1])
                    }
                })
                .assign(&x);
                CowArray::from(y)
            }
            Kernel::Conv2d(conv) => CowArray::from(conv.run(x, batch)?),
            Kernel::BatchNorm { factor, mean, bias } => {
                let mut a = standard(x).into_owned();
                let channels = factor.len();
                let (outer, inner) = match self.in_shape.as_slice() {
                    [n, c, rest @ ..] if *c == channels => {
                        (batch * n, rest.iter().product::<usize>())
                    }
                    _ => return Err(internal("BatchNorm channel count mismatch")),
                };
                {
                    let mut v = a
                        .view_mut()
                        .into_shape_with_order((outer, channels, inner))
                        .map_err(internal)?;
                    for (ch, mut lane) in v.axis_iter_mut(Axis(1)).enumerate() {
                        let (f, m, b) = (factor[ch], mean[ch], bias[ch]);
                        lane.mapv_inplace(|v| (v - m) * f + b);
                    }
                }
                CowArray::from(a)
            }
            Kernel::MaxPool(pool) => {
                let x = standard(x);
                let xs = x
                    .as_slice()
                    .ok_or_else(|| internal("pool input not contiguous"))?;
                let w = pool.w;
                let y = pool.run(xs, batch, |plane, (r0, r1), (c0, c1)| {
                    let mut m = T::neg_infinity();
                    for r in r0..r1 {
                        for &v in &plane[r * w + c0..r * w + c1] {
                            // NaN wins, so that it propagates.
                            if v > m || v.is_nan() {
                                m = v;
                            }
                        }
                    }
                    m
                });
                CowArray::from(
                    y.into_shape_with_order(IxDyn(&out_shape))
                        .map_err(internal)?,
                )
            }
            Kernel::AveragePool {
                pool,
                count_include_pad,
            } => {
                let x = standard(x);
                let xs = x
                    .as_slice()
                    .ok_or_else(|| internal("pool input not contiguous"))?;
                let w = pool.w;
                let area = pool.kernel[0] * pool.kernel[1];
                let y = pool.run(xs, batch, |plane, (r0, r1), (c0, c1)| {
                    let mut sum = T::zero();
                    for r in r0..r1 {
                        for &v in &plane[r * w + c0..r * w + c1] {
                            sum = sum + v;
                        }
                    }
                    let count = if *count_include_pad {
                        area
                    } else {
                        (r1 - r0) * (c1 - c0)
                    };
                    if count == 0 {
                        T::zero()
                    } else {
                        sum / T::from_f64(count as f64)
                    }
                });
                CowArray::from(
                    y.into_shape_with_order(IxDyn(&out_shape))
                        .map_err(internal)?,
                )
            }
            Kernel::Softmax { axis } => {
                let mut a = standard(x).into_owned();
                for mut lane in a.lanes_mut(Axis(axis + 1)) {
                    let m = lane.fold(T::neg_infinity(), |m, &v| if v > m { v } else { m });
                    lane.mapv_inplace(|v| (v - m).exp());
                    let sum = lane.fold(T::zero(), |s, &v| s + v);
                    lane.mapv_inplace(|v| v / sum);
                }
                CowArray::from(a)
            }
            Kernel::Sum => return Err(internal("a Sum of one value")),
        })
    }

    /// Runs a step of several inputs (`Sum`, `Concat`); `parts` are the batch
    /// tensors of its inputs, in order.
    fn exec_many(
        &self,
        parts: Vec<CowArray<'_, T, IxDyn>>,
        batch: usize,
    ) -> Result<ArrayD<T>, BackendError> {
        let out_shape = batched(batch, &self.out_shape);
        match &self.kernel {
            Kernel::Sum => sum(parts, &out_shape),
            Kernel::Concat { axis } => concat(&parts, axis + 1, &out_shape),
            _ => Err(internal("a step of one input run on several")),
        }
    }
}

/// `a + b + c + ...` element by element, added in that order (`(a + b) + c`),
/// in `a`'s buffer when it is owned, else in `b`'s (`a + b` and `b + a` are
/// the same float), else in a new one. Every part has shape `out_shape`.
fn sum<T: Real>(
    parts: Vec<CowArray<'_, T, IxDyn>>,
    out_shape: &[usize],
) -> Result<ArrayD<T>, BackendError> {
    if parts.len() < 2 || parts.iter().any(|p| p.shape() != out_shape) {
        return Err(internal("Sum of fewer than two values or of other shapes"));
    }
    let mut parts = parts.into_iter();
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return Err(internal("Sum of fewer than two values"));
    };
    let mut acc = if !a.is_view() {
        let mut acc = a.into_owned();
        acc.zip_mut_with(&b, |s, &y| *s = *s + y);
        acc
    } else if !b.is_view() {
        let mut acc = b.into_owned();
        acc.zip_mut_with(&a, |s, &x| *s = x + *s);
        acc
    } else {
        Zip::from(&a).and(&b).map_collect(|&x, &y| x + y)
    };
    for c in parts {
        acc.zip_mut_with(&c, |s, &z| *s = *s + z);
    }
    Ok(acc)
}

/// `parts` concatenated along `axis` (of the batch tensors) into a new
/// standard-layout tensor of shape `out_shape`.
fn concat<T: Real>(
    parts: &[CowArray<'_, T, IxDyn>],
    axis: usize,
    out_shape: &[usize],
) -> Result<ArrayD<T>, BackendError> {
    let fits = |p: &CowArray<'_, T, IxDyn>| {
        p.ndim() == out_shape.len()
            && p.shape()
                .iter()
                .zip(out_shape)
                .enumerate()
                .all(|(a, (x, y))| a == axis || x == y)
    };
    if axis >= out_shape.len()
        || !parts.iter().all(fits)
        || parts.iter().map(|p| p.shape()[axis]).sum::<usize>() != out_shape[axis]
    {
        return Err(internal("Concat of values that do not fit the output"));
    }
    let mut out = ArrayD::zeros(IxDyn(out_shape));
    let mut at = 0;
    for p in parts {
        let len = p.shape()[axis];
        out.slice_axis_mut(Axis(axis), Slice::from(at..at + len))
            .assign(p);
        at += len;
    }
    Ok(out)
}

/// `f(x, c)` elementwise with numpy broadcasting: `x` is `[B, ...]` with the
/// output's rank, `c` is `[1, ...]`; the result is `out_shape`.
fn binary<'x, T: Real>(
    x: CowArray<'x, T, IxDyn>,
    c: &ArrayD<T>,
    out_shape: &[usize],
    f: impl Fn(T, T) -> T,
) -> Result<CowArray<'x, T, IxDyn>, BackendError> {
    if !x.is_view() && x.shape() == out_shape {
        // The output has the input's shape: update in place.
        let mut a = x.into_owned();
        a.zip_mut_with(c, |v, &k| *v = f(*v, k));
        return Ok(CowArray::from(a));
    }
    let out = IxDyn(out_shape);
    let xb = x
        .broadcast(out.clone())
        .ok_or_else(|| internal("input does not broadcast"))?;
    let cb = c
        .broadcast(out)
        .ok_or_else(|| internal("constant does not broadcast"))?;
    Ok(CowArray::from(
        Zip::from(&xb).and(&cb).map_collect(|&a, &k| f(a, k)),
    ))
}

impl<T: Real> Conv<T> {
    /// im2col + one GEMM per image and group; `x` is `[batch, N, C, H, W]`.
    fn run(&self, x: CowArray<'_, T, IxDyn>, batch: usize) -> Result<ArrayD<T>, BackendError> {
        let x = standard(x);
        let xs = x
            .as_slice()
            .ok_or_else(|| internal("conv input not contiguous"))?;
        let images = batch * self.n;
        let (cg, mg) = (self.c / self.group, self.m / self.group);
        let ohw = self.oh * self.ow;
        let k = cg * self.kh * self.kw;
        let mut y = Array3::<T>::zeros((images, self.m, ohw));
        let beta = match &self.bias {
            Some(b) => {
                y.assign(&b.view().insert_axis(Axis(1)));
                T::one()
            }
            None => T::zero(),
        };
        let mut col = Array2::<T>::zeros((k, ohw));
        let plane_len = self.h * self.w;
        for image in 0..images {
            for g in 0..self.group {
                let first = (image * self.c + g * cg) * plane_len;
                let planes = &xs[first..first + cg * plane_len];
                let cols = col
                    .as_slice_mut()
                    .ok_or_else(|| internal("im2col buffer not contiguous"))?;
                self.im2col(planes, cols);
                let wg = self.weight.slice(s![g * mg..(g + 1) * mg, ..]);
                let mut yg = y.slice_mut(s![image, g * mg..(g + 1) * mg, ..]);
                general_mat_mul(T::one(), &wg, &col, beta, &mut yg);
            }
        }
        y.into_shape_with_order(IxDyn(&[batch, self.n, self.m, self.oh, self.ow]))
            .map_err(internal)
    }

    /// Fills `col` (`[C/group * kH * kW, OH * OW]`, row-major) from the
    /// `C/group` input planes of one image and group.
    fn im2col(&self, planes: &[T], col: &mut [T]) {
        let (h, w) = (self.h, self.w);
        let (oh, ow) = (self.oh, self.ow);
        let [sh, sw] = self.strides;
        let [dh, dw] = self.dilations;
        let (pt, pl) = (self.pads[0], self.pads[1]);
        let ohw = oh * ow;
        let mut rows = col.chunks_exact_mut(ohw);
        for plane in planes.chunks_exact(h * w) {
            for ki in 0..self.kh {
                for kj in 0..self.kw {
                    let Some(row) = rows.next() else { return };
                    for (oy, dst) in row.chunks_exact_mut(ow).enumerate() {
                        let iy = oy * sh + ki * dh;
                        if iy < pt || iy - pt >= h {
                            dst.fill(T::zero());
                            continue;
                        }
                        let src = &plane[(iy - pt) * w..(iy - pt + 1) * w];
                        for (ox, d) in dst.iter_mut().enumerate() {
                            let ix = ox * sw + kj * dw;
                            *d = if ix < pl || ix - pl >= w {
                                T::zero()
                            } else {
                                src[ix - pl]
                            };
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axiom_core::GraphBuilder;
    use ndarray::{arr1, arr2, Array4, ArrayD};

    /// A graph of one op on a sample of shape `shape`.
    fn single(shape: Vec<usize>, op: Op) -> Graph {
        let mut b = GraphBuilder::new("t", "x", shape);
        let y = b.push("op", op, 0);
        b.finish(y).unwrap()
    }

    /// Runs `graph` on `inputs` in f64 and f32 and compares with `expected`.
    fn check(graph: &Graph, inputs: &Array2<f64>, expected: &Array2<f64>) {
        let model = CpuBackend.compile(graph).unwrap();
        let y64 = model.run_f64(inputs.view()).unwrap();
        assert_close(&y64, expected, 1e-12);
        let y32 = model.run_f32(inputs.mapv(|v| v as f32).view()).unwrap();
        assert_close(&y32.mapv(f64::from), expected, 1e-5);
    }

    fn assert_close(got: &Array2<f64>, want: &Array2<f64>, tol: f64) {
        assert_eq!(got.shape(), want.shape(), "got {got}, want {want}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "got {got}\nwant {want}"
            );
        }
    }

    /// Deterministic pseudo-random values in [-1, 1).
    fn lcg(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32) / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn gemm_with_bias() {
        let g = single(
            vec![3],
            Op::Gemm {
                weight: arr2(&[[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]),
                bias: Some(arr1(&[0.5, -1.0])),
            },
        );
        let x = arr2(&[[1.0, 1.0, 1.0], [2.0, -1.0, 0.5]]);
        check(&g, &x, &arr2(&[[6.5, -1.5], [2.0, -3.5]]));
    }

    #[test]
    fn gemm_without_bias_on_leading_axes() {
        // Sample [2, 2]: the Gemm applies to each row of the sample.
        let g = single(
            vec![2, 2],
            Op::Gemm {
                weight: arr2(&[[1.0, 1.0], [1.0, -1.0], [0.0, 2.0]]),
                bias: None,
            },
        );
        let x = arr2(&[[1.0, 2.0, 3.0, 5.0]]);
        check(&g, &x, &arr2(&[[3.0, -1.0, 4.0, 8.0, -2.0, 10.0]]));
    }

    #[test]
    fn add_full_rank_constant() {
        let c = ArrayD::from_shape_vec(vec![1, 1, 1, 5], vec![1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let g = single(vec![1, 1, 1, 5], Op::Add { c });
        let x = arr2(&[[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 1.0, -1.0, 1.0]]);
        check(
            &g,
            &x,
            &arr2(&[[1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 6.0]]),
        );
    }

    #[test]
    fn add_vector_constant() {
        let c = ArrayD::from_shape_vec(vec![5], vec![1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let g = single(vec![1, 1, 1, 5], Op::Add { c });
        assert_eq!(g.output_shape().unwrap(), vec![1, 1, 1, 5]);
        let x = arr2(&[[10.0, 20.0, 30.0, 40.0, 50.0]]);
        check(&g, &x, &arr2(&[[11.0, 22.0, 33.0, 44.0, 55.0]]));
    }

    #[test]
    fn sub_mul_div_broadcast() {
        // Sample [2, 3] minus a per-row constant [2, 1].
        let c = ArrayD::from_shape_vec(vec![2, 1], vec![1.0, 10.0]).unwrap();
        let g = single(vec![2, 3], Op::Sub { c });
        let x = arr2(&[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]);
        check(&g, &x, &arr2(&[[0.0, 1.0, 2.0, -6.0, -5.0, -4.0]]));

        // Sample [3] times a [2, 1] constant: the output grows to [2, 3].
        let c = ArrayD::from_shape_vec(vec![2, 1], vec![2.0, -1.0]).unwrap();
        let g = single(vec![3], Op::Mul { c });
        assert_eq!(g.output_shape().unwrap(), vec![2, 3]);
        let x = arr2(&[[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]]);
        check(
            &g,
            &x,
            &arr2(&[
                [2.0, 4.0, 6.0, -1.0, -2.0, -3.0],
                [1.0, 0.0, -2.0, -0.5, 0.0, 1.0],
            ]),
        );

        // Sample [1, 4] divided by a [4] constant.
        let c = ArrayD::from_shape_vec(vec![4], vec![2.0, 4.0, -0.5, 8.0]).unwrap();
        let g = single(vec![1, 4], Op::Div { c });
        let x = arr2(&[[1.0, 1.0, 1.0, 1.0]]);
        check(&g, &x, &arr2(&[[0.5, 0.25, -2.0, 0.125]]));
    }

    #[test]
    fn unary_activations() {
        let x = arr2(&[[-2.0, -0.5, 0.0, 0.5, 2.0]]);
        let relu = single(vec![5], Op::Relu);
        check(&relu, &x, &arr2(&[[0.0, 0.0, 0.0, 0.5, 2.0]]));
        let sig = single(vec![5], Op::Sigmoid);
        check(&sig, &x, &x.mapv(|v| 1.0 / (1.0 + (-v).exp())));
        let tanh = single(vec![5], Op::Tanh);
        check(&tanh, &x, &x.mapv(f64::tanh));
        let id = single(vec![5], Op::Identity);
        check(&id, &x, &x);
    }

    #[test]
    fn sigmoid_saturates_without_nan() {
        let g = single(vec![4], Op::Sigmoid);
        let x = arr2(&[[-100.0, 100.0, -1000.0, 1000.0]]);
        let model = CpuBackend.compile(&g).unwrap();
        let y64 = model.run_f64(x.view()).unwrap();
        let y32 = model.run_f32(x.mapv(|v| v as f32).view()).unwrap();
        assert!(y64.iter().all(|v| v.is_finite()) && y32.iter().all(|v| v.is_finite()));
        assert!(y64[[0, 0]] < 1e-40 && y64[[0, 1]] == 1.0);
        assert_eq!(y32[[0, 2]], 0.0);
        assert_eq!(y32[[0, 3]], 1.0);
    }

    #[test]
    fn flatten_acas_input() {
        let g = single(vec![1, 1, 1, 5], Op::Flatten { axis: 1 });
        assert_eq!(g.output_shape().unwrap(), vec![1, 5]);
        let x = arr2(&[[1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]]);
        check(&g, &x, &x);
    }

    #[test]
    fn reshape_then_gemm_sees_row_major_order() {
        // [6] -> [2, 3], then a Gemm summing each row.
        let mut b = GraphBuilder::new("t", "x", vec![6]);
        let r = b.push("r", Op::Reshape { shape: vec![2, 3] }, 0);
        let y = b.push(
            "sum",
            Op::Gemm {
                weight: arr2(&[[1.0, 1.0, 1.0]]),
                bias: None,
            },
            r,
        );
        let g = b.finish(y).unwrap();
        let x = arr2(&[[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]]);
        check(&g, &x, &arr2(&[[6.0, 60.0]]));
    }

    /// Direct convolution: `x` is `[N, C, H, W]`.
    fn conv_reference(
        x: &ArrayD<f64>,
        weight: &Array4<f64>,
        bias: Option<&Array1<f64>>,
        strides: [usize; 2],
        pads: [usize; 4],
        dilations: [usize; 2],
        group: usize,
    ) -> ArrayD<f64> {
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (m, cg, kh, kw) = weight.dim();
        let oh = (h + pads[0] + pads[2] - (dilations[0] * (kh - 1) + 1)) / strides[0] + 1;
        let ow = (w + pads[1] + pads[3] - (dilations[1] * (kw - 1) + 1)) / strides[1] + 1;
        let mg = m / group;
        assert_eq!(cg, c / group);
        let mut y = ArrayD::zeros(vec![n, m, oh, ow]);
        for ni in 0..n {
            for mi in 0..m {
                let g = mi / mg;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias.map_or(0.0, |b| b[mi]);
                        for ci in 0..cg {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let iy = (oy * strides[0] + ki * dilations[0]) as isize
                                        - pads[0] as isize;
                                    let ix = (ox * strides[1] + kj * dilations[1]) as isize
                                        - pads[1] as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w
                                    {
                                        acc += weight[[mi, ci, ki, kj]]
                                            * x[[ni, g * cg + ci, iy as usize, ix as usize]];
                                    }
                                }
                            }
                        }
                        y[[ni, mi, oy, ox]] = acc;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn conv2d_matches_direct_reference() {
        // (sample [N, C, H, W], M, kernel, strides, pads, dilations, group, bias)
        type Case = (
            [usize; 4],
            usize,
            [usize; 2],
            [usize; 2],
            [usize; 4],
            [usize; 2],
            usize,
            bool,
        );
        let cases: [Case; 6] = [
            ([1, 1, 4, 4], 1, [3, 3], [1, 1], [0; 4], [1, 1], 1, false),
            (
                [1, 3, 7, 6],
                4,
                [3, 3],
                [2, 2],
                [1, 1, 1, 1],
                [1, 1],
                1,
                true,
            ),
            (
                [1, 2, 8, 9],
                2,
                [3, 2],
                [1, 2],
                [2, 0, 1, 3],
                [2, 1],
                1,
                true,
            ),
            (
                [2, 4, 6, 6],
                6,
                [3, 3],
                [1, 1],
                [1, 1, 1, 1],
                [1, 1],
                2,
                true,
            ),
            (
                [1, 4, 5, 5],
                4,
                [2, 2],
                [2, 1],
                [0, 1, 1, 0],
                [2, 2],
                4,
                false,
            ),
            ([1, 2, 3, 3], 3, [1, 1], [1, 1], [0; 4], [1, 1], 1, true),
        ];
        for (i, (shape, m, k, strides, pads, dilations, group, with_bias)) in
            cases.into_iter().enumerate()
        {
            let cg = shape[1] / group;
            let weight =
                Array4::from_shape_vec((m, cg, k[0], k[1]), lcg(i as u64, m * cg * k[0] * k[1]))
                    .unwrap();
            let bias = with_bias.then(|| Array1::from(lcg(100 + i as u64, m)));
            let g = single(
                shape.to_vec(),
                Op::Conv2d {
                    weight: weight.clone(),
                    bias: bias.clone(),
                    strides,
                    pads,
                    dilations,
                    group,
                },
            );
            let batch = 3;
            let len: usize = shape.iter().product();
            let x = Array2::from_shape_vec((batch, len), lcg(200 + i as u64, batch * len))
                .unwrap()
                .mapv(f64::from);
            let w64 = weight.mapv(f64::from);
            let b64 = bias.map(|b| b.mapv(f64::from));
            let rows: Vec<f64> = x
                .outer_iter()
                .flat_map(|row| {
                    let sample = row.to_owned().into_shape_with_order(IxDyn(&shape)).unwrap();
                    conv_reference(&sample, &w64, b64.as_ref(), strides, pads, dilations, group)
                        .into_iter()
                        .collect::<Vec<_>>()
                })
                .collect();
            let out_len = rows.len() / batch;
            let want = Array2::from_shape_vec((batch, out_len), rows).unwrap();
            check(&g, &x, &want);
        }
    }

    #[test]
    fn batchnorm_per_channel() {
        let g = single(
            vec![1, 2, 2],
            Op::BatchNorm {
                scale: arr1(&[2.0, 1.0]),
                bias: arr1(&[1.0, -1.0]),
                mean: arr1(&[1.0, 0.0]),
                var: arr1(&[4.0, 0.25]),
                epsilon: 0.0,
            },
        );
        // Channel 0: 2 * (x - 1) / 2 + 1 = x; channel 1: (x - 0) / 0.5 - 1 = 2x - 1.
        let x = arr2(&[[3.0, -1.0, 3.0, -1.0]]);
        check(&g, &x, &arr2(&[[3.0, -1.0, 5.0, -3.0]]));
    }

    #[test]
    fn maxpool_with_padding() {
        // 3x3 input, kernel 2, stride 2, pad 1 on every side: 2x2 output.
        let g = single(
            vec![1, 1, 3, 3],
            Op::MaxPool {
                kernel: [2, 2],
                strides: [2, 2],
                pads: [1, 1, 1, 1],
            },
        );
        // All negative, so a zero from the padding would win if it counted.
        let x = arr2(&[[-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0]]);
        check(&g, &x, &arr2(&[[-1.0, -2.0, -4.0, -5.0]]));
    }

    #[test]
    fn averagepool_with_padding() {
        let pool = |count_include_pad| {
            single(
                vec![1, 1, 3, 3],
                Op::AveragePool {
                    kernel: [2, 2],
                    strides: [2, 2],
                    pads: [1, 1, 1, 1],
                    count_include_pad,
                },
            )
        };
        let x = arr2(&[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]]);
        // Windows: {1}, {2,3}, {4,7}, {5,6,8,9}.
        check(&pool(true), &x, &arr2(&[[0.25, 1.25, 2.75, 7.0]]));
        check(&pool(false), &x, &arr2(&[[1.0, 2.5, 5.5, 7.0]]));
    }

    #[test]
    fn pools_over_channels_and_batch() {
        // [1, 2, 2, 2] sample, 2x2 window: one value per channel.
        let g = single(
            vec![1, 2, 2, 2],
            Op::MaxPool {
                kernel: [2, 2],
                strides: [1, 1],
                pads: [0; 4],
            },
        );
        let x = arr2(&[[1.0, 5.0, 2.0, 3.0, -1.0, -2.0, -3.0, -4.0], [0.0; 8]]);
        check(&g, &x, &arr2(&[[5.0, -1.0], [0.0, 0.0]]));
    }

    #[test]
    fn pools_with_padding_wider_than_the_kernel() {
        // Pads of 2 with a kernel of 1: the border windows hold padding only.
        let g = single(
            vec![1, 1, 1, 1],
            Op::MaxPool {
                kernel: [1, 1],
                strides: [1, 1],
                pads: [0, 0, 0, 2],
            },
        );
        let y = CpuBackend
            .compile(&g)
            .unwrap()
            .run_f64(arr2(&[[3.0]]).view())
            .unwrap();
        assert_eq!(y, arr2(&[[3.0, f64::NEG_INFINITY, f64::NEG_INFINITY]]));
        let g = single(
            vec![1, 1, 1, 1],
            Op::AveragePool {
                kernel: [1, 1],
                strides: [1, 1],
                pads: [2, 0, 2, 0],
                count_include_pad: false,
            },
        );
        check(&g, &arr2(&[[3.0]]), &arr2(&[[0.0, 0.0, 3.0, 0.0, 0.0]]));
    }

    #[test]
    fn zero_width_gemm() {
        let mut b = GraphBuilder::new("t", "x", vec![3]);
        let e = b.push(
            "empty",
            Op::Gemm {
                weight: Array2::zeros((0, 3)),
                bias: None,
            },
            0,
        );
        let y = b.push("relu", Op::Relu, e);
        let g = b.finish(y).unwrap();
        let model = CpuBackend.compile(&g).unwrap();
        assert_eq!(model.output_len(), 0);
        for batch in [1, 3, 100] {
            let y = model.run_f32(Array2::ones((batch, 3)).view()).unwrap();
            assert_eq!(y.dim(), (batch, 0));
        }
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let x = arr2(&[[1.0, 2.0, 3.0, 1000.0, 1000.0, -1000.0]]);
        let g = single(vec![2, 3], Op::Softmax { axis: 1 });
        let model = CpuBackend.compile(&g).unwrap();
        let y = model.run_f64(x.view()).unwrap();
        let y32 = model.run_f32(x.mapv(|v| v as f32).view()).unwrap();
        for row in [&y.row(0).to_vec()[..3], &y.row(0).to_vec()[3..]] {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{y}");
        }
        assert!(y32.iter().all(|v| v.is_finite()));
        let e = [1.0f64.exp(), 2.0f64.exp(), 3.0f64.exp()];
        let s: f64 = e.iter().sum();
        let want = arr2(&[[e[0] / s, e[1] / s, e[2] / s, 0.5, 0.5, 0.0]]);
        check(&g, &x, &want);

        // Along axis 0 of the sample: columns sum to one.
        let g = single(vec![2, 3], Op::Softmax { axis: 0 });
        let y = CpuBackend.compile(&g).unwrap().run_f64(x.view()).unwrap();
        for j in 0..3 {
            assert!((y[[0, j]] + y[[0, 3 + j]] - 1.0).abs() < 1e-12, "{y}");
        }
    }

    #[test]
    fn output_may_be_the_input_or_skip_dead_nodes() {
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let r = b.push("relu", Op::Relu, 0);
        b.push("dead", Op::Sigmoid, r);
        let g = b.finish(0).unwrap();
        let x = arr2(&[[-1.0, 2.0]]);
        check(&g, &x, &x);
        // A value read by a dead node and by the output path.
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let r = b.push("relu", Op::Relu, 0);
        b.push("dead", Op::Sigmoid, r);
        let y = b.push(
            "neg",
            Op::Mul {
                c: ArrayD::from_elem(vec![1], -1.0),
            },
            r,
        );
        let g = b.finish(y).unwrap();
        check(&g, &x, &arr2(&[[0.0, -2.0]]));
    }

    #[test]
    fn values_are_freed_after_their_last_reader() {
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let r = b.push("relu", Op::Relu, 0);
        let t = b.push("tanh", Op::Tanh, r);
        let g = b.finish(t).unwrap();
        let plan = Plan::<f64>::new(&g, &g.infer_shapes().unwrap()).unwrap();
        assert!(plan.steps.iter().all(|s| s.inputs[0].take));
        // When the graph output is read by a (dead) node, it is not consumed.
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let r = b.push("relu", Op::Relu, 0);
        b.push("tanh", Op::Tanh, r);
        let g = b.finish(r).unwrap();
        let plan = Plan::<f64>::new(&g, &g.infer_shapes().unwrap()).unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert!(plan.steps[0].inputs[0].take);
    }

    #[test]
    fn only_the_last_reader_takes_a_value() {
        // v = relu(x) is read by a Tanh, a Sigmoid and a Sum listing it
        // twice; t = tanh(v) by the Sum once.
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let v = b.push("relu", Op::Relu, 0);
        let t = b.push("tanh", Op::Tanh, v);
        let s = b.push("sig", Op::Sigmoid, v);
        let y = b.push_inputs("sum", Op::Sum, vec![v, t, s, v], "y");
        let g = b.finish(y).unwrap();
        let plan = Plan::<f64>::new(&g, &g.infer_shapes().unwrap()).unwrap();
        let reads: Vec<Vec<(ValueId, bool)>> = plan
            .steps
            .iter()
            .map(|s| s.inputs.iter().map(|r| (r.value, r.take)).collect())
            .collect();
        assert_eq!(
            reads,
            vec![
                vec![(0, true)],
                vec![(v, false)],
                vec![(v, false)],
                vec![(v, false), (t, true), (s, true), (v, false)],
            ]
        );
        // v is listed twice by its last reader: not taken, freed after it.
        assert_eq!(plan.steps[3].release, vec![v]);
        assert!(plan.steps[..3].iter().all(|s| s.release.is_empty()));
        let x = arr2(&[[-1.0, 0.5], [2.0, -3.0]]);
        let want = x.mapv(|a: f64| {
            let r = a.max(0.0);
            r + r.tanh() + 1.0 / (1.0 + (-r).exp()) + r
        });
        check(&g, &x, &want);
    }

    #[test]
    fn concat_along_a_middle_axis() {
        // [2, 1, 2] and [2, 2, 2] along axis 1: per sample, row i of the
        // first then the two rows i of the second.
        let mut b = GraphBuilder::new("t", "x", vec![2, 1, 2]);
        let m = b.push(
            "grow",
            Op::Mul {
                c: ArrayD::from_shape_vec(vec![2, 1], vec![10.0, 100.0]).unwrap(),
            },
            0,
        );
        let y = b.push_inputs("cat", Op::Concat { axis: 1 }, vec![0, m], "y");
        let g = b.finish(y).unwrap();
        assert_eq!(g.output_shape().unwrap(), vec![2, 3, 2]);
        let x = arr2(&[[1.0, 2.0, 3.0, 4.0]]);
        check(
            &g,
            &x,
            &arr2(&[[
                1.0, 2.0, 10.0, 20.0, 100.0, 200.0, 3.0, 4.0, 30.0, 40.0, 300.0, 400.0,
            ]]),
        );
    }

    #[test]
    fn non_standard_input_layout() {
        let g = single(
            vec![2],
            Op::Gemm {
                weight: arr2(&[[1.0, 10.0]]),
                bias: None,
            },
        );
        let model = CpuBackend.compile(&g).unwrap();
        // Column-major [3, 2] input.
        let x = arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        let y = model.run_f64(x.t()).unwrap();
        assert_eq!(y, arr2(&[[41.0], [52.0], [63.0]]));
    }

    #[test]
    fn wrong_input_length_and_empty_batch() {
        let g = single(vec![1, 1, 1, 5], Op::Relu);
        let model = CpuBackend.compile(&g).unwrap();
        let err = model.run_f32(Array2::zeros((2, 4)).view()).unwrap_err();
        assert!(
            matches!(err, BackendError::InputLength { expected: 5, got: 4, ref shape } if shape == &[1, 1, 1, 5]),
            "{err}"
        );
        let y = model.run_f64(Array2::zeros((0, 5)).view()).unwrap();
        assert_eq!(y.dim(), (0, 5));
    }

    #[test]
    fn invalid_graph_is_a_model_error() {
        let mut g = single(vec![2], Op::Relu);
        g.output = 7;
        assert!(matches!(
            CpuBackend.compile(&g),
            Err(BackendError::Model(_))
        ));
    }
}
