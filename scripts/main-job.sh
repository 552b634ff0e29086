#!/usr/bin/env bash
# The main job on its built-in default: install what is missing, build
# (Release, -O2), verify this binary's arithmetic (`qbound selfcheck`), then
# run every experiment and write the report folder (`qbound demo`):
# ./qbound-report/report.md, report.json, plots and replayable cases.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target qbound_cli
./build/qbound selfcheck
./build/qbound demo --out qbound-report "$@"
