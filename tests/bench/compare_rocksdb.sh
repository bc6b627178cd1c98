#!/usr/bin/env bash
# Runs RocksDB's db_bench and cairn-dbbench on the same workloads, one after
# the other on this machine, and prints a table of throughput and p99 latency.
#
# Usage: tests/bench/compare_rocksdb.sh [--quick]
#   --quick   NUM=100000 and 5-second read phases (under a minute)
# Environment (defaults in brackets):
#   NUM [1000000]      keys (--num); fills and overwrite write NUM keys
#   THREADS [1]        threads of overwrite and the read phases (the fills use
#                      one, so both databases hold the same keys)
#   SYNC [0]           --sync: 1 makes every write wait for fdatasync
#   CAIRN_BIN [build/release/tests/bench/cairn-dbbench]
#   DB_DIR [/tmp]      where both databases live (removed afterwards)
#   CACHE_SIZE [67108864]  block cache bytes, for both
#   WRITE_BUFFER_SIZE [16777216]  memtable bytes, for both (Cairn's default;
#                      RocksDB's own default is 64 MiB)
#   READ_SECONDS [15]  --duration of readrandom, seekrandom, readwhilewriting
#   WRITE_SECONDS [120]  cap on each Cairn write phase (--duration)
#   SEED [the time]    base of the per-phase --seed, the same for both
#   KEEP_LOGS [0]      1: keep both programs' output (kept anyway on failure)
#
# Sequence, for each engine in turn per phase: fillseq on a fresh database;
# fillrandom on a fresh database; then, with --use_existing_db=1, overwrite,
# readrandom, seekrandom, readseq and readwhilewriting on that database;
# last, mergerandom on a fresh database: NUM merges of a counter increment on
# random keys among NUM, on THREADS threads. The two counters differ in form:
# Cairn's "add" operator takes decimal text (the operand is "1", 1 byte),
# RocksDB's uint64add takes 8-byte binary integers (--merge_operator=uint64add
# with --value_size=8, so that its operands are valid: db_bench merges
# value_size bytes of its value generator).
# Settings shared by both: 16-byte keys, 100-byte values (half compressible),
# --compression_type=none, WAL on (--disable_wal=0), --sync=$SYNC,
# --bloom_bits=10 (db_bench's default is no filter: we pass 10 to both), the
# same block cache, the same write buffer size. --histogram=1
# gives RocksDB's percentiles.
#
# Durations: db_bench's --duration makes a random-op phase run for that many
# seconds whatever --reads says, while cairn-dbbench stops at --reads ops or
# --duration seconds, whichever comes first. Both are rates over the time they
# ran. db_bench's write phases run without --duration (they stop at NUM keys),
# Cairn's are capped at WRITE_SECONDS. With SYNC=1 both engines' fillrandom
# and overwrite run for READ_SECONDS (so the database holds fewer than NUM
# keys), and db_bench's fillseq, which ignores --duration, writes all NUM keys
# at the disk's sync rate: keep NUM small (100000 takes ~15 s here).
#
# Exits non-zero, showing the end of its log, if either program fails.
set -euo pipefail

NUM=${NUM:-1000000}
THREADS=${THREADS:-1}
SYNC=${SYNC:-0}
CAIRN_BIN=${CAIRN_BIN:-build/release/tests/bench/cairn-dbbench}
DB_DIR=${DB_DIR:-/tmp}
CACHE_SIZE=${CACHE_SIZE:-67108864}
# Memtable size for both engines: Cairn's default (RocksDB's is 64 MiB).
WRITE_BUFFER_SIZE=${WRITE_BUFFER_SIZE:-16777216}
READ_SECONDS=${READ_SECONDS:-15}
WRITE_SECONDS=${WRITE_SECONDS:-120}

for arg in "$@"; do
  case "$arg" in
    --quick) NUM=100000; READ_SECONDS=5 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_rocksdb: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done

die() { echo "compare_rocksdb: $*" >&2; exit 1; }

# db_bench comes with Debian's rocksdb-tools; install it the way
# deploy/install-deps.sh installs packages.
if ! command -v db_bench >/dev/null 2>&1; then
  echo "compare_rocksdb: installing rocksdb-tools (db_bench)"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends rocksdb-tools
  command -v db_bench >/dev/null 2>&1 || die "db_bench missing after install"
