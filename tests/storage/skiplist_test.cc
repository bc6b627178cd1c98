// SkipList: insertion, lookup and iteration in both directions against a
// std::set, the sequential-insert fast path, payloads, and one writer racing
// several readers.
#include "skiplist.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "arena.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

struct U64Comparator {
  int operator()(uint64_t a, uint64_t b) const {
    return a < b ? -1 : (a > b ? 1 : 0);
  }
};
using U64List = SkipList<uint64_t, U64Comparator>;

// Checks every way of reading the list against the model.
void ExpectSame(const U64List& list, const std::set<uint64_t>& model,
                std::mt19937_64& rng) {
  U64List::Iterator it(&list);
  it.SeekToFirst();
  for (uint64_t k : model) {
    ASSERT_TRUE(it.Valid());
    ASSERT_EQ(it.key(), k);
    it.Next();
  }
  EXPECT_FALSE(it.Valid());

  it.SeekToLast();
  for (auto m = model.rbegin(); m != model.rend(); ++m) {
    ASSERT_TRUE(it.Valid());
    ASSERT_EQ(it.key(), *m);
    it.Prev();
  }
  EXPECT_FALSE(it.Valid());

  for (int i = 0; i < 300; i++) {
    uint64_t target = rng() % 2 || model.empty()
                          ? rng() % 5000
                          : *std::next(model.begin(), rng() % model.size());
    EXPECT_EQ(list.Contains(target), model.count(target) == 1);

    it.Seek(target);
    auto lb = model.lower_bound(target);
    if (lb == model.end()) {
      EXPECT_FALSE(it.Valid());
    } else {
      ASSERT_TRUE(it.Valid());
      EXPECT_EQ(it.key(), *lb);
    }

    it.SeekForPrev(target);
    auto ub = model.upper_bound(target);
    if (ub == model.begin()) {
      EXPECT_FALSE(it.Valid());
    } else {
      ASSERT_TRUE(it.Valid());
      EXPECT_EQ(it.key(), *std::prev(ub));
      // A few steps each way from there.
      auto m = std::prev(ub);
      for (int s = 0; s < 3 && m != model.begin(); s++) {
        it.Prev();
        --m;
        ASSERT_TRUE(it.Valid());
        EXPECT_EQ(it.key(), *m);
      }
    }
  }
}

TEST(SkipListTest, Empty) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  EXPECT_FALSE(list.Contains(10));
  U64List::Iterator it(&list);
  EXPECT_FALSE(it.Valid());
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  it.SeekToLast();
  EXPECT_FALSE(it.Valid());
  it.Seek(100);
  EXPECT_FALSE(it.Valid());
  it.SeekForPrev(100);
  EXPECT_FALSE(it.Valid());
}

TEST(SkipListTest, RandomInsertsMatchASet) {
  for (uint64_t seed : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    Arena arena;
    U64List list(U64Comparator(), &arena);
    std::set<uint64_t> model;
    for (int round = 0; round < 5; round++) {
      for (int i = 0; i < 400; i++) {
        uint64_t k = rng() % 5000;
        if (model.insert(k).second) list.Insert(k);
      }
      ExpectSame(list, model, rng);
    }
  }
}

// Ascending and descending runs, jumps back into the middle, and runs that
// start just after an existing key: the paths through the insert splice.
TEST(SkipListTest, RunsMatchASet) {
  for (uint64_t seed : {7, 8, 9}) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    Arena arena;
    U64List list(U64Comparator(), &arena);
    std::set<uint64_t> model;
    for (int run = 0; run < 60; run++) {
      uint64_t start = rng() % 5000;
      int step = static_cast<int>(rng() % 7) - 3;
      if (step == 0) step = 1;
      int64_t k = static_cast<int64_t>(start);
      for (int i = 0; i < 40 && k >= 0 && k < 5000; i++, k += step) {
        if (model.insert(k).second) list.Insert(k);
      }
    }
    ExpectSame(list, model, rng);
  }
}

TEST(SkipListTest, ManySequentialKeys) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  constexpr uint64_t kCount = 100000;
  for (uint64_t k = 0; k < kCount; k++) list.Insert(k * 2);
  U64List::Iterator it(&list);
  it.SeekToFirst();
  for (uint64_t k = 0; k < kCount; k++, it.Next()) {
    ASSERT_TRUE(it.Valid());
    ASSERT_EQ(it.key(), k * 2);
  }
  EXPECT_FALSE(it.Valid());
  for (uint64_t k = 0; k < kCount; k += 997) {
    EXPECT_TRUE(list.Contains(k * 2));
    EXPECT_FALSE(list.Contains(k * 2 + 1));
  }
}

