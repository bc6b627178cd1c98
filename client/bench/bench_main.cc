// `cairn bench`: the load generator of cairnd. It measures the throughput
// and latency of one workload over gRPC, next to the same server's cheapest
// RPC (the noop workload), so that the cost of the key-value work can be
// told apart from the cost of gRPC on the machine.
//
//   cairn bench --workload=put --durability=sync --inflight=1,16,64,256
//   cairn bench --workload=get --preload --distribution=zipfian --json
//   cairn bench --workload=tail --rate=10000 --inflight=4 --duration=10s
//
// HOW IT RUNS
// An asynchronous driver (driver.h) keeps exactly --inflight requests in
// flight: each in-flight slot starts its next request as soon as its
// previous one completes (with --rate, at the next free send time instead).
// Slots are spread over --channels channels, each its own TCP connection,
// and over --pollers completion queues, each drained by one thread. Before
// the first level it waits (up to --timeout) until every channel is
// connected and the server answers a health check; a server it cannot
// reach ends the run at once with exit code 1 ("cannot reach ..."). With
// --preload it then writes every key once, in Batches with asynchronous
// durability (values: random; for merge, "0"). Each --inflight level (a
// comma-separated list runs each level in turn, on the same channels) runs
// a --warmup, then is measured for --duration, or until --count requests
// issued after the warm-up have completed; then the requests still in
// flight finish (the drain). Every request carries the bearer token and a
// deadline of --timeout.
//
// WORKLOADS (--workload)
//   noop   grpc.health.v1.Health/Check: gRPC's own cost, the ceiling of any
//          RPC on this machine.
//   put    KV.Put of a --value-bytes value to a random key.
//   get    KV.Get of a random key (use --preload, or misses are counted).
//   mixed  per request, KV.Get with probability --read-ratio, else KV.Put.
//   batch  KV.Batch of --batch-ops puts to random keys (keys/s counted).
//   scan   KV.Scan of --scan-limit keys from a random start key (keys/s
//          counts the keys returned; near the end of the key space a scan
//          returns fewer).
//   merge  KV.Merge(random key, operator "add", operand "1").
//   tail   the in-flight slots are writers doing Put (at --rate in total,
//          or as fast as they can), while --tail-streams Replication.Tail
//          streams, opened "from now" before the first write, measure the
//          commit-to-receive lag of every event committed in the window:
//          the time the client received it - event.commit_time_unix_micros.
//          Client and server must share a clock (run it on the server's
//          machine). After the drain it waits (up to --timeout) until every
//          stream has delivered the level's last write.
// Keys: key numbers 0 .. --keys-1, drawn uniformly or with a Zipfian skew
// (--distribution=zipfian, --zipf-theta; the YCSB generator, with ranks
// scrambled over the key space so that hot keys are not neighbours), each
// encoded as --key-bytes bytes: the number big-endian in the first 8, then
// '0's (the keys of cairn-dbbench and db_bench). Writes carry --durability.
//
// FLAGS
//   --workload=noop          noop, put, get, mixed, batch, scan, merge, tail
//   --read-ratio=0.9         mixed: share of Gets, 0..1
//   --batch-ops=100          batch: puts per Batch
//   --scan-limit=100         scan: keys per Scan
//   --tail-streams=1         tail: Tail streams measuring the lag
//   --keys=100000            key space
//   --key-bytes=16           bytes per key, >= 8
//   --value-bytes=100        bytes per value (also "4KiB" etc.)
//   --distribution=uniform   uniform or zipfian
//   --zipf-theta=0.99        zipfian skew, 0 < theta < 1
//   --preload                write every key first (Batch, async)
//   --durability=sync        sync, async or default (the server's) for writes
//   --channels=4             gRPC channels, one TCP connection each
//   --inflight=64            requests in flight; "1,16,64" runs 3 levels
//   --pollers=2              completion-queue threads
//   --rate=0                 requests/s over all slots; 0 = as fast as
//                            possible (latency counts from the actual send)
//   --duration=5s            measured window of each level
//   --count=0                instead of --duration: requests per level
//   --warmup=1s              unmeasured time before each window
//   --seed=1                 seed of the key and value choices
//   --json                   one JSON object per level on stdout, nothing
//                            else there (progress and notes go to stderr)
//   --progress=auto          live line once a second: auto = only on a
//                            terminal, on = always (plain lines when not a
//                            terminal), off
//   connection (defaults from the CAIRN_* environment variables):
//   --endpoint, --tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name,
//   --token, --token-file, --timeout (per-request deadline and the longest
//   wait for the server; default 10s)
// `cairn bench --help` prints them all with their defaults.
//
// WHICH REQUESTS COUNT
// Duration mode: the successful requests that complete inside the window;
// count mode: the successful ones among the first --count requests issued
// after the warm-up, the window ending when the last of them completes. A
// request's latency runs from just before it is started to its completion
// as the poller sees it (a Scan: the whole stream). Errors count in every
// phase (warm-up, window, drain). client CPU is this process's CPU time over
// the level's wall time: on one machine the client competes with the server.
//
// TEXT OUTPUT (stdout), one block per level:
//   put inflight=64 channels=4 durability=sync keys=100000 uniform
//       key_bytes=16 value_bytes=100  (127.0.0.1:7070)
//     window      5.00 s, 61234 requests
//     throughput  12246.8 ops/s            (batch, scan: and keys/s)
//     latency us  p50 812.3  p90 900.1  p99 1500.2  p99.9 3000.0  max 5000.1
//     tail lag us ...; tail  ... events/s  (tail only)
//     misses      0                        (get, mixed)
//     errors      0       (else: count by code, the first error, INVALID)
//     client CPU  0.45 cores
// While a level runs, a progress line (ops/s over the last second, errors,
// elapsed, phase) is rewritten in place on a terminal.
//
// JSON OUTPUT (--json): one object per level, on one line, always with the
// same fields (settings that do not concern the workload hold their flag's
// value; tail_* and lag_* are 0 except for tail). Times in seconds (_s) or
// microseconds (_us):
//   workload, endpoint, durability ("-" for workloads that do not write),
//   distribution, zipf_theta, keys, key_bytes, value_bytes, batch_ops,
//   scan_limit, read_ratio, channels, pollers, inflight, rate (0 = max),
//   count (0 = duration mode), warmup_s, window_s,
//   ops (successful requests counted), reads, writes (of those; mixed splits
//   them), ops_per_s, keys_per_s (keys written or returned per second),
//   misses (Gets that found nothing),
//   p50_us, p90_us, p99_us, p999_us, max_us (request latency),
//   errors (failed requests), errors_by_code ({"UNAVAILABLE": 3, ...}),
//   first_error ("CODE: message", "" without errors),
//   client_cores,
//   tail_streams, tail_events (events committed in the window, summed over
//   the streams), tail_events_per_s, lag_p50_us, lag_p90_us, lag_p99_us,
//   lag_p999_us, lag_max_us (commit-to-receive lag).
//
// EXIT CODE: 0 when every request succeeded; 1 when any failed (a run with
// errors is not a figure to publish), or the server could not be reached or
// preloaded; 2 on a usage error (the message names the flag).
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench.h"
#include "bench_config.h"
#include "connection_flags.h"
#include "driver.h"
#include "flag_set.h"
#include "progress_line.h"
#include "report.h"

