// Recovery: power loss (unsynced data dropped), crashes at kill points
// between WAL write, memtable, flush and MANIFEST write, and a second crash
// right after recovery. Runs the engine over FaultInjectionFileSystem.
#include <map>

#include "absl/strings/str_format.h"
#include "cairn/util/fault_injection_file_system.h"
#include "cairn/wal/log.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::Contents;
using testing::SmallOptions;
using testing::TempDir;

class RecoveryTest : public ::testing::Test {
 protected:
  RecoveryTest() : fs_(FileSystem::Default()) {
    options_ = SmallOptions();
    options_.fs = &fs_;
  }

  std::unique_ptr<DB> Open() {
    auto db = DB::Open(options_, dir_.path());
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }

  // Power loss: nothing more reaches the disk, the DB object goes away, and
  // every unsynced byte is forgotten.
  void PowerLoss(std::unique_ptr<DB>& db,
                 PowerLossMode mode = PowerLossMode::kDropAll) {
    fs_.SetActive(false);
    db.reset();
    ASSERT_TRUE(fs_.DropUnsyncedData(mode, 7).ok());
    fs_.SetActive(true);
    fs_.ClearFaults();
  }

  TempDir dir_;
  FaultInjectionFileSystem fs_;
  Options options_;
};

std::string Key(int i) { return absl::StrFormat("key%06d", i); }
std::string Value(int i) {
  return absl::StrFormat("value-%d-%s", i, std::string(i % 50, 'x'));
}

TEST_F(RecoveryTest, SyncedWritesSurvivePowerLoss) {
  auto db = Open();
  WriteOptions sync;
  sync.sync = true;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(db->Put(sync, Key(i), Value(i)).ok());
    if (i % 300 == 299) ASSERT_TRUE(db->Flush().ok());
  }
  PowerLoss(db);
  db = Open();
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 1000; ++i) {
    auto g = db->Get({}, Key(i));
    ASSERT_TRUE(g.ok()) << Key(i) << " " << g.status();
    EXPECT_EQ(g->value, Value(i));
  }
  EXPECT_EQ(db->LastSequence(), 1000u);
}

TEST_F(RecoveryTest, AsyncWritesLoseOnlyASuffix) {
  for (PowerLossMode mode :
       {PowerLossMode::kDropAll, PowerLossMode::kKeepTornPrefix}) {
    TempDir dir;
    options_.wal.segment_size = 256 << 10;
    auto db = DB::Open(options_, dir.path());
    ASSERT_TRUE(db.ok());
    std::map<uint64_t, int> seq_to_key;
    for (int i = 0; i < 4000; ++i) {
      auto seq = (*db)->Put({}, Key(i), Value(i));
      ASSERT_TRUE(seq.ok());
      seq_to_key[*seq] = i;
      if (i == 2500) ASSERT_TRUE((*db)->Flush().ok());  // syncs the WAL
    }
    PowerLoss(*db, mode);
    auto reopened = DB::Open(options_, dir.path());
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    const uint64_t last = (*reopened)->LastSequence();
    EXPECT_GE(last, 2501u);  // the flush made everything before it durable
    for (const auto& [seq, i] : seq_to_key) {
      auto g = (*reopened)->Get({}, Key(i));
      if (seq <= last) {
        ASSERT_TRUE(g.ok()) << "gap at seq " << seq << ": " << g.status();
        EXPECT_EQ(g->value, Value(i));
      } else {
        EXPECT_TRUE(absl::IsNotFound(g.status())) << "seq " << seq;
      }
    }
  }
}

TEST_F(RecoveryTest, WalIsReleasedOnlyOnceFlushed) {
  options_.wal.segment_size = 64 << 10;  // many small segments
  options_.write_buffer_size = 4 << 20;  // nothing flushes by itself
  auto db = Open();
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(db->Put({}, Key(i), Value(i) + std::string(100, 'w')).ok());
  }
  // Unflushed: every sequence is still in the WAL.
  ASSERT_TRUE(db->wal()->EnforceRetention().ok());
  EXPECT_EQ(db->wal()->FirstSequence(), 1u);
  const uint64_t segments_before = db->wal()->GetStats().live_segments;
  EXPECT_GT(segments_before, 4u);
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->wal()->EnforceRetention().ok());
  // Flushed and recorded in the MANIFEST: the sealed segments below the
  // flushed sequence are gone, and what remains still starts at or below
  // the first unflushed sequence.
  const DBStats st = db->GetStats();
  EXPECT_EQ(st.flushed_sequence, 3000u);
  EXPECT_GT(db->wal()->FirstSequence(), 1u);
  EXPECT_LE(db->wal()->FirstSequence(), st.flushed_sequence + 1);
  EXPECT_LT(db->wal()->GetStats().live_segments, segments_before);
  PowerLoss(db);
  db = Open();
  EXPECT_EQ(Contents(db.get()).size(), 3000u);
}

TEST_F(RecoveryTest, SecondCrashRightAfterRecoveryLosesNothing) {
  auto db = Open();
  WriteOptions sync;
  sync.sync = true;
  for (int i = 0; i < 500; i += 50) {
    WriteBatch batch;
    for (int j = i; j < i + 50; ++j) batch.Put(Key(j), Value(j));
    ASSERT_TRUE(db->Write(sync, batch).ok());
  }
  PowerLoss(db);
  db = Open();
  PowerLoss(db);  // crash again before anything new was written
  db = Open();
  EXPECT_EQ(Contents(db.get()).size(), 500u);
}

