#!/usr/bin/env bash
# Benchmark: a signed certificate for every `unsat` instance of an
# instances.csv (default: ACAS Xu from $AXIOM_BENCHMARKS), then an independent
# `axiom cert verify --recheck` of each. Writes one CSV row per instance:
#   onnx,vnnlib,verdict,solve_s,recheck_s,cert_bytes,leaves,ok
# and a summary. Uses the release binary; run from the repository root:
#   scripts/bench-certificates.sh [INSTANCES.csv] [OUT.csv]
set -euo pipefail
bench="${AXIOM_BENCHMARKS:-../shared/benchmarks}"
csv="${1:-$bench/acasxu/instances.csv}"
out="${2:-target/bench-certificates.csv}"
if [ ! -f "$csv" ]; then
  echo "skipping: $csv not found (set AXIOM_BENCHMARKS, or run scripts/fetch-benchmarks.sh)" >&2
  exit 0
fi
cargo build --release --quiet
axiom="$PWD/target/release/axiom"
dir="$(cd "$(dirname "$csv")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$axiom" keygen --out "$work/key" >/dev/null
echo "onnx,vnnlib,verdict,solve_s,recheck_s,cert_bytes,leaves,ok" > "$out"
n=0; failed=0
while IFS=, read -r onnx vnnlib timeout expected; do
  [[ "$onnx" == *onnx* && "$onnx" != onnx ]] || continue
  [ "${expected:-}" = "unsat" ] || continue
  n=$((n + 1))
  cert="$work/$n.cert"
  log="$work/$n.log"
  "$axiom" verify "$dir/$onnx" "$dir/$vnnlib" --timeout "$timeout" \
    --cert "$cert" --key "$work/key" >"$log.out" 2>"$log" || true
  verdict="$(head -1 "$log.out")"
  solve="$(grep -o 'in [0-9.]* s with' "$log" | grep -o '[0-9.]*' || echo '')"
  leaves="$(grep -o '^re-check: [0-9]* leaves' "$log" | grep -o '[0-9]*' || echo '')"
  start=$(date +%s.%N)
  if "$axiom" cert verify "$cert" --model "$dir/$onnx" --pubkey "$work/key.pub" --recheck >/dev/null 2>&1; then ok=yes; else ok=no; failed=$((failed + 1)); fi
  recheck=$(echo "$(date +%s.%N) - $start" | bc)
  bytes=$(stat -c %s "$cert" 2>/dev/null || echo 0)
  echo "$onnx,$vnnlib,$verdict,$solve,$recheck,$bytes,$leaves,$ok" | tee -a "$out"
done < "$csv"
awk -F, 'NR > 1 { s += $4; r += $5; b += $6; if ($5 > m) { m = $5; w = $1 " " $2 } }
  END { printf "%d certificates: solve %.1f s, recheck %.1f s in total; slowest recheck %.2f s (%s); %.1f MB of certificates\n", NR - 1, s, r, m, w, b / 1e6 }' "$out"
echo "$failed of $n certificates failed the re-check"
[ "$failed" -eq 0 ]
