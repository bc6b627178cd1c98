#!/usr/bin/env bash
# Runs `cairn bench` (client/bench) against a fresh cairnd and prints one
# table: the no-op RPC (grpc.health.v1.Health/Check, gRPC's own limit on this
# machine), then Put (sync and async durability), Get (uniform and Zipfian
# keys, after a preload), mixed (READ_RATIO Gets, the rest Puts), Batch (sync
# and async), Scan, Merge, and tail (Put writers with Tail streams measuring
# commit-to-receive lag), each at every INFLIGHT level. docs/benchmarks.md
# ("Server (cairnd over gRPC)") records its output.
#
#   cmake --preset release && cmake --build --preset release \
#       --target cairnd cairn
#   tests/bench/run_server_bench.sh            # ~5 minutes
#
# Settings (environment): BUILD_DIR (build/release), DATA_PARENT (where the
# temporary data directory goes, default $TMPDIR or /tmp), LEVEL_SECONDS (5,
# the measured window of each level), WARMUP_SECONDS (1), INFLIGHT
# (1,16,64,256), CHANNELS (4), KEYS (100000), VALUE_BYTES (100), BATCH_OPS
# (100), SCAN_LIMIT (100), READ_RATIO (0.9), ZIPF_THETA (0.99), TAIL_RATE
# (0: the writers go as fast as they can; else writes/s in total),
# TAIL_STREAMS (1), WORKLOADS (all of: noop put get mixed batch scan merge
# tail; a subset runs only those). The client runs on the same machine as the
# server, so on a small machine the two share its cores.
#
# Output: while it runs, `cairn bench --json`'s objects (one per level, field
# names in client/bench/bench_main.cc); then a Markdown table with ops/s,
# keys/s, latency percentiles (µs), Tail lag, client and server CPU and
# errors, and the Put@64 / no-op@64 ratio. Exits 1 if any request failed (its
# figures are not valid), 2 if a binary is missing.
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build/release}
CAIRND=$BUILD_DIR/server/cairnd
CAIRN=$BUILD_DIR/client/cli/cairn
LEVEL_SECONDS=${LEVEL_SECONDS:-5}
WARMUP_SECONDS=${WARMUP_SECONDS:-1}
INFLIGHT=${INFLIGHT:-1,16,64,256}
CHANNELS=${CHANNELS:-4}
KEYS=${KEYS:-100000}
VALUE_BYTES=${VALUE_BYTES:-100}
BATCH_OPS=${BATCH_OPS:-100}
SCAN_LIMIT=${SCAN_LIMIT:-100}
READ_RATIO=${READ_RATIO:-0.9}
ZIPF_THETA=${ZIPF_THETA:-0.99}
TAIL_RATE=${TAIL_RATE:-0}
TAIL_STREAMS=${TAIL_STREAMS:-1}
WORKLOADS=${WORKLOADS:-noop put get mixed batch scan merge tail}
DATA_PARENT=${DATA_PARENT:-${TMPDIR:-/tmp}}

source tests/bench/bench_lib.sh
require_built "$CAIRND" "$CAIRN"

# Two free loopback ports (gRPC and /metrics).
read -r PORT METRICS_PORT < <(free_ports 2)

WORK=$(mktemp -d "$DATA_PARENT/run_server_bench.XXXXXX")
DATA_DIR=$WORK/data
RESULTS=$WORK/results.jsonl
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
     "keys $KEYS x 16 B, values $VALUE_BYTES B, batch $BATCH_OPS ops," \
     "scan $SCAN_LIMIT keys, mixed $READ_RATIO reads, zipf theta $ZIPF_THETA;" \
     "$CHANNELS channels; ${WARMUP_SECONDS}s warm-up + ${LEVEL_SECONDS}s per level"

"$CAIRND" --data_dir="$DATA_DIR" --listen="127.0.0.1:$PORT" \
  --metrics_listen="127.0.0.1:$METRICS_PORT" >"$WORK/cairnd.log" 2>&1 &
CAIRND_PID=$!

