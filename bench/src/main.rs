//! `axiom-bench` (run by `scripts/bench.sh`): Axiom's benchmark suite with
//! regression detection.
//!
//! It runs the long suites — ACAS Xu with the competition's timeouts, each
//! VNN-COMP 2022 category (a sample, with a per-instance cap), certificates
//! solved and re-checked, the CPU forward pass, the full differential
//! soundness test and the ignored `bench_*` tests — with progress on stderr,
//! writes one JSON result (machine, commit, date, every figure) into its run
//! folder under `target/bench/`, and compares it with the committed baseline
//! (`bench/baseline.json`). A wrong verdict, a failed suite or fewer solved
//! instances fail the run; a time more than 1.5x the baseline's, corrected
//! for the machine's speed, is a regression. A suite with a failing figure
//! that may be noise is run once more before it is reported. Exit codes: 0
//! no failure or regression, 1 a failure or regression, 2 bad usage.

mod compare;
mod machine;
mod model;
mod parse;
mod suites;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use crate::compare::{compare, Report};
use crate::model::{BenchResult, Kind, Status, Suite, FORMAT};
use crate::suites::{Env, Options};

/// Axiom's benchmark suite: runs the long suites, writes one JSON result
/// and compares it with the baseline.
#[derive(Debug, Parser)]
#[command(name = "axiom-bench", version, about, long_about = None)]
struct Args {
    /// Run only these suites (comma-separated names; `vnncomp2022` means
    /// every category). `--list` names them.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Print the suites' names and exit.
    #[arg(long)]
    list: bool,
    /// The baseline to compare with.
    #[arg(long, default_value = "bench/baseline.json")]
    baseline: PathBuf,
    /// Write this run into the baseline (only the suites that ran, with
    /// `--only`). Refused when a suite failed or a verdict was wrong.
    #[arg(long)]
    update_baseline: bool,
    /// Compare an earlier result file with the baseline, without running
    /// anything.
    #[arg(long, value_name = "RESULT.json")]
    compare: Option<PathBuf>,
    /// Report a worse figure at once instead of running its suite again.
    #[arg(long)]
    no_repeat: bool,
    /// The cap on each VNN-COMP 2022 instance's timeout, in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout_cap: f64,
    /// Instances per VNN-COMP 2022 category, spread evenly (0: all).
    #[arg(long, default_value_t = 20)]
    sample: usize,
    /// A cap on each ACAS Xu instance's timeout (default: the competition's).
    #[arg(long)]
    acasxu_cap: Option<f64>,
    /// Networks of the differential soundness test.
    #[arg(long, default_value_t = 2000)]
    differential_cases: usize,
    /// The `axiom` binary to measure.
    #[arg(long, default_value = "target/release/axiom")]
    axiom: PathBuf,
}

/// A usage or input error: printed, exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("axiom-bench: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The workspace root (this crate's parent folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn read_result(path: &Path) -> Result<BenchResult, Usage> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Usage(format!("{}: cannot read: {e}", path.display())))?;
    let result: BenchResult = serde_json::from_str(&text).map_err(|e| {
        Usage(format!(
            "{}: not a benchmark result: {e}\n  hint: files written by axiom-bench ({FORMAT})",
            path.display()
        ))
    })?;
    if result.format != FORMAT {
        return Err(Usage(format!(
            "{}: format '{}', this axiom-bench reads '{FORMAT}'\n  hint: make a new baseline with --update-baseline",
            path.display(),
            result.format
        )));
    }
    Ok(result)
}

/// Paths relative to the workspace root unless absolute.
fn in_root(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root().join(path)
    }
}

