//! [`simplify`]: equality saturation over a graph's chain of ops.
//!
//! The live part of a graph (one input, one input per op) is a chain
//! `x → op₁ → … → opₙ`; it becomes the term `(opₙ pₙ (… (op₁ p₁ input)))`,
//! where each `pᵢ` is a leaf naming an entry of a table that holds the op
//! (its constants and attributes) and the names of the nodes it came from.
//! Rewrites are egg rules over these terms; the folds are appliers that
//! compute the folded op exactly and add it to the table, or record why they
//! did not. The cheapest term (fewest ops) is extracted and turned back into
//! a graph, and egg's explanation of `original = extracted` lists the rules
//! that were applied.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use axiom_core::graph::{Graph, Node, Op, Shape};
use egg::{
    define_language, Analysis, Applier, ConditionalApplier, CostFunction, DidMerge, EGraph,
    ENodeOrVar, Extractor, FlatTerm, Id, Language, Pattern, PatternAst, RecExpr, Rewrite, Runner,
    SimpleScheduler, Subst, Symbol, Var,
};

use super::fold::{self, Elementwise};
use super::RewriteError;

/// A rewrite [`simplify`] applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRewrite {
    /// The rule's name (one of [`simplify_rule_names`], or `dead-node-elim`).
    pub rule: String,
    /// The original nodes the rewrite involved, in graph order.
    pub nodes: Vec<String>,
}

/// A rewrite [`simplify`] found but did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRewrite {
    /// The rule's name (one of [`simplify_rule_names`]).
    pub rule: String,
    /// The original nodes it would have involved, in graph order.
    pub nodes: Vec<String>,
    /// Why it was not applied; [`INEXACT`](super::INEXACT) when a folded
    /// value would not be exactly a float32.
    pub reason: String,
}

/// The result of [`simplify`]: a graph computing exactly the same function,
/// and what was done.
#[derive(Debug, Clone, PartialEq)]
pub struct Simplified {
    pub graph: Graph,
    pub applied: Vec<AppliedRewrite>,
    pub skipped: Vec<SkippedRewrite>,
}

/// The rule removing nodes the output does not depend on.
pub const DEAD_NODE_ELIM: &str = "dead-node-elim";

/// The graph rules, each with its meaning.
///
/// Names read in data-flow order: `gemm-add-fold` folds an Add that follows
/// a Gemm, `add-gemm-fold` one that precedes it.
const GRAPH_RULES: &[(&str, &str)] = &[
    ("relu-idempotent", "relu(relu(x)) = relu(x)"),
    ("identity-elim", "identity(x) = x"),
    (
        "flatten-noop-elim",
        "a Flatten whose input already has its output shape is the identity",
    ),
    (
        "reshape-noop-elim",
        "a Reshape whose input already has its output shape is the identity",
    ),
    (
        "reshape-reshape-collapse",
        "reshape(reshape(x)) = reshape(x): both keep the row-major order",
    ),
    (
        "reshape-flatten-collapse",
        "reshape(flatten(x)) = reshape(x): both keep the row-major order",
    ),
    ("gemm-gemm-fold", "W2(W1x + b1) + b2 = (W2W1)x + (W2b1 + b2)"),
    ("gemm-add-fold", "(Wx + b) + c = Wx + (b + c)"),
    ("gemm-sub-fold", "(Wx + b) - c = Wx + (b - c)"),
    ("gemm-mul-fold", "(Wx + b) ⊙ c = (diag(c)W)x + c ⊙ b"),
    ("gemm-div-fold", "(Wx + b) / c = (diag(1/c)W)x + b / c"),
    ("add-gemm-fold", "W(x + c) + b = Wx + (Wc + b)"),
    ("sub-gemm-fold", "W(x - c) + b = Wx + (b - Wc)"),
    ("mul-gemm-fold", "W(x ⊙ c) + b = (W diag(c))x + b"),
    ("div-gemm-fold", "W(x / c) + b = (W diag(1/c))x + b"),
    (
        "gemm-batchnorm-fold",
        "k ⊙ (Wx + b - mean) + beta = (diag(k)W)x + (k ⊙ b + beta - k ⊙ mean), k = scale / sqrt(var + eps)",
    ),
    (
        "conv-batchnorm-fold",
        "the same per output channel of a Conv2d",
    ),
    (
        "batchnorm-diag-gemm",
        "BatchNorm on [N, C] is the Gemm with W = diag(k), b = beta - k ⊙ mean",
    ),
    (
        "add-flatten-commute",
        "flatten(x + c) = flatten(x) + c', c' = c broadcast to x and flattened",
    ),
    ("sub-flatten-commute", "the same for Sub"),
    ("mul-flatten-commute", "the same for Mul"),
    ("div-flatten-commute", "the same for Div"),
    ("add-reshape-commute", "the same through a Reshape"),
    ("sub-reshape-commute", "the same for Sub"),
    ("mul-reshape-commute", "the same for Mul"),
    ("div-reshape-commute", "the same for Div"),
];

