//! End-to-end tests of the exact SMT encoding (`axiom_prover::smt`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axiom_core::spec::{Constraint, Property};
use axiom_prover::network::{Layer, Network};
use axiom_prover::problem::{rational_down, rational_up};
use axiom_prover::smt::{
    solve, to_smtlib, SmtOutcome, SmtQuery, REASON_INTERRUPTED, REASON_S_SHAPED, REASON_TIMEOUT,
};
use ndarray::{arr1, arr2, Array1, Array2};

/// `y = relu(x0 + x1) + relu(x0 - x1)` on inputs `x0, x1`.
///
/// On the box `[-1, 1]^2`: `y >= 0`, and `y <= 2` (the two pre-activations
/// sum to `2 x0 <= 2`, so when both are active `y <= 2`; when one is
/// inactive, `y` is the other, at most `|x0| + |x1| <= 2`). The maximum 2 is
/// reached at `(1, 0)`, the minimum 0 at `(-1, 0)`.
fn two_relu_net() -> Network {
    Network::chain(
        2,
        vec![
            Layer::Linear {
                w: arr2(&[[1.0, 1.0], [1.0, -1.0]]),
                b: arr1(&[0.0, 0.0]),
            },
            Layer::Relu,
            Layer::Linear {
                w: arr2(&[[1.0, 1.0]]),
                b: arr1(&[0.0]),
            },
        ],
    )
}

/// The output conjunction (and input constraints) of a one-case VNN-LIB text
/// over `n_in` inputs and `n_out` outputs; `asserts` are appended to a box
/// of `[-1, 1]` on every input (the box itself is passed to the query
/// separately).
fn property(n_in: usize, n_out: usize, asserts: &str) -> Property {
    let mut text = String::new();
    for i in 0..n_in {
        text.push_str(&format!("(declare-const X_{i} Real)\n"));
    }
    for j in 0..n_out {
        text.push_str(&format!("(declare-const Y_{j} Real)\n"));
    }
    for i in 0..n_in {
        text.push_str(&format!("(assert (>= X_{i} -1))\n(assert (<= X_{i} 1))\n"));
    }
    text.push_str(asserts);
    axiom_core::vnnlib::parse(&text).expect("test property parses")
}

fn outputs(p: &Property) -> &[Constraint] {
    &p.cases[0].output[0]
}

fn query<'a>(
    net: &'a Network,
    lower: &'a [f64],
    upper: &'a [f64],
    disjunct: &'a [Constraint],
) -> SmtQuery<'a> {
    SmtQuery {
        net,
        lower,
        upper,
        input_constraints: &[],
        disjunct,
        relu_bounds: None,
    }
}

#[test]
fn hand_built_network_unsat_and_sat() {
    let net = two_relu_net();
    let (lo, hi) = ([-1.0, -1.0], [1.0, 1.0]);
    // y <= 2 everywhere (see two_relu_net), so y >= 2.5 is impossible; y >= 0
    // everywhere, so y < 0 is impossible too.
    for unsat in [
        "(assert (>= Y_0 2.5))",
        "(assert (< Y_0 0))",
        "(assert (> Y_0 2))",
    ] {
        let p = property(2, 1, unsat);
        assert_eq!(
            solve(&query(&net, &lo, &hi, outputs(&p)), None, None),
            SmtOutcome::Unsat,
            "{unsat}"
        );
    }
    // Reachable: y = 2 at (1, 0), y = 0 at (-1, 0).
    for (sat, holds) in [
        (
            "(assert (>= Y_0 1.5))",
            (|y: f64| y >= 1.5) as fn(f64) -> bool,
        ),
        ("(assert (>= Y_0 2))", |y| y >= 2.0),
        ("(assert (<= Y_0 0))", |y| y <= 0.0),
        ("(assert (<= Y_0 0.7))\n(assert (>= Y_0 0.3))", |y| {
            (0.3..=0.7).contains(&y)
        }),
    ] {
        let p = property(2, 1, sat);
        match solve(&query(&net, &lo, &hi, outputs(&p)), None, None) {
            SmtOutcome::Sat(x) => {
                assert!(
                    x.iter().all(|v| (-1.0..=1.0).contains(v)),
                    "{x:?} outside the box"
                );
                let y = net.eval(&x)[0];
                assert!(
                    holds(y) || holds(y + 1e-12) || holds(y - 1e-12),
                    "{sat}: y({x:?}) = {y}"
                );
            }
            other => panic!("{sat}: expected sat, got {other:?}"),
        }
    }
}

