//! A graph compiled for the GPU: constants on the device, one plan per
//! float type, batches run in chunks that fit the device-memory budget.

use std::rc::Rc;
use std::sync::Arc;

use axiom_core::{Graph, Op, ValueId};
use cudarc::cublas::{GemmConfig, StridedBatchedConfig};
use cudarc::driver::{CudaSlice, PushKernelArg};
use ndarray::{Array2, ArrayView2, Axis};

use super::{cuda_err, gemm_rows, grid, int, DevReal, Device};
use crate::{BackendError, CompiledModel};

/// An internal invariant did not hold (a bug, not bad input).
fn internal(what: impl std::fmt::Display) -> BackendError {
    BackendError::Other(format!("internal error in the CUDA backend: {what}"))
}

/// Refusal of a graph the backend cannot run.
fn refuse(node: &str, why: impl std::fmt::Display) -> BackendError {
    BackendError::Other(format!("the CUDA backend cannot run node '{node}': {why}"))
}

/// A graph compiled for the GPU.
pub(crate) struct CudaModel {
    device: Arc<Device>,
    /// Bytes one chunk's intermediate values may take.
    budget_bytes: usize,
    input_shape: Vec<usize>,
    input_len: usize,
    output_shape: Vec<usize>,
    output_len: usize,
    /// `None` when the output is empty (every run returns `[batch, 0]`).
    plans: Option<(Plan<f32>, Plan<f64>)>,
}

impl CudaModel {
    pub(crate) fn new(
        device: Arc<Device>,
        graph: &Graph,
        budget_bytes: usize,
    ) -> Result<Self, BackendError> {
        graph.validate()?;
        let shapes = graph.infer_shapes()?;
        let output_shape = shapes
            .get(graph.output)
            .cloned()
            .ok_or_else(|| internal("graph output has no shape"))?;
        let output_len = output_shape.iter().product();
        let plans = if output_len == 0 {
            None
        } else {
            let _lock = device.lock();
            let p32 = Plan::new(&device, graph, &shapes)?;
            let p64 = Plan::new(&device, graph, &shapes)?;
            device.sync()?;
            Some((p32, p64))
        };
        Ok(CudaModel {
            device,
            budget_bytes,
            input_shape: graph.input.shape.clone(),
            input_len: graph.input_len(),
            output_shape,
            output_len,
            plans,
        })
    }

    /// Checks the input width, then runs the batch chunk by chunk.
    fn run<T: DevReal>(
        &self,
        plan: Option<&Plan<T>>,
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
        let mut out = Array2::zeros((batch, self.output_len));
        let Some(plan) = plan else {
            return Ok(out);
        };
        if batch == 0 {
            return Ok(out);
        }
        let chunk = plan.chunk_rows::<T>(self.budget_bytes);
        super::guarded("running a batch", || {
            let _lock = self.device.lock();
            for (mut rows, x) in out
                .axis_chunks_iter_mut(Axis(0), chunk)
                .zip(inputs.axis_chunks_iter(Axis(0), chunk))
            {
                let host: Vec<T> = x.iter().copied().collect();
                let y = plan.run(&self.device, self.device.upload(&host)?, x.nrows())?;
                let y = self.device.download(&y)?;
                let y =
                    ArrayView2::from_shape((x.nrows(), self.output_len), &y).map_err(internal)?;
                rows.assign(&y);
            }
            Ok(())
        })?;
        Ok(out)
    }
}

impl Drop for CudaModel {
    fn drop(&mut self) {
        // The device buffers are freed after this, on this thread: make the
        // context current here (a model may be dropped on a thread that never
        // ran it).
        // (bind_to_thread first reports, and clears, an earlier recorded
        // error; then it binds.)
        if self.device.ctx.bind_to_thread().is_err() {
            let _ = self.device.ctx.bind_to_thread();
        }
    }
}

