//! How certificates write exact values: numbers, properties, proofs and
//! counterexamples, with conversions to and from the in-memory types.
//!
//! - A float of the evidence (an f64, so a dyadic rational) is the integer
//!   pair `[m, e]` meaning exactly `m · 2^e`, with `m` odd (or `[0, 0]`).
//! - A rational of a property is a string `"p"` or `"p/q"` in lowest terms.
//! - A proof tree is its list of nodes in pre-order (a split is followed by
//!   its first subtree, then its second), so that a deep tree does not make
//!   a deeply nested encoding.
//!
//! Reading is strict: a number that is not exactly an f64, a non-canonical
//! rational, a tree that does not close, or a variable out of range is an
//! error, never a silent fix.

use std::collections::BTreeMap;

use axiom_core::spec::{Constraint, Formula, LinearExpr, Property, Var};
use num_bigint::BigInt;
use num_rational::BigRational;
use serde::{Deserialize, Serialize};

use crate::evidence::{CaseProof, Counterexample, Evidence, LeafProof, ProofNode, Refutation};

/// The deepest proof tree a certificate may hold.
pub const MAX_TREE_DEPTH: usize = 4096;

/// An error reading a certificate's exact values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(msg.into()))
}

/// A finite f64 written exactly as `[m, e]` = `m · 2^e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exact(pub i64, pub i32);

impl Exact {
    /// The exact form of a finite float; `None` for NaN and infinities.
    pub fn from_f64(v: f64) -> Option<Exact> {
        if !v.is_finite() {
            return None;
        }
        if v == 0.0 {
            return Some(Exact(0, 0));
        }
        let bits = v.to_bits();
        let exp_bits = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (mut m, mut e) = if exp_bits == 0 {
            (frac as i64, -1074)
        } else {
            ((frac | (1u64 << 52)) as i64, exp_bits - 1075)
        };
        let tz = m.trailing_zeros();
        m >>= tz;
        e += tz as i32;
        Some(Exact(if v < 0.0 { -m } else { m }, e))
    }

    /// The float, when `m · 2^e` is exactly one (and the pair is canonical).
    pub fn to_f64(self) -> Result<f64, WireError> {
        let Exact(m, e) = self;
        if m == 0 {
            return if e == 0 {
                Ok(0.0)
            } else {
                err("a zero must be written [0, 0]")
            };
        }
        if m % 2 == 0 {
            return err(format!("[{m}, {e}] is not canonical: the mantissa is even"));
        }
        if m.unsigned_abs() >= 1 << 53 {
            return err(format!("[{m}, {e}] has more than 53 significant bits"));
        }
        // m and 2^e are exact in f64 when e is in range; the product is exact
        // when it neither overflows nor falls below the subnormal grid.
        let bits = 64 - m.unsigned_abs().leading_zeros() as i32;
        if e < -1074 || e + bits > 1024 {
            return err(format!("[{m}, {e}] is outside the range of f64"));
        }
        let v = (m as f64) * pow2(e);
        match Exact::from_f64(v) {
            Some(back) if back == self => Ok(v),
            _ => err(format!("[{m}, {e}] is not exactly an f64")),
        }
    }
}

/// `2^e` as an f64, exact for `-1074 <= e <= 1023`, built in two steps so
/// that neither factor under- or overflows.
fn pow2(e: i32) -> f64 {
    let half = e / 2;
    f64::powi(2.0, half) * f64::powi(2.0, e - half)
}

fn exact(v: f64, what: &str) -> Result<Exact, WireError> {
    Exact::from_f64(v).ok_or_else(|| WireError(format!("{what} is not finite: {v}")))
}

fn exacts(vs: &[f64], what: &str) -> Result<Vec<Exact>, WireError> {
    vs.iter().map(|&v| exact(v, what)).collect()
}

fn floats(vs: &[Exact]) -> Result<Vec<f64>, WireError> {
    vs.iter().map(|v| v.to_f64()).collect()
}

