//! The exact checker on convolutional networks: Conv2d and AveragePool are
//! lowered to exact dense layers whose outputs match an independent
//! reference of the ONNX semantics (zero padding as `[top, left, bottom,
//! right]`, strides, dilations, groups, `count_include_pad`), proofs check
//! below the true minimum and fail above it, and an average that would
//! divide by a number that is not a power of two is refused by name.

use axiom_certs::check::{check_counterexample, check_proof, CheckError, MAX_LAYER_ENTRIES};
use axiom_certs::evidence::{
    CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation,
};
use axiom_core::graph::{Graph, GraphBuilder, Op};
use axiom_core::spec::{Property, Var};
use axiom_core::vnnlib;
use ndarray::{Array1, Array2, Array4};
use num_rational::BigRational;
use num_traits::Zero;

/// Deterministic dyadics `k / den` with integer `k` in `[-span, span]`.
fn dyadics(seed: u64, n: usize, span: u64, den: f32) -> Vec<f32> {
    let mut s = seed ^ 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let k = ((s >> 33) % (2 * span + 1)) as f32 - span as f32;
            k / den
        })
        .collect()
}

// ---------------------------------------------------------------------------
// An independent reference, in f64: pad explicitly, then slide the window
// over the padded tensor. Every number in these tests is a dyadic with few
// bits, so each f64 operation below is exact.

/// A row-major `[N, C, H, W]` tensor.
#[derive(Clone, Debug)]
struct T4 {
    shape: [usize; 4],
    v: Vec<f64>,
}

impl T4 {
    fn zeros(shape: [usize; 4]) -> Self {
        T4 {
            shape,
            v: vec![0.0; shape.iter().product()],
        }
    }
    fn idx(&self, [n, c, y, x]: [usize; 4]) -> usize {
        let [_, cs, hs, ws] = self.shape;
        ((n * cs + c) * hs + y) * ws + x
    }
    fn at(&self, i: [usize; 4]) -> f64 {
        self.v[self.idx(i)]
    }
    fn set(&mut self, i: [usize; 4], value: f64) {
        let k = self.idx(i);
        self.v[k] = value;
    }
    /// The tensor with `pads = [top, left, bottom, right]` zeros around
    /// every plane.
    fn padded(&self, [pt, pl, pb, pr]: [usize; 4]) -> T4 {
        let [n, c, h, w] = self.shape;
        let mut out = T4::zeros([n, c, h + pt + pb, w + pl + pr]);
        for a in 0..n {
            for b in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        out.set([a, b, y + pt, x + pl], self.at([a, b, y, x]));
                    }
                }
            }
        }
        out
    }
}

fn conv_ref(x: &T4, g: &ConvGeom, weight: &Array4<f32>, bias: Option<&Array1<f32>>) -> T4 {
    let p = x.padded(g.pads);
    let [n, _, ph, pw] = p.shape;
    let (m, cg, kh, kw) = weight.dim();
    let oh = (ph - (g.dilations[0] * (kh - 1) + 1)) / g.strides[0] + 1;
    let ow = (pw - (g.dilations[1] * (kw - 1) + 1)) / g.strides[1] + 1;
    let per_group = m / g.group;
    let mut out = T4::zeros([n, m, oh, ow]);
    for a in 0..n {
        for oc in 0..m {
            let first_channel = (oc / per_group) * cg;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias.map_or(0.0, |b| f64::from(b[oc]));
                    for icg in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let y = oy * g.strides[0] + ky * g.dilations[0];
                                let xx = ox * g.strides[1] + kx * g.dilations[1];
                                s += f64::from(weight[[oc, icg, ky, kx]])
                                    * p.at([a, first_channel + icg, y, xx]);
                            }
                        }
                    }
                    out.set([a, oc, oy, ox], s);
                }
            }
        }
    }
    out
}

