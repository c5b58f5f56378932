//! `axiom check [PATH...]`: the CI gate. Finds every `*.axiom` under the
//! paths, proves every `prove`, and reports each obligation on the strict
//! ladder `proved` (evidence re-checked) / `disproved` (counterexample
//! re-executed and checked exactly) / `unknown` / `error`.
//!
//! Each obligation goes first to the egg rewriter (algebraic facts such as
//! `sum(y) == 1` for a softmax output, discharged by a rewrite chain the
//! rewriter replays before it answers), then to the verification engine on
//! the rewriter's simplified graph (only exact folds, so the same function);
//! a `Proved` from the engine counts only after the independent exact
//! checker of `axiom-certs` accepts its evidence, and a `Disproved` only
//! after its counterexample meets the property in exact arithmetic.
//!
//! `--cache DIR` keeps decided results keyed by the sha256 of (engine
//! version, model digest, the obligation's text and resolved property,
//! options): an unchanged obligation is not proved again, and changing a
//! weight changes the model digest, so exactly that model's obligations are
//! proved again.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axiom_certs::cert::CertEvidence;
use axiom_certs::wire::{evidence_data, CounterexampleData};
use axiom_core::lang::{self, ModelSpec, Obligation};
use axiom_core::Graph;
use axiom_ml::check_report::{CheckSummary, FileError, Format, ObligationResult, Status};
use axiom_prover::{Verdict, VerifyOptions};
use sha2::{Digest, Sha256};

use crate::commands::{recheck, CliError};
use crate::trail::Trail;

/// Version of the cache entries' layout and of what they mean.
const CACHE_VERSION: &str = "axiom-check-cache-1";

/// Options of `axiom check`.
#[derive(Debug, Clone)]
pub struct CheckArgs {
    pub paths: Vec<PathBuf>,
    pub format: Format,
    /// Budget per obligation.
    pub timeout: f64,
    pub allow_unknown: bool,
    /// Exit 0 when there is nothing to check.
    pub allow_empty: bool,
    /// Write the report to this file instead of stdout.
    pub out: Option<PathBuf>,
    /// Replace an existing non-empty `out`.
    pub force: bool,
    pub cache: Option<PathBuf>,
    pub seed: u64,
}