fi
ROCKS_BIN=$(command -v db_bench)
[[ -x "$CAIRN_BIN" ]] || die "$CAIRN_BIN is not executable (build it: cmake \
--build --preset release --target cairn-dbbench, or set CAIRN_BIN)"
[[ -d "$DB_DIR" ]] || die "DB_DIR $DB_DIR is not a directory"

ROCKS_DB="$DB_DIR/compare-rocksdb.$$"
CAIRN_DB="$DB_DIR/compare-cairn.$$"
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/compare-rocksdb-logs.XXXXXX")
cleanup() { rm -rf "$ROCKS_DB" "$CAIRN_DB"; }
trap cleanup EXIT

SEED=${SEED:-$(date +%s)}
common=(--num="$NUM" --key_size=16 --value_size=100 --compression_type=none
        --bloom_bits=10 --cache_size="$CACHE_SIZE" --sync="$SYNC"
        --write_buffer_size="$WRITE_BUFFER_SIZE" --histogram=1)
rocks_flags=("${common[@]}" --db="$ROCKS_DB" --disable_wal=0
             --compression_ratio=0.5)
cairn_flags=("${common[@]}" --db="$CAIRN_DB")

declare -A OPS P99 FOUND

# run ENGINE BENCHMARK FLAGS...: runs one phase, records ops/s, p99, found.
run() {
  local engine=$1 bench=$2; shift 2
  local bin=$ROCKS_BIN flags=("${rocks_flags[@]}")
  if [[ $engine == cairn ]]; then bin=$CAIRN_BIN flags=("${cairn_flags[@]}"); fi
  local log="$LOG_DIR/$engine-$bench.log"
  flags+=(--seed="$PHASE_SEED")
  printf '  %-6s %-17s' "$engine" "$bench" >&2
  local t0=$SECONDS
  if ! "$bin" "${flags[@]}" --benchmarks="$bench" "$@" >"$log" 2>"$log.err"
  then
    echo " FAILED" >&2
    tail -n 20 "$log" "$log.err" >&2
    die "$engine $bench failed (logs in $LOG_DIR)"
  fi
  # db_bench's result line, then the first "Percentiles:" line after it.
  local parsed
  parsed=$(awk -v b="$bench" '
    $1 == b && $2 == ":" {
      for (i = 3; i < NF; i++) if ($(i + 1) ~ /^ops\/sec/) ops = $i
      if (match($0, /\([0-9]+ of [0-9]+ found\)/))
        found = substr($0, RSTART + 1, RLENGTH - 8)
      seen = 1; next
    }
    seen && p99 == "" && /^Percentiles:/ {
      for (i = 1; i < NF; i++) if ($i == "P99:") p99 = $(i + 1)
    }
    END { if (ops != "") print ops "|" (p99 == "" ? "-" : p99) "|" found }
  ' "$log")
  [[ -n "$parsed" ]] || { cat "$log" >&2; die "$engine $bench: no result line"; }
  local ops p99 found
  IFS='|' read -r ops p99 found <<<"$parsed"
  OPS[$engine.$bench]=$ops P99[$engine.$bench]=$p99
  FOUND[$engine.$bench]=$found
  printf ' %10s ops/s  p99 %8s us  (%ds)\n' "${OPS[$engine.$bench]}" \
    "${P99[$engine.$bench]}" $((SECONDS - t0)) >&2
}

reads=(--use_existing_db=1 --threads="$THREADS" --reads="$NUM"
       --duration="$READ_SECONDS")
rocks_write=()
cairn_write=(--duration="$WRITE_SECONDS")
if [[ $SYNC == 1 ]]; then
  # Durable writes run at the disk's sync rate: time-box both engines' random
  # write phases (db_bench's fillseq ignores --duration).
  rocks_write=(--duration="$READ_SECONDS")
  cairn_write=(--duration="$READ_SECONDS")
fi
# RocksDB's counter: 8-byte little-endian operands (see the top).
rocks_merge=(--merge_operator=uint64add --value_size=8)

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "compare_rocksdb: output in $LOG_DIR" \
  "(removed on success unless KEEP_LOGS=1)" >&2
benches=(fillseq fillrandom overwrite readrandom seekrandom readseq
         readwhilewriting mergerandom)
PHASE_SEED=$SEED
for bench in "${benches[@]}"; do
  # A seed per phase, the same for both engines: with one seed, each phase
  # would draw the key numbers the previous one drew.
  PHASE_SEED=$((PHASE_SEED + 1000))
  case $bench in
    fillseq|fillrandom)
      run rocksdb "$bench" --use_existing_db=0 --threads=1 "${rocks_write[@]}"
      run cairn "$bench" --use_existing_db=0 --threads=1 "${cairn_write[@]}" ;;
    overwrite)
      run rocksdb "$bench" --use_existing_db=1 --threads="$THREADS" \
        "${rocks_write[@]}"
      run cairn "$bench" --use_existing_db=1 --threads="$THREADS" \
        "${cairn_write[@]}" ;;
    mergerandom)
      run rocksdb "$bench" --use_existing_db=0 --threads="$THREADS" \
        "${rocks_merge[@]}" "${rocks_write[@]}"
      run cairn "$bench" --use_existing_db=0 --threads="$THREADS" \
        "${cairn_write[@]}" ;;
    readseq)
      run rocksdb "$bench" --use_existing_db=1 --threads="$THREADS" --reads="$NUM"
      run cairn "$bench" --use_existing_db=1 --threads="$THREADS" --reads="$NUM" ;;
    *)
      run rocksdb "$bench" "${reads[@]}"
      run cairn "$bench" "${reads[@]}" ;;
  esac
