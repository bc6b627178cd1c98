// Tables read through a memory map (TableReadOptions::mmap_reads): the same
// answers as reads into the block cache, blocks verified on every read, and
// compressed tables still served (through the cache).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_format.h"
#include "block_cache.h"
#include "dbformat.h"
#include "gtest/gtest.h"
#include "table.h"
#include "table_builder.h"

namespace cairn::storage {
namespace {

class TableMmapTest : public ::testing::TestWithParam<CompressionType> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-table-mmap-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/000001.sst";
    OpenOptions o;
    o.create = o.truncate = true;
    auto file = FileSystem::Default()->Open(path_, o);
    ASSERT_TRUE(file.ok());
    TableBuilderOptions bo;
    bo.compression = GetParam();
    bo.block_size = 1024;
    TableBuilder builder(bo, file->get());
    for (int i = 0; i < 5000; ++i) {
      builder.Add(MakeInternalKey(Key(i), 100 + i, kTypeValue), Value(i));
    }
    ASSERT_TRUE(builder.Finish().ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Key(int i) { return absl::StrFormat("key%06d", i); }
  static std::string Value(int i) {
    return absl::StrFormat("value%06d-", i) + std::string(40, 'z');
  }

  absl::StatusOr<std::shared_ptr<Table>> Open(BlockCache* cache) {
    auto file =
        FileSystem::Default()->Open(path_, OpenOptions{.read_only = true});
    if (!file.ok()) return file.status();
    TableReadOptions ro;
    ro.block_cache = cache;
    ro.mmap_reads = true;
    return Table::Open(ro, std::move(*file), std::filesystem::file_size(path_));
  }

  std::string dir_, path_;
};

TEST_P(TableMmapTest, GetAndIterateInPlace) {
  BlockCache cache(1 << 20, 2);
  auto table = Open(&cache);
  ASSERT_TRUE(table.ok()) << table.status();
  for (int i = 0; i < 5000; i += 7) {
    LookupResult r;
    auto found = (*table)->Get(Key(i), kMaxSequenceNumber, &r);
    ASSERT_TRUE(found.ok() && *found) << Key(i);
    EXPECT_EQ(r.value, Value(i));
    EXPECT_EQ(r.seq, 100u + i);
  }
  LookupResult r;
  EXPECT_FALSE(*(*table)->Get("nope", kMaxSequenceNumber, &r));
  auto it = (*table)->NewIterator();
  int n = 0;
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++n) {
    ASSERT_EQ(ExtractUserKey(it->key()), Key(4999 - n));
  }
  EXPECT_EQ(n, 5000);
  // Only compressed tables need the cache.
  if (GetParam() == CompressionType::kNone) EXPECT_EQ(cache.usage(), 0u);
}

TEST_P(TableMmapTest, DamageIsFoundOnEveryRead) {
  auto table = Open(nullptr);
  ASSERT_TRUE(table.ok());
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');  // the mapping sees the change: the checksum must fail
  }
  LookupResult r;
  auto found = (*table)->Get(Key(1), kMaxSequenceNumber, &r);
  ASSERT_FALSE(found.ok());
  EXPECT_TRUE(absl::IsDataLoss(found.status())) << found.status();
  auto it = (*table)->NewIterator();
  it->SeekToFirst();
  EXPECT_TRUE(absl::IsDataLoss(it->status())) << it->status();
}

INSTANTIATE_TEST_SUITE_P(Compression, TableMmapTest,
                         ::testing::Values(CompressionType::kNone,
                                           CompressionType::kLZ4,
                                           CompressionType::kZstd));

}  // namespace
}  // namespace cairn::storage
