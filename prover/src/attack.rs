//! Falsification: searching an input box for a point whose output lies in
//! the unsafe set of some disjunct, by random sampling and projected
//! gradient descent (PGD).
//!
//! Attacks compute in plain f64 and claim nothing: a [`Candidate`] is a point
//! that the float evaluation of the [`Network`] places in the unsafe set. The
//! caller re-executes it and re-checks it exactly
//! ([`recheck_counterexample`](crate::problem::recheck_counterexample)) before
//! reporting it. Every attack is deterministic for a given
//! [`AttackOptions::seed`].
//!
//! The quantity attacks minimise is the violation [`margin`]: for a disjunct,
//! the largest of `coeffs · y + constant_down` over its constraints (the
//! output is in the disjunct's unsafe set when it is `<= 0`), and over the
//! disjuncts, the smallest of those.
//!
//! ```
//! use axiom_prover::attack::{attack_box, AttackOptions};
//! use axiom_prover::problem::{Disjunct, OutputConstraint};
//! use axiom_prover::{Layer, Network};
//! use ndarray::{arr1, arr2};
//!
//! // y = relu(x0 + x1 - 1.5) on [0, 1]^2; unsafe when y >= 0.4.
//! let net = Network::chain(
//!     2,
//!     vec![
//!         Layer::Linear { w: arr2(&[[1.0, 1.0]]), b: arr1(&[-1.5]) },
//!         Layer::Relu,
//!     ],
//! );
//! let unsafe_set = [Disjunct {
//!     constraints: vec![OutputConstraint {
//!         coeffs: vec![-1.0],
//!         coeff_err: vec![0.0],
//!         constant_down: 0.4,
//!         strict: false,
//!     }],
//! }];
//! let (found, evaluations) =
//!     attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &unsafe_set, &AttackOptions::default(), 4);
//! assert!(found[0].margin <= 0.0);
//! assert!(net.eval(&found[0].input)[0] >= 0.4);
//! assert!(evaluations > 0);
//! ```

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView1, Axis};

use crate::deadline::Deadline;
use crate::network::{sigmoid, Layer, Network, SparseRows};
use crate::problem::Disjunct;

/// Tunables of [`attack_box`]; [`Default`] gives sensible values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttackOptions {
    /// Uniformly random points sampled in the box (the center and corners
    /// are sampled in addition). Default 2000.
    pub samples: usize,
    /// Starting points of projected gradient descent: half the best sampled
    /// points (descended with small, local steps), half uniformly random
    /// points (with steps from a quarter of the box down); each is run with
    /// signed and with normalised gradient steps. Default 8.
    pub pgd_restarts: usize,
    /// Steps of each descent. Default 60.
    pub pgd_steps: usize,
    /// Seed of the pseudo-random generator; equal seeds give equal results.
    pub seed: u64,
    /// When to stop early, returning what was found so far. Default: never.
    pub deadline: Deadline,
}

impl Default for AttackOptions {
    fn default() -> Self {
        AttackOptions {
            samples: 2000,
            pgd_restarts: 8,
            pgd_steps: 60,
            seed: 0x5eed_a77a_c4ed_0001,
            deadline: Deadline::never(),
        }
    }
}

/// A point of the box and how far the float evaluation places it inside
/// the unsafe set (the caller re-checks it exactly).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The input, inside the box searched.
    pub input: Vec<f64>,
    /// Index of the case in `Problem::cases`; [`attack_box`] does not know
    /// it and leaves `usize::MAX` for the caller to fill.
    pub case: usize,
    /// The disjunct with the smallest margin at this point.
    pub disjunct: usize,
    /// The largest `coeffs · y + constant_down` over that disjunct's
    /// constraints at `y = net.eval(input)`: `<= 0` means unsafe per the
    /// float evaluation (a strict constraint needs `< 0`; descents go on
    /// for a few steps past 0 to leave room for rounding).
    pub margin: f64,
}

/// The violation margin of an output `y` and the disjunct attaining it: the
/// minimum over disjuncts of the maximum over the disjunct's constraints of
/// `coeffs · y + constant_down`. The output is in the unsafe set (per float
/// evaluation) when the margin is `<= 0`; a disjunct without constraints has
/// margin `-∞`. A non-finite (NaN) value counts as `+∞`; with no disjuncts
/// the margin is `+∞` and the index 0.
pub fn margin(y: &[f64], disjuncts: &[Disjunct]) -> (f64, usize) {
    let mut best = (f64::INFINITY, 0);
    for (di, d) in disjuncts.iter().enumerate() {
        let m = d
            .constraints
            .iter()
            .map(|c| {
                let v = c.coeffs.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() + c.constant_down;
                if v.is_nan() {
                    f64::INFINITY
                } else {
                    v
                }
            })
            .fold(f64::NEG_INFINITY, f64::max);
        if m < best.0 {
            best = (m, di);
        }
    }
    best
}

