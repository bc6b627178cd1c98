#include "cairn/storage/statistics.h"

#include <algorithm>

namespace cairn::storage {

std::string_view StallReasonName(StallReason reason) {
  switch (reason) {
    case StallReason::kL0Slowdown:
      return "l0_slowdown";
    case StallReason::kL0Stop:
      return "l0_stop";
    case StallReason::kMemtableLimit:
      return "memtable_limit";
    case StallReason::kPendingCompaction:
      return "pending_compaction";
    case StallReason::kMemory:
      return "memory";
    case StallReason::kCount:
      break;
  }
  return "unknown";
}

std::string_view TickerName(Ticker ticker) {
  static constexpr std::string_view kNames[] = {
      "keys_written",
      "bytes_written",
      "write_batches",
      "synced_writes",
      "keys_read",
      "keys_found",
      "iter_seeks",
      "block_cache_hit",
      "block_cache_miss",
      "block_cache_insert",
      "bloom_checked",
      "bloom_useful",
      "flushes",
      "flush_bytes",
      "compactions",
      "compact_read_bytes",
      "compact_write_bytes",
      "stalls",
      "stall_micros",
      "writes_rejected",
  };
  static_assert(std::size(kNames) == static_cast<size_t>(Ticker::kCount));
  return kNames[static_cast<int>(ticker)];
}

std::string_view HistogramName(HistogramType type) {
  static constexpr std::string_view kNames[] = {
      "write_micros", "flush_micros",    "compaction_micros",
      "stall_micros", "wal_sync_micros", "group_commit_size",
  };
  static_assert(std::size(kNames) ==
                static_cast<size_t>(HistogramType::kCount));
  return kNames[static_cast<int>(type)];
}

const std::array<uint64_t, Histogram::kBuckets>& Histogram::BucketLimits() {
  static const std::array<uint64_t, kBuckets> kLimits = [] {
    std::array<uint64_t, kBuckets> a{};
    uint64_t base = 1;
    for (int i = 0; i < kBuckets; i += 3) {
      a[i] = base;
      if (i + 1 < kBuckets) a[i + 1] = base * 2;
      if (i + 2 < kBuckets) a[i + 2] = base * 5;
      base *= 10;
    }
    return a;
  }();
  return kLimits;
}

void Histogram::Record(uint64_t value) {
  const auto& limits = BucketLimits();
  int b = static_cast<int>(
      std::lower_bound(limits.begin(), limits.end(), value) - limits.begin());
  counts_[b].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  uint64_t m = max_.load(std::memory_order_relaxed);
  while (value > m &&
         !max_.compare_exchange_weak(m, value, std::memory_order_relaxed)) {
  }
  m = min_.load(std::memory_order_relaxed);
  while (value < m &&
         !min_.compare_exchange_weak(m, value, std::memory_order_relaxed)) {
  }
}

Histogram::Data Histogram::Snapshot() const {
  Data d;
  for (int i = 0; i <= kBuckets; ++i) {
    d.counts[i] = counts_[i].load(std::memory_order_relaxed);
    d.count += d.counts[i];
  }
  d.sum = sum_.load(std::memory_order_relaxed);
  d.max = max_.load(std::memory_order_relaxed);
  d.min = d.count == 0 ? 0 : min_.load(std::memory_order_relaxed);
  return d;
}

double Histogram::Data::Percentile(double p) const {
  if (count == 0) return 0;
  const auto& limits = BucketLimits();
  const double threshold = count * (p / 100.0);
  double cumulative = 0;
  for (int b = 0; b <= kBuckets; ++b) {
    const double prev = cumulative;
    cumulative += counts[b];
    if (cumulative >= threshold && counts[b] > 0) {
      // Interpolate inside the bucket.
      const double lo = b == 0 ? 0 : static_cast<double>(limits[b - 1]);
      const double hi = b < kBuckets ? static_cast<double>(limits[b])
                                     : static_cast<double>(max);
      const double frac = (threshold - prev) / counts[b];
      // Interpolated inside the bucket, and never outside what was seen.
      return std::clamp(lo + (hi - lo) * frac, static_cast<double>(min),
                        static_cast<double>(max));
    }
  }
  return static_cast<double>(max);
}

}  // namespace cairn::storage
