#!/usr/bin/env bash
# The CI tier of tests (README's test command; the long suites are in
# scripts/bench.sh): every unit, integration, end-to-end and doc test. Tests
# that need the shared benchmark set (../shared/benchmarks, or
# $AXIOM_BENCHMARKS) print a reason and skip when it is absent. Ends with one
# summary line over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?
# The CUDA backend (feature `cuda`): its tests built and run again with it.
# Without a GPU they print `skipped: cuda: <reason>` and are counted below as
# skipped. `--workspace` keeps the dependencies' features those of the run
# above, so that only the backend and its test binary are compiled again.
cargo test --workspace --features axiom-ml/cuda --test backends_it 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     /^skipped: cuda: / { c += 1; reason = substr($0, 16) }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p - c, f, s + c;
           if (c > 0) printf "  of the skipped, %d are CUDA tests or their GPU parts (no GPU here: %s)\n", c, reason }' "$log"
exit "$status"
