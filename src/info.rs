//! `axiom info PATH`: what a file the tool takes is and holds, for people
//! (`--format human`) or scripts (`--format json`).
//!
//! | path | kind | facts |
//! |---|---|---|
//! | `.onnx`, `.nnet` | `model` | format, digest, parameters, input and output, layers, metadata |
//! | `.vnnlib` | `property` | variables, and per case the input box and the unsafe condition |
//! | `.axiom` | `spec` | per model its source, declarations, regions, ensures, obligations |
//! | a folder with `manifest.json` | `bundle` | signer key id, models and digests, certificates and verdicts |
//! | `.cert` | `certificate` | obligation, model digest, verdict, evidence, signer |
//! | `.safetensors` | `safetensors` | tensors (dtype, shape, elements), parameters, metadata |
//!
//! Info reads and decodes; it verifies nothing: bundles and certificates are
//! checked by `axiom cert verify`, and it says so. A file that does not read
//! is an error naming it (exit 2), as everywhere else.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use axiom_certs::bundle::{Bundle, MANIFEST, META_CERTIFICATES, SPEC};
use axiom_certs::cert::CertEvidence;
use axiom_certs::wire::NodeData;
use axiom_certs::{PublicKey, SignedCertificate};
use axiom_core::lang::{self, IoDecl, ModelSpec, Region};
use axiom_core::spec::{format_rational, Property, Rational};
use axiom_core::{load_model, safetensors_io, vnnlib, ErrorKind, Graph, ModelFormat};
use clap::ValueEnum;
use serde::Serialize;

use crate::commands::CliError;
use crate::exit;

/// What `--format` of `axiom info` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InfoFormat {
    /// Text for people.
    Human,
    /// One pretty-printed JSON object with a `kind` field.
    Json,
}

/// Every kind of file info reads, for the hint of an unknown one.
const KINDS: &str = "axiom info reads models (.onnx, .nnet), VNN-LIB properties (.vnnlib), \
specifications (.axiom), bundles (a folder written by `axiom certify`), certificates (.cert) \
and weights (.safetensors)";

/// `axiom info [PATH] [--backends] [--format human|json]`.
pub fn info(path: Option<&Path>, backends: bool, format: InfoFormat) -> Result<u8, CliError> {
    if format == InfoFormat::Human {
        if backends {
            crate::accel::print_backends();
        }
        return match path {
            Some(path) => human(path),
            None => Ok(exit::OK),
        };
    }
    let described = match path.map(json).transpose()? {
        Some(Ok(file)) => Some(file),
        // The error is on stderr already; nothing goes to stdout.
        Some(Err(code)) => return Ok(code),
        None => None,
    };
    // Serialised from the structs, so that keys keep their declared order
    // (`kind` first).
    let text = match (backends, described) {
        (true, None) => serde_json::to_string_pretty(&crate::accel::backends_info()),
        (false, Some(file)) => serde_json::to_string_pretty(&file),
        // Both: one array, so that stdout stays one JSON document.
        (true, Some(file)) => serde_json::to_string_pretty(&(crate::accel::backends_info(), file)),
        (false, None) => return Ok(exit::OK),
    }
    .map_err(|e| CliError::Usage(format!("cannot write the JSON: {e}")))?;
    println!("{text}");
    Ok(exit::OK)
}

/// What a path is, by what it is on disk and its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Model,
    Property,
    Spec,
    Bundle,
    Certificate,
    Safetensors,
}

fn kind_of(path: &Path) -> Result<Kind, CliError> {
    if path.is_dir() {
        return if path.join(MANIFEST).is_file() {
            Ok(Kind::Bundle)
        } else {
            Err(axiom_core::Error::invalid(format!(
                "a folder without {MANIFEST}, so not a bundle written by `axiom certify`"
            ))
            .in_file(path)
            .with_hint(KINDS)
            .into())
        };
    }
    let ext = axiom_core::format_extension(path);
    Ok(match ext.as_deref() {
        Some("vnnlib") => Kind::Property,
        Some("axiom") => Kind::Spec,
        Some("cert") => Kind::Certificate,
        Some("safetensors") => Kind::Safetensors,
        _ if ModelFormat::from_path(path).is_some() => Kind::Model,
        _ => {
            let e = match std::fs::metadata(path) {
                Err(e) => axiom_core::Error::io(path, &e),
                Ok(_) => axiom_core::Error::invalid("unknown file format").in_file(path),
            };
            return Err(e.with_hint(KINDS).into());
        }
    })
}

/// A spec that does not load is reported as `axiom check` reports it: the
/// code frame on stderr, exit 2.
fn load_spec(path: &Path) -> Result<lang::Spec, u8> {
    lang::load_spec(path).map_err(|e| {
        eprintln!("{}", e.render(std::io::stderr().is_terminal()));
        exit::BAD_INPUT
    })
}