/// Average pooling with a 2x2 window, stride 2.
fn avg_ref(x: &T4, pads: [usize; 4], count_include_pad: bool) -> T4 {
    let p = x.padded(pads);
    let mut ones = x.clone();
    ones.v.iter_mut().for_each(|v| *v = 1.0);
    let mask = ones.padded(pads);
    let [n, c, ph, pw] = p.shape;
    let (oh, ow) = ((ph - 2) / 2 + 1, (pw - 2) / 2 + 1);
    let mut out = T4::zeros([n, c, oh, ow]);
    for a in 0..n {
        for b in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut s, mut cells) = (0.0, 0.0);
                    for y in 2 * oy..2 * oy + 2 {
                        for xx in 2 * ox..2 * ox + 2 {
                            s += p.at([a, b, y, xx]);
                            cells += mask.at([a, b, y, xx]);
                        }
                    }
                    let count = if count_include_pad { 4.0 } else { cells };
                    out.set([a, b, oy, ox], if cells == 0.0 { 0.0 } else { s / count });
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------

/// A convolution's geometry.
#[derive(Clone, Copy, Debug)]
struct ConvGeom {
    input: [usize; 4],
    m: usize,
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 4],
    dilations: [usize; 2],
    group: usize,
    bias: bool,
    /// The pooling's pads (2x2 window, stride 2) and `count_include_pad`.
    pool_pads: [usize; 4],
    count_include_pad: bool,
}

/// `x` -> Conv2d -> Relu -> AveragePool (2x2, stride 2) -> Flatten -> Gemm
/// (2 outputs): the graph and its f64 reference.
struct ConvNet {
    graph: Graph,
    weight: Array4<f32>,
    bias: Option<Array1<f32>>,
    fc: Array2<f32>,
    fc_bias: Array1<f32>,
    geom: ConvGeom,
}

impl ConvNet {
    fn new(geom: ConvGeom, seed: u64, conv_bias: Option<Vec<f32>>) -> Self {
        let cg = geom.input[1] / geom.group;
        let [kh, kw] = geom.kernel;
        let weight = Array4::from_shape_vec(
            (geom.m, cg, kh, kw),
            dyadics(seed, geom.m * cg * kh * kw, 4, 4.0),
        )
        .unwrap();
        let bias = conv_bias
            .or_else(|| geom.bias.then(|| dyadics(seed + 1, geom.m, 4, 4.0)))
            .map(Array1::from);
        let mut b = GraphBuilder::new("conv", "x", geom.input.to_vec());
        let conv = b.push(
            "conv",
            Op::Conv2d {
                weight: weight.clone(),
                bias: bias.clone(),
                strides: geom.strides,
                pads: geom.pads,
                dilations: geom.dilations,
                group: geom.group,
            },
            b.input(),
        );
        let relu = b.push("relu", Op::Relu, conv);
        let pool = b.push(
            "pool",
            Op::AveragePool {
                kernel: [2, 2],
                strides: [2, 2],
                pads: geom.pool_pads,
                count_include_pad: geom.count_include_pad,
            },
            relu,
        );
        let flat = b.push("flat", Op::Flatten { axis: 1 }, pool);
        // The flattened width, from the reference (the Gemm below only
        // validates when the graph's own shape inference agrees).
        let width = {
            let zeros = vec![0.0; geom.input.iter().product()];
            let x = T4 {
                shape: geom.input,
                v: zeros,
            };
            let h = conv_ref(&x, &geom, &weight, bias.as_ref());
            avg_ref(&h, geom.pool_pads, geom.count_include_pad).v.len() / geom.input[0]
        };
        let fc = Array2::from_shape_vec((2, width), dyadics(seed + 2, 2 * width, 8, 8.0)).unwrap();
        let fc_bias = Array1::from(dyadics(seed + 3, 2, 4, 4.0));
        let y = b.push(
            "fc",
            Op::Gemm {
                weight: fc.clone(),
                bias: Some(fc_bias.clone()),
            },
            flat,
        );
        let graph = b.finish(y).unwrap();
        ConvNet {
            graph,
            weight,
            bias,
            fc,
            fc_bias,
            geom,
        }
    }

    fn n_in(&self) -> usize {
        self.geom.input.iter().product()
    }

    /// The pre-activation of the convolution (reference).
    fn conv(&self, x: &[f64]) -> T4 {
        let x = T4 {
            shape: self.geom.input,
            v: x.to_vec(),
        };
        conv_ref(&x, &self.geom, &self.weight, self.bias.as_ref())
    }

