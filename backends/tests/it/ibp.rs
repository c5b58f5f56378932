//! Soundness of interval bound propagation: every bound [`ibp_cpu`] (and,
//! with a GPU, `cuda::CudaIbp`) returns contains the output of the exact
//! network — weights and inputs as exact dyadic rationals, real arithmetic —
//! at points of the box, including boxes built to make floating point go
//! wrong (cancellation, underflow, huge magnitudes). Exact values are
//! computed with big-integer dyadics, so no rounding enters the reference.

use axiom_backends::ibp::{ibp_cpu, IbpLayer, IbpNetwork, IntervalBatch};
use axiom_core::{GraphBuilder, Op};
use ndarray::{arr1, arr2, Array1, Array2, ArrayD};
use num_bigint::BigInt;
use num_traits::{Float, Signed, Zero};
use std::cmp::Ordering;

/// An exact dyadic rational `m · 2^e`.
#[derive(Debug, Clone)]
struct Dyadic {
    m: BigInt,
    e: i64,
}

impl Dyadic {
    fn zero() -> Self {
        Dyadic {
            m: BigInt::zero(),
            e: 0,
        }
    }

    fn from_f64(v: f64) -> Self {
        assert!(v.is_finite());
        let (man, exp, sign) = v.integer_decode();
        Dyadic {
            m: BigInt::from(man) * i64::from(sign),
            e: i64::from(exp),
        }
    }

    fn add(&self, o: &Dyadic) -> Dyadic {
        let e = self.e.min(o.e);
        let a = &self.m << (self.e - e) as usize;
        let b = &o.m << (o.e - e) as usize;
        Dyadic { m: a + b, e }
    }

    fn mul(&self, o: &Dyadic) -> Dyadic {
        Dyadic {
            m: &self.m * &o.m,
            e: self.e + o.e,
        }
    }

    fn relu(self) -> Dyadic {
        if self.m.is_negative() {
            Dyadic::zero()
        } else {
            self
        }
    }

