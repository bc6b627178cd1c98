// Corruption in an SSTable or the MANIFEST is detected and reported as
// DataLoss; no read ever returns a wrong value.
#include <fstream>

#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
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

// The MANIFEST of a filled DB with several records, and the offset of each
// record (8-byte header: masked CRC32C, length; then the payload).
std::string ManifestWithRecords(const std::string& dir,
                                std::vector<uint64_t>* offsets) {
  std::string manifest;
  for (const auto& p : FilesEndingWith(dir, "")) {
    if (p.find("MANIFEST-") != std::string::npos) manifest = p;
  }
  std::ifstream in(manifest, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  for (uint64_t pos = 0; pos + 8 <= data.size();) {
    offsets->push_back(pos);
    pos += 8 + DecodeFixed32(data.data() + pos + 4);
  }
  return manifest;
}

void MakeSeveralManifestRecords(const std::string& dir) {
  auto db = DB::Open(SmallOptions(), dir);
  ASSERT_TRUE(db.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*db)->Put({}, "x" + std::to_string(i), "y").ok());
    ASSERT_TRUE((*db)->Flush().ok());
  }
}

// A damaged length that points past the end of the file must not pass for
// an unfinished append: that would drop every later edit without a word.
TEST_F(CorruptionTest, DamagedLengthOfAManifestRecordIsDataLoss) {
  Fill();
  MakeSeveralManifestRecords(dir_.path());
  std::vector<uint64_t> offsets;
  const std::string manifest = ManifestWithRecords(dir_.path(), &offsets);
  ASSERT_GE(offsets.size(), 3u);
  // The length's top byte: a middle record, then the last one (whose bytes
  // still match its checksum).
  for (uint64_t at : {offsets[1], offsets.back()}) {
    TempDir copy;
    std::filesystem::copy(
        dir_.path(), copy.path(),
        std::filesystem::copy_options::recursive |
            std::filesystem::copy_options::overwrite_existing);
    const std::string m =
        copy.path() + "/" + std::filesystem::path(manifest).filename().string();
    FlipByte(m, at + 7);
    auto db = DB::Open(SmallOptions(), copy.path());
    ASSERT_FALSE(db.ok()) << "record at " << at;
    EXPECT_TRUE(absl::IsDataLoss(db.status())) << db.status();
    EXPECT_NE(db.status().message().find("length is damaged"),
              std::string::npos)
        << db.status();
  }
}

// What a crash during an append leaves (a header and part of the payload at
// the end of the file) is dropped, and the DB opens with all its data.
TEST_F(CorruptionTest, ManifestRecordCutShortAtTheEndIsDropped) {
  Fill();
  MakeSeveralManifestRecords(dir_.path());
  std::vector<uint64_t> offsets;
  const std::string manifest = ManifestWithRecords(dir_.path(), &offsets);
  {
    std::string partial(8, '\0');
    const std::string payload(100, '\x5a');
    EncodeFixed32(partial.data(),
                  crc32c::Mask(crc32c::Value(payload.data(), payload.size())));
    EncodeFixed32(partial.data() + 4, static_cast<uint32_t>(payload.size()));
    partial.append(payload.substr(0, 37));
    std::ofstream out(manifest, std::ios::binary | std::ios::app);
    out << partial;
  }
  auto db = DB::Open(SmallOptions(), dir_.path());
  ASSERT_TRUE(db.ok()) << db.status();
  for (int i = 0; i < 2000; i += 97) {
    auto g = (*db)->Get({}, Key(i));
    ASSERT_TRUE(g.ok()) << Key(i) << ": " << g.status();
    EXPECT_EQ(g->value, Value(i));
  }
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
