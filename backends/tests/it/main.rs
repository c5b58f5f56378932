//! Integration tests of axiom-backends: operators, backend parity (CPU and,
//! with a GPU, CUDA) and interval bounds.
//!
//! One test binary per crate: each module is one suite (formerly a test
//! binary of its own); one link, and the suites' tests run in parallel.

mod common;

mod dag;
mod ibp;
mod layout;
mod ops;
mod parity;
