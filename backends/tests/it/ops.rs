//! End-to-end tests of the public backend API: batches against single
//! samples, float32 against float64, errors.

use axiom_backends::{available_backends, backend_by_name, Backend, BackendError, CpuBackend};
use axiom_core::{Graph, Op};
use ndarray::Array2;

use crate::common::{cnn, lcg, mlp, ACTIVATIONS};
use proptest::prelude::*;

/// A random MLP (see `common::mlp`) whose layer `i` is followed by the
/// activation `acts[i] % 4` (only Relu when `relu_only`).
fn random_net(seed: u64, input: usize, widths: &[usize], acts: &[usize], relu_only: bool) -> Graph {
    let acts: Vec<fn() -> Op> = acts
        .iter()
        .map(|&a| {
            if relu_only {
                ACTIVATIONS[0]
            } else {
                ACTIVATIONS[a % 4]
            }
        })
        .collect();
    mlp(seed, input, widths, &acts)
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

#[test]
fn cnn_batch_equals_per_sample() {
    let g = cnn();
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
    let cuda = backend_by_name("cuda");
    #[cfg(not(feature = "cuda"))]
    assert_eq!(
        cuda.err().unwrap().to_string(),
        "backend 'cuda' is not available: this build has no CUDA support (build with --features cuda)"
    );
    // With the feature, a machine without a GPU says why; one with a GPU runs it.
    #[cfg(feature = "cuda")]
    match cuda {
        Ok(b) => assert_eq!(b.name(), "cuda"),
        Err(e) => assert!(matches!(e, BackendError::Unavailable { .. }), "{e}"),
    }
    let err = backend_by_name("gpu").err().unwrap();
    assert!(matches!(err, BackendError::Other(_)));
    assert!(
        err.to_string().contains("cpu") && err.to_string().contains("cuda"),
        "{err}"
    );
    assert!(available_backends().contains(&("cpu", Ok(()))));
}
