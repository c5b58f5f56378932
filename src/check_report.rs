//! The reports of `axiom check`, the CI gate that proves every obligation of
//! every `.axiom` specification.
//!
//! The command collects one [`ObligationResult`] per `prove` it attempted and
//! one [`FileError`] per specification that did not load into a
//! [`CheckSummary`]; this module turns the summary into its exit code
//! ([`CheckSummary::exit_code`]) and into one of four reports
//! ([`CheckSummary::render`]):
//!
//! - [`Format::Human`]: an aligned table for a terminal, then a summary line;
//! - [`Format::Json`]: the summary itself, for scripts (it deserialises back
//!   into a [`CheckSummary`]);
//! - [`Format::Junit`]: JUnit XML for CI test dashboards;
//! - [`Format::Sarif`]: SARIF 2.1.0 for code-scanning tools, which annotate
//!   the `prove` line of each obligation that is not proved.
//!
//! Nothing here runs a prover or reads a file: the reports are pure functions
//! of the summary, and every rendering ends with a newline.
//!
//! ```
//! use axiom_ml::check_report::{CheckSummary, Format, ObligationResult, Status};
//!
//! let summary = CheckSummary {
//!     results: vec![ObligationResult {
//!         file: "specs/xor.axiom".into(),
//!         line: 4,
//!         col: 1,
//!         model: "xor".into(),
//!         obligation: "low".into(),
//!         status: Status::Proved,
//!         detail: "evidence re-checked: 12 leaves".into(),
//!         counterexample: None,
//!         method: "branch-and-bound".into(),
//!         seconds: 0.25,
//!         cached: false,
//!     }],
//!     errors: vec![],
//!     seconds: 0.3,
//! };
//! assert_eq!(summary.exit_code(false), 0);
//! let text = summary.render(Format::Human, false).unwrap();
//! assert!(text.ends_with("1 obligation: 1 proved, 0 disproved, 0 unknown, 0 errors in 0.30 s\n"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The outcome of one proof obligation.
///
/// Serialised in lowercase: `"proved"`, `"disproved"`, `"unknown"`,
/// `"error"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The property holds (and its evidence was checked).
    Proved,
    /// The property is violated: a counterexample exists.
    Disproved,
    /// Neither proved nor disproved (a timeout, an incomplete method).
    Unknown,
    /// The obligation could not be attempted (a missing model, a bad spec).
    Error,
}

impl Status {
    /// The status as one lowercase word, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Proved => "proved",
            Status::Disproved => "disproved",
            Status::Unknown => "unknown",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one `prove` of a `.axiom` specification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObligationResult {
    /// The `.axiom` file, as given on the command line (or relative to the
    /// directory searched).
    pub file: PathBuf,
    /// The 1-based line of the `prove`.
    pub line: usize,
    /// The 1-based column of the `prove`.
    pub col: usize,
    /// The model the obligation is about.
    pub model: String,
    /// The obligation's name.
    pub obligation: String,
    /// The outcome.
    pub status: Status,
    /// One line that explains the outcome: `evidence re-checked: 12 leaves`,
    /// `counterexample x=[..] y=[..]`, `timeout after 60 s`, an error
    /// message.
    pub detail: String,
    /// After [`Status::Disproved`], the counterexample: the input and the
    /// model's output on it.
    pub counterexample: Option<(Vec<f64>, Vec<f64>)>,
    /// How the outcome was reached (`bounds`, `branch-and-bound`,
    /// `rewriter`, `cache`, ...): free text.
    pub method: String,
    /// Wall-clock seconds spent on this obligation.
    pub seconds: f64,
    /// Whether the outcome came from the proof cache.
    pub cached: bool,
}

/// A specification that failed to load: its obligations are not known, and
/// it counts as one obligation in [`Status::Error`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileError {
    /// The `.axiom` file.
    pub file: PathBuf,
    /// The 1-based line of the problem (0 when it has no position, such as an
    /// unreadable file).
    pub line: usize,
    /// The 1-based column of the problem (0 when it has no position).
    pub col: usize,
    /// What is wrong, for a person to fix.
    pub message: String,
}

