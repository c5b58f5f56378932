//! The e-graph rewriter: `simplify` never changes the function (checked in
//! exact rational arithmetic and on the CPU backend), folds that would round
//! are skipped, ACAS Xu keeps its reference outputs, and `discharge` proves
//! exactly the facts its rules justify.

use axiom_backends::{Backend, CpuBackend};
use axiom_core::graph::{broadcast_shapes, Graph, GraphBuilder, Op};
use axiom_prover::rewrite::{
    discharge, rule_names, simplify, simplify_rule_names, RewriteError, Simplified, INEXACT,
};
use ndarray::{arr1, arr2, Array1, Array2, Array4, ArrayD, IxDyn};
use num_rational::BigRational;
use num_traits::{Signed, Zero};

// ---------------------------------------------------------------- helpers

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// A multiple of 1/16 in [-1, 1].
    fn dyadic(&mut self) -> f32 {
        (self.below(33) as f32 - 16.0) / 16.0
    }
    /// Any float32 in (-1, 1), usually with a full mantissa.
    fn float(&mut self) -> f32 {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
    }
    fn power_of_two(&mut self) -> f32 {
        let k = self.below(5) as i32 - 2;
        let s = if self.below(2) == 0 { 1.0 } else { -1.0 };
        s * 2f32.powi(k)
    }
}

fn rat(x: f32) -> BigRational {
    BigRational::from_float(x).expect("finite")
}

fn exact_sqrt(r: &BigRational) -> BigRational {
    let (n, d) = (r.numer().sqrt(), r.denom().sqrt());
    assert_eq!(&n * &n, *r.numer(), "test BatchNorm needs a rational sqrt");
    assert_eq!(&d * &d, *r.denom(), "test BatchNorm needs a rational sqrt");
    BigRational::new(n, d)
}

/// Flat index into `shape` (numpy broadcasting) of flat index `flat` of `out`.
fn broadcast_at(flat: usize, out: &[usize], shape: &[usize]) -> usize {
    let mut multi = vec![0; out.len()];
    let mut rest = flat;
    for d in (0..out.len()).rev() {
        multi[d] = rest % out[d];
        rest /= out[d];
    }
    let offset = out.len() - shape.len();
    let mut idx = 0;
    for (d, &len) in shape.iter().enumerate() {
        let i = if len == 1 { 0 } else { multi[d + offset] };
        idx = idx * len + i;
    }
    idx
}

/// The graph's function in exact rational arithmetic.
fn eval_exact(g: &Graph, x: &[BigRational]) -> Vec<BigRational> {
    let shapes = g.infer_shapes().unwrap();
    let live = g.live_nodes();
    let mut vals: Vec<Vec<BigRational>> = vec![x.to_vec()];
    for (i, node) in g.nodes.iter().enumerate() {
        if !live[i] {
            vals.push(Vec::new());
            continue;
        }
        let inp = &vals[node.inputs[0]];
        let s_in = &shapes[node.inputs[0]];
        let s_out = &shapes[i + 1];
        let out: Vec<BigRational> = match &node.op {
            Op::Gemm { weight, bias } => {
                let (o, k) = weight.dim();
                let mut out = Vec::new();
                for blk in 0..inp.len() / k {
                    for r in 0..o {
                        let mut acc = bias.as_ref().map_or_else(BigRational::zero, |b| rat(b[r]));
                        for c in 0..k {
                            acc += rat(weight[[r, c]]) * &inp[blk * k + c];
                        }
                        out.push(acc);
                    }
                }
                out
            }
            Op::Relu => inp
                .iter()
                .map(|v| {
                    if v.is_negative() {
                        BigRational::zero()
                    } else {
                        v.clone()
                    }
                })
                .collect(),
            Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => inp.clone(),
            Op::Add { c } | Op::Sub { c } | Op::Mul { c } | Op::Div { c } => {
                let cv: Vec<f32> = c.iter().copied().collect();
                let n: usize = s_out.iter().product();
                (0..n)
                    .map(|f| {
                        let a = &inp[broadcast_at(f, s_out, s_in)];
                        let b = rat(cv[broadcast_at(f, s_out, c.shape())]);
                        match &node.op {
                            Op::Add { .. } => a + b,
                            Op::Sub { .. } => a - b,
                            Op::Mul { .. } => a * b,
                            _ => a / b,
                        }
                    })
                    .collect()
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                epsilon,
            } => {
                let ch = s_in[1];
                let inner: usize = s_in[2..].iter().product();
                inp.iter()
                    .enumerate()
                    .map(|(f, v)| {
                        let c = (f / inner) % ch;
                        let k = rat(scale[c]) / exact_sqrt(&(rat(var[c]) + rat(*epsilon)));
                        (v - rat(mean[c])) * k + rat(bias[c])
                    })
                    .collect()
            }
            other => panic!("the exact evaluator does not run {}", other.kind()),
        };
        vals.push(out);
    }
    vals.swap_remove(g.output)
}

