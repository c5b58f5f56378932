//! # axiom-lean-export
//!
//! Exports Axiom proof obligations to Lean 4: the real network, the real
//! obligation, and a proof only where a concrete route exists.
//!
//! [`export`] turns models and their obligations ([`ModelInput`],
//! [`ObligationInput`]) into a [`LeanProject`]: Lean 4 sources that depend
//! on Lean core alone, and a manifest (`obligations.json`) that says, for
//! each obligation, its verdict in Axiom and whether its Lean proof is
//! `complete` or `open`. The layout:
//!
//! ```text
//! DIR/
//!   obligations.json              the manifest
//!   AxiomExport.lean              imports everything
//!   AxiomExport/Prelude.lean      exact rationals Q, relu, dense layers
//!   AxiomExport/<model>/Weights.lean      every constant of the network
//!   AxiomExport/<model>/Network.lean      def net : List Q → List Q
//!   AxiomExport/<model>/Obligations.lean  one theorem per obligation
//!   AxiomExport/Axioms.lean       #print axioms of every complete theorem
//!   lakefile.lean, check.sh       `lake build`, or plain `lean` in order
//! ```
//!
//! Statements ([`Statement`]): a `forall x in R => P` obligation becomes
//! `∀ x : List Q, x.length = n → R x → P x (net x)`; a VNN-LIB obligation
//! (which states the unsafe set `U`) becomes
//! `∀ x : List Q, x.length = n → ¬ U x (net x)`. Proofs: a disproved
//! obligation is exported as the theorem of its negation with the
//! counterexample as witness, closed by `decide`; `c ≤ y[i]` with `c ≤ 0`
//! about a network whose output is a ReLU is proved from the prelude's
//! lemma; everything else ends in `sorry` and is `open`.
//!
//! ```
//! use axiom_core::graph::{GraphBuilder, Op};
//! use axiom_core::lang::{CmpOp, IoRef, LinExpr, Pred, Region, Term};
//! use axiom_lean_export::{export, AxiomVerdict, ModelInput, ObligationInput, Statement};
//! use ndarray::arr2;
//!
//! // y = relu(x0 - x1), and the fact "y[0] >= 0".
//! let mut b = GraphBuilder::new("diff", "x", vec![2]);
//! let fc = b.push("fc", Op::Gemm { weight: arr2(&[[1.0, -1.0]]), bias: None }, b.input());
//! let y = b.push("relu", Op::Relu, fc);
//! let graph = b.finish(y).unwrap();
//! let zero = axiom_core::spec::parse_decimal("0").unwrap();
//! let one = axiom_core::spec::parse_decimal("1").unwrap();
//! let nonneg = Pred::Cmp(
//!     LinExpr::term(Term::Elem(IoRef::Output, 0)),
//!     CmpOp::Ge,
//!     LinExpr::constant(zero.clone()),
//! );
//! let project = export(
//!     &[ModelInput {
//!         name: "diff".into(),
//!         graph: &graph,
//!         obligations: vec![ObligationInput {
//!             name: "nonneg".into(),
//!             text: "prove nonneg: forall x in domain => y[0] >= 0".into(),
//!             statement: Ok(Statement::Forall {
//!                 region: Some(Region { lower: vec![zero.clone(), zero], upper: vec![one.clone(), one] }),
//!                 assumes: vec![],
//!                 pred: nonneg,
//!             }),
//!             verdict: AxiomVerdict::Proved,
//!             witness: None,
//!             certificate: None,
//!         }],
//!     }],
//!     "an example",
//!     &Default::default(),
//! )
//! .unwrap();
//! let entry = &project.manifest.obligations[0];
//! assert_eq!(entry.lean_proof, "complete");
//! assert_eq!(entry.lean_theorem.as_deref(), Some("AxiomExport.diff.nonneg"));
//! assert!(axiom_lean_export::structure::check(&project).is_empty());
//! ```

pub mod network;
pub mod number;
pub mod prelude;
pub mod sexpr;
pub mod statement;
pub mod structure;

