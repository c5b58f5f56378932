//! Graphs that are not chains: residual sums, the importer's `Sub` of two
//! computed tensors, concatenations, values with several readers. The CPU
//! backend in f32 and f64 against a plain-loop reference, batches of 1 to
//! 150 (the parallel path included); a sum's order of additions; interval
//! bounds of the same graphs; the lowering to interval layers.

use axiom_backends::ibp::{ibp_cpu, IbpLayer, IbpNetwork};
use axiom_backends::{Backend, CpuBackend};
use axiom_core::{Graph, GraphBuilder, Op};
use ndarray::{arr2, Array2};

use crate::common::{dag_graphs, lcg};

/// A value of the reference: row-major data and its per-sample shape.
struct Value {
    data: Vec<f64>,
    shape: Vec<usize>,
}

/// The graph's output on one sample, with plain loops in f64 (the ops the
/// DAG test graphs use).
fn reference(g: &Graph, x: &[f64]) -> Vec<f64> {
    let mut values = vec![Value {
        data: x.to_vec(),
        shape: g.input.shape.clone(),
    }];
    for node in &g.nodes {
        let ins: Vec<&Value> = node.inputs.iter().map(|&v| &values[v]).collect();
        let a = ins[0];
        let out = match &node.op {
            Op::Gemm { weight, bias } => {
                let (n_out, n_in) = weight.dim();
                let rows = a.data.len() / n_in;
                let mut data = Vec::with_capacity(rows * n_out);
                for r in 0..rows {
                    for o in 0..n_out {
                        let mut acc = bias.as_ref().map_or(0.0, |b| f64::from(b[o]));
                        for i in 0..n_in {
                            acc += f64::from(weight[[o, i]]) * a.data[r * n_in + i];
                        }
                        data.push(acc);
                    }
                }
                let mut shape = a.shape.clone();
                *shape.last_mut().unwrap() = n_out;
                Value { data, shape }
            }
            Op::Relu => Value {
                data: a
                    .data
                    .iter()
                    .map(|&v| if v < 0.0 { 0.0 } else { v })
                    .collect(),
                shape: a.shape.clone(),
            },
            Op::Tanh => Value {
                data: a.data.iter().map(|v| v.tanh()).collect(),
                shape: a.shape.clone(),
            },
            Op::Mul { c } => {
                // A scalar (or one-element) constant, as in the test graphs.
                assert_eq!(c.len(), 1);
                let k = f64::from(*c.iter().next().unwrap());
                Value {
                    data: a.data.iter().map(|&v| v * k).collect(),
                    shape: a.shape.clone(),
                }
            }
            Op::Flatten { axis } => Value {
                data: a.data.clone(),
                shape: vec![
                    a.shape[..*axis].iter().product(),
                    a.shape[*axis..].iter().product(),
                ],
            },
            Op::Reshape { shape } => Value {
                data: a.data.clone(),
                shape: shape.clone(),
            },
            Op::Sum => {
                let mut data = a.data.clone();
                for v in &ins[1..] {
                    assert_eq!(v.shape, a.shape);
                    for (s, &t) in data.iter_mut().zip(&v.data) {
                        *s += t;
                    }
                }
                Value {
                    data,
                    shape: a.shape.clone(),
                }
            }
            Op::Concat { axis } => {
                let outer: usize = a.shape[..*axis].iter().product();
                let inner: usize = a.shape[*axis + 1..].iter().product();
                let mut data = Vec::new();
                for o in 0..outer {
                    for v in &ins {
                        let block = v.shape[*axis] * inner;
                        data.extend_from_slice(&v.data[o * block..(o + 1) * block]);
                    }
                }
                let mut shape = a.shape.clone();
                shape[*axis] = ins.iter().map(|v| v.shape[*axis]).sum();
                Value { data, shape }
            }
            other => panic!("the reference does not run {}", other.kind()),
        };
        values.push(out);
    }
    values.swap_remove(g.output).data
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * (1.0 + want.abs())
}

#[test]
fn cpu_matches_the_plain_reference_in_f32_and_f64() {
    for (name, g) in dag_graphs() {
        let model = CpuBackend.compile(&g).unwrap();
        let n = g.input_len();
        let shapes = g.infer_shapes().unwrap();
        let out_len: usize = shapes[g.output].iter().product();
        assert_eq!(model.output_len(), out_len, "{name}");
        assert_eq!(model.output_shape(), shapes[g.output].as_slice(), "{name}");
        for (k, batch) in [1usize, 3, 150].into_iter().enumerate() {
            let x = Array2::from_shape_vec((batch, n), lcg(900 + k as u64, batch * n))
                .unwrap()
                .mapv(|v| 2.0 * v);
            let x64 = x.mapv(f64::from);
            let y64 = model.run_f64(x64.view()).unwrap();
            let y32 = model.run_f32(x.view()).unwrap();
            assert_eq!(y64.dim(), (batch, out_len), "{name}");
            assert_eq!(y32.dim(), (batch, out_len), "{name}");
            for b in 0..batch {
                let want = reference(&g, &x64.row(b).to_vec());
                assert_eq!(want.len(), out_len, "{name}");
                for (j, &w) in want.iter().enumerate() {
                    let (g64, g32) = (y64[[b, j]], f64::from(y32[[b, j]]));
                    assert!(
                        close(g64, w, 1e-12),
                        "{name} batch {batch} sample {b} output {j}: f64 {g64}, reference {w}"
                    );
                    assert!(
                        close(g32, w, 1e-5),
                        "{name} batch {batch} sample {b} output {j}: f32 {g32}, reference {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn cpu_batches_equal_single_samples_bit_for_bit() {
    for (name, g) in dag_graphs() {
        let model = CpuBackend.compile(&g).unwrap();
        let n = g.input_len();
        let x = Array2::from_shape_vec((100, n), lcg(77, 100 * n)).unwrap();
        let y = model.run_f32(x.view()).unwrap();
        for b in [0, 41, 99] {
            let one = model.run_f32(x.slice(ndarray::s![b..b + 1, ..])).unwrap();
            for (p, q) in y.row(b).iter().zip(one.row(0)) {
                assert_eq!(p.to_bits(), q.to_bits(), "{name} sample {b}");
            }
        }
    }
}

/// `Sum(a, b, c)` of `a = x0`, `b = x1`, `c = x2` (exact selections).
fn sum_of_selections(order: [usize; 3]) -> Graph {
    let mut b = GraphBuilder::new("order", "x", vec![3]);
    let mut picks = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        let mut w = Array2::zeros((1, 3));
        w[[0, i]] = 1.0;
        picks.push(b.push(
            format!("pick{k}"),
            Op::Gemm {
                weight: w,
                bias: None,
            },
            0,
        ));
    }
    let y = b.push_inputs("sum", Op::Sum, picks, "y");
    b.finish(y).unwrap()
}

#[test]
fn sum_adds_left_to_right_in_the_working_precision() {
    // 1e16 is a float32 and a float64; 1e16 + (-1e16) + 1 is 1 only when the
    // first two are added first (-1e16 + 1 rounds to -1e16 in both types).
    let big = 1e16f32;
    let x = [big, -big, 1.0];
    let g = sum_of_selections([0, 1, 2]);
    let model = CpuBackend.compile(&g).unwrap();
    let x32 = Array2::from_shape_vec((2, 3), [x, x].concat()).unwrap();
    let y32 = model.run_f32(x32.view()).unwrap();
    let y64 = model.run_f64(x32.mapv(f64::from).view()).unwrap();
    assert_eq!(y32, arr2(&[[1.0f32], [1.0]]));
    assert_eq!(y64, arr2(&[[1.0f64], [1.0]]));
    // The same numbers in the order (b + c) + a: 0 in both types.
    let g = sum_of_selections([1, 2, 0]);
    let model = CpuBackend.compile(&g).unwrap();
    assert_eq!(model.run_f32(x32.view()).unwrap(), arr2(&[[0.0f32], [0.0]]));
    assert_eq!(
        model.run_f64(x32.mapv(f64::from).view()).unwrap(),
        arr2(&[[0.0f64], [0.0]])
    );
}

/// The graphs interval propagation takes (no Tanh).
fn ibp_graphs() -> Vec<(&'static str, Graph)> {
    dag_graphs()
        .into_iter()
        .filter(|(name, _)| *name != "sum_buffers")
        .collect()
}

/// The exact value of an interval network at `x`, in exact rationals.
pub(crate) fn exact(net: &IbpNetwork, x: &[f64]) -> Vec<num_rational::BigRational> {
    use num_rational::BigRational;
    use num_traits::Zero;
    let q = |v: f64| BigRational::from_float(v).unwrap();
    let mut values: Vec<Vec<BigRational>> = vec![x.iter().map(|&v| q(v)).collect()];
    for layer in net.layers() {
        let prev = values.last().unwrap();
        let next = match layer {
            IbpLayer::Affine { weight, bias } => weight
                .outer_iter()
                .zip(bias)
                .map(|(row, &b)| {
                    row.iter()
                        .zip(prev)
                        .fold(q(f64::from(b)), |acc, (&w, v)| acc + q(f64::from(w)) * v)
                })
                .collect(),
            IbpLayer::Relu => prev
                .iter()
                .map(|v| {
                    if *v < BigRational::zero() {
                        BigRational::zero()
                    } else {
                        v.clone()
                    }
                })
                .collect(),
            IbpLayer::Load { value } => values[*value].clone(),
            IbpLayer::Sum { values: vs } => {
                let mut acc = values[vs[0]].clone();
                for &v in &vs[1..] {
                    for (a, b) in acc.iter_mut().zip(&values[v]) {
                        *a += b;
                    }
                }
                acc
            }
            IbpLayer::Concat { values: vs, outer } => {
                let mut out = Vec::new();
                for o in 0..*outer {
                    for &v in vs {
                        let block = values[v].len() / outer;
                        out.extend_from_slice(&values[v][o * block..(o + 1) * block]);
                    }
                }
                out
            }
        };
        values.push(next);
    }
    values.pop().unwrap()
}

#[test]
fn graphs_lower_to_interval_networks_of_the_same_function() {
    for (name, g) in ibp_graphs() {
        let net = IbpNetwork::from_graph(&g).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(net.input_len(), g.input_len(), "{name}");
        let n = g.input_len();
        for s in 0..5u64 {
            let x: Vec<f64> = lcg(300 + s, n).into_iter().map(f64::from).collect();
            let want = reference(&g, &x);
            let got = exact(&net, &x);
            assert_eq!(got.len(), want.len(), "{name}");
            for (j, (e, w)) in got.iter().zip(&want).enumerate() {
                let e = num_traits::ToPrimitive::to_f64(e).unwrap();
                assert!(
                    close(e, *w, 1e-12),
                    "{name} output {j}: exact {e}, reference {w}"
                );
            }
        }
    }
    // The residual block loads the skip's intermediate value by number.
    let net = IbpNetwork::from_graph(&crate::common::residual()).unwrap();
    assert!(
        net.layers()
            .iter()
            .any(|l| matches!(l, IbpLayer::Sum { values } if values.len() == 2)),
        "{:?}",
        net.layers()
    );
}

/// Checks that the bounds of every box contain the exact output at `x`.
pub(crate) fn assert_contains(
    net: &IbpNetwork,
    lower: &[f64],
    upper: &[f64],
    x: &[f64],
    what: &str,
) {
    use num_rational::BigRational;
    for (j, y) in exact(net, x).iter().enumerate() {
        let (lo, hi) = (lower[j], upper[j]);
        let below = lo.is_finite() && *y < BigRational::from_float(lo).unwrap();
        let above = hi.is_finite() && *y > BigRational::from_float(hi).unwrap();
        assert!(
            !below && !above,
            "{what}: output {j}: exact value outside [{lo}, {hi}] at {x:?}"
        );
    }
}

#[test]
fn interval_bounds_contain_sampled_outputs() {
    for (name, g) in ibp_graphs() {
        let net = IbpNetwork::from_graph(&g).unwrap();
        let n = g.input_len();
        let boxes = 6;
        let centers = Array2::from_shape_vec((boxes, n), lcg(500, boxes * n))
            .unwrap()
            .mapv(|v| 3.0 * f64::from(v));
        let radii: Vec<f64> = (0..boxes)
            .map(|b| [0.0, 1e-9, 0.01, 0.5, 1.0, 4.0][b])
            .collect();
        let lo = Array2::from_shape_fn((boxes, n), |(b, j)| centers[[b, j]] - radii[b]);
        let hi = Array2::from_shape_fn((boxes, n), |(b, j)| centers[[b, j]] + radii[b]);
        let bounds = ibp_cpu(&net, lo.view(), hi.view()).unwrap();
        let model = CpuBackend.compile(&g).unwrap();
        for b in 0..boxes {
            let (l, h) = (bounds.lower.row(b).to_vec(), bounds.upper.row(b).to_vec());
            let t = lcg(600 + b as u64, 8 * n);
            let mut points = vec![lo.row(b).to_vec(), hi.row(b).to_vec()];
            for k in 0..8 {
                points.push(
                    (0..n)
                        .map(|j| {
                            lo[[b, j]]
                                + 0.5 * (f64::from(t[k * n + j]) + 1.0) * (hi[[b, j]] - lo[[b, j]])
                        })
                        .collect(),
                );
            }
            for p in &points {
                assert_contains(&net, &l, &h, p, &format!("{name} box {b}"));
                // And the backend's f64 output, up to its own rounding.
                let x = Array2::from_shape_vec((1, n), p.clone()).unwrap();
                let y = model.run_f64(x.view()).unwrap();
                for (j, &v) in y.iter().enumerate() {
                    let slack = 1e-12 * (1.0 + v.abs());
                    assert!(
                        l[j] - slack <= v && v <= h[j] + slack,
                        "{name} box {b} output {j}: {v} outside [{}, {}]",
                        l[j],
                        h[j]
                    );
                }
            }
            if radii[b] == 0.0 {
                // A point box: the bounds are the value, within rounding.
                for j in 0..l.len() {
                    assert!(
                        h[j] - l[j] <= 1e-12 * (1.0 + l[j].abs()),
                        "{name}: point box output {j}: [{}, {}]",
                        l[j],
                        h[j]
                    );
                }
            }
        }
    }
}

#[test]
fn interval_sum_charges_the_rounding_of_its_centers() {
    // x = [2^53, 1] (a point) and its swap s = [1, 2^53]; the sum
    // x + s + s + s + s is 2^53 + 4 in its first element, but every addition
    // of 1 to 2^53 rounds back to 2^53 (a tie, to even) in f64: the center
    // stays 2^53, four rounding errors in the same direction, more than the
    // final outward step of one ulp (2) covers. Only the rounding charge of
    // the sum makes the bound contain the exact value.
    let p = 2f64.powi(53);
    let net = IbpNetwork::new(
        2,
        vec![
            IbpLayer::Affine {
                weight: arr2(&[[0.0, 1.0], [1.0, 0.0]]),
                bias: ndarray::Array1::zeros(2),
            },
            IbpLayer::Sum {
                values: vec![0, 1, 1, 1, 1],
            },
        ],
    )
    .unwrap();
    let x = arr2(&[[p, 1.0]]);
    let b = ibp_cpu(&net, x.view(), x.view()).unwrap();
    let (l, h) = (b.lower.row(0).to_vec(), b.upper.row(0).to_vec());
    assert_contains(&net, &l, &h, &[p, 1.0], "sum rounding");
    assert!(l[0] <= p + 4.0 && p + 4.0 <= h[0], "{l:?} {h:?}");
    // Tight: a few units in the last place (2 at 2^53).
    assert!(h[0] - l[0] <= 32.0, "{l:?} {h:?}");

    // Concat in two blocks gives [p, p, q, q], in one block [p, q, p, q];
    // their sum is [2p, p + q, q + p, 2q].
    let net = IbpNetwork::new(
        2,
        vec![
            IbpLayer::Concat {
                values: vec![0, 0],
                outer: 2,
            },
            IbpLayer::Concat {
                values: vec![0, 0],
                outer: 1,
            },
            IbpLayer::Sum { values: vec![1, 2] },
        ],
    )
    .unwrap();
    assert_eq!(net.output_len(), 4);
    let b = ibp_cpu(&net, x.view(), x.view()).unwrap();
    let (l, h) = (b.lower.row(0).to_vec(), b.upper.row(0).to_vec());
    assert_contains(&net, &l, &h, &[p, 1.0], "concat then sum");
    for (j, want) in [2.0 * p, p + 1.0, p + 1.0, 2.0].into_iter().enumerate() {
        assert!(
            l[j] <= want && want <= h[j] && h[j] - l[j] <= 16.0,
            "{j}: {l:?} {h:?}"
        );
    }
    assert!(h[3] - l[3] < 1e-12, "{l:?} {h:?}");
}

#[test]
fn interval_networks_check_value_references() {
    let relu = IbpLayer::Relu;
    // A layer may read only earlier values.
    assert!(IbpNetwork::new(2, vec![IbpLayer::Load { value: 1 }]).is_err());
    assert!(IbpNetwork::new(2, vec![relu.clone(), IbpLayer::Load { value: 1 }]).is_ok());
    assert!(IbpNetwork::new(2, vec![IbpLayer::Sum { values: vec![] }]).is_err());
    assert!(IbpNetwork::new(2, vec![IbpLayer::Sum { values: vec![0, 2] }]).is_err());
    // A sum of values of different widths.
    let widen = IbpLayer::Affine {
        weight: Array2::zeros((3, 2)),
        bias: ndarray::Array1::zeros(3),
    };
    let err =
        IbpNetwork::new(2, vec![widen.clone(), IbpLayer::Sum { values: vec![0, 1] }]).unwrap_err();
    assert!(err.to_string().contains("widths"), "{err}");
    // Concat blocks must divide every width.
    assert!(IbpNetwork::new(
        2,
        vec![
            widen,
            IbpLayer::Concat {
                values: vec![0, 1],
                outer: 2
            }
        ]
    )
    .is_err());
    assert!(IbpNetwork::new(
        2,
        vec![IbpLayer::Concat {
            values: vec![0, 0],
            outer: 0
        }]
    )
    .is_err());
    let net = IbpNetwork::new(
        2,
        vec![IbpLayer::Concat {
            values: vec![0, 0, 0],
            outer: 2,
        }],
    )
    .unwrap();
    assert_eq!(net.output_len(), 6);
    // An affine layer after a concatenation reads its width.
    let ok = IbpNetwork::new(
        2,
        vec![
            IbpLayer::Concat {
                values: vec![0, 0],
                outer: 1,
            },
            IbpLayer::Affine {
                weight: Array2::zeros((1, 4)),
                bias: ndarray::Array1::zeros(1),
            },
        ],
    );
    assert!(ok.is_ok());
}

#[test]
fn interval_propagation_refuses_what_it_cannot_bound() {
    let (_, g) = dag_graphs()
        .into_iter()
        .find(|(n, _)| *n == "sum_buffers")
        .unwrap();
    let err = IbpNetwork::from_graph(&g).unwrap_err().to_string();
    assert!(err.contains("'tanh'") && err.contains("Tanh"), "{err}");
}