impl CompiledModel for CudaModel {
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
        self.run(self.plans.as_ref().map(|p| &p.0), inputs)
    }

    fn run_f64(&self, inputs: ArrayView2<'_, f64>) -> Result<Array2<f64>, BackendError> {
        self.run(self.plans.as_ref().map(|p| &p.1), inputs)
    }
}

/// A graph compiled for one float type.
struct Plan<T> {
    num_values: usize,
    output: ValueId,
    output_len: usize,
    /// Scalars per sample of every value plus the largest workspace: an
    /// upper bound of what one sample keeps on the device at any time.
    per_sample: usize,
    /// The largest per-sample size of any value or workspace.
    max_len: usize,
    steps: Vec<Step<T>>,
}

/// One live node.
struct Step<T> {
    /// The values the node reads, in order, each with whether this step is
    /// its last reader (so it takes the value; see the CPU backend). Several
    /// for `Sum` and `Concat`.
    inputs: Vec<(ValueId, bool)>,
    output: ValueId,
    /// Values this step reads last without taking them (listed twice).
    release: Vec<ValueId>,
    /// Scalars per sample of the output.
    out_len: usize,
    kernel: Kernel<T>,
}

/// Pooling geometry on `[N, C, H, W]` samples.
#[derive(Debug, Clone, Copy)]
struct Pool {
    planes: u64,
    h: u64,
    w: u64,
    oh: u64,
    ow: u64,
    kernel: [u64; 2],
    strides: [u64; 2],
    pads: [u64; 2],
}

/// A convolution's weights and geometry.
struct Conv<T> {
    /// `[M, C/group * kH * kW]`.
    weight: CudaSlice<T>,
    bias: Option<CudaSlice<T>>,
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
    pads: [usize; 2],
    dilations: [usize; 2],
    group: usize,
}

/// An op with its constants on the device.
enum Kernel<T> {
    /// `weight` is `[out, in]`; `lead` rows of the sample go through it.
    Gemm {
        weight: CudaSlice<T>,
        bias: Option<CudaSlice<T>>,
        n_in: usize,
        n_out: usize,
        lead: usize,
    },
    Binary {
        op: i32,
        c: CudaSlice<T>,
        dims: CudaSlice<u64>,
        xstr: CudaSlice<u64>,
        cstr: CudaSlice<u64>,
        rank: i32,
        sample_x: usize,
    },
    Relu,
    Sigmoid,
    Tanh,
    /// Identity, Flatten, Reshape: the same buffer.
    Alias,
    Conv2d(Box<Conv<T>>),
    BatchNorm {
        factor: CudaSlice<T>,
        mean: CudaSlice<T>,
        bias: CudaSlice<T>,
        channels: u64,
        inner: u64,
    },
    MaxPool(Pool),
    AveragePool {
        pool: Pool,
        count_include_pad: bool,
    },
    Softmax {
        outer: u64,
        len: u64,
        inner: u64,
    },
    /// Transpose, Pad: output element `j` of a sample is input element
    /// `src[j]` of that sample, or `value` where `src[j]` is `u64::MAX`
    /// (see `crate::layout`); a copy, exact.
    Gather {
        src: CudaSlice<u64>,
        sample_x: usize,
        value: T,
    },
    /// `a + b + ...`, added left to right into a copy of `a` (or `a` itself
    /// when this step takes it).
    Sum,
    /// Concatenation of two or more values: each input is `[outer, block]`
    /// (`outer` counting the batch), the output `[outer, out_block]`; input
    /// `j` goes to columns `offsets[j]..offsets[j] + blocks[j]`.
    Concat {
        out_block: usize,
        blocks: Vec<usize>,
        offsets: Vec<usize>,
    },
}

/// Row-major strides of `shape`, 0 on axes of length 1 (broadcast).
fn broadcast_strides(shape: &[usize]) -> Vec<u64> {
    let mut strides = vec![0u64; shape.len()];
    let mut s = 1u64;
    for d in (0..shape.len()).rev() {
        strides[d] = if shape[d] == 1 { 0 } else { s };
        s *= shape[d] as u64;
    }
    strides
}