namespace cairn::bench {
namespace {

constexpr char kUsage[] = "cairn bench [flags]";
constexpr char kDescription[] =
    "Load generator: keeps --inflight requests of one workload in flight\n"
    "against cairnd and reports throughput, latency percentiles (us), errors\n"
    "by status code and the client's CPU per level. Workloads: noop (health\n"
    "check, the gRPC ceiling), put, get, mixed (--read-ratio Gets, the rest\n"
    "Puts), batch (--batch-ops puts per Batch), scan (--scan-limit keys),\n"
    "merge (add \"1\"), tail (Put writers while --tail-streams Tail streams\n"
    "measure commit-to-receive lag). Exit code: 0 ok, 1 if any request\n"
    "failed or the server is unreachable, 2 on a usage error.";

struct Parsed {
  BenchConfig config;
  client::ClientOptions options;
  bool help = false;
  std::string usage;
};

absl::Status FlagError(const char* flag, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", what));
}

absl::StatusOr<std::vector<int>> ParseLevels(const std::string& text) {
  std::vector<int> levels;
  const std::vector<std::string> parts =
      absl::StrSplit(text, ',', absl::SkipWhitespace());
  for (const std::string& part : parts) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1) {
      return FlagError("inflight",
                       absl::StrCat("'", part, "' is not a positive integer"));
    }
    levels.push_back(n);
  }
  if (levels.empty()) return FlagError("inflight", "empty");
  return levels;
}

// Checks that `value` lies in [lo, hi] and stores it in *out.
template <typename T>
absl::Status InRange(const char* flag, int64_t value, int64_t lo, int64_t hi,
                     T* out) {
  if (value < lo || value > hi) {
    return FlagError(flag, absl::StrCat("must be between ", lo, " and ", hi,
                                        ", not ", value));
  }
  *out = static_cast<T>(value);
  return absl::OkStatus();
}

