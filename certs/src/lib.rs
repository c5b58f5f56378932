//! # axiom-certs
//!
//! The evidence Axiom's verdicts carry and the independent checker that
//! re-validates it in exact rational arithmetic. This crate depends on
//! `axiom-core` only — never on the prover: a verdict is trusted because this
//! small, separate piece of code re-checks it, not because the prover said so.
//!
//! - [`evidence`]: proof trees, leaf refutations, counterexamples;
//! - [`check`]: the exact re-check;
//! - [`dyadic`]: the exact dyadic numbers it computes with.
//!
//! (Signed certificates, key files and bundles arrive with the certificate
//! milestone.)

pub mod check;
pub mod dyadic;
pub mod evidence;
