// SSTables end to end: TableBuilder writes, Table reads back through Get and
// iterators, for every compression type; versions and snapshots; range
// tombstones and properties; damage and truncation are DataLoss, never a
// wrong answer.
#include "table.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "block.h"
#include "block_cache.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
#include "dbformat.h"
#include "gtest/gtest.h"
#include "sst_format.h"
#include "table_builder.h"

namespace cairn::storage {
namespace {

struct InternalLess {
  bool operator()(const std::string& a, const std::string& b) const {
    return CompareInternalKeys(a, b) < 0;
  }
};
using Model = std::map<std::string, std::string, InternalLess>;

class TableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-table-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/000001.sst";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Build(const Model& model, const TableBuilderOptions& options,
             const std::vector<RangeTombstone>& tombstones = {}) {
    OpenOptions o;
    o.create = o.truncate = true;
    auto file = FileSystem::Default()->Open(path_, o);
    ASSERT_TRUE(file.ok()) << file.status();
    TableBuilder builder(options, file->get());
    for (const RangeTombstone& t : tombstones) builder.AddRangeTombstone(t);
    for (const auto& [k, v] : model) builder.Add(k, v);
    ASSERT_TRUE(builder.Finish().ok());
    EXPECT_EQ(builder.NumEntries(), model.size());
    built_ = builder.properties();
    EXPECT_EQ(builder.FileSize(), *(*file)->Size());
  }

  absl::StatusOr<std::shared_ptr<Table>> TryOpen(
      TableReadOptions options = {}) {
    OpenOptions o;
    o.read_only = true;
    auto file = FileSystem::Default()->Open(path_, o);
    if (!file.ok()) return file.status();
    const uint64_t size = *(*file)->Size();
    return Table::Open(options, *std::move(file), size);
  }
  std::shared_ptr<Table> Open(TableReadOptions options = {}) {
    auto table = TryOpen(options);
    EXPECT_TRUE(table.ok()) << table.status();
    return table.ok() ? *table : nullptr;
  }

  std::string ReadFile() {
    OpenOptions o;
    o.read_only = true;
    auto file = FileSystem::Default()->Open(path_, o);
    std::string s(*(*file)->Size(), '\0');
    EXPECT_EQ(*(*file)->ReadAt(0, s.data(), s.size()), s.size());
    return s;
  }
  // Rewrites the file in place (truncating it to zero first would make the
  // file system flush it on close, which is slow over thousands of rounds).
  void WriteFile(std::string_view contents) {
    OpenOptions o;
    o.create = true;
    auto file = FileSystem::Default()->Open(path_, o);
    ASSERT_TRUE((*file)->WriteAt(0, contents).ok());
    ASSERT_TRUE((*file)->Truncate(contents.size()).ok());
  }

  std::string dir_, path_;
  TableProperties built_;
};

// User keys of assorted shapes, each with one version.
Model MixedModel(int n, uint64_t seq = 100) {
  Model m;
  const std::string long_prefix(200, 'p');
  for (int i = 0; i < n; ++i) {
    std::string user;
    switch (i % 4) {
      case 0:
        user = absl::StrFormat("k%06d", i);
        break;
      case 1:
        user = long_prefix + absl::StrFormat("%06d", i);
        break;
      case 2:
        user = std::string(300, 'x') + absl::StrFormat("%06d", i);
        break;
      default:
        user = absl::StrFormat("%06d", i);
    }
    std::string value = i % 5 == 0 ? ""
                                   : absl::StrFormat("value-%d-%s", i,
                                                     std::string(i % 40, 'v'));
    m[MakeInternalKey(user, seq + i, kTypeValue)] = value;
  }
  return m;
}

void ExpectSameAsModel(InternalIterator* it, const Model& model) {
  auto e = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++e) {
    ASSERT_NE(e, model.end());
    ASSERT_EQ(it->key(), e->first);
    ASSERT_EQ(it->value(), e->second);
  }
  EXPECT_EQ(e, model.end());
  EXPECT_TRUE(it->status().ok()) << it->status();
  auto r = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
    ASSERT_NE(r, model.rend());
    ASSERT_EQ(it->key(), r->first);
  }
  EXPECT_EQ(r, model.rend());
  EXPECT_TRUE(it->status().ok()) << it->status();
}