fn human(path: &Path) -> Result<u8, CliError> {
    match kind_of(path)? {
        Kind::Model => {
            let graph = load_model(path)?;
            print_model_info(path, &graph)?;
        }
        Kind::Property => {
            let property = vnnlib::load(path)?;
            println!("property {}", path.display());
            print!("{}", property.summary());
        }
        Kind::Spec => match load_spec(path) {
            Ok(spec) => print!("{}", spec_text(&spec_info(&spec)?)),
            Err(code) => return Ok(code),
        },
        Kind::Bundle => print!("{}", bundle_text(&bundle_info(path)?)),
        Kind::Certificate => print!("{}", certificate_text(&certificate_info(path)?)),
        Kind::Safetensors => print!("{}", safetensors_text(&safetensors_info(path)?)),
    }
    Ok(exit::OK)
}

/// What `--format json` prints for a file: one of the kinds' objects.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Described {
    Model(Box<ModelInfo>),
    Property(Box<PropertyInfo>),
    Spec(Box<SpecInfo>),
    Bundle(Box<BundleInfo>),
    Certificate(Box<CertificateInfo>),
    Safetensors(Box<SafetensorsInfo>),
}

/// The description of `path`, or the exit code of a spec that does not load
/// (its error printed).
fn json(path: &Path) -> Result<Result<Described, u8>, CliError> {
    Ok(Ok(match kind_of(path)? {
        Kind::Model => Described::Model(Box::new(model_info(path, &load_model(path)?)?)),
        Kind::Property => Described::Property(Box::new(property_info(path, &vnnlib::load(path)?))),
        Kind::Spec => match load_spec(path) {
            Ok(spec) => Described::Spec(Box::new(spec_info(&spec)?)),
            Err(code) => return Ok(Err(code)),
        },
        Kind::Bundle => Described::Bundle(Box::new(bundle_info(path)?)),
        Kind::Certificate => Described::Certificate(Box::new(certificate_info(path)?)),
        Kind::Safetensors => Described::Safetensors(Box::new(safetensors_info(path)?)),
    }))
}

// ---- models ------------------------------------------------------------------

fn print_model_info(path: &Path, graph: &Graph) -> Result<(), CliError> {
    let format = graph
        .metadata
        .get("source.format")
        .map(String::as_str)
        .unwrap_or("?");
    println!("file    {} ({format})", path.display());
    println!("digest  sha256:{}", graph.digest());
    println!("params  {}", graph.param_count());
    match engine_refusal(graph) {
        None => println!("engine  verifiable (every node has a bound relaxation)"),
        Some(why) => println!("engine  not verifiable: {why}"),
    }
    print!("{graph}");
    let meta: Vec<_> = graph
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "source.format")
        .collect();
    if !meta.is_empty() {
        println!("metadata:");
        for (k, v) in meta {
            println!("  {k} = {v}");
        }
    }
    Ok(())
}

/// A model as `--format json` describes it.
#[derive(Debug, Serialize)]
struct ModelInfo {
    kind: &'static str,
    file: String,
    format: String,
    name: String,
    /// The canonical model digest (sha256, hex).
    digest: String,
    params: usize,
    inputs: Vec<Value>,
    outputs: Vec<Value>,
    layers: Vec<Layer>,
    /// Why the verification engine cannot take the model (the node it
    /// refuses, and why); `null` when it can.
    engine_refusal: Option<String>,
    /// The model's metadata, without `source.format` (that is `format`).
    metadata: BTreeMap<String, String>,
}

/// Why the verification engine cannot take `graph`, naming the node, or
/// `None` when it can (the engine's own lowering decides).
fn engine_refusal(graph: &Graph) -> Option<String> {
    axiom_prover::Network::from_graph(graph)
        .err()
        .map(|e| e.to_string())
}

/// A named input or output value of a network.
#[derive(Debug, Serialize)]
struct Value {
    name: String,
    shape: Vec<usize>,
}

/// One node of a network, as the human layer table shows it.
#[derive(Debug, Serialize)]
struct Layer {
    index: usize,
    op: &'static str,
    name: String,
    /// The names of the values the node reads (several for a Sum or a
    /// Concat).
    reads: Vec<String>,
    /// The shape of the (first) value it reads.
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    params: usize,
    /// The node does not contribute to the output.
    unused: bool,
}

/// A network's input, output and layers.
struct Network {
    inputs: Vec<Value>,
    outputs: Vec<Value>,
    layers: Vec<Layer>,
}

