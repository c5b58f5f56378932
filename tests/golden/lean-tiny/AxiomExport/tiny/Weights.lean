/-
  The constants of model `tiny` (e188808f51172fd9ee9fb94817417eeb11e8199925b909949cd8dc18ed6d2941): 9 numbers, each exactly
  the float32 value of the model.
-/
import AxiomExport.Prelude

namespace AxiomExport.tiny
open AxiomExport

/-- layer 0 (Gemm fc1): w. -/
def layer0_w : List (List Q) :=
  [[(Q.ofInt 1), (Q.ofInt (-1))],
   [(Q.dy 1 1), (Q.ofInt 1)]]

/-- layer 0 (Gemm fc1): b. -/
def layer0_b : List Q :=
  [(0 : Q), (Q.dy 1 2)]

/-- layer 2 (Gemm fc2): w. -/
def layer2_w : List (List Q) :=
  [[(Q.ofInt 1), (Q.dy 1 1)]]

/-- layer 2 (Gemm fc2): b. -/
def layer2_b : List Q :=
  [(Q.dy (-1) 3)]

end AxiomExport.tiny
