// TruncateAfter is all or nothing across failures and crashes: it first
// makes the kept frames durable and marks the target segment's header as
// truncated (the commit point), then unlinks newer segments newest first,
// zeroes the cut-off frames and rewrites the header plainly. A failure
// before the commit point leaves the log as it was; after it, the log
// refuses writes until it is reopened, and reopening completes the
// truncation. Readers past the cut get FailedPrecondition, never DataLoss.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "cairn/util/fault_injection_file_system.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::AppendN;
using test_util::LogHolds;
using test_util::OwnedRecord;

constexpr size_t kPayload = 900;  // four records to a 4 KiB segment

class TruncationTest : public test_util::WalTest {
 protected:
  Options FaultOptions() {
    Options o = SmallOptions(4096, SyncMode::kEveryCommit);
    o.fs = &fs_;
    o.prepare_next_segment = false;
    o.prefault_bytes = 0;
    return o;
  }

  // Fails the Nth (0-based) call of op on the first segment, once.
  void FailOnce(FsOp op, int skip, const std::string& path = "0000000001") {
    FaultRule rule;
    rule.op = op;
    rule.path_contains = path;
    rule.skip = skip;
    fs_.InjectFault(rule);
  }

  FaultInjectionFileSystem fs_{FileSystem::Default()};
  std::vector<OwnedRecord> model_;
};

// Each step of a truncation after record 2 of 10 (segments 1: 1-4, 2: 5-8,
// 3: 9-10) failing in turn.
struct StepCase {
  const char* name;
  FsOp op;
  int skip;          // matching calls that succeed first
  const char* path;  // substring of the failing call's path
  bool committed;    // the truncation's header was on disk before it
};

class TruncationStepTest : public TruncationTest,
                           public ::testing::WithParamInterface<StepCase> {};

TEST_P(TruncationStepTest, FailureLeavesTheLogWholeOrTruncated) {
  const StepCase c = GetParam();
  const Options options = FaultOptions();
  {
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    ASSERT_OK(AppendN(log.get(), 10, kPayload, &model_));
    ASSERT_EQ(log->ListSegments().size(), 3u);
    FailOnce(c.op, c.skip, c.path);
    const absl::Status s = log->TruncateAfter(2);
    ASSERT_FALSE(s.ok());
    fs_.ClearFaults();
    // Nothing is written after a failed truncation: a durable ack now could
    // be undone when the truncation completes.
    AppendOptions durable;
    durable.sync = true;
    EXPECT_STATUS_CODE(log->Append("after", 1, durable),
                       absl::StatusCode::kFailedPrecondition);
    EXPECT_STATUS_CODE(log->Sync(), absl::StatusCode::kFailedPrecondition);
    log->SimulateCrashForTesting();
  }
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  if (c.committed) model_.resize(2);
  EXPECT_TRUE(LogHolds(*log, model_));
  ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("next"));
  EXPECT_EQ(r.first_seq, model_.size() + 1);
}

INSTANTIATE_TEST_SUITE_P(
    Steps, TruncationStepTest,
    ::testing::Values(
        // Syncing the kept frames: nothing changed yet.
        StepCase{"KeptFramesSync", FsOp::kMapSync, 0, "0000000001", false},
        // Syncing the truncated header: it may or may not be on disk; the
        // fault model drops nothing here, so the truncation holds.
        StepCase{"CommitHeaderSync", FsOp::kMapSync, 1, "0000000001", true},
        // Unlinking the newest segment, then the next one.
        StepCase{"FirstUnlink", FsOp::kRemove, 0, "0000000003", true},
        StepCase{"SecondUnlink", FsOp::kRemove, 0, "0000000002", true},
        StepCase{"DirectorySync", FsOp::kSyncDir, 0, "", true},
        // Syncing the zeroed frames, then the final header.
        StepCase{"ZeroedFramesSync", FsOp::kMapSync, 2, "0000000001", true},
        StepCase{"FinalHeaderSync", FsOp::kMapSync, 3, "0000000001", true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(TruncationTest, PowerLossAtEachStepKeepsTheLogConsistent) {
  // Power goes out at the k-th file-system call of the truncation (that call
  // fails; nothing after it happens); unsynced data is dropped. k = 7: the
  // truncation completes first.
  for (int k = 0; k < 8; ++k) {
    SCOPED_TRACE("power lost at call " + std::to_string(k));
    std::filesystem::remove_all(dir_);
    model_.clear();
    const Options options = FaultOptions();
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    ASSERT_OK(AppendN(log.get(), 10, kPayload, &model_));
    // The truncation's calls, in order: sync kept frames, sync header,
    // remove 3, remove 2, sync dir, sync zeroed frames, sync header.
    struct Call {
      FsOp op;
      int skip;
      const char* path;
    };
    const Call calls_in_order[] = {
        {FsOp::kMapSync, 0, "0000000001"}, {FsOp::kMapSync, 1, "0000000001"},
        {FsOp::kRemove, 0, "0000000003"},  {FsOp::kRemove, 0, "0000000002"},
        {FsOp::kSyncDir, 0, ""},           {FsOp::kMapSync, 2, "0000000001"},
        {FsOp::kMapSync, 3, "0000000001"}, {FsOp::kMapSync, 99, "none"}};
    FailOnce(calls_in_order[k].op, calls_in_order[k].skip,
             calls_in_order[k].path);
    const absl::Status s = log->TruncateAfter(2);
    fs_.SetActive(false);
    log->SimulateCrashForTesting();
    log.reset();
    ASSERT_OK(fs_.DropUnsyncedData());
    fs_.SetActive(true);
    fs_.ClearFaults();
    ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
    // Before the commit point the log is whole; from it on, truncated.
    if (k >= 2) model_.resize(2);
    EXPECT_TRUE(LogHolds(*log, model_)) << "truncate said " << s;
    ASSERT_OK(AppendN(log.get(), 5, kPayload, &model_));
    ASSERT_OK(log->Close());
    log.reset();
    ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
    EXPECT_TRUE(LogHolds(*log, model_));
  }
}

TEST_F(TruncationTest, ReaderRacingATruncationNeverSeesDataLoss) {
  Options options = SmallOptions(1 << 20, SyncMode::kNone);
  options.prepare_next_segment = false;
  for (int round = 0; round < 10; ++round) {
    std::filesystem::remove_all(dir_);
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    ASSERT_OK(AppendN(log.get(), 800, 1000));
    ASSERT_OK_AND_ASSIGN(auto reader, log->NewReader(1));
    ASSERT_OK(reader->Next(absl::InfinitePast()));
    std::atomic<bool> go{false};
    absl::Status last;
    std::thread t([&] {
      while (!go) std::this_thread::yield();
      for (;;) {
        absl::StatusOr<Record> r = reader->Next(absl::InfinitePast());
        if (!r.ok()) {
          last = r.status();
          return;
        }
      }
    });
    go = true;
    ASSERT_OK(log->TruncateAfter(1));
    t.join();
    // It either caught up with the truncated log (at seq 2) or was past it.
    EXPECT_TRUE(absl::IsDeadlineExceeded(last) ||
                absl::IsFailedPrecondition(last))
        << last;
    ASSERT_OK(log->Close());
  }
}

}  // namespace
}  // namespace cairn::wal
