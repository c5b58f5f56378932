//! The CLI commands. Each returns an exit code or a [`CliError`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axiom_backends::{backend_by_name, BackendError};
use axiom_core::spec::Property;
use axiom_core::{load_model, vnnlib, Graph};
use axiom_prover::{SplitStrategy, Stats, Verdict, VerifyOptions};
use ndarray::Array2;

use crate::trail::Trail;
use crate::{exit, Precision, SplitArg};

/// An error that ends a command; every kind is the user's to fix (exit 2).
#[derive(Debug)]
pub enum CliError {
    /// A file or its content is wrong.
    Input(axiom_core::Error),
    /// The backend refused (not available, wrong input length).
    Backend(BackendError),
    /// The command line is wrong in a way clap cannot see.
    Usage(String),
}

/// Refuses an `--out` folder that exists and is not empty, before any
/// work: nothing the user had is overwritten.
pub fn refuse_used_out(out: &std::path::Path) -> Result<(), CliError> {
    if out.exists()
        && std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(CliError::Usage(format!(
            "--out {}: exists and is not an empty folder; refusing to overwrite it\n  hint: choose another folder, or remove it first",
            out.display()
        )));
    }
    Ok(())
}

impl CliError {
    /// The process exit code for this error (always 2, bad input).
    pub fn exit_code(&self) -> u8 {
        exit::BAD_INPUT
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(e) => write!(f, "{e}"),
            CliError::Backend(e) => write!(f, "{e}"),
            CliError::Usage(m) => write!(f, "{m}"),
        }
    }
}

impl From<axiom_core::Error> for CliError {
    fn from(e: axiom_core::Error) -> Self {
        CliError::Input(e)
    }
}

impl From<BackendError> for CliError {
    fn from(e: BackendError) -> Self {
        CliError::Backend(e)
    }
}

/// `axiom run MODEL --input JSON`; a `.axiom` MODEL runs its declared model
/// with every `ensure` checked on every sample (exit 1 at a violation).
pub fn run(
    model: &Path,
    input: &str,
    backend: &str,
    precision: Precision,
    model_name: Option<&str>,
    trail: &mut Trail,
) -> Result<u8, CliError> {
    let backend = backend_by_name(backend)?;
    let is_spec = model.extension().is_some_and(|e| e == "axiom");
    let spec = if is_spec {
        Some(axiom_core::lang::load_spec(model).map_err(|e| {
            CliError::Usage(e.render(std::io::IsTerminal::is_terminal(&std::io::stderr())))
        })?)
    } else {
        None
    };
    let declared = match &spec {
        Some(spec) => Some(pick_model(spec, model, model_name)?),
        None => None,
    };
    let graph = match declared {
        Some(m) => m.graph.clone(),
        None => load_model(model)?,
    };
    let (rows, batched) = parse_input_json(input, graph.input_len(), graph.input_shape())?;
    let guarded = axiom_ml::ensure::GuardedModel::new(
        backend.compile(&graph)?,
        declared.map(|m| m.ensures.clone()).unwrap_or_default(),
    );
    let result = match precision {
        Precision::F64 => guarded
            .run_f64(to_matrix(&rows, |v| v).view())
            .map(|m| rows_of(&m, |v| v)),
        Precision::F32 => guarded
            .run_f32(to_matrix(&rows, |v| v as f32).view())
            .map(|m| rows_of(&m, f64::from)),
    };
    let outputs = match result {
        Ok(outputs) => outputs,
        Err(axiom_ml::ensure::GuardError::Backend(e)) => return Err(e.into()),
        Err(axiom_ml::ensure::GuardError::Violation(v)) => {
            eprintln!("error: {}: ensure violated: {v}", model.display());
            // A violated ensure is an audited event.
            trail.want();
            if is_spec {
                trail.spec(model);
            } else {
                trail.file(model);
            }
            for f in declared.map(|m| m.files.as_slice()).unwrap_or_default() {
                trail.file(f);
            }
            trail.verdict(
                declared.map_or_else(|| model.display().to_string(), |m| m.name.clone()),
                Some(graph.digest().to_string()),
                v.ensure.clone(),
                "violated",
                None,
            );
            trail.detail(format!("ensure violated: {v}"));
            return Ok(exit::VIOLATED);
        }
    };
    // JSON has no number for inf or NaN (serde_json would print `null`):
    // a non-finite output is reported, never printed as a silent null.
    if let Some((i, j, v)) = outputs.iter().enumerate().find_map(|(i, row)| {
        row.iter()
            .position(|v| !v.is_finite())
            .map(|j| (i, j, row[j]))
    }) {
        let sample = if batched {
            format!(" of sample {}", i + 1)
        } else {
            String::new()
        };
        let (what, hint) = if v.is_nan() {
            (
                "NaN (not a number)".to_string(),
                "the network computed an undefined value (e.g. inf - inf) on this input",
            )
        } else {
            (
                format!(
                    "{}inf: the value overflowed {}",
                    if v < 0.0 { "-" } else { "+" },
                    match precision {
                        Precision::F32 => "float32 (beyond ±3.4e38)",
                        Precision::F64 => "float64 (beyond ±1.8e308)",
                    }
                ),
                match precision {
                    Precision::F32 => {
                        "--precision f64 computes in float64, whose range is far wider"
                    }
                    Precision::F64 => "the input drives the network far outside any useful range",
                },
            )
        };
        return Err(CliError::Usage(format!(
            "{}: output `{}` element {j}{sample} is {what}; JSON has no number for it, so no \
             outputs are printed\n  hint: {hint}",
            model.display(),
            graph.value_name(graph.output),
        )));
    }
    let json = if batched {
        serde_json::Value::Array(outputs.iter().map(|r| numbers(r, precision)).collect())
    } else {
        numbers(&outputs[0], precision)
    };
    println!("{json}");
    Ok(exit::OK)
}

