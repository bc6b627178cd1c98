// Statistics: counters, stall accounting and histogram percentiles.
#include "cairn/storage/statistics.h"

#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

TEST(Histogram, PercentilesStayInsideTheObservedRange) {
  Histogram h;
  for (int i = 0; i < 100; ++i) h.Record(1);
  Histogram::Data d = h.Snapshot();
  EXPECT_EQ(d.count, 100u);
  EXPECT_EQ(d.min, 1u);
  EXPECT_EQ(d.max, 1u);
  EXPECT_DOUBLE_EQ(d.Percentile(50), 1.0);
  EXPECT_DOUBLE_EQ(d.Percentile(99), 1.0);
}

TEST(Histogram, PercentilesFollowTheDistribution) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v);
  Histogram::Data d = h.Snapshot();
  EXPECT_EQ(d.sum, 500500u);
  // Log buckets (1, 2, 5, 10, ...): within a bucket's width of the truth.
  EXPECT_NEAR(d.Percentile(50), 500, 100);
  EXPECT_NEAR(d.Percentile(90), 900, 100);
  EXPECT_LE(d.Percentile(100), 1000);
  EXPECT_EQ(Histogram::Data().Percentile(50), 0);
}

TEST(Statistics, TickersAndStallsByReason) {
  Statistics s;
  s.Add(Ticker::kKeysWritten, 3);
  s.Add(Ticker::kKeysWritten);
  EXPECT_EQ(s.Get(Ticker::kKeysWritten), 4u);
  s.AddStall(StallReason::kL0Stop, 250);
  s.AddStall(StallReason::kL0Stop, 750);
  EXPECT_EQ(s.StallCount(StallReason::kL0Stop), 2u);
  EXPECT_EQ(s.StallMicros(StallReason::kL0Stop), 1000u);
  EXPECT_EQ(s.StallCount(StallReason::kMemory), 0u);
  EXPECT_EQ(StallReasonName(StallReason::kMemtableLimit), "memtable_limit");
  EXPECT_EQ(TickerName(Ticker::kBloomUseful), "bloom_useful");
  EXPECT_EQ(HistogramName(HistogramType::kGroupCommitSize),
            "group_commit_size");
}

}  // namespace
}  // namespace cairn::storage
