#!/usr/bin/env bash
# Runs Axiom's whole test suite. Tests that need the shared benchmark set
# (../shared/benchmarks, or $AXIOM_BENCHMARKS) print a reason and skip when
# it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace
