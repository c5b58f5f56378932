//! One parity suite for every backend: the same cases and tolerances run on
//! each backend [`available_backends`] lists, compared with the CPU backend
//! in f64.
//!
//! A backend that is unavailable on this machine (`cuda` without a GPU or
//! without the `cuda` feature) is *skipped*, not passed: the suite prints
//! `skipped: <backend>: <reason>` and the summary line counts it as skipped.
//! Set `AXIOM_REQUIRE_CUDA=1` on a machine with a GPU to make an unavailable
//! `cuda` backend a failure instead.
//!
//! Cases: random MLPs with every activation (Relu, Sigmoid, Tanh, Identity,
//! an ACAS-style Sub of a mean and Flatten), Gemm over leading axes,
//! broadcasting Add/Sub/Mul/Div, a CNN (Conv2d with padding, strides,
//! dilations and groups, BatchNorm, MaxPool, AveragePool, Softmax), Softmax
//! along a non-last axis, pools whose windows lie in the padding, reshapes,
//! dead nodes and an output that is the input, the DAGs of `dag.rs` (residual
//! sums, concatenations, values with several readers), transposes and pads
//! (and a network that pads, convolves and transposes); batches of 1, 7 and
//! 300.
//! Tolerances: f64 within `1e-9 (1 + |want|)` of the CPU's f64, f32 within
//! `1e-5 (1 + |want|)`. With the shared benchmarks present, every ACAS Xu
//! network's `reference_outputs.json` cases (onnxruntime, float32) within
//! `1e-5` relative (or `1e-6` absolute), in f32 and f64.

use axiom_backends::{available_backends, backend_by_name, BackendError, CompiledModel};
use axiom_core::{Graph, GraphBuilder, Op};
use ndarray::{Array1, Array2, ArrayD};

use crate::common::{cnn, dag_graphs, lcg, mlp, pad_conv_transpose, ACTIVATIONS};

/// A graph of one op on a sample of shape `shape`.
fn single(shape: Vec<usize>, op: Op) -> Graph {
    let mut b = GraphBuilder::new("t", "x", shape);
    let y = b.push("op", op, 0);
    b.finish(y).unwrap()
}

