#!/usr/bin/env bash
# Runs cairn-server-bench against a fresh cairnd and prints one table:
# the no-op RPC (grpc.health.v1.Health/Check, gRPC's own limit on this
# machine), then Put, Get and Batch, each at 1, 16, 64 and 256 requests in
# flight, writes with sync and with async durability. docs/benchmarks.md
# ("Server (cairnd over gRPC)") records its output.
#
#   cmake --preset release && cmake --build --preset release \
#       --target cairnd cairn-server-bench
#   tests/bench/run_server_bench.sh            # ~3 minutes
#
# Settings (environment): BUILD_DIR (build/release), DATA_PARENT (where the
# temporary data directory goes, default $TMPDIR or /tmp), LEVEL_SECONDS (5,
# the measured window of each level), WARMUP_SECONDS (1), INFLIGHT
# (1,16,64,256), CHANNELS (4), KEYS (100000), VALUE_BYTES (100), BATCH_OPS
# (100). The client runs on the same machine as the server, so on a small
# machine the two share its cores.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build/release}
CAIRND=$BUILD_DIR/server/cairnd
BENCH=$BUILD_DIR/tests/bench/cairn-server-bench
LEVEL_SECONDS=${LEVEL_SECONDS:-5}
WARMUP_SECONDS=${WARMUP_SECONDS:-1}
INFLIGHT=${INFLIGHT:-1,16,64,256}
CHANNELS=${CHANNELS:-4}
KEYS=${KEYS:-100000}
VALUE_BYTES=${VALUE_BYTES:-100}
BATCH_OPS=${BATCH_OPS:-100}
DATA_PARENT=${DATA_PARENT:-${TMPDIR:-/tmp}}

source tests/bench/bench_lib.sh
require_built "$CAIRND" "$BENCH"

# Two free loopback ports (gRPC and /metrics).
read -r PORT METRICS_PORT < <(free_ports 2)

WORK=$(mktemp -d "$DATA_PARENT/cairn-server-bench.XXXXXX")
DATA_DIR=$WORK/data
RESULTS=$WORK/results.txt
: >"$RESULTS"
CAIRND_PID=

stop_server() {
  if [[ -n $CAIRND_PID ]] && kill -0 "$CAIRND_PID" 2>/dev/null; then
    kill -TERM "$CAIRND_PID"
    # cairnd's shutdown grace is 10 s; give it 20 before giving up.
    for _ in $(seq 200); do
      kill -0 "$CAIRND_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$CAIRND_PID" 2>/dev/null; then
      echo "cairnd did not stop after SIGTERM; killing it" >&2
      kill -KILL "$CAIRND_PID" 2>/dev/null || true
    fi
    wait "$CAIRND_PID" 2>/dev/null || true
  fi
  CAIRND_PID=
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
     "$(nproc) CPUs; load before:$(uptime | sed 's/.*load average://')"
echo "# cairnd: default flags (durability sync), data in $DATA_DIR;" \
     "keys $KEYS x 16 B, values $VALUE_BYTES B, batch $BATCH_OPS ops;" \
     "$CHANNELS channels; ${WARMUP_SECONDS}s warm-up + ${LEVEL_SECONDS}s per level"

"$CAIRND" --data_dir="$DATA_DIR" --listen="127.0.0.1:$PORT" \
  --metrics_listen="127.0.0.1:$METRICS_PORT" >"$WORK/cairnd.log" 2>&1 &
CAIRND_PID=$!

# Ready when a short no-op run succeeds (at most 30 s).
ready=0
for _ in $(seq 30); do
  if ! kill -0 "$CAIRND_PID" 2>/dev/null; then
    echo "cairnd exited during start-up:" >&2
    cat "$WORK/cairnd.log" >&2
    exit 1
  fi
  if timeout 10 "$BENCH" --target="127.0.0.1:$PORT" --workload=noop \
       --inflight=1 --seconds=0.1 --warmup_seconds=0 --connect_timeout_seconds=1 \
       >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 1
done
if [[ $ready != 1 ]]; then
  echo "cairnd did not become healthy within 30 s:" >&2
  cat "$WORK/cairnd.log" >&2
  exit 1
fi

# cairnd's CPU time so far, in clock ticks (user + system).
server_ticks() { awk '{print $14 + $15}' "/proc/$CAIRND_PID/stat"; }
TICKS_PER_S=$(getconf CLK_TCK)

invalid=0
run() {
  # A level takes warm-up + window + drain; allow generously for the drain.
  local levels budget
  levels=$(tr ',' '\n' <<<"$INFLIGHT" | grep -c .)
  budget=$(( (WARMUP_SECONDS + LEVEL_SECONDS + 10) * levels + 30 ))
  local t0 w0
  t0=$(server_ticks)
  w0=$(date +%s.%N)
  if ! timeout "$budget" "$BENCH" --target="127.0.0.1:$PORT" \
       --inflight="$INFLIGHT" --channels="$CHANNELS" --seconds="$LEVEL_SECONDS" \
       --warmup_seconds="$WARMUP_SECONDS" --keys="$KEYS" \
       --value_bytes="$VALUE_BYTES" --batch_ops="$BATCH_OPS" "$@" \
       | tee -a "$RESULTS"; then
    invalid=1
  fi
  awk -v t="$(( $(server_ticks) - t0 ))" -v hz="$TICKS_PER_S" -v w0="$w0" \
      -v w1="$(date +%s.%N)" 'BEGIN {
        printf("# cairnd used %.2f cores over these runs\n", t / hz / (w1 - w0)) }'
}

run --workload=noop
run --workload=put --durability=sync
run --workload=put --durability=async
run --workload=get --preload
run --workload=batch --durability=sync
run --workload=batch --durability=async

stop_server
echo "# load after:$(uptime | sed 's/.*load average://')"
echo

# The table, from the key=value lines.
awk '
  /^workload=/ {
    delete f
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=")
      f[kv[1]] = kv[2]
    }
    if (f["workload"] == "noop") base[f["inflight"]] = f["ops/s"]
    rows[n++] = sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%s |",
      f["workload"], f["durability"], f["inflight"], f["ops/s"], f["keys/s"],
      f["p50_us"], f["p99_us"], f["p999_us"], f["max_us"], f["client_cores"],
      f["errors"],
      (/INVALID/ ? " INVALID" : ""))
    if (f["workload"] == "put" && f["inflight"] == 64)
      put64[f["durability"]] = f["ops/s"]
  }
  END {
    print "| workload | durability | in flight | ops/s | keys/s | p50 µs | p99 µs | p99.9 µs | max µs | client cores | errors |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 0; i < n; i++) print rows[i]
    print ""
    for (d in put64) {
      if (base[64] > 0)
        printf("Put@64 (%s) / no-op@64: %.0f / %.0f = %.1f%% (target >= 70%%)\n",
               d, put64[d], base[64], 100 * put64[d] / base[64])
    }
  }' "$RESULTS"

if [[ $invalid != 0 ]]; then
  echo "some runs had errors or failed: their figures are not valid" >&2
  exit 1
fi
