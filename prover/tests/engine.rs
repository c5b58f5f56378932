//! The engine end to end on the shared benchmarks, every verdict re-checked
//! by the independent exact checker in `axiom-certs`.

use axiom_certs::check::{check_counterexample, check_proof};
use axiom_prover::{verify, Verdict, VerifyOptions};
use std::path::PathBuf;
use std::time::Duration;

fn benchmarks() -> Option<PathBuf> {
    let dir = std::env::var_os("AXIOM_BENCHMARKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/benchmarks"
            ))
        });
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: benchmarks not found at {} (set AXIOM_BENCHMARKS)",
            dir.display()
        );
        None
    }
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

#[test]
#[ignore = "timing probe"]
fn probe_acas_check_time() {
    let Some(dir) = benchmarks() else { return };
    let t = std::time::Instant::now();
    let w = solve_and_check(
        &dir.join("acasxu/ACASXU_run2a_1_1_batch_2000.onnx"),
        &dir.join("acasxu/prop_1.vnnlib"),
        60.0,
    );
    eprintln!("{w} in {:?}", t.elapsed());
}

#[test]
#[ignore = "debug probe"]
fn probe_leaf() {
    use axiom_prover::ProofNode;
    let Some(dir) = benchmarks() else { return };
    let graph =
        axiom_core::load_model(&dir.join("acasxu/ACASXU_run2a_1_1_batch_2000.onnx")).unwrap();
    let property = axiom_core::vnnlib::load(&dir.join("acasxu/prop_1.vnnlib")).unwrap();
    let report = verify(&graph, &property, &VerifyOptions::default());
    let Verdict::Proved { evidence } = &report.verdict else {
        panic!()
    };
    let case = &evidence.cases[0];
    let (mut lo, mut hi) = (case.lower.clone(), case.upper.clone());
    let mut node = &case.root;
    for ch in "100000".chars() {
        let ProofNode::Split {
            dim,
            at,
            children,
            refutations,
        } = node
        else {
            panic!("leaf early")
        };
        eprintln!("split dim {dim} at {at}, refutations {refutations:?}");
        if ch == '0' {
            hi[*dim] = *at;
            node = &children[0];
        } else {
            lo[*dim] = *at;
            node = &children[1];
        }
    }
    eprintln!("box {lo:?} {hi:?}\nnode {node:?}");
    let problem = axiom_prover::Problem::new(&graph, &property).unwrap();
    let mut worst = f64::NEG_INFINITY;
    let mut state = 1u64;
    for _ in 0..200000 {
        let x: Vec<f64> = (0..5)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lo[i] + (hi[i] - lo[i]) * ((state >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        worst = worst.max(problem.net.eval(&x)[0]);
    }
    eprintln!("sampled max Y0 = {worst}");
    let obj = axiom_prover::bounds::Objectives {
        rows: ndarray::arr2(&[[-1.0, 0.0, 0.0, 0.0, 0.0]]),
    };
    let l = ndarray::Array2::from_shape_vec((1, 5), lo.clone()).unwrap();
    let h = ndarray::Array2::from_shape_vec((1, 5), hi.clone()).unwrap();
    let bb = axiom_prover::bounds::bound_batch(
        &problem.net,
        l.view(),
        h.view(),
        &obj,
        axiom_prover::bounds::Method::Crown,
    );
    eprintln!("engine lb(-Y0) = {}", bb.objective_lower[[0, 0]]);
    for (i, v) in bb.values.iter().enumerate() {
        eprintln!("engine value {i} width {}", (&v.upper - &v.lower).sum());
    }
    let ev = axiom_prover::Evidence {
        cases: vec![axiom_prover::CaseProof {
            case: 0,
            lower: lo.clone(),
            upper: hi.clone(),
            root: node.clone(),
        }],
    };
    let mut p2 = property.clone();
    for i in 0..5 {
        p2.cases[0].input.lower[i] = num_rational::BigRational::from_float(lo[i]).unwrap();
        p2.cases[0].input.upper[i] = num_rational::BigRational::from_float(hi[i]).unwrap();
    }
    eprintln!("{:?}", check_proof(&graph, &p2, &ev));
    let ib = axiom_prover::bounds::bound_batch(
        &problem.net,
        l.view(),
        h.view(),
        &obj,
        axiom_prover::bounds::Method::Interval,
    );
    eprintln!("ibp lb(-Y0) = {}", ib.objective_lower[[0, 0]]);
}
