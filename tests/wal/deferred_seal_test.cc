// Rotation in the async sync modes retires the full segment at once and
// leaves syncing it and writing its sealed header to the background thread.
// These tests hold that seal back with injected sync failures on the retired
// segment and check what appends, syncs and recovery do meanwhile: no writer
// waits for the seal, nothing becomes durable ahead of it, and a crash or
// power loss before it completes still recovers a gap-free log.
#include <string>
#include <vector>

#include "cairn/util/fault_injection_file_system.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::AppendN;
using test_util::LogHolds;
using test_util::OwnedRecord;
using test_util::ReadLog;
using test_util::ReadResult;

constexpr size_t kPayload = 100;  // 128-byte frames, 127 to a 16 KiB segment

class DeferredSealTest : public test_util::WalTest {
 protected:
  Options FaultOptions() {
    Options o = SmallOptions(16 << 10, SyncMode::kNone);
    o.fs = &fs_;
    return o;
  }

  // Makes every sync of segment 1 fail, so its seal cannot complete.
  void BlockSealOfFirstSegment() {
    FaultRule rule;
    rule.op = FsOp::kMapSync;
    rule.path_contains = "0000000001.wal";
    rule.times = -1;
    fs_.InjectFault(rule);
  }

  // Fills segment 1 (its first `synced` records durable) and moves on into
  // segment 2 with a few records, while segment 1's seal is blocked.
  void FillAcrossRotation(Log* log, uint64_t synced) {
    ASSERT_OK(AppendN(log, synced, kPayload, &model_));
    ASSERT_OK(log->Sync());
    BlockSealOfFirstSegment();
    ASSERT_OK(AppendN(log, 127 - synced + 10, kPayload, &model_));
    const std::vector<SegmentInfo> segs = log->ListSegments();
    ASSERT_EQ(segs.size(), 2u);
    ASSERT_TRUE(segs[0].sealed);  // retired, in memory
  }

  // The sealed flag of the header on disk (through the page cache).
  bool SealedOnDisk(const std::string& path) {
    const std::string img = test_util::ReadFileBytes(path);
    SegmentHeader h;
    return DecodeSegmentHeader(img.data(), &h).ok() &&
           (h.flags & kFlagSealed) != 0;
  }

  FaultInjectionFileSystem fs_{FileSystem::Default()};
  std::vector<OwnedRecord> model_;
};

TEST_F(DeferredSealTest, AsyncAppendsDoNotWaitForTheSeal) {
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(FaultOptions(), dir_));
  FillAcrossRotation(log.get(), 20);
  // The background thread tries to seal segment 1 and fails (bounded wait).
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (fs_.injected_count() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_GT(fs_.injected_count(), 0);
  // Appends go on in segment 2 although segment 1 cannot be synced.
  ASSERT_OK(AppendN(log.get(), 50, kPayload, &model_));
  EXPECT_FALSE(SealedOnDisk(log->ListSegments()[0].path));
  EXPECT_TRUE(LogHolds(*log, model_));
}

TEST_F(DeferredSealTest, RotationWithoutASpareCreatesTheSegmentItself) {
  Options options = FaultOptions();
  options.prepare_next_segment = false;
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  ASSERT_OK(AppendN(log.get(), 127, kPayload, &model_));  // segment 1 full
  EXPECT_EQ(test_util::SegmentFiles(dir_).size(), 1u);    // and no spare
  FaultRule rule;
  rule.op = FsOp::kAllocate;
  rule.status = absl::ErrnoToStatus(ENOSPC, "injected ENOSPC");
  fs_.InjectFault(rule);
  // The rotation's own fallocate fails: so does the append, cleanly.
  absl::StatusOr<AppendResult> r =
      log->Append(test_util::Payload(128, kPayload));
  EXPECT_STATUS_CODE(r, absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(log->LastSequence(), 127u);
  ASSERT_OK(AppendN(log.get(), 10, kPayload, &model_));
  EXPECT_EQ(model_.back().first_seq, 137u);
  EXPECT_TRUE(LogHolds(*log, model_));
}

TEST_F(DeferredSealTest, DurableAppendWaitsForTheSealAndFailsWithIt) {
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(FaultOptions(), dir_));
  FillAcrossRotation(log.get(), 20);
  const uint64_t last = log->LastSequence();
  AppendOptions durable;
  durable.sync = true;
  // Making this record durable would put it on disk ahead of segment 1.
  EXPECT_FALSE(log->Append("durable", 1, durable).ok());
  EXPECT_FALSE(log->Sync().ok());
  EXPECT_EQ(log->LastSequence(), last);  // nothing published, no seq used

  fs_.ClearFaults();
  ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("durable", 1, durable));
  EXPECT_EQ(r.first_seq, last + 1);
  EXPECT_TRUE(SealedOnDisk(log->ListSegments()[0].path));
}

