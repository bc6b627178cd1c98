#!/usr/bin/env bash
# Builds Cairn (release preset) and starts its main program.
# cairnd does not exist yet; until it lands this runs the WAL benchmark,
# cairn-walbench, with its log files under ./data (extra arguments are passed
# to it, e.g. --benchmark_filter=BM_Append).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target cairn-walbench
mkdir -p data
CAIRN_BENCH_DIR="$PWD/data" exec build/release/tests/bench/cairn-walbench "$@"
