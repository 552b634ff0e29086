#!/usr/bin/env bash
# Tests of the toolchain guard (cmake/toolchain_guard.cmake), run by ctest
# (label "toolchain") and by scripts/test.sh. They configure qbound, never
# build it.
#
#   toolchain_guard_test.sh configure CXX SRC DIR [cmake args...]
#       A fresh configure; prints its output, then "configure failed (exit N)"
#       or "configure succeeded" (the ctest entry matches the message).
#   toolchain_guard_test.sh fp-contract-last CXX SRC DIR
#       Configures with extra flags and checks that -ffp-contract=off comes
#       after them on every compile line, and that the guard's contraction
#       reproducer ran and passed.
#   toolchain_guard_test.sh v4 CXX SRC DIR
#       Whether CXX miscompiles the GCC 12.2 AVX-512 pattern at x86-64-v4 is
#       found out independently (the bug report's own program, compiled and
#       run here); then a configure at -O3 -march=x86-64-v4 must be refused
#       by the guard if it does (and accepted with -mno-avx512f, the advice),
#       accepted if it does not. Exit 77 (skipped) on a CPU without AVX-512.
set -uo pipefail
mode=$1 cxx=$2 src=$3 dir=$4
shift 4

configure() {  # configure DIR [args...]: output in $dir.log, status returned
  local d=$1
  shift
  rm -rf "$d"
  cmake -S "$src" -B "$d" -DCMAKE_CXX_COMPILER="$cxx" "$@" >"$d.log" 2>&1
}

cpu_runs_v4() {
  local f
  for f in avx512f avx512bw avx512cd avx512dq avx512vl; do
    grep -qw "$f" /proc/cpuinfo || return 1
  done
}

case $mode in
configure)
  mkdir -p "$(dirname "$dir")"
  configure "$dir" "$@"
  status=$?
  cat "$dir.log"
  if [ $status -ne 0 ]; then echo "configure failed (exit $status)"; else echo "configure succeeded"; fi
  ;;

fp-contract-last)
  mkdir -p "$(dirname "$dir")"
  extra="-O2 -fno-trapping-math"
  # With FMA in the ISA the compiler would contract (GCC does even in ISO
  # mode): the guard's reproducer then checks that -ffp-contract=off wins.
  if grep -qw fma /proc/cpuinfo && grep -qw avx2 /proc/cpuinfo; then extra="-O2 -march=x86-64-v3 -fno-trapping-math"; fi
  if ! configure "$dir" -DBUILD_TESTING=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DQBOUND_EXTRA_FLAGS="$extra"; then
    cat "$dir.log"
    echo "FAIL: the configure with QBOUND_EXTRA_FLAGS='$extra' was refused"
    exit 1
  fi
  grep "toolchain guard" "$dir.log"
  if ! grep -q "toolchain guard: fp_contraction ok" "$dir.log"; then
    echo "FAIL: the guard did not run the contraction reproducer"
    exit 1
  fi
  lines=$(grep -c '"command":' "$dir/compile_commands.json")
  good=$(grep '"command":' "$dir/compile_commands.json" | grep -c -- "-fno-trapping-math .*-ffp-contract=off")
  late=$(grep '"command":' "$dir/compile_commands.json" | grep -c -- "-ffp-contract=off.*-fno-trapping-math")
  echo "$lines compile lines, $good with -ffp-contract=off after the extra flags, $late with an extra flag after it"
  if [ "$lines" -eq 0 ] || [ "$good" -ne "$lines" ] || [ "$late" -ne 0 ]; then
    grep -m1 '"command":' "$dir/compile_commands.json"
    echo "FAIL: -ffp-contract=off does not come after QBOUND_EXTRA_FLAGS on every compile line"
    exit 1
  fi
  echo "PASS: -ffp-contract=off comes last"
  ;;

