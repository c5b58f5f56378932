//! Axiom's append-only, hash-chained, signed audit log.
//!
//! This crate is reserved for a later milestone and exports nothing yet;
//! see ARCHITECTURE.md for what it will hold.
