//! The resolved specification: models with their graphs, declarations,
//! runtime checks and proof obligations.

use super::error::Span;
use super::pred::Pred;
use crate::graph::Graph;
use crate::spec::{Property, Rational};
use std::path::PathBuf;

/// A parsed and resolved `.axiom` file.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The file it was read from (or the path given to
    /// [`parse_spec_str`](super::parse_spec_str)).
    pub path: PathBuf,
    /// Its text.
    pub source: String,
    /// Its models, in order.
    pub models: Vec<ModelSpec>,
}

impl Spec {
    /// The model called `name`.
    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// One `model NAME { ... }` block.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// The model's name.
    pub name: String,
    /// Where the block is (its name).
    pub span: Span,
    /// The network: imported with `from`, or built from the inline layers.
    pub graph: Graph,
    /// Every file this model read — model file, weight files, VNN-LIB
    /// properties — resolved against the `.axiom` file's folder, in the order
    /// first read, without repeats (for cache keys and digests).
    pub files: Vec<PathBuf>,
    /// The `input` declaration.
    pub input: IoDecl,
    /// The `output` declaration.
    pub output: IoDecl,
    /// The `region` declarations, in order.
    pub regions: Vec<NamedRegion>,
    /// The `assume` preconditions (over the input only), applied to every
    /// obligation.
    pub assumes: Vec<Assume>,
    /// The `ensure` runtime checks.
    pub ensures: Vec<Ensure>,
    /// The `prove` obligations, in order.
    pub proves: Vec<Obligation>,
}

impl ModelSpec {
    /// The obligation called `name`.
    pub fn obligation(&self, name: &str) -> Option<&Obligation> {
        self.proves.iter().find(|o| o.name == name)
    }
}

/// An `input` or `output` declaration: `x: f32[5] in [0, 1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoDecl {
    /// The declared name (`x`).
    pub name: String,
    /// The declared shape (`[5]`).
    pub shape: Vec<usize>,
    /// The declared domain `[lo, hi]` of every element (inputs only).
    pub domain: Option<(Rational, Rational)>,
    /// Where the declaration is.
    pub span: Span,
}

impl IoDecl {
    /// The number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether there are no elements (never, for a resolved spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A `region NAME = ...` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedRegion {
    /// Its name.
    pub name: String,
    /// The declaration as written (`region near = box([0, 0], [0.2, 0.2])`).
    pub text: String,
    /// Where it is.
    pub span: Span,
    /// The box it denotes, as written (not intersected with the input's
    /// domain; an obligation over it is).
    pub region: Region,
}

/// An `assume` precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assume {
    /// The statement as written (`assume x[0] + x[1] <= 0.5`).
    pub text: String,
    /// Where it is.
    pub span: Span,
    /// The condition (over the input only).
    pub pred: Pred,
}

/// An `ensure` runtime check, evaluated on every inference with
/// [`Pred::eval`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensure {
    /// The statement as written (`ensure finite(y)`).
    pub text: String,
    /// Where it is.
    pub span: Span,
    /// The condition.
    pub pred: Pred,
}

/// A `prove` obligation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obligation {
    /// Its name (unique within the model).
    pub name: String,
    /// Where it is.
    pub span: Span,
    /// The whole statement as written (`prove p: forall x in ... => ...`).
    pub text: String,
    /// The input region quantified over: the region written, intersected
    /// with the input's declared domain. `None` for `vnnlib` obligations.
    pub region: Option<Region>,
    /// The condition to prove. `None` for `vnnlib` obligations.
    pub pred: Option<Pred>,
    /// The obligation as a VNN-LIB style property: the input box (the
    /// region), the `assume`s as input constraints, and the unsafe set (the
    /// negation of the condition, see [`Pred::violation_dnf`]). `Err(reason)`
    /// when it has no such form (an empty region, `finite`, a constraint
    /// mixing inputs and outputs, too many disjuncts).
    pub property: Result<Property, String>,
}

/// An axis-aligned box of inputs: `lower[i] <= x[i] <= upper[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region {
    /// Lower bound of each input element.
    pub lower: Vec<Rational>,
    /// Upper bound of each input element.
    pub upper: Vec<Rational>,
}

impl Region {
    /// Whether some element has `lower > upper`.
    pub fn is_empty(&self) -> bool {
        self.lower.iter().zip(&self.upper).any(|(l, u)| l > u)
    }
}
