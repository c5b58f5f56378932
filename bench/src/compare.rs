//! A run against the baseline: one row per figure, each with a verdict.
//!
//! A wrong verdict, a failed suite or fewer solved instances than the
//! baseline fails the run. A time more than [`SLOWER`] times the baseline's
//! is a regression; times are compared as ratios after correcting for how
//! fast the machine was during each run (the calibration workload timed
//! before every suite), so that a slow day on a shared machine does not
//! read as a slower engine.

use std::fmt::Write as _;

use crate::model::{BenchResult, Kind, Status, Suite};

/// A time (or size) more than this many times the baseline's is a regression.
pub const SLOWER: f64 = 1.5;

/// What a row says.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// As good as the baseline.
    Ok,
    /// Better than the baseline (more solved, faster by the same factor).
    Better,
    /// Fails the run: a wrong verdict, fewer solved, a failed suite.
    Worse(String),
    /// A time or size regression (the corrected ratio).
    Slower(f64),
    /// Not in the baseline.
    New,
    /// Not comparable (another configuration, a skipped suite); why.
    NotCompared(String),
}

impl Verdict {
    /// A failure or a regression: the run exits 1.
    pub fn is_bad(&self) -> bool {
        matches!(self, Verdict::Worse(_) | Verdict::Slower(_))
    }

    fn text(&self) -> String {
        match self {
            Verdict::Ok => "ok".into(),
            Verdict::Better => "better".into(),
            Verdict::Worse(why) => format!("FAIL: {why}"),
            Verdict::Slower(r) => format!("REGRESSION: {r:.2}x the baseline"),
            Verdict::New => "new".into(),
            Verdict::NotCompared(why) => format!("not compared: {why}"),
        }
    }
}

/// One figure (or a suite's status) against the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub suite: String,
    /// The figure's name, or `status` for the suite itself.
    pub figure: String,
    pub kind: Option<Kind>,
    pub baseline: Option<f64>,
    pub now: Option<f64>,
    /// `now / baseline`, corrected for the machine's speed for times.
    pub ratio: Option<f64>,
    pub verdict: Verdict,
    /// For status rows: the status words (baseline, now) and the reason.
    pub note: String,
}

/// Every row of a comparison.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub rows: Vec<Row>,
}

impl Report {
    /// Whether some row fails the run or is a regression.
    pub fn is_bad(&self) -> bool {
        self.rows.iter().any(|r| r.verdict.is_bad())
    }

    /// The suites with a bad row.
    pub fn bad_suites(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in self.rows.iter().filter(|r| r.verdict.is_bad()) {
            if !names.contains(&r.suite) {
                names.push(r.suite.clone());
            }
        }
        names
    }

    /// Whether a bad row of `suite` could be noise that one more run may
    /// clear: a time, a size or fewer solved (an instance near its time
    /// limit). A wrong verdict, a failed suite or a model no longer
    /// supported is never noise.
    pub fn worth_repeating(&self, suite: &str) -> bool {
        self.rows.iter().any(|r| {
            r.suite == suite
                && r.verdict.is_bad()
                && matches!(r.kind, Some(Kind::Solved | Kind::Seconds | Kind::Bytes))
        })
    }

    /// The table people read: one line per row.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<30} {:<26} {:>12} {:>12} {:>7}  verdict",
            "suite", "figure", "baseline", "now", "ratio"
        );
        for r in &self.rows {
            let value = |v: Option<f64>| v.map_or("-".to_string(), |v| format_value(r.kind, v));
            let ratio = r.ratio.map_or(String::new(), |x| format!("{x:.2}"));
            let mut verdict = r.verdict.text();
            if !r.note.is_empty() {
                verdict = format!("{verdict} ({})", r.note);
            }
            let _ = writeln!(
                out,
                "{:<30} {:<26} {:>12} {:>12} {:>7}  {verdict}",
                r.suite,
                r.figure,
                value(r.baseline),
                value(r.now),
                ratio
            );
        }
        out
    }
}

