#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cairn/util/fault_injection_file_system.h"
#include "cairn/wal/log.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::AppendN;
using test_util::LogHolds;
using test_util::OwnedRecord;
using test_util::SegmentFiles;

constexpr uint64_t kSegmentSize = 16 << 10;

// A clock the test moves by hand.
class FakeClock {
 public:
  absl::Time Now() {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  std::mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
};

class RetentionTest : public test_util::WalTest {
 protected:
  // Opens a log and fills 8 segments (7 sealed) of 127 records each (the
  // last one partly).
  void Fill(Options options) {
    ASSERT_OK_AND_ASSIGN(log_, OpenLog(options));
    ASSERT_OK(AppendN(log_.get(), 1000, 100, &model_));
    segments_ = log_->ListSegments();
    ASSERT_EQ(segments_.size(), 8u);
  }
  void TearDown() override {
    log_.reset();
    WalTest::TearDown();
  }

  // The ids of the segments still listed.
  std::vector<uint32_t> LiveIds() const {
    std::vector<uint32_t> ids;
    for (const SegmentInfo& s : log_->ListSegments()) ids.push_back(s.id);
    return ids;
  }
  // The ids of segments_[from..].
  std::vector<uint32_t> IdsFrom(size_t from) const {
    std::vector<uint32_t> ids;
    for (size_t i = from; i < segments_.size(); ++i) {
      ids.push_back(segments_[i].id);
    }
    return ids;
  }
  // Checks files on disk and statistics against ListSegments().
  void ExpectConsistent(uint64_t deleted) {
    const std::vector<SegmentInfo> live = log_->ListSegments();
    std::vector<std::string> paths;
    uint64_t bytes = 0;
    for (const SegmentInfo& s : live) {
      paths.push_back(s.path);
      bytes += s.bytes;
    }
    std::sort(paths.begin(), paths.end());
    EXPECT_EQ(SegmentFiles(dir_), paths);
    const LogStats stats = log_->GetStats();
    EXPECT_EQ(stats.live_segments, live.size());
    EXPECT_EQ(stats.live_bytes, bytes);
    EXPECT_EQ(stats.segments_deleted, deleted);
    ASSERT_FALSE(live.empty());
    EXPECT_EQ(log_->FirstSequence(), live.front().first_seq);
    EXPECT_FALSE(live.back().sealed);
    // What remains is still readable, from its new first sequence on.
    EXPECT_TRUE(LogHolds(
        *log_,
        std::vector<OwnedRecord>(model_.begin() + (live.front().first_seq - 1),
                                 model_.end())));
  }

  std::unique_ptr<Log> log_;
  std::vector<OwnedRecord> model_;
  std::vector<SegmentInfo> segments_;
};

TEST_F(RetentionTest, NothingIsDeletedWithoutAWatermark) {
  Fill(SmallOptions(kSegmentSize));
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(0));
  EXPECT_EQ(log_->FirstSequence(), 1u);
  ExpectConsistent(0);
}

TEST_F(RetentionTest, DeletesSealedSegmentsWhollyBelowTheWatermark) {
  Fill(SmallOptions(kSegmentSize));
  // Segment 2 ends at segments_[3].first_seq - 1, which is not below this.
  log_->SetDeletableBelow(segments_[3].first_seq - 1);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(2));
  EXPECT_FALSE(std::filesystem::exists(segments_[0].path));
  EXPECT_FALSE(std::filesystem::exists(segments_[1].path));
  EXPECT_TRUE(std::filesystem::exists(segments_[2].path));
  EXPECT_EQ(log_->FirstSequence(), segments_[2].first_seq);
  ExpectConsistent(2);

  log_->SetDeletableBelow(segments_[3].first_seq);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(3));
  EXPECT_EQ(log_->FirstSequence(), segments_[3].first_seq);
  ExpectConsistent(3);

  // The watermark never moves back.
  log_->SetDeletableBelow(1);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(3));
  ExpectConsistent(3);
}