/// Searches the box `[lower, upper]` (a case's box or a sub-box of it) for
/// an input whose output lies in the unsafe set of one of `disjuncts`.
///
/// Samples the box (its center, its corners, up to 1024 of them, and
/// [`AttackOptions::samples`] uniform points), then runs projected gradient
/// descent on the margin of one disjunct from the best samples and from
/// random points. Returns the best points found, most violating first, at
/// most `limit` and distinct; only those with `margin <= 0` are violations
/// per the float evaluation. Their `case` is `usize::MAX` for the caller to
/// fill. Also returns the number of network evaluations (points passed
/// forward) spent.
///
/// Points are kept one ulp inside each bound of non-degenerate dimensions,
/// so that a box rounded outward from exact bounds yields points in the exact
/// box. An empty or non-finite box, dimensions that do not match the network
/// or an inconsistent network give no candidates.
pub fn attack_box(
    net: &Network,
    lower: &[f64],
    upper: &[f64],
    disjuncts: &[Disjunct],
    opts: &AttackOptions,
    limit: usize,
) -> (Vec<Candidate>, u64) {
    let Some(bounds) = SearchBox::new(lower, upper) else {
        return (Vec::new(), 0);
    };
    let Some(out_dim) = checked_output_dim(net) else {
        return (Vec::new(), 0);
    };
    if limit == 0 || disjuncts.is_empty() || bounds.lo.len() != net.input_dim {
        return (Vec::new(), 0);
    }
    let objective = Objective::new(disjuncts, out_dim);
    let sparse = crate::bounds::sparse_layers(net);
    let mut attack = Attack {
        net,
        sparse: &sparse,
        bounds: &bounds,
        objective: &objective,
        rng: SplitMix64::new(opts.seed),
        evaluations: 0,
    };
    let mut pool = Pool::new(limit.max(opts.pgd_restarts.div_ceil(2)));
    attack.sample(opts.samples, &opts.deadline, &mut pool);
    if !opts.deadline.passed() {
        attack.descend(opts, &pool.items.clone(), &mut pool);
    }

    // Report margins as `net.eval` computes them (the batched products may
    // round differently), so callers and tests see consistent numbers.
    let mut found: Vec<Candidate> = Vec::with_capacity(limit);
    for c in pool.items.into_iter().take(limit) {
        let y = net.eval(&c.input);
        attack.evaluations += 1;
        let (m, d) = margin(&y, disjuncts);
        if m < f64::INFINITY {
            found.push(Candidate {
                margin: m,
                disjunct: d,
                ..c
            });
        }
    }
    found.sort_by(|a, b| a.margin.total_cmp(&b.margin));
    (found, attack.evaluations)
}

/// Points forwarded at once while sampling.
const CHUNK: usize = 512;
/// Corners sampled at most (all of them up to 10 dimensions).
const MAX_CORNERS: usize = 1 << 10;
/// Steps taken after a descent first finds a violation, to push it deeper.
const EXTRA_STEPS: usize = 10;
/// The first and last step of a descent from a random point, as fractions
/// of the box width.
const STEP_START: f64 = 0.25;
const STEP_END: f64 = 1e-3;
/// The first and last step of a descent from a sampled point: local, as the
/// sample already lies in a good basin (on the harder ACAS Xu sat instances,
/// over ten seeds, the large steps found violations about a third as often).
const LOCAL_STEP_START: f64 = 0.0125;
const LOCAL_STEP_END: f64 = 5e-5;

/// The box points are drawn from and projected onto.
struct SearchBox {
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl SearchBox {
    /// The box one ulp inside `[lower, upper]` where that is not empty;
    /// `None` when the box is empty, non-finite or of mismatched lengths.
    fn new(lower: &[f64], upper: &[f64]) -> Option<SearchBox> {
        if lower.len() != upper.len() {
            return None;
        }
        let mut lo = Vec::with_capacity(lower.len());
        let mut hi = Vec::with_capacity(upper.len());
        for (&l, &u) in lower.iter().zip(upper) {
            if !(u - l).is_finite() || l > u {
                return None;
            }
            let (a, b) = (l.next_up(), u.next_down());
            let (a, b) = if a <= b { (a, b) } else { (l, u) };
            lo.push(a);
            hi.push(b);
        }
        Some(SearchBox { lo, hi })
    }

    fn width(&self, j: usize) -> f64 {
        self.hi[j] - self.lo[j]
    }

    /// The point at fraction `t` (0 to 1) of dimension `j`.
    fn at(&self, j: usize, t: f64) -> f64 {
        (self.lo[j] + t * self.width(j)).clamp(self.lo[j], self.hi[j])
    }
}

/// The output width of `net`, or `None` when its layers do not fit together.
fn checked_output_dim(net: &Network) -> Option<usize> {
    if net.inputs.len() != net.layers.len() {
        return None;
    }
    let mut widths = vec![net.input_dim];
    for (j, (layer, ins)) in net.layers.iter().zip(&net.inputs).enumerate() {
        if ins.is_empty() || ins.iter().any(|&v| v > j) {
            return None;
        }
        let width = widths[ins[0]];
        let out = match layer {
            layer @ (Layer::Linear { .. } | Layer::SparseLinear { .. }) => {
                let (w, b) = layer.matrix()?;
                if w.ncols() != width || b.len() != w.nrows() {
                    return None;
                }
                w.nrows()
            }
            Layer::BatchNorm {
                k_lo,
                k_hi,
                mean,
                beta,
            } => {
                if [k_lo.len(), k_hi.len(), mean.len(), beta.len()] != [width; 4] {
                    return None;
                }
                width
            }
            Layer::Relu | Layer::Sigmoid | Layer::Tanh => width,
            Layer::Sum => {
                if ins.iter().any(|&v| widths[v] != width) {
                    return None;
                }
                width
            }
            Layer::Concat { from } => {
                if from
                    .iter()
                    .any(|&(k, t)| ins.get(k).is_none_or(|&v| t >= widths[v]))
                {
                    return None;
                }
                from.len()
            }
        };
        widths.push(out);
    }
    widths.last().copied()
}

/// All constraints of all disjuncts as one matrix, so a batch of outputs is
/// scored with one product.
struct Objective {
    /// `[outputs, constraints]`: column `k` holds constraint `k`'s
    /// coefficients.
    coeffs: Array2<f64>,
    constant: Array1<f64>,
    /// The columns of each disjunct.
    groups: Vec<Range<usize>>,
}

impl Objective {
    fn new(disjuncts: &[Disjunct], out_dim: usize) -> Objective {
        let total: usize = disjuncts.iter().map(|d| d.constraints.len()).sum();
        let mut coeffs = Array2::zeros((out_dim, total));
        let mut constant = Array1::zeros(total);
        let mut groups = Vec::with_capacity(disjuncts.len());
        let mut k = 0;
        for d in disjuncts {
            let start = k;
            for c in &d.constraints {
                for (i, &a) in c.coeffs.iter().enumerate().take(out_dim) {
                    coeffs[[i, k]] = a;
                }
                constant[k] = c.constant_down;
                k += 1;
            }
            groups.push(start..k);
        }
        Objective {
            coeffs,
            constant,
            groups,
        }
    }

