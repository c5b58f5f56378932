//! Branch and bound over sub-problems: input boxes, each with the ReLU
//! phases its ancestors fixed.
//!
//! For each case of the property the search keeps a priority queue of open
//! sub-problems (most violated first), bounds them in batches (rayon across
//! chunks, one GEMM per layer per chunk), closes one when every disjunct of
//! the output condition is refuted on it, looks for counterexamples at those
//! it cannot close (box centres, bound-guided corners, PGD on the most
//! promising box, fresh-seed attacks on the whole region), hands small ones
//! with few unstable ReLUs to Z3, and splits the rest:
//!
//! - *input splitting* (low-dimensional inputs such as ACAS Xu's 5): on the
//!   input dimension with the largest smear (box width times a bound on the
//!   objective's gradient);
//! - *ReLU splitting* (wide inputs): on the unstable ReLU with the largest
//!   BaBSR-like score (the objective's sensitivity to the neuron times the
//!   area its triangle relaxation gives away, `-l u / (u - l)`), into the
//!   children `z <= 0` and `z >= 0`; a sub-problem with no unstable ReLU
//!   left is split on its input box instead.
//!
//! Results are deterministic for the same options (Z3 timeouts aside):
//! batches are formed in queue order and processed in order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::time::Instant;

use axiom_core::spec::Property;
use axiom_core::Graph;
use ndarray::Array2;
use rayon::prelude::*;

use crate::attack::{self, AttackOptions};
use crate::bounds::{self, bound_batch_with_phases, BatchBounds, Method, Objectives, PhaseFix};
use crate::deadline::Deadline;
use crate::problem::{recheck_counterexample, Case, Problem};
use crate::smt;
mod branching;
mod refute;
mod tree;

use branching::*;
use refute::*;
use tree::*;

use crate::verdict::{
    BoxBounder, CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation,
    SplitStrategy, Stats, UnknownReason, Verdict, VerifyOptions,
};

/// Boxes bounded per rayon task.
const CHUNK: usize = 32;
/// `SplitStrategy::Auto` splits inputs up to this many free input
/// dimensions (those whose interval is not a single point: a robustness
/// property that perturbs 2 of 400 inputs has 2), and ReLUs above.
pub const AUTO_INPUT_SPLIT_MAX_DIM: usize = 10;
/// A box is not split further once it is this deep.
const MAX_DEPTH: u32 = 400;
/// How often (in batches) the search runs an attack (a few milliseconds each).
const ATTACK_EVERY: u64 = 4;
/// Attacks (different seeds) on each case's whole box before the search.
const INITIAL_ATTACKS: u64 = 4;
/// A disjunct whose best bound is above `-ALPHA_GAP` gets its ReLU lower
/// slopes optimised...
const ALPHA_GAP: f64 = 0.05;
/// ... for this many gradient steps.
const ALPHA_ITERATIONS: usize = 8;
/// Z3 is asked about a box only this deep or deeper...
const SMT_MIN_DEPTH: u32 = 10;
/// ... with at most this many unstable ReLUs (Z3 4.8 takes seconds on
/// ACAS Xu boxes with a dozen) ...
const SMT_MAX_UNSTABLE: usize = 4;
/// ... for at most this long per disjunct.
const SMT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// One open sub-problem: a box and the ReLU phases fixed on it.
#[derive(Debug, Clone)]
struct OpenBox {
    node: usize,
    lower: Vec<f64>,
    upper: Vec<f64>,
    phases: Vec<PhaseFix>,
    /// Indices of the disjuncts not yet refuted on an ancestor.
    open: Vec<usize>,
    depth: u32,
    /// Lower is more urgent: how far the least-refuted disjunct is from
    /// being refuted (negative = its best constraint bound is below zero).
    score: f64,
}

impl PartialEq for OpenBox {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for OpenBox {}
impl PartialOrd for OpenBox {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OpenBox {
    /// Max-heap order: the most urgent box (lowest score, then lowest node
    /// id) is the greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| other.node.cmp(&self.node))
    }
}

/// How a sub-problem is split. The first child is the lower half (`x[dim] <=
/// at`, or the ReLU inactive), the second the upper half.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Branch {
    Input {
        dim: usize,
        at: f64,
    },
    /// `layer` indexes `Network::layers`.
    Relu {
        layer: usize,
        neuron: usize,
    },
}