fn run_f64(g: &Graph, rows: &[Vec<f64>]) -> Array2<f64> {
    let model = CpuBackend.compile(g).unwrap();
    let n = g.input_len();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    model
        .run_f64(
            Array2::from_shape_vec((rows.len(), n), flat)
                .unwrap()
                .view(),
        )
        .unwrap()
}

/// Checks that `s.graph` computes exactly `g`'s function: exact rational
/// evaluation on dyadic and arbitrary float32 inputs, and f64 on the CPU
/// backend within 1e-9.
fn assert_same_function(g: &Graph, s: &Simplified, rng: &mut Rng) {
    let n = g.input_len();
    let mut rows = Vec::new();
    for round in 0..6 {
        let x: Vec<f32> = (0..n)
            .map(|_| {
                if round % 2 == 0 {
                    rng.dyadic() * 4.0
                } else {
                    rng.float() * 3.0
                }
            })
            .collect();
        let xr: Vec<BigRational> = x.iter().map(|&v| rat(v)).collect();
        assert_eq!(
            eval_exact(g, &xr),
            eval_exact(&s.graph, &xr),
            "exact outputs differ on {x:?}\noriginal:\n{g}\nsimplified:\n{}",
            s.graph
        );
        rows.push(x.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>());
    }
    let (a, b) = (run_f64(g, &rows), run_f64(&s.graph, &rows));
    assert_eq!(a.dim(), b.dim());
    for (p, q) in a.iter().zip(b.iter()) {
        assert!(
            (p - q).abs() <= 1e-9 * (1.0 + p.abs()),
            "f64 outputs differ: {p} vs {q}"
        );
    }
}

fn gemm(rng: &mut Rng, out: usize, inp: usize, bias: bool) -> Op {
    Op::Gemm {
        weight: Array2::from_shape_fn((out, inp), |_| rng.dyadic()),
        bias: bias.then(|| Array1::from_shape_fn(out, |_| rng.dyadic())),
    }
}

/// A random chain with dyadic constants (multiples of 1/16, powers of two),
/// with Gemm-Gemm pairs, Add/Sub/Mul/Div next to Gemms, Identity and
/// Relu-Relu; always at least one Identity or Relu-Relu.
fn random_dyadic_net(seed: u64) -> Graph {
    let mut rng = Rng::new(seed);
    let mut width = 1 + rng.below(5);
    let flat = rng.below(2) == 0;
    let shape = if flat { vec![width] } else { vec![1, width] };
    let mut b = GraphBuilder::new(format!("net{seed}"), "x", shape);
    let mut v = b.input();
    let blocks = 3 + rng.below(4);
    let must = rng.below(blocks);
    let mut k = 0;
    let mut name = |s: &str| {
        k += 1;
        format!("{s}{k}")
    };
    for blk in 0..blocks {
        let kind = if blk == must {
            5 + rng.below(2)
        } else {
            rng.below(10)
        };
        match kind {
            0 | 1 => {
                let w = 1 + rng.below(5);
                let bias = rng.below(3) > 0;
                v = b.push(name("fc"), gemm(&mut rng, w, width, bias), v);
                width = w;
                if kind == 1 {
                    let w = 1 + rng.below(5);
                    let bias = rng.below(2) > 0;
                    v = b.push(name("fc"), gemm(&mut rng, w, width, bias), v);
                    width = w;
                }
            }
            2 => {
                let c = Array1::from_shape_fn(width, |_| rng.dyadic()).into_dyn();
                v = b.push(name("sub"), Op::Sub { c }, v);
            }
            3 => {
                let c = if rng.below(2) == 0 {
                    arr1(&[rng.power_of_two()]).into_dyn()
                } else {
                    Array1::from_shape_fn(width, |_| rng.power_of_two()).into_dyn()
                };
                v = b.push(name("mul"), Op::Mul { c }, v);
            }
            4 => {
                let c = arr1(&[rng.power_of_two()]).into_dyn();
                v = b.push(name("div"), Op::Div { c }, v);
            }
            5 => v = b.push(name("id"), Op::Identity, v),
            6 => {
                v = b.push(name("relu"), Op::Relu, v);
                v = b.push(name("relu"), Op::Relu, v);
            }
            7 => v = b.push(name("relu"), Op::Relu, v),
            8 => {
                let c = Array1::from_shape_fn(width, |_| rng.dyadic()).into_dyn();
                v = b.push(name("add"), Op::Add { c }, v);
            }
            _ => {
                let w = 1 + rng.below(5);
                v = b.push(name("fc"), gemm(&mut rng, w, width, true), v);
                width = w;
                let c = arr1(&[rng.power_of_two()]).into_dyn();
                v = b.push(name("div"), Op::Div { c }, v);
            }
        }
    }
    b.finish(v).unwrap()
}