use axiom_core::graph::Graph;
use axiom_core::lang::{Pred, Region};
use axiom_core::spec::{Property, Rational};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The model or obligation has no exact Lean form.
    #[error("{0}")]
    Unsupported(String),
    /// `--out` is in use.
    #[error("{0}: exists and is not an empty folder; refusing to overwrite it\n  hint: choose another folder, or remove it first")]
    Exists(String),
    /// Reading or writing failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// What an obligation states, in the form Axiom decided it.
#[derive(Debug, Clone)]
pub enum Statement {
    /// `forall x in region => pred`, under the model's `assume`s.
    Forall {
        /// The input box (`None`: every input of the right length).
        region: Option<Region>,
        /// The model's `assume` conditions (over the input).
        assumes: Vec<Pred>,
        /// The condition on the input `x` and output `y`.
        pred: Pred,
    },
    /// A VNN-LIB property: no input satisfies its assertion (the unsafe set,
    /// over inputs and outputs together).
    Safe(Property),
    /// A condition on every output (what a rewrite certificate states: the
    /// rewriter proves it for every input).
    Goal(Pred),
}

/// The verdict in Axiom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxiomVerdict {
    Proved,
    Disproved,
    Unknown,
}

impl AxiomVerdict {
    /// `proved`, `disproved` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            AxiomVerdict::Proved => "proved",
            AxiomVerdict::Disproved => "disproved",
            AxiomVerdict::Unknown => "unknown",
        }
    }
}

/// One obligation to export.
#[derive(Debug, Clone)]
pub struct ObligationInput {
    /// Its name (the theorem's name).
    pub name: String,
    /// The statement as written, for the doc comment.
    pub text: String,
    /// What it states, or why it has no exportable form.
    pub statement: Result<Statement, String>,
    pub verdict: AxiomVerdict,
    /// The counterexample's input, exactly (for a disproved obligation).
    pub witness: Option<Vec<Rational>>,
    /// The sha256 of its signed certificate, when it has one.
    pub certificate: Option<String>,
}

/// One model and its obligations.
#[derive(Debug, Clone)]
pub struct ModelInput<'a> {
    pub name: String,
    pub graph: &'a Graph,
    pub obligations: Vec<ObligationInput>,
}

/// Limits of an export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The most numbers (weights and constants) one network may have.
    pub max_numbers: usize,
}

/// The default limit on a network's numbers.
pub const DEFAULT_MAX_NUMBERS: usize = 1_000_000;

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            max_numbers: DEFAULT_MAX_NUMBERS,
        }
    }
}

/// The oldest Lean the export is written for.
pub const MINIMUM_LEAN: &str = "4.9.0";

/// `obligations.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// `"axiom-lean-export"`.
    pub format: String,
    pub version: u32,
    /// The tool that wrote it (`axiom 0.1.0`).
    pub tool: String,
    /// The oldest Lean 4 the files are written for (core only, no Mathlib).
    pub lean_minimum: String,
    /// What was exported (a spec or a bundle).
    pub source: String,
    pub obligations: Vec<ManifestEntry>,
}

/// One obligation in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestEntry {
    pub model: String,
    /// The model digest (`sha256:...`).
    pub model_digest: String,
    pub obligation: String,
    pub text: String,
    /// The sha256 of the obligation's signed certificate (`null` when it was
    /// exported from a specification).
    pub certificate: Option<String>,
    /// `proved`, `disproved` or `unknown`, as Axiom decided it.
    pub verdict: String,
    /// The theorem's full name (`null` when not exported).
    pub lean_theorem: Option<String>,
    /// The file that holds it.
    pub lean_file: Option<String>,
    /// `obligation` (the theorem states it), `negation` (it states that the
    /// obligation fails), `goal` (a rewrite certificate's goal, for every
    /// input), or `null`.
    pub statement: Option<String>,
    /// `complete` (no `sorry`, `admit` or axiom), `open` (ends in `sorry`),
    /// or `not-exported`.
    pub lean_proof: String,
    /// Why, in words.
    pub note: String,
}

impl ManifestEntry {
    /// The entry of `ob` before it has a theorem (`not-exported`).
    fn not_exported(model: &str, digest: &str, ob: &ObligationInput) -> ManifestEntry {
        ManifestEntry {
            model: model.into(),
            model_digest: digest.into(),
            obligation: ob.name.clone(),
            text: ob.text.clone(),
            certificate: ob.certificate.clone(),
            verdict: ob.verdict.as_str().into(),
            lean_theorem: None,
            lean_file: None,
            statement: None,
            lean_proof: "not-exported".into(),
            note: String::new(),
        }
    }
}

