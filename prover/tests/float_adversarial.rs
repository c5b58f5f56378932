//! Floating-point adversarial properties: thresholds within 1e-7 (down to
//! one ulp, and exactly on) of a network's true maximum. The engine must
//! answer correctly or `unknown`, never wrong.
//!
//! The networks are monotone (non-negative weights after the first layer,
//! whose weights are non-negative too), so the maximum over a box is the
//! output at the box's upper corner, computed here exactly in rational
//! arithmetic on the float32 weights.

use axiom_core::graph::{GraphBuilder, Op};
use axiom_core::spec::{format_rational, Rational};
use axiom_prover::{verify, Verdict, VerifyOptions};
use ndarray::{Array1, Array2};
use num_rational::BigRational;
use num_traits::Zero;
use std::time::Duration;

struct Net {
    graph: axiom_core::Graph,
    layers: Vec<(Array2<f32>, Array1<f32>)>,
}

/// A monotone ReLU network with dyadic weights; `seed` varies it.
fn monotone_net(seed: u64, n_in: usize, widths: &[usize]) -> Net {
    let mut s = seed;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) % 97) as f32 / 64.0
    };
    let mut b = GraphBuilder::new("monotone", "x", vec![n_in]);
    let mut v = b.input();
    let mut width = n_in;
    let mut layers = Vec::new();
    for (i, &out) in widths.iter().enumerate() {
        let w = Array2::from_shape_fn((out, width), |_| next());
        // Biases of both signs keep some ReLUs unstable on the box.
        let bias: Array1<f32> = (0..out).map(|_| next() - 0.75).collect();
        v = b.push(
            format!("fc{i}"),
            Op::Gemm {
                weight: w.clone(),
                bias: Some(bias.clone()),
            },
            v,
        );
        layers.push((w, bias));
        if i + 1 < widths.len() {
            v = b.push(format!("relu{i}"), Op::Relu, v);
        }
        width = out;
    }
    Net {
        graph: b.finish(v).unwrap(),
        layers,
    }
}

fn exact(v: f32) -> Rational {
    BigRational::from_float(v).unwrap()
}

/// The exact output at `x`.
fn eval_exact(net: &Net, x: &[Rational]) -> Vec<Rational> {
    let mut v = x.to_vec();
    for (i, (w, b)) in net.layers.iter().enumerate() {
        v = (0..w.nrows())
            .map(|r| (0..w.ncols()).fold(exact(b[r]), |acc, c| acc + exact(w[[r, c]]) * &v[c]))
            .collect();
        if i + 1 < net.layers.len() {
            v = v
                .into_iter()
                .map(|t| {
                    if t < Rational::zero() {
                        Rational::zero()
                    } else {
                        t
                    }
                })
                .collect();
        }
    }
    v
}

fn property(
    n_in: usize,
    lo: &str,
    hi: &str,
    op: &str,
    threshold: &Rational,
) -> axiom_core::spec::Property {
    let mut text = String::new();
    for i in 0..n_in {
        text += &format!(
            "(declare-const X_{i} Real)\n(assert (>= X_{i} {lo}))\n(assert (<= X_{i} {hi}))\n"
        );
    }
    text += &format!(
        "(declare-const Y_0 Real)\n(assert ({op} Y_0 {}))\n",
        format_rational(threshold)
    );
    axiom_core::vnnlib::parse(&text).unwrap()
}

#[test]
fn thresholds_at_and_near_the_true_maximum() {
    let options = VerifyOptions {
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    let deltas: Vec<(Rational, &str)> = vec![
        (Rational::zero(), "0"),
        (BigRational::new(1.into(), 10_000_000.into()), "1e-7"),
        (BigRational::new(1.into(), 1_000_000_000.into()), "1e-9"),
        (
            BigRational::new(1.into(), 1_000_000_000_000u64.into()),
            "1e-12",
        ),
        (
            BigRational::new(1.into(), num_bigint::BigInt::from(1u64) << 60),
            "2^-60",
        ),
    ];
    let (mut right, mut unknown) = (0, 0);
    for (seed, n_in, widths) in [
        (1u64, 2usize, vec![6usize, 6, 1]),
        (2, 3, vec![8, 8, 8, 1]),
        (3, 5, vec![10, 10, 1]),
    ] {
        let net = monotone_net(seed, n_in, &widths);
        let (lo, hi) = ("0.25", "0.75");
        let max = eval_exact(&net, &vec![BigRational::new(3.into(), 4.into()); n_in])[0].clone();
        for (delta, name) in &deltas {
            for sign in [-1i32, 1] {
                if delta.is_zero() && sign < 0 {
                    continue;
                }
                let t = if sign > 0 { &max + delta } else { &max - delta };
                for op in [">=", ">"] {
                    // Unsafe iff some y reaches t: y >= t needs t <= max; y > t needs t < max.
                    let sat = if op == ">=" { t <= max } else { t < max };
                    let p = property(n_in, lo, hi, op, &t);
                    let report = verify(&net.graph, &p, &options);
                    let what = format!(
                        "net {seed}, Y_0 {op} max {} {name}",
                        if sign > 0 { "+" } else { "-" }
                    );
                    match report.verdict {
                        Verdict::Proved { .. } => {
                            assert!(!sat, "{what}: proved, but the corner is a counterexample");
                            right += 1;
                        }
                        Verdict::Disproved { .. } => {
                            assert!(
                                sat,
                                "{what}: disproved, but the maximum is below the threshold"
                            );
                            right += 1;
                        }
                        Verdict::Unknown { .. } => unknown += 1,
                    }
                }
            }
        }
    }
    eprintln!("{right} right, {unknown} unknown, 0 wrong");
    // At 1e-7 and above the engine must decide; it may give up only closer.
    assert!(right >= 3 * 8, "too few decided: {right}");
}
