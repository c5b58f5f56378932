//! Forward-pass timing of the CPU backend on ACAS Xu-shaped networks.
//!
//! Runs a synthetic ACAS Xu-shaped network (input `[1, 1, 1, 5]`, Sub of a
//! mean, Flatten, six Gemm+Relu layers of 50, a Gemm to 5) and, when it exists,
//! `$AXIOM_BENCHMARKS/acasxu/ACASXU_run2a_1_1_batch_2000.onnx` (default
//! `AXIOM_BENCHMARKS`: `../shared/benchmarks` relative to the workspace root).
//! Prints batch size, float type, median time per forward pass and samples/s;
//! with `AXIOM_BENCH_JSON=FILE` also writes them to FILE as a JSON array of
//! `{model, batch, dtype, median_us, samples_per_s}` (the benchmark suite,
//! `scripts/bench.sh`, reads it).
//!
//! `cargo bench -p axiom-backends --bench forward`

use std::time::{Duration, Instant};

use axiom_backends::{Backend, CompiledModel, CpuBackend};
use ndarray::Array2;

mod common;
use common::{acasxu_onnx, synthetic_acasxu, Lcg};

/// Median of `iters` timed runs after a warm-up.
fn median_time(mut f: impl FnMut(), iters: usize) -> Duration {
    for _ in 0..iters.div_ceil(5).max(2) {
        f();
    }
    let mut times: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// One measurement: model, batch, dtype, median time per pass.
type Row = (String, usize, &'static str, Duration);

fn bench_model(label: &str, model: &dyn CompiledModel, rows: &mut Vec<Row>) {
    let mut rng = Lcg(42);
    for batch in [1usize, 4096] {
        let x32 = Array2::from_shape_vec(
            (batch, model.input_len()),
            rng.vec(batch * model.input_len()),
        )
        .unwrap_or_else(|_| Array2::zeros((batch, model.input_len())));
        let x64 = x32.mapv(f64::from);
        let iters = if batch == 1 { 2000 } else { 50 };
        let t32 = median_time(
            || {
                std::hint::black_box(model.run_f32(x32.view()).ok());
            },
            iters,
        );
        let t64 = median_time(
            || {
                std::hint::black_box(model.run_f64(x64.view()).ok());
            },
            iters,
        );
        for (dtype, t) in [("f32", t32), ("f64", t64)] {
            rows.push((label.to_string(), batch, dtype, t));
            println!(
                "{label:<20} {batch:>6} {dtype:>5} {:>12.1} {:>14.0}",
                t.as_secs_f64() * 1e6,
                batch as f64 / t.as_secs_f64()
            );
        }
    }
}

fn main() {
    println!(
        "rayon threads: {}\n{:<20} {:>6} {:>5} {:>12} {:>14}",
        rayon::current_num_threads(),
        "model",
        "batch",
        "dtype",
        "median µs",
        "samples/s"
    );
    let mut rows = Vec::new();
    match synthetic_acasxu() {
        Ok(graph) => match CpuBackend.compile(&graph) {
            Ok(model) => bench_model("synthetic", model.as_ref(), &mut rows),
            Err(e) => println!("synthetic network: cannot compile: {e}"),
        },
        Err(e) => println!("synthetic network: cannot build: {e}"),
    }

    let onnx = acasxu_onnx();
    if !onnx.exists() {
        println!("{} not found; skipped", onnx.display());
    } else {
        match axiom_core::load_model(&onnx)
            .map_err(|e| e.to_string())
            .and_then(|g| CpuBackend.compile(&g).map_err(|e| e.to_string()))
        {
            Ok(model) => bench_model("ACASXU_run2a_1_1", model.as_ref(), &mut rows),
            Err(e) => println!("{}: {e}", onnx.display()),
        }
    }
    if let Some(path) = std::env::var_os("AXIOM_BENCH_JSON") {
        let json: Vec<serde_json::Value> = rows
            .iter()
            .map(|(model, batch, dtype, t)| {
                serde_json::json!({
                    "model": model,
                    "batch": batch,
                    "dtype": dtype,
                    "median_us": t.as_secs_f64() * 1e6,
                    "samples_per_s": *batch as f64 / t.as_secs_f64(),
                })
            })
            .collect();
        let text = serde_json::Value::Array(json).to_string();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!(
                "{}: cannot write: {e}",
                std::path::Path::new(&path).display()
            );
            std::process::exit(1);
        }
    }
}
