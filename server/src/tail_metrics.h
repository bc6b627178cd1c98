// TailMetrics: the Prometheus series of Tail and named consumers
// (docs/metrics.md, "Tail"): events, bytes and progress messages sent,
// OUT_OF_RANGE refusals (counters, updated by the streams), and per
// consumer its acknowledged sequence and lag in sequences and seconds,
// computed at scrape time from the ConsumerRegistry and the WAL.
//
// Thread-safe. Must outlive every Tail stream; the scrape-time part is
// removed from the Metrics on destruction.
#ifndef CAIRN_SERVER_TAIL_METRICS_H_
#define CAIRN_SERVER_TAIL_METRICS_H_

#include <cstdint>

#include "cairn/storage/db.h"
#include "consumer_registry.h"
#include "metrics.h"
#include "prometheus/counter.h"

namespace cairn::server {

class TailMetrics {
 public:
  TailMetrics(Metrics* metrics, storage::DB* db, ConsumerRegistry* consumers);
  ~TailMetrics();
  TailMetrics(const TailMetrics&) = delete;
  TailMetrics& operator=(const TailMetrics&) = delete;

  void EventsSent(uint64_t events, uint64_t bytes) {
    events_->Increment(static_cast<double>(events));
    bytes_->Increment(static_cast<double>(bytes));
  }
  void ProgressSent() { progress_->Increment(); }
  void OutOfRange() { out_of_range_->Increment(); }

 private:
  Metrics* const metrics_;
  prometheus::Counter* events_;
  prometheus::Counter* bytes_;
  prometheus::Counter* progress_;
  prometheus::Counter* out_of_range_;
  int collector_ = -1;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_TAIL_METRICS_H_
