// I/O errors and power loss, injected through FaultInjectionFileSystem.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/util/fault_injection_file_system.h"
#include "cairn/util/file_system.h"
#include "cairn/wal/format.h"
#include "cairn/wal/log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::AppendN;
using test_util::LogHolds;
using test_util::OwnedRecord;
using test_util::Payload;
using test_util::ReadLog;
using test_util::ReadResult;
using test_util::SameRecords;
using ::testing::HasSubstr;

constexpr size_t kPayload = 100;  // 128-byte frames
constexpr uint64_t kFrame = FrameSize(kPayload);

absl::Status InjectedError(bool enospc) {
  return enospc ? absl::ResourceExhaustedError("injected ENOSPC")
                : absl::InternalError("injected EIO");
}

// Counts the failures the log reports through its listener.
class FailureListener : public LogListener {
 public:
  void OnSync(absl::Duration, bool ok) override {
    if (!ok) ++failed_syncs;
  }
  void OnBackgroundError(const absl::Status&) override { ++background_errors; }
  std::atomic<int> failed_syncs{0};
  std::atomic<int> background_errors{0};
};

class FaultTest : public test_util::WalTest {
 protected:
  Options FaultOptions(SyncMode mode) {
    Options o = SmallOptions(16 << 10, mode);
    o.fs = &fs_;
    o.listener = &listener_;
    return o;
  }

  // Appends until the active segment has no room for one more frame, so
  // that the next append rotates.
  void FillActiveSegment(Log* log) {
    ASSERT_OK(AppendN(log, 50, kPayload, &model_));
    for (;;) {
      const SegmentInfo active = log->ListSegments().back();
      if (active.used + kFrame > active.bytes) return;
      ASSERT_OK(AppendN(log, 1, kPayload, &model_));
    }
  }

  // Power loss: nothing more reaches the disk, the process dies, and every
  // byte not yet synced is lost (or partly kept, for kKeepTornPrefix).
  void PowerLoss(std::unique_ptr<Log>* log, PowerLossMode mode,
                 uint32_t seed = 0) {
    fs_.SetActive(false);
    (*log)->SimulateCrashForTesting();
    log->reset();
    ASSERT_OK(fs_.DropUnsyncedData(mode, seed));
    fs_.SetActive(true);
  }

  FaultInjectionFileSystem fs_{FileSystem::Default()};
  FailureListener listener_;
  std::vector<OwnedRecord> model_;
};

struct FaultCase {
  FsOp op;
  bool enospc;
  SyncMode mode = SyncMode::kNone;
};

const char* ModeName(SyncMode mode) {
  return mode == SyncMode::kEveryCommit ? "kEveryCommit" : "kNone";
}

// Stable names in test listings (the default prints padding bytes).
void PrintTo(const FaultCase& c, std::ostream* os) {
  *os << FsOpName(c.op) << (c.enospc ? " ENOSPC " : " EIO ")
      << ModeName(c.mode);
}

std::string CaseName(const ::testing::TestParamInfo<FaultCase>& info) {
  std::string name = FsOpName(info.param.op);
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name + (info.param.enospc ? "_ENOSPC" : "_EIO") +
         (info.param.mode == SyncMode::kNone ? "" : "_EveryCommit");
}

class RotationFaultTest : public FaultTest,
                          public ::testing::WithParamInterface<FaultCase> {};