fn network(graph: &Graph) -> Result<Network, CliError> {
    let shapes = graph.infer_shapes()?;
    let live = graph.live_nodes();
    let layers = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| Layer {
            index: i,
            op: node.op.kind(),
            name: node.name.clone(),
            reads: node
                .inputs
                .iter()
                .map(|&v| graph.value_name(v).to_string())
                .collect(),
            input_shape: shapes[node.inputs[0]].clone(),
            output_shape: shapes[i + 1].clone(),
            params: node.op.param_count(),
            unused: !live[i],
        })
        .collect();
    let input = Value {
        name: graph.input.name.clone(),
        shape: graph.input.shape.clone(),
    };
    let output = Value {
        name: graph.value_name(graph.output).to_string(),
        shape: shapes[graph.output].clone(),
    };
    Ok(Network {
        inputs: vec![input],
        outputs: vec![output],
        layers,
    })
}

fn model_info(path: &Path, graph: &Graph) -> Result<ModelInfo, CliError> {
    let Network {
        inputs,
        outputs,
        layers,
    } = network(graph)?;
    let mut metadata = graph.metadata.clone();
    let format = metadata
        .remove("source.format")
        .unwrap_or_else(|| "?".into());
    Ok(ModelInfo {
        kind: "model",
        file: path.display().to_string(),
        format,
        name: graph.name.clone(),
        digest: graph.digest().to_string(),
        params: graph.param_count(),
        inputs,
        outputs,
        layers,
        engine_refusal: engine_refusal(graph),
        metadata,
    })
}

// ---- properties ----------------------------------------------------------------

