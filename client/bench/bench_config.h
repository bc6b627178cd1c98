// BenchConfig: one `cairn bench` run as the flags describe it (bench_main.cc
// turns the flags into it and checks them; see there for what each means).
// Everything else in client/bench reads it and never changes it.
//
// Invariants once BenchMain has validated it: keys >= 1, key_bytes >= 8,
// value_bytes >= 0, batch_ops >= 1, scan_limit >= 1, 0 <= read_ratio <= 1,
// 0 < zipf_theta < 1, channels >= 1, pollers >= 1, inflight non-empty with
// every level >= 1, rate >= 0, tail_streams >= 1, and either count > 0 or
// duration > 0.
//
// Plain data; safe to copy and to read from any thread.
#ifndef CAIRN_CLIENT_BENCH_BENCH_CONFIG_H_
#define CAIRN_CLIENT_BENCH_BENCH_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cairn/v1/types.pb.h"

namespace cairn::bench {

enum class Workload { kNoop, kPut, kGet, kMixed, kBatch, kScan, kMerge, kTail };
enum class Distribution { kUniform, kZipfian };
enum class ProgressSetting { kAuto, kOn, kOff };

struct BenchConfig {
  Workload workload = Workload::kNoop;
  // Sent with every write (and with nothing else).
  v1::Durability durability = v1::DURABILITY_SYNC;

  // The key space: key numbers 0 .. keys-1, each encoded in key_bytes bytes
  // (bench_util.h's EncodeKey), chosen with `distribution`.
  uint64_t keys = 100000;
  int key_bytes = 16;
  int value_bytes = 100;
  Distribution distribution = Distribution::kUniform;
  double zipf_theta = 0.99;

  int batch_ops = 100;      // batch: puts per KV.Batch
  int scan_limit = 100;     // scan: keys per KV.Scan
  double read_ratio = 0.9;  // mixed: share of Gets
  int tail_streams = 1;     // tail: Replication.Tail streams

  int channels = 4;
  int pollers = 2;
  std::vector<int> inflight = {64};  // one level each, in turn
  double rate = 0;  // requests/s over all in-flight slots; 0 = no pacing

  // Each level: `warmup`, then measured for `duration`, or (count > 0) until
  // `count` requests issued after the warm-up have completed.
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(5);
  uint64_t count = 0;

  bool preload = false;
  uint64_t seed = 1;
  bool json = false;
  ProgressSetting progress = ProgressSetting::kAuto;
};

// The flag spelling of each setting ("put", "zipfian", "sync").
const char* WorkloadName(Workload w);
const char* DistributionName(Distribution d);
const char* DurabilityName(v1::Durability d);

// Whether the workload writes (and so whether --durability applies).
bool Writes(Workload w);

// "sync"/"async"/"default" for a workload that writes, "-" otherwise: what
// the reports print, so that no figure shows a setting that had no effect.
std::string ReportedDurability(const BenchConfig& c);

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_BENCH_CONFIG_H_