// Fails one file-system call of a kind during a flush or compaction; the
// write that triggered nothing is lost, the DB turns read-only, and after a
// restart everything acknowledged is there.
struct KillPoint {
  const char* name;
  FsOp op;
  const char* path;
  int skip;
};

class KillPointTest : public RecoveryTest,
                      public ::testing::WithParamInterface<KillPoint> {};

TEST_P(KillPointTest, AcknowledgedWritesSurvive) {
  const KillPoint& kp = GetParam();
  auto db = Open();
  WriteOptions sync;
  sync.sync = true;
  WriteBatch first;
  for (int i = 0; i < 200; ++i) first.Put(Key(i), Value(i));
  ASSERT_TRUE(db->Write(sync, first).ok());
  ASSERT_TRUE(db->Flush().ok());
  fs_.InjectFault(FaultRule{
      .op = kp.op, .path_contains = kp.path, .skip = kp.skip, .times = -1});
  int acked = 200;
  for (int i = 200; i < 2000; i += 50) {
    WriteBatch batch;
    for (int j = i; j < i + 50; ++j) batch.Put(Key(j), Value(j));
    if (!db->Write(sync, batch).ok()) break;
    acked = i + 50;
  }
  // Flush and compact so that the fault is reached if writes did not.
  db->Flush().IgnoreError();
  db->CompactRange(nullptr, nullptr).IgnoreError();
  EXPECT_GT(fs_.injected_count(), 0) << kp.name;
  PowerLoss(db);
  db = Open();
  ASSERT_NE(db, nullptr) << kp.name;
  for (int i = 0; i < acked; ++i) {
    auto g = db->Get({}, Key(i));
    ASSERT_TRUE(g.ok()) << kp.name << " lost " << Key(i) << ": " << g.status();
    EXPECT_EQ(g->value, Value(i));
  }
  // The reopened DB works.
  ASSERT_TRUE(db->Put(sync, "after", "ok").ok());
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Points, KillPointTest,
    ::testing::Values(KillPoint{"wal_write", FsOp::kMapSync, "/wal/", 0},
                      KillPoint{"sst_write", FsOp::kWrite, ".sst", 0},
                      KillPoint{"sst_sync", FsOp::kSync, ".sst", 0},
                      KillPoint{"manifest_write", FsOp::kWrite, "MANIFEST", 0},
                      KillPoint{"manifest_sync", FsOp::kSync, "MANIFEST", 0},
                      KillPoint{"dir_sync", FsOp::kSyncDir, "", 0},
                      KillPoint{"second_sst_write", FsOp::kWrite, ".sst", 1},
                      KillPoint{"sst_open", FsOp::kOpen, ".sst", 1},
                      KillPoint{"sst_remove", FsOp::kRemove, ".sst", 0}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(RecoveryTest, FailedCurrentSwitchAtOpenLeavesTheOldManifest) {
  auto db = Open();
  ASSERT_TRUE(db->Put({}, "a", "1").ok());
  ASSERT_TRUE(db->Flush().ok());
  db.reset();
  fs_.InjectFault(FaultRule{.op = FsOp::kRename, .path_contains = "CURRENT"});
  auto failed = DB::Open(options_, dir_.path());
  EXPECT_FALSE(failed.ok());
  fs_.ClearFaults();
  db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Get({}, "a")->value, "1");
}

TEST_F(RecoveryTest, FailedManifestSyncKeepsTheTableItMayName) {
  auto db = Open();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(db->Put({}, Key(i), Value(i)).ok());
  fs_.InjectFault(FaultRule{.op = FsOp::kSync, .path_contains = "MANIFEST"});
  EXPECT_FALSE(db->Flush().ok());  // the edit's outcome is unknown
  fs_.ClearFaults();
  EXPECT_FALSE(db->GetStats().background_error.ok());
  ASSERT_TRUE(db->Close().ok());
  // The edit did reach the MANIFEST; its table must still be there.
  db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Contents(db.get()).size(), 100u);
}

TEST_F(RecoveryTest, FailedDirectorySyncAfterTheCurrentSwitchKeepsBoth) {
  {
    auto db = Open();
    ASSERT_TRUE(db->Put({}, "a", "b").ok());
  }
  // Open rotates the MANIFEST; the rename of CURRENT succeeds, the directory
  // sync after it fails: CURRENT may name either MANIFEST now.
  fs_.InjectFault(FaultRule{.op = FsOp::kSyncDir});
  EXPECT_FALSE(DB::Open(options_, dir_.path()).ok());
  fs_.ClearFaults();
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Get({}, "a")->value, "b");
}

TEST_F(RecoveryTest, WalWriteFailureMakesTheDbReadOnly) {
  auto db = Open();
  ASSERT_TRUE(db->Put({}, "a", "1").ok());
  fs_.InjectFault(
      FaultRule{.op = FsOp::kMapSync, .path_contains = "/wal/", .times = -1});
  WriteOptions sync;
  sync.sync = true;
  auto r = db->Put(sync, "b", "2");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(db->GetStats().background_error.ok());
  EXPECT_FALSE(db->Put({}, "c", "3").ok());  // read-only now
  EXPECT_EQ(db->Get({}, "a")->value, "1");   // reads go on
}

}  // namespace
}  // namespace cairn::storage