    /// The constraint values `[points, constraints]` of a batch of outputs,
    /// NaN replaced by `+∞`.
    fn values(&self, y: &Array2<f64>) -> Array2<f64> {
        let mut z = y.dot(&self.coeffs);
        z += &self.constant;
        z.mapv_inplace(|v| if v.is_nan() { f64::INFINITY } else { v });
        z
    }

    /// The margin of disjunct `d` on one row of [`Objective::values`], and
    /// the column attaining it (`None` for a disjunct without constraints).
    fn disjunct_margin(&self, z: ArrayView1<f64>, d: usize) -> (f64, Option<usize>) {
        let mut best = (f64::NEG_INFINITY, None);
        for k in self.groups[d].clone() {
            if best.1.is_none() || z[k] > best.0 {
                best = (z[k], Some(k));
            }
        }
        best
    }

    /// The margin over all disjuncts on one row, and the disjunct.
    fn margin(&self, z: ArrayView1<f64>) -> (f64, usize) {
        let mut best = (f64::INFINITY, 0);
        for d in 0..self.groups.len() {
            let (m, _) = self.disjunct_margin(z, d);
            if m < best.0 {
                best = (m, d);
            }
        }
        best
    }
}

/// The best distinct points seen, sorted by margin.
struct Pool {
    cap: usize,
    items: Vec<Candidate>,
}

impl Pool {
    fn new(cap: usize) -> Pool {
        Pool {
            cap: cap.max(1),
            items: Vec::new(),
        }
    }

    /// Whether a point with this margin would enter the pool.
    fn admits(&self, margin: f64) -> bool {
        margin < f64::INFINITY
            && (self.items.len() < self.cap || self.items.last().is_some_and(|w| margin < w.margin))
    }

    fn offer(&mut self, margin: f64, disjunct: usize, x: &[f64]) {
        if !self.admits(margin) || self.items.iter().any(|c| c.input == x) {
            return;
        }
        let at = self.items.partition_point(|c| c.margin <= margin);
        self.items.insert(
            at,
            Candidate {
                input: x.to_vec(),
                case: usize::MAX,
                disjunct,
                margin,
            },
        );
        self.items.truncate(self.cap);
    }
}

/// One run of [`attack_box`].
struct Attack<'a> {
    net: &'a Network,
    /// The sparse rows of the network's sparse linear layers.
    sparse: &'a [Option<SparseRows>],
    bounds: &'a SearchBox,
    objective: &'a Objective,
    rng: SplitMix64,
    evaluations: u64,
}

/// How a descent turns a gradient into a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    /// Every coordinate moves by the step size, against the gradient's sign.
    Signed,
    /// The gradient scaled so its largest coordinate moves by the step size.
    Normalised,
}

/// The state of one descent.
struct Descent {
    kind: StepKind,
    /// The disjunct whose margin the descent minimises.
    disjunct: usize,
    /// Step sizes, as fractions of the box width: geometric from the first
    /// to the last step.
    first_step: f64,
    last_step: f64,
    best_margin: f64,
    best_disjunct: usize,
    best_input: Vec<f64>,
    /// Steps taken since a violation was first seen.
    since_violation: Option<usize>,
    active: bool,
}