/// The names of the rules [`simplify`] uses (besides `dead-node-elim`).
pub fn simplify_rule_names() -> Vec<&'static str> {
    GRAPH_RULES.iter().map(|(n, _)| *n).collect()
}

/// The number of ops a rule's left-hand side spans (for the report).
fn lhs_depth(rule: &str) -> usize {
    match rule {
        "identity-elim" | "flatten-noop-elim" | "reshape-noop-elim" | "batchnorm-diag-gemm" => 1,
        _ => 2,
    }
}

/// A leaf naming an entry of the op table, written `p<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ParamId(pub usize);

impl fmt::Display for ParamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl FromStr for ParamId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix('p')
            .and_then(|n| n.parse().ok())
            .map(ParamId)
            .ok_or_else(|| format!("not a parameter leaf: {s}"))
    }
}

define_language! {
    /// A chain of ops: `(kind param value)`.
    pub(crate) enum GraphLang {
        "input" = Input,
        "gemm" = Gemm([Id; 2]),
        "add" = Add([Id; 2]),
        "sub" = Sub([Id; 2]),
        "mul" = Mul([Id; 2]),
        "div" = Div([Id; 2]),
        "relu" = Relu([Id; 2]),
        "sigmoid" = Sigmoid([Id; 2]),
        "tanh" = Tanh([Id; 2]),
        "identity" = Identity([Id; 2]),
        "flatten" = Flatten([Id; 2]),
        "reshape" = Reshape([Id; 2]),
        "conv" = Conv([Id; 2]),
        "batchnorm" = BatchNorm([Id; 2]),
        "maxpool" = MaxPool([Id; 2]),
        "avgpool" = AvgPool([Id; 2]),
        "softmax" = Softmax([Id; 2]),
        Param(ParamId),
    }
}

fn op_node(op: &Op, p: Id, x: Id) -> GraphLang {
    let c = [p, x];
    match op {
        Op::Gemm { .. } => GraphLang::Gemm(c),
        Op::Add { .. } => GraphLang::Add(c),
        Op::Sub { .. } => GraphLang::Sub(c),
        Op::Mul { .. } => GraphLang::Mul(c),
        Op::Div { .. } => GraphLang::Div(c),
        Op::Relu => GraphLang::Relu(c),
        Op::Sigmoid => GraphLang::Sigmoid(c),
        Op::Tanh => GraphLang::Tanh(c),
        Op::Identity => GraphLang::Identity(c),
        Op::Flatten { .. } => GraphLang::Flatten(c),
        Op::Reshape { .. } => GraphLang::Reshape(c),
        Op::Conv2d { .. } => GraphLang::Conv(c),
        Op::BatchNorm { .. } => GraphLang::BatchNorm(c),
        Op::MaxPool { .. } => GraphLang::MaxPool(c),
        Op::AveragePool { .. } => GraphLang::AvgPool(c),
        Op::Softmax { .. } => GraphLang::Softmax(c),
        Op::Sum | Op::Concat { .. } | Op::Transpose { .. } | Op::Pad { .. } => {
            unreachable!("simplify refuses these ops before building the term")
        }
    }
}

/// One op of the table.
#[derive(Debug, Clone)]
struct Entry {
    op: Op,
    /// The original nodes it stands for, in graph order.
    names: Vec<String>,
    /// `(node name, output name)` for an op of the original graph.
    original: Option<(String, String)>,
}

/// What a class knows: its value's shape, or the table entry of a leaf.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassData {
    shape: Option<Shape>,
    param: Option<usize>,
}