    /// Compares with an `f64` (which may be infinite).
    fn cmp_f64(&self, v: f64) -> Ordering {
        if v == f64::INFINITY {
            return Ordering::Less;
        }
        if v == f64::NEG_INFINITY {
            return Ordering::Greater;
        }
        let d = self.add(&Dyadic {
            m: -Dyadic::from_f64(v).m,
            e: Dyadic::from_f64(v).e,
        });
        if d.m.is_positive() {
            Ordering::Greater
        } else if d.m.is_negative() {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }
}

/// The exact network output at `x`.
fn exact(net: &IbpNetwork, x: &[f64]) -> Vec<Dyadic> {
    // Every value: 0 the input, i + 1 the output of layer i.
    let mut values: Vec<Vec<Dyadic>> = vec![x.iter().map(|&x| Dyadic::from_f64(x)).collect()];
    for layer in net.layers() {
        let v = values.last().unwrap();
        let next = match layer {
            IbpLayer::Relu => v.iter().cloned().map(Dyadic::relu).collect(),
            IbpLayer::Affine { weight, bias } => weight
                .outer_iter()
                .zip(bias)
                .map(|(row, &b)| {
                    row.iter()
                        .zip(v)
                        .fold(Dyadic::from_f64(f64::from(b)), |acc, (&w, x)| {
                            acc.add(&Dyadic::from_f64(f64::from(w)).mul(x))
                        })
                })
                .collect(),
            IbpLayer::Load { value } => values[*value].clone(),
            IbpLayer::Sum { values: vs } => {
                vs[1..].iter().fold(values[vs[0]].clone(), |acc, &k| {
                    acc.iter().zip(&values[k]).map(|(a, b)| a.add(b)).collect()
                })
            }
            IbpLayer::Concat { values: vs, outer } => {
                let mut out = Vec::new();
                for o in 0..*outer {
                    for &k in vs {
                        let block = values[k].len() / outer;
                        out.extend_from_slice(&values[k][o * block..(o + 1) * block]);
                    }
                }
                out
            }
        };
        values.push(next);
    }
    values.pop().unwrap()
}

/// Checks that the bounds of box `i` contain the exact output at `x`.
fn assert_contains(net: &IbpNetwork, bounds: &IntervalBatch, i: usize, x: &[f64], what: &str) {
    for (j, y) in exact(net, x).iter().enumerate() {
        let (lo, hi) = (bounds.lower[[i, j]], bounds.upper[[i, j]]);
        assert!(
            y.cmp_f64(lo) != Ordering::Less && y.cmp_f64(hi) != Ordering::Greater,
            "{what}: box {i} output {j}: exact value outside [{lo}, {hi}] at {x:?}"
        );
    }
}

/// Deterministic pseudo-random values in [-1, 1).
fn lcg(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed ^ 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64) / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// A random ReLU network; weights scaled by `scale`.
fn random_net(seed: u64, input: usize, widths: &[usize], scale: f32) -> IbpNetwork {
    let mut layers = Vec::new();
    let mut width = input;
    for (i, &out) in widths.iter().enumerate() {
        let w: Vec<f32> = lcg(seed * 31 + i as u64, out * width)
            .into_iter()
            .map(|v| v as f32 * scale)
            .collect();
        let b: Vec<f32> = lcg(seed * 37 + i as u64, out)
            .into_iter()
            .map(|v| v as f32 * scale)
            .collect();
        layers.push(IbpLayer::Affine {
            weight: Array2::from_shape_vec((out, width), w).unwrap(),
            bias: Array1::from(b),
        });
        if i + 1 < widths.len() {
            layers.push(IbpLayer::Relu);
        }
        width = out;
    }
    IbpNetwork::new(input, layers).unwrap()
}

/// Random boxes around random centers: degenerate, tiny and wide.
fn random_boxes(seed: u64, n: usize, count: usize, scale: f64) -> (Array2<f64>, Array2<f64>) {
    let centers = lcg(seed + 5, n * count);
    let radii = lcg(seed + 6, n * count);
    let mut lo = Array2::zeros((count, n));
    let mut hi = Array2::zeros((count, n));
    for b in 0..count {
        let width = match b % 3 {
            0 => 0.0,
            1 => 1e-6,
            _ => 1.0,
        };
        for j in 0..n {
            let c = centers[b * n + j] * scale;
            let r = radii[b * n + j].abs() * width * scale;
            lo[[b, j]] = c - r;
            hi[[b, j]] = c + r;
        }
    }
    (lo, hi)
}

/// The box's corners (all of them up to 4 dimensions) and its center.
fn points(lo: &[f64], hi: &[f64], seed: u64) -> Vec<Vec<f64>> {
    let n = lo.len();
    let mut pts = vec![lo
        .iter()
        .zip(hi)
        .map(|(l, h)| (0.5 * l + 0.5 * h).clamp(*l, *h))
        .collect()];
    if n <= 4 {
        for mask in 0..1usize << n {
            pts.push(
                (0..n)
                    .map(|j| if mask >> j & 1 == 1 { hi[j] } else { lo[j] })
                    .collect(),
            );
        }
    } else {
        pts.push(lo.to_vec());
        pts.push(hi.to_vec());
    }
    let t = lcg(seed, 4 * n);
    for k in 0..4 {
        pts.push(
            (0..n)
                .map(|j| {
                    let a = 0.5 * (t[k * n + j] + 1.0);
                    (lo[j] + a * (hi[j] - lo[j])).clamp(lo[j], hi[j])
                })
                .collect(),
        );
    }
    pts
}

/// Runs `bound` on random networks and boxes and checks containment.
fn check_random_networks(
    what: &str,
    bound: impl Fn(&IbpNetwork, &Array2<f64>, &Array2<f64>) -> IntervalBatch,
) {
    for seed in 0..40u64 {
        let input = 1 + seed as usize % 6;
        let widths: Vec<usize> = (0..1 + seed as usize % 4)
            .map(|i| 1 + (seed as usize * 5 + i * 7) % 12)
            .collect();
        let scale = [1.0f32, 1e-3, 1e3, 1e-20][seed as usize % 4];
        let net = random_net(seed, input, &widths, scale);
        let box_scale = [1.0, 1e6, 1e-6, 1e15][(seed as usize / 4) % 4];
        let (lo, hi) = random_boxes(seed, input, 9, box_scale);
        let bounds = bound(&net, &lo, &hi);
        for b in 0..lo.nrows() {
            let (l, h) = (lo.row(b).to_vec(), hi.row(b).to_vec());
            for p in points(&l, &h, seed * 100 + b as u64) {
                assert_contains(&net, &bounds, b, &p, &format!("{what} seed {seed}"));
            }
        }
    }
}

#[test]
fn cpu_bounds_contain_the_exact_network() {
    check_random_networks("cpu", |net, lo, hi| {
        ibp_cpu(net, lo.view(), hi.view()).unwrap()
    });
}

/// Plain f64 IBP without any margin.
fn naive(net: &IbpNetwork, lo: &Array2<f64>, hi: &Array2<f64>) -> IntervalBatch {
    let (mut l, mut h) = (lo.clone(), hi.clone());
    for layer in net.layers() {
        match layer {
            IbpLayer::Relu => {
                l.mapv_inplace(|v| v.max(0.0));
                h.mapv_inplace(|v| v.max(0.0));
            }
            IbpLayer::Affine { weight, bias } => {
                let w = weight.mapv(f64::from);
                let (wp, wn) = (w.mapv(|v| v.max(0.0)), w.mapv(|v| v.min(0.0)));
                let b = bias.mapv(f64::from);
                let nl = l.dot(&wp.t()) + h.dot(&wn.t()) + &b;
                let nh = h.dot(&wp.t()) + l.dot(&wn.t()) + &b;
                l = nl;
                h = nh;
            }
            other => panic!("the naive propagation takes chains only, not {other:?}"),
        }
    }
    IntervalBatch { lower: l, upper: h }
}

#[test]
fn cpu_margins_are_small() {
    for seed in 0..20u64 {
        let net = random_net(seed, 5, &[50, 50, 50, 5], 0.3);
        let (lo, hi) = random_boxes(seed, 5, 30, 1.0);
        let sound = ibp_cpu(&net, lo.view(), hi.view()).unwrap();
        let plain = naive(&net, &lo, &hi);
        for (s, p) in sound.lower.iter().zip(&plain.lower) {
            assert!(
                *s <= *p + 1e-9 * (1.0 + p.abs()) && *s >= *p - 1e-9 * (1.0 + p.abs()),
                "{s} vs {p}"
            );
        }
        for (s, p) in sound.upper.iter().zip(&plain.upper) {
            assert!(
                *s >= *p - 1e-9 * (1.0 + p.abs()) && *s <= *p + 1e-9 * (1.0 + p.abs()),
                "{s} vs {p}"
            );
        }
    }
}

/// Networks where a careless float computation gives a wrong bound.
fn adversarial() -> Vec<(&'static str, IbpNetwork, Array2<f64>, Array2<f64>)> {
    let mut out = Vec::new();
    // Cancellation: x0 - x1 with x0 = x1 + 2 near 2^53.
    let net = IbpNetwork::new(
        2,
        vec![IbpLayer::Affine {
            weight: arr2(&[[1.0, -1.0], [1.0, 1.0]]),
            bias: arr1(&[0.0, 0.0]),
        }],
    )
    .unwrap();
    let x0 = 9007199254740994.0f64;
    let x1 = 9007199254740992.0f64;
    out.push(("cancellation", net, arr2(&[[x0, x1]]), arr2(&[[x0, x1]])));
    // A long sum of terms that round differently in every order.
    let n = 300;
    let weight = Array2::from_shape_fn((1, n), |(_, j)| if j % 2 == 0 { 1.0 } else { -1.0 + 1e-7 });
    let net = IbpNetwork::new(
        n,
        vec![IbpLayer::Affine {
            weight,
            bias: arr1(&[0.1]),
        }],
    )
    .unwrap();
    let x = Array2::from_shape_fn((1, n), |(_, j)| 1e8 + j as f64 * 0.1);
    out.push(("long sum", net, x.clone(), x));
    // Underflow: products far below the smallest normal f64.
    let net = IbpNetwork::new(
        2,
        vec![
            IbpLayer::Affine {
                weight: arr2(&[[1e-30, -1e-30], [1e-38, 1e-38]]),
                bias: arr1(&[0.0, 0.0]),
            },
            IbpLayer::Relu,
            IbpLayer::Affine {
                weight: arr2(&[[1e-30, 1e30]]),
                bias: arr1(&[0.0]),
            },
        ],
    )
    .unwrap();
    out.push((
        "underflow",
        net,
        arr2(&[[1e-290, -3e-300]]),
        arr2(&[[1e-290, 5e-300]]),
    ));
    // Huge values near the top of the f32 range, and an overflow.
    let net = IbpNetwork::new(
        1,
        vec![
            IbpLayer::Affine {
                weight: arr2(&[[3.0e38], [-3.0e38]]),
                bias: arr1(&[3.0e38, 0.0]),
            },
            IbpLayer::Relu,
        ],
    )
    .unwrap();
    out.push((
        "huge",
        net,
        arr2(&[[0.5], [1e300]]),
        arr2(&[[1.0], [2e300]]),
    ));
    out
}

#[test]
fn cpu_bounds_survive_adversarial_arithmetic() {
    for (what, net, lo, hi) in adversarial() {
        let bounds = ibp_cpu(&net, lo.view(), hi.view()).unwrap();
        for b in 0..lo.nrows() {
            let (l, h) = (lo.row(b).to_vec(), hi.row(b).to_vec());
            for p in points(&l, &h, 9) {
                assert_contains(&net, &bounds, b, &p, what);
            }
        }
    }
}

#[test]
fn from_graph_lowers_exactly_or_refuses() {
    let mut b = GraphBuilder::new("t", "x", vec![1, 1, 1, 3]);
    let mean = ArrayD::from_shape_vec(vec![1, 1, 1, 3], vec![0.5, -0.25, 1.0]).unwrap();
    let mut v = b.push("sub", Op::Sub { c: mean }, 0);
    v = b.push("flat", Op::Flatten { axis: 1 }, v);
    v = b.push(
        "fc",
        Op::Gemm {
            weight: arr2(&[[1.0, 2.0, -1.0], [0.5, 0.0, 1.0]]),
            bias: None,
        },
        v,
    );
    v = b.push("relu", Op::Relu, v);
    let g = b.finish(v).unwrap();
    let net = IbpNetwork::from_graph(&g).unwrap();
    assert_eq!((net.input_len(), net.output_len()), (3, 2));
    assert_eq!(net.layers().len(), 3);
    let x = [0.25, 0.5, -0.75];
    let lo = arr2(&[x]);
    let bounds = ibp_cpu(&net, lo.view(), lo.view()).unwrap();
    assert_contains(&net, &bounds, 0, &x, "lowered graph");
    // The CPU backend computes the same function.
    let y = run_cpu(&g, &x);
    for (j, &v) in y.iter().enumerate() {
        assert!(bounds.lower[[0, j]] <= v && v <= bounds.upper[[0, j]]);
    }
    // Ops without an exact affine meaning are refused with the op named.
    let mut b = GraphBuilder::new("t", "x", vec![3]);
    let v = b.push("s", Op::Sigmoid, 0);
    let err = IbpNetwork::from_graph(&b.finish(v).unwrap()).unwrap_err();
    assert!(err.to_string().contains("Sigmoid"), "{err}");
}

/// Runs a graph on one sample with the CPU backend in f64.
fn run_cpu(g: &axiom_core::Graph, x: &[f64]) -> Vec<f64> {
    use axiom_backends::Backend;
    let m = axiom_backends::CpuBackend.compile(g).unwrap();
    let x = Array2::from_shape_vec((1, x.len()), x.to_vec()).unwrap();
    m.run_f64(x.view()).unwrap().iter().copied().collect()
}

/// ACAS Xu networks (when the shared benchmarks are present) and boxes
/// around the reference inputs.
fn acas_cases(limit: usize) -> Vec<(String, IbpNetwork, Array2<f64>, Array2<f64>)> {
    let Some(dir) = axiom_core::benchmarks_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/benchmarks"
    )) else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(dir.join("acasxu/reference_outputs.json")) else {
        eprintln!("skipping: acasxu/reference_outputs.json not found");
        return Vec::new();
    };
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (file, case) in reference["cases"].as_object().unwrap().iter().take(limit) {
        let g = axiom_core::load_model(&dir.join("acasxu").join(file)).unwrap();
        let net = IbpNetwork::from_graph(&g).unwrap();
        let inputs: Vec<Vec<f64>> = serde_json::from_value(case["inputs"].clone()).unwrap();
        let x = Array2::from_shape_vec((inputs.len(), 5), inputs.concat()).unwrap();
        let lo = x.mapv(|v| v - 1e-3);
        let hi = x.mapv(|v| v + 1e-3);
        out.push((file.clone(), net, lo, hi));
    }
    out
}

