#!/usr/bin/env bash
# The whole test suite: install what is missing, build the shipped Release
# (-O2) and run every test, then rebuild the soundness-bearing tests at
# -O3 -march=native and the arithmetic properties at -O0 and run them again
# (the enclosures must hold at every optimization level).
# Environment: QBOUND_CASES_MULTIPLIER=10 for the long mode, QBOUND_SEED=N to
# replay or vary the seed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
ulimit -c 0  # a crashing test must fail fast, not dump core
jobs=$(nproc)

run_variant() {
  local dir=$1 build_type=$2 extra=$3 labels=$4
  echo "=== qbound tests: $dir (CMAKE_BUILD_TYPE=$build_type, extra flags '${extra}', labels '${labels:-all}') ==="
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$build_type" -DQBOUND_EXTRA_FLAGS="$extra" >/dev/null
  if [ -z "$labels" ]; then
    cmake --build "$dir" -j"$jobs"
  else
    # Only the labels' test executables (and the library they need).
    local targets=()
    for l in ${labels//|/ }; do targets+=("tests_$l"); done
    cmake --build "$dir" -j"$jobs" --target "${targets[@]}"
  fi
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${labels:+-L "$labels"})
}

# The shipped Release (-O2): everything. Then the soundness-bearing code
# (number types, proof steps, bounds, verification, forward enclosures) again
# at -O3 -march=native, and the arithmetic properties at -O0, so no
# optimization level can silently break an enclosure.
run_variant build Release "" ""
run_variant build-O3-native None "-O3 -march=native" "arith|proofs|bounds|verify|net"
run_variant build-O0 None "-O0" "arith"
echo "=== qbound tests: all variants passed ==="