/// A figure's value as people read it: counts as integers, times in s, ms
/// or µs, sizes in bytes, kB or MB.
pub fn format_value(kind: Option<Kind>, v: f64) -> String {
    match kind {
        Some(Kind::Seconds) if v != 0.0 && v.abs() < 1e-3 => format!("{:.1} µs", v * 1e6),
        Some(Kind::Seconds) if v != 0.0 && v.abs() < 1.0 => format!("{:.1} ms", v * 1e3),
        Some(Kind::Seconds) => format!("{v:.2} s"),
        Some(Kind::Bytes) if v >= 1e6 => format!("{:.2} MB", v / 1e6),
        Some(Kind::Bytes) if v >= 1e3 => format!("{:.1} kB", v / 1e3),
        _ if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        _ => format!("{v:.3}"),
    }
}

/// Compares `now` with `baseline` (`None`: no baseline, every row new).
pub fn compare(baseline: Option<&BenchResult>, now: &BenchResult) -> Report {
    let mut report = Report::default();
    for suite in &now.suites {
        let base = baseline.and_then(|b| b.suite(&suite.name));
        compare_suite(base, suite, &mut report.rows);
    }
    report
}

fn status_row(suite: &Suite, base: Option<&Suite>, verdict: Verdict) -> Row {
    let words = match base {
        Some(b) => format!("{} -> {}", b.status.word(), suite.status.word()),
        None => suite.status.word().to_string(),
    };
    let note = match &suite.reason {
        Some(reason) => format!("{words}: {reason}"),
        None => words,
    };
    Row {
        suite: suite.name.clone(),
        figure: "status".into(),
        kind: None,
        baseline: None,
        now: None,
        ratio: None,
        verdict,
        note,
    }
}

fn compare_suite(base: Option<&Suite>, suite: &Suite, rows: &mut Vec<Row>) {
    match suite.status {
        Status::Failed => {
            rows.push(status_row(
                suite,
                base,
                Verdict::Worse("the suite failed".into()),
            ));
            return;
        }
        Status::Skipped => {
            rows.push(status_row(
                suite,
                base,
                Verdict::NotCompared("skipped".into()),
            ));
            return;
        }
        Status::Unsupported => {
            let verdict = match base.map(|b| b.status) {
                Some(Status::Ran) => Verdict::Worse("was supported, now unsupported".into()),
                None => Verdict::New,
                _ => Verdict::Ok,
            };
            rows.push(status_row(suite, base, verdict));
            return;
        }
        Status::Ran => {}
    }
    let base = match base {
        Some(b) if b.status == Status::Ran && b.config == suite.config => Some(b),
        Some(b) if b.status == Status::Ran => {
            rows.push(status_row(
                suite,
                Some(b),
                Verdict::NotCompared(format!(
                    "run as '{}', the baseline as '{}'",
                    suite.config, b.config
                )),
            ));
            None
        }
        Some(b) => {
            // Unsupported or skipped then, running now.
            rows.push(status_row(suite, Some(b), Verdict::Better));
            None
        }
        None => None,
    };
    // Machine speed now relative to the baseline's (1 = the same).
    let speed = base.and_then(|b| {
        (b.calibration_seconds > 0.0 && suite.calibration_seconds > 0.0)
            .then(|| suite.calibration_seconds / b.calibration_seconds)
    });
    for f in &suite.figures {
        let old = base.and_then(|b| b.figure(&f.name)).map(|g| g.value);
        let (ratio, verdict) = judge(f.kind, old, f.value, speed.unwrap_or(1.0));
        let verdict = match (&verdict, base) {
            // Without a comparable baseline only the absolute rules apply.
            (Verdict::Worse(_), _) => verdict,
            (_, None) => Verdict::New,
            _ => verdict,
        };
        rows.push(Row {
            suite: suite.name.clone(),
            figure: f.name.clone(),
            kind: Some(f.kind),
            baseline: old,
            now: Some(f.value),
            ratio,
            verdict,
            note: String::new(),
        });
    }
}

