//! The exact checker on ReLU-split proof trees: a region that a fixed phase
//! makes empty refutes everything, a non-empty one does not, and a split
//! must name a neuron that exists.

use axiom_certs::check::check_proof;
use axiom_certs::evidence::{CaseProof, Evidence, LeafProof, ProofNode, Refutation};
use axiom_core::graph::{GraphBuilder, Op};
use axiom_core::vnnlib;

/// `y = relu(x)`.
fn relu_net() -> axiom_core::Graph {
    let mut b = GraphBuilder::new("relu", "x", vec![1]);
    let z = b.push(
        "fc",
        Op::Gemm {
            weight: ndarray::arr2(&[[1.0]]),
            bias: None,
        },
        b.input(),
    );
    let a = b.push("relu", Op::Relu, z);
    b.finish(a).unwrap()
}

/// "Some x in [lo, hi] gives y <= t".
fn property(lo: f64, hi: f64, t: f64) -> axiom_core::spec::Property {
    vnnlib::parse(&format!(
        "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n\
         (assert (>= X_0 {lo}))\n(assert (<= X_0 {hi}))\n(assert (<= Y_0 {t}))\n"
    ))
    .unwrap()
}

fn leaf() -> ProofNode {
    ProofNode::Leaf(LeafProof {
        refutations: vec![Refutation::Bound {
            disjunct: 0,
            multipliers: vec![1.0],
            relu_slopes: Vec::new(),
            lower_bound: f64::INFINITY,
        }],
    })
}

/// A proof that splits the only ReLU and claims a bound refutation on both
/// phases.
fn split_proof(lo: f64, hi: f64, neuron: usize) -> Evidence {
    Evidence {
        cases: vec![CaseProof {
            case: 0,
            lower: vec![lo],
            upper: vec![hi],
            root: ProofNode::ReluSplit {
                relu_layer: 0,
                neuron,
                refutations: Vec::new(),
                children: Box::new([leaf(), leaf()]),
            },
        }],
    }
}

#[test]
fn both_phases_check_when_one_of_them_is_empty() {
    // On x in [0.5, 1] the inactive phase (x <= 0) is empty; on the active
    // one y = x >= 0.5 > 0.25.
    let report = check_proof(
        &relu_net(),
        &property(0.5, 1.0, 0.25),
        &split_proof(0.5, 1.0, 0),
    )
    .expect("the proof holds");
    assert_eq!((report.leaves, report.bound_refutations), (2, 2));
}

#[test]
fn a_non_empty_phase_is_not_refuted_for_free() {
    // On x in [-1, 1] the inactive phase holds x = 0, where y = 0 <= 0.25:
    // the property is violated, and the claimed refutation must fail.
    let err = check_proof(
        &relu_net(),
        &property(-1.0, 1.0, 0.25),
        &split_proof(-1.0, 1.0, 0),
    )
    .expect_err("a violated property must not check");
    assert!(err.place.ends_with("'i'"), "the inactive leaf fails: {err}");
}

#[test]
fn a_split_must_name_an_existing_neuron() {
    let err = check_proof(
        &relu_net(),
        &property(0.5, 1.0, 0.25),
        &split_proof(0.5, 1.0, 1),
    )
    .expect_err("neuron 1 does not exist");
    assert!(err.reason.contains("neuron 1"), "{err}");
}
