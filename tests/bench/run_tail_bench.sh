#!/usr/bin/env bash
# Runs cairn-tail-bench against a fresh primary cairnd and a read replica of
# it, and prints its lines: Tail commit-to-consumer lag at 1k and 10k
# writes/s and at the maximum rate (with the replica's lag), then one
# stream's events/s against the maximum Batch and Put rates.
# docs/benchmarks.md ("Tail") records the output.
#
#   cmake --preset release && cmake --build --preset release \
#       --target cairnd cairn-tail-bench
#   tests/bench/run_tail_bench.sh              # ~1 minute
#
# Settings (environment): BUILD_DIR (build/release), DATA_PARENT ($TMPDIR or
# /tmp), SECONDS_PER_RATE (5), EVENTS (1000000), VALUE_BYTES (100),
# DURABILITY (async; sync makes every write wait for fdatasync), WRITERS (4).
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build/release}
CAIRND=$BUILD_DIR/server/cairnd
BENCH=$BUILD_DIR/tests/bench/cairn-tail-bench
SECONDS_PER_RATE=${SECONDS_PER_RATE:-5}
EVENTS=${EVENTS:-1000000}
VALUE_BYTES=${VALUE_BYTES:-100}
DURABILITY=${DURABILITY:-async}
WRITERS=${WRITERS:-4}
DATA_PARENT=${DATA_PARENT:-${TMPDIR:-/tmp}}

source tests/bench/bench_lib.sh
require_built "$CAIRND" "$BENCH"

read -r P1 M1 P2 M2 < <(free_ports 4)

WORK=$(mktemp -d "$DATA_PARENT/cairn-tail-bench.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_serving() {  # port
  for _ in $(seq 1 300); do
    if python3 - "$1" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.2).close()
PY
    sleep 0.1
  done
  echo "cairnd on port $1 did not start" >&2
  exit 1
}

# The primary keeps 4 GiB of WAL for Tail, so the throughput phase reads its
# whole backlog from the WAL.
"$CAIRND" --data_dir="$WORK/primary" --listen="127.0.0.1:$P1" \
  --metrics_listen="127.0.0.1:$M1" --durability="$DURABILITY" \
  --tail_retention_bytes=4GiB --log_level=warn 2>"$WORK/primary.log" &
PIDS+=($!)
wait_serving "$P1"
"$CAIRND" --data_dir="$WORK/replica" --listen="127.0.0.1:$P2" \
  --metrics_listen="127.0.0.1:$M2" --replica_of="127.0.0.1:$P1" \
  --log_level=warn 2>"$WORK/replica.log" &
PIDS+=($!)
wait_serving "$P2"

echo "# cairn-tail-bench $(date -u +%FT%TZ) $(nproc) CPUs," \
     "durability=$DURABILITY value_bytes=$VALUE_BYTES writers=$WRITERS"
for rate in 1000 10000 0; do
  "$BENCH" --server="127.0.0.1:$P1" --replica="127.0.0.1:$P2" --mode=lag \
    --rate=$rate --seconds="$SECONDS_PER_RATE" --writers="$WRITERS" \
    --value_bytes="$VALUE_BYTES" --durability="$DURABILITY"
done
# The maximum write rate: batches of 100.
"$BENCH" --server="127.0.0.1:$P1" --replica="127.0.0.1:$P2" --mode=lag \
  --rate=0 --lag_batches --batch_ops=100 --seconds="$SECONDS_PER_RATE" \
  --writers="$WRITERS" --value_bytes="$VALUE_BYTES" --durability="$DURABILITY"
"$BENCH" --server="127.0.0.1:$P1" --mode=throughput --events="$EVENTS" \
  --seconds="$SECONDS_PER_RATE" --writers="$WRITERS" \
  --value_bytes="$VALUE_BYTES" --durability="$DURABILITY"