/// The exported sources and the manifest.
#[derive(Debug, Clone)]
pub struct LeanProject {
    /// Path (relative, `/`-separated) to contents, every file of the export
    /// except the manifest.
    pub files: BTreeMap<String, String>,
    pub manifest: Manifest,
}

/// Lean 4's keywords and a few names that cannot be plain identifiers.
const LEAN_RESERVED: &[&str] = &[
    "at",
    "by",
    "do",
    "else",
    "end",
    "fun",
    "have",
    "if",
    "import",
    "in",
    "let",
    "match",
    "namespace",
    "open",
    "show",
    "then",
    "theorem",
    "def",
    "where",
    "with",
    "from",
    "structure",
    "instance",
    "abbrev",
    "axiom",
    "example",
    "inductive",
    "class",
    "section",
    "variable",
    "universe",
    "deriving",
    "mutual",
    "private",
    "protected",
    "partial",
    "unsafe",
    "noncomputable",
    "sorry",
    "calc",
    "return",
    "for",
    "unless",
    "mut",
    "forall",
    "exists",
    "Type",
    "Prop",
    "Sort",
    "this",
    "true",
    "false",
    "True",
    "False",
];

/// The theorem name for obligation `name`: `ob_NAME` when `NAME` is a name
/// the export itself defines (`net`, a weight, a prelude definition), else
/// [`lean_ident`].
fn theorem_ident(name: &str, net: &network::LeanNetwork) -> String {
    let clashes = name == "net"
        || net.weight_names.iter().any(|w| w == name)
        || prelude::PRELUDE_NAMES.contains(&name);
    if clashes {
        lean_ident(&format!("ob_{name}"))
    } else {
        lean_ident(name)
    }
}

/// A Lean identifier for `name`: as is when it is a plain identifier and not
/// a keyword, else in «guillemets».
pub fn lean_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !LEAN_RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("«{}»", name.replace(['«', '»'], "_"))
    }
}

/// A module-name component for a model: letters, digits and `_` only.
fn module_component(name: &str, taken: &[String]) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !s.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        s = format!("M{s}");
    }
    if LEAN_RESERVED.contains(&s.as_str()) || s == "Prelude" || s == "Axioms" {
        s = format!("M_{s}");
    }
    let base = s.clone();
    let mut k = 2;
    while taken.contains(&s) {
        s = format!("{base}_{k}");
        k += 1;
    }
    s
}