impl Attack<'_> {
    fn dim(&self) -> usize {
        self.bounds.lo.len()
    }

    fn uniform_point(&mut self) -> Vec<f64> {
        (0..self.dim())
            .map(|j| self.bounds.at(j, self.rng.unit()))
            .collect()
    }

    /// Scores the center, the corners and `samples` uniform points, offering
    /// each to `pool`.
    fn sample(&mut self, samples: usize, deadline: &Deadline, pool: &mut Pool) {
        let d = self.dim();
        let all_corners = d < usize::BITS as usize && (1usize << d) <= MAX_CORNERS;
        let corners = if all_corners {
            1usize << d
        } else {
            MAX_CORNERS
        };
        let total = corners.saturating_add(1).saturating_add(samples);
        let mut start = 0;
        while start < total && !deadline.passed() {
            let n = CHUNK.min(total - start);
            let mut x = Array2::zeros((n, d));
            for (r, mut row) in x.axis_iter_mut(Axis(0)).enumerate() {
                let i = start + r;
                for j in 0..d {
                    row[j] = if i == 0 {
                        self.bounds.at(j, 0.5)
                    } else if i <= corners {
                        let up = if all_corners {
                            (i - 1) >> j & 1 == 1
                        } else {
                            self.rng.next_u64() >> 63 == 1
                        };
                        if up {
                            self.bounds.hi[j]
                        } else {
                            self.bounds.lo[j]
                        }
                    } else {
                        self.bounds.at(j, self.rng.unit())
                    };
                }
            }
            let z = self
                .objective
                .values(&forward(self.net, self.sparse, x.clone()));
            self.evaluations += n as u64;
            for (r, zr) in z.axis_iter(Axis(0)).enumerate() {
                let (m, di) = self.objective.margin(zr);
                if pool.admits(m) {
                    let row = x.row(r);
                    pool.offer(m, di, row.as_slice().unwrap_or(&row.to_vec()));
                }
            }
            start += n;
        }
    }

    /// Projected gradient descent from the best of `seeds` (with small
    /// steps: the sample already lies in a good basin, and the unsafe regions
    /// of real networks are often small islands beside it) and from random
    /// points (with large steps); offers each descent's best point to `pool`.
    fn descend(&mut self, opts: &AttackOptions, seeds: &[Candidate], pool: &mut Pool) {
        let restarts = opts.pgd_restarts;
        let steps = opts.pgd_steps;
        if restarts == 0 || steps == 0 {
            return;
        }
        let d = self.dim();
        let from_seeds = restarts.div_ceil(2).min(seeds.len());
        let mut starts: Vec<(Vec<f64>, usize, bool)> = seeds[..from_seeds]
            .iter()
            .map(|c| (c.input.clone(), c.disjunct, true))
            .collect();
        for i in 0..restarts - from_seeds {
            let x = self.uniform_point();
            starts.push((x, i % self.objective.groups.len(), false));
        }
        const KINDS: [StepKind; 2] = [StepKind::Signed, StepKind::Normalised];
        let mut runs = Vec::with_capacity(KINDS.len() * starts.len());
        let mut x = Array2::zeros((KINDS.len() * starts.len(), d));
        for (point, disjunct, seeded) in &starts {
            for kind in KINDS {
                x.row_mut(runs.len())
                    .assign(&ArrayView1::from(point.as_slice()));
                let (first_step, last_step) = if *seeded {
                    (LOCAL_STEP_START, LOCAL_STEP_END)
                } else {
                    (STEP_START, STEP_END)
                };
                runs.push(Descent {
                    kind,
                    disjunct: *disjunct,
                    first_step,
                    last_step,
                    best_margin: f64::INFINITY,
                    best_disjunct: *disjunct,
                    best_input: point.clone(),
                    since_violation: None,
                    active: true,
                });
            }
        }
        let widths: Vec<f64> = (0..d).map(|j| self.bounds.width(j)).collect();
        for t in 0..=steps {
            let rows: Vec<usize> = (0..runs.len()).filter(|&r| runs[r].active).collect();
            if rows.is_empty() || opts.deadline.passed() {
                break;
            }
            let trace = forward_trace(self.net, self.sparse, x.select(Axis(0), &rows));
            let Some(y) = trace.last() else { break };
            let z = self.objective.values(y);
            self.evaluations += rows.len() as u64;
            // Score the points, and seed the backward pass with the
            // coefficients of each chosen disjunct's largest constraint (a
            // subgradient of the disjunct's margin).
            let mut g = Array2::zeros((rows.len(), self.objective.coeffs.nrows()));
            let mut stepping = vec![false; rows.len()];
            for (a, &r) in rows.iter().enumerate() {
                let run = &mut runs[r];
                let zr = z.row(a);
                let (m, di) = self.objective.margin(zr);
                if m < run.best_margin {
                    run.best_margin = m;
                    run.best_disjunct = di;
                    run.best_input = trace[0].row(a).to_vec();
                }
                if m < 0.0 && run.since_violation.is_none() {
                    run.since_violation = Some(0);
                }
                if t == steps || run.since_violation.is_some_and(|s| s >= EXTRA_STEPS) {
                    run.active = false;
                    continue;
                }
                if let Some(s) = run.since_violation.as_mut() {
                    *s += 1;
                }
                if let (_, Some(k)) = self.objective.disjunct_margin(zr, run.disjunct) {
                    g.row_mut(a).assign(&self.objective.coeffs.column(k));
                }
                stepping[a] = true;
            }
            let grad = input_gradient(self.net, self.sparse, &trace, g);
            for (a, &r) in rows.iter().enumerate() {
                if !stepping[a] {
                    continue;
                }
                let run = &runs[r];
                let alpha = step_fraction(t, steps, run.first_step, run.last_step);
                let gr = grad.row(a);
                let scale = gr
                    .iter()
                    .zip(&widths)
                    .map(|(gj, wj)| (gj * wj).abs())
                    .fold(0.0, f64::max);
                let usable = scale > 0.0 && scale.is_finite();
                let mut xr = x.row_mut(r);
                for j in 0..d {
                    let delta = if !usable {
                        // No usable gradient (dead units, say): jump randomly.
                        2.0 * self.rng.unit() - 1.0
                    } else {
                        match run.kind {
                            StepKind::Signed if gr[j] == 0.0 => 0.0,
                            StepKind::Signed => -gr[j].signum(),
                            StepKind::Normalised => -gr[j] * widths[j] / scale,
                        }
                    };
                    xr[j] = (xr[j] + alpha * widths[j] * delta)
                        .clamp(self.bounds.lo[j], self.bounds.hi[j]);
                }
            }
        }
        for run in &runs {
            pool.offer(run.best_margin, run.best_disjunct, &run.best_input);
        }
    }
}