/// `y = relu((x - 0.5) / sqrt(2) + 0.25)` on `x` in `[-1, 1]`, the
/// BatchNorm factor `1 / sqrt(2)` enclosed: the maximum is
/// `0.5 / sqrt(2) + 0.25 = 0.6035533905932737...` at `x = 1`.
fn batchnorm_net() -> Network {
    let (lo, hi) = axiom_prover::network::batchnorm_factor_enclosure(1.0, 2.0, 0.0).unwrap();
    assert!(lo < hi, "1 / sqrt(2) is not an f64");
    Network::chain(
        1,
        vec![
            Layer::Linear {
                w: arr2(&[[1.0]]),
                b: arr1(&[0.0]),
            },
            Layer::BatchNorm {
                k_lo: arr1(&[lo]),
                k_hi: arr1(&[hi]),
                mean: arr1(&[0.5]),
                beta: arr1(&[0.25]),
            },
            Layer::Relu,
        ],
    )
}

#[test]
fn batchnorm_factors_are_encoded_by_their_enclosure() {
    let net = batchnorm_net();
    let (lo, hi) = ([-1.0], [1.0]);
    for unsat in [
        "(assert (>= Y_0 0.61))",
        "(assert (>= Y_0 0.6035533906))",
        "(assert (< Y_0 0))",
    ] {
        let p = property(1, 1, unsat);
        assert_eq!(
            solve(&query(&net, &lo, &hi, outputs(&p)), None, None),
            SmtOutcome::Unsat,
            "{unsat}"
        );
    }
    for (sat, holds) in [
        (
            "(assert (>= Y_0 0.6035533905))",
            (|y: f64| y >= 0.6035533905) as fn(f64) -> bool,
        ),
        ("(assert (<= Y_0 0))", |y| y <= 0.0),
        (
            "(assert (<= Y_0 0.3))
(assert (>= Y_0 0.2))",
            |y| (0.2..=0.3).contains(&y),
        ),
    ] {
        let p = property(1, 1, sat);
        match solve(&query(&net, &lo, &hi, outputs(&p)), None, None) {
            SmtOutcome::Sat(x) => {
                let y = net.eval(&x)[0];
                assert!(
                    holds(y) || holds(y + 1e-12) || holds(y - 1e-12),
                    "{sat}: y({x:?}) = {y}"
                );
            }
            other => panic!("{sat}: expected sat, got {other:?}"),
        }
    }
    let p = property(1, 1, "(assert (>= Y_0 0.61))");
    let script = to_smtlib(&query(&net, &lo, &hi, outputs(&p)));
    assert!(script.contains("enclosure"), "{script}");
    assert_eq!(parse_and_check(&script), "unsat");
}

