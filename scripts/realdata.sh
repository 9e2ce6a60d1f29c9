#!/usr/bin/env bash
# Downloads and prepares the data of the real-photo scale benchmark
# (docs/EVALUATION.md, "Real-photo scale benchmark"): Debian packages that
# ship photographs and photo textures, unpacked into a cache, then filtered,
# deduplicated and normalised by scripts/realdata.py into
# $MMINDEX_REAL_DATA (default /work/realdata) with a manifest.tsv giving
# every file's package, version, licence and original path.
#
#   bash scripts/realdata.sh            # idempotent: keeps what is there
#   bash scripts/realdata.sh --force    # rewrites the data folder
#
# Needs apt-get (Debian's package lists; run `apt-get update` once), dpkg-deb
# and Python 3 with Pillow (python3-pil, installed here when missing).
# About 2.7 GB of packages in the cache, 1 GB of data.
set -euo pipefail
cache=${MMINDEX_REAL_CACHE:-/work/realdata-cache}
out=${MMINDEX_REAL_DATA:-/work/realdata}
here=$(cd "$(dirname "$0")" && pwd)
packages=(
  gcompris-qt-data
  python3-skimage
  python3-sklearn
  flightgear-data-base
  flightgear-data-models
  flightgear-data-ai
  supertuxkart-data
  extremetuxracer-data
)
python=/usr/bin/python3
if ! "$python" -c 'import PIL.features as f; assert f.check("webp")' 2>/dev/null; then
  apt-get install -y -qq python3-pil >/dev/null
fi
mkdir -p "$cache/deb" "$cache/x"
for p in "${packages[@]}"; do
  if ! ls "$cache/deb/${p}_"*.deb >/dev/null 2>&1; then
    (cd "$cache/deb" && apt-get download "$p")
  fi
  if [ ! -e "$cache/x/$p/.done" ]; then
    rm -rf "$cache/x/$p"
    mkdir -p "$cache/x/$p"
    dpkg-deb -x "$cache/deb/${p}_"*.deb "$cache/x/$p"
    touch "$cache/x/$p/.done"
  fi
done
if [ -s "$out/manifest.tsv" ] && [ "${1:-}" != "--force" ]; then
  echo "$out/manifest.tsv exists (--force rewrites it)"
  # Files per folder, package and cut (whole image or tile).
  awk -F'\t' 'NR > 1 { split($1, d, "/"); print d[1], $2, ($7 == "whole" ? "whole" : "tile") }' \
    "$out/manifest.tsv" | sort | uniq -c
  exit 0
fi
rm -rf "$out/images" "$out/queries" "$out/distractors"
"$python" "$here/realdata.py" "$cache" "$out"
