#!/usr/bin/env bash
# Fuzzes qbound's file readers with libFuzzer (clang++-14, ASan + UBSan):
#   bash scripts/fuzz.sh [seconds-per-target] [target ...]
# Targets: onnx_import, nnet_import, calibration, case_file (default: all),
# each run for the given seconds (default 60), one after the other, from the
# seed corpus that fuzz_make_seeds writes (zoo networks exported to ONNX, the
# shared real exports, small NNet/CSV/npy/witness files) plus whatever earlier
# runs added to the corpus. Environment: QBOUND_FUZZ_BUILD (build folder,
# default build-fuzz), QBOUND_FUZZ_JOBS (build jobs, default nproc).
# A crash, sanitizer report, leak, timeout (10 s per input) or out-of-memory
# (2 GB) fails the script; the input is kept in <build>/fuzz-findings/<target>/
# (replay: <build>/fuzz_<target> FILE). Final libFuzzer stats per target are
# in <build>/fuzz-logs/<target>.log and summarized at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(onnx_import nnet_import calibration case_file)
build=${QBOUND_FUZZ_BUILD:-build-fuzz}
jobs=${QBOUND_FUZZ_JOBS:-$(nproc)}
ulimit -c 0

echo "=== qbound fuzz: building the fuzz targets in $build (clang++-14) ==="
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_COMPILER=clang++-14 -DQBOUND_EXTRA_FLAGS=-O1 \
  -DQBOUND_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz_targets
"$build/fuzz_make_seeds" "$build/fuzz-seeds" tests/data/networks

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
status=0
summary=()
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t" findings="$build/fuzz-findings/$t" log="$build/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  echo "=== qbound fuzz: $t for ${seconds} s ==="
  if "$build/fuzz_$t" "$corpus" "$build/fuzz-seeds/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log, input in $findings/)"
    status=1
    tail -40 "$log"
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' || echo 'cov: ?')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' || echo 'ft: ?')
  summary+=("$(printf '%-12s %s executions, %s, %s: %s' "$t" "$execs" "$cov" "$ft" "$result")")
done
echo "=== qbound fuzz: summary (${seconds} s per target) ==="
printf '%s\n' "${summary[@]}"
exit $status