struct Shape {
  CompressionType compression;
  size_t block_size;
};

class TableRoundTripTest : public TableTest,
                           public ::testing::WithParamInterface<Shape> {};

TEST_P(TableRoundTripTest, GetAndIterate) {
  const Model model = MixedModel(2000);
  TableBuilderOptions options;
  options.compression = GetParam().compression;
  options.block_size = GetParam().block_size;
  Build(model, options);
  BlockCache cache(1 << 20, 2);
  auto table = Open({&cache, nullptr});
  ASSERT_NE(table, nullptr);
  ExpectSameAsModel(table->NewIterator().get(), model);
  for (const auto& [k, v] : model) {
    LookupResult r;
    absl::StatusOr<bool> found =
        table->Get(ExtractUserKey(k), kMaxSequenceNumber, &r);
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_TRUE(*found);
    EXPECT_EQ(r.value, v);
    EXPECT_EQ(r.type, kTypeValue);
    EXPECT_EQ(r.seq, TagSequence(ExtractTag(k)));
    // Absent neighbours.
    std::string absent(ExtractUserKey(k));
    absent += '\0';
    ASSERT_FALSE(*table->Get(absent, kMaxSequenceNumber, &r));
  }
  LookupResult r;
  EXPECT_FALSE(*table->Get("", kMaxSequenceNumber, &r));
  EXPECT_FALSE(*table->Get("\xff\xff", kMaxSequenceNumber, &r));
}

TEST_P(TableRoundTripTest, SeeksInBothDirectionsAcrossBlocks) {
  const Model model = MixedModel(600);
  TableBuilderOptions options;
  options.compression = GetParam().compression;
  options.block_size = GetParam().block_size;
  options.block_restart_interval = 4;
  Build(model, options);
  auto table = Open();
  ASSERT_NE(table, nullptr);
  auto it = table->NewIterator();
  std::vector<std::string> keys;
  for (const auto& [k, v] : model) keys.push_back(k);
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string user(ExtractUserKey(keys[i]));
    // Exact keys, and lookups just before and after them.
    it->Seek(keys[i]);
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), keys[i]);
    it->SeekForPrev(keys[i]);
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), keys[i]);
    it->Seek(MakeLookupKey(user, kMaxSequenceNumber));
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), keys[i]);
    it->SeekForPrev(MakeLookupKey(user, kMaxSequenceNumber));
    ASSERT_EQ(it->Valid(), i > 0);
    if (i > 0) {
      EXPECT_EQ(it->key(), keys[i - 1]);
    }
    it->SeekForPrev(MakeInternalKey(user, 0, kTypeDeletion));
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), keys[i]);
    // Stepping both ways from here.
    it->Seek(keys[i]);
    it->Next();
    ASSERT_EQ(it->Valid(), i + 1 < keys.size());
    if (it->Valid()) {
      EXPECT_EQ(it->key(), keys[i + 1]);
      it->Prev();
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->key(), keys[i]);
    }
    it->Seek(keys[i]);
    it->Prev();
    ASSERT_EQ(it->Valid(), i > 0);
    if (i > 0) {
      EXPECT_EQ(it->key(), keys[i - 1]);
      it->Next();
      EXPECT_EQ(it->key(), keys[i]);
    }
  }
  it->Seek(MakeLookupKey("\xff", kMaxSequenceNumber));
  EXPECT_FALSE(it->Valid());
  it->SeekForPrev(MakeLookupKey("\xff", kMaxSequenceNumber));
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), keys.back());
  it->SeekForPrev(MakeLookupKey("", kMaxSequenceNumber));
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

INSTANTIATE_TEST_SUITE_P(Shapes, TableRoundTripTest,
                         ::testing::Values(Shape{CompressionType::kNone, 4096},
                                           Shape{CompressionType::kLZ4, 4096},
                                           Shape{CompressionType::kZstd, 4096},
                                           Shape{CompressionType::kNone, 64},
                                           Shape{CompressionType::kLZ4, 512},
                                           Shape{CompressionType::kZstd,
                                                 1 << 20}));

