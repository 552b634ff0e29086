#!/usr/bin/env bash
# The whole test suite (CI runs it: .ci/run). Stages, each printing its
# compiler, flags, labels and time, and a summary at the end:
#   1. g++ Release (-O2, the shipped build): everything, every label
#      (including "toolchain": the unsafe-flag refusals and the
#      miscompilation guard's own tests).
#   2. g++ -O3 -march=x86-64-v2 (labels arith and fast) and 3. g++ -O3
#      -march=x86-64-v3 (arith, proofs and fast): the enclosure-bearing
#      labels again, so that no optimization level or ISA level silently
#      breaks an enclosure (the proof steps, which exercise the same number
#      types, are left out at v2 to keep CI under 30 minutes). Named
#      ISA levels rather than -march=native, so that every CI machine runs
#      the same code; a level this CPU cannot run is skipped, and says so.
#   4. g++ -O3 -march=x86-64-v4: refused at configure time by the
#      miscompilation guard (GCC 12.2 miscompiles with AVX-512, see
#      cmake/miscompile/). The stage checks that the refusal happens (the
#      guard works) where the compiler really has the bug, and that the
#      advice (-mno-avx512f) is accepted. Skipped without AVX-512.
#   5. clang++-14 -O3 at the best ISA level this CPU runs, at most x86-64-v3
#      (clang 14 miscompiles at v4, cmake/miscompile/masked_scatter.cpp, so
#      the guard refuses it), else v2: the whole project built with clang (so
#      clang-only errors and warnings are caught), labels arith, net, fast,
#      verify and golden run (the proof steps run in stages 1 and 3: left out
#      here to keep CI under 30 minutes).
#   6. g++ -O1 with AddressSanitizer + UndefinedBehaviorSanitizer: labels
#      arith, net, io, quant, bounds, fast and verify (the property tests of
#      arith, bounds and verify with a tenth of their cases,
#      QBOUND_CASES_DIVISOR=10, set by cmake/hardening.cmake; fast in full:
#      its counts are fixed); any report fails the test.
#   7. The file readers under libFuzzer, briefly (scripts/fuzz.sh, 10 s each).
# Environment: QBOUND_CASES_MULTIPLIER=10 for the long mode, QBOUND_SEED=N to
# replay or vary the seed, QBOUND_TEST_FUZZ_SECONDS (default 10; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
ulimit -c 0  # a crashing test must fail fast, not dump core
jobs=$(nproc)
summary=()

# cpu_level: the highest x86-64 micro-architecture level this CPU runs (1..4).
cpu_has() {
  local f
  for f in "$@"; do grep -qw "$f" /proc/cpuinfo || return 1; done
}
level_flags=("" "" "cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3" "avx avx2 bmi1 bmi2 f16c fma abm movbe xsave"
             "avx512f avx512bw avx512cd avx512dq avx512vl")
cpu_level() {
  local level=1
  cpu_has ${level_flags[2]} && level=2
  [ $level = 2 ] && cpu_has ${level_flags[3]} && level=3
  [ $level = 3 ] && cpu_has ${level_flags[4]} && level=4
  echo $level
}
# cpu_lacks V: the flags x86-64-vV needs (beyond the level below) that /proc/cpuinfo does not list.
cpu_lacks() {
  local f out=""
  for f in ${level_flags[$1]}; do grep -qw "$f" /proc/cpuinfo || out="$out $f"; done
  echo "${out# }"
}
level=$(cpu_level)
echo "=== qbound tests: this CPU runs x86-64-v$level ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')) ==="

# run_variant DIR CXX BUILD_TYPE EXTRA_FLAGS BUILD LABELS [cmake args...]
#   BUILD: "all" builds every target, "labels" only the labels' tests (and
#   the library they need). LABELS empty: every test.
run_variant() {
  local dir=$1 cxx=$2 build_type=$3 extra=$4 build=$5 labels=$6 start=$SECONDS
  shift 6
  echo "=== qbound tests: $dir: $($cxx --version | head -1), CMAKE_BUILD_TYPE=$build_type, extra flags '${extra}', labels '${labels:-all}'${*:+, $*} ==="
  mkdir -p "$dir"
  cmake -S . -B "$dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$build_type" -DQBOUND_EXTRA_FLAGS="$extra" "$@" >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; echo "=== qbound tests: $dir: configure FAILED ==="; return 1; }
  grep "toolchain guard" "$dir/configure.log" || true
  if [ "$build" = all ] || [ -z "$labels" ]; then
    cmake --build "$dir" -j"$jobs"
  else
    local targets=()
    for l in ${labels//|/ }; do targets+=("tests_$l"); done
    cmake --build "$dir" -j"$jobs" --target "${targets[@]}"
  fi
  local built=$SECONDS
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${labels:+-L "$labels"})
  local line="$dir: $cxx $build_type '${extra}' labels '${labels:-all}': $((SECONDS - start)) s (build $((built - start)) s, tests $((SECONDS - built)) s)"
  echo "=== qbound tests: $line ==="
  summary+=("$line")
}
skip() {
  echo "=== qbound tests: SKIPPED $1 ==="
  summary+=("SKIPPED $1")
}

