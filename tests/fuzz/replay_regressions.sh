#!/usr/bin/env bash
# Usage: replay_regressions.sh FUZZER DIR
#
# Runs FUZZER once on every file in DIR (inputs that once made it fail,
# kept as regression tests; see tests/fuzz/regressions/README.md) and fails
# if any of them fails again. A missing or empty DIR passes.
set -euo pipefail

fuzzer="$1"
dir="$2"
shopt -s nullglob
inputs=("$dir"/*)
if [ "${#inputs[@]}" -eq 0 ]; then
  echo "$(basename "$fuzzer"): no regression inputs in $dir"
  exit 0
fi
# Given files, libFuzzer runs each one once and exits non-zero on a failure.
"$fuzzer" -rss_limit_mb=2048 -timeout=60 "${inputs[@]}"
echo "$(basename "$fuzzer"): ${#inputs[@]} regression inputs pass"
