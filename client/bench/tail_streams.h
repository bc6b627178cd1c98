// TailStreams: the Replication.Tail streams of the tail workload, which
// measure how promptly cairnd delivers what it commits while the level's
// writers load it.
//
// Each stream starts "from now" on a channel of its own choosing and is
// read by a thread of its own with the blocking API (there are few streams,
// and each must keep up with everything the server commits). For each
// event whose commit time lies in the level's window, the stream records
// lag = the time the response holding it was received (system clock) -
// event.commit_time_unix_micros (stamped by the server's write leader before
// the WAL append, so the lag includes the write's own commit). Client and
// server must share a clock: run the bench on the server's machine, or on
// one whose clock is synchronised with it (the lag is then only as good as
// the synchronisation). Every stream sees every event: events add up over
// the streams.
//
// Usage, from one thread: Open(), SetWindow(), then (while the writers
// run) events()
// from any thread, then WaitDelivered() for the last written sequence,
// then Stop(). The destructor stops streams still running.
#ifndef CAIRN_CLIENT_BENCH_TAIL_STREAMS_H_
#define CAIRN_CLIENT_BENCH_TAIL_STREAMS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cairn/client/options.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "latency_histogram.h"
#include "level_result.h"

namespace cairn::bench {

class TailStreams {
 public:
  explicit TailStreams(const client::ClientOptions& options);
  ~TailStreams();

  TailStreams(const TailStreams&) = delete;
  TailStreams& operator=(const TailStreams&) = delete;

  // Starts one stream per channel in `channels` and waits, up to the
  // options' default_timeout, until each has its first response (the
  // server sends one at once), so that no write of the level precedes a
  // stream. Fails with the error of a stream that could not start (Stop
  // then counts it among the level's errors).
  absl::Status Open(
      const std::vector<std::shared_ptr<grpc::Channel>>& channels);

  // From now on, events committed in [begin, end) are measured (none
  // before the first call).
  void SetWindow(absl::Time begin, absl::Time end);

  // Events received so far by all streams, whatever their commit time.
  uint64_t events() const;

  // Waits until every stream has delivered everything up to `seq`, or
  // until `deadline`; false then.
  bool WaitDelivered(uint64_t seq, absl::Time deadline);

  // Cancels the streams, waits for their threads and adds what they
  // measured to *result, and any stream that failed to its errors.
  void Stop(LevelResult* result);

 private:
  struct Stream {
    std::unique_ptr<v1::Replication::Stub> stub;
    grpc::ClientContext context;
    std::thread thread;
    std::atomic<uint64_t> received{0};
    // Guarded by TailStreams::mu_.
    bool started = false;
    bool ended = false;
    uint64_t delivered_seq = 0;
    // Owned by the thread until it is joined.
    LatencyHistogram lag;
    uint64_t events = 0;
    grpc::Status status;
  };

  void Read(Stream* s);
  void CancelAndJoin();

  const client::ClientOptions options_;
  std::atomic<int64_t> window_begin_us_;
  std::atomic<int64_t> window_end_us_;
  std::vector<std::unique_ptr<Stream>> streams_;
  absl::Status open_error_;  // a stream that did not start in time
  bool joined_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_TAIL_STREAMS_H_