TEST_F(RetentionTest, NeverDeletesTheActiveSegment) {
  Fill(SmallOptions(kSegmentSize));
  log_->SetDeletableBelow(log_->LastSequence() + 1000);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(7));
  EXPECT_EQ(log_->FirstSequence(), segments_[7].first_seq);
  EXPECT_EQ(log_->LastSequence(), 1000u);
  ExpectConsistent(7);
  // Appends continue (segment 7 fills up, 8 fills, 9 is active); once
  // sealed, 7 and 8 may go too.
  ASSERT_OK(AppendN(log_.get(), 200, 100, &model_));
  ASSERT_OK(log_->EnforceRetention());
  const std::vector<SegmentInfo> live = log_->ListSegments();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_FALSE(live[0].sealed);
  EXPECT_EQ(live[0].first_seq, 1144u);
  ExpectConsistent(9);
}

TEST_F(RetentionTest, DeletionSurvivesReopen) {
  const Options options = SmallOptions(kSegmentSize);
  Fill(options);
  log_->SetDeletableBelow(segments_[4].first_seq);
  ASSERT_OK(log_->EnforceRetention());
  ASSERT_OK(log_->Close());
  log_.reset();
  ASSERT_OK_AND_ASSIGN(log_, OpenLog(options));
  EXPECT_EQ(log_->FirstSequence(), segments_[4].first_seq);
  EXPECT_EQ(log_->LastSequence(), 1000u);
  EXPECT_EQ(LiveIds(), IdsFrom(4));
  EXPECT_STATUS_CODE(log_->NewReader(1), absl::StatusCode::kOutOfRange);
  ExpectConsistent(0);
}

TEST_F(RetentionTest, RetainBytesKeepsEnoughLog) {
  Options options = SmallOptions(kSegmentSize);
  options.retain_bytes = 3 * kSegmentSize;
  Fill(options);
  log_->SetDeletableBelow(log_->LastSequence() + 1);
  ASSERT_OK(log_->EnforceRetention());
  const std::vector<SegmentInfo> live = log_->ListSegments();
  uint64_t bytes = 0;
  for (const SegmentInfo& s : live) bytes += s.bytes;
  EXPECT_GE(bytes, options.retain_bytes);
  // Whether "log bytes" counts file sizes (3 segments) or used bytes (4),
  // the oldest four segments had to go.
  EXPECT_GE(live.size(), 3u);
  EXPECT_LE(live.size(), 4u);
  EXPECT_EQ(LiveIds(), IdsFrom(segments_.size() - live.size()));
  ExpectConsistent(segments_.size() - live.size());
}

TEST_F(RetentionTest, RetainAgeKeepsYoungSegments) {
  auto clock = std::make_shared<FakeClock>();
  Options options = SmallOptions(kSegmentSize);
  options.retain_age = absl::Hours(1);
  options.clock = [clock] { return clock->Now(); };
  Fill(options);
  log_->SetDeletableBelow(log_->LastSequence() + 1);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(0));
  clock->Advance(absl::Minutes(30));
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(0));
  ExpectConsistent(0);
  clock->Advance(absl::Minutes(31));
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(7));
  ExpectConsistent(7);
}

TEST_F(RetentionTest, RetainAgeStillNeedsTheWatermark) {
  auto clock = std::make_shared<FakeClock>();
  Options options = SmallOptions(kSegmentSize);
  options.retain_age = absl::Hours(1);
  options.clock = [clock] { return clock->Now(); };
  Fill(options);
  clock->Advance(absl::Hours(5));
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(0));
  log_->SetDeletableBelow(segments_[2].first_seq);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(2));
  ExpectConsistent(2);
}

TEST_F(RetentionTest, RetentionHoldKeepsSegmentsAtOrAboveIt) {
  Fill(SmallOptions(kSegmentSize));
  // Inside segment 2: segment 2 holds sequences at or above the hold.
  log_->SetRetentionHold(segments_[2].first_seq + 1);
  log_->SetDeletableBelow(log_->LastSequence() + 1);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(2));
  ExpectConsistent(2);
  // The hold moves on.
  log_->SetRetentionHold(segments_[5].last_seq);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(5));
  ExpectConsistent(5);
  // No hold: only the watermark counts.
  log_->SetRetentionHold(0);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(7));
  ExpectConsistent(7);
}