TEST_F(TableTest, GetSeesTheNewestVersionAtEachSnapshot) {
  // Five versions per user key, of every type, with tiny blocks so that the
  // versions of one key straddle block boundaries.
  Model model;
  const ValueType types[] = {kTypeValue, kTypeDeletion, kTypeMerge,
                             kTypeValueWithExpiry, kTypeValue};
  for (int u = 0; u < 100; ++u) {
    for (int v = 0; v < 5; ++v) {
      const uint64_t seq = 10 * (v + 1) + u % 3;
      const ValueType type = types[(u + v) % 5];
      model[MakeInternalKey(absl::StrFormat("user%04d", 2 * u), seq, type)] =
          type == kTypeDeletion ? "" : absl::StrFormat("%d@%d", u, seq);
    }
  }
  TableBuilderOptions options;
  options.block_size = 80;
  options.block_restart_interval = 2;
  Build(model, options);
  auto table = Open();
  ASSERT_NE(table, nullptr);
  for (int u = 0; u < 200; ++u) {
    const std::string user = absl::StrFormat("user%04d", u);
    for (uint64_t snapshot = 0; snapshot <= 60; ++snapshot) {
      // The expected answer, by brute force over the model.
      const Model::value_type* want = nullptr;
      for (const auto& e : model) {
        if (ExtractUserKey(e.first) == user &&
            TagSequence(ExtractTag(e.first)) <= snapshot) {
          want = &e;
          break;  // newest first
        }
      }
      LookupResult r;
      absl::StatusOr<bool> found = table->Get(user, snapshot, &r);
      ASSERT_TRUE(found.ok()) << found.status();
      ASSERT_EQ(*found, want != nullptr) << user << "@" << snapshot;
      if (want != nullptr) {
        EXPECT_EQ(r.seq, TagSequence(ExtractTag(want->first)));
        EXPECT_EQ(r.type, TagType(ExtractTag(want->first)));
        EXPECT_EQ(r.value, want->second);
      }
    }
  }
  EXPECT_EQ(table->properties().num_deletions, 100u);
  ExpectSameAsModel(table->NewIterator().get(), model);
}

TEST_F(TableTest, RangeTombstonesAndPropertiesRoundTrip) {
  Model model = MixedModel(300, 50);
  model[MakeInternalKey("k000000", 7, kTypeDeletion)] = "";
  const std::vector<RangeTombstone> tombstones = {
      {"m", "q", 400}, {"a", "c", 3}, {"b", "d", 900}, {"a", "c", 5}};
  TableBuilderOptions options;
  options.compression = CompressionType::kZstd;
  options.block_size = 1024;
  options.bloom_bits_per_key = 12;
  Build(model, options, tombstones);
  auto table = Open();
  ASSERT_NE(table, nullptr);

  EXPECT_EQ(table->range_tombstones().ToTombstones().size(),
            FragmentedRangeTombstones(tombstones).ToTombstones().size());
  EXPECT_EQ(table->range_tombstones().MaxCoveringSeq("bb", 1000), 900u);
  EXPECT_EQ(table->range_tombstones().MaxCoveringSeq("ab", 4), 3u);
  EXPECT_EQ(table->range_tombstones().MaxCoveringSeq("d", 1000), 0u);
  EXPECT_EQ(table->range_tombstones().MaxCoveringSeq("p", 1000), 400u);

  const TableProperties& p = table->properties();
  EXPECT_EQ(p.num_entries, model.size());
  EXPECT_EQ(p.num_deletions, 1u);
  EXPECT_EQ(p.num_range_deletions, 4u);
  EXPECT_EQ(p.smallest_key, model.begin()->first);
  EXPECT_EQ(p.largest_key, model.rbegin()->first);
  EXPECT_EQ(p.smallest_seq, 3u);
  EXPECT_EQ(p.largest_seq, 900u);
  EXPECT_GT(p.num_data_blocks, 10u);
  EXPECT_EQ(p.compression, static_cast<uint8_t>(CompressionType::kZstd));
  EXPECT_EQ(p.bloom_bits_per_key, 12);
  EXPECT_GT(p.filter_bytes, 0u);
  EXPECT_LT(p.data_bytes + p.index_bytes + p.filter_bytes,
            std::filesystem::file_size(path_));
  uint64_t raw_keys = 0, raw_values = 0;
  for (const auto& [k, v] : model) {
    raw_keys += k.size();
    raw_values += v.size();
  }
  EXPECT_EQ(p.raw_key_bytes, raw_keys);
  EXPECT_EQ(p.raw_value_bytes, raw_values);
  // What the builder reported is what the file says.
  EXPECT_EQ(built_.data_bytes, p.data_bytes);
  EXPECT_EQ(built_.index_bytes, p.index_bytes);
  EXPECT_EQ(built_.filter_bytes, p.filter_bytes);
  EXPECT_EQ(built_.num_data_blocks, p.num_data_blocks);
  EXPECT_EQ(built_.smallest_key, p.smallest_key);
}

