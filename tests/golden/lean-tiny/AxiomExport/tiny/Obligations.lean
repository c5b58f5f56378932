/-
  The obligations of model `tiny` (e188808f51172fd9ee9fb94817417eeb11e8199925b909949cd8dc18ed6d2941).
  Each theorem's doc comment names its certificate and status; the
  manifest obligations.json lists them all.
-/
import AxiomExport.Prelude
import AxiomExport.tiny.Network

namespace AxiomExport.tiny
open AxiomExport

/-- The input region of `nonneg`. -/
abbrev nonneg.region (x : List Q) : Prop :=
  (((Q.ofInt (-1)) ≤ nth x 0) ∧ (nth x 0 ≤ (Q.ofInt 1)) ∧ ((Q.ofInt (-1)) ≤ nth x 1) ∧ (nth x 1 ≤ (Q.ofInt 1)))

/-- What `nonneg` requires of the output `y` (for the input `x`). -/
abbrev nonneg.holds (_x y : List Q) : Prop :=
  ((0 : Q)) ≤ (nth y 0)

/-- `prove nonneg: forall x in domain => y[0] >= 0`

Model `tiny` digest `e188808f51172fd9ee9fb94817417eeb11e8199925b909949cd8dc18ed6d2941`; no certificate (exported from a specification).
Verdict in Axiom: proved. Lean proof: complete (the output is a ReLU, so it is never below a constant <= 0). -/
theorem nonneg :
    ∀ x : List Q, x.length = 2 → nonneg.region x → nonneg.holds x (net x) := by
  intro x _ _
  exact Q.le_of_nonpos_of_nonneg _ _ (by decide) (nth_vrelu_num_nonneg _ 0)

/-- The input region of `bounded`. -/
abbrev bounded.region (x : List Q) : Prop :=
  (((Q.ofInt (-1)) ≤ nth x 0) ∧ (nth x 0 ≤ (Q.ofInt 1)) ∧ ((Q.ofInt (-1)) ≤ nth x 1) ∧ (nth x 1 ≤ (Q.ofInt 1)))

/-- What `bounded` requires of the output `y` (for the input `x`). -/
abbrev bounded.holds (_x y : List Q) : Prop :=
  (nth y 0) ≤ ((Q.ofInt 4))

/-- `prove bounded: forall x in domain => y[0] <= 4`

Model `tiny` digest `e188808f51172fd9ee9fb94817417eeb11e8199925b909949cd8dc18ed6d2941`; no certificate (exported from a specification).
Verdict in Axiom: proved. Lean proof: open. -/
theorem bounded :
    ∀ x : List Q, x.length = 2 → bounded.region x → bounded.holds x (net x) := by
  sorry

/-- The input region of `small`. -/
abbrev small.region (x : List Q) : Prop :=
  (((Q.dy 1 1) ≤ nth x 0) ∧ (nth x 0 ≤ (Q.ofInt 1)) ∧ ((Q.ofInt (-1)) ≤ nth x 1) ∧ (nth x 1 ≤ (Q.dy (-1) 1)))

/-- What `small` requires of the output `y` (for the input `x`). -/
abbrev small.holds (_x y : List Q) : Prop :=
  (nth y 0) ≤ ((Q.dy 1 1))

/-- The counterexample Axiom found for `small`. -/
def small.witness : List Q :=
  [(Q.dy 9007199254740991 53), (Q.dy (-9007199254740991) 53)]

set_option maxRecDepth 100000 in
set_option maxHeartbeats 0 in
/-- `prove small: forall x in box([0.5, -1], [1, -0.5]) => y[0] <= 0.5`

Model `tiny` digest `e188808f51172fd9ee9fb94817417eeb11e8199925b909949cd8dc18ed6d2941`; no certificate (exported from a specification).
Verdict in Axiom: disproved. Lean proof: complete (the negation, by evaluation on the counterexample). -/
theorem small :
    ¬ (∀ x : List Q, x.length = 2 → small.region x → small.holds x (net x)) := by
  intro h
  exact absurd (h small.witness (by decide) (by decide)) (by decide)

end AxiomExport.tiny
