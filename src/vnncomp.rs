//! `axiom vnncomp INSTANCES.csv`: runs a VNN-COMP benchmark's instances one
//! after the other, checks the results against the expected ones and
//! summarises them.
//!
//! The instances file has the columns `onnx,vnnlib,timeout_s[,expected]`,
//! with or without a header row; paths are relative to the file's directory.
//! A model or property that cannot be loaded makes that instance's result
//! `error` and the run goes on; only a malformed instances file stops it.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axiom_core::spec::Property;
use axiom_core::{load_model, vnnlib, Graph};
use axiom_prover::{BoxBounder, UnknownReason, Verdict, VerifyOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::{check_arity, seconds_to_duration, CliError};
use crate::exit;

/// The arguments of `axiom vnncomp`.
#[derive(Debug, Clone)]
pub struct VnncompArgs {
    /// The instances file.
    pub instances: PathBuf,
    /// Cap on every instance's timeout, in seconds.
    pub timeout_cap: Option<f64>,
    /// Where to write the per-instance results as CSV.
    pub out: Option<PathBuf>,
    /// Overwrite an existing `out` file.
    pub force: bool,
    /// Re-check every verdict with the exact checker.
    pub recheck: bool,
    /// Where branch and bound bounds its boxes (`cpu`, `cuda`).
    pub backend: String,
}

/// The result an instance is expected to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The property holds (`unsat`, or `holds`).
    Unsat,
    /// The property is violated (`sat`, or `violated`).
    Sat,
}

impl Expected {
    /// Reads an `expected` field: `unsat`/`holds` or `sat`/`violated`, in
    /// any case; anything else is no expectation.
    pub fn parse(field: &str) -> Option<Expected> {
        match field.trim().to_ascii_lowercase().as_str() {
            "unsat" | "holds" => Some(Expected::Unsat),
            "sat" | "violated" => Some(Expected::Sat),
            _ => None,
        }
    }

    /// The VNN-COMP word of the expected result.
    pub fn word(self) -> &'static str {
        match self {
            Expected::Unsat => "unsat",
            Expected::Sat => "sat",
        }
    }
}

/// One line of an instances file.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The line of the instances file it was read from (1-based).
    pub line: u64,
    /// The `onnx` field as written.
    pub onnx: String,
    /// The `vnnlib` field as written.
    pub vnnlib: String,
    /// The model's path, resolved against the instances file's directory.
    pub model: PathBuf,
    /// The property's path, resolved likewise.
    pub property: PathBuf,
    /// The instance's time budget.
    pub timeout: Duration,
    /// The expected result, when the line gives a recognised one.
    pub expected: Option<Expected>,
}

impl Instance {
    /// A short name: the model's and the property's file stems, such as
    /// `ACASXU_run2a_1_2_batch_2000 prop_1`.
    pub fn name(&self) -> String {
        format!("{} {}", stem(&self.onnx), stem(&self.vnnlib))
    }
}

/// A file name without its directory and extensions (`.onnx.gz` and the
/// like included).
fn stem(field: &str) -> String {
    let name = Path::new(field)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(field);
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".GZ"))
        .unwrap_or(name);
    match name.rfind('.') {
        Some(dot) if dot > 0 => name[..dot].to_string(),
        _ => name.to_string(),
    }
}