/// Every case: a name and a graph.
fn cases() -> Vec<(String, Graph)> {
    let acts = ACTIVATIONS;
    let mut cases = Vec::new();
    for seed in 0..8u64 {
        let widths: Vec<usize> = (0..1 + seed as usize % 4)
            .map(|i| 1 + (seed as usize * 7 + i * 13) % 40)
            .collect();
        let rotated: Vec<fn() -> Op> = (0..4).map(|i| acts[(i + seed as usize) % 4]).collect();
        cases.push((
            format!("mlp{seed}"),
            mlp(seed, 1 + seed as usize % 6, &widths, &rotated),
        ));
    }
    cases.push((
        "gemm_leading_axes".into(),
        single(
            vec![2, 3],
            Op::Gemm {
                weight: Array2::from_shape_vec((4, 3), lcg(20, 12)).unwrap(),
                bias: Some(Array1::from(lcg(21, 4))),
            },
        ),
    ));
    let c21 = ArrayD::from_shape_vec(vec![2, 1], vec![1.5, -10.0]).unwrap();
    cases.push((
        "sub_rows".into(),
        single(vec![2, 3], Op::Sub { c: c21.clone() }),
    ));
    cases.push(("mul_grows".into(), single(vec![3], Op::Mul { c: c21 })));
    cases.push((
        "div_vector".into(),
        single(
            vec![1, 4],
            Op::Div {
                c: ArrayD::from_shape_vec(vec![4], vec![2.0, 4.0, -0.5, 3.0]).unwrap(),
            },
        ),
    ));
    cases.push((
        "add_full".into(),
        single(
            vec![1, 1, 1, 5],
            Op::Add {
                c: ArrayD::from_shape_vec(vec![1, 1, 1, 5], lcg(22, 5)).unwrap(),
            },
        ),
    ));
    cases.push(("cnn".into(), cnn()));
    cases.push((
        "softmax_axis0".into(),
        single(vec![3, 4], Op::Softmax { axis: 0 }),
    ));
    cases.push((
        "maxpool_in_padding".into(),
        single(
            vec![1, 1, 2, 2],
            Op::MaxPool {
                kernel: [1, 1],
                strides: [1, 1],
                pads: [0, 0, 0, 2],
            },
        ),
    ));
    cases.push((
        "avgpool_in_padding".into(),
        single(
            vec![1, 1, 2, 2],
            Op::AveragePool {
                kernel: [1, 1],
                strides: [1, 1],
                pads: [2, 0, 2, 0],
                count_include_pad: false,
            },
        ),
    ));
    cases.push((
        "batchnorm_3d".into(),
        single(
            vec![2, 3, 4],
            Op::BatchNorm {
                scale: Array1::from(lcg(23, 3)),
                bias: Array1::from(lcg(24, 3)),
                mean: Array1::from(lcg(25, 3)),
                var: Array1::from(lcg(26, 3)).mapv(|v| v.abs() + 0.1),
                epsilon: 1e-3,
            },
        ),
    ));
    // Reshape then a Gemm; a dead node beside the output; output = input.
    let mut b = GraphBuilder::new("t", "x", vec![6]);
    let r = b.push("r", Op::Reshape { shape: vec![2, 3] }, 0);
    let relu = b.push("relu", Op::Relu, r);
    b.push("dead", Op::Sigmoid, relu);
    let y = b.push(
        "fc",
        Op::Gemm {
            weight: Array2::from_shape_vec((2, 3), lcg(27, 6)).unwrap(),
            bias: None,
        },
        relu,
    );
    cases.push(("reshape_dead_node".into(), b.finish(y).unwrap()));
    let mut b = GraphBuilder::new("t", "x", vec![3]);
    b.push("dead", Op::Relu, 0);
    cases.push(("output_is_input".into(), b.finish(0).unwrap()));
    // Transposes and pads (a gather on the GPU), one that moves nothing, and
    // a network that pads, convolves and transposes.
    for (name, shape, op) in [
        (
            "transpose_last_two",
            vec![1, 2, 3, 4],
            Op::Transpose {
                perm: vec![0, 1, 3, 2],
            },
        ),
        (
            "transpose_three",
            vec![2, 3, 4],
            Op::Transpose {
                perm: vec![2, 0, 1],
            },
        ),
        (
            "transpose_unit_axes",
            vec![1, 3, 1],
            Op::Transpose {
                perm: vec![2, 1, 0],
            },
        ),
        (
            "pad_two_axes",
            vec![2, 3, 4],
            Op::Pad {
                pads: vec![0, 1, 2, 0, 2, 1],
                value: -0.75,
            },
        ),
        (
            "pad_nothing",
            vec![2, 3],
            Op::Pad {
                pads: vec![0; 4],
                value: 1.0,
            },
        ),
    ] {
        cases.push((name.into(), single(shape, op)));
    }
    cases.push(("pad_conv_transpose".into(), pad_conv_transpose()));
    // Residual sums, Sub of two computed values, concatenations, values with
    // several readers.
    for (name, g) in dag_graphs() {
        cases.push((format!("dag_{name}"), g));
    }
    cases
}

/// `got` and `want` agree within `rel (1 + |want|)`; infinities and NaN
/// must match exactly.
fn agree(got: f64, want: f64, rel: f64) -> bool {
    if !want.is_finite() || !got.is_finite() {
        return got == want || (got.is_nan() && want.is_nan());
    }
    (got - want).abs() <= rel * (1.0 + want.abs())
}

/// Runs every case on `model`-making `backend`; `Err` names the first
/// disagreement.
fn check_backend(name: &str) -> Result<usize, String> {
    let backend = backend_by_name(name).map_err(|e| e.to_string())?;
    let cpu = backend_by_name("cpu").unwrap();
    let mut checked = 0;
    for (case, graph) in cases() {
        let reference = cpu.compile(&graph).unwrap();
        let model = backend
            .compile(&graph)
            .map_err(|e| format!("{name}: {case}: compile: {e}"))?;
        if model.output_shape() != reference.output_shape() {
            return Err(format!("{name}: {case}: output shape differs"));
        }
        for (i, batch) in [1usize, 7, 300].into_iter().enumerate() {
            let n = graph.input_len();
            let x = Array2::from_shape_vec((batch, n), lcg(1000 + i as u64, batch * n))
                .unwrap()
                .mapv(|v| 3.0 * v);
            compare(name, &case, model.as_ref(), reference.as_ref(), &x)?;
            checked += 1;
        }
    }
    Ok(checked)
}

