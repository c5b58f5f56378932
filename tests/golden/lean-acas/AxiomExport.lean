/-
  Everything Axiom exported.
-/
import AxiomExport.Prelude
import AxiomExport.acas_1_1.Weights
import AxiomExport.acas_1_1.Network
import AxiomExport.acas_1_1.Obligations
import AxiomExport.Axioms
