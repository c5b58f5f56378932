//! What the engine answers: a [`Verdict`] with its evidence, and the
//! options and statistics of a run.

pub use axiom_certs::evidence::{
    CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation,
};
use ndarray::{Array2, ArrayView2};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// The answer to "is the property (the unsafe set of a VNN-LIB file) empty?".
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// No input in any case's region reaches the unsafe output set (`unsat`).
    Proved { evidence: Evidence },
    /// An input reaches the unsafe set (`sat`); re-executed before reported.
    Disproved { counterexample: Counterexample },
    /// Neither, with the reason.
    Unknown { reason: UnknownReason },
}

impl Verdict {
    /// The VNN-COMP result word: `unsat`, `sat`, `unknown` or `timeout`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Proved { .. } => "unsat",
            Verdict::Disproved { .. } => "sat",
            Verdict::Unknown {
                reason: UnknownReason::Timeout,
            } => "timeout",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

/// Why the engine could not decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownReason {
    /// The time budget ran out.
    Timeout,
    /// The run was interrupted (a cancel flag was set).
    Interrupted,
    /// The network or property uses something the prover cannot reason about.
    Unsupported(String),
    /// The search ended without a decision (a limit on splits, say).
    Incomplete(String),
}

impl std::fmt::Display for UnknownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UnknownReason::Timeout => write!(f, "timeout"),
            UnknownReason::Interrupted => write!(f, "interrupted"),
            UnknownReason::Unsupported(m) => write!(f, "unsupported: {m}"),
            UnknownReason::Incomplete(m) => write!(f, "incomplete: {m}"),
        }
    }
}

/// How the search splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitStrategy {
    /// Input splitting when the property lets few inputs vary (at most
    /// [`AUTO_INPUT_SPLIT_MAX_DIM`](crate::search::AUTO_INPUT_SPLIT_MAX_DIM),
    /// whatever the network's input size), ReLU splitting otherwise.
    #[default]
    Auto,
    Input,
    Relu,
}

/// Options of a verification run. `Default` gives the recommended settings.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Wall-clock budget; `None` means no limit.
    pub timeout: Option<Duration>,
    /// Work budget: the search stops with [`UnknownReason::Incomplete`] once
    /// this many sub-problems (boxes, with their ReLU phases) have been
    /// bounded, over all cases; `None` means no limit. Unlike `timeout` it
    /// does not depend on the machine's speed or load, so a run with the
    /// same options ends the same way everywhere (the tests use it).
    pub max_boxes: Option<u64>,
    pub split: SplitStrategy,
    /// Seed of the random sampling and attacks (results are deterministic for
    /// the same options).
    pub seed: u64,
    /// Run random sampling and PGD before and during the search.
    pub attack: bool,
    /// Hand small boxes with few unstable ReLUs to Z3 (off by default: on
    /// ACAS Xu, splitting further is faster than Z3 4.8 on such leaves).
    pub smt_leaves: bool,
    /// Boxes bounded together in one batch.
    pub batch_size: usize,
    /// Set to true from another thread to stop the run (verdict `Unknown`
    /// with reason `Interrupted`).
    pub cancel: Option<Arc<AtomicBool>>,
    /// An accelerator that bounds many input boxes at once (the CUDA
    /// backend's batched interval propagation: `axiom verify --backend
    /// cuda`). Each batch of unsplit-phase boxes goes to it first; a box
    /// whose open disjuncts its bounds refute becomes a proof leaf without
    /// the CPU's linear bounds (the exact checker re-derives tighter bounds
    /// for it, so the evidence is the same kind). The other boxes are
    /// bounded on the CPU as usual. `None`: the CPU alone.
    pub box_bounder: Option<Arc<dyn BoxBounder>>,
}

/// Sound interval bounds of the network's outputs over many input boxes at
/// once, computed by an accelerator (see [`VerifyOptions::box_bounder`]).
///
/// The engine relies on what it returns as it relies on its own bounds: an
/// implementation must bound the outputs of the *exact* network (its float32
/// weights taken as rationals, real arithmetic) of the graph being verified,
/// rounding outward. An error makes the engine bound that batch on the CPU.
pub trait BoxBounder: Send + Sync + std::fmt::Debug {
    /// What computes the bounds, in words (`cuda: NVIDIA H100 ...`).
    fn describe(&self) -> String;
    /// Scalars per input box row.
    fn input_len(&self) -> usize;
    /// Scalars per output row.
    fn output_len(&self) -> usize;
    /// For each row `b` of `lower`/`upper` (one input box, `[batch,
    /// input_len]`), `(lo, hi)` of shape `[batch, output_len]` such that
    /// output `i` of the exact network lies in `[lo[b, i], hi[b, i]]` at every
    /// point of box `b`; `±∞` where nothing is known.
    fn output_bounds(
        &self,
        lower: ArrayView2<f64>,
        upper: ArrayView2<f64>,
    ) -> Result<(Array2<f64>, Array2<f64>), String>;
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            timeout: None,
            max_boxes: None,
            split: SplitStrategy::Auto,
            seed: 0,
            attack: true,
            smt_leaves: false,
            batch_size: 256,
            cancel: None,
            box_bounder: None,
        }
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Boxes whose bounds were computed.
    pub boxes_bounded: u64,
    /// Leaves of the proof (boxes refuted).
    pub leaves: u64,
    /// Deepest split.
    pub max_depth: u32,
    /// Z3 calls.
    pub smt_calls: u64,
    /// Disjuncts whose ReLU slopes were optimised on a box (alpha-CROWN).
    pub alpha_optimisations: u64,
    /// Inputs tried by sampling and attacks.
    pub attack_samples: u64,
    /// Boxes sent to the [`BoxBounder`] accelerator.
    pub accelerated_boxes: u64,
    /// Leaves closed by the accelerator's bounds alone.
    pub accelerated_leaves: u64,
    /// Batches the accelerator failed on (bounded on the CPU instead); the
    /// first failure's message is in `accelerator_error`.
    pub accelerator_failures: u64,
    pub accelerator_error: Option<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// A verdict with the run's statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub verdict: Verdict,
    pub stats: Stats,
}