fn rules_applied(s: &Simplified) -> Vec<&str> {
    s.applied.iter().map(|a| a.rule.as_str()).collect()
}

// ---------------------------------------------------------------- simplify

#[test]
fn random_dyadic_nets_shrink_and_keep_their_function_exactly() {
    let known = simplify_rule_names();
    let mut folds = 0;
    let mut elementwise = 0;
    for seed in 0..60 {
        let g = random_dyadic_net(seed);
        let s = simplify(&g).unwrap();
        assert!(
            s.graph.nodes.len() < g.nodes.len(),
            "seed {seed}: {} -> {} nodes\n{g}",
            g.nodes.len(),
            s.graph.nodes.len()
        );
        assert!(!s.applied.is_empty());
        for a in &s.applied {
            assert!(known.contains(&a.rule.as_str()), "unknown rule {}", a.rule);
            assert!(!a.nodes.is_empty());
        }
        for w in s.graph.nodes.windows(2) {
            assert!(!matches!((&w[0].op, &w[1].op), (Op::Relu, Op::Relu)));
            assert!(
                !matches!((&w[0].op, &w[1].op), (Op::Gemm { .. }, Op::Gemm { .. }))
                    || s.skipped.iter().any(|k| k.rule == "gemm-gemm-fold")
            );
        }
        assert!(!s.graph.nodes.iter().any(|n| n.op == Op::Identity));
        assert_eq!(s.graph.output_shape().unwrap(), g.output_shape().unwrap());
        assert_eq!(
            s.graph.value_name(s.graph.output),
            g.value_name(g.output),
            "the output keeps its name"
        );
        folds += rules_applied(&s)
            .iter()
            .filter(|r| **r == "gemm-gemm-fold")
            .count();
        elementwise += rules_applied(&s)
            .iter()
            .filter(|r| r.contains("-fold") && **r != "gemm-gemm-fold")
            .count();
        assert_same_function(&g, &s, &mut Rng::new(1000 + seed));
    }
    assert!(
        folds > 5,
        "only {folds} Gemm-Gemm folds over the random nets"
    );
    assert!(
        elementwise > 5,
        "only {elementwise} element-wise folds over the random nets"
    );
}

#[test]
fn a_normalised_chain_folds_to_two_gemms() {
    let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
    let mut v = b.push(
        "sub",
        Op::Sub {
            c: arr1(&[0.5f32, 0.25]).into_dyn(),
        },
        0,
    );
    v = b.push(
        "div",
        Op::Div {
            c: arr1(&[4.0f32]).into_dyn(),
        },
        v,
    );
    v = b.push(
        "fc1",
        Op::Gemm {
            weight: arr2(&[[1.0, 2.0], [-0.5, 0.25], [0.0, 1.0]]),
            bias: Some(arr1(&[0.5, 0.0, -1.0])),
        },
        v,
    );
    v = b.push(
        "fc2",
        Op::Gemm {
            weight: arr2(&[[1.0, -1.0, 0.5], [2.0, 0.0, 0.25]]),
            bias: None,
        },
        v,
    );
    v = b.push(
        "mul",
        Op::Mul {
            c: arr1(&[2.0f32]).into_dyn(),
        },
        v,
    );
    v = b.push("relu1", Op::Relu, v);
    v = b.push("relu2", Op::Relu, v);
    v = b.push("id", Op::Identity, v);
    v = b.push(
        "fc3",
        Op::Gemm {
            weight: arr2(&[[0.5, 0.5]]),
            bias: None,
        },
        v,
    );
    v = b.push(
        "add",
        Op::Add {
            c: arr1(&[0.125f32]).into_dyn(),
        },
        v,
    );
    let g = b.finish(v).unwrap();
    let s = simplify(&g).unwrap();
    let kinds: Vec<&str> = s.graph.nodes.iter().map(|n| n.op.kind()).collect();
    assert_eq!(kinds, ["Gemm", "Relu", "Gemm"], "{}", s.graph);
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    let rules = rules_applied(&s);
    for r in [
        "relu-idempotent",
        "identity-elim",
        "gemm-gemm-fold",
        "gemm-add-fold",
    ] {
        assert!(rules.contains(&r), "{r} missing from {rules:?}");
    }
    // The first Gemm stands for sub, div, fc1, fc2 and mul.
    assert!(s.graph.nodes[0].name.contains("fc1") && s.graph.nodes[0].name.contains("fc2"));
    let involved: Vec<&String> = s.applied.iter().flat_map(|a| &a.nodes).collect();
    for n in [
        "sub", "div", "fc1", "fc2", "mul", "relu1", "relu2", "id", "fc3", "add",
    ] {
        assert!(
            involved.iter().any(|m| *m == n),
            "{n} not reported in {:?}",
            s.applied
        );
    }
    assert_same_function(&g, &s, &mut Rng::new(5));
    // Simplifying again changes nothing.
    let again = simplify(&s.graph).unwrap();
    assert_eq!(again.graph, s.graph);
    assert!(again.applied.is_empty());
}