/// A rational in lowest terms: `"p"` or `"p/q"` with `q > 1`.
pub fn rational_to_string(r: &BigRational) -> String {
    if r.is_integer() {
        r.numer().to_string()
    } else {
        format!("{}/{}", r.numer(), r.denom())
    }
}

/// Reads what [`rational_to_string`] writes, and nothing else.
pub fn rational_from_str(s: &str) -> Result<BigRational, WireError> {
    let bad = || {
        WireError(format!(
            "'{s}' is not a rational in lowest terms (p or p/q)"
        ))
    };
    if s.len() > 100_000 {
        return Err(bad());
    }
    let (p, q) = match s.split_once('/') {
        Some((p, q)) => (p, Some(q)),
        None => (s, None),
    };
    let int = |t: &str| -> Result<BigInt, WireError> {
        let digits = t.strip_prefix('-').unwrap_or(t);
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let p = int(p)?;
    let r = match q {
        None => BigRational::from_integer(p),
        Some(q) => {
            let q = int(q)?;
            if q <= BigInt::from(1) {
                return Err(bad());
            }
            BigRational::new(p, q)
        }
    };
    if rational_to_string(&r) != s || s == "-0" {
        return Err(bad());
    }
    Ok(r)
}

/// A property as a certificate states it: its declarations and its
/// assertion (the unsafe set); the cases are derived again on reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyData {
    pub inputs: usize,
    pub outputs: usize,
    pub assertion: FormulaData,
}

/// A formula over linear constraints (see [`Formula`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormulaData {
    /// `Σ coefficient · variable + constant <= 0` (`< 0` when strict);
    /// variables are written `X_i` / `Y_j`, in increasing order.
    Atom {
        terms: Vec<(String, String)>,
        constant: String,
        strict: bool,
    },
    And(Vec<FormulaData>),
    Or(Vec<FormulaData>),
}

impl PropertyData {
    pub fn from_property(p: &Property) -> PropertyData {
        PropertyData {
            inputs: p.num_inputs,
            outputs: p.num_outputs,
            assertion: formula_data(&p.assertion),
        }
    }

    /// The property, with its cases derived again by `axiom-core`.
    pub fn to_property(&self) -> Result<Property, WireError> {
        let f = formula(&self.assertion, 0)?;
        Property::new(self.inputs, self.outputs, f)
            .map_err(|e| WireError(format!("the property is invalid: {e}")))
    }
}

fn formula_data(f: &Formula) -> FormulaData {
    match f {
        Formula::Atom(c) => FormulaData::Atom {
            terms: c
                .expr
                .terms
                .iter()
                .map(|(v, k)| (v.to_string(), rational_to_string(k)))
                .collect(),
            constant: rational_to_string(&c.expr.constant),
            strict: c.strict,
        },
        Formula::And(fs) => FormulaData::And(fs.iter().map(formula_data).collect()),
        Formula::Or(fs) => FormulaData::Or(fs.iter().map(formula_data).collect()),
    }
}

fn var(s: &str) -> Result<Var, WireError> {
    let index = |t: &str| -> Option<usize> {
        (!t.is_empty()
            && t.bytes().all(|b| b.is_ascii_digit())
            && (t == "0" || !t.starts_with('0')))
        .then(|| t.parse().ok())
        .flatten()
    };
    if let Some(i) = s.strip_prefix("X_").and_then(index) {
        Ok(Var::X(i))
    } else if let Some(j) = s.strip_prefix("Y_").and_then(index) {
        Ok(Var::Y(j))
    } else {
        err(format!("'{s}' is not a variable X_i or Y_j"))
    }
}

