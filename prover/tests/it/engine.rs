//! The engine end to end on the shared benchmarks, every verdict re-checked
//! by the independent exact checker in `axiom-certs`.

use axiom_certs::check::{check_counterexample, check_proof};
use axiom_prover::{verify, Verdict, VerifyOptions};
use std::path::PathBuf;
use std::time::Duration;

fn benchmarks() -> Option<PathBuf> {
    axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    ))
}

/// Verifies one instance and re-checks the verdict; returns its word.
fn solve_and_check(model: &std::path::Path, prop: &std::path::Path, timeout: f64) -> &'static str {
    let graph = axiom_core::load_model(model).unwrap();
    let property = axiom_core::vnnlib::load(prop).unwrap();
    let options = VerifyOptions {
        timeout: Some(Duration::from_secs_f64(timeout)),
        ..Default::default()
    };
    let report = verify(&graph, &property, &options);
    match &report.verdict {
        Verdict::Proved { evidence } => {
            let checked = check_proof(&graph, &property, evidence)
                .unwrap_or_else(|e| panic!("{}: {e}", model.display()));
            assert_eq!(checked.leaves, evidence.leaf_count());
        }
        Verdict::Disproved { counterexample } => {
            check_counterexample(&graph, &property, counterexample)
                .unwrap_or_else(|e| panic!("{}: {e}", model.display()));
        }
        Verdict::Unknown { .. } => {}
    }
    report.verdict.word()
}

#[test]
fn tiny_instances_all_correct_and_rechecked() {
    let Some(dir) = benchmarks() else { return };
    let csv = std::fs::read_to_string(dir.join("tiny/instances.csv")).unwrap();
    let mut n = 0;
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let word = solve_and_check(
            &dir.join("tiny").join(f[0]),
            &dir.join("tiny").join(f[1]),
            60.0,
        );
        assert_eq!(word, f[3], "{line}");
        n += 1;
    }
    assert_eq!(n, 5);
}

/// A fixed sample of 20 ACAS Xu instances (10 unsat, 10 sat) with their
/// expected verdicts, chosen to cover properties 1-4 and 7-8 and to keep the
/// exact re-check of every proof leaf within CI's time (the whole set is a
/// benchmark: `axiom vnncomp acasxu/instances.csv`).
const ACAS_SAMPLE: [(&str, &str, &str); 20] = [
    ("1_1", "prop_1", "unsat"),
    ("1_6", "prop_1", "unsat"),
    ("1_7", "prop_1", "unsat"),
    ("4_4", "prop_1", "unsat"),
    ("3_5", "prop_3", "unsat"),
    ("2_2", "prop_3", "unsat"),
    ("2_4", "prop_4", "unsat"),
    ("4_4", "prop_4", "unsat"),
    ("5_5", "prop_4", "unsat"),
    ("1_1", "prop_4", "unsat"),
    ("1_2", "prop_2", "sat"),
    ("2_1", "prop_2", "sat"),
    ("3_1", "prop_2", "sat"),
    ("5_3", "prop_2", "sat"),
    ("1_7", "prop_3", "sat"),
    ("1_9", "prop_3", "sat"),
    ("1_8", "prop_4", "sat"),
    ("1_9", "prop_4", "sat"),
    ("1_9", "prop_7", "sat"),
    ("2_9", "prop_8", "sat"),
];

#[test]
fn acas_xu_sample_correct_and_rechecked() {
    let Some(dir) = benchmarks() else { return };
    let acas = dir.join("acasxu");
    for (net, prop, expected) in ACAS_SAMPLE {
        let model = acas.join(format!("ACASXU_run2a_{net}_batch_2000.onnx"));
        let word = solve_and_check(&model, &acas.join(format!("{prop}.vnnlib")), 116.0);
        assert_eq!(word, expected, "{net} {prop}");
    }
}