type FoldKey = (&'static str, usize, Option<usize>, Shape);

/// The op table and the fold log, held by the e-graph.
#[derive(Debug, Default)]
pub(crate) struct GraphFacts {
    input_shape: Shape,
    entries: Vec<Entry>,
    by_content: HashMap<Vec<u64>, usize>,
    memo: HashMap<FoldKey, Option<usize>>,
    skipped: Vec<SkippedRewrite>,
    conflict: Option<String>,
}

impl GraphFacts {
    /// Adds a folded op (or finds the same op folded before).
    fn intern(&mut self, op: Op, names: Vec<String>) -> usize {
        let key = content_key(&op);
        if let Some(&i) = key.as_ref().and_then(|k| self.by_content.get(k)) {
            return i;
        }
        self.entries.push(Entry {
            op,
            names,
            original: None,
        });
        let id = self.entries.len() - 1;
        if let Some(k) = key {
            self.by_content.insert(k, id);
        }
        id
    }

    fn skip(&mut self, rule: &str, nodes: Vec<String>, reason: String) {
        if !self
            .skipped
            .iter()
            .any(|s| s.rule == rule && s.nodes == nodes)
        {
            self.skipped.push(SkippedRewrite {
                rule: rule.to_string(),
                nodes,
                reason,
            });
        }
    }
}

/// A key equal for equal Gemm/Conv2d ops (the only ops folds produce).
fn content_key(op: &Op) -> Option<Vec<u64>> {
    fn push_values<'a>(key: &mut Vec<u64>, values: impl Iterator<Item = &'a f32>) {
        key.extend(values.map(|v| u64::from(v.to_bits())));
    }
    fn push_bias(key: &mut Vec<u64>, b: &Option<ndarray::Array1<f32>>) {
        match b {
            Some(b) => {
                key.push(1);
                push_values(key, b.iter());
            }
            None => key.push(0),
        }
    }
    let mut key: Vec<u64> = Vec::new();
    match op {
        Op::Gemm { weight, bias } => {
            key.push(0);
            key.extend(weight.shape().iter().map(|&d| d as u64));
            push_values(&mut key, weight.iter());
            push_bias(&mut key, bias);
        }
        Op::Conv2d {
            weight,
            bias,
            strides,
            pads,
            dilations,
            group,
        } => {
            key.push(1);
            key.extend(weight.shape().iter().map(|&d| d as u64));
            key.extend(
                strides
                    .iter()
                    .chain(pads)
                    .chain(dilations)
                    .map(|&d| d as u64),
            );
            key.push(*group as u64);
            push_values(&mut key, weight.iter());
            push_bias(&mut key, bias);
        }
        Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c } => {
            key.push(match op {
                Op::Add { .. } => 2,
                Op::Sub { .. } => 3,
                Op::Mul { .. } => 4,
                _ => 5,
            });
            key.push(c.ndim() as u64);
            key.extend(c.shape().iter().map(|&d| d as u64));
            push_values(&mut key, c.iter());
        }
        _ => return None,
    }
    Some(key)
}

impl Analysis<GraphLang> for GraphFacts {
    type Data = ClassData;

    fn make(egraph: &mut EGraph<GraphLang, Self>, enode: &GraphLang, _id: Id) -> ClassData {
        match enode {
            GraphLang::Param(p) => ClassData {
                shape: None,
                param: Some(p.0),
            },
            GraphLang::Input => ClassData {
                shape: Some(egraph.analysis.input_shape.clone()),
                param: None,
            },
            other => {
                let children = other.children();
                let shape = match children {
                    [p, x] => match (egraph[*p].data.param, &egraph[*x].data.shape) {
                        (Some(k), Some(s)) => egraph
                            .analysis
                            .entries
                            .get(k)
                            .and_then(|e| e.op.output_shape(s).ok()),
                        _ => None,
                    },
                    _ => None,
                };
                ClassData { shape, param: None }
            }
        }
    }

    fn merge(&mut self, a: &mut ClassData, b: ClassData) -> DidMerge {
        if a.param.is_some() || b.param.is_some() {
            if *a != b {
                self.conflict = Some(format!(
                    "merged a parameter with another class: {a:?} / {b:?}"
                ));
            }
            return DidMerge(false, false);
        }
        match (&a.shape, b.shape) {
            (None, Some(s)) => {
                a.shape = Some(s);
                DidMerge(true, false)
            }
            (Some(x), Some(y)) if *x != y => {
                self.conflict = Some(format!("merged values of shapes {x:?} and {y:?}"));
                DidMerge(false, true)
            }
            (Some(_), None) => DidMerge(false, true),
            _ => DidMerge(false, false),
        }
    }
}

type GraphGraph = EGraph<GraphLang, GraphFacts>;

