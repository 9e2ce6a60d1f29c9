#!/usr/bin/env bash
# The Python package's checks: builds python/ into a virtual environment
# under target/ (created once), type-checks the package, its examples and
# tests (mypy --strict), and runs its tests (pytest python/tests).
#
# The extension is built with cargo's dev profile (opt-level 2 here), which
# reuses the dependencies `cargo test` compiled into target/; a plain
# `pip install ./python` builds an optimised release wheel instead.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/pyvenv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install pytest numpy tqdm mypy "dask[distributed]" pandas
MATURIN_PEP517_ARGS="--profile dev" "${pip[@]}" install --force-reinstall --no-deps ./python

(cd python && "../$venv/bin/mypy" --strict mmindex examples tests)
"$venv/bin/python" -m pytest -q python/tests
