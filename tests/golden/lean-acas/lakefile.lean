import Lake
open Lake DSL

package «axiom-export»

@[default_target]
lean_lib AxiomExport
