// Merging iterator: random Seek/SeekForPrev/Next/Prev sequences against a
// sorted vector (duplicates across and within children, three comparators),
// and child errors.
//
// Each seed prints itself on failure; CAIRN_TEST_SEED adds one seed to the
// fixed ones (a time-derived one is added otherwise).
#include "merging_iterator.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "dbformat.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

// A sorted vector as an iterator. Landing on the entry at `poison` makes it
// fail (invalid, Corruption), as a corrupt block would.
class VectorIterator final : public InternalIterator {
 public:
  using Entries = std::vector<std::pair<std::string, std::string>>;

  VectorIterator(const Comparator* cmp, Entries entries, size_t poison = -1)
      : cmp_(cmp), entries_(std::move(entries)), poison_(poison) {}

  bool Valid() const override { return pos_ < entries_.size() && ok_; }
  void SeekToFirst() override { Land(0); }
  void SeekToLast() override { Land(entries_.size() - 1); }
  void Seek(std::string_view target) override {
    size_t i = 0;
    while (i < entries_.size() &&
           cmp_->Compare(entries_[i].first, target) < 0) {
      i++;
    }
    Land(i);
  }
  void SeekForPrev(std::string_view target) override {
    size_t i = entries_.size();
    while (i > 0 && cmp_->Compare(entries_[i - 1].first, target) > 0) i--;
    Land(i - 1);
  }
  void Next() override { Land(pos_ + 1); }
  void Prev() override { Land(pos_ - 1); }
  std::string_view key() const override { return entries_[pos_].first; }
  std::string_view value() const override { return entries_[pos_].second; }
  absl::Status status() const override {
    return ok_ ? absl::OkStatus() : absl::DataLossError("poisoned entry");
  }

 private:
  // size_t(-1) and size() both mean "not positioned", and are never poison.
  void Land(size_t pos) {
    pos_ = pos;
    ok_ = pos >= entries_.size() || pos != poison_;
  }

  const Comparator* cmp_;
  Entries entries_;
  size_t poison_;
  size_t pos_ = -1;
  bool ok_ = true;
};

class ReverseBytewise final : public Comparator {
 public:
  int Compare(std::string_view a, std::string_view b) const override {
    return -CompareUserKeys(a, b);
  }
  const char* Name() const override { return "test.ReverseBytewise"; }
};

std::string RandomUserKey(std::mt19937& rng) {
  // A small alphabet, so that children share keys.
  std::string k;
  int len = 1 + rng() % 3;
  for (int i = 0; i < len; i++) k.push_back("abcd"[rng() % 4]);
  return k;
}

struct ModelEntry {
  std::string key;
  std::string value;
};

// One randomized run: random children, then random operations, each checked
// against the merged vector.
void RunRandomized(uint32_t seed, const Comparator* cmp, bool internal_keys) {
  std::mt19937 rng(seed);
  const int num_children = rng() % 4 == 0 ? rng() % 3 : 2 + rng() % 19;
  std::vector<std::unique_ptr<InternalIterator>> children;
  std::vector<ModelEntry> model;  // sorted by (key, child, position)
  for (int c = 0; c < num_children; c++) {
    std::vector<std::string> keys;
    int n = rng() % 4 == 0 ? 0 : rng() % 30;
    for (int i = 0; i < n; i++) {
      std::string k = RandomUserKey(rng);
      if (internal_keys) {
        k = MakeInternalKey(k, 1 + rng() % 5, kTypeValue);
      }
      keys.push_back(std::move(k));
    }
    std::stable_sort(keys.begin(), keys.end(),
                     [&](auto& a, auto& b) { return cmp->Compare(a, b) < 0; });
    if (internal_keys) {  // a source never holds one internal key twice
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    }
    VectorIterator::Entries entries;
    for (size_t i = 0; i < keys.size(); i++) {
      std::string value = std::to_string(c) + ":" + std::to_string(i);
      entries.emplace_back(keys[i], value);
      model.push_back(ModelEntry{keys[i], value});
    }
    children.push_back(std::make_unique<VectorIterator>(cmp, entries));
  }
  // Children were appended in order, so a stable sort by key gives the
  // (key, child, position) order.
  std::stable_sort(model.begin(), model.end(), [&](auto& a, auto& b) {
    return cmp->Compare(a.key, b.key) < 0;
  });

  auto merged = NewMergingIterator(cmp, std::move(children));
  int64_t pos = -1;  // index into model; -1 or size() when invalid
  auto model_valid = [&] {
    return pos >= 0 && pos < static_cast<int64_t>(model.size());
  };
  for (int op = 0; op < 400; op++) {
    std::string target = RandomUserKey(rng);
    if (internal_keys) target = MakeInternalKey(target, rng() % 7, kTypeValue);
    int choice = rng() % 10;
    std::string what;
    if (!model_valid() || choice == 0) {
      switch (rng() % 4) {
        case 0:
          what = "SeekToFirst";
          merged->SeekToFirst();
          pos = 0;
          break;
        case 1:
          what = "SeekToLast";
          merged->SeekToLast();
          pos = static_cast<int64_t>(model.size()) - 1;
          break;
        case 2:
          what = "Seek";
          merged->Seek(target);
          pos = 0;
          while (pos < static_cast<int64_t>(model.size()) &&
                 cmp->Compare(model[pos].key, target) < 0) {
            pos++;
          }
          break;
        default:
          what = "SeekForPrev";
          merged->SeekForPrev(target);
          pos = static_cast<int64_t>(model.size()) - 1;
          while (pos >= 0 && cmp->Compare(model[pos].key, target) > 0) pos--;
          break;
      }
    } else if (choice < 6) {
      what = "Next";
      merged->Next();
      pos++;
    } else {
      what = "Prev";
      merged->Prev();
      pos--;
    }
    SCOPED_TRACE(testing::Message() << "op " << op << " " << what);
    ASSERT_TRUE(merged->status().ok());
    ASSERT_EQ(merged->Valid(), model_valid());
    if (model_valid()) {
      ASSERT_EQ(merged->key(), model[pos].key);
      ASSERT_EQ(merged->value(), model[pos].value);
    }
  }
}

