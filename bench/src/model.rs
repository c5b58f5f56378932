//! What one benchmark run records: the machine, the commit, and per suite its
//! status and figures. The same type is the committed baseline.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `format` field of every result file.
pub const FORMAT: &str = "axiom-bench v1";

/// One run of the benchmark suite (or the baseline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    /// [`FORMAT`].
    pub format: String,
    pub machine: Machine,
    /// `git rev-parse HEAD` of the tree that was measured.
    pub commit: String,
    /// The tree had uncommitted changes.
    pub dirty: bool,
    /// UTC, RFC 3339.
    pub date: String,
    pub suites: Vec<Suite>,
}

impl BenchResult {
    /// The suite called `name`, if this run has it.
    pub fn suite(&self, name: &str) -> Option<&Suite> {
        self.suites.iter().find(|s| s.name == name)
    }
}

/// Where a run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    /// Threads the process may use.
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub os: String,
}

/// How a suite ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It ran; its figures are valid.
    Ran,
    /// The engine cannot run it yet (every instance was refused); `reason`
    /// says why. Not a failure, but reported.
    Unsupported,
    /// Its inputs are absent (no shared benchmarks); `reason` says which.
    Skipped,
    /// It could not run or a check inside it failed (a failing test, a
    /// crashed command): always a failure.
    Failed,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ran => "ran",
            Status::Unsupported => "unsupported",
            Status::Skipped => "skipped",
            Status::Failed => "FAILED",
        }
    }
}

/// How a figure is compared with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A count where more is better (instances solved): fewer than the
    /// baseline fails.
    Solved,
    /// A count that must be zero (wrong verdicts, rejected certificates,
    /// failed tests): anything else fails, whatever the baseline says.
    Zero,
    /// Seconds, lower is better: more than [`crate::compare::SLOWER`] times
    /// the baseline, after correcting for the machine's speed, is a
    /// regression.
    Seconds,
    /// Bytes, lower is better: more than [`crate::compare::SLOWER`] times the
    /// baseline is a regression (no speed correction).
    Bytes,
    /// Shown, never compared.
    Info,
}

/// One number of a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub kind: Kind,
    pub value: f64,
}

/// One suite of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    /// `acasxu`, `vnncomp2022/mnist_fc`, `certificates`, `forward`,
    /// `differential`, `bench-tests`.
    pub name: String,
    pub status: Status,
    /// Why it is unsupported, skipped or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What was run (instances, caps, sizes): figures are compared only
    /// between runs of the same configuration.
    pub config: String,
    /// The commit and date of the run this suite comes from (a baseline
    /// updated with `--only` mixes runs).
    pub commit: String,
    pub date: String,
    /// Seconds of the fixed calibration workload just before the suite ran
    /// ([`crate::machine::calibrate`]): how fast the machine was then.
    pub calibration_seconds: f64,
    /// Wall-clock seconds of the whole suite, builds included.
    pub wall_seconds: f64,
    /// 2 when the suite was run again because a figure looked worse; its
    /// figures are then the better of the two runs.
    pub runs: u32,
    pub figures: Vec<Figure>,
    /// Per-instance rows (instance, result, seconds, ...), for diagnosis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<BTreeMap<String, String>>,
}

impl Suite {
    /// A suite that ran, its figures to be pushed.
    pub fn ran(name: &str, config: String) -> Suite {
        Suite {
            reason: None,
            ..Suite::without_figures(name, Status::Ran, String::new(), config)
        }
    }

    /// A suite that did not produce figures, and why.
    pub fn without_figures(name: &str, status: Status, reason: String, config: String) -> Suite {
        Suite {
            name: name.to_string(),
            status,
            reason: Some(reason),
            config,
            commit: String::new(),
            date: String::new(),
            calibration_seconds: 0.0,
            wall_seconds: 0.0,
            runs: 1,
            figures: Vec::new(),
            details: Vec::new(),
        }
    }

