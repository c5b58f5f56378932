//! The graph IR: one [`Graph`] type, one [`Op`] enum, shape inference and
//! validation.
//!
//! A graph has exactly one input and one output (the setting of verification:
//! `y = f(x)`). Values are numbered: value 0 is the graph input and node `i`
//! produces value `i + 1`; a node may only read values produced before it, so
//! the node list is a topological order by construction.
//!
//! Shapes are *per-sample* shapes, exactly as the model declares them (ACAS Xu
//! declares its input `[1, 1, 1, 5]`). Backends run a batch by putting one
//! more axis in front; every op is defined on a single sample.
//!
//! Constants (weights, biases, the operands of `Add`/`Sub`/`Mul`/`Div`) live
//! inside the ops as float32 arrays. The semantics the prover reasons about is
//! the real-arithmetic function with those float32 values taken as exact
//! rationals.

use ndarray::{Array1, Array2, Array4, ArrayD};
use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Location, Result};

/// A per-sample tensor shape.
pub type Shape = Vec<usize>;

/// Every value of a graph holds fewer than this many elements per sample
/// (2^31, the count of a signed 32-bit index). The largest real inputs are
/// images (3×224×224 is about 2^17 elements) and the largest activations a
/// few million; a shape at the limit would be 8 GiB of float32 per sample,
/// so it can only be a mistake in the file. Below it, every element count
/// (and every product of two of them) fits a `usize`.
pub const ELEMENT_LIMIT: usize = 1 << 31;

/// The number of elements of `shape`, or `None` when it is not below
/// [`ELEMENT_LIMIT`] (or overflows on the way).
///
/// ```
/// use axiom_core::graph::element_count;
/// assert_eq!(element_count(&[3, 224, 224]), Some(150_528));
/// assert_eq!(element_count(&[1 << 62, 1 << 62, 16]), None);
/// ```
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n < ELEMENT_LIMIT)
}

/// Why a shape is too large, as a sentence's tail: "has N elements" or "has
/// more elements than a 64-bit count holds".
fn too_many_elements(shape: &[usize]) -> String {
    match shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) {
        Some(n) => format!(
            "shape {shape:?} has {n} elements; a value may hold fewer than 2^31 ({ELEMENT_LIMIT}) per sample"
        ),
        None => format!(
            "shape {shape:?} has more elements than a 64-bit count holds; a value may hold fewer than 2^31 ({ELEMENT_LIMIT}) per sample"
        ),
    }
}

/// Index of a value: 0 is the graph input, `i + 1` the output of node `i`.
pub type ValueId = usize;

/// One operation. Every op but [`Op::Sum`] and [`Op::Concat`] reads exactly
/// one computed value; constants are stored in the op.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `y = x · Wᵀ + b` over the last axis. `weight` is `[out, in]`,
    /// `bias` is `[out]`. ONNX `Gemm` and `MatMul` (weight on either side)
    /// both import to this.
    Gemm {
        weight: Array2<f32>,
        bias: Option<Array1<f32>>,
    },
    /// `y = x + c`, numpy broadcasting of the constant against the sample.
    Add {
        c: ArrayD<f32>,
    },
    /// `y = x - c`.
    Sub {
        c: ArrayD<f32>,
    },
    /// `y = x * c`.
    Mul {
        c: ArrayD<f32>,
    },
    /// `y = x / c` (every element of `c` non-zero).
    Div {
        c: ArrayD<f32>,
    },
    Relu,
    Sigmoid,
    Tanh,
    Identity,
    /// ONNX Flatten: `[d0..d(axis-1)] x [d(axis)..]` into a 2-D shape.
    Flatten {
        axis: usize,
    },
    /// Reshape to a fixed, fully resolved shape with the same element count.
    Reshape {
        shape: Shape,
    },
    /// 2-D convolution on an `[N, C, H, W]` sample. `weight` is
    /// `[M, C / group, kH, kW]`; `pads` is `[top, left, bottom, right]`.
    Conv2d {
        weight: Array4<f32>,
        bias: Option<Array1<f32>>,
        strides: [usize; 2],
        pads: [usize; 4],
        dilations: [usize; 2],
        group: usize,
    },
    /// Inference-mode batch normalisation over axis 1 of an `[N, C, ...]` sample:
    /// `y = scale * (x - mean) / sqrt(var + epsilon) + bias`.
    BatchNorm {
        scale: Array1<f32>,
        bias: Array1<f32>,
        mean: Array1<f32>,
        var: Array1<f32>,
        epsilon: f32,
    },
    /// Max pooling on `[N, C, H, W]`; padding never wins the max.
    MaxPool {
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 4],
    },
    /// Average pooling on `[N, C, H, W]`.
    AveragePool {
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 4],
        count_include_pad: bool,
    },
    /// Softmax along one axis of the sample.
    Softmax {
        axis: usize,
    },
    /// A permutation of the sample's axes: output axis `i` is input axis
    /// `perm[i]` (ONNX `Transpose`).
    Transpose {
        perm: Vec<usize>,
    },
    /// Constant padding: `pads[i]` elements of `value` before axis `i` and
    /// `pads[rank + i]` after it (ONNX `Pad`, mode `constant`).
    Pad {
        pads: Vec<usize>,
        value: f32,
    },
    /// `y = a + b + ...`: the element-wise sum of two or more computed values
    /// of the same shape (a residual connection). ONNX `Add` and `Sum` of
    /// computed tensors import to this.
    Sum,
    /// The concatenation of one or more computed values along `axis` (their
    /// shapes agree on every other axis).
    Concat {
        axis: usize,
    },
}

