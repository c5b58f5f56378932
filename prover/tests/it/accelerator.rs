//! The branch and bound's accelerator hook ([`VerifyOptions::box_bounder`],
//! `axiom verify --backend cuda`), driven here by the CPU reference of the
//! GPU's batched interval propagation (`axiom_backends::ibp::ibp_cpu`, the
//! same formula and margins), so that CI without a GPU tests the mechanism:
//! verdicts agree with the CPU-only search, boxes the accelerator refutes
//! become leaves the exact checker accepts, and a failing or mismatched
//! accelerator only costs time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::Rng;
use axiom_backends::ibp::{ibp_cpu, IbpNetwork};
use axiom_certs::check::{check_counterexample, check_proof};
use axiom_core::spec::Property;
use axiom_core::{Graph, GraphBuilder, Op};
use axiom_prover::{verify, BoxBounder, Verdict, VerifyOptions, VerifyReport};
use ndarray::{Array1, Array2, ArrayView2};

/// The CPU reference IBP as an accelerator; counts its calls.
#[derive(Debug)]
struct CpuIbp {
    net: IbpNetwork,
    calls: AtomicU64,
}

impl CpuIbp {
    fn new(graph: &Graph) -> Arc<Self> {
        Arc::new(CpuIbp {
            net: IbpNetwork::from_graph(graph).unwrap(),
            calls: AtomicU64::new(0),
        })
    }
}

impl BoxBounder for CpuIbp {
    fn describe(&self) -> String {
        "cpu reference IBP".into()
    }
    fn input_len(&self) -> usize {
        self.net.input_len()
    }
    fn output_len(&self) -> usize {
        self.net.output_len()
    }
    fn output_bounds(
        &self,
        lower: ArrayView2<f64>,
        upper: ArrayView2<f64>,
    ) -> Result<(Array2<f64>, Array2<f64>), String> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        ibp_cpu(&self.net, lower, upper)
            .map(|b| (b.lower, b.upper))
            .map_err(|e| e.to_string())
    }
}

/// An accelerator that always fails, or answers with the wrong shape.
#[derive(Debug)]
struct Broken {
    inputs: usize,
    outputs: usize,
    wrong_shape: bool,
}

impl BoxBounder for Broken {
    fn describe(&self) -> String {
        "broken".into()
    }
    fn input_len(&self) -> usize {
        self.inputs
    }
    fn output_len(&self) -> usize {
        self.outputs
    }
    fn output_bounds(
        &self,
        lower: ArrayView2<f64>,
        _upper: ArrayView2<f64>,
    ) -> Result<(Array2<f64>, Array2<f64>), String> {
        if self.wrong_shape {
            // Bounds that would refute everything, of the wrong shape: the
            // engine must not use them.
            let n = lower.nrows() + 1;
            Ok((
                Array2::from_elem((n, self.outputs), 1e9),
                Array2::from_elem((n, self.outputs), 1e9),
            ))
        } else {
            Err("the device fell off the bus".into())
        }
    }
}

/// A random ReLU network `inputs -> 8 -> 8 -> 1` with dyadic weights.
fn network(seed: u64, inputs: usize) -> Graph {
    let mut rng = Rng(seed);
    let mut b = GraphBuilder::new("net", "x", vec![inputs]);
    let mut v = b.input();
    let mut width = inputs;
    for (i, out) in [8usize, 8, 1].into_iter().enumerate() {
        let weight = Array2::from_shape_fn((out, width), |_| rng.dyadic(1.0, 64.0) as f32);
        let bias = Array1::from_shape_fn(out, |_| rng.dyadic(0.5, 64.0) as f32);
        v = b.push(
            format!("fc{i}"),
            Op::Gemm {
                weight,
                bias: Some(bias),
            },
            v,
        );
        if out > 1 {
            v = b.push(format!("relu{i}"), Op::Relu, v);
        }
        width = out;
    }
    b.finish(v).unwrap()
}