std::vector<uint32_t> Seeds() {
  std::vector<uint32_t> seeds;
  for (uint32_t s = 1; s <= 300; s++) seeds.push_back(s);
  const char* env = std::getenv("CAIRN_TEST_SEED");
  seeds.push_back(
      env != nullptr
          ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10))
          : static_cast<uint32_t>(
                std::chrono::system_clock::now().time_since_epoch().count()));
  return seeds;
}

TEST(MergingIteratorTest, RandomizedBytewise) {
  for (uint32_t seed : Seeds()) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    RunRandomized(seed, BytewiseComparator(), false);
    if (HasFatalFailure()) return;
  }
}

TEST(MergingIteratorTest, RandomizedInternalKeys) {
  for (uint32_t seed : Seeds()) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    RunRandomized(seed, InternalKeyComparator(), true);
    if (HasFatalFailure()) return;
  }
}

TEST(MergingIteratorTest, RandomizedCustomComparator) {
  ReverseBytewise reverse;
  for (uint32_t seed : Seeds()) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    RunRandomized(seed, &reverse, false);
    if (HasFatalFailure()) return;
  }
}

TEST(MergingIteratorTest, DuplicatesComeOutOncePerChildEitherWay) {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.reserve(3);
  for (int c = 0; c < 3; c++) {
    children.push_back(std::make_unique<VectorIterator>(
        cmp, VectorIterator::Entries{{"k", std::to_string(c)}}));
  }
  auto it = NewMergingIterator(cmp, std::move(children));
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "0");
  it->Next();
  EXPECT_EQ(it->value(), "1");
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value(), "0");
  it->Next();
  it->Next();
  EXPECT_EQ(it->value(), "2");
  it->Prev();
  EXPECT_EQ(it->value(), "1");
  it->Prev();
  EXPECT_EQ(it->value(), "0");
  it->Prev();
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  EXPECT_EQ(it->value(), "2");
}

TEST(MergingIteratorTest, NoChildren) {
  auto it = NewMergingIterator(BytewiseComparator(), {});
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(MergingIteratorTest, ChildErrorEndsIteration) {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(std::make_unique<VectorIterator>(
      cmp, VectorIterator::Entries{{"a", "A"}, {"c", "C"}, {"e", "E"}}));
  // Landing on "f" fails.
  children.push_back(std::make_unique<VectorIterator>(
      cmp, VectorIterator::Entries{{"b", "B"}, {"d", "D"}, {"f", "F"}}, 2));
  auto it = NewMergingIterator(cmp, std::move(children));
  for (int round = 0; round < 2; round++) {
    it->SeekToFirst();
    std::string seen;
    for (; it->Valid(); it->Next()) seen += it->value();
    EXPECT_EQ(seen, "ABCD");
    EXPECT_EQ(it->status().code(), absl::StatusCode::kDataLoss);
  }
  // A seek that does not touch the bad entry works again.
  it->SeekForPrev("e");
  ASSERT_TRUE(it->Valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(it->value(), "E");
  it->Prev();
  EXPECT_EQ(it->value(), "D");
  // Turning forward from "D" repositions the first child past "D" and the
  // second at "f": the error.
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_EQ(it->status().code(), absl::StatusCode::kDataLoss);
}

TEST(MergingIteratorTest, FirstChildErrorIsReported) {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(std::make_unique<VectorIterator>(
      cmp, VectorIterator::Entries{{"a", "A"}}));
  children.push_back(NewEmptyIterator(absl::InternalError("first")));
  children.push_back(NewEmptyIterator(absl::UnavailableError("second")));
  auto it = NewMergingIterator(cmp, std::move(children));
  it->Seek("a");
  EXPECT_FALSE(it->Valid());
  EXPECT_EQ(it->status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(it->status().message(), "first");
}

}  // namespace
}  // namespace cairn::storage
