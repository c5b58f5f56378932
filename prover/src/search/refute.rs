//! Refutation of a disjunct on a box: the non-negative combinations of
//! its constraints that are tried, and the rows they become.

/// Multipliers to try for a conjunction of `k` constraints: each constraint
/// alone, then (for `k >= 2`) every pair and all of them, with weight 1.
pub(super) fn combinations(k: usize) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    if k >= 2 {
        for a in 0..k {
            for b in a + 1..k {
                out.push(
                    (0..k)
                        .map(|j| if j == a || j == b { 1.0 } else { 0.0 })
                        .collect(),
                );
            }
        }
        if k > 2 {
            out.push(vec![1.0; k]);
        }
    }
    out
}

/// One objective row: `Σ multipliers[k] · lhs_k` of a disjunct's
/// constraints, with f64 coefficients and a bound on their error.
pub(super) struct ObjectiveRow {
    pub(super) disjunct: usize,
    pub(super) multipliers: Vec<f64>,
    pub(super) coeffs: Vec<f64>,
    /// Per output, an upper bound on `|exact coefficient - coeffs|`.
    pub(super) err: Vec<f64>,
    /// The exact constant, rounded down.
    pub(super) constant_down: f64,
    /// Whether a constraint with a positive multiplier is strict.
    pub(super) strict: bool,
}

impl ObjectiveRow {
    /// A sound lower bound of the row's left-hand side from a sound lower
    /// bound `raw` of its `coeffs · y`, where `out_mag[i]` bounds `|y[i]|`.
    pub(super) fn lhs_lower(&self, raw: f64, out_mag: &[f64]) -> f64 {
        let err: f64 = self.err.iter().zip(out_mag).map(|(e, m)| e * m).sum();
        let v = raw + self.constant_down - err * (1.0 + 1e-10);
        // Two additions: one ulp down each covers their rounding.
        if v.is_nan() {
            f64::NEG_INFINITY
        } else {
            v.next_down().next_down()
        }
    }

    /// Whether a sound lower bound `lb` of the left-hand side refutes the
    /// row's disjunct.
    pub(super) fn refutes(&self, lb: f64) -> bool {
        if self.strict {
            lb >= 0.0
        } else {
            lb > 0.0
        }
    }

    pub(super) fn new(
        disjunct: usize,
        constraints: &[crate::problem::OutputConstraint],
        multipliers: Vec<f64>,
    ) -> Self {
        let n_out = constraints.first().map_or(0, |c| c.coeffs.len());
        let mut coeffs = vec![0.0; n_out];
        let mut abs = vec![0.0; n_out];
        let mut err = vec![0.0; n_out];
        let mut constant_down = 0.0f64;
        let mut strict = false;
        let mut terms = 0usize;
        for (c, &m) in constraints.iter().zip(&multipliers) {
            if m == 0.0 {
                continue;
            }
            terms += 1;
            strict |= c.strict;
            for i in 0..n_out {
                coeffs[i] += m * c.coeffs[i];
                abs[i] += (m * c.coeffs[i]).abs();
                err[i] += m * c.coeff_err[i];
            }
            constant_down = (constant_down + m * c.constant_down)
                .next_down()
                .next_down();
        }
        // The multipliers are 0 or 1, so each product is exact; the sums
        // round, by at most γ(terms) Σ|terms|.
        let g = (terms as f64 + 2.0) * f64::EPSILON;
        for i in 0..n_out {
            err[i] = (err[i] + g * abs[i]) * (1.0 + 1e-10);
        }
        ObjectiveRow {
            disjunct,
            multipliers,
            coeffs,
            err,
            constant_down,
            strict,
        }
    }
}
