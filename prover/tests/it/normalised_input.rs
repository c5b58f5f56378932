//! Division by constants that are not powers of two: the input
//! normalisation `(x - mean) / std` in front of most image networks (std
//! 0.3081 for MNIST). The exact factor `1/std` is not an f64; the engine and
//! the exact checker each enclose it (checked in exact arithmetic) and relax
//! the layer like BatchNorm. Verdicts are re-checked by the checker; where
//! the enclosure cannot decide (a threshold within an ulp of the exact
//! maximum), the answer is `unknown`, never a wrong one.

use axiom_certs::check::{check_counterexample, check_proof};
use axiom_core::graph::{GraphBuilder, Op};
use axiom_prover::bounds::{bound_batch, Method, Objectives};
use axiom_prover::network::reciprocal_enclosure;
use axiom_prover::{verify, Network, Verdict, VerifyOptions};
use ndarray::{arr1, arr2, Array2};
use num_rational::BigRational;
use std::time::Duration;

use crate::common::Rng;

fn options() -> VerifyOptions {
    VerifyOptions {
        timeout: Some(Duration::from_secs(60)),
        max_boxes: Some(20_000),
        ..Default::default()
    }
}

/// `[1, 4]` -> Sub (mean) -> Div (std, per element, none a power of two but
/// one) -> Gemm 4x6 -> ReLU -> Gemm 6x1.
fn graph() -> axiom_core::Graph {
    let mut rng = Rng(0x5eed_0308);
    let mut b = GraphBuilder::new("normalised", "x", vec![1, 4]);
    let mut v = b.input();
    v = b.push(
        "sub",
        Op::Sub {
            c: arr1(&[0.1307f32]).into_dyn(),
        },
        v,
    );
    v = b.push(
        "div",
        Op::Div {
            c: arr2(&[[0.3081f32, 3.0, 0.25, -0.7]]).into_dyn(),
        },
        v,
    );
    v = b.push(
        "fc1",
        Op::Gemm {
            weight: Array2::from_shape_fn((6, 4), |_| rng.dyadic(1.0, 64.0) as f32),
            bias: Some(
                Array2::from_shape_fn((1, 6), |_| rng.dyadic(0.5, 64.0) as f32)
                    .row(0)
                    .to_owned(),
            ),
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    v = b.push(
        "fc2",
        Op::Gemm {
            weight: Array2::from_shape_fn((1, 6), |_| rng.dyadic(1.0, 64.0) as f32),
            bias: None,
        },
        v,
    );
    b.finish(v).expect("the network is well formed")
}

fn property(n: usize, threshold: &str) -> axiom_core::spec::Property {
    let mut text = String::new();
    for i in 0..n {
        text +=
            &format!("(declare-const X_{i} Real)\n(assert (>= X_{i} 0))\n(assert (<= X_{i} 1))\n");
    }
    text += &format!("(declare-const Y_0 Real)\n(assert (>= Y_0 {threshold}))\n");
    axiom_core::vnnlib::parse(&text).expect("the property parses")
}

#[test]
fn reciprocal_enclosures_contain_the_exact_reciprocal() {
    let mut rng = Rng(11);
    let mut divisors = vec![
        0.3081f32,
        -0.3081,
        3.0,
        0.1,
        7.0,
        1e-30,
        -1e30,
        f32::MIN_POSITIVE,
    ];
    divisors.extend((0..200).map(|_| (rng.unit() * 10.0 - 5.0) as f32));
    for c in divisors.into_iter().filter(|c| *c != 0.0) {
        let (lo, hi) = reciprocal_enclosure(c).expect("a finite reciprocal");
        let exact = BigRational::from_float(c).unwrap().recip();
        let (l, h) = (
            BigRational::from_float(lo).unwrap(),
            BigRational::from_float(hi).unwrap(),
        );
        assert!(l <= exact && exact <= h, "{c}: [{lo}, {hi}]");
        // Tight: at most a few ulps wide.
        assert!(
            hi <= lo.next_up().next_up().next_up().next_up(),
            "{c}: [{lo}, {hi}]"
        );
    }
    // A power of two: a point.
    assert_eq!(reciprocal_enclosure(4.0), Some((0.25, 0.25)));
    assert_eq!(reciprocal_enclosure(-0.5), Some((-2.0, -2.0)));
    assert_eq!(reciprocal_enclosure(0.0), None);
    assert_eq!(reciprocal_enclosure(f32::NAN), None);
}

#[test]
fn normalised_networks_are_verified_and_rechecked_exactly() {
    let graph = graph();
    let net = Network::from_graph(&graph).expect("division by 0.3081 lowers");
    // The lowered network computes the graph's function (up to the enclosure).
    let mut rng = Rng(3);
    let mut sampled_max = f64::NEG_INFINITY;
    for _ in 0..2000 {
        let x: Vec<f64> = (0..4).map(|_| rng.unit()).collect();
        sampled_max = sampled_max.max(net.eval(&x)[0]);
    }
    let bb = bound_batch(
        &net,
        Array2::zeros((1, 4)).view(),
        Array2::ones((1, 4)).view(),
        &Objectives {
            rows: arr2(&[[-1.0]]),
        },
        Method::Interval,
    );
    let bound = -bb.objective_lower[[0, 0]];
    assert!(
        bound.is_finite() && bound > sampled_max,
        "{bound} vs {sampled_max}"
    );
    let p = property(4, &format!("{}", sampled_max - 0.01));
    match verify(&graph, &p, &options()).verdict {
        Verdict::Disproved { counterexample } => {
            check_counterexample(&graph, &p, &counterexample).expect("the exact checker accepts")
        }
        other => panic!(
            "below the sampled maximum: expected sat, got {}",
            other.word()
        ),
    }
    let p = property(4, &format!("{}", bound + 0.5));
    match verify(&graph, &p, &options()).verdict {
        Verdict::Proved { evidence } => {
            check_proof(&graph, &p, &evidence).expect("the exact checker accepts");
        }
        other => panic!("above a sound bound: expected unsat, got {}", other.word()),
    }
    let p = property(4, &format!("{}", 0.5 * (sampled_max + bound)));
    match verify(&graph, &p, &options()).verdict {
        Verdict::Proved { evidence } => {
            check_proof(&graph, &p, &evidence).expect("the exact checker accepts");
        }
        Verdict::Disproved { counterexample } => {
            check_counterexample(&graph, &p, &counterexample).expect("the exact checker accepts")
        }
        Verdict::Unknown { .. } => {}
    }
}

#[test]
fn thresholds_within_an_ulp_of_one_third_are_never_answered_wrongly() {
    // y = x / 3 on x in [0, 1]: the exact maximum is 1/3, not an f64.
    let mut b = GraphBuilder::new("third", "x", vec![1]);
    let v = b.push(
        "div",
        Op::Div {
            c: arr1(&[3.0f32]).into_dyn(),
        },
        b.input(),
    );
    let graph = b.finish(v).unwrap();
    let third = "0.333333333333333333333333333333";
    let cases = [
        // (threshold, true answer: reachable?)
        ("0.333333332", true),
        ("0.333333334", false),
        (third, true),                               // below 1/3 by 3e-31
        ("0.333333333333333333333333333334", false), // above 1/3 by 7e-31
    ];
    for (threshold, reachable) in cases {
        let p = property(1, threshold);
        match verify(&graph, &p, &options()).verdict {
            Verdict::Disproved { counterexample } => {
                assert!(reachable, "{threshold}: sat where nothing reaches it");
                check_counterexample(&graph, &p, &counterexample)
                    .expect("the exact checker accepts");
            }
            Verdict::Proved { evidence } => {
                assert!(!reachable, "{threshold}: unsat where x = 1 reaches it");
                check_proof(&graph, &p, &evidence).expect("the exact checker accepts");
            }
            Verdict::Unknown { .. } => {
                // Only where an ulp decides.
                assert!(threshold.len() > 20, "{threshold}: unknown");
            }
        }
    }
}