TEST_F(RetentionTest, MaxHoldBytesOverridesTheHold) {
  Options options = SmallOptions(kSegmentSize);
  options.max_hold_bytes = 3 * kSegmentSize;
  Fill(options);
  log_->SetRetentionHold(1);  // a consumer that never moves
  log_->SetDeletableBelow(log_->LastSequence() + 1);
  ASSERT_OK(log_->EnforceRetention());
  const std::vector<SegmentInfo> live = log_->ListSegments();
  uint64_t used = 0;
  for (const SegmentInfo& s : live) used += s.used;
  EXPECT_LE(used, options.max_hold_bytes);
  EXPECT_GE(live.size(), 2u);
  EXPECT_LE(live.size(), 3u);
  // The oldest went first.
  EXPECT_EQ(LiveIds(), IdsFrom(segments_.size() - live.size()));
  ExpectConsistent(segments_.size() - live.size());
}

TEST_F(RetentionTest, MaxHoldAgeOverridesTheHold) {
  auto clock = std::make_shared<FakeClock>();
  Options options = SmallOptions(kSegmentSize);
  options.max_hold_age = absl::Hours(1);
  options.clock = [clock] { return clock->Now(); };
  Fill(options);
  log_->SetRetentionHold(1);  // a consumer that never moves
  log_->SetDeletableBelow(log_->LastSequence() + 1);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(0));
  clock->Advance(absl::Minutes(59));
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(0));
  clock->Advance(absl::Minutes(1));
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(7));
  ExpectConsistent(7);
}

TEST_F(RetentionTest, MaxHoldAgeDoesNotOverrideTheWatermark) {
  auto clock = std::make_shared<FakeClock>();
  Options options = SmallOptions(kSegmentSize);
  options.max_hold_age = absl::Hours(1);
  options.clock = [clock] { return clock->Now(); };
  Fill(options);
  log_->SetRetentionHold(1);
  log_->SetDeletableBelow(segments_[3].first_seq);
  clock->Advance(absl::Hours(2));
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(3));
  ExpectConsistent(3);
}

TEST_F(RetentionTest, LaggingReaderGetsOutOfRangeNotDataLoss) {
  Fill(SmallOptions(kSegmentSize));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Reader> reader, log_->NewReader(1));
  ASSERT_OK(reader->Next(absl::InfinitePast()).status());
  // Retention overtakes the reader: every sealed segment goes, the one it
  // is in included (its file stays until the reader lets go).
  log_->SetDeletableBelow(log_->LastSequence() + 1);
  ASSERT_OK(log_->EnforceRetention());
  ASSERT_EQ(LiveIds(), IdsFrom(7));
  // It finishes the segment it holds, then cannot go on.
  uint64_t read = 1;
  absl::StatusOr<Record> r;
  while ((r = reader->Next(absl::InfinitePast())).ok()) ++read;
  EXPECT_EQ(read, segments_[0].last_seq);
  EXPECT_TRUE(absl::IsOutOfRange(r.status())) << r.status();
  EXPECT_NE(r.status().message().find(absl::StrCat(log_->FirstSequence())),
            std::string::npos)
      << r.status();
  // And keeps saying so.
  EXPECT_TRUE(absl::IsOutOfRange(reader->Next(absl::InfinitePast()).status()));
}

TEST_F(RetentionTest, MaxHoldBytesDoesNotOverrideTheWatermark) {
  Options options = SmallOptions(kSegmentSize);
  options.max_hold_bytes = 2 * kSegmentSize;
  Fill(options);
  log_->SetRetentionHold(1);
  log_->SetDeletableBelow(segments_[1].first_seq);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(LiveIds(), IdsFrom(1));
  ExpectConsistent(1);
}

TEST_F(RetentionTest, RotationAppliesRetention) {
  Fill(SmallOptions(kSegmentSize));
  log_->SetDeletableBelow(segments_[3].first_seq);
  // "Also runs after the watermark moves, after each rotation": no explicit
  // EnforceRetention here; one more rotation must have applied it.
  ASSERT_OK(AppendN(log_.get(), 200, 100, &model_));
  const std::vector<uint32_t> ids = LiveIds();
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), segments_[3].id);
  ExpectConsistent(3);
}