/// `shape` with leading 1s up to `rank`.
fn padded(shape: &[usize], rank: usize) -> Vec<usize> {
    let mut s = vec![1; rank.saturating_sub(shape.len())];
    s.extend_from_slice(shape);
    s
}

impl<T: DevReal> Plan<T> {
    fn new(device: &Device, graph: &Graph, shapes: &[Vec<usize>]) -> Result<Self, BackendError> {
        let live = graph.live_nodes();
        let num_values = graph.nodes.len() + 1;
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
        let len_of = |v: usize| shapes[v].iter().product::<usize>();
        if len_of(0) == 0 {
            return Err(BackendError::Other(
                "the CUDA backend cannot run a model with an empty input".into(),
            ));
        }
        let mut per_sample = len_of(0);
        let mut max_len = len_of(0);
        let mut workspace = 0;
        let mut steps = Vec::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let (min, max) = node.op.arity();
            if node.inputs.len() < min
                || node.inputs.len() > max
                || node.inputs.iter().any(|&src| src > i)
            {
                return Err(internal(format!(
                    "node '{}' does not read {min} earlier value(s)",
                    node.name
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
                inputs.push((value, last && once));
            }
            let in_shape = &shapes[node.inputs[0]];
            let out_shape = &shapes[i + 1];
            let out_len = len_of(i + 1);
            if out_len == 0 {
                return Err(refuse(&node.name, "its output is empty"));
            }
            let (kernel, work) = match &node.op {
                Op::Sum => (Kernel::Sum, 0),
                // The concatenation of one value is that value.
                Op::Concat { .. } if node.inputs.len() == 1 => (Kernel::Alias, 0),
                Op::Concat { axis } => {
                    let axis = *axis;
                    if axis >= out_shape.len() {
                        return Err(internal("Concat axis out of range"));
                    }
                    let inner = out_shape[axis + 1..].iter().product::<usize>();
                    let blocks: Vec<usize> = node
                        .inputs
                        .iter()
                        .map(|&v| shapes[v].get(axis).map_or(0, |d| d * inner))
                        .collect();
                    let offsets: Vec<usize> = blocks
                        .iter()
                        .scan(0, |at, &b| {
                            let o = *at;
                            *at += b;
                            Some(o)
                        })
                        .collect();
                    let out_block = out_shape[axis] * inner;
                    if blocks.iter().sum::<usize>() != out_block {
                        return Err(internal("Concat blocks do not fill the output"));
                    }
                    (
                        Kernel::Concat {
                            out_block,
                            blocks,
                            offsets,
                        },
                        0,
                    )
                }
                op => Kernel::new(device, &node.name, op, in_shape, out_shape)?,
            };
            per_sample += out_len;
            max_len = max_len.max(out_len).max(work);
            workspace = workspace.max(work);
            steps.push(Step {
                inputs,
                output: i + 1,
                release,
                out_len,
                kernel,
            });
        }
        Ok(Plan {
            num_values,
            output: graph.output,
            output_len: len_of(graph.output),
            per_sample: per_sample + workspace,
            max_len,
            steps,
        })
    }

    /// Rows per chunk: what fits `budget` bytes, and keeps every GEMM
    /// dimension within 32 bits.
    fn chunk_rows<R>(&self, budget: usize) -> usize {
        let bytes = self.per_sample.max(1) * std::mem::size_of::<R>();
        let by_budget = budget / bytes;
        let by_index = (i32::MAX as usize) / self.max_len.max(1);
        by_budget.min(by_index).max(1)
    }

    /// Runs one chunk of `rows` samples; `x` is `[rows, input_len]` on the device.
    fn run(
        &self,
        device: &Device,
        x: CudaSlice<T>,
        rows: usize,
    ) -> Result<CudaSlice<T>, BackendError> {
        let mut values: Vec<Option<Rc<CudaSlice<T>>>> =
            (0..self.num_values).map(|_| None).collect();
        values[0] = Some(Rc::new(x));
        for step in &self.steps {
            let mut parts = Vec::with_capacity(step.inputs.len());
            for &(value, take) in &step.inputs {
                let x = if take {
                    values[value].take()
                } else {
                    values[value].clone()
                };
                parts.push(x.ok_or_else(|| internal(format!("value {value} is not computed")))?);
            }
            let y = if parts.len() == 1 {
                let x = parts.pop().ok_or_else(|| internal("no input"))?;
                step.exec(device, x, rows)?
            } else {
                step.exec_many(device, parts, rows)?
            };
            for &v in &step.release {
                values[v] = None;
            }
            values[step.output] = Some(y);
        }
        let y = values[self.output]
            .take()
            .ok_or_else(|| internal("the output is not computed"))?;
        drop(values);
        let y = match Rc::try_unwrap(y) {
            Ok(y) => y,
            Err(shared) => device
                .stream
                .clone_dtod(&*shared)
                .map_err(|e| cuda_err("copying the output", e))?,
        };
        if y.len() != rows * self.output_len {
            return Err(internal("output buffer has the wrong length"));
        }
        Ok(y)
    }
}

/// `x` owned for in-place work: moved when no other value shares it,
/// copied otherwise.
fn owned<T: DevReal>(device: &Device, x: Rc<CudaSlice<T>>) -> Result<CudaSlice<T>, BackendError> {
    match Rc::try_unwrap(x) {
        Ok(x) => Ok(x),
        Err(shared) => device
            .stream
            .clone_dtod(&*shared)
            .map_err(|e| cuda_err("copying a value", e)),
    }
}

impl<T: DevReal> Kernel<T> {
    /// The kernel of `op` and the per-sample workspace it needs.
    fn new(
        device: &Device,
        name: &str,
        op: &Op,
        in_shape: &[usize],
        out_shape: &[usize],
    ) -> Result<(Self, usize), BackendError> {
        let upload32 = |a: &mut dyn Iterator<Item = f32>| -> Result<CudaSlice<T>, BackendError> {
            let v: Vec<T> = a.map(T::from_f32).collect();
            if v.is_empty() {
                return Err(refuse(name, "it has an empty constant"));
            }
            device.upload(&v)
        };
        let binary = |op: i32, c: &ndarray::ArrayD<f32>| -> Result<(Self, usize), BackendError> {
            let rank = out_shape.len();
            let x_shape = padded(in_shape, rank);
            let c_shape = padded(c.shape(), rank);
            let pad1 = |mut v: Vec<u64>, fill: u64| {
                if v.is_empty() {
                    v.push(fill);
                }
                v
            };
            let dims = pad1(out_shape.iter().map(|&d| d as u64).collect(), 1);
            Ok((
                Kernel::Binary {
                    op,
                    c: upload32(&mut c.iter().copied())?,
                    dims: device.upload(&dims)?,
                    xstr: device.upload(&pad1(broadcast_strides(&x_shape), 0))?,
                    cstr: device.upload(&pad1(broadcast_strides(&c_shape), 0))?,
                    rank: int(rank)?,
                    sample_x: in_shape.iter().product(),
                },
                0,
            ))
        };
        let pool = |kernel: &[usize; 2], strides: &[usize; 2], pads: &[usize; 4]| match (
            in_shape, out_shape,
        ) {
            ([n, c, h, w], [_, _, oh, ow]) => Ok(Pool {
                planes: (n * c) as u64,
                h: *h as u64,
                w: *w as u64,
                oh: *oh as u64,
                ow: *ow as u64,
                kernel: [kernel[0] as u64, kernel[1] as u64],
                strides: [strides[0] as u64, strides[1] as u64],
                pads: [pads[0] as u64, pads[1] as u64],
            }),
            _ => Err(internal("pool on a sample that is not [N, C, H, W]")),
        };
        Ok(match op {
            Op::Gemm { weight, bias } => {
                let (n_out, n_in) = weight.dim();
                let lead = in_shape[..in_shape.len().saturating_sub(1)]
                    .iter()
                    .product::<usize>();
                if n_in == 0 {
                    return Err(refuse(name, "its input rows are empty"));
                }
                (
                    Kernel::Gemm {
                        weight: upload32(&mut weight.iter().copied())?,
                        bias: bias
                            .as_ref()
                            .map(|b| upload32(&mut b.iter().copied()))
                            .transpose()?,
                        n_in,
                        n_out,
                        lead,
                    },
                    0,
                )
            }
            Op::Add { c } => binary(0, c)?,
            Op::Sub { c } => binary(1, c)?,
            Op::Mul { c } => binary(2, c)?,
            Op::Div { c } => binary(3, c)?,
            Op::Relu => (Kernel::Relu, 0),
            Op::Sigmoid => (Kernel::Sigmoid, 0),
            Op::Tanh => (Kernel::Tanh, 0),
            Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => (Kernel::Alias, 0),
            Op::Transpose { .. } | Op::Pad { .. } => {
                let sources =
                    crate::layout::gather_sources(op, in_shape).map_err(|e| refuse(name, e))?;
                let sample_x = in_shape.iter().product::<usize>();
                if sources.len() != out_shape.iter().product::<usize>() {
                    return Err(internal(format!(
                        "the gather of node '{name}' has the wrong length"
                    )));
                }
                if crate::layout::is_identity(&sources, sample_x) {
                    // Only axes of length 1 move, or nothing is padded.
                    return Ok((Kernel::Alias, 0));
                }
                let src: Vec<u64> = sources
                    .iter()
                    .map(|s| s.map_or(u64::MAX, |k| k as u64))
                    .collect();
                let value = match op {
                    Op::Pad { value, .. } => T::from_f32(*value),
                    _ => T::zero(),
                };
                (
                    Kernel::Gather {
                        src: device.upload(&src)?,
                        sample_x,
                        value,
                    },
                    0,
                )
            }
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
                let (_, _, kh, kw) = weight.dim();
                let work = n * c * kh * kw * oh * ow;
                (
                    Kernel::Conv2d(Box::new(Conv {
                        weight: upload32(&mut weight.iter().copied())?,
                        bias: bias
                            .as_ref()
                            .map(|b| upload32(&mut b.iter().copied()))
                            .transpose()?,
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
                        pads: [pads[0], pads[1]],
                        dilations: *dilations,
                        group: *group,
                    })),
                    work,
                )
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                epsilon,
            } => {
                let channels = scale.len();
                let inner = match in_shape {
                    [_, c, rest @ ..] if *c == channels => rest.iter().product::<usize>(),
                    _ => return Err(internal("BatchNorm channel count mismatch")),
                };
                // As the CPU backend: the factor in f64, then converted.
                let eps = f64::from(*epsilon);
                let factor: Vec<T> = scale
                    .iter()
                    .zip(var)
                    .map(|(&s, &v)| T::from_f64(f64::from(s) / (f64::from(v) + eps).sqrt()))
                    .collect();
                (
                    Kernel::BatchNorm {
                        factor: device.upload(&factor)?,
                        mean: upload32(&mut mean.iter().copied())?,
                        bias: upload32(&mut bias.iter().copied())?,
                        channels: channels as u64,
                        inner: inner as u64,
                    },
                    0,
                )
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
            } => (Kernel::MaxPool(pool(kernel, strides, pads)?), 0),
            Op::AveragePool {
                kernel,
                strides,
                pads,
                count_include_pad,
            } => (
                Kernel::AveragePool {
                    pool: pool(kernel, strides, pads)?,
                    count_include_pad: *count_include_pad,
                },
                0,
            ),
            Op::Sum | Op::Concat { .. } => {
                return Err(internal(format!(
                    "{} planned as an op of one input",
                    op.kind()
                )))
            }
            Op::Softmax { axis } => {
                let axis = *axis;
                if axis >= in_shape.len() {
                    return Err(internal("Softmax axis out of range"));
                }
                (
                    Kernel::Softmax {
                        outer: in_shape[..axis].iter().product::<usize>() as u64,
                        len: in_shape[axis] as u64,
                        inner: in_shape[axis + 1..].iter().product::<usize>() as u64,
                    },
                    0,
                )
            }
        })
    }
}

impl<T: DevReal> Step<T> {
    /// Runs the step on `x`, `[rows, ...in_shape]` on the device.
    fn exec(
        &self,
        device: &Device,
        x: Rc<CudaSlice<T>>,
        rows: usize,
    ) -> Result<Rc<CudaSlice<T>>, BackendError> {
        let k = T::kernels(device);
        let stream = &device.stream;
        let launch_err = |e| cuda_err("launching a kernel", e);
        let total = rows * self.out_len;
        let total64 = total as u64;
        Ok(match &self.kernel {
            Kernel::Alias => x,
            Kernel::Gemm {
                weight,
                bias,
                n_in,
                n_out,
                lead,
            } => {
                let r = rows * lead;
                let mut y = device.zeros::<T>(r * n_out)?;
                gemm_rows(device, weight, &x, &mut y, r, *n_in, *n_out)?;
                if let Some(b) = bias {
                    let (r64, n64) = (r as u64, *n_out as u64);
                    let mut l = stream.launch_builder(&k.bias_rows);
                    l.arg(&mut y).arg(b).arg(&r64).arg(&n64);
                    // SAFETY: y is [r, n_out], b has n_out values.
                    unsafe { l.launch(grid(r * n_out)) }.map_err(launch_err)?;
                }
                Rc::new(y)
            }
            Kernel::Binary {
                op,
                c,
                dims,
                xstr,
                cstr,
                rank,
                sample_x,
            } => {
                let mut y = device.zeros::<T>(total)?;
                let (so, sx) = (self.out_len as u64, *sample_x as u64);
                let mut l = stream.launch_builder(&k.binary);
                l.arg(&mut y)
                    .arg(&*x)
                    .arg(c)
                    .arg(&total64)
                    .arg(&so)
                    .arg(&sx)
                    .arg(dims)
                    .arg(xstr)
                    .arg(cstr)
                    .arg(rank)
                    .arg(op);
                // SAFETY: the strides address x within [rows, sample_x] and c
                // within its shape (broadcasting was checked by validation).
                unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                Rc::new(y)
            }
            Kernel::Relu | Kernel::Sigmoid | Kernel::Tanh => {
                let f = match &self.kernel {
                    Kernel::Relu => &k.relu,
                    Kernel::Sigmoid => &k.sigmoid,
                    _ => &k.tanh,
                };
                let mut y = owned(device, x)?;
                let mut l = stream.launch_builder(f);
                l.arg(&mut y).arg(&total64);
                // SAFETY: y holds total values.
                unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                Rc::new(y)
            }
            Kernel::BatchNorm {
                factor,
                mean,
                bias,
                channels,
                inner,
            } => {
                let mut y = owned(device, x)?;
                let mut l = stream.launch_builder(&k.batchnorm);
                l.arg(&mut y)
                    .arg(factor)
                    .arg(mean)
                    .arg(bias)
                    .arg(&total64)
                    .arg(channels)
                    .arg(inner);
                // SAFETY: y holds total values; per-channel arrays have `channels`.
                unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                Rc::new(y)
            }
            Kernel::Softmax { outer, len, inner } => {
                let mut y = owned(device, x)?;
                let lanes = rows as u64 * outer;
                let mut l = stream.launch_builder(&k.softmax);
                l.arg(&mut y).arg(&lanes).arg(len).arg(inner);
                // SAFETY: y is [lanes / inner, len, inner].
                unsafe { l.launch(grid((lanes * inner) as usize)) }.map_err(launch_err)?;
                Rc::new(y)
            }
            Kernel::MaxPool(p) | Kernel::AveragePool { pool: p, .. } => {
                let mut y = device.zeros::<T>(total)?;
                let planes = rows as u64 * p.planes;
                let include = match &self.kernel {
                    Kernel::AveragePool {
                        count_include_pad, ..
                    } => Some(i32::from(*count_include_pad)),
                    _ => None,
                };
                let mut l = match &self.kernel {
                    Kernel::MaxPool(_) => stream.launch_builder(&k.maxpool),
                    _ => stream.launch_builder(&k.avgpool),
                };
                l.arg(&*x)
                    .arg(&mut y)
                    .arg(&planes)
                    .arg(&p.h)
                    .arg(&p.w)
                    .arg(&p.oh)
                    .arg(&p.ow)
                    .arg(&p.kernel[0])
                    .arg(&p.kernel[1])
                    .arg(&p.strides[0])
                    .arg(&p.strides[1])
                    .arg(&p.pads[0])
                    .arg(&p.pads[1]);
                if let Some(include) = &include {
                    l.arg(include);
                }
                // SAFETY: x is [planes, h, w], y is [planes, oh, ow].
                unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                Rc::new(y)
            }
            Kernel::Gather {
                src,
                sample_x,
                value,
            } => {
                if x.len() != rows * sample_x {
                    return Err(internal("gather input has the wrong length"));
                }
                let mut y = device.zeros::<T>(total)?;
                let (so, sx) = (self.out_len as u64, *sample_x as u64);
                let mut l = stream.launch_builder(&k.gather);
                l.arg(&mut y)
                    .arg(&*x)
                    .arg(src)
                    .arg(&total64)
                    .arg(&so)
                    .arg(&sx)
                    .arg(value);
                // SAFETY: y is [rows, out_len], x is [rows, sample_x]; src
                // has out_len entries, each below sample_x or u64::MAX (not
                // read).
                unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                Rc::new(y)
            }
            Kernel::Conv2d(conv) => Rc::new(conv.run(device, &x, rows)?),
            Kernel::Sum | Kernel::Concat { .. } => {
                return Err(internal("a step of several inputs run on one"))
            }
        })
    }