/// The folds, as appliers.
#[derive(Debug, Clone, Copy)]
enum FoldKind {
    /// `(gemm ?a (gemm ?b ?x))`
    GemmGemm,
    /// `(add ?a (gemm ?b ?x))` etc.
    GemmThen(Elementwise),
    /// `(gemm ?a (add ?b ?x))` etc.
    ThenGemm(Elementwise),
    /// `(batchnorm ?a (gemm ?b ?x))`
    GemmBatchNorm,
    /// `(batchnorm ?a (conv ?b ?x))`
    ConvBatchNorm,
    /// `(batchnorm ?a ?x)`
    BatchNormDiag,
    /// `(flatten ?a (add ?b ?x))` => `(add NEW (flatten ?a ?x))`, also for
    /// Reshape (`true`) and Sub/Mul/Div.
    Commute(Elementwise, bool),
}

#[derive(Debug)]
struct FoldApplier {
    rule: &'static str,
    kind: FoldKind,
    outer: Var,
    inner: Option<Var>,
    x: Var,
}

impl FoldApplier {
    /// The folded op's table entry, computed once per (rule, ops, shape).
    fn fold(&self, egraph: &mut GraphGraph, subst: &Subst) -> Option<usize> {
        let outer = egraph[subst[self.outer]].data.param?;
        let inner = match self.inner {
            Some(v) => Some(egraph[subst[v]].data.param?),
            None => None,
        };
        let x_shape = egraph[subst[self.x]].data.shape.clone()?;
        let key = (self.rule, outer, inner, x_shape.clone());
        if let Some(done) = egraph.analysis.memo.get(&key) {
            return *done;
        }
        let facts = &mut egraph.analysis;
        let outer_op = &facts.entries.get(outer)?.op;
        let inner_op = match inner {
            Some(i) => Some(&facts.entries.get(i)?.op),
            None => None,
        };
        let result = match (self.kind, inner_op) {
            (FoldKind::GemmGemm, Some(first)) => fold::gemm_gemm(first, outer_op),
            (FoldKind::GemmThen(kind), Some(gemm)) => gemm
                .output_shape(&x_shape)
                .and_then(|out| fold::gemm_then(gemm, kind, outer_op, &out)),
            (FoldKind::ThenGemm(kind), Some(ew)) => match ew.output_shape(&x_shape) {
                Ok(s) if s == x_shape => fold::then_gemm(kind, ew, outer_op, &x_shape),
                Ok(s) => Err(format!(
                    "the constant broadcasts the value of shape {x_shape:?} to {s:?}"
                )),
                Err(e) => Err(e),
            },
            (FoldKind::GemmBatchNorm, Some(gemm)) => gemm
                .output_shape(&x_shape)
                .and_then(|out| fold::gemm_batchnorm(gemm, outer_op, &out)),
            (FoldKind::ConvBatchNorm, Some(conv)) => fold::conv_batchnorm(conv, outer_op),
            (FoldKind::BatchNormDiag, None) => fold::batchnorm_as_gemm(outer_op, &x_shape),
            (FoldKind::Commute(..), Some(ew)) => outer_op
                .output_shape(&x_shape)
                .and_then(|out| fold::commute_through_shape(ew, &x_shape, &out)),
            _ => Err("internal: fold without its operands".to_string()),
        };
        let mut names: Vec<String> = inner
            .and_then(|i| facts.entries.get(i))
            .map(|e| e.names.clone())
            .unwrap_or_default();
        let outer_names = facts.entries.get(outer)?.names.clone();
        let entry_names = match self.kind {
            // The moved constant stands for the element-wise node alone.
            FoldKind::Commute(..) => names.clone(),
            _ => [names.clone(), outer_names.clone()].concat(),
        };
        names.extend(outer_names);
        let out = match result {
            Ok(op) => Some(facts.intern(op, entry_names)),
            Err(reason) => {
                facts.skip(self.rule, names, reason);
                None
            }
        };
        facts.memo.insert(key, out);
        out
    }
}

