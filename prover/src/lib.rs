//! # axiom-prover
//!
//! Axiom's verification engine. Given a network ([`axiom_core::Graph`]) and a
//! property ([`axiom_core::spec::Property`], the unsafe set of a VNN-LIB
//! file), [`verify`] answers [`Verdict::Proved`] with evidence,
//! [`Verdict::Disproved`] with a re-executed counterexample, or
//! [`Verdict::Unknown`] with the reason.
//!
//! - [`network`]: the graph (a DAG) lowered to exact linear layers, sums,
//!   concatenations and element-wise layers;
//! - [`bounds`]: sound bound propagation — the floating-point error model,
//!   interval bounds, the relaxations, CROWN and alpha-CROWN;
//! - [`search`]: branch and bound — the queue loop, refutation of
//!   disjuncts, branching heuristics, the proof tree;
//! - [`attack`] and [`smt`]: falsification, and the exact Z3 encoding;
//! - [`problem`]: the property's cases in float form, and the exact re-check
//!   of counterexamples;
//! - [`verdict`]: verdicts, evidence, options, statistics;
//! - [`rewrite`]: exact graph simplification and search-free proofs (egg).

pub mod attack;
pub mod bounds;
pub mod deadline;
pub mod network;
pub mod problem;
pub mod rewrite;
pub mod search;
pub mod smt;
pub mod verdict;

pub use deadline::Deadline;
pub use network::{Layer, MatrixRef, Network, SparseRows};
pub use problem::{recheck_counterexample, Problem};
pub use search::AUTO_INPUT_SPLIT_MAX_DIM;
pub use verdict::{
    BoxBounder, CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation,
    SplitStrategy, Stats, UnknownReason, Verdict, VerifyOptions, VerifyReport,
};

use axiom_core::spec::Property;
use axiom_core::Graph;

/// Decides whether any input of the property's regions reaches its unsafe
/// output set.
///
/// ```
/// use axiom_core::graph::{GraphBuilder, Op};
/// use axiom_prover::{verify, Verdict, VerifyOptions};
/// use ndarray::{arr1, arr2};
///
/// // y = relu(x0 - x1) on [0, 1]^2.
/// let mut b = GraphBuilder::new("diff", "x", vec![2]);
/// let h = b.push("fc", Op::Gemm { weight: arr2(&[[1.0, -1.0]]), bias: Some(arr1(&[0.0])) }, 0);
/// let y = b.push("relu", Op::Relu, h);
/// let graph = b.finish(y).unwrap();
/// let property = |threshold: &str| {
///     axiom_core::vnnlib::parse(&format!(
///         "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)
///          (assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))
///          (assert (>= Y_0 {threshold}))"
///     ))
///     .unwrap()
/// };
/// // y never exceeds 1: proved, with evidence the independent checker replays.
/// let report = verify(&graph, &property("1.5"), &VerifyOptions::default());
/// let Verdict::Proved { evidence } = &report.verdict else { panic!("{:?}", report.verdict) };
/// axiom_certs::check::check_proof(&graph, &property("1.5"), evidence).unwrap();
/// // y reaches 0.75 (at x = (1, 0.25), say): a re-executed counterexample.
/// let report = verify(&graph, &property("0.75"), &VerifyOptions::default());
/// assert!(matches!(report.verdict, Verdict::Disproved { .. }));
/// ```
pub fn verify(graph: &Graph, property: &Property, options: &VerifyOptions) -> VerifyReport {
    let (verdict, stats) = search::run(graph, property, options);
    VerifyReport { verdict, stats }
}
