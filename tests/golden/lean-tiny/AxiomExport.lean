/-
  Everything Axiom exported.
-/
import AxiomExport.Prelude
import AxiomExport.tiny.Weights
import AxiomExport.tiny.Network
import AxiomExport.tiny.Obligations
import AxiomExport.Axioms
