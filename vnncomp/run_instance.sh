#!/usr/bin/env bash
# VNN-COMP tool interface:
#   run_instance.sh v1 BENCHMARK ONNX VNNLIB RESULTS_FILE TIMEOUT
# Runs `axiom verify` and writes the result (unsat, sat with its
# counterexample, unknown or timeout) to RESULTS_FILE. Exits 0 whatever the
# verdict, as long as the result file was written; non-zero otherwise.
set -uo pipefail

if [ "$#" -ne 6 ] || [ "$1" != "v1" ]; then
  echo "usage: $0 v1 BENCHMARK ONNX VNNLIB RESULTS_FILE TIMEOUT" >&2
  exit 1
fi
onnx="$3"
vnnlib="$4"
results="$5"
timeout="$6"

repo="$(cd "$(dirname "$0")/.." && pwd)"
axiom="$repo/target/release/axiom"
if [ ! -x "$axiom" ]; then
  echo "run_instance: $axiom not found; run install_tool.sh v1 first" >&2
  exit 1
fi

# A stale result from an earlier run must not pass for this one.
rm -f "$results"
"$axiom" verify "$onnx" "$vnnlib" --timeout "$timeout" --result "$results" --force
status=$?
# 0 unsat, 1 sat, 3 unknown/timeout: the result file holds the answer.
if [ -s "$results" ] && { [ "$status" -eq 0 ] || [ "$status" -eq 1 ] || [ "$status" -eq 3 ]; }; then
  exit 0
fi
echo "run_instance: axiom verify exited with $status and wrote no result" >&2
exit "$(( status == 0 ? 1 : status ))"
