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
mkdir -p "$out/$(dirname AxiomExport/tiny/Weights)"
echo "lean AxiomExport/tiny/Weights.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/tiny/Weights.olean" AxiomExport/tiny/Weights.lean > "$out/AxiomExport.tiny.Weights.log" 2>&1 || { cat "$out/AxiomExport.tiny.Weights.log"; exit 1; }
mkdir -p "$out/$(dirname AxiomExport/tiny/Network)"
echo "lean AxiomExport/tiny/Network.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/tiny/Network.olean" AxiomExport/tiny/Network.lean > "$out/AxiomExport.tiny.Network.log" 2>&1 || { cat "$out/AxiomExport.tiny.Network.log"; exit 1; }
mkdir -p "$out/$(dirname AxiomExport/tiny/Obligations)"
echo "lean AxiomExport/tiny/Obligations.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/tiny/Obligations.olean" AxiomExport/tiny/Obligations.lean > "$out/AxiomExport.tiny.Obligations.log" 2>&1 || { cat "$out/AxiomExport.tiny.Obligations.log"; exit 1; }
mkdir -p "$out/$(dirname AxiomExport/Axioms)"
echo "lean AxiomExport/Axioms.lean"
LEAN_PATH="$out" lean -o "$out/AxiomExport/Axioms.olean" AxiomExport/Axioms.lean > "$out/AxiomExport.Axioms.log" 2>&1 || { cat "$out/AxiomExport.Axioms.log"; exit 1; }
if grep -q sorryAx "$out/AxiomExport.Axioms.log"; then
  echo "a complete theorem depends on sorry:"; cat "$out/AxiomExport.Axioms.log"; exit 1
fi
cat "$out/AxiomExport.Axioms.log"
echo "checked: every module elaborates; complete theorems use no sorry"
