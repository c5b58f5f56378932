//! `Transpose` and `Pad`: the CPU backend in f32 and f64 against plain
//! loops (batches of 1, 4 and 150, the parallel path included), a network
//! that pads, convolves, transposes and flattens, and their lowering to
//! interval layers (exact, bounds containing sampled outputs; too large a
//! layer refused with the node named).

use axiom_backends::ibp::{ibp_cpu, IbpNetwork};
use axiom_backends::{Backend, CpuBackend};
use axiom_core::{Graph, GraphBuilder, Op};
use ndarray::Array2;

use crate::common::{lcg, pad_conv_transpose};
use crate::dag::{assert_contains, exact};

/// A graph of one op on a sample of shape `shape`.
fn single(shape: Vec<usize>, op: Op) -> Graph {
    let mut b = GraphBuilder::new("t", "x", shape);
    let y = b.push("op", op, 0);
    b.finish(y).unwrap()
}

/// Runs `g` on batches of 1, 4 and 150 samples in f32 and f64 and checks
/// every output row equals `reference(row)` exactly (a copy rounds nothing).
fn check_exact(what: &str, g: &Graph, reference: impl Fn(&[f64]) -> Vec<f64>) {
    let model = CpuBackend.compile(g).unwrap();
    let n = g.input_len();
    for (k, batch) in [1usize, 4, 150].into_iter().enumerate() {
        let x = Array2::from_shape_vec((batch, n), lcg(70 + k as u64, batch * n)).unwrap();
        let x64 = x.mapv(f64::from);
        let y32 = model.run_f32(x.view()).unwrap();
        let y64 = model.run_f64(x64.view()).unwrap();
        for b in 0..batch {
            let want = reference(&x64.row(b).to_vec());
            assert_eq!(y64.ncols(), want.len(), "{what}");
            assert_eq!(y32.ncols(), want.len(), "{what}");
            for (j, &w) in want.iter().enumerate() {
                assert_eq!(
                    y64[[b, j]],
                    w,
                    "{what}: batch {batch} sample {b} f64 output {j}"
                );
                assert_eq!(
                    f64::from(y32[[b, j]]),
                    w,
                    "{what}: batch {batch} sample {b} f32 output {j}"
                );
            }
        }
    }
}

#[test]
fn transpose_of_the_last_two_axes() {
    // [1, 2, 3, 4] -> [1, 2, 4, 3]: y[0][c][w][h] = x[0][c][h][w].
    let (c, h, w) = (2, 3, 4);
    let g = single(
        vec![1, c, h, w],
        Op::Transpose {
            perm: vec![0, 1, 3, 2],
        },
    );
    assert_eq!(g.output_shape().unwrap(), vec![1, c, w, h]);
    check_exact("perm [0, 1, 3, 2]", &g, |x| {
        let mut y = Vec::new();
        for ch in 0..c {
            for col in 0..w {
                for row in 0..h {
                    y.push(x[(ch * h + row) * w + col]);
                }
            }
        }
        y
    });
}

#[test]
fn transpose_of_three_axes() {
    // [2, 3, 4] -> [4, 2, 3]: y[i][j][k] = x[j][k][i].
    let (a, b, c) = (2, 3, 4);
    let g = single(
        vec![a, b, c],
        Op::Transpose {
            perm: vec![2, 0, 1],
        },
    );
    assert_eq!(g.output_shape().unwrap(), vec![c, a, b]);
    check_exact("perm [2, 0, 1]", &g, |x| {
        let mut y = Vec::new();
        for i in 0..c {
            for j in 0..a {
                for k in 0..b {
                    y.push(x[(j * b + k) * c + i]);
                }
            }
        }
        y
    });
}

