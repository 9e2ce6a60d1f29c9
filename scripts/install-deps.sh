#!/usr/bin/env bash
# Installs the system packages mmindex builds against (OpenCV 4 headers and
# libraries, clang for the binding generator) and Python 3 with venv for
# the Python package, when they are missing.
# Idempotent: does nothing on a machine that has them.
set -euo pipefail

need=()
pkg-config --exists opencv4 2>/dev/null || need+=(libopencv-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v clang >/dev/null 2>&1 || need+=(clang)
# bindgen loads libclang at run time.
ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1 || need+=(libclang-dev)
# The Python package is built and tested in a virtual environment.
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (rustup) first" >&2
  exit 1
fi