#[test]
fn non_dyadic_weights_are_not_folded() {
    let mut checked = 0;
    for seed in 0..20 {
        let mut rng = Rng::new(500 + seed);
        let (n0, n1, n2) = (2 + rng.below(3), 2 + rng.below(3), 1 + rng.below(3));
        let mut b = GraphBuilder::new("nd", "x", vec![1, n0]);
        let w = |rng: &mut Rng, o: usize, i: usize| Op::Gemm {
            weight: Array2::from_shape_fn((o, i), |_| rng.float()),
            bias: Some(Array1::from_shape_fn(o, |_| rng.float())),
        };
        let mut v = b.push("fc1", w(&mut rng, n1, n0), 0);
        v = b.push("fc2", w(&mut rng, n2, n1), v);
        v = b.push(
            "div",
            Op::Div {
                c: arr1(&[3.0f32]).into_dyn(),
            },
            v,
        );
        v = b.push(
            "sub",
            Op::Sub {
                c: Array1::from_shape_fn(n2, |_| rng.float() * 1e-3).into_dyn(),
            },
            v,
        );
        let g = b.finish(v).unwrap();
        let s = simplify(&g).unwrap();
        assert!(
            !rules_applied(&s).contains(&"gemm-gemm-fold"),
            "seed {seed}: folded non-dyadic weights: {:?}",
            s.applied
        );
        let skip = s
            .skipped
            .iter()
            .find(|k| k.rule == "gemm-gemm-fold")
            .expect("the Gemm-Gemm fold is reported as skipped");
        assert_eq!(skip.reason, INEXACT);
        assert_eq!(skip.nodes, ["fc1", "fc2"]);
        if s.applied.is_empty() {
            // Nothing applied: the graph is unchanged.
            assert_eq!(s.graph.nodes, g.nodes);
            checked += 1;
        }
        assert!(
            s.skipped.iter().all(|k| k.reason == INEXACT),
            "{:?}",
            s.skipped
        );
        assert_same_function(&g, &s, &mut Rng::new(seed));
    }
    assert!(checked > 10, "only {checked} nets kept unchanged");
}

#[test]
fn batchnorm_folds_only_with_an_exact_square_root() {
    let bn = |eps: f32| Op::BatchNorm {
        scale: arr1(&[2.0, 0.5, 1.0]),
        bias: arr1(&[0.25, -1.0, 0.0]),
        mean: arr1(&[0.5, 0.0, -2.0]),
        // var + eps = 4, 1/4 and 1 when eps = 0.
        var: arr1(&[4.0 - eps, 0.25 - eps, 1.0 - eps]),
        epsilon: eps,
    };
    let fc = Op::Gemm {
        weight: arr2(&[[1.0, 0.5], [-0.25, 2.0], [0.0, 1.0]]),
        bias: Some(arr1(&[0.5, 0.0, 1.0])),
    };
    // After a Gemm.
    let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
    let h = b.push("fc", fc.clone(), 0);
    let y = b.push("bn", bn(0.0), h);
    let g = b.finish(y).unwrap();
    let s = simplify(&g).unwrap();
    assert_eq!(s.graph.nodes.len(), 1, "{}", s.graph);
    assert!(matches!(s.graph.nodes[0].op, Op::Gemm { .. }));
    assert_same_function(&g, &s, &mut Rng::new(1));
    // Alone: a diagonal Gemm.
    let mut b = GraphBuilder::new("t", "x", vec![1, 3]);
    let y = b.push("bn", bn(0.0), 0);
    let g = b.finish(y).unwrap();
    let s = simplify(&g).unwrap();
    assert_eq!(rules_applied(&s), ["batchnorm-diag-gemm"]);
    assert_same_function(&g, &s, &mut Rng::new(2));
    // With the usual epsilon the square root is irrational: skipped.
    let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
    let h = b.push("fc", fc, 0);
    let y = b.push("bn", bn(1e-5), h);
    let g = b.finish(y).unwrap();
    let s = simplify(&g).unwrap();
    assert_eq!(s.graph, g);
    assert!(s.applied.is_empty());
    let reasons: Vec<(&str, &str)> = s
        .skipped
        .iter()
        .map(|k| (k.rule.as_str(), k.reason.as_str()))
        .collect();
    assert!(
        reasons.contains(&("gemm-batchnorm-fold", INEXACT)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("batchnorm-diag-gemm", INEXACT)),
        "{reasons:?}"
    );
}