impl Op {
    /// The op's name as `axiom info` prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Gemm { .. } => "Gemm",
            Op::Add { .. } => "Add",
            Op::Sub { .. } => "Sub",
            Op::Mul { .. } => "Mul",
            Op::Div { .. } => "Div",
            Op::Relu => "Relu",
            Op::Sigmoid => "Sigmoid",
            Op::Tanh => "Tanh",
            Op::Identity => "Identity",
            Op::Flatten { .. } => "Flatten",
            Op::Reshape { .. } => "Reshape",
            Op::Conv2d { .. } => "Conv2d",
            Op::BatchNorm { .. } => "BatchNorm",
            Op::MaxPool { .. } => "MaxPool",
            Op::AveragePool { .. } => "AveragePool",
            Op::Softmax { .. } => "Softmax",
            Op::Sum => "Sum",
            Op::Concat { .. } => "Concat",
            Op::Transpose { .. } => "Transpose",
            Op::Pad { .. } => "Pad",
        }
    }

    /// For `Transpose` or `Pad` on a sample of shape `in_shape`: per element of
    /// the output sample (row-major), the row-major index of the input element it
    /// copies, or `None` where it is `Pad`'s constant. `Err` for any other op, or
    /// a permutation or padding that does not fit `in_shape` (validation refuses
    /// those).
    pub fn gather_sources(
        &self,
        in_shape: &[usize],
    ) -> std::result::Result<Vec<Option<usize>>, String> {
        let op = self;
        let rank = in_shape.len();
        // Row-major strides of the input.
        let mut in_strides = vec![1usize; rank];
        for d in (0..rank.saturating_sub(1)).rev() {
            in_strides[d] = in_strides[d + 1] * in_shape[d + 1];
        }
        // Per output axis: its length, where the input starts along it, the
        // input's length along it and the input stride it steps by.
        let axes: Vec<(usize, usize, usize, usize)> = match op {
            Op::Transpose { perm } => {
                let mut seen = vec![false; rank];
                if perm.len() != rank
                    || perm
                        .iter()
                        .any(|&a| a >= rank || std::mem::replace(&mut seen[a], true))
                {
                    return Err(format!(
                        "{perm:?} is not a permutation of the axes of {in_shape:?}"
                    ));
                }
                perm.iter()
                    .map(|&a| (in_shape[a], 0, in_shape[a], in_strides[a]))
                    .collect()
            }
            Op::Pad { pads, .. } => {
                if pads.len() != 2 * rank {
                    return Err(format!("pads {pads:?} do not fit the shape {in_shape:?}"));
                }
                (0..rank)
                    .map(|d| {
                        let len = in_shape[d]
                            .checked_add(pads[d])
                            .and_then(|v| v.checked_add(pads[rank + d]))
                            .ok_or_else(|| format!("pads {pads:?} overflow on {in_shape:?}"))?;
                        Ok((len, pads[d], in_shape[d], in_strides[d]))
                    })
                    .collect::<std::result::Result<_, String>>()?
            }
            other => return Err(format!("{} is not a gather", other.kind())),
        };
        let out_len = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.0))
            .ok_or_else(|| format!("the output of {} is too large", op.kind()))?;
        let mut sources = Vec::with_capacity(out_len);
        for j in 0..out_len {
            // The output index of element j, last axis first.
            let mut rest = j;
            let mut src = Some(0usize);
            for &(len, start, in_len, stride) in axes.iter().rev() {
                let i = rest % len;
                rest /= len;
                src = match src {
                    Some(s) if i >= start && i - start < in_len => Some(s + (i - start) * stride),
                    _ => None,
                };
            }
            sources.push(src);
        }
        Ok(sources)
    }

    /// How many computed values the op reads: `(min, max)`.
    pub fn arity(&self) -> (usize, usize) {
        match self {
            Op::Sum => (2, usize::MAX),
            Op::Concat { .. } => (1, usize::MAX),
            _ => (1, 1),
        }
    }

    /// The output shape for inputs of shapes `inputs` (as many as the op
    /// reads, see [`Op::arity`]), or why the op cannot take them.
    pub fn output_shape_of(&self, inputs: &[&[usize]]) -> std::result::Result<Shape, String> {
        let (min, max) = self.arity();
        if inputs.len() < min || inputs.len() > max {
            return Err(if min == max {
                format!(
                    "{} takes {min} input, the node lists {}",
                    self.kind(),
                    inputs.len()
                )
            } else {
                format!(
                    "{} takes at least {min} inputs, the node lists {}",
                    self.kind(),
                    inputs.len()
                )
            });
        }
        match self {
            Op::Sum => {
                let first = inputs[0];
                if let Some(other) = inputs.iter().find(|s| *s != &first) {
                    return Err(format!(
                        "Sum of values of different shapes {first:?} and {other:?}; \
                         the operands of a sum of computed values must have the same shape"
                    ));
                }
                self.output_shape(first)
            }
            Op::Concat { axis } => {
                let first = inputs[0];
                if *axis >= first.len() {
                    return Err(format!(
                        "Concat axis {axis} is out of range for input rank {}",
                        first.len()
                    ));
                }
                let mut out = first.to_vec();
                out[*axis] = 0;
                for s in inputs {
                    let agrees = s.len() == first.len()
                        && s.iter()
                            .zip(first.iter())
                            .enumerate()
                            .all(|(a, (x, y))| a == *axis || x == y);
                    if !agrees {
                        return Err(format!(
                            "Concat along axis {axis} of shapes {first:?} and {s:?}, which differ on another axis"
                        ));
                    }
                    out[*axis] = out[*axis].saturating_add(s[*axis]);
                }
                if element_count(&out).is_none() {
                    return Err(format!("the output's {}", too_many_elements(&out)));
                }
                Ok(out)
            }
            _ => self.output_shape(inputs[0]),
        }
    }

    /// Every constant the op holds, by role, in a fixed order.
    pub fn constants(&self) -> Vec<(&'static str, ndarray::ArrayViewD<'_, f32>)> {
        let mut out = Vec::new();
        match self {
            Op::Gemm { weight, bias } => {
                out.push(("weight", weight.view().into_dyn()));
                if let Some(b) = bias {
                    out.push(("bias", b.view().into_dyn()));
                }
            }
            Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c } => {
                out.push(("c", c.view()))
            }
            Op::Conv2d { weight, bias, .. } => {
                out.push(("weight", weight.view().into_dyn()));
                if let Some(b) = bias {
                    out.push(("bias", b.view().into_dyn()));
                }
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                ..
            } => {
                out.push(("scale", scale.view().into_dyn()));
                out.push(("bias", bias.view().into_dyn()));
                out.push(("mean", mean.view().into_dyn()));
                out.push(("var", var.view().into_dyn()));
            }
            Op::Relu
            | Op::Sigmoid
            | Op::Tanh
            | Op::Identity
            | Op::Flatten { .. }
            | Op::Reshape { .. }
            | Op::MaxPool { .. }
            | Op::AveragePool { .. }
            | Op::Softmax { .. }
            | Op::Sum
            | Op::Concat { .. }
            | Op::Transpose { .. }
            | Op::Pad { .. } => {}
        }
        out
    }

    /// Number of scalar parameters (weights, biases, constants).
    pub fn param_count(&self) -> usize {
        self.constants().iter().map(|(_, c)| c.len()).sum()
    }

    /// The output shape for a sample of shape `input`, or why the op cannot
    /// take it (including an input or output shape of [`ELEMENT_LIMIT`]
    /// elements or more).
    pub fn output_shape(&self, input: &[usize]) -> std::result::Result<Shape, String> {
        let numel = element_count(input)
            .ok_or_else(|| format!("the input's {}", too_many_elements(input)))?;
        let shape = self.shape_for(input, numel)?;
        if element_count(&shape).is_none() {
            return Err(format!("the output's {}", too_many_elements(&shape)));
        }
        Ok(shape)
    }

    /// [`Op::output_shape`] for an input of `numel` elements, before the
    /// output's size is checked.
    fn shape_for(&self, input: &[usize], numel: usize) -> std::result::Result<Shape, String> {
        match self {
            Op::Gemm { weight, bias } => {
                let (out, inp) = weight.dim();
                let last = *input
                    .last()
                    .ok_or("Gemm needs an input of rank >= 1, got a scalar")?;
                if last != inp {
                    return Err(format!(
                        "Gemm weight expects {inp} input features, the input's last axis has {last} (input shape {input:?})"
                    ));
                }
                if let Some(b) = bias {
                    if b.len() != out {
                        return Err(format!(
                            "Gemm bias has {} elements, the weight has {out} outputs",
                            b.len()
                        ));
                    }
                }
                let mut s = input.to_vec();
                *s.last_mut().expect("rank checked above") = out;
                Ok(s)
            }
            Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c } => {
                broadcast_shapes(input, c.shape()).ok_or_else(|| {
                    format!(
                        "constant of shape {:?} does not broadcast against input shape {input:?}",
                        c.shape()
                    )
                })
            }
            Op::Relu | Op::Sigmoid | Op::Tanh | Op::Identity | Op::Sum => Ok(input.to_vec()),
            Op::Concat { .. } => Ok(input.to_vec()),
            Op::Transpose { perm } => {
                let mut seen = vec![false; input.len()];
                if perm.len() != input.len()
                    || perm
                        .iter()
                        .any(|&a| a >= input.len() || std::mem::replace(&mut seen[a], true))
                {
                    return Err(format!(
                        "Transpose permutation {perm:?} is not a permutation of the {} axes of {input:?}",
                        input.len()
                    ));
                }
                Ok(perm.iter().map(|&a| input[a]).collect())
            }
            Op::Pad { pads, .. } => {
                if pads.len() != 2 * input.len() {
                    return Err(format!(
                        "Pad lists {} pads for an input of rank {} (it needs two per axis)",
                        pads.len(),
                        input.len()
                    ));
                }
                let rank = input.len();
                input
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| {
                        d.checked_add(pads[i])
                            .and_then(|v| v.checked_add(pads[rank + i]))
                            .filter(|&v| v < ELEMENT_LIMIT)
                            .ok_or_else(|| format!("padding {pads:?} is too large for {input:?}"))
                    })
                    .collect()
            }
            Op::Flatten { axis } => {
                if *axis > input.len() {
                    return Err(format!(
                        "Flatten axis {axis} is out of range for input rank {}",
                        input.len()
                    ));
                }
                let outer: usize = input[..*axis].iter().product();
                let inner: usize = input[*axis..].iter().product();
                Ok(vec![outer, inner])
            }
            Op::Reshape { shape } => {
                let n = element_count(shape)
                    .ok_or_else(|| format!("cannot reshape to {}", too_many_elements(shape)))?;
                if n != numel {
                    return Err(format!(
                        "cannot reshape {input:?} ({numel} elements) to {shape:?} ({n} elements)"
                    ));
                }
                Ok(shape.clone())
            }
            Op::Conv2d {
                weight,
                bias,
                strides,
                pads,
                dilations,
                group,
            } => {
                let [n, c, h, w] = rank4(input, "Conv2d")?;
                let (m, cg, kh, kw) = weight.dim();
                if *group == 0 || c % group != 0 || m % group != 0 || c / group != cg {
                    return Err(format!(
                        "Conv2d weight {:?} with group {group} does not fit {c} input channels",
                        weight.shape()
                    ));
                }
                if let Some(b) = bias {
                    if b.len() != m {
                        return Err(format!(
                            "Conv2d bias has {} elements, the weight has {m} output channels",
                            b.len()
                        ));
                    }
                }
                let oh = window_out(h, kh, strides[0], pads[0], pads[2], dilations[0])?;
                let ow = window_out(w, kw, strides[1], pads[1], pads[3], dilations[1])?;
                Ok(vec![n, m, oh, ow])
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                ..
            } => {
                if input.len() < 2 {
                    return Err(format!("BatchNorm needs [N, C, ...], got {input:?}"));
                }
                let c = input[1];
                for (name, len) in [
                    ("scale", scale.len()),
                    ("bias", bias.len()),
                    ("mean", mean.len()),
                    ("var", var.len()),
                ] {
                    if len != c {
                        return Err(format!(
                            "BatchNorm {name} has {len} elements, the input has {c} channels"
                        ));
                    }
                }
                Ok(input.to_vec())
            }
            Op::MaxPool {
                kernel,
                strides,
                pads,
            }
            | Op::AveragePool {
                kernel,
                strides,
                pads,
                ..
            } => {
                let [n, c, h, w] = rank4(input, self.kind())?;
                let oh = window_out(h, kernel[0], strides[0], pads[0], pads[2], 1)?;
                let ow = window_out(w, kernel[1], strides[1], pads[1], pads[3], 1)?;
                Ok(vec![n, c, oh, ow])
            }
            Op::Softmax { axis } => {
                if *axis >= input.len() {
                    return Err(format!(
                        "Softmax axis {axis} is out of range for input rank {}",
                        input.len()
                    ));
                }
                Ok(input.to_vec())
            }
        }
    }

    /// Checks the op's own constants: finite, and no division by zero.
    fn check_constants(&self) -> std::result::Result<(), String> {
        for (role, c) in self.constants() {
            if let Some(bad) = c.iter().find(|v| !v.is_finite()) {
                return Err(format!("{role} holds a non-finite value ({bad})"));
            }
        }
        match self {
            Op::Pad { value, .. } if !value.is_finite() => {
                Err(format!("Pad value {value} is not finite"))
            }
            Op::Div { c } if c.iter().any(|v| *v == 0.0) => {
                Err("division by a constant that holds a zero".to_string())
            }
            Op::BatchNorm { var, epsilon, .. } => {
                if !(epsilon.is_finite() && *epsilon >= 0.0) {
                    return Err(format!(
                        "BatchNorm epsilon {epsilon} must be finite and >= 0"
                    ));
                }
                if var.iter().any(|v| *v + *epsilon <= 0.0) {
                    return Err("BatchNorm var + epsilon must be > 0 in every channel".into());
                }
                Ok(())
            }
            Op::Conv2d {
                strides, dilations, ..
            } if strides.contains(&0) || dilations.contains(&0) => {
                Err("strides and dilations must be >= 1".into())
            }
            Op::MaxPool { strides, .. } | Op::AveragePool { strides, .. }
                if strides.contains(&0) =>
            {
                Err("strides must be >= 1".into())
            }
            _ => Ok(()),
        }
    }
}