v4)
  if ! cpu_runs_v4; then
    echo "SKIP: this CPU lacks AVX-512 (x86-64-v4); code built for it cannot run here"
    exit 77
  fi
  mkdir -p "$dir"
  # The bug report's program, verbatim: prints 1 when miscompiled, 0 otherwise.
  cat >"$dir/oracle.cpp" <<'EOF'
#include <cstddef>
#include <cstdio>
struct geom { std::size_t kh = 1, kw = 1, stride = 1, padding = 0, dilation = 1, groups = 1; };
__attribute__((noinline)) void callee(std::size_t, geom g) { std::printf("%zu\n", g.padding); }
int main() { callee(1, {1, 1, 1, 0, 1, 1}); }
EOF
  "$cxx" -std=c++20 -O2 -march=x86-64-v4 "$dir/oracle.cpp" -o "$dir/oracle" || { echo "FAIL: oracle does not compile"; exit 1; }
  oracle=$("$dir/oracle")
  name=$("$cxx" --version | head -1)
  if [ "$oracle" = 1 ]; then
    echo "$name miscompiles the bug report's program at -O2 -march=x86-64-v4 (prints 1): the guard must refuse it"
    if configure "$dir/refused" -DBUILD_TESTING=OFF -DQBOUND_EXTRA_FLAGS="-O3 -march=x86-64-v4"; then
      grep "toolchain guard" "$dir/refused.log"
      echo "FAIL: the miscompilation guard accepted -O3 -march=x86-64-v4 with $name"
      exit 1
    fi
    sed -n '/miscompiles, so it is refused/,/^Call Stack/p' "$dir/refused.log" | head -12
    if ! grep -q "reproducer: cmake/miscompile/aggregate_by_value.cpp MISCOMPILED" "$dir/refused.log" ||
       ! grep -q -- "-mno-avx512f" "$dir/refused.log"; then
      cat "$dir/refused.log"
      echo "FAIL: the configure failed, but not with the guard's message and advice"
      exit 1
    fi
    if ! configure "$dir/advice" -DBUILD_TESTING=OFF -DQBOUND_EXTRA_FLAGS="-O3 -march=x86-64-v4 -mno-avx512f"; then
      cat "$dir/advice.log"
      echo "FAIL: the guard's advice (-mno-avx512f) is refused too"
      exit 1
    fi
    grep "toolchain guard" "$dir/advice.log"
    echo "PASS: x86-64-v4 with $name: refused by the miscompilation guard (expected on this toolchain); with -mno-avx512f accepted"
  elif [ "$oracle" = 0 ]; then
    echo "$name compiles the bug report's program correctly at -O2 -march=x86-64-v4 (prints 0): the guard must not refuse it for that bug"
    if ! configure "$dir/accepted" -DBUILD_TESTING=OFF -DQBOUND_EXTRA_FLAGS="-O3 -march=x86-64-v4"; then
      # clang 14 has another bug at this level (masked_scatter.cpp): refused for that one only.
      if grep -q "reproducer: cmake/miscompile/masked_scatter.cpp" "$dir/accepted.log" &&
         grep -q "toolchain guard: aggregate_by_value ok" "$dir/accepted.log"; then
        echo "PASS: x86-64-v4 with $name: aggregate_by_value accepted; refused for masked_scatter.cpp (clang 14's own miscompilation)"
        exit 0
      fi
      cat "$dir/accepted.log"
      echo "FAIL: the guard refused -O3 -march=x86-64-v4 with $name"
      exit 1
    fi
    grep "toolchain guard" "$dir/accepted.log"
    grep -q "toolchain guard: aggregate_by_value ok" "$dir/accepted.log" || { echo "FAIL: the reproducer did not run"; exit 1; }
    echo "PASS: x86-64-v4 with $name: accepted by the miscompilation guard"
  else
    echo "FAIL: the oracle printed '$oracle'"
    exit 1
  fi
  ;;

*)
  echo "usage: $0 configure|fp-contract-last|v4 CXX SRC DIR [cmake args...]" >&2
  exit 2
  ;;
esac
