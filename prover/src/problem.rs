//! A verification problem in the form the engine computes with: the lowered
//! [`Network`] and, per case of the property, the input box rounded outward
//! to f64 and the output constraints with f64 coefficients and a proven bound
//! on their rounding error. Also the exact re-check of counterexamples.

use axiom_backends::{cpu::CpuBackend, Backend};
use axiom_core::spec::{Constraint, Property, Rational, Var};
use axiom_core::Graph;
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive, Zero};

use crate::network::{LowerError, Network};
use crate::verdict::Counterexample;

/// One output constraint of a disjunct: the unsafe set needs
/// `coeffs · y + constant <= 0` (`< 0` when `strict`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConstraint {
    /// Coefficients over the outputs, each the f64 nearest the exact one.
    pub coeffs: Vec<f64>,
    /// For each output, an upper bound on `|exact - coeffs|` (0 when exact).
    pub coeff_err: Vec<f64>,
    /// The exact constant rounded down, so `coeffs·y + constant_down` never
    /// exceeds the exact left-hand side by more than the coefficient error.
    pub constant_down: f64,
    pub strict: bool,
}

/// A conjunction of output constraints (one term of the output DNF).
#[derive(Debug, Clone, PartialEq)]
pub struct Disjunct {
    pub constraints: Vec<OutputConstraint>,
}

/// One case of the property: an input box and the output DNF.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Index into `Property::cases`.
    pub index: usize,
    /// The box, rounded outward to f64 (it contains the exact box).
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    /// Whether the case has input constraints beyond the box (the bounds
    /// ignore them, which only enlarges the region; counterexamples must
    /// meet them).
    pub has_input_constraints: bool,
    pub disjuncts: Vec<Disjunct>,
}

/// The network and the cases, ready for bounding, splitting and attacks.
#[derive(Debug, Clone)]
pub struct Problem {
    pub net: Network,
    pub cases: Vec<Case>,
}

/// Why a problem cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemError {
    #[error("{0}")]
    Lower(#[from] LowerError),
    #[error("the property has {prop} inputs and {prop_out} outputs, the network {net} inputs and {net_out} outputs")]
    Arity {
        prop: usize,
        prop_out: usize,
        net: usize,
        net_out: usize,
    },
}

impl Problem {
    pub fn new(graph: &Graph, property: &Property) -> Result<Problem, ProblemError> {
        let net = Network::from_graph(graph)?;
        if property.num_inputs != net.input_dim || property.num_outputs != net.output_dim() {
            return Err(ProblemError::Arity {
                prop: property.num_inputs,
                prop_out: property.num_outputs,
                net: net.input_dim,
                net_out: net.output_dim(),
            });
        }
        let n_out = net.output_dim();
        let cases = property
            .cases
            .iter()
            .enumerate()
            .map(|(index, case)| Case {
                index,
                lower: case.input.lower.iter().map(rational_down).collect(),
                upper: case.input.upper.iter().map(rational_up).collect(),
                has_input_constraints: !case.input_constraints.is_empty(),
                disjuncts: case
                    .output
                    .iter()
                    .map(|conj| Disjunct {
                        constraints: conj.iter().map(|c| output_constraint(c, n_out)).collect(),
                    })
                    .collect(),
            })
            .collect();
        Ok(Problem { net, cases })
    }
}

fn output_constraint(c: &Constraint, n_out: usize) -> OutputConstraint {
    let mut coeffs = vec![0.0; n_out];
    let mut coeff_err = vec![0.0; n_out];
    for (var, q) in &c.expr.terms {
        if let Var::Y(i) = var {
            let near = q.to_f64().unwrap_or(f64::NAN);
            coeffs[*i] = near;
            let err = (q - exact(near)).abs();
            coeff_err[*i] = rational_up(&err);
        }
    }
    OutputConstraint {
        coeffs,
        coeff_err,
        constant_down: rational_down(&c.expr.constant),
        strict: c.strict,
    }
}

/// The exact value of a finite f64.
pub fn exact(x: f64) -> BigRational {
    BigRational::from_float(x).unwrap_or_else(BigRational::zero)
}

/// The largest f64 not above `q`.
pub fn rational_down(q: &Rational) -> f64 {
    let near = q.to_f64().unwrap_or(f64::NEG_INFINITY);
    if !near.is_finite() {
        return if q.is_negative() {
            f64::NEG_INFINITY
        } else {
            f64::MAX
        };
    }
    if exact(near) > *q {
        near.next_down()
    } else {
        near
    }
}