#[test]
fn input_constraints_restrict_the_region() {
    let net = two_relu_net();
    let (lo, hi) = ([-1.0, -1.0], [1.0, 1.0]);
    // With x0 <= -1/2 the pre-activations sum to 2 x0 < 0, so at most one
    // is positive and y = max(0, x0 + |x1|) <= 1/2: y >= 0.6 is impossible.
    // The box takes X_0 <= -0.5; two trivially true input constraints
    // (x0 + x1 <= 10, x0 - x1 <= 10) exercise the input-constraint path.
    let p = property(2, 1, "(assert (<= X_0 -0.5))\n(assert (>= Y_0 0.6))");
    let region = property(
        2,
        1,
        "(assert (<= (+ X_0 X_1) 10))\n(assert (<= (- X_0 X_1) 10))",
    );
    let upper = [rational_up(&p.cases[0].input.upper[0]), 1.0];
    let ic = &region.cases[0].input_constraints;
    assert_eq!(ic.len(), 2);
    let q = SmtQuery {
        input_constraints: ic,
        ..query(&net, &lo, &upper, outputs(&p))
    };
    assert_eq!(solve(&q, None, None), SmtOutcome::Unsat);
    let p = property(2, 1, "(assert (>= Y_0 0.4))");
    // x0 - x1 >= 1.9 forces x0 >= 0.9: then y >= x0 - x1 >= 1.9 > 0.4.
    let tight = property(2, 1, "(assert (>= (- X_0 X_1) 1.9))");
    let q = SmtQuery {
        input_constraints: &tight.cases[0].input_constraints,
        ..query(&net, &lo, &hi, outputs(&p))
    };
    match solve(&q, None, None) {
        SmtOutcome::Sat(x) => assert!(x[0] - x[1] >= 1.9 - 1e-12, "{x:?}"),
        other => panic!("expected sat, got {other:?}"),
    }
    let p = property(2, 1, "(assert (<= Y_0 1.8))");
    assert_eq!(
        solve(
            &SmtQuery {
                disjunct: outputs(&p),
                ..q
            },
            None,
            None
        ),
        SmtOutcome::Unsat
    );
}

#[test]
fn relu_bounds_give_the_same_answers() {
    let net = two_relu_net();
    // On x0 in [0.5, 1], x1 in [-0.25, 0.25] both neurons are active
    // (pre-activations in [0.25, 1.25]) and y = 2 x0 in [1, 2].
    let (lo, hi) = ([0.5, -0.25], [1.0, 0.25]);
    let bounds = vec![(vec![], vec![]), (vec![0.25, 0.25], vec![1.25, 1.25])];
    let cases = [
        ("(assert (>= Y_0 2.5))", false),
        ("(assert (<= Y_0 0.5))", false),
        ("(assert (>= Y_0 1.5))", true),
        ("(assert (<= Y_0 1))", true),
    ];
    for (asserts, sat) in cases {
        let p = property(2, 1, asserts);
        let plain = query(&net, &lo, &hi, outputs(&p));
        let fixed = SmtQuery {
            relu_bounds: Some(&bounds),
            ..plain
        };
        assert!(to_smtlib(&fixed).contains("2 fixed active, 0 fixed inactive, 0 split"));
        for q in [plain, fixed] {
            match solve(&q, None, None) {
                SmtOutcome::Unsat => assert!(!sat, "{asserts}: unsat"),
                SmtOutcome::Sat(x) => {
                    assert!(sat, "{asserts}: sat at {x:?}");
                    assert!((x[0] * 2.0 - net.eval(&x)[0]).abs() < 1e-12);
                }
                other => panic!("{asserts}: {other:?}"),
            }
        }
    }
    // On the whole box the intervals fix nothing; bounds from an input
    // constraint (x0 - x1 >= 1.5, so the second pre-activation is in
    // [1.5, 2]) fix the second neuron, and the answers do not change.
    let (lo, hi) = ([-1.0, -1.0], [1.0, 1.0]);
    let region = property(2, 1, "(assert (>= (- X_0 X_1) 1.5))");
    let bounds = vec![(vec![], vec![]), (vec![-2.0, 1.5], vec![2.0, 2.0])];
    for (asserts, sat) in [
        ("(assert (>= Y_0 2.5))", false),
        ("(assert (<= Y_0 1.4))", false),
        ("(assert (>= Y_0 1.9))", true),
    ] {
        let p = property(2, 1, asserts);
        let plain = SmtQuery {
            input_constraints: &region.cases[0].input_constraints,
            ..query(&net, &lo, &hi, outputs(&p))
        };
        let fixed = SmtQuery {
            relu_bounds: Some(&bounds),
            ..plain
        };
        assert!(to_smtlib(&plain).contains("0 fixed active, 0 fixed inactive, 2 split"));
        assert!(to_smtlib(&fixed).contains("1 fixed active, 0 fixed inactive, 1 split"));
        for q in [plain, fixed] {
            let got = solve(&q, None, None);
            assert_eq!(matches!(got, SmtOutcome::Sat(_)), sat, "{asserts}: {got:?}");
            assert!(
                matches!(got, SmtOutcome::Sat(_) | SmtOutcome::Unsat),
                "{got:?}"
            );
        }
    }
}