TEST_F(TableTest, TableOfTombstonesOnlyOrNothing) {
  Build({}, TableBuilderOptions{}, {{"a", "z", 42}});
  auto table = Open();
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->properties().num_entries, 0u);
  EXPECT_EQ(table->properties().smallest_seq, 42u);
  EXPECT_EQ(table->range_tombstones().MaxCoveringSeq("m", 50), 42u);
  auto it = table->NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  LookupResult r;
  EXPECT_FALSE(*table->Get("m", 100, &r));

  Build({}, TableBuilderOptions{});
  table = Open();
  ASSERT_NE(table, nullptr);
  EXPECT_TRUE(table->range_tombstones().empty());
  EXPECT_EQ(table->properties().largest_seq, 0u);
  EXPECT_FALSE(*table->Get("m", 100, &r));
}

TEST_F(TableTest, StatisticsCountBloomAndCache) {
  Build(MixedModel(500), TableBuilderOptions{});
  Statistics stats;
  BlockCache cache(1 << 20, 0);
  auto table = Open({&cache, &stats});
  ASSERT_NE(table, nullptr);
  LookupResult r;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(*table->Get(absl::StrFormat("absent%d", i), 1000, &r));
  }
  EXPECT_EQ(stats.Get(Ticker::kBloomChecked), 1000u);
  EXPECT_GT(stats.Get(Ticker::kBloomUseful), 950u);

  // The few false positives read blocks: start from a clean cache.
  table.reset();
  EXPECT_EQ(cache.usage(), 0u);
  table = Open({&cache, &stats});
  const uint64_t inserts = stats.Get(Ticker::kBlockCacheInsert);
  const uint64_t hits = stats.Get(Ticker::kBlockCacheHit);
  ASSERT_TRUE(*table->Get("k000000", 1000, &r, /*fill_cache=*/false));
  EXPECT_EQ(cache.usage(), 0u);
  ASSERT_TRUE(*table->Get("k000000", 1000, &r));
  ASSERT_TRUE(*table->Get("k000000", 1000, &r));
  EXPECT_GT(cache.usage(), 0u);
  EXPECT_EQ(stats.Get(Ticker::kBlockCacheInsert), inserts + 1);
  EXPECT_EQ(stats.Get(Ticker::kBlockCacheHit), hits + 1);

  // An iterator that does not fill the cache leaves it as it was.
  const size_t usage = cache.usage();
  auto it = table->NewIterator(/*fill_cache=*/false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
  }
  EXPECT_EQ(cache.usage(), usage);
  // Closing the table drops its blocks.
  it.reset();
  table.reset();
  EXPECT_EQ(cache.usage(), 0u);
}

TEST_F(TableTest, IteratorOutlivesTheTableObject) {
  const Model model = MixedModel(200);
  Build(model, TableBuilderOptions{});
  auto table = Open();
  ASSERT_NE(table, nullptr);
  auto it = table->NewIterator();
  table.reset();
  ExpectSameAsModel(it.get(), model);
}

