// Bloom filter: no false negatives, the false-positive rate at 10 bits/key,
// de-duplication of repeated keys, and malformed filters.
#include "bloom.h"

#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

std::string Key(int i) { return absl::StrFormat("user-key-%08d", i); }

std::unique_ptr<const BloomFilterReader> Build(int bits_per_key, int n) {
  BloomFilterBuilder builder(bits_per_key);
  for (int i = 0; i < n; ++i) builder.AddKey(Key(i));
  absl::StatusOr<std::unique_ptr<const BloomFilterReader>> reader =
      BloomFilterReader::Parse(builder.Finish());
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? *std::move(reader) : nullptr;
}

double FalsePositiveRate(const BloomFilterReader& filter, int n) {
  int hits = 0;
  constexpr int kProbes = 100000;
  for (int i = 0; i < kProbes; ++i) {
    if (filter.KeyMayMatch(Key(n + 1000000 + i))) ++hits;
  }
  return static_cast<double>(hits) / kProbes;
}

TEST(BloomTest, NoFalseNegatives) {
  for (int n : {1, 10, 100, 1000, 10000}) {
    auto filter = Build(10, n);
    ASSERT_NE(filter, nullptr);
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(filter->KeyMayMatch(Key(i))) << "n=" << n << " i=" << i;
    }
  }
}

TEST(BloomTest, FalsePositiveRateAtTenBitsPerKey) {
  constexpr int kKeys = 100000;
  auto filter = Build(10, kKeys);
  ASSERT_NE(filter, nullptr);
  const double fpr = FalsePositiveRate(*filter, kKeys);
  std::printf("false-positive rate at 10 bits/key: %.3f%%\n", fpr * 100);
  EXPECT_LT(fpr, 0.02);
  EXPECT_GT(fpr, 0.002);  // a filter answering "absent" too often is broken
  EXPECT_EQ(filter->size(), (kKeys * 10 + 511) / 512 * 64);
}

TEST(BloomTest, MoreBitsFewerFalsePositives) {
  constexpr int kKeys = 20000;
  double previous = 1.0;
  for (int bits : {4, 8, 12, 16}) {
    auto filter = Build(bits, kKeys);
    ASSERT_NE(filter, nullptr);
    const double fpr = FalsePositiveRate(*filter, kKeys);
    EXPECT_LT(fpr, previous) << bits;
    previous = fpr;
  }
  EXPECT_LT(previous, 0.002);
}

TEST(BloomTest, ProbesFollowDensity) {
  EXPECT_EQ(BloomFilterBuilder::NumProbes(1), 1);
  EXPECT_EQ(BloomFilterBuilder::NumProbes(10), 6);
  EXPECT_EQ(BloomFilterBuilder::NumProbes(20), 13);
  EXPECT_EQ(BloomFilterBuilder::NumProbes(100), 30);
}

TEST(BloomTest, RepeatedKeysCountOnce) {
  BloomFilterBuilder builder(10);
  for (int v = 0; v < 5; ++v) builder.AddKey("same");
  builder.AddKey("other");
  builder.AddKey("same");  // not consecutive: counted again
  EXPECT_EQ(builder.num_keys(), 3u);
}

TEST(BloomTest, EmptyFilterMatchesNothing) {
  BloomFilterBuilder builder(10);
  auto reader = BloomFilterReader::Parse(builder.Finish());
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->KeyMayMatch("anything"));
}

TEST(BloomTest, MalformedFiltersAreDataLoss) {
  BloomFilterBuilder builder(10);
  for (int i = 0; i < 100; ++i) builder.AddKey(Key(i));
  const std::string good = builder.Finish();
  std::string zero_probes = good;
  zero_probes[good.size() - 5] = 0;
  std::string many_probes = good;
  many_probes[good.size() - 5] = 31;
  std::string wrong_lines = good;
  wrong_lines[good.size() - 4] ^= 1;
  for (const std::string& bad :
       {std::string(), std::string("abcd"), zero_probes, many_probes,
        wrong_lines, good.substr(1)}) {
    EXPECT_TRUE(absl::IsDataLoss(BloomFilterReader::Parse(bad).status()));
  }
}

}  // namespace
}  // namespace cairn::storage
