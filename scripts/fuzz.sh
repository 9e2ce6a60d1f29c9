#!/usr/bin/env bash
# Runs fuzz targets for N seconds each (default 60), every target unless
# some are named:
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on stable.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  echo "== $t ($secs s)"
  mkdir -p "fuzz/corpus/$t"
  seeds=()
  # Seed inputs (small images made from data/photos; the golden exported
  # vocabularies with the mode byte first) help the targets get past format
  # detection and checksums into the decoders.
  case "$t" in
    image | header) seeds=("fuzz/seeds/image") ;;
    exported) seeds=("fuzz/seeds/exported") ;;
  esac
  cargo fuzz run "$t" "fuzz/corpus/$t" "${seeds[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048
done