absl::StatusOr<Parsed> ParseFlags(const std::vector<std::string>& args) {
  Parsed p;
  BenchConfig& c = p.config;
  cli::ConnectionFlags connection;
  if (absl::Status s = connection.Init(); !s.ok()) return s;

  std::string workload = "noop", distribution = "uniform", durability = "sync",
              inflight = "64", progress = "auto";
  int64_t keys = static_cast<int64_t>(c.keys), key_bytes = c.key_bytes,
          value_bytes = c.value_bytes, batch_ops = c.batch_ops,
          scan_limit = c.scan_limit, tail_streams = c.tail_streams,
          channels = c.channels, pollers = c.pollers, count = 0, seed = 1;

  cli::FlagSet flags(kUsage, kDescription);
  flags.String("workload", &workload,
               "noop, put, get, mixed, batch, scan, merge or tail");
  flags.Double("read-ratio", &c.read_ratio, "mixed: share of Gets (0..1)");
  flags.Int("batch-ops", &batch_ops, "batch: puts per KV.Batch");
  flags.Int("scan-limit", &scan_limit, "scan: keys per KV.Scan");
  flags.Int("tail-streams", &tail_streams,
            "tail: Replication.Tail streams measuring the lag");
  flags.Int("keys", &keys, "key space: key numbers 0 .. keys-1");
  flags.Int("key-bytes", &key_bytes,
            "bytes per key (>= 8: the key number big-endian, then '0's)");
  flags.Bytes("value-bytes", &value_bytes, "bytes per value (e.g. 100, 4KiB)");
  flags.String("distribution", &distribution, "key choice: uniform or zipfian");
  flags.Double("zipf-theta", &c.zipf_theta, "zipfian skew (0 < theta < 1)");
  flags.Bool("preload", &c.preload,
             "first write every key once (Batch, async durability)");
  flags.String("durability", &durability,
               "of writes: sync, async or default (the server's)");
  flags.Int("channels", &channels, "gRPC channels, one TCP connection each");
  flags.String("inflight", &inflight,
               "requests kept in flight; a list (1,16,64) runs each level");
  flags.Int("pollers", &pollers, "completion-queue threads");
  flags.Double("rate", &c.rate,
               "target requests/s over all slots; 0 = as fast as possible");
  flags.Duration("duration", &c.duration, "measured window of each level");
  flags.Int("count", &count,
            "instead of --duration: requests per level after the warm-up");
  flags.Duration("warmup", &c.warmup, "unmeasured time before each window");
  flags.Int("seed", &seed, "seed of the key and value choices");
  flags.Bool("json", &c.json,
             "one JSON object per level on stdout (progress to stderr)");
  flags.String("progress", &progress,
               "live line once a second: auto (on a terminal), on or off");
  connection.Register(&flags);

  absl::StatusOr<std::vector<std::string>> positional = flags.Parse(args);
  if (!positional.ok()) return positional.status();
  p.usage = flags.Usage();
  if (flags.help_requested()) {
    p.help = true;
    return p;
  }
  if (!positional->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", (*positional)[0],
                     "' (cairn bench takes only flags)"));
  }
  if (absl::Status s = connection.Finish(); !s.ok()) return s;
  p.options = connection.options();

  static constexpr struct {
    const char* name;
    Workload workload;
  } kWorkloads[] = {{"noop", Workload::kNoop},   {"put", Workload::kPut},
                    {"get", Workload::kGet},     {"mixed", Workload::kMixed},
                    {"batch", Workload::kBatch}, {"scan", Workload::kScan},
                    {"merge", Workload::kMerge}, {"tail", Workload::kTail}};
  bool known = false;
  for (const auto& w : kWorkloads) {
    if (workload == w.name) {
      c.workload = w.workload;
      known = true;
    }
  }
  if (!known) {
    return FlagError("workload",
                     absl::StrCat("'", workload,
                                  "' is not one of noop, put, get, mixed, "
                                  "batch, scan, merge, tail"));
  }
  if (distribution == "uniform") {
    c.distribution = Distribution::kUniform;
  } else if (distribution == "zipfian") {
    c.distribution = Distribution::kZipfian;
  } else {
    return FlagError(
        "distribution",
        absl::StrCat("'", distribution, "' is not uniform or zipfian"));
  }
  if (durability == "sync") {
    c.durability = v1::DURABILITY_SYNC;
  } else if (durability == "async") {
    c.durability = v1::DURABILITY_ASYNC;
  } else if (durability == "default") {
    c.durability = v1::DURABILITY_DEFAULT;
  } else {
    return FlagError(
        "durability",
        absl::StrCat("'", durability, "' is not sync, async or default"));
  }
  if (progress == "auto") {
    c.progress = ProgressSetting::kAuto;
  } else if (progress == "on") {
    c.progress = ProgressSetting::kOn;
  } else if (progress == "off") {
    c.progress = ProgressSetting::kOff;
  } else {
    return FlagError("progress",
                     absl::StrCat("'", progress, "' is not auto, on or off"));
  }
  if (!(c.read_ratio >= 0 && c.read_ratio <= 1)) {
    return FlagError("read-ratio", "must be between 0 and 1");
  }
  if (!(c.zipf_theta > 0 && c.zipf_theta < 1)) {
    return FlagError("zipf-theta", "must be greater than 0 and less than 1");
  }
  if (!(c.rate >= 0)) return FlagError("rate", "must be 0 or more");
  constexpr int64_t kMaxInt = 1 << 30;
  for (absl::Status s : {
           InRange("keys", keys, 1, INT64_MAX, &c.keys),
           InRange("key-bytes", key_bytes, 8, kMaxInt, &c.key_bytes),
           InRange("value-bytes", value_bytes, 0, kMaxInt, &c.value_bytes),
           InRange("batch-ops", batch_ops, 1, kMaxInt, &c.batch_ops),
           InRange("scan-limit", scan_limit, 1, kMaxInt, &c.scan_limit),
           InRange("tail-streams", tail_streams, 1, 1000, &c.tail_streams),
           InRange("channels", channels, 1, 1000, &c.channels),
           InRange("pollers", pollers, 1, 1000, &c.pollers),
           InRange("count", count, 0, INT64_MAX, &c.count),
           InRange("seed", seed, INT64_MIN, INT64_MAX, &c.seed),
       }) {
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::vector<int>> levels = ParseLevels(inflight);
  if (!levels.ok()) return levels.status();
  c.inflight = *levels;
  if (flags.IsSet("count") && flags.IsSet("duration")) {
    return FlagError("count", "give --count or --duration, not both");
  }
  if (c.count == 0 && c.duration <= absl::ZeroDuration()) {
    return FlagError("duration", "must be positive (or give --count)");
  }
  if (c.duration == absl::InfiniteDuration() ||
      c.warmup == absl::InfiniteDuration()) {
    return FlagError(
        c.warmup == absl::InfiniteDuration() ? "warmup" : "duration",
        "must be finite: every run is bounded");
  }
  return p;
}

