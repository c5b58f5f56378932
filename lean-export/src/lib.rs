//! Exports Axiom proof obligations to Lean 4.
//!
//! This crate is reserved for a later milestone and exports nothing yet;
//! see ARCHITECTURE.md for what it will hold.