/// Everything one `axiom check` run found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckSummary {
    /// One result per obligation attempted, in the order to report them.
    pub results: Vec<ObligationResult>,
    /// The specifications that failed to load.
    pub errors: Vec<FileError>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// How many obligations ended in each [`Status`].
///
/// A [`FileError`] counts as one `error`, so that
/// [`total`](Counts::total) counts every line of the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Obligations proved.
    pub proved: usize,
    /// Obligations disproved.
    pub disproved: usize,
    /// Obligations left unknown.
    pub unknown: usize,
    /// Obligations in error, plus specifications that failed to load.
    pub error: usize,
    /// Results that came from the proof cache (whatever their status).
    pub cached: usize,
}

impl Counts {
    /// `proved + disproved + unknown + error` (cached results are already
    /// among these).
    pub fn total(&self) -> usize {
        self.proved + self.disproved + self.unknown + self.error
    }
}

/// A report format of `axiom check --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// An aligned table and a summary line, for a terminal.
    Human,
    /// The summary as JSON, for scripts.
    Json,
    /// JUnit XML, for CI test dashboards.
    Junit,
    /// SARIF 2.1.0, for code-scanning annotations.
    Sarif,
}

impl Format {
    /// Every format, in the order of the documentation.
    pub const ALL: [Format; 4] = [Format::Human, Format::Json, Format::Junit, Format::Sarif];

    /// The format's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Sarif => "sarif",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ReportError;

    /// Parses a format name, ignoring ASCII case.
    ///
    /// ```
    /// use axiom_ml::check_report::Format;
    ///
    /// assert_eq!("SARIF".parse::<Format>().unwrap(), Format::Sarif);
    /// assert!("xml".parse::<Format>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ReportError::UnknownFormat(s.to_string()))
    }
}

/// Why a report could not be produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReportError {
    /// The JSON or SARIF serialiser refused (a path that is not UTF-8).
    Json(serde_json::Error),
    /// The JUnit XML serialiser refused.
    Junit(quick_junit::SerializeError),
    /// A format name that is none of `human`, `json`, `junit`, `sarif`.
    UnknownFormat(String),
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Json(e) => write!(f, "cannot write the JSON report: {e}"),
            ReportError::Junit(e) => write!(f, "cannot write the JUnit report: {e}"),
            ReportError::UnknownFormat(s) => write!(
                f,
                "unknown report format `{s}` (expected human, json, junit or sarif)"
            ),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Json(e) => Some(e),
            ReportError::Junit(e) => Some(e),
            ReportError::UnknownFormat(_) => None,
        }
    }
}

impl From<serde_json::Error> for ReportError {
    fn from(e: serde_json::Error) -> Self {
        ReportError::Json(e)
    }
}

impl From<quick_junit::SerializeError> for ReportError {
    fn from(e: quick_junit::SerializeError) -> Self {
        ReportError::Junit(e)
    }
}

impl CheckSummary {
    /// The exit code of `axiom check`, following the CLI contract: 2 if any
    /// obligation is in error or any specification failed to load; else 1 if
    /// any obligation is disproved; else 3 if any is unknown, unless
    /// `allow_unknown`; else 0 (an empty summary included).
    pub fn exit_code(&self, allow_unknown: bool) -> i32 {
        let counts = self.counts();
        if counts.error > 0 {
            2
        } else if counts.disproved > 0 {
            1
        } else if counts.unknown > 0 && !allow_unknown {
            3
        } else {
            0
        }
    }

