// Driver: the engine of `cairn bench`. It keeps exactly N requests of a
// workload in flight: each in-flight "slot" starts its next request the
// moment its previous one completes (or, with a target rate, at the next
// free send time). Slots are spread round-robin over the channels (each
// with distinct channel arguments and a local subchannel pool, so each has
// a TCP connection of its own) and over the completion queues, each drained
// by one poller thread.
//
// A level (RunLevel) runs the warm-up, then the measured window (a
// duration, or until a count of requests issued after the warm-up have
// completed), then waits for the requests still in flight (the drain); no
// request is started after the window. With the tail workload, the level
// also opens the Tail streams before its first write and, after the drain,
// waits (up to the timeout) until they have delivered the last write.
//
// Latency is measured from just before a request is started, not from the
// time a paced request was due: with --rate, a server that falls behind
// shows as a lower achieved rate rather than as queueing delay.
//
// Thread-safety: Create, WaitReady, Preload and RunLevel are called from one
// thread, one at a time. During a level, a slot is touched only by the
// poller of its completion queue; the pollers' figures are read by the
// level's thread only after every slot has retired.
#ifndef CAIRN_CLIENT_BENCH_DRIVER_H_
#define CAIRN_CLIENT_BENCH_DRIVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench_config.h"
#include "cairn/client/options.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "key_generator.h"
#include "level_result.h"
#include "operation.h"
#include "value_source.h"

namespace cairn::bench {

class TailStreams;

// How a running level stands, for the progress line.
struct LiveStatus {
  enum class Phase { kWarmup, kMeasuring, kDraining };
  Phase phase = Phase::kWarmup;
  double elapsed_s = 0;          // since the level started
  uint64_t completed = 0;        // requests finished so far, in any phase
  uint64_t failed = 0;           // of which failed
  uint64_t issued_measured = 0;  // count mode: of the count, issued so far
  uint64_t tail_events = 0;      // tail: events received so far
};

class Driver {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens config.channels channels (connections are made lazily, or by
  // WaitReady) and starts config.pollers poller threads. Fails when the
  // connection options are unusable (e.g. a TLS file cannot be read).
  static absl::StatusOr<std::unique_ptr<Driver>> Create(
      const BenchConfig& config, const client::ClientOptions& options);
  ~Driver();

  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Connects every channel and checks that the server answers a health
  // check with SERVING, all within the options' default_timeout. Fails with
  // UNAVAILABLE "cannot reach <endpoint> ..." otherwise.
  absl::Status WaitReady();

  // Writes every key once, in Batches (asynchronous durability), with
  // random values, or "0" for the merge workload (so that "add" applies).
  // Returns how long it took.
  absl::StatusOr<absl::Duration> Preload();

  // Runs one level with `inflight` requests in flight. Calls `tick` about
  // once a second, from this thread, while the level runs.
  LevelResult RunLevel(int inflight,
                       const std::function<void(const LiveStatus&)>& tick);

 private:
  struct Poller;
  struct Slot;

  Driver(const BenchConfig& config, const client::ClientOptions& options);

  void Poll(Poller* p);
  // Decides whether the slot goes on (and whether its next request is
  // measured, in count mode), waits for its send time under --rate, and
  // starts its next request; or retires the slot.
  void Next(Slot* s);
  void Send(Slot* s);
  void Complete(Slot* s);
  void Retire();
  // The send time of the next paced request (--rate): the later of `now`
  // and the previous one plus the interval.
  Clock::time_point ClaimSendTime(Clock::time_point now);
  LiveStatus Live(Clock::time_point start) const;

  const BenchConfig config_;
  const client::ClientOptions options_;
  const KeyGenerator keys_;
  const ValueSource values_;
  const WorkloadEnv env_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<ChannelStubs>> stubs_;
  std::vector<std::unique_ptr<Poller>> pollers_;

  // The current level's schedule; set before its first request.
  std::atomic<Clock::time_point> window_begin_{};
  std::atomic<Clock::time_point> window_end_{};
  std::atomic<Clock::rep> next_send_{0};      // --rate: Clock ticks
  Clock::duration send_interval_{};           // --rate: 1 / rate
  std::atomic<uint64_t> issued_measured_{0};  // count mode

  TailStreams* tail_ = nullptr;  // the level's, for Live(); tail only

  std::atomic<int> active_slots_{0};
  std::mutex retired_mu_;
  std::condition_variable retired_cv_;
};

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_DRIVER_H_
