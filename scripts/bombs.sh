#!/usr/bin/env bash
# Peak memory of `mmindex add` on each decompression bomb and lying header
# of tests/common/bombs.rs, against a small index built from data/photos:
#   bash scripts/bombs.sh [MMINDEX_BINARY]
# Prints, per file, the outcome line and the maximum resident set size.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin mmindex --example bombs >/dev/null
bin="${1:-target/release/mmindex}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/examples/bombs "$work/bombs" >/dev/null
"$bin" build --index "$work/idx" --images data/photos --words 50 >/dev/null
for f in "$work"/bombs/*; do
  out="$( { /usr/bin/time -v "$bin" add --index "$work/idx" "$f" 2>&1 || true; } )"
  rss="$(grep 'Maximum resident' <<<"$out" | awk '{print $NF}')"
  what="$(grep -E '^(skipped|note|error|added)' <<<"$out" | sed "s|$work/bombs/||" | tr '\n' ' ' || true)"
  printf '%-44s %8s KB  %s\n' "$(basename "$f")" "$rss" "$what"
done
