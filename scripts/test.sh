#!/usr/bin/env bash
# The test command: installs missing system packages, then runs formatting
# and lint checks (when those tools are installed), the module layering
# check (scripts/layers.sh) and every test: the library's, then the Python
# package's (scripts/python-test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --all-targets -- -D warnings
  cargo clippy -p mmindex-python --all-targets -- -D warnings
fi
bash scripts/layers.sh
cargo test
bash scripts/python-test.sh