// A call made while rotating fails: the append that needed the new segment
// fails with that error and uses no sequence number; once the fault is gone
// the log carries on, and a reopen shows exactly the successful records.
TEST_P(RotationFaultTest, FailedRotationLosesNothing) {
  const FaultCase fault = GetParam();
  Options options = FaultOptions(fault.mode);
  // The rotation creates the next segment itself, so that every file
  // operation of a creation happens on the append's path. (With spares, the
  // preparer thread makes them ahead; its failures are reported through the
  // listener and the rotation falls back to this path: see
  // deferred_seal_test.)
  options.prepare_next_segment = false;
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  FillActiveSegment(log.get());
  const uint64_t last_ok = log->LastSequence();
  const size_t segments = log->ListSegments().size();
  const int injected_before = fs_.injected_count();

  FaultRule rule;
  rule.op = fault.op;
  rule.status = InjectedError(fault.enospc);
  rule.times = -1;
  fs_.InjectFault(rule);
  absl::StatusOr<AppendResult> r = log->Append(Payload(last_ok + 1, kPayload));
  const bool used = fs_.injected_count() > injected_before;
  if (used && r.ok()) {
    // Only acceptable for work the append does not depend on (a deferred
    // seal in kNone mode, the next spare segment), and then the failure must
    // still be reported. A background thread may have hit the fault: give
    // it a moment (bounded) to report it.
    const absl::Time deadline = absl::Now() + absl::Seconds(3);
    while (listener_.failed_syncs + listener_.background_errors == 0 &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    EXPECT_GT(listener_.failed_syncs + listener_.background_errors, 0)
        << "the rotation's " << FsOpName(fault.op)
        << " failed, the append succeeded and nothing reported the error";
  }
  if (used && !r.ok()) {
    EXPECT_EQ(r.status().code(), rule.status.code()) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("injected"));
    EXPECT_EQ(log->LastSequence(), last_ok);
    EXPECT_STATUS_CODE(log->Find(last_ok + 1), absl::StatusCode::kOutOfRange);
    EXPECT_TRUE(LogHolds(*log, model_));
  } else {
    ASSERT_OK(r);
    model_.push_back(OwnedRecord{r->first_seq, 1,
                                 Payload(last_ok + 1, kPayload), r->position});
  }
  fs_.ClearFaults();

  ASSERT_OK(AppendN(log.get(), 1, kPayload, &model_));
  EXPECT_EQ(model_.back().first_seq, r.ok() ? last_ok + 2 : last_ok + 1);
  EXPECT_GT(log->ListSegments().size(), segments);
  ASSERT_OK(AppendN(log.get(), 200, kPayload, &model_));  // more rotations
  EXPECT_TRUE(LogHolds(*log, model_));
  ASSERT_OK(log->Close());
  log.reset();

  ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
  EXPECT_TRUE(LogHolds(*log, model_));
  EXPECT_FALSE(log->recovery_report().truncated_tail);
  if (!used) {
    GTEST_SKIP() << FsOpName(fault.op) << " is not called when rotating";
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllOps, RotationFaultTest,
    ::testing::Values(
        FaultCase{FsOp::kWrite, false}, FaultCase{FsOp::kWrite, true},
        FaultCase{FsOp::kSync, false}, FaultCase{FsOp::kSync, true},
        // No kMapSync in kNone mode: there a rotation syncs nothing (the
        // seal is deferred; deferred_seal_test covers its failures).
        FaultCase{FsOp::kRename, false}, FaultCase{FsOp::kRename, true},
        FaultCase{FsOp::kAllocate, false}, FaultCase{FsOp::kAllocate, true},
        FaultCase{FsOp::kSyncDir, false}, FaultCase{FsOp::kOpen, false},
        FaultCase{FsOp::kMap, false},
        FaultCase{FsOp::kWrite, false, SyncMode::kEveryCommit},
        FaultCase{FsOp::kSync, false, SyncMode::kEveryCommit},
        FaultCase{FsOp::kMapSync, true, SyncMode::kEveryCommit},
        FaultCase{FsOp::kMapSync, false, SyncMode::kEveryCommit},
        FaultCase{FsOp::kRename, true, SyncMode::kEveryCommit},
        FaultCase{FsOp::kAllocate, true, SyncMode::kEveryCommit}),
    CaseName);

struct DurableCase {
  SyncMode mode;  // kEveryCommit, or kNone with AppendOptions::sync
  bool enospc;
};

void PrintTo(const DurableCase& c, std::ostream* os) {
  *os << ModeName(c.mode) << (c.enospc ? " ENOSPC" : " EIO");
}

class DurableAppendFaultTest
    : public FaultTest,
      public ::testing::WithParamInterface<DurableCase> {};

// The sync of a durable append fails: the append reports it, the record is
// not visible and takes no sequence number, and the log recovers.
TEST_P(DurableAppendFaultTest, FailedSyncTakesTheRecordBack) {
  const DurableCase c = GetParam();
  const Options options = FaultOptions(c.mode);
  AppendOptions ao;
  ao.sync = c.mode == SyncMode::kNone;
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  ASSERT_OK(AppendN(log.get(), 5, kPayload, &model_, 1, ao));
  const int injected_before = fs_.injected_count();
  for (FsOp op : {FsOp::kMapSync, FsOp::kSync}) {
    FaultRule rule;
    rule.op = op;
    rule.status = InjectedError(c.enospc);
    rule.times = -1;
    fs_.InjectFault(rule);
  }
  // A reader waiting at the end must never see the doomed record, not even
  // while its sync is under way.
  ASSERT_OK_AND_ASSIGN(auto reader, log->NewReader(6));
  absl::Status seen = absl::UnknownError("not run");
  std::thread waiter([&] {
    seen = reader->Next(absl::Now() + absl::Milliseconds(300)).status();
  });
  absl::StatusOr<AppendResult> r = log->Append("doomed", 1, ao);
  waiter.join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(seen)) << seen;
  ASSERT_GT(fs_.injected_count(), injected_before)
      << "a durable append did not sync through the FileSystem";
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), InjectedError(c.enospc).code()) << r.status();
  EXPECT_EQ(log->LastSequence(), 5u);
  EXPECT_STATUS_CODE(log->Find(6), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(LogHolds(*log, model_));
  EXPECT_GT(log->GetStats().sync_failures, 0u);
  fs_.ClearFaults();

  ASSERT_OK(AppendN(log.get(), 1, kPayload, &model_, 1, ao));
  EXPECT_EQ(model_.back().first_seq, 6u);
  ASSERT_OK(AppendN(log.get(), 20, kPayload, &model_, 1, ao));
  EXPECT_TRUE(LogHolds(*log, model_));
  // The acknowledged records are durable: they survive a power loss.
  PowerLoss(&log, PowerLossMode::kDropAll);
  ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
  EXPECT_TRUE(LogHolds(*log, model_));
}

