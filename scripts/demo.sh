#!/usr/bin/env bash
# The demo: installs missing system packages, builds, indexes the sample
# photographs in data/photos, makes transformed copies of a few of them
# (rotated 20°, scaled 0.6, JPEG quality 30) and searches with each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

cargo build --release --bin mmindex --example make_queries
bin=target/release/mmindex
out=target/demo
rm -rf "$out"
mkdir -p "$out"

"$bin" build --index "$out/index" --images data/photos --words 500
"$bin" stats --index "$out/index"
"$bin" verify --index "$out/index"
target/release/examples/make_queries data/photos "$out/queries" astronaut.jpg coffee.jpg rocket.jpg
"$bin" search --index "$out/index" --top-k 3 "$out"/queries/*
