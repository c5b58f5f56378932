#!/bin/sh
# Checks this export with a plain `lean` binary (Lean 4 core only): each
# module in dependency order, then the axioms of every complete theorem.
# `lake build` does the same with the lakefile.
set -eu
cd "$(dirname "$0")"
out=.lean-build
mkdir -p "$out"
mkdir -p "$out/$(dirname AxiomExport/Prelude)"
echo "lean AxiomExport/Prelude.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/Prelude.olean" AxiomExport/Prelude.lean > "$out/AxiomExport.Prelude.log" 2>&1 || { cat "$out/AxiomExport.Prelude.log"; exit 1; }
mkdir -p "$out/$(dirname AxiomExport/acas_1_1/Weights)"
echo "lean AxiomExport/acas_1_1/Weights.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/acas_1_1/Weights.olean" AxiomExport/acas_1_1/Weights.lean > "$out/AxiomExport.acas_1_1.Weights.log" 2>&1 || { cat "$out/AxiomExport.acas_1_1.Weights.log"; exit 1; }
mkdir -p "$out/$(dirname AxiomExport/acas_1_1/Network)"
echo "lean AxiomExport/acas_1_1/Network.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/acas_1_1/Network.olean" AxiomExport/acas_1_1/Network.lean > "$out/AxiomExport.acas_1_1.Network.log" 2>&1 || { cat "$out/AxiomExport.acas_1_1.Network.log"; exit 1; }
mkdir -p "$out/$(dirname AxiomExport/acas_1_1/Obligations)"
echo "lean AxiomExport/acas_1_1/Obligations.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/acas_1_1/Obligations.olean" AxiomExport/acas_1_1/Obligations.lean > "$out/AxiomExport.acas_1_1.Obligations.log" 2>&1 || { cat "$out/AxiomExport.acas_1_1.Obligations.log"; exit 1; }
mkdir -p "$out/$(dirname AxiomExport/Axioms)"
echo "lean AxiomExport/Axioms.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/Axioms.olean" AxiomExport/Axioms.lean > "$out/AxiomExport.Axioms.log" 2>&1 || { cat "$out/AxiomExport.Axioms.log"; exit 1; }
if grep -q sorryAx "$out/AxiomExport.Axioms.log"; then
  echo "a complete theorem depends on sorry:"; cat "$out/AxiomExport.Axioms.log"; exit 1
fi
cat "$out/AxiomExport.Axioms.log"
echo "checked: every module elaborates; complete theorems use no sorry"
