//! Max pooling as ReLUs: the same function written with the ops every
//! bound method already relaxes, so that the prover and the independent
//! checker handle `MaxPool` without a relaxation of their own.
//!
//! The identity is one of real arithmetic: `max(a, b) = b + relu(a - b)`
//! (when `a >= b` the right side is `b + a - b = a`, else `b + 0 = b`). A
//! window's maximum is a tournament of such pairs (`⌈log₂ k⌉` rounds for a
//! window of `k` cells). Every cell of a window is picked out of the input
//! by a depthwise convolution with a one-hot kernel (weights 0 and 1, exact),
//! and the difference of two cells by one with weights `+1` and `-1`, so
//! every new constant is exact too: the expanded graph computes exactly the
//! function of the original in real arithmetic. (In float32 the two differ by
//! the rounding of `a - b` and `b + (a - b)`; the prover and the checker
//! reason about real arithmetic.)
//!
//! Windows that cover padding are refused: a padded cell never wins the max,
//! so such a window has fewer cells than the others and the one-hot kernels
//! would read the padding's zeros.
//!
//! The ReLU nodes of the expansion are ordinary ReLU nodes: a ReLU split
//! named by its ordinal among the graph's ReLU nodes (a proof's evidence)
//! names the same neuron for the prover and for the checker, as both expand
//! with this function.

use ndarray::{Array4, ArrayD, IxDyn};

use crate::error::{Error, Location, Result};
use crate::graph::{Graph, GraphBuilder, Op, ValueId};

/// The graph with every `MaxPool` node replaced by its expansion (the graph
/// itself when it has none). Errors name the node that cannot be expanded.
pub fn expand_max_pools(graph: &Graph) -> Result<Graph> {
    if !graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::MaxPool { .. }))
    {
        return Ok(graph.clone());
    }
    let shapes = graph.infer_shapes()?;
    let mut b = GraphBuilder::new(
        graph.name.clone(),
        graph.input.name.clone(),
        graph.input.shape.clone(),
    );
    // The new id of every value of the original graph.
    let mut value_of: Vec<ValueId> = vec![0; graph.nodes.len() + 1];
    for (i, node) in graph.nodes.iter().enumerate() {
        let inputs: Vec<ValueId> = node.inputs.iter().map(|&v| value_of[v]).collect();
        value_of[i + 1] = match &node.op {
            Op::MaxPool {
                kernel,
                strides,
                pads,
            } => {
                let at = || Location::Node {
                    name: node.name.clone(),
                    op: node.op.kind().to_string(),
                };
                if pads.iter().any(|&p| p != 0) {
                    return Err(Error::unsupported(
                        "MaxPool with padding cannot be verified yet (a window over padding has fewer cells)",
                    )
                    .at(at()));
                }
                let channels = shapes[node.inputs[0]][1];
                let mut t = Tournament {
                    b: &mut b,
                    name: &node.name,
                    x: inputs[0],
                    channels,
                    kernel: *kernel,
                    strides: *strides,
                    count: 0,
                };
                let cells: Vec<Item> = (0..kernel[0] * kernel[1]).map(Item::Cell).collect();
                let out = t.max_of(cells);
                // The last node keeps the original's names, so that the
                // graph's output and later readers are named as before.
                let last = b.node_mut(out);
                last.name = node.name.clone();
                last.output_name = node.output_name.clone();
                out
            }
            op => b.push_inputs(
                node.name.clone(),
                op.clone(),
                inputs,
                node.output_name.clone(),
            ),
        };
    }
    for (k, v) in &graph.metadata {
        b.metadata(k.clone(), v.clone());
    }
    b.finish(value_of[graph.output])
}

/// A term of the tournament: a window cell not yet picked out, or a value.
#[derive(Clone, Copy)]
enum Item {
    Cell(usize),
    Value(ValueId),
}

