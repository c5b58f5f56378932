//! Axiom's verification engine: rewriting, bound propagation, branch and bound, SMT leaves and falsification.
//!
//! This crate is reserved for a later milestone and exports nothing yet;
//! see ARCHITECTURE.md for what it will hold.