    /// The figure called `name`.
    pub fn figure(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.name == name)
    }

    /// Adds a figure.
    pub fn push(&mut self, name: &str, kind: Kind, value: f64) {
        self.figures.push(Figure {
            name: name.to_string(),
            kind,
            value,
        });
    }

    /// The better of two runs of the same suite (`self` first): a count
    /// where more is better takes the larger value, a must-be-zero count
    /// the larger (a wrong answer in either run stands), times and sizes
    /// the smaller, each time converted to this run's machine speed first.
    /// A failed run is replaced by a run that did not fail.
    pub fn better_of(self, again: Suite) -> Suite {
        if self.status == Status::Failed && again.status != Status::Failed {
            return Suite { runs: 2, ..again };
        }
        if again.status != Status::Ran || self.status != Status::Ran {
            return Suite { runs: 2, ..self };
        }
        // Seconds of `again`, in the speed of the machine during `self`.
        let speed = if again.calibration_seconds > 0.0 && self.calibration_seconds > 0.0 {
            self.calibration_seconds / again.calibration_seconds
        } else {
            1.0
        };
        let mut merged = self;
        merged.runs = 2;
        for f in &mut merged.figures {
            let Some(g) = again.figure(&f.name) else {
                continue;
            };
            f.value = match f.kind {
                Kind::Solved | Kind::Zero => f.value.max(g.value),
                Kind::Seconds => f.value.min(g.value * speed),
                Kind::Bytes => f.value.min(g.value),
                Kind::Info => f.value,
            };
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(cal: f64, figures: &[(&str, Kind, f64)]) -> Suite {
        let mut s = Suite::ran("s", "c".into());
        s.calibration_seconds = cal;
        for (n, k, v) in figures {
            s.push(n, *k, *v);
        }
        s
    }

    #[test]
    fn the_better_of_two_runs_takes_each_figure_in_its_direction() {
        let first = suite(
            1.0,
            &[
                ("solved", Kind::Solved, 10.0),
                ("wrong", Kind::Zero, 0.0),
                ("t", Kind::Seconds, 8.0),
                ("bytes", Kind::Bytes, 100.0),
            ],
        );
        // The second run on a machine twice as slow: its 10 s are 5 s in
        // the first run's terms.
        let again = suite(
            2.0,
            &[
                ("solved", Kind::Solved, 12.0),
                ("wrong", Kind::Zero, 1.0),
                ("t", Kind::Seconds, 10.0),
                ("bytes", Kind::Bytes, 120.0),
            ],
        );
        let m = first.better_of(again);
        assert_eq!(m.runs, 2);
        assert_eq!(m.calibration_seconds, 1.0);
        let v = |n: &str| m.figure(n).unwrap().value;
        assert_eq!(v("solved"), 12.0);
        assert_eq!(v("wrong"), 1.0);
        assert_eq!(v("t"), 5.0);
        assert_eq!(v("bytes"), 100.0);
    }

    #[test]
    fn a_failed_run_gives_way_to_one_that_ran() {
        let mut failed = suite(1.0, &[]);
        failed.status = Status::Failed;
        let ran = suite(1.0, &[("solved", Kind::Solved, 3.0)]);
        let m = failed.better_of(ran.clone());
        assert_eq!(m.status, Status::Ran);
        assert_eq!(m.figures, ran.figures);
        // A run that failed the second time does not replace a good one.
        let mut failed = suite(1.0, &[]);
        failed.status = Status::Failed;
        assert_eq!(ran.clone().better_of(failed).figures, ran.figures);
    }

    #[test]
    fn results_round_trip_through_json() {
        let r = BenchResult {
            format: FORMAT.into(),
            machine: Machine {
                hostname: "h".into(),
                cpus: 2,
                cpu_model: "cpu".into(),
                memory_gib: 24.0,
                os: "Debian".into(),
            },
            commit: "abc".into(),
            dirty: false,
            date: "2026-12-03T12:00:00Z".into(),
            suites: vec![suite(0.5, &[("t", Kind::Seconds, 1.25)])],
        };
        let text = serde_json::to_string_pretty(&r).unwrap();
        assert!(text.contains("\"kind\": \"seconds\""), "{text}");
        let back: BenchResult = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}
