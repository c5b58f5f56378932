/-
  Model `acas_1_1` (db84de5ad1370d096bc1b5e14054176e47692659b13bf9eb109a51ee8100b21d) as a function over exact rationals.
-/
import AxiomExport.Prelude
import AxiomExport.acas_1_1.Weights

namespace AxiomExport.acas_1_1
open AxiomExport

/-- The network `net` (5 in, 5 out), in exact arithmetic. -/
def net (x : List Q) : List Q :=
  let v1 := vsub x layer0_sub
  let v2 := v1
  let v3 := dense layer2_w layer2_b v2
  let v4 := vrelu v3
  let v5 := dense layer4_w layer4_b v4
  let v6 := vrelu v5
  let v7 := dense layer6_w layer6_b v6
  let v8 := vrelu v7
  let v9 := dense layer8_w layer8_b v8
  let v10 := vrelu v9
  let v11 := dense layer10_w layer10_b v10
  let v12 := vrelu v11
  let v13 := dense layer12_w layer12_b v12
  let v14 := vrelu v13
  let v15 := dense layer14_w layer14_b v14
  v15

end AxiomExport.acas_1_1
