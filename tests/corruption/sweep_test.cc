// The bit-flip sweep: for every on-disk structure, flip one bit at sampled
// offsets of a copy of a database with known contents, then
//   - VerifyDatabase must report the flip;
//   - opening must fail with DataLoss, or the database must open and a full
//     scan and a Get of every key ever written must return the model's
//     values, with DataLoss (never a wrong value, never a missing or extra
//     key) where damaged data is needed;
//   - whenever the engine reports DataLoss, VerifyDatabase must have called
//     the database corrupt.
//
// CAIRN_CORRUPTION_SAMPLES flips per structure (default 8),
// CAIRN_CORRUPTION_SEED the seed (default 8; the structure's index is
// added). Each structure prints one line of outcome counts.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cairn/storage/db.h"
#include "cairn/storage/verify.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
#include "cairn/wal/format.h"
#include "corruption_util.h"
#include "gtest/gtest.h"
#include "sst_format.h"

namespace cairn::corruption {
namespace {

using storage::DB;
using storage::VerifyDatabase;
using storage::VerifyReport;

class SweepTest : public ::testing::TestWithParam<Structure> {
 protected:
  static void SetUpTestSuite() {
    root_ = new ScratchDir;
    model_ = new Model;
    map_ = new StructureMap;
    golden_ = root_->Sub("golden");
    absl::Status s = BuildGoldenDb(golden_, model_);
    ASSERT_TRUE(s.ok()) << s;
    s = MapStructures(golden_, map_);
    ASSERT_TRUE(s.ok()) << s;
    auto report = VerifyDatabase(golden_);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_TRUE(report->problems.empty()) << report->ToString();
    printf("golden database: %s", report->ToString().c_str());
  }
  static void TearDownTestSuite() {
    delete map_;
    delete model_;
    delete root_;
  }

  struct Counts {
    int flips = 0;
    int open_refused = 0;
    int read_data_loss = 0;
    int read_correct = 0;  // opened, every read right, no DataLoss
    int verify_corrupt = 0;
    int verify_torn = 0;  // only torn-tail findings
  };

  // Runs one flip; adds its outcome to *c.
  void RunFlip(const Flip& flip, Counts* c);