/// Writes the Lean sources and the manifest for `models`.
pub fn export(
    models: &[ModelInput],
    source: &str,
    options: &ExportOptions,
) -> Result<LeanProject, ExportError> {
    let mut files = BTreeMap::new();
    files.insert(
        "AxiomExport/Prelude.lean".to_string(),
        prelude::PRELUDE.to_string(),
    );
    let mut modules = vec![prelude::PRELUDE_MODULE.to_string()];
    let mut entries = Vec::new();
    let mut complete = Vec::new();
    let mut components = Vec::new();
    for m in models {
        let digest = m.graph.digest().to_string();
        let net = network::network(m.graph).and_then(|n| {
            if n.numbers > options.max_numbers {
                Err(ExportError::Unsupported(format!(
                    "the network has {} numbers, over the limit of {} (--max-numbers)",
                    n.numbers, options.max_numbers
                )))
            } else {
                Ok(n)
            }
        });
        let net = match net {
            Ok(n) => n,
            Err(why) => {
                for ob in &m.obligations {
                    let mut entry = ManifestEntry::not_exported(&m.name, &digest, ob);
                    entry.note = format!("the model cannot be exported: {why}");
                    entries.push(entry);
                }
                continue;
            }
        };
        let comp = module_component(&m.name, &components);
        components.push(comp.clone());
        let ns = format!("AxiomExport.{comp}");
        let dir = format!("AxiomExport/{comp}");
        files.insert(
            format!("{dir}/Weights.lean"),
            format!(
                "/-\n  The constants of model `{}` ({digest}): {} numbers, each exactly\n  the float32 value of the model.\n-/\nimport {}\n\nnamespace {ns}\nopen AxiomExport\n\n{}end {ns}\n",
                m.name,
                net.numbers,
                prelude::PRELUDE_MODULE,
                net.weights
            ),
        );
        files.insert(
            format!("{dir}/Network.lean"),
            format!(
                "/-\n  Model `{}` ({digest}) as a function over exact rationals.\n-/\nimport {}\nimport {ns}.Weights\n\nnamespace {ns}\nopen AxiomExport\n\n{}\nend {ns}\n",
                m.name,
                prelude::PRELUDE_MODULE,
                net.network
            ),
        );
        modules.push(format!("{ns}.Weights"));
        modules.push(format!("{ns}.Network"));
        let mut obligations = String::new();
        let mut used = Vec::new();
        for ob in &m.obligations {
            let mut entry = ManifestEntry::not_exported(&m.name, &digest, ob);
            let ident = theorem_ident(&ob.name, &net);
            if used.contains(&ident) {
                entry.note = "another obligation of this model has the same name".into();
                entries.push(entry);
                continue;
            }
            match theorem(ob, &ident, &net, &m.name, &digest) {
                Ok(t) => {
                    used.push(ident.clone());
                    obligations.push_str(&t.text);
                    entry.lean_theorem = Some(format!("{ns}.{ident}"));
                    entry.lean_file = Some(format!("{dir}/Obligations.lean"));
                    entry.statement = Some(t.statement.into());
                    entry.lean_proof = if t.complete { "complete" } else { "open" }.into();
                    entry.note = t.note;
                    if t.complete {
                        complete.push(format!("{ns}.{ident}"));
                    }
                }
                Err(why) => entry.note = why,
            }
            entries.push(entry);
        }
        files.insert(
            format!("{dir}/Obligations.lean"),
            format!(
                "/-\n  The obligations of model `{}` ({digest}).\n  Each theorem's doc comment names its certificate and status; the\n  manifest obligations.json lists them all.\n-/\nimport {}\nimport {ns}.Network\n\nnamespace {ns}\nopen AxiomExport\n\n{obligations}end {ns}\n",
                m.name,
                prelude::PRELUDE_MODULE,
            ),
        );
        modules.push(format!("{ns}.Obligations"));
    }
    if modules.len() == 1 {
        return Err(ExportError::Unsupported(
            entries
                .first()
                .map(|e| e.note.clone())
                .unwrap_or_else(|| "nothing to export: no models".into()),
        ));
    }
    let mut axioms = String::from(
        "/-\n  Which axioms every `complete` theorem rests on. Lean prints them when\n  this file is checked: a complete proof uses none (or only Lean's\n  standard `propext`, `Quot.sound`, `Classical.choice`), never `sorryAx`.\n-/\n",
    );
    for m in &modules[1..] {
        if m.ends_with(".Obligations") {
            let _ = writeln!(axioms, "import {m}");
        }
    }
    axioms.push('\n');
    for t in &complete {
        let _ = writeln!(axioms, "#print axioms {t}");
    }
    files.insert("AxiomExport/Axioms.lean".into(), axioms);
    modules.push("AxiomExport.Axioms".into());
    let mut root = String::from("/-\n  Everything Axiom exported.\n-/\n");
    for m in &modules {
        let _ = writeln!(root, "import {m}");
    }
    files.insert("AxiomExport.lean".into(), root);
    files.insert("lakefile.lean".into(), LAKEFILE.into());
    files.insert("check.sh".into(), check_script(&modules));
    Ok(LeanProject {
        files,
        manifest: Manifest {
            format: "axiom-lean-export".into(),
            version: 1,
            tool: format!("axiom {}", env!("CARGO_PKG_VERSION")),
            lean_minimum: MINIMUM_LEAN.into(),
            source: source.into(),
            obligations: entries,
        },
    })
}

const LAKEFILE: &str = "import Lake\nopen Lake DSL\n\npackage «axiom-export»\n\n@[default_target]\nlean_lib AxiomExport\n";