TEST_F(TableTest, ApproximateOffsetsIncrease) {
  const Model model = MixedModel(1000);
  TableBuilderOptions options;
  options.block_size = 512;
  Build(model, options);
  auto table = Open();
  ASSERT_NE(table, nullptr);
  uint64_t last = 0;
  for (const auto& [k, v] : model) {
    const uint64_t off = table->ApproximateOffsetOf(k);
    EXPECT_GE(off, last);
    last = off;
  }
  EXPECT_GT(last, 0u);
  EXPECT_EQ(table->ApproximateOffsetOf(MakeLookupKey("\xff", 0)),
            table->properties().data_bytes);
}

// Reads everything a table holds; returns true if any read reported
// damage. Anything read successfully must match the model.
bool ReadAllCheckingAnswers(const Table& table, const Model& model) {
  bool damage_seen = false;
  for (const auto& [k, v] : model) {
    LookupResult r;
    absl::StatusOr<bool> found =
        table.Get(ExtractUserKey(k), kMaxSequenceNumber, &r);
    if (!found.ok()) {
      EXPECT_TRUE(absl::IsDataLoss(found.status())) << found.status();
      damage_seen = true;
      continue;
    }
    EXPECT_TRUE(*found);
    EXPECT_EQ(r.value, v);
  }
  auto it = table.NewIterator(false);
  auto e = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++e) {
    if (e == model.end()) {
      ADD_FAILURE() << "extra entry";
      break;
    }
    EXPECT_EQ(it->key(), e->first);
    EXPECT_EQ(it->value(), e->second);
  }
  if (!it->status().ok()) {
    EXPECT_TRUE(absl::IsDataLoss(it->status())) << it->status();
    damage_seen = true;
  } else {
    EXPECT_EQ(e, model.end());
  }
  return damage_seen;
}

class TableDamageTest : public TableTest,
                        public ::testing::WithParamInterface<CompressionType> {
 protected:
  void SetUp() override {
    TableTest::SetUp();
    model_ = MixedModel(40);
    TableBuilderOptions options;
    options.block_size = 400;
    options.compression = GetParam();
    Build(model_, options, {{"a", "b", 9}});
    good_ = ReadFile();
  }
  // Flips one byte, then reads everything: damage must be reported by Open
  // or a read, and no read may return a wrong answer.
  void ExpectDetected(size_t pos) {
    std::string bad = good_;
    bad[pos] ^= 0x41;
    WriteFile(bad);
    auto table = TryOpen();
    if (!table.ok()) {
      EXPECT_TRUE(absl::IsDataLoss(table.status())) << table.status();
      return;
    }
    EXPECT_TRUE(ReadAllCheckingAnswers(**table, model_))
        << "damage at " << pos << " went unnoticed";
  }

  Model model_;
  std::string good_;
};

TEST_P(TableDamageTest, DataBlockByteIsDetected) {
  ExpectDetected(10);
  ExpectDetected(built_.data_bytes / 2);
}

TEST_P(TableDamageTest, IndexAndFooterBytesAreDetected) {
  const uint64_t size = good_.size();
  ExpectDetected(size - 1);   // magic
  ExpectDetected(size - 30);  // footer padding
  ExpectDetected(size - 56);  // metaindex handle
  // The index block sits just before the properties block.
  ExpectDetected(built_.data_bytes + built_.filter_bytes + 20);
}

TEST_P(TableDamageTest, EveryFlippedByteIsDetected) {
  for (size_t pos = 0; pos < good_.size(); ++pos) {
    ExpectDetected(pos);
    if (HasFailure()) break;
  }
}

TEST_P(TableDamageTest, TruncatedFilesAreDataLoss) {
  for (size_t len = 0; len < good_.size(); ++len) {
    WriteFile(std::string_view(good_).substr(0, len));
    auto table = TryOpen();
    ASSERT_FALSE(table.ok()) << len;
    EXPECT_TRUE(absl::IsDataLoss(table.status())) << table.status();
  }
  // A size larger than the file (a MANIFEST out of step with the disk).
  WriteFile(good_);
  OpenOptions o;
  o.read_only = true;
  auto file = FileSystem::Default()->Open(path_, o);
  auto table = Table::Open({}, *std::move(file), good_.size() + 100);
  EXPECT_TRUE(absl::IsDataLoss(table.status())) << table.status();
}