#[test]
fn sigmoid_networks_are_unknown() {
    for act in [Layer::Sigmoid, Layer::Tanh] {
        let net = Network::chain(
            1,
            vec![
                Layer::Linear {
                    w: arr2(&[[1.0]]),
                    b: arr1(&[0.0]),
                },
                act,
            ],
        );
        let p = property(1, 1, "(assert (>= Y_0 2))");
        let q = query(&net, &[-1.0], &[1.0], outputs(&p));
        assert_eq!(
            solve(&q, None, None),
            SmtOutcome::Unknown(REASON_S_SHAPED.into())
        );
        // The script is a sound over-approximation, and says so.
        let script = to_smtlib(&q);
        assert!(
            script.contains("OVER-APPROXIMATION") && script.contains("(check-sat)"),
            "{script}"
        );
        // y is the activation, in its range [0, 1] or [-1, 1]: y >= 2 is
        // refuted even by the over-approximation.
        assert_eq!(parse_and_check(&script), "unsat", "{script}");
    }
}

/// A deterministic pseudo-random float32 in [-1, 1).
fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    f64::from(((*state >> 40) as f32) / (1u64 << 23) as f32 - 1.0)
}

/// A random 5-input ReLU network with `depth` hidden layers of `width`.
fn random_net(seed: u64, width: usize, depth: usize) -> Network {
    let mut s = seed;
    let mut layers = Vec::new();
    let mut n_in = 5;
    for _ in 0..depth {
        layers.push(Layer::Linear {
            w: Array2::from_shape_fn((width, n_in), |_| lcg(&mut s)),
            b: Array1::from_shape_fn(width, |_| lcg(&mut s) * 0.1),
        });
        layers.push(Layer::Relu);
        n_in = width;
    }
    layers.push(Layer::Linear {
        w: Array2::from_shape_fn((1, n_in), |_| lcg(&mut s)),
        b: arr1(&[0.0]),
    });
    Network::chain(5, layers)
}

/// The largest output seen on a grid of the box `[-1, 1]^5`.
fn sampled_max(net: &Network) -> f64 {
    let mut best = f64::NEG_INFINITY;
    let steps = [-1.0, -0.5, 0.0, 0.5, 1.0];
    for a in steps {
        for b in steps {
            for c in steps {
                for d in steps {
                    for e in steps {
                        best = best.max(net.eval(&[a, b, c, d, e])[0]);
                    }
                }
            }
        }
    }
    best
}

/// A query that takes Z3 a while: is the output above the sampled maximum?
fn hard_property(net: &Network) -> Property {
    let threshold = sampled_max(net) * 1.02;
    property(5, 1, &format!("(assert (>= Y_0 {threshold}))"))
}

