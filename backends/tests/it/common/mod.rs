//! Test networks shared by the backend test files (`ops.rs`, `parity.rs`):
//! a deterministic generator, random MLPs and a CNN with every
//! convolutional op.
#![allow(dead_code)] // each test file uses its own subset

use axiom_core::{Graph, GraphBuilder, Op};
use ndarray::{Array1, Array2, Array4, ArrayD};

/// Deterministic pseudo-random values in [-1, 1).
pub fn lcg(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32) / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// The activations a random MLP may use between its Gemm layers.
pub const ACTIVATIONS: [fn() -> Op; 4] =
    [|| Op::Relu, || Op::Sigmoid, || Op::Tanh, || Op::Identity];

/// An MLP: an optional ACAS-style Sub of a mean and Flatten, then Gemm
/// layers of the given widths each followed by `acts[i]`.
pub fn mlp(seed: u64, input: usize, widths: &[usize], acts: &[fn() -> Op]) -> Graph {
    let acas = seed % 2 == 0;
    let shape = if acas {
        vec![1, 1, 1, input]
    } else {
        vec![input]
    };
    let mut b = GraphBuilder::new("mlp", "x", shape);
    let mut v = b.input();
    if acas {
        let mean = ArrayD::from_shape_vec(vec![1, 1, 1, input], lcg(seed + 1, input)).unwrap();
        v = b.push("sub", Op::Sub { c: mean }, v);
        v = b.push("flatten", Op::Flatten { axis: 1 }, v);
    }
    let mut width = input;
    for (i, &out) in widths.iter().enumerate() {
        let weight =
            Array2::from_shape_vec((out, width), lcg(seed + 10 + i as u64, out * width)).unwrap();
        let bias = (i % 2 == 0).then(|| Array1::from(lcg(seed + 100 + i as u64, out)));
        v = b.push(format!("fc{i}"), Op::Gemm { weight, bias }, v);
        v = b.push(format!("act{i}"), acts[i % acts.len()](), v);
        width = out;
    }
    b.finish(v).unwrap()
}