fn rank4(input: &[usize], op: &str) -> std::result::Result<[usize; 4], String> {
    match input {
        [n, c, h, w] => Ok([*n, *c, *h, *w]),
        _ => Err(format!("{op} needs an [N, C, H, W] input, got {input:?}")),
    }
}

/// Output length of a sliding window.
fn window_out(
    len: usize,
    kernel: usize,
    stride: usize,
    pad_before: usize,
    pad_after: usize,
    dilation: usize,
) -> std::result::Result<usize, String> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return Err("kernel, strides and dilations must be >= 1".into());
    }
    let pad = pad_before.saturating_add(pad_after);
    // Padding or a window larger than any axis can hold is a broken file;
    // checked arithmetic keeps it an error rather than an overflow.
    let (Some(span), Some(padded)) = (
        dilation
            .checked_mul(kernel - 1)
            .and_then(|s| s.checked_add(1)),
        len.checked_add(pad).filter(|p| *p < ELEMENT_LIMIT),
    ) else {
        return Err(format!(
            "a window of kernel {kernel}, dilation {dilation} and padding {pad_before} + {pad_after} is too large for any axis"
        ));
    };
    if padded < span {
        return Err(format!(
            "window of extent {span} does not fit an axis of {len} (+{pad} padding)"
        ));
    }
    Ok((padded - span) / stride + 1)
}

