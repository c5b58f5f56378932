#!/usr/bin/env bash
# VNN-COMP tool interface: prepare_instance.sh v1 BENCHMARK ONNX VNNLIB
# Exits 0 when the instance is ready to run: both files exist and axiom can
# read them. Non-zero (with a message) otherwise.
set -uo pipefail

if [ "$#" -ne 4 ] || [ "$1" != "v1" ]; then
  echo "usage: $0 v1 BENCHMARK ONNX VNNLIB" >&2
  exit 1
fi
benchmark="$2"
onnx="$3"
vnnlib="$4"

repo="$(cd "$(dirname "$0")/.." && pwd)"
axiom="$repo/target/release/axiom"
if [ ! -x "$axiom" ]; then
  echo "prepare_instance: $axiom not found; run install_tool.sh v1 first" >&2
  exit 1
fi

for f in "$onnx" "$vnnlib"; do
  if [ ! -f "$f" ]; then
    echo "prepare_instance ($benchmark): $f does not exist" >&2
    exit 1
  fi
done

if ! "$axiom" info "$onnx" >/dev/null; then
  echo "prepare_instance ($benchmark): axiom cannot read the model $onnx" >&2
  exit 1
fi
if ! "$axiom" info "$vnnlib" >/dev/null; then
  echo "prepare_instance ($benchmark): axiom cannot read the property $vnnlib" >&2
  exit 1
fi
exit 0