/// The model of a spec that `--model` names, or its only model.
fn pick_model<'a>(
    spec: &'a axiom_core::lang::Spec,
    path: &Path,
    name: Option<&str>,
) -> Result<&'a axiom_core::lang::ModelSpec, CliError> {
    let names = || {
        spec.models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => spec.model(n).ok_or_else(|| {
            CliError::Usage(format!(
                "{}: no model named `{n}` (models: {})",
                path.display(),
                names()
            ))
        }),
        None if spec.models.len() == 1 => Ok(&spec.models[0]),
        None => Err(CliError::Usage(format!(
            "{} declares {} models ({}); choose one with --model NAME",
            path.display(),
            spec.models.len(),
            names()
        ))),
    }
}

fn numbers(row: &[f64], precision: Precision) -> serde_json::Value {
    serde_json::Value::Array(
        row.iter()
            .map(|&v| match precision {
                // The shortest decimal that reads back as the same f32
                // (`Value::from(f32)` would widen it and print the f64's
                // 17 digits). Finite: `run` refuses non-finite outputs.
                Precision::F32 => (v as f32)
                    .to_string()
                    .parse::<f64>()
                    .map_or(serde_json::Value::Null, serde_json::Value::from),
                Precision::F64 => serde_json::Value::from(v),
            })
            .collect(),
    )
}

fn to_matrix<T: Copy>(rows: &[Vec<f64>], conv: impl Fn(f64) -> T) -> Array2<T> {
    let cols = rows.first().map_or(0, Vec::len);
    Array2::from_shape_fn((rows.len(), cols), |(i, j)| conv(rows[i][j]))
}

fn rows_of<T: Copy>(m: &Array2<T>, conv: impl Fn(T) -> f64) -> Vec<Vec<f64>> {
    m.rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| conv(v)).collect())
        .collect()
}

