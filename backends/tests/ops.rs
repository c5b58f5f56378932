//! End-to-end tests of the public backend API: batches against single
//! samples, float32 against float64, errors.

use axiom_backends::{available_backends, backend_by_name, Backend, BackendError, CpuBackend};
use axiom_core::{Graph, GraphBuilder, Op};
use ndarray::{Array1, Array2, Array4, ArrayD};
use proptest::prelude::*;

/// Deterministic pseudo-random values in [-1, 1).
fn lcg(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32) / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// The activations a random net may use between its Gemm layers.
const ACTIVATIONS: [fn() -> Op; 4] = [|| Op::Relu, || Op::Sigmoid, || Op::Tanh, || Op::Identity];

/// A random MLP: optional Sub of a mean on an ACAS-style `[1, 1, 1, n]` input
/// and Flatten, then Gemm layers of the given widths, each followed by the
/// activation `acts[i] % 4` (only Relu when `relu_only`).
fn random_net(seed: u64, input: usize, widths: &[usize], acts: &[usize], relu_only: bool) -> Graph {
    let acas = seed % 2 == 0;
    let shape = if acas {
        vec![1, 1, 1, input]
    } else {
        vec![input]
    };
    let mut b = GraphBuilder::new("random", "x", shape);
    let mut v = b.input();
    if acas {
        let mean = ArrayD::from_shape_vec(vec![1, 1, 1, input], lcg(seed + 1, input)).unwrap();
        v = b.push("sub", Op::Sub { c: mean }, v);
        v = b.push("flatten", Op::Flatten { axis: 1 }, v);
    }
    let mut width = input;
    for (i, &out) in widths.iter().enumerate() {
        let weight =
            Array2::from_shape_vec((out, width), lcg(seed + 10 + i as u64, out * width)).unwrap();
        let bias = (i % 2 == 0).then(|| Array1::from(lcg(seed + 100 + i as u64, out)));
        v = b.push(format!("fc{i}"), Op::Gemm { weight, bias }, v);
        let act = if relu_only {
            Op::Relu
        } else {
            ACTIVATIONS[acts[i] % 4]()
        };
        v = b.push(format!("act{i}"), act, v);
        width = out;
    }
    b.finish(v).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

/// Runs `graph` on the whole batch and on each row alone, in f32 and f64,
/// and checks the rows agree.
fn check_batch_matches_rows(graph: &Graph, x: &Array2<f32>) {
    let model = CpuBackend.compile(graph).unwrap();
    let x64 = x.mapv(f64::from);
    let y32 = model.run_f32(x.view()).unwrap();
    let y64 = model.run_f64(x64.view()).unwrap();
    assert_eq!(y32.dim(), (x.nrows(), model.output_len()));
    for i in 0..x.nrows() {
        let r32 = model.run_f32(x.slice(ndarray::s![i..i + 1, ..])).unwrap();
        let r64 = model.run_f64(x64.slice(ndarray::s![i..i + 1, ..])).unwrap();
        for j in 0..model.output_len() {
            assert_eq!(y32[[i, j]].to_bits(), r32[[0, j]].to_bits(), "f32 row {i}");
            assert_eq!(y64[[i, j]].to_bits(), r64[[0, j]].to_bits(), "f64 row {i}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn batch_equals_per_sample(
        seed in 0u64..1000,
        input in 1usize..8,
        widths in prop::collection::vec(1usize..300, 1..4),
        batch in 1usize..300,
    ) {
        let acts = vec![0; widths.len()];
        let g = random_net(seed, input, &widths, &acts, true);
        let x = Array2::from_shape_vec((batch, g.input_len()), lcg(seed + 7, batch * g.input_len()))
            .unwrap()
            .mapv(|v| 4.0 * v);
        check_batch_matches_rows(&g, &x);
    }

    #[test]
    fn f32_and_f64_agree(
        seed in 0u64..1000,
        input in 1usize..8,
        widths in prop::collection::vec(1usize..16, 1..5),
        acts in prop::collection::vec(0usize..4, 4),
        batch in 1usize..200,
    ) {
        let g = random_net(seed, input, &widths, &acts, false);
        let model = backend_by_name("cpu").unwrap().compile(&g).unwrap();
        let x = Array2::from_shape_vec((batch, g.input_len()), lcg(seed + 3, batch * g.input_len()))
            .unwrap();
        let y32 = model.run_f32(x.view()).unwrap();
        let y64 = model.run_f64(x.mapv(f64::from).view()).unwrap();
        for (a, b) in y32.iter().zip(&y64) {
            prop_assert!(close(f64::from(*a), *b, 1e-5), "f32 {a} vs f64 {b}");
        }
    }
}

/// A small CNN using every op the MLPs above do not.
fn conv_net() -> Graph {
    let mut b = GraphBuilder::new("cnn", "x", vec![1, 2, 8, 8]);
    let mut v = b.push(
        "norm",
        Op::Div {
            c: ArrayD::from_shape_vec(vec![2, 1, 1], vec![0.5, 2.0]).unwrap(),
        },
        0,
    );
    v = b.push(
        "conv1",
        Op::Conv2d {
            weight: Array4::from_shape_vec((4, 2, 3, 3), lcg(1, 72)).unwrap(),
            bias: Some(Array1::from(lcg(2, 4))),
            strides: [1, 1],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
            group: 1,
        },
        v,
    );
    v = b.push(
        "bn",
        Op::BatchNorm {
            scale: Array1::from(lcg(3, 4)),
            bias: Array1::from(lcg(4, 4)),
            mean: Array1::from(lcg(5, 4)),
            var: Array1::from(lcg(6, 4)).mapv(|v| v.abs() + 0.5),
            epsilon: 1e-5,
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    v = b.push(
        "pool",
        Op::MaxPool {
            kernel: [2, 2],
            strides: [2, 2],
            pads: [0; 4],
        },
        v,
    );
    v = b.push(
        "conv2",
        Op::Conv2d {
            weight: Array4::from_shape_vec((4, 2, 3, 3), lcg(7, 72)).unwrap(),
            bias: None,
            strides: [2, 2],
            pads: [1, 0, 1, 1],
            dilations: [1, 1],
            group: 2,
        },
        v,
    );
    v = b.push(
        "avg",
        Op::AveragePool {
            kernel: [2, 2],
            strides: [1, 1],
            pads: [1, 1, 0, 0],
            count_include_pad: false,
        },
        v,
    );
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    let n: usize = cnn_prefix().output_shape().unwrap().iter().product();
    v = b.push(
        "fc",
        Op::Gemm {
            weight: Array2::from_shape_vec((3, n), lcg(8, 3 * n)).unwrap(),
            bias: Some(Array1::from(lcg(9, 3))),
        },
        v,
    );
    v = b.push("softmax", Op::Softmax { axis: 1 }, v);
    b.finish(v).unwrap()
}

/// The CNN's shape-changing layers up to its Flatten (zero weights), to
/// size the final Gemm by shape inference.
fn cnn_prefix() -> Graph {
    let mut b = GraphBuilder::new("cnn", "x", vec![1, 2, 8, 8]);
    let mut v = b.push(
        "conv1",
        Op::Conv2d {
            weight: Array4::zeros((4, 2, 3, 3)),
            bias: None,
            strides: [1, 1],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
            group: 1,
        },
        0,
    );
    v = b.push(
        "pool",
        Op::MaxPool {
            kernel: [2, 2],
            strides: [2, 2],
            pads: [0; 4],
        },
        v,
    );
    v = b.push(
        "conv2",
        Op::Conv2d {
            weight: Array4::zeros((4, 2, 3, 3)),
            bias: None,
            strides: [2, 2],
            pads: [1, 0, 1, 1],
            dilations: [1, 1],
            group: 2,
        },
        v,
    );
    v = b.push(
        "avg",
        Op::AveragePool {
            kernel: [2, 2],
            strides: [1, 1],
            pads: [1, 1, 0, 0],
            count_include_pad: false,
        },
        v,
    );
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    b.finish(v).unwrap()
}

#[test]
fn cnn_batch_equals_per_sample() {
    let g = conv_net();
    let x = Array2::from_shape_vec((150, 128), lcg(11, 150 * 128)).unwrap();
    check_batch_matches_rows(&g, &x);
    // Softmax output rows sum to one.
    let y = CpuBackend
        .compile(&g)
        .unwrap()
        .run_f64(x.mapv(f64::from).view())
        .unwrap();
    for row in y.outer_iter() {
        assert!((row.sum() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn wrong_input_length_is_reported() {
    let g = random_net(2, 5, &[3], &[0], true);
    let model = CpuBackend.compile(&g).unwrap();
    let err = model.run_f64(Array2::zeros((3, 6)).view()).unwrap_err();
    assert!(matches!(
        err,
        BackendError::InputLength {
            expected: 5,
            got: 6,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "input has 6 values per sample, the model expects 5 (shape [1, 1, 1, 5])"
    );
    // Also on the parallel path.
    let err = model.run_f32(Array2::zeros((1000, 4)).view()).unwrap_err();
    assert!(matches!(
        err,
        BackendError::InputLength {
            expected: 5,
            got: 4,
            ..
        }
    ));
}

#[test]
fn model_reports_shapes() {
    let g = random_net(2, 5, &[7, 3], &[0, 0], true);
    let model = CpuBackend.compile(&g).unwrap();
    assert_eq!(model.input_len(), 5);
    assert_eq!(model.output_len(), 3);
    assert_eq!(model.output_shape(), &[1, 3]);
}

#[test]
fn backends_by_name() {
    assert_eq!(CpuBackend.name(), "cpu");
    assert_eq!(backend_by_name("cpu").unwrap().name(), "cpu");
    let err = backend_by_name("cuda").err().unwrap();
    assert_eq!(
        err.to_string(),
        "backend 'cuda' is not available: this build has no CUDA support (build with --features cuda)"
    );
    let err = backend_by_name("gpu").err().unwrap();
    assert!(matches!(err, BackendError::Other(_)));
    assert!(
        err.to_string().contains("cpu") && err.to_string().contains("cuda"),
        "{err}"
    );
    assert!(available_backends().contains(&("cpu", Ok(()))));
}
