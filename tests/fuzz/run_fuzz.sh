#!/usr/bin/env bash
# Usage: tests/fuzz/run_fuzz.sh [seconds]   (default 60)
#
# Builds the `fuzz` preset (clang++, ASan + UBSan, libFuzzer), writes the seed
# corpora and runs each fuzzer (wal_recovery_fuzzer, storage_decoders_fuzzer)
# for the given time on a copy of its corpus.
# Exits non-zero if the fuzzer finds a crash, leak, timeout or OOM; the input
# that triggered it is kept under $CAIRN_FUZZ_ARTIFACTS (default
# build/fuzz/artifacts) and can be replayed with
#   build/fuzz/tests/fuzz/<fuzzer> <file>
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: $0 [seconds]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

cmake --preset fuzz
cmake --build --preset fuzz --target wal_recovery_fuzzer wal_fuzz_seeds \
  storage_decoders_fuzzer storage_fuzz_seeds

bin="build/fuzz/tests/fuzz"
export CAIRN_FUZZ_ARTIFACTS="${CAIRN_FUZZ_ARTIFACTS:-$root/build/fuzz/artifacts}"
export CAIRN_FUZZ_SECONDS="$seconds"
status=0
tests/fuzz/fuzz_campaign.sh "$bin/wal_recovery_fuzzer" "$bin/wal_fuzz_seeds" \
  "$seconds" || status=1
tests/fuzz/fuzz_campaign.sh "$bin/storage_decoders_fuzzer" \
  "$bin/storage_fuzz_seeds" "$seconds" || status=1
exit "$status"
