#!/usr/bin/env bash
# Downloads the public VNN-COMP 2021 ACAS Xu and tiny ("test") benchmarks into
# DIR in the layout Axiom's tests and benchmarks expect:
#   DIR/acasxu/{*.onnx, prop_*.vnnlib, instances.csv}
#   DIR/tiny/{*.onnx, *.vnnlib, instances.csv}
# Then: export AXIOM_BENCHMARKS=DIR
# Needs git and network access to github.com. reference_outputs.json and the
# NNet files are not part of that repository; tests that need them skip.
set -euo pipefail
dir=${1:?usage: scripts/fetch-benchmarks.sh DIR}
if [ -e "$dir/acasxu" ] || [ -e "$dir/tiny" ]; then
  echo "fetch-benchmarks: $dir already holds benchmarks; not overwriting" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --depth 1 --filter=blob:none --sparse \
  https://github.com/stanleybak/vnncomp2021.git "$tmp/vnncomp2021"
git -C "$tmp/vnncomp2021" sparse-checkout set benchmarks/acasxu benchmarks/test
src="$tmp/vnncomp2021/benchmarks"
mkdir -p "$dir/acasxu" "$dir/tiny"
cp "$src"/acasxu/*.onnx "$src"/acasxu/*.vnnlib "$dir/acasxu/"
cp "$src"/test/*.onnx "$src"/test/*.vnnlib "$dir/tiny/"
# The competition lists instances as onnx,vnnlib,timeout without a header.
{ echo "onnx,vnnlib,timeout_s"; sed 's/\r$//' "$src/acasxu/acasxu_instances.csv"; } >"$dir/acasxu/instances.csv"
{ echo "onnx,vnnlib,timeout_s"; sed 's/\r$//' "$src/test/test_instances.csv"; } >"$dir/tiny/instances.csv"
echo "fetched into $dir; now: export AXIOM_BENCHMARKS=$dir"