INSTANTIATE_TEST_SUITE_P(
    Modes, DurableAppendFaultTest,
    ::testing::Values(DurableCase{SyncMode::kEveryCommit, false},
                      DurableCase{SyncMode::kEveryCommit, true},
                      DurableCase{SyncMode::kNone, false},
                      DurableCase{SyncMode::kNone, true}),
    [](const ::testing::TestParamInfo<DurableCase>& info) {
      return std::string(info.param.mode == SyncMode::kEveryCommit
                             ? "EveryCommit"
                             : "SyncOption") +
             (info.param.enospc ? "_ENOSPC" : "_EIO");
    });

TEST_F(FaultTest, DurableAcksSurvivePowerLoss) {
  for (SyncMode mode : {SyncMode::kEveryCommit, SyncMode::kNone}) {
    SCOPED_TRACE(mode == SyncMode::kEveryCommit ? "kEveryCommit"
                                                : "kNone + sync");
    model_.clear();
    const Options options = FaultOptions(mode);
    AppendOptions ao;
    ao.sync = mode == SyncMode::kNone;
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    ASSERT_OK(AppendN(log.get(), 400, kPayload, &model_, 1, ao));
    ASSERT_GE(log->ListSegments().size(), 4u);
    PowerLoss(&log, PowerLossMode::kDropAll);
    ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
    EXPECT_TRUE(LogHolds(*log, model_));
    // It keeps working, and survives a second power loss.
    ASSERT_OK(AppendN(log.get(), 50, kPayload, &model_, 1, ao));
    PowerLoss(&log, PowerLossMode::kDropAll);
    ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
    EXPECT_TRUE(LogHolds(*log, model_));
    log.reset();
    std::filesystem::remove_all(dir_);
  }
}

TEST_F(FaultTest, ConcurrentDurableAcksSurvivePowerLoss) {
  constexpr int kThreads = 4;
  constexpr int kAppends = 60;
  const Options options = FaultOptions(SyncMode::kEveryCommit);
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  std::vector<std::vector<OwnedRecord>> acked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        std::string p = "thread " + std::to_string(t) + " #" +
                        std::to_string(i) + std::string(60 + i, 'x');
        absl::StatusOr<AppendResult> r = log->Append(p);
        if (!r.ok()) return;
        acked[t].push_back(OwnedRecord{r->first_seq, 1, p, r->position});
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const auto& a : acked) ASSERT_EQ(a.size(), size_t{kAppends});
  PowerLoss(&log, PowerLossMode::kDropAll);
  ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
  std::vector<OwnedRecord> all;
  for (const auto& a : acked) all.insert(all.end(), a.begin(), a.end());
  std::sort(all.begin(), all.end(),
            [](const OwnedRecord& a, const OwnedRecord& b) {
              return a.first_seq < b.first_seq;
            });
  EXPECT_TRUE(LogHolds(*log, all));
}

