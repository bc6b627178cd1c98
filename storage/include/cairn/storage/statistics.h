// Statistics: the engine's cumulative counters and latency histograms, and
// the point-in-time figures (level sizes, memtables, stall state) that
// DB::GetStats reports. Counters are relaxed atomics updated on the hot path;
// readers get a consistent-enough snapshot for monitoring, not a transaction.
//
// Thread-safety: all methods may be called concurrently.
#ifndef CAIRN_STORAGE_STATISTICS_H_
#define CAIRN_STORAGE_STATISTICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

namespace cairn::storage {

// Why a write waited. Names (StallReasonName) are what metrics use.
enum class StallReason : int {
  kL0Slowdown = 0,
  kL0Stop,
  kMemtableLimit,
  kPendingCompaction,  // slowdown or stop on pending compaction bytes
  kMemory,
  kCount,
};
std::string_view StallReasonName(StallReason reason);

enum class Ticker : int {
  kKeysWritten = 0,
  kBytesWritten,  // user key + value bytes of committed writes
  kWriteBatches,
  kSyncedWrites,
  kKeysRead,  // Get/MultiGet lookups
  kKeysFound,
  kIterSeeks,
  kBlockCacheHit,
  kBlockCacheMiss,
  kBlockCacheInsert,
  kBloomChecked,  // bloom filter consulted for a point lookup
  kBloomUseful,   // ...and it said "absent", saving a block read
  kFlushes,
  kFlushBytes,  // SSTable bytes written by flushes
  kCompactions,
  kCompactReadBytes,
  kCompactWriteBytes,
  kStalls,  // writes that waited at least once
  kStallMicros,
  kWritesRejected,  // ResourceExhausted from a stall or the disk check
  kCount,
};
std::string_view TickerName(Ticker ticker);

enum class HistogramType : int {
  kWriteMicros = 0,
  kFlushMicros,
  kCompactionMicros,
  kStallMicros,
  kWalSyncMicros,
  kGroupCommitSize,  // batches per write group
  kCount,
};
std::string_view HistogramName(HistogramType type);

// Log-bucketed histogram with a fixed bucket layout (upper bounds 1, 2, 5, 10,
// 20, 50, ... up to 5e9); lock-free to record.
class Histogram {
 public:
  static constexpr int kBuckets = 30;
  static const std::array<uint64_t, kBuckets>& BucketLimits();

  void Record(uint64_t value);
  struct Data {
    std::array<uint64_t, kBuckets + 1> counts{};  // last: above every limit
    uint64_t count = 0;
    uint64_t sum = 0;
    uint64_t min = 0;
    uint64_t max = 0;
    double Percentile(double p) const;  // p in [0, 100]
  };
  Data Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> min_{UINT64_MAX};
  std::atomic<uint64_t> max_{0};
};

class Statistics {
 public:
  void Add(Ticker t, uint64_t n = 1) {
    tickers_[static_cast<int>(t)].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t Get(Ticker t) const {
    return tickers_[static_cast<int>(t)].load(std::memory_order_relaxed);
  }
  void Record(HistogramType h, uint64_t value) {
    histograms_[static_cast<int>(h)].Record(value);
  }
  Histogram::Data GetHistogram(HistogramType h) const {
    return histograms_[static_cast<int>(h)].Snapshot();
  }
  // Stalls by reason.
  void AddStall(StallReason r, uint64_t micros) {
    stall_count_[static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed);
    stall_micros_[static_cast<int>(r)].fetch_add(micros,
                                                 std::memory_order_relaxed);
  }
  uint64_t StallCount(StallReason r) const {
    return stall_count_[static_cast<int>(r)].load(std::memory_order_relaxed);
  }
  uint64_t StallMicros(StallReason r) const {
    return stall_micros_[static_cast<int>(r)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, static_cast<int>(Ticker::kCount)>
      tickers_{};
  std::array<Histogram, static_cast<int>(HistogramType::kCount)> histograms_;
  std::array<std::atomic<uint64_t>, static_cast<int>(StallReason::kCount)>
      stall_count_{};
  std::array<std::atomic<uint64_t>, static_cast<int>(StallReason::kCount)>
      stall_micros_{};
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_STATISTICS_H_
