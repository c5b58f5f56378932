//! Integration tests of axiom-core: the importers on the shared benchmarks
//! and the .axiom language.
//!
//! One test binary per crate: each module is one suite (formerly a test
//! binary of its own); one link, and the suites' tests run in parallel.

mod lang;
mod onnx_bad_files;
mod onnx_import;
mod vnnlib_benchmarks;