/// Numpy broadcasting of two shapes, or `None` when they do not broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// The graph input's name and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    pub name: String,
    pub shape: Shape,
}

/// One node: an op applied to earlier values.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name (the ONNX node name, or a generated one).
    pub name: String,
    pub op: Op,
    /// The values the op reads (one, except for [`Op::Sum`] and
    /// [`Op::Concat`]).
    pub inputs: Vec<ValueId>,
    /// The name of the value this node produces.
    pub output_name: String,
}

/// A validated network with one input and one output.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub name: String,
    pub input: ValueInfo,
    pub nodes: Vec<Node>,
    pub output: ValueId,
    /// Free-form facts from the importer (source format, opset, NNet
    /// normalisation constants). Not part of the function, not in the digest.
    pub metadata: BTreeMap<String, String>,
}

impl Graph {
    /// The per-sample shape of every value (index = [`ValueId`]), or the first
    /// node whose shape does not work out.
    pub fn infer_shapes(&self) -> Result<Vec<Shape>> {
        if element_count(&self.input.shape).is_none() {
            return Err(Error::invalid(format!(
                "input '{}': {}",
                self.input.name,
                too_many_elements(&self.input.shape)
            )));
        }
        let mut shapes = Vec::with_capacity(self.nodes.len() + 1);
        shapes.push(self.input.shape.clone());
        for (i, node) in self.nodes.iter().enumerate() {
            let at = || Location::Node {
                name: node.name.clone(),
                op: node.op.kind().to_string(),
            };
            if let Some(&src) = node.inputs.iter().find(|&&src| src > i) {
                return Err(Error::invalid(format!(
                    "reads value {src}, which is not computed before this node"
                ))
                .at(at()));
            }
            let ins: Vec<&[usize]> = node.inputs.iter().map(|&v| shapes[v].as_slice()).collect();
            let shape = node
                .op
                .output_shape_of(&ins)
                .map_err(|m| Error::invalid(m).at(at()))?;
            shapes.push(shape);
        }
        Ok(shapes)
    }

