//! Differential soundness: thousands of random small networks with random box
//! properties. The engine's verdict is compared with a complete reference —
//! a direct Z3 encoding for ReLU networks, dense sampling for sigmoid/tanh
//! networks — and must never be `Proved` where a counterexample exists.
//! Every `Proved` of a ReLU network is also re-checked by the exact checker,
//! and every `Disproved` counterexample must meet the property. ReLU
//! networks are verified twice, with input splitting and with ReLU
//! splitting, under the same checks.
//!
//! A fifth of the networks put a BatchNorm with irrational factors
//! (`scale / sqrt(var + 1e-5)`) before every ReLU. Their Z3 reference
//! encodes each factor by its exactly checked enclosure, which only
//! over-approximates by an ulp or so: its `unsat` is exact, and its `sat` is
//! taken as the truth because the generated thresholds of these networks sit
//! at least 1/64 off the sampled outputs (a flat output region is not
//! decidable at f64 precision when a threshold sits on it).
//!
//! `AXIOM_DIFFERENTIAL_CASES` sets the number of networks. The default, 300,
//! is CI's slice (about 15 s); the networks are drawn from a fixed seed, so
//! the slice is the first 300 networks of every larger run. The bench tier
//! (`scripts/bench.sh`) runs 2000; a longer run is
//! `AXIOM_DIFFERENTIAL_CASES=20000 cargo test --release -p axiom-prover
//! --test it differential`.

use axiom_certs::check::{check_counterexample, check_proof};
use axiom_core::graph::{GraphBuilder, Op};
use axiom_core::vnnlib;
use axiom_prover::{verify, Network, SplitStrategy, Verdict, VerifyOptions};
use ndarray::{Array1, Array2};
use std::time::Duration;

use crate::common;
use crate::common::Rng;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Relu,
    /// ReLU with a BatchNorm before every ReLU.
    ReluBatchNorm,
    Sigmoid,
    Tanh,
}

impl Act {
    /// Piecewise linear (BatchNorm included): Z3 is the reference and the
    /// exact checker re-checks every verdict.
    fn piecewise_linear(self) -> bool {
        matches!(self, Act::Relu | Act::ReluBatchNorm)
    }
}

struct Instance {
    graph: axiom_core::Graph,
    property: axiom_core::spec::Property,
    act: Act,
    text: String,
}

