//! End-to-end tests of `axiom verify` and `axiom vnncomp`: argument
//! handling, instances files, result files, summaries and exit codes, and the
//! engine end to end on the bundled examples and the shared tiny set.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{axiom, example, p, stderr, stdout};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("the test file is written");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("the file is readable")
}

/// Exit code 2, the message names everything in `wanted`, and nothing
/// panicked.
fn assert_bad_input(o: &Output, wanted: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for want in wanted {
        assert!(err.contains(want), "stderr lacks {want:?}: {err}");
    }
}

/// The exit code the CLI contract gives a result word.
fn exit_code_of(word: &str) -> i32 {
    match word {
        "unsat" => 0,
        "sat" => 1,
        "unknown" | "timeout" => 3,
        other => panic!("not a result word: {other:?}"),
    }
}

/// The value of a summary line such as `error    1`.
fn summary_count(summary: &str, key: &str) -> Option<usize> {
    summary.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some(key))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// The pairs of a VNN-COMP counterexample block: `(`, `(X_0 v)` ..., `)`.
fn counterexample(text: &str) -> Vec<(String, f64)> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"sat"), "{text}");
    assert_eq!(lines.get(1), Some(&"("), "{text}");
    assert_eq!(lines.last(), Some(&")"), "{text}");
    lines[2..lines.len() - 1]
        .iter()
        .map(|line| {
            let inner = line
                .strip_prefix('(')
                .and_then(|l| l.strip_suffix(')'))
                .unwrap_or_else(|| panic!("not a pair: {line:?}"));
            let (name, value) = inner
                .split_once(' ')
                .unwrap_or_else(|| panic!("not a pair: {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line:?}"));
            (name.to_string(), value)
        })
        .collect()
}

fn value_of(pairs: &[(String, f64)], name: &str) -> f64 {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
        .1
}

const XOR_HIGH: &str = "; xor(1, 0) = 1: violated near (1, 0).
(declare-const X_0 Real)
(declare-const X_1 Real)
(declare-const Y_0 Real)
(assert (>= X_0 0.9))
(assert (<= X_0 1))
(assert (>= X_1 0))
(assert (<= X_1 0.1))
(assert (>= Y_0 0.8))
";

// ----- axiom verify -----

