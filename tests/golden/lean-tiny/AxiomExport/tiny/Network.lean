/-
  Model `tiny` (e188808f51172fd9ee9fb94817417eeb11e8199925b909949cd8dc18ed6d2941) as a function over exact rationals.
-/
import AxiomExport.Prelude
import AxiomExport.tiny.Weights

namespace AxiomExport.tiny
open AxiomExport

/-- The network `tiny` (2 in, 1 out), in exact arithmetic. -/
def net (x : List Q) : List Q :=
  let v1 := dense layer0_w layer0_b x
  let v2 := vrelu v1
  let v3 := dense layer2_w layer2_b v2
  let v4 := vrelu v3
  v4

end AxiomExport.tiny
