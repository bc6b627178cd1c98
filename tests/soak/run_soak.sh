#!/usr/bin/env bash
# Soak run of cairnd: the mixed workload (`cairn bench --workload=mixed`,
# READ_RATIO Gets, the rest Puts) at LOAD_PCT% of the maximum throughput
# measured first, for DURATION seconds in consecutive INTERVAL-second runs of
# `cairn bench`, while CONSUMERS `cairn tail` processes follow every change
# from the first write after the preload on (the first as the named consumer
# soak-0, which this script acknowledges after every interval). After every
# interval it samples cairnd's memory (VmRSS and RssAnon from /proc), open
# file descriptors, the write stall and rejection counters of /metrics, and
# how far each consumer is behind the last committed sequence.
#
# At the end it waits for the consumers to catch up, checks that each saw
# every sequence exactly once and in order, stops cairnd (it must exit 0),
# prints a table (interval, ops/s, p50/p99/p999 in µs, errors, RSS, fds,
# stalls, tail lag) and a verdict, and exits non-zero if a check failed:
#   - no request failed (every interval, and the probe);
#   - only with OPS_SPREAD_PCT set (e.g. 10, on a machine of its own): every
#     interval's ops/s within that % of the median interval's. Otherwise the
#     spread is printed, not judged: on a shared machine the rate follows the
#     other processes' load, and `cairn bench --rate` spends client CPU on
#     pacing, so it may fall short of a target near the maximum;
#   - RssAnon (cairnd's heap) grew by at most RSS_GROWTH_MAX_MIB (64) MiB
#     from the end of the 2nd interval to the end of the last (VmRSS also
#     counts the mapped WAL and SST pages the page cache holds; it is shown,
#     not judged);
#   - the last interval's p99 is within P99_FACTOR (2) x the median of the
#     intervals' p99;
#   - the consumers are gapless and caught up within CATCHUP_SECONDS (60)
#     once the load stops; cairnd and the consumers ran throughout.
#
#   cmake --build --preset release --target cairnd cairn   # builds nothing here
#   tests/soak/run_soak.sh                          # 10 minutes (DURATION=600)
#   DURATION=60 INTERVAL=15 tests/soak/run_soak.sh  # the ctest `soak` entry
#
# Settings (environment): BUILD_DIR (build/release), DATA_PARENT ($TMPDIR or
# /tmp), DURATION (600), INTERVAL (30), LOAD_PCT (80), PROBE_SECONDS (15, the
# maximum-throughput run), RATE (a fixed target in requests/s instead of
# LOAD_PCT of the probe), CONSUMERS (2), INFLIGHT (64), CHANNELS (4), KEYS
# (100000), VALUE_BYTES (100), READ_RATIO (0.9), DURABILITY (sync: every Put
# is fdatasync'ed, shared by its commit group), CAIRND_FLAGS (extra flags),
# RSS_GROWTH_MAX_MIB (64), P99_FACTOR (2), OPS_SPREAD_PCT (unset), CATCHUP_SECONDS
# (60), RESULTS_DIR (where to copy the raw results; default: not kept).
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build/release}
CAIRND=$BUILD_DIR/server/cairnd
CAIRN=$BUILD_DIR/client/cli/cairn
DATA_PARENT=${DATA_PARENT:-${TMPDIR:-/tmp}}
DURATION=${DURATION:-600}
INTERVAL=${INTERVAL:-30}
LOAD_PCT=${LOAD_PCT:-80}
PROBE_SECONDS=${PROBE_SECONDS:-15}
RATE=${RATE:-}
CONSUMERS=${CONSUMERS:-2}
INFLIGHT=${INFLIGHT:-64}
CHANNELS=${CHANNELS:-4}
KEYS=${KEYS:-100000}
VALUE_BYTES=${VALUE_BYTES:-100}
READ_RATIO=${READ_RATIO:-0.9}
DURABILITY=${DURABILITY:-sync}
CAIRND_FLAGS=${CAIRND_FLAGS:-}
RSS_GROWTH_MAX_MIB=${RSS_GROWTH_MAX_MIB:-64}
P99_FACTOR=${P99_FACTOR:-2}
OPS_SPREAD_PCT=${OPS_SPREAD_PCT:-}
CATCHUP_SECONDS=${CATCHUP_SECONDS:-60}
RESULTS_DIR=${RESULTS_DIR:-}