void PrintError(const absl::Status& s) {
  const absl::string_view message = s.message();
  std::fprintf(stderr, "cairn bench: %.*s\n", static_cast<int>(message.size()),
               message.data());
}

std::string LevelLabel(const BenchConfig& c, int inflight) {
  return absl::StrCat(WorkloadName(c.workload), " inflight=", inflight);
}

}  // namespace

int BenchMain(const std::vector<std::string>& args) {
  absl::StatusOr<Parsed> parsed = ParseFlags(args);
  if (!parsed.ok()) {
    PrintError(parsed.status());
    std::fprintf(stderr, "run 'cairn bench --help' for the flags\n");
    return 2;
  }
  if (parsed->help) {
    std::fputs(parsed->usage.c_str(), stdout);
    return 0;
  }
  const BenchConfig& config = parsed->config;
  const client::ClientOptions& options = parsed->options;
  // With --json, stdout holds the JSON objects and nothing else.
  std::FILE* notes = config.json ? stderr : stdout;

  absl::StatusOr<std::unique_ptr<Driver>> driver =
      Driver::Create(config, options);
  if (!driver.ok()) {
    PrintError(driver.status());
    return absl::IsInvalidArgument(driver.status()) ? 2 : 1;
  }
  if (absl::Status s = (*driver)->WaitReady(); !s.ok()) {
    PrintError(s);
    return 1;
  }
  if (config.preload) {
    absl::StatusOr<absl::Duration> took = (*driver)->Preload();
    if (!took.ok()) {
      PrintError(took.status());
      return 1;
    }
    std::fprintf(notes, "# preloaded %s keys in %.2f s\n",
                 absl::StrCat(config.keys).c_str(),
                 absl::ToDoubleSeconds(*took));
    std::fflush(notes);
  }

  ProgressLine progress(ProgressLine::Choose(config.progress, notes), notes);
  bool failed = false;
  for (size_t i = 0; i < config.inflight.size(); ++i) {
    const int inflight = config.inflight[i];
    progress.Begin(LevelLabel(config, inflight), config.count,
                   config.workload == Workload::kTail);
    LevelResult r = (*driver)->RunLevel(
        inflight,
        [&progress](const LiveStatus& live) { progress.Update(live); });
    progress.End();
    const std::string report = config.json
                                   ? JsonReport(config, options.target, r)
                                   : TextReport(config, options.target, r);
    std::fprintf(stdout, "%s%s", !config.json && i > 0 ? "\n" : "",
                 report.c_str());
    std::fflush(stdout);
    failed |= r.errors.total() > 0;
  }
  if (failed) {
    std::fprintf(stderr,
                 "cairn bench: some requests failed (see errors): these "
                 "figures are not valid\n");
  }
  return failed ? 1 : 0;
}

}  // namespace cairn::bench
