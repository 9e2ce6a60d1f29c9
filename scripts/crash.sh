#!/usr/bin/env bash
# The crash test with many kills (default 500):  bash scripts/crash.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
MMINDEX_CRASH_ITERS="${1:-500}" cargo test --release --test crash -- --nocapture
