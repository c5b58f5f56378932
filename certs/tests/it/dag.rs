//! The exact checker on DAG networks: residual connections (`Op::Sum`) and
//! concatenations (`Op::Concat`). Proofs check when the property holds with
//! a margin that only back-substitution through the Sum or Concat can show,
//! and fail when a point violates the property; a ReLU split names the ReLU
//! by its ordinal in node order and fixes the phase of the value it reads;
//! counterexamples are evaluated exactly over the DAG, with the Concat index
//! map pinned element by element along every axis.

use axiom_certs::check::{check_counterexample, check_proof};
use axiom_certs::evidence::{
    CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation,
};
use axiom_core::graph::{Graph, GraphBuilder, Op};
use axiom_core::spec::Property;
use axiom_core::vnnlib;
use ndarray::{Array1, Array2, Array4, ArrayD, IxDyn};

fn gemm(w: &[&[f32]], b: Option<&[f32]>) -> Op {
    let cols = w[0].len();
    let flat: Vec<f32> = w.iter().flat_map(|r| r.iter().copied()).collect();
    Op::Gemm {
        weight: Array2::from_shape_vec((w.len(), cols), flat).unwrap(),
        bias: b.map(|b| Array1::from_vec(b.to_vec())),
    }
}

fn scalar(v: f32) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(&[1]), vec![v]).unwrap()
}

/// "Some x in the box `[lo, hi]` meets `out`" (VNN-LIB assertions on `Y_i`).
fn property(lo: &[f64], hi: &[f64], n_out: usize, out: &str) -> Property {
    let mut s = String::new();
    for i in 0..lo.len() {
        s += &format!("(declare-const X_{i} Real)\n");
    }
    for i in 0..n_out {
        s += &format!("(declare-const Y_{i} Real)\n");
    }
    for (i, (l, h)) in lo.iter().zip(hi).enumerate() {
        s += &format!("(assert (>= X_{i} {l}))\n(assert (<= X_{i} {h}))\n");
    }
    s += out;
    vnnlib::parse(&s).unwrap()
}

/// A disjunct pinning every output to `ys` (`Y_i <= y_i` and `Y_i >= y_i`).
fn pinned(ys: &[f64]) -> String {
    ys.iter()
        .enumerate()
        .map(|(i, y)| format!("(assert (<= Y_{i} {y}))\n(assert (>= Y_{i} {y}))\n"))
        .collect()
}

/// A leaf refuting disjunct 0 (one constraint) by bounds, with `slopes`.
fn leaf(slopes: Vec<Vec<f64>>) -> ProofNode {
    ProofNode::Leaf(LeafProof {
        refutations: vec![Refutation::Bound {
            disjunct: 0,
            multipliers: vec![1.0],
            relu_slopes: slopes,
            lower_bound: 0.0,
        }],
    })
}

fn evidence(lo: &[f64], hi: &[f64], root: ProofNode) -> Evidence {
    Evidence {
        cases: vec![CaseProof {
            case: 0,
            lower: lo.to_vec(),
            upper: hi.to_vec(),
            root,
        }],
    }
}

fn cex(input: &[f64], n_out: usize) -> Counterexample {
    Counterexample {
        input: input.to_vec(),
        output: vec![0.0; n_out],
        case: 0,
        disjunct: 0,
    }
}

const LO: [f64; 2] = [-1.0, -1.0];
const HI: [f64; 2] = [1.0, 1.0];

/// `y = W2 relu(W1 x + b1) + x` on `x` in `[-1, 1]²`, with
/// `h = (x0 + 2, x0 + x1)`, `y0 = -relu(x0 + 2) + x0 = -2` exactly (the
/// ReLU is active: `x0 + 2 >= 1`) and `y1 = relu(x0 + x1) + x1` in `[-1, 3]`.
/// Interval bounds give `y0` in `[-4, 0]`: only back-substitution through
/// the Sum, which gives `x0` coefficients from both of its inputs, sees -2.
fn residual_net() -> Graph {
    let mut b = GraphBuilder::new("residual", "x", vec![1, 2]);
    let h = b.push(
        "fc1",
        gemm(&[&[1.0, 0.0], &[1.0, 1.0]], Some(&[2.0, 0.0])),
        b.input(),
    );
    let r = b.push("relu", Op::Relu, h);
    let g = b.push("fc2", gemm(&[&[-1.0, 0.0], &[0.0, 1.0]], None), r);
    let y = b.push_inputs("skip", Op::Sum, vec![g, b.input()], "y");
    b.finish(y).unwrap()
}

