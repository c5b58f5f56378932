//! # axiom-prover
//!
//! Axiom's verification engine. Given a network ([`axiom_core::Graph`]) and a
//! property ([`axiom_core::spec::Property`], the unsafe set of a VNN-LIB
//! file), [`verify`] answers [`Verdict::Proved`] with evidence,
//! [`Verdict::Disproved`] with a re-executed counterexample, or
//! [`Verdict::Unknown`] with the reason.
//!
//! - [`network`]: the graph lowered to exact linear layers and activations;
//! - [`problem`]: the property's cases in float form, and the exact re-check
//!   of counterexamples;
//! - [`verdict`]: verdicts, evidence, options, statistics.

pub mod attack;
pub mod bab;
pub mod bounds;
pub mod deadline;
pub mod network;
pub mod problem;
pub mod rewrite;
pub mod smt;
pub mod verdict;

pub use deadline::Deadline;
pub use network::{Layer, Network};
pub use problem::{recheck_counterexample, Problem};
pub use verdict::{
    BoxBounder, CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation,
    SplitStrategy, Stats, UnknownReason, Verdict, VerifyOptions, VerifyReport,
};

use axiom_core::spec::Property;
use axiom_core::Graph;

/// Decides whether any input of the property's regions reaches its unsafe
/// output set.
pub fn verify(graph: &Graph, property: &Property, options: &VerifyOptions) -> VerifyReport {
    let (verdict, stats) = bab::run(graph, property, options);
    VerifyReport { verdict, stats }
}