fn check_script(modules: &[String]) -> String {
    let mut s = String::from(
        "#!/bin/sh\n# Checks this export with a plain `lean` binary (Lean 4 core only): each\n# module in dependency order, then the axioms of every complete theorem.\n# `lake build` does the same with the lakefile.\nset -eu\ncd \"$(dirname \"$0\")\"\nout=.lean-build\nmkdir -p \"$out\"\n",
    );
    for m in modules {
        let path = m.replace('.', "/");
        let _ = writeln!(
            s,
            "mkdir -p \"$out/$(dirname {path})\"\necho \"lean {path}.lean\"\nLEAN_PATH=\"$out\" lean -o \"$out/{path}.olean\" {path}.lean > \"$out/{}.log\" 2>&1 || {{ cat \"$out/{}.log\"; exit 1; }}",
            m, m
        );
    }
    s.push_str(
        "if grep -q sorryAx \"$out/AxiomExport.Axioms.log\"; then\n  echo \"a complete theorem depends on sorry:\"; cat \"$out/AxiomExport.Axioms.log\"; exit 1\nfi\ncat \"$out/AxiomExport.Axioms.log\"\necho \"checked: every module elaborates; complete theorems use no sorry\"\n",
    );
    s
}

/// Writes `abbrev IDENT.holds (x y : List Q) : Prop := PRED` (the input
/// named `_x` when the condition does not read it).
fn holds_def(defs: &mut String, doc: &str, ident: &str, pred: &Pred, outputs: usize) {
    let x = if pred.mentions(axiom_core::lang::IoRef::Input) {
        "x"
    } else {
        "_x"
    };
    let _ = writeln!(
        defs,
        "/-- {doc} -/\nabbrev {ident}.holds ({x} y : List Q) : Prop :=\n  {}\n",
        statement::pred(pred, outputs)
    );
}

/// One theorem's text and status.
struct Theorem {
    text: String,
    statement: &'static str,
    complete: bool,
    note: String,
}