/// The proof tree under construction.
enum TreeNode {
    Open,
    Split {
        branch: Branch,
        refutations: Vec<Refutation>,
        children: [usize; 2],
    },
    Leaf(LeafProof),
}

/// How one case ended.
enum CaseOutcome {
    Proved(ProofNode),
    Disproved(Counterexample),
    Unknown(UnknownReason),
}

/// Runs the whole verification: attacks, then branch and bound per case.
pub fn run(graph: &Graph, property: &Property, options: &VerifyOptions) -> (Verdict, Stats) {
    let start = Instant::now();
    let mut stats = Stats::default();
    let problem = match Problem::new(graph, property) {
        Ok(p) => p,
        Err(e) => {
            return (
                Verdict::Unknown {
                    reason: UnknownReason::Unsupported(e.to_string()),
                },
                stats,
            )
        }
    };
    let relu_split = match options.split {
        SplitStrategy::Input => false,
        SplitStrategy::Relu => true,
        SplitStrategy::Auto => free_dims(property) > AUTO_INPUT_SPLIT_MAX_DIM,
    };
    let search = Search {
        graph,
        property,
        problem: &problem,
        options,
        start,
        relu_split,
        deadline: Deadline::new(start, options.timeout, options.cancel.clone()),
    };
    // Falsification first: cheap, and it settles most `sat` instances.
    if options.attack {
        for case in &problem.cases {
            let found = (0..INITIAL_ATTACKS).find_map(|round| {
                if search.deadline.passed() {
                    return None;
                }
                let seed = options
                    .seed
                    .wrapping_add(round.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                search.attack(case, &case.lower, &case.upper, seed, &mut stats)
            });
            if let Some(cex) = found {
                stats.seconds = start.elapsed().as_secs_f64();
                return (
                    Verdict::Disproved {
                        counterexample: cex,
                    },
                    stats,
                );
            }
        }
    }
    let mut proofs = Vec::new();
    for case in &problem.cases {
        match search.case(case, &mut stats) {
            CaseOutcome::Proved(root) => proofs.push(CaseProof {
                case: case.index,
                lower: case.lower.clone(),
                upper: case.upper.clone(),
                root,
            }),
            CaseOutcome::Disproved(cex) => {
                stats.seconds = start.elapsed().as_secs_f64();
                return (
                    Verdict::Disproved {
                        counterexample: cex,
                    },
                    stats,
                );
            }
            CaseOutcome::Unknown(reason) => {
                stats.seconds = start.elapsed().as_secs_f64();
                return (Verdict::Unknown { reason }, stats);
            }
        }
    }
    stats.seconds = start.elapsed().as_secs_f64();
    (
        Verdict::Proved {
            evidence: Evidence { cases: proofs },
        },
        stats,
    )
}

/// The most inputs any case lets vary: exact bounds that differ (the f64
/// boxes are rounded outward, so a fixed input is an ulp wide there).
fn free_dims(property: &Property) -> usize {
    property
        .cases
        .iter()
        .map(|c| {
            c.input
                .lower
                .iter()
                .zip(&c.input.upper)
                .filter(|(l, u)| u > l)
                .count()
        })
        .max()
        .unwrap_or(0)
}

struct Search<'a> {
    graph: &'a Graph,
    property: &'a Property,
    problem: &'a Problem,
    options: &'a VerifyOptions,
    start: Instant,
    /// `options.timeout` after `start`, or the cancel flag: the inner loops
    /// stop early at it.
    deadline: Deadline,
    /// Split ReLUs (else input boxes).
    relu_split: bool,
}

/// What one box's bounds say.
struct Analysis {
    refutations: Vec<Refutation>,
    /// The disjuncts still open.
    remaining: Vec<usize>,
    /// The best bound of the least-refuted open disjunct.
    score: f64,
    /// Candidate points with their float margins.
    points: Vec<(f64, Vec<f64>)>,
    /// Where to split, if the sub-problem can be split.
    split: Option<Branch>,
    alpha_optimisations: u64,
}

/// What Z3 made of a box.
enum SmtLeaf {
    /// Every open disjunct is unsatisfiable on the box.
    Closed(Vec<Refutation>),
    Counterexample(Counterexample),
    /// Some disjunct is undecided (timeout) or its model failed the re-check.
    Open,
}