/// Parses `--input`: a flat array of numbers (one sample) or an array of
/// such arrays (a batch); `@FILE` reads the JSON from FILE. Returns the rows
/// and whether the input was a batch.
pub fn parse_input_json(
    arg: &str,
    expected: usize,
    shape: &[usize],
) -> Result<(Vec<Vec<f64>>, bool), CliError> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(file) => (
            std::fs::read_to_string(file)
                .map_err(|e| CliError::Usage(format!("--input @{file}: cannot read: {e}")))?,
            format!("--input @{file}"),
        ),
        None => (arg.to_string(), "--input".to_string()),
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "{origin}: not valid JSON ({e})\n  hint: pass a flat array such as '[0.1, 0.2]', or @FILE to read a file"
        ))
    })?;
    let Some(items) = value.as_array() else {
        return Err(CliError::Usage(format!(
            "{origin}: expected a JSON array of numbers (or an array of arrays for a batch)"
        )));
    };
    let batched = items.first().is_some_and(|v| v.is_array());
    let samples: Vec<&serde_json::Value> = if batched {
        items.iter().collect()
    } else {
        vec![&value]
    };
    let mut rows = Vec::with_capacity(samples.len());
    for (i, sample) in samples.into_iter().enumerate() {
        let place = if batched {
            format!("{origin}: sample {i}")
        } else {
            origin.clone()
        };
        let values = sample
            .as_array()
            .ok_or_else(|| CliError::Usage(format!("{place}: expected an array of numbers")))?;
        let row = values
            .iter()
            .enumerate()
            .map(|(j, v)| {
                v.as_f64().ok_or_else(|| {
                    CliError::Usage(format!("{place}: element {j} is not a number: {v}"))
                })
            })
            .collect::<Result<Vec<f64>, _>>()?;
        if row.len() != expected {
            return Err(CliError::Usage(format!(
                "{place} has {} values, the model expects {expected} (input shape {shape:?}, flattened row-major)",
                row.len()
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(CliError::Usage(format!("{origin}: the batch is empty")));
    }
    Ok((rows, batched))
}

/// The arguments of `axiom verify`.
#[derive(Debug, Clone)]
pub struct VerifyArgs {
    /// The model file.
    pub model: PathBuf,
    /// The VNN-LIB property file.
    pub property: PathBuf,
    /// Wall-clock budget in seconds.
    pub timeout: Option<f64>,
    /// Where to write the VNN-COMP result file.
    pub result: Option<PathBuf>,
    /// Overwrite a non-empty result file.
    pub force: bool,
    /// How the search splits.
    pub split: SplitArg,
    /// Seed of sampling and attacks.
    pub seed: u64,
    /// Re-check the evidence with the exact checker before answering.
    pub recheck: bool,
    /// Write a signed certificate of the verdict here.
    pub cert: Option<PathBuf>,
    /// The key that signs it.
    pub key: Option<PathBuf>,
    /// Search for counterexamples by sampling and PGD.
    pub attack: bool,
    /// Solve leaves with Z3.
    pub smt_leaves: bool,
    /// Where branch and bound bounds its boxes (`cpu`, `cuda`).
    pub backend: String,
    /// What goes to stdout: the VNN-COMP result text, or one JSON object.
    pub format: VerifyFormat,
}

/// The stdout formats of `axiom verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    /// The VNN-COMP result: the word, and the counterexample after `sat`.
    Text,
    /// One JSON object: result, counterexample, reason, statistics, the
    /// re-check and the certificate (see `axiom verify --help`).
    Json,
}

/// `axiom verify MODEL PROPERTY.vnnlib`: prints the result word (and the
/// counterexample after `sat`) on stdout, a summary on stderr, and returns
/// 0 (unsat), 1 (sat) or 3 (unknown, timeout).
pub fn verify(args: &VerifyArgs, trail: &mut Trail) -> Result<u8, CliError> {
    let timeout = args
        .timeout
        .map(|s| seconds_to_duration(s, "--timeout"))
        .transpose()?;
    if let Some(path) = &args.result {
        check_result_file(path, args.force)?;
    }
    crate::accel::check_backend(&args.backend)?;
    if let Some(path) = &args.cert {
        crate::certify::check_cert_path(path, args.force)?;
    }
    let key = args
        .key
        .as_deref()
        .map(crate::certify::load_secret)
        .transpose()?;
    trail.file(&args.model);
    trail.file(&args.property);
    let graph = load_model(&args.model)?;
    trail.model(graph.digest());
    let property = vnnlib::load(&args.property)?;
    warn_about(&args.property, &property);
    check_arity(&graph, &args.model, &property, &args.property)?;
    let box_bounder = crate::accel::box_bounder(&args.backend, &graph)?;

    let options = VerifyOptions {
        timeout,
        split: match args.split {
            SplitArg::Auto => SplitStrategy::Auto,
            SplitArg::Input => SplitStrategy::Input,
            SplitArg::Relu => SplitStrategy::Relu,
        },
        seed: args.seed,
        attack: args.attack,
        smt_leaves: args.smt_leaves,
        box_bounder,
        ..VerifyOptions::default()
    };
    let start = Instant::now();
    let mut report = axiom_prover::verify(&graph, &property, &options);
    let seconds = start.elapsed().as_secs_f64();
    let mut check_time = Duration::ZERO;
    let mut rechecked = None;
    // A certificate states only re-checked verdicts.
    if args.recheck || args.cert.is_some() {
        let start = Instant::now();
        let outcome = recheck(&graph, &property, &report.verdict);
        check_time = start.elapsed();
        match outcome {
            Ok(what) => {
                eprintln!("re-check: {what} in {:.2} s", check_time.as_secs_f64());
                rechecked = Some(what);
            }
            Err(why) => {
                // Fail closed: evidence the checker rejects proves nothing.
                eprintln!("re-check FAILED: {why}");
                report.verdict = Verdict::Unknown {
                    reason: axiom_prover::UnknownReason::Incomplete(format!(
                        "the exact re-check rejected the evidence: {why}"
                    )),
                };
            }
        }
    }

    let mut cert_digest = None;
    if let (Some(path), Some(key)) = (&args.cert, &key) {
        let (verdict, evidence) = certificate_evidence(&report.verdict);
        let mut opts = std::collections::BTreeMap::from([
            ("seed".to_string(), args.seed.to_string()),
            (
                "split".to_string(),
                format!("{:?}", args.split).to_lowercase(),
            ),
            ("attack".to_string(), args.attack.to_string()),
            ("smt_leaves".to_string(), args.smt_leaves.to_string()),
        ]);
        if args.backend != "cpu" {
            opts.insert("backend".into(), args.backend.clone());
        }
        if let Some(t) = args.timeout {
            opts.insert("timeout_s".into(), t.to_string());
        }
        let digest = crate::certify::write_verify_certificate(
            path,
            key,
            &args.model,
            &graph,
            &args.property,
            &property,
            verdict,
            evidence,
            opts,
            Duration::from_secs_f64(seconds),
            check_time,
        )?;
        eprintln!("certificate {} (sha256 {digest})", path.display());
        cert_digest = Some(digest);
    }

    let text = result_text(&report.verdict);
    if let Some(path) = &args.result {
        std::fs::write(path, &text).map_err(|e| {
            CliError::Usage(format!(
                "--result {}: cannot write the result file: {e}",
                path.display()
            ))
        })?;
    }
    match args.format {
        VerifyFormat::Text => print!("{text}"),
        VerifyFormat::Json => {
            let certificate =
                args.cert.as_ref().zip(cert_digest.as_ref()).map(
                    |(p, d)| serde_json::json!({ "path": p.display().to_string(), "sha256": d }),
                );
            let json = verify_json(
                args,
                &graph,
                &report,
                seconds,
                rechecked.as_deref(),
                certificate,
            );
            println!("{json:#}");
        }
    }
    let summary = verdict_summary(&report.verdict, &report.stats, seconds);
    eprintln!("{summary}");
    trail.verdict(
        args.model.display().to_string(),
        Some(graph.digest().to_string()),
        args.property.display().to_string(),
        report.verdict.word(),
        cert_digest,
    );
    trail.detail(summary);
    Ok(verdict_exit_code(&report.verdict))
}

/// `axiom verify --format json`: one object with the facts of the run.
fn verify_json(
    args: &VerifyArgs,
    graph: &Graph,
    report: &axiom_prover::VerifyReport,
    seconds: f64,
    rechecked: Option<&str>,
    certificate: Option<serde_json::Value>,
) -> serde_json::Value {
    use serde_json::{json, Value};
    let verdict = &report.verdict;
    let (counterexample, proof, reason) = match verdict {
        Verdict::Disproved { counterexample: c } => (
            json!({
                "case": c.case,
                "disjunct": c.disjunct,
                "inputs": c.input,
                "outputs": c.output,
            }),
            Value::Null,
            Value::Null,
        ),
        Verdict::Proved { evidence } => (
            Value::Null,
            json!({ "cases": evidence.cases.len(), "leaves": evidence.leaf_count() }),
            Value::Null,
        ),
        Verdict::Unknown { reason } => (Value::Null, Value::Null, json!(reason.to_string())),
    };
    let st = &report.stats;
    json!({
        "result": verdict.word(),
        "model": args.model.display().to_string(),
        "model_digest": graph.digest().to_string(),
        "property": args.property.display().to_string(),
        "seconds": seconds,
        "counterexample": counterexample,
        "proof": proof,
        "reason": reason,
        "rechecked": rechecked,
        "certificate": certificate,
        "stats": {
            "boxes_bounded": st.boxes_bounded,
            "leaves": st.leaves,
            "max_depth": st.max_depth,
            "smt_calls": st.smt_calls,
            "attack_samples": st.attack_samples,
            "accelerated_boxes": st.accelerated_boxes,
            "accelerated_leaves": st.accelerated_leaves,
        },
    })
}

/// Prints a property's warnings (an empty input box, which makes the
/// answer vacuously `unsat`) on stderr, naming the file.
pub fn warn_about(path: &Path, property: &Property) {
    for w in property.warnings() {
        eprintln!("warning: {}: {w}", path.display());
    }
}

/// Re-checks a verdict's evidence with the independent exact checker of
/// `axiom-certs`: a proof tree leaf by leaf, a counterexample by exact
/// evaluation. Returns what was checked, or why the check failed.
pub fn recheck(
    graph: &axiom_core::Graph,
    property: &axiom_core::spec::Property,
    verdict: &Verdict,
) -> Result<String, String> {
    match verdict {
        Verdict::Proved { evidence } => axiom_certs::check::check_proof(graph, property, evidence)
            .map(|r| {
                format!(
                    "{} leaves, {} bound refutations re-derived exactly, {} trusted to SMT",
                    r.leaves, r.bound_refutations, r.smt_refutations
                )
            })
            .map_err(|e| e.to_string()),
        Verdict::Disproved { counterexample } => {
            axiom_certs::check::check_counterexample(graph, property, counterexample)
                .map(|()| "the counterexample meets the property in exact arithmetic".to_string())
                .map_err(|e| e.to_string())
        }
        Verdict::Unknown { .. } => Ok("nothing to re-check".into()),
    }
}

/// A verdict as a certificate states it.
fn certificate_evidence(
    verdict: &Verdict,
) -> (
    axiom_certs::cert::VerdictKind,
    axiom_certs::cert::CertEvidence,
) {
    use axiom_certs::cert::{CertEvidence, VerdictKind};
    use axiom_certs::wire::{evidence_data, CounterexampleData};
    let unknown = |reason: String| (VerdictKind::Unknown, CertEvidence::None { reason });
    match verdict {
        Verdict::Proved { evidence } => match evidence_data(evidence) {
            Ok(cases) => (VerdictKind::Proved, CertEvidence::Proof { cases }),
            Err(e) => unknown(format!("the evidence cannot be written exactly: {e}")),
        },
        Verdict::Disproved { counterexample } => {
            match CounterexampleData::from_counterexample(counterexample) {
                Ok(c) => (VerdictKind::Disproved, CertEvidence::Counterexample(c)),
                Err(e) => unknown(format!("the counterexample cannot be written exactly: {e}")),
            }
        }
        Verdict::Unknown { reason } => unknown(reason.to_string()),
    }
}

/// The exit code of a verdict: 0 proved, 1 disproved, 3 unknown or timeout.
pub fn verdict_exit_code(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Proved { .. } => exit::OK,
        Verdict::Disproved { .. } => exit::VIOLATED,
        Verdict::Unknown { .. } => exit::UNKNOWN,
    }
}

/// Converts a number of seconds given on the command line (or in an
/// instances file) to a [`Duration`]; `what` names it in the error.
pub fn seconds_to_duration(seconds: f64, what: &str) -> Result<Duration, CliError> {
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(CliError::Usage(format!(
            "{what}: expected a positive number of seconds, got {seconds}"
        )));
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| CliError::Usage(format!("{what}: {seconds} seconds is too large")))
}

