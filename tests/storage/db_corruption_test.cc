// Corruption in an SSTable or the MANIFEST is detected and reported as
// DataLoss; no read ever returns a wrong value.
#include <fstream>

#include "absl/strings/str_format.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::SmallOptions;
using testing::TempDir;

std::string Key(int i) { return absl::StrFormat("key%06d", i); }
std::string Value(int i) {
  return absl::StrFormat("value%06d", i) + std::string(80, 'v');
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.is_open()) << path;
  f.seekg(offset);
  char c;
  f.get(c);
  c ^= 0x40;
  f.seekp(offset);
  f.put(c);
}

std::vector<std::string> FilesEndingWith(const std::string& dir,
                                         const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string p = e.path().string();
    if (p.size() >= suffix.size() &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class CorruptionTest : public ::testing::Test {
 protected:
  void Fill() {
    Options o = SmallOptions();
    o.write_buffer_size = 1 << 20;
    auto db = DB::Open(o, dir_.path());
    ASSERT_TRUE(db.ok());
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE((*db)->Put({}, Key(i), Value(i)).ok());
    }
    ASSERT_TRUE((*db)->Flush().ok());
    ASSERT_TRUE((*db)->Close().ok());
  }
  TempDir dir_;
};

TEST_F(CorruptionTest, FlippedBitInADataBlockIsDataLossNotAWrongValue) {
  Fill();
  auto tables = FilesEndingWith(dir_.path(), ".sst");
  ASSERT_EQ(tables.size(), 1u);
  FlipByte(tables[0], 3000);  // inside an early data block
  Options o = SmallOptions();
  o.block_cache_bytes = 0;
  auto db = DB::Open(o, dir_.path());
  ASSERT_TRUE(db.ok()) << db.status();
  int data_loss = 0;
  for (int i = 0; i < 2000; ++i) {
    auto g = (*db)->Get({}, Key(i));
    if (g.ok()) {
      ASSERT_EQ(g->value, Value(i)) << "wrong value for " << Key(i);
    } else {
      ASSERT_TRUE(absl::IsDataLoss(g.status())) << g.status();
      ++data_loss;
    }
  }
  EXPECT_GT(data_loss, 0);
  auto it = (*db)->NewIterator({});
  int seen = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++seen;
  EXPECT_TRUE(absl::IsDataLoss(it->status())) << it->status();
  EXPECT_LT(seen, 2000);
}

TEST_F(CorruptionTest, EveryFlippedByteOfATableIsCaught) {
  Fill();
  auto tables = FilesEndingWith(dir_.path(), ".sst");
  ASSERT_EQ(tables.size(), 1u);
  const uint64_t size = std::filesystem::file_size(tables[0]);
  Options o = SmallOptions();
  o.block_cache_bytes = 0;
  // A sample of offsets across the whole file: each flip must be reported
  // by Open, Get or the iterator, and no read may return a wrong value.
  for (uint64_t off = 7; off < size; off += size / 97 + 1) {
    FlipByte(tables[0], off);
    bool detected = false;
    {
      auto db = DB::Open(o, dir_.path());
      if (!db.ok()) {
        detected = absl::IsDataLoss(db.status());
        ASSERT_TRUE(detected) << off << " " << db.status();
      } else {
        for (int i = 0; i < 2000; ++i) {
          auto g = (*db)->Get({}, Key(i));
          if (g.ok()) {
            ASSERT_EQ(g->value, Value(i)) << "offset " << off;
          } else {
            ASSERT_TRUE(absl::IsDataLoss(g.status()) ||
                        absl::IsNotFound(g.status()))
                << g.status();
            detected = true;
          }
        }
        auto it = (*db)->NewIterator({});
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
        }
        if (!it->status().ok()) detected = true;
      }
    }
    EXPECT_TRUE(detected) << "flip at offset " << off << " went unnoticed";
    FlipByte(tables[0], off);  // restore
  }
}

TEST_F(CorruptionTest, CorruptManifestFailsOpenWithDataLoss) {
  Fill();
  // Two records: reopen once more so the MANIFEST has several.
  {
    auto db = DB::Open(SmallOptions(), dir_.path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Put({}, "x", "y").ok());
    ASSERT_TRUE((*db)->Flush().ok());
  }
  auto manifests = FilesEndingWith(dir_.path(), "");
  std::string manifest;
  for (const auto& p : manifests) {
    if (p.find("MANIFEST-") != std::string::npos) manifest = p;
  }
  ASSERT_FALSE(manifest.empty());
  FlipByte(manifest, 12);  // inside the first record's payload
  auto db = DB::Open(SmallOptions(), dir_.path());
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(absl::IsDataLoss(db.status())) << db.status();
}

TEST_F(CorruptionTest, GarbledCurrentIsDataLoss) {
  Fill();
  std::ofstream(dir_.path() + "/CURRENT") << "nonsense";
  auto db = DB::Open(SmallOptions(), dir_.path());
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(absl::IsDataLoss(db.status())) << db.status();
}

TEST_F(CorruptionTest, MissingTableIsReported) {
  Fill();
  auto tables = FilesEndingWith(dir_.path(), ".sst");
  ASSERT_EQ(tables.size(), 1u);
  std::filesystem::remove(tables[0]);
  auto db = DB::Open(SmallOptions(), dir_.path());
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(absl::IsDataLoss(db.status())) << db.status();
}

}  // namespace
}  // namespace cairn::storage