/// The number of ReLUs whose input bounds straddle 0 on box `row`.
fn unstable_relus(net: &crate::Network, bb: &BatchBounds, row: usize) -> usize {
    net.layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, crate::Layer::Relu))
        .map(|(k, _)| {
            let pre = &bb.values[net.src(k)];
            (0..pre.lower.ncols())
                .filter(|&t| pre.lower[[row, t]] < 0.0 && pre.upper[[row, t]] > 0.0)
                .count()
        })
        .sum()
}

impl Search<'_> {
    /// Asks Z3 about every open disjunct of a box, with the engine's sound
    /// bounds fixing the stable ReLUs.
    fn smt_leaf(
        &self,
        case: &Case,
        item: &OpenBox,
        bb: &BatchBounds,
        row: usize,
        open: &[usize],
        stats: &mut Stats,
    ) -> SmtLeaf {
        let net = &self.problem.net;
        let spec = &self.property.cases[case.index];
        let relu_bounds: Vec<(Vec<f64>, Vec<f64>)> = (0..net.layers.len())
            .map(|k| {
                let pre = &bb.values[net.src(k)];
                (pre.lower.row(row).to_vec(), pre.upper.row(row).to_vec())
            })
            .collect();
        let mut refutations = Vec::new();
        for &d in open {
            let query = smt::SmtQuery {
                net,
                lower: &item.lower,
                upper: &item.upper,
                input_constraints: &spec.input_constraints,
                disjunct: &spec.output[d],
                relu_bounds: Some(&relu_bounds),
            };
            stats.smt_calls += 1;
            let left = self.options.timeout.map_or(SMT_TIMEOUT, |t| {
                t.saturating_sub(self.start.elapsed()).min(SMT_TIMEOUT)
            });
            match smt::solve(&query, Some(left), self.options.cancel.as_deref()) {
                smt::SmtOutcome::Unsat => refutations.push(Refutation::Smt {
                    disjunct: d,
                    query: smt::to_smtlib(&query),
                }),
                smt::SmtOutcome::Sat(x) => {
                    return match self.recheck(case, &x) {
                        Some(cex) => SmtLeaf::Counterexample(cex),
                        None => SmtLeaf::Open,
                    }
                }
                smt::SmtOutcome::Unknown(_) => return SmtLeaf::Open,
            }
        }
        SmtLeaf::Closed(refutations)
    }

    fn out_of_time(&self) -> Option<UnknownReason> {
        if let Some(cancel) = &self.options.cancel {
            if cancel.load(AtomicOrdering::Relaxed) {
                return Some(UnknownReason::Interrupted);
            }
        }
        match self.options.timeout {
            Some(t) if self.start.elapsed() >= t => Some(UnknownReason::Timeout),
            _ => None,
        }
    }

    /// The work budget ([`VerifyOptions::max_boxes`]) is spent: sub-problems
    /// bounded on the CPU, and those the accelerator closed on its own.
    fn out_of_boxes(&self, stats: &Stats) -> Option<UnknownReason> {
        let max = self.options.max_boxes?;
        (stats.boxes_bounded + stats.accelerated_leaves >= max).then(|| {
            UnknownReason::Incomplete(format!("the budget of {max} bounded sub-problems is spent"))
        })
    }

    /// Attacks a box; a candidate is reported only after the exact re-check.
    fn attack(
        &self,
        case: &Case,
        lower: &[f64],
        upper: &[f64],
        seed: u64,
        stats: &mut Stats,
    ) -> Option<Counterexample> {
        let opts = AttackOptions {
            seed,
            deadline: self.deadline.clone(),
            ..AttackOptions::default()
        };
        let (candidates, evals) =
            attack::attack_box(&self.problem.net, lower, upper, &case.disjuncts, &opts, 8);
        stats.attack_samples += evals;
        candidates
            .iter()
            .filter(|c| c.margin <= 0.0)
            .find_map(|c| self.recheck(case, &c.input))
    }

    /// Re-executes a point and checks it against the property exactly; the
    /// point is first clamped into the case's box. Past the deadline it
    /// checks nothing (an exact check of a large network takes a while, and
    /// the attacks offer many points that the float evaluation alone puts in
    /// the unsafe set).
    fn recheck(&self, case: &Case, x: &[f64]) -> Option<Counterexample> {
        if self.deadline.passed() {
            return None;
        }
        let clamped: Vec<f64> = x
            .iter()
            .zip(&case.lower)
            .zip(&case.upper)
            .map(|((&v, &l), &u)| v.clamp(l, u))
            .collect();
        recheck_counterexample(self.graph, self.property, &clamped)
    }

    /// Reads one box's bounds: which open disjuncts are refuted (with slope
    /// optimisation for the nearly refuted), candidate points with their
    /// float margins, and where to split.
    fn analyse(
        &self,
        case: &Case,
        row_info: &[ObjectiveRow],
        objectives: &Objectives,
        item: &OpenBox,
        bb: &BatchBounds,
        row: usize,
    ) -> Analysis {
        let net = &self.problem.net;
        let n_out = net.output_dim();
        let mut alpha_optimisations = 0;
        let out_mag: Vec<f64> = {
            let out = &bb.values[net.layers.len()];
            (0..n_out)
                .map(|i| out.lower[[row, i]].abs().max(out.upper[[row, i]].abs()))
                .collect()
        };
        // The sound lower bound of a row's left-hand side, from a
        // sound lower bound `raw` of its `coeffs · y`.
        let lhs_from = |r: usize, raw: f64| row_info[r].lhs_lower(raw, &out_mag);
        let refutes = |r: usize, lb: f64| row_info[r].refutes(lb);
        if bounds::is_empty(bb, row) {
            // The fixed phases contradict the box: no point is left, and
            // every disjunct is refuted vacuously (the checker sees the
            // region empty too).
            let refutations = item
                .open
                .iter()
                .map(|&d| {
                    let r = row_info
                        .iter()
                        .position(|r| r.disjunct == d)
                        .expect("every disjunct has rows");
                    Refutation::Bound {
                        disjunct: d,
                        multipliers: row_info[r].multipliers.clone(),
                        relu_slopes: Vec::new(),
                        lower_bound: f64::INFINITY,
                    }
                })
                .collect();
            return Analysis {
                refutations,
                remaining: Vec::new(),
                score: f64::INFINITY,
                points: Vec::new(),
                split: None,
                alpha_optimisations: 0,
            };
        }
        let mut refutations = Vec::new();
        let mut remaining = Vec::new();
        let mut score = f64::INFINITY;
        let mut best_rows = Vec::new();
        for &d in &item.open {
            let rows_d: Vec<usize> = (0..row_info.len())
                .filter(|&r| row_info[r].disjunct == d)
                .collect();
            let bounds_d: Vec<f64> = rows_d
                .iter()
                .map(|&r| lhs_from(r, bb.objective_lower[[row, r]]))
                .collect();
            let mut refutation = rows_d
                .iter()
                .zip(&bounds_d)
                .find(|(r, lb)| refutes(**r, **lb))
                .map(|(&r, &lb)| Refutation::Bound {
                    disjunct: d,
                    multipliers: row_info[r].multipliers.clone(),
                    relu_slopes: Vec::new(),
                    lower_bound: lb,
                });
            // (row, bound) of the row closest to refutation.
            let (best_r, best_lb) = rows_d.iter().zip(&bounds_d).fold(
                (rows_d[0], f64::NEG_INFINITY),
                |acc, (&r, &lb)| if lb > acc.1 { (r, lb) } else { acc },
            );
            // Nearly refuted: optimise the lower ReLU slopes of the
            // disjunct's rows (alpha-CROWN on the objective).
            if refutation.is_none() && best_lb > -ALPHA_GAP {
                let sub = objectives.rows.select(ndarray::Axis(0), &rows_d);
                let optimised = bounds::optimize_alphas(
                    net,
                    bb,
                    row,
                    sub.view(),
                    ALPHA_ITERATIONS,
                    &self.deadline,
                );
                alpha_optimisations += 1;
                refutation = rows_d
                    .iter()
                    .zip(optimised)
                    .find_map(|(&r, (raw, alphas))| {
                        let lb = lhs_from(r, raw);
                        refutes(r, lb).then(|| Refutation::Bound {
                            disjunct: d,
                            multipliers: row_info[r].multipliers.clone(),
                            relu_slopes: alphas
                                .into_iter()
                                .flatten()
                                .map(|a| a.row(0).to_vec())
                                .collect(),
                            lower_bound: lb,
                        })
                    });
            }
            match refutation {
                Some(refutation) => refutations.push(refutation),
                None => {
                    remaining.push(d);
                    score = score.min(best_lb);
                    best_rows.push(best_r);
                }
            }
        }
        if remaining.is_empty() {
            return Analysis {
                refutations,
                remaining,
                score,
                points: Vec::new(),
                split: None,
                alpha_optimisations,
            };
        }
        // Candidate points: the box centre, and for each open disjunct the
        // corner that minimises its best linear bound (where the bound says
        // a violation is likeliest).
        let centre: Vec<f64> = item
            .lower
            .iter()
            .zip(&item.upper)
            .map(|(l, u)| l + (u - l) / 2.0)
            .collect();
        let corners = best_rows.iter().map(|&r| {
            (0..item.lower.len())
                .map(|i| {
                    if bb.input_coeffs[[row, r, i]] >= 0.0 {
                        item.lower[i]
                    } else {
                        item.upper[i]
                    }
                })
                .collect::<Vec<f64>>()
        });
        let points = std::iter::once(centre)
            .chain(corners)
            .map(|p| (attack::margin(&net.eval(&p), &case.disjuncts).0, p))
            .collect();
        let relu = self
            .relu_split
            .then(|| relu_branch(net, bb, row, &best_rows, objectives))
            .flatten();
        if relu.is_some() {
            return Analysis {
                refutations,
                remaining,
                score,
                points,
                split: relu,
                alpha_optimisations,
            };
        }
        // Split on the dimension with the largest smear: width times a bound
        // on the objective's sensitivity to it (through every neuron that is
        // not surely inactive).
        let mut sens = vec![0.0; item.lower.len()];
        for &r in &best_rows {
            for (s, g) in sens.iter_mut().zip(sensitivity(
                net,
                bb,
                row,
                objectives.rows.row(r).iter().map(|v| v.abs()).collect(),
                |_, _| {},
            )) {
                *s += g;
            }
        }
        let mut best_dim = None;
        let mut best_smear = -1.0;
        for (i, ((l, u), g)) in item.lower.iter().zip(&item.upper).zip(&sens).enumerate() {
            let width = u - l;
            // Skip empty (or NaN) widths.
            if width.partial_cmp(&0.0) != Some(Ordering::Greater) {
                continue;
            }
            let smear = width * (g + 1e-12);
            if smear > best_smear {
                best_smear = smear;
                best_dim = Some(i);
            }
        }
        let split = best_dim.and_then(|i| {
            let (l, u) = (item.lower[i], item.upper[i]);
            let mid = l + (u - l) / 2.0;
            (l < mid && mid < u).then_some(Branch::Input { dim: i, at: mid })
        });
        Analysis {
            refutations,
            remaining,
            score,
            points,
            split,
            alpha_optimisations,
        }
    }

    /// Sends the boxes of `batch` that fix no ReLU phase (a phase-split
    /// child has its parent's box, which the accelerator already saw) to the
    /// accelerator; those whose open disjuncts its interval bounds refute
    /// become leaves, the rest are returned for the CPU. An accelerator
    /// error returns the whole batch.
    fn screen(
        &self,
        acc: &dyn BoxBounder,
        row_info: &[ObjectiveRow],
        batch: Vec<OpenBox>,
        tree: &mut [TreeNode],
        stats: &mut Stats,
    ) -> Vec<OpenBox> {
        let n_in = self.problem.net.input_dim;
        let n_out = self.problem.net.output_dim();
        let (fresh, mut rest): (Vec<OpenBox>, Vec<OpenBox>) =
            batch.into_iter().partition(|b| b.phases.is_empty());
        if fresh.is_empty() {
            return rest;
        }
        if (acc.input_len(), acc.output_len()) != (n_in, n_out) {
            let why = format!(
                "{} bounds a network of {} inputs and {} outputs, not {n_in} and {n_out}",
                acc.describe(),
                acc.input_len(),
                acc.output_len()
            );
            return self.accelerator_failed(why, fresh, rest, stats);
        }
        let lower = Array2::from_shape_fn((fresh.len(), n_in), |(b, i)| fresh[b].lower[i]);
        let upper = Array2::from_shape_fn((fresh.len(), n_in), |(b, i)| fresh[b].upper[i]);
        stats.accelerated_boxes += fresh.len() as u64;
        let (lo, hi) = match acc.output_bounds(lower.view(), upper.view()) {
            Ok((lo, hi)) if lo.dim() == (fresh.len(), n_out) && hi.dim() == lo.dim() => (lo, hi),
            Ok((lo, _)) => {
                return self.accelerator_failed(
                    format!(
                        "{} returned bounds of shape {:?} for {} boxes of {n_out} outputs",
                        acc.describe(),
                        lo.dim(),
                        fresh.len()
                    ),
                    fresh,
                    rest,
                    stats,
                )
            }
            Err(e) => return self.accelerator_failed(e, fresh, rest, stats),
        };
        for (b, item) in fresh.into_iter().enumerate() {
            let (l, h) = (lo.row(b), hi.row(b));
            let out_mag: Vec<f64> = l.iter().zip(h).map(|(a, c)| a.abs().max(c.abs())).collect();
            let refutations: Option<Vec<Refutation>> = item
                .open
                .iter()
                .map(|&d| {
                    row_info.iter().filter(|r| r.disjunct == d).find_map(|r| {
                        let raw =
                            bounds::interval_dot_lower(ndarray::ArrayView1::from(&r.coeffs), l, h);
                        let lb = r.lhs_lower(raw, &out_mag);
                        r.refutes(lb).then(|| Refutation::Bound {
                            disjunct: d,
                            multipliers: r.multipliers.clone(),
                            relu_slopes: Vec::new(),
                            lower_bound: lb,
                        })
                    })
                })
                .collect();
            match refutations {
                Some(refutations) => {
                    stats.leaves += 1;
                    stats.accelerated_leaves += 1;
                    stats.max_depth = stats.max_depth.max(item.depth);
                    tree[item.node] = TreeNode::Leaf(LeafProof { refutations });
                }
                None => rest.push(item),
            }
        }
        rest
    }

    fn accelerator_failed(
        &self,
        error: String,
        fresh: Vec<OpenBox>,
        mut rest: Vec<OpenBox>,
        stats: &mut Stats,
    ) -> Vec<OpenBox> {
        stats.accelerator_failures += 1;
        stats.accelerator_error.get_or_insert(error);
        rest.extend(fresh);
        rest
    }

    fn case(&self, case: &Case, stats: &mut Stats) -> CaseOutcome {
        let net = &self.problem.net;
        // The objective rows: every constraint of every disjunct, and, for
        // conjunctions, sums of two and of all constraints (a disjunct is
        // refuted when any non-negative combination of its constraints is
        // positive on the box).
        let n_out = net.output_dim();
        let row_info: Vec<ObjectiveRow> = case
            .disjuncts
            .iter()
            .enumerate()
            .flat_map(|(d, disj)| {
                combinations(disj.constraints.len())
                    .into_iter()
                    .map(move |m| ObjectiveRow::new(d, &disj.constraints, m))
            })
            .collect();
        let rows: Vec<f64> = row_info
            .iter()
            .flat_map(|r| r.coeffs.iter().copied())
            .collect();
        if case.disjuncts.is_empty() {
            // The output condition is `false`: nothing is unsafe.
            return CaseOutcome::Proved(ProofNode::Leaf(LeafProof {
                refutations: Vec::new(),
            }));
        }
        if case.disjuncts.iter().any(|d| d.constraints.is_empty()) {
            // A disjunct that is `true`: every input of a non-empty box is
            // unsafe; its centre is a counterexample.
            let centre: Vec<f64> = case
                .lower
                .iter()
                .zip(&case.upper)
                .map(|(l, u)| l + (u - l) / 2.0)
                .collect();
            return match self.recheck(case, &centre) {
                Some(cex) => CaseOutcome::Disproved(cex),
                None => CaseOutcome::Unknown(UnknownReason::Incomplete(
                    "the output condition is always true but the box centre failed the re-check"
                        .into(),
                )),
            };
        }
        let objectives = Objectives {
            rows: Array2::from_shape_vec((row_info.len(), n_out), rows)
                .expect("every row has n_out coefficients"),
        };
        let mut tree = vec![TreeNode::Open];
        let mut heap = BinaryHeap::new();
        heap.push(OpenBox {
            node: 0,
            lower: case.lower.clone(),
            upper: case.upper.clone(),
            phases: Vec::new(),
            open: (0..case.disjuncts.len()).collect(),
            depth: 0,
            score: f64::NEG_INFINITY,
        });
        let mut batches = 0u64;
        while !heap.is_empty() {
            if let Some(reason) = self.out_of_time().or_else(|| self.out_of_boxes(stats)) {
                return CaseOutcome::Unknown(reason);
            }
            let take = self.options.batch_size.max(1).min(heap.len());
            let batch: Vec<OpenBox> = (0..take).filter_map(|_| heap.pop()).collect();
            if batches % ATTACK_EVERY == ATTACK_EVERY - 1 && self.options.attack {
                // Alternate: the most violated open box, then the whole case
                // box again with a fresh seed (counterexamples in tiny
                // regions of large boxes need many restarts).
                let round = batches / ATTACK_EVERY;
                let (lower, upper) = if round % 2 == 0 {
                    (&batch[0].lower, &batch[0].upper)
                } else {
                    (&case.lower, &case.upper)
                };
                let seed = self.options.seed ^ batches.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                if let Some(cex) = self.attack(case, lower, upper, seed, stats) {
                    return CaseOutcome::Disproved(cex);
                }
            }
            batches += 1;
            let batch = match &self.options.box_bounder {
                Some(acc) => self.screen(acc.as_ref(), &row_info, batch, &mut tree, stats),
                None => batch,
            };
            if batch.is_empty() {
                continue;
            }
            let bounds = bound_chunks(net, &batch, &objectives, &self.deadline);
            stats.boxes_bounded += batch.len() as u64;
            // The open box whose sampled points came closest to violating.
            let mut promising: Option<(f64, Vec<f64>, Vec<f64>)> = None;
            // Each box's bounds are read (refutations, slope optimisation,
            // candidate points, split choice) in parallel; the tree, queue and
            // re-checks are updated in order, so results stay deterministic.
            let analyses: Vec<Analysis> = batch
                .par_iter()
                .zip(bounds.par_iter())
                .map(|(item, (bb, row))| self.analyse(case, &row_info, &objectives, item, bb, *row))
                .collect();
            for ((item, (bb, row)), analysis) in batch.into_iter().zip(bounds).zip(analyses) {
                stats.max_depth = stats.max_depth.max(item.depth);
                stats.alpha_optimisations += analysis.alpha_optimisations;
                let Analysis {
                    mut refutations,
                    remaining,
                    score,
                    points,
                    split,
                    ..
                } = analysis;
                if remaining.is_empty() {
                    stats.leaves += 1;
                    tree[item.node] = TreeNode::Leaf(LeafProof { refutations });
                    continue;
                }
                // A small, stubborn box with few unstable ReLUs: let Z3
                // decide its open disjuncts exactly.
                if self.options.smt_leaves
                    && item.depth >= SMT_MIN_DEPTH
                    && unstable_relus(net, &bb, row) <= SMT_MAX_UNSTABLE
                {
                    match self.smt_leaf(case, &item, &bb, row, &remaining, stats) {
                        SmtLeaf::Closed(smt_refutations) => {
                            refutations.extend(smt_refutations);
                            stats.leaves += 1;
                            tree[item.node] = TreeNode::Leaf(LeafProof { refutations });
                            continue;
                        }
                        SmtLeaf::Counterexample(cex) => return CaseOutcome::Disproved(cex),
                        SmtLeaf::Open => {}
                    }
                }
                // Cheap falsification: re-check the candidate points whose
                // float margin says they violate.
                for (m, point) in points {
                    if m <= 0.0 {
                        if let Some(cex) = self.recheck(case, &point) {
                            return CaseOutcome::Disproved(cex);
                        }
                    }
                    if promising.as_ref().is_none_or(|(best, _, _)| m < *best) {
                        promising = Some((m, item.lower.clone(), item.upper.clone()));
                    }
                }
                let Some(branch) = split.filter(|_| item.depth < MAX_DEPTH) else {
                    // Splitting is exhausted: Z3 is the complete fallback.
                    match self.smt_leaf(case, &item, &bb, row, &remaining, stats) {
                        SmtLeaf::Closed(smt_refutations) => {
                            refutations.extend(smt_refutations);
                            stats.leaves += 1;
                            tree[item.node] = TreeNode::Leaf(LeafProof { refutations });
                            continue;
                        }
                        SmtLeaf::Counterexample(cex) => return CaseOutcome::Disproved(cex),
                        SmtLeaf::Open => {
                            return CaseOutcome::Unknown(UnknownReason::Incomplete(format!(
                                "a box of depth {} could not be refuted, split further or decided by Z3",
                                item.depth
                            )))
                        }
                    }
                };
                let ids = [tree.len(), tree.len() + 1];
                tree.push(TreeNode::Open);
                tree.push(TreeNode::Open);
                tree[item.node] = TreeNode::Split {
                    branch,
                    refutations,
                    children: ids,
                };
                let mut lo_child = OpenBox {
                    node: ids[0],
                    lower: item.lower.clone(),
                    upper: item.upper.clone(),
                    phases: item.phases.clone(),
                    open: remaining.clone(),
                    depth: item.depth + 1,
                    score,
                };
                let mut hi_child = OpenBox {
                    node: ids[1],
                    lower: item.lower,
                    upper: item.upper,
                    phases: item.phases,
                    open: remaining,
                    depth: item.depth + 1,
                    score,
                };
                match branch {
                    Branch::Input { dim, at } => {
                        lo_child.upper[dim] = at;
                        hi_child.lower[dim] = at;
                    }
                    Branch::Relu { layer, neuron } => {
                        for (child, active) in [(&mut lo_child, false), (&mut hi_child, true)] {
                            child.phases.push(PhaseFix {
                                layer,
                                neuron,
                                active,
                            });
                        }
                    }
                }
                heap.push(lo_child);
                heap.push(hi_child);
            }
            if let (true, Some((_, lower, upper))) = (self.options.attack, promising) {
                let seed = self.options.seed ^ batches.wrapping_mul(0x2545_f491_4f6c_dd1d);
                if let Some(cex) = self.attack(case, &lower, &upper, seed, stats) {
                    return CaseOutcome::Disproved(cex);
                }
            }
        }
        CaseOutcome::Proved(build_tree(net, &mut tree, 0))
    }
}