done

cpu=$(awk -F': ' '/^model name/ { m = $2; n++ } END { print n " x " m }' \
  /proc/cpuinfo)
fs=$(df -PT "$DB_DIR" | awk 'NR == 2 { print $2 " (" $7 ")" }')
rocks_version=$(awk '/^RocksDB:/ { print $3; exit }' \
  "$LOG_DIR/rocksdb-fillseq.log.err")

echo
echo "Engine vs RocksDB $rocks_version, $(date '+%Y-%m-%d %H:%M')"
echo "Machine: $(nproc) CPUs, $cpu; DB_DIR $DB_DIR on $fs;" \
  "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
echo "Durability: WAL on, sync=$SYNC (both engines)"
echo "Data: $NUM keys, 16-byte keys, 100-byte values, compression none," \
  "bloom 10 bits/key, block cache $CACHE_SIZE bytes, write buffer $WRITE_BUFFER_SIZE bytes, threads $THREADS"
echo
printf '%-17s %14s %14s %8s %13s %13s\n' workload "RocksDB ops/s" \
  "Cairn ops/s" ratio "RocksDB p99" "Cairn p99"
for bench in "${benches[@]}"; do
  r=${OPS[rocksdb.$bench]} c=${OPS[cairn.$bench]}
  ratio=$(awk -v r="$r" -v c="$c" 'BEGIN { printf "%.2f", (r > 0 ? c / r : 0) }')
  printf '%-17s %14s %14s %8s %13s %13s\n' "$bench" "$r" "$c" "$ratio" \
    "${P99[rocksdb.$bench]}" "${P99[cairn.$bench]}"
done
echo "(p99 in microseconds per op; ratio = Cairn / RocksDB ops/s;"
echo " readwhilewriting: the readers' figures, one extra writer thread;"
echo " mergerandom: fresh database, counter increments on random keys;" \
  "Cairn: add, decimal operand \"1\";"
echo " RocksDB: uint64add, 8-byte binary operands (--value_size=8))"
if grep -qh "Assertions are enabled" "$LOG_DIR"/rocksdb-*.log; then
  echo "note: this db_bench says it was built with assertions enabled," \
    "which slows RocksDB down"
fi
for bench in readrandom seekrandom readwhilewriting; do
  echo "found, $bench: RocksDB ${FOUND[rocksdb.$bench]:-?}," \
    "Cairn ${FOUND[cairn.$bench]:-?}"
done
if [[ ${KEEP_LOGS:-0} == 1 ]]; then
  echo "logs: $LOG_DIR"
else
  rm -rf "$LOG_DIR"
fi