fn compare(
    name: &str,
    case: &str,
    model: &dyn CompiledModel,
    reference: &dyn CompiledModel,
    x: &Array2<f32>,
) -> Result<(), String> {
    let x64 = x.mapv(f64::from);
    let want = reference.run_f64(x64.view()).unwrap();
    let y64 = model
        .run_f64(x64.view())
        .map_err(|e| format!("{name}: {case}: run_f64: {e}"))?;
    let y32 = model
        .run_f32(x.view())
        .map_err(|e| format!("{name}: {case}: run_f32: {e}"))?;
    if y64.dim() != want.dim() || y32.dim() != want.dim() {
        return Err(format!("{name}: {case}: output dimensions differ"));
    }
    for ((idx, &w), (&g64, &g32)) in want.indexed_iter().zip(y64.iter().zip(&y32)) {
        if !agree(g64, w, 1e-9) {
            return Err(format!(
                "{name}: {case} (batch {}): f64 output {idx:?} is {g64}, CPU f64 {w}",
                x.nrows()
            ));
        }
        if !agree(f64::from(g32), w, 1e-5) {
            return Err(format!(
                "{name}: {case} (batch {}): f32 output {idx:?} is {g32}, CPU f64 {w}",
                x.nrows()
            ));
        }
    }
    Ok(())
}

/// Prints the skip where a person sees it (straight to stderr: libtest
/// captures only the print macros), and fails instead when the GPU is
/// required.
fn skip(name: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {name}: {reason}");
    if name == "cuda" && std::env::var_os("AXIOM_REQUIRE_CUDA").is_some_and(|v| v != "0") {
        panic!("AXIOM_REQUIRE_CUDA is set but the cuda backend is unavailable: {reason}");
    }
}

#[test]
fn every_backend_matches_the_cpu() {
    let (mut passed, mut skipped) = (Vec::new(), Vec::new());
    for (name, status) in available_backends() {
        match status {
            Err(reason) => {
                skip(name, &reason);
                skipped.push(name);
            }
            Ok(()) => match check_backend(name) {
                Ok(n) => {
                    println!("parity: {name}: {n} case batches agree with the CPU backend");
                    passed.push(name);
                }
                Err(e) => panic!("{e}"),
            },
        }
    }
    eprintln!("parity: passed on {passed:?}; skipped (not passed) on {skipped:?}");
    assert!(passed.contains(&"cpu"));
}

/// The `cuda` backend alone. Without the `cuda` feature libtest reports it
/// as ignored (skipped); with the feature but without a GPU it prints
/// `skipped: cuda: <reason>`.
#[test]
#[cfg_attr(
    not(feature = "cuda"),
    ignore = "the cuda backend needs --features cuda and a GPU"
)]
fn cuda_matches_the_cpu() {
    match axiom_backends::cuda_probe() {
        Err(reason) => skip("cuda", &reason),
        Ok(device) => {
            let n = check_backend("cuda").unwrap_or_else(|e| panic!("{e}"));
            println!("parity: cuda ({device}): {n} case batches agree with the CPU backend");
        }
    }
}

/// `reference_outputs.json` and its folder, when the shared benchmarks exist.
fn reference_cases() -> Option<(std::path::PathBuf, serde_json::Value)> {
    let dir = axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    ))?;
    let file = dir.join("acasxu/reference_outputs.json");
    let Ok(text) = std::fs::read_to_string(&file) else {
        eprintln!("skipping: {} not found", file.display());
        return None;
    };
    Some((dir.join("acasxu"), serde_json::from_str(&text).unwrap()))
}