impl Applier<GraphLang, GraphFacts> for FoldApplier {
    fn apply_one(
        &self,
        egraph: &mut GraphGraph,
        eclass: Id,
        subst: &Subst,
        searcher_ast: Option<&PatternAst<GraphLang>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        let Some(new) = self.fold(egraph, subst) else {
            return vec![];
        };
        let mut rhs: PatternAst<GraphLang> = RecExpr::default();
        let p = rhs.add(ENodeOrVar::ENode(GraphLang::Param(ParamId(new))));
        let x = rhs.add(ENodeOrVar::Var(self.x));
        let node = match self.kind {
            FoldKind::ConvBatchNorm => GraphLang::Conv([p, x]),
            FoldKind::Commute(kind, reshape) => {
                let a = rhs.add(ENodeOrVar::Var(self.outer));
                let moved = rhs.add(ENodeOrVar::ENode(if reshape {
                    GraphLang::Reshape([a, x])
                } else {
                    GraphLang::Flatten([a, x])
                }));
                let c = [p, moved];
                match kind {
                    Elementwise::Add => GraphLang::Add(c),
                    Elementwise::Sub => GraphLang::Sub(c),
                    Elementwise::Mul => GraphLang::Mul(c),
                    Elementwise::Div => GraphLang::Div(c),
                }
            }
            _ => GraphLang::Gemm([p, x]),
        };
        rhs.add(ENodeOrVar::ENode(node));
        match searcher_ast {
            Some(lhs) => {
                let (id, changed) = egraph.union_instantiations(lhs, &rhs, subst, rule_name);
                if changed {
                    vec![id]
                } else {
                    vec![]
                }
            }
            None => {
                let id = egraph.add_instantiation(&rhs, subst);
                if egraph.union(eclass, id) {
                    vec![eclass]
                } else {
                    vec![]
                }
            }
        }
    }

    fn vars(&self) -> Vec<Var> {
        let mut v = vec![self.outer, self.x];
        v.extend(self.inner);
        v
    }
}

fn internal(e: impl fmt::Display) -> RewriteError {
    RewriteError::Internal(e.to_string())
}

fn pattern(s: &str) -> Result<Pattern<GraphLang>, RewriteError> {
    s.parse().map_err(internal)
}

fn var(s: &str) -> Result<Var, RewriteError> {
    s.parse().map_err(internal)
}

/// A condition: the matched class has the same (known) shape as `?x`.
fn same_shape_as(x: Var) -> impl Fn(&mut GraphGraph, Id, &Subst) -> bool {
    move |egraph, id, subst| {
        let s = &egraph[id].data.shape;
        s.is_some() && *s == egraph[subst[x]].data.shape
    }
}

fn graph_rules() -> Result<Vec<Rewrite<GraphLang, GraphFacts>>, RewriteError> {
    let plain = |name: &str, lhs: &str, rhs: &str| {
        Rewrite::new(name, pattern(lhs)?, pattern(rhs)?).map_err(internal)
    };
    let noop = |name: &str, lhs: &str| -> Result<_, RewriteError> {
        let x = var("?x")?;
        Rewrite::new(
            name,
            pattern(lhs)?,
            ConditionalApplier {
                condition: same_shape_as(x),
                applier: pattern("?x")?,
            },
        )
        .map_err(internal)
    };
    let fold = |name: &'static str, lhs: &str, kind: FoldKind| -> Result<_, RewriteError> {
        let inner = match kind {
            FoldKind::BatchNormDiag => None,
            _ => Some(var("?b")?),
        };
        Rewrite::new(
            name,
            pattern(lhs)?,
            FoldApplier {
                rule: name,
                kind,
                outer: var("?a")?,
                inner,
                x: var("?x")?,
            },
        )
        .map_err(internal)
    };
    let ew = [
        ("add", Elementwise::Add),
        ("sub", Elementwise::Sub),
        ("mul", Elementwise::Mul),
        ("div", Elementwise::Div),
    ];
    let mut rules = vec![
        plain("relu-idempotent", "(relu ?a (relu ?b ?x))", "(relu ?b ?x)")?,
        plain("identity-elim", "(identity ?a ?x)", "?x")?,
        noop("flatten-noop-elim", "(flatten ?a ?x)")?,
        noop("reshape-noop-elim", "(reshape ?a ?x)")?,
        plain(
            "reshape-reshape-collapse",
            "(reshape ?a (reshape ?b ?x))",
            "(reshape ?a ?x)",
        )?,
        plain(
            "reshape-flatten-collapse",
            "(reshape ?a (flatten ?b ?x))",
            "(reshape ?a ?x)",
        )?,
        fold(
            "gemm-gemm-fold",
            "(gemm ?a (gemm ?b ?x))",
            FoldKind::GemmGemm,
        )?,
    ];
    for (name, lhs, kind) in [
        ("gemm-add-fold", ew[0]),
        ("gemm-sub-fold", ew[1]),
        ("gemm-mul-fold", ew[2]),
        ("gemm-div-fold", ew[3]),
    ]
    .map(|(n, (op, k))| (n, format!("({op} ?a (gemm ?b ?x))"), FoldKind::GemmThen(k)))
    {
        rules.push(fold(name, &lhs, kind)?);
    }
    for (name, lhs, kind) in [
        ("add-gemm-fold", ew[0]),
        ("sub-gemm-fold", ew[1]),
        ("mul-gemm-fold", ew[2]),
        ("div-gemm-fold", ew[3]),
    ]
    .map(|(n, (op, k))| (n, format!("(gemm ?a ({op} ?b ?x))"), FoldKind::ThenGemm(k)))
    {
        rules.push(fold(name, &lhs, kind)?);
    }
    rules.push(fold(
        "gemm-batchnorm-fold",
        "(batchnorm ?a (gemm ?b ?x))",
        FoldKind::GemmBatchNorm,
    )?);
    rules.push(fold(
        "conv-batchnorm-fold",
        "(batchnorm ?a (conv ?b ?x))",
        FoldKind::ConvBatchNorm,
    )?);
    rules.push(fold(
        "batchnorm-diag-gemm",
        "(batchnorm ?a ?x)",
        FoldKind::BatchNormDiag,
    )?);
    for (shape_op, reshape) in [("flatten", false), ("reshape", true)] {
        for (op, kind) in ew {
            let name: &'static str = GRAPH_RULES
                .iter()
                .map(|(n, _)| *n)
                .find(|n| *n == format!("{op}-{shape_op}-commute"))
                .ok_or_else(|| internal("a commute rule without a name"))?;
            let lhs = format!("({shape_op} ?a ({op} ?b ?x))");
            rules.push(fold(name, &lhs, FoldKind::Commute(kind, reshape))?);
        }
    }
    Ok(rules)
}