source tests/bench/bench_lib.sh
require_built "$CAIRND" "$CAIRN"
INTERVALS=$(( DURATION / INTERVAL ))
if (( INTERVALS < 3 )); then
  echo "DURATION/INTERVAL must be at least 3 intervals" >&2
  exit 2
fi

read -r PORT METRICS_PORT < <(free_ports 2)
ENDPOINT=127.0.0.1:$PORT
WORK=$(mktemp -d "$DATA_PARENT/cairn-soak.XXXXXX")
DATA_DIR=$WORK/data
CAIRND_PID=
CONSUMER_PIDS=()

stop_consumers() {
  local pid
  for pid in "${CONSUMER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${CONSUMER_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  CONSUMER_PIDS=()
}
# stop_server: SIGTERM, then up to 30 s for a clean exit; sets SERVER_EXIT.
SERVER_EXIT=
stop_server() {
  if [[ -n $CAIRND_PID ]]; then
    kill -TERM "$CAIRND_PID" 2>/dev/null || true
    for _ in $(seq 300); do
      kill -0 "$CAIRND_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$CAIRND_PID" 2>/dev/null; then
      echo "cairnd did not stop after SIGTERM; killing it" >&2
      kill -KILL "$CAIRND_PID" 2>/dev/null || true
    fi
    SERVER_EXIT=0
    wait "$CAIRND_PID" 2>/dev/null || SERVER_EXIT=$?
  fi
  CAIRND_PID=
}
cleanup() {
  stop_consumers
  stop_server
  if [[ -n $RESULTS_DIR ]]; then
    mkdir -p "$RESULTS_DIR"
    cp "$WORK"/*.jsonl "$WORK"/*.tsv "$WORK"/*.err "$WORK"/cairnd.log \
      "$RESULTS_DIR"/ \
      2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# soak $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?');" \
     "$(nproc) CPUs; load average before:$(uptime | sed 's/.*load average://')"
echo "# mixed: $READ_RATIO Gets / Puts ($DURABILITY), $KEYS keys x 16 B," \
     "values $VALUE_BYTES B, $INFLIGHT in flight over $CHANNELS channels;" \
     "$INTERVALS x ${INTERVAL}s at $LOAD_PCT% of the probe; $CONSUMERS Tail consumers"

# shellcheck disable=SC2086  # CAIRND_FLAGS is a list of flags
"$CAIRND" --data_dir="$DATA_DIR" --listen="$ENDPOINT" \
  --metrics_listen="127.0.0.1:$METRICS_PORT" $CAIRND_FLAGS \
  >"$WORK/cairnd.log" 2>&1 &
CAIRND_PID=$!
ready=0
for _ in $(seq 60); do
  if ! kill -0 "$CAIRND_PID" 2>/dev/null; then
    echo "cairnd exited during start-up:" >&2
    cat "$WORK/cairnd.log" >&2
    exit 1
  fi
  if "$CAIRN" health --endpoint="$ENDPOINT" --timeout=1s >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.5
done
if [[ $ready != 1 ]]; then
  echo "cairnd did not become healthy within 30 s" >&2
  cat "$WORK/cairnd.log" >&2
  exit 1
fi

# json_field FIELD: FIELD of the last JSON object on stdin.
json_field() {
  python3 -c 'import json,sys
lines=[l for l in sys.stdin if l.strip().startswith("{")]
print(json.loads(lines[-1])[sys.argv[1]])' "$1"
}
last_seq() {
  "$CAIRN" stats --json --endpoint="$ENDPOINT" | json_field last_seq || echo 0
}
# stats_mib: "block cache, memtables (active + immutable), WAL" in MiB, from
# Admin.Stats: what cairnd's memory and mapped pages are expected to follow.
stats_mib() {
  "$CAIRN" stats --json --endpoint="$ENDPOINT" | python3 -c 'import json,sys
s=json.load(sys.stdin); m=lambda v: "%.1f" % (v / 1048576)
print(m(s["block_cache_usage"]), m(s["memtable_bytes"] + s["immutable_bytes"]), m(s["wal_bytes"]))' ||
    echo "? ? ?"
}
# ack SEQ: acknowledges SEQ for soak-0 (a new connection each time; up to 3
# tries); counts the failed tries in ACK_FAILURES, and in ACKS_LOST when all
# three failed.
ACK_FAILURES=0
ACKS_LOST=0
ack() {
  for _ in 1 2 3; do
    if "$CAIRN" ack --endpoint="$ENDPOINT" soak-0 "$1" >/dev/null \
         2>>"$WORK/ack.err"; then
      return 0
    fi
    ACK_FAILURES=$(( ACK_FAILURES + 1 ))
  done
  ACKS_LOST=$(( ACKS_LOST + 1 ))
}
# named_consumer FIELD: FIELD (acked_seq, lag_seqs) of consumer soak-0.
named_consumer() {
  "$CAIRN" consumers --json --endpoint="$ENDPOINT" | python3 -c 'import json,sys
print(sum(c[sys.argv[1]] for c in json.load(sys.stdin)["consumers"] if c["name"]=="soak-0"))' "$1" ||
    echo "?"
}
# status_kib FIELD: FIELD (VmRSS, RssAnon) of cairnd's /proc status, in KiB.
status_kib() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$CAIRND_PID/status"; }
# metric_sum NAME: the sum of every series of NAME on /metrics.
metric_sum() {
  curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%g\n", s}'
}
# consumer_seq I: the last sequence consumer I printed (0 if none yet); a
# last line still being written (no newline yet) does not count.
consumer_seq() {
  local f=$WORK/consumer$1.out
  [[ -s $f ]] || { echo 0; return; }
  if [[ -z $(tail -c 1 "$f") ]]; then
    tail -n 1 "$f"
  else
    tail -n 2 "$f" | head -n 1
  fi | awk -F'\t' '{print ($1 ~ /^[0-9]+$/) ? $1 : 0}'
}
bench() {
  "$CAIRN" bench --endpoint="$ENDPOINT" --workload=mixed \
    --read-ratio="$READ_RATIO" --keys="$KEYS" --value-bytes="$VALUE_BYTES" \
    --durability="$DURABILITY" --channels="$CHANNELS" --inflight="$INFLIGHT" \
    --json --progress=off "$@"
}

# 1. Preload every key; then the consumers follow from the next sequence on
# (the first one as the named consumer soak-0, acknowledged by this script
# after every interval); then the maximum throughput of the mixed workload
# with them following.
bench --preload --count=1 --inflight=1 >/dev/null 2>"$WORK/preload.err" || {
  echo "preload failed:" >&2
  cat "$WORK/preload.err" >&2
  exit 1
}
START_SEQ=$(( $(last_seq) + 1 ))
for i in $(seq 0 $(( CONSUMERS - 1 ))); do
  args=(--from-seq="$START_SEQ" --keys-only --max-reconnects=-1)
  if (( i == 0 )); then args+=(--consumer=soak-0); fi
  "$CAIRN" tail --endpoint="$ENDPOINT" "${args[@]}" \
    >"$WORK/consumer$i.out" 2>"$WORK/consumer$i.err" &
  CONSUMER_PIDS+=($!)
done
bench --duration="${PROBE_SECONDS}s" >"$WORK/probe.jsonl" \
  2>"$WORK/probe.err" || true
max_ops=$(json_field ops_per_s <"$WORK/probe.jsonl")
probe_errors=$(json_field errors <"$WORK/probe.jsonl")
if [[ -z $RATE ]]; then
  RATE=$(python3 -c "print(int($max_ops * $LOAD_PCT / 100))")
fi
echo "# probe: $max_ops ops/s at $INFLIGHT in flight ($probe_errors errors);" \
     "target $RATE ops/s"

# 3. The intervals.
SAMPLES=$WORK/samples.tsv
printf 'interval\tvmrss_kib\trssanon_kib\tfds\tstalls\tstall_s\trejected\tlast_seq\tlag_seqs\tnamed_lag\tloadavg1\tcache_mib\tmemtables_mib\twal_mib\n' >"$SAMPLES"
: >"$WORK/intervals.jsonl"
alive=1
for n in $(seq 1 "$INTERVALS"); do
  bench --rate="$RATE" --duration="${INTERVAL}s" --warmup=1s \
    >>"$WORK/intervals.jsonl" 2>>"$WORK/intervals.err" || true
  if ! kill -0 "$CAIRND_PID" 2>/dev/null; then
    echo "cairnd died in interval $n" >&2
    alive=0
    break
  fi
  last=$(last_seq)
  lag=0
  for i in $(seq 0 $(( CONSUMERS - 1 ))); do
    kill -0 "${CONSUMER_PIDS[$i]}" 2>/dev/null || alive=0
    c=$(consumer_seq "$i")
    if (( last - c > lag )); then lag=$(( last - c )); fi
    if (( i == 0 && c > 0 )); then ack "$c"; fi
  done
  # The named consumer's lag as the server reports it, right after its ack.
  named_lag=$(named_consumer lag_seqs)
  read -r cache_mib memtables_mib wal_mib < <(stats_mib)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" \
    "$(status_kib VmRSS)" "$(status_kib RssAnon)" \
    "$(ls "/proc/$CAIRND_PID/fd" | wc -l)" \
    "$(metric_sum cairn_write_stalls_total)" \
    "$(metric_sum cairn_write_stall_seconds_total)" \
    "$(metric_sum cairn_writes_rejected_total)" \
    "$last" "$lag" "$named_lag" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$cache_mib" "$memtables_mib" "$wal_mib" >>"$SAMPLES"
  tail -n 1 "$WORK/intervals.jsonl" | python3 -c 'import json,sys
r=json.loads(sys.stdin.read())
print("# interval %s: %.0f ops/s p99 %.0f us errors %d" % (sys.argv[1], r["ops_per_s"], r["p99_us"], r["errors"]))' "$n"
done

# 4. Catch-up: every consumer reaches the last sequence.
final_seq=$(last_seq)
catchup_start=$(date +%s.%N)
caught_up=0
deadline=$(( $(date +%s) + CATCHUP_SECONDS ))
while (( $(date +%s) < deadline )); do
  behind=0
  for i in $(seq 0 $(( CONSUMERS - 1 ))); do
    if (( $(consumer_seq "$i") < final_seq )); then behind=1; fi
  done
  if (( behind == 0 )); then caught_up=1; break; fi
  sleep 0.2
done
catchup_s=$(python3 -c "import time; print('%.1f' % (time.time() - $catchup_start))")
ack "$(consumer_seq 0)"
named_final=$(named_consumer acked_seq)
stop_consumers
stop_server

# 5. Gaps: each consumer printed START_SEQ .. final_seq, each once, in order.
gaps=""
for i in $(seq 0 $(( CONSUMERS - 1 ))); do
  verdict=$(awk -F'\t' -v s="$START_SEQ" -v f="$final_seq" '
    { if ($1 != s + NR - 1) { printf "line %d: seq %s, want %d", NR, $1, s + NR - 1; bad = 1; exit } }
    END { if (!bad && s + NR - 1 != f) printf "ends at %d, want %d", s + NR - 1, f }' \
    "$WORK/consumer$i.out")
  echo "# consumer $i: $(wc -l <"$WORK/consumer$i.out") events from $START_SEQ" \
       "${verdict:-gapless}"
  if [[ -n $verdict ]]; then gaps+="consumer $i: $verdict; "; fi
done

python3 - "$WORK/intervals.jsonl" "$SAMPLES" "$RATE" "$max_ops" "$probe_errors" \
  "$RSS_GROWTH_MAX_MIB" "$P99_FACTOR" "$OPS_SPREAD_PCT" "$caught_up" \
  "$catchup_s" "$alive" "${SERVER_EXIT:-?}" "$gaps" "$named_final" \
  "$final_seq" "$INTERVAL" "$ACK_FAILURES" "$ACKS_LOST" <<'PY'
import json, statistics, sys
(intervals_path, samples_path, rate, max_ops, probe_errors, rss_max, p99_factor,
 ops_spread_pct, caught_up, catchup_s, alive, server_exit, gaps, named_final,
 final_seq, interval, ack_failures, acks_lost) = sys.argv[1:]
runs = [json.loads(l) for l in open(intervals_path) if l.startswith("{")]
rows = [l.rstrip("\n").split("\t") for l in open(samples_path)][1:]
samples = {int(r[0]): r for r in rows}
print()
print("| interval | ops/s | p50 µs | p99 µs | p999 µs | errors | VmRSS MiB "
      "| RssAnon MiB | cache / memtables / WAL MiB | fds | stalls | stall s "
      "| tail lag (seqs) | load 1m |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for n, r in enumerate(runs, 1):
    s = samples.get(n)
    mib = lambda kib: "%.1f" % (int(kib) / 1024) if kib else "?"
    print("| %d (%d-%ds) | %.0f | %.0f | %.0f | %.0f | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        n, (n - 1) * int(interval), n * int(interval), r["ops_per_s"],
        r["p50_us"], r["p99_us"], r["p999_us"], r["errors"],
        mib(s[1]) if s else "?", mib(s[2]) if s else "?",
        " / ".join(s[11:14]) if s else "?", s[3] if s else "?", s[4] if s else "?", s[5] if s else "?",
        (s[8] + " (named " + s[9] + ")") if s else "?", s[10] if s else "?"))
checks = []
def check(ok, what):
    checks.append(ok)
    print("%s %s" % ("PASS" if ok else "FAIL", what))
print()
errors = sum(r["errors"] for r in runs) + int(probe_errors)
first = next((r["first_error"] for r in runs if r["errors"]), "")
check(errors == 0, "errors: %d%s" % (errors, (" (first: %s)" % first) if first else ""))
ops = [r["ops_per_s"] for r in runs]
ops_median = statistics.median(ops)
spread = "ops/s median %.0f (%.0f%% of the target %s), min %.0f, max %.0f" % (
    ops_median, 100 * ops_median / float(rate), rate, min(ops), max(ops))
if ops_spread_pct:
    off = [n for n, o in enumerate(ops, 1)
           if abs(o - ops_median) > ops_median * float(ops_spread_pct) / 100]
    check(not off, "throughput flat within %s%%: %s%s" % (
        ops_spread_pct, spread, (" (not: %s)" % off) if off else ""))
else:
    print("NOTE %s (not judged; OPS_SPREAD_PCT unset)" % spread)
if len(rows) >= 2:
    second, last = int(rows[1][2]), int(rows[-1][2])
    growth = (last - second) / 1024
    check(growth <= float(rss_max),
          "RssAnon from interval 2 to %d: %.1f -> %.1f MiB (%+.1f MiB, bound %s MiB);"
          " VmRSS %.1f -> %.1f MiB" % (
              len(rows), second / 1024, last / 1024, growth, rss_max,
              int(rows[1][1]) / 1024, int(rows[-1][1]) / 1024))
else:
    check(False, "fewer than two memory samples")
p99s = [r["p99_us"] for r in runs]
median = statistics.median(p99s)
check(p99s[-1] <= float(p99_factor) * median,
      "last p99 %.0f us within %sx the median interval p99 %.0f us (max %.0f)" % (
          p99s[-1], p99_factor, median, max(p99s)))
check(caught_up == "1" and not gaps,
      "consumers gapless and caught up to seq %s %s after the load stopped%s" % (
          final_seq, catchup_s + " s", ("; " + gaps) if gaps else ""))
check(alive == "1" and server_exit == "0",
      "cairnd and the consumers ran throughout; cairnd exited %s" % server_exit)
check(acks_lost == "0",
      "named consumer soak-0 acknowledged %s of %s; acks lost after 3 tries: %s "
      "(failed tries: %s, new connection each)" % (
          named_final, final_seq, acks_lost, ack_failures))
stall_total = rows[-1][4] if rows else "?"
print("write stalls %s (%s s), rejected writes %s; fds %s -> %s" % (
    stall_total, rows[-1][5] if rows else "?", rows[-1][6] if rows else "?",
    rows[0][3] if rows else "?", rows[-1][3] if rows else "?"))
ok = all(checks)
print("VERDICT: %s" % ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
