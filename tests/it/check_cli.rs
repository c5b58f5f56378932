//! `axiom check`: the bundled specs prove, a false property fails the gate
//! with a counterexample in every report format, bad specs exit 2 naming
//! the place, and the cache re-proves exactly what changed.

use std::process::Output;

use crate::common::{axiom, example, p, stderr, stdout};

/// A folder with the XOR and mini ACAS models and a spec for each.
fn workspace(xor_spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["xor.onnx", "mini_acas.onnx"] {
        std::fs::copy(example(&format!("models/{name}")), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("xor.axiom"), xor_spec).unwrap();
    std::fs::write(
        dir.path().join("acas.axiom"),
        "model mini {\n  from onnx \"mini_acas.onnx\"\n  input x: f32[5]\n  output y: f32[5]\n  \
         prove low: forall x in box(-0.05, 0.05) => y[4] <= y[2]\n  \
         prove robust: forall x in linf_ball([0.1, 0.2, 0.0, 0.3, -0.4], 0.01) => argmax(y) == 2\n}\n",
    )
    .unwrap();
    dir
}

const XOR_TRUE: &str =
    "model xor {\n  from onnx \"xor.onnx\"\n  input x: f32[2]\n  output y: f32[1]\n  \
prove low: forall x in box([0, 0], [0.2, 0.2]) => y[0] < 0.5\n}\n";

/// Line 6 claims XOR stays low near (1, 0): false.
const XOR_FALSE: &str =
    "model xor {\n  from onnx \"xor.onnx\"\n  input x: f32[2]\n  output y: f32[1]\n  \
prove low: forall x in box([0, 0], [0.2, 0.2]) => y[0] < 0.5\n  \
prove wrong: forall x in box([0.9, 0], [1, 0.1]) => y[0] < 0.5\n}\n";

#[test]
fn bundled_specs_all_prove() {
    let o = axiom(&["check", &example("specs")]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    for name in ["sums_to_one", "probabilities", "robust_2", "from_vnnlib"] {
        assert!(out.contains(name), "{name} missing from\n{out}");
    }
    assert!(out.contains("0 disproved, 0 unknown, 0 errors"), "{out}");
    // The softmax facts are discharged by the rewriter, the rest by the
    // engine with its evidence re-checked.
    assert!(out.contains("discharged by rewriting"), "{out}");
    assert!(out.contains("evidence re-checked"), "{out}");
}

#[test]
fn acas_xu_example_spec_proves_when_the_benchmarks_are_there() {
    let Some(_) = axiom_ml::core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/benchmarks"
    )) else {
        return;
    };
    let o = axiom(&["check", &example("benchmarks"), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["counts"]["proved"], 5, "{v}");
}

#[test]
fn a_false_property_fails_the_gate_in_every_format() {
    let dir = workspace(XOR_FALSE);
    let spec = dir.path().join("xor.axiom");
    let human = axiom(&["check", p(&spec)]);
    assert_eq!(human.status.code(), Some(1), "{}", stderr(&human));
    let out = stdout(&human);
    assert!(
        out.contains("disproved") && out.contains("counterexample x = "),
        "{out}"
    );

    let junit = axiom(&["check", p(&spec), "--format", "junit"]);
    assert_eq!(junit.status.code(), Some(1));
    let report = quick_junit::Report::deserialize_from_str(&stdout(&junit))
        .expect("the JUnit output parses as XML");
    let failures: usize = report
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .filter(|c| matches!(c.status, quick_junit::TestCaseStatus::NonSuccess { .. }))
        .count();
    assert_eq!(failures, 1, "{}", stdout(&junit));

    let sarif = axiom(&["check", p(&spec), "--format", "sarif"]);
    assert_eq!(sarif.status.code(), Some(1));
    let log: serde_sarif::sarif::Sarif =
        serde_json::from_str(&stdout(&sarif)).expect("the SARIF output deserialises");
    let results = log.runs[0].results.as_ref().expect("results");
    assert_eq!(results.len(), 1);
    let region = results[0].locations.as_ref().unwrap()[0]
        .physical_location
        .as_ref()
        .unwrap()
        .region
        .as_ref()
        .unwrap();
    assert_eq!(region.start_line, Some(6), "the `prove wrong` line");
}

#[test]
fn bad_specs_exit_2_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example("models/xor.onnx"), dir.path().join("xor.onnx")).unwrap();
    let cases = [
        ("syntax.axiom", "model m {\n  input x: f32[2\n}\n", "syntax.axiom:3:1"),
        (
            "layer.axiom",
            "model m {\n  input x: f32[2]\n  output y: f32[2]\n  layer a = relux\n}\n",
            "relu",
        ),
        (
            "index.axiom",
            "model m {\n  from onnx \"xor.onnx\"\n  input x: f32[2]\n  output y: f32[1]\n  prove p: forall x in box(0, 1) => y[3] <= 1\n}\n",
            "index.axiom:5:",
        ),
        (
            "missing.axiom",
            "model m {\n  from onnx \"nothere.onnx\"\n  input x: f32[2]\n  output y: f32[1]\n}\n",
            "nothere.onnx",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = axiom(&["check", p(&path)]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(want), "{name}: stderr lacks {want:?}:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = axiom(&["check", p(&dir.path().join("no-such-dir"))]);
    assert_eq!(o.status.code(), Some(2));
}

fn cached_count(o: &Output) -> (u64, u64) {
    let v: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
    let results = v["results"].as_array().unwrap();
    let cached = results.iter().filter(|r| r["cached"] == true).count() as u64;
    (results.len() as u64, cached)
}

#[test]
fn the_cache_reproves_exactly_the_changed_model() {
    let dir = workspace(XOR_TRUE);
    let cache = dir.path().join("cache");
    let run = || {
        let o = axiom(&[
            "check",
            p(dir.path()),
            "--format",
            "json",
            "--cache",
            p(&cache),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        o
    };
    assert_eq!(cached_count(&run()), (3, 0), "first run proves everything");
    assert_eq!(cached_count(&run()), (3, 3), "second run is all hits");
    // Change one weight of the XOR network (its function stays XOR-like:
    // the obligation still holds).
    let mut graph = axiom_ml::demo::xor();
    for node in &mut graph.nodes {
        if let axiom_ml::core::Op::Gemm { weight, .. } = &mut node.op {
            weight[[0, 0]] += 1.0 / 1024.0;
            break;
        }
    }
    std::fs::remove_file(dir.path().join("xor.onnx")).unwrap();
    axiom_ml::core::onnx::save(&graph, &dir.path().join("xor.onnx")).unwrap();
    let o = run();
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for r in v["results"].as_array().unwrap() {
        let is_xor = r["model"] == "xor";
        assert_eq!(r["cached"] == true, !is_xor, "{r}");
    }
}

#[test]
fn run_checks_every_ensure_and_stops_at_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example("models/xor.onnx"), dir.path().join("xor.onnx")).unwrap();
    let spec = dir.path().join("guard.axiom");
    std::fs::write(
        &spec,
        "model xor {\n  from onnx \"xor.onnx\"\n  input x: f32[2]\n  output y: f32[1]\n  \
         ensure finite(y)\n  ensure y[0] <= 0.5\n}\n",
    )
    .unwrap();
    let ok = axiom(&["run", p(&spec), "--input", "[[0, 0], [1, 1]]"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(stdout(&ok).trim(), "[[0.0],[0.0]]");
    let bad = axiom(&["run", p(&spec), "--input", "[[0, 0], [1, 0]]"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    let err = stderr(&bad);
    for want in ["ensure y[0] <= 0.5", "line 6", "sample 1", "[1.0, 0.0]"] {
        assert!(err.contains(want), "stderr lacks {want:?}: {err}");
    }
    assert!(stdout(&bad).is_empty(), "no output after a violation");
    // The bundled specs' ensures hold on ordinary inputs.
    let o = axiom(&[
        "run",
        &example("specs/classifier.axiom"),
        "--input",
        "[0.3, -0.2]",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_gate_with_nothing_to_check_does_not_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("empty.axiom"), "").unwrap();
    std::fs::write(
        d.join("no_prove.axiom"),
        "model xor {\n  from onnx \"xor.onnx\"\n  input x: f32[2]\n  output y: f32[1]\n}\n",
    )
    .unwrap();
    std::fs::copy(example("models/xor.onnx"), d.join("xor.onnx")).unwrap();
    let nothing = d.join("nothing");
    std::fs::create_dir(&nothing).unwrap();
    for (path, what) in [
        (d.join("empty.axiom"), "1 specification under"),
        (d.to_path_buf(), "2 specifications under"),
        (nothing.clone(), "no .axiom files under"),
    ] {
        let o = axiom(&["check", p(&path)]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert!(err.contains("no obligations found"), "{err}");
        assert!(err.contains(what), "{err}");
        assert!(err.contains(p(&path)), "{err}");
        assert!(err.contains("--allow-empty"), "{err}");
        // --allow-empty lets it pass, with an empty report.
        for format in ["human", "json"] {
            let o = axiom(&["check", p(&path), "--allow-empty", "--format", format]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            if format == "json" {
                let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
                assert_eq!(v["results"].as_array().map(Vec::len), Some(0), "{v}");
            } else {
                assert!(stdout(&o).contains("0 obligations"), "{}", stdout(&o));
            }
        }
    }
}

#[test]
fn check_writes_its_report_to_a_file_and_never_over_one_silently() {
    let dir = workspace(XOR_FALSE);
    let d = dir.path();
    let out = d.join("junit.xml");
    let o = axiom(&["check", p(d), "--format", "junit", "--out", p(&out)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "the report goes to the file only");
    assert!(stderr(&o).contains("report written to"), "{}", stderr(&o));
    let xml = std::fs::read_to_string(&out).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("wrong"), "{xml}");
    // An existing report is not replaced without --force, before any work.
    let o = axiom(&["check", p(d), "--out", p(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), xml);
    let o = axiom(&[
        "check",
        p(d),
        "--format",
        "json",
        "--out",
        p(&out),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["counts"]["disproved"], 1, "{v}");
    // A folder is not a report file.
    let o = axiom(&["check", p(d), "--out", p(d)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a folder"), "{}", stderr(&o));
}