    /// Full validation: shapes, constants, output reference, non-empty input.
    pub fn validate(&self) -> Result<()> {
        if self.input.shape.contains(&0) {
            return Err(Error::invalid(format!(
                "input '{}' has an empty dimension: {:?}",
                self.input.name, self.input.shape
            )));
        }
        for node in &self.nodes {
            node.op.check_constants().map_err(|m| {
                Error::invalid(m).at(Location::Node {
                    name: node.name.clone(),
                    op: node.op.kind().to_string(),
                })
            })?;
        }
        let shapes = self.infer_shapes()?;
        if self.output >= shapes.len() {
            return Err(Error::invalid(format!(
                "graph output refers to value {} but only {} exist",
                self.output,
                shapes.len()
            )));
        }
        Ok(())
    }

    pub fn input_shape(&self) -> &[usize] {
        &self.input.shape
    }

    /// Number of scalars in one input sample.
    pub fn input_len(&self) -> usize {
        self.input.shape.iter().product()
    }

    /// The output's per-sample shape.
    pub fn output_shape(&self) -> Result<Shape> {
        Ok(self.infer_shapes()?.swap_remove(self.output))
    }

    /// Number of scalars in one output sample.
    pub fn output_len(&self) -> Result<usize> {
        Ok(self.output_shape()?.iter().product())
    }

