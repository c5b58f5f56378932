#!/usr/bin/env bash
# VNN-COMP tool interface: install_tool.sh v1
# Installs the build dependencies (scripts/setup.sh) and builds the release
# binary target/release/axiom.
set -euo pipefail

if [ "$#" -ne 1 ] || [ "$1" != "v1" ]; then
  echo "usage: $0 v1  (only version v1 of the VNN-COMP interface is supported)" >&2
  exit 1
fi

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
bash scripts/setup.sh
cargo build --release --bin axiom
echo "install_tool: built $repo/target/release/axiom" >&2
