// LatencyHistogram (client/bench/latency_histogram.h): percentiles exact
// below 64, within a bucket's width (about 3%) above, max exact, merges.
#include "latency_histogram.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace cairn::bench {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.max(), 0u);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 50; ++v) h.Add(v);
  EXPECT_EQ(h.Percentile(50), 25);
  EXPECT_EQ(h.Percentile(100), 50);
  EXPECT_EQ(h.Percentile(2), 1);
  EXPECT_EQ(h.max(), 50u);
}

TEST(LatencyHistogramTest, PercentilesOfAUniformRange) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.Add(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double want = p / 100 * 100000 * 1000;
    EXPECT_NEAR(h.Percentile(p), want, want * 0.035) << "p" << p;
  }
  EXPECT_EQ(h.max(), 100000u * 1000);
  EXPECT_LE(h.Percentile(100), static_cast<double>(h.max()));
}

TEST(LatencyHistogramTest, TailPercentilesSeeTheOutliers) {
  LatencyHistogram h;
  for (int i = 0; i < 990; ++i) h.Add(1000);
  for (int i = 0; i < 10; ++i) h.Add(1'000'000);
  EXPECT_NEAR(h.Percentile(50), 1000, 35);
  EXPECT_NEAR(h.Percentile(99), 1000, 35);
  EXPECT_NEAR(h.Percentile(99.9), 1'000'000, 35'000);
  EXPECT_EQ(h.max(), 1'000'000u);
}

TEST(LatencyHistogramTest, MergeAddsCountsAndKeepsTheMax) {
  LatencyHistogram a, b;
  for (int i = 0; i < 100; ++i) a.Add(10);
  for (int i = 0; i < 300; ++i) b.Add(5000);
  b.Add(70000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 401u);
  EXPECT_EQ(a.max(), 70000u);
  EXPECT_EQ(a.Percentile(20), 10);
  EXPECT_NEAR(a.Percentile(50), 5000, 5000 * 0.035);
}

}  // namespace
}  // namespace cairn::bench