soundness_labels="arith|proofs|fast|golden"

# 1. The shipped Release (-O2): everything.
run_variant build g++ Release "" all ""

# 2, 3. The enclosure-bearing code (the number types with their
# directed-rounding substitutes, the proof steps and the fast float-sound
# path) at -O3 for two named ISA levels, with (at v3) the golden `qbound
# info` tables and selfcheck (label golden: the build gives the -O2 build's zoo). (The verification engine's interval
# code is the arith label's number types; the forward-pass enclosure tests,
# label net, run under clang at -O3 and the sanitizers at -O1 below; the
# bounds' MPFR arithmetic does not depend on the compiler's FP code.)
for v in 2 3; do
  labels=$soundness_labels
  [ $v = 2 ] && labels="arith|fast"  # golden (the CLI) at v3 and in the clang stage: CI under 30 minutes
  if [ "$level" -ge $v ]; then
    run_variant build-O3-v$v g++ None "-O3 -march=x86-64-v$v" labels "$labels"
  else
    skip "g++ -O3 -march=x86-64-v$v: this CPU does not run x86-64-v$v (/proc/cpuinfo lacks: $(cpu_lacks $((level + 1))))"
  fi
done

# 4. g++ at x86-64-v4: the guard must refuse GCC 12.2 (configure only).
if [ "$level" -ge 4 ]; then
  start=$SECONDS
  echo "=== qbound tests: build-O3-v4-gcc: $(g++ --version | head -1), extra flags '-O3 -march=x86-64-v4': the miscompilation guard ==="
  mkdir -p build-O3-v4-gcc
  bash cmake/toolchain_guard_test.sh v4 g++ "$PWD" "$PWD/build-O3-v4-gcc" | tee build-O3-v4-gcc/guard-test.log
  result=$(grep '^PASS: ' build-O3-v4-gcc/guard-test.log | sed 's/^PASS: //')
  summary+=("build-O3-v4-gcc: $result ($((SECONDS - start)) s)")
else
  skip "g++ -O3 -march=x86-64-v4: this CPU does not run x86-64-v4 (/proc/cpuinfo lacks: $(cpu_lacks $((level + 1)))); the guard's refusal is not checked here"
fi

# 5. clang 14 at the best level this CPU runs: the whole project builds.
# At most x86-64-v3: clang 14 miscompiles at x86-64-v4, with or without
# AVX-512 code generation (cmake/miscompile/masked_scatter.cpp), so the
# toolchain guard refuses that level.
clang_level=$(( level > 3 ? 3 : level ))
[ "$clang_level" -ge 2 ] && clang_flags="-O3 -march=x86-64-v$clang_level" || clang_flags="-O3"
run_variant build-clang clang++-14 None "$clang_flags" all "arith|net|fast|verify|golden"

# 6. ASan + UBSan at -O1: the property tests of arith, bounds and verify with
# a tenth of their cases (QBOUND_CASES_DIVISOR=10, set by cmake/hardening.cmake
# on those tests of this build), fast, the network, reader (with the hostile
# corpus) and quantizer tests in full. (The proof steps exercise the same
# library code and run at -O2 and -O3.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_variant build-asan g++ None "-O1" labels "arith|net|io|quant|bounds|fast|verify" -DQBOUND_SANITIZE=ON

# 7. The file readers under libFuzzer, briefly: the targets keep building and working.
fuzz_seconds=${QBOUND_TEST_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" != 0 ]; then
  echo "=== qbound tests: fuzzing the readers, ${fuzz_seconds} s each ==="
  fuzz_start=$SECONDS
  bash scripts/fuzz.sh "$fuzz_seconds"
  summary+=("fuzzing: clang++-14 -O1 ASan+UBSan libFuzzer, ${fuzz_seconds} s per reader: $((SECONDS - fuzz_start)) s")
else
  skip "fuzzing (QBOUND_TEST_FUZZ_SECONDS=0)"
fi
echo "=== qbound tests: summary ==="
printf '  %s\n' "${summary[@]}"
echo "=== qbound tests: all variants passed in $SECONDS s ==="
