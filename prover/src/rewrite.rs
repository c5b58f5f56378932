//! Rewriting with e-graphs ([`egg`]): exact graph simplification and
//! search-free proofs of algebraic facts about a model's output.
//!
//! # [`simplify`]: fewer nodes, the same function
//!
//! The live chain of a graph becomes an egg term over its ops, each op
//! referring to its weights through a table entry; egg saturates it with the
//! graph rules and the term with the fewest ops is turned back into a graph.
//! The rules (see [`simplify_rule_names`]):
//!
//! - `relu-idempotent`: `relu(relu(x)) = relu(x)`;
//! - `identity-elim`: `identity(x) = x`;
//! - `flatten-noop-elim`, `reshape-noop-elim`: a Flatten or Reshape whose
//!   input already has its output shape (an already flat vector) is removed;
//!   `reshape-reshape-collapse`, `reshape-flatten-collapse`: a Reshape of a
//!   Reshape/Flatten reads the original value (both keep row-major order);
//! - `gemm-gemm-fold`: two consecutive Gemms become one,
//!   `W = W₂W₁`, `b = W₂b₁ + b₂`;
//! - `gemm-{add,sub,mul,div}-fold` and `{add,sub,mul,div}-gemm-fold`: an
//!   Add/Sub/Mul/Div by a constant right after or right before a Gemm is
//!   folded into its bias or weights (the constant must be the same for every
//!   row, i.e. vary only along the last axis);
//! - `{add,sub,mul,div}-{flatten,reshape}-commute`: an Add/Sub/Mul/Div
//!   before a Flatten/Reshape moves after it, its constant laid out in the new
//!   shape (no arithmetic), so that it can reach a Gemm (ACAS Xu's input
//!   normalisation `Sub → Flatten → Gemm`); on its own it changes nothing
//!   (extraction prefers the original ops at equal node count);
//! - `gemm-batchnorm-fold`, `conv-batchnorm-fold`: a BatchNorm after a Gemm
//!   (on `[N, C]`) or a Conv2d is folded into it; `batchnorm-diag-gemm`: a
//!   BatchNorm on `[N, C]` becomes a diagonal Gemm;
//! - and, outside egg, `dead-node-elim`: nodes the output does not depend on
//!   are dropped.
//!
//! ## The exactness rule
//!
//! A graph's semantics is the real-arithmetic function with its float32
//! weights taken as exact rationals, and the graph stores float32 weights.
//! A fold is applied **only if every value it produces is exactly a
//! float32**: the folded weights and biases are computed in exact rational
//! arithmetic (sums of products of float32 values as exact dyadic sums,
//! divisions and BatchNorm's `scale / sqrt(var + eps)` in [`BigRational`],
//! the square root only when it is rational) and compared with float32. A
//! fold that would round is not applied; it is listed in
//! [`Simplified::skipped`] with the reason [`INEXACT`]. So [`simplify`]
//! never changes the function: the prover and the certificate checker reason
//! about the simplified graph exactly as about the original.
//!
//! # [`discharge`](fn@discharge): proofs without search
//!
//! A goal about the output `y` (`(== (sum y) 1)`, `(in (idx y 0) 0 1)`, …)
//! is added to an e-graph with rules that are facts of real arithmetic
//! (softmax sums to 1 and lies in `[0, 1]`, sigmoid in `(0, 1)`, tanh in
//! `[-1, 1]`, relu `>= 0`, exact comparison of constants, Boolean algebra);
//! `y` is rewritten to the output's activation applied to an opaque `z`.
//! The goal is discharged when egg proves it equal to `true`; the proof is
//! egg's flat explanation, one rewrite per line, replayable by an
//! independent checker against [`rule_names`]. The language and every rule
//! with its justification are documented in the [`discharge`
//! module](mod@discharge).
//!
//! [`BigRational`]: num_rational::BigRational

pub mod discharge;
mod exact;
mod fold;
mod simplify;

pub use discharge::{discharge, rule_names, Discharge};
pub use exact::INEXACT;
pub use simplify::{
    simplify, simplify_rule_names, AppliedRewrite, Simplified, SkippedRewrite, DEAD_NODE_ELIM,
};

/// Why [`simplify`] or [`discharge`](fn@discharge) could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// The graph does not validate, or is not a chain.
    #[error("invalid graph: {0}")]
    Graph(String),
    /// The goal is not a well-formed, well-typed goal for this graph.
    #[error("malformed goal: {0}")]
    Goal(String),
    /// An invariant of the rewriter broke (a bug); nothing was claimed.
    #[error("internal error in the rewriter: {0}")]
    Internal(String),
}
