//! The small networks bundled under `examples/models/`, built in code so that
//! anyone can regenerate them (`cargo run --example make_models`) and a test
//! can check that the committed files are exactly these networks.

use axiom_core::{Graph, GraphBuilder, Op};
use ndarray::{arr1, arr2, Array2};

/// XOR with one hidden ReLU layer: `y = relu(a + b) - 2 relu(a + b - 1)`.
/// On the corners of the unit square it returns 0, 1, 1, 0.
pub fn xor() -> Graph {
    let mut b = GraphBuilder::new("xor", "x", vec![2]);
    let h = b.push(
        "hidden",
        Op::Gemm {
            weight: arr2(&[[1.0, 1.0], [1.0, 1.0]]),
            bias: Some(arr1(&[0.0, -1.0])),
        },
        b.input(),
    );
    let r = b.push("hidden_relu", Op::Relu, h);
    let y = b.push(
        "out",
        Op::Gemm {
            weight: arr2(&[[1.0, -2.0]]),
            bias: None,
        },
        r,
    );
    b.finish(y)
        .expect("the XOR network is well formed by construction")
}

/// A small ACAS-Xu-shaped controller: input `[1, 5]` normalised by a mean,
/// three hidden ReLU layers of 16, five advisory scores out. Its weights come
/// from a fixed-seed generator (it is a demo of the pipeline, not a trained
/// controller).
pub fn mini_acas() -> Graph {
    let mut rng = SplitMix64(0x00ac_a5c0_ffee);
    let mut b = GraphBuilder::new("mini_acas", "x", vec![1, 5]);
    let mut v = b.push(
        "normalise",
        Op::Sub {
            c: arr2(&[[0.1f32, 0.0, 0.0, 0.2, 0.2]]).into_dyn(),
        },
        b.input(),
    );
    let widths = [5usize, 16, 16, 16, 5];
    for (i, w) in widths.windows(2).enumerate() {
        let (inp, out) = (w[0], w[1]);
        let scale = (2.0 / inp as f64).sqrt();
        let weight = Array2::from_shape_fn((out, inp), |_| rng.dyadic(scale));
        let bias = (0..out).map(|_| rng.dyadic(0.1)).collect();
        v = b.push(
            format!("fc{}", i + 1),
            Op::Gemm {
                weight,
                bias: Some(bias),
            },
            v,
        );
        if i + 2 < widths.len() {
            v = b.push(format!("relu{}", i + 1), Op::Relu, v);
        }
    }
    b.finish(v)
        .expect("the mini ACAS network is well formed by construction")
}

/// Every bundled model with its file name.
pub fn all() -> Vec<(&'static str, Graph)> {
    vec![("xor.onnx", xor()), ("mini_acas.onnx", mini_acas())]
}

/// The weights of the bundled softmax classifier that
/// `examples/specs/classifier.axiom` declares with inline layers
/// (`2 -> 8 -> relu -> 3 -> softmax`), as safetensors bytes: tensors
/// `fc1.weight` [8, 2], `fc1.bias` [8], `fc2.weight` [3, 8], `fc2.bias` [3].
pub fn classifier_weights() -> Vec<u8> {
    let mut rng = SplitMix64(0xc1a5_51f1);
    let mut tensor = |shape: Vec<usize>, scale: f64| {
        let n: usize = shape.iter().product();
        let bytes: Vec<u8> = (0..n)
            .flat_map(|_| rng.dyadic(scale).to_le_bytes())
            .collect();
        (shape, bytes)
    };
    let tensors = [
        ("fc1.weight", tensor(vec![8, 2], 1.0)),
        ("fc1.bias", tensor(vec![8], 0.5)),
        ("fc2.weight", tensor(vec![3, 8], 1.0)),
        ("fc2.bias", tensor(vec![3], 0.5)),
    ];
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, (shape, bytes))| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("shape and byte length agree by construction");
            (*name, view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialising in-memory tensors cannot fail")
}

/// A tiny deterministic generator (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `[-scale, scale]` rounded to a multiple of 2^-10, so that
    /// every weight has a short exact decimal form.
    fn dyadic(&mut self, scale: f64) -> f32 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (2.0 * u - 1.0) * scale;
        ((v * 1024.0).round() / 1024.0) as f32
    }
}
