#!/usr/bin/env bash
# The whole test suite: install what is missing, build the shipped Release
# (-O2) and run every test; rebuild the soundness-bearing tests at
# -O3 -march=native and run them again; rebuild the unit tests with
# AddressSanitizer + UndefinedBehaviorSanitizer at -O1 (a third
# optimization level, and any memory error or undefined behaviour fails the
# test); then fuzz every file reader briefly (scripts/fuzz.sh, 10 s each).
# Environment: QBOUND_CASES_MULTIPLIER=10 for the long mode, QBOUND_SEED=N to
# replay or vary the seed, QBOUND_TEST_FUZZ_SECONDS (default 10; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
ulimit -c 0  # a crashing test must fail fast, not dump core
jobs=$(nproc)

# run_variant DIR BUILD_TYPE EXTRA_FLAGS LABELS [cmake args...]
run_variant() {
  local dir=$1 build_type=$2 extra=$3 labels=$4 start=$SECONDS
  shift 4
  echo "=== qbound tests: $dir (CMAKE_BUILD_TYPE=$build_type, extra flags '${extra}', labels '${labels:-all}' $*) ==="
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$build_type" -DQBOUND_EXTRA_FLAGS="$extra" "$@" >/dev/null
  if [ -z "$labels" ]; then
    cmake --build "$dir" -j"$jobs"
  else
    # Only the labels' test executables (and the library they need).
    local targets=()
    for l in ${labels//|/ }; do targets+=("tests_$l"); done
    cmake --build "$dir" -j"$jobs" --target "${targets[@]}"
  fi
  local built=$SECONDS
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${labels:+-L "$labels"})
  echo "=== qbound tests: $dir took $((SECONDS - start)) s (build $((built - start)) s, tests $((SECONDS - built)) s) ==="
}

# The shipped Release (-O2): everything. Then the enclosure-bearing code (the
# number types with their directed-rounding substitutes, the proof steps and
# the fast float-sound path) again at -O3 -march=native, so no optimization
# level can silently break an enclosure. (The verification engine's interval
# code is the arith label's number types; the forward-pass enclosure tests,
# label net, run again under the sanitizers at -O1 below; the bounds' MPFR
# arithmetic does not depend on the compiler's FP code.)
run_variant build Release "" ""
run_variant build-O3-native None "-O3 -march=native" "arith|proofs|fast"
# ASan + UBSan at -O1: the arithmetic properties and the bounds with a tenth
# of their cases (QBOUND_CASES_DIVISOR=10, set by cmake/hardening.cmake on
# those tests of this build), the network, reader (with the hostile corpus)
# and quantizer tests in full. (The proof steps exercise the same library
# code as these labels; they run at -O2 and -O3.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_variant build-asan None "-O1" "arith|net|io|quant|bounds" -DQBOUND_SANITIZE=ON
# The file readers under libFuzzer, briefly: the targets keep building and working.
fuzz_seconds=${QBOUND_TEST_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" != 0 ]; then
  echo "=== qbound tests: fuzzing the readers, ${fuzz_seconds} s each ==="
  fuzz_start=$SECONDS
  bash scripts/fuzz.sh "$fuzz_seconds"
  echo "=== qbound tests: fuzzing took $((SECONDS - fuzz_start)) s ==="
fi
echo "=== qbound tests: all variants passed in $SECONDS s ==="