fn formula(f: &FormulaData, depth: usize) -> Result<Formula, WireError> {
    if depth > 64 {
        return err("the assertion is nested too deeply");
    }
    Ok(match f {
        FormulaData::Atom {
            terms,
            constant,
            strict,
        } => {
            let mut map = BTreeMap::new();
            for (v, k) in terms {
                let (v, k) = (var(v)?, rational_from_str(k)?);
                if k == BigRational::from_integer(0.into()) {
                    return err("a term has coefficient 0");
                }
                if map.insert(v, k).is_some() {
                    return err(format!("{v} appears twice in one constraint"));
                }
            }
            Formula::Atom(Constraint {
                expr: LinearExpr {
                    terms: map,
                    constant: rational_from_str(constant)?,
                },
                strict: *strict,
            })
        }
        FormulaData::And(fs) => Formula::And(
            fs.iter()
                .map(|g| formula(g, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        FormulaData::Or(fs) => Formula::Or(
            fs.iter()
                .map(|g| formula(g, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// The proof of one case: its root box and its tree in pre-order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseProofData {
    pub case: usize,
    pub lower: Vec<Exact>,
    pub upper: Vec<Exact>,
    pub nodes: Vec<NodeData>,
}

/// A node of a proof tree (see [`ProofNode`]); a split's two subtrees
/// follow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeData {
    Split {
        dim: usize,
        at: Exact,
        refutations: Vec<RefutationData>,
    },
    ReluSplit {
        relu_layer: usize,
        neuron: usize,
        refutations: Vec<RefutationData>,
    },
    Leaf {
        refutations: Vec<RefutationData>,
    },
}

/// How one disjunct is refuted (see [`Refutation`]). `lower_bound` is
/// absent when the region is empty (an infinite bound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefutationData {
    Bound {
        disjunct: usize,
        multipliers: Vec<Exact>,
        relu_slopes: Vec<Vec<Exact>>,
        lower_bound: Option<Exact>,
    },
    Smt {
        disjunct: usize,
        query: String,
    },
}

/// A counterexample (see [`Counterexample`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterexampleData {
    pub case: usize,
    pub disjunct: usize,
    pub input: Vec<Exact>,
    pub output: Vec<Exact>,
}

impl CounterexampleData {
    pub fn from_counterexample(c: &Counterexample) -> Result<Self, WireError> {
        Ok(CounterexampleData {
            case: c.case,
            disjunct: c.disjunct,
            input: exacts(&c.input, "a counterexample input")?,
            output: exacts(&c.output, "a counterexample output")?,
        })
    }

    pub fn to_counterexample(&self) -> Result<Counterexample, WireError> {
        Ok(Counterexample {
            case: self.case,
            disjunct: self.disjunct,
            input: floats(&self.input)?,
            output: floats(&self.output)?,
        })
    }
}

/// The evidence of a proof, one tree per case.
pub fn evidence_data(e: &Evidence) -> Result<Vec<CaseProofData>, WireError> {
    e.cases
        .iter()
        .map(|c| {
            let mut nodes = Vec::new();
            // Pre-order without recursion: a stack of nodes still to write.
            let mut stack = vec![&c.root];
            while let Some(n) = stack.pop() {
                match n {
                    ProofNode::Split {
                        dim,
                        at,
                        refutations,
                        children,
                    } => {
                        nodes.push(NodeData::Split {
                            dim: *dim,
                            at: exact(*at, "a split point")?,
                            refutations: refutations_data(refutations)?,
                        });
                        stack.push(&children[1]);
                        stack.push(&children[0]);
                    }
                    ProofNode::ReluSplit {
                        relu_layer,
                        neuron,
                        refutations,
                        children,
                    } => {
                        nodes.push(NodeData::ReluSplit {
                            relu_layer: *relu_layer,
                            neuron: *neuron,
                            refutations: refutations_data(refutations)?,
                        });
                        stack.push(&children[1]);
                        stack.push(&children[0]);
                    }
                    ProofNode::Leaf(leaf) => nodes.push(NodeData::Leaf {
                        refutations: refutations_data(&leaf.refutations)?,
                    }),
                }
            }
            Ok(CaseProofData {
                case: c.case,
                lower: exacts(&c.lower, "a root box bound")?,
                upper: exacts(&c.upper, "a root box bound")?,
                nodes,
            })
        })
        .collect()
}

/// Rebuilds the evidence; the node list must be exactly one tree per case.
pub fn evidence_from_data(cases: &[CaseProofData]) -> Result<Evidence, WireError> {
    let cases = cases
        .iter()
        .map(|c| {
            let mut next = 0;
            let root = tree(&c.nodes, &mut next, 0)?;
            if next != c.nodes.len() {
                return err(format!(
                    "case {}: {} nodes follow the end of the proof tree",
                    c.case,
                    c.nodes.len() - next
                ));
            }
            Ok(CaseProof {
                case: c.case,
                lower: floats(&c.lower)?,
                upper: floats(&c.upper)?,
                root,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Evidence { cases })
}

fn tree(nodes: &[NodeData], next: &mut usize, depth: usize) -> Result<ProofNode, WireError> {
    if depth > MAX_TREE_DEPTH {
        return err(format!(
            "the proof tree is deeper than {MAX_TREE_DEPTH} levels"
        ));
    }
    let Some(node) = nodes.get(*next) else {
        return err("the proof tree ends early: a split lacks a subtree");
    };
    *next += 1;
    Ok(match node {
        NodeData::Leaf { refutations } => ProofNode::Leaf(LeafProof {
            refutations: refutations_from(refutations)?,
        }),
        NodeData::Split {
            dim,
            at,
            refutations,
        } => {
            let refutations = refutations_from(refutations)?;
            let a = tree(nodes, next, depth + 1)?;
            let b = tree(nodes, next, depth + 1)?;
            ProofNode::Split {
                dim: *dim,
                at: at.to_f64()?,
                refutations,
                children: Box::new([a, b]),
            }
        }
        NodeData::ReluSplit {
            relu_layer,
            neuron,
            refutations,
        } => {
            let refutations = refutations_from(refutations)?;
            let a = tree(nodes, next, depth + 1)?;
            let b = tree(nodes, next, depth + 1)?;
            ProofNode::ReluSplit {
                relu_layer: *relu_layer,
                neuron: *neuron,
                refutations,
                children: Box::new([a, b]),
            }
        }
    })
}

fn refutations_data(rs: &[Refutation]) -> Result<Vec<RefutationData>, WireError> {
    rs.iter()
        .map(|r| {
            Ok(match r {
                Refutation::Bound {
                    disjunct,
                    multipliers,
                    relu_slopes,
                    lower_bound,
                } => RefutationData::Bound {
                    disjunct: *disjunct,
                    multipliers: exacts(multipliers, "a multiplier")?,
                    relu_slopes: relu_slopes
                        .iter()
                        .map(|s| exacts(s, "a ReLU slope"))
                        .collect::<Result<_, _>>()?,
                    // +inf: the region is empty; the checker re-derives it.
                    lower_bound: Exact::from_f64(*lower_bound),
                },
                Refutation::Smt { disjunct, query } => RefutationData::Smt {
                    disjunct: *disjunct,
                    query: query.clone(),
                },
            })
        })
        .collect()
}

fn refutations_from(rs: &[RefutationData]) -> Result<Vec<Refutation>, WireError> {
    rs.iter()
        .map(|r| {
            Ok(match r {
                RefutationData::Bound {
                    disjunct,
                    multipliers,
                    relu_slopes,
                    lower_bound,
                } => Refutation::Bound {
                    disjunct: *disjunct,
                    multipliers: floats(multipliers)?,
                    relu_slopes: relu_slopes
                        .iter()
                        .map(|s| floats(s))
                        .collect::<Result<_, _>>()?,
                    lower_bound: match lower_bound {
                        Some(v) => v.to_f64()?,
                        None => f64::INFINITY,
                    },
                },
                RefutationData::Smt { disjunct, query } => Refutation::Smt {
                    disjunct: *disjunct,
                    query: query.clone(),
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_exactly() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e300,
            123456.789,
        ] {
            let e = Exact::from_f64(v).unwrap();
            assert_eq!(e.to_f64().unwrap(), v, "{v}");
            assert!(e.0 == 0 || e.0 % 2 != 0);
        }
        assert_eq!(Exact::from_f64(0.375), Some(Exact(3, -3)));
        assert!(Exact::from_f64(f64::NAN).is_none());
        assert!(Exact::from_f64(f64::INFINITY).is_none());
    }

    #[test]
    fn non_canonical_or_inexact_floats_are_refused() {
        assert!(Exact(2, 0).to_f64().is_err()); // even mantissa
        assert!(Exact(0, 3).to_f64().is_err());
        assert!(Exact(1 << 53 | 1, 0).to_f64().is_err()); // 54 bits
        assert!(Exact(1, 1024).to_f64().is_err()); // overflow
        assert!(Exact(1, -1075).to_f64().is_err()); // below the subnormals
                                                    // 3·2^-1074 is a subnormal, exactly an f64.
        assert_eq!(Exact(3, -1074).to_f64().unwrap(), 3.0 * 5e-324);
    }

    #[test]
    fn rationals_are_read_only_in_lowest_terms() {
        for s in ["0", "-3", "1/3", "-22/7", "123456789012345678901234567890"] {
            assert_eq!(rational_to_string(&rational_from_str(s).unwrap()), s);
        }
        for s in [
            "", "2/4", "1/1", "-0", "01", "1/0", "1/-3", "+1", "0.5", "1/", "/2",
        ] {
            assert!(rational_from_str(s).is_err(), "{s}");
        }
    }

    #[test]
    fn properties_round_trip() {
        let p = axiom_core::vnnlib::parse(
            "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)\
             (assert (>= X_0 -1))(assert (<= X_0 0.1))(assert (>= X_1 0))(assert (<= X_1 (/ 1 3)))\
             (assert (or (>= Y_0 Y_1) (< Y_1 -0.5)))",
        )
        .unwrap();
        let data = PropertyData::from_property(&p);
        assert_eq!(data.to_property().unwrap(), p);
        let mut bad = data.clone();
        bad.inputs = 1; // X_1 is now undeclared
        assert!(bad.to_property().is_err());
    }

    #[test]
    fn proof_trees_round_trip_and_must_close() {
        let leaf = |d: usize| {
            ProofNode::Leaf(LeafProof {
                refutations: vec![Refutation::Bound {
                    disjunct: d,
                    multipliers: vec![1.0, 0.25],
                    relu_slopes: vec![vec![], vec![0.5, 1.0]],
                    lower_bound: f64::INFINITY,
                }],
            })
        };
        let e = Evidence {
            cases: vec![CaseProof {
                case: 0,
                lower: vec![-1.0],
                upper: vec![1.0],
                root: ProofNode::Split {
                    dim: 0,
                    at: 0.5,
                    refutations: vec![],
                    children: Box::new([
                        ProofNode::ReluSplit {
                            relu_layer: 0,
                            neuron: 3,
                            refutations: vec![Refutation::Smt {
                                disjunct: 1,
                                query: "(check-sat)".into(),
                            }],
                            children: Box::new([leaf(0), leaf(0)]),
                        },
                        leaf(1),
                    ]),
                },
            }],
        };
        let data = evidence_data(&e).unwrap();
        assert_eq!(data[0].nodes.len(), 5);
        assert_eq!(evidence_from_data(&data).unwrap(), e);
        let mut short = data.clone();
        short[0].nodes.pop();
        assert!(evidence_from_data(&short).is_err());
        let mut long = data.clone();
        let extra = long[0].nodes[4].clone();
        long[0].nodes.push(extra);
        assert!(evidence_from_data(&long).is_err());
        // A hostile list of splits only: refused, no stack overflow.
        let deep = vec![CaseProofData {
            case: 0,
            lower: vec![],
            upper: vec![],
            nodes: vec![
                NodeData::Split {
                    dim: 0,
                    at: Exact(0, 0),
                    refutations: vec![]
                };
                100_000
            ],
        }];
        assert!(evidence_from_data(&deep).is_err());
    }
}