fn residual_f64(x: [f64; 2]) -> [f64; 2] {
    let h = [x[0] + 2.0, x[0] + x[1]];
    [-h[0].max(0.0) + x[0], h[1].max(0.0) + x[1]]
}

/// `x` in `[-1, 1]²` -> `a = (x0 + 2, x1)` -> `r = relu(a)` ->
/// `c = concat(r, x)` along axis 1 -> `y = (-c0 + c2, c1 - c3)`:
/// `y0 = -2` exactly, `y1 = relu(x1) - x1` in `[0, 1]`. Interval bounds give
/// `y0` in `[-4, 0]` and `y1 <= 2`.
fn concat_net() -> Graph {
    let mut b = GraphBuilder::new("concat", "x", vec![1, 2]);
    let a = b.push(
        "fc1",
        gemm(&[&[1.0, 0.0], &[0.0, 1.0]], Some(&[2.0, 0.0])),
        b.input(),
    );
    let r = b.push("relu", Op::Relu, a);
    let c = b.push_inputs("cat", Op::Concat { axis: 1 }, vec![r, b.input()], "c");
    let y = b.push(
        "fc2",
        gemm(&[&[-1.0, 0.0, 1.0, 0.0], &[0.0, 1.0, 0.0, -1.0]], None),
        c,
    );
    b.finish(y).unwrap()
}

fn concat_f64(x: [f64; 2]) -> [f64; 2] {
    let r = [(x[0] + 2.0).max(0.0), x[1].max(0.0)];
    [-r[0] + x[0], r[1] - x[1]]
}

/// The property holds (checked by sampling the network in f64 first), and
/// a one-leaf proof of it checks.
fn proves(net: &Graph, f: fn([f64; 2]) -> [f64; 2], out: &str, holds: impl Fn([f64; 2]) -> bool) {
    for i in 0..=20 {
        for j in 0..=20 {
            let x = [-1.0 + f64::from(i) / 10.0, -1.0 + f64::from(j) / 10.0];
            assert!(
                holds(f(x)),
                "{out}: the sample {x:?} reaches the unsafe set"
            );
        }
    }
    let report = check_proof(
        net,
        &property(&LO, &HI, 2, out),
        &evidence(&LO, &HI, leaf(Vec::new())),
    )
    .unwrap_or_else(|e| panic!("{out}: the property holds with a margin: {e}"));
    assert_eq!((report.leaves, report.bound_refutations), (1, 1));
}

/// The property is false at `x` (checked in f64), and no proof may check.
fn refuted(net: &Graph, f: fn([f64; 2]) -> [f64; 2], out: &str, x: [f64; 2], reached: bool) {
    assert!(reached, "{out}: {x:?} -> {:?} must violate it", f(x));
    let err = check_proof(
        net,
        &property(&LO, &HI, 2, out),
        &evidence(&LO, &HI, leaf(Vec::new())),
    )
    .expect_err("a violated property must not check");
    assert!(err.reason.contains("not above 0"), "{out}: {err}");
}

#[test]
fn a_residual_proof_checks_when_the_property_holds_and_fails_when_it_does_not() {
    let net = residual_net();
    let f = residual_f64;
    // y0 = -2: "y0 <= -2.25" and "y0 >= -1.75" are unreachable (interval
    // bounds alone would give -4 and 0).
    proves(&net, f, "(assert (<= Y_0 -2.25))", |y| y[0] > -2.25);
    proves(&net, f, "(assert (>= Y_0 -1.75))", |y| y[0] < -1.75);
    proves(&net, f, "(assert (<= Y_1 -1.25))", |y| y[1] > -1.25);
    // ... and "y0 <= -1.75", "y0 >= -2.25", "y1 <= -0.75" are reached.
    let x = [0.5, -1.0];
    let y = f(x);
    refuted(&net, f, "(assert (<= Y_0 -1.75))", x, y[0] <= -1.75);
    refuted(&net, f, "(assert (>= Y_0 -2.25))", x, y[0] >= -2.25);
    refuted(&net, f, "(assert (<= Y_1 -0.75))", x, y[1] <= -0.75);
}

#[test]
fn a_concat_proof_checks_when_the_property_holds_and_fails_when_it_does_not() {
    let net = concat_net();
    let f = concat_f64;
    // y0 = -2 (interval: [-4, 0]); y1 <= 1 (interval: 2; back-substitution
    // with the ReLU's chord through the Concat: 1).
    proves(&net, f, "(assert (<= Y_0 -2.25))", |y| y[0] > -2.25);
    proves(&net, f, "(assert (>= Y_0 -1.75))", |y| y[0] < -1.75);
    proves(&net, f, "(assert (>= Y_1 1.25))", |y| y[1] < 1.25);
    let x = [0.0, -1.0];
    let y = f(x);
    refuted(&net, f, "(assert (<= Y_0 -1.75))", x, y[0] <= -1.75);
    refuted(&net, f, "(assert (>= Y_1 0.75))", x, y[1] >= 0.75);
    let x = [0.0, 0.5];
    refuted(&net, f, "(assert (<= Y_1 0.25))", x, f(x)[1] <= 0.25);
}

