#!/usr/bin/env bash
# Usage: tests/fuzz/run_fuzz.sh [seconds]   (default 60)
#
# Builds the `fuzz` preset (clang++, ASan + UBSan, libFuzzer), writes the seed
# corpus and runs wal_recovery_fuzzer for the given time on a copy of it.
# Exits non-zero if the fuzzer finds a crash, leak, timeout or OOM; the input
# that triggered it is kept under $CAIRN_FUZZ_ARTIFACTS (default
# build/fuzz/artifacts) and can be replayed with
#   build/fuzz/tests/fuzz/wal_recovery_fuzzer <file>
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: $0 [seconds]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

cmake --preset fuzz
cmake --build --preset fuzz --target wal_recovery_fuzzer wal_fuzz_seeds

bin="build/fuzz/tests/fuzz"
artifacts="${CAIRN_FUZZ_ARTIFACTS:-$root/build/fuzz/artifacts}"
mkdir -p "$artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$bin/wal_fuzz_seeds" "$work/seeds"
mkdir -p "$work/corpus"
cp "$work/seeds"/* "$work/corpus/"

status=0
"$bin/wal_recovery_fuzzer" \
  -max_total_time="$seconds" \
  -rss_limit_mb=2048 \
  -max_len=65600 \
  -timeout=30 \
  -print_final_stats=1 \
  -artifact_prefix="$artifacts/" \
  "$work/corpus" || status=$?

found="$(find "$artifacts" -maxdepth 1 -type f \
  \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
     -o -name 'oom-*' \) -newer "$work/seeds" \
  -print)"
if [ "$status" -ne 0 ] || [ -n "$found" ]; then
  echo "run_fuzz.sh: wal_recovery_fuzzer failed (exit $status)" >&2
  for f in $found; do
    echo "  input: $f" >&2
    od -A d -t x1 "$f" | head -n 8 >&2
  done
  exit 1
fi
echo "run_fuzz.sh: no failure in ${seconds}s"