/// Runs the benchmark; `Ok(true)` when nothing failed or regressed.
fn run(args: &Args) -> Result<bool, Usage> {
    let root = root();
    let baseline_path = in_root(&args.baseline);
    let baseline = if baseline_path.exists() {
        Some(read_result(&baseline_path)?)
    } else {
        eprintln!(
            "note: no baseline at {} (figures are shown, not compared)",
            baseline_path.display()
        );
        None
    };
    if let Some(path) = &args.compare {
        let now = read_result(path)?;
        let report = compare(baseline.as_ref(), &now);
        print_report(&report, &now);
        return Ok(!report.is_bad());
    }

    let stamp = machine::now().replace(':', "");
    let work = root.join("target/bench").join(&stamp);
    let env = Env {
        root: root.clone(),
        axiom: in_root(&args.axiom),
        benchmarks: axiom_core::benchmarks_dir(
            &root.join("../shared/benchmarks").to_string_lossy(),
        ),
        work: work.clone(),
        options: Options {
            acasxu_cap: args.acasxu_cap,
            vnncomp_cap: args.timeout_cap,
            vnncomp_sample: args.sample,
            differential_cases: args.differential_cases,
        },
    };
    let all = suites::all_suites(&env);
    if args.list {
        for name in &all {
            println!("{name}");
        }
        return Ok(true);
    }
    let selected = select(&all, &args.only)?;
    if !env.axiom.is_file() {
        return Err(Usage(format!(
            "{} not found\n  hint: scripts/bench.sh builds it (cargo build --release)",
            env.axiom.display()
        )));
    }
    let positive = |x: f64, what: &str| {
        if x.is_finite() && x > 0.0 {
            Ok(())
        } else {
            Err(Usage(format!(
                "{what} must be a positive number of seconds"
            )))
        }
    };
    positive(args.timeout_cap, "--timeout-cap")?;
    if let Some(cap) = args.acasxu_cap {
        positive(cap, "--acasxu-cap")?;
    }
    std::fs::create_dir_all(&work)
        .map_err(|e| Usage(format!("{}: cannot create: {e}", work.display())))?;

    let (commit, dirty) = machine::commit(&root);
    eprintln!(
        "axiom-bench: {} suite{} at {}{}; run folder {}",
        selected.len(),
        if selected.len() == 1 { "" } else { "s" },
        &commit[..commit.len().min(12)],
        if dirty { " (uncommitted changes)" } else { "" },
        work.display()
    );
    let started = Instant::now();
    let mut result = BenchResult {
        format: FORMAT.into(),
        machine: machine::describe(),
        commit: commit.clone(),
        dirty,
        date: machine::now(),
        suites: Vec::new(),
    };
    for (i, name) in selected.iter().enumerate() {
        eprintln!("== [{}/{}] {name}", i + 1, selected.len());
        let suite = run_suite(name, &env, &commit);
        eprintln!("   {}", one_line(&suite));
        result.suites.push(suite);
    }

    let mut report = compare(baseline.as_ref(), &result);
    if report.is_bad() && !args.no_repeat {
        for name in report.bad_suites() {
            if !report.worth_repeating(&name) {
                continue;
            }
            eprintln!("== {name}: worse than the baseline; running it once more");
            let again = run_suite(&name, &env, &commit);
            eprintln!("   {}", one_line(&again));
            if let Some(slot) = result.suites.iter_mut().find(|s| s.name == name) {
                *slot = slot.clone().better_of(again);
            }
        }
        report = compare(baseline.as_ref(), &result);
    }

    let out = work.join("result.json");
    let json = serde_json::to_string_pretty(&result).map_err(|e| Usage(e.to_string()))?;
    std::fs::write(&out, json + "\n")
        .map_err(|e| Usage(format!("{}: cannot write: {e}", out.display())))?;
    print_report(&report, &result);
    println!(
        "result: {} ({:.0} s in all)",
        out.display(),
        started.elapsed().as_secs_f64()
    );

    if args.update_baseline {
        return update_baseline(&baseline_path, baseline, result);
    }
    Ok(!report.is_bad())
}

/// The suites `--only` names, in the full run's order.
fn select(all: &[String], only: &[String]) -> Result<Vec<String>, Usage> {
    if only.is_empty() {
        return Ok(all.to_vec());
    }
    for want in only {
        let known = all
            .iter()
            .any(|n| n == want || n.starts_with(&format!("{want}/")));
        if !known {
            return Err(Usage(format!(
                "--only {want}: no such suite\n  hint: the suites are {}",
                all.join(", ")
            )));
        }
    }
    Ok(all
        .iter()
        .filter(|n| {
            only.iter()
                .any(|w| *n == w || n.starts_with(&format!("{w}/")))
        })
        .cloned()
        .collect())
}

/// Runs one suite with its calibration, wall time and provenance.
fn run_suite(name: &str, env: &Env, commit: &str) -> Suite {
    let calibration = machine::calibrate();
    let start = Instant::now();
    let mut suite = suites::run(name, env);
    suite.calibration_seconds = calibration;
    suite.wall_seconds = start.elapsed().as_secs_f64();
    suite.commit = commit.to_string();
    suite.date = machine::now();
    suite
}

/// A suite's outcome in one line, for the progress output.
fn one_line(suite: &Suite) -> String {
    let mut line = format!("{} in {:.0} s", suite.status.word(), suite.wall_seconds);
    if let Some(reason) = &suite.reason {
        line.push_str(&format!(": {reason}"));
    }
    let figures: Vec<String> = suite
        .figures
        .iter()
        .filter(|f| suite.status == Status::Ran && f.kind != Kind::Info)
        .map(|f| {
            format!(
                "{} {}",
                f.name,
                compare::format_value(Some(f.kind), f.value)
            )
        })
        .collect();
    if !figures.is_empty() {
        line.push_str(&format!("; {}", figures.join(", ")));
    }
    line
}