/// `x` in `[-1, 1]` (shape `[1, 1]`): `r = relu(x + 2)` (active),
/// `u = -r + (x + 2.5) = 0.5` exactly (a residual Sum), `y = relu(u)`.
/// Interval bounds give `u` in `[-1.5, 2.5]`, an unstable ReLU; only
/// tightening the Sum's output by back-substitution (it feeds a ReLU and
/// comes after one) makes it active.
fn tightened_net() -> Graph {
    let mut b = GraphBuilder::new("tight", "x", vec![1, 1]);
    let x = b.input();
    let h = b.push("shift", gemm(&[&[1.0]], Some(&[2.0])), x);
    let r = b.push("relu0", Op::Relu, h);
    let g = b.push("negate", gemm(&[&[-1.0]], None), r);
    let s = b.push("offset", Op::Add { c: scalar(2.5) }, x);
    let u = b.push_inputs("sum", Op::Sum, vec![g, s], "u");
    let y = b.push("relu1", Op::Relu, u);
    b.finish(y).unwrap()
}

#[test]
fn a_residual_sum_that_feeds_a_relu_is_tightened() {
    let net = tightened_net();
    let (lo, hi) = ([-1.0], [1.0]);
    // y = 0.5: "y >= 0.75" is unreachable, but with u in [-1.5, 2.5] the
    // ReLU's chord gives only y <= 0.625 u + 0.9375 <= 1.25.
    let holds = property(&lo, &hi, 1, "(assert (>= Y_0 0.75))");
    check_proof(&net, &holds, &evidence(&lo, &hi, leaf(Vec::new())))
        .expect("the Sum's output is tightened to [0.5, 0.5]");
    let reached = property(&lo, &hi, 1, "(assert (>= Y_0 0.25))");
    let err = check_proof(&net, &reached, &evidence(&lo, &hi, leaf(Vec::new())))
        .expect_err("a violated property must not check");
    assert!(err.reason.contains("not above 0"), "{err}");
    pins(&net, &lo, &hi, &[0.625], &[0.5]);
}

/// `x` in `[-1, 1]` (shape `[1, 1]`):
/// node 0 `p = x + 5` (in `[4, 6]`), node 1 `relu(p)` (ReLU layer 0,
/// stable), node 2 `s = -x / 2`, node 3 `r = relu(x)` (ReLU layer 1: it
/// reads the input, not node 2's value just before it), node 4 `z = 0 ·
/// relu(p)`, node 5 `y = r + s + z` (a Sum of three) `= |x| / 2`.
fn split_net() -> Graph {
    let mut b = GraphBuilder::new("split", "x", vec![1, 1]);
    let x = b.input();
    let p = b.push("shift", gemm(&[&[1.0]], Some(&[5.0])), x);
    let pr = b.push("relu0", Op::Relu, p);
    let s = b.push("half", Op::Mul { c: scalar(-0.5) }, x);
    let r = b.push("relu1", Op::Relu, x);
    let z = b.push("zero", Op::Mul { c: scalar(0.0) }, pr);
    let y = b.push_inputs("sum", Op::Sum, vec![r, s, z], "y");
    b.finish(y).unwrap()
}

fn relu_split(relu_layer: usize) -> ProofNode {
    ProofNode::ReluSplit {
        relu_layer,
        neuron: 0,
        refutations: Vec::new(),
        children: Box::new([leaf(Vec::new()), leaf(Vec::new())]),
    }
}