    /// The name of a value.
    pub fn value_name(&self, id: ValueId) -> &str {
        if id == 0 {
            &self.input.name
        } else {
            &self.nodes[id - 1].output_name
        }
    }

    /// Total number of parameters.
    pub fn param_count(&self) -> usize {
        self.nodes.iter().map(|n| n.op.param_count()).sum()
    }

    /// The same graph without the nodes the output does not depend on.
    pub fn without_dead_nodes(self) -> Graph {
        let live = self.live_nodes();
        if live.iter().all(|&l| l) {
            return self;
        }
        let mut remap = vec![0usize; self.nodes.len() + 1];
        let mut nodes = Vec::new();
        for (i, (node, keep)) in self.nodes.into_iter().zip(live).enumerate() {
            if keep {
                let mut node = node;
                node.inputs = node.inputs.iter().map(|&v| remap[v]).collect();
                nodes.push(node);
                remap[i + 1] = nodes.len();
            }
        }
        Graph {
            output: remap[self.output],
            nodes,
            ..self
        }
    }

    /// The nodes that the output depends on, in order (the others are dead).
    pub fn live_nodes(&self) -> Vec<bool> {
        let mut live = vec![false; self.nodes.len() + 1];
        live[self.output] = true;
        for id in (1..=self.nodes.len()).rev() {
            if live[id] {
                for &src in &self.nodes[id - 1].inputs {
                    live[src] = true;
                }
            }
        }
        live.remove(0);
        live
    }
}