    /// The number of outputs: two per image (Flatten keeps the batch axis
    /// `N` of the sample, and the Gemm maps each image's row).
    fn n_out(&self) -> usize {
        2 * self.geom.input[0]
    }

    /// The network's outputs, `[N, 2]` row-major (reference).
    fn eval(&self, x: &[f64]) -> Vec<f64> {
        let mut h = self.conv(x);
        h.v.iter_mut().for_each(|v| *v = v.max(0.0));
        let pooled = avg_ref(&h, self.geom.pool_pads, self.geom.count_include_pad);
        let mut y = Vec::new();
        for image in pooled.v.chunks_exact(self.fc.ncols()) {
            for j in 0..2 {
                y.push(
                    f64::from(self.fc_bias[j])
                        + image
                            .iter()
                            .zip(self.fc.row(j))
                            .map(|(a, &w)| a * f64::from(w))
                            .sum::<f64>(),
                );
            }
        }
        assert_eq!(y.len(), self.n_out(), "the reference's shape");
        y
    }
}

/// "Some x in `[lo, hi]^n` gives `sign · Y_out <= sign · t`", with the exact
/// rational `t`: `Y_out <= t` (sign 1) or `Y_out >= t` (sign -1).
fn threshold(
    n_in: usize,
    n_out: usize,
    lo: f64,
    hi: f64,
    out: usize,
    t: &BigRational,
    sign: i32,
) -> Property {
    let mut text = String::new();
    for i in 0..n_in {
        text += &format!("(declare-const X_{i} Real)\n");
    }
    for j in 0..n_out {
        text += &format!("(declare-const Y_{j} Real)\n");
    }
    for i in 0..n_in {
        text += &format!("(assert (>= X_{i} {lo}))\n(assert (<= X_{i} {hi}))\n");
    }
    text += &format!("(assert (<= Y_{out} 0))\n");
    let mut p = vnnlib::parse(&text).unwrap();
    let c = &mut p.cases[0].output[0][0];
    assert!(c.expr.constant.is_zero() && !c.strict);
    assert_eq!(c.expr.terms.keys().collect::<Vec<_>>(), [&Var::Y(out)]);
    let s = BigRational::from_integer(sign.into());
    for coef in c.expr.terms.values_mut() {
        *coef = &*coef * &s;
    }
    c.expr.constant = -(t * &s);
    p
}

fn rat(v: f64) -> BigRational {
    BigRational::from_float(v).unwrap()
}

fn cex(input: Vec<f64>) -> Counterexample {
    Counterexample {
        input,
        output: Vec::new(),
        case: 0,
        disjunct: 0,
    }
}

/// Three geometries: stride 2, asymmetric pads, dilation 2 and group 2;
/// the transposed variant without bias; a depthwise one on a batch of two
/// images. Pools with 2x2 windows only ever divide by 1, 2 or 4.
fn geometries() -> Vec<ConvGeom> {
    vec![
        ConvGeom {
            input: [1, 2, 7, 6],
            m: 4,
            kernel: [3, 2],
            strides: [2, 1],
            pads: [1, 0, 2, 1],
            dilations: [2, 1],
            group: 2,
            bias: true,
            pool_pads: [1, 1, 0, 1],
            count_include_pad: false,
        },
        ConvGeom {
            input: [1, 2, 7, 6],
            m: 3,
            kernel: [2, 3],
            strides: [1, 2],
            pads: [0, 2, 1, 0],
            dilations: [1, 2],
            group: 1,
            bias: false,
            pool_pads: [1, 1, 0, 1],
            count_include_pad: true,
        },
        ConvGeom {
            input: [2, 4, 5, 5],
            m: 4,
            kernel: [2, 2],
            strides: [2, 2],
            pads: [1, 1, 0, 0],
            dilations: [2, 2],
            group: 4,
            bias: true,
            pool_pads: [0, 0, 1, 1],
            count_include_pad: false,
        },
    ]
}

