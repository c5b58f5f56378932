#!/usr/bin/env bash
# The main job on a bundled example: build Axiom, describe the bundled XOR
# network, run it, then verify one property that holds (unsat, exit 0) and
# one that is violated (sat with a counterexample, exit 1), and prove every
# obligation of the bundled .axiom specs with `axiom check`; then certify the
# XOR spec into a signed bundle (with a fresh key) and re-check that bundle
# independently with `axiom cert verify --recheck`, and export the bundle's
# obligations to Lean 4 (`axiom export lean`). Every audited command appends
# a signed record to the demo's audit log, which is verified and listed last.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet --bin axiom
axiom=target/release/axiom
demo="$(mktemp -d)"
trap 'rm -rf "$demo"' EXIT
export AXIOM_AUDIT_LOG="$demo/audit.log"
set -x
"$axiom" keygen --out "$demo/signing.key"
export AXIOM_AUDIT_KEY="$demo/signing.key"
"$axiom" info examples/models/xor.onnx
"$axiom" run examples/models/xor.onnx --input '[[0, 0], [0, 1], [1, 0], [1, 1]]'
"$axiom" verify examples/models/xor.onnx examples/properties/xor_low.vnnlib
"$axiom" verify examples/models/xor.onnx examples/properties/xor_high.vnnlib || test $? -eq 1
"$axiom" check examples/specs
"$axiom" certify examples/specs/xor.axiom --key "$demo/signing.key" --out "$demo/xor.bundle"
"$axiom" cert verify "$demo/xor.bundle" --pubkey "$demo/signing.key.pub" --recheck
"$axiom" export lean "$demo/xor.bundle" --pubkey "$demo/signing.key.pub" --out "$demo/xor-lean"
"$axiom" audit verify
"$axiom" audit show
"$axiom" audit report --out "$demo/audit.html"
