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

/// A box that fixes inputs to decimals no f64 equals (as collins_rul_cnn's
/// do): the engine's counterexample gives the f64 next to the decimal and
/// stands for the exact input; the exact checker accepts it; and a property
/// violated only by the f64, not at the exact decimal, is not reported
/// violated.
#[test]
fn counterexamples_in_boxes_that_fix_decimal_inputs() {
    use axiom_core::graph::{GraphBuilder, Op};
    use ndarray::{arr1, arr2};
    // y = relu(x0 + x1 + x2 - 0.5) with x0 = 0.1 and x1 = 0.3 fixed.
    let mut b = GraphBuilder::new("fixed", "x", vec![3]);
    let h = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0, 1.0, 1.0]]),
            bias: Some(arr1(&[-0.5])),
        },
        0,
    );
    let y = b.push("relu", Op::Relu, h);
    let g = b.finish(y).unwrap();
    let prop = |out: &str| {
        axiom_core::vnnlib::parse(&format!(
            "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const X_2 Real)\n\
             (declare-const Y_0 Real)\n\
             (assert (>= X_0 0.1))\n(assert (<= X_0 0.1))\n\
             (assert (>= X_1 0.3))\n(assert (<= X_1 0.3))\n\
             (assert (>= X_2 0.0))\n(assert (<= X_2 0.5))\n{out}\n"
        ))
        .unwrap()
    };
    let options = VerifyOptions {
        timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    // The maximum is 0.1 + 0.3 + 0.5 - 0.5 = 0.4 exactly: y >= 0.35 is
    // reachable (sat), y > 0.4 is not (unsat), whatever the f64s near 0.1
    // and 0.3 would give.
    let p = prop("(assert (>= Y_0 0.35))");
    let report = verify(&g, &p, &options);
    let Verdict::Disproved { counterexample } = &report.verdict else {
        panic!("expected a counterexample, got {:?}", report.verdict);
    };
    // The fixed coordinates are f64s next to the decimals, not in the box.
    for (i, d) in [(0, 0.1f64), (1, 0.3f64)] {
        let x = counterexample.input[i];
        assert!(
            x == d || x == d.next_down() || x == d.next_up(),
            "X_{i} = {x}"
        );
    }
    check_counterexample(&g, &p, counterexample).expect("accepted by the exact checker");
    let p = prop("(assert (> Y_0 0.4))");
    let report = verify(&g, &p, &options);
    assert!(
        !matches!(report.verdict, Verdict::Disproved { .. }),
        "{:?}",
        report.verdict
    );
}