    /// Runs a step of several inputs (`Sum`, `Concat`) on `parts`, each
    /// `[rows, ...]` on the device.
    fn exec_many(
        &self,
        device: &Device,
        parts: Vec<Rc<CudaSlice<T>>>,
        rows: usize,
    ) -> Result<Rc<CudaSlice<T>>, BackendError> {
        let k = T::kernels(device);
        let stream = &device.stream;
        let launch_err = |e| cuda_err("launching a kernel", e);
        let total = rows * self.out_len;
        let total64 = total as u64;
        match &self.kernel {
            Kernel::Sum => {
                let mut parts = parts.into_iter();
                let first = parts.next().ok_or_else(|| internal("Sum of no value"))?;
                // (a + b) + c ...: into a's buffer when no other value shares it.
                let mut y = owned(device, first)?;
                if y.len() != total {
                    return Err(internal("Sum operand has the wrong length"));
                }
                for x in parts {
                    if x.len() != total {
                        return Err(internal("Sum operand has the wrong length"));
                    }
                    let mut l = stream.launch_builder(&k.add_into);
                    l.arg(&mut y).arg(&*x).arg(&total64);
                    // SAFETY: y and x both hold total values.
                    unsafe { l.launch(grid(total)) }.map_err(launch_err)?;
                }
                Ok(Rc::new(y))
            }
            Kernel::Concat {
                out_block,
                blocks,
                offsets,
            } => {
                if parts.len() != blocks.len() || *out_block == 0 || total % out_block != 0 {
                    return Err(internal("Concat geometry"));
                }
                let outer = total / out_block;
                let mut y = device.zeros::<T>(total)?;
                for ((x, &block), &offset) in parts.iter().zip(blocks).zip(offsets) {
                    let len = outer * block;
                    if x.len() != len {
                        return Err(internal("Concat operand has the wrong length"));
                    }
                    if len == 0 {
                        continue;
                    }
                    let (len64, b64, ob64, off64) =
                        (len as u64, block as u64, *out_block as u64, offset as u64);
                    let mut l = stream.launch_builder(&k.concat_part);
                    l.arg(&mut y)
                        .arg(&**x)
                        .arg(&len64)
                        .arg(&b64)
                        .arg(&ob64)
                        .arg(&off64);
                    // SAFETY: x is [outer, block], y is [outer, out_block] and
                    // offset + block <= out_block.
                    unsafe { l.launch(grid(len)) }.map_err(launch_err)?;
                }
                Ok(Rc::new(y))
            }
            _ => Err(internal("a step of one input run on several")),
        }
    }
}

impl<T: DevReal> Conv<T> {
    /// im2col, then per group one GEMM batched over the images; `x` is
    /// `[rows, N, C, H, W]`.
    fn run(
        &self,
        device: &Device,
        x: &CudaSlice<T>,
        rows: usize,
    ) -> Result<CudaSlice<T>, BackendError> {
        let k = T::kernels(device);
        let images = rows * self.n;
        let (cg, mg) = (self.c / self.group, self.m / self.group);
        let ohw = self.oh * self.ow;
        let kk = cg * self.kh * self.kw;
        let col_len = images * self.c * self.kh * self.kw * ohw;
        let mut col = device.zeros::<T>(col_len)?;
        let a = [
            images,
            self.c,
            self.h,
            self.w,
            self.kh,
            self.kw,
            self.oh,
            self.ow,
            self.strides[0],
            self.strides[1],
            self.pads[0],
            self.pads[1],
            self.dilations[0],
            self.dilations[1],
        ]
        .map(|v| v as u64);
        let mut l = device.stream.launch_builder(&k.im2col);
        l.arg(x).arg(&mut col);
        for v in &a {
            l.arg(v);
        }
        // SAFETY: x is [images, C, H, W]; col is [images, C, kH, kW, OH, OW].
        unsafe { l.launch(grid(col_len)) }.map_err(|e| cuda_err("launching im2col", e))?;
        drop(l);
        let mut y = device.zeros::<T>(images * self.m * ohw)?;
        // Column-major view per image and group: Yᵀ (ohw x mg) = colᵀ (ohw x K) · Wgᵀ (K x mg).
        for g in 0..self.group {
            let cfg = StridedBatchedConfig {
                gemm: GemmConfig {
                    transa: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N,
                    transb: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N,
                    m: int(ohw)?,
                    n: int(mg)?,
                    k: int(kk)?,
                    alpha: T::one(),
                    lda: int(ohw)?,
                    ldb: int(kk)?,
                    beta: T::zero(),
                    ldc: int(ohw)?,
                },
                batch_size: int(images)?,
                stride_a: (self.group * kk * ohw) as i64,
                stride_b: 0,
                stride_c: (self.m * ohw) as i64,
            };
            let a = col.slice(g * kk * ohw..);
            let b = self.weight.slice(g * mg * kk..);
            let mut c = y.slice_mut(g * mg * ohw..);
            // SAFETY: image i of group g reads col[i, g*cg.., .., ..] (K x ohw),
            // the weights of group g (mg x K) and writes y[i, g*mg.., ..]
            // (mg x ohw); all lie within the buffers.
            unsafe { T::gemm_batched(&device.blas, cfg, &a, &b, &mut c) }?;
        }
        drop(col);
        if let Some(b) = &self.bias {
            let total = y.len();
            let (t64, m64, ohw64) = (total as u64, self.m as u64, ohw as u64);
            let mut l = device.stream.launch_builder(&k.channel_bias);
            l.arg(&mut y).arg(b).arg(&t64).arg(&m64).arg(&ohw64);
            // SAFETY: y is [images, M, ohw]; b has M values.
            unsafe { l.launch(grid(total)) }.map_err(|e| cuda_err("launching conv bias", e))?;
        }
        Ok(y)
    }
}
