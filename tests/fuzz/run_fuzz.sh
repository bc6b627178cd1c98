#!/usr/bin/env bash
# Usage: tests/fuzz/run_fuzz.sh [seconds] [fuzzer...]   (default 60, all)
#
# Builds the `fuzz` preset (clang++, ASan + UBSan, libFuzzer), writes the seed
# corpora and runs each fuzzer for the given time on a copy of its corpus,
# one after the other. Fuzzers: wal_recovery_fuzzer, storage_decoders_fuzzer,
# merge_fuzzer, rpc_fuzzer (default: all four).
# Exits non-zero if a fuzzer finds a crash, leak, timeout or OOM; the input
# that triggered it is kept under $CAIRN_FUZZ_ARTIFACTS (default
# build/fuzz/artifacts) and can be replayed with
#   build/fuzz/tests/fuzz/<fuzzer> <file>
# With CAIRN_FUZZ_CORPUS_DIR set, each fuzzer's corpus is kept in
# $CAIRN_FUZZ_CORPUS_DIR/<fuzzer> and grows from one campaign to the next.
# libFuzzer's closing statistics (stat::*) are printed for each fuzzer.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: $0 [seconds] [fuzzer...]" >&2
  exit 2
fi
shift || true

declare -A seeder=(
  [wal_recovery_fuzzer]=wal_fuzz_seeds
  [storage_decoders_fuzzer]=storage_fuzz_seeds
  [merge_fuzzer]=merge_fuzz_seeds
  [rpc_fuzzer]=rpc_fuzz_seeds
)
fuzzers=("$@")
if [ "${#fuzzers[@]}" -eq 0 ]; then
  fuzzers=(wal_recovery_fuzzer storage_decoders_fuzzer merge_fuzzer rpc_fuzzer)
fi
targets=()
for f in "${fuzzers[@]}"; do
  if [ -z "${seeder[$f]:-}" ]; then
    echo "unknown fuzzer: $f (known: ${!seeder[*]})" >&2
    exit 2
  fi
  targets+=("$f" "${seeder[$f]}")
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

cmake --preset fuzz
cmake --build --preset fuzz --target "${targets[@]}"

bin="build/fuzz/tests/fuzz"
export CAIRN_FUZZ_ARTIFACTS="${CAIRN_FUZZ_ARTIFACTS:-$root/build/fuzz/artifacts}"
export CAIRN_FUZZ_SECONDS="$seconds"
status=0
for f in "${fuzzers[@]}"; do
  tests/fuzz/fuzz_campaign.sh "$bin/$f" "$bin/${seeder[$f]}" "$seconds" ||
    status=1
done
exit "$status"