/// Refuses a `--result` file that exists and is not empty, unless `force`.
fn check_result_file(path: &Path, force: bool) -> Result<(), CliError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(CliError::Usage(format!(
            "--result {}: is a directory",
            path.display()
        ))),
        Ok(meta) if meta.len() > 0 && !force => Err(CliError::Usage(format!(
            "--result {}: the file exists and is not empty\n  hint: pass --force to overwrite it",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Checks that the property's `X_`/`Y_` variables match the model's input
/// and output sizes.
pub fn check_arity(
    graph: &Graph,
    model: &Path,
    property: &Property,
    property_path: &Path,
) -> Result<(), CliError> {
    let inputs = graph.input_len();
    let outputs = graph.output_len()?;
    if property.num_inputs != inputs || property.num_outputs != outputs {
        return Err(CliError::Usage(format!(
            "{}: the property declares {} input{} and {} output{}, but the model {} has {inputs} input{} \
(shape {:?}) and {outputs} output{}\n  hint: is this the property meant for this model?",
            property_path.display(),
            property.num_inputs,
            plural(property.num_inputs),
            property.num_outputs,
            plural(property.num_outputs),
            model.display(),
            plural(inputs),
            graph.input_shape(),
            plural(outputs),
        )));
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The VNN-COMP result text of a verdict: the word on its own line and,
/// after `sat`, the counterexample as `(`, one `(X_i value)` line per input,
/// one `(Y_j value)` line per output, `)`.
pub fn result_text(verdict: &Verdict) -> String {
    let mut text = format!("{}\n", verdict.word());
    if let Verdict::Disproved { counterexample } = verdict {
        text.push_str("(\n");
        for (i, v) in counterexample.input.iter().enumerate() {
            text.push_str(&format!("(X_{i} {})\n", format_value(*v)));
        }
        for (j, v) in counterexample.output.iter().enumerate() {
            text.push_str(&format!("(Y_{j} {})\n", format_value(*v)));
        }
        text.push_str(")\n");
    }
    text
}

/// Formats a value so that it parses back to the same `f64`: Rust's
/// shortest round-trip decimal, in scientific notation when the plain form
/// would be long.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || (1e-4..1e15).contains(&a) || !v.is_finite() {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A one-line human summary of a verification run.
pub fn verdict_summary(verdict: &Verdict, stats: &Stats, seconds: f64) -> String {
    let mut work = format!(
        "{} boxes bounded, {} leaves, depth {}, {} SMT calls, {} attack samples",
        stats.boxes_bounded, stats.leaves, stats.max_depth, stats.smt_calls, stats.attack_samples
    );
    if stats.accelerated_boxes > 0 {
        work.push_str(&format!(
            "; accelerator: {} boxes, {} leaves closed",
            stats.accelerated_boxes, stats.accelerated_leaves
        ));
    }
    if let Some(e) = &stats.accelerator_error {
        work.push_str(&format!(
            "; accelerator failed on {} batch{} (bounded on the CPU): {e}",
            stats.accelerator_failures,
            if stats.accelerator_failures == 1 {
                ""
            } else {
                "es"
            }
        ));
    }
    match verdict {
        Verdict::Proved { evidence } => format!(
            "unsat: the property holds; proved in {seconds:.2} s with {} proof lea{} over {} case{} ({work})",
            evidence.leaf_count(),
            if evidence.leaf_count() == 1 { "f" } else { "ves" },
            evidence.cases.len(),
            plural(evidence.cases.len()),
        ),
        Verdict::Disproved { counterexample } => format!(
            "sat: the property is violated; counterexample (case {}, disjunct {}) found in {seconds:.2} s ({work})",
            counterexample.case, counterexample.disjunct
        ),
        Verdict::Unknown { reason } => format!(
            "{} after {seconds:.2} s: {reason} ({work})",
            verdict.word()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axiom_prover::{Counterexample, UnknownReason};
    use proptest::prelude::*;

    #[test]
    fn result_text_of_each_verdict() {
        let unknown = Verdict::Unknown {
            reason: UnknownReason::Incomplete("x".into()),
        };
        assert_eq!(result_text(&unknown), "unknown\n");
        let timeout = Verdict::Unknown {
            reason: UnknownReason::Timeout,
        };
        assert_eq!(result_text(&timeout), "timeout\n");
        assert_eq!(verdict_exit_code(&timeout), exit::UNKNOWN);
        let sat = Verdict::Disproved {
            counterexample: Counterexample {
                input: vec![0.5, -1e-9],
                output: vec![0.25],
                case: 0,
                disjunct: 0,
            },
        };
        assert_eq!(
            result_text(&sat),
            "sat\n(\n(X_0 0.5)\n(X_1 -1e-9)\n(Y_0 0.25)\n)\n"
        );
        assert_eq!(verdict_exit_code(&sat), exit::VIOLATED);
    }

    #[test]
    fn timeouts_must_be_positive_and_finite() {
        assert_eq!(
            seconds_to_duration(1.5, "--timeout").unwrap(),
            Duration::from_millis(1500)
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            assert!(seconds_to_duration(bad, "--timeout").is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn values_round_trip(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let s = format_value(v);
            prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{}", s);
        }
    }

    #[test]
    fn flat_and_batched_inputs() {
        let (rows, batched) = parse_input_json("[1, 2.5]", 2, &[2]).unwrap();
        assert_eq!((rows, batched), (vec![vec![1.0, 2.5]], false));
        let (rows, batched) = parse_input_json("[[1, 2], [3, 4]]", 2, &[2]).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(batched);
    }

    #[test]
    fn wrong_length_names_the_sample() {
        let e = parse_input_json("[[1, 2], [3]]", 2, &[1, 2]).unwrap_err();
        assert!(e.to_string().contains("sample 1 has 1 values"), "{e}");
        let e = parse_input_json("[1, 2, 3]", 5, &[1, 1, 1, 5]).unwrap_err();
        assert!(e.to_string().contains("expects 5"), "{e}");
    }

    #[test]
    fn non_numbers_and_bad_json() {
        assert!(parse_input_json("[1, \"a\"]", 2, &[2]).is_err());
        assert!(parse_input_json("[1, 2", 2, &[2]).is_err());
        assert!(parse_input_json("{}", 2, &[2]).is_err());
        assert!(parse_input_json("[]", 2, &[2]).is_err());
    }
}
