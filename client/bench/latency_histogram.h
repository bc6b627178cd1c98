// LatencyHistogram: per-op latencies of a benchmark thread, HdrHistogram
// style, for percentiles without storing every sample: values below 64 are
// counted exactly, larger ones in 32 linear sub-buckets per power of two (a
// bucket spans 1.6-3.1% of its values; percentiles interpolate inside it).
// Recording is a few instructions; the histograms of threads merge. Used by
// `cairn bench` and by tests/bench's cairn-dbbench. Units are the caller's
// (both record nanoseconds).
//
// Thread-safety: none; one per thread, merged after the threads end.
#ifndef CAIRN_CLIENT_BENCH_LATENCY_HISTOGRAM_H_
#define CAIRN_CLIENT_BENCH_LATENCY_HISTOGRAM_H_

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace cairn::bench {

class LatencyHistogram {
 public:
  void Add(uint64_t v) {
    ++counts_[Index(v)];
    ++count_;
    max_ = std::max(max_, v);
  }
  void Merge(const LatencyHistogram& o) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    max_ = std::max(max_, o.max_);
  }
  // p in (0, 100]; interpolated inside the bucket holding that rank.
  double Percentile(double p) const {
    if (count_ == 0) return 0;
    double rank = std::ceil(p / 100.0 * static_cast<double>(count_));
    uint64_t cum = 0;
    for (int i = 0; i < kBuckets; ++i) {
      if (counts_[i] == 0) continue;
      if (static_cast<double>(cum + counts_[i]) >= rank) {
        double lo = static_cast<double>(Lower(i));
        if (i < 64) return lo;  // an exact bucket
        double hi = static_cast<double>(i + 1 < kBuckets ? Lower(i + 1) : max_);
        double v = lo + (hi - lo) * (rank - cum) / counts_[i];
        return std::min(v, static_cast<double>(max_));
      }
      cum += counts_[i];
    }
    return static_cast<double>(max_);
  }
  uint64_t max() const { return max_; }
  uint64_t count() const { return count_; }

 private:
  static constexpr int kBuckets = 64 + 58 * 32;
  static int Index(uint64_t v) {
    if (v < 64) return static_cast<int>(v);
    int shift = std::bit_width(v) - 6;  // v >> shift is in [32, 63]
    return 64 + (shift - 1) * 32 + static_cast<int>((v >> shift) - 32);
  }
  static uint64_t Lower(int i) {
    if (i < 64) return i;
    int shift = (i - 64) / 32 + 1;
    return (uint64_t{32} + (i - 64) % 32) << shift;
  }
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets);
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_LATENCY_HISTOGRAM_H_