  static ScratchDir* root_;
  static Model* model_;
  static StructureMap* map_;
  static std::string golden_;
};

ScratchDir* SweepTest::root_ = nullptr;
Model* SweepTest::model_ = nullptr;
StructureMap* SweepTest::map_ = nullptr;
std::string SweepTest::golden_;

void SweepTest::RunFlip(const Flip& flip, Counts* c) {
  SCOPED_TRACE(absl::StrFormat("flip of bit %d at %s offset %d (%s)", flip.bit,
                               flip.file, flip.offset,
                               StructureName(flip.structure)));
  ScratchDir scratch;
  const std::string dir = scratch.Sub("db");
  CopyDir(golden_, dir);
  FlipBit(dir + "/" + flip.file, flip.offset, flip.bit);
  ++c->flips;

  absl::StatusOr<VerifyReport> report = VerifyDatabase(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->problems.empty()) << "verify missed the flip";
  const bool verify_corrupt = report->corrupt();
  c->verify_corrupt += verify_corrupt;
  c->verify_torn += !verify_corrupt && !report->problems.empty();
  // The first problem should name the flipped file.
  if (!report->problems.empty()) {
    bool named = false;
    for (const auto& p : report->problems) {
      named |= p.file.ends_with(flip.file) ||
               (flip.structure == Structure::kCurrent);
    }
    EXPECT_TRUE(named) << report->ToString();
  }

  storage::Options o = GoldenOptions();
  o.block_cache_bytes = 64 << 10;
  auto db = DB::Open(o, dir);
  if (!db.ok()) {
    EXPECT_TRUE(absl::IsDataLoss(db.status())) << db.status();
    EXPECT_TRUE(verify_corrupt)
        << "open failed (" << db.status() << ") but verify said\n"
        << report->ToString();
    ++c->open_refused;
    return;
  }
  bool data_loss = false;
  {
    auto it = (*db)->NewIterator({});
    auto m = model_->live.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      ASSERT_TRUE(m != model_->live.end())
          << "scan yields an extra key '" << it->key() << "'";
      ASSERT_EQ(it->key(), m->first) << "scan skipped or invented a key";
      ASSERT_EQ(it->value(), m->second) << "wrong value of " << m->first;
    }
    if (it->status().ok()) {
      EXPECT_TRUE(m == model_->live.end())
          << "scan ended early, before '" << m->first << "'";
    } else {
      EXPECT_TRUE(absl::IsDataLoss(it->status())) << it->status();
      data_loss = true;
    }
  }
  for (const std::string& key : model_->universe) {
    auto g = (*db)->Get({}, key);
    auto m = model_->live.find(key);
    if (g.ok()) {
      ASSERT_TRUE(m != model_->live.end()) << "Get found deleted key " << key;
      ASSERT_EQ(g->value, m->second) << "wrong value of " << key;
    } else if (absl::IsNotFound(g.status())) {
      ASSERT_TRUE(m == model_->live.end()) << "Get lost key " << key;
    } else {
      ASSERT_TRUE(absl::IsDataLoss(g.status())) << g.status();
      data_loss = true;
    }
  }
  (*db)->Close().IgnoreError();
  if (data_loss) {
    ++c->read_data_loss;
    EXPECT_TRUE(verify_corrupt) << "reads report DataLoss but verify said\n"
                                << report->ToString();
  } else {
    ++c->read_correct;
  }
}

TEST_P(SweepTest, FlipIsDetectedAndNeverReadAsAWrongValue) {
  const Structure s = GetParam();
  if (!map_->count(s)) GTEST_SKIP() << "no such structure in the database";
  const uint64_t samples = EnvOr("CAIRN_CORRUPTION_SAMPLES", 8);
  std::mt19937_64 rng(EnvOr("CAIRN_CORRUPTION_SEED", 8) +
                      static_cast<uint64_t>(s));
  Counts c;
  for (uint64_t i = 0; i < samples && !HasFailure(); ++i) {
    RunFlip(PickFlip(*map_, s, &rng), &c);
  }
  uint64_t bytes = 0;
  for (const Range& r : map_->at(s)) bytes += r.end - r.begin;
  printf(
      "%-24s %6d flips over %8d bytes: open refused %4d, read DATA_LOSS "
      "%4d, all reads correct %4d | verify: corruption %4d, torn tail "
      "%4d\n",
      StructureName(s), c.flips, static_cast<int>(bytes), c.open_refused,
      c.read_data_loss, c.read_correct, c.verify_corrupt, c.verify_torn);
}

// Regression: a CURRENT naming a MANIFEST that does not exist (one flipped
// digit) failed open with NotFound; it is DataLoss.
TEST(CorruptionRegressionTest, CurrentNamingAMissingManifestIsDataLoss) {
  ScratchDir dir;
  Model model;
  ASSERT_TRUE(BuildGoldenDb(dir.Sub("db"), &model).ok());
  std::FILE* f = std::fopen(dir.Sub("db/CURRENT").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("MANIFEST-999999\n", f);
  std::fclose(f);
  auto db = DB::Open(GoldenOptions(), dir.Sub("db"));
  EXPECT_TRUE(absl::IsDataLoss(db.status())) << db.status();
  auto report = VerifyDatabase(dir.Sub("db"));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->corrupt()) << report->ToString();
}

// Every byte of a filter is under its block's checksum. Should a damaged
// filter ever pass it (here: a zeroed line with the checksum recomputed),
// the engine would answer "absent" for keys the filter hides; verify checks
// every key against the filter and names them.
TEST(CorruptionRegressionTest, VerifyFindsAFilterThatHidesKeys) {
  ScratchDir dir;
  Model model;
  const std::string db_dir = dir.Sub("db");
  ASSERT_TRUE(BuildGoldenDb(db_dir, &model).ok());
  StructureMap map;
  ASSERT_TRUE(MapStructures(db_dir, &map).ok());
  ASSERT_FALSE(map[Structure::kSstFilterBlock].empty());
  const Range& filter = map[Structure::kSstFilterBlock].front();
  const std::string path = db_dir + "/" + filter.file;
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  const size_t stored = filter.end - filter.begin - storage::kBlockTrailerSize;
  std::string block(stored + 1, '\0');
  std::fseek(f, static_cast<long>(filter.begin), SEEK_SET);
  ASSERT_EQ(std::fread(block.data(), 1, block.size(), f), block.size());
  std::memset(block.data(), 0, 64);  // the first cache line of the filter
  char crc[4];
  EncodeFixed32(crc, crc32c::Mask(crc32c::Value(block.data(), block.size())));
  std::fseek(f, static_cast<long>(filter.begin), SEEK_SET);
  std::fwrite(block.data(), 1, 64, f);
  std::fseek(f, static_cast<long>(filter.begin + stored + 1), SEEK_SET);
  std::fwrite(crc, 1, 4, f);
  std::fclose(f);
  auto report = VerifyDatabase(db_dir);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->corrupt());
  EXPECT_NE(report->ToString().find("the bloom filter would hide key"),
            std::string::npos)
      << report->ToString();
}

