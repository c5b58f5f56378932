//! The suites of the benchmark: each runs one part (the `axiom` binary on
//! benchmark instances, or a long cargo test or bench) and returns its
//! figures.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::model::{Kind, Status, Suite};
use crate::parse;

/// The suites that are not VNN-COMP categories, in the order they run
/// (`vnncomp2022/*` come right after `acasxu`).
pub const OTHER_SUITES: [&str; 4] = ["certificates", "forward", "differential", "bench-tests"];

/// The ACAS Xu instances whose certificates are made and re-checked: a fixed
/// sample of `unsat` instances from small proofs to a few thousand leaves.
pub const CERTIFICATE_SAMPLE: [(&str, &str); 6] = [
    ("1_1", "prop_1"),
    ("2_2", "prop_3"),
    ("3_5", "prop_3"),
    ("4_4", "prop_4"),
    ("1_1", "prop_6"),
    ("3_3", "prop_9"),
];

/// The test binaries whose ignored `bench_*` tests are the bench tier's
/// long tests, as `(package, test target)`.
pub const BENCH_TESTS: [(&str, &str); 1] = [("axiom-prover", "it")];

/// What the suites may be told.
#[derive(Debug, Clone)]
pub struct Options {
    /// A cap on every ACAS Xu instance's timeout (default: the competition's).
    pub acasxu_cap: Option<f64>,
    /// The cap on every VNN-COMP 2022 instance's timeout, in seconds.
    pub vnncomp_cap: f64,
    /// Instances per VNN-COMP 2022 category (evenly spread; 0: all).
    pub vnncomp_sample: usize,
    /// Networks of the differential soundness test.
    pub differential_cases: usize,
}

/// Where the suites find what they run.
#[derive(Debug, Clone)]
pub struct Env {
    /// The workspace root.
    pub root: PathBuf,
    /// The release `axiom` binary.
    pub axiom: PathBuf,
    /// The shared benchmarks, when present.
    pub benchmarks: Option<PathBuf>,
    /// This run's folder: logs, results files, certificates.
    pub work: PathBuf,
    pub options: Options,
}

/// The names of every suite, in the order a full run takes them.
pub fn all_suites(env: &Env) -> Vec<String> {
    let mut names = vec!["acasxu".to_string()];
    match vnncomp_categories(env) {
        Some(categories) if !categories.is_empty() => {
            names.extend(categories.into_iter().map(|c| format!("vnncomp2022/{c}")));
        }
        _ => names.push("vnncomp2022".into()),
    }
    names.extend(OTHER_SUITES.iter().map(|s| s.to_string()));
    names
}

/// The category folders of `vnncomp2022/` (those with an `instances.csv`).
fn vnncomp_categories(env: &Env) -> Option<Vec<String>> {
    let dir = env.benchmarks.as_ref()?.join("vnncomp2022");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("instances.csv").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    Some(names)
}

/// Runs the suite called `name` (calibration, timing and provenance are
/// the caller's).
pub fn run(name: &str, env: &Env) -> Suite {
    match name {
        "acasxu" => acasxu(env),
        "certificates" => certificates(env),
        "forward" => forward(env),
        "differential" => differential(env),
        "bench-tests" => bench_tests(env),
        "vnncomp2022" => Suite::without_figures(
            name,
            Status::Skipped,
            "no vnncomp2022/ categories in the shared benchmarks".into(),
            String::new(),
        ),
        _ => match name.strip_prefix("vnncomp2022/") {
            Some(category) => vnncomp_category(env, category),
            None => Suite::without_figures(
                name,
                Status::Failed,
                format!("no such suite (known: {})", all_suites(env).join(", ")),
                String::new(),
            ),
        },
    }
}

/// `axiom` with its audit records sent to this run's folder (never into
/// the benchmarks or the source tree).
fn axiom(env: &Env) -> Command {
    let mut command = Command::new(&env.axiom);
    command
        .env("AXIOM_AUDIT_LOG", env.work.join("audit.log"))
        .env_remove("AXIOM_AUDIT_KEY")
        .env_remove("AXIOM_AUDIT_REQUIRED");
    command
}

/// `cargo` in the workspace root.
fn cargo(env: &Env) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(&env.root);
    command
}

/// A suite whose inputs are missing.
fn skipped(name: &str, what: &Path) -> Suite {
    Suite::without_figures(
        name,
        Status::Skipped,
        format!(
            "{} not found (set AXIOM_BENCHMARKS to the shared benchmarks)",
            what.display()
        ),
        String::new(),
    )
}

fn failed(name: &str, config: &str, reason: String) -> Suite {
    Suite::without_figures(name, Status::Failed, reason, config.to_string())
}

/// A file name for `name` in the work folder.
fn work_file(env: &Env, name: &str, ext: &str) -> PathBuf {
    env.work.join(format!("{}.{ext}", name.replace('/', "-")))
}