#[test]
fn the_exact_output_of_a_conv_network_matches_the_reference() {
    for (i, geom) in geometries().into_iter().enumerate() {
        for include in [false, true] {
            let geom = ConvGeom {
                count_include_pad: include,
                ..geom
            };
            let net = ConvNet::new(geom, 10 * i as u64, None);
            let n = net.n_in();
            let x: Vec<f64> = dyadics(1000 + i as u64, n, 16, 8.0)
                .into_iter()
                .map(f64::from)
                .collect();
            // The ReLU matters: some pre-activations are negative, some not.
            let pre = net.conv(&x);
            assert!(pre.v.iter().any(|v| *v < 0.0) && pre.v.iter().any(|v| *v > 0.0));
            let y = net.eval(&x);
            for (out, &yj) in y.iter().enumerate() {
                let here = format!("geometry {i}, include {include}, Y_{out} = {yj}");
                let p = |t: f64, sign| threshold(n, y.len(), -2.0, 2.0, out, &rat(t), sign);
                // Y >= y - 1e-3 and Y <= y + 1e-3 hold, the shifted ones not.
                check_counterexample(&net.graph, &p(yj - 1e-3, -1), &cex(x.clone()))
                    .unwrap_or_else(|e| panic!("{here}: {e}"));
                check_counterexample(&net.graph, &p(yj + 1e-3, 1), &cex(x.clone()))
                    .unwrap_or_else(|e| panic!("{here}: {e}"));
                check_counterexample(&net.graph, &p(yj + 1e-3, -1), &cex(x.clone()))
                    .expect_err(&here);
                check_counterexample(&net.graph, &p(yj - 1e-3, 1), &cex(x.clone()))
                    .expect_err(&here);
                // The reference is exact here, so the output is pinned to y:
                // Y >= y and Y <= y hold, a shift by 2^-30 either way not.
                let tiny = 2f64.powi(-30);
                check_counterexample(&net.graph, &p(yj, -1), &cex(x.clone()))
                    .unwrap_or_else(|e| panic!("{here}: {e}"));
                check_counterexample(&net.graph, &p(yj, 1), &cex(x.clone()))
                    .unwrap_or_else(|e| panic!("{here}: {e}"));
                check_counterexample(&net.graph, &p(yj + tiny, -1), &cex(x.clone()))
                    .expect_err(&here);
                check_counterexample(&net.graph, &p(yj - tiny, 1), &cex(x.clone()))
                    .expect_err(&here);
            }
        }
    }
}

#[test]
fn the_text_form_of_the_output_bounds_is_met() {
    // The same pinning through vnnlib text: "Y_0 >= y - 1e-3" is met and
    // "Y_0 >= y + 1e-3" is not.
    let net = ConvNet::new(geometries()[0], 0, None);
    let n = net.n_in();
    let x: Vec<f64> = dyadics(1000, n, 16, 8.0)
        .into_iter()
        .map(f64::from)
        .collect();
    let y = net.eval(&x)[0];
    let property = |t: f64| {
        let mut text = String::new();
        for i in 0..n {
            text += &format!("(declare-const X_{i} Real)\n");
        }
        text += "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n";
        for i in 0..n {
            text += &format!("(assert (>= X_{i} -2))\n(assert (<= X_{i} 2))\n");
        }
        text += &format!("(assert (>= Y_0 {t}))\n");
        vnnlib::parse(&text).unwrap()
    };
    check_counterexample(&net.graph, &property(y - 1e-3), &cex(x.clone()))
        .expect("Y_0 >= y - 1e-3");
    let err = check_counterexample(&net.graph, &property(y + 1e-3), &cex(x))
        .expect_err("Y_0 >= y + 1e-3 is false");
    assert!(err.reason.contains("constraint 0"), "{err}");
}

/// A conv network whose ReLUs are all active on `[0, 1]^n`: input
/// `[1, 2, 4, 4]`, group 2, stride 2 down, dilation 2 across, asymmetric
/// pads; the conv bias (5) exceeds what its at most 4 taps of weight at most
/// 1 can take away from it. So the network is affine on the box.
fn affine_on_the_box() -> ConvNet {
    let geom = ConvGeom {
        input: [1, 2, 4, 4],
        m: 4,
        kernel: [2, 2],
        strides: [2, 1],
        pads: [1, 0, 1, 1],
        dilations: [1, 2],
        group: 2,
        bias: true,
        pool_pads: [1, 1, 1, 1],
        count_include_pad: false,
    };
    let net = ConvNet::new(geom, 7, Some(vec![5.0; 4]));
    // Every pre-activation is at least 5 - Σ|w| > 0 on [0, 1]^n.
    for oc in 0..4 {
        let taps: f64 = net
            .weight
            .slice(ndarray::s![oc, .., .., ..])
            .iter()
            .map(|w| f64::from(w.abs()))
            .sum();
        assert!(taps < 5.0);
    }
    net
}

