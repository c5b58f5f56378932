#!/usr/bin/env bash
# The main job on a bundled example: build Axiom, describe the bundled XOR
# network, run it, then verify one property that holds (unsat, exit 0) and
# one that is violated (sat with a counterexample, exit 1), and prove every
# obligation of the bundled .axiom specs with `axiom check`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet --bin axiom
axiom=target/release/axiom
set -x
"$axiom" info examples/models/xor.onnx
"$axiom" run examples/models/xor.onnx --input '[[0, 0], [0, 1], [1, 0], [1, 1]]'
"$axiom" verify examples/models/xor.onnx examples/properties/xor_low.vnnlib
"$axiom" verify examples/models/xor.onnx examples/properties/xor_high.vnnlib || test $? -eq 1
"$axiom" check examples/specs
