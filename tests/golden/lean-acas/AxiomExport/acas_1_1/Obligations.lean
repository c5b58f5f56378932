/-
  The obligations of model `acas_1_1` (db84de5ad1370d096bc1b5e14054176e47692659b13bf9eb109a51ee8100b21d).
  Each theorem's doc comment names its certificate and status; the
  manifest obligations.json lists them all.
-/
import AxiomExport.Prelude
import AxiomExport.acas_1_1.Network

namespace AxiomExport.acas_1_1
open AxiomExport

/-- The unsafe set of `prop_3` (as in VNN-LIB: inputs and outputs together). -/
abbrev prop_3.unsafe_set (x y : List Q) : Prop :=
  ((nth x 0 + (Q.ratio 74638203 250000000)) ≤ 0) ∧ (((Q.ofInt (-1)) * nth x 0 + (Q.ratio (-75882789) 250000000)) ≤ 0) ∧ ((nth x 1 + (Q.ratio (-9549297) 1000000000)) ≤ 0) ∧ (((Q.ofInt (-1)) * nth x 1 + (Q.ratio (-9549297) 1000000000)) ≤ 0) ∧ ((nth x 2 + (Q.dy (-1) 1)) ≤ 0) ∧ (((Q.ofInt (-1)) * nth x 2 + (Q.ratio 123345081 250000000)) ≤ 0) ∧ ((nth x 3 + (Q.dy (-1) 1)) ≤ 0) ∧ (((Q.ofInt (-1)) * nth x 3 + (Q.ratio 3 10)) ≤ 0) ∧ ((nth x 4 + (Q.dy (-1) 1)) ≤ 0) ∧ (((Q.ofInt (-1)) * nth x 4 + (Q.ratio 3 10)) ≤ 0) ∧ ((nth y 0 + (Q.ofInt (-1)) * nth y 1) ≤ 0) ∧ ((nth y 0 + (Q.ofInt (-1)) * nth y 2) ≤ 0) ∧ ((nth y 0 + (Q.ofInt (-1)) * nth y 3) ≤ 0) ∧ ((nth y 0 + (Q.ofInt (-1)) * nth y 4) ≤ 0)

/-- `prove prop_3: vnnlib "prop_3.vnnlib"`

Model `acas_1_1` digest `db84de5ad1370d096bc1b5e14054176e47692659b13bf9eb109a51ee8100b21d`; no certificate (exported from a specification).
Verdict in Axiom: proved. Lean proof: open. -/
theorem prop_3 :
    ∀ x : List Q, x.length = 5 → ¬ prop_3.unsafe_set x (net x) := by
  sorry

end AxiomExport.acas_1_1