/// Runs the check; prints the report on stdout and returns the exit code.
pub fn run(args: &CheckArgs, trail: &mut Trail) -> Result<u8, CliError> {
    let timeout = crate::commands::seconds_to_duration(args.timeout, "--timeout")?;
    if let Some(out) = &args.out {
        refuse_used_file(out, args.force)?;
    }
    let start = Instant::now();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for p in &paths {
        find_specs(p, &mut files)?;
    }
    files.sort();
    files.dedup();
    let searched = || {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A gate that checks nothing must not pass silently.
    if files.is_empty() && !args.allow_empty {
        return Err(CliError::Usage(format!(
            "no obligations found: no .axiom files under {}\n  hint: a gate that checks nothing \
             does not pass; point axiom check at your specifications, or pass --allow-empty",
            searched()
        )));
    }
    if let Some(dir) = &args.cache {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::Usage(format!("--cache {}: cannot create it: {e}", dir.display()))
        })?;
    }
    let color_err = std::io::stderr().is_terminal();
    let mut summary = CheckSummary {
        results: Vec::new(),
        errors: Vec::new(),
        seconds: 0.0,
    };
    let mut specs = Vec::new();
    for file in &files {
        trail.spec(file);
        match lang::load_spec(file) {
            Ok(spec) => specs.push((file, spec)),
            Err(e) => {
                eprintln!("{}", e.render(color_err));
                summary.errors.push(FileError {
                    file: file.clone(),
                    line: e.line,
                    col: e.col,
                    message: e.message.clone(),
                });
            }
        }
    }
    let total: usize = specs
        .iter()
        .flat_map(|(_, s)| &s.models)
        .map(|m| m.proves.len())
        .sum();
    if total == 0 && summary.errors.is_empty() && !args.allow_empty {
        return Err(CliError::Usage(format!(
            "no obligations found: {} specification{} under {} state{} no `prove`\n  hint: a gate \
             that checks nothing does not pass; add a `prove NAME: ...` to a model, or pass \
             --allow-empty",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            searched(),
            if files.len() == 1 { "s" } else { "" },
        )));
    }
    // A bar on a terminal, one line per obligation otherwise.
    let bar = crate::vnncomp::progress_bar(total);
    let lines = bar.is_hidden();
    for (file, spec) in &specs {
        for model in &spec.models {
            for f in &model.files {
                trail.file(f);
            }
            let prepared = Prepared::new(model);
            let digest = model.graph.digest().to_string();
            for ob in &model.proves {
                let what = format!("{} {}::{}", file.display(), model.name, ob.name);
                // A vacuous obligation (an empty input box) is said aloud.
                for w in ob
                    .property
                    .as_ref()
                    .map(|p| p.warnings())
                    .unwrap_or_default()
                {
                    bar.suspend(|| {
                        eprintln!(
                            "warning: {}:{}: {}: {w}",
                            file.display(),
                            ob.span.line,
                            ob.name
                        )
                    });
                }
                bar.set_message(what.clone());
                let result = check_obligation(file, &prepared, ob, timeout, args);
                let cached = if result.cached { " (cached)" } else { "" };
                if lines {
                    eprintln!(
                        "{what}: {}{cached} ({:.2} s)",
                        result.status, result.seconds
                    );
                } else {
                    bar.println(format!("{what}: {}{cached}", result.status));
                }
                bar.inc(1);
                trail.verdict(
                    model.name.clone(),
                    Some(digest.clone()),
                    ob.name.clone(),
                    result.status.as_str(),
                    None,
                );
                summary.results.push(result);
            }
        }
    }
    bar.finish_and_clear();
    summary.seconds = start.elapsed().as_secs_f64();
    trail.detail(format!(
        "{} specification{}, {} obligation{}, {} specification error{}",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        summary.results.len(),
        if summary.results.len() == 1 { "" } else { "s" },
        summary.errors.len(),
        if summary.errors.len() == 1 { "" } else { "s" },
    ));
    let color =
        args.format == Format::Human && args.out.is_none() && std::io::stdout().is_terminal();
    let text = summary
        .render(args.format, color)
        .map_err(|e| CliError::Usage(format!("cannot render the report: {e}")))?;
    match &args.out {
        None => print!("{text}"),
        Some(out) => {
            write_report(out, &text)?;
            let c = summary.counts();
            eprintln!(
                "report written to {}: {} proved, {} disproved, {} unknown, {} errors",
                out.display(),
                c.proved,
                c.disproved,
                c.unknown,
                c.error
            );
        }
    }
    Ok(u8::try_from(summary.exit_code(args.allow_unknown)).unwrap_or(crate::exit::BAD_INPUT))
}

/// Refuses `--out FILE` when FILE holds something, unless `force`: before
/// any work, so that nothing the user had is overwritten.
fn refuse_used_file(out: &Path, force: bool) -> Result<(), CliError> {
    if out.is_dir() {
        return Err(CliError::Usage(format!(
            "--out {}: is a folder\n  hint: name a file, such as {}/report.xml",
            out.display(),
            out.display()
        )));
    }
    let used = std::fs::metadata(out).is_ok_and(|m| m.len() > 0);
    if used && !force {
        return Err(CliError::Usage(format!(
            "--out {}: the file exists and is not empty; refusing to overwrite it\n  hint: pass \
             --force to replace it, or choose another name",
            out.display()
        )));
    }
    Ok(())
}

/// Writes the report beside `out` and renames it over `out`: a reader never
/// sees half a report.
fn write_report(out: &Path, text: &str) -> Result<(), CliError> {
    let cannot = |e: std::io::Error| {
        CliError::Usage(format!(
            "--out {}: cannot write the report: {e}",
            out.display()
        ))
    };
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = out.with_file_name(format!(
        ".{}.{}.tmp",
        name.as_deref().unwrap_or("report"),
        std::process::id()
    ));
    std::fs::write(&tmp, text).map_err(cannot)?;
    std::fs::rename(&tmp, out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        cannot(e)
    })
}

