#!/bin/sh
# Long crash-torture campaign: run_crash_torture.sh CYCLES [sync|async] [FLAGS...]
#
# Runs tests/crash/cairn_crash_torture from the build tree (CAIRN_BUILD_DIR,
# default build/release; build it first: cmake --build build/release
# --target cairnd cairn_crash_torture) against a private copy of cairnd, so
# that a rebuild during a long run does not swap the binary under it.
# Extra FLAGS go to the torture (e.g. --seed=N --threads=8 --cycle_ms=50:500).
# Writes the summary to crash-torture-DURABILITY-CYCLES.json in the current
# directory (or CAIRN_CRASH_JSON) and exits with the torture's status.
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 CYCLES [sync|async] [FLAGS...]" >&2
  exit 2
fi
cycles=$1
shift
durability=sync
if [ $# -gt 0 ]; then
  durability=$1
  shift
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${CAIRN_BUILD_DIR:-$root/build/release}
torture=$build/tests/crash/cairn_crash_torture
for f in "$torture" "$build/server/cairnd"; do
  if [ ! -x "$f" ]; then
    echo "$f is missing: build the targets cairnd and cairn_crash_torture" >&2
    exit 2
  fi
done
bin=$(mktemp -d "${TMPDIR:-/tmp}/cairn-crash-bin-XXXXXX")
trap 'rm -rf "$bin"' EXIT
cp "$build/server/cairnd" "$bin/cairnd"
json=${CAIRN_CRASH_JSON:-crash-torture-$durability-$cycles.json}
status=0
"$torture" --cycles="$cycles" --durability="$durability" \
  --cairnd="$bin/cairnd" --json="$json" "$@" || status=$?
echo "summary written to $json"
exit $status
