// What one level of a benchmark measured (Driver::RunLevel fills it in,
// report.h prints it), and ErrorCounts, the failed requests by status code.
//
// Which requests count: in duration mode, the successful requests that
// complete inside the measured window; in count mode (--count), the
// successful ones among the first `count` requests issued after the
// warm-up (the window then ends when the last of them completes). Errors
// count in every phase of the level: warm-up, window and drain.
//
// Plain data; not thread-safe (each poller fills its own, merged after the
// level).
#ifndef CAIRN_CLIENT_BENCH_LEVEL_RESULT_H_
#define CAIRN_CLIENT_BENCH_LEVEL_RESULT_H_

#include <cstdint>
#include <map>
#include <string>

#include "latency_histogram.h"

namespace cairn::bench {

class ErrorCounts {
 public:
  // code: the gRPC status code (grpc::StatusCode's value).
  void Add(int code, const std::string& message);
  void Merge(const ErrorCounts& other);

  uint64_t total() const { return total_; }
  // By code name ("UNAVAILABLE", "DEADLINE_EXCEEDED", ...).
  const std::map<std::string, uint64_t>& by_code() const { return by_code_; }
  // "CODE: message" of the first error seen; empty without errors.
  const std::string& first() const { return first_; }

 private:
  uint64_t total_ = 0;
  std::map<std::string, uint64_t> by_code_;
  std::string first_;
};

// gRPC's name of a status code: "OK", "CANCELLED", ... "UNAUTHENTICATED".
std::string StatusCodeName(int code);

struct LevelResult {
  int inflight = 0;
  // The measured window, seconds.
  double window_s = 0;
  // Successful requests counted (see above); for mixed, split into reads
  // and writes.
  uint64_t ops = 0;
  uint64_t reads = 0;
  uint64_t writes = 0;
  // Keys those requests wrote or returned: 1 per Put, Get or Merge,
  // batch_ops per Batch, the keys a Scan returned; 0 for noop.
  uint64_t keys = 0;
  // Gets that found no value.
  uint64_t misses = 0;
  // Latency of the counted requests, nanoseconds: from just before the
  // request is started to its completion as the poller sees it (for a
  // Scan, the whole stream).
  LatencyHistogram latency;
  ErrorCounts errors;
  // This process's CPU time over the level's wall time (warm-up and drain
  // included), in cores: on one machine, what the client took from the
  // server.
  double client_cores = 0;

  // tail: events with a commit time inside the window, received by all
  // streams together, and their commit-to-receive lag in nanoseconds.
  int tail_streams = 0;
  uint64_t tail_events = 0;
  LatencyHistogram tail_lag;
};

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_LEVEL_RESULT_H_
