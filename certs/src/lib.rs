//! Axiom's certificate format, signing, bundles and the independent certificate checker.
//!
//! This crate is reserved for a later milestone and exports nothing yet;
//! see ARCHITECTURE.md for what it will hold.
