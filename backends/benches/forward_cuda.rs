//! Forward-pass timing of the CUDA backend beside the CPU backend, on ACAS Xu.
//!
//! Runs `$AXIOM_BENCHMARKS/acasxu/ACASXU_run2a_1_1_batch_2000.onnx` (default
//! `AXIOM_BENCHMARKS`: `../shared/benchmarks` relative to the workspace root;
//! a synthetic network of the same shape when it is absent) at batch 1, 4096
//! and 1,048,576 on the CPU and on the GPU, in f32 (and f64 on the GPU), and
//! prints the median time per forward pass, samples/s and the achieved GEMM
//! throughput (the network's GEMM flops over the whole pass, copies
//! included); then cuBLAS's own throughput on the same GEMM shapes with the
//! operands already on the GPU, for comparison. Without a GPU it prints the
//! reason and exits 0.
//!
//! `cargo bench -p axiom-backends --features cuda --bench forward_cuda`

use std::time::{Duration, Instant};

use axiom_backends::{backend_by_name, Backend, CompiledModel, CpuBackend};
use axiom_core::{Graph, Op};
use ndarray::Array2;

mod common;
use common::{acasxu_onnx, synthetic_acasxu, Lcg};

/// The graph's GEMM shapes `(in, out)` per sample (its Gemm nodes on
/// single-row samples).
fn gemm_shapes(graph: &Graph) -> Vec<(usize, usize)> {
    graph
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Gemm { weight, .. } => Some((weight.ncols(), weight.nrows())),
            _ => None,
        })
        .collect()
}

/// Median of `iters` timed runs after one warm-up run.
fn median_time(mut f: impl FnMut() -> bool, iters: usize) -> Option<Duration> {
    if !f() {
        return None;
    }
    let mut times: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    Some(times[times.len() / 2])
}

fn row(label: &str, batch: usize, dtype: &str, t: Option<Duration>, flops_per_sample: f64) {
    match t {
        Some(t) => {
            let s = t.as_secs_f64();
            println!(
                "{label:<6} {batch:>9} {dtype:>5} {:>12.1} {:>14.0} {:>10.1}",
                s * 1e6,
                batch as f64 / s,
                flops_per_sample * batch as f64 / s / 1e9
            );
        }
        None => println!("{label:<6} {batch:>9} {dtype:>5}  failed"),
    }
}

fn main() {
    let gpu = match backend_by_name("cuda") {
        Ok(b) => b,
        Err(e) => {
            println!("skipped: cuda: {e}");
            return;
        }
    };
    println!(
        "device: {}",
        axiom_backends::cuda_probe().unwrap_or_default()
    );
    let onnx = acasxu_onnx();
    let (label, graph) = match axiom_core::load_model(&onnx) {
        Ok(g) => ("ACASXU_run2a_1_1", g),
        Err(e) => {
            println!(
                "{}: {e}; using a synthetic ACAS Xu-shaped network",
                onnx.display()
            );
            match synthetic_acasxu() {
                Ok(g) => ("synthetic", g),
                Err(e) => {
                    println!("synthetic network: {e}");
                    return;
                }
            }
        }
    };
    println!("model: {label}");
    let shapes = gemm_shapes(&graph);
    let flops: f64 = shapes.iter().map(|&(i, o)| 2.0 * (i * o) as f64).sum();
    let (cpu, gpu): (Box<dyn CompiledModel>, Box<dyn CompiledModel>) =
        match (CpuBackend.compile(&graph), gpu.compile(&graph)) {
            (Ok(c), Ok(g)) => (c, g),
            (Err(e), _) | (_, Err(e)) => {
                println!("cannot compile: {e}");
                return;
            }
        };
    println!(
        "{:<6} {:>9} {:>5} {:>12} {:>14} {:>10}",
        "where", "batch", "dtype", "median µs", "samples/s", "GEMM GF/s"
    );
    let mut rng = Lcg(42);
    for batch in [1usize, 4096, 1 << 20] {
        let n = cpu.input_len();
        let x32 = Array2::from_shape_vec((batch, n), rng.vec(batch * n))
            .unwrap_or_else(|_| Array2::zeros((batch, n)));
        let x64 = x32.mapv(f64::from);
        let iters = match batch {
            1 => 200,
            4096 => 20,
            _ => 3,
        };
        let t = median_time(|| cpu.run_f32(x32.view()).is_ok(), iters);
        row("cpu", batch, "f32", t, flops);
        let t = median_time(|| gpu.run_f32(x32.view()).is_ok(), iters);
        row("cuda", batch, "f32", t, flops);
        let t = median_time(|| gpu.run_f64(x64.view()).is_ok(), iters);
        row("cuda", batch, "f64", t, flops);
    }
    println!("cuBLAS sgemm on device-resident operands (rows x in -> out):");
    let mut seen = Vec::new();
    for &(n_in, n_out) in &shapes {
        if seen.contains(&(n_in, n_out)) {
            continue;
        }
        seen.push((n_in, n_out));
        for rows in [1usize, 4096, 1 << 20] {
            match axiom_backends::cuda::sgemm_throughput(rows, n_in, n_out, 20) {
                Ok(gflops) => {
                    println!("  {rows:>9} x {n_in:>3} -> {n_out:>3}: {gflops:>10.1} GF/s")
                }
                Err(e) => println!("  {rows:>9} x {n_in:>3} -> {n_out:>3}: {e}"),
            }
        }
    }
}