fn acasxu(env: &Env) -> Suite {
    let name = "acasxu";
    let Some(csv) = env
        .benchmarks
        .as_ref()
        .map(|b| b.join("acasxu/instances.csv"))
        .filter(|p| p.is_file())
    else {
        return skipped(name, Path::new("acasxu/instances.csv"));
    };
    let config = match env.options.acasxu_cap {
        Some(cap) => format!("all instances, timeouts capped at {cap} s"),
        None => "all instances, competition timeouts".to_string(),
    };
    vnncomp_run(env, name, &csv, env.options.acasxu_cap, config, Kind::Zero)
}

fn vnncomp_category(env: &Env, category: &str) -> Suite {
    let name = format!("vnncomp2022/{category}");
    let Some(dir) = env
        .benchmarks
        .as_ref()
        .map(|b| b.join("vnncomp2022").join(category))
        .filter(|d| d.join("instances.csv").is_file())
    else {
        return skipped(&name, Path::new(&name));
    };
    let csv = dir.join("instances.csv");
    let text = match std::fs::read_to_string(&csv) {
        Ok(t) => t,
        Err(e) => return failed(&name, "", format!("{}: {e}", csv.display())),
    };
    let rows = parse::instance_lines(&text);
    let picked = parse::spread_sample(rows.len(), env.options.vnncomp_sample);
    let cap = env.options.vnncomp_cap;
    let config = format!("{} of {} instances, cap {cap} s", picked.len(), rows.len());
    // The sample as an instances file of its own, with absolute paths.
    let sample_csv = work_file(env, &format!("{name}-instances"), "csv");
    let written = csv::Writer::from_path(&sample_csv).and_then(|mut w| {
        w.write_record(["onnx", "vnnlib", "timeout_s", "expected"])?;
        for &i in &picked {
            let r = &rows[i];
            w.write_record([
                dir.join(&r[0]).to_string_lossy().as_ref(),
                dir.join(&r[1]).to_string_lossy().as_ref(),
                &r[2],
                r.get(3).map_or("", String::as_str),
            ])?;
        }
        w.flush().map_err(csv::Error::from)
    });
    if let Err(e) = written {
        return failed(&name, &config, format!("{}: {e}", sample_csv.display()));
    }
    let mut suite = vnncomp_run(env, &name, &sample_csv, Some(cap), config, Kind::Info);
    if suite.status == Status::Ran {
        if let Some(reason) = parse::unsupported_reason(&suite.details) {
            suite.status = Status::Unsupported;
            suite.reason = Some(reason);
        }
    }
    suite
}

/// `axiom vnncomp CSV` and its results file as figures; `errors` is the kind
/// of the error count (a must-be-zero count where every instance should
/// load, information where the engine may not support a model yet).
fn vnncomp_run(
    env: &Env,
    name: &str,
    csv: &Path,
    cap: Option<f64>,
    config: String,
    errors: Kind,
) -> Suite {
    let out = work_file(env, name, "csv");
    let mut command = axiom(env);
    command
        .arg("vnncomp")
        .arg(csv)
        .arg("--out")
        .arg(&out)
        .arg("--force")
        .stdout(Stdio::null());
    if let Some(cap) = cap {
        command.arg("--timeout-cap").arg(cap.to_string());
    }
    // Exit 1 means a wrong answer, which the results file shows.
    match command.status() {
        Ok(s) if matches!(s.code(), Some(0 | 1)) => {}
        Ok(s) => return failed(name, &config, format!("axiom vnncomp ended with {s}")),
        Err(e) => {
            return failed(
                name,
                &config,
                format!("cannot run {}: {e}", env.axiom.display()),
            )
        }
    }
    let rows = match std::fs::read_to_string(&out)
        .map_err(|e| e.to_string())
        .and_then(|t| parse::vnncomp_results(&t))
    {
        Ok(rows) => rows,
        Err(e) => return failed(name, &config, format!("{}: {e}", out.display())),
    };
    let mut suite = Suite::ran(name, config);
    let count = |f: &dyn Fn(&parse::InstanceResult) -> bool| rows.iter().filter(|r| f(r)).count();
    let times: Vec<f64> = rows.iter().map(|r| r.seconds).collect();
    suite.push(
        "solved",
        Kind::Solved,
        count(&|r| r.result == "unsat" || r.result == "sat") as f64,
    );
    suite.push("wrong", Kind::Zero, count(&|r| r.agrees == "no") as f64);
    suite.push("errors", errors, count(&|r| r.result == "error") as f64);
    suite.push(
        "unknown_or_timeout",
        Kind::Info,
        count(&|r| r.result == "unknown" || r.result == "timeout") as f64,
    );
    suite.push("total_seconds", Kind::Seconds, times.iter().sum());
    suite.push("median_seconds", Kind::Seconds, parse::median(&times));
    suite.details = rows.iter().map(parse::InstanceResult::row).collect();
    suite
}

