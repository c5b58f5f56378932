//! End-to-end tests of the axiom binary and the facade crate.
//!
//! One test binary per crate: each module is one suite (formerly a test
//! binary of its own); one link, and the suites' tests run in parallel.

mod common;

mod acas_certificates;
mod audit_cli;
mod cert_bundle;
mod check_cli;
mod check_report;
mod cli;
mod info_cli;
mod lean_export;
mod readme_tour;
mod rewrite_replay;
mod verify_cli;
mod vnncomp2022;