/// One figure: the ratio shown and the verdict. `speed` is how much slower
/// the machine ran now than for the baseline (calibration seconds now over
/// then).
fn judge(kind: Kind, old: Option<f64>, now: f64, speed: f64) -> (Option<f64>, Verdict) {
    if kind == Kind::Zero && now != 0.0 {
        return (None, Verdict::Worse(format!("{now} where 0 is required")));
    }
    let Some(old) = old else {
        return (None, Verdict::New);
    };
    match kind {
        Kind::Zero | Kind::Info => (None, Verdict::Ok),
        Kind::Solved if now < old => (
            None,
            Verdict::Worse(format!("{} fewer than the baseline", old - now)),
        ),
        Kind::Solved if now > old => (None, Verdict::Better),
        Kind::Solved => (None, Verdict::Ok),
        Kind::Seconds | Kind::Bytes => {
            if old <= 0.0 {
                return (None, Verdict::Ok);
            }
            let correction = if kind == Kind::Seconds { speed } else { 1.0 };
            let ratio = now / old / correction;
            let verdict = if ratio > SLOWER {
                Verdict::Slower(ratio)
            } else if ratio < 1.0 / SLOWER {
                Verdict::Better
            } else {
                Verdict::Ok
            };
            (Some(ratio), verdict)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Machine, FORMAT};

    fn suite(name: &str, cal: f64, figures: &[(&str, Kind, f64)]) -> Suite {
        let mut s = Suite::ran(name, "cfg".into());
        s.calibration_seconds = cal;
        for (n, k, v) in figures {
            s.push(n, *k, *v);
        }
        s
    }

    fn result(suites: Vec<Suite>) -> BenchResult {
        BenchResult {
            format: FORMAT.into(),
            machine: Machine {
                hostname: "h".into(),
                cpus: 2,
                cpu_model: "c".into(),
                memory_gib: 1.0,
                os: "o".into(),
            },
            commit: "c".into(),
            dirty: false,
            date: "d".into(),
            suites,
        }
    }

    fn acas(solved: f64, wrong: f64, secs: f64, cal: f64) -> Suite {
        suite(
            "acasxu",
            cal,
            &[
                ("solved", Kind::Solved, solved),
                ("wrong", Kind::Zero, wrong),
                ("total_seconds", Kind::Seconds, secs),
            ],
        )
    }

    fn verdict(report: &Report, figure: &str) -> Verdict {
        report
            .rows
            .iter()
            .find(|r| r.figure == figure)
            .unwrap()
            .verdict
            .clone()
    }

    #[test]
    fn the_same_figures_pass() {
        let base = result(vec![acas(186.0, 0.0, 100.0, 1.0)]);
        let r = compare(Some(&base), &base);
        assert!(!r.is_bad(), "{}", r.render());
        assert!(r.rows.iter().all(|r| r.verdict == Verdict::Ok));
    }

    #[test]
    fn fewer_solved_fails_and_more_is_better() {
        let base = result(vec![acas(186.0, 0.0, 100.0, 1.0)]);
        let r = compare(Some(&base), &result(vec![acas(185.0, 0.0, 100.0, 1.0)]));
        assert!(r.is_bad());
        assert_eq!(
            verdict(&r, "solved"),
            Verdict::Worse("1 fewer than the baseline".into())
        );
        assert_eq!(r.bad_suites(), vec!["acasxu".to_string()]);
        assert!(r.worth_repeating("acasxu"));
        let r = compare(Some(&base), &result(vec![acas(187.0, 0.0, 100.0, 1.0)]));
        assert!(!r.is_bad());
        assert_eq!(verdict(&r, "solved"), Verdict::Better);
    }

    #[test]
    fn a_wrong_verdict_fails_even_without_a_baseline_and_is_never_repeated() {
        let now = result(vec![acas(186.0, 1.0, 100.0, 1.0)]);
        for base in [None, Some(&now)] {
            let r = compare(base, &now);
            assert!(r.is_bad());
            assert!(matches!(verdict(&r, "wrong"), Verdict::Worse(_)));
            assert!(!r.worth_repeating("acasxu"));
        }
    }

    #[test]
    fn times_are_compared_as_ratios_corrected_for_machine_speed() {
        let base = result(vec![acas(186.0, 0.0, 100.0, 1.0)]);
        // 1.6x slower on an equally fast machine: a regression.
        let r = compare(Some(&base), &result(vec![acas(186.0, 0.0, 160.0, 1.0)]));
        assert!(r.is_bad());
        assert!(
            matches!(verdict(&r, "total_seconds"), Verdict::Slower(x) if (x - 1.6).abs() < 1e-9)
        );
        // The same 160 s on a machine that ran the calibration 2x slower:
        // 0.8x, fine.
        let r = compare(Some(&base), &result(vec![acas(186.0, 0.0, 160.0, 2.0)]));
        assert!(!r.is_bad(), "{}", r.render());
        // 1.4x: within the noise allowance.
        let r = compare(Some(&base), &result(vec![acas(186.0, 0.0, 140.0, 1.0)]));
        assert_eq!(verdict(&r, "total_seconds"), Verdict::Ok);
        // Much faster: better.
        let r = compare(Some(&base), &result(vec![acas(186.0, 0.0, 50.0, 1.0)]));
        assert_eq!(verdict(&r, "total_seconds"), Verdict::Better);
    }

    #[test]
    fn sizes_are_not_corrected_for_speed() {
        let base = result(vec![suite("c", 1.0, &[("bytes", Kind::Bytes, 100.0)])]);
        let now = result(vec![suite("c", 4.0, &[("bytes", Kind::Bytes, 200.0)])]);
        assert!(
            matches!(verdict(&compare(Some(&base), &now), "bytes"), Verdict::Slower(x) if x == 2.0)
        );
    }

    #[test]
    fn statuses_unsupported_skipped_failed_and_other_configurations() {
        let unsupported = |reason: &str| {
            Suite::without_figures(
                "vnncomp2022/x",
                Status::Unsupported,
                reason.into(),
                "cfg".into(),
            )
        };
        let base = result(vec![unsupported("unknown model format")]);
        // Still unsupported: reported, not failed.
        let r = compare(Some(&base), &base);
        assert!(!r.is_bad());
        assert!(r.rows[0].note.contains("unknown model format"));
        // Supported now: better, its figures new.
        let ran = result(vec![suite(
            "vnncomp2022/x",
            1.0,
            &[("solved", Kind::Solved, 3.0)],
        )]);
        let r = compare(Some(&base), &ran);
        assert!(!r.is_bad());
        assert_eq!(r.rows[0].verdict, Verdict::Better);
        assert_eq!(verdict(&r, "solved"), Verdict::New);
        // Supported before, refused now: a failure, and not noise.
        let r = compare(Some(&ran), &base);
        assert!(r.is_bad());
        assert!(!r.worth_repeating("vnncomp2022/x"));
        // A failed suite fails; a skipped one is not compared.
        let mut failed = unsupported("the test panicked");
        failed.status = Status::Failed;
        assert!(compare(Some(&ran), &result(vec![failed])).is_bad());
        let mut skipped = unsupported("no benchmarks");
        skipped.status = Status::Skipped;
        let r = compare(Some(&ran), &result(vec![skipped]));
        assert!(!r.is_bad());
        assert!(matches!(r.rows[0].verdict, Verdict::NotCompared(_)));
        // Another configuration: figures shown as new, but a wrong verdict
        // still fails.
        let mut other = acas(100.0, 1.0, 1.0, 1.0);
        other.config = "other".into();
        let r = compare(
            Some(&result(vec![acas(186.0, 0.0, 100.0, 1.0)])),
            &result(vec![other]),
        );
        assert!(matches!(r.rows[0].verdict, Verdict::NotCompared(_)));
        assert_eq!(verdict(&r, "solved"), Verdict::New);
        assert!(r.is_bad());
    }

    #[test]
    fn values_read_well() {
        assert_eq!(format_value(Some(Kind::Seconds), 26.6e-6), "26.6 µs");
        assert_eq!(format_value(Some(Kind::Seconds), 0.067), "67.0 ms");
        assert_eq!(format_value(Some(Kind::Seconds), 165.21), "165.21 s");
        assert_eq!(format_value(Some(Kind::Bytes), 12.0e6), "12.00 MB");
        assert_eq!(format_value(Some(Kind::Solved), 186.0), "186");
        assert_eq!(format_value(Some(Kind::Info), 10.88), "10.880");
    }
}
