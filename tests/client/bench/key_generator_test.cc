// The key choice of `cairn bench`: the Zipfian generator's skew against
// the exact Zipf probabilities, the scrambling permutation, and the range
// of every key drawn.
#include "key_generator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace cairn::bench {
namespace {

double ExactZeta(uint64_t n, double theta) {
  double sum = 0;
  for (uint64_t i = 1; i <= n; ++i) {
    sum += std::pow(static_cast<double>(i), -theta);
  }
  return sum;
}

TEST(ZetaTest, ExactBelowTheCutoffAndCloseAboveIt) {
  EXPECT_DOUBLE_EQ(Zeta(1, 0.99), 1.0);
  EXPECT_DOUBLE_EQ(Zeta(1000, 0.99), ExactZeta(1000, 0.99));
  // Beyond 2^20 terms the tail is Euler-Maclaurin's.
  for (double theta : {0.5, 0.99}) {
    const uint64_t n = 3'000'000;
    EXPECT_NEAR(Zeta(n, theta) / ExactZeta(n, theta), 1.0, 1e-12)
        << "theta " << theta;
  }
}

// Counts of each key number among `draws` draws.
std::vector<uint64_t> Histogram(const KeyGenerator& g, int draws,
                                uint64_t seed = 42) {
  std::vector<uint64_t> counts(g.keys());
  Random rnd(seed);
  for (int i = 0; i < draws; ++i) {
    const uint64_t k = g.Next(&rnd);
    EXPECT_LT(k, g.keys());
    if (k >= g.keys()) return counts;
    ++counts[k];
  }
  return counts;
}

TEST(KeyGeneratorTest, ZipfianHottestKeyHasItsZipfShare) {
  constexpr uint64_t kKeys = 1000;
  constexpr int kDraws = 400'000;
  const KeyGenerator g = KeyGenerator::Zipfian(kKeys, 0.99, 1);
  std::vector<uint64_t> counts = Histogram(g, kDraws);
  std::vector<uint64_t> sorted = counts;
  std::sort(sorted.rbegin(), sorted.rend());
  const double zeta = ExactZeta(kKeys, 0.99);
  // Ranks 0 and 1 are exact in Gray et al.'s method: 1/zeta and
  // 2^-theta/zeta (12.9% and 6.5% here); 400k draws put the observed share
  // within about 0.2 points of it.
  EXPECT_NEAR(static_cast<double>(sorted[0]) / kDraws, 1 / zeta, 0.005);
  EXPECT_NEAR(static_cast<double>(sorted[1]) / kDraws,
              std::pow(2.0, -0.99) / zeta, 0.005);
  // The ten hottest keys take about sum_{i<=10} i^-theta / zeta = 39%.
  double top10 = 0;
  for (int i = 0; i < 10; ++i) top10 += static_cast<double>(sorted[i]);
  EXPECT_NEAR(top10 / kDraws, ExactZeta(10, 0.99) / zeta, 0.02);
  // And most keys still come up: the tail is long, not cut off.
  const auto seen = std::count_if(counts.begin(), counts.end(),
                                  [](uint64_t c) { return c > 0; });
  EXPECT_GT(seen, 990);
}

TEST(KeyGeneratorTest, ZipfianHotKeysAreScrambledOverTheKeySpace) {
  constexpr uint64_t kKeys = 100000;
  const KeyGenerator g = KeyGenerator::Zipfian(kKeys, 0.99, 1);
  std::vector<uint64_t> counts = Histogram(g, 200'000);
  std::vector<uint64_t> keys(kKeys);
  for (uint64_t i = 0; i < kKeys; ++i) keys[i] = i;
  std::sort(keys.begin(), keys.end(),
            [&](uint64_t a, uint64_t b) { return counts[a] > counts[b]; });
  // Unscrambled, the 10 hottest keys would be 0..9. Scrambled, they lie
  // far apart: spread over more than half of the key space.
  const auto [lo, hi] = std::minmax_element(keys.begin(), keys.begin() + 10);
  EXPECT_GT(*hi - *lo, kKeys / 2);
  EXPECT_GT(*std::max_element(keys.begin(), keys.begin() + 10), 10u);
}

TEST(KeyGeneratorTest, UniformIsFlat) {
  constexpr uint64_t kKeys = 100;
  constexpr int kDraws = 200'000;
  const KeyGenerator g = KeyGenerator::Uniform(kKeys);
  std::vector<uint64_t> counts = Histogram(g, kDraws);
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  // Expected 2000 each, standard deviation about 45.
  EXPECT_GT(*lo, 1700u);
  EXPECT_LT(*hi, 2300u);
}

TEST(KeyGeneratorTest, TinyKeySpacesStayInRange) {
  for (uint64_t keys : {1, 2, 3, 5}) {
    for (const KeyGenerator& g :
         {KeyGenerator::Uniform(keys), KeyGenerator::Zipfian(keys, 0.99, 7)}) {
      std::vector<uint64_t> counts = Histogram(g, 10000);
      for (uint64_t k = 0; k < keys; ++k) {
        EXPECT_GT(counts[k], 0u) << "key " << k << " of " << keys;
      }
    }
  }
}

TEST(KeyGeneratorTest, HugeKeySpacesStayInRange) {
  for (uint64_t keys : {uint64_t{1} << 40, (uint64_t{1} << 63) + 12345}) {
    const KeyGenerator g = KeyGenerator::Zipfian(keys, 0.9, 3);
    Random rnd(9);
    for (int i = 0; i < 10000; ++i) ASSERT_LT(g.Next(&rnd), keys);
  }
}

TEST(KeyPermutationTest, IsABijection) {
  for (uint64_t n : {1, 2, 3, 4, 5, 17, 1000, 4096, 65537}) {
    const KeyPermutation p(n, 11);
    std::set<uint64_t> images;
    for (uint64_t x = 0; x < n; ++x) {
      const uint64_t y = p.Map(x);
      ASSERT_LT(y, n);
      images.insert(y);
    }
    EXPECT_EQ(images.size(), n);
  }
}

TEST(KeyPermutationTest, DependsOnTheSeed) {
  const KeyPermutation a(1000, 1), b(1000, 2);
  int same = 0;
  for (uint64_t x = 0; x < 1000; ++x) same += a.Map(x) == b.Map(x) ? 1 : 0;
  EXPECT_LT(same, 20);
}

}  // namespace
}  // namespace cairn::bench