/// Collects `*.axiom` files under `path` (recursively; hidden directories
/// and `target/` are skipped). A named file is taken whatever its extension.
fn find_specs(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let meta =
        std::fs::metadata(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    if !meta.is_dir() {
        return Err(CliError::Usage(format!(
            "{}: not a .axiom file or a folder of them (a device, fifo or socket)",
            path.display()
        )));
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| CliError::Usage(format!("{}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|e| e == "axiom") {
                out.push(p);
            }
        }
    }
    Ok(())
}

/// What every obligation of a model shares, computed once per model.
pub(crate) struct Prepared<'a> {
    pub model: &'a ModelSpec,
    /// The model digest, for cache keys.
    digest: String,
    /// The graph the engine proves: the rewriter's simplification (exact
    /// folds only, so the same function), or the declared graph when the
    /// rewriter cannot read it.
    graph: Graph,
}

impl<'a> Prepared<'a> {
    pub fn new(model: &'a ModelSpec) -> Self {
        let graph = axiom_prover::rewrite::simplify(&model.graph)
            .map_or_else(|_| model.graph.clone(), |s| s.graph);
        Prepared {
            model,
            digest: model.graph.digest().to_string(),
            graph,
        }
    }
}

/// The report line of an obligation before it is decided.
pub(crate) fn blank_result(file: &Path, model: &str, ob: &Obligation) -> ObligationResult {
    ObligationResult {
        file: file.to_path_buf(),
        line: ob.span.line,
        col: ob.span.col,
        model: model.to_string(),
        obligation: ob.name.clone(),
        status: Status::Unknown,
        detail: String::new(),
        counterexample: None,
        method: String::new(),
        seconds: 0.0,
        cached: false,
    }
}

/// Decides one obligation (from the cache when it holds the answer).
fn check_obligation(
    file: &Path,
    prepared: &Prepared,
    ob: &Obligation,
    timeout: Duration,
    args: &CheckArgs,
) -> ObligationResult {
    let start = Instant::now();
    let mut result = blank_result(file, &prepared.model.name, ob);
    let key = cache_key(&prepared.digest, ob, timeout, args.seed);
    if let Some(hit) = args.cache.as_ref().and_then(|d| cache_read(d, &key)) {
        return ObligationResult {
            file: result.file,
            line: result.line,
            col: result.col,
            cached: true,
            seconds: start.elapsed().as_secs_f64(),
            ..hit
        };
    }
    let _ = decide(prepared, ob, timeout, args.seed, &mut result);
    result.seconds = start.elapsed().as_secs_f64();
    if matches!(result.status, Status::Proved | Status::Disproved) {
        if let Some(dir) = &args.cache {
            cache_write(dir, &key, &result);
        }
    }
    result
}

/// What deciding an obligation found, beyond its report line: the evidence
/// for a certificate, and where the time went.
pub(crate) struct Found {
    /// The evidence, in the certificate's form (`None` with the reason when
    /// nothing was shown).
    pub evidence: CertEvidence,
    /// The rewriter's goal for the obligation (when it has one).
    pub goal: Option<String>,
    pub solve: Duration,
    pub check: Duration,
}

