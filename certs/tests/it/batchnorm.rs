//! The exact checker on networks with BatchNorm, whose factor
//! `scale / sqrt(var + epsilon)` is irrational: proofs check when the
//! property holds with a margin and fail when it is violated, and a
//! counterexample is accepted only when it holds for the true (irrational)
//! factor — never on the strength of a float evaluation.

use axiom_certs::check::{check_counterexample, check_proof};
use axiom_certs::evidence::{
    CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation,
};
use axiom_core::graph::{GraphBuilder, Op};
use axiom_core::spec::Property;
use axiom_core::vnnlib;
use ndarray::{arr1, arr2};
use num_rational::BigRational;
use num_traits::{Signed, Zero};

const EPS: f32 = 1e-5;

fn batchnorm(scale: &[f32], bias: &[f32], mean: &[f32], var: &[f32], epsilon: f32) -> Op {
    Op::BatchNorm {
        scale: arr1(scale),
        bias: arr1(bias),
        mean: arr1(mean),
        var: arr1(var),
        epsilon,
    }
}

/// `x` in `[1, 2]` -> Gemm -> BatchNorm (two channels, irrational factors of
/// both signs) -> Relu -> Gemm -> `y` in `[1, 1]`.
fn deep_net() -> axiom_core::Graph {
    let mut b = GraphBuilder::new("bn", "x", vec![1, 2]);
    let h = b.push(
        "fc1",
        Op::Gemm {
            weight: arr2(&[[1.0, 1.0], [1.0, -1.0]]),
            bias: Some(arr1(&[0.5, -0.25])),
        },
        b.input(),
    );
    let n = b.push(
        "bn",
        batchnorm(&[0.7, -0.7], &[3.0, 4.0], &[0.1, -0.2], &[2.0, 3.0], EPS),
        h,
    );
    let a = b.push("relu", Op::Relu, n);
    let y = b.push(
        "fc2",
        Op::Gemm {
            weight: arr2(&[[1.0, -2.0]]),
            bias: Some(arr1(&[-1.0])),
        },
        a,
    );
    b.finish(y).unwrap()
}

/// `deep_net` in f64 (each f32 constant widened exactly).
fn deep_net_f64(x: [f64; 2]) -> f64 {
    let f = |v: f32| f64::from(v);
    let h = [x[0] + x[1] + 0.5, x[0] - x[1] - 0.25];
    let k = [
        f(0.7) / (f(2.0) + f(EPS)).sqrt(),
        f(-0.7) / (f(3.0) + f(EPS)).sqrt(),
    ];
    let n = [k[0] * (h[0] - f(0.1)) + 3.0, k[1] * (h[1] - f(-0.2)) + 4.0];
    n[0].max(0.0) - 2.0 * n[1].max(0.0) - 1.0
}

/// The minimum of `deep_net` over `[-1, 1]²`, by dense sampling (corners
/// included). Both ReLUs are active on the box (their inputs stay above 2),
/// so the network is affine there and the minimum is at a corner.
fn deep_net_min() -> f64 {
    let steps = 200;
    let mut min = f64::INFINITY;
    for i in 0..=steps {
        for j in 0..=steps {
            let x0 = -1.0 + 2.0 * f64::from(i) / f64::from(steps);
            let x1 = -1.0 + 2.0 * f64::from(j) / f64::from(steps);
            min = min.min(deep_net_f64([x0, x1]));
        }
    }
    min
}

/// "Some x in [-1, 1]² gives Y_0 <= t".
fn below(t: f64) -> Property {
    vnnlib::parse(&format!(
        "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n\
         (assert (>= X_0 -1))\n(assert (<= X_0 1))\n\
         (assert (>= X_1 -1))\n(assert (<= X_1 1))\n\
         (assert (<= Y_0 {t}))\n"
    ))
    .unwrap()
}

/// One leaf over `[-1, 1]²` that refutes `Y_0 <= t` by bounds.
fn one_leaf() -> Evidence {
    Evidence {
        cases: vec![CaseProof {
            case: 0,
            lower: vec![-1.0, -1.0],
            upper: vec![1.0, 1.0],
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
fn a_proof_through_batchnorm_checks_below_the_true_minimum() {
    let min = deep_net_min();
    let report = check_proof(&deep_net(), &below(min - 1e-6), &one_leaf())
        .expect("the property holds with a margin");
    assert_eq!((report.leaves, report.bound_refutations), (1, 1));
}

#[test]
fn a_proof_through_batchnorm_fails_above_the_true_minimum() {
    // Some input reaches min < t: the property is false, no proof may check.
    let min = deep_net_min();
    let err = check_proof(&deep_net(), &below(min + 1e-6), &one_leaf())
        .expect_err("a violated property must not check");
    assert!(err.reason.contains("not above 0"), "{err}");
}

/// `x` of shape `[1, 1]` -> Gemm (`2x`) -> BatchNorm (factor `0.7 / sqrt(2 + eps)`,
/// mean 0.1, bias 0.3) -> `y`.
fn shallow_net() -> axiom_core::Graph {
    let mut b = GraphBuilder::new("bn", "x", vec![1, 1]);
    let h = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[2.0]]),
            bias: None,
        },
        b.input(),
    );
    let n = b.push("bn", batchnorm(&[0.7], &[0.3], &[0.1], &[2.0], EPS), h);
    b.finish(n).unwrap()
}

