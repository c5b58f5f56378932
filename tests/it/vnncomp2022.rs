//! A small fixed sample of each VNN-COMP 2022 category of the shared
//! benchmarks, end to end through `axiom vnncomp --recheck` on the files as
//! the competition ships them (`.onnx.gz`, `.vnnlib.gz`): the instances the
//! engine decides in well under a second are decided and agree with the
//! ground truth (every verdict re-checked exactly); the categories it cannot
//! decide yet still run (no import error) and end as `timeout` or `unknown`,
//! never a wrong answer (the CIFAR ResNet of `sri_resnet_a` included). The whole of
//! each category, with timings, is the bench tier's (`scripts/bench.sh`).

use std::path::{Path, PathBuf};

use crate::common::{axiom, p, stderr, stdout};

fn category(name: &str) -> Option<PathBuf> {
    let dir = axiom_ml::core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/benchmarks"
    ))?
    .join("vnncomp2022")
    .join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

/// One instance: model, property (relative to the category) and the
/// expected result.
type Row<'a> = (&'a str, &'a str, &'a str);

/// Runs `axiom vnncomp --recheck` on `rows` (`onnx,vnnlib,expected`, paths
/// relative to the category) with a `cap` in seconds; returns the exit code
/// and each row's (result, agrees, detail).
fn run(dir: &Path, rows: &[Row], cap: &str) -> (i32, Vec<[String; 3]>) {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("instances.csv");
    let mut text = String::from("onnx,vnnlib,timeout_s,expected\n");
    for (onnx, vnnlib, expected) in rows {
        text.push_str(&format!(
            "{},{},60,{expected}\n",
            dir.join(onnx).display(),
            dir.join(vnnlib).display()
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let out = tmp.path().join("results.csv");
    let o = axiom(&[
        "vnncomp",
        p(&csv),
        "--timeout-cap",
        cap,
        "--recheck",
        "--out",
        p(&out),
    ]);
    let mut reader = csv::Reader::from_path(&out)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", stdout(&o), stderr(&o)));
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            [2, 5, 6].map(|i| r.get(i).unwrap_or("").to_string())
        })
        .collect();
    (o.status.code().unwrap(), rows)
}

#[test]
fn decided_instances_agree_with_the_ground_truth() {
    let cases: [(&str, &[Row]); 4] = [
        (
            // 398 of the 400 inputs fixed to decimals no f64 equals.
            "collins_rul_cnn",
            &[(
                "onnx/NN_rul_small_window_20.onnx.gz",
                "vnnlib/robustness_2perturbations_delta40_epsilon10_w20.vnnlib.gz",
                "sat",
            )],
        ),
        (
            "rl_benchmarks",
            &[
                (
                    "onnx/cartpole.onnx.gz",
                    "vnnlib/cartpole_case_unsafe_0.vnnlib.gz",
                    "unsat",
                ),
                (
                    "onnx/cartpole.onnx.gz",
                    "vnnlib/cartpole_case_unsafe_10.vnnlib.gz",
                    "unsat",
                ),
            ],
        ),
        (
            "reach_prob_density",
            &[
                ("onnx/vdp.onnx.gz", "vnnlib/vdp_0.vnnlib.gz", "unsat"),
                ("onnx/gcas.onnx.gz", "vnnlib/gcas_6.vnnlib.gz", "sat"),
            ],
        ),
        (
            "tllverifybench",
            &[(
                "onnx/tllBench_n=2_N=M=8_m=1_instance_0_0.onnx.gz",
                "vnnlib/property_N=8_0.vnnlib.gz",
                "sat",
            )],
        ),
    ];
    for (name, rows) in cases {
        let Some(dir) = category(name) else { return };
        let (code, results) = run(&dir, rows, "60");
        assert_eq!(code, 0, "{name}: {results:?}");
        for (row, [result, agrees, detail]) in rows.iter().zip(&results) {
            assert_eq!(
                (result.as_str(), agrees.as_str()),
                (row.2, "yes"),
                "{name} {row:?}: {detail}"
            );
        }
    }
}

#[test]
fn undecided_categories_run_end_to_end_without_a_wrong_answer() {
    let cases: [(&str, Row); 4] = [
        (
            // A 12800 x 7200 convolution, held by its non-zero entries.
            "collins_rul_cnn",
            (
                "onnx/NN_rul_full_window_40.onnx.gz",
                "vnnlib/robustness_2perturbations_delta40_epsilon10_w40.vnnlib.gz",
                "unsat",
            ),
        ),
        (
            // The CIFAR ResNet: residual sums of computed values.
            "sri_resnet_a",
            (
                "onnx/resnet_3b2_bn_mixup_adv_4.0_bs128_lr-1.onnx.gz",
                "vnnlib/cifar10_spec_idx_1551_eps_0.00198.vnnlib.gz",
                "sat",
            ),
        ),
        (
            "collins_rul_cnn",
            (
                "onnx/NN_rul_small_window_20.onnx.gz",
                "vnnlib/if_then_7levels_w20.vnnlib.gz",
                "unsat",
            ),
        ),
        (
            "mnist_fc",
            (
                "onnx/mnist-net_256x2.onnx.gz",
                "vnnlib/prop_0_0.03.vnnlib.gz",
                "unsat",
            ),
        ),
    ];
    for (name, row) in cases {
        let Some(dir) = category(name) else { return };
        // A short cap: what is tested is that it loads and runs, not speed.
        let (code, results) = run(&dir, &[row], "1");
        assert_eq!(code, 0, "{name}: {results:?}");
        let [result, agrees, detail] = &results[0];
        assert!(
            ["timeout", "unknown", row.2].contains(&result.as_str()),
            "{name}: {result} {detail}"
        );
        assert_ne!(agrees, "no", "{name}: {result} {detail}");
    }
}
