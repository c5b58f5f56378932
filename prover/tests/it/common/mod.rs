//! Helpers shared by the engine's test files: a deterministic generator and
//! Z3 on a whole case as the complete reference.
#![allow(dead_code)] // each test file uses its own subset

use axiom_prover::smt::{self, SmtOutcome, SmtQuery};
use axiom_prover::Network;
use std::time::Duration;

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A value in [-range, range] on the grid of step `1 / denom` (a power
    /// of two keeps it exact in f32).
    pub fn dyadic(&mut self, range: f64, denom: f64) -> f64 {
        let steps = (range * denom) as u64;
        (self.below(2 * steps + 1) as f64 - steps as f64) / denom
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A case's input box in f64 (the generated boxes are dyadic, so exact).
pub fn box_f64(case: &axiom_core::spec::SpecCase) -> (Vec<f64>, Vec<f64>) {
    let f = |q: &num_rational::BigRational| num_traits::ToPrimitive::to_f64(q).unwrap();
    (
        case.input.lower.iter().map(f).collect(),
        case.input.upper.iter().map(f).collect(),
    )
}

/// Z3 on a whole case of a ReLU network: `Some(true)` when a counterexample
/// exists, `Some(false)` when every disjunct is unsat, `None` when Z3 did
/// not decide some disjunct within `timeout`.
pub fn z3_reference(
    net: &Network,
    case: &axiom_core::spec::SpecCase,
    timeout: Duration,
) -> Option<bool> {
    let (lo, hi) = box_f64(case);
    let mut undecided = false;
    for disjunct in &case.output {
        let q = SmtQuery {
            net,
            lower: &lo,
            upper: &hi,
            input_constraints: &case.input_constraints,
            disjunct,
            relu_bounds: None,
        };
        match smt::solve(&q, Some(timeout), None) {
            SmtOutcome::Sat(_) => return Some(true),
            SmtOutcome::Unsat => {}
            SmtOutcome::Unknown(_) => undecided = true,
        }
    }
    (!undecided).then_some(false)
}