/// Reads an instances file; paths are resolved against its directory.
pub fn load_instances(path: &Path) -> Result<Vec<Instance>, CliError> {
    let text = axiom_core::read_file(path)
        .and_then(|b| {
            String::from_utf8(b).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the file is not UTF-8 text",
                )
            })
        })
        .map_err(|e| CliError::Usage(format!("{}: cannot read: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new(""));
    parse_instances(&text, base, &path.display().to_string())
}

/// Parses the CSV text of an instances file; `base` is the directory paths
/// are relative to and `origin` names the file in errors.
///
/// A first row whose first field contains `onnx` and no `.` (such as
/// `onnx,vnnlib,timeout_s`) is a header and is skipped. Every other row needs
/// at least three fields; a fourth, when present, is the expected result.
pub fn parse_instances(text: &str, base: &Path, origin: &str) -> Result<Vec<Instance>, CliError> {
    // The line of a record starting at a byte offset, counted here: the csv
    // crate counts neither the blank lines it skips nor their bytes into
    // the record's line.
    let line_at = |byte: u64| {
        let start = usize::try_from(byte).map_or(text.len(), |b| b.min(text.len()));
        let end = text.as_bytes()[start..]
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .map_or(text.len(), |skip| start + skip);
        1 + text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut instances = Vec::new();
    let mut first = true;
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e
                .position()
                .map_or(String::new(), |p| format!(" line {}:", line_at(p.byte())));
            CliError::Usage(format!("{origin}:{line} not a readable CSV file: {e}"))
        })?;
        let line = record.position().map_or(0, |p| line_at(p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let is_first = std::mem::replace(&mut first, false);
        let field = |i: usize| record.get(i).unwrap_or("");
        if is_first {
            let head = field(0).to_ascii_lowercase();
            if head.contains("onnx") && !head.contains('.') {
                continue;
            }
        }
        let bad = |what: String| {
            CliError::Usage(format!(
                "{origin}: line {line}: {what}\n  hint: each line is onnx,vnnlib,timeout_s[,expected]"
            ))
        };
        if record.len() < 3 {
            return Err(bad(format!(
                "expected at least 3 columns, found {}",
                record.len()
            )));
        }
        if field(0).is_empty() || field(1).is_empty() {
            return Err(bad("the onnx and vnnlib columns must not be empty".into()));
        }
        let timeout = field(2)
            .parse::<f64>()
            .map_err(|_| bad(format!("timeout_s is not a number: {:?}", field(2))))
            .and_then(|s| seconds_to_duration(s, "timeout_s").map_err(|e| bad(e.to_string())))?;
        instances.push(Instance {
            line,
            onnx: field(0).to_string(),
            vnnlib: field(1).to_string(),
            model: base.join(field(0)),
            property: base.join(field(1)),
            timeout,
            expected: Expected::parse(field(3)),
        });
    }
    if instances.is_empty() {
        return Err(CliError::Usage(format!("{origin}: no instances")));
    }
    Ok(instances)
}

/// The result of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Proved.
    Unsat,
    /// Disproved.
    Sat,
    /// Undecided, for a reason other than time.
    Unknown,
    /// Out of time.
    Timeout,
    /// The model or property could not be loaded (or the engine failed).
    Error,
}

impl Outcome {
    /// The outcome of a verdict.
    pub fn of(verdict: &Verdict) -> Outcome {
        match verdict {
            Verdict::Proved { .. } => Outcome::Unsat,
            Verdict::Disproved { .. } => Outcome::Sat,
            Verdict::Unknown {
                reason: UnknownReason::Timeout,
            } => Outcome::Timeout,
            Verdict::Unknown { .. } => Outcome::Unknown,
        }
    }

    /// The word in progress lines and the results file.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Unsat => "unsat",
            Outcome::Sat => "sat",
            Outcome::Unknown => "unknown",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
        }
    }

    /// Whether the outcome agrees with an expectation: `None` when there is
    /// none or the outcome is not a verdict.
    pub fn agrees(self, expected: Option<Expected>) -> Option<bool> {
        match (self, expected?) {
            (Outcome::Unsat, e) => Some(e == Expected::Unsat),
            (Outcome::Sat, e) => Some(e == Expected::Sat),
            _ => None,
        }
    }
}

/// Running counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    unsat: usize,
    sat: usize,
    unknown: usize,
    timeout: usize,
    error: usize,
    wrong: usize,
}