/// The exact rational of an f32 / f64.
fn rat(v: f64) -> BigRational {
    BigRational::from_float(v).unwrap()
}

/// Rationals `(below, above)` with `below < k < above` for the factor
/// `k = 0.7 / sqrt(2 + eps)` of `shallow_net`, each within an ulp or so of
/// it, found here independently of the checker: `c > 0` is below `k` iff
/// `c² (2 + eps) < 0.7²`.
fn factor_neighbours() -> (BigRational, BigRational) {
    let g = rat(f64::from(0.7f32));
    let v = rat(2.0) + rat(f64::from(EPS));
    let guess = f64::from(0.7f32) / (2.0 + f64::from(EPS)).sqrt();
    let below_k = |c: f64| rat(c) * rat(c) * &v < &g * &g;
    let mut lo = guess;
    while !below_k(lo) {
        lo = lo.next_down();
    }
    let mut hi = guess;
    while below_k(hi) || rat(hi) * rat(hi) * &v == &g * &g {
        hi = hi.next_up();
    }
    assert!(
        hi.next_down() <= lo.next_up(),
        "the neighbours are an ulp or two apart"
    );
    (rat(lo), rat(hi))
}

/// "Some x in [0, 1] gives `sign · Y_0 <= sign · t`" with the exact rational
/// `t`: `Y_0 <= t` (sign 1) or `Y_0 >= t` (sign -1).
fn threshold(t: &BigRational, sign: i32) -> Property {
    let mut p = vnnlib::parse(
        "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n\
         (assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert (<= Y_0 0))\n",
    )
    .unwrap();
    // The output constraint is `Y_0 <= 0`, i.e. `Y_0 - 0 <= 0`: make it
    // `sign · (Y_0 - t) <= 0`.
    let c = &mut p.cases[0].output[0][0];
    assert!(c.expr.constant.is_zero() && !c.strict);
    let s = BigRational::from_integer(sign.into());
    for coef in c.expr.terms.values_mut() {
        *coef = &*coef * &s;
    }
    c.expr.constant = -(t * &s);
    p
}

fn cex(x: f64) -> Counterexample {
    Counterexample {
        input: vec![x],
        output: vec![0.0],
        case: 0,
        disjunct: 0,
    }
}

#[test]
fn a_counterexample_through_batchnorm_is_accepted_when_it_clearly_holds() {
    // x = 1: y = k (2 - 0.1) + 0.3 with k about 0.495, so y is about 1.24.
    let net = shallow_net();
    check_counterexample(&net, &threshold(&rat(1.3), 1), &cex(1.0)).expect("y <= 1.3");
    check_counterexample(&net, &threshold(&rat(1.2), -1), &cex(1.0)).expect("y >= 1.2");
    // And rejected when it clearly does not hold.
    assert!(check_counterexample(&net, &threshold(&rat(1.2), 1), &cex(1.0)).is_err());
    assert!(check_counterexample(&net, &threshold(&rat(1.3), -1), &cex(1.0)).is_err());
}

#[test]
fn a_counterexample_that_holds_only_for_a_float_factor_is_rejected() {
    // With `below < k < above` (both rational, k irrational) and
    // s = 2x - mean > 0, the true output is y = k s + 0.3, so
    // y > below · s + 0.3 and y < above · s + 0.3: "y <= below · s + 0.3"
    // and "y >= above · s + 0.3" are both false at x, however close.
    let net = shallow_net();
    let (below, above) = factor_neighbours();
    for x in [1.0, 0.5, 0.25] {
        let s = rat(2.0 * x) - rat(f64::from(0.1f32));
        assert!(s.is_positive());
        let beta = rat(f64::from(0.3f32));
        let low = &below * &s + &beta;
        let high = &above * &s + &beta;
        let err = check_counterexample(&net, &threshold(&low, 1), &cex(x))
            .expect_err("y <= t is false for t just below the true y");
        assert!(err.reason.contains("constraint 0"), "{err}");
        check_counterexample(&net, &threshold(&high, -1), &cex(x))
            .expect_err("y >= t is false for t just above the true y");
    }
}