/// The smallest f64 not below `q`.
pub fn rational_up(q: &Rational) -> f64 {
    -rational_down(&-q)
}

/// Whether `x` meets the property and, if so, where: re-executes the graph on
/// the CPU backend in f64 and checks the box, input constraints and output
/// condition with exact rational comparisons. For piecewise-linear networks
/// (BatchNorm included) the point must also pass the independent exact check
/// of `axiom-certs` (the output computed in exact arithmetic on the float32
/// weights; a BatchNorm's irrational factor as an exact enclosure, so the
/// property must hold on the whole enclosed output), so a point on the edge
/// of rounding is never reported. For those networks a coordinate that the
/// box fixes to a value no f64 equals may be one of the two f64s around it
/// (see [`exact_input`]): the point then stands for the exact input.
pub fn recheck_counterexample(
    graph: &Graph,
    property: &Property,
    x: &[f64],
) -> Option<Counterexample> {
    if x.len() != property.num_inputs || x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let model = CpuBackend.compile(graph).ok()?;
    let input = ndarray::Array2::from_shape_vec((1, x.len()), x.to_vec()).ok()?;
    let y: Vec<f64> = model.run_f64(input.view()).ok()?.iter().copied().collect();
    if y.len() != property.num_outputs || y.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // (From the graph's ops: lowering a large network only to look at its
    // layers would cost more than the check.)
    let piecewise_linear = !graph.nodes.iter().any(|n| {
        matches!(
            n.op,
            axiom_core::Op::Sigmoid | axiom_core::Op::Tanh | axiom_core::Op::Softmax { .. }
        )
    });
    let yq: Vec<BigRational> = y.iter().map(|&v| exact(v)).collect();
    for (ci, case) in property.cases.iter().enumerate() {
        let Some(xq) = exact_input(&case.input, x, piecewise_linear) else {
            continue;
        };
        if !case.input_constraints.iter().all(|c| holds(c, &xq, &[])) {
            continue;
        }
        for (di, conj) in case.output.iter().enumerate() {
            if !conj.iter().all(|c| holds(c, &xq, &yq)) {
                continue;
            }
            let cex = Counterexample {
                input: x.to_vec(),
                output: y.clone(),
                case: ci,
                disjunct: di,
            };
            if !piecewise_linear
                || axiom_certs::check::check_counterexample(graph, property, &cex).is_ok()
            {
                return Some(cex);
            }
        }
    }
    None
}

/// The exact input `x` stands for in a case's box: `x` itself where it lies
/// in the box; where the box fixes a coordinate to a value `c` that no f64
/// equals (a VNN-LIB decimal such as `0.1`) and `x` is one of the two f64s
/// around `c`, `c` — only when `fixed_values` (the exact check of
/// `axiom-certs`, which evaluates such a coordinate on the range between
/// the two f64s, will decide the point). `None` when `x` is outside the box.
fn exact_input(
    input: &axiom_core::spec::InputBox,
    x: &[f64],
    fixed_values: bool,
) -> Option<Vec<BigRational>> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let (lower, upper) = (input.lower.get(i)?, input.upper.get(i)?);
            let xi = exact(v);
            if *lower <= xi && xi <= *upper {
                return Some(xi);
            }
            let around = exact(v.next_down()) < *lower && *lower < exact(v.next_up());
            (fixed_values && lower == upper && around).then(|| lower.clone())
        })
        .collect()
}

/// Whether a constraint holds at exact inputs `x` and outputs `y`.
fn holds(c: &Constraint, x: &[BigRational], y: &[BigRational]) -> bool {
    let mut v = c.expr.constant.clone();
    for (var, q) in &c.expr.terms {
        let val = match var {
            Var::X(i) => x.get(*i),
            Var::Y(i) => y.get(*i),
        };
        match val {
            Some(val) => v += q * val,
            None => return false,
        }
    }
    if c.strict {
        v.is_negative()
    } else {
        !v.is_positive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigInt;

    fn ratio(n: i64, d: i64) -> BigRational {
        BigRational::new(BigInt::from(n), BigInt::from(d))
    }

    #[test]
    fn directed_rounding_of_rationals() {
        let tenth = ratio(1, 10);
        let down = rational_down(&tenth);
        let up = rational_up(&tenth);
        assert!(exact(down) < tenth && tenth < exact(up));
        assert_eq!(up, down.next_up());
        let half = ratio(1, 2);
        assert_eq!((rational_down(&half), rational_up(&half)), (0.5, 0.5));
        assert_eq!(rational_down(&-tenth.clone()), -up);
    }
}
