// MemTable: point lookups at snapshots over every entry type, iteration order
// of internal keys, range tombstones, counters, and reads racing the writer.
#include "memtable.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dbformat.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

struct Found {
  bool found;
  uint8_t type;
  uint64_t seq;
  std::string value;
};

Found Lookup(const MemTable& mem, std::string_view key, uint64_t snapshot) {
  LookupResult r;
  bool found = mem.Get(key, snapshot, &r);
  return Found{found, r.type, r.seq, r.value};
}

TEST(MemTableTest, Empty) {
  MemTable mem;
  EXPECT_FALSE(Lookup(mem, "a", kMaxSequenceNumber).found);
  auto it = mem.NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(mem.RangeTombstones(), nullptr);
  EXPECT_EQ(mem.num_entries(), 0u);
  EXPECT_EQ(mem.first_seq(), 0u);
  EXPECT_EQ(mem.last_seq(), 0u);
}

TEST(MemTableTest, GetSeesTheNewestVersionAtTheSnapshot) {
  MemTable mem;
  mem.Add(1, kTypeValue, "k", "v1");
  mem.Add(3, kTypeDeletion, "k", "");
  mem.Add(5, kTypeValue, "k", "v5");
  mem.Add(7, kTypeMerge, "k", "m7");
  mem.Add(9, kTypeValueWithExpiry, "k", "e9");
  // Neighbours that must not be confused with "k".
  mem.Add(2, kTypeValue, "j", "j2");
  mem.Add(4, kTypeValue, std::string_view("k\0x", 3), "kx4");
  mem.Add(6, kTypeValue, "kk", "kk6");
  mem.Add(8, kTypeValue, "", "empty8");

  EXPECT_FALSE(Lookup(mem, "k", 0).found);
  struct Expect {
    uint64_t snapshot;
    uint8_t type;
    uint64_t seq;
    std::string value;
  };
  for (const Expect& e : std::vector<Expect>{
           {1, kTypeValue, 1, "v1"},
           {2, kTypeValue, 1, "v1"},
           {3, kTypeDeletion, 3, ""},
           {4, kTypeDeletion, 3, ""},
           {5, kTypeValue, 5, "v5"},
           {6, kTypeValue, 5, "v5"},
           {7, kTypeMerge, 7, "m7"},
           {8, kTypeMerge, 7, "m7"},
           {9, kTypeValueWithExpiry, 9, "e9"},
           {kMaxSequenceNumber, kTypeValueWithExpiry, 9, "e9"},
           {UINT64_MAX, kTypeValueWithExpiry, 9, "e9"},
       }) {
    SCOPED_TRACE(e.snapshot);
    Found f = Lookup(mem, "k", e.snapshot);
    ASSERT_TRUE(f.found);
    EXPECT_EQ(f.type, e.type);
    EXPECT_EQ(f.seq, e.seq);
    EXPECT_EQ(f.value, e.value);
  }
  EXPECT_EQ(Lookup(mem, "", 100).value, "empty8");
  EXPECT_FALSE(Lookup(mem, "", 7).found);
  EXPECT_EQ(Lookup(mem, std::string_view("k\0x", 3), 100).value, "kx4");
  EXPECT_FALSE(Lookup(mem, std::string_view("k\0", 2), 100).found);
  EXPECT_EQ(Lookup(mem, "kk", 100).value, "kk6");
  EXPECT_FALSE(Lookup(mem, "kj", 100).found);
  EXPECT_FALSE(Lookup(mem, "l", 100).found);
  EXPECT_FALSE(Lookup(mem, "a", 100).found);
}

TEST(MemTableTest, LongKeysAndValues) {
  MemTable mem;
  std::string key(1000, 'k');
  std::string value(300000, 'v');
  mem.Add(10, kTypeValue, key, value);
  mem.Add(11, kTypeValue, key + "2", "short");
  Found f = Lookup(mem, key, 10);
  ASSERT_TRUE(f.found);
  EXPECT_EQ(f.value, value);
  EXPECT_FALSE(Lookup(mem, key, 9).found);
  EXPECT_EQ(Lookup(mem, key + "2", 11).value, "short");
  auto it = mem.NewIterator();
  it->Seek(MakeLookupKey(key, 20));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), MakeInternalKey(key, 10, kTypeValue));
  EXPECT_EQ(it->value(), value);
  EXPECT_GE(mem.ApproximateMemoryUsage(), value.size() + key.size());
}

