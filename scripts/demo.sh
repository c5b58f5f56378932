#!/usr/bin/env bash
# The main job on a bundled example: build Axiom, describe the bundled XOR
# network and its property, and run the network on a batch of inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet --bin axiom
axiom=target/release/axiom
set -x
"$axiom" info examples/models/xor.onnx
"$axiom" info examples/properties/xor_low.vnnlib
"$axiom" run examples/models/xor.onnx --input '[[0, 0], [0, 1], [1, 0], [1, 1]]'