/// The step of descent step `t` of `steps`, as a fraction of the box width:
/// geometric from `first` to `last`.
fn step_fraction(t: usize, steps: usize, first: f64, last: f64) -> f64 {
    if steps <= 1 {
        return first;
    }
    let s = (t as f64 / (steps - 1) as f64).min(1.0);
    first * (last / first).powf(s)
}

/// The outputs `[points, outputs]` of a batch of inputs `[points, inputs]`.
fn forward(net: &Network, sparse: &[Option<SparseRows>], x: Array2<f64>) -> Array2<f64> {
    forward_trace(net, sparse, x)
        .pop()
        .expect("the input is a value")
}

/// The input and every layer's output for a batch of inputs.
fn forward_trace(net: &Network, sparse: &[Option<SparseRows>], x: Array2<f64>) -> Vec<Array2<f64>> {
    let mut trace = Vec::with_capacity(net.layers.len() + 1);
    trace.push(x);
    for (j, (layer, ins)) in net.layers.iter().zip(&net.inputs).enumerate() {
        let next = apply(&trace, ins, layer, sparse.get(j).and_then(Option::as_ref));
        trace.push(next);
    }
    trace
}

fn apply(
    trace: &[Array2<f64>],
    ins: &[usize],
    layer: &Layer,
    sparse: Option<&SparseRows>,
) -> Array2<f64> {
    let v = &trace[ins[0]];
    match layer {
        Layer::Linear { .. } | Layer::SparseLinear { .. } => {
            let (w, b) = crate::bounds::matrix_of(layer, sparse);
            let mut out = w.right_product(v.view(), false);
            out += b;
            out
        }
        Layer::Relu => v.mapv(|t| t.max(0.0)),
        Layer::Sigmoid => v.mapv(sigmoid),
        Layer::Tanh => v.mapv(f64::tanh),
        // The lower end of the factor's enclosure: a candidate is re-checked
        // exactly before it is reported, so this needs no soundness.
        Layer::BatchNorm {
            k_lo, mean, beta, ..
        } => (v - mean) * k_lo + beta,
        Layer::Sum => {
            let mut y = v.clone();
            for &o in &ins[1..] {
                y += &trace[o];
            }
            y
        }
        Layer::Concat { from } => Array2::from_shape_fn((v.nrows(), from.len()), |(p, e)| {
            let (k, t) = from[e];
            trace[ins[k]][[p, t]]
        }),
    }
}

/// Back-propagates row gradients `g` `[points, outputs]` through the layers
/// of a [`forward_trace`], giving the gradients with respect to the inputs
/// (a value read by several layers gets the sum of their gradients).
fn input_gradient(
    net: &Network,
    sparse: &[Option<SparseRows>],
    trace: &[Array2<f64>],
    g: Array2<f64>,
) -> Array2<f64> {
    let k = net.layers.len();
    let mut grads: Vec<Option<Array2<f64>>> = vec![None; k + 1];
    grads[k] = Some(g);
    let add_into = |slot: &mut Option<Array2<f64>>, g: Array2<f64>| match slot {
        None => *slot = Some(g),
        Some(acc) => *acc += &g,
    };
    for (i, layer) in net.layers.iter().enumerate().rev() {
        let Some(mut g) = grads[i + 1].take() else {
            continue;
        };
        let ins = &net.inputs[i];
        let out = &trace[i + 1];
        match layer {
            Layer::Linear { .. } | Layer::SparseLinear { .. } => {
                let (w, _) =
                    crate::bounds::matrix_of(layer, sparse.get(i).and_then(Option::as_ref));
                g = w.left_product(g.view());
            }
            Layer::Relu => g.zip_mut_with(out, |gv, &o| {
                if o <= 0.0 {
                    *gv = 0.0;
                }
            }),
            Layer::Sigmoid => g.zip_mut_with(out, |gv, &s| *gv *= s * (1.0 - s)),
            Layer::Tanh => g.zip_mut_with(out, |gv, &t| *gv *= 1.0 - t * t),
            Layer::BatchNorm { k_lo, .. } => g *= k_lo,
            Layer::Sum => {
                for &v in &ins[1..] {
                    add_into(&mut grads[v], g.clone());
                }
            }
            Layer::Concat { from } => {
                let mut parts: Vec<Array2<f64>> = ins
                    .iter()
                    .map(|&v| Array2::zeros((g.nrows(), trace[v].ncols())))
                    .collect();
                for (e, &(kk, t)) in from.iter().enumerate() {
                    let col = g.column(e).to_owned();
                    let mut dst = parts[kk].column_mut(t);
                    dst += &col;
                }
                let mut parts = parts.into_iter();
                g = parts.next().expect("a concatenation reads a value");
                for (&v, part) in ins[1..].iter().zip(parts) {
                    add_into(&mut grads[v], part);
                }
            }
        }
        add_into(&mut grads[ins[0]], g);
    }
    grads[0]
        .take()
        .unwrap_or_else(|| Array2::zeros((trace[0].nrows(), net.input_dim)))
}

