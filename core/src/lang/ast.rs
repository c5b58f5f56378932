//! The syntax tree of an `.axiom` file, as written: names are not resolved,
//! numbers are exact but not yet checked. Every node carries its byte range.

use crate::spec::Rational;
use std::ops::Range;

/// A byte range in the source.
pub(crate) type Bytes = Range<usize>;

#[derive(Debug, Clone)]
pub(crate) struct Ident {
    pub text: String,
    pub at: Bytes,
}

#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub value: Rational,
}

#[derive(Debug, Clone)]
pub(crate) struct Int {
    pub value: usize,
    pub at: Bytes,
}

#[derive(Debug, Clone)]
pub(crate) struct StringLit {
    pub text: String,
    pub at: Bytes,
}

#[derive(Debug)]
pub(crate) struct File {
    pub models: Vec<Model>,
}

#[derive(Debug)]
pub(crate) struct Model {
    pub name: Ident,
    pub at: Bytes,
    pub items: Vec<Item>,
}

#[derive(Debug)]
pub(crate) struct Item {
    pub kind: ItemKind,
    pub at: Bytes,
}

#[derive(Debug)]
pub(crate) enum ItemKind {
    From { format: Ident, path: StringLit },
    Input(IoItem),
    Output(IoItem),
    Region { name: Ident, value: Call },
    Layer { name: Ident, value: Call },
    Assume(Pred),
    Ensure(Pred),
    Prove { name: Ident, body: ProveBody },
}

#[derive(Debug)]
pub(crate) struct IoItem {
    pub name: Ident,
    pub dtype: Ident,
    pub dims: Vec<Int>,
    pub dims_at: Bytes,
    pub domain: Option<Interval>,
}

#[derive(Debug)]
pub(crate) enum ProveBody {
    Forall {
        var: Ident,
        region: Box<Call>,
        pred: Box<Pred>,
    },
    Vnnlib(StringLit),
}

/// `name` or `name(arg, ...)`: a layer or a region.
#[derive(Debug)]
pub(crate) struct Call {
    pub name: Ident,
    pub args: Option<Vec<Arg>>,
    /// The parenthesised argument list, when there is one.
    pub args_at: Option<Bytes>,
    pub at: Bytes,
}

#[derive(Debug)]
pub(crate) struct Arg {
    pub kind: ArgKind,
    pub at: Bytes,
}

#[derive(Debug)]
pub(crate) enum ArgKind {
    /// `IN -> OUT`.
    Arrow(Int, Int),
    /// `key value`, e.g. `weights "w.safetensors:fc1.weight"`, `kernel 3`.
    Keyed(Ident, Box<Arg>),
    Str(StringLit),
    List(Vec<Number>),
    Num(Number),
}

#[derive(Debug, Clone)]
pub(crate) struct Interval {
    pub lo: Number,
    pub hi: Number,
    pub lo_open: bool,
    pub hi_open: bool,
    pub at: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpTok {
    Le,
    Lt,
    Ge,
    Gt,
    Eq,
    Ne,
}

#[derive(Debug)]
pub(crate) struct Pred {
    pub kind: PredKind,
    pub at: Bytes,
}

#[derive(Debug)]
pub(crate) enum PredKind {
    Or(Vec<Pred>),
    And(Vec<Pred>),
    Not(Box<Pred>),
    Cmp(Expr, CmpTok, Expr),
    In(Expr, Interval),
    /// A bare call such as `finite(y)`.
    Call {
        func: Ident,
        arg: Ident,
    },
}

#[derive(Debug)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub at: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug)]
pub(crate) enum ExprKind {
    Num(Rational),
    /// `name[i]` or `name[i, j, ...]`.
    Index {
        name: Ident,
        idx: Vec<Int>,
    },
    /// `func(arg)`: `sum(y)`, `argmax(y)`, `argmin(y)`.
    Call {
        func: Ident,
        arg: Ident,
    },
    /// `-e` (an even number of minus signs is dropped when parsing).
    Neg(Box<Expr>),
    /// `e0 op1 e1 op2 e2 ...` from left to right: a flat list, so that a
    /// long sum does not make a deep tree.
    Chain(Box<Expr>, Vec<(BinOp, Expr)>),
}