impl Tally {
    fn add(&mut self, outcome: Outcome, agrees: Option<bool>) {
        match outcome {
            Outcome::Unsat => self.unsat += 1,
            Outcome::Sat => self.sat += 1,
            Outcome::Unknown => self.unknown += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::Error => self.error += 1,
        }
        if agrees == Some(false) {
            self.wrong += 1;
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsat {} sat {} unknown {} timeout {} error {} WRONG {}",
            self.unsat, self.sat, self.unknown, self.timeout, self.error, self.wrong
        )
    }
}

/// What one instance gave.
#[derive(Debug, Clone)]
struct Finished {
    name: String,
    outcome: Outcome,
    seconds: f64,
}

/// Loaded models and properties, by path: many instances share them. A
/// failed load is remembered too, as its message.
#[derive(Default)]
struct Loaded {
    backend: String,
    models: HashMap<PathBuf, Result<Rc<Graph>, String>>,
    properties: HashMap<PathBuf, Result<Rc<Property>, String>>,
    /// Each model's accelerator, uploaded once.
    bounders: HashMap<PathBuf, Result<Option<Arc<dyn BoxBounder>>, String>>,
}

impl Loaded {
    fn bounder(
        &mut self,
        path: &Path,
        graph: &Graph,
    ) -> Result<Option<Arc<dyn BoxBounder>>, String> {
        let backend = &self.backend;
        self.bounders
            .entry(path.to_path_buf())
            .or_insert_with(|| crate::accel::box_bounder(backend, graph).map_err(|e| e.to_string()))
            .clone()
    }

    fn model(&mut self, path: &Path) -> Result<Rc<Graph>, String> {
        self.models
            .entry(path.to_path_buf())
            .or_insert_with(|| load_model(path).map(Rc::new).map_err(|e| e.to_string()))
            .clone()
    }

    fn property(&mut self, path: &Path) -> Result<Rc<Property>, String> {
        self.properties
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                let property = vnnlib::load(path).map_err(|e| e.to_string())?;
                crate::commands::warn_about(path, &property);
                Ok(Rc::new(property))
            })
            .clone()
    }
}

/// Loads and verifies one instance; an error is the outcome `Error` with its
/// message. Also returns the seconds spent loading and verifying (an exact
/// re-check, when asked for, is not counted).
fn run_instance(
    instance: &Instance,
    cap: Option<Duration>,
    recheck: bool,
    loaded: &mut Loaded,
) -> (Outcome, Option<String>, f64) {
    let start = Instant::now();
    let (outcome, message, verdict) = load_and_verify(instance, cap, loaded);
    let seconds = start.elapsed().as_secs_f64();
    match (recheck, verdict) {
        (true, Some((graph, property, verdict))) => {
            match crate::commands::recheck(&graph, &property, &verdict) {
                Ok(_) => (outcome, message, seconds),
                Err(why) => (
                    Outcome::Error,
                    Some(format!(
                        "the exact re-check rejected the {} verdict: {why}",
                        outcome.word()
                    )),
                    seconds,
                ),
            }
        }
        _ => (outcome, message, seconds),
    }
}

/// What [`load_and_verify`] returns: the outcome, an error message, and the
/// model, property and verdict when the engine ran.
type Verified = (
    Outcome,
    Option<String>,
    Option<(Rc<Graph>, Rc<Property>, Verdict)>,
);

