#!/usr/bin/env bash
# Runs Axiom's whole test suite. Tests that need the shared benchmark set
# (../shared/benchmarks, or $AXIOM_BENCHMARKS) print a reason and skip when
# it is absent. Ends with one summary line over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?
# The CUDA backend (feature `cuda`): built and tested here too. Without a GPU
# its tests print `skipped: cuda: <reason>` and are counted below as skipped.
cargo test -p axiom-backends --features cuda --test it 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     /^skipped: cuda: / { c += 1; reason = substr($0, 16) }
     END { printf "summary: %d passed, %d failed, %d skipped\n", p - c, f, s + c;
           if (c > 0) printf "  of the skipped, %d are CUDA tests or their GPU parts (no GPU here: %s)\n", c, reason }' "$log"
exit "$status"