/// Builds a [`Graph`] node by node; `finish` validates it.
///
/// ```
/// use axiom_core::graph::{GraphBuilder, Op};
/// use ndarray::{arr1, arr2};
///
/// let mut b = GraphBuilder::new("tiny", "x", vec![2]);
/// let h = b.push("fc1", Op::Gemm { weight: arr2(&[[1.0, -1.0]]), bias: Some(arr1(&[0.5])) }, b.input());
/// let y = b.push("relu1", Op::Relu, h);
/// let g = b.finish(y).unwrap();
/// assert_eq!(g.output_shape().unwrap(), vec![1]);
/// ```
#[derive(Debug)]
pub struct GraphBuilder {
    graph: Graph,
}

impl GraphBuilder {
    pub fn new(name: impl Into<String>, input_name: impl Into<String>, input_shape: Shape) -> Self {
        GraphBuilder {
            graph: Graph {
                name: name.into(),
                input: ValueInfo {
                    name: input_name.into(),
                    shape: input_shape,
                },
                nodes: Vec::new(),
                output: 0,
                metadata: BTreeMap::new(),
            },
        }
    }

    /// The graph input's value id.
    pub fn input(&self) -> ValueId {
        0
    }

    /// Appends `op` reading `input`; returns the new value's id. The value is
    /// named after the node.
    pub fn push(&mut self, name: impl Into<String>, op: Op, input: ValueId) -> ValueId {
        let name = name.into();
        self.push_named(name.clone(), op, input, name)
    }

    /// Appends `op` reading `input`, naming its output value explicitly.
    pub fn push_named(
        &mut self,
        name: impl Into<String>,
        op: Op,
        input: ValueId,
        output_name: impl Into<String>,
    ) -> ValueId {
        self.graph.nodes.push(Node {
            name: name.into(),
            op,
            inputs: vec![input],
            output_name: output_name.into(),
        });
        self.graph.nodes.len()
    }

    /// Appends `op` reading several values (for [`Op::Sum`] and
    /// [`Op::Concat`]); returns the new value's id.
    pub fn push_inputs(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: Vec<ValueId>,
        output_name: impl Into<String>,
    ) -> ValueId {
        self.graph.nodes.push(Node {
            name: name.into(),
            op,
            inputs,
            output_name: output_name.into(),
        });
        self.graph.nodes.len()
    }

    /// The node that produces value `id` (`id >= 1`).
    pub fn node(&self, id: ValueId) -> &Node {
        &self.graph.nodes[id - 1]
    }

    /// Mutable access to the node that produces value `id` (`id >= 1`), for
    /// importers that fuse a later node into an earlier one.
    pub fn node_mut(&mut self, id: ValueId) -> &mut Node {
        &mut self.graph.nodes[id - 1]
    }

    pub fn metadata(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.graph.metadata.insert(key.into(), value.into());
        self
    }

    /// Finishes with `output` as the graph output, validating everything.
    pub fn finish(mut self, output: ValueId) -> Result<Graph> {
        self.graph.output = output;
        self.graph.validate()?;
        Ok(self.graph)
    }
}

