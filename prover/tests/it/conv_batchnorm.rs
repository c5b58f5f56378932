//! A convolutional network with BatchNorm (irrational factors) end to end:
//! the engine's verdicts on thresholds below the sampled maximum, between it
//! and a sound upper bound, and above that bound, each re-checked by the
//! exact checker of `axiom-certs` (which lowers Conv2d, BatchNorm and
//! AveragePool itself). Regression: counterexamples of convolutional
//! networks used to be thrown away because the checker refused Conv2d.

use axiom_certs::check::{check_counterexample, check_proof};
use axiom_core::graph::{GraphBuilder, Op};
use axiom_prover::bounds::{bound_batch, Method, Objectives};
use axiom_prover::{verify, Network, Verdict, VerifyOptions};
use ndarray::{arr1, arr2, Array2, Array4};
use std::time::Duration;

use crate::common::Rng;

/// `[1, 1, 4, 4]` -> Conv2d 3x3 (2 channels, pad 1) -> BatchNorm -> ReLU ->
/// AveragePool 2x2 -> Flatten -> Gemm (one output).
fn graph() -> axiom_core::Graph {
    let mut rng = Rng(0xc0_4e);
    let mut b = GraphBuilder::new("conv-bn", "x", vec![1, 1, 4, 4]);
    let mut v = b.input();
    v = b.push(
        "conv",
        Op::Conv2d {
            weight: Array4::from_shape_fn((2, 1, 3, 3), |_| rng.dyadic(1.0, 32.0) as f32),
            bias: Some(arr1(&[0.25, -0.125])),
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
            scale: arr1(&[0.8, -1.1]),
            bias: arr1(&[0.1, 0.2]),
            mean: arr1(&[0.05, -0.3]),
            var: arr1(&[1.7, 0.6]),
            epsilon: 1e-5,
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    v = b.push(
        "pool",
        Op::AveragePool {
            kernel: [2, 2],
            strides: [2, 2],
            pads: [0, 0, 0, 0],
            count_include_pad: true,
        },
        v,
    );
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    v = b.push(
        "fc",
        Op::Gemm {
            weight: Array2::from_shape_fn((1, 8), |(_, c)| {
                [0.5f32, -0.75, 1.0, 0.25, -0.5, 0.75, 0.125, -1.0][c]
            }),
            bias: Some(arr1(&[0.0])),
        },
        v,
    );
    b.finish(v).expect("the network is well formed")
}

fn property(threshold: f64) -> axiom_core::spec::Property {
    let mut text = String::new();
    for i in 0..16 {
        text +=
            &format!("(declare-const X_{i} Real)\n(assert (>= X_{i} 0))\n(assert (<= X_{i} 1))\n");
    }
    text += &format!("(declare-const Y_0 Real)\n(assert (>= Y_0 {threshold}))\n");
    axiom_core::vnnlib::parse(&text).expect("the property parses")
}

#[test]
fn conv_batchnorm_verdicts_are_rechecked_exactly() {
    let graph = graph();
    let net = Network::from_graph(&graph).expect("Conv2d, BatchNorm and AveragePool lower");
    // The sampled maximum and a sound upper bound of the output.
    let mut rng = Rng(7);
    let sampled_max = (0..2000)
        .map(|_| net.eval(&(0..16).map(|_| rng.unit()).collect::<Vec<_>>())[0])
        .fold(f64::NEG_INFINITY, f64::max);
    let lower = Array2::zeros((1, 16));
    let upper = Array2::ones((1, 16));
    let objectives = Objectives {
        rows: arr2(&[[-1.0]]),
    };
    let bb = bound_batch(
        &net,
        lower.view(),
        upper.view(),
        &objectives,
        Method::Interval,
    );
    let bound = -bb.objective_lower[[0, 0]];
    assert!(
        bound.is_finite() && bound > sampled_max,
        "{bound} vs {sampled_max}"
    );
    let options = VerifyOptions {
        timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    // Reachable: a sampled point is above it.
    let p = property(sampled_max - 0.01);
    match verify(&graph, &p, &options).verdict {
        Verdict::Disproved { counterexample } => {
            check_counterexample(&graph, &p, &counterexample).expect("the exact checker accepts")
        }
        other => panic!(
            "below the sampled maximum: expected sat, got {}",
            other.word()
        ),
    }
    // Unreachable: above a sound bound.
    let p = property(bound + 0.5);
    match verify(&graph, &p, &options).verdict {
        Verdict::Proved { evidence } => {
            check_proof(&graph, &p, &evidence).expect("the exact checker accepts");
        }
        other => panic!("above a sound bound: expected unsat, got {}", other.word()),
    }
    // In between: any verdict, but re-checked.
    let p = property(0.5 * (sampled_max + bound));
    match verify(&graph, &p, &options).verdict {
        Verdict::Proved { evidence } => {
            check_proof(&graph, &p, &evidence).expect("the exact checker accepts");
        }
        Verdict::Disproved { counterexample } => {
            check_counterexample(&graph, &p, &counterexample).expect("the exact checker accepts")
        }
        Verdict::Unknown { .. } => {}
    }
}