/// SplitMix64 (Steele, Lea and Flood): small, fast and good enough to
/// sample boxes; deterministic across platforms.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{recheck_counterexample, OutputConstraint, Problem};
    use ndarray::arr1;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    /// `sum_i coeffs[i] * y_i + constant <= 0`.
    fn constraint(coeffs: &[f64], constant: f64) -> OutputConstraint {
        OutputConstraint {
            coeffs: coeffs.to_vec(),
            coeff_err: vec![0.0; coeffs.len()],
            constant_down: constant,
            strict: false,
        }
    }

    fn linear(w: &[&[f64]], b: &[f64]) -> Layer {
        let rows = w.len();
        let cols = w.first().map_or(0, |r| r.len());
        let flat: Vec<f64> = w.iter().flat_map(|r| r.iter().copied()).collect();
        Layer::Linear {
            w: Array2::from_shape_vec((rows, cols), flat).unwrap(),
            b: arr1(b),
        }
    }

    /// y = relu(x0 + x1 - 1.8) on [0, 1]^2; unsafe when y >= 0.15, that is
    /// x0 + x1 >= 1.95: a corner of area 0.00125.
    fn corner_instance() -> (Network, Vec<Disjunct>) {
        let net = Network::chain(2, vec![linear(&[&[1.0, 1.0]], &[-1.8]), Layer::Relu]);
        let d = vec![Disjunct {
            constraints: vec![constraint(&[-1.0], 0.15)],
        }];
        (net, d)
    }

    /// y = |x0 - 0.3| + |x1 - 0.7| (through ReLUs) on [0, 1]^2; unsafe when
    /// y <= 0.01: a small diamond inside the box, away from corners.
    fn diamond_instance() -> (Network, Vec<Disjunct>) {
        let net = Network::chain(
            2,
            vec![
                linear(
                    &[&[1.0, 0.0], &[-1.0, 0.0], &[0.0, 1.0], &[0.0, -1.0]],
                    &[-0.3, 0.3, -0.7, 0.7],
                ),
                Layer::Relu,
                linear(&[&[1.0, 1.0, 1.0, 1.0]], &[0.0]),
            ],
        );
        let d = vec![Disjunct {
            constraints: vec![constraint(&[1.0], -0.01)],
        }];
        (net, d)
    }

    #[test]
    fn finds_a_small_unsafe_corner() {
        let (net, d) = corner_instance();
        let (found, evals) = attack_box(
            &net,
            &[0.0, 0.0],
            &[1.0, 1.0],
            &d,
            &AttackOptions::default(),
            3,
        );
        assert!(evals > 0);
        let best = &found[0];
        assert!(best.margin <= 0.0, "{found:?}");
        assert_eq!(best.case, usize::MAX);
        let y = net.eval(&best.input);
        assert!(y[0] >= 0.15, "{y:?}");
        assert_eq!(margin(&y, &d), (best.margin, 0));
        // One ulp inside the box: a box rounded outward from exact bounds
        // still yields points in the exact box.
        assert!(best.input.iter().all(|&v| 0.0 < v && v < 1.0), "{best:?}");
        assert!(found.windows(2).all(|w| w[0].margin <= w[1].margin));
    }

    #[test]
    fn descent_finds_an_interior_region_that_sampling_misses() {
        let (net, d) = diamond_instance();
        let opts = AttackOptions {
            samples: 0,
            ..AttackOptions::default()
        };
        let (found, _) = attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &d, &opts, 1);
        let best = &found[0];
        assert!(best.margin <= 0.0, "{found:?}");
        assert!(net.eval(&best.input)[0] <= 0.01);
    }

    #[test]
    fn a_passed_deadline_stops_the_attack_before_it_evaluates_anything() {
        let (net, disjuncts) = corner_instance();
        let opts = AttackOptions {
            deadline: Deadline::new(
                std::time::Instant::now(),
                Some(std::time::Duration::ZERO),
                None,
            ),
            ..AttackOptions::default()
        };
        let (found, evals) = attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &disjuncts, &opts, 4);
        assert_eq!((found.len(), evals), (0, 0));
        let (found, evals) = attack_box(
            &net,
            &[0.0, 0.0],
            &[1.0, 1.0],
            &disjuncts,
            &AttackOptions::default(),
            4,
        );
        assert!(!found.is_empty() && evals > 0);
    }

    #[test]
    fn descends_through_sigmoid_and_tanh() {
        // y0 = tanh(x0 - x1), y1 = sigmoid(x0 + x1); unsafe when
        // y0 <= -0.9 and y1 >= 0.7 (x1 large, x0 mid).
        let net = Network::chain(
            2,
            vec![
                linear(&[&[1.0, -1.0], &[1.0, 1.0]], &[0.0, 0.0]),
                Layer::Tanh,
                linear(&[&[1.0, 0.0], &[0.0, 1.0]], &[0.0, 0.0]),
                Layer::Sigmoid,
                linear(&[&[1.0, 0.0], &[0.0, 1.0]], &[0.0, 0.0]),
            ],
        );
        // After the sigmoid: s(tanh(x0 - x1)) <= s(-0.9) and
        // s(tanh(x0 + x1)) >= s(0.5).
        let d = vec![Disjunct {
            constraints: vec![
                constraint(&[1.0, 0.0], -sigmoid(-0.9)),
                constraint(&[0.0, -1.0], sigmoid(0.5)),
            ],
        }];
        let opts = AttackOptions {
            samples: 0,
            ..AttackOptions::default()
        };
        let (found, _) = attack_box(&net, &[-1.0, -1.0], &[3.0, 3.0], &d, &opts, 1);
        assert!(found[0].margin <= 0.0, "{found:?}");
    }

    #[test]
    fn input_gradient_matches_finite_differences() {
        let net = Network::chain(
            3,
            vec![
                linear(&[&[0.5, -1.0, 2.0], &[1.5, 0.25, -0.75]], &[0.1, -0.2]),
                Layer::Tanh,
                linear(&[&[1.0, -2.0], &[0.5, 0.5], &[-1.0, 1.0]], &[0.0, 0.3, 0.1]),
                Layer::Relu,
                linear(&[&[1.0, 1.0, -1.0], &[2.0, -0.5, 0.25]], &[0.0, 0.0]),
                Layer::Sigmoid,
            ],
        );
        let x = [0.3, -0.2, 0.15];
        let seed = [1.0, -0.5];
        let sparse = crate::bounds::sparse_layers(&net);
        let trace = forward_trace(
            &net,
            &sparse,
            Array2::from_shape_vec((1, 3), x.to_vec()).unwrap(),
        );
        let g = input_gradient(
            &net,
            &sparse,
            &trace,
            Array2::from_shape_vec((1, 2), seed.to_vec()).unwrap(),
        );
        let f = |x: &[f64]| -> f64 { net.eval(x).iter().zip(&seed).map(|(a, b)| a * b).sum() };
        for j in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (x, x);
            up[j] += h;
            down[j] -= h;
            let fd = (f(&up) - f(&down)) / (2.0 * h);
            assert!((fd - g[[0, j]]).abs() < 1e-6, "{j}: {fd} vs {}", g[[0, j]]);
        }
        let batched = forward(&net, &sparse, trace[0].clone());
        for (a, b) in batched.row(0).iter().zip(net.eval(&x)) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn a_safe_property_gives_no_violation() {
        // y = relu(x); unsafe set y <= -1 is unreachable.
        let net = Network::chain(1, vec![linear(&[&[1.0]], &[0.0]), Layer::Relu]);
        let d = vec![Disjunct {
            constraints: vec![constraint(&[1.0], 1.0)],
        }];
        let (found, evals) = attack_box(&net, &[-2.0], &[2.0], &d, &AttackOptions::default(), 5);
        assert!(evals > 0);
        assert!(found.iter().all(|c| c.margin > 0.0), "{found:?}");
        // The closest points reach y = 0, margin 1.
        assert_eq!(found[0].margin, 1.0);
    }

    #[test]
    fn same_seed_same_candidates() {
        let (net, d) = diamond_instance();
        let opts = AttackOptions {
            samples: 100,
            seed: 42,
            ..AttackOptions::default()
        };
        let a = attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &d, &opts, 8);
        let b = attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &d, &opts, 8);
        assert_eq!(a, b);
        let other = AttackOptions { seed: 43, ..opts };
        let c = attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &d, &other, 8);
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn degenerate_inputs_give_nothing() {
        let (net, d) = corner_instance();
        let opts = AttackOptions::default();
        assert_eq!(attack_box(&net, &[0.0], &[1.0], &d, &opts, 3), (vec![], 0));
        assert_eq!(
            attack_box(&net, &[0.0, 1.0], &[1.0, 0.0], &d, &opts, 3),
            (vec![], 0)
        );
        assert_eq!(
            attack_box(&net, &[0.0, f64::NAN], &[1.0, 1.0], &d, &opts, 3),
            (vec![], 0)
        );
        assert_eq!(
            attack_box(&net, &[0.0, 0.0], &[1.0, f64::INFINITY], &d, &opts, 3),
            (vec![], 0)
        );
        assert_eq!(
            attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &[], &opts, 3),
            (vec![], 0)
        );
        assert_eq!(
            attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &d, &opts, 0),
            (vec![], 0)
        );
        let broken = Network::chain(2, vec![linear(&[&[1.0, 1.0, 1.0]], &[0.0])]);
        assert_eq!(
            attack_box(&broken, &[0.0, 0.0], &[1.0, 1.0], &d, &opts, 3),
            (vec![], 0)
        );
        // A point box: the only candidate is the point itself.
        let (found, _) = attack_box(&net, &[1.0, 1.0], &[1.0, 1.0], &d, &opts, 3);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].input, vec![1.0, 1.0]);
        // A disjunct without constraints is violated everywhere.
        let everywhere = vec![Disjunct {
            constraints: vec![],
        }];
        let (found, _) = attack_box(&net, &[0.0, 0.0], &[1.0, 1.0], &everywhere, &opts, 1);
        assert_eq!(found[0].margin, f64::NEG_INFINITY);
    }

    #[test]
    fn margin_takes_min_over_disjuncts_of_max_over_constraints() {
        let d = vec![
            Disjunct {
                constraints: vec![constraint(&[1.0, 0.0], 0.0), constraint(&[0.0, 1.0], 0.0)],
            },
            Disjunct {
                constraints: vec![constraint(&[-1.0, 0.0], 0.5)],
            },
        ];
        assert_eq!(margin(&[1.0, 2.0], &d), (-0.5, 1));
        assert_eq!(margin(&[-1.0, -2.0], &d), (-1.0, 0));
        assert_eq!(margin(&[f64::NAN, 0.0], &d), (f64::INFINITY, 0));
        assert_eq!(margin(&[0.0], &[]), (f64::INFINITY, 0));
    }

    fn benchmarks_dir() -> PathBuf {
        std::env::var_os("AXIOM_BENCHMARKS").map_or_else(
            || {
                PathBuf::from(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../shared/benchmarks"
                ))
            },
            PathBuf::from,
        )
    }

    /// What [`falsify`] found, and what it cost.
    struct Falsified {
        /// The first candidate that passed the exact re-check.
        input: Option<Vec<f64>>,
        /// Time in `attack_box` alone.
        attack: Duration,
        /// Time in `attack_box` and the re-checks.
        total: Duration,
        evaluations: u64,
    }

    impl std::fmt::Display for Falsified {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "{} (attack {:.1?}, with re-checks {:.1?}, {} evaluations)",
                if self.input.is_some() {
                    "falsified"
                } else {
                    "not falsified"
                },
                self.attack,
                self.total,
                self.evaluations
            )
        }
    }

    /// Attacks every case of an instance with default options, re-checking
    /// the violating candidates exactly until one passes.
    fn falsify(model: &Path, spec: &Path) -> Falsified {
        let graph = axiom_core::load_model(model).unwrap_or_else(|e| panic!("{e}"));
        let property = axiom_core::vnnlib::load(spec).unwrap_or_else(|e| panic!("{e}"));
        let problem = Problem::new(&graph, &property).unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        let mut out = Falsified {
            input: None,
            attack: Duration::ZERO,
            total: Duration::ZERO,
            evaluations: 0,
        };
        'cases: for case in &problem.cases {
            let t = Instant::now();
            let (found, n) = attack_box(
                &problem.net,
                &case.lower,
                &case.upper,
                &case.disjuncts,
                &AttackOptions::default(),
                4,
            );
            out.attack += t.elapsed();
            out.evaluations += n;
            for c in found.iter().filter(|c| c.margin <= 0.0) {
                if let Some(cex) = recheck_counterexample(&graph, &property, &c.input) {
                    assert_eq!(cex.case, case.index);
                    out.input = Some(c.input.clone());
                    break 'cases;
                }
            }
        }
        out.total = start.elapsed();
        out
    }

    #[test]
    fn falsifies_the_tiny_sat_instance() {
        let dir = benchmarks_dir().join("tiny");
        if !dir.is_dir() {
            eprintln!(
                "skipping: benchmarks not found at {} (set AXIOM_BENCHMARKS)",
                dir.display()
            );
            return;
        }
        let found = falsify(&dir.join("test_sat.onnx"), &dir.join("test_prop.vnnlib"));
        eprintln!("tiny/test_sat: {found}");
        assert!(found.input.is_some());
    }

    /// ACAS Xu sat instances (`network`, `property`) that the attack alone
    /// falsifies with default options for each of ten seeds tried (41 of
    /// the 47 are; this is a sample of them, to keep the test short).
    const ACAS_FALSIFIED: &[(&str, &str)] = &[
        ("1_7", "prop_3"),
        ("1_8", "prop_3"),
        ("1_9", "prop_3"),
        ("1_7", "prop_4"),
        ("1_8", "prop_4"),
        ("1_9", "prop_4"),
        ("2_9", "prop_8"),
        ("1_4", "prop_2"),
        ("2_1", "prop_2"),
        ("2_5", "prop_2"),
        ("2_9", "prop_2"),
        ("3_2", "prop_2"),
        ("3_6", "prop_2"),
        ("4_1", "prop_2"),
        ("4_5", "prop_2"),
        ("4_9", "prop_2"),
        ("5_2", "prop_2"),
        ("5_6", "prop_2"),
    ];

    #[test]
    fn falsifies_acasxu_sat_instances() {
        let dir = benchmarks_dir().join("acasxu");
        if !dir.is_dir() {
            eprintln!(
                "skipping: benchmarks not found at {} (set AXIOM_BENCHMARKS)",
                dir.display()
            );
            return;
        }
        for (net, prop) in ACAS_FALSIFIED {
            let model = dir.join(format!("ACASXU_run2a_{net}_batch_2000.onnx"));
            let found = falsify(&model, &dir.join(format!("{prop}.vnnlib")));
            eprintln!("acasxu {net} {prop}: {found}");
            assert!(found.input.is_some(), "{net} {prop}: {found}");
        }
    }

    /// Every sat instance of `acasxu/instances.csv`; reports which the attack
    /// alone falsifies and how fast. Run with `--ignored --nocapture`.
    #[test]
    #[ignore = "survey of all ACAS Xu sat instances; prints a report"]
    fn survey_acasxu_sat_instances() {
        let dir = benchmarks_dir().join("acasxu");
        let Ok(csv) = std::fs::read_to_string(dir.join("instances.csv")) else {
            eprintln!(
                "skipping: benchmarks not found at {} (set AXIOM_BENCHMARKS)",
                dir.display()
            );
            return;
        };
        let (mut sat, mut falsified) = (0, 0);
        let (mut attack, mut total) = (Duration::ZERO, Duration::ZERO);
        for line in csv.lines().skip(1) {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols.len() < 4 || cols[3] != "sat" {
                continue;
            }
            sat += 1;
            let found = falsify(&dir.join(cols[0]), &dir.join(cols[1]));
            falsified += usize::from(found.input.is_some());
            attack += found.attack;
            total += found.total;
            eprintln!("{} {}: {found}", cols[0], cols[1]);
        }
        eprintln!(
            "falsified {falsified} of {sat} sat instances; attacks {attack:.2?}, with re-checks {total:.2?}"
        );
    }
}
