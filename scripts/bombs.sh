#!/usr/bin/env bash
# Peak memory on each decompression bomb and lying header of
# tests/common/bombs.rs, against a small index built from data/photos,
# through the command line and through the server:
#   bash scripts/bombs.sh [MMINDEX_BINARY]
# Prints, per file, the outcome and the maximum resident set size of
# `mmindex add FILE` (/usr/bin/time -v), then of a fresh `mmindex serve`
# answering `POST /search` with the file as its body (VmHWM from
# /proc/PID/status after the answer).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin mmindex --example bombs >/dev/null
bin="${1:-target/release/mmindex}"
work="$(mktemp -d)"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
target/release/examples/bombs "$work/bombs" >/dev/null
"$bin" build --index "$work/idx" --images data/photos --words 50 >/dev/null
echo "== mmindex add FILE"
for f in "$work"/bombs/*; do
  out="$( { /usr/bin/time -v "$bin" add --index "$work/idx" "$f" 2>&1 || true; } )"
  rss="$(grep 'Maximum resident' <<<"$out" | awk '{print $NF}')"
  what="$(grep -E '^(skipped|note|error|added)' <<<"$out" | sed "s|$work/bombs/||" | tr '\n' ' ' || true)"
  printf '%-44s %8s KB  %s\n' "$(basename "$f")" "$rss" "$what"
done
echo "== POST /search (a fresh server per file)"
for f in "$work"/bombs/*; do
  "$bin" serve --index "$work/idx" --listen 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
  server=$!
  addr=""
  for _ in $(seq 1 200); do
    addr="$(grep -o 'http://[0-9.:]*' "$work/serve.out" || true)"
    [[ -n "$addr" ]] && break
    sleep 0.05
  done
  answer="$(curl -s -m 120 -o "$work/body" -w '%{http_code}' --data-binary @"$f" "$addr/search" || true)"
  rss="$(awk '/VmHWM/ {print $2}' "/proc/$server/status")"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
  printf '%-44s %8s KB  %s %s\n' "$(basename "$f")" "$rss" "$answer" "$(head -c 120 "$work/body")"
done