/// Bounds a batch in chunks across threads; returns, per box, its chunk's
/// bounds and its row in them.
fn bound_chunks(
    net: &crate::Network,
    batch: &[OpenBox],
    objectives: &Objectives,
    deadline: &Deadline,
) -> Vec<(std::sync::Arc<BatchBounds>, usize)> {
    let chunks: Vec<std::sync::Arc<BatchBounds>> = batch
        .par_chunks(CHUNK)
        .map(|chunk| {
            let n = net.input_dim;
            let lower = Array2::from_shape_fn((chunk.len(), n), |(b, i)| chunk[b].lower[i]);
            let upper = Array2::from_shape_fn((chunk.len(), n), |(b, i)| chunk[b].upper[i]);
            let phases: Vec<&[PhaseFix]> = chunk.iter().map(|b| b.phases.as_slice()).collect();
            std::sync::Arc::new(bound_batch_with_phases(
                net,
                lower.view(),
                upper.view(),
                &phases,
                objectives,
                Method::Crown,
                deadline,
            ))
        })
        .collect();
    let mut out = Vec::with_capacity(batch.len());
    for c in chunks {
        let rows = c.objective_lower.nrows();
        for r in 0..rows {
            out.push((c.clone(), r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_dimensions_are_the_inputs_a_case_lets_vary() {
        // 12 inputs, two of them free (as collins_rul_cnn's robustness
        // properties perturb 2 of 400); 0.1 is not an f64, so its rounded
        // box is an ulp wide, but its exact interval is a point.
        let mut text = String::new();
        for i in 0..12 {
            let (lo, hi) = match i {
                3 => ("0", "1"),
                7 => ("-0.5", "0.25"),
                _ => ("0.1", "0.1"),
            };
            text += &format!(
                "(declare-const X_{i} Real)\n(assert (>= X_{i} {lo}))\n(assert (<= X_{i} {hi}))\n"
            );
        }
        text += "(declare-const Y_0 Real)\n(assert (>= Y_0 1))\n";
        let p = axiom_core::vnnlib::parse(&text).unwrap();
        assert_eq!(free_dims(&p), 2);
        assert!(free_dims(&p) <= AUTO_INPUT_SPLIT_MAX_DIM);
        // Two cases: the larger count.
        let mut text = String::from("(declare-const X_0 Real)\n(declare-const X_1 Real)\n");
        text += "(declare-const Y_0 Real)\n(assert (>= Y_0 1))\n";
        text += "(assert (or (and (>= X_0 0) (<= X_0 0) (>= X_1 0) (<= X_1 1)) \
                 (and (>= X_0 0) (<= X_0 1) (>= X_1 0) (<= X_1 1))))\n";
        let p = axiom_core::vnnlib::parse(&text).unwrap();
        assert_eq!(free_dims(&p), 2);
    }
}