// Damage behind a valid checksum (what a fuzzer can produce, or a bug in a
// writer): blocks whose bytes are garbage but whose trailers match. Answers
// cannot be right then, but nothing may crash or read out of bounds, and
// errors must be DataLoss.
TEST_P(TableDamageTest, GarbageWithValidChecksumsNeverCrashes) {
  if (GetParam() != CompressionType::kNone) return;  // sizes must not move
  const size_t footer = good_.size() - Footer::kEncodedLength;
  Footer f;
  ASSERT_TRUE(f.DecodeFrom(std::string_view(good_).substr(footer)).ok());
  std::vector<BlockHandle> handles = {f.index, f.metaindex};
  for (BlockHandle h : {f.index, f.metaindex}) {
    Block block(good_.substr(h.offset, h.size));
    BlockIter it(&block, BytewiseComparator());
    for (it.SeekToFirst(); it.Valid(); it.Next()) {
      std::string_view v = it.value();
      BlockHandle child;
      if (child.DecodeFrom(&v)) handles.push_back(child);
    }
  }
  std::mt19937 rng(11);
  for (int round = 0; round < 3000; ++round) {
    std::string bad = good_;
    const size_t which = rng() % (handles.size() + 1);
    const bool in_footer = which == handles.size();
    const uint64_t start = in_footer ? footer : handles[which].offset;
    const uint64_t size = in_footer ? 40 : handles[which].size;
    if (size == 0) continue;
    for (int flips = 1 + rng() % 3; flips > 0; --flips) {
      bad[start + rng() % size] = static_cast<char>(rng());
    }
    if (in_footer) {
      EncodeFixed32(bad.data() + footer + 44,
                    crc32c::Mask(crc32c::Value(bad.data() + footer, 44)));
    } else {
      std::string trailer;
      AppendBlockTrailer(std::string_view(bad).substr(start, size), 0,
                         &trailer);
      bad.replace(start + size, kBlockTrailerSize, trailer);
    }
    WriteFile(bad);
    auto table = TryOpen();
    if (!table.ok()) {
      ASSERT_TRUE(absl::IsDataLoss(table.status())) << table.status();
      continue;
    }
    LookupResult r;
    for (const auto& [k, v] : model_) {
      absl::StatusOr<bool> found =
          (*table)->Get(ExtractUserKey(k), kMaxSequenceNumber, &r);
      ASSERT_TRUE(found.ok() || absl::IsDataLoss(found.status()));
    }
    auto it = (*table)->NewIterator();
    int steps = 0;
    for (it->SeekToFirst(); it->Valid() && steps < 1000; it->Next()) ++steps;
    for (it->SeekToLast(); it->Valid() && steps < 2000; it->Prev()) ++steps;
    it->SeekForPrev(model_.begin()->first);
    ASSERT_TRUE(it->status().ok() || absl::IsDataLoss(it->status()));
  }
}

INSTANTIATE_TEST_SUITE_P(Compression, TableDamageTest,
                         ::testing::Values(CompressionType::kNone,
                                           CompressionType::kLZ4,
                                           CompressionType::kZstd));

TEST_F(TableTest, BuilderAfterFinishOrAbandon) {
  OpenOptions o;
  o.create = true;
  auto file = FileSystem::Default()->Open(path_, o);
  TableBuilder builder(TableBuilderOptions{}, file->get());
  builder.Add(MakeInternalKey("a", 1, kTypeValue), "x");
  ASSERT_TRUE(builder.Finish().ok());
  EXPECT_FALSE(builder.Finish().ok());
  TableBuilder abandoned(TableBuilderOptions{}, file->get());
  abandoned.Add(MakeInternalKey("a", 1, kTypeValue), "x");
  abandoned.Abandon();
  EXPECT_EQ(abandoned.NumEntries(), 1u);
}

}  // namespace
}  // namespace cairn::storage
