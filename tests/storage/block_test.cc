// Blocks: builder/iterator round trips under both key orders, positioning in
// both directions against a std::map model, and malformed blocks.
#include "block.h"

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "block_builder.h"
#include "cairn/util/coding.h"
#include "dbformat.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

using Model = std::map<std::string, std::string>;

std::string BuildBlock(const Model& model, int restart_interval) {
  BlockBuilder builder(restart_interval);
  for (const auto& [k, v] : model) builder.Add(k, v);
  return std::string(builder.Finish());
}

// Keys of assorted shapes: short, empty-valued, sharing long prefixes, and
// longer than the iterator's inline key buffer.
Model MixedModel(int n) {
  Model m;
  std::mt19937 rng(301);
  const std::string long_prefix(100, 'p');
  for (int i = 0; i < n; ++i) {
    std::string key;
    switch (i % 4) {
      case 0:
        key = absl::StrFormat("k%06d", i);
        break;
      case 1:
        key = long_prefix + absl::StrFormat("%06d", i);
        break;
      case 2:
        key = std::string(300 + rng() % 200, 'x') + absl::StrFormat("%06d", i);
        break;
      default:
        key = absl::StrFormat("%06d", i);
    }
    std::string value =
        (i % 3 == 0) ? "" : std::string(rng() % 50, 'a' + i % 26);
    m[key] = value;
  }
  return m;
}

void ExpectForward(InternalIterator* it, const Model& model) {
  auto expected = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    ASSERT_NE(expected, model.end());
    EXPECT_EQ(it->key(), expected->first);
    EXPECT_EQ(it->value(), expected->second);
  }
  EXPECT_EQ(expected, model.end());
  EXPECT_TRUE(it->status().ok()) << it->status();
}

void ExpectBackward(InternalIterator* it, const Model& model) {
  auto expected = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++expected) {
    ASSERT_NE(expected, model.rend());
    EXPECT_EQ(it->key(), expected->first);
    EXPECT_EQ(it->value(), expected->second);
  }
  EXPECT_EQ(expected, model.rend());
  EXPECT_TRUE(it->status().ok()) << it->status();
}

class BlockRoundTripTest : public ::testing::TestWithParam<int> {};

TEST_P(BlockRoundTripTest, IteratesInBothDirections) {
  const Model model = MixedModel(500);
  Block block(BuildBlock(model, GetParam()));
  ASSERT_TRUE(block.valid());
  auto it = block.NewIterator(BytewiseComparator());
  ExpectForward(it.get(), model);
  ExpectBackward(it.get(), model);
}

TEST_P(BlockRoundTripTest, SeeksMatchTheModel) {
  const Model model = MixedModel(300);
  Block block(BuildBlock(model, GetParam()));
  auto it = block.NewIterator(BytewiseComparator());
  std::vector<std::string> targets = {"", "\xff", "k", "k000100", "p", "x"};
  for (const auto& [k, v] : model) {
    targets.push_back(k);
    targets.push_back(k + '\0');
    targets.push_back(k.substr(0, k.size() - 1));
  }
  for (const std::string& t : targets) {
    it->Seek(t);
    auto lb = model.lower_bound(t);
    ASSERT_EQ(it->Valid(), lb != model.end()) << t;
    if (it->Valid()) {
      EXPECT_EQ(it->key(), lb->first);
    }

    it->SeekForPrev(t);
    auto ub = model.upper_bound(t);
    ASSERT_EQ(it->Valid(), ub != model.begin()) << t;
    if (it->Valid()) {
      EXPECT_EQ(it->key(), std::prev(ub)->first);
    }
  }
}