    /// How many obligations ended in each status (see [`Counts`]).
    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            error: self.errors.len(),
            ..Counts::default()
        };
        for r in &self.results {
            match r.status {
                Status::Proved => counts.proved += 1,
                Status::Disproved => counts.disproved += 1,
                Status::Unknown => counts.unknown += 1,
                Status::Error => counts.error += 1,
            }
            counts.cached += usize::from(r.cached);
        }
        counts
    }

    /// Renders the report in `format`; `color` adds ANSI colours to the
    /// statuses of [`Format::Human`] and is ignored by the others.
    ///
    /// - **human**: a table with the columns status, model, obligation,
    ///   `file:line`, time (with `(cached)` after a cached result) and
    ///   detail, then `N obligations: P proved, D disproved, U unknown, E
    ///   errors (C from cache) in T s` (the cache part only when C > 0).
    /// - **json**: the summary, pretty-printed, with a `"version": 1` field
    ///   and a `"counts"` field ([`Counts`]) first; the other fields are
    ///   those of [`CheckSummary`]. A non-finite number in a counterexample
    ///   is written as `null` (which does not read back).
    /// - **junit**: one test suite per `.axiom` file, named by the file, in
    ///   the order the files first appear; one test case per obligation,
    ///   named `model::obligation`, with the file as its class name, its
    ///   time, and the properties `method`, `cached` and `location`
    ///   (`file:line:col`). A proved obligation passes (its detail as
    ///   system-out); a disproved one is a `failure` (the detail as its
    ///   message, the counterexample in its text); one in error is an
    ///   `error`; an unknown one is `skipped`, with the detail as the reason.
    ///   JUnit has no "unknown": `skipped` keeps a dashboard from counting it
    ///   as a failure, and whether an unknown fails the gate is the exit
    ///   code's business (`--allow-unknown`), not the report's. A
    ///   specification that failed to load is one test case named `load`
    ///   in `error`.
    /// - **sarif**: SARIF 2.1.0 with one run of the tool `axiom` and the
    ///   rules `disproved`, `unknown` and `error`; one result per obligation
    ///   that is not proved (level `error` for disproved and error, `warning`
    ///   for unknown) and per specification that failed to load, with the
    ///   detail as its message and the `prove`'s file (a URI with forward
    ///   slashes; a relative path stays relative), line and column as its
    ///   location.
    ///
    /// # Errors
    ///
    /// [`ReportError::Json`] when a path is not valid UTF-8 (JSON and SARIF);
    /// [`ReportError::Junit`] when the XML writer fails.
    pub fn render(&self, format: Format, color: bool) -> Result<String, ReportError> {
        match format {
            Format::Human => Ok(self.render_human(color)),
            Format::Json => self.render_json(),
            Format::Junit => self.render_junit(),
            Format::Sarif => self.render_sarif(),
        }
    }

    fn render_human(&self, color: bool) -> String {
        const HEADER: [&str; 6] = [
            "STATUS",
            "MODEL",
            "OBLIGATION",
            "LOCATION",
            "TIME",
            "DETAIL",
        ];
        let mut rows: Vec<(Option<Status>, [String; 6])> = Vec::new();
        for r in &self.results {
            let mut time = human_seconds(r.seconds);
            if r.cached {
                time.push_str(" (cached)");
            }
            rows.push((
                Some(r.status),
                [
                    r.status.as_str().to_string(),
                    one_line(&r.model),
                    one_line(&r.obligation),
                    one_line(&format!("{}:{}", r.file.display(), r.line)),
                    time,
                    one_line(&r.detail),
                ],
            ));
        }
        for e in &self.errors {
            rows.push((
                Some(Status::Error),
                [
                    Status::Error.as_str().to_string(),
                    "-".to_string(),
                    "-".to_string(),
                    one_line(&format!("{}:{}", e.file.display(), e.line)),
                    "-".to_string(),
                    one_line(&e.message),
                ],
            ));
        }

        let mut out = String::new();
        if !rows.is_empty() {
            let header = (None, HEADER.map(String::from));
            let mut widths = [0usize; 5];
            for (_, cells) in std::iter::once(&header).chain(&rows) {
                for (w, cell) in widths.iter_mut().zip(cells) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            for (status, cells) in std::iter::once(&header).chain(&rows) {
                let mut line = String::new();
                for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                    match (i, status) {
                        (0, Some(s)) if color => {
                            line.push_str(&paint(*s, cell));
                        }
                        _ => line.push_str(cell),
                    }
                    line.push_str(&" ".repeat(width - cell.chars().count() + 2));
                }
                line.push_str(&cells[5]);
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }

        let c = self.counts();
        let total = c.total();
        out.push_str(&format!(
            "{total} {}: {} proved, {} disproved, {} unknown, {} {}",
            plural(total, "obligation"),
            c.proved,
            c.disproved,
            c.unknown,
            c.error,
            plural(c.error, "error"),
        ));
        if c.cached > 0 {
            out.push_str(&format!(" ({} from cache)", c.cached));
        }
        out.push_str(&format!(" in {}\n", human_seconds(self.seconds)));
        out
    }

    fn render_json(&self) -> Result<String, ReportError> {
        /// The JSON report: a version and the counts before the summary.
        #[derive(Serialize)]
        struct JsonReport<'a> {
            version: u32,
            counts: Counts,
            #[serde(flatten)]
            summary: &'a CheckSummary,
        }
        let mut text = serde_json::to_string_pretty(&JsonReport {
            version: 1,
            counts: self.counts(),
            summary: self,
        })?;
        text.push('\n');
        Ok(text)
    }

    fn render_junit(&self) -> Result<String, ReportError> {
        use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

        // One suite per file, in the order the files first appear.
        let mut suites: Vec<(TestSuite, f64)> = Vec::new();
        let mut suite_of: BTreeMap<&Path, usize> = BTreeMap::new();
        fn suite_for<'a>(
            file: &'a Path,
            suite_of: &mut BTreeMap<&'a Path, usize>,
            suites: &mut Vec<(TestSuite, f64)>,
        ) -> usize {
            *suite_of.entry(file).or_insert_with(|| {
                suites.push((TestSuite::new(file.to_string_lossy()), 0.0));
                suites.len() - 1
            })
        }

        for r in &self.results {
            let mut status = match r.status {
                Status::Proved => TestCaseStatus::success(),
                Status::Disproved => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let mut text = r.detail.clone();
                    if let Some((input, output)) = &r.counterexample {
                        text = format!(
                            "{text}\ncounterexample:\n  input:  {}\n  output: {}",
                            list(input),
                            list(output)
                        );
                    }
                    s.set_description(text.trim_start());
                    s
                }
                Status::Unknown => TestCaseStatus::skipped(),
                Status::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
            };
            status
                .set_message(r.detail.as_str())
                .set_type(r.status.as_str());

            let file = r.file.to_string_lossy();
            let mut case = TestCase::new(format!("{}::{}", r.model, r.obligation), status);
            case.set_classname(&file)
                .set_time(duration(r.seconds))
                .add_property(Property::new("method", r.method.as_str()))
                .add_property(Property::new("cached", r.cached.to_string()))
                .add_property(Property::new(
                    "location",
                    format!("{file}:{}:{}", r.line, r.col),
                ));
            if r.status == Status::Proved && !r.detail.is_empty() {
                case.set_system_out(r.detail.as_str());
            }

            let i = suite_for(&r.file, &mut suite_of, &mut suites);
            suites[i].0.add_test_case(case);
            suites[i].1 += r.seconds.max(0.0);
        }

        for e in &self.errors {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(e.message.as_str())
                .set_type("load")
                .set_description(format!(
                    "{}:{}:{}: {}",
                    e.file.display(),
                    e.line,
                    e.col,
                    e.message
                ));
            let mut case = TestCase::new("load", status);
            case.set_classname(e.file.to_string_lossy());
            let i = suite_for(&e.file, &mut suite_of, &mut suites);
            suites[i].0.add_test_case(case);
        }

        let mut report = Report::new("axiom check");
        report.set_time(duration(self.seconds));
        report.add_test_suites(suites.into_iter().map(|(mut suite, seconds)| {
            suite.set_time(duration(seconds));
            suite
        }));
        Ok(report.to_string()?)
    }

    fn render_sarif(&self) -> Result<String, ReportError> {
        use serde_sarif::sarif::{
            ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation,
            PropertyBag, Region, ReportingConfiguration, ReportingDescriptor, ResultLevel, Run,
            Sarif, Tool, ToolComponent, Version,
        };

        // (id, level, short description, full description)
        const RULES: [(&str, &str, &str, &str); 3] = [
            (
                "disproved",
                "error",
                "The property is violated: a counterexample exists.",
                "The prover found an input in the property's input region on which the \
model's output violates the property; the message names it.",
            ),
            (
                "unknown",
                "warning",
                "The property could be neither proved nor disproved.",
                "The prover gave up (a timeout or an incomplete method) without a proof or a \
counterexample; a longer timeout or another method may decide it.",
            ),
            (
                "error",
                "error",
                "The obligation could not be checked.",
                "The specification did not load or the obligation could not be attempted \
(a missing model, a shape mismatch); the message says what to fix.",
            ),
        ];
        let rule_index = |id: &str| RULES.iter().position(|r| r.0 == id).unwrap_or(0);

        let rules: Vec<ReportingDescriptor> = RULES
            .iter()
            .map(|(id, level, short, full)| {
                ReportingDescriptor::builder()
                    .id(*id)
                    .name(*id)
                    .short_description(MultiformatMessageString::builder().text(*short).build())
                    .full_description(MultiformatMessageString::builder().text(*full).build())
                    .default_configuration(
                        ReportingConfiguration::builder()
                            .level(serde_json::Value::from(*level))
                            .build(),
                    )
                    .build()
            })
            .collect();
        let driver = ToolComponent::builder()
            .name("axiom")
            .version(env!("CARGO_PKG_VERSION"))
            .information_uri(env!("CARGO_PKG_HOMEPAGE"))
            .rules(rules)
            .build();

        let location = |file: &Path, line: usize, col: usize| {
            let mut physical = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(artifact_uri(file)).build())
                .build();
            if line >= 1 {
                let mut region = Region::builder().start_line(to_i64(line)).build();
                if col >= 1 {
                    region.start_column = Some(to_i64(col));
                }
                physical.region = Some(region);
            }
            Location::builder().physical_location(physical).build()
        };

        let mut results = Vec::new();
        for r in &self.results {
            let (rule, level) = match r.status {
                Status::Proved => continue,
                Status::Disproved => ("disproved", ResultLevel::Error),
                Status::Unknown => ("unknown", ResultLevel::Warning),
                Status::Error => ("error", ResultLevel::Error),
            };
            let text = if r.detail.is_empty() {
                format!("{}::{} {}", r.model, r.obligation, r.status)
            } else {
                r.detail.clone()
            };
            let mut properties = BTreeMap::new();
            properties.insert("model".to_string(), r.model.clone().into());
            properties.insert("obligation".to_string(), r.obligation.clone().into());
            properties.insert("method".to_string(), r.method.clone().into());
            properties.insert("cached".to_string(), r.cached.into());
            if let Some((input, output)) = &r.counterexample {
                properties.insert(
                    "counterexample".to_string(),
                    serde_json::json!({ "input": input, "output": output }),
                );
            }
            results.push(
                serde_sarif::sarif::Result::builder()
                    .rule_id(rule)
                    .rule_index(to_i64(rule_index(rule)))
                    .level(level)
                    .message(Message::builder().text(text).build())
                    .locations(vec![location(&r.file, r.line, r.col)])
                    .properties(
                        PropertyBag::builder()
                            .additional_properties(properties)
                            .build(),
                    )
                    .build(),
            );
        }
        for e in &self.errors {
            results.push(
                serde_sarif::sarif::Result::builder()
                    .rule_id("error")
                    .rule_index(to_i64(rule_index("error")))
                    .level(ResultLevel::Error)
                    .message(Message::builder().text(e.message.clone()).build())
                    .locations(vec![location(&e.file, e.line, e.col)])
                    .build(),
            );
        }

        let run = Run::builder()
            .tool(Tool::from(driver))
            .results(results)
            .build();
        let log = Sarif::builder()
            .schema(SARIF_SCHEMA)
            .version(serde_json::to_value(Version::V2_1_0)?)
            .runs(vec![run])
            .build();
        let mut text = serde_json::to_string_pretty(&log)?;
        text.push('\n');
        Ok(text)
    }
}

