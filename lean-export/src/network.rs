//! A network as Lean definitions: its constants in `Weights.lean`, its
//! function `net : List Q → List Q` in `Network.lean`.
//!
//! Exported ops are the ones with an exact meaning over the rationals:
//! `Gemm` (a dense layer; only on values whose leading dimensions are all
//! 1), `Add`, `Sub`, `Mul` and `Div` by constants (broadcast to the value's
//! shape, written out element by element; `Div` as multiplication by the
//! exact reciprocal), `Relu`, `Sum` of computed values (a residual
//! connection: `vadd` of the values' `let`s, left to right), and the layout
//! ops `Identity`, `Flatten`, `Reshape` and the `Concat` of one value, which
//! do not change the row-major element order. `Transpose` and `Pad` are
//! written out element by element as the list of `nth v k` (the input
//! element each output element copies) and `Pad`'s constant, exactly; one
//! that moves nothing is its input. Every node is one `let`, so a
//! node may read any earlier value. Sigmoid, Tanh and Softmax have no exact
//! definition over the rationals in Lean core, and Conv2d, BatchNorm, the
//! pools and the `Concat` of several values are not exported yet: a model
//! with any of them is refused with the reason.

use crate::number;
use crate::ExportError;
use axiom_core::graph::{Graph, Op};
use axiom_core::spec::Rational;
use ndarray::{ArrayD, IxDyn};
use num_traits::{One, Zero};
use std::fmt::Write;

/// A network written as Lean.
#[derive(Debug, Clone)]
pub struct LeanNetwork {
    /// `Weights.lean`'s body: one `def` per constant.
    pub weights: String,
    /// `Network.lean`'s body: `def net`.
    pub network: String,
    /// The names the weights file defines (unqualified).
    pub weight_names: Vec<String>,
    /// Elements of the input and of the output.
    pub inputs: usize,
    pub outputs: usize,
    /// Whether the output is a ReLU of the previous value (so every element
    /// is non-negative, which the prelude proves once).
    pub relu_output: bool,
    /// Number of exported numbers.
    pub numbers: usize,
}

fn lit(v: f32) -> Result<String, ExportError> {
    number::float(f64::from(v))
        .ok_or_else(|| ExportError::Unsupported("a weight is NaN or infinite".into()))
}

fn row(values: impl Iterator<Item = Result<String, ExportError>>) -> Result<String, ExportError> {
    let items: Vec<String> = values.collect::<Result<_, _>>()?;
    Ok(format!("[{}]", items.join(", ")))
}

/// The constant `c` broadcast to `shape`, flat in row-major order.
fn broadcast(c: &ArrayD<f32>, shape: &[usize], what: &str) -> Result<Vec<f32>, ExportError> {
    let view = c.broadcast(IxDyn(shape)).ok_or_else(|| {
        ExportError::Unsupported(format!(
            "{what}: a constant of shape {:?} does not broadcast to {shape:?}",
            c.shape()
        ))
    })?;
    Ok(view.iter().copied().collect())
}

/// For `Transpose` or `Pad` on a value of shape `in_shape`: per element of
/// the output (row-major), the input element it copies, or `None` where it
/// is `Pad`'s constant; `None` overall for a permutation or padding that
/// does not fit `in_shape`.
fn gather_sources(op: &Op, in_shape: &[usize]) -> Option<Vec<Option<usize>>> {
    op.gather_sources(in_shape).ok()
}