#[test]
fn batchnorm_folds_into_a_convolution() {
    let mut rng = Rng::new(9);
    let conv = Op::Conv2d {
        weight: Array4::from_shape_fn((2, 1, 2, 2), |_| rng.dyadic()),
        bias: None,
        strides: [1, 1],
        pads: [0, 0, 1, 1],
        dilations: [1, 1],
        group: 1,
    };
    let bn = Op::BatchNorm {
        scale: arr1(&[1.5, -2.0]),
        bias: arr1(&[0.5, 0.25]),
        mean: arr1(&[0.125, -1.0]),
        var: arr1(&[0.1875, 3.0]),
        epsilon: 0.0625, // var + eps = 1/4 and 49/16
    };
    let mut b = GraphBuilder::new("c", "x", vec![1, 1, 3, 3]);
    let h = b.push("conv", conv, 0);
    let y = b.push("bn", bn, h);
    let g = b.finish(y).unwrap();
    let s = simplify(&g).unwrap();
    // 49/16 has the rational root 7/4, but 2 / (7/4) = 8/7 makes the
    // weights non-dyadic: skipped.
    assert_eq!(s.graph, g);
    assert_eq!(s.skipped[0].rule, "conv-batchnorm-fold");
    assert_eq!(s.skipped[0].reason, INEXACT);

    let bn = Op::BatchNorm {
        scale: arr1(&[1.5, -2.0]),
        bias: arr1(&[0.5, 0.25]),
        mean: arr1(&[0.125, -1.0]),
        var: arr1(&[0.1875, 3.9375]),
        epsilon: 0.0625, // var + eps = 1/4 and 4
    };
    let mut b = GraphBuilder::new("c", "x", vec![1, 1, 3, 3]);
    let h = b.push("conv", g.nodes[0].op.clone(), 0);
    let y = b.push("bn", bn, h);
    let g = b.finish(y).unwrap();
    let s = simplify(&g).unwrap();
    assert_eq!(rules_applied(&s), ["conv-batchnorm-fold"]);
    assert_eq!(s.graph.nodes.len(), 1);
    let rows: Vec<Vec<f64>> = (0..4)
        .map(|_| (0..9).map(|_| f64::from(rng.float())).collect())
        .collect();
    let (a, c) = (run_f64(&g, &rows), run_f64(&s.graph, &rows));
    for (p, q) in a.iter().zip(c.iter()) {
        assert!((p - q).abs() <= 1e-12, "{p} vs {q}");
    }
}

#[test]
fn shape_ops_dead_nodes_and_rows() {
    // A Flatten of an already flat [1, 3] value, a Reshape of a Reshape, and
    // a dead branch.
    let mut b = GraphBuilder::new("t", "x", vec![1, 3]);
    let f = b.push("flat", Op::Flatten { axis: 1 }, 0);
    let _dead = b.push("side", Op::Sigmoid, f);
    let r1 = b.push("r1", Op::Reshape { shape: vec![3, 1] }, f);
    let r2 = b.push("r2", Op::Reshape { shape: vec![1, 3] }, r1);
    let y = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0, 2.0, 3.0]]),
            bias: None,
        },
        r2,
    );
    let g = b.finish(y).unwrap();
    let s = simplify(&g).unwrap();
    assert_eq!(s.graph.nodes.len(), 1, "{}", s.graph);
    let rules = rules_applied(&s);
    assert_eq!(rules[0], "dead-node-elim");
    assert_eq!(s.applied[0].nodes, ["side"]);
    assert!(rules.contains(&"flatten-noop-elim"), "{rules:?}");
    assert_same_function(&g, &s, &mut Rng::new(3));

    // A constant that differs between rows cannot become a bias.
    let mut b = GraphBuilder::new("t", "x", vec![2, 2]);
    let h = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0, 0.5], [0.0, 1.0]]),
            bias: None,
        },
        0,
    );
    let y = b.push(
        "add",
        Op::Add {
            c: ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
        },
        h,
    );
    let g = b.finish(y).unwrap();
    let s = simplify(&g).unwrap();
    assert_eq!(s.graph, g);
    assert!(s.skipped[0].reason.contains("varies"), "{:?}", s.skipped);
    // A Flatten that changes the shape is kept.
    let mut b = GraphBuilder::new("t", "x", vec![1, 1, 1, 5]);
    let y = b.push("flat", Op::Flatten { axis: 1 }, 0);
    let g = b.finish(y).unwrap();
    assert_eq!(simplify(&g).unwrap().graph, g);
    assert!(broadcast_shapes(&[1, 5], &[5]).is_some());
}

