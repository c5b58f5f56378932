/-
  Which axioms every `complete` theorem rests on. Lean prints them when
  this file is checked: a complete proof uses none (or only Lean's
  standard `propext`, `Quot.sound`, `Classical.choice`), never `sorryAx`.
-/
import AxiomExport.acas_1_1.Obligations

