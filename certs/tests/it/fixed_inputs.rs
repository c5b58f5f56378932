//! Counterexamples in boxes that fix inputs to decimals no f64 equals
//! (VNN-LIB's `(assert (>= X_0 0.1)) (assert (<= X_0 0.1))`, as
//! collins_rul_cnn fixes 398 of its 400 inputs): the counterexample gives
//! one of the two f64s around the decimal and stands for the exact input; it
//! is accepted only when the property is violated at every point between
//! those two f64s — so a point that violates it in f64 but not at the exact
//! decimal is rejected.

use axiom_certs::check::check_counterexample;
use axiom_certs::evidence::Counterexample;
use axiom_core::graph::{Graph, GraphBuilder, Op};
use axiom_core::spec::Property;
use axiom_core::vnnlib;
use ndarray::{arr1, arr2};

/// `y = x0 + 2 x1`.
fn net() -> Graph {
    let mut b = GraphBuilder::new("sum", "x", vec![2]);
    let y = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0, 2.0]]),
            bias: Some(arr1(&[0.0])),
        },
        0,
    );
    b.finish(y).unwrap()
}

/// `X_0` fixed to 0.1, `X_1` in `[0, 1]`, unsafe when `out` holds.
fn property(out: &str) -> Property {
    vnnlib::parse(&format!(
        "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n\
         (assert (>= X_0 0.1))\n(assert (<= X_0 0.1))\n\
         (assert (>= X_1 0.0))\n(assert (<= X_1 1.0))\n{out}\n"
    ))
    .unwrap()
}

fn cex(x0: f64, x1: f64) -> Counterexample {
    Counterexample {
        input: vec![x0, x1],
        output: vec![x0 + 2.0 * x1],
        case: 0,
        disjunct: 0,
    }
}

#[test]
fn either_f64_around_a_fixed_decimal_stands_for_it() {
    // 0.1 + 2 * 0.25 = 0.6 exactly, with room to spare over 0.55 on the
    // whole range between the f64s around 0.1.
    let p = property("(assert (>= Y_0 0.55))");
    let near = 0.1f64;
    check_counterexample(&net(), &p, &cex(near, 0.25)).expect("above 0.1");
    check_counterexample(&net(), &p, &cex(near.next_down(), 0.25)).expect("below 0.1");
    // Two ulps away does not stand for 0.1.
    let err = check_counterexample(&net(), &p, &cex(near.next_up(), 0.25)).unwrap_err();
    assert!(err.to_string().contains("outside the case's box"), "{err}");
    // A coordinate the box does not fix must lie in it exactly.
    let err = check_counterexample(&net(), &p, &cex(near, 1.0f64.next_up())).unwrap_err();
    assert!(err.to_string().contains("X_1"), "{err}");
}

#[test]
fn a_violation_only_in_f64_is_rejected() {
    // At the exact input y = 0.1 + 2 * 0.25 = 0.6, not > 0.6; with the f64
    // nearest 0.1 (0.1000000000000000055...) y is above 0.6 in any
    // arithmetic. The exact input decides: rejected.
    let p = property("(assert (> Y_0 0.6))");
    let err = check_counterexample(&net(), &p, &cex(0.1, 0.25)).unwrap_err();
    assert!(err.to_string().contains("constraint 0"), "{err}");
    // A threshold met at the exact input but not on all of the range
    // between the two f64s is not decided either: y >= 0.6 holds at 0.1 and
    // above, not below.
    let p = property("(assert (>= Y_0 0.6))");
    check_counterexample(&net(), &p, &cex(0.1, 0.25)).unwrap_err();
}

#[test]
fn the_exact_value_is_used_in_input_constraints() {
    // An input constraint X_0 - 0.1 <= 0 (hence X_0 = 0.1 exactly) holds at
    // the exact input though not at the f64 above 0.1.
    let p = vnnlib::parse(
        "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n\
         (assert (>= X_0 0.1))\n(assert (<= X_0 0.1))\n\
         (assert (>= X_1 0.0))\n(assert (<= X_1 1.0))\n\
         (assert (<= (+ X_0 X_1) 0.35))\n(assert (>= Y_0 0.55))\n",
    )
    .unwrap();
    check_counterexample(&net(), &p, &cex(0.1, 0.25)).expect("0.1 + 0.25 <= 0.35 exactly");
}