/// The `$schema` of the SARIF report.
const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// `word` or `words`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// Seconds for a person: two decimals below one second, one below 100, none
/// above.
fn human_seconds(s: f64) -> String {
    if s.abs() < 0.995 {
        format!("{s:.2} s")
    } else if s.abs() < 99.95 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

/// `text` with every control character (newlines, escapes) replaced by a
/// space, so that one cell stays on one line and cannot colour the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The status word in its ANSI colour: green proved, red disproved and
/// error, yellow unknown.
fn paint(status: Status, word: &str) -> String {
    let code = match status {
        Status::Proved => "32",
        Status::Disproved | Status::Error => "31",
        Status::Unknown => "33",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

/// `[a, b, c]` with the shortest decimal that reads back as each number.
fn list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// A duration from seconds; zero for a negative or non-finite number.
fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or_default()
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A SARIF artifact URI for a path: forward slashes, percent-encoded; a
/// relative path stays a relative reference (without a leading `./`), an
/// absolute one becomes a `file://` URI.
fn artifact_uri(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && (bytes.len() == 2 || bytes[2] == b'/');
    let (prefix, rest, keep_colon) = if text.starts_with('/') {
        ("file://", text.as_str(), true)
    } else if drive {
        ("file:///", text.as_str(), true)
    } else {
        let mut rest = text.as_str();
        while let Some(r) = rest.strip_prefix("./") {
            rest = r;
        }
        // A colon in a relative reference could read as a scheme.
        ("", rest, false)
    };
    let mut uri = String::from(prefix);
    for &b in rest.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&b)
            || (keep_colon && b == b':');
        if keep {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_use_forward_slashes_and_percent_encoding() {
        assert_eq!(
            artifact_uri(Path::new("specs/acas.axiom")),
            "specs/acas.axiom"
        );
        assert_eq!(
            artifact_uri(Path::new("./specs/acas.axiom")),
            "specs/acas.axiom"
        );
        assert_eq!(
            artifact_uri(Path::new("specs\\win dows.axiom")),
            "specs/win%20dows.axiom"
        );
        assert_eq!(
            artifact_uri(Path::new("/abs/a#b.axiom")),
            "file:///abs/a%23b.axiom"
        );
        assert_eq!(
            artifact_uri(Path::new("C:\\specs\\a.axiom")),
            "file:///C:/specs/a.axiom"
        );
        assert_eq!(artifact_uri(Path::new("a:b.axiom")), "a%3Ab.axiom");
        assert_eq!(artifact_uri(Path::new("é.axiom")), "%C3%A9.axiom");
    }

    #[test]
    fn seconds_are_rounded_for_people() {
        assert_eq!(human_seconds(0.0), "0.00 s");
        assert_eq!(human_seconds(0.123), "0.12 s");
        assert_eq!(human_seconds(0.999), "1.0 s");
        assert_eq!(human_seconds(3.21), "3.2 s");
        assert_eq!(human_seconds(99.96), "100 s");
        assert_eq!(human_seconds(1234.5), "1234 s");
    }

    #[test]
    fn durations_never_panic() {
        assert_eq!(duration(-1.0), Duration::ZERO);
        assert_eq!(duration(f64::NAN), Duration::ZERO);
        assert_eq!(duration(f64::INFINITY), Duration::ZERO);
        assert_eq!(duration(1.5), Duration::from_millis(1500));
    }

    #[test]
    fn cells_stay_on_one_line() {
        assert_eq!(one_line("a\nb\x1b[31mc"), "a b [31mc");
    }

    #[test]
    fn formats_parse_and_print_their_names() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>().unwrap(), f);
            let from_clap = <Format as clap::ValueEnum>::from_str(f.as_str(), false).unwrap();
            assert_eq!(from_clap, f);
        }
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(err.to_string().contains("`xml`"), "{err}");
    }

    #[test]
    fn statuses_serialise_in_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Disproved).unwrap(),
            "\"disproved\""
        );
        assert_eq!(
            serde_json::from_str::<Status>("\"unknown\"").unwrap(),
            Status::Unknown
        );
    }

    #[test]
    fn an_empty_summary_passes() {
        let summary = CheckSummary {
            results: vec![],
            errors: vec![],
            seconds: 0.0,
        };
        assert_eq!(summary.exit_code(false), 0);
        assert_eq!(
            summary.render(Format::Human, true).unwrap(),
            "0 obligations: 0 proved, 0 disproved, 0 unknown, 0 errors in 0.00 s\n"
        );
    }
}