/// The rewriter, then the engine with the exact re-check.
pub(crate) fn decide(
    prepared: &Prepared,
    ob: &Obligation,
    timeout: Duration,
    seed: u64,
    r: &mut ObligationResult,
) -> Found {
    let goal = ob.pred.as_ref().map(|p| p.to_sexpr());
    let mut found = Found {
        evidence: CertEvidence::None {
            reason: String::new(),
        },
        goal: goal.clone(),
        solve: Duration::ZERO,
        check: Duration::ZERO,
    };
    let start = Instant::now();
    // Not discharged, or not a goal the rewriter's language has (argmax,
    // `!=`): the engine decides.
    let discharged = goal
        .as_ref()
        .and_then(|goal| axiom_prover::rewrite::discharge(&prepared.model.graph, goal).ok())
        .flatten();
    if let Some(d) = discharged {
        found.solve = start.elapsed();
        r.status = Status::Proved;
        r.method = "rewriter".into();
        r.detail = format!(
            "discharged by rewriting in {} steps ({})",
            d.explanation.len(),
            d.rules.join(", ")
        );
        found.evidence = CertEvidence::Rewrite {
            chain: d.explanation,
            rules: d.rules,
        };
        return found;
    }
    let property = match &ob.property {
        Ok(p) => p,
        Err(why) => {
            r.status = Status::Error;
            r.method = "none".into();
            r.detail = format!("the obligation cannot be stated as a property: {why}");
            found.evidence = CertEvidence::None {
                reason: r.detail.clone(),
            };
            return found;
        }
    };
    let options = VerifyOptions {
        timeout: Some(timeout),
        seed,
        ..VerifyOptions::default()
    };
    // The engine proves the simplified graph; the checker re-checks the
    // evidence against the graph as declared.
    let model = prepared.model;
    let report = axiom_prover::verify(&prepared.graph, property, &options);
    found.solve = start.elapsed();
    r.method = "branch-and-bound".into();
    let start = Instant::now();
    let rechecked = match &report.verdict {
        Verdict::Unknown { .. } => None,
        verdict => Some(recheck(&model.graph, property, verdict)),
    };
    found.check = start.elapsed();
    match (&report.verdict, rechecked) {
        (Verdict::Unknown { reason }, _) => {
            r.status = Status::Unknown;
            r.detail = reason.to_string();
        }
        (verdict, Some(Ok(what))) => {
            let encoded = match verdict {
                Verdict::Disproved { counterexample } => {
                    r.status = Status::Disproved;
                    r.detail = format!(
                        "counterexample x = {:?} gives y = {:?} ({what})",
                        counterexample.input, counterexample.output
                    );
                    r.counterexample =
                        Some((counterexample.input.clone(), counterexample.output.clone()));
                    CounterexampleData::from_counterexample(counterexample)
                        .map(CertEvidence::Counterexample)
                }
                Verdict::Proved { evidence } => {
                    r.status = Status::Proved;
                    r.detail = format!("evidence re-checked: {what}");
                    evidence_data(evidence).map(|cases| CertEvidence::Proof { cases })
                }
                Verdict::Unknown { .. } => unreachable!("handled above"),
            };
            match encoded {
                Ok(e) => found.evidence = e,
                Err(e) => {
                    r.status = Status::Unknown;
                    r.detail = format!("the evidence cannot be written exactly: {e}");
                }
            }
        }
        (verdict, rejected) => {
            // Fail closed: evidence the checker cannot accept proves
            // nothing.
            let why = match rejected {
                Some(Err(why)) => why,
                _ => "no re-check ran".into(),
            };
            r.status = Status::Unknown;
            r.detail = format!(
                "the engine answered {} but the exact checker did not accept it: {why}",
                verdict.word()
            );
        }
    }
    if matches!(found.evidence, CertEvidence::None { .. }) {
        found.evidence = CertEvidence::None {
            reason: r.detail.clone(),
        };
    }
    found
}

/// The cache key of an obligation: everything its answer depends on.
fn cache_key(model_digest: &str, ob: &Obligation, timeout: Duration, seed: u64) -> String {
    let mut h = Sha256::new();
    h.update(CACHE_VERSION.as_bytes());
    h.update(b"\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\0");
    h.update(model_digest.as_bytes());
    h.update(b"\0");
    h.update(ob.text.as_bytes());
    h.update(b"\0");
    h.update(format!("{:?}", ob.pred).as_bytes());
    h.update(b"\0");
    h.update(format!("{:?}", ob.property).as_bytes());
    h.update(b"\0");
    h.update(format!("timeout={};seed={seed}", timeout.as_secs_f64()).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn cache_read(dir: &Path, key: &str) -> Option<ObligationResult> {
    let text = std::fs::read_to_string(dir.join(format!("{key}.json"))).ok()?;
    // A corrupt entry is a miss: the obligation is proved again.
    serde_json::from_str(&text).ok()
}

fn cache_write(dir: &Path, key: &str, result: &ObligationResult) {
    let Ok(text) = serde_json::to_string_pretty(result) else {
        return;
    };
    // Write then rename: a crash never leaves a torn entry behind.
    let tmp = dir.join(format!("{key}.json.tmp{}", std::process::id()));
    let ok = std::fs::write(&tmp, text).is_ok()
        && std::fs::rename(&tmp, dir.join(format!("{key}.json"))).is_ok();
    if !ok {
        let _ = std::fs::remove_file(&tmp);
        eprintln!(
            "  note: could not write the cache entry in {}",
            dir.display()
        );
    }
}
