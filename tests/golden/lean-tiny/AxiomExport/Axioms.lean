/-
  Which axioms every `complete` theorem rests on. Lean prints them when
  this file is checked: a complete proof uses none (or only Lean's
  standard `propext`, `Quot.sound`, `Classical.choice`), never `sorryAx`.
-/
import AxiomExport.tiny.Obligations

#print axioms AxiomExport.tiny.nonneg
#print axioms AxiomExport.tiny.small