# Ready when one health check succeeds (cairn bench waits --timeout for the
# connection; at most 30 s in all).
ready=0
for _ in $(seq 30); do
  if ! kill -0 "$CAIRND_PID" 2>/dev/null; then
    echo "cairnd exited during start-up:" >&2
    cat "$WORK/cairnd.log" >&2
    exit 1
  fi
  if timeout 10 "$CAIRN" bench --endpoint="127.0.0.1:$PORT" --workload=noop \
       --inflight=1 --count=1 --warmup=0s --timeout=1s --progress=off \
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
# run ARGS...: one `cairn bench` process (every INFLIGHT level); appends its
# JSON objects to $RESULTS, each with the server's CPU (cores) over the run.
run() {
  # A level takes warm-up + window + drain; allow generously for the drain.
  local levels budget t0 w0 out
  levels=$(tr ',' '\n' <<<"$INFLIGHT" | grep -c .)
  budget=$(( (WARMUP_SECONDS + LEVEL_SECONDS + 15) * levels + 60 ))
  t0=$(server_ticks)
  w0=$(date +%s.%N)
  out=$WORK/run.jsonl
  if ! timeout "$budget" "$CAIRN" bench --endpoint="127.0.0.1:$PORT" --json \
       --progress=off --inflight="$INFLIGHT" --channels="$CHANNELS" \
       --duration="${LEVEL_SECONDS}s" --warmup="${WARMUP_SECONDS}s" \
       --keys="$KEYS" --value-bytes="$VALUE_BYTES" --batch-ops="$BATCH_OPS" \
       --scan-limit="$SCAN_LIMIT" --read-ratio="$READ_RATIO" \
       --zipf-theta="$ZIPF_THETA" --tail-streams="$TAIL_STREAMS" "$@" \
       >"$out"; then
    invalid=1
  fi
  python3 - "$out" "$(( $(server_ticks) - t0 ))" "$TICKS_PER_S" "$w0" \
      "$(date +%s.%N)" >>"$RESULTS" <<'PY'
import json, sys
path, ticks, hz, w0, w1 = sys.argv[1:]
cores = int(ticks) / int(hz) / (float(w1) - float(w0))
for line in open(path):
    level = json.loads(line)
    level["server_cores_run"] = round(cores, 2)
    print(json.dumps(level))
PY
  cat "$out"
}

wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }

# The first of the reads writes every key once (--preload), for those that
# follow.
PRELOAD=--preload
if wants noop; then
  run --workload=noop
fi
if wants put; then
  run --workload=put --durability=sync
  run --workload=put --durability=async
fi
if wants get; then
  run --workload=get $PRELOAD
  PRELOAD=
  run --workload=get --distribution=zipfian
fi
if wants mixed; then
  run --workload=mixed --durability=sync $PRELOAD
  PRELOAD=
fi
if wants batch; then
  run --workload=batch --durability=sync
  run --workload=batch --durability=async
fi
if wants scan; then
  run --workload=scan $PRELOAD
  PRELOAD=
fi
# Its own preload sets every key to "0", so that "add" applies.
if wants merge; then
  run --workload=merge --durability=async --preload
fi
if wants tail; then
  run --workload=tail --durability=async --rate="$TAIL_RATE"
fi

stop_server
echo "# load after:$(uptime | sed 's/.*load average://')"
echo

# The table, from the JSON objects.
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def n(v, digits=0):
    return f"{v:.{digits}f}"
print("| workload | durability | keys | in flight | ops/s | keys/s | p50 µs "
      "| p99 µs | p99.9 µs | max µs | tail lag p50/p99 µs | client cores "
      "| server cores | errors |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
noop, put64 = {}, {}
for r in rows:
    keys = "-" if r["workload"] == "noop" else r["distribution"]
    lag = "-"
    if r["workload"] == "tail":
        lag = f"{n(r['lag_p50_us'])} / {n(r['lag_p99_us'])}"
    errors = str(r["errors"]) + (" INVALID" if r["errors"] else "")
    print(f"| {r['workload']} | {r['durability']} | {keys} | {r['inflight']} "
          f"| {n(r['ops_per_s'])} | {n(r['keys_per_s'])} | {n(r['p50_us'], 1)} "
          f"| {n(r['p99_us'], 1)} | {n(r['p999_us'], 1)} | {n(r['max_us'], 1)} "
          f"| {lag} | {n(r['client_cores'], 2)} | {n(r['server_cores_run'], 2)} "
          f"| {errors} |")
    if r["workload"] == "noop":
        noop[r["inflight"]] = r["ops_per_s"]
    if r["workload"] == "put" and r["inflight"] == 64:
        put64[r["durability"]] = r["ops_per_s"]
print()
print("(server cores: cairnd's CPU over the whole run of that workload, all "
      "its levels)")
for d, v in sorted(put64.items()):
    if noop.get(64):
        print(f"Put@64 ({d}) / no-op@64: {v:.0f} / {noop[64]:.0f} = "
              f"{100 * v / noop[64]:.1f}% (target >= 70%)")
PY

if [[ $invalid != 0 ]]; then
  echo "some runs had errors or failed: their figures are not valid" >&2
  exit 1
fi
