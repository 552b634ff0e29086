#!/usr/bin/env bash
# The whole test suite: install what is missing, build the shipped Release
# (-O2) and run every test, then rebuild at -O0 and at -O3 -march=native and
# run the arithmetic, proof-step and CLI properties again there (the
# soundness claims must hold at every optimization level).
# Environment: QBOUND_CASES_MULTIPLIER=10 for the long mode, QBOUND_SEED=N to
# replay or vary the seed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
ulimit -c 0  # a crashing test must fail fast, not dump core
jobs=$(nproc)

run_variant() {
  local dir=$1 build_type=$2 extra=$3 labels=$4
  echo "=== qbound tests: $dir (CMAKE_BUILD_TYPE=$build_type, extra flags '${extra}') ==="
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$build_type" -DQBOUND_EXTRA_FLAGS="$extra" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${labels:+-L "$labels"})
}

run_variant build Release "" ""
run_variant build-O0 None "-O0" "arith|proofs|net|io|quant|bounds|verify|cli"
run_variant build-O3-native None "-O3 -march=native" "arith|proofs|net|io|quant|bounds|verify|cli"
echo "=== qbound tests: all variants passed ==="
