#!/usr/bin/env bash
# Idempotent dependency installer for qbound (Debian 12, run as root).
# Installs only the Debian packages that are missing; does nothing (no apt
# calls at all) when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake
  libboost-dev        # Boost.Multiprecision, Boost.Interval (header-only)
  libgmp-dev          # exact rationals
  libmpfr-dev         # correctly rounded floats
  libmpfi-dev         # MPFR-endpoint intervals
  coinor-libclp-dev   # COIN-OR CLP: linear programs whose bounds qbound certifies
  catch2              # Catch2 v2, all tests
  libcli11-dev        # CLI parsing
  libfmt-dev          # formatting
  nlohmann-json3-dev  # JSON output
  libonnx-dev         # ONNX protobuf definitions (import)
  libprotobuf-dev     # protobuf runtime for ONNX
  protobuf-compiler   # protoc (ONNX/protobuf CMake config needs it)
  libbenchmark-dev    # Google Benchmark: bench/fast_paths_bench.cpp
  gnuplot-nox         # plots (PNG via cairo, SVG)
  fonts-liberation    # a font for the PNG plots
  clang-14            # libFuzzer targets (scripts/fuzz.sh)
  libclang-rt-14-dev  # libFuzzer and sanitizer runtimes for clang 14
  llvm-14             # llvm-symbolizer: sanitizer reports with file:line
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

# Node.js runs ONNX Runtime for the cross-check tests (tools/ort).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime (CPU build) from the npm registry, pinned by tools/ort's
# package-lock.json; --ignore-scripts keeps its install from fetching GPU
# binaries. Skipped when already installed.
ort_dir="$(cd "$(dirname "$0")/.." && pwd)/tools/ort"
if [ ! -f "$ort_dir/node_modules/onnxruntime-node/package.json" ]; then
  echo "install-deps: installing onnxruntime-node into tools/ort"
  (cd "$ort_dir" && npm ci --ignore-scripts --no-audit --no-fund)
fi
