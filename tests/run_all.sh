#!/usr/bin/env bash
# Installs what is missing, builds and runs every test suite that CI runs:
#   release  - all fast suites (ctest, excluding the label `slow`)
#   asan     - the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan     - the same tests under ThreadSanitizer, without the server (Debian's
#              gRPC and protobuf are not instrumented: TSan reports their
#              internals by the thousand)
#   fuzz     - a short libFuzzer run of each fuzzer (ctest label `fuzz`)
# Exits non-zero if any test fails. Prints one closing line with the totals.
#
# Environment:
#   CAIRN_STAGES        stages to run (default "release asan tsan fuzz")
#   CAIRN_FUZZ_SECONDS  seconds per fuzzer in the fuzz stage (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."

stages=${CAIRN_STAGES:-"release asan tsan fuzz"}
export CAIRN_FUZZ_SECONDS=${CAIRN_FUZZ_SECONDS:-30}
logdir=$(mktemp -d /tmp/cairn-tests.XXXXXX)

deploy/install-deps.sh

passed=0
failed=0
status=0
failures=()
for stage in $stages; do
  echo "=== stage: $stage"
  cmake --preset "$stage" >/dev/null
  cmake --build --preset "$stage"
  args=(--test-dir "build/$stage" --output-on-failure -j2 --timeout 600)
  if [[ "$stage" != fuzz ]]; then args+=(-LE 'slow|fuzz'); fi
  set +e
  ctest "${args[@]}" 2>&1 | tee "$logdir/$stage.log"
  rc=${PIPESTATUS[0]}
  set -e
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$logdir/$stage.log" | tail -1 || true)
  if [[ -z "$line" ]]; then
    echo "stage $stage: ctest printed no summary"
    status=1
    continue
  fi
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  nfail=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  if [[ $rc -ne 0 ]]; then status=1; fi
  # ctest's own list of failed tests, repeated at the end so it is not lost
  # in a long log.
  while IFS= read -r t; do
    failures+=("$stage: $t")
  done < <(sed -n '/The following tests FAILED:/,$p' "$logdir/$stage.log" |
    grep -E '^[[:space:]]+[0-9]+ - ' || true)
done

for f in "${failures[@]}"; do echo "FAILED $f"; done
echo "total: $passed passed, $failed failed"
exit $status
