//! What the forward-pass benchmarks share: a fixed-seed generator, the
//! synthetic ACAS Xu-shaped network, and where the real ACAS Xu network is.
#![allow(dead_code)] // each benchmark uses its own subset

use std::path::PathBuf;

use axiom_core::{Graph, GraphBuilder, Op};
use ndarray::{Array1, Array2, ArrayD};

/// A fixed-seed linear congruential generator: values in [-1, 1).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 23) as f32 - 1.0
    }

    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// ACAS Xu's shape: input `[1, 1, 1, 5]`, Sub of a mean, Flatten, six
/// Gemm+Relu layers of 50, a Gemm to 5; random weights.
pub fn synthetic_acasxu() -> Result<Graph, Box<dyn std::error::Error>> {
    let mut rng = Lcg(0x5eed);
    let mut b = GraphBuilder::new("acasxu-synthetic", "input", vec![1, 1, 1, 5]);
    let mean = ArrayD::from_shape_vec(vec![1, 1, 1, 5], rng.vec(5))?;
    let mut v = b.push("sub", Op::Sub { c: mean }, b.input());
    v = b.push("flatten", Op::Flatten { axis: 1 }, v);
    let mut width = 5;
    for layer in 0..7 {
        let out = if layer == 6 { 5 } else { 50 };
        let scale = (2.0 / width as f32).sqrt();
        let weight =
            Array2::from_shape_vec((out, width), rng.vec(out * width))?.mapv(|w| w * scale);
        let bias = Array1::from(rng.vec(out)).mapv(|w| 0.1 * w);
        v = b.push(
            format!("gemm{layer}"),
            Op::Gemm {
                weight,
                bias: Some(bias),
            },
            v,
        );
        if layer < 6 {
            v = b.push(format!("relu{layer}"), Op::Relu, v);
        }
        width = out;
    }
    Ok(b.finish(v)?)
}

/// `$AXIOM_BENCHMARKS/acasxu/ACASXU_run2a_1_1_batch_2000.onnx` (default
/// `AXIOM_BENCHMARKS`: `../shared/benchmarks`; a relative path is taken
/// relative to the workspace root).
pub fn acasxu_onnx() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let benchmarks = root.join(
        std::env::var_os("AXIOM_BENCHMARKS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared/benchmarks")),
    );
    benchmarks.join("acasxu/ACASXU_run2a_1_1_batch_2000.onnx")
}
