#!/usr/bin/env bash
# The bench tier: Axiom's long suites and benchmarks, compared with the
# committed baseline (bench/baseline.json). Runs, with progress on stderr:
# ACAS Xu (all 186 instances, competition timeouts), each VNN-COMP 2022
# category (a sample with a per-instance cap; categories the engine cannot
# run yet are reported as unsupported), certificates solved and re-checked on
# an ACAS Xu sample, the CPU forward pass, the full differential soundness
# test and the ignored bench_* tests. Writes target/bench/<date>/result.json
# and a table; exits 1 on a wrong verdict, a failed suite, fewer solved
# instances, or a time over 1.5x the baseline (corrected for machine speed,
# confirmed by a second run). About 15 minutes on a 2-core machine, builds
# included (more once the engine runs the VNN-COMP 2022 categories: up to 20
# instances of at most 10 s each per category).
#
#   scripts/bench.sh                      # everything
#   scripts/bench.sh --only acasxu,forward
#   scripts/bench.sh --update-baseline    # record this run as the baseline
#   scripts/bench.sh --help               # every option
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet -p axiom-ml -p axiom-bench
exec target/release/axiom-bench "$@"