fn random_instance(rng: &mut Rng) -> Instance {
    let act = match rng.below(5) {
        0 => Act::Sigmoid,
        1 => Act::Tanh,
        2 => Act::ReluBatchNorm,
        _ => Act::Relu,
    };
    let n_in = 1 + rng.below(3) as usize;
    let hidden = 1 + rng.below(4) as usize;
    let n_out = 1 + rng.below(3) as usize;
    // BatchNorm needs a channel axis: [1, n] values.
    let shape = if act == Act::ReluBatchNorm {
        vec![1, n_in]
    } else {
        vec![n_in]
    };
    let mut b = GraphBuilder::new("random", "x", shape);
    let mut v = b.input();
    let mut width = n_in;
    for layer in 0..=hidden {
        let out = if layer == hidden {
            n_out
        } else {
            1 + rng.below(8) as usize
        };
        let w = Array2::from_shape_fn((out, width), |_| rng.dyadic(1.5, 64.0) as f32);
        let bias: Array1<f32> = (0..out).map(|_| rng.dyadic(0.5, 64.0) as f32).collect();
        v = b.push(
            format!("fc{layer}"),
            Op::Gemm {
                weight: w,
                bias: Some(bias),
            },
            v,
        );
        if layer < hidden && act == Act::ReluBatchNorm {
            let channel = |rng: &mut Rng| -> f32 { rng.dyadic(0.5, 64.0) as f32 };
            v = b.push(
                format!("bn{layer}"),
                Op::BatchNorm {
                    scale: (0..out)
                        .map(|_| {
                            let s = rng.dyadic(1.5, 64.0) as f32;
                            if s == 0.0 {
                                0.75
                            } else {
                                s
                            }
                        })
                        .collect(),
                    bias: (0..out).map(|_| channel(rng)).collect(),
                    mean: (0..out).map(|_| channel(rng)).collect(),
                    var: (0..out).map(|_| 0.25 + rng.unit() as f32).collect(),
                    epsilon: 1e-5,
                },
                v,
            );
        }
        if layer < hidden {
            let op = match act {
                Act::Relu | Act::ReluBatchNorm => Op::Relu,
                Act::Sigmoid => Op::Sigmoid,
                Act::Tanh => Op::Tanh,
            };
            v = b.push(format!("act{layer}"), op, v);
        }
        width = out;
    }
    let graph = b.finish(v).expect("random networks are well formed");
    let net = Network::from_graph(&graph).expect("random networks lower");
    // A random box.
    let mut text = String::new();
    for i in 0..n_in {
        text += &format!("(declare-const X_{i} Real)\n");
    }
    for j in 0..n_out {
        text += &format!("(declare-const Y_{j} Real)\n");
    }
    let mut lo = Vec::new();
    let mut hi = Vec::new();
    for i in 0..n_in {
        let a = rng.dyadic(1.0, 64.0);
        let w = (1 + rng.below(64)) as f64 / 64.0;
        lo.push(a);
        hi.push(a + w);
        text += &format!("(assert (>= X_{i} {a}))\n(assert (<= X_{i} {}))\n", a + w);
    }
    // Output constraints: thresholds near the sampled range, so that both
    // verdicts occur.
    let samples: Vec<Vec<f64>> = (0..64)
        .map(|_| {
            let x: Vec<f64> = lo
                .iter()
                .zip(&hi)
                .map(|(l, h)| l + (h - l) * rng.unit())
                .collect();
            net.eval(&x)
        })
        .collect();
    let disjuncts = 1 + rng.below(2);
    let mut terms = Vec::new();
    for _ in 0..disjuncts {
        let k = 1 + rng.below(2);
        let mut atoms = Vec::new();
        for _ in 0..k {
            let j = rng.below(n_out as u64) as usize;
            let mut vals: Vec<f64> = samples.iter().map(|y| y[j]).collect();
            vals.sort_by(f64::total_cmp);
            // Beyond the sampled maximum, usually unreachable but sometimes
            // reachable between samples.
            let mut offset = rng.dyadic(0.25, 64.0);
            if act == Act::ReluBatchNorm && offset == 0.0 {
                // The f64 samples of a BatchNorm network are off the exact
                // outputs by rounding; a threshold on a sample (a flat
                // output makes it the maximum) is then undecidable at f64
                // precision, both for the engine and for the reference.
                offset = 1.0 / 64.0;
            }
            let t = vals[vals.len() - 1] + offset;
            atoms.push(format!("(>= Y_{j} {t})"));
        }
        terms.push(format!("(and {})", atoms.join(" ")));
    }
    text += &format!("(assert (or {}))\n", terms.join(" "));
    let property = vnnlib::parse(&text).expect("generated VNN-LIB parses");
    Instance {
        graph,
        property,
        act,
        text,
    }
}

/// The reference answer: `Some(true)` if a counterexample exists, `Some(false)`
/// if none, `None` if the reference could not decide.
fn reference(inst: &Instance, rng: &mut Rng) -> Option<bool> {
    let net = Network::from_graph(&inst.graph).ok()?;
    let case = inst.property.cases.first()?;
    let (lo, hi) = common::box_f64(case);
    if inst.act.piecewise_linear() {
        common::z3_reference(&net, case, Duration::from_secs(3))
    } else {
        // Dense sampling: a counterexample found proves `sat`; none found
        // proves nothing, so a `Proved` is only contradicted by a sample.
        let problem = axiom_prover::Problem::new(&inst.graph, &inst.property).ok()?;
        for _ in 0..4_000 {
            let x: Vec<f64> = lo
                .iter()
                .zip(&hi)
                .map(|(l, h)| l + (h - l) * rng.unit())
                .collect();
            let (margin, _) =
                axiom_prover::attack::margin(&net.eval(&x), &problem.cases[0].disjuncts);
            if margin <= 0.0
                && axiom_prover::recheck_counterexample(&inst.graph, &inst.property, &x).is_some()
            {
                return Some(true);
            }
        }
        None
    }
}

/// What one network's run found.
#[derive(Default)]
struct Tally {
    proved: usize,
    disproved: usize,
    unknown: usize,
    checked: usize,
    undecided_reference: usize,
    /// Proofs found by ReLU splitting (all re-checked exactly).
    relu_split_proved: usize,
    /// Proofs and counterexamples of networks with BatchNorm (all re-checked
    /// exactly).
    batchnorm_decided: usize,
}

