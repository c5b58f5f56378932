//! End-to-end tests of the `axiom` binary on real models: the bundled
//! examples always, the shared benchmark set when it is present.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{axiom, example, p, stderr, stdout};

fn benchmarks() -> Option<PathBuf> {
    axiom_ml::core::benchmarks_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/benchmarks"))
}

/// A file of the benchmark set, or `None` (with the reason printed) when the
/// set or that file is absent.
fn benchmark_file(rel: &str) -> Option<PathBuf> {
    let path = benchmarks()?.join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} not found", path.display());
        None
    }
}

/// Exit code 2, the message names `place`, and nothing panicked.
fn assert_bad_input(o: &Output, place: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for want in place {
        assert!(err.contains(want), "stderr lacks {want:?}: {err}");
    }
}

#[test]
fn bundled_models_are_what_the_generator_builds() {
    for (name, graph) in axiom_ml::demo::all() {
        let path = example(&format!("models/{name}"));
        let loaded = axiom_ml::core::load_model(Path::new(&path))
            .unwrap_or_else(|e| panic!("{e}\n(run `cargo run --example make_models`)"));
        assert_eq!(loaded.digest(), graph.digest(), "{name} is stale");
    }
    let weights = std::fs::read(example("models/classifier.safetensors"))
        .expect("run `cargo run --example make_models`");
    assert!(
        weights == axiom_ml::demo::classifier_weights(),
        "classifier.safetensors is stale"
    );
}