// Versions of a few user keys added in random order come out in internal key
// order both ways, and Seek/SeekForPrev land where a sorted vector says.
TEST(MemTableTest, IteratorOrdersInternalKeys) {
  std::mt19937 rng(17);
  struct Entry {
    std::string ikey;
    std::string value;
  };
  std::vector<Entry> entries;
  for (int k = 0; k < 50; k++) {
    std::string user_key = "key" + std::to_string(k * 7 % 50);
    for (uint64_t seq = 1 + k % 3; seq < 40; seq += 1 + rng() % 9) {
      uint8_t type = rng() % 4 == 0 ? kTypeDeletion : kTypeValue;
      entries.push_back(Entry{
          MakeInternalKey(user_key, seq, type),
          type == kTypeValue ? user_key + "@" + std::to_string(seq) : ""});
    }
  }
  std::shuffle(entries.begin(), entries.end(), rng);
  MemTable mem;
  for (const Entry& e : entries) {
    ParsedInternalKey p;
    ASSERT_TRUE(ParseInternalKey(e.ikey, &p));
    mem.Add(p.sequence, p.type, p.user_key, e.value);
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return CompareInternalKeys(a.ikey, b.ikey) < 0;
  });

  auto it = mem.NewIterator();
  it->SeekToFirst();
  for (const Entry& e : entries) {
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), e.ikey);
    EXPECT_EQ(it->value(), e.value);
    it->Next();
  }
  EXPECT_FALSE(it->Valid());
  it->SeekToLast();
  for (auto e = entries.rbegin(); e != entries.rend(); ++e) {
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), e->ikey);
    it->Prev();
  }
  EXPECT_FALSE(it->Valid());

  auto less = [](const Entry& e, const std::string& t) {
    return CompareInternalKeys(e.ikey, t) < 0;
  };
  for (int i = 0; i < 500; i++) {
    std::string target =
        MakeLookupKey("key" + std::to_string(rng() % 55), rng() % 45);
    auto lb = std::lower_bound(entries.begin(), entries.end(), target, less);
    it->Seek(target);
    if (lb == entries.end()) {
      EXPECT_FALSE(it->Valid());
    } else {
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->key(), lb->ikey);
    }
    // Last entry <= target: the lookup tag (0xFF) is never equal to a real
    // one, so that is the entry before lb.
    it->SeekForPrev(target);
    if (lb == entries.begin()) {
      EXPECT_FALSE(it->Valid());
    } else {
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->key(), std::prev(lb)->ikey);
    }
    // SeekForPrev on an existing key lands on it.
    const Entry& e = entries[rng() % entries.size()];
    it->SeekForPrev(e.ikey);
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), e.ikey);
  }
}

TEST(MemTableTest, RangeTombstonesAreFragmentedAndCached) {
  MemTable mem;
  mem.Add(1, kTypeValue, "b", "x");
  mem.AddRangeTombstone(5, "a", "e");
  mem.AddRangeTombstone(8, "c", "g");
  auto frags = mem.RangeTombstones();
  ASSERT_NE(frags, nullptr);
  const auto& f = frags->fragments();
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].begin, "a");
  EXPECT_EQ(f[0].end, "c");
  EXPECT_EQ(f[0].seqs, std::vector<uint64_t>({5}));
  EXPECT_EQ(f[1].begin, "c");
  EXPECT_EQ(f[1].end, "e");
  EXPECT_EQ(f[1].seqs, std::vector<uint64_t>({8, 5}));
  EXPECT_EQ(f[2].begin, "e");
  EXPECT_EQ(f[2].end, "g");
  EXPECT_EQ(frags->MaxCoveringSeq("d", 7), 5u);
  EXPECT_EQ(frags->MaxCoveringSeq("d", 100), 8u);
  EXPECT_EQ(frags->MaxCoveringSeq("g", 100), 0u);
  // Tombstones do not touch point lookups.
  EXPECT_EQ(Lookup(mem, "b", 10).value, "x");

  // Unchanged: the same object. After an add: a new one.
  EXPECT_EQ(mem.RangeTombstones(), frags);
  mem.AddRangeTombstone(9, "x", "z");
  auto again = mem.RangeTombstones();
  ASSERT_NE(again, frags);
  EXPECT_EQ(again->fragments().size(), 4u);
  EXPECT_EQ(frags->fragments().size(), 3u);  // old snapshot unchanged
  EXPECT_EQ(mem.RangeTombstones(), again);
  EXPECT_EQ(mem.num_range_deletes(), 3u);
  EXPECT_EQ(mem.num_entries(), 1u);
}