/// Extraction cost, compared in order: the number of ops; the number of
/// BatchNorms (the prover knows an irrational BatchNorm factor only to an
/// enclosure, so a BatchNorm turned exactly into a diagonal Gemm is better at
/// the same size); the number of ops that are not
/// the original graph's (so that a rewrite that gains nothing, such as a
/// commute whose fold was skipped, leaves the graph as it was).
struct OpCount {
    originals: usize,
}

type Cost = (usize, usize, usize);

impl CostFunction<GraphLang> for OpCount {
    type Cost = Cost;
    fn cost<C>(&mut self, enode: &GraphLang, mut costs: C) -> Cost
    where
        C: FnMut(Id) -> Cost,
    {
        let own = match enode {
            GraphLang::Param(p) => (0, 0, usize::from(p.0 >= self.originals)),
            GraphLang::Input => (0, 0, 0),
            GraphLang::BatchNorm(_) => (1, 1, 0),
            _ => (1, 0, 0),
        };
        enode.fold(own, |(ops, bns, fresh), id| {
            let (o, b, f) = costs(id);
            (
                ops.saturating_add(o),
                bns.saturating_add(b),
                fresh.saturating_add(f),
            )
        })
    }
}

/// Saturation limits; the result is sound whichever limit stops the run.
const ITER_LIMIT: usize = 64;
const NODE_LIMIT: usize = 20_000;
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// Rewrites `graph` into a graph with fewer nodes that computes exactly the
/// same function (real arithmetic, float32 weights taken as exact
/// rationals).
///
/// See the [module docs](super) for the rules and the exactness rule: a fold
/// whose result is not exactly representable in float32 is not applied but
/// listed in [`Simplified::skipped`] with the reason
/// [`INEXACT`](super::INEXACT).
///
/// ```
/// use axiom_core::graph::{GraphBuilder, Op};
/// use axiom_prover::rewrite::simplify;
/// use ndarray::{arr1, arr2};
///
/// let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
/// let h = b.push("fc1", Op::Gemm { weight: arr2(&[[1.0, 0.5], [0.25, -1.0]]), bias: None }, 0);
/// let h = b.push("fc2", Op::Gemm { weight: arr2(&[[2.0, 1.0]]), bias: Some(arr1(&[0.5])) }, h);
/// let h = b.push("relu1", Op::Relu, h);
/// let y = b.push("relu2", Op::Relu, h);
/// let g = b.finish(y)?;
///
/// let s = simplify(&g)?;
/// assert_eq!(s.graph.nodes.len(), 2); // one Gemm, one Relu
/// let Op::Gemm { weight, bias } = &s.graph.nodes[0].op else { unreachable!() };
/// assert_eq!(weight, &arr2(&[[2.25, 0.0]]));
/// assert_eq!(bias, &Some(arr1(&[0.5])));
/// assert!(s.applied.iter().any(|a| a.rule == "gemm-gemm-fold"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn simplify(graph: &Graph) -> Result<Simplified, RewriteError> {
    graph
        .validate()
        .map_err(|e| RewriteError::Graph(e.to_string()))?;
    let original_shape = graph
        .output_shape()
        .map_err(|e| RewriteError::Graph(e.to_string()))?;
    let output_name = graph.value_name(graph.output).to_string();

    let mut applied = Vec::new();
    let live = graph.live_nodes();
    let dead: Vec<String> = graph
        .nodes
        .iter()
        .zip(&live)
        .filter(|(_, &l)| !l)
        .map(|(n, _)| n.name.clone())
        .collect();
    if !dead.is_empty() {
        applied.push(AppliedRewrite {
            rule: DEAD_NODE_ELIM.to_string(),
            nodes: dead,
        });
    }
    let chain = graph.clone().without_dead_nodes();

    // The chain as a term, one table entry per node.
    let mut facts = GraphFacts {
        input_shape: chain.input.shape.clone(),
        ..GraphFacts::default()
    };
    let mut term: RecExpr<GraphLang> = RecExpr::default();
    let mut cur = term.add(GraphLang::Input);
    for (i, node) in chain.nodes.iter().enumerate() {
        if node.inputs != [i]
            || matches!(
                node.op,
                Op::Sum | Op::Concat { .. } | Op::Transpose { .. } | Op::Pad { .. }
            )
        {
            return Err(RewriteError::Graph(format!(
                "node '{}' does not read the previous node's output alone, or is a Transpose or Pad; only chains of the other ops are supported",
                node.name
            )));
        }
        facts.entries.push(Entry {
            op: node.op.clone(),
            names: vec![node.name.clone()],
            original: Some((node.name.clone(), node.output_name.clone())),
        });
        let p = term.add(GraphLang::Param(ParamId(i)));
        cur = term.add(op_node(&node.op, p, cur));
    }

    let rules = graph_rules()?;
    let mut runner = Runner::<GraphLang, GraphFacts, ()>::new(facts)
        .with_explanations_enabled()
        .with_scheduler(SimpleScheduler)
        .with_iter_limit(ITER_LIMIT)
        .with_node_limit(NODE_LIMIT)
        .with_time_limit(TIME_LIMIT)
        .with_expr(&term)
        .run(&rules);
    if let Some(c) = runner.egraph.analysis.conflict.take() {
        return Err(RewriteError::Internal(c));
    }
    let root = *runner
        .roots
        .first()
        .ok_or_else(|| internal("the runner lost the graph's term"))?;
    let originals = chain.nodes.len();
    let (_, best) = Extractor::new(&runner.egraph, OpCount { originals }).find_best(root);

    let new_graph = rebuild(&chain, &runner.egraph.analysis, &best, &output_name)?;
    new_graph
        .validate()
        .map_err(|e| internal(format!("the simplified graph does not validate: {e}")))?;
    let new_shape = new_graph.output_shape().map_err(internal)?;
    if new_shape != original_shape {
        return Err(internal(format!(
            "the simplified graph's output shape {new_shape:?} differs from {original_shape:?}"
        )));
    }

    // What was applied: the steps of egg's explanation `original = best`.
    let egraph = &mut runner.egraph;
    match (egraph.lookup_expr(&term), egraph.lookup_expr(&best)) {
        (Some(a), Some(b)) if egraph.find(a) == egraph.find(b) => {}
        _ => {
            return Err(internal(
                "the extracted term is not equal to the graph's term",
            ))
        }
    }
    let mut explanation = egraph.explain_equivalence(&term, &best);
    let flat = explanation.make_flat_explanation().clone();
    for pair in flat.windows(2) {
        if let Some(step) = describe_step(&pair[0], &pair[1], &egraph.analysis) {
            applied.push(step);
        }
    }

    let mut skipped = std::mem::take(&mut egraph.analysis.skipped);
    // A skip is moot when an applied rewrite covers all its nodes (folding
    // a, b, c at once can be exact where folding b, c first is not).
    skipped.retain(|s| {
        !applied
            .iter()
            .any(|a| s.nodes.iter().all(|n| a.nodes.contains(n)))
    });
    Ok(Simplified {
        graph: new_graph,
        applied,
        skipped,
    })
}