/// The largest output over a grid of the box `[-1, 1]^inputs`.
fn grid_max(graph: &Graph, inputs: usize, steps: usize) -> f64 {
    use axiom_backends::{Backend, CpuBackend};
    let model = CpuBackend.compile(graph).unwrap();
    let points = (steps + 1).pow(inputs as u32);
    let x = Array2::from_shape_fn((points, inputs), |(p, i)| {
        let k = (p / (steps + 1).pow(i as u32)) % (steps + 1);
        -1.0 + 2.0 * k as f64 / steps as f64
    });
    let y = model.run_f64(x.view()).unwrap();
    y.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// "Y_0 >= t somewhere in [-1, 1]^inputs".
fn property(inputs: usize, t: f64) -> Property {
    let mut text = String::new();
    for i in 0..inputs {
        text.push_str(&format!("(declare-const X_{i} Real)\n"));
    }
    text.push_str("(declare-const Y_0 Real)\n");
    for i in 0..inputs {
        text.push_str(&format!("(assert (>= X_{i} -1))\n(assert (<= X_{i} 1))\n"));
    }
    text.push_str(&format!("(assert (>= Y_0 {t}))\n"));
    axiom_core::vnnlib::parse(&text).unwrap()
}

fn run(graph: &Graph, prop: &Property, bounder: Option<Arc<dyn BoxBounder>>) -> VerifyReport {
    let options = VerifyOptions {
        timeout: Some(Duration::from_secs(60)),
        box_bounder: bounder,
        ..VerifyOptions::default()
    };
    verify(graph, prop, &options)
}

/// Re-checks a verdict exactly; returns its word.
fn checked(graph: &Graph, prop: &Property, report: &VerifyReport) -> &'static str {
    match &report.verdict {
        Verdict::Proved { evidence } => {
            let c = check_proof(graph, prop, evidence).expect("the exact checker accepts");
            assert_eq!(c.leaves, evidence.leaf_count());
        }
        Verdict::Disproved { counterexample } => {
            check_counterexample(graph, prop, counterexample).expect("a real counterexample");
        }
        Verdict::Unknown { reason } => panic!("unknown: {reason:?}"),
    }
    report.verdict.word()
}

#[test]
fn accelerated_search_agrees_and_its_leaves_pass_the_exact_checker() {
    let mut accelerated_leaves = 0;
    let mut proved = 0;
    for seed in 1..=12u64 {
        let inputs = 2 + (seed % 2) as usize;
        let graph = network(seed, inputs);
        let max = grid_max(&graph, inputs, if inputs == 2 { 200 } else { 40 });
        // Just above the sampled maximum (usually a property that holds and
        // needs deep splitting), and just below it (violated).
        for t in [max + 0.02 * max.abs().max(0.1), max - 1e-3] {
            let prop = property(inputs, t);
            let plain = run(&graph, &prop, None);
            let acc = CpuIbp::new(&graph);
            let fast = run(&graph, &prop, Some(acc.clone()));
            let (w_plain, w_fast) = (
                checked(&graph, &prop, &plain),
                checked(&graph, &prop, &fast),
            );
            assert_eq!(w_plain, w_fast, "seed {seed}, t {t}");
            assert_eq!(fast.stats.accelerator_failures, 0);
            if w_fast == "unsat" {
                proved += 1;
                assert!(acc.calls.load(Ordering::Relaxed) > 0, "seed {seed}");
                assert!(fast.stats.accelerated_boxes >= fast.stats.accelerated_leaves);
                accelerated_leaves += fast.stats.accelerated_leaves;
            }
            assert_eq!(plain.stats.accelerated_boxes, 0);
        }
    }
    println!("{proved} properties proved; {accelerated_leaves} leaves closed by the accelerator");
    assert!(proved >= 6, "only {proved} of the properties were proved");
    assert!(accelerated_leaves > 0, "the accelerator never closed a box");
}

#[test]
fn a_failing_or_mismatched_accelerator_only_costs_time() {
    let graph = network(7, 2);
    let max = grid_max(&graph, 2, 200);
    let prop = property(2, max + 0.05 * max.abs().max(0.1));
    let plain = run(&graph, &prop, None);
    let want = checked(&graph, &prop, &plain);
    for broken in [
        Broken {
            inputs: 2,
            outputs: 1,
            wrong_shape: false,
        },
        Broken {
            inputs: 2,
            outputs: 1,
            wrong_shape: true,
        },
        Broken {
            inputs: 3,
            outputs: 1,
            wrong_shape: false,
        },
    ] {
        let report = run(&graph, &prop, Some(Arc::new(broken)));
        assert_eq!(checked(&graph, &prop, &report), want);
        assert_eq!(report.stats.accelerated_leaves, 0);
        assert!(report.stats.accelerator_failures > 0);
        assert!(report.stats.accelerator_error.is_some());
    }
}

/// On ACAS Xu (shared benchmarks), the accelerated search proves what the
/// CPU search proves and the exact checker accepts every leaf.
#[test]
fn acasxu_accelerated_proofs_recheck() {
    let Some(dir) = axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    )) else {
        return;
    };
    for (net, prop_name, want) in [
        ("3_5", "prop_3", "unsat"),
        ("2_2", "prop_3", "unsat"),
        ("1_9", "prop_3", "sat"),
    ] {
        let model = dir.join(format!("acasxu/ACASXU_run2a_{net}_batch_2000.onnx"));
        let graph = axiom_core::load_model(&model).unwrap();
        let prop =
            axiom_core::vnnlib::load(&dir.join(format!("acasxu/{prop_name}.vnnlib"))).unwrap();
        let acc = CpuIbp::new(&graph);
        let report = run(&graph, &prop, Some(acc));
        assert_eq!(checked(&graph, &prop, &report), want, "{net} {prop_name}");
        assert_eq!(report.stats.accelerator_failures, 0);
    }
}
