//! Syntax tree to [`Spec`](super::Spec): names, shapes and indices checked,
//! models imported or built from inline layers, weights loaded, obligations
//! turned into [`Property`]s.

use super::ast::{self, ArgKind, Bytes, CmpTok, ExprKind, ItemKind, PredKind, ProveBody};
use super::error::{did_you_mean, LineIndex, Span, SpecError, SpecErrorKind as K};
use super::model::{Assume, Ensure, IoDecl, ModelSpec, NamedRegion, Obligation, Region};
use super::pred::{CmpOp, IoRef, LinExpr, Pred, Term};
use super::syntax::as_usize;
use crate::graph::{Graph, GraphBuilder, Op};
use crate::safetensors_io::WeightFile;
use crate::spec::{format_rational, Constraint, Formula, LinearExpr, Property, Rational, Var};
use ndarray::{ArrayD, Ix1, Ix2, Ix4};
use num_traits::{One, Signed, Zero};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

type R<T> = Result<T, SpecError>;

/// The layer kinds of inline models.
pub const LAYER_KINDS: [&str; 7] = [
    "dense", "conv2d", "relu", "sigmoid", "tanh", "softmax", "flatten",
];

/// The built-in region constructors.
const REGION_BUILTINS: [&str; 3] = ["box", "linf_ball", "domain"];

/// The functions of expressions and conditions.
const FUNCTIONS: [&str; 4] = ["sum", "argmax", "argmin", "finite"];

pub(crate) struct Resolver<'a> {
    base_dir: PathBuf,
    source: &'a str,
    index: &'a LineIndex<'a>,
    weights: HashMap<PathBuf, WeightFile>,
}

/// The `IN -> OUT` sizes of a layer (with their place) and its keyed
/// arguments.
type LayerArgs<'c> = ((usize, usize, &'c Bytes), HashMap<&'c str, &'c ast::Arg>);

/// What a condition may mention.
struct Ctx<'a> {
    input: &'a IoDecl,
    output: &'a IoDecl,
    /// `false` in `assume`, which is about the input only.
    allow_output: bool,
    /// The statement kind, for messages (`assume`, `ensure`, `prove`).
    what: &'static str,
}