/// The graph of the extracted term.
fn rebuild(
    chain: &Graph,
    facts: &GraphFacts,
    best: &RecExpr<GraphLang>,
    output_name: &str,
) -> Result<Graph, RewriteError> {
    let mut value_of: HashMap<Id, usize> = HashMap::new();
    let mut param_of: HashMap<Id, usize> = HashMap::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut used_names: Vec<String> = vec![chain.input.name.clone()];
    let unique = |base: &str, used: &mut Vec<String>| {
        let mut name = base.to_string();
        let mut k = 1;
        while used.contains(&name) {
            name = format!("{base}#{k}");
            k += 1;
        }
        used.push(name.clone());
        name
    };
    let mut node_names: Vec<String> = Vec::new();
    for (id, enode) in best.items() {
        match enode {
            GraphLang::Param(p) => {
                param_of.insert(id, p.0);
            }
            GraphLang::Input => {
                value_of.insert(id, 0);
            }
            other => {
                let (p, x) = match other.children() {
                    [p, x] => (*p, *x),
                    _ => return Err(internal("an op node without two children")),
                };
                let entry = param_of
                    .get(&p)
                    .and_then(|&k| facts.entries.get(k))
                    .ok_or_else(|| internal("an op without its table entry"))?;
                let input = *value_of
                    .get(&x)
                    .ok_or_else(|| internal("an op reads a value not computed before it"))?;
                let (name, out) = match &entry.original {
                    Some((n, o)) => (n.clone(), o.clone()),
                    None => {
                        let n = entry.names.join("+");
                        (n.clone(), n)
                    }
                };
                let name = unique(&name, &mut node_names);
                let out = unique(&out, &mut used_names);
                nodes.push(Node {
                    name,
                    op: entry.op.clone(),
                    inputs: vec![input],
                    output_name: out,
                });
                value_of.insert(id, nodes.len());
            }
        }
    }
    let output = *value_of
        .get(&best.root())
        .ok_or_else(|| internal("the extracted term is not a value"))?;
    // The output value keeps the original graph's output name.
    if output > 0 && output_name != chain.input.name {
        let clash = nodes
            .iter()
            .position(|n| n.output_name == output_name)
            .filter(|&i| i + 1 != output);
        if let Some(i) = clash {
            let renamed = unique(output_name, &mut used_names);
            nodes[i].output_name = renamed;
        }
        nodes[output - 1].output_name = output_name.to_string();
    }
    Ok(Graph {
        name: chain.name.clone(),
        input: chain.input.clone(),
        nodes,
        output,
        metadata: chain.metadata.clone(),
    })
}