// A process crash leaves the newest segment with frames past its header's
// durable end (writes acknowledged without sync: they survive a process
// crash, not a power loss). Damage there is indistinguishable from a torn
// write, and recovery cuts the log at the first bad frame: the database
// opens holding every synced write and the unsynced ones before the damaged
// record, exactly (a prefix, never a hole), and verify reports a torn tail.
TEST(TornTailTest, FlipInAnUnsyncedRecordCutsTheLogThere) {
  ScratchDir d;
  const int kSynced = 40, kTotal = 70;
  auto key = [](int i) { return absl::StrFormat("t%04d", i); };
  {
    auto db = DB::Open(GoldenOptions(), d.Sub("db"));
    ASSERT_TRUE(db.ok()) << db.status();
    for (int i = 0; i < kTotal; ++i) {
      storage::WriteOptions w;
      w.sync = i < kSynced;
      ASSERT_TRUE((*db)->Put(w, key(i), std::string(100, 'a' + i % 26)).ok());
    }
    // The WAL makes its spare segment in the background: wait for it, so
    // that the crash image below holds one.
    const absl::Time spare_by = absl::Now() + absl::Seconds(30);
    auto has_spare = [&] {
      for (const auto& e :
           std::filesystem::directory_iterator(d.Sub("db/wal"))) {
        if (e.path().string().ends_with(".spare")) return true;
      }
      return false;
    };
    while (!has_spare() && absl::Now() < spare_by) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    CopyDir(d.Sub("db"), d.Sub("crashed"));  // what a process crash leaves
    ASSERT_TRUE((*db)->Close().ok());
  }
  // The unsynced frames: those of sequences kSynced + 1 and up.
  StructureMap map;
  ASSERT_TRUE(MapStructures(d.Sub("crashed"), &map).ok());
  std::vector<Range> unsynced;
  for (Structure s : {Structure::kWalFrameHeader, Structure::kWalRecordHeader,
                      Structure::kWalPayload, Structure::kWalTrailer}) {
    for (const Range& r : map[s]) unsynced.push_back(r);
  }
  std::mt19937_64 rng(EnvOr("CAIRN_CORRUPTION_SEED", 8));
  const uint64_t samples = EnvOr("CAIRN_CORRUPTION_SAMPLES", 8);
  int cut = 0;
  for (uint64_t n = 0; n < 50 * samples && cut < static_cast<int>(samples);
       ++n) {
    ScratchDir scratch;
    const std::string dir = scratch.Sub("db");
    CopyDir(d.Sub("crashed"), dir);
    const Range& r = unsynced[rng() % unsynced.size()];
    const uint64_t offset = r.begin + rng() % (r.end - r.begin);
    // Which record it hits: the frame whose header is at or before offset.
    std::string seg;
    {
      std::ifstream f(dir + "/" + r.file, std::ios::binary);
      seg.assign(std::istreambuf_iterator<char>(f), {});
    }
    uint64_t frame = wal::kSegmentHeaderSize, seq = 0;
    while (true) {
      wal::FrameView v;
      ASSERT_EQ(wal::DecodeFrame(seg.data() + frame, seg.size() - frame, &v),
                wal::FrameError::kNone);
      if (frame + v.size > offset) {
        seq = v.first_seq;
        break;
      }
      frame += v.size;
    }
    if (seq <= kSynced) continue;  // a synced frame: the sweep's business
    ++cut;
    SCOPED_TRACE(
        absl::StrFormat("flip at %s offset %d, in the record of "
                        "sequence %d",
                        r.file, offset, seq));
    FlipBit(dir + "/" + r.file, offset, static_cast<int>(rng() % 8));
    auto report = VerifyDatabase(dir);
    ASSERT_TRUE(report.ok());
    EXPECT_FALSE(report->corrupt()) << report->ToString();
    EXPECT_NE(report->ToString().find("torn tail: "), std::string::npos)
        << report->ToString();
    auto db = DB::Open(GoldenOptions(), dir);
    ASSERT_TRUE(db.ok()) << db.status();
    // Put i has sequence i + 1: everything before the damaged record stays.
    for (int i = 0; i < kTotal; ++i) {
      auto g = (*db)->Get({}, key(i));
      if (static_cast<uint64_t>(i) + 1 < seq) {
        EXPECT_TRUE(g.ok()) << key(i) << ": " << g.status();
      } else {
        EXPECT_TRUE(absl::IsNotFound(g.status()))
            << key(i) << ": " << g.status();
      }
    }
    ASSERT_TRUE((*db)->Close().ok());
  }
  printf("unsynced WAL tail: %d flips, each cut the log at its record\n", cut);

  // The crash image also holds the spare segment made ahead of need. Its
  // header is checksummed like any other; recovery refuses a damaged one
  // after an unsealed segment (it cannot tell it holds nothing), so verify
  // calls it corruption too.
  ScratchDir scratch;
  CopyDir(d.Sub("crashed"), scratch.Sub("db"));
  int spares = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(scratch.Sub("db/wal"))) {
    if (e.path().string().ends_with(".spare")) {
      FlipBit(e.path().string(), 20, 1);  // in its created_ns
      ++spares;
    }
  }
  ASSERT_EQ(spares, 1);
  auto report = VerifyDatabase(scratch.Sub("db"));
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->corrupt()) << report->ToString();
  auto db = DB::Open(GoldenOptions(), scratch.Sub("db"));
  EXPECT_TRUE(absl::IsDataLoss(db.status())) << db.status();
}

std::vector<Structure> AllStructures() {
  std::vector<Structure> v;
  for (int i = 0; i < static_cast<int>(Structure::kCount); ++i) {
    v.push_back(static_cast<Structure>(i));
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Structures, SweepTest,
                         ::testing::ValuesIn(AllStructures()),
                         [](const ::testing::TestParamInfo<Structure>& info) {
                           return std::string(StructureName(info.param));
                         });

}  // namespace
}  // namespace cairn::corruption