fn run_one(n: usize, inst: &Instance, seed: u64) -> Tally {
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    let truth = reference(inst, &mut rng);
    if truth.is_none() {
        t.undecided_reference += 1;
    }
    let splits: &[SplitStrategy] = if inst.act.piecewise_linear() {
        &[SplitStrategy::Input, SplitStrategy::Relu]
    } else {
        &[SplitStrategy::Input]
    };
    for &split in splits {
        let proved = check_one(n, inst, truth, split, seed, &mut t);
        if proved && split == SplitStrategy::Relu {
            t.relu_split_proved += 1;
        }
    }
    if inst.act == Act::ReluBatchNorm {
        t.batchnorm_decided = t.proved + t.disproved;
    }
    t
}

/// Verifies one instance with one split strategy and checks the verdict
/// against the reference; returns whether it was proved.
fn check_one(
    n: usize,
    inst: &Instance,
    truth: Option<bool>,
    split: SplitStrategy,
    seed: u64,
    t: &mut Tally,
) -> bool {
    // A work budget ends an undecided search, so that the tally is the same
    // on every machine; the timeout only guards against a hang.
    let options = VerifyOptions {
        max_boxes: Some(20_000),
        timeout: Some(Duration::from_secs(120)),
        split,
        seed,
        ..Default::default()
    };
    let report = verify(&inst.graph, &inst.property, &options);
    let split = format!("{split:?} splitting");
    match &report.verdict {
        Verdict::Proved { evidence } => {
            t.proved += 1;
            assert_ne!(
                truth,
                Some(true),
                "case {n}, {split}: Proved, but a counterexample exists\n{}",
                inst.text
            );
            if inst.act.piecewise_linear() {
                check_proof(&inst.graph, &inst.property, evidence).unwrap_or_else(|e| {
                    panic!(
                        "case {n}, {split}: exact re-check failed: {e}\n{}",
                        inst.text
                    )
                });
                t.checked += 1;
            }
        }
        Verdict::Disproved { counterexample } => {
            t.disproved += 1;
            assert_ne!(
                truth,
                Some(false),
                "case {n}, {split}: Disproved, but Z3 says unsat\n{}",
                inst.text
            );
            if inst.act.piecewise_linear() {
                check_counterexample(&inst.graph, &inst.property, counterexample).unwrap_or_else(
                    |e| {
                        panic!(
                            "case {n}, {split}: counterexample fails the exact check: {e}\n{}",
                            inst.text
                        )
                    },
                );
            }
        }
        Verdict::Unknown { .. } => t.unknown += 1,
    }
    matches!(report.verdict, Verdict::Proved { .. })
}

#[test]
fn engine_never_proves_a_violated_property() {
    use rayon::prelude::*;
    let cases: usize = std::env::var("AXIOM_DIFFERENTIAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // Instances are drawn in a fixed order, then checked in parallel: the
    // outcome does not depend on the schedule.
    let mut rng = Rng(0x5eed_2026);
    let instances: Vec<(Instance, u64)> = (0..cases)
        .map(|_| (random_instance(&mut rng), rng.next()))
        .collect();
    let total = instances
        .par_iter()
        .enumerate()
        .map(|(n, (inst, seed))| run_one(n, inst, *seed))
        .reduce(Tally::default, |a, b| Tally {
            proved: a.proved + b.proved,
            disproved: a.disproved + b.disproved,
            unknown: a.unknown + b.unknown,
            checked: a.checked + b.checked,
            undecided_reference: a.undecided_reference + b.undecided_reference,
            relu_split_proved: a.relu_split_proved + b.relu_split_proved,
            batchnorm_decided: a.batchnorm_decided + b.batchnorm_decided,
        });
    eprintln!(
        "{cases} networks (ReLU ones twice): {} proved ({} exactly re-checked, {} by ReLU splitting), {} disproved, {} unknown; reference undecided on {}; {} verdicts on networks with BatchNorm",
        total.proved,
        total.checked,
        total.relu_split_proved,
        total.disproved,
        total.unknown,
        total.undecided_reference,
        total.batchnorm_decided
    );
    assert!(
        total.batchnorm_decided > cases / 10,
        "the networks with BatchNorm should be decided (and re-checked) too"
    );
    assert!(
        total.relu_split_proved > cases / 10,
        "ReLU splitting should prove a good share of the ReLU networks"
    );
    assert!(
        total.proved > cases / 10 && total.disproved > cases / 10,
        "the generator should produce both verdicts"
    );
}