/// The rewritten subterm of a flat explanation step: its path, the rule and
/// whether it is applied forward.
fn find_rewrite(t: &FlatTerm<GraphLang>, path: &mut Vec<usize>) -> Option<(Symbol, bool)> {
    if let Some(r) = t.forward_rule {
        return Some((r, true));
    }
    if let Some(r) = t.backward_rule {
        return Some((r, false));
    }
    for (i, c) in t.children.iter().enumerate() {
        path.push(i);
        if let Some(found) = find_rewrite(c, path) {
            return Some(found);
        }
        path.pop();
    }
    None
}

/// One explanation step as an applied rewrite: the rule and the original
/// nodes of the ops its left-hand side matched.
fn describe_step(
    prev: &FlatTerm<GraphLang>,
    next: &FlatTerm<GraphLang>,
    facts: &GraphFacts,
) -> Option<AppliedRewrite> {
    let mut path = Vec::new();
    let (rule, forward) = find_rewrite(next, &mut path)?;
    let mut lhs = if forward { prev } else { next };
    for &i in &path {
        lhs = lhs.children.get(i)?;
    }
    let rule = rule.to_string();
    let mut params = Vec::new();
    for _ in 0..lhs_depth(&rule) {
        match (&lhs.node, lhs.children.as_slice()) {
            (GraphLang::Param(_) | GraphLang::Input, _) => break,
            (_, [p, x]) => {
                if let GraphLang::Param(k) = p.node {
                    params.push(k.0);
                }
                lhs = x;
            }
            _ => break,
        }
    }
    let nodes = params
        .iter()
        .rev()
        .filter_map(|&k| facts.entries.get(k))
        .flat_map(|e| e.names.iter().cloned())
        .collect();
    Some(AppliedRewrite { rule, nodes })
}