// A durable append makes every record before it durable too, including the
// unsynced ones of segments that were rotated away but not yet sealed.
TEST_F(FaultTest, DurableAppendAfterUnsyncedRotationsKeepsThePrefix) {
  for (uint32_t seed = 0; seed < 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    model_.clear();
    const Options options = FaultOptions(SyncMode::kNone);
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
    ASSERT_OK(AppendN(log.get(), 300 + seed * 13, kPayload, &model_));
    AppendOptions durable;
    durable.sync = true;
    ASSERT_OK(AppendN(log.get(), 1, kPayload, &model_, 1, durable));
    const size_t acked = model_.size();
    ASSERT_OK(AppendN(log.get(), 40, kPayload, &model_));
    PowerLoss(
        &log,
        seed == 0 ? PowerLossMode::kDropAll : PowerLossMode::kKeepTornPrefix,
        seed);
    ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
    ReadResult r = ReadLog(*log);
    EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
    ASSERT_GE(r.records.size(), acked);
    ASSERT_LE(r.records.size(), model_.size());
    EXPECT_TRUE(SameRecords(
        r.records, std::vector<OwnedRecord>(
                       model_.begin(), model_.begin() + r.records.size())));
    log.reset();
    std::filesystem::remove_all(dir_);
  }
}

// Unsynced records may be lost to a power loss, but only as a suffix: the
// log reopens holding records 1..k with no gap, k at least the number
// synced by the last explicit Sync().
TEST_F(FaultTest, PowerLossLosesOnlyAnUnsyncedSuffix) {
  for (PowerLossMode mode :
       {PowerLossMode::kDropAll, PowerLossMode::kKeepTornPrefix}) {
    for (uint32_t seed = 1; seed <= (mode == PowerLossMode::kDropAll ? 1 : 16);
         ++seed) {
      SCOPED_TRACE(
          std::string(mode == PowerLossMode::kDropAll ? "drop all" : "torn") +
          " seed " + std::to_string(seed));
      model_.clear();
      const Options options = FaultOptions(SyncMode::kNone);
      ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
      ASSERT_OK(AppendN(log.get(), 150 + seed * 7, kPayload, &model_));
      ASSERT_OK(log->Sync());
      const uint64_t synced = log->LastSequence();
      // Unsynced, across a rotation or two, with a multi-sequence record.
      ASSERT_OK(AppendN(log.get(), 100 + seed * 11, kPayload, &model_));
      ASSERT_OK(AppendN(log.get(), 1, 7, &model_, 3));
      ASSERT_OK(AppendN(log.get(), 20, kPayload, &model_));
      PowerLoss(&log, mode, seed);

      absl::StatusOr<std::unique_ptr<Log>> reopened = Log::Open(options, dir_);
      ASSERT_OK(reopened);  // no synced byte was touched: never DataLoss
      log = *std::move(reopened);
      ReadResult r = ReadLog(*log);
      EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
      ASSERT_GE(r.records.size(), synced);
      ASSERT_LE(r.records.size(), model_.size());
      EXPECT_TRUE(SameRecords(
          r.records, std::vector<OwnedRecord>(
                         model_.begin(), model_.begin() + r.records.size())));
      const uint64_t k = r.records.empty() ? 0
                                           : r.records.back().first_seq +
                                                 r.records.back().seq_count - 1;
      EXPECT_EQ(log->LastSequence(), k);
      ASSERT_OK_AND_ASSIGN(AppendResult next, log->Append("after power loss"));
      EXPECT_EQ(next.first_seq, k + 1);
      ASSERT_OK(log->Close());
      log.reset();
      ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
      EXPECT_EQ(log->LastSequence(), k + 1);
      log.reset();
      std::filesystem::remove_all(dir_);
    }
  }
}

// Power loss right after the log was created: the empty log reopens.
TEST_F(FaultTest, PowerLossOfAFreshLog) {
  const Options options = FaultOptions(SyncMode::kNone);
  ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, dir_));
  ASSERT_OK(AppendN(log.get(), 3, kPayload, &model_));  // never synced
  PowerLoss(&log, PowerLossMode::kDropAll);
  ASSERT_OK_AND_ASSIGN(log, Log::Open(options, dir_));
  EXPECT_EQ(log->FirstSequence(), 1u);
  EXPECT_EQ(log->LastSequence(), 0u);
  ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("first"));
  EXPECT_EQ(r.first_seq, 1u);
}

}  // namespace
}  // namespace cairn::wal