/// Writes `graph` as Lean.
pub fn network(graph: &Graph) -> Result<LeanNetwork, ExportError> {
    let shapes = graph
        .infer_shapes()
        .map_err(|e| ExportError::Unsupported(format!("the model's shapes: {e}")))?;
    let len = |v: usize| shapes[v].iter().product::<usize>();
    let mut weights = String::new();
    let mut names = Vec::new();
    let mut lets = Vec::new();
    let mut numbers = 0usize;
    let value = |v: usize| {
        if v == 0 {
            "x".to_string()
        } else {
            format!("v{v}")
        }
    };
    for (i, node) in graph.nodes.iter().enumerate() {
        let what = format!("layer {i} ({} {})", node.op.kind(), node.name);
        let (min, max) = node.op.arity();
        if node.inputs.len() < min || node.inputs.len() > max || node.inputs.iter().any(|&v| v > i)
        {
            return Err(ExportError::Unsupported(format!(
                "{what}: reads values {:?}, not {min} earlier value(s)",
                node.inputs
            )));
        }
        let input = node.inputs[0];
        let arg = value(input);
        let mut constant = |suffix: &str, ty: &str, body: String, count: usize| {
            let name = format!("layer{i}_{suffix}");
            let _ = writeln!(
                weights,
                "/-- {what}: {suffix}. -/\ndef {name} : {ty} :=\n{body}\n"
            );
            names.push(name.clone());
            numbers += count;
            name
        };
        let expr = match &node.op {
            Op::Gemm { weight, bias } => {
                let in_shape = &shapes[input];
                if in_shape[..in_shape.len().saturating_sub(1)]
                    .iter()
                    .any(|&d| d != 1)
                {
                    return Err(ExportError::Unsupported(format!(
                        "{what}: a dense layer on a value of shape {in_shape:?} (only leading dimensions of 1 are exported)"
                    )));
                }
                let rows: Vec<String> = weight
                    .outer_iter()
                    .map(|r| row(r.iter().map(|&v| lit(v))))
                    .collect::<Result<_, _>>()?;
                let w = constant(
                    "w",
                    "List (List Q)",
                    format!("  [{}]", rows.join(",\n   ")),
                    weight.len(),
                );
                let b = match bias {
                    Some(b) => constant(
                        "b",
                        "List Q",
                        format!("  {}", row(b.iter().map(|&v| lit(v)))?),
                        b.len(),
                    ),
                    None => format!("(zeros {})", weight.nrows()),
                };
                format!("dense {w} {b} {arg}")
            }
            Op::Add { c } | Op::Sub { c } | Op::Mul { c } => {
                let flat = broadcast(c, &shapes[input], &what)?;
                let (suffix, f) = match &node.op {
                    Op::Add { .. } => ("add", "vadd"),
                    Op::Sub { .. } => ("sub", "vsub"),
                    _ => ("mul", "vmul"),
                };
                let n = flat.len();
                let name = constant(
                    suffix,
                    "List Q",
                    format!("  {}", row(flat.into_iter().map(lit))?),
                    n,
                );
                format!("{f} {arg} {name}")
            }
            Op::Div { c } => {
                let flat = broadcast(c, &shapes[input], &what)?;
                let recips = flat
                    .iter()
                    .map(|&v| {
                        let r = Rational::from_float(v)
                            .filter(|r| !r.is_zero())
                            .ok_or_else(|| {
                                ExportError::Unsupported(format!(
                                    "{what}: division by zero or a non-finite constant"
                                ))
                            })?;
                        Ok(number::rational(&(Rational::one() / r)))
                    })
                    .collect::<Result<Vec<_>, ExportError>>()?;
                let n = recips.len();
                let name = constant("recip", "List Q", format!("  [{}]", recips.join(", ")), n);
                format!("vmul {arg} {name}")
            }
            Op::Relu => format!("vrelu {arg}"),
            // ((a + b) + c) ..., exact over the rationals (the order does not
            // matter there); the operands have the same shape.
            Op::Sum => {
                let mut acc = arg;
                for (k, &v) in node.inputs[1..].iter().enumerate() {
                    acc = if k == 0 {
                        format!("vadd {acc} {}", value(v))
                    } else {
                        format!("vadd ({acc}) {}", value(v))
                    };
                }
                acc
            }
            Op::Identity | Op::Flatten { .. } | Op::Reshape { .. } => arg,
            Op::Concat { .. } if node.inputs.len() == 1 => arg,
            // A copy of input elements and constants: exact.
            Op::Transpose { .. } | Op::Pad { .. } => {
                let in_shape = &shapes[input];
                let sources = gather_sources(&node.op, in_shape)
                    .filter(|s| s.len() == len(i + 1))
                    .ok_or_else(|| {
                        ExportError::Unsupported(format!(
                            "{what}: its attributes do not fit its input of shape {in_shape:?}"
                        ))
                    })?;
                if sources.len() == len(input)
                    && sources.iter().enumerate().all(|(j, &s)| s == Some(j))
                {
                    // Only axes of length 1 move, or nothing is padded.
                    arg
                } else {
                    let fill = match &node.op {
                        Op::Pad { value, .. } => lit(*value)?,
                        _ => String::new(),
                    };
                    // Every element is written out: count them all.
                    numbers += sources.len();
                    let items: Vec<String> = sources
                        .iter()
                        .map(|s| match s {
                            Some(k) => format!("nth {arg} {k}"),
                            None => fill.clone(),
                        })
                        .collect();
                    format!("[{}]", items.join(", "))
                }
            }
            other => {
                let why = match other {
                    Op::Sigmoid | Op::Tanh | Op::Softmax { .. } => {
                        "it has no exact definition over the rationals in Lean core"
                    }
                    Op::Concat { .. } => {
                        "the Lean export does not support the concatenation of several values yet"
                    }
                    _ => "the Lean export does not support it yet",
                };
                return Err(ExportError::Unsupported(format!(
                    "{what}: {} cannot be exported: {why}",
                    other.kind()
                )));
            }
        };
        lets.push(format!("  let v{} := {expr}", i + 1));
    }
    let out = graph.output;
    let result = if out == 0 {
        "x".to_string()
    } else {
        format!("v{out}")
    };
    let relu_output = out > 0 && matches!(graph.nodes[out - 1].op, Op::Relu);
    let mut network = String::new();
    let _ = writeln!(
        network,
        "/-- The network `{}` ({} in, {} out), in exact arithmetic. -/",
        graph.name,
        len(0),
        len(out)
    );
    let _ = writeln!(network, "def net (x : List Q) : List Q :=");
    for l in &lets {
        let _ = writeln!(network, "{l}");
    }
    let _ = writeln!(network, "  {result}");
    Ok(LeanNetwork {
        weights,
        network,
        weight_names: names,
        inputs: len(0),
        outputs: len(out),
        relu_output,
        numbers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axiom_core::graph::GraphBuilder;
    use ndarray::{arr1, arr2};

    /// `y = fc2(relu(fc1(x))) + x`.
    fn residual() -> Graph {
        let mut b = GraphBuilder::new("res", "x", vec![2]);
        let h = b.push(
            "fc1",
            Op::Gemm {
                weight: arr2(&[[1.0, -1.0], [0.5, 1.0], [0.0, 2.0]]),
                bias: Some(arr1(&[0.0, 0.25, -1.0])),
            },
            0,
        );
        let h = b.push("relu1", Op::Relu, h);
        let h = b.push(
            "fc2",
            Op::Gemm {
                weight: arr2(&[[1.0, 0.5, 0.0], [0.0, 0.0, -2.0]]),
                bias: None,
            },
            h,
        );
        let y = b.push_inputs("skip", Op::Sum, vec![h, 0], "y");
        b.finish(y).unwrap()
    }

    #[test]
    fn a_residual_sum_is_vadd_of_earlier_lets() {
        let net = network(&residual()).unwrap();
        assert!(
            net.network.contains("  let v4 := vadd v3 x\n  v4\n"),
            "{}",
            net.network
        );
        assert!(net
            .network
            .contains("  let v1 := dense layer0_w layer0_b x\n"));
        assert_eq!((net.inputs, net.outputs, net.relu_output), (2, 2, false));

        // Three operands, added left to right; a node that reads an earlier
        // value than the previous one.
        let mut b = GraphBuilder::new("t", "x", vec![2]);
        let r = b.push("relu", Op::Relu, 0);
        let n = b.push(
            "neg",
            Op::Mul {
                c: ndarray::ArrayD::from_elem(ndarray::IxDyn(&[]), -1.0),
            },
            0,
        );
        let y = b.push_inputs("sum", Op::Sum, vec![r, n, 0], "y");
        let net = network(&b.finish(y).unwrap()).unwrap();
        assert!(
            net.network.contains("  let v2 := vmul x layer1_mul\n"),
            "{}",
            net.network
        );
        assert!(
            net.network
                .contains("  let v3 := vadd (vadd v1 v2) x\n  v3\n"),
            "{}",
            net.network
        );
    }

    #[test]
    fn a_concat_of_several_values_is_refused_with_the_node_named() {
        let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
        let r = b.push("relu", Op::Relu, 0);
        let y = b.push_inputs("join_here", Op::Concat { axis: 1 }, vec![r, 0], "y");
        let err = network(&b.finish(y).unwrap()).unwrap_err().to_string();
        assert!(
            err.contains("layer 1 (Concat join_here)")
                && err.contains("concatenation of several values"),
            "{err}"
        );
        // The concatenation of one value is that value.
        let mut b = GraphBuilder::new("t", "x", vec![1, 2]);
        let r = b.push("relu", Op::Relu, 0);
        let y = b.push_inputs("one", Op::Concat { axis: 1 }, vec![r], "y");
        let net = network(&b.finish(y).unwrap()).unwrap();
        assert!(net.network.contains("  let v2 := v1\n"), "{}", net.network);
    }

    /// Evaluates the list expression `[item, ...]` of a `let` on `x` (the
    /// value the items read): `nth v k` is `x[k]` (0 past the end, as the
    /// prelude's `nth`), any other item is read as a literal.
    fn eval_gather(expr: &str, v: &str, x: &[Rational]) -> Vec<Rational> {
        let inner = expr
            .strip_prefix('[')
            .and_then(|e| e.strip_suffix(']'))
            .unwrap_or_else(|| panic!("not a list: {expr}"));
        inner
            .split(", ")
            .map(|item| match item.strip_prefix(&format!("nth {v} ")) {
                Some(k) => x
                    .get(k.parse::<usize>().unwrap())
                    .cloned()
                    .unwrap_or_else(Rational::zero),
                None => {
                    number::parse_literal(item).unwrap_or_else(|| panic!("not a literal: {item}"))
                }
            })
            .collect()
    }

    /// The expression of `let v{n} := ...` in `network`.
    fn let_expr(network: &str, n: usize) -> String {
        let prefix = format!("  let v{n} := ");
        network
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no v{n} in {network}"))
            .to_string()
    }

    #[test]
    fn transpose_and_pad_are_written_out_exactly() {
        // x: [2, 3, 4] -> Transpose [2, 0, 1] -> [4, 2, 3]
        //   -> Pad one before axis 1, two after axis 2, value -1.5 -> [4, 3, 5].
        let (a, b, c) = (2usize, 3usize, 4usize);
        let mut g = GraphBuilder::new("t", "x", vec![a, b, c]);
        let t = g.push(
            "swap_axes",
            Op::Transpose {
                perm: vec![2, 0, 1],
            },
            0,
        );
        let y = g.push(
            "border",
            Op::Pad {
                pads: vec![0, 1, 0, 0, 0, 2],
                value: -1.5,
            },
            t,
        );
        let net = network(&g.finish(y).unwrap()).unwrap();
        assert_eq!((net.inputs, net.outputs), (24, 60));
        assert_eq!(net.numbers, 24 + 60);
        let x: Vec<Rational> = (0..24).map(|k| Rational::from_integer(k.into())).collect();
        // Hand-written reference: t[i][j][k] = x[j][k][i].
        let mut t_ref = Vec::new();
        for i in 0..c {
            for j in 0..a {
                for k in 0..b {
                    t_ref.push(x[(j * b + k) * c + i].clone());
                }
            }
        }
        let v1 = eval_gather(&let_expr(&net.network, 1), "x", &x);
        assert_eq!(v1, t_ref);
        let pad = Rational::from_float(-1.5f32).unwrap();
        let mut y_ref = Vec::new();
        for i in 0..c {
            for j in 0..a + 1 {
                for k in 0..b + 2 {
                    y_ref.push(if j >= 1 && k < b {
                        t_ref[(i * a + (j - 1)) * b + k].clone()
                    } else {
                        pad.clone()
                    });
                }
            }
        }
        let v2 = eval_gather(&let_expr(&net.network, 2), "v1", &v1);
        assert_eq!(v2, y_ref);
        assert!(net.network.contains("  v2\n"), "{}", net.network);

        // A transpose that moves only an axis of length 1, and a padding of
        // nothing, are their input.
        let mut g = GraphBuilder::new("t", "x", vec![1, 2, 1, 3]);
        let t = g.push(
            "t",
            Op::Transpose {
                perm: vec![2, 1, 0, 3],
            },
            0,
        );
        let y = g.push(
            "p",
            Op::Pad {
                pads: vec![0; 8],
                value: 2.0,
            },
            t,
        );
        let net = network(&g.finish(y).unwrap()).unwrap();
        assert!(
            net.network.contains("  let v1 := x\n  let v2 := v1\n"),
            "{}",
            net.network
        );
    }

    #[test]
    fn an_export_with_transpose_and_pad_passes_the_structural_check() {
        let mut g = GraphBuilder::new("tp", "x", vec![1, 2, 2]);
        let t = g.push(
            "t",
            Op::Transpose {
                perm: vec![0, 2, 1],
            },
            0,
        );
        let p = g.push(
            "p",
            Op::Pad {
                pads: vec![0, 0, 1, 0, 0, 0],
                value: 0.25,
            },
            t,
        );
        let f = g.push("flat", Op::Flatten { axis: 0 }, p);
        let h = g.push(
            "fc",
            Op::Gemm {
                weight: ndarray::Array2::from_elem((2, 6), 0.5),
                bias: None,
            },
            f,
        );
        let y = g.push("relu", Op::Relu, h);
        let graph = g.finish(y).unwrap();
        let models = [crate::ModelInput {
            name: "tp".into(),
            graph: &graph,
            obligations: vec![crate::ObligationInput {
                name: "open_one".into(),
                text: "prove open_one: ...".into(),
                statement: Err("not stated here".into()),
                verdict: crate::AxiomVerdict::Unknown,
                witness: None,
                certificate: None,
            }],
        }];
        let project = crate::export(&models, "test", &crate::ExportOptions::default()).unwrap();
        let problems = crate::structure::check(&project);
        assert!(problems.is_empty(), "{problems:?}");
        let network = project
            .files
            .iter()
            .find(|(path, _)| path.ends_with("/Network.lean"))
            .map(|(_, text)| text)
            .unwrap();
        assert!(
            network.contains("let v1 := [nth x 0, nth x 2, nth x 1, nth x 3]"),
            "{network}"
        );
        assert!(
            network.contains(
                "let v2 := [(Q.dy 1 2), nth v1 0, nth v1 1, (Q.dy 1 2), nth v1 2, nth v1 3]"
            ),
            "{network}"
        );
    }

    #[test]
    fn a_node_reading_a_value_not_computed_before_it_is_refused() {
        let mut g = residual();
        g.nodes[3].inputs = vec![3, 4];
        let err = network(&g).unwrap_err().to_string();
        assert!(
            err.contains("skip") && err.contains("not computed before"),
            "{err}"
        );
    }
}