#[test]
fn a_relu_split_on_a_residual_net_fixes_the_phase_of_the_value_the_relu_reads() {
    let net = split_net();
    let (lo, hi) = ([-1.0], [1.0]);
    // y = |x| / 2 >= 0: "y <= -0.125" is unreachable.
    let holds = property(&lo, &hi, 1, "(assert (<= Y_0 -0.125))");
    // One leaf with the adaptive slope (1 on [-1, 1]) gives y >= x / 2 >= -0.5:
    // not enough.
    let err = check_proof(&net, &holds, &evidence(&lo, &hi, leaf(Vec::new())))
        .expect_err("the adaptive slope cannot show it");
    assert!(err.reason.contains("not above 0"), "{err}");
    // Splitting ReLU layer 1 (relu1: x <= 0 | x >= 0) shows it: each phase
    // is linear on its half of the box.
    let report = check_proof(&net, &holds, &evidence(&lo, &hi, relu_split(1)))
        .expect("the split proof holds");
    assert_eq!((report.leaves, report.bound_refutations), (2, 2));
    // Splitting ReLU layer 0 (relu0, stable) does not.
    check_proof(&net, &holds, &evidence(&lo, &hi, relu_split(0)))
        .expect_err("the other ReLU's phases do not help");
    // ReLU layer 1's slope 1/2 shows it without a split (y >= x/2 - x/2);
    // the same slope given to layer 0 does not.
    let slopes = leaf(vec![Vec::new(), vec![0.5]]);
    check_proof(&net, &holds, &evidence(&lo, &hi, slopes)).expect("alpha = 1/2 shows it");
    let wrong = leaf(vec![vec![0.5]]);
    check_proof(&net, &holds, &evidence(&lo, &hi, wrong)).expect_err("layer 0's slope");
    // y = 0 at x = 0: "y <= 0.125" is reached, and the split proof fails.
    let reached = property(&lo, &hi, 1, "(assert (<= Y_0 0.125))");
    let err = check_proof(&net, &reached, &evidence(&lo, &hi, relu_split(1)))
        .expect_err("a violated property must not check");
    assert!(err.reason.contains("not above 0"), "{err}");
    // A split must name an existing ReLU layer.
    let err = check_proof(&net, &holds, &evidence(&lo, &hi, relu_split(2)))
        .expect_err("there are two ReLU layers");
    assert!(err.reason.contains("ReLU layer 2"), "{err}");
}

/// The counterexample `x` is accepted with every output pinned to `ys` and
/// rejected with output `k` moved by `2^-20` either way.
fn pins(net: &Graph, lo: &[f64], hi: &[f64], x: &[f64], ys: &[f64]) {
    let n = ys.len();
    check_counterexample(net, &property(lo, hi, n, &pinned(ys)), &cex(x, n))
        .unwrap_or_else(|e| panic!("{x:?} -> {ys:?}: {e}"));
    for k in 0..n {
        for d in [-1.0, 1.0] {
            let mut moved = ys.to_vec();
            moved[k] += d * 2f64.powi(-20);
            let err = check_counterexample(net, &property(lo, hi, n, &pinned(&moved)), &cex(x, n))
                .expect_err("the output is elsewhere");
            assert!(err.reason.contains("constraint"), "{err}");
        }
    }
}

#[test]
fn counterexamples_are_evaluated_exactly_over_sums_and_concats() {
    // residual: y0 = -relu(x0 + 2) + x0 = -2, y1 = relu(x0 + x1) + x1.
    let net = residual_net();
    pins(&net, &LO, &HI, &[0.5, -0.25], &[-2.0, 0.0]);
    pins(&net, &LO, &HI, &[0.5, -0.75], &[-2.0, -0.75]);
    pins(&net, &LO, &HI, &[-0.375, 0.875], &[-2.0, 1.375]);
    // concat: y0 = -2, y1 = relu(x1) - x1.
    let net = concat_net();
    pins(&net, &LO, &HI, &[0.25, -0.5], &[-2.0, 0.5]);
    pins(&net, &LO, &HI, &[0.25, 0.75], &[-2.0, 0.0]);
    // split net, a Sum of three: y = relu(x) - x/2 + 0 · relu(x + 5).
    let net = split_net();
    pins(&net, &[-1.0], &[1.0], &[-0.5], &[0.25]);
    pins(&net, &[-1.0], &[1.0], &[0.75], &[0.375]);
    // A point that does not meet the disjunct is rejected: y0 = -2 > -3.
    let p = property(&LO, &HI, 2, "(assert (<= Y_0 -3))");
    let err = check_counterexample(&residual_net(), &p, &cex(&[0.5, 0.5], 2))
        .expect_err("not a counterexample");
    assert!(err.reason.contains("constraint 0"), "{err}");
    // ... and so is one outside the box.
    let p = property(&LO, &HI, 2, "(assert (<= Y_0 0))");
    check_counterexample(&residual_net(), &p, &cex(&[0.5, 1.5], 2)).expect_err("outside");
    check_counterexample(&residual_net(), &p, &cex(&[0.5, 0.5], 2)).expect("inside");
}