#[test]
fn acas_xu_bounds_contain_the_exact_network() {
    for (file, net, lo, hi) in acas_cases(3) {
        let bounds = ibp_cpu(&net, lo.view(), hi.view()).unwrap();
        for b in 0..lo.nrows() {
            let (l, h) = (lo.row(b).to_vec(), hi.row(b).to_vec());
            let center: Vec<f64> = l.iter().zip(&h).map(|(l, h)| 0.5 * l + 0.5 * h).collect();
            assert_contains(&net, &bounds, b, &l, &file);
            assert_contains(&net, &bounds, b, &h, &file);
            assert_contains(&net, &bounds, b, &center, &file);
        }
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::*;
    use axiom_backends::cuda::CudaIbp;

    /// The GPU bounds of `net`, or `None` with the skip printed.
    fn gpu(net: &IbpNetwork) -> Option<CudaIbp> {
        match CudaIbp::new(net) {
            Ok(g) => Some(g),
            Err(e) => {
                // Straight to stderr: libtest captures only the print macros.
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "skipped: cuda: {e}");
                if std::env::var_os("AXIOM_REQUIRE_CUDA").is_some_and(|v| v != "0") {
                    panic!("AXIOM_REQUIRE_CUDA is set but the GPU is unavailable: {e}");
                }
                None
            }
        }
    }

    #[test]
    fn gpu_bounds_contain_the_exact_network() {
        let probe = random_net(0, 2, &[3], 1.0);
        if gpu(&probe).is_none() {
            return;
        }
        check_random_networks("cuda", |net, lo, hi| {
            gpu(net).unwrap().bounds(lo.view(), hi.view()).unwrap()
        });
        for (what, net, lo, hi) in adversarial() {
            let bounds = gpu(&net).unwrap().bounds(lo.view(), hi.view()).unwrap();
            for b in 0..lo.nrows() {
                let (l, h) = (lo.row(b).to_vec(), hi.row(b).to_vec());
                for p in points(&l, &h, 9) {
                    assert_contains(&net, &bounds, b, &p, what);
                }
            }
        }
    }

    #[test]
    fn gpu_bounds_of_dags_contain_the_exact_network() {
        let probe = random_net(0, 2, &[3], 1.0);
        if gpu(&probe).is_none() {
            return;
        }
        for (name, g) in crate::common::dag_graphs() {
            let Ok(net) = IbpNetwork::from_graph(&g) else {
                continue; // a graph with an op interval propagation refuses
            };
            let n = net.input_len();
            let (lo, hi) = random_boxes(11, n, 9, 1.0);
            let a = gpu(&net).unwrap().bounds(lo.view(), hi.view()).unwrap();
            let c = ibp_cpu(&net, lo.view(), hi.view()).unwrap();
            for b in 0..lo.nrows() {
                let (l, h) = (lo.row(b).to_vec(), hi.row(b).to_vec());
                for p in points(&l, &h, 21) {
                    assert_contains(&net, &a, b, &p, name);
                }
            }
            for (x, y) in a
                .lower
                .iter()
                .zip(&c.lower)
                .chain(a.upper.iter().zip(&c.upper))
            {
                assert!(
                    (x - y).abs() <= 1e-3 * (1.0 + y.abs()),
                    "{name}: gpu {x}, cpu {y}"
                );
            }
        }
        // Four roundings of 2^24 + 1 to 2^24 in f32: only the sum's rounding
        // charge covers them (see dag.rs for the f64 version).
        let p = 2f64.powi(24);
        let net = IbpNetwork::new(
            2,
            vec![
                IbpLayer::Affine {
                    weight: arr2(&[[0.0, 1.0], [1.0, 0.0]]),
                    bias: Array1::zeros(2),
                },
                IbpLayer::Sum {
                    values: vec![0, 1, 1, 1, 1],
                },
                IbpLayer::Concat {
                    values: vec![2, 0],
                    outer: 2,
                },
            ],
        )
        .unwrap();
        let x = arr2(&[[p, 1.0]]);
        let a = gpu(&net).unwrap().bounds(x.view(), x.view()).unwrap();
        assert_contains(&net, &a, 0, &[p, 1.0], "f32 sum rounding");
        assert!(a.lower[[0, 0]] <= p + 4.0 && p + 4.0 <= a.upper[[0, 0]]);
        assert!(a.upper[[0, 0]] - a.lower[[0, 0]] <= 64.0);
    }

    #[test]
    fn gpu_bounds_are_close_to_the_cpu_reference() {
        for (file, net, lo, hi) in acas_cases(45) {
            let Some(g) = gpu(&net) else { return };
            let a = g.bounds(lo.view(), hi.view()).unwrap();
            let c = ibp_cpu(&net, lo.view(), hi.view()).unwrap();
            for b in 0..lo.nrows() {
                let (l, h) = (lo.row(b).to_vec(), hi.row(b).to_vec());
                assert_contains(&net, &a, b, &l, &file);
                assert_contains(&net, &a, b, &h, &file);
            }
            // The GPU works in f32 and pays its rounding margins (about
            // n·2⁻²⁴ of |W|·|c| per layer, amplified by |W| through ACAS Xu's
            // seven layers), so it is looser than the f64 reference: on an
            // H100, by 1.6e-3, 3.5e-3 and 1.2e-2 of 1 + |bound| on the first
            // three networks. Soundness is the containment checks above;
            // this catches kernels that are far off.
            let mut worst = 0.0f64;
            for (x, y) in a
                .lower
                .iter()
                .zip(&c.lower)
                .chain(a.upper.iter().zip(&c.upper))
            {
                let rel = (x - y).abs() / (1.0 + y.abs());
                worst = worst.max(rel);
                assert!(rel <= 0.1, "{file}: gpu {x}, cpu {y}");
            }
            println!("{file}: gpu bounds within {worst:.1e} (relative) of the f64 reference");
        }
    }
}