TEST_F(DeferredSealTest, CrashBeforeTheSealIsRepairedAtOpen) {
  const Options options = FaultOptions();
  std::string first_path;
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    FillAcrossRotation(log.get(), 20);
    first_path = log->ListSegments()[0].path;
    // A process crash: the page cache keeps every byte, the seal never ran.
    log->SimulateCrashForTesting();
  }
  fs_.ClearFaults();
  ASSERT_FALSE(SealedOnDisk(first_path));
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  // Segment 1 reaches segment 2's first sequence: complete, so sealed now.
  EXPECT_TRUE(SealedOnDisk(first_path));
  EXPECT_EQ(log->recovery_report().removed_unsynced_segments, 0u);
  EXPECT_TRUE(LogHolds(*log, model_));
  ASSERT_EQ(log->ListSegments().size(), 2u);
  EXPECT_TRUE(log->ListSegments()[0].sealed);
}

TEST_F(DeferredSealTest, PowerLossBeforeTheSealKeepsAGapFreePrefix) {
  const Options options = FaultOptions();
  constexpr uint64_t kSynced = 20;
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    FillAcrossRotation(log.get(), kSynced);
    fs_.SetActive(false);
    log->SimulateCrashForTesting();
  }
  ASSERT_OK(fs_.DropUnsyncedData(PowerLossMode::kDropAll));
  fs_.SetActive(true);
  fs_.ClearFaults();

  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  // Segment 1 lost its unsynced records, so segment 2's records would sit
  // after a gap: segment 2 goes, and the log ends at the last synced record.
  const RecoveryReport& report = log->recovery_report();
  // Segment 2 goes: counted if it still showed its first sequence (it did
  // not if it was activated from a spare whose header never reached the
  // disk; then it held nothing at all).
  EXPECT_LE(report.removed_unsynced_segments, 1u);
  model_.resize(kSynced);
  EXPECT_TRUE(LogHolds(*log, model_));
  EXPECT_EQ(log->LastSequence(), kSynced);
  ASSERT_EQ(log->ListSegments().size(), 1u);
  EXPECT_FALSE(log->ListSegments()[0].sealed);

  // Appends go on from there, and survive a reopen.
  ASSERT_OK(AppendN(log.get(), 200, kPayload, &model_));
  ASSERT_OK(log->Close());
  log.reset();
  ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
  EXPECT_TRUE(LogHolds(*log, model_));
}

TEST_F(DeferredSealTest, RetentionKeepsWhereTheNextSegmentStarts) {
  // Segment 2 comes from a spare: its header names its first sequence only
  // in memory until something syncs it. Segment 1 may only be deleted once
  // that header is on disk, or a power loss would leave a log whose start
  // nothing records.
  const Options options = FaultOptions();  // async, spares on
  uint64_t second_first = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    // Let the preparer make the spare first (bounded wait).
    const absl::Time ready = absl::Now() + absl::Seconds(5);
    while (test_util::FilesWithSuffix(dir_, ".spare").empty() &&
           absl::Now() < ready) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_FALSE(test_util::FilesWithSuffix(dir_, ".spare").empty());
    ASSERT_OK(AppendN(log.get(), 137, kPayload, &model_));  // into segment 2
    const std::vector<SegmentInfo> segs = log->ListSegments();
    ASSERT_EQ(segs.size(), 2u);
    second_first = segs[1].first_seq;
    // Wait (bounded) for the background thread to seal segment 1.
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (!SealedOnDisk(segs[0].path) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_TRUE(SealedOnDisk(segs[0].path));
    log->SetDeletableBelow(second_first);
    ASSERT_OK(log->EnforceRetention());
    ASSERT_EQ(log->FirstSequence(), second_first);
    fs_.SetActive(false);
    log->SimulateCrashForTesting();
  }
  ASSERT_OK(fs_.DropUnsyncedData(PowerLossMode::kDropAll));
  fs_.SetActive(true);
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  // Segment 2's unsynced records are gone, but the log knows where it is.
  EXPECT_EQ(log->FirstSequence(), second_first);
  EXPECT_EQ(log->LastSequence(), second_first - 1);
  ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("next"));
  EXPECT_EQ(r.first_seq, second_first);
}

TEST_F(DeferredSealTest, TornSegmentFollowedByDurableRecordsIsDataLoss) {
  // Segment 2 cannot hold durable records while segment 1 is unsealed: a
  // durable sync seals segment 1 first. If the disk says otherwise, it is
  // damage, reported rather than repaired.
  const Options options = FaultOptions();
  std::vector<SegmentInfo> segs;
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    ASSERT_OK(AppendN(log.get(), 137, kPayload, &model_));
    ASSERT_OK(log->Sync());
    segs = log->ListSegments();
    ASSERT_OK(log->Close());
  }
  ASSERT_EQ(segs.size(), 2u);
  // Unseal segment 1 and cut its last record, keeping the header valid.
  std::string img = test_util::ReadFileBytes(segs[0].path);
  SegmentHeader h;
  ASSERT_OK(DecodeSegmentHeader(img.data(), &h));
  h.flags = kFlagActive;
  h.write_offset = kSegmentHeaderSize;
  EncodeSegmentHeader(h, img.data());
  std::fill(img.begin() + segs[0].used - 128, img.begin() + segs[0].used, '\0');
  test_util::WriteFileBytes(segs[0].path, img);

  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, dir_);
  EXPECT_STATUS_CODE(log, absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cairn::wal