#[test]
fn a_tiny_timeout_returns_unknown_promptly() {
    let net = random_net(7, 30, 3);
    let p = hard_property(&net);
    let (lo, hi) = ([-1.0; 5], [1.0; 5]);
    let q = query(&net, &lo, &hi, outputs(&p));
    let start = Instant::now();
    let got = solve(&q, Some(Duration::from_millis(1)), None);
    let took = start.elapsed();
    assert_eq!(got, SmtOutcome::Unknown(REASON_TIMEOUT.into()));
    assert!(
        took < Duration::from_secs(5),
        "a 1 ms timeout took {took:?}"
    );

    // A limit that runs out inside Z3.
    let net = random_net(11, 50, 4);
    let p = hard_property(&net);
    let q = query(&net, &lo, &hi, outputs(&p));
    let start = Instant::now();
    let got = solve(&q, Some(Duration::from_millis(300)), None);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "a 300 ms timeout took {took:?}"
    );
    match got {
        SmtOutcome::Unknown(reason) => assert_eq!(reason, REASON_TIMEOUT),
        other => eprintln!("Z3 answered {other:?} within its 300 ms ({took:?})"),
    }
}

#[test]
fn cancelling_returns_unknown_promptly() {
    let net = random_net(7, 30, 3);
    let p = hard_property(&net);
    let (lo, hi) = ([-1.0; 5], [1.0; 5]);
    let q = query(&net, &lo, &hi, outputs(&p));
    let cancel = AtomicBool::new(true);
    let start = Instant::now();
    assert_eq!(
        solve(&q, None, Some(&cancel)),
        SmtOutcome::Unknown(REASON_INTERRUPTED.into())
    );
    assert!(start.elapsed() < Duration::from_secs(5));

    // Raised while Z3 runs: a bigger network, cancelled after 200 ms.
    let net = random_net(11, 50, 4);
    let p = hard_property(&net);
    let q = query(&net, &lo, &hi, outputs(&p));
    let cancel = AtomicBool::new(false);
    let start = Instant::now();
    let got = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            cancel.store(true, Ordering::Relaxed);
        });
        solve(&q, None, Some(&cancel))
    });
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "cancelling took {took:?}");
    match got {
        SmtOutcome::Unknown(reason) => assert_eq!(reason, REASON_INTERRUPTED),
        // Z3 may have finished within 200 ms; then there was nothing to cancel.
        other => eprintln!("Z3 answered {other:?} before the cancel flag was raised ({took:?})"),
    }
}

#[test]
fn smtlib_declares_every_variable_and_agrees_with_solve() {
    let net = two_relu_net();
    let (lo, hi) = ([-1.0, -1.0], [1.0, 1.0]);
    for (asserts, want) in [
        ("(assert (>= Y_0 2.5))", "unsat"),
        ("(assert (>= Y_0 1.5))", "sat"),
    ] {
        let p = property(2, 1, asserts);
        let q = query(&net, &lo, &hi, outputs(&p));
        let script = to_smtlib(&q);
        assert!(script.contains("(check-sat)"), "{script}");
        let declared: Vec<&str> = script
            .lines()
            .filter_map(|l| l.strip_prefix("(declare-fun "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(declared.len(), 2 + 2 + 2 + 1, "{script}");
        for line in script.lines().filter(|l| l.starts_with("(assert")) {
            for tok in line.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                if tok.starts_with(|c: char| c.is_ascii_alphabetic())
                    && !["assert", "and", "or", "true", "false"].contains(&tok)
                {
                    assert!(
                        declared.contains(&tok),
                        "{tok} is not declared in\n{script}"
                    );
                }
            }
        }
        assert_eq!(
            matches!(solve(&q, None, None), SmtOutcome::Sat(_)),
            want == "sat"
        );
        assert_eq!(parse_and_check(&script), want, "{script}");
        match z3_binary() {
            None => eprintln!("skipping the z3 -in comparison: no z3 binary on PATH"),
            Some(z3) => {
                use std::io::Write;
                let mut child = std::process::Command::new(z3)
                    .arg("-in")
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .expect("z3 starts");
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(script.as_bytes())
                    .expect("write");
                let out = child.wait_with_output().expect("z3 runs");
                let text = String::from_utf8_lossy(&out.stdout);
                assert_eq!(text.trim(), want, "{script}");
            }
        }
    }
}

/// Z3's answer on an SMT-LIB script, read by its own SMT-LIB parser
/// in-process (there may be no z3 binary); "parse error" when it did not
/// take every `assert` of the script.
fn parse_and_check(script: &str) -> &'static str {
    let asserts = script.lines().filter(|l| l.starts_with("(assert ")).count();
    z3::with_z3_config(&z3::Config::new(), || {
        let solver = z3::Solver::new();
        solver.from_string(script);
        if solver.get_assertions().len() != asserts {
            return "parse error";
        }
        match solver.check() {
            z3::SatResult::Sat => "sat",
            z3::SatResult::Unsat => "unsat",
            z3::SatResult::Unknown => "unknown",
        }
    })
}