/// Loads and verifies one instance.
fn load_and_verify(instance: &Instance, cap: Option<Duration>, loaded: &mut Loaded) -> Verified {
    let start = Instant::now();
    let graph = match loaded.model(&instance.model) {
        Ok(g) => g,
        Err(e) => return (Outcome::Error, Some(e), None),
    };
    let property = match loaded.property(&instance.property) {
        Ok(p) => p,
        Err(e) => return (Outcome::Error, Some(e), None),
    };
    if let Err(e) = check_arity(&graph, &instance.model, &property, &instance.property) {
        return (Outcome::Error, Some(e.to_string()), None);
    }
    let box_bounder = match loaded.bounder(&instance.model, &graph) {
        Ok(b) => b,
        Err(e) => return (Outcome::Error, Some(e), None),
    };
    // The instance's time counts from before its files were loaded, as the
    // competition counts it: loading is paid out of the timeout.
    let timeout = cap
        .map_or(instance.timeout, |c| c.min(instance.timeout))
        .saturating_sub(start.elapsed());
    let options = VerifyOptions {
        timeout: Some(timeout),
        box_bounder,
        ..VerifyOptions::default()
    };
    // One failing instance must not end a long benchmark run.
    match std::panic::catch_unwind(AssertUnwindSafe(|| {
        axiom_prover::verify(&graph, &property, &options)
    })) {
        Ok(report) => {
            // Why the engine gave up, unless it only ran out of time.
            let why = match &report.verdict {
                Verdict::Unknown { reason } if *reason != UnknownReason::Timeout => {
                    Some(reason.to_string())
                }
                _ => None,
            };
            (
                Outcome::of(&report.verdict),
                why,
                Some((graph, property, report.verdict)),
            )
        }
        Err(_) => (
            Outcome::Error,
            Some("the engine panicked (a bug; the message is above)".into()),
            None,
        ),
    }
}

/// The `--out` results file, written one row per finished instance.
struct ResultsFile {
    path: PathBuf,
    writer: csv::Writer<File>,
}

impl ResultsFile {
    fn create(path: &Path, force: bool) -> Result<ResultsFile, CliError> {
        let mut options = OpenOptions::new();
        options.write(true);
        if force {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CliError::Usage(format!(
                    "--out {}: the file exists\n  hint: pass --force to overwrite it",
                    path.display()
                ))
            } else {
                CliError::Usage(format!("--out {}: cannot create: {e}", path.display()))
            }
        })?;
        let mut results = ResultsFile {
            path: path.to_path_buf(),
            writer: csv::Writer::from_writer(file),
        };
        results.row(&[
            "onnx", "vnnlib", "result", "seconds", "expected", "agrees", "detail",
        ])?;
        Ok(results)
    }

    fn row(&mut self, fields: &[&str]) -> Result<(), CliError> {
        self.writer
            .write_record(fields)
            .and_then(|()| self.writer.flush().map_err(csv::Error::from))
            .map_err(|e| {
                CliError::Usage(format!("--out {}: cannot write: {e}", self.path.display()))
            })
    }
}

pub(crate) fn progress_bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        // Two lines: progress and counts, then the running instance.
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:20}] {pos}/{len}  {prefix}\n  {wide_msg}",
        )
    {
        bar.set_style(style.progress_chars("=> "));
    }
    if !bar.is_hidden() {
        bar.enable_steady_tick(Duration::from_millis(250));
    }
    bar
}