fn certificates(env: &Env) -> Suite {
    let name = "certificates";
    let config = format!(
        "ACAS Xu sample: {}",
        CERTIFICATE_SAMPLE
            .iter()
            .map(|(n, p)| format!("{n} {p}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Some(acas) = env
        .benchmarks
        .as_ref()
        .map(|b| b.join("acasxu"))
        .filter(|d| d.is_dir())
    else {
        return skipped(name, Path::new("acasxu/"));
    };
    let key = env.work.join("signing.key");
    if !key.exists() {
        match axiom(env).arg("keygen").arg("--out").arg(&key).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return failed(
                    name,
                    &config,
                    format!(
                        "axiom keygen: {}",
                        String::from_utf8_lossy(&o.stderr).trim()
                    ),
                )
            }
            Err(e) => return failed(name, &config, format!("cannot run axiom: {e}")),
        }
    }
    let public = env.work.join("signing.key.pub");
    let mut suite = Suite::ran(name, config.clone());
    let (mut certified, mut rejected) = (0usize, 0usize);
    let (mut solve, mut recheck, mut bytes, mut leaves) = (0.0, 0.0, 0.0, 0.0);
    let runs = suite_counter();
    for (i, (net, prop)) in CERTIFICATE_SAMPLE.iter().enumerate() {
        let model = acas.join(format!("ACASXU_run2a_{net}_batch_2000.onnx"));
        let property = acas.join(format!("{prop}.vnnlib"));
        let cert = env.work.join(format!("{net}-{prop}-{}.cert", runs));
        let place = format!(
            "{name} [{}/{}] {net} {prop}",
            i + 1,
            CERTIFICATE_SAMPLE.len()
        );
        let out = axiom(env)
            .arg("verify")
            .arg(&model)
            .arg(&property)
            .arg("--timeout")
            .arg("116")
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => return failed(name, &config, format!("cannot run axiom: {e}")),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let verdict = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        let mut row = BTreeMap::from([
            ("instance".to_string(), format!("{net} {prop}")),
            ("verdict".to_string(), verdict.clone()),
        ]);
        let solved = parse::proved_seconds(&stderr);
        if verdict != "unsat" || !cert.is_file() {
            eprintln!("{place}: {verdict}, no certificate");
            suite.details.push(row);
            continue;
        }
        certified += 1;
        let start = Instant::now();
        let checked = axiom(env)
            .arg("cert")
            .arg("verify")
            .arg(&cert)
            .arg("--model")
            .arg(&model)
            .arg("--pubkey")
            .arg(&public)
            .arg("--recheck")
            .output();
        let seconds = start.elapsed().as_secs_f64();
        let accepted = checked.as_ref().is_ok_and(|o| o.status.success());
        if !accepted {
            rejected += 1;
        }
        let size = std::fs::metadata(&cert).map_or(0, |m| m.len()) as f64;
        let n_leaves = parse::rechecked_leaves(&stderr).unwrap_or(0) as f64;
        solve += solved.unwrap_or(0.0);
        recheck += seconds;
        bytes += size;
        leaves += n_leaves;
        eprintln!(
            "{place}: solved in {:.2} s, re-checked in {seconds:.2} s ({}), {n_leaves} leaves, {:.0} kB",
            solved.unwrap_or(f64::NAN),
            if accepted { "accepted" } else { "REJECTED" },
            size / 1e3
        );
        row.insert(
            "solve_seconds".into(),
            format!("{:.3}", solved.unwrap_or(0.0)),
        );
        row.insert("recheck_seconds".into(), format!("{seconds:.3}"));
        row.insert("certificate_bytes".into(), format!("{size}"));
        row.insert("leaves".into(), format!("{n_leaves}"));
        row.insert("accepted".into(), accepted.to_string());
        suite.details.push(row);
    }
    suite.push("certified", Kind::Solved, certified as f64);
    suite.push("rejected", Kind::Zero, rejected as f64);
    suite.push("solve_seconds", Kind::Seconds, solve);
    suite.push("recheck_seconds", Kind::Seconds, recheck);
    suite.push(
        "recheck_over_solve",
        Kind::Info,
        if solve > 0.0 { recheck / solve } else { 0.0 },
    );
    suite.push("certificate_bytes", Kind::Bytes, bytes);
    suite.push("leaves", Kind::Info, leaves);
    suite
}

/// A number that differs between the runs of one process (a repeated
/// suite writes new files beside the first run's).
fn suite_counter() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static RUNS: AtomicU32 = AtomicU32::new(0);
    RUNS.fetch_add(1, Ordering::Relaxed)
}