TEST(MemTableTest, CountersAndSequenceRange) {
  MemTable mem;
  size_t usage = mem.ApproximateMemoryUsage();
  mem.Add(20, kTypeValue, "a", "1");
  EXPECT_EQ(mem.first_seq(), 20u);
  EXPECT_EQ(mem.last_seq(), 20u);
  mem.Add(12, kTypeDeletion, "b", "");
  mem.Add(25, kTypeMerge, "c", "+1");
  mem.Add(26, kTypeDeletion, "c", "");
  mem.AddRangeTombstone(30, "m", "n");
  mem.AddRangeTombstone(3, "p", "q");
  EXPECT_EQ(mem.num_entries(), 4u);
  EXPECT_EQ(mem.num_deletes(), 2u);
  EXPECT_EQ(mem.num_range_deletes(), 2u);
  EXPECT_EQ(mem.first_seq(), 3u);
  EXPECT_EQ(mem.last_seq(), 30u);
  EXPECT_GT(mem.ApproximateMemoryUsage(), usage);

  usage = mem.ApproximateMemoryUsage();
  std::string value(100, 'v');
  for (int i = 0; i < 100000; i++) {
    mem.Add(100 + i, kTypeValue, "key" + std::to_string(i), value);
  }
  EXPECT_GT(mem.ApproximateMemoryUsage(), usage + 100000 * value.size());
  EXPECT_LT(mem.ApproximateMemoryUsage(), usage + size_t{100000} * 250);
}

// Readers look up keys the writer has already published and fetch the range
// tombstones while the writer keeps adding.
TEST(MemTableTest, ReadsRaceTheWriter) {
  MemTable mem;
  constexpr int kKeys = 20000;
  std::atomic<int> published{0};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    for (int i = 0; i < kKeys; i++) {
      std::string key = "k" + std::to_string(i * 7919 % kKeys);
      mem.Add(2 * i + 1, kTypeValue, key, "v" + std::to_string(i));
      if (i % 100 == 0) mem.AddRangeTombstone(2 * i + 2, key, key + "~");
      published.store(i + 1, std::memory_order_release);
    }
  });
  auto reader = [&](uint32_t seed) {
    std::mt19937 rng(seed);
    while (published.load(std::memory_order_acquire) < kKeys) {
      int n = published.load(std::memory_order_acquire);
      if (n == 0) continue;
      int i = static_cast<int>(rng() % n);
      std::string key = "k" + std::to_string(i * 7919 % kKeys);
      LookupResult r;
      if (!mem.Get(key, kMaxSequenceNumber, &r) ||
          r.value != "v" + std::to_string(i) || r.seq != 2u * i + 1) {
        failures.fetch_add(1);
      }
      if (i % 64 == 0) {
        auto frags = mem.RangeTombstones();
        if (n > 1 && (frags == nullptr || frags->empty())) {
          failures.fetch_add(1);
        }
      }
    }
  };
  std::thread r1(reader, 1), r2(reader, 2);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mem.num_entries(), static_cast<uint64_t>(kKeys));
}

}  // namespace
}  // namespace cairn::storage