/// A depthwise convolution of the `[1, 2, 2, 2]` input with one kernel of
/// shape `[kh, kw]` for both channels.
fn depthwise(kernel: [usize; 2], taps: &[f32]) -> Op {
    Op::Conv2d {
        weight: Array4::from_shape_fn((2, 1, kernel[0], kernel[1]), |(_, _, i, j)| {
            taps[i * kernel[1] + j]
        }),
        bias: None,
        strides: [1, 1],
        pads: [0; 4],
        dilations: [1, 1],
        group: 2,
    }
}

/// `x` of shape `[1, 2, 2, 2]` concatenated with `other` (built from `x`)
/// along `axis`, and more for axis 1.
fn concat_along(axis: usize) -> Graph {
    let mut b = GraphBuilder::new("cat", "x", vec![1, 2, 2, 2]);
    let x = b.input();
    let inputs = match axis {
        1 => {
            // a = 2x [1, 2, 2, 2]; c = 2 x_ch0 - x_ch1 [1, 1, 2, 2].
            let a = b.push("double", Op::Mul { c: scalar(2.0) }, x);
            let c = b.push(
                "mix",
                Op::Conv2d {
                    weight: Array4::from_shape_vec((1, 2, 1, 1), vec![2.0, -1.0]).unwrap(),
                    bias: None,
                    strides: [1, 1],
                    pads: [0; 4],
                    dilations: [1, 1],
                    group: 1,
                },
                x,
            );
            vec![a, c, x]
        }
        // [1, 2, 1, 2]: row 0 - 3 row 1, per channel.
        2 => vec![x, b.push("rows", depthwise([2, 1], &[1.0, -3.0]), x)],
        // [1, 2, 2, 1]: column 0 - 3 column 1, per channel and row.
        _ => vec![x, b.push("cols", depthwise([1, 2], &[1.0, -3.0]), x)],
    };
    let y = b.push_inputs("cat", Op::Concat { axis }, inputs, "y");
    b.finish(y).unwrap()
}

#[test]
fn concat_places_every_element_along_every_axis() {
    // x[0, c, h, w] = 4c + 2h + w + 1: channel 0 [[1, 2], [3, 4]], channel
    // 1 [[5, 6], [7, 8]].
    let x: Vec<f64> = (1..=8).map(f64::from).collect();
    let (lo, hi) = (vec![0.0; 8], vec![10.0; 8]);
    // Axis 1 (channels), outer 1: 2x (8), then 2 ch0 - ch1 (4), then x (8).
    let axis1 = [
        2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, // 2x
        -3.0, -2.0, -1.0, 0.0, // 2 [1, 2, 3, 4] - [5, 6, 7, 8]
        1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, // x
    ];
    // Axis 2 (rows), outer 2 (channels): per channel its two rows of x,
    // then its row 0 - 3 row 1 (ch0: [1 - 9, 2 - 12], ch1: [5 - 21, 6 - 24]).
    let axis2 = [
        1.0, 2.0, 3.0, 4.0, -8.0, -10.0, // channel 0
        5.0, 6.0, 7.0, 8.0, -16.0, -18.0, // channel 1
    ];
    // Axis 3 (columns), outer 4 (channel, row): each row of x, then its
    // column 0 - 3 column 1.
    let axis3 = [
        1.0, 2.0, -5.0, 3.0, 4.0, -9.0, 5.0, 6.0, -13.0, 7.0, 8.0, -17.0,
    ];
    for (axis, ys) in [(1, &axis1[..]), (2, &axis2[..]), (3, &axis3[..])] {
        let net = concat_along(axis);
        assert_eq!(net.output_len().unwrap(), ys.len(), "axis {axis}");
        pins(&net, &lo, &hi, &x, ys);
    }
    // The map of a concatenation along the last axis is not the map of one
    // along another: axis 2's elements in axis-1 order are refused.
    let flat_order = [
        1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, -8.0, -10.0, -16.0, -18.0,
    ];
    let p = property(&lo, &hi, 12, &pinned(&flat_order));
    check_counterexample(&concat_along(2), &p, &cex(&x, 12)).expect_err("another order");
}

#[test]
fn what_cannot_be_lowered_is_refused_by_node_name() {
    let mut b = GraphBuilder::new("dag", "x", vec![1, 2]);
    let s = b.push("squash", Op::Sigmoid, b.input());
    let y = b.push_inputs("skip", Op::Sum, vec![s, b.input()], "y");
    let net = b.finish(y).unwrap();
    let p = property(&LO, &HI, 2, "(assert (<= Y_0 -5))");
    let err = check_proof(&net, &p, &evidence(&LO, &HI, leaf(Vec::new())))
        .expect_err("no sigmoid in the checker");
    assert_eq!(err.place, "model node 'squash'", "{err}");
    assert!(err.reason.contains("Sigmoid"), "{err}");
}
