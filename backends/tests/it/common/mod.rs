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
