#!/usr/bin/env bash
# Usage: fuzz_campaign.sh FUZZER SEEDER SECONDS
#
# Writes the seed corpus with SEEDER, runs FUZZER on a copy of it for SECONDS
# (the environment variable CAIRN_FUZZ_SECONDS overrides it) and exits
# non-zero if the fuzzer finds a crash, leak, timeout or OOM. The input that
# triggered it is kept under $CAIRN_FUZZ_ARTIFACTS (default: the fuzzer's
# directory), named <fuzzer>-crash-<sha1> (or leak-, timeout-, oom-), and can
# be replayed with `FUZZER <file>`.
# With CAIRN_FUZZ_CORPUS_DIR set, the corpus lives in
# $CAIRN_FUZZ_CORPUS_DIR/<fuzzer name> (seeds added to it) and is kept.
# Called by run_fuzz.sh (long campaigns) and by ctest (label fuzz, short).
set -euo pipefail

fuzzer="$1"
seeder="$2"
seconds="${CAIRN_FUZZ_SECONDS:-$3}"
name="$(basename "$fuzzer")"
artifacts="${CAIRN_FUZZ_ARTIFACTS:-$(dirname "$fuzzer")/artifacts}"
mkdir -p "$artifacts"
work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$seeder" "$work/seeds"
corpus="$work/corpus"
if [ -n "${CAIRN_FUZZ_CORPUS_DIR:-}" ]; then
  corpus="$CAIRN_FUZZ_CORPUS_DIR/$name"
fi
mkdir -p "$corpus"
cp "$work/seeds"/* "$corpus/"

status=0
"$fuzzer" \
  -max_total_time="$seconds" \
  -rss_limit_mb=2048 \
  -max_len=65600 \
  -timeout=30 \
  -print_final_stats=1 \
  -artifact_prefix="$artifacts/$name-" \
  "$corpus" || status=$?

found="$(find "$artifacts" -maxdepth 1 -type f \
  \( -name "$name-crash-*" -o -name "$name-leak-*" -o -name "$name-timeout-*" \
     -o -name "$name-oom-*" \) -newer "$work/seeds" \
  -print)"
if [ "$status" -ne 0 ] || [ -n "$found" ]; then
  echo "$name failed (exit $status)" >&2
  for f in $found; do
    echo "  input: $f" >&2
    od -A d -t x1 "$f" | head -n 8 >&2
  done
  exit 1
fi
echo "$name: no failure in ${seconds}s"
