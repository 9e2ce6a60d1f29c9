#!/usr/bin/env bash
# The crash tests with many kills each (default 500): SIGKILL during
# ingestion (tests/crash.rs) and during rebuild (tests/rebuild.rs).
#   bash scripts/crash.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
MMINDEX_CRASH_ITERS="${1:-500}" cargo test --release --test crash --test rebuild -- --nocapture
