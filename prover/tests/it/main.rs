//! Integration tests of axiom-prover: the engine end to end, differential
//! soundness, floating-point adversarial thresholds, ReLU splitting, Z3 and
//! the rewriter.
//!
//! One test binary per crate: each module is one suite (formerly a test
//! binary of its own); one link, and the suites' tests run in parallel.

mod common;

mod accelerator;
mod conv_batchnorm;
mod differential;
mod engine;
mod float_adversarial;
mod normalised_input;
mod relu_split;
mod rewrite;
mod smt;