impl fmt::Display for Graph {
    /// A layer table as `axiom info` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes = self.infer_shapes().map_err(|_| fmt::Error)?;
        let live = self.live_nodes();
        writeln!(f, "model {}", self.name)?;
        writeln!(f, "input  {} {:?}", self.input.name, self.input.shape)?;
        writeln!(
            f,
            "output {} {:?}",
            self.value_name(self.output),
            shapes[self.output]
        )?;
        writeln!(f, "layers:")?;
        for (i, node) in self.nodes.iter().enumerate() {
            let params = node.op.param_count();
            let ins: Vec<String> = node
                .inputs
                .iter()
                .map(|&v| format!("{:?}", shapes[v]))
                .collect();
            write!(
                f,
                "  {:>3}  {:<12} {:<28} {} -> {:?}",
                i,
                node.op.kind(),
                node.name,
                ins.join(" + "),
                shapes[i + 1]
            )?;
            if node.inputs.len() > 1 || node.inputs.first() != Some(&i) {
                let names: Vec<&str> = node.inputs.iter().map(|&v| self.value_name(v)).collect();
                write!(f, "  (reads {})", names.join(", "))?;
            }
            if params > 0 {
                write!(f, "  ({params} params)")?;
            }
            if !live[i] {
                write!(f, "  (unused)")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2, Array};

    fn tiny() -> GraphBuilder {
        let mut b = GraphBuilder::new("t", "x", vec![1, 3]);
        let h = b.push(
            "fc",
            Op::Gemm {
                weight: arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
                bias: Some(arr1(&[0.0, 1.0])),
            },
            0,
        );
        b.push("act", Op::Relu, h);
        b
    }

    #[test]
    fn shapes_flow_through() {
        let g = tiny().finish(2).unwrap();
        assert_eq!(
            g.infer_shapes().unwrap(),
            vec![vec![1, 3], vec![1, 2], vec![1, 2]]
        );
        assert_eq!(g.param_count(), 8);
    }

    #[test]
    fn mismatch_names_the_node() {
        let mut b = tiny();
        b.push(
            "fc2",
            Op::Gemm {
                weight: Array::zeros((4, 5)),
                bias: None,
            },
            2,
        );
        let err = b.finish(3).unwrap_err();
        assert_eq!(
            err.location,
            Some(Location::Node {
                name: "fc2".into(),
                op: "Gemm".into()
            })
        );
        assert!(err.message.contains("5 input features"), "{err}");
    }

    #[test]
    fn non_finite_weights_are_rejected() {
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        b.push(
            "bad",
            Op::Gemm {
                weight: arr2(&[[f32::NAN, 1.0]]),
                bias: None,
            },
            0,
        );
        let err = b.finish(1).unwrap_err();
        assert!(err.message.contains("non-finite"), "{err}");
    }

    #[test]
    fn conv_and_pool_shapes() {
        let conv = Op::Conv2d {
            weight: Array::zeros((4, 3, 3, 3)),
            bias: None,
            strides: [2, 2],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
            group: 1,
        };
        assert_eq!(conv.output_shape(&[1, 3, 8, 8]).unwrap(), vec![1, 4, 4, 4]);
        let pool = Op::MaxPool {
            kernel: [2, 2],
            strides: [2, 2],
            pads: [0; 4],
        };
        assert_eq!(pool.output_shape(&[1, 4, 4, 4]).unwrap(), vec![1, 4, 2, 2]);
        assert!(conv.output_shape(&[1, 2, 8, 8]).is_err());
    }

    #[test]
    fn absurd_shapes_are_errors_not_overflows() {
        let huge = 1usize << 62;
        // An input shape whose element count overflows a usize.
        let err = Op::Relu.output_shape(&[huge, huge, 16]).unwrap_err();
        assert!(
            err.contains("more elements than a 64-bit count holds"),
            "{err}"
        );
        let mut b = GraphBuilder::new("t", "x", vec![huge, huge, 16]);
        let y = b.push("r", Op::Relu, 0);
        let err = b.finish(y).unwrap_err();
        assert!(err.message.starts_with("input 'x': shape ["), "{err}");
        // A reshape target that would wrap around to the input's count.
        let reshape = Op::Reshape {
            shape: vec![huge + 1, 4],
        };
        assert!(reshape.output_shape(&[4]).is_err());
        // An output past the limit, from a constant that broadcasts.
        let add = Op::Add {
            c: ArrayD::zeros(ndarray::IxDyn(&[1 << 16, 1])),
        };
        let err = add.output_shape(&[1 << 16]).unwrap_err();
        assert!(err.contains("has 4294967296 elements"), "{err}");
        // Padding and dilation that overflow the window arithmetic.
        let pool = Op::MaxPool {
            kernel: [2, 2],
            strides: [1, 1],
            pads: [usize::MAX, 0, usize::MAX, 0],
        };
        assert!(pool.output_shape(&[1, 1, 4, 4]).is_err());
        let conv = Op::Conv2d {
            weight: Array::zeros((1, 1, 3, 3)),
            bias: None,
            strides: [1, 1],
            pads: [0; 4],
            dilations: [usize::MAX, 1],
            group: 1,
        };
        assert!(conv.output_shape(&[1, 1, 4, 4]).is_err());
        assert_eq!(element_count(&[3, 224, 224]), Some(150_528));
        assert_eq!(element_count(&[1 << 31]), None);
        assert_eq!(element_count(&[(1 << 31) - 1]), Some((1 << 31) - 1));
    }

    #[test]
    fn broadcasting() {
        assert_eq!(
            broadcast_shapes(&[1, 1, 1, 5], &[5]),
            Some(vec![1, 1, 1, 5])
        );
        assert_eq!(broadcast_shapes(&[5], &[1, 5]), Some(vec![1, 5]));
        assert_eq!(broadcast_shapes(&[3], &[2]), None);
    }

    #[test]
    fn dead_nodes_are_found() {
        let mut b = tiny();
        b.push("side", Op::Sigmoid, 1);
        let g = b.finish(2).unwrap();
        assert_eq!(g.live_nodes(), vec![true, true, false]);
    }
}
