//! The evidence of a verdict, as the engine produces it and the checker
//! re-validates it: proof trees of input and ReLU-phase splits whose leaves
//! carry, for every
//! disjunct of the unsafe output condition, why it cannot hold there; and
//! counterexamples.
//!
//! All numbers are f64 values, which are exact dyadic rationals: the checker
//! reads them exactly.

/// An input that violates the property, with the output the CPU backend
/// computed for it in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Counterexample {
    /// The input, flattened row-major. A coordinate that the case's box
    /// fixes to a value no f64 equals (a decimal such as 0.1) is one of the
    /// two f64s around that value and stands for it (see
    /// `check::check_counterexample`).
    pub input: Vec<f64>,
    /// The output, flattened row-major.
    pub output: Vec<f64>,
    /// Which case of the property (input region) it lies in.
    pub case: usize,
    /// Which disjunct of that case's output condition it meets.
    pub disjunct: usize,
}

/// Why a verdict `Proved` holds: one proof tree per case of the property.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub cases: Vec<CaseProof>,
}

impl Evidence {
    /// Number of leaves over all cases.
    pub fn leaf_count(&self) -> usize {
        self.cases.iter().map(|c| c.root.leaf_count()).sum()
    }
}

/// The proof for one case: a tree of input splits whose leaves cover the
/// case's input box.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseProof {
    pub case: usize,
    /// The box the root covers (the case's box, rounded outward to f64).
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    pub root: ProofNode,
}

/// A node of a proof tree.
#[derive(Debug, Clone, PartialEq)]
pub enum ProofNode {
    /// The box is split on input `dim` at `at`: the first child covers
    /// `x[dim] <= at`, the second `x[dim] >= at`.
    Split {
        dim: usize,
        at: f64,
        /// Disjuncts already refuted on this whole box (they hold on both
        /// children too).
        refutations: Vec<Refutation>,
        children: Box<[ProofNode; 2]>,
    },
    /// The region is split on the phase of one ReLU: the first child adds
    /// `z <= 0` (inactive), the second `z >= 0` (active), where `z` is the
    /// input of neuron `neuron` of the `relu_layer`-th ReLU layer (counted
    /// from the input, as in [`Refutation::Bound::relu_slopes`]). The two
    /// cover the parent whatever the split; a child's region is its box
    /// intersected with every phase its ancestors fixed.
    ReluSplit {
        relu_layer: usize,
        neuron: usize,
        /// Disjuncts already refuted on the whole parent region.
        refutations: Vec<Refutation>,
        children: Box<[ProofNode; 2]>,
    },
    /// Every disjunct of the output condition is refuted on this region.
    Leaf(LeafProof),
}

impl ProofNode {
    pub fn leaf_count(&self) -> usize {
        match self {
            ProofNode::Split { children, .. } | ProofNode::ReluSplit { children, .. } => {
                children[0].leaf_count() + children[1].leaf_count()
            }
            ProofNode::Leaf(_) => 1,
        }
    }
}

/// Why no input of a leaf box reaches the unsafe set: for every disjunct of
/// the output condition, one of its constraints cannot hold on the box.
#[derive(Debug, Clone, PartialEq)]
pub struct LeafProof {
    /// For each disjunct still open at this leaf, how it is refuted.
    pub refutations: Vec<Refutation>,
}

/// How one disjunct is refuted on a box.
#[derive(Debug, Clone, PartialEq)]
pub enum Refutation {
    /// Linear bound propagation (CROWN with the adaptive lower slope and the
    /// triangle upper relaxation for ReLU, or interval bounds, whichever is
    /// tighter; ReLU inputs clamped by the phases the region fixes) shows that a non-negative combination of the disjunct's
    /// constraints, `Σ multipliers[k] · lhs_k`, is above 0 everywhere on the
    /// box (at or above 0 when a constraint with a positive multiplier is
    /// strict). Since the disjunct needs every `lhs_k <= 0`, it cannot hold
    /// there. `multipliers` has one entry per constraint of the disjunct;
    /// `lower_bound` is the sound float bound the engine found; the exact
    /// checker re-derives its own. On a region that the bounds show empty
    /// (the phases fixed by ReLU splits contradict the box), every
    /// refutation holds vacuously.
    Bound {
        disjunct: usize,
        multipliers: Vec<f64>,
        /// Optimised lower slopes (alpha) of the ReLUs for the objective's
        /// back-substitution: entry `i` belongs to the `i`-th ReLU layer of
        /// the network and holds one slope in `[0, 1]` per neuron, used for
        /// every positive coefficient of that layer; an empty list (or entry)
        /// means the adaptive slope (1 when `u >= -l`, else 0). `relu(z) >=
        /// alpha z` holds for every `z` when `alpha` is in `[0, 1]`, so these
        /// are choices the checker replays, not claims it must trust.
        relu_slopes: Vec<Vec<f64>>,
        lower_bound: f64,
    },
    /// An exact SMT encoding of the box and the disjunct was unsatisfiable;
    /// `query` is the SMT-LIB2 text that was solved.
    Smt { disjunct: usize, query: String },
}