#[test]
fn normalisation_before_a_flatten_reaches_the_gemm_only_when_exact() {
    // ACAS Xu's shape: Sub on [1, 1, 1, n], Flatten, Gemm.
    let net = |rng: &mut Rng, dyadic: bool| {
        let n = 2 + rng.below(4);
        let value = |rng: &mut Rng| if dyadic { rng.dyadic() } else { rng.float() };
        let c = ArrayD::from_shape_fn(IxDyn(&[1, 1, 1, n]), |_| value(rng));
        let w = Array2::from_shape_fn((3, n), |_| value(rng));
        let bias = Array1::from_shape_fn(3, |_| value(rng));
        let mut b = GraphBuilder::new("norm", "x", vec![1, 1, 1, n]);
        let mut v = b.push("sub", Op::Sub { c }, 0);
        v = b.push("flat", Op::Flatten { axis: 1 }, v);
        v = b.push(
            "fc",
            Op::Gemm {
                weight: w,
                bias: Some(bias),
            },
            v,
        );
        v = b.push("relu", Op::Relu, v);
        b.finish(v).unwrap()
    };
    for seed in 0..10 {
        let mut rng = Rng::new(700 + seed);
        let g = net(&mut rng, true);
        let s = simplify(&g).unwrap();
        assert_eq!(s.graph.nodes.len(), 3, "{}", s.graph);
        assert_eq!(rules_applied(&s), ["sub-flatten-commute", "sub-gemm-fold"]);
        assert_same_function(&g, &s, &mut rng);

        let g = net(&mut rng, false);
        let s = simplify(&g).unwrap();
        assert_eq!(s.graph, g, "an unapplied fold leaves the graph as it was");
        assert!(s.applied.is_empty(), "{:?}", s.applied);
        let skip = s
            .skipped
            .iter()
            .find(|k| k.rule == "sub-gemm-fold")
            .expect("reported");
        assert_eq!(skip.reason, INEXACT);
        assert_eq!(skip.nodes, ["sub", "fc"]);
    }
}

// ---------------------------------------------------------------- ACAS Xu

/// A minimal JSON reader for the reference outputs (no serde in this crate's
/// dependencies).
#[derive(Debug)]
enum Json {
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
    Lit,
}

impl Json {
    fn parse(s: &str) -> Json {
        let mut p = JsonParser {
            s: s.as_bytes(),
            i: 0,
        };
        p.value()
    }
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn rows(&self) -> Vec<Vec<f64>> {
        match self {
            Json::Arr(rows) => rows
                .iter()
                .map(|r| match r {
                    Json::Arr(xs) => xs
                        .iter()
                        .map(|x| match x {
                            Json::Num(v) => *v,
                            other => panic!("not a number: {other:?}"),
                        })
                        .collect(),
                    other => panic!("not a row: {other:?}"),
                })
                .collect(),
            other => panic!("not a matrix: {other:?}"),
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut kv = Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b'}' {
                        self.i += 1;
                        break;
                    }
                    let Json::Str(k) = self.value() else {
                        panic!("key")
                    };
                    self.ws();
                    assert_eq!(self.s[self.i], b':');
                    self.i += 1;
                    kv.push((k, self.value()));
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
                Json::Obj(kv)
            }
            b'[' => {
                self.i += 1;
                let mut xs = Vec::new();
                loop {
                    self.ws();
                    if self.s[self.i] == b']' {
                        self.i += 1;
                        break;
                    }
                    xs.push(self.value());
                    self.ws();
                    if self.s[self.i] == b',' {
                        self.i += 1;
                    }
                }
                Json::Arr(xs)
            }
            b'"' => {
                self.i += 1;
                let start = self.i;
                while self.s[self.i] != b'"' {
                    self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
                }
                let out = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Json::Str(out)
            }
            b't' | b'f' | b'n' => {
                while self.i < self.s.len() && self.s[self.i].is_ascii_alphabetic() {
                    self.i += 1;
                }
                Json::Lit
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Num(text.parse().unwrap_or_else(|_| panic!("bad number {text}")))
            }
        }
    }
}

#[test]
fn acasxu_networks_keep_their_reference_outputs() {
    // `../shared/benchmarks` from the workspace root (tests run in `prover/`).
    let Some(dir) = axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    )) else {
        return;
    };
    let dir = dir.join("acasxu");
    let first = dir.join("ACASXU_run2a_1_1_batch_2000.onnx");
    if !first.is_file() {
        eprintln!("skipping: {} not found", first.display());
        return;
    }
    let text = std::fs::read_to_string(dir.join("reference_outputs.json")).unwrap();
    let reference = Json::parse(&text);
    let Some(Json::Obj(cases)) = reference.get("cases") else {
        panic!("reference_outputs.json has no cases")
    };
    assert!(cases.len() >= 5, "only {} reference networks", cases.len());
    let mut networks = 0;
    for (file, case) in cases {
        let g = axiom_core::load_model(&dir.join(file)).unwrap();
        let s = simplify(&g).unwrap();
        assert!(s.graph.nodes.len() <= g.nodes.len());
        if networks == 0 {
            eprintln!(
                "{file}: {} -> {} nodes; applied {:?}; skipped {:?}",
                g.nodes.len(),
                s.graph.nodes.len(),
                s.applied,
                s.skipped
            );
        }
        let inputs = case.get("inputs").unwrap().rows();
        let want = case.get("outputs").unwrap().rows();
        let got = run_f64(&s.graph, &inputs);
        let orig = run_f64(&g, &inputs);
        for (r, row) in want.iter().enumerate() {
            for (c, &w) in row.iter().enumerate() {
                let v = got[[r, c]];
                assert!(
                    (v - w).abs() <= 1e-6 + 1e-5 * w.abs(),
                    "{file} case {r} output {c}: simplified {v}, reference {w}"
                );
                assert!((v - orig[[r, c]]).abs() <= 1e-12 * (1.0 + w.abs()));
            }
        }
        networks += 1;
    }
    assert_eq!(networks, cases.len());
    eprintln!("{networks} ACAS Xu networks checked");
}