fn rows(v: &serde_json::Value) -> Vec<Vec<f64>> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn every_backend_matches_onnxruntime_on_acas_xu() {
    let Some((dir, reference)) = reference_cases() else {
        return;
    };
    let cases = reference["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 45);
    for (name, status) in available_backends() {
        if let Err(reason) = status {
            skip(name, &reason);
            continue;
        }
        let backend = backend_by_name(name).unwrap();
        let mut checked = 0;
        for (file, case) in cases {
            let graph = axiom_core::load_model(&dir.join(file)).unwrap();
            let model = backend.compile(&graph).unwrap();
            let inputs = rows(&case["inputs"]);
            let want = rows(&case["outputs"]);
            let x64 = Array2::from_shape_vec(
                (inputs.len(), inputs[0].len()),
                inputs.iter().flatten().copied().collect(),
            )
            .unwrap();
            let y64 = model.run_f64(x64.view()).unwrap();
            let y32 = model.run_f32(x64.mapv(|v| v as f32).view()).unwrap();
            for (r, row) in want.iter().enumerate() {
                for (c, &w) in row.iter().enumerate() {
                    for (dtype, g) in [("f64", y64[[r, c]]), ("f32", f64::from(y32[[r, c]]))] {
                        let ok = (g - w).abs() <= 1e-6 || (g - w).abs() <= 1e-5 * w.abs();
                        assert!(
                            ok,
                            "{name} {dtype}: {file} case {r} output {c}: {g}, onnxruntime {w}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 45 * 8 * 5 * 2);
        println!("parity: {name}: all 45 ACAS Xu networks match onnxruntime");
    }
}

#[test]
fn cuda_unavailable_is_a_clean_error() {
    // Whatever this machine has, asking twice never panics and agrees with
    // the probe.
    for _ in 0..2 {
        match axiom_backends::cuda_probe() {
            Err(reason) => {
                assert!(!reason.is_empty());
                match backend_by_name("cuda") {
                    Err(BackendError::Unavailable { backend, reason: r }) => {
                        assert_eq!(backend, "cuda");
                        assert_eq!(r, reason);
                    }
                    Err(e) => panic!("cuda: expected Unavailable, got {e}"),
                    Ok(_) => panic!("cuda: the probe failed but the backend was built"),
                }
                let status = available_backends();
                assert!(status.contains(&("cuda", Err(reason.clone()))));
            }
            Ok(device) => {
                assert!(!device.is_empty());
                assert_eq!(backend_by_name("cuda").unwrap().name(), "cuda");
                assert!(available_backends().contains(&("cuda", Ok(()))));
            }
        }
    }
}

#[cfg(not(feature = "cuda"))]
#[test]
fn without_the_feature_cuda_says_how_to_get_it() {
    let err = backend_by_name("cuda").err().unwrap();
    assert_eq!(
        err.to_string(),
        "backend 'cuda' is not available: this build has no CUDA support (build with --features cuda)"
    );
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::*;
    use axiom_backends::cuda::CudaBackend;
    use axiom_backends::Backend;

    /// The backend, or `None` with the skip printed.
    fn backend() -> Option<CudaBackend> {
        match CudaBackend::new() {
            Ok(b) => Some(b),
            Err(e) => {
                skip("cuda", &e.to_string());
                None
            }
        }
    }

    #[test]
    fn probe_names_the_missing_piece() {
        if let Err(reason) = axiom_backends::cuda_probe() {
            // Every reason says what is missing and what to do.
            let known = [
                "libcuda",
                "libcublas",
                "libnvrtc",
                "driver",
                "device",
                "NVRTC",
                "CUDA",
            ];
            assert!(known.iter().any(|k| reason.contains(k)), "{reason}");
            skip("cuda", &reason);
        }
    }

    #[test]
    fn small_memory_budget_streams_in_chunks() {
        let Some(gpu) = backend() else { return };
        let small = gpu.clone().with_memory_budget(1 << 12);
        for (case, graph) in cases() {
            let whole = gpu.compile(&graph).unwrap();
            let chunked = small.compile(&graph).unwrap();
            let n = graph.input_len();
            let x = Array2::from_shape_vec((513, n), lcg(77, 513 * n)).unwrap();
            let a = whole.run_f64(x.mapv(f64::from).view()).unwrap();
            let b = chunked.run_f64(x.mapv(f64::from).view()).unwrap();
            for (g, w) in b.iter().zip(&a) {
                assert!(agree(*g, *w, 1e-12), "{case}: chunked {g}, whole {w}");
            }
        }
    }

    #[test]
    fn wrong_widths_and_empty_batches() {
        let Some(gpu) = backend() else { return };
        let g = single(vec![1, 1, 1, 5], Op::Relu);
        let model = gpu.compile(&g).unwrap();
        assert!(matches!(
            model.run_f32(Array2::zeros((2, 4)).view()),
            Err(BackendError::InputLength {
                expected: 5,
                got: 4,
                ..
            })
        ));
        assert_eq!(
            model.run_f64(Array2::zeros((0, 5)).view()).unwrap().dim(),
            (0, 5)
        );
        // An empty output runs without touching the device.
        let g = single(
            vec![3],
            Op::Gemm {
                weight: Array2::zeros((0, 3)),
                bias: None,
            },
        );
        let model = gpu.compile(&g).unwrap();
        assert_eq!(
            model.run_f32(Array2::ones((4, 3)).view()).unwrap().dim(),
            (4, 0)
        );
    }
}