#[test]
fn pad_before_and_after_two_axes() {
    // [2, 3, 4]: one before and two after axis 1, two before and one after
    // axis 2, value -0.75 -> [2, 6, 7].
    let (a, b, c) = (2, 3, 4);
    let g = single(
        vec![a, b, c],
        Op::Pad {
            pads: vec![0, 1, 2, 0, 2, 1],
            value: -0.75,
        },
    );
    assert_eq!(g.output_shape().unwrap(), vec![a, b + 3, c + 3]);
    check_exact("pad [0, 1, 2, 0, 2, 1]", &g, |x| {
        let mut y = Vec::new();
        for i in 0..a {
            for j in 0..b + 3 {
                for k in 0..c + 3 {
                    let inside = (1..=b).contains(&j) && (2..c + 2).contains(&k);
                    y.push(if inside {
                        x[(i * b + (j - 1)) * c + (k - 2)]
                    } else {
                        -0.75
                    });
                }
            }
        }
        y
    });
    // NCHW, padding the channels (after) and the width (before): [1, 2, 2, 3]
    // -> [1, 3, 2, 4], value 1.5.
    let g = single(
        vec![1, 2, 2, 3],
        Op::Pad {
            pads: vec![0, 0, 0, 1, 0, 1, 0, 0],
            value: 1.5,
        },
    );
    check_exact("pad channels and width", &g, |x| {
        let mut y = Vec::new();
        for ch in 0..3 {
            for row in 0..2 {
                for col in 0..4 {
                    y.push(if ch < 2 && col >= 1 {
                        x[(ch * 2 + row) * 3 + (col - 1)]
                    } else {
                        1.5
                    });
                }
            }
        }
        y
    });
}

/// `pad_conv_transpose` with plain loops in f64.
fn pad_conv_transpose_reference(g: &Graph, x: &[f64]) -> Vec<f64> {
    let (
        Op::Conv2d { weight, bias, .. },
        Op::Gemm {
            weight: fw,
            bias: fb,
        },
    ) = (&g.nodes[1].op, &g.nodes[5].op)
    else {
        panic!("not the pad_conv_transpose graph");
    };
    let (c, h, w) = (2, 4, 5);
    // Pad: one row of 0.5 on top, two columns on the right: [2, 5, 7].
    let (ph, pw) = (h + 1, w + 2);
    let mut p = vec![0.5; c * ph * pw];
    for ch in 0..c {
        for row in 0..h {
            for col in 0..w {
                p[(ch * ph + row + 1) * pw + col] = x[(ch * h + row) * w + col];
            }
        }
    }
    // Conv 2x3, then ReLU: [3, 4, 5].
    let (m, kh, kw) = (3, 2, 3);
    let (oh, ow) = (ph - kh + 1, pw - kw + 1);
    let mut conv = vec![0.0; m * oh * ow];
    for o in 0..m {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = f64::from(bias.as_ref().unwrap()[o]);
                for ch in 0..c {
                    for ki in 0..kh {
                        for kj in 0..kw {
                            acc += f64::from(weight[[o, ch, ki, kj]])
                                * p[(ch * ph + oy + ki) * pw + ox + kj];
                        }
                    }
                }
                conv[(o * oh + oy) * ow + ox] = acc.max(0.0);
            }
        }
    }
    // Channels last, flattened: [4 * 5 * 3].
    let mut t = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..m {
                t.push(conv[(o * oh + oy) * ow + ox]);
            }
        }
    }
    assert_eq!(t.len(), 60);
    fw.outer_iter()
        .zip(fb.as_ref().unwrap())
        .map(|(row, &b)| {
            row.iter()
                .zip(&t)
                .fold(f64::from(b), |acc, (&w, &v)| acc + f64::from(w) * v)
        })
        .collect()
}

