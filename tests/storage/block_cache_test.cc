// BlockCache: lookups, LRU eviction by byte budget, replacement, dropping a
// table's blocks, table ids, and concurrent use from many threads.
#include "block_cache.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "block_builder.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

std::shared_ptr<const Block> MakeBlock(const std::string& value) {
  BlockBuilder builder(16);
  builder.Add("key", value);
  return std::make_shared<const Block>(std::string(builder.Finish()));
}

std::string ValueOf(const std::shared_ptr<const Block>& block) {
  auto it = block->NewIterator(BytewiseComparator());
  it->SeekToFirst();
  return it->Valid() ? std::string(it->value()) : "";
}

TEST(BlockCacheTest, InsertThenLookup) {
  BlockCache cache(1 << 20, 4);
  EXPECT_EQ(cache.capacity(), 1u << 20);
  EXPECT_EQ(cache.Lookup(1, 0), nullptr);
  auto block = MakeBlock("a");
  cache.Insert(1, 0, block, block->size());
  cache.Insert(1, 4096, MakeBlock("b"), 100);
  cache.Insert(2, 0, MakeBlock("c"), 100);
  EXPECT_EQ(cache.Lookup(1, 0), block);
  EXPECT_EQ(ValueOf(cache.Lookup(1, 4096)), "b");
  EXPECT_EQ(ValueOf(cache.Lookup(2, 0)), "c");
  EXPECT_EQ(cache.Lookup(2, 4096), nullptr);
  EXPECT_EQ(cache.usage(), block->size() + 200);
}

TEST(BlockCacheTest, ReplacingAnEntryRecharges) {
  BlockCache cache(1000, 0);
  cache.Insert(1, 0, MakeBlock("old"), 300);
  cache.Insert(1, 0, MakeBlock("new"), 200);
  EXPECT_EQ(ValueOf(cache.Lookup(1, 0)), "new");
  EXPECT_EQ(cache.usage(), 200u);
}

TEST(BlockCacheTest, EvictsLeastRecentlyUsedToFitTheBudget) {
  BlockCache cache(1000, 0);  // one shard: exact LRU order
  for (uint64_t i = 0; i < 10; ++i) cache.Insert(1, i, MakeBlock("x"), 100);
  EXPECT_EQ(cache.usage(), 1000u);
  ASSERT_NE(cache.Lookup(1, 0), nullptr);    // 0 becomes the most recent
  cache.Insert(1, 10, MakeBlock("y"), 250);  // evicts 1, 2, 3
  EXPECT_LE(cache.usage(), 1000u);
  EXPECT_NE(cache.Lookup(1, 0), nullptr);
  for (uint64_t i = 1; i <= 3; ++i) EXPECT_EQ(cache.Lookup(1, i), nullptr);
  for (uint64_t i = 4; i <= 10; ++i) EXPECT_NE(cache.Lookup(1, i), nullptr);
  EXPECT_EQ(cache.usage(), 950u);
}

TEST(BlockCacheTest, EvictedBlocksStayAliveWhileUsed) {
  BlockCache cache(100, 0);
  auto block = MakeBlock("pinned");
  cache.Insert(1, 0, block, 100);
  cache.Insert(1, 1, MakeBlock("other"), 100);
  EXPECT_EQ(cache.Lookup(1, 0), nullptr);
  EXPECT_EQ(ValueOf(block), "pinned");
}

TEST(BlockCacheTest, BlockLargerThanTheBudgetIsNotKept) {
  BlockCache cache(100, 0);
  cache.Insert(1, 0, MakeBlock("x"), 50);
  cache.Insert(1, 1, MakeBlock("huge"), 500);
  EXPECT_EQ(cache.Lookup(1, 1), nullptr);
  EXPECT_EQ(cache.usage(), 0u);
  BlockCache none(0, 2);
  none.Insert(1, 0, MakeBlock("x"), 1);
  EXPECT_EQ(none.Lookup(1, 0), nullptr);
}

TEST(BlockCacheTest, ShardsSplitTheBudget) {
  BlockCache cache(16 * 1000, 4);
  for (uint64_t i = 0; i < 10000; ++i)
    cache.Insert(i % 7, i, MakeBlock("x"), 100);
  EXPECT_LE(cache.usage(), 16u * 1000);
  EXPECT_GT(cache.usage(), 16u * 1000 / 2);
}

TEST(BlockCacheTest, EraseTableDropsOnlyThatTable) {
  BlockCache cache(1 << 20, 3);
  for (uint64_t i = 0; i < 100; ++i) {
    cache.Insert(1, i, MakeBlock("one"), 10);
    cache.Insert(2, i, MakeBlock("two"), 10);
  }
  cache.EraseTable(1);
  EXPECT_EQ(cache.usage(), 1000u);
  for (uint64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(cache.Lookup(1, i), nullptr);
    EXPECT_NE(cache.Lookup(2, i), nullptr);
  }
  cache.EraseTable(1);  // nothing left: a no-op
  cache.EraseTable(2);
  EXPECT_EQ(cache.usage(), 0u);
  cache.Insert(2, 0, MakeBlock("again"), 10);  // the lists are reusable
  EXPECT_EQ(ValueOf(cache.Lookup(2, 0)), "again");
}

TEST(BlockCacheTest, TableIdsAreUniqueAcrossThreads) {
  std::vector<std::vector<uint64_t>> ids(8);
  std::vector<std::thread> threads;
  for (auto& v : ids) {
    threads.emplace_back([&v] {
      for (int i = 0; i < 1000; ++i) v.push_back(BlockCache::NewTableId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 8000u);
  EXPECT_EQ(all.count(0), 0u);
}

TEST(BlockCacheTest, ConcurrentUseKeepsTheBudgetAndTheValues) {
  BlockCache cache(64 * 1024, 2);
  std::vector<std::shared_ptr<const Block>> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(MakeBlock(std::to_string(i)));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const uint64_t table = (i + t) % 4;
        const uint64_t offset = (i * 7 + t) % 64;
        if (auto b = cache.Lookup(table, offset)) {
          if (ValueOf(b) != std::to_string(offset)) ++wrong;
        } else {
          cache.Insert(table, offset, blocks[offset], 1000);
        }
        if (i % 5000 == 4999) cache.EraseTable(table);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.usage(), 64u * 1024);
}

}  // namespace
}  // namespace cairn::storage