fn forward(env: &Env) -> Suite {
    let name = "forward";
    let config = "cargo bench -p axiom-backends --bench forward".to_string();
    let json = work_file(env, &format!("{name}-{}", suite_counter()), "json");
    // Its table is progress here: to stderr, with the rest of the progress.
    let status = cargo(env)
        .args(["bench", "-p", "axiom-backends", "--bench", "forward"])
        .env("AXIOM_BENCH_JSON", &json)
        .stdout(std::io::stderr())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => return failed(name, &config, format!("cargo bench ended with {s}")),
        Err(e) => return failed(name, &config, format!("cannot run cargo: {e}")),
    }
    let rows = match std::fs::read_to_string(&json)
        .map_err(|e| e.to_string())
        .and_then(|t| parse::forward_results(&t))
    {
        Ok(rows) => rows,
        Err(e) => return failed(name, &config, format!("{}: {e}", json.display())),
    };
    let mut suite = Suite::ran(name, config);
    for r in rows {
        suite.push(
            &format!("{} b{} {}", r.model, r.batch, r.dtype),
            Kind::Seconds,
            r.median_us * 1e-6,
        );
    }
    suite
}

/// Runs `cargo ARGS` with its output in a log file of the work folder;
/// returns whether it succeeded, and the log.
fn cargo_logged(
    env: &Env,
    log_name: &str,
    args: &[&str],
    vars: &[(&str, String)],
) -> (bool, String) {
    let log = work_file(env, &format!("{log_name}-{}", suite_counter()), "log");
    let file = match File::create(&log) {
        Ok(f) => f,
        Err(e) => return (false, format!("{}: {e}", log.display())),
    };
    let err = match file.try_clone() {
        Ok(f) => f,
        Err(e) => return (false, format!("{}: {e}", log.display())),
    };
    eprintln!("  (output in {})", log.display());
    let mut command = cargo(env);
    command.args(args).stdout(file).stderr(err);
    for (k, v) in vars {
        command.env(k, v);
    }
    let ok = match command.status() {
        Ok(s) => s.success(),
        Err(e) => return (false, format!("cannot run cargo: {e}")),
    };
    (ok, std::fs::read_to_string(&log).unwrap_or_default())
}

fn differential(env: &Env) -> Suite {
    let name = "differential";
    let cases = env.options.differential_cases;
    let config = format!("{cases} networks");
    let (ok, log) = cargo_logged(
        env,
        name,
        &[
            "test",
            "--release",
            "-p",
            "axiom-prover",
            "--test",
            "it",
            "differential::",
            "--",
            "--nocapture",
        ],
        &[("AXIOM_DIFFERENTIAL_CASES", cases.to_string())],
    );
    let tests = parse::test_results(&log);
    let summary = parse::differential_summary(&log);
    let (Some(summary), Some(tests), true) = (summary, tests, ok) else {
        return failed(name, &config, parse::failure_reason(&log));
    };
    if tests.passed != 1 {
        return failed(
            name,
            &config,
            format!("expected one differential test, {} ran", tests.passed),
        );
    }
    let mut suite = Suite::ran(name, config);
    suite.push(
        "decided",
        Kind::Solved,
        (summary.proved + summary.disproved) as f64,
    );
    suite.push("proved", Kind::Info, summary.proved as f64);
    suite.push("disproved", Kind::Info, summary.disproved as f64);
    suite.push("rechecked_exactly", Kind::Info, summary.rechecked as f64);
    suite.push("unknown", Kind::Info, summary.unknown as f64);
    suite.push("seconds", Kind::Seconds, tests.seconds);
    suite
}

fn bench_tests(env: &Env) -> Suite {
    let name = "bench-tests";
    let config = BENCH_TESTS
        .iter()
        .map(|(p, t)| format!("{p} --test {t}: ignored bench_* tests"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut suite = Suite::ran(name, config.clone());
    let (mut passed, mut failed_tests, mut seconds) = (0, 0, 0.0);
    for (package, target) in BENCH_TESTS {
        let (_, log) = cargo_logged(
            env,
            name,
            &[
                "test",
                "--release",
                "-p",
                package,
                "--test",
                target,
                "--",
                "--ignored",
                "bench_",
            ],
            &[],
        );
        let Some(t) = parse::test_results(&log) else {
            return failed(name, &config, parse::failure_reason(&log));
        };
        passed += t.passed;
        failed_tests += t.failed;
        seconds += t.seconds;
        for (test, outcome) in parse::test_outcomes(&log) {
            suite.details.push(BTreeMap::from([
                ("test".to_string(), format!("{package} {test}")),
                ("outcome".to_string(), outcome),
            ]));
        }
    }
    suite.push("passed", Kind::Solved, passed as f64);
    suite.push("failed", Kind::Zero, failed_tests as f64);
    suite.push("seconds", Kind::Seconds, seconds);
    suite
}