// Keys that are pointers to NUL-terminated strings in their node's payload.
struct CStringComparator {
  int operator()(const char* a, const char* b) const {
    return std::strcmp(a, b);
  }
};

TEST(SkipListTest, PayloadLivesWithTheNode) {
  Arena arena;
  SkipList<const char*, CStringComparator> list(CStringComparator(), &arena);
  std::mt19937 rng(5);
  std::set<std::string> model;
  for (int i = 0; i < 2000; i++) {
    std::string s = std::to_string(rng() % 100000);
    if (!model.insert(s).second) continue;
    auto r = list.Reserve(s.size() + 1);
    std::memcpy(r.payload(), s.c_str(), s.size() + 1);
    list.Insert(r.payload(), r);
  }
  SkipList<const char*, CStringComparator>::Iterator it(&list);
  it.SeekToFirst();
  for (const std::string& s : model) {
    ASSERT_TRUE(it.Valid());
    EXPECT_EQ(std::string_view(it.key()), s);
    it.Next();
  }
  EXPECT_FALSE(it.Valid());
  EXPECT_TRUE(list.Contains(model.begin()->c_str()));
  EXPECT_FALSE(list.Contains("x"));
}

// One writer inserts random keys while readers scan forward and backward
// from random places. Readers must always see a sorted list, and every key a
// reader has seen must stay in the list.
TEST(SkipListTest, ConcurrentReadersSeeASortedGrowingList) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> inserted{0};
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);

  std::thread writer([&] {
    std::mt19937_64 rng(99);
    while (std::chrono::steady_clock::now() < deadline) {
      for (int i = 0; i < 256; i++) {
        // Odd keys only, so readers can also probe keys that never exist.
        uint64_t k = (rng() % (uint64_t{1} << 40)) | 1;
        if (rng() % 8 == 0) {
          // A short ascending run: the splice path.
          for (int j = 0; j < 16; j++, k += 2) {
            if (!list.Contains(k)) list.Insert(k);
          }
        } else if (!list.Contains(k)) {
          list.Insert(k);
        }
      }
      inserted.store(inserted.load() + 1, std::memory_order_relaxed);
    }
    done.store(true);
  });

  std::atomic<int> failures{0};
  auto reader = [&](uint64_t seed, bool backward) {
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> seen;
    U64List::Iterator it(&list);
    while (!done.load()) {
      uint64_t target = rng() % (uint64_t{1} << 40);
      if (backward) {
        it.SeekForPrev(target);
      } else {
        it.Seek(target);
      }
      uint64_t previous = target;
      for (int steps = 0; it.Valid() && steps < 200; steps++) {
        uint64_t k = it.key();
        bool ordered = backward ? k <= previous : k >= previous;
        if (!ordered || k % 2 == 0) failures.fetch_add(1);
        if (steps > 0 && k == previous) failures.fetch_add(1);
        previous = k;
        if (seen.size() < 20000 && rng() % 16 == 0) seen.push_back(k);
        if (backward) {
          it.Prev();
        } else {
          it.Next();
        }
      }
      if (!seen.empty() && !list.Contains(seen[rng() % seen.size()])) {
        failures.fetch_add(1);
      }
      if (list.Contains(target & ~uint64_t{1})) failures.fetch_add(1);
    }
    for (uint64_t k : seen) {
      if (!list.Contains(k)) failures.fetch_add(1);
    }
  };
  std::vector<std::thread> readers;
  readers.emplace_back(reader, 1, false);
  readers.emplace_back(reader, 2, true);
  readers.emplace_back(reader, 3, false);
  for (std::thread& t : readers) t.join();
  writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(inserted.load(), 0u);

  // Quiescent: the whole list is strictly ascending.
  U64List::Iterator it(&list);
  it.SeekToFirst();
  ASSERT_TRUE(it.Valid());
  uint64_t previous = it.key();
  for (it.Next(); it.Valid(); it.Next()) {
    ASSERT_LT(previous, it.key());
    previous = it.key();
  }
}

}  // namespace
}  // namespace cairn::storage