/// A layer being built: where it is and what it reads.
struct LayerIn<'a> {
    shape: &'a [usize],
    /// "the input `x`" or "layer `fc1`", for messages.
    from: &'a str,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(path: &Path, source: &'a str, index: &'a LineIndex<'a>) -> Self {
        let base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Resolver {
            base_dir,
            source,
            index,
            weights: HashMap::new(),
        }
    }

    fn span(&self, at: &Bytes) -> Span {
        self.index.span(at.start, at.end)
    }

    fn err(&self, kind: K, message: impl Into<String>, at: &Bytes, label: &str) -> SpecError {
        SpecError::new(kind, message, self.span(at), label)
    }

    fn text(&self, at: &Bytes) -> String {
        self.source.get(at.clone()).unwrap_or("").to_string()
    }

    pub(crate) fn file(&mut self, file: &ast::File) -> R<Vec<ModelSpec>> {
        let mut seen: HashMap<&str, &Bytes> = HashMap::new();
        let mut models = Vec::new();
        for m in &file.models {
            if let Some(first) = seen.insert(&m.name.text, &m.name.at) {
                return Err(self
                    .err(
                        K::Invalid,
                        format!("duplicate model name `{}`", m.name.text),
                        &m.name.at,
                        "declared again here",
                    )
                    .with_related(self.span(first), "first declared here")
                    .with_hint("give each model its own name"));
            }
            models.push(self.model(m)?);
        }
        Ok(models)
    }

    fn model(&mut self, m: &ast::Model) -> R<ModelSpec> {
        let mut from: Option<(&ast::Ident, &ast::StringLit, &Bytes)> = None;
        let mut input: Option<(&ast::IoItem, &Bytes)> = None;
        let mut output: Option<(&ast::IoItem, &Bytes)> = None;
        let mut layers: Vec<(&ast::Ident, &ast::Call)> = Vec::new();
        let mut regions: Vec<(&ast::Ident, &ast::Call, &Bytes)> = Vec::new();
        let mut assumes: Vec<(&ast::Pred, &Bytes)> = Vec::new();
        let mut ensures: Vec<(&ast::Pred, &Bytes)> = Vec::new();
        let mut proves: Vec<(&ast::Ident, &ProveBody, &Bytes)> = Vec::new();
        for item in &m.items {
            let at = &item.at;
            match &item.kind {
                ItemKind::From { format, path } => {
                    if let Some((_, _, first)) = from {
                        return Err(self.duplicate("`from`", at, first));
                    }
                    from = Some((format, path, at));
                }
                ItemKind::Input(io) => {
                    if let Some((_, first)) = input {
                        return Err(self.duplicate("input declaration", at, first));
                    }
                    input = Some((io, at));
                }
                ItemKind::Output(io) => {
                    if let Some((_, first)) = output {
                        return Err(self.duplicate("output declaration", at, first));
                    }
                    output = Some((io, at));
                }
                ItemKind::Region { name, value } => regions.push((name, value, at)),
                ItemKind::Layer { name, value } => layers.push((name, value)),
                ItemKind::Assume(p) => assumes.push((p, at)),
                ItemKind::Ensure(p) => ensures.push((p, at)),
                ItemKind::Prove { name, body } => proves.push((name, body, at)),
            }
        }
        let missing = |what: &str, example: &str| {
            self.err(
                K::Invalid,
                format!("model `{}` has no {what} declaration", m.name.text),
                &m.name.at,
                "in this model",
            )
            .with_hint(format!("declare it, e.g. `{example}`"))
        };
        let (input_item, input_at) = input.ok_or_else(|| missing("input", "input x: f32[5]"))?;
        let (output_item, output_at) =
            output.ok_or_else(|| missing("output", "output y: f32[5]"))?;
        let input = self.io_decl(input_item, input_at, true)?;
        let output = self.io_decl(output_item, output_at, false)?;
        if input.name == output.name {
            return Err(self
                .err(
                    K::Invalid,
                    format!("the input and the output are both called `{}`", input.name),
                    &output_item.name.at,
                    "same name as the input",
                )
                .with_hint("give the output another name, e.g. `y`"));
        }

        let mut files: Vec<PathBuf> = Vec::new();
        let graph = match (from, layers.first()) {
            (Some((_, _, from_at)), Some((name, _))) => {
                return Err(self
                    .err(
                        K::Invalid,
                        "a model imported with `from` cannot also declare layers",
                        &name.at,
                        "layer here",
                    )
                    .with_related(self.span(from_at), "imported here")
                    .with_hint("remove the layers, or remove `from` to build the model inline"));
            }
            (Some((format, path, _)), None) => {
                let g = self.import(format, path, &mut files)?;
                self.check_imported_shapes(&g, &input, input_item, &output, output_item, path)?;
                g
            }
            (None, Some(_)) => {
                let g = self.build_layers(&m.name, &input, &layers, &mut files)?;
                self.check_built_output(&g, &output, output_item, &layers)?;
                g
            }
            (None, None) => {
                return Err(self
                    .err(
                        K::Invalid,
                        format!("model `{}` has neither `from` nor layers", m.name.text),
                        &m.name.at,
                        "no network",
                    )
                    .with_hint(
                        "import one with `from onnx \"model.onnx\"`, or declare `layer` lines",
                    ))
            }
        };

        // Named regions, in order; each may use the ones before it.
        let mut named: HashMap<String, (Region, Bytes)> = HashMap::new();
        let mut region_list = Vec::new();
        for (name, call, at) in &regions {
            if REGION_BUILTINS.contains(&name.text.as_str()) {
                return Err(self
                    .err(
                        K::Invalid,
                        format!(
                            "`{}` is a built-in region and cannot be redefined",
                            name.text
                        ),
                        &name.at,
                        "built-in name",
                    )
                    .with_hint("choose another name"));
            }
            if let Some((_, first)) = named.get(&name.text) {
                return Err(self.duplicate(&format!("region `{}`", name.text), &name.at, first));
            }
            let region = self.region(call, &named, &input)?;
            region_list.push(NamedRegion {
                name: name.text.clone(),
                text: self.text(at),
                span: self.span(at),
                region: region.clone(),
            });
            named.insert(name.text.clone(), (region, name.at.clone()));
        }

        let assume_ctx = Ctx {
            input: &input,
            output: &output,
            allow_output: false,
            what: "assume",
        };
        let mut assume_list = Vec::new();
        for (p, at) in &assumes {
            let pred = self.pred(p, &assume_ctx)?;
            assume_list.push(Assume {
                text: self.text(at),
                span: self.span(at),
                pred,
            });
        }
        let ensure_ctx = Ctx {
            allow_output: true,
            what: "ensure",
            ..assume_ctx
        };
        let mut ensure_list = Vec::new();
        for (p, at) in &ensures {
            let pred = self.pred(p, &ensure_ctx)?;
            ensure_list.push(Ensure {
                text: self.text(at),
                span: self.span(at),
                pred,
            });
        }
        let prove_ctx = Ctx {
            what: "prove",
            ..ensure_ctx
        };
        let mut obligations: Vec<Obligation> = Vec::new();
        let mut names: HashMap<&str, &Bytes> = HashMap::new();
        for (name, body, at) in &proves {
            if let Some(first) = names.insert(&name.text, &name.at) {
                return Err(self
                    .err(
                        K::Invalid,
                        format!("duplicate obligation name `{}`", name.text),
                        &name.at,
                        "declared again here",
                    )
                    .with_related(self.span(first), "first declared here")
                    .with_hint("give each `prove` its own name"));
            }
            let ob =
                self.obligation(name, body, at, &named, &prove_ctx, &assume_list, &mut files)?;
            obligations.push(ob);
        }

        Ok(ModelSpec {
            name: m.name.text.clone(),
            span: self.span(&m.at),
            graph,
            files,
            input,
            output,
            regions: region_list,
            assumes: assume_list,
            ensures: ensure_list,
            proves: obligations,
        })
    }

    fn duplicate(&self, what: &str, at: &Bytes, first: &Bytes) -> SpecError {
        self.err(
            K::Invalid,
            format!("duplicate {what}"),
            at,
            "declared again here",
        )
        .with_related(self.span(first), "first declared here")
        .with_hint("a model declares this once")
    }

    // ---- declarations --------------------------------------------------------

    fn io_decl(&self, io: &ast::IoItem, at: &Bytes, is_input: bool) -> R<IoDecl> {
        if io.dtype.text != "f32" {
            return Err(self
                .err(
                    K::Invalid,
                    format!("unsupported element type `{}`", io.dtype.text),
                    &io.dtype.at,
                    "not supported",
                )
                .with_hint("Axiom's networks compute in float32: write `f32[...]`"));
        }
        if let Some(zero) = io.dims.iter().find(|d| d.value == 0) {
            return Err(self.err(
                K::ShapeMismatch,
                format!("`{}` has a dimension of size 0", io.name.text),
                &zero.at,
                "empty dimension",
            ));
        }
        if io
            .dims
            .iter()
            .try_fold(1usize, |acc, d| acc.checked_mul(d.value))
            .is_none()
        {
            return Err(self.err(
                K::ShapeMismatch,
                format!("`{}` has too many elements", io.name.text),
                &io.dims_at,
                "too large",
            ));
        }
        let domain = match &io.domain {
            None => None,
            Some(d) if !is_input => {
                return Err(self
                    .err(
                        K::Invalid,
                        "a domain can only be declared for the input",
                        &d.at,
                        "on the output",
                    )
                    .with_hint(format!(
                        "to prove a range of the output, write `prove NAME: forall {} in domain => {}[0] in {}`",
                        "x", io.name.text, self.text(&d.at)
                    )))
            }
            Some(d) => {
                if d.lo_open || d.hi_open {
                    return Err(self
                        .err(
                            K::Invalid,
                            "the input's domain must be a closed interval",
                            &d.at,
                            "open end",
                        )
                        .with_hint("write it with square brackets, e.g. `in [0, 1]`"));
                }
                if d.lo.value > d.hi.value {
                    return Err(self.err(
                        K::Invalid,
                        format!(
                            "the domain [{}, {}] is empty",
                            format_rational(&d.lo.value),
                            format_rational(&d.hi.value)
                        ),
                        &d.at,
                        "lower bound above upper bound",
                    ));
                }
                Some((d.lo.value.clone(), d.hi.value.clone()))
            }
        };
        Ok(IoDecl {
            name: io.name.text.clone(),
            shape: io.dims.iter().map(|d| d.value).collect(),
            domain,
            span: self.span(at),
        })
    }

    // ---- models ----------------------------------------------------------------

    fn resolve_path(&self, rel: &str) -> PathBuf {
        self.base_dir.join(rel)
    }

    fn missing_file(
        &self,
        what: &str,
        shown: &str,
        lit: &ast::StringLit,
        path: &Path,
    ) -> SpecError {
        self.err(
            K::MissingFile,
            format!("{what} `{shown}` not found"),
            &lit.at,
            "no such file",
        )
        .with_hint(format!(
            "looked for {}; paths are relative to the .axiom file's folder",
            path.display()
        ))
    }

    fn import(
        &mut self,
        format: &ast::Ident,
        lit: &ast::StringLit,
        files: &mut Vec<PathBuf>,
    ) -> R<Graph> {
        let loader: fn(&Path) -> crate::Result<Graph> = match format.text.as_str() {
            "onnx" => crate::onnx::load,
            "nnet" => crate::nnet::load,
            other => {
                return Err(self
                    .err(
                        K::UnknownName,
                        format!("unknown model format `{other}`"),
                        &format.at,
                        "not a model format",
                    )
                    .with_hint(
                        did_you_mean(other, ["onnx", "nnet"])
                            .unwrap_or_else(|| "the formats are `onnx` and `nnet`".into()),
                    ))
            }
        };
        let path = self.resolve_path(&lit.text);
        if !path.is_file() {
            return Err(self.missing_file("model file", &lit.text, lit, &path));
        }
        push_unique(files, &path);
        loader(&path).map_err(|e| {
            self.err(
                K::Model,
                format!("cannot import the model: {}", one_line(&e)),
                &lit.at,
                "imported here",
            )
            .with_hint_opt(e.hint.clone())
        })
    }

    fn check_imported_shapes(
        &self,
        g: &Graph,
        input: &IoDecl,
        input_item: &ast::IoItem,
        output: &IoDecl,
        output_item: &ast::IoItem,
        lit: &ast::StringLit,
    ) -> R<()> {
        if !same_shape(&input.shape, &g.input.shape) {
            return Err(self
                .err(
                    K::ShapeMismatch,
                    format!(
                        "the input `{}` is declared with shape {:?}, but the model's input has shape {:?}",
                        input.name, input.shape, g.input.shape
                    ),
                    &input_item.dims_at,
                    "declared here",
                )
                .with_hint(format!(
                    "declare `input {}: f32{:?}` (axes of size 1 may be left out)",
                    input.name, g.input.shape
                )));
        }
        self.check_output_shape(
            g,
            output,
            output_item,
            (&lit.at, "imported here"),
            "the model's output has shape",
            " (axes of size 1 may be left out)",
        )
    }

    fn check_built_output(
        &self,
        g: &Graph,
        output: &IoDecl,
        output_item: &ast::IoItem,
        layers: &[(&ast::Ident, &ast::Call)],
    ) -> R<()> {
        let last = layers.last().map_or("", |(n, _)| n.text.as_str());
        self.check_output_shape(
            g,
            output,
            output_item,
            (&output_item.dims_at, "here"),
            &format!("the last layer `{last}` gives shape"),
            ", or change the layers",
        )
    }

    /// The declared output shape against the graph's: `producer` says where
    /// the graph's shape comes from ("the model's output has shape"), `hint`
    /// is appended to the suggested declaration, and `infer_at` places an error of the
    /// shape inference itself.
    fn check_output_shape(
        &self,
        g: &Graph,
        output: &IoDecl,
        output_item: &ast::IoItem,
        infer_at: (&Bytes, &str),
        producer: &str,
        hint: &str,
    ) -> R<()> {
        let out_shape = g.output_shape().map_err(|e| {
            self.err(
                K::Model,
                format!(
                    "the model's output shape cannot be inferred: {}",
                    one_line(&e)
                ),
                infer_at.0,
                infer_at.1,
            )
        })?;
        if !same_shape(&output.shape, &out_shape) {
            return Err(self
                .err(
                    K::ShapeMismatch,
                    format!(
                        "the output `{}` is declared with shape {:?}, but {producer} {out_shape:?}",
                        output.name, output.shape
                    ),
                    &output_item.dims_at,
                    "declared here",
                )
                .with_hint(format!(
                    "declare `output {}: f32{out_shape:?}`{hint}",
                    output.name
                )));
        }
        Ok(())
    }

    fn build_layers(
        &mut self,
        model: &ast::Ident,
        input: &IoDecl,
        layers: &[(&ast::Ident, &ast::Call)],
        files: &mut Vec<PathBuf>,
    ) -> R<Graph> {
        let mut b = GraphBuilder::new(model.text.clone(), input.name.clone(), input.shape.clone());
        b.metadata("source", "axiom");
        let mut cur = b.input();
        let mut shape = input.shape.clone();
        let mut from = format!("the input `{}`", input.name);
        let mut seen: HashMap<&str, &Bytes> = HashMap::new();
        for (name, call) in layers {
            if name.text == input.name {
                return Err(self.err(
                    K::Invalid,
                    format!("layer `{}` has the name of the input", name.text),
                    &name.at,
                    "same name as the input",
                ));
            }
            if let Some(first) = seen.insert(&name.text, &name.at) {
                return Err(self.duplicate(&format!("layer `{}`", name.text), &name.at, first));
            }
            let op = self.layer_op(
                call,
                LayerIn {
                    shape: &shape,
                    from: &from,
                },
                files,
            )?;
            shape = op.output_shape(&shape).map_err(|m| {
                self.err(
                    K::ShapeMismatch,
                    format!("layer `{}` cannot take {from}: {m}", name.text),
                    &call.at,
                    "here",
                )
            })?;
            cur = b.push(name.text.clone(), op, cur);
            from = format!("layer `{}`", name.text);
        }
        b.finish(cur).map_err(|e| {
            self.err(
                K::Model,
                format!("the model `{}` is invalid: {}", model.text, one_line(&e)),
                &model.at,
                "this model",
            )
            .with_hint_opt(e.hint.clone())
        })
    }

    fn layer_op(&mut self, call: &ast::Call, prev: LayerIn<'_>, files: &mut Vec<PathBuf>) -> R<Op> {
        let kind = call.name.text.as_str();
        let simple = match kind {
            "relu" => Some(Op::Relu),
            "sigmoid" => Some(Op::Sigmoid),
            "tanh" => Some(Op::Tanh),
            "softmax" => Some(Op::Softmax {
                axis: prev.shape.len().saturating_sub(1),
            }),
            "flatten" => Some(Op::Flatten { axis: 0 }),
            _ => None,
        };
        if let Some(op) = simple {
            if let (Some(_), Some(args_at)) = (&call.args, &call.args_at) {
                return Err(self
                    .err(
                        K::Invalid,
                        format!("`{kind}` takes no arguments"),
                        args_at,
                        "unexpected arguments",
                    )
                    .with_hint(format!("write `{kind}` alone")));
            }
            return Ok(op);
        }
        match kind {
            "dense" => self.dense(call, prev, files),
            "conv2d" => self.conv2d(call, prev, files),
            other => Err(self
                .err(
                    K::UnknownLayer,
                    format!("unknown layer `{other}`"),
                    &call.name.at,
                    "unknown layer",
                )
                .with_hint(did_you_mean(other, LAYER_KINDS).unwrap_or_else(|| {
                    format!(
                        "the layer kinds are {}",
                        LAYER_KINDS.map(|k| format!("`{k}`")).join(", ")
                    )
                }))),
        }
    }

    /// The `IN -> OUT` argument and the keyed ones (each at most once, from
    /// `keys`) of `dense` / `conv2d`.
    fn layer_args<'c>(&self, call: &'c ast::Call, keys: &[&str], usage: &str) -> R<LayerArgs<'c>> {
        let kind = &call.name.text;
        let usage_hint = || format!("write `{usage}`");
        let Some(args) = &call.args else {
            return Err(self
                .err(
                    K::Invalid,
                    format!("`{kind}` needs arguments"),
                    &call.at,
                    "no arguments",
                )
                .with_hint(usage_hint()));
        };
        let mut arrow = None;
        let mut keyed: HashMap<&str, &ast::Arg> = HashMap::new();
        for arg in args {
            match &arg.kind {
                ArgKind::Arrow(a, b) if arrow.is_none() => {
                    arrow = Some((a.value, b.value, &arg.at))
                }
                ArgKind::Keyed(key, value) => {
                    if !keys.contains(&key.text.as_str()) {
                        return Err(self
                            .err(
                                K::UnknownName,
                                format!("unknown argument `{}` of `{kind}`", key.text),
                                &key.at,
                                "unknown argument",
                            )
                            .with_hint(
                                did_you_mean(&key.text, keys.iter().copied())
                                    .unwrap_or_else(usage_hint),
                            ));
                    }
                    if keyed.insert(&key.text, value).is_some() {
                        return Err(self.err(
                            K::Invalid,
                            format!("argument `{}` is given twice", key.text),
                            &arg.at,
                            "again here",
                        ));
                    }
                }
                _ => {
                    return Err(self
                        .err(
                            K::Invalid,
                            format!("unexpected argument of `{kind}`"),
                            &arg.at,
                            "unexpected",
                        )
                        .with_hint(usage_hint()))
                }
            }
        }
        let arrow = arrow.ok_or_else(|| {
            self.err(
                K::Invalid,
                format!("`{kind}` needs its sizes `IN -> OUT`"),
                call.args_at.as_ref().unwrap_or(&call.at),
                "sizes missing",
            )
            .with_hint(usage_hint())
        })?;
        Ok((arrow, keyed))
    }

    fn dense(&mut self, call: &ast::Call, prev: LayerIn<'_>, files: &mut Vec<PathBuf>) -> R<Op> {
        const USAGE: &str = "dense(IN -> OUT, weights \"FILE:TENSOR\", bias \"FILE:TENSOR\")";
        let ((n_in, n_out, arrow_at), keyed) =
            self.layer_args(call, &["weights", "bias"], USAGE)?;
        let last = prev.shape.last().copied().unwrap_or(0);
        if last != n_in {
            return Err(self
                .err(
                    K::ShapeMismatch,
                    format!(
                        "`dense({n_in} -> {n_out})` expects {n_in} input features, but {} gives {last} (shape {:?})",
                        prev.from, prev.shape
                    ),
                    arrow_at,
                    &format!("expects {n_in}"),
                )
                .with_hint(format!("write `dense({last} -> {n_out}, ...)`")));
        }
        let weights = self.required_tensor(call, &keyed, "weights", USAGE, files)?;
        let weight = self
            .shaped(weights, &[n_out, n_in], "dense", call)?
            .into_dimensionality::<Ix2>()
            .map_err(|_| self.internal_shape(&call.at))?;
        let bias = match keyed.get("bias") {
            None => None,
            Some(arg) => {
                let t = self.tensor_arg(arg, "bias", files)?;
                Some(
                    self.shaped((t, arg), &[n_out], "dense", call)?
                        .into_dimensionality::<Ix1>()
                        .map_err(|_| self.internal_shape(&call.at))?,
                )
            }
        };
        Ok(Op::Gemm { weight, bias })
    }

    fn conv2d(&mut self, call: &ast::Call, prev: LayerIn<'_>, files: &mut Vec<PathBuf>) -> R<Op> {
        const USAGE: &str =
            "conv2d(IN_CH -> OUT_CH, kernel K, stride S, pad P, weights \"FILE:TENSOR\", bias \"FILE:TENSOR\")";
        let ((c_in, c_out, arrow_at), keyed) =
            self.layer_args(call, &["kernel", "stride", "pad", "weights", "bias"], USAGE)?;
        let channels = match prev.shape {
            [_, c, _, _] => *c,
            _ => {
                return Err(self
                    .err(
                        K::ShapeMismatch,
                        format!(
                            "`conv2d` needs an [N, C, H, W] input, but {} gives shape {:?}",
                            prev.from, prev.shape
                        ),
                        &call.at,
                        "needs rank 4",
                    )
                    .with_hint(
                        "declare the input with four axes, e.g. `input x: f32[1, 1, 28, 28]`",
                    ))
            }
        };
        if channels != c_in {
            return Err(self
                .err(
                    K::ShapeMismatch,
                    format!(
                        "`conv2d({c_in} -> {c_out})` expects {c_in} input channels, but {} gives {channels} (shape {:?})",
                        prev.from, prev.shape
                    ),
                    arrow_at,
                    &format!("expects {c_in}"),
                )
                .with_hint(format!("write `conv2d({channels} -> {c_out}, ...)`")));
        }
        let int_arg = |key: &str, default: Option<usize>, min: usize| -> R<usize> {
            match keyed.get(key) {
                None => default.ok_or_else(|| {
                    self.err(
                        K::Invalid,
                        format!("`conv2d` needs `{key} N`"),
                        &call.at,
                        "missing",
                    )
                    .with_hint(format!("write `{USAGE}`"))
                }),
                Some(arg) => match &arg.kind {
                    ArgKind::Num(n) => as_usize(&n.value).filter(|v| *v >= min).ok_or_else(|| {
                        self.err(
                            K::Invalid,
                            format!("`{key}` must be a whole number >= {min}"),
                            &arg.at,
                            "not allowed",
                        )
                    }),
                    _ => Err(self.err(
                        K::Invalid,
                        format!("`{key}` takes a whole number"),
                        &arg.at,
                        "not a number",
                    )),
                },
            }
        };
        let k = int_arg("kernel", None, 1)?;
        let s = int_arg("stride", Some(1), 1)?;
        let p = int_arg("pad", Some(0), 0)?;
        let weights = self.required_tensor(call, &keyed, "weights", USAGE, files)?;
        let weight = self
            .shaped(weights, &[c_out, c_in, k, k], "conv2d", call)?
            .into_dimensionality::<Ix4>()
            .map_err(|_| self.internal_shape(&call.at))?;
        let bias = match keyed.get("bias") {
            None => None,
            Some(arg) => {
                let t = self.tensor_arg(arg, "bias", files)?;
                Some(
                    self.shaped((t, arg), &[c_out], "conv2d", call)?
                        .into_dimensionality::<Ix1>()
                        .map_err(|_| self.internal_shape(&call.at))?,
                )
            }
        };
        Ok(Op::Conv2d {
            weight,
            bias,
            strides: [s, s],
            pads: [p, p, p, p],
            dilations: [1, 1],
            group: 1,
        })
    }

    fn internal_shape(&self, at: &Bytes) -> SpecError {
        self.err(K::ShapeMismatch, "internal error: tensor rank", at, "here")
    }

    fn required_tensor<'c>(
        &mut self,
        call: &ast::Call,
        keyed: &HashMap<&str, &'c ast::Arg>,
        key: &str,
        usage: &str,
        files: &mut Vec<PathBuf>,
    ) -> R<(ArrayD<f32>, &'c ast::Arg)> {
        let Some(arg) = keyed.get(key) else {
            return Err(self
                .err(
                    K::Invalid,
                    format!("`{}` needs `{key} \"FILE:TENSOR\"`", call.name.text),
                    call.args_at.as_ref().unwrap_or(&call.at),
                    &format!("no `{key}`"),
                )
                .with_hint(format!("write `{usage}`")));
        };
        Ok((self.tensor_arg(arg, key, files)?, *arg))
    }

    /// Checks a tensor's shape against what the layer needs.
    fn shaped(
        &self,
        (t, arg): (ArrayD<f32>, &ast::Arg),
        want: &[usize],
        kind: &str,
        call: &ast::Call,
    ) -> R<ArrayD<f32>> {
        if t.shape() != want {
            return Err(self.err(
                K::ShapeMismatch,
                format!(
                    "the tensor has shape {:?}, but `{}` needs {want:?} for this `{kind}`",
                    t.shape(),
                    self.text(&call.at)
                ),
                &arg.at,
                &format!("shape {:?}", t.shape()),
            ));
        }
        Ok(t)
    }

    /// Loads the tensor a `"FILE:TENSOR"` argument names.
    fn tensor_arg(
        &mut self,
        arg: &ast::Arg,
        key: &str,
        files: &mut Vec<PathBuf>,
    ) -> R<ArrayD<f32>> {
        let ArgKind::Str(lit) = &arg.kind else {
            return Err(self
                .err(
                    K::Invalid,
                    format!("`{key}` takes a string \"FILE:TENSOR\""),
                    &arg.at,
                    "not a string",
                )
                .with_hint(format!("e.g. `{key} \"weights.safetensors:fc1.{key}\"`")));
        };
        let Some((file, tensor)) = lit
            .text
            .rsplit_once(':')
            .filter(|(f, t)| !f.is_empty() && !t.is_empty())
        else {
            return Err(self
                .err(
                    K::Invalid,
                    format!("`{}` does not name a tensor as \"FILE:TENSOR\"", lit.text),
                    &lit.at,
                    "expected FILE:TENSOR",
                )
                .with_hint(format!("e.g. `{key} \"weights.safetensors:fc1.{key}\"`")));
        };
        let path = self.resolve_path(file);
        if !self.weights.contains_key(&path) {
            if !path.is_file() {
                return Err(self.missing_file("weight file", file, lit, &path));
            }
            let w = crate::safetensors_io::load(&path).map_err(|e| {
                self.err(
                    K::Model,
                    format!("cannot read the weight file: {}", one_line(&e)),
                    &lit.at,
                    "read here",
                )
                .with_hint_opt(e.hint.clone())
            })?;
            self.weights.insert(path.clone(), w);
        }
        push_unique(files, &path);
        let w = self
            .weights
            .get(&path)
            .ok_or_else(|| self.internal_shape(&lit.at))?;
        w.get(tensor).cloned().map_err(|e| {
            self.err(
                K::UnknownName,
                format!("no tensor `{tensor}` in `{file}`"),
                &lit.at,
                "no such tensor",
            )
            .with_hint_opt(e.hint.clone())
        })
    }

    // ---- regions ----------------------------------------------------------------

    fn region(
        &self,
        call: &ast::Call,
        named: &HashMap<String, (Region, Bytes)>,
        input: &IoDecl,
    ) -> R<Region> {
        let n = input.len();
        let name = call.name.text.as_str();
        let args = call.args.as_deref();
        let bad_args = |usage: &str| {
            self.err(
                K::Invalid,
                format!("wrong arguments for `{name}`"),
                call.args_at.as_ref().unwrap_or(&call.at),
                "here",
            )
            .with_hint(format!("write `{usage}`"))
        };
        // A list of `n` bounds, or one number for every element.
        let bounds = |arg: &ast::Arg, what: &str| -> R<Vec<Rational>> {
            match &arg.kind {
                ArgKind::List(items) if items.len() == n => {
                    Ok(items.iter().map(|v| v.value.clone()).collect())
                }
                ArgKind::List(items) => Err(self
                    .err(
                        K::ShapeMismatch,
                        format!(
                            "the {what} list has {} values, but the input `{}` has {n} elements",
                            items.len(),
                            input.name
                        ),
                        &arg.at,
                        &format!("{} values", items.len()),
                    )
                    .with_hint(format!("give {n} values, or one number for all of them"))),
                ArgKind::Num(v) => Ok(vec![v.value.clone(); n]),
                _ => Err(self.err(
                    K::Invalid,
                    format!("the {what} must be a list of numbers, or one number"),
                    &arg.at,
                    "not a list",
                )),
            }
        };
        let region = match name {
            "box" => {
                let [lo, hi] = args.unwrap_or(&[]) else {
                    return Err(bad_args("box([lo, ...], [hi, ...])"));
                };
                let region = Region {
                    lower: bounds(lo, "lower bound")?,
                    upper: bounds(hi, "upper bound")?,
                };
                if let Some(i) = (0..n).find(|&i| region.lower[i] > region.upper[i]) {
                    return Err(self
                        .err(
                            K::Invalid,
                            format!(
                                "the box is empty: its lower bound {} for {}[{i}] is above its upper bound {}",
                                format_rational(&region.lower[i]),
                                input.name,
                                format_rational(&region.upper[i])
                            ),
                            &call.at,
                            "empty box",
                        )
                        .with_hint("box(LOWER, UPPER) takes the lower bounds first"));
                }
                region
            }
            "linf_ball" => {
                let [center, eps] = args.unwrap_or(&[]) else {
                    return Err(bad_args("linf_ball([c, ...], EPS)"));
                };
                let center = bounds(center, "center")?;
                let ArgKind::Num(eps_num) = &eps.kind else {
                    return Err(bad_args("linf_ball([c, ...], EPS)"));
                };
                if eps_num.value.is_negative() {
                    return Err(self.err(
                        K::Invalid,
                        "the radius of `linf_ball` must be >= 0",
                        &eps.at,
                        "negative",
                    ));
                }
                Region {
                    lower: center.iter().map(|c| c - &eps_num.value).collect(),
                    upper: center.iter().map(|c| c + &eps_num.value).collect(),
                }
            }
            "domain" => {
                if args.is_some() {
                    return Err(bad_args("domain"));
                }
                let Some((lo, hi)) = &input.domain else {
                    return Err(self
                        .err(
                            K::Invalid,
                            format!("the input `{}` has no declared domain", input.name),
                            &call.at,
                            "no domain",
                        )
                        .with_hint(format!(
                            "declare one, e.g. `input {}: f32{:?} in [0, 1]`",
                            input.name, input.shape
                        )));
                };
                Region {
                    lower: vec![lo.clone(); n],
                    upper: vec![hi.clone(); n],
                }
            }
            other => match named.get(other) {
                Some((r, _)) => {
                    if args.is_some() {
                        return Err(bad_args(other));
                    }
                    r.clone()
                }
                None => {
                    let candidates: Vec<&str> = named
                        .keys()
                        .map(String::as_str)
                        .chain(REGION_BUILTINS)
                        .collect();
                    return Err(self
                        .err(
                            K::UnknownName,
                            format!("unknown region `{other}`"),
                            &call.name.at,
                            "not declared",
                        )
                        .with_hint(did_you_mean(other, candidates).unwrap_or_else(|| {
                            "declare it with `region NAME = box(...)` before its use, or use `box(...)`, `linf_ball(...)`, `domain`".to_string()
                        })));
                }
            },
        };
        Ok(region)
    }

    // ---- conditions -------------------------------------------------------------

    fn io_ref(&self, name: &ast::Ident, ctx: &Ctx<'_>) -> R<IoRef> {
        if name.text == ctx.input.name {
            return Ok(IoRef::Input);
        }
        if name.text == ctx.output.name {
            if !ctx.allow_output {
                return Err(self
                    .err(
                        K::Invalid,
                        format!(
                            "an `{}` may only mention the input `{}`",
                            ctx.what, ctx.input.name
                        ),
                        &name.at,
                        "the output",
                    )
                    .with_hint("conditions on the output belong in `ensure` or `prove`"));
            }
            return Ok(IoRef::Output);
        }
        Err(self
            .err(
                K::UnknownName,
                format!("unknown name `{}`", name.text),
                &name.at,
                "not declared",
            )
            .with_hint(
                did_you_mean(
                    &name.text,
                    [ctx.output.name.as_str(), ctx.input.name.as_str()],
                )
                .unwrap_or_else(|| {
                    format!(
                        "the input is `{}` and the output is `{}`",
                        ctx.input.name, ctx.output.name
                    )
                }),
            ))
    }

    fn decl<'c>(&self, io: IoRef, ctx: &Ctx<'c>) -> &'c IoDecl {
        match io {
            IoRef::Input => ctx.input,
            IoRef::Output => ctx.output,
        }
    }

    fn flat_index(&self, decl: &IoDecl, idx: &[ast::Int], at: &Bytes) -> R<usize> {
        let len = decl.len();
        let out_of_range = |i: usize, limit: usize, place: &Bytes, what: String| {
            self.err(
                K::IndexOutOfRange,
                format!("index {i} is out of range: {what}"),
                place,
                "out of range",
            )
            .with_hint(format!(
                "indices start at 0; the last is {}",
                limit.saturating_sub(1)
            ))
        };
        match idx {
            [i] => {
                if i.value >= len {
                    return Err(out_of_range(
                        i.value,
                        len,
                        at,
                        format!("`{}` has {len} element{}", decl.name, plural(len)),
                    ));
                }
                Ok(i.value)
            }
            _ if idx.len() == decl.shape.len() => {
                let mut flat = 0;
                for (axis, (i, d)) in idx.iter().zip(&decl.shape).enumerate() {
                    if i.value >= *d {
                        return Err(out_of_range(
                            i.value,
                            *d,
                            &i.at,
                            format!("axis {axis} of `{}` has size {d}", decl.name),
                        ));
                    }
                    flat = flat * d + i.value;
                }
                Ok(flat)
            }
            _ => Err(self
                .err(
                    K::Invalid,
                    format!(
                        "`{}` has shape {:?}: index it with one flat index or {} indices",
                        decl.name,
                        decl.shape,
                        decl.shape.len()
                    ),
                    at,
                    "wrong number of indices",
                )
                .with_hint(format!("e.g. `{}[0]`", decl.name))),
        }
    }

    fn lin(&self, e: &ast::Expr, ctx: &Ctx<'_>) -> R<LinExpr> {
        Ok(match &e.kind {
            ExprKind::Num(v) => LinExpr::constant(v.clone()),
            ExprKind::Index { name, idx } => {
                let io = self.io_ref(name, ctx)?;
                let i = self.flat_index(self.decl(io, ctx), idx, &e.at)?;
                LinExpr::term(Term::Elem(io, i))
            }
            ExprKind::Call { func, arg } => match func.text.as_str() {
                "sum" => LinExpr::term(Term::Sum(self.io_ref(arg, ctx)?)),
                "argmax" | "argmin" => {
                    return Err(self
                        .err(
                            K::Invalid,
                            format!("`{}` is not a number", self.text(&e.at)),
                            &e.at,
                            "only compared with == or !=",
                        )
                        .with_hint(format!(
                            "compare it with an index: `{}({}) == 0`",
                            func.text, arg.text
                        )))
                }
                "finite" => {
                    return Err(self.err(
                        K::Invalid,
                        format!("`{}` is a condition, not a number", self.text(&e.at)),
                        &e.at,
                        "a condition",
                    ))
                }
                other => return Err(self.unknown_function(other, &func.at)),
            },
            ExprKind::Neg(inner) => self.lin(inner, ctx)?.scaled(&-Rational::one()),
            ExprKind::Chain(head, rest) => {
                let mut acc = self.lin(head, ctx)?;
                for (op, operand) in rest {
                    let r = self.lin(operand, ctx)?;
                    let so_far = e.at.start..operand.at.end;
                    acc = match op {
                        ast::BinOp::Add => {
                            acc.add_scaled(&r, &Rational::one());
                            acc
                        }
                        ast::BinOp::Sub => {
                            acc.add_scaled(&r, &-Rational::one());
                            acc
                        }
                        ast::BinOp::Mul => match (acc.as_constant(), r.as_constant()) {
                            (Some(c), _) => r.scaled(c),
                            (_, Some(c)) => acc.scaled(c),
                            _ => {
                                return Err(self
                                    .err(
                                        K::Invalid,
                                        "nonlinear expression: both factors depend on the network",
                                        &so_far,
                                        "nonlinear",
                                    )
                                    .with_hint("conditions are linear: multiply only by constants"))
                            }
                        },
                        ast::BinOp::Div => match r.as_constant() {
                            Some(c) if c.is_zero() => {
                                return Err(self.err(
                                    K::Invalid,
                                    "division by zero",
                                    &operand.at,
                                    "zero",
                                ))
                            }
                            Some(c) => acc.scaled(&c.recip()),
                            None => {
                                return Err(self
                                    .err(
                                        K::Invalid,
                                        "nonlinear expression: division by an expression that depends on the network",
                                        &operand.at,
                                        "not a constant",
                                    )
                                    .with_hint("conditions are linear: divide only by constants"))
                            }
                        },
                    };
                }
                acc
            }
        })
    }

    fn unknown_function(&self, name: &str, at: &Bytes) -> SpecError {
        self.err(
            K::UnknownName,
            format!("unknown function `{name}`"),
            at,
            "unknown",
        )
        .with_hint(did_you_mean(name, FUNCTIONS).unwrap_or_else(|| {
            "the functions are `sum`, `argmax`, `argmin` and `finite`".to_string()
        }))
    }

    fn pred(&self, p: &ast::Pred, ctx: &Ctx<'_>) -> R<Pred> {
        Ok(match &p.kind {
            PredKind::Or(ps) => Pred::Or(ps.iter().map(|q| self.pred(q, ctx)).collect::<R<_>>()?),
            PredKind::And(ps) => Pred::And(ps.iter().map(|q| self.pred(q, ctx)).collect::<R<_>>()?),
            PredKind::Not(q) => Pred::Not(Box::new(self.pred(q, ctx)?)),
            PredKind::Cmp(a, op, b) => {
                let arg_call = |e: &ast::Expr| match &e.kind {
                    ExprKind::Call { func, arg }
                        if func.text == "argmax" || func.text == "argmin" =>
                    {
                        Some((func.text == "argmax", arg.clone()))
                    }
                    _ => None,
                };
                if let Some((is_max, arg)) = arg_call(a) {
                    return self.arg_pred(is_max, &arg, *op, b, &p.at, ctx);
                }
                if let Some((is_max, arg)) = arg_call(b) {
                    return self.arg_pred(is_max, &arg, *op, a, &p.at, ctx);
                }
                let op = match op {
                    CmpTok::Le => CmpOp::Le,
                    CmpTok::Lt => CmpOp::Lt,
                    CmpTok::Ge => CmpOp::Ge,
                    CmpTok::Gt => CmpOp::Gt,
                    CmpTok::Eq => CmpOp::Eq,
                    CmpTok::Ne => CmpOp::Ne,
                };
                Pred::Cmp(self.lin(a, ctx)?, op, self.lin(b, ctx)?)
            }
            PredKind::In(e, iv) => {
                let expr = self.lin(e, ctx)?;
                let (lo, hi) = (&iv.lo.value, &iv.hi.value);
                if lo > hi || (lo == hi && (iv.lo_open || iv.hi_open)) {
                    return Err(self
                        .err(
                            K::Invalid,
                            format!("the interval `{}` is empty", self.text(&iv.at)),
                            &iv.at,
                            "empty",
                        )
                        .with_hint("write the lower end first"));
                }
                Pred::InRange {
                    expr,
                    lo: lo.clone(),
                    hi: hi.clone(),
                    lo_open: iv.lo_open,
                    hi_open: iv.hi_open,
                }
            }
            PredKind::Call { func, arg } => match func.text.as_str() {
                "finite" => Pred::Finite(self.io_ref(arg, ctx)?),
                "argmax" | "argmin" | "sum" => {
                    return Err(self
                        .err(
                            K::Invalid,
                            format!("`{}` is a number, not a condition", self.text(&p.at)),
                            &p.at,
                            "compare it",
                        )
                        .with_hint(if func.text == "sum" {
                            format!("e.g. `sum({}) == 1`", arg.text)
                        } else {
                            format!("e.g. `{}({}) == 0`", func.text, arg.text)
                        }))
                }
                other => return Err(self.unknown_function(other, &func.at)),
            },
        })
    }

    /// `argmax(y) == k` and friends.
    fn arg_pred(
        &self,
        is_max: bool,
        arg: &ast::Ident,
        op: CmpTok,
        other: &ast::Expr,
        at: &Bytes,
        ctx: &Ctx<'_>,
    ) -> R<Pred> {
        let func = if is_max { "argmax" } else { "argmin" };
        let io = self.io_ref(arg, ctx)?;
        if io == IoRef::Input {
            return Err(self
                .err(
                    K::Invalid,
                    format!("`{func}` applies to the output `{}`", ctx.output.name),
                    &arg.at,
                    "the input",
                )
                .with_hint(format!("write `{func}({})`", ctx.output.name)));
        }
        let eq = match op {
            CmpTok::Eq => true,
            CmpTok::Ne => false,
            _ => {
                return Err(self
                    .err(
                        K::Invalid,
                        format!(
                            "`{func}({})` can only be compared with `==` or `!=`",
                            arg.text
                        ),
                        at,
                        "not == or !=",
                    )
                    .with_hint(format!("e.g. `{func}({}) == 0`", arg.text)))
            }
        };
        let k = match &other.kind {
            ExprKind::Num(v) => as_usize(v),
            _ => None,
        };
        let Some(k) = k else {
            return Err(self
                .err(
                    K::Invalid,
                    format!(
                        "`{func}({})` must be compared with an output index",
                        arg.text
                    ),
                    &other.at,
                    "not an index",
                )
                .with_hint(format!("e.g. `{func}({}) == 0`", arg.text)));
        };
        let n = ctx.output.len();
        if k >= n {
            return Err(self
                .err(
                    K::IndexOutOfRange,
                    format!(
                        "index {k} is out of range: `{}` has {n} element{}",
                        ctx.output.name,
                        plural(n)
                    ),
                    &other.at,
                    "out of range",
                )
                .with_hint(format!("indices start at 0; the last is {}", n - 1)));
        }
        Ok(if is_max {
            Pred::ArgMax { k, eq }
        } else {
            Pred::ArgMin { k, eq }
        })
    }

    // ---- obligations ------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn obligation(
        &self,
        name: &ast::Ident,
        body: &ProveBody,
        at: &Bytes,
        named: &HashMap<String, (Region, Bytes)>,
        ctx: &Ctx<'_>,
        assumes: &[Assume],
        files: &mut Vec<PathBuf>,
    ) -> R<Obligation> {
        let (n_in, n_out) = (ctx.input.len(), ctx.output.len());
        let (region, pred, property) = match body {
            ProveBody::Forall { var, region, pred } => {
                if var.text != ctx.input.name {
                    return Err(self
                        .err(
                            K::UnknownName,
                            format!("`{}` is not the model's input", var.text),
                            &var.at,
                            "not the input",
                        )
                        .with_hint(
                            did_you_mean(&var.text, [ctx.input.name.as_str()]).unwrap_or_else(
                                || format!("write `forall {} in ...`", ctx.input.name),
                            ),
                        ));
                }
                let mut r = self.region(region, named, ctx.input)?;
                if let Some((lo, hi)) = &ctx.input.domain {
                    for v in &mut r.lower {
                        if *v < *lo {
                            *v = lo.clone();
                        }
                    }
                    for v in &mut r.upper {
                        if *v > *hi {
                            *v = hi.clone();
                        }
                    }
                }
                let pred = self.pred(pred, ctx)?;
                let property = forall_property(&r, assumes, &pred, n_in, n_out, &ctx.input.name);
                (Some(r), Some(pred), property)
            }
            ProveBody::Vnnlib(lit) => {
                let path = self.resolve_path(&lit.text);
                if !path.is_file() {
                    return Err(self.missing_file("VNN-LIB file", &lit.text, lit, &path));
                }
                push_unique(files, &path);
                let prop = crate::vnnlib::load(&path).map_err(|e| {
                    self.err(
                        K::Invalid,
                        format!("cannot read the VNN-LIB property: {}", one_line(&e)),
                        &lit.at,
                        "read here",
                    )
                    .with_hint_opt(e.hint.clone())
                })?;
                if prop.num_inputs != n_in || prop.num_outputs != n_out {
                    return Err(self.err(
                        K::ShapeMismatch,
                        format!(
                            "the VNN-LIB file declares {} inputs and {} outputs, but the model has {n_in} (`{}`) and {n_out} (`{}`)",
                            prop.num_inputs, prop.num_outputs, ctx.input.name, ctx.output.name
                        ),
                        &lit.at,
                        "sizes differ",
                    ));
                }
                (
                    None,
                    None,
                    vnnlib_property(prop, ctx.input, assumes, n_in, n_out),
                )
            }
        };
        Ok(Obligation {
            name: name.text.clone(),
            span: self.span(at),
            text: self.text(at),
            region,
            pred,
            property,
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn push_unique(files: &mut Vec<PathBuf>, path: &Path) {
    if !files.iter().any(|f| f == path) {
        files.push(path.to_path_buf());
    }
}

/// A crate error's text on one line (the hint goes elsewhere).
fn one_line(e: &crate::Error) -> String {
    let mut s = String::new();
    if let Some(file) = &e.file {
        s.push_str(&format!("{}: ", file.display()));
    }
    if let Some(loc) = &e.location {
        s.push_str(&format!("{loc}: "));
    }
    s.push_str(&e.message);
    s
}

/// Shapes that agree once axes of size 1 are dropped (`[5]` and
/// `[1, 1, 1, 5]`).
fn same_shape(a: &[usize], b: &[usize]) -> bool {
    let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
    squeeze(a) == squeeze(b)
}

fn box_atoms(lower: &[Rational], upper: &[Rational]) -> Vec<Formula> {
    let mut out = Vec::with_capacity(2 * lower.len());
    for (i, (lo, hi)) in lower.iter().zip(upper).enumerate() {
        let x = LinearExpr::var(Var::X(i));
        out.push(Formula::Atom(Constraint::le(
            &LinearExpr::constant(lo.clone()),
            &x,
            false,
        )));
        out.push(Formula::Atom(Constraint::le(
            &x,
            &LinearExpr::constant(hi.clone()),
            false,
        )));
    }
    out
}

fn property_error(e: &crate::Error) -> String {
    match &e.hint {
        Some(h) => format!("{} ({h})", e.message),
        None => e.message.clone(),
    }
}

/// `forall x in region => pred` as a property: the box, the assumptions and
/// the violation set of `pred`.
fn forall_property(
    region: &Region,
    assumes: &[Assume],
    pred: &Pred,
    n_in: usize,
    n_out: usize,
    input_name: &str,
) -> Result<Property, String> {
    if let Some(i) = (0..region.lower.len()).find(|&i| region.lower[i] > region.upper[i]) {
        return Err(format!(
            "the region is empty: {input_name}[{i}] would need {} <= {input_name}[{i}] <= {} (after intersecting with the input's domain)",
            format_rational(&region.lower[i]),
            format_rational(&region.upper[i])
        ));
    }
    let mut parts = box_atoms(&region.lower, &region.upper);
    for a in assumes {
        parts.push(a.pred.to_formula(n_in, n_out)?);
    }
    let violation = pred.violation_dnf(n_in, n_out)?;
    parts.push(Formula::Or(
        violation
            .into_iter()
            .map(|term| Formula::And(term.into_iter().map(Formula::Atom).collect()))
            .collect(),
    ));
    Property::new(n_in, n_out, Formula::And(parts)).map_err(|e| property_error(&e))
}

/// A VNN-LIB property with the input's domain and the assumptions added.
fn vnnlib_property(
    prop: Property,
    input: &IoDecl,
    assumes: &[Assume],
    n_in: usize,
    n_out: usize,
) -> Result<Property, String> {
    if assumes.is_empty() && input.domain.is_none() {
        return Ok(prop);
    }
    let mut parts = vec![prop.assertion];
    if let Some((lo, hi)) = &input.domain {
        parts.extend(box_atoms(&vec![lo.clone(); n_in], &vec![hi.clone(); n_in]));
    }
    for a in assumes {
        parts.push(a.pred.to_formula(n_in, n_out)?);
    }
    Property::new(n_in, n_out, Formula::And(parts)).map_err(|e| property_error(&e))
}