#[test]
fn run_xor_on_a_batch() {
    let o = axiom(&[
        "run",
        &example("models/xor.onnx"),
        "--input",
        "[[0, 0], [0, 1], [1, 0], [1, 1]]",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "[[0.0],[1.0],[1.0],[0.0]]");
    let o = axiom(&[
        "run",
        &example("models/xor.onnx"),
        "--input",
        "[1, 0]",
        "--precision",
        "f64",
    ]);
    assert_eq!(stdout(&o).trim(), "[1.0]");
}

#[test]
fn info_describes_model_and_property() {
    let o = axiom(&["info", &example("models/mini_acas.onnx")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let digest = axiom_ml::demo::mini_acas().digest().to_string();
    assert!(out.contains(&format!("sha256:{digest}")), "{out}");
    assert!(out.contains("fc1") && out.contains("relu3"), "{out}");
    assert!(
        out.contains(&format!(
            "params  {}",
            5 + 5 * 16 + 16 + 2 * (16 * 16 + 16) + 16 * 5 + 5
        )),
        "{out}"
    );

    let o = axiom(&["info", &example("properties/xor_low.vnnlib")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("X_0") && out.contains("Y_0"), "{out}");
}

#[test]
fn acas_xu_matches_onnxruntime() {
    let Some(reference) = benchmark_file("acasxu/reference_outputs.json") else {
        return;
    };
    let dir = reference.parent().unwrap().parent().unwrap().to_path_buf();
    let text = std::fs::read_to_string(&reference).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = reference["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 45);
    let mut checked = 0;
    for (file, case) in cases {
        let inputs = serde_json::to_string(&case["inputs"]).unwrap();
        let o = axiom(&["run", p(&dir.join("acasxu").join(file)), "--input", &inputs]);
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        let got: Vec<Vec<f64>> = serde_json::from_str(&stdout(&o)).unwrap();
        let want: Vec<Vec<f64>> = serde_json::from_value(case["outputs"].clone()).unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            let ok = (g - w).abs() <= 1e-6 || (g - w).abs() <= 1e-5 * w.abs();
            assert!(ok, "{file}: got {g}, onnxruntime {w}");
            checked += 1;
        }
    }
    assert_eq!(checked, 45 * 8 * 5);
}

#[test]
fn tiny_benchmarks_run_and_describe() {
    let Some(dir) = benchmarks() else { return };
    for name in [
        "test_nano",
        "test_tiny",
        "test_small",
        "test_sat",
        "test_unsat",
    ] {
        let model = dir.join(format!("tiny/{name}.onnx"));
        let o = axiom(&["info", p(&model)]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(stdout(&o).contains("Relu"), "{name}: {}", stdout(&o));
        let n = axiom_ml::core::load_model(&model).unwrap().input_len();
        let input = serde_json::to_string(&vec![0.25; n]).unwrap();
        let o = axiom(&["run", p(&model), "--input", &input]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out: Vec<f64> = serde_json::from_str(&stdout(&o)).unwrap();
        assert!(!out.is_empty() && out.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn bad_onnx_files() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read(example("models/mini_acas.onnx")).unwrap();
    let truncated = tmp.path().join("truncated.onnx");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    assert_bad_input(
        &axiom(&["info", p(&truncated)]),
        &["truncated.onnx", "not a valid ONNX"],
    );

    let random = tmp.path().join("random.onnx");
    let bytes: Vec<u8> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&random, bytes).unwrap();
    assert_bad_input(
        &axiom(&["run", p(&random), "--input", "[1]"]),
        &["random.onnx"],
    );

    // A valid model with an op Axiom does not support.
    use onnx_protobuf::{Message, ModelProto, NodeProto};
    let mut model = ModelProto::parse_from_bytes(&good).unwrap();
    let graph = model.graph.as_mut().unwrap();
    let mut node = NodeProto::new();
    node.name = "gru_7".into();
    node.op_type = "GRU".into();
    node.input.push(graph.output[0].name.clone());
    node.output.push("gru_out".into());
    graph.node.push(node);
    graph.output[0].name = "gru_out".into();
    let unsupported = tmp.path().join("unsupported.onnx");
    std::fs::write(&unsupported, model.write_to_bytes().unwrap()).unwrap();
    assert_bad_input(
        &axiom(&["info", p(&unsupported)]),
        &[
            "unsupported.onnx",
            "node 'gru_7' (GRU)",
            "unsupported op 'GRU'",
        ],
    );
}

#[test]
fn bad_vnnlib_files() {
    let tmp = tempfile::tempdir().unwrap();
    let unbalanced = tmp.path().join("unbalanced.vnnlib");
    std::fs::write(
        &unbalanced,
        "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1)\n(assert (>= X_0 0))\n(assert (>= Y_0 1))\n",
    )
    .unwrap();
    assert_bad_input(
        &axiom(&["info", p(&unbalanced)]),
        &["unbalanced.vnnlib", "line 3"],
    );

    let undeclared = tmp.path().join("undeclared.vnnlib");
    std::fs::write(
        &undeclared,
        "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (>= Y_1 1))\n",
    )
    .unwrap();
    assert_bad_input(
        &axiom(&["info", p(&undeclared)]),
        &["undeclared.vnnlib", "line 5", "Y_1"],
    );
}

#[test]
fn nnet_with_a_missing_row() {
    let Some(nnet) = benchmark_file("acasxu-nnet/ACASXU_experimental_v2a_1_1.nnet") else {
        return;
    };
    let text = std::fs::read_to_string(nnet).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Drop the last line (a bias of the output layer): the file ends early.
    let cut = lines[..lines.len() - 1].join("\n");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("short.nnet");
    std::fs::write(&path, cut).unwrap();
    assert_bad_input(&axiom(&["info", p(&path)]), &["short.nnet", "line"]);
}

/// `axiom info --backends` lists every backend; without a GPU (or without
/// the `cuda` feature) every `--backend cuda` stops before any work with
/// exit code 2 and the reason.
#[test]
fn backends_are_listed_and_an_unavailable_gpu_is_refused() {
    let o = axiom(&["info", "--backends"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines().any(|l| l.starts_with("cpu   available: ")),
        "{out}"
    );
    let cuda = out
        .lines()
        .find(|l| l.starts_with("cuda"))
        .expect("a cuda line");
    match axiom_ml::backends::cuda_probe() {
        Ok(device) => assert_eq!(cuda, format!("cuda  available: {device}")),
        Err(reason) => assert_eq!(cuda, format!("cuda  unavailable: {reason}")),
    }
    // A path and --backends together: both.
    let o = axiom(&["info", "--backends", &example("models/xor.onnx")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("cpu   available") && stdout(&o).contains("xor"));
    assert_bad_input(&axiom(&["info"]), &["<PATH>"]);

    let model = example("models/xor.onnx");
    let prop = example("properties/xor_high.vnnlib");
    let tmp = tempfile::tempdir().unwrap();
    let result = tmp.path().join("result.txt");
    assert_bad_input(
        &axiom(&["verify", &model, &prop, "--backend", "tpu"]),
        &["unknown backend 'tpu'", "cpu, cuda"],
    );
    if let Err(reason) = axiom_ml::backends::cuda_probe() {
        let o = axiom(&[
            "verify",
            &model,
            &prop,
            "--backend",
            "cuda",
            "--result",
            p(&result),
        ]);
        assert_bad_input(&o, &["backend 'cuda' is not available", &reason]);
        assert!(stdout(&o).is_empty(), "no verdict: {}", stdout(&o));
        assert!(!result.exists(), "nothing written before the refusal");
        let csv = tmp.path().join("instances.csv");
        std::fs::write(&csv, format!("{model},{prop},10\n")).unwrap();
        assert_bad_input(
            &axiom(&["vnncomp", p(&csv), "--backend", "cuda"]),
            &["backend 'cuda' is not available"],
        );
    }
}

#[test]
fn wrong_input_length_and_unknown_backend() {
    let model = example("models/mini_acas.onnx");
    assert_bad_input(
        &axiom(&["run", &model, "--input", "[1, 2, 3]"]),
        &["--input", "has 3 values", "expects 5"],
    );
    assert_bad_input(
        &axiom(&["run", &model, "--input", "[[1, 2, 3, 4, 5], [1, 2]]"]),
        &["sample 1"],
    );
    assert_bad_input(
        &axiom(&["run", &model, "--input", "[1, 2"]),
        &["not valid JSON"],
    );
    if axiom_ml::backends::cuda_probe().is_err() {
        assert_bad_input(
            &axiom(&["run", &model, "--input", "[1,2,3,4,5]", "--backend", "cuda"]),
            &["cuda"],
        );
    }
    assert_bad_input(
        &axiom(&["info", "/nonexistent/model.onnx"]),
        &["/nonexistent/model.onnx"],
    );
    assert_bad_input(&axiom(&["frobnicate"]), &[]);
}

#[test]
fn nnet_agrees_with_onnx() {
    use axiom_ml::backends::{cpu::CpuBackend, Backend};
    let Some(nnet_dir) = benchmark_file("acasxu-nnet") else {
        return;
    };
    let dir = nnet_dir.parent().unwrap().to_path_buf();
    for id in ["1_1", "2_7", "5_9"] {
        let nnet = axiom_ml::core::load_model(
            &dir.join(format!("acasxu-nnet/ACASXU_experimental_v2a_{id}.nnet")),
        )
        .unwrap();
        let onnx = axiom_ml::core::load_model(
            &dir.join(format!("acasxu/ACASXU_run2a_{id}_batch_2000.onnx")),
        )
        .unwrap();
        let a = CpuBackend.compile(&nnet).unwrap();
        let b = CpuBackend.compile(&onnx).unwrap();
        // The ONNX network subtracts its mean input first; the NNet network
        // takes the already-normalised input. Feed both the same normalised
        // input: x_onnx = x_nnet + mean.
        let mean = match &onnx.nodes[0].op {
            axiom_ml::core::Op::Sub { c } => c.iter().map(|&v| v as f64).collect::<Vec<f64>>(),
            other => panic!("expected Sub first, got {}", other.kind()),
        };
        let mut state = 7u64;
        let n = 256;
        let xs = ndarray::Array2::from_shape_fn((n, 5), |_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        });
        let shifted = ndarray::Array2::from_shape_fn((n, 5), |(i, j)| xs[[i, j]] + mean[j]);
        let ya = a.run_f64(xs.view()).unwrap();
        let yb = b.run_f64(shifted.view()).unwrap();
        let worst = ya
            .iter()
            .zip(yb.iter())
            .map(|(u, v)| (u - v).abs())
            .fold(0.0f64, f64::max);
        assert!(worst < 1e-6, "{id}: NNet and ONNX differ by {worst}");
    }
}

/// Runs `axiom ARGS...` with its stdout a pipe whose reader is already
/// closed, as in `axiom ... | head -0`.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    crate::common::axiom_command()
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn every_command_ends_quietly_when_its_output_pipe_closes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let model = example("models/xor.onnx");
    let low = example("properties/xor_low.vnnlib");
    let high = example("properties/xor_high.vnnlib");
    let spec = example("specs/xor.axiom");
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["info", &model], 0),
        (vec!["info", &low], 0),
        (vec!["info", &spec], 0),
        (vec!["info", &model, "--format", "json"], 0),
        (vec!["info", "--backends"], 0),
        (vec!["run", &model, "--input", "[[0, 0], [1, 0]]"], 0),
        (vec!["verify", &model, &low], 0),
        (vec!["verify", &model, &high], 1),
        (vec!["check", &spec, "--format", "json"], 0),
        (vec!["audit", "show", "--log", p(&log)], 0),
        (vec!["audit", "verify", "--log", p(&log)], 0),
        (vec!["--help"], 0),
        (vec!["check", "--help"], 0),
        (vec!["--version"], 0),
    ];
    for (args, code) in cases {
        let mut all = vec!["--audit-log", p(&log)];
        all.extend(&args);
        let o = with_closed_stdout(&all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "axiom {args:?}: {err}");
        assert!(!err.contains("panicked"), "axiom {args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "axiom {args:?}: {err}");
    }
    // The audited commands still wrote their records.
    let (records, report) = axiom_audit::read_records(&log).unwrap();
    assert!(report.is_ok());
    assert_eq!(records.len(), 3);
}

#[test]
fn output_that_cannot_be_written_is_an_error_not_a_silent_loss() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipping: no /dev/full here");
        return;
    }
    let o = crate::common::axiom_command()
        .args(["info", &example("models/xor.onnx")])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_bad_input(&o, &["cannot write to standard output", "incomplete"]);
}

#[test]
fn outputs_beyond_float_range_are_reported_never_printed_as_null() {
    use axiom_ml::core::{GraphBuilder, Op};
    // y = [1e30 x, -1e30 x]: overflows float32 for |x| > 3.4e8.
    let mut b = GraphBuilder::new("big", "x", vec![1]);
    let y = b.push(
        "scale",
        Op::Gemm {
            weight: ndarray::arr2(&[[1e30], [-1e30]]),
            bias: None,
        },
        b.input(),
    );
    let graph = b.finish(y).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("big.onnx");
    axiom_ml::core::onnx::save(&graph, &model).unwrap();
    let m = p(&model);
    // In range: printed, float32 outputs with the digits float32 has.
    let o = axiom(&["run", m, "--input", "[1]"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "[1e+30,-1e+30]");
    // float32 overflow, in the second sample of a batch: named, exit 2.
    let o = axiom(&["run", m, "--input", "[[1], [1e10]]"]);
    assert_bad_input(
        &o,
        &[
            m,
            "output `scale` element 0 of sample 2 is +inf",
            "float32",
            "--precision f64",
        ],
    );
    assert_eq!(stdout(&o), "", "nothing printed");
    let o = axiom(&["run", m, "--input", "[-1e10]"]);
    assert_bad_input(&o, &["element 0 is -inf"]);
    // The same input in float64 is in range.
    let o = axiom(&["run", m, "--input", "[1e10]", "--precision", "f64"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "[1.0000000150474662e+40,-1.0000000150474662e+40]"
    );
    // float64 overflow and NaN.
    let o = axiom(&["run", m, "--input", "[1e300]", "--precision", "f64"]);
    assert_bad_input(&o, &["is +inf", "float64"]);
    // XOR computes inf - inf here: NaN.
    let xor = example("models/xor.onnx");
    let o = axiom(&["run", &xor, "--input", "[3.4e38, 3.4e38]"]);
    assert_bad_input(&o, &["output `out` element 0 is NaN"]);
}

#[test]
fn endless_files_are_refused_not_read_forever() {
    if !Path::new("/dev/zero").exists() {
        eprintln!("skipping: no /dev/zero here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let link = |name: &str| {
        let path = dir.path().join(name);
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        path.to_str().unwrap().to_string()
    };
    let (model, prop, spec, cert) = (
        link("z.onnx"),
        link("z.vnnlib"),
        link("z.axiom"),
        link("z.cert"),
    );
    let xor = example("models/xor.onnx");
    let cases: Vec<Vec<&str>> = vec![
        vec!["info", &model],
        vec!["info", &prop],
        vec!["info", &spec],
        vec!["info", &cert],
        vec!["verify", &model, &prop],
        vec!["verify", &xor, &prop],
        vec!["run", &model, "--input", "[1]"],
        vec!["check", &spec],
        vec!["cert", "show", &cert],
    ];
    for args in cases {
        let mut child = crate::common::axiom_command()
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A deadline, so that a regression fails instead of hanging CI.
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > std::time::Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("axiom {args:?} still reads after 60 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "axiom {args:?}: {err}");
        assert!(
            err.contains("not a regular file") || err.contains("not a .axiom file"),
            "axiom {args:?}: {err}"
        );
    }
}