fn print_report(report: &Report, result: &BenchResult) {
    println!(
        "\nmachine: {} ({} threads, {}, {} GiB); commit {}{}; {}",
        result.machine.hostname,
        result.machine.cpus,
        result.machine.cpu_model,
        result.machine.memory_gib,
        &result.commit[..result.commit.len().min(12)],
        if result.dirty { " (dirty)" } else { "" },
        result.date
    );
    print!("{}", report.render());
    let bad = report.rows.iter().filter(|r| r.verdict.is_bad()).count();
    if bad == 0 {
        println!("no failure and no regression");
    } else {
        println!(
            "{bad} failure{} or regression{} in: {}",
            if bad == 1 { "" } else { "s" },
            if bad == 1 { "" } else { "s" },
            report.bad_suites().join(", ")
        );
    }
}

/// Writes `result` (merged into the old baseline when it covers only some
/// suites) as the new baseline; refuses a run with failures in it.
fn update_baseline(
    path: &Path,
    old: Option<BenchResult>,
    result: BenchResult,
) -> Result<bool, Usage> {
    let broken: Vec<&str> = result
        .suites
        .iter()
        .filter(|s| {
            s.status == Status::Failed
                || s.figures
                    .iter()
                    .any(|f| f.kind == Kind::Zero && f.value != 0.0)
        })
        .map(|s| s.name.as_str())
        .collect();
    if !broken.is_empty() {
        eprintln!(
            "axiom-bench: the baseline was not updated: failures in {}",
            broken.join(", ")
        );
        return Ok(false);
    }
    let mut merged = result.clone();
    if let Some(old) = old {
        // Keep the old baseline's suites this run did not cover, in place.
        let mut suites = old.suites;
        for s in result.suites {
            match suites.iter_mut().find(|o| o.name == s.name) {
                Some(slot) => *slot = s,
                None => suites.push(s),
            }
        }
        merged.suites = suites;
    }
    let json = serde_json::to_string_pretty(&merged).map_err(|e| Usage(e.to_string()))?;
    std::fs::write(path, json + "\n")
        .map_err(|e| Usage(format!("{}: cannot write: {e}", path.display())))?;
    println!("baseline updated: {}", path.display());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_selects_suites_and_groups_in_order() {
        let all: Vec<String> = ["acasxu", "vnncomp2022/a", "vnncomp2022/b", "forward"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(select(&all, &[]).unwrap(), all);
        assert_eq!(
            select(&all, &["forward".into(), "vnncomp2022".into()]).unwrap(),
            vec!["vnncomp2022/a", "vnncomp2022/b", "forward"]
        );
        assert_eq!(
            select(&all, &["vnncomp2022/b".into()]).unwrap(),
            vec!["vnncomp2022/b"]
        );
        let e = select(&all, &["acas".into()]).unwrap_err();
        assert!(
            e.0.contains("no such suite") && e.0.contains("acasxu"),
            "{e}"
        );
    }

    #[test]
    fn the_committed_baseline_reads() {
        let path = root().join("bench/baseline.json");
        let baseline = read_result(&path).unwrap();
        assert!(!baseline.suites.is_empty());
        // Every suite a full run has is in the baseline.
        for name in [
            "acasxu",
            "certificates",
            "forward",
            "differential",
            "bench-tests",
        ] {
            assert!(baseline.suite(name).is_some(), "{name} missing");
        }
    }

    #[test]
    fn baselines_with_failures_are_refused_and_partial_runs_merge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        let suite = |name: &str, wrong: f64| {
            let mut s = Suite::ran(name, "c".into());
            s.push("wrong", Kind::Zero, wrong);
            s
        };
        let result = |suites: Vec<Suite>| BenchResult {
            format: FORMAT.into(),
            machine: machine::describe(),
            commit: "c".into(),
            dirty: false,
            date: machine::now(),
            suites,
        };
        assert!(!update_baseline(&path, None, result(vec![suite("a", 1.0)])).unwrap());
        assert!(!path.exists());
        let first = result(vec![suite("a", 0.0), suite("b", 0.0)]);
        assert!(update_baseline(&path, None, first.clone()).unwrap());
        let mut c = suite("c", 0.0);
        c.config = "new".into();
        let mut a = suite("a", 0.0);
        a.config = "changed".into();
        assert!(update_baseline(&path, Some(first), result(vec![a, c])).unwrap());
        let merged = read_result(&path).unwrap();
        let names: Vec<&str> = merged.suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b", "c"]);
        assert_eq!(merged.suite("a").unwrap().config, "changed");
    }

    #[test]
    fn bad_result_files_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "{\"format\": 1}").unwrap();
        assert!(read_result(&path)
            .unwrap_err()
            .0
            .contains("not a benchmark result"));
        std::fs::write(
            &path,
            serde_json::to_string(&BenchResult {
                format: "axiom-bench v0".into(),
                machine: machine::describe(),
                commit: String::new(),
                dirty: false,
                date: String::new(),
                suites: vec![],
            })
            .unwrap(),
        )
        .unwrap();
        assert!(read_result(&path).unwrap_err().0.contains("axiom-bench v0"));
        assert!(read_result(&dir.path().join("none.json"))
            .unwrap_err()
            .0
            .contains("cannot read"));
    }
}
