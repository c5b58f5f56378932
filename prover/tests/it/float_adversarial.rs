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
    // A work budget ends the undecidable ones (decided ones need at most a
    // dozen sub-problems): the same outcome on any machine; the timeout only
    // guards against a hang.
    let options = VerifyOptions {
        max_boxes: Some(1_000),
        timeout: Some(Duration::from_secs(120)),
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

/// `[lo, hi]` around `scale / sqrt(var + eps)` (the f32 values exact), about
/// 2^-200 relative wide, from an integer square root.
fn factor_enclosure(scale: f32, var: f32, eps: f32) -> (Rational, Rational) {
    use num_bigint::BigInt;
    let v = exact(var) + exact(eps);
    let (p, q) = (v.numer().clone(), v.denom().clone());
    let n: BigInt = BigInt::from(1u8) << 200u32;
    // r <= sqrt(p q) n < r + 1, so sqrt(v) = sqrt(p q) / q is in
    // [r / (n q), (r + 1) / (n q)].
    let r = (&p * &q * &n * &n).sqrt();
    let g = exact(scale);
    assert!(g > Rational::zero());
    let nq = Rational::from_integer(&n * &q);
    (
        &g * &nq / Rational::from_integer(&r + 1),
        &g * &nq / Rational::from_integer(r),
    )
}

/// `t` rounded to 40 decimals, up or down (VNN-LIB takes decimals).
fn decimal(t: &Rational, up: bool) -> Rational {
    let scale = Rational::from_integer(num_traits::pow(num_bigint::BigInt::from(10), 40));
    let scaled = t * &scale;
    let r = if up { scaled.ceil() } else { scaled.floor() };
    r / scale
}

/// Thresholds within 1e-7 down to 2^-60 of the true maximum of monotone
/// networks with a BatchNorm (positive, irrational factors) before every
/// ReLU. The prover knows each factor only to about an ulp; it must answer
/// correctly or `unknown`, never wrong.
#[test]
fn batchnorm_thresholds_near_the_true_maximum() {
    // As above: a work budget, not a time limit (the undecided ones end on
    // their own before it, after 1,600 to 3,700 sub-problems).
    let options = VerifyOptions {
        max_boxes: Some(5_000),
        timeout: Some(Duration::from_secs(120)),
        ..Default::default()
    };
    let mut right = 0;
    let mut unknown = 0;
    for (seed, n_in, widths) in [(4u64, 2usize, vec![6usize, 6, 1]), (5, 3, vec![8, 8, 1])] {
        let net = monotone_net(seed, n_in, &widths);
        // Rebuild the graph with a BatchNorm after every hidden Gemm.
        let mut b = GraphBuilder::new("monotone-bn", "x", vec![1, n_in]);
        let mut v = b.input();
        let mut bns = Vec::new();
        for (i, (w, bias)) in net.layers.iter().enumerate() {
            v = b.push(
                format!("fc{i}"),
                Op::Gemm {
                    weight: w.clone(),
                    bias: Some(bias.clone()),
                },
                v,
            );
            if i + 1 < net.layers.len() {
                let c = w.nrows();
                let scale: Array1<f32> = (0..c).map(|j| 0.5 + (j % 5) as f32 / 8.0).collect();
                let mean: Array1<f32> = (0..c).map(|j| (j % 3) as f32 / 4.0 - 0.25).collect();
                let beta: Array1<f32> = (0..c).map(|j| (j % 4) as f32 / 8.0 - 0.125).collect();
                let var: Array1<f32> = (0..c).map(|j| 0.3 + (j % 7) as f32 / 10.0).collect();
                let eps = 1e-5f32;
                let factors: Vec<(Rational, Rational)> = (0..c)
                    .map(|j| factor_enclosure(scale[j], var[j], eps))
                    .collect();
                bns.push((factors, mean.clone(), beta.clone()));
                v = b.push(
                    format!("bn{i}"),
                    Op::BatchNorm {
                        scale,
                        bias: beta,
                        mean,
                        var,
                        epsilon: eps,
                    },
                    v,
                );
                v = b.push(format!("relu{i}"), Op::Relu, v);
            }
        }
        let graph = b.finish(v).unwrap();
        // The maximum is at the upper corner (every layer is monotone);
        // enclose it with interval arithmetic on the factors' enclosures.
        let corner = vec![BigRational::new(3.into(), 4.into()); n_in];
        let (mut lo, mut hi) = (corner.clone(), corner);
        for (i, (w, bias)) in net.layers.iter().enumerate() {
            let affine = |v: &[Rational]| -> Vec<Rational> {
                (0..w.nrows())
                    .map(|r| {
                        (0..w.ncols()).fold(exact(bias[r]), |acc, c| acc + exact(w[[r, c]]) * &v[c])
                    })
                    .collect()
            };
            (lo, hi) = (affine(&lo), affine(&hi));
            if let Some((factors, mean, beta)) = bns.get(i) {
                for j in 0..lo.len() {
                    let (sl, sh) = (&lo[j] - exact(mean[j]), &hi[j] - exact(mean[j]));
                    let (kl, kh) = &factors[j];
                    let ends = [kl * &sl, kl * &sh, kh * &sl, kh * &sh];
                    let zero = Rational::zero();
                    lo[j] = (ends.iter().min().unwrap() + exact(beta[j])).max(zero.clone());
                    hi[j] = (ends.iter().max().unwrap() + exact(beta[j])).max(zero);
                }
            }
        }
        let (max_lo, max_hi) = (lo[0].clone(), hi[0].clone());
        assert!(
            &max_hi - &max_lo < BigRational::new(1.into(), num_bigint::BigInt::from(1u8) << 120)
        );
        for (delta, name) in [
            (BigRational::new(1.into(), 10_000_000.into()), "1e-7"),
            (
                BigRational::new(1.into(), 1_000_000_000_000u64.into()),
                "1e-12",
            ),
            (
                BigRational::new(1.into(), num_bigint::BigInt::from(1u64) << 60),
                "2^-60",
            ),
        ] {
            // Below the maximum: reachable; above it: not.
            for (t, sat) in [
                (decimal(&(&max_lo - &delta), false), true),
                (decimal(&(&max_hi + &delta), true), false),
            ] {
                for op in [">=", ">"] {
                    let p = property(n_in, "0.25", "0.75", op, &t);
                    let report = verify(&graph, &p, &options);
                    let what = format!(
                        "net {seed}, Y_0 {op} max {} {name}",
                        if sat { "-" } else { "+" }
                    );
                    match report.verdict {
                        Verdict::Proved { evidence } => {
                            assert!(!sat, "{what}: proved, but the corner is a counterexample");
                            axiom_certs::check::check_proof(&graph, &p, &evidence).unwrap_or_else(
                                |e| panic!("{what}: the exact checker refuses: {e}"),
                            );
                            right += 1;
                        }
                        Verdict::Disproved { counterexample } => {
                            assert!(
                                sat,
                                "{what}: disproved, but the maximum is below the threshold"
                            );
                            axiom_certs::check::check_counterexample(&graph, &p, &counterexample)
                                .unwrap_or_else(|e| {
                                    panic!("{what}: the exact checker refuses: {e}")
                                });
                            right += 1;
                        }
                        Verdict::Unknown { .. } => unknown += 1,
                    }
                }
            }
        }
    }
    eprintln!("batchnorm: {right} right, {unknown} unknown, 0 wrong");
    // At 1e-7 the engine must decide all 2 nets x 2 sides x 2 operators.
    assert!(right >= 2 * 4, "too few decided: {right}");
}
