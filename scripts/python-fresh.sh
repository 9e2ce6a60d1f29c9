#!/usr/bin/env bash
# The README's Python set-up exactly as a user runs it: a new virtual
# environment, `pip install ./python` (an optimised release wheel, built
# through maturin in pip's isolated build environment), then the README's
# example, which must find the original first for every transformed query.
# `.ci/run` runs it after the test command, on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/readme-venv
rm -rf "$venv" target/readme-example.idx
python3 -m venv "$venv"
"$venv/bin/pip" --disable-pip-version-check -q install ./python
out=$("$venv/bin/python" python/examples/readme.py)
last=$(printf '%s\n' "$out" | tail -n 1)
echo "$last"
total=$(printf '%s\n' "$out" | grep -c -- ' -> ')
if [ "$last" != "original first: $total/$total" ] || [ "$total" -eq 0 ]; then
  printf '%s\n' "$out" >&2
  echo "python-fresh: the README example did not find every original first" >&2
  exit 1
fi
