#!/usr/bin/env bash
# Installs what Axiom needs to build beyond a Rust toolchain, when it is
# missing: the Z3 development files (libz3-dev) the prover links against.
# Safe to run again; does nothing when everything is present.
set -euo pipefail

have_z3() {
  # The header and the shared library, as the z3 crate's system build needs.
  [ -f /usr/include/z3.h ] && ldconfig -p 2>/dev/null | grep -q 'libz3\.so'
}

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust first (https://rustup.rs)" >&2
  exit 2
fi

if ! have_z3; then
  echo "setup: installing libz3-dev" >&2
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libz3-dev >/dev/null
fi