fn z3_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("z3"))
        .find(|p| p.is_file())
}

fn benchmarks() -> Option<PathBuf> {
    axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    ))
}

/// Solves case 0, disjunct 0 of a benchmark instance.
fn solve_instance(
    onnx: &str,
    vnnlib: &str,
    timeout: Duration,
) -> Option<(SmtOutcome, Network, String)> {
    let dir = benchmarks()?.join("tiny");
    let graph = axiom_core::load_model(&dir.join(onnx)).expect("model loads");
    let prop = axiom_core::vnnlib::load(&dir.join(vnnlib)).expect("property loads");
    let net = Network::from_graph(&graph).expect("network lowers");
    let case = &prop.cases[0];
    let lower: Vec<f64> = case.input.lower.iter().map(rational_down).collect();
    let upper: Vec<f64> = case.input.upper.iter().map(rational_up).collect();
    let q = SmtQuery {
        net: &net,
        lower: &lower,
        upper: &upper,
        input_constraints: &case.input_constraints,
        disjunct: &case.output[0],
        relu_bounds: None,
    };
    let script = to_smtlib(&q);
    let neurons = script
        .lines()
        .find(|l| l.starts_with("; ReLU neurons"))
        .unwrap_or_default();
    eprintln!("{onnx} + {vnnlib}: {neurons}");
    let start = Instant::now();
    let got = solve(&q, Some(timeout), None);
    let took = start.elapsed();
    eprintln!("{onnx} + {vnnlib}: {got:?} in {took:?}");
    Some((got, net, script))
}

#[test]
fn tiny_benchmarks_are_unsat() {
    for name in ["test_nano", "test_tiny", "test_small"] {
        let Some((got, _, script)) = solve_instance(
            &format!("{name}.onnx"),
            &format!("{name}.vnnlib"),
            Duration::from_secs(60),
        ) else {
            return;
        };
        assert_eq!(got, SmtOutcome::Unsat, "{name}");
        // The evidence script says the same.
        assert_eq!(parse_and_check(&script), "unsat", "{name}:\n{script}");
    }
}

/// Ignored: Z3 4.8.12 does not finish it. With interval bounds 222 of the
/// 300 ReLUs stay split; on this machine (2 cores) Z3 answered `timeout`
/// after 60 s, 150 s (plain disjunctions, no cuts) and 590 s (the encoding
/// as it is). Run with `--ignored`; `AXIOM_SMT_SECS` sets the limit.
#[test]
#[ignore = "Z3 4.8.12 times out (observed > 590 s) on this ACAS-sized instance"]
fn acas_sized_sat_instance() {
    let secs = std::env::var("AXIOM_SMT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let Some((got, net, _)) = solve_instance(
        "test_sat.onnx",
        "test_prop.vnnlib",
        Duration::from_secs(secs),
    ) else {
        return;
    };
    match got {
        SmtOutcome::Sat(x) => {
            // Property 3: the counterexample makes output 0 (CoC) minimal.
            let y = net.eval(&x);
            assert!(y[1..].iter().all(|&v| y[0] <= v + 1e-9), "y({x:?}) = {y:?}");
        }
        other => panic!("expected sat, got {other:?}"),
    }
}