fn theorem(
    ob: &ObligationInput,
    ident: &str,
    net: &network::LeanNetwork,
    model: &str,
    digest: &str,
) -> Result<Theorem, String> {
    let st = ob
        .statement
        .as_ref()
        .map_err(|why| format!("the obligation has no exportable statement: {why}"))?;
    let n = net.inputs;
    let mut defs = String::new();
    // The obligation, as `∀ x, x.length = n → ...`.
    let (forall, negation_proof, relu_atoms) = match st {
        Statement::Forall {
            region,
            assumes,
            pred,
        } => {
            if let Some(r) = region {
                if r.lower.len() != n {
                    return Err(format!(
                        "the region has {} elements, the model's input {n}",
                        r.lower.len()
                    ));
                }
            }
            let mut parts = Vec::new();
            if let Some(r) = region {
                parts.push(statement::region(r));
            }
            for a in assumes {
                parts.push(statement::pred(a, net.outputs));
            }
            let region_text = if parts.is_empty() {
                "True".to_string()
            } else {
                parts
                    .into_iter()
                    .map(|p| format!("({p})"))
                    .collect::<Vec<_>>()
                    .join(" ∧ ")
            };
            let _ = writeln!(
                defs,
                "/-- The input region of `{}`. -/\nabbrev {ident}.region (x : List Q) : Prop :=\n  {region_text}\n",
                ob.name
            );
            holds_def(
                &mut defs,
                &format!(
                    "What `{}` requires of the output `y` (for the input `x`).",
                    ob.name
                ),
                ident,
                pred,
                net.outputs,
            );
            (
                format!("∀ x : List Q, x.length = {n} → {ident}.region x → {ident}.holds x (net x)"),
                format!("  intro h\n  exact absurd (h {ident}.witness (by decide) (by decide)) (by decide)\n"),
                statement::relu_nonneg_atoms(pred).map(|a| (a, "intro x _ _")),
            )
        }
        Statement::Safe(p) => {
            if p.num_inputs != n || p.num_outputs != net.outputs {
                return Err(format!(
                    "the property has {} inputs and {} outputs, the model {n} and {}",
                    p.num_inputs, p.num_outputs, net.outputs
                ));
            }
            let _ = writeln!(
                defs,
                "/-- The unsafe set of `{}` (as in VNN-LIB: inputs and outputs together). -/\nabbrev {ident}.unsafe_set (x y : List Q) : Prop :=\n  {}\n",
                ob.name,
                statement::formula(&p.assertion)
            );
            (
                format!("∀ x : List Q, x.length = {n} → ¬ {ident}.unsafe_set x (net x)"),
                format!("  intro h\n  exact h {ident}.witness (by decide) (by decide)\n"),
                None,
            )
        }
        Statement::Goal(pred) => {
            holds_def(
                &mut defs,
                &format!(
                    "The goal the rewriter proved for `{}`, for every input.",
                    ob.name
                ),
                ident,
                pred,
                net.outputs,
            );
            (
                format!("∀ x : List Q, x.length = {n} → {ident}.holds x (net x)"),
                format!("  intro h\n  exact absurd (h {ident}.witness (by decide)) (by decide)\n"),
                statement::relu_nonneg_atoms(pred).map(|a| (a, "intro x _")),
            )
        }
    };
    let statement_kind = if matches!(st, Statement::Goal(_)) {
        "goal"
    } else {
        "obligation"
    };
    let cert = ob
        .certificate
        .as_ref()
        .map(|c| format!("certificate `sha256:{c}`"))
        .unwrap_or_else(|| "no certificate (exported from a specification)".into());
    let doc = |status: &str| {
        format!(
            "/-- `{}`\n\nModel `{}` digest `{digest}`; {cert}.\nVerdict in Axiom: {}. Lean proof: {status}. -/\n",
            ob.text.replace("-/", "- /"),
            model,
            ob.verdict.as_str()
        )
    };
    let mut text = defs;
    match (&ob.verdict, &ob.witness) {
        (AxiomVerdict::Disproved, Some(w)) => {
            if w.len() != n {
                return Err(format!(
                    "the counterexample has {} inputs, the model {n}",
                    w.len()
                ));
            }
            let items: Vec<String> = w.iter().map(number::rational).collect();
            let _ = writeln!(
                text,
                "/-- The counterexample Axiom found for `{}`. -/\ndef {ident}.witness : List Q :=\n  [{}]\n",
                ob.name,
                items.join(", ")
            );
            let _ = write!(
                text,
                "set_option maxRecDepth 100000 in\nset_option maxHeartbeats 0 in\n{}theorem {ident} :\n    ¬ ({forall}) := by\n{negation_proof}\n",
                doc("complete (the negation, by evaluation on the counterexample)")
            );
            return Ok(Theorem {
                text,
                statement: "negation",
                complete: true,
                note: "disproved: the theorem states the negation and evaluates the network on the counterexample".into(),
            });
        }
        (AxiomVerdict::Disproved, None) => {
            return Err("disproved, but the counterexample is not available".into())
        }
        _ => {}
    }
    if let (Some((atoms, intro)), true) = (relu_atoms, net.relu_output) {
        let proofs: Vec<String> = atoms
            .iter()
            .map(|(i, _)| {
                format!("Q.le_of_nonpos_of_nonneg _ _ (by decide) (nth_vrelu_num_nonneg _ {i})")
            })
            .collect();
        let body = if proofs.len() == 1 {
            proofs[0].clone()
        } else {
            format!("⟨{}⟩", proofs.join(",\n    "))
        };
        let _ = write!(
            text,
            "{}theorem {ident} :\n    {forall} := by\n  {intro}\n  exact {body}\n\n",
            doc("complete (the output is a ReLU, so it is never below a constant <= 0)")
        );
        return Ok(Theorem {
            text,
            statement: statement_kind,
            complete: true,
            note: "proved in Lean: the network's output is a ReLU, non-negative for every input"
                .into(),
        });
    }
    let _ = write!(
        text,
        "{}theorem {ident} :\n    {forall} := by\n  sorry\n\n",
        doc("open")
    );
    let note = match ob.verdict {
        AxiomVerdict::Proved => {
            "proved by Axiom (see its certificate); no Lean proof route yet: open"
        }
        AxiomVerdict::Unknown => "undecided in Axiom: open",
        AxiomVerdict::Disproved => "open",
    };
    Ok(Theorem {
        text,
        statement: statement_kind,
        complete: false,
        note: note.into(),
    })
}