/// One leaf over `[0, 1]^n` that refutes the only disjunct by bounds.
fn one_leaf(n: usize) -> Evidence {
    Evidence {
        cases: vec![CaseProof {
            case: 0,
            lower: vec![0.0; n],
            upper: vec![1.0; n],
            root: ProofNode::Leaf(LeafProof {
                refutations: vec![Refutation::Bound {
                    disjunct: 0,
                    multipliers: vec![1.0],
                    relu_slopes: Vec::new(),
                    lower_bound: 0.0,
                }],
            }),
        }],
    }
}

#[test]
fn a_proof_on_a_conv_network_checks_below_the_minimum_and_fails_above() {
    let net = affine_on_the_box();
    let n = net.n_in();
    for out in 0..2 {
        // Y_out is affine on the box: its minimum is the value at 0 plus
        // every negative slope (each slope exact: f(e_i) - f(0)).
        let f0 = net.eval(&vec![0.0; n])[out];
        let mut min = f0;
        let mut argmin = vec![0.0; n];
        for i in 0..n {
            let mut e = vec![0.0; n];
            e[i] = 1.0;
            let slope = net.eval(&e)[out] - f0;
            if slope < 0.0 {
                min += slope;
                argmin[i] = 1.0;
            }
        }
        assert_eq!(net.eval(&argmin)[out], min, "affine on the box");
        // Dense sampling never goes below it.
        for k in 0..200u64 {
            let x: Vec<f64> = dyadics(k, n, 8, 16.0)
                .into_iter()
                .map(|v| f64::from(v) + 0.5)
                .collect();
            assert!(net.eval(&x)[out] >= min);
        }
        let margin = 2f64.powi(-10);
        let below = |t: f64| threshold(n, 2, 0.0, 1.0, out, &rat(t), 1);
        let report = check_proof(&net.graph, &below(min - margin), &one_leaf(n))
            .unwrap_or_else(|e| panic!("Y_{out} <= {min} - margin is refuted: {e}"));
        assert_eq!((report.leaves, report.bound_refutations), (1, 1));
        // At and above the minimum, some input reaches the unsafe set: no
        // proof may check.
        for t in [min, min + margin] {
            let err = check_proof(&net.graph, &below(t), &one_leaf(n))
                .expect_err("a violated property must not check");
            assert!(err.reason.contains("not above 0"), "{err}");
        }
        // And the minimising corner is a counterexample there.
        check_counterexample(&net.graph, &below(min), &cex(argmin))
            .expect("the minimising corner reaches Y <= min");
    }
}

/// `x` of shape `[1, 1, 1, 5]` -> AveragePool (1x4 window, stride 2, one
/// column of padding on the left): the first window holds 3 cells, the
/// second 4.
fn pool_net(count_include_pad: bool) -> Graph {
    let mut b = GraphBuilder::new("pool", "x", vec![1, 1, 1, 5]);
    let p = b.push(
        "pool",
        Op::AveragePool {
            kernel: [1, 4],
            strides: [1, 2],
            pads: [0, 1, 0, 0],
            count_include_pad,
        },
        b.input(),
    );
    let f = b.push("flat", Op::Flatten { axis: 1 }, p);
    b.finish(f).unwrap()
}

fn assert_refused_for_three_cells(err: CheckError) {
    assert_eq!(err.place, "model node 'pool'", "{err}");
    assert!(
        err.reason.contains("averaging over 3 cells") && err.reason.contains("not a power of two"),
        "{err}"
    );
}