/// A CNN using every convolutional op, up to its Flatten.
fn cnn_prefix() -> (GraphBuilder, usize) {
    let mut b = GraphBuilder::new("cnn", "x", vec![1, 2, 8, 8]);
    let mut v = b.push(
        "norm",
        Op::Div {
            c: ArrayD::from_shape_vec(vec![2, 1, 1], vec![0.5, 2.0]).unwrap(),
        },
        0,
    );
    v = b.push(
        "conv1",
        Op::Conv2d {
            weight: Array4::from_shape_vec((4, 2, 3, 3), lcg(1, 72)).unwrap(),
            bias: Some(Array1::from(lcg(2, 4))),
            strides: [1, 1],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
            group: 1,
        },
        v,
    );
    v = b.push(
        "bn",
        Op::BatchNorm {
            scale: Array1::from(lcg(3, 4)),
            bias: Array1::from(lcg(4, 4)),
            mean: Array1::from(lcg(5, 4)),
            var: Array1::from(lcg(6, 4)).mapv(|v| v.abs() + 0.5),
            epsilon: 1e-5,
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    v = b.push(
        "pool",
        Op::MaxPool {
            kernel: [2, 2],
            strides: [2, 2],
            pads: [0; 4],
        },
        v,
    );
    v = b.push(
        "conv2",
        Op::Conv2d {
            weight: Array4::from_shape_vec((4, 2, 3, 2), lcg(7, 48)).unwrap(),
            bias: None,
            strides: [2, 1],
            pads: [1, 0, 1, 1],
            dilations: [1, 2],
            group: 2,
        },
        v,
    );
    v = b.push(
        "avg",
        Op::AveragePool {
            kernel: [2, 2],
            strides: [1, 1],
            pads: [1, 1, 0, 0],
            count_include_pad: false,
        },
        v,
    );
    v = b.push(
        "avg_incl",
        Op::AveragePool {
            kernel: [2, 2],
            strides: [1, 1],
            pads: [0, 0, 1, 1],
            count_include_pad: true,
        },
        v,
    );
    v = b.push("tanh", Op::Tanh, v);
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    (b, v)
}

/// The CNN with a Gemm and a Softmax on top.
pub fn cnn() -> Graph {
    let (b, v) = cnn_prefix();
    let n: usize = b
        .finish(v)
        .unwrap()
        .output_shape()
        .unwrap()
        .iter()
        .product();
    let (mut b, mut v) = cnn_prefix();
    v = b.push(
        "fc",
        Op::Gemm {
            weight: Array2::from_shape_vec((3, n), lcg(8, 3 * n)).unwrap(),
            bias: Some(Array1::from(lcg(9, 3))),
        },
        v,
    );
    v = b.push("softmax", Op::Softmax { axis: 1 }, v);
    b.finish(v).unwrap()
}

/// A random `[out, inp]` Gemm with a bias.
fn fc(seed: u64, out: usize, inp: usize) -> Op {
    Op::Gemm {
        weight: Array2::from_shape_vec((out, inp), lcg(seed, out * inp)).unwrap(),
        bias: Some(Array1::from(lcg(seed + 1, out))),
    }
}

/// A residual block: `y = Gemm2(relu(Gemm1(x))) + x`, then a second block
/// whose skip starts at an intermediate value: `z = Gemm3(h) + h` with
/// `h = relu(y)`.
pub fn residual() -> Graph {
    let mut b = GraphBuilder::new("residual", "x", vec![6]);
    let h = b.push("fc1", fc(30, 8, 6), 0);
    let h = b.push("relu1", Op::Relu, h);
    let h = b.push("fc2", fc(32, 6, 8), h);
    let y = b.push_inputs("skip1", Op::Sum, vec![h, 0], "y");
    let h = b.push("relu2", Op::Relu, y);
    let g = b.push("fc3", fc(34, 6, 6), h);
    let z = b.push_inputs("skip2", Op::Sum, vec![g, h], "z");
    b.finish(z).unwrap()
}

/// ONNX `Sub` of two computed tensors as the importer writes it:
/// `a - b = Sum(a, Mul(b, -1))` with a scalar `-1`.
pub fn sub_of_computed() -> Graph {
    let mut b = GraphBuilder::new("sub", "x", vec![1, 5]);
    let a = b.push("fc_a", fc(40, 4, 5), 0);
    let a = b.push("relu_a", Op::Relu, a);
    let c = b.push("fc_b", fc(42, 4, 5), 0);
    let neg = b.push(
        "d_neg",
        Op::Mul {
            c: ArrayD::from_elem(ndarray::IxDyn(&[]), -1.0),
        },
        c,
    );
    let d = b.push_inputs("d", Op::Sum, vec![a, neg], "d");
    b.finish(d).unwrap()
}

/// Concat along the channel axis (axis 1) of `[1, C, H, W]` samples: the
/// ReLU of the input (2 channels), a Gemm of the whole input reshaped to one
/// channel, and the ReLU again: `[1, 5, 2, 3]`.
pub fn concat_channels() -> Graph {
    let mut b = GraphBuilder::new("concat_c", "x", vec![1, 2, 2, 3]);
    let a = b.push("relu", Op::Relu, 0);
    let f = b.push("flat", Op::Flatten { axis: 1 }, 0);
    let g = b.push("fc", fc(50, 6, 12), f);
    let g = b.push(
        "to_plane",
        Op::Reshape {
            shape: vec![1, 1, 2, 3],
        },
        g,
    );
    let y = b.push_inputs("cat", Op::Concat { axis: 1 }, vec![a, g, a], "y");
    b.finish(y).unwrap()
}

/// Concat along the last axis of `[1, 2, 2, 3]` samples: the ReLU of the
/// input (3 wide) and a Gemm of the whole input reshaped to `[1, 2, 2, 2]`
/// (2 wide): `[1, 2, 2, 5]`, four blocks of 3 + 2 per sample.
pub fn concat_last() -> Graph {
    let mut b = GraphBuilder::new("concat_w", "x", vec![1, 2, 2, 3]);
    let a = b.push("relu", Op::Relu, 0);
    let f = b.push("flat", Op::Flatten { axis: 1 }, 0);
    let g = b.push("fc", fc(60, 8, 12), f);
    let g = b.push(
        "to_2x2x2",
        Op::Reshape {
            shape: vec![1, 2, 2, 2],
        },
        g,
    );
    let y = b.push_inputs("cat", Op::Concat { axis: 3 }, vec![a, g], "y");
    b.finish(y).unwrap()
}

/// A value read by three consumers: `v = Gemm(x)`, read by a ReLU and a
/// `Mul` (both in-place kernels, which must not take it) and by the final
/// `Sum(relu(v), -v, v)`.
pub fn three_readers() -> Graph {
    let mut b = GraphBuilder::new("three", "x", vec![4]);
    let v = b.push("fc", fc(70, 5, 4), 0);
    let p = b.push("relu", Op::Relu, v);
    let q = b.push(
        "neg",
        Op::Mul {
            c: ArrayD::from_elem(vec![1], -1.0),
        },
        v,
    );
    let y = b.push_inputs("sum", Op::Sum, vec![p, q, v], "y");
    b.finish(y).unwrap()
}

/// Sums whose operands are views of the input, a value listed twice, and a
/// single-input Concat: `Sum(x, relu(x))`, `Sum(r, r)` with `r` owned,
/// `Sum(x, x)`, then their `Concat` along the last axis with the
/// single-input Concat of the first.
pub fn sum_buffers() -> Graph {
    let mut b = GraphBuilder::new("buffers", "x", vec![3]);
    let r = b.push("relu", Op::Relu, 0);
    let s1 = b.push_inputs("x_plus_r", Op::Sum, vec![0, r], "s1");
    let t = b.push("tanh", Op::Tanh, 0);
    let s2 = b.push_inputs("t_plus_t", Op::Sum, vec![t, t], "s2");
    let s3 = b.push_inputs("x_plus_x", Op::Sum, vec![0, 0], "s3");
    let one = b.push_inputs("one", Op::Concat { axis: 0 }, vec![s1], "one");
    let y = b.push_inputs("cat", Op::Concat { axis: 0 }, vec![one, s2, s3], "y");
    b.finish(y).unwrap()
}

/// Every DAG test graph, by name.
pub fn dag_graphs() -> Vec<(&'static str, Graph)> {
    vec![
        ("residual", residual()),
        ("sub_of_computed", sub_of_computed()),
        ("concat_channels", concat_channels()),
        ("concat_last", concat_last()),
        ("three_readers", three_readers()),
        ("sum_buffers", sum_buffers()),
    ]
}

/// `Pad -> Conv2d -> Relu -> Transpose -> Flatten -> Gemm` on `[1, 2, 4, 5]`:
/// one row of 0.5 before the height, two columns after the width
/// (`[1, 2, 5, 7]`), a 2x3 convolution to `[1, 3, 4, 5]`, channels moved
/// last (`[1, 4, 5, 3]`), flattened to `[1, 60]`, a Gemm to 4 outputs.
pub fn pad_conv_transpose() -> Graph {
    let mut b = GraphBuilder::new("pad_conv_transpose", "x", vec![1, 2, 4, 5]);
    let mut v = b.push(
        "pad",
        Op::Pad {
            pads: vec![0, 0, 1, 0, 0, 0, 0, 2],
            value: 0.5,
        },
        0,
    );
    v = b.push(
        "conv",
        Op::Conv2d {
            weight: Array4::from_shape_vec((3, 2, 2, 3), lcg(40, 36)).unwrap(),
            bias: Some(Array1::from(lcg(41, 3))),
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
            group: 1,
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    v = b.push(
        "nhwc",
        Op::Transpose {
            perm: vec![0, 2, 3, 1],
        },
        v,
    );
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    v = b.push("fc", fc(42, 4, 60), v);
    b.finish(v).unwrap()
}