impl LeanProject {
    /// Reads an export back from `dir` (every file under it, and the
    /// manifest), e.g. to run the [`structure`] check on it.
    pub fn read(dir: &Path) -> Result<LeanProject, ExportError> {
        fn walk(
            root: &Path,
            d: &Path,
            out: &mut BTreeMap<String, String>,
        ) -> Result<(), ExportError> {
            let io = |p: &Path, e: std::io::Error| ExportError::Io {
                path: p.display().to_string(),
                message: e.to_string(),
            };
            for entry in std::fs::read_dir(d).map_err(|e| io(d, e))? {
                let path = entry.map_err(|e| io(d, e))?.path();
                if path.is_dir() {
                    walk(root, &path, out)?;
                } else {
                    let rel = path
                        .strip_prefix(root)
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .replace('\\', "/");
                    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                    out.insert(rel, text);
                }
            }
            Ok(())
        }
        let mut files = BTreeMap::new();
        walk(dir, dir, &mut files)?;
        let manifest_text = files
            .remove("obligations.json")
            .ok_or_else(|| ExportError::Io {
                path: dir.join("obligations.json").display().to_string(),
                message: "missing: not a Lean export".into(),
            })?;
        let manifest = serde_json::from_str(&manifest_text).map_err(|e| ExportError::Io {
            path: dir.join("obligations.json").display().to_string(),
            message: format!("not a valid manifest: {e}"),
        })?;
        Ok(LeanProject { files, manifest })
    }

    /// The manifest as pretty JSON.
    pub fn manifest_json(&self) -> String {
        serde_json::to_string_pretty(&self.manifest).unwrap_or_default() + "\n"
    }

    /// Writes the export into `dir`, which must not exist or be empty:
    /// everything goes into a fresh sibling folder first and is renamed into
    /// place, so a failure leaves nothing half-written.
    pub fn write(&self, dir: &Path) -> Result<(), ExportError> {
        let io = |p: &Path, e: std::io::Error| ExportError::Io {
            path: p.display().to_string(),
            message: e.to_string(),
        };
        if dir.exists() {
            let empty = std::fs::read_dir(dir)
                .map_err(|e| io(dir, e))?
                .next()
                .is_none();
            if !empty {
                return Err(ExportError::Exists(dir.display().to_string()));
            }
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        let tmp = parent.join(format!(".{name}.tmp{}", std::process::id()));
        let manifest = self.manifest_json();
        let result = (|| {
            if tmp.exists() {
                std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
            }
            for (rel, text) in self
                .files
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .chain(std::iter::once(("obligations.json", manifest.as_str())))
            {
                let path = tmp.join(rel);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p).map_err(|e| io(p, e))?;
                }
                std::fs::write(&path, text).map_err(|e| io(&path, e))?;
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let script = tmp.join("check.sh");
                let _ = std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755));
            }
            if dir.exists() {
                std::fs::remove_dir(dir).map_err(|e| io(dir, e))?;
            }
            std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axiom_core::graph::{GraphBuilder, Op};
    use ndarray::arr2;

    #[test]
    fn a_residual_network_exports_and_passes_the_structural_check() {
        let mut b = GraphBuilder::new("res", "x", vec![2]);
        let h = b.push(
            "fc",
            Op::Gemm {
                weight: arr2(&[[1.0, -1.0], [0.5, 1.0]]),
                bias: None,
            },
            0,
        );
        let h = b.push("relu", Op::Relu, h);
        let y = b.push_inputs("skip", Op::Sum, vec![h, 0], "y");
        let g = b.finish(y).unwrap();
        let models = [ModelInput {
            name: "res".into(),
            graph: &g,
            obligations: vec![ObligationInput {
                name: "open_one".into(),
                text: "prove open_one: ...".into(),
                statement: Err("not stated here".into()),
                verdict: AxiomVerdict::Unknown,
                witness: None,
                certificate: None,
            }],
        }];
        let project = export(&models, "test", &ExportOptions::default()).unwrap();
        let problems = structure::check(&project);
        assert!(problems.is_empty(), "{problems:?}");
        let network = project
            .files
            .iter()
            .find(|(path, _)| path.ends_with("/Network.lean"))
            .map(|(_, text)| text)
            .unwrap();
        assert!(network.contains("let v3 := vadd v2 x"), "{network}");
    }
}