// ---------------------------------------------------------------- discharge

fn net_with(last: Option<Op>, outputs: usize) -> Graph {
    let mut b = GraphBuilder::new("d", "x", vec![1, 2]);
    let w = Array2::from_shape_fn((outputs, 2), |(r, c)| (r as f32 - c as f32) * 0.5);
    let mut v = b.push(
        "fc",
        Op::Gemm {
            weight: w,
            bias: None,
        },
        0,
    );
    if let Some(op) = last {
        v = b.push("act", op, v);
    }
    b.finish(v).unwrap()
}

fn assert_discharged(g: &Graph, goal: &str) {
    let d = discharge(g, goal)
        .unwrap_or_else(|e| panic!("{goal}: {e}"))
        .unwrap_or_else(|| panic!("{goal} was not discharged"));
    assert!(!d.explanation.is_empty(), "{goal}");
    let last = d.explanation.last().unwrap();
    assert!(
        last == "true" || last.ends_with(" true)"),
        "{goal}: ends with {last}"
    );
    let names = rule_names();
    for line in &d.explanation[1..] {
        let marks = line.matches("(Rewrite=>").count() + line.matches("(Rewrite<=").count();
        assert_eq!(marks, 1, "{goal}: one rewrite per line: {line}");
    }
    for r in &d.rules {
        assert!(names.contains(&r.as_str()), "{goal}: unknown rule {r}");
    }
    if goal != "true" {
        assert!(!d.rules.is_empty(), "{goal}");
    }
}

fn assert_not_discharged(g: &Graph, goal: &str) {
    match discharge(g, goal) {
        Ok(None) => {}
        Ok(Some(d)) => panic!("{goal} was discharged: {:#?}", d.explanation),
        Err(e) => panic!("{goal}: {e}"),
    }
}

#[test]
fn softmax_facts_are_discharged() {
    let g = net_with(Some(Op::Softmax { axis: 1 }), 3);
    for goal in [
        "(== (sum y) 1)",
        "(== (sum (softmax z)) 1)",
        "(in (idx y 0) 0 1)",
        "(in (idx (softmax z) 2) -0.5 1.5)",
        "(in y 0 1)",
        "(<= (idx (softmax z) 0) 1)",
        "(<= (idx y 1) 1)",
        "(>= (idx y 2) 0)",
        "(> (idx y 2) -1/3)",
        "(< y 1.01)",
        "(>= y 0)",
        "(and (>= (sum y) 1) (<= (sum y) 1))",
        "(or (<= (idx y 0) 0.5) (<= (idx y 0) 1))",
        "(not (== (sum y) 2))",
    ] {
        assert_discharged(&g, goal);
    }
    let d = discharge(&g, "(== (sum y) 1)").unwrap().unwrap();
    assert_eq!(d.explanation[0], "(== (sum y) 1)");
    for r in ["output-softmax", "softmax-sum", "const-eq-true"] {
        assert!(d.rules.contains(&r.to_string()), "{r} missing: {d:#?}");
    }
}

#[test]
fn sigmoid_tanh_relu_facts_are_discharged() {
    let sig = net_with(Some(Op::Sigmoid), 2);
    for goal in [
        "(>= (sigmoid z) 0)",
        "(< (sigmoid z) 1)",
        "(in_open y 0 1)",
        "(in_open (idx y 1) 0 1)",
        "(> y 0)",
        "(<= (idx y 0) 1)",
        "(in_open (idx y 0) -1 1.5)",
    ] {
        assert_discharged(&sig, goal);
    }
    let tanh = net_with(Some(Op::Tanh), 2);
    for goal in [
        "(> (tanh z) -2)",
        "(in y -1 1)",
        "(<= (idx y 0) 1)",
        "(>= y -1)",
        "(in_open y -1.5 1.5)",
    ] {
        assert_discharged(&tanh, goal);
    }
    let relu = net_with(Some(Op::Relu), 2);
    for goal in [
        "(>= y 0)",
        "(>= (idx y 1) 0)",
        "(> (idx y 0) -0.001)",
        "(<= 0 (relu z))",
    ] {
        assert_discharged(&relu, goal);
    }
    // Constants and Boolean structure need no model fact.
    let plain = net_with(None, 2);
    for goal in [
        "(== 1 1)",
        "(== 1 1.0)",
        "true",
        "(not false)",
        "(and true true)",
        "(or true (<= (idx y 0) 0.5))",
        "(< 0.1 1/3)",
        "(not (<= 2 1))",
        "(== (idx y 0) (idx y 0))",
    ] {
        assert_discharged(&plain, goal);
    }
}