/// `axiom vnncomp INSTANCES.csv`: returns 1 when a result contradicts its
/// expectation, 0 otherwise.
pub fn run(args: &VnncompArgs) -> Result<u8, CliError> {
    let cap = args
        .timeout_cap
        .map(|s| seconds_to_duration(s, "--timeout-cap"))
        .transpose()?;
    crate::accel::check_backend(&args.backend)?;
    let instances = load_instances(&args.instances)?;
    let mut out = args
        .out
        .as_deref()
        .map(|p| ResultsFile::create(p, args.force))
        .transpose()?;

    let total = instances.len();
    let bar = progress_bar(total);
    let lines = bar.is_hidden();
    let mut loaded = Loaded {
        backend: args.backend.clone(),
        ..Loaded::default()
    };
    let mut tally = Tally::default();
    let mut finished = Vec::with_capacity(total);
    let mut wrong = Vec::new();
    let wall = Instant::now();
    for (i, instance) in instances.iter().enumerate() {
        let name = instance.name();
        bar.set_prefix(tally.to_string());
        bar.set_message(name.clone());
        let (outcome, message, seconds) = run_instance(instance, cap, args.recheck, &mut loaded);
        let agrees = outcome.agrees(instance.expected);
        tally.add(outcome, agrees);

        let mut line = format!(
            "[{}/{total}] {name}: {} in {seconds:.2} s",
            i + 1,
            outcome.word()
        );
        if let Some(e) = instance.expected {
            line.push_str(&format!(" (expected {})", e.word()));
        }
        if agrees == Some(false) {
            line.push_str(" WRONG");
            wrong.push(format!(
                "{name}: {} where {} was expected (line {})",
                outcome.word(),
                instance.expected.map_or("?", Expected::word),
                instance.line
            ));
        }
        if let Some(message) = &message {
            line.push_str(&format!("\n  {message}"));
        }
        if lines {
            eprintln!("{line}");
        } else if message.is_some() || agrees == Some(false) {
            bar.println(&line);
        }
        if let Some(out) = &mut out {
            out.row(&[
                &instance.onnx,
                &instance.vnnlib,
                outcome.word(),
                &format!("{seconds:.3}"),
                instance.expected.map_or("", Expected::word),
                match agrees {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "",
                },
                // One line per instance: the hint joins the message.
                &message.as_deref().map_or(String::new(), |m| {
                    m.lines().map(str::trim).collect::<Vec<_>>().join("; ")
                }),
            ])?;
        }
        finished.push(Finished {
            name,
            outcome,
            seconds,
        });
        bar.set_prefix(tally.to_string());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let wall = wall.elapsed().as_secs_f64();
    print!("{}", summary(&finished, &tally, wall, &wrong));
    if let Some(out) = &out {
        eprintln!("results written to {}", out.path.display());
    }
    Ok(if tally.wrong > 0 {
        exit::VIOLATED
    } else {
        exit::OK
    })
}

/// The median of some numbers (0 for none).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The end-of-run summary printed to stdout.
fn summary(finished: &[Finished], tally: &Tally, wall: f64, wrong: &[String]) -> String {
    let times: Vec<f64> = finished.iter().map(|f| f.seconds).collect();
    let mut s = String::new();
    s.push_str(&format!(
        "solved   {} of {}\n",
        tally.unsat + tally.sat,
        finished.len()
    ));
    for (word, n) in [
        ("unsat", tally.unsat),
        ("sat", tally.sat),
        ("unknown", tally.unknown),
        ("timeout", tally.timeout),
        ("error", tally.error),
        ("WRONG", tally.wrong),
    ] {
        s.push_str(&format!("{word:<8} {n}\n"));
    }
    s.push_str(&format!(
        "seconds  {:.3} total, {wall:.3} wall, {:.3} median\n",
        times.iter().sum::<f64>(),
        median(&times)
    ));
    for w in wrong {
        s.push_str(&format!("WRONG    {w}\n"));
    }
    let mut slowest: Vec<&Finished> = finished.iter().collect();
    slowest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    slowest.truncate(10);
    s.push_str("slowest:\n");
    for f in slowest {
        s.push_str(&format!(
            "  {:>9.3} s  {:<7}  {}\n",
            f.seconds,
            f.outcome.word(),
            f.name
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Vec<Instance>, CliError> {
        parse_instances(text, Path::new("/b"), "i.csv")
    }

    #[test]
    fn with_and_without_header() {
        let with = parse("onnx,vnnlib,timeout_s,expected\nn.onnx,p.vnnlib,60,holds\n").unwrap();
        let without = parse("n.onnx,p.vnnlib,60,holds\n").unwrap();
        assert_eq!(with.len(), 1);
        assert_eq!(with[0].line, 2);
        assert_eq!(without[0].line, 1);
        let i = &without[0];
        assert_eq!(i.model, Path::new("/b/n.onnx"));
        assert_eq!(i.property, Path::new("/b/p.vnnlib"));
        assert_eq!(i.timeout, Duration::from_secs(60));
        assert_eq!(i.expected, Some(Expected::Unsat));
        assert_eq!(i.name(), "n p");
    }

    #[test]
    fn vnncomp_style_lines() {
        let v = parse(
            "onnx/ACASXU_run2a_1_1_batch_2000.onnx.gz, vnnlib/prop_1.vnnlib ,116\n\n\
             /abs/n.nnet,p.vnnlib,1.5,Violated,extra\n",
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].name(), "ACASXU_run2a_1_1_batch_2000 prop_1");
        assert_eq!(v[0].vnnlib, "vnnlib/prop_1.vnnlib");
        assert_eq!(v[0].expected, None);
        assert_eq!(v[1].line, 3);
        assert_eq!(v[1].model, Path::new("/abs/n.nnet"));
        assert_eq!(v[1].timeout, Duration::from_millis(1500));
        assert_eq!(v[1].expected, Some(Expected::Sat));
    }

    #[test]
    fn crlf_and_blank_lines_keep_line_numbers() {
        let v = parse(
            "onnx,vnnlib,timeout_s\r\n\r\na.onnx,b.vnnlib,1\r\n\r\n\r\nc.onnx,d.vnnlib,2\r\n",
        )
        .unwrap();
        assert_eq!(v.iter().map(|i| i.line).collect::<Vec<_>>(), [3, 6]);
        let e = parse("a.onnx,b.vnnlib,1\n\n\nc.onnx\n").unwrap_err();
        assert!(e.to_string().contains("line 4"), "{e}");
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse("onnx,vnnlib,timeout_s\na.onnx,b.vnnlib,1\na.onnx,b.vnnlib\n").unwrap_err();
        assert!(e.to_string().contains("i.csv: line 3"), "{e}");
        assert!(e.to_string().contains("3 columns"), "{e}");
        let e = parse("a.onnx,b.vnnlib,soon\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = parse("a.onnx,b.vnnlib,-5\n").unwrap_err();
        assert!(e.to_string().contains("positive"), "{e}");
        assert!(parse("onnx,vnnlib,timeout_s\n").is_err());
        assert!(parse("").is_err());
        assert!(parse(",b.vnnlib,3\n").is_err());
    }

    #[test]
    fn expectations_and_agreement() {
        assert_eq!(Expected::parse(" SAT "), Some(Expected::Sat));
        assert_eq!(Expected::parse("unknown"), None);
        assert_eq!(Outcome::Unsat.agrees(Some(Expected::Unsat)), Some(true));
        assert_eq!(Outcome::Sat.agrees(Some(Expected::Unsat)), Some(false));
        assert_eq!(Outcome::Unsat.agrees(Some(Expected::Sat)), Some(false));
        assert_eq!(Outcome::Timeout.agrees(Some(Expected::Sat)), None);
        assert_eq!(Outcome::Error.agrees(Some(Expected::Sat)), None);
        assert_eq!(Outcome::Sat.agrees(None), None);
    }

    #[test]
    fn median_and_summary() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let finished: Vec<Finished> = (0..12)
            .map(|i| Finished {
                name: format!("n{i} p"),
                outcome: Outcome::Unsat,
                seconds: f64::from(i),
            })
            .collect();
        let mut tally = Tally::default();
        for _ in 0..12 {
            tally.add(Outcome::Unsat, Some(true));
        }
        let s = summary(&finished, &tally, 70.0, &[]);
        assert!(s.contains("solved   12 of 12"), "{s}");
        assert!(s.contains("66.000 total, 70.000 wall, 5.500 median"), "{s}");
        assert!(
            s.contains("n11 p") && s.contains("n2 p") && !s.contains("n1 p"),
            "{s}"
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in "[a-z0-9.,\"\n -]{0,80}") {
            let _ = parse(&text);
        }
    }
}