#[test]
fn an_average_over_three_cells_is_refused_by_name() {
    let net = pool_net(false);
    let x = cex(vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    let p = threshold(5, 2, 0.0, 8.0, 0, &rat(2.0), 1);
    assert_refused_for_three_cells(check_counterexample(&net, &p, &x).unwrap_err());
    let proof = Evidence {
        cases: vec![CaseProof {
            case: 0,
            lower: vec![0.0; 5],
            upper: vec![8.0; 5],
            root: ProofNode::Leaf(LeafProof {
                refutations: vec![Refutation::Bound {
                    disjunct: 0,
                    multipliers: vec![1.0],
                    relu_slopes: Vec::new(),
                    lower_bound: 0.0,
                }],
            }),
        }],
    };
    assert_refused_for_three_cells(check_proof(&net, &p, &proof).unwrap_err());
}

#[test]
fn an_average_counting_the_padding_divides_by_the_window() {
    // With count_include_pad every window divides by 4: the outputs are
    // (1 + 2 + 3) / 4 = 1.5 and (2 + 3 + 4 + 5) / 4 = 3.5, exactly.
    let net = pool_net(true);
    let x = || cex(vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    for (out, y) in [(0, 1.5), (1, 3.5)] {
        let p = |t: f64, sign| threshold(5, 2, 0.0, 8.0, out, &rat(t), sign);
        check_counterexample(&net, &p(y, 1), &x()).expect("Y <= y");
        check_counterexample(&net, &p(y, -1), &x()).expect("Y >= y");
        let tiny = 2f64.powi(-40);
        assert!(check_counterexample(&net, &p(y - tiny, 1), &x()).is_err());
        assert!(check_counterexample(&net, &p(y + tiny, -1), &x()).is_err());
    }
    // Not the average over the 3 in-range cells (2).
    assert!(
        check_counterexample(&net, &threshold(5, 2, 0.0, 8.0, 0, &rat(2.0), -1), &x()).is_err()
    );
}

#[test]
fn a_window_of_padding_only_is_zero() {
    // Pads of 2 above and below a 1x1 sample, 1x1 window: [0, 0, x, 0, 0].
    for count_include_pad in [false, true] {
        let mut b = GraphBuilder::new("pool", "x", vec![1, 1, 1, 1]);
        let p = b.push(
            "pool",
            Op::AveragePool {
                kernel: [1, 1],
                strides: [1, 1],
                pads: [2, 0, 2, 0],
                count_include_pad,
            },
            b.input(),
        );
        let f = b.push("flat", Op::Flatten { axis: 1 }, p);
        let net = b.finish(f).unwrap();
        for (out, y) in [(0, 0.0), (1, 0.0), (2, 3.0), (3, 0.0), (4, 0.0)] {
            let p = |sign| threshold(1, 5, 0.0, 4.0, out, &rat(y), sign);
            check_counterexample(&net, &p(1), &cex(vec![3.0])).expect("Y <= y");
            check_counterexample(&net, &p(-1), &cex(vec![3.0])).expect("Y >= y");
        }
        let p = threshold(1, 5, 0.0, 4.0, 2, &rat(3.5), -1);
        assert!(check_counterexample(&net, &p, &cex(vec![3.0])).is_err());
    }
}

#[test]
fn a_convolution_with_too_many_weights_is_refused() {
    // 2048 x 2048 pixels, a 5x5 kernel: 2^22 outputs of 25 weights each,
    // more than the checker holds for one layer.
    let mut b = GraphBuilder::new("big", "x", vec![1, 1, 2048, 2048]);
    let c = b.push(
        "conv",
        Op::Conv2d {
            weight: Array4::from_elem((1, 1, 5, 5), 1.0),
            bias: None,
            strides: [1, 1],
            pads: [2; 4],
            dilations: [1, 1],
            group: 1,
        },
        b.input(),
    );
    let net = b.finish(c).unwrap();
    let p = threshold(1, 1, 0.0, 1.0, 0, &rat(0.0), 1);
    let err = check_counterexample(&net, &p, &cex(vec![0.0])).unwrap_err();
    assert_eq!(err.place, "model node 'conv'", "{err}");
    assert!(err.reason.contains(&MAX_LAYER_ENTRIES.to_string()), "{err}");
}