#[test]
fn false_or_unprovable_goals_are_not_discharged() {
    let softmax = net_with(Some(Op::Softmax { axis: 1 }), 3);
    for goal in [
        "(<= (idx (softmax z) 0) 0.5)",
        "(<= (idx y 0) 0.5)",
        "(< y 1)",
        "(> (idx y 0) 0)",
        "(== (sum y) 2)",
        "(in y 0.1 1)",
        "(not (== (sum y) 1))",
    ] {
        assert_not_discharged(&softmax, goal);
    }
    // A one-element softmax is exactly 1: never in the open interval.
    let single = net_with(Some(Op::Softmax { axis: 1 }), 1);
    assert_not_discharged(&single, "(in_open (idx (softmax z) 0) 0 1)");
    assert_not_discharged(&single, "(in_open (idx y 0) 0 1)");
    assert_not_discharged(&single, "(in_open y 0 1)");
    assert_discharged(&single, "(in y 0 1)");
    let sig = net_with(Some(Op::Sigmoid), 2);
    for goal in [
        "(in_open (sigmoid z) 0.5 1)",
        "(<= y 0.99)",
        "(> y 0.001)",
        "(in_open y 0 0.999)",
    ] {
        assert_not_discharged(&sig, goal);
    }
    let tanh = net_with(Some(Op::Tanh), 2);
    for goal in [
        "(>= (tanh z) 0)",
        "(< y 1)",
        "(> (idx y 0) -1)",
        "(in_open y -1 1)",
    ] {
        assert_not_discharged(&tanh, goal);
    }
    let relu = net_with(Some(Op::Relu), 2);
    for goal in ["(> y 0)", "(<= y 100)"] {
        assert_not_discharged(&relu, goal);
    }
    // A plain Gemm output: y is opaque.
    let plain = net_with(None, 3);
    for goal in [
        "(>= y 0)",
        "(<= (idx y 0) 1)",
        "(== (sum y) 1)",
        "(in y 0 1)",
        "(>= (relu (idx y 0)) 1)",
    ] {
        assert_not_discharged(&plain, goal);
    }
    // A softmax over one axis of a [2, 3] output sums to 2, not 1: y stays
    // opaque.
    let mut b = GraphBuilder::new("rows", "x", vec![2, 2]);
    let h = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
            bias: None,
        },
        0,
    );
    let y = b.push("sm", Op::Softmax { axis: 1 }, h);
    let rows = b.finish(y).unwrap();
    assert_not_discharged(&rows, "(== (sum y) 1)");
    assert_not_discharged(&rows, "(in y 0 1)");
    // Looking through a Flatten after a whole-output softmax keeps the facts.
    let mut b = GraphBuilder::new("flat", "x", vec![1, 2]);
    let h = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0, 0.0], [0.0, 1.0]]),
            bias: None,
        },
        0,
    );
    let s = b.push("sm", Op::Softmax { axis: 1 }, h);
    let y = b.push("flat", Op::Flatten { axis: 0 }, s);
    let flat = b.finish(y).unwrap();
    assert_discharged(&flat, "(== (sum y) 1)");
}

#[test]
fn malformed_goals_are_errors() {
    let softmax = net_with(Some(Op::Softmax { axis: 1 }), 3);
    let plain = net_with(None, 3);
    for goal in [
        "",
        "(<= y",
        "(<= y 1))",
        "(foo y)",
        "(idx y 0)",
        "y",
        "(<= (idx y 3) 1)",
        "(<= (idx y 0) abc)",
        "(in y 0)",
        "(and (<= y 1))",
        "(<= (idx y 1.5) 1)",
        "(<= (sum 3) 1)",
        "(not 1)",
        "(<= 1/0 1)",
    ] {
        assert!(
            matches!(discharge(&softmax, goal), Err(RewriteError::Goal(_))),
            "{goal:?} should be malformed"
        );
    }
    // z exists only when the output has an activation.
    assert!(matches!(
        discharge(&plain, "(<= (idx z 0) 1)"),
        Err(RewriteError::Goal(_))
    ));
    assert!(discharge(&softmax, "(<= (idx z 0) (idx z 0))")
        .unwrap()
        .is_some());
}

#[test]
fn rule_names_are_stable_and_documented() {
    let names = rule_names();
    for r in [
        "output-softmax",
        "output-sigmoid",
        "output-tanh",
        "output-relu",
        "softmax-sum",
        "const-eq-true",
        "and-true-l",
        "or-true-l",
        "not-false",
        "sigmoid-upper-lt",
        "tanh-lower-lt",
        "relu-lower-le",
    ] {
        assert!(names.contains(&r), "{r}");
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len());
}
