//! Every chain the prover's rewriter discharges is accepted by the
//! certificate checker's independent replay, and no single-line forgery of
//! one is.

use axiom_certs::rewrite_check::{check_rewrite_chain, rule_names};
use axiom_core::graph::{Graph, GraphBuilder, Op};
use axiom_prover::rewrite::{self, discharge};
use ndarray::arr2;

/// `x[1,2] -> Gemm[3] -> op` (or no op).
fn graph(op: Option<Op>) -> Graph {
    let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
    let w = arr2(&[[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]);
    let mut v = b.push(
        "fc",
        Op::Gemm {
            weight: w,
            bias: None,
        },
        0,
    );
    if let Some(op) = op {
        v = b.push("act", op, v);
    }
    b.finish(v).expect("a valid graph")
}

const GOALS: &[&str] = &[
    "(== (sum y) 1)",
    "(== (sum y) 1e0)",
    "(in y 0 1)",
    "(in (idx y 2) 0 1)",
    "(in (idx y 1) -0.5 1e3)",
    "(in_open y -1/2 3/2)",
    "(in_open (idx y 0) -2 2)",
    "(in y -1 1)",
    "(<= y 1)",
    "(<= y 1.5)",
    "(>= y 0)",
    "(>= y -1)",
    "(>= (idx y 1) 0)",
    "(> (idx y 1) -1)",
    "(>= 1 (idx y 0))",
    "(> 2 (idx y 1))",
    "(< -1 (idx y 0))",
    "(and (== (sum y) 1) (in (idx y 2) 0 1))",
    "(or (<= (idx y 0) 1/2) (<= y 1))",
    "(or (<= (idx y 0) -5) (>= (idx y 0) -1))",
    "(not (not (<= y 1)))",
    "(not (> (idx y 0) 1))",
    "(not (< 2 1))",
    "(and (not false) (<= 1/3 0.5))",
    "(== 0.5 1/2)",
    "(== (sum (softmax y)) 1)",
    "(<= (sigmoid (idx y 0)) 1)",
    "(< 0 (sigmoid (idx y 0)))",
    "(<= (idx y 0) (idx y 0))",
    "(== y y)",
    "(<= (idx y 0) 0.5)",
    "(<= (relu (idx y 2)) 1)",
    // `z` (the activation's input) is a goal term only where the output has one.
    "(== (sigmoid (idx z 0)) (idx y 0))",
    "(== (relu (idx z 2)) (idx y 2))",
    "(== (softmax z) y)",
    "(<= (idx (softmax z) 1) (sum y))",
    "(and (>= (tanh (idx z 1)) -1) (== (idx y 1) (tanh (idx z 1))))",
];

/// Single-line forgeries of a chain: each line dropped, each number in it
/// changed, its rule renamed, its direction flipped.
fn forgeries(chain: &[String]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (i, line) in chain.iter().enumerate() {
        let mut dropped = chain.to_vec();
        dropped.remove(i);
        out.push((format!("line {} dropped", i + 1), dropped));
        let tokens: Vec<&str> = line.split_inclusive(['(', ')', ' ']).collect();
        let mut with = |what: String, new_line: String| {
            let mut c = chain.to_vec();
            c[i] = new_line;
            out.push((what, c));
        };
        for (j, t) in tokens.iter().enumerate() {
            let body = t.trim_end_matches(['(', ')', ' ']);
            let tail = &t[body.len()..];
            let numeric = body
                .trim_start_matches('-')
                .starts_with(|c: char| c.is_ascii_digit());
            let replacement = if numeric {
                Some(format!("{body}7{tail}"))
            } else if rule_names().contains(&body) {
                let other = if body == "const-le-true" {
                    "const-lt-true"
                } else {
                    "const-le-true"
                };
                Some(format!("{other}{tail}"))
            } else if body == "Rewrite=>" || body == "Rewrite<=" {
                let flipped = if body == "Rewrite=>" {
                    "Rewrite<="
                } else {
                    "Rewrite=>"
                };
                Some(format!("{flipped}{tail}"))
            } else {
                None
            };
            if let Some(r) = replacement {
                let mut ts: Vec<String> = tokens.iter().map(|s| s.to_string()).collect();
                ts[j] = r;
                with(
                    format!("line {} token {j} '{body}' changed", i + 1),
                    ts.concat(),
                );
            }
        }
    }
    out
}

#[test]
fn the_checker_knows_every_rule_of_the_prover() {
    let mut prover = rewrite::rule_names();
    let mut checker = rule_names();
    prover.sort();
    checker.sort();
    assert_eq!(prover, checker);
}

#[test]
fn discharged_chains_replay_and_forgeries_do_not() {
    let graphs = [
        ("softmax", graph(Some(Op::Softmax { axis: 1 }))),
        ("sigmoid", graph(Some(Op::Sigmoid))),
        ("tanh", graph(Some(Op::Tanh))),
        ("relu", graph(Some(Op::Relu))),
        ("none", graph(None)),
    ];
    let mut discharged = 0;
    let mut forged = 0;
    for (name, g) in &graphs {
        let mut here = 0;
        for goal in GOALS {
            let Ok(Some(d)) = discharge(g, goal) else {
                continue;
            };
            here += 1;
            let report = check_rewrite_chain(g, goal, &d.explanation)
                .unwrap_or_else(|e| panic!("{name}: {goal}: {e}\n{}", d.explanation.join("\n")));
            assert_eq!(report.steps + 1, d.explanation.len(), "{name}: {goal}");
            assert_eq!(report.rules, d.rules, "{name}: {goal}");
            // Against the graph it was not proved for, an output rule fails.
            if let Some(r) = d.rules.iter().find(|r| r.starts_with("output-")) {
                let other = if *name == "none" {
                    &graphs[0].1
                } else {
                    &graphs[4].1
                };
                assert!(
                    check_rewrite_chain(other, goal, &d.explanation).is_err(),
                    "{name}: {goal}: {r} on another graph"
                );
            }
            for (what, chain) in forgeries(&d.explanation) {
                forged += 1;
                assert!(
                    check_rewrite_chain(g, goal, &chain).is_err(),
                    "{name}: {goal}: accepted with {what}:\n{}",
                    chain.join("\n")
                );
            }
        }
        // Each graph proves its own facts.
        let expected = match *name {
            "softmax" => 31,
            "sigmoid" => 27,
            "tanh" => 19,
            "relu" => 15,
            _ => 8,
        };
        assert!(here >= expected, "{name}: only {here} goals discharged");
        discharged += here;
    }
    assert!(
        discharged == 100 && forged >= 1500,
        "{discharged} chains, {forged} forgeries"
    );
}