#[test]
fn verify_help_explains_words_and_exit_codes() {
    let o = axiom(&["verify", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    for want in [
        "unsat",
        "sat",
        "unknown",
        "timeout",
        "exit code 3",
        "--force",
    ] {
        assert!(help.contains(want), "help lacks {want:?}: {help}");
    }
}

#[test]
fn verify_rejects_a_property_of_another_arity() {
    let o = axiom(&[
        "verify",
        &example("models/mini_acas.onnx"),
        &example("properties/xor_low.vnnlib"),
    ]);
    assert_bad_input(&o, &["xor_low.vnnlib", "2 inputs", "5 inputs"]);
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

#[test]
fn verify_rejects_a_malformed_property() {
    let dir = tempdir();
    let bad = dir.path().join("bad.vnnlib");
    write(&bad, "(declare-const X_0 Real)\n(assert (>= X_0 0)\n");
    let o = axiom(&["verify", &example("models/xor.onnx"), p(&bad)]);
    assert_bad_input(&o, &["bad.vnnlib"]);
}

#[test]
fn verify_rejects_missing_files_and_bad_timeouts() {
    let o = axiom(&[
        "verify",
        "/nonexistent/net.onnx",
        &example("properties/xor_low.vnnlib"),
    ]);
    assert_bad_input(&o, &["net.onnx"]);
    for bad in ["-1", "0", "soon"] {
        let o = axiom(&[
            "verify",
            &example("models/xor.onnx"),
            &example("properties/xor_low.vnnlib"),
            "--timeout",
            bad,
        ]);
        assert_bad_input(&o, &["--timeout"]);
    }
}

#[test]
fn verify_writes_the_result_file() {
    let dir = tempdir();
    let result = dir.path().join("result.txt");
    let o = axiom(&[
        "verify",
        &example("models/xor.onnx"),
        &example("properties/xor_low.vnnlib"),
        "--timeout",
        "30",
        "--result",
        p(&result),
    ]);
    let out = stdout(&o);
    let word = out.lines().next().unwrap_or_default();
    assert_eq!(o.status.code(), Some(exit_code_of(word)), "{}", stderr(&o));
    assert_eq!(read(&result), out);
    assert!(!stderr(&o).is_empty(), "a summary goes to stderr");
}

#[test]
fn verify_overwrites_only_empty_result_files_without_force() {
    let dir = tempdir();
    let result = dir.path().join("result.txt");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "verify".to_string(),
            example("models/xor.onnx"),
            example("properties/xor_low.vnnlib"),
            "--timeout".into(),
            "30".into(),
            "--result".into(),
            p(&result).to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        axiom(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // An empty file (as a harness creates it) is overwritten.
    write(&result, "");
    let o = run(&[]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(read(&result), stdout(&o));

    // A non-empty one is refused before anything runs, and kept.
    write(&result, "previous\n");
    let o = run(&[]);
    assert_bad_input(&o, &["result.txt", "--force"]);
    assert!(stdout(&o).is_empty());
    assert_eq!(read(&result), "previous\n");

    // --force overwrites it.
    let o = run(&["--force"]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(read(&result), stdout(&o));
}

#[test]
fn verify_proves_xor_low() {
    let o = axiom(&[
        "verify",
        &example("models/xor.onnx"),
        &example("properties/xor_low.vnnlib"),
        "--timeout",
        "60",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "unsat\n");
}

#[test]
fn verify_rechecks_proofs_and_counterexamples_exactly() {
    for (property, code) in [
        ("properties/xor_low.vnnlib", 0),
        ("properties/xor_high.vnnlib", 1),
    ] {
        let o = axiom(&[
            "verify",
            &example("models/xor.onnx"),
            &example(property),
            "--recheck",
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert!(
            err.contains("re-check: ") && !err.contains("FAILED"),
            "{err}"
        );
    }
}

#[test]
fn verify_finds_a_counterexample_near_one_zero() {
    let dir = tempdir();
    let property = dir.path().join("xor_high.vnnlib");
    write(&property, XOR_HIGH);
    let result = dir.path().join("result.txt");
    let o = axiom(&[
        "verify",
        &example("models/xor.onnx"),
        p(&property),
        "--timeout",
        "60",
        "--result",
        p(&result),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(read(&result), out);
    let pairs = counterexample(&out);
    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["X_0", "X_1", "Y_0"], "{out}");
    let (x0, x1, y0) = (
        value_of(&pairs, "X_0"),
        value_of(&pairs, "X_1"),
        value_of(&pairs, "Y_0"),
    );
    assert!((0.9..=1.0).contains(&x0), "{out}");
    assert!((0.0..=0.1).contains(&x1), "{out}");
    assert!(y0 >= 0.8, "{out}");
}

// ----- axiom vnncomp -----

#[test]
fn vnncomp_help_names_the_columns() {
    let o = axiom(&["vnncomp", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    for want in [
        "onnx",
        "vnnlib",
        "timeout_s",
        "expected",
        "WRONG",
        "--timeout-cap",
    ] {
        assert!(help.contains(want), "help lacks {want:?}: {help}");
    }
}

#[test]
fn vnncomp_names_the_line_of_a_bad_csv() {
    let dir = tempdir();
    let csv = dir.path().join("instances.csv");
    write(
        &csv,
        &format!(
            "onnx,vnnlib,timeout_s\n{},{},10\nonly.onnx,only.vnnlib\n",
            example("models/xor.onnx"),
            example("properties/xor_low.vnnlib")
        ),
    );
    let o = axiom(&["vnncomp", p(&csv)]);
    assert_bad_input(&o, &["instances.csv", "line 3", "columns"]);
    assert!(stdout(&o).is_empty(), "nothing ran: {}", stdout(&o));

    let o = axiom(&["vnncomp", p(&dir.path().join("absent.csv"))]);
    assert_bad_input(&o, &["absent.csv"]);

    write(&csv, "a.onnx,b.vnnlib,never\n");
    let o = axiom(&["vnncomp", p(&csv)]);
    assert_bad_input(&o, &["line 1", "timeout_s"]);
}

#[test]
fn vnncomp_reports_a_missing_model_as_an_error_and_goes_on() {
    let dir = tempdir();
    let csv = dir.path().join("instances.csv");
    // The missing model is relative to the CSV's directory; the XOR instance
    // has no expectation, so no verdict can make the run fail.
    write(
        &csv,
        &format!(
            "onnx,vnnlib,timeout_s,expected\nmissing.onnx,{prop},10,unsat\n{xor},{prop},10\n",
            xor = example("models/xor.onnx"),
            prop = example("properties/xor_low.vnnlib"),
        ),
    );
    let results = dir.path().join("results.csv");
    let o = axiom(&["vnncomp", p(&csv), "--out", p(&results)]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("[1/2] missing xor_low: error"), "{err}");
    assert!(
        err.contains("missing.onnx"),
        "the load error is shown: {err}"
    );
    assert!(err.contains("[2/2] xor xor_low: "), "{err}");
    assert_eq!(summary_count(&out, "error"), Some(1), "{out}");
    assert_eq!(summary_count(&out, "WRONG"), Some(0), "{out}");
    assert!(out.contains("slowest"), "{out}");

    let text = read(&results);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "onnx,vnnlib,result,seconds,expected,agrees,detail");
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[1].starts_with("missing.onnx,"), "{text}");
    assert!(rows[1].contains(",error,"), "{text}");
    assert!(
        rows[1].contains(",unsat,,"),
        "no verdict, no agreement: {text}"
    );
    // The results file says why: the load error, in the detail column.
    let detail = rows[1].rsplit(",unsat,,").next().unwrap_or("");
    assert!(detail.contains("missing.onnx"), "{text}");
    assert!(rows[2].ends_with(','), "a verdict needs no detail: {text}");
}

#[test]
fn vnncomp_reads_a_csv_without_header() {
    let dir = tempdir();
    std::fs::copy(example("models/xor.onnx"), dir.path().join("xor.onnx"))
        .expect("the model is copied");
    std::fs::copy(
        example("properties/xor_low.vnnlib"),
        dir.path().join("low.vnnlib"),
    )
    .expect("the property is copied");
    let csv = dir.path().join("instances.csv");
    write(&csv, "xor.onnx,low.vnnlib,20\n");
    let o = axiom(&["vnncomp", p(&csv), "--timeout-cap", "5"]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains(" of 1\n"), "{out}");
    assert_eq!(summary_count(&out, "error"), Some(0), "{out}\n{err}");
    assert!(err.contains("[1/1] xor low: "), "{err}");
}

#[test]
fn vnncomp_refuses_to_overwrite_its_output() {
    let dir = tempdir();
    let csv = dir.path().join("instances.csv");
    write(
        &csv,
        &format!(
            "{},{},10\n",
            example("models/xor.onnx"),
            example("properties/xor_low.vnnlib")
        ),
    );
    let results = dir.path().join("results.csv");
    write(&results, "keep me\n");
    let o = axiom(&["vnncomp", p(&csv), "--out", p(&results)]);
    assert_bad_input(&o, &["results.csv", "--force"]);
    assert_eq!(read(&results), "keep me\n");

    let o = axiom(&["vnncomp", p(&csv), "--out", p(&results), "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(read(&results).starts_with("onnx,vnnlib,result,seconds,expected,agrees,detail\n"));
}

fn benchmarks() -> Option<PathBuf> {
    axiom_ml::core::benchmarks_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/benchmarks"))
}

#[test]
fn vnncomp_solves_the_tiny_set() {
    let Some(dir) = benchmarks() else { return };
    let csv = dir.join("tiny/instances.csv");
    if !csv.exists() {
        eprintln!("skipping: {} not found", csv.display());
        return;
    }
    let out_dir = tempdir();
    let results = out_dir.path().join("results.csv");
    let o = axiom(&[
        "vnncomp",
        p(&csv),
        "--timeout-cap",
        "60",
        "--out",
        p(&results),
        "--recheck",
    ]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("solved   5 of 5"), "{out}\n{err}");
    assert_eq!(summary_count(&out, "WRONG"), Some(0), "{out}");
    let text = read(&results);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 5, "{text}");
    assert!(rows.iter().all(|r| r.ends_with(",yes,")), "{text}");
}

#[test]
fn verify_speaks_json_for_scripts() {
    let model = example("models/xor.onnx");
    let json = |args: &[&str]| -> (i32, serde_json::Value) {
        let o = axiom(args);
        let v = serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&o), stderr(&o)));
        (o.status.code().unwrap(), v)
    };
    let (code, v) = json(&[
        "verify",
        &model,
        &example("properties/xor_low.vnnlib"),
        "--format",
        "json",
        "--recheck",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["result"], "unsat");
    assert!(v["proof"]["leaves"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["counterexample"].is_null() && v["reason"].is_null());
    assert!(v["rechecked"].as_str().unwrap().contains("leaves"), "{v}");
    assert_eq!(
        v["model_digest"],
        axiom_ml::core::load_model(Path::new(&model))
            .unwrap()
            .digest()
            .to_string()
    );

    // sat: the counterexample, re-checked: the outputs are the model's.
    let dir = tempdir();
    let result = dir.path().join("result.txt");
    let (code, v) = json(&[
        "verify",
        &model,
        &example("properties/xor_high.vnnlib"),
        "--format",
        "json",
        "--result",
        p(&result),
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["result"], "sat");
    let cex = &v["counterexample"];
    let x: Vec<f64> = serde_json::from_value(cex["inputs"].clone()).unwrap();
    let y: Vec<f64> = serde_json::from_value(cex["outputs"].clone()).unwrap();
    let relu = |t: f64| t.max(0.0);
    let want = relu(x[0] + x[1]) - 2.0 * relu(x[0] + x[1] - 1.0);
    assert!((y[0] - want).abs() < 1e-6, "{x:?} -> {y:?}");
    assert!(y[0] >= 0.5, "in the unsafe set: {y:?}");
    // The --result file keeps the VNN-COMP form.
    assert!(read(&result).starts_with("sat\n("), "{}", read(&result));

    // unknown: the reason.
    let (code, v) = json(&[
        "verify",
        &model,
        &example("properties/xor_high.vnnlib"),
        "--format",
        "json",
        "--no-attack",
        "--timeout",
        "0.000000001",
    ]);
    assert_eq!(code, 3, "{v}");
    assert_eq!(v["result"], "timeout");
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
}

#[test]
fn an_empty_input_box_is_vacuously_unsat_and_said_aloud() {
    let dir = tempdir();
    let d = dir.path();
    let prop = d.join("empty.vnnlib");
    write(
        &prop,
        "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n\
         (assert (>= X_0 0.5))\n(assert (<= X_0 0.2))\n(assert (>= X_1 0))\n(assert (<= X_1 1))\n\
         (assert (>= Y_0 0.5))\n",
    );
    let model = example("models/xor.onnx");
    let warning = "X_0: lower bound 0.5 is above upper bound 0.2";
    // verify: still unsat (vacuously true), with the warning naming the file.
    let o = axiom(&["verify", &model, p(&prop)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "unsat");
    let err = stderr(&o);
    assert!(
        err.contains(&format!("warning: {}: {warning}", p(&prop))),
        "{err}"
    );
    assert!(err.contains("vacuously"), "{err}");
    // info, human and JSON.
    let o = axiom(&["info", p(&prop)]);
    assert!(stdout(&o).contains(warning), "{}", stdout(&o));
    let o = axiom(&["info", p(&prop), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["warnings"][0].as_str().unwrap().contains(warning), "{v}");
    // vnncomp, once per property file.
    let csv = d.join("instances.csv");
    write(
        &csv,
        &format!("{model},empty.vnnlib,10\n{model},empty.vnnlib,10\n"),
    );
    let o = axiom(&["vnncomp", p(&csv)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches(warning).count(), 1, "{}", stderr(&o));
    // check, at the obligation's line.
    std::fs::copy(&model, d.join("xor.onnx")).unwrap();
    let spec = d.join("vacuous.axiom");
    write(
        &spec,
        "model xor {\n  from onnx \"xor.onnx\"\n  input x: f32[2]\n  output y: f32[1]\n  \
         prove never: vnnlib \"empty.vnnlib\"\n}\n",
    );
    let o = axiom(&["check", p(&spec)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("warning: {}:5: never: {warning}", p(&spec))),
        "{err}"
    );
    // A property without the problem says nothing.
    let o = axiom(&["verify", &model, &example("properties/xor_low.vnnlib")]);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn gzipped_files_are_certified_and_audited_by_their_bytes_on_disk() {
    let dir = tempdir();
    let d = dir.path();
    let gzip = |from: &str, to: &Path| {
        let out = std::process::Command::new("gzip")
            .args(["-c", from])
            .output()
            .expect("gzip runs");
        std::fs::write(to, out.stdout).unwrap();
    };
    let (model, prop) = (d.join("xor.onnx.gz"), d.join("xor_low.vnnlib.gz"));
    gzip(&example("models/xor.onnx"), &model);
    gzip(&example("properties/xor_low.vnnlib"), &prop);
    let log = d.join("audit.log");
    let key = d.join("k.key");
    let run = |args: &[&str]| {
        crate::common::axiom_command()
            .env("AXIOM_AUDIT_LOG", &log)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["keygen", "--out", p(&key)]).status.success());
    let cert = d.join("low.cert");
    let o = run(&[
        "verify",
        p(&model),
        p(&prop),
        "--cert",
        p(&cert),
        "--key",
        p(&key),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The certificate names the .gz file by the digest `sha256sum` gives.
    let o = run(&[
        "cert",
        "verify",
        p(&cert),
        "--model",
        p(&model),
        "--pubkey",
        &format!("{}.pub", p(&key)),
        "--recheck",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    // So does the audit record of the verify.
    let (records, _) = axiom_audit::read_records(&log).unwrap();
    let on_disk = axiom_audit::sha256_hex(&std::fs::read(&model).unwrap());
    let files = &records[1].inputs.files;
    assert!(
        files
            .iter()
            .any(|f| f.path.ends_with("xor.onnx.gz") && f.sha256 == on_disk),
        "{files:?}"
    );
}