/// A VNN-LIB property as `--format json` describes it (rationals exact, as
/// decimal or `p/q` text).
#[derive(Debug, Serialize)]
struct PropertyInfo {
    kind: &'static str,
    file: String,
    num_inputs: usize,
    num_outputs: usize,
    /// The unsafe set: the property is violated if, in some case, an input
    /// in the case's region gives outputs meeting its condition.
    cases: Vec<CaseInfo>,
    /// What is suspicious (an empty input box: never violated), in words.
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct CaseInfo {
    inputs: Vec<Bound>,
    /// Constraints over two or more inputs.
    input_constraints: Vec<String>,
    /// The output condition: an OR of ANDs.
    unsafe_if: Vec<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct Bound {
    var: String,
    lower: String,
    upper: String,
}

fn property_info(path: &Path, p: &Property) -> PropertyInfo {
    PropertyInfo {
        kind: "property",
        file: path.display().to_string(),
        warnings: p.warnings(),
        num_inputs: p.num_inputs,
        num_outputs: p.num_outputs,
        cases: p
            .cases
            .iter()
            .map(|c| CaseInfo {
                inputs: c
                    .input
                    .lower
                    .iter()
                    .zip(&c.input.upper)
                    .enumerate()
                    .map(|(i, (lo, hi))| Bound {
                        var: format!("X_{i}"),
                        lower: format_rational(lo),
                        upper: format_rational(hi),
                    })
                    .collect(),
                input_constraints: c.input_constraints.iter().map(|k| k.to_string()).collect(),
                unsafe_if: c
                    .output
                    .iter()
                    .map(|conj| conj.iter().map(|k| k.to_string()).collect())
                    .collect(),
            })
            .collect(),
    }
}

// ---- specifications ------------------------------------------------------------

/// A `.axiom` specification.
#[derive(Debug, Serialize)]
struct SpecInfo {
    kind: &'static str,
    file: String,
    models: Vec<SpecModel>,
}

/// One `model` block, resolved.
#[derive(Debug, Serialize)]
struct SpecModel {
    name: String,
    line: usize,
    /// `onnx` or `nnet` (imported with `from`), or `layers` (inline).
    source: String,
    /// The imported model file, resolved against the spec's folder.
    file: Option<String>,
    /// Every file the model read (model, weights, VNN-LIB properties).
    files: Vec<String>,
    digest: String,
    params: usize,
    inputs: Vec<Declared>,
    outputs: Vec<Declared>,
    layers: Vec<Layer>,
    regions: Vec<RegionInfo>,
    assumes: Vec<Statement>,
    ensures: Vec<Statement>,
    obligations: Vec<ObligationItem>,
}

/// An `input` or `output` declaration.
#[derive(Debug, Serialize)]
struct Declared {
    name: String,
    dtype: &'static str,
    shape: Vec<usize>,
    /// `[lower, upper]` of every element (inputs only, when declared).
    domain: Option<[String; 2]>,
    line: usize,
}

#[derive(Debug, Serialize)]
struct RegionInfo {
    name: String,
    line: usize,
    text: String,
    lower: Vec<String>,
    upper: Vec<String>,
}

/// An `assume` or `ensure`.
#[derive(Debug, Serialize)]
struct Statement {
    line: usize,
    text: String,
}

#[derive(Debug, Serialize)]
struct ObligationItem {
    name: String,
    line: usize,
    /// The statement as written.
    text: String,
    /// `forall` or `vnnlib`.
    form: &'static str,
    /// The input box quantified over (the region intersected with the
    /// input's domain); none for `vnnlib` obligations.
    region: Option<BoxInfo>,
    /// The condition as an s-expression; none for `vnnlib` obligations.
    condition: Option<String>,
    /// The number of cases of its unsafe set, when it has a VNN-LIB form.
    property_cases: Option<usize>,
    /// Why it has no VNN-LIB form (then only the rewriter can decide it).
    property_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct BoxInfo {
    lower: Vec<String>,
    upper: Vec<String>,
}

fn rationals(v: &[Rational]) -> Vec<String> {
    v.iter().map(format_rational).collect()
}

fn box_info(r: &Region) -> BoxInfo {
    BoxInfo {
        lower: rationals(&r.lower),
        upper: rationals(&r.upper),
    }
}

fn declared(d: &IoDecl) -> Declared {
    Declared {
        name: d.name.clone(),
        // The resolver accepts only f32 (Axiom's networks compute in float32).
        dtype: "f32",
        shape: d.shape.clone(),
        domain: d
            .domain
            .as_ref()
            .map(|(lo, hi)| [format_rational(lo), format_rational(hi)]),
        line: d.span.line,
    }
}

fn spec_model(m: &ModelSpec) -> Result<SpecModel, CliError> {
    let layers = network(&m.graph)?.layers;
    let imported = m.graph.metadata.get("source.format");
    Ok(SpecModel {
        name: m.name.clone(),
        line: m.span.line,
        source: imported.cloned().unwrap_or_else(|| "layers".into()),
        file: imported
            .and(m.files.first())
            .map(|f| f.display().to_string()),
        files: m.files.iter().map(|f| f.display().to_string()).collect(),
        digest: m.graph.digest().to_string(),
        params: m.graph.param_count(),
        inputs: vec![declared(&m.input)],
        outputs: vec![declared(&m.output)],
        layers,
        regions: m
            .regions
            .iter()
            .map(|r| RegionInfo {
                name: r.name.clone(),
                line: r.span.line,
                text: r.text.clone(),
                lower: rationals(&r.region.lower),
                upper: rationals(&r.region.upper),
            })
            .collect(),
        assumes: m
            .assumes
            .iter()
            .map(|a| Statement {
                line: a.span.line,
                text: a.text.clone(),
            })
            .collect(),
        ensures: m
            .ensures
            .iter()
            .map(|e| Statement {
                line: e.span.line,
                text: e.text.clone(),
            })
            .collect(),
        obligations: m
            .proves
            .iter()
            .map(|o| ObligationItem {
                name: o.name.clone(),
                line: o.span.line,
                text: o.text.clone(),
                form: if o.pred.is_some() { "forall" } else { "vnnlib" },
                region: o.region.as_ref().map(box_info),
                condition: o.pred.as_ref().map(|p| p.to_sexpr()),
                property_cases: o.property.as_ref().ok().map(|p| p.cases.len()),
                property_error: o.property.as_ref().err().cloned(),
            })
            .collect(),
    })
}

fn spec_info(spec: &lang::Spec) -> Result<SpecInfo, CliError> {
    Ok(SpecInfo {
        kind: "spec",
        file: spec.path.display().to_string(),
        models: spec
            .models
            .iter()
            .map(spec_model)
            .collect::<Result<_, _>>()?,
    })
}

/// `1 leaf`, `2 leaves`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Text as written, on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn declared_text(d: &Declared) -> String {
    let dims: Vec<String> = d.shape.iter().map(usize::to_string).collect();
    let mut s = format!("{}: {}[{}]", d.name, d.dtype, dims.join(", "));
    if let Some([lo, hi]) = &d.domain {
        s.push_str(&format!(" in [{lo}, {hi}]"));
    }
    s
}

fn spec_text(info: &SpecInfo) -> String {
    let mut s = format!(
        "spec    {}\nmodels  {}\n",
        info.file,
        info.models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for m in &info.models {
        s.push_str(&format!("\nmodel {} (line {})\n", m.name, m.line));
        match &m.file {
            Some(file) => s.push_str(&format!("  from     {} {file}\n", m.source)),
            None => {
                let weights: Vec<&str> = m
                    .files
                    .iter()
                    .filter(|f| f.ends_with(".safetensors"))
                    .map(String::as_str)
                    .collect();
                s.push_str(&format!("  from     {} inline layers", m.layers.len()));
                if !weights.is_empty() {
                    s.push_str(&format!(", weights from {}", weights.join(", ")));
                }
                s.push('\n');
            }
        }
        s.push_str(&format!("  digest   sha256:{}\n", m.digest));
        s.push_str(&format!("  params   {}\n", m.params));
        for d in &m.inputs {
            s.push_str(&format!("  input    {}\n", declared_text(d)));
        }
        for d in &m.outputs {
            s.push_str(&format!("  output   {}\n", declared_text(d)));
        }
        s.push_str("  layers:\n");
        for l in &m.layers {
            s.push_str(&format!(
                "    {:>3}  {:<12} {:<28} {:?} -> {:?}",
                l.index, l.op, l.name, l.input_shape, l.output_shape
            ));
            if l.params > 0 {
                s.push_str(&format!("  ({} params)", l.params));
            }
            if l.unused {
                s.push_str("  (unused)");
            }
            s.push('\n');
        }
        let lined = |s: &mut String, title: &str, items: &[(usize, String)]| {
            if items.is_empty() {
                return;
            }
            s.push_str(&format!("  {title}:\n"));
            for (line, text) in items {
                s.push_str(&format!("    line {line:<4} {}\n", one_line(text)));
            }
        };
        let regions: Vec<(usize, String)> =
            m.regions.iter().map(|r| (r.line, r.text.clone())).collect();
        lined(&mut s, "regions", &regions);
        let assumes: Vec<(usize, String)> =
            m.assumes.iter().map(|a| (a.line, a.text.clone())).collect();
        lined(&mut s, "assumes", &assumes);
        let ensures: Vec<(usize, String)> =
            m.ensures.iter().map(|e| (e.line, e.text.clone())).collect();
        lined(&mut s, "ensures", &ensures);
        s.push_str(&format!("  obligations ({}):\n", m.obligations.len()));
        for o in &m.obligations {
            s.push_str(&format!("    line {:<4} {}\n", o.line, one_line(&o.text)));
            if let Some(why) = &o.property_error {
                s.push_str(&format!(
                    "              no VNN-LIB form ({why}): only the rewriter can decide it\n"
                ));
            }
        }
    }
    s
}

// ---- bundles and certificates -----------------------------------------------------

/// What info says about every bundle and certificate.
const NOT_VERIFIED: &str = "not verified";

/// A bundle written by `axiom certify`.
#[derive(Debug, Serialize)]
struct BundleInfo {
    kind: &'static str,
    path: String,
    format: String,
    version: String,
    tool: String,
    signer: SignerInfo,
    /// The number of files the manifest lists.
    files_listed: usize,
    /// The bundled specification, when the manifest lists one.
    spec: Option<String>,
    models: Vec<BundleModelInfo>,
    /// Always `false`: info reads the bundle and checks nothing.
    verified: bool,
    /// The command that checks it.
    verify_with: String,
}

#[derive(Debug, Serialize)]
struct SignerInfo {
    /// The key id `manifest.sig` names.
    key_id: String,
    /// The key id of the bundle's `signer.pub` (none when it does not read).
    signer_pub: Option<String>,
}

#[derive(Debug, Serialize)]
struct BundleModelInfo {
    name: String,
    digest: String,
    onnx: String,
    weights: String,
    certificates: Vec<BundleCert>,
}

#[derive(Debug, Serialize)]
struct BundleCert {
    path: String,
    obligation: String,
    line: Option<u32>,
    verdict: &'static str,
    evidence: &'static str,
    /// sha256 of the file: the certificate's digest.
    sha256: String,
    /// The key id of its signer.
    signer: String,
}

/// Reads a regular file (never a device or a fifo, which could be endless).
fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    axiom_core::read_file(path).map_err(|e| axiom_core::Error::io(path, &e).into())
}

/// `dir/rel` for a path a bundle's manifest lists: relative, inside the
/// bundle (no `..`, no absolute path), as `axiom cert verify` requires.
fn bundle_file(dir: &Path, rel: &str) -> Result<PathBuf, CliError> {
    axiom_certs::verify::safe_join(dir, rel).map_err(|_| {
        CliError::Usage(format!(
            "{}: the manifest lists the path '{rel}', which is not inside the bundle\n  hint: \
             the bundle was altered; `axiom cert verify {}` names what is wrong with it",
            dir.join("manifest.json").display(),
            dir.display()
        ))
    })
}

fn decode_certificate(path: &Path) -> Result<SignedCertificate, CliError> {
    SignedCertificate::from_bytes(&read(path)?).map_err(|e| {
        CliError::Usage(format!(
            "{}: {e}\n  hint: is it a certificate written by axiom (`axiom certify`, `axiom verify --cert`)?",
            path.display()
        ))
    })
}

fn evidence_kind(e: &CertEvidence) -> &'static str {
    match e {
        CertEvidence::None { .. } => "none",
        CertEvidence::Rewrite { .. } => "rewrite",
        CertEvidence::Proof { .. } => "proof",
        CertEvidence::Counterexample(_) => "counterexample",
    }
}

fn bundle_info(dir: &Path) -> Result<BundleInfo, CliError> {
    let bundle = Bundle::open(dir).map_err(|e| CliError::Usage(e.to_string()))?;
    let m = &bundle.manifest;
    let signer_pub = bundle.bundled_signer().ok().map(|k: PublicKey| k.id());
    let mut models = Vec::new();
    for model in &m.models {
        let mut certificates = Vec::new();
        for rel in &model.certificates {
            let cert = decode_certificate(&bundle_file(dir, rel)?)?;
            let c = &cert.certificate;
            certificates.push(BundleCert {
                path: rel.clone(),
                obligation: c.obligation.name.clone(),
                line: c.obligation.line,
                verdict: c.verdict.as_str(),
                evidence: evidence_kind(&c.evidence),
                sha256: cert.digest(),
                signer: cert.signer.id(),
            });
        }
        models.push(BundleModelInfo {
            name: model.name.clone(),
            digest: model.digest.clone(),
            onnx: model.onnx.clone(),
            weights: model.weights.clone(),
            certificates,
        });
    }
    Ok(BundleInfo {
        kind: "bundle",
        path: dir.display().to_string(),
        format: m.format.clone(),
        version: format!("{}.{}", m.version.major, m.version.minor),
        tool: m.tool.clone(),
        signer: SignerInfo {
            key_id: bundle.signature.key_id.clone(),
            signer_pub,
        },
        files_listed: m.files.len(),
        spec: m
            .files
            .iter()
            .any(|f| f.path == SPEC)
            .then(|| SPEC.to_string()),
        models,
        verified: false,
        verify_with: format!(
            "axiom cert verify {} --pubkey KEY.pub --recheck",
            dir.display()
        ),
    })
}

fn bundle_text(b: &BundleInfo) -> String {
    let mut s = format!("bundle  {}\n", b.path);
    s.push_str(&format!(
        "format  {} {}, written by {}\n",
        b.format, b.version, b.tool
    ));
    let same = match &b.signer.signer_pub {
        Some(id) if *id == b.signer.key_id => "; signer.pub holds the same key".to_string(),
        Some(id) => format!("; signer.pub holds another key, {id}"),
        None => "; signer.pub does not read".to_string(),
    };
    s.push_str(&format!(
        "signer  key {} (named by manifest.sig{same})\n",
        b.signer.key_id
    ));
    s.push_str(&format!("files   {} listed in {MANIFEST}", b.files_listed));
    if let Some(spec) = &b.spec {
        s.push_str(&format!(", the specification in {spec}"));
    }
    s.push('\n');
    for m in &b.models {
        s.push_str(&format!("\nmodel {}\n", m.name));
        s.push_str(&format!("  digest   sha256:{}\n", m.digest));
        s.push_str(&format!("  onnx     {}\n", m.onnx));
        s.push_str(&format!("  weights  {}\n", m.weights));
        s.push_str(&format!("  certificates ({}):\n", m.certificates.len()));
        let width = m
            .certificates
            .iter()
            .map(|c| c.obligation.len())
            .max()
            .unwrap_or(0);
        for c in &m.certificates {
            let line = c.line.map_or(String::new(), |l| format!("line {l}"));
            s.push_str(&format!(
                "    {:<width$}  {:<9}  {:<14}  {:<8}  [{}]  {}\n",
                c.obligation,
                c.verdict,
                c.evidence,
                line,
                &c.sha256[..16],
                c.path
            ));
        }
    }
    s.push_str(&format!(
        "\n{NOT_VERIFIED}: info reads the bundle; it does not check the manifest's signature, the files' digests, the certificates' signer or their evidence.\nTo check it: {}\n",
        b.verify_with
    ));
    s
}

/// One certificate file.
#[derive(Debug, Serialize)]
struct CertificateInfo {
    kind: &'static str,
    file: String,
    /// sha256 of the file: the certificate's digest.
    sha256: String,
    format_version: String,
    /// The bundle the certificate sits in, if any.
    bundle: Option<String>,
    obligation: CertObligation,
    model: CertModel,
    verdict: &'static str,
    evidence: EvidenceInfo,
    /// The key id of the signer.
    signer: String,
    created: String,
    tool: String,
    /// Always `false`: info decodes the certificate and checks nothing.
    verified: bool,
    verify_with: String,
    show_with: String,
}

#[derive(Debug, Serialize)]
struct CertObligation {
    name: String,
    /// The spec or property file it came from, and its line there.
    source: Option<String>,
    line: Option<u32>,
    /// The statement as written.
    text: String,
}

#[derive(Debug, Serialize)]
struct CertModel {
    name: String,
    digest: String,
}

/// The evidence, by its size; `axiom cert show` prints all of it.
#[derive(Debug, Serialize)]
struct EvidenceInfo {
    /// `proof`, `rewrite`, `counterexample` or `none`.
    kind: &'static str,
    /// The size of its canonical CBOR encoding.
    bytes: usize,
    /// `none`: why nothing was shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// `proof`: the cases, the nodes of their trees, and the leaves.
    #[serde(skip_serializing_if = "Option::is_none")]
    cases: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    leaves: Option<usize>,
    /// `rewrite`: the steps of the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<usize>,
    /// `counterexample`: the number of input values.
    #[serde(skip_serializing_if = "Option::is_none")]
    inputs: Option<usize>,
}

fn evidence_info(e: &CertEvidence) -> EvidenceInfo {
    let mut info = EvidenceInfo {
        kind: evidence_kind(e),
        bytes: axiom_certs::cert::to_canonical_cbor(e).map_or(0, |b| b.len()),
        reason: None,
        cases: None,
        nodes: None,
        leaves: None,
        steps: None,
        inputs: None,
    };
    match e {
        CertEvidence::None { reason } => info.reason = Some(reason.clone()),
        CertEvidence::Rewrite { chain, .. } => info.steps = Some(chain.len()),
        CertEvidence::Proof { cases } => {
            info.cases = Some(cases.len());
            info.nodes = Some(cases.iter().map(|c| c.nodes.len()).sum());
            info.leaves = Some(
                cases
                    .iter()
                    .flat_map(|c| &c.nodes)
                    .filter(|n| matches!(n, NodeData::Leaf { .. }))
                    .count(),
            );
        }
        CertEvidence::Counterexample(c) => info.inputs = Some(c.input.len()),
    }
    info
}

fn certificate_info(path: &Path) -> Result<CertificateInfo, CliError> {
    let cert = decode_certificate(path)?;
    let c = &cert.certificate;
    // A certificate in a bundle is checked with its bundle.
    let bundle = path
        .parent()
        .and_then(Path::parent)
        .filter(|root| root.join(MANIFEST).is_file());
    let verify_with = match bundle {
        Some(root) => format!(
            "axiom cert verify {} --pubkey KEY.pub --recheck",
            root.display()
        ),
        None => format!(
            "axiom cert verify {} --model MODEL --pubkey KEY.pub --recheck",
            path.display()
        ),
    };
    Ok(CertificateInfo {
        kind: "certificate",
        file: path.display().to_string(),
        sha256: cert.digest(),
        format_version: format!("{}.{}", c.format.major, c.format.minor),
        bundle: bundle.map(|b| b.display().to_string()),
        obligation: CertObligation {
            name: c.obligation.name.clone(),
            source: c.obligation.source.clone(),
            line: c.obligation.line,
            text: c.obligation.text.clone(),
        },
        model: CertModel {
            name: c.model.name.clone(),
            digest: c.model.digest.clone(),
        },
        verdict: c.verdict.as_str(),
        evidence: evidence_info(&c.evidence),
        signer: cert.signer.id(),
        created: c.created.clone(),
        tool: format!("{} {}", c.tool.name, c.tool.version),
        verified: false,
        verify_with,
        show_with: format!("axiom cert show {}", path.display()),
    })
}

fn certificate_text(c: &CertificateInfo) -> String {
    let mut s = format!("certificate  {}\n", c.file);
    s.push_str(&format!("sha256       {}\n", c.sha256));
    if let Some(b) = &c.bundle {
        s.push_str(&format!("bundle       {b}\n"));
    }
    let place = match (&c.obligation.source, c.obligation.line) {
        (Some(f), Some(l)) => format!(" ({f}, line {l})"),
        (Some(f), None) => format!(" ({f})"),
        (None, Some(l)) => format!(" (line {l})"),
        (None, None) => String::new(),
    };
    s.push_str(&format!("obligation   {}{place}\n", c.obligation.name));
    let text = &c.obligation.text;
    if text.trim_start().starts_with("prove ") {
        s.push_str(&format!("statement    {}\n", one_line(text)));
    } else if !text.trim().is_empty() {
        // A property file's whole text is its statement.
        s.push_str(&format!(
            "statement    {} of {} (`axiom cert show` prints them)\n",
            count(text.lines().count(), "line", "lines"),
            c.obligation.source.as_deref().unwrap_or("a property file")
        ));
    }
    s.push_str(&format!(
        "model        {}, digest sha256:{}\n",
        c.model.name, c.model.digest
    ));
    s.push_str(&format!("verdict      {}\n", c.verdict));
    let e = &c.evidence;
    let detail = match e.kind {
        "proof" => format!(
            "{}, {}, {}",
            count(e.cases.unwrap_or(0), "case", "cases"),
            count(e.nodes.unwrap_or(0), "node", "nodes"),
            count(e.leaves.unwrap_or(0), "leaf", "leaves")
        ),
        "rewrite" => format!(
            "a rewrite chain of {}",
            count(e.steps.unwrap_or(0), "step", "steps")
        ),
        "counterexample" => format!("an input of {} values", e.inputs.unwrap_or(0)),
        _ => format!("nothing shown: {}", e.reason.as_deref().unwrap_or("")),
    };
    s.push_str(&format!(
        "evidence     {}: {detail} ({} bytes)\n",
        e.kind, e.bytes
    ));
    s.push_str(&format!("signer       key {}\n", c.signer));
    s.push_str(&format!("created      {} by {}\n", c.created, c.tool));
    s.push_str(&format!(
        "\n{NOT_VERIFIED}: info decodes the certificate; it does not check that a key you trust signed it, that it is about your model, or its evidence.\nTo check it: {}\nThe whole certificate as JSON: {}\n",
        c.verify_with, c.show_with
    ));
    s
}

// ---- weights -------------------------------------------------------------------------

/// A safetensors file.
#[derive(Debug, Serialize)]
struct SafetensorsInfo {
    kind: &'static str,
    file: String,
    /// Every tensor, by name.
    tensors: Vec<TensorInfo>,
    /// The total number of elements.
    parameters: usize,
    /// sha256 over the tensors' names, shapes and float32 values (what a
    /// certificate records for a bundle's weights); none when some tensor
    /// is not readable as float32.
    tensors_sha256: Option<String>,
    /// Why Axiom cannot use these weights, when it cannot.
    unreadable: Option<String>,
    /// The header's free-form metadata (axiom writes `axiom.model_digest`
    /// and `axiom.certificates` there).
    metadata: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct TensorInfo {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    elements: usize,
}

fn safetensors_info(path: &Path) -> Result<SafetensorsInfo, CliError> {
    let bytes = read(path)?;
    // axiom-core's reader validates the file (a damaged one is an error
    // naming the file and the place); a dtype it cannot take as float32
    // still leaves a valid header to describe.
    let (digest, unreadable) = match safetensors_io::parse(&bytes) {
        Ok(w) => (Some(axiom_certs::bundle::tensors_digest(w.tensors())), None),
        Err(e) if e.kind == ErrorKind::Unsupported => (None, Some(e.in_file(path).to_string())),
        Err(e) => return Err(e.in_file(path).into()),
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| {
        axiom_core::Error::malformed(format!("not a valid safetensors file: {e}")).in_file(path)
    })?;
    let mut tensors: Vec<TensorInfo> = header
        .tensors()
        .into_iter()
        .map(|(name, t)| TensorInfo {
            name,
            dtype: t.dtype.to_string(),
            shape: t.shape.clone(),
            elements: t.shape.iter().product(),
        })
        .collect();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(SafetensorsInfo {
        kind: "safetensors",
        file: path.display().to_string(),
        parameters: tensors.iter().map(|t| t.elements).sum(),
        tensors,
        tensors_sha256: digest,
        unreadable,
        metadata: header
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

fn safetensors_text(w: &SafetensorsInfo) -> String {
    let mut s = format!("safetensors  {}\n", w.file);
    s.push_str(&format!(
        "tensors      {}, {} parameters\n",
        w.tensors.len(),
        w.parameters
    ));
    if let Some(d) = &w.tensors_sha256 {
        s.push_str(&format!(
            "digest       {d} (sha256 of the tensors, as certificates record it)\n"
        ));
    }
    if let Some(why) = &w.unreadable {
        s.push_str(&format!("axiom cannot use these weights: {why}\n"));
    }
    let width = w.tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &w.tensors {
        s.push_str(&format!(
            "  {:<width$}  {:<5} {:<16} {}\n",
            t.name,
            t.dtype,
            format!("{:?}", t.shape),
            t.elements
        ));
    }
    if !w.metadata.is_empty() {
        s.push_str("metadata:\n");
        for (k, v) in &w.metadata {
            if k == META_CERTIFICATES {
                let digests: Vec<&str> = v.split(',').filter(|d| !d.is_empty()).collect();
                s.push_str(&format!(
                    "  {k} = {}\n",
                    count(digests.len(), "certificate digest", "certificate digests")
                ));
                for d in digests {
                    s.push_str(&format!("    {d}\n"));
                }
            } else {
                s.push_str(&format!("  {k} = {v}\n"));
            }
        }
    }
    s
}
