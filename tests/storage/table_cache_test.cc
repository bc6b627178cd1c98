// TableCache: tables are opened once and shared, at most `capacity` stay
// open (least recently used go first), Evict forgets a table and its cached
// blocks, and concurrent Gets agree.
#include "table_cache.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "block_cache.h"
#include "dbformat.h"
#include "filename.h"
#include "gtest/gtest.h"
#include "table_builder.h"

namespace cairn::storage {
namespace {

class TableCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-table-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes table `number` holding key "t<number>" and returns its size.
  uint64_t Write(uint64_t number) {
    OpenOptions o;
    o.create = o.truncate = true;
    auto file = FileSystem::Default()->Open(TableFileName(dir_, number), o);
    EXPECT_TRUE(file.ok());
    TableBuilder builder(TableBuilderOptions{}, file->get());
    builder.Add(MakeInternalKey(absl::StrFormat("t%d", number), 1, kTypeValue),
                absl::StrFormat("value of %d", number));
    EXPECT_TRUE(builder.Finish().ok());
    sizes_[number] = builder.FileSize();
    return builder.FileSize();
  }

  std::shared_ptr<Table> Get(TableCache& cache, uint64_t number) {
    auto table = cache.Get(number, sizes_[number]);
    EXPECT_TRUE(table.ok()) << table.status();
    return table.ok() ? *table : nullptr;
  }

  static std::string Lookup(const Table& table, uint64_t number) {
    LookupResult r;
    absl::StatusOr<bool> found =
        table.Get(absl::StrFormat("t%d", number), 10, &r);
    return found.ok() && *found ? r.value : "";
  }

  std::string dir_;
  std::map<uint64_t, uint64_t> sizes_;
};

TEST_F(TableCacheTest, OpensOnceAndShares) {
  Write(1);
  TableCache cache(FileSystem::Default(), dir_, 10, {});
  auto a = Get(cache, 1);
  auto b = Get(cache, 1);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_EQ(Lookup(*a, 1), "value of 1");
  EXPECT_EQ(a->path(), TableFileName(dir_, 1));
}

TEST_F(TableCacheTest, KeepsAtMostCapacityTables) {
  for (uint64_t n = 1; n <= 4; ++n) Write(n);
  TableCache cache(FileSystem::Default(), dir_, 2, {});
  Table* first = Get(cache, 1).get();
  Get(cache, 2);
  Get(cache, 1);  // 2 is now the least recently used
  Get(cache, 3);  // evicts 2
  EXPECT_EQ(Get(cache, 1).get(), first);
  Table* second = Get(cache, 2).get();  // reopened; evicts 3
  Get(cache, 4);                        // evicts 1
  EXPECT_EQ(Get(cache, 2).get(), second);
  auto reopened = Get(cache, 1);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Lookup(*reopened, 1), "value of 1");
}

TEST_F(TableCacheTest, EvictForgetsTheTableAndItsBlocks) {
  Write(7);
  BlockCache blocks(1 << 20, 2);
  TableCache cache(FileSystem::Default(), dir_, 10, {&blocks, nullptr});
  auto table = Get(cache, 7);
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(Lookup(*table, 7), "value of 7");
  EXPECT_GT(blocks.usage(), 0u);
  // A caller still holding the table keeps using it.
  cache.Evict(7);
  EXPECT_EQ(Lookup(*table, 7), "value of 7");
  table.reset();
  EXPECT_EQ(blocks.usage(), 0u);
  // The file may now be deleted; a later Get reopens it if it still exists.
  ASSERT_TRUE(FileSystem::Default()->Remove(TableFileName(dir_, 7)).ok());
  EXPECT_FALSE(cache.Get(7, sizes_[7]).ok());
  cache.Evict(7);  // not cached: a no-op
}

TEST_F(TableCacheTest, ErrorsAreReportedAndNotCached) {
  TableCache cache(FileSystem::Default(), dir_, 10, {});
  EXPECT_FALSE(cache.Get(9, 100).ok());
  Write(9);
  auto bad_size = cache.Get(9, sizes_[9] - 1);
  EXPECT_TRUE(absl::IsDataLoss(bad_size.status())) << bad_size.status();
  EXPECT_NE(Get(cache, 9), nullptr);
}

TEST_F(TableCacheTest, ConcurrentGetsAgree) {
  for (uint64_t n = 1; n <= 8; ++n) Write(n);
  BlockCache blocks(1 << 20, 2);
  TableCache cache(FileSystem::Default(), dir_, 4, {&blocks, nullptr});
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const uint64_t n = 1 + (i * 3 + t) % 8;
        auto table = cache.Get(n, sizes_.at(n));
        if (!table.ok() ||
            Lookup(**table, n) != absl::StrFormat("value of %d", n)) {
          ++wrong;
        }
        if (i % 50 == 0) cache.Evict(n);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace cairn::storage
