//! Integration tests of axiom-certs: the independent checker on ReLU splits,
//! BatchNorm, convolutions and DAG networks (Sum, Concat), and its
//! independence from the prover.
//!
//! One test binary per crate: each module is one suite (formerly a test
//! binary of its own); one link, and the suites' tests run in parallel.

mod batchnorm;
mod conv;
mod dag;
mod damaged_files;
mod fixed_inputs;
mod independence;
mod relu_split;
