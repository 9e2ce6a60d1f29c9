#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60):
#   bash scripts/fuzz.sh [SECONDS]
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on stable.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
for t in $(cargo fuzz list); do
  echo "== $t ($secs s)"
  mkdir -p "fuzz/corpus/$t"
  seeds=()
  # Seed inputs (small images made from data/photos) help the image target
  # get past format detection into the decoders.
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  cargo fuzz run "$t" "fuzz/corpus/$t" "${seeds[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048
done