TEST_P(BlockRoundTripTest, SwitchesDirectionAnywhere) {
  const Model model = MixedModel(200);
  Block block(BuildBlock(model, GetParam()));
  auto it = block.NewIterator(BytewiseComparator());
  std::vector<std::string> keys;
  for (const auto& [k, v] : model) keys.push_back(k);
  for (size_t i = 0; i < keys.size(); ++i) {
    it->Seek(keys[i]);
    it->Prev();
    ASSERT_EQ(it->Valid(), i > 0);
    if (i > 0) {
      EXPECT_EQ(it->key(), keys[i - 1]);
    }
    it->Seek(keys[i]);
    it->Next();
    ASSERT_EQ(it->Valid(), i + 1 < keys.size());
    if (it->Valid()) {
      EXPECT_EQ(it->key(), keys[i + 1]);
    }
    it->Prev();
    if (i + 1 < keys.size()) {
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->key(), keys[i]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(RestartIntervals, BlockRoundTripTest,
                         ::testing::Values(1, 2, 16, 1000));

TEST(BlockTest, EmptyBlockHasNoEntries) {
  Block block(BuildBlock({}, 16));
  ASSERT_TRUE(block.valid());
  auto it = block.NewIterator(BytewiseComparator());
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it->Seek("a");
  EXPECT_FALSE(it->Valid());
  it->SeekForPrev("a");
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(BlockTest, InternalKeysOrderNewestVersionFirst) {
  BlockBuilder builder(4);
  std::vector<std::string> keys;
  for (int u = 0; u < 20; ++u) {
    for (uint64_t seq = 30; seq >= 10; seq -= 10) {
      keys.push_back(
          MakeInternalKey(absl::StrFormat("user%03d", u), seq, kTypeValue));
    }
  }
  for (const std::string& k : keys) builder.Add(k, "v");
  Block block{std::string(builder.Finish())};
  BlockIter it(&block, InternalKeyComparator());
  // A lookup at snapshot 25 lands on the version at seq 20.
  it.Seek(MakeLookupKey("user007", 25));
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), MakeInternalKey("user007", 20, kTypeValue));
  it.SeekForPrev(MakeLookupKey("user007", 25));
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), MakeInternalKey("user007", 30, kTypeValue));
}

TEST(BlockTest, ShortInternalKeyIsDataLoss) {
  BlockBuilder builder(16);
  builder.Add("short", "v");
  Block block{std::string(builder.Finish())};
  BlockIter it(&block, InternalKeyComparator());
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  EXPECT_TRUE(absl::IsDataLoss(it.status())) << it.status();
}

TEST(BlockTest, BadRestartArrayIsDataLoss) {
  const std::string good = BuildBlock(MixedModel(50), 4);
  std::vector<std::string> bad = {"", "abc", std::string(4, '\0')};
  std::string huge_count = good;  // more restarts than bytes
  huge_count[huge_count.size() - 1] = '\x7f';
  bad.push_back(huge_count);
  const size_t num = DecodeFixed32(good.data() + good.size() - 4);
  const size_t restarts = good.size() - 4 - 4 * num;
  std::string first_not_zero = good;  // the first restart must be 0
  first_not_zero[restarts] = '\x01';
  bad.push_back(first_not_zero);
  std::string decreasing = good;  // restarts must increase
  EncodeFixed32(decreasing.data() + restarts + 8, 1);
  bad.push_back(decreasing);
  std::string past_entries = good;  // restarts must point at entries
  EncodeFixed32(past_entries.data() + restarts + 4 * (num - 1),
                static_cast<uint32_t>(restarts));
  bad.push_back(past_entries);
  for (const std::string& contents : bad) {
    Block block(contents);
    EXPECT_FALSE(block.valid());
    auto it = block.NewIterator(BytewiseComparator());
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid());
    EXPECT_TRUE(absl::IsDataLoss(it->status())) << it->status();
  }
}

TEST(BlockTest, TruncatedEntryIsDataLoss) {
  BlockBuilder builder(16);
  builder.Add("key", std::string(100, 'v'));
  std::string contents(builder.Finish());
  // Claim a longer value than the entries hold.
  contents[2] = '\x7f';
  Block block(contents);
  ASSERT_TRUE(block.valid());
  auto it = block.NewIterator(BytewiseComparator());
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsDataLoss(it->status()));
  it->Seek("a");  // errors are final
  EXPECT_FALSE(it->Valid());
}

// Random damage must never crash or read out of bounds (ASan checks the
// latter); it may go unnoticed here, since blocks rely on their CRC.
TEST(BlockTest, RandomDamageNeverCrashes) {
  const std::string good = BuildBlock(MixedModel(60), 4);
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string contents = good;
    const int flips = 1 + rng() % 4;
    for (int f = 0; f < flips; ++f) {
      contents[rng() % contents.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    if (round % 5 == 0) contents.resize(rng() % contents.size());
    Block block(contents);
    for (const Comparator* cmp :
         {BytewiseComparator(), InternalKeyComparator()}) {
      int steps = 0;
      BlockIter forward(&block, cmp);
      for (forward.SeekToFirst(); forward.Valid() && steps < 1000;
           forward.Next()) {
        ++steps;
      }
      BlockIter backward(&block, cmp);
      for (backward.SeekToLast(); backward.Valid() && steps < 2000;
           backward.Prev()) {
        ++steps;
      }
      BlockIter seek(&block, cmp);
      seek.Seek("k000020");
      if (seek.Valid()) seek.Prev();
      BlockIter seek_for_prev(&block, cmp);
      seek_for_prev.SeekForPrev(std::string(16, 'p'));
      if (seek_for_prev.Valid()) seek_for_prev.Next();
    }
  }
}

}  // namespace
}  // namespace cairn::storage