struct Tournament<'a> {
    b: &'a mut GraphBuilder,
    name: &'a str,
    x: ValueId,
    channels: usize,
    kernel: [usize; 2],
    strides: [usize; 2],
    count: usize,
}

impl Tournament<'_> {
    fn push(&mut self, op: Op, inputs: Vec<ValueId>) -> ValueId {
        self.count += 1;
        let name = format!("{}/max{}", self.name, self.count);
        self.b.push_inputs(name.clone(), op, inputs, name)
    }

    /// A depthwise convolution of the input with `weights` at window cells.
    fn cells(&mut self, weights: &[(usize, f32)]) -> ValueId {
        let [kh, kw] = self.kernel;
        let mut w = Array4::zeros((self.channels, 1, kh, kw));
        for c in 0..self.channels {
            for &(cell, v) in weights {
                w[[c, 0, cell / kw, cell % kw]] = v;
            }
        }
        let op = Op::Conv2d {
            weight: w,
            bias: None,
            strides: self.strides,
            pads: [0; 4],
            dilations: [1, 1],
            group: self.channels,
        };
        self.push(op, vec![self.x])
    }

    fn value(&mut self, item: Item) -> ValueId {
        match item {
            Item::Cell(c) => self.cells(&[(c, 1.0)]),
            Item::Value(v) => v,
        }
    }

    /// `max(a, b) = b + relu(a - b)`.
    fn max2(&mut self, a: Item, b: Item) -> Item {
        let diff = match (a, b) {
            (Item::Cell(i), Item::Cell(j)) => self.cells(&[(i, 1.0), (j, -1.0)]),
            _ => {
                let (va, vb) = (self.value(a), self.value(b));
                let neg = self.push(
                    Op::Mul {
                        c: ArrayD::from_elem(IxDyn(&[]), -1.0),
                    },
                    vec![vb],
                );
                self.push(Op::Sum, vec![va, neg])
            }
        };
        let r = self.push(Op::Relu, vec![diff]);
        let vb = self.value(b);
        Item::Value(self.push(Op::Sum, vec![vb, r]))
    }

    /// The maximum of the items, by rounds of pairs; returns its value.
    fn max_of(&mut self, mut items: Vec<Item>) -> ValueId {
        while items.len() > 1 {
            let mut next = Vec::with_capacity(items.len().div_ceil(2));
            for pair in items.chunks(2) {
                next.push(match pair {
                    [a, b] => self.max2(*a, *b),
                    [a] => *a,
                    _ => unreachable!("chunks of two"),
                });
            }
            items = next;
        }
        let only = items[0];
        match only {
            // A window of one cell still needs a node of its own.
            Item::Cell(_) => self.value(only),
            Item::Value(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A max pool of `x` `[1, 2, 4, 5]`, with a ReLU after it.
    fn pool_graph(kernel: [usize; 2], strides: [usize; 2]) -> Graph {
        let mut b = GraphBuilder::new("pool", "x", vec![1, 2, 4, 5]);
        let p = b.push(
            "pool",
            Op::MaxPool {
                kernel,
                strides,
                pads: [0; 4],
            },
            0,
        );
        let y = b.push("relu", Op::Relu, p);
        b.finish(y).unwrap()
    }

    /// Evaluates a graph of the ops the expansion uses, in f64 (exact here:
    /// small integers).
    fn eval(g: &Graph, x: &[f64]) -> Vec<f64> {
        let shapes = g.infer_shapes().unwrap();
        let mut vals: Vec<Vec<f64>> = vec![x.to_vec()];
        for (i, n) in g.nodes.iter().enumerate() {
            let a = &vals[n.inputs[0]];
            let y = match &n.op {
                Op::Relu => a.iter().map(|v| v.max(0.0)).collect(),
                Op::Mul { c } => a
                    .iter()
                    .map(|v| v * f64::from(c.iter().next().copied().unwrap()))
                    .collect(),
                Op::Sum => {
                    let mut y = a.clone();
                    for &o in &n.inputs[1..] {
                        y.iter_mut().zip(&vals[o]).for_each(|(s, t)| *s += t);
                    }
                    y
                }
                Op::Conv2d {
                    weight,
                    strides,
                    group,
                    ..
                } => {
                    let s = &shapes[n.inputs[0]];
                    let o = &shapes[i + 1];
                    let (c, h, w) = (s[1], s[2], s[3]);
                    let (oh, ow) = (o[2], o[3]);
                    let (kh, kw) = (weight.dim().2, weight.dim().3);
                    assert_eq!(*group, c);
                    let mut y = vec![0.0; c * oh * ow];
                    for ch in 0..c {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let mut acc = 0.0;
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        let (iy, ix) = (oy * strides[0] + ky, ox * strides[1] + kx);
                                        acc += f64::from(weight[[ch, 0, ky, kx]])
                                            * a[(ch * h + iy) * w + ix];
                                    }
                                }
                                y[(ch * oh + oy) * ow + ox] = acc;
                            }
                        }
                    }
                    y
                }
                Op::MaxPool {
                    kernel, strides, ..
                } => {
                    let s = &shapes[n.inputs[0]];
                    let o = &shapes[i + 1];
                    let (c, h, w) = (s[1], s[2], s[3]);
                    let (oh, ow) = (o[2], o[3]);
                    let mut y = vec![f64::NEG_INFINITY; c * oh * ow];
                    for ch in 0..c {
                        for oy in 0..oh {
                            for ox in 0..ow {
                                for ky in 0..kernel[0] {
                                    for kx in 0..kernel[1] {
                                        let v = a[(ch * h + oy * strides[0] + ky) * w
                                            + ox * strides[1]
                                            + kx];
                                        let t = &mut y[(ch * oh + oy) * ow + ox];
                                        *t = t.max(v);
                                    }
                                }
                            }
                        }
                    }
                    y
                }
                other => panic!("unexpected op {}", other.kind()),
            };
            vals.push(y);
        }
        vals.swap_remove(g.output)
    }

    #[test]
    fn the_expansion_computes_the_max() {
        for (kernel, strides) in [
            ([2, 2], [2, 2]),
            ([3, 2], [1, 1]),
            ([1, 3], [1, 2]),
            ([1, 1], [1, 1]),
        ] {
            let g = pool_graph(kernel, strides);
            let e = expand_max_pools(&g).unwrap();
            assert!(!e.nodes.iter().any(|n| matches!(n.op, Op::MaxPool { .. })));
            assert_eq!(e.output_shape().unwrap(), g.output_shape().unwrap());
            assert_eq!(e.value_name(e.output), g.value_name(g.output));
            // Small distinct integers, so that f64 is exact and ties and
            // every winner position occur across the draws.
            let mut seed = 7u64;
            for _ in 0..20 {
                let x: Vec<f64> = (0..40)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((seed >> 33) % 17) as f64 - 8.0
                    })
                    .collect();
                assert_eq!(
                    eval(&e, &x),
                    eval(&g, &x),
                    "kernel {kernel:?} strides {strides:?}"
                );
            }
        }
    }

    #[test]
    fn padding_is_refused_with_the_node_named() {
        let mut b = GraphBuilder::new("pool", "x", vec![1, 1, 4, 4]);
        let p = b.push(
            "padded_pool",
            Op::MaxPool {
                kernel: [2, 2],
                strides: [2, 2],
                pads: [1, 1, 1, 1],
            },
            0,
        );
        let g = b.finish(p).unwrap();
        let e = expand_max_pools(&g).unwrap_err().to_string();
        assert!(e.contains("padded_pool") && e.contains("padding"), "{e}");
    }

    #[test]
    fn graphs_without_max_pools_are_unchanged() {
        let mut b = GraphBuilder::new("r", "x", vec![3]);
        let y = b.push("relu", Op::Relu, 0);
        let g = b.finish(y).unwrap();
        assert_eq!(expand_max_pools(&g).unwrap(), g);
    }
}