#[test]
fn batchnorm_reads_the_channel_of_each_element() {
    // Input [1, 2, 2]: elements 0 and 1 are channel 0, 2 and 3 channel 1.
    // Channel c multiplies by scale_c / sqrt(1 + 0) = scale_c exactly.
    let mut b = GraphBuilder::new("bn", "x", vec![1, 2, 2]);
    let n = b.push(
        "bn",
        batchnorm(&[1.0, 2.0], &[0.0, 0.0], &[0.0, 0.0], &[1.0, 1.0], 0.0),
        b.input(),
    );
    let f = b.push("flat", Op::Flatten { axis: 1 }, n);
    let net = b.finish(f).unwrap();
    let property = |y1: &str, y2: &str| {
        vnnlib::parse(&format!(
            "(declare-const X_0 Real)(declare-const X_1 Real)\
             (declare-const X_2 Real)(declare-const X_3 Real)\
             (declare-const Y_0 Real)(declare-const Y_1 Real)\
             (declare-const Y_2 Real)(declare-const Y_3 Real)\
             (assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))\
             (assert (>= X_2 0))(assert (<= X_2 1))(assert (>= X_3 0))(assert (<= X_3 1))\
             (assert (and {y1} {y2}))"
        ))
        .unwrap()
    };
    let x = Counterexample {
        input: vec![1.0; 4],
        output: vec![0.0; 4],
        case: 0,
        disjunct: 0,
    };
    // The output is exactly [1, 1, 2, 2].
    check_counterexample(&net, &property("(<= Y_1 1)", "(>= Y_2 2)"), &x)
        .expect("channel 0 keeps element 1, channel 1 doubles element 2");
    assert!(check_counterexample(&net, &property("(>= Y_1 2)", "(>= Y_2 2)"), &x).is_err());
    assert!(check_counterexample(&net, &property("(<= Y_1 1)", "(<= Y_2 1)"), &x).is_err());
}

#[test]
fn a_relu_counterexample_exactly_on_the_boundary_is_accepted() {
    // y = relu(x): at x = 0.5 the output is exactly 0.5, which meets
    // "y <= 0.5" and not "y < 0.5".
    let mut b = GraphBuilder::new("relu", "x", vec![1]);
    let z = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0]]),
            bias: None,
        },
        b.input(),
    );
    let a = b.push("relu", Op::Relu, z);
    let net = b.finish(a).unwrap();
    let property = |op: &str| {
        vnnlib::parse(&format!(
            "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n\
             (assert (>= X_0 0))\n(assert (<= X_0 1))\n(assert ({op} Y_0 0.5))\n"
        ))
        .unwrap()
    };
    check_counterexample(&net, &property("<="), &cex(0.5)).expect("y = 0.5 <= 0.5");
    check_counterexample(&net, &property(">="), &cex(0.5)).expect("y = 0.5 >= 0.5");
    assert!(check_counterexample(&net, &property("<"), &cex(0.5)).is_err());
    assert!(check_counterexample(&net, &property(">"), &cex(0.5)).is_err());
}

#[test]
fn a_dead_node_does_not_shift_the_shapes() {
    // The dead node (shape [1, 5]) comes first; the live chain reads the
    // input: Gemm (negate, shape [1, 2]) -> BatchNorm (factors 1 and 2
    // exactly: var + eps = 1).
    let mut b = GraphBuilder::new("dead", "x", vec![1, 2]);
    b.push(
        "dead",
        Op::Gemm {
            weight: arr2(&[[1.0, 0.0]; 5]),
            bias: None,
        },
        b.input(),
    );
    let h = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[-1.0, 0.0], [0.0, -1.0]]),
            bias: None,
        },
        b.input(),
    );
    let n = b.push(
        "bn",
        batchnorm(&[1.0, 2.0], &[0.0, 0.0], &[0.0, 0.0], &[0.5, 0.5], 0.5),
        h,
    );
    let net = b.finish(n).unwrap();
    let property = vnnlib::parse(
        "(declare-const X_0 Real)(declare-const X_1 Real)\
         (declare-const Y_0 Real)(declare-const Y_1 Real)\
         (assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))\
         (assert (<= Y_0 -1))(assert (>= Y_0 -1))(assert (<= Y_1 -2))(assert (>= Y_1 -2))",
    )
    .unwrap();
    let x = Counterexample {
        input: vec![1.0, 1.0],
        output: vec![-1.0, -2.0],
        case: 0,
        disjunct: 0,
    };
    check_counterexample(&net, &property, &x).expect("y = (-1, -2) exactly");
}