TEST_F(RetentionTest, TruncationLowersTheWatermark) {
  Options options = SmallOptions(kSegmentSize);
  options.retain_bytes = 4 * kSegmentSize;  // keeps segments 5..8
  Fill(options);
  log_->SetDeletableBelow(segments_.back().first_seq);
  ASSERT_OK(log_->EnforceRetention());
  ASSERT_EQ(LiveIds(), IdsFrom(4));
  // Cut back into segment 5, below the watermark, and write anew: the new
  // records are not covered by the old watermark, so no retention pass may
  // delete them, whatever retain_bytes allows.
  const uint64_t cut = segments_[4].first_seq + 10;
  ASSERT_OK(log_->TruncateAfter(cut));
  model_.resize(cut);
  ASSERT_OK(AppendN(log_.get(), 700, 100, &model_));  // five more segments
  ASSERT_OK(log_->Sync());                            // all sealed
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(log_->FirstSequence(), segments_[4].first_seq);
  EXPECT_TRUE(test_util::LogHolds(
      *log_, std::vector<OwnedRecord>(
                 model_.begin() + (segments_[4].first_seq - 1), model_.end())));
}

TEST_F(RetentionTest, ReaderDeferredDeletionNeverLeavesAGap) {
  // A reader holds segment 1 while retention deletes segments 1-7: files 2-7
  // go at once, file 1 when the reader lets go. If the process crashes (or
  // the log is reopened) first, file 1 is still there, and must not look
  // like a log with a gap.
  for (bool crash : {true, false}) {
    SCOPED_TRACE(crash ? "crash" : "close and reopen");
    std::filesystem::remove_all(dir_);
    model_.clear();
    const Options options = SmallOptions(kSegmentSize);
    ASSERT_OK_AND_ASSIGN(log_, OpenLog(options));
    ASSERT_OK(AppendN(log_.get(), 1000, 100, &model_));
    segments_ = log_->ListSegments();
    ASSERT_OK_AND_ASSIGN(auto reader, log_->NewReader(1));
    ASSERT_OK(reader->Next(absl::InfinitePast()));
    log_->SetDeletableBelow(segments_.back().first_seq);
    ASSERT_OK(log_->EnforceRetention());
    ASSERT_TRUE(std::filesystem::exists(segments_[0].path));  // deferred
    if (crash) {
      log_->SimulateCrashForTesting();
    } else {
      ASSERT_OK(log_->Close());
    }
    log_.reset();
    ASSERT_OK_AND_ASSIGN(log_, OpenLog(options));  // the reader still lives
    EXPECT_EQ(log_->recovery_report().removed_obsolete_segments, 1u);
    EXPECT_EQ(log_->FirstSequence(), segments_.back().first_seq);
    EXPECT_TRUE(test_util::LogHolds(
        *log_,
        std::vector<OwnedRecord>(
            model_.begin() + (segments_.back().first_seq - 1), model_.end())));
    reader.reset();  // its late unlink finds the file gone already
    log_.reset();
  }
}

TEST_F(RetentionTest, TheNewestSegmentStaysEvenWithoutAnActiveOne) {
  // A rotation that cannot create the next segment leaves no active one;
  // retention must still keep the newest, or the log would forget where it
  // is (and reuse sequence numbers).
  FaultInjectionFileSystem fs(FileSystem::Default());
  Options options = SmallOptions(kSegmentSize);
  options.fs = &fs;
  options.prepare_next_segment = false;
  ASSERT_OK_AND_ASSIGN(log_, OpenLog(options));
  ASSERT_OK(AppendN(log_.get(), 127, 100, &model_));  // segment 1 is full
  FaultRule rule;
  rule.op = FsOp::kAllocate;
  rule.status = absl::ErrnoToStatus(ENOSPC, "injected ENOSPC");
  rule.times = -1;
  fs.InjectFault(rule);
  EXPECT_FALSE(log_->Append(test_util::Payload(128, 100)).ok());
  log_->SetDeletableBelow(log_->LastSequence() + 1);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_EQ(log_->ListSegments().size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto reader, log_->NewReader(128));  // at the end
  fs.ClearFaults();
  ASSERT_OK(log_->Close());
  log_.reset();
  ASSERT_OK_AND_ASSIGN(log_, OpenLog(options));
  EXPECT_EQ(log_->LastSequence(), 127u);
  ASSERT_OK_AND_ASSIGN(AppendResult r, log_->Append("next"));
  EXPECT_EQ(r.first_seq, 128u);
  log_.reset();
}

}  // namespace
}  // namespace cairn::wal