#[test]
fn pad_conv_relu_transpose_flatten_gemm_runs() {
    let g = pad_conv_transpose();
    let model = CpuBackend.compile(&g).unwrap();
    assert_eq!((model.input_len(), model.output_len()), (40, 4));
    for (k, batch) in [1usize, 5, 150].into_iter().enumerate() {
        let x = Array2::from_shape_vec((batch, 40), lcg(80 + k as u64, batch * 40))
            .unwrap()
            .mapv(|v| 2.0 * v);
        let x64 = x.mapv(f64::from);
        let y32 = model.run_f32(x.view()).unwrap();
        let y64 = model.run_f64(x64.view()).unwrap();
        for b in 0..batch {
            let want = pad_conv_transpose_reference(&g, &x64.row(b).to_vec());
            for (j, &w) in want.iter().enumerate() {
                let (g64, g32) = (y64[[b, j]], f64::from(y32[[b, j]]));
                assert!(
                    (g64 - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "batch {batch} sample {b} output {j}: f64 {g64}, reference {w}"
                );
                assert!(
                    (g32 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "batch {batch} sample {b} output {j}: f32 {g32}, reference {w}"
                );
            }
        }
    }
}

/// `x: [1, 2, 3] -> Transpose [0, 2, 1] -> Pad (axis 1: 1 before; axis 2:
/// 2 after; value 0.5) -> Flatten -> Gemm -> Relu`, which interval
/// propagation takes.
fn transpose_pad_mlp() -> Graph {
    let mut b = GraphBuilder::new("tp", "x", vec![1, 2, 3]);
    let mut v = b.push(
        "swap",
        Op::Transpose {
            perm: vec![0, 2, 1],
        },
        0,
    );
    v = b.push(
        "border",
        Op::Pad {
            pads: vec![0, 1, 0, 0, 0, 2],
            value: 0.5,
        },
        v,
    );
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    v = b.push(
        "fc",
        Op::Gemm {
            weight: Array2::from_shape_vec((3, 16), lcg(90, 48)).unwrap(),
            bias: Some(ndarray::Array1::from(lcg(91, 3))),
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    b.finish(v).unwrap()
}

#[test]
fn transpose_and_pad_lower_to_interval_layers_of_the_same_function() {
    let g = transpose_pad_mlp();
    let net = IbpNetwork::from_graph(&g).unwrap();
    let model = CpuBackend.compile(&g).unwrap();
    // The exact network at sampled points is the backend's output.
    for s in 0..5u64 {
        let x: Vec<f64> = lcg(200 + s, 6).into_iter().map(f64::from).collect();
        let want = model
            .run_f64(Array2::from_shape_vec((1, 6), x.clone()).unwrap().view())
            .unwrap();
        for (j, e) in exact(&net, &x).iter().enumerate() {
            let e = num_traits::ToPrimitive::to_f64(e).unwrap();
            let w = want[[0, j]];
            assert!(
                (e - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "output {j}: exact {e}, backend {w}"
            );
        }
    }
    // Boxes: the bounds contain the exact and the backend's outputs at
    // sampled points; a point box is bounded tightly.
    let n = 6;
    let radii = [0.0, 1e-9, 0.1, 1.0];
    let centers = lcg(300, radii.len() * n);
    let lo = Array2::from_shape_fn((radii.len(), n), |(b, j)| {
        f64::from(centers[b * n + j]) - radii[b]
    });
    let hi = Array2::from_shape_fn((radii.len(), n), |(b, j)| {
        f64::from(centers[b * n + j]) + radii[b]
    });
    let bounds = ibp_cpu(&net, lo.view(), hi.view()).unwrap();
    for b in 0..radii.len() {
        let (l, h) = (bounds.lower.row(b).to_vec(), bounds.upper.row(b).to_vec());
        let t = lcg(400 + b as u64, 8 * n);
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
            assert_contains(&net, &l, &h, p, &format!("box {b}"));
            let y = model
                .run_f64(Array2::from_shape_vec((1, n), p.clone()).unwrap().view())
                .unwrap();
            for (j, &v) in y.iter().enumerate() {
                let slack = 1e-12 * (1.0 + v.abs());
                assert!(
                    l[j] - slack <= v && v <= h[j] + slack,
                    "box {b} output {j}: {v} outside [{}, {}]",
                    l[j],
                    h[j]
                );
            }
        }
        if radii[b] == 0.0 {
            for j in 0..l.len() {
                assert!(
                    h[j] - l[j] <= 1e-12 * (1.0 + l[j].abs()),
                    "point box output {j}: [{}, {}]",
                    l[j],
                    h[j]
                );
            }
        }
    }
}

#[test]
fn a_transpose_or_pad_that_moves_nothing_is_no_interval_layer() {
    let mut b = GraphBuilder::new("t", "x", vec![1, 3, 1]);
    let t = b.push(
        "t",
        Op::Transpose {
            perm: vec![2, 1, 0],
        },
        0,
    );
    let p = b.push(
        "p",
        Op::Pad {
            pads: vec![0; 6],
            value: 3.0,
        },
        t,
    );
    let y = b.push("relu", Op::Relu, p);
    let net = IbpNetwork::from_graph(&b.finish(y).unwrap()).unwrap();
    assert_eq!(net.layers().len(), 1, "{:?}", net.layers());
}

#[test]
fn interval_propagation_refuses_a_too_large_transpose_by_name() {
    // 8200 elements: a dense 8200 x 8200 layer is over 2^26 entries.
    let g = single(vec![2, 4100], Op::Transpose { perm: vec![1, 0] });
    let err = IbpNetwork::from_graph(&g).unwrap_err().to_string();
    assert!(
        err.contains("'op'") && err.contains("Transpose") && err.contains("too large"),
        "{err}"
    );
    // The pad -> conv network: the convolution is refused, by name.
    let err = IbpNetwork::from_graph(&pad_conv_transpose())
        .unwrap_err()
        .to_string();
    assert!(err.contains("'conv'") && err.contains("Conv2d"), "{err}");
}
