#include "cairn/wal/reader.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/wal/log.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::AppendN;
using test_util::OwnedRecord;
using test_util::ReadAll;
using test_util::ReadResult;
using test_util::SameRecords;

class ReaderTest : public test_util::WalTest {
 protected:
  void OpenWith(const Options& options) {
    ASSERT_OK_AND_ASSIGN(log_, OpenLog(options));
  }
  std::unique_ptr<Reader> NewReader(uint64_t seq) {
    absl::StatusOr<std::unique_ptr<Reader>> r = log_->NewReader(seq);
    EXPECT_OK(r) << "NewReader(" << seq << ")";
    return r.ok() ? *std::move(r) : nullptr;
  }
  void TearDown() override {
    log_.reset();
    WalTest::TearDown();
  }

  std::unique_ptr<Log> log_;
  std::vector<OwnedRecord> model_;
};

std::vector<OwnedRecord> Tail(const std::vector<OwnedRecord>& v, size_t from) {
  return std::vector<OwnedRecord>(v.begin() + from, v.end());
}

TEST_F(ReaderTest, ReadsFromTheFirstSequence) {
  OpenWith(SmallOptions(64 << 10));
  ASSERT_OK(AppendN(log_.get(), 100, 60, &model_));
  auto reader = NewReader(1);
  ASSERT_NE(reader, nullptr);
  ReadResult r = ReadAll(reader.get());
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
  EXPECT_TRUE(SameRecords(r.records, model_));
  EXPECT_EQ(reader->next_seq(), 101u);
}

TEST_F(ReaderTest, ReadsFromAMiddleSequence) {
  OpenWith(SmallOptions(16 << 10));
  ASSERT_OK(AppendN(log_.get(), 500, 60, &model_));
  for (uint64_t from : {2u, 50u, 137u, 499u, 500u}) {
    auto reader = NewReader(from);
    ASSERT_NE(reader, nullptr);
    ReadResult r = ReadAll(reader.get());
    EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
    EXPECT_TRUE(SameRecords(r.records, Tail(model_, from - 1))) << from;
  }
}

TEST_F(ReaderTest, StartsAtTheRecordContainingTheSequence) {
  OpenWith(SmallOptions(16 << 10));
  // Records of three sequences each: 1-3, 4-6, 7-9, ...
  ASSERT_OK(AppendN(log_.get(), 300, 80, &model_, 3));
  for (uint64_t from : {1u, 2u, 3u, 5u, 6u, 452u, 898u, 900u}) {
    auto reader = NewReader(from);
    ASSERT_NE(reader, nullptr);
    ASSERT_OK_AND_ASSIGN(Record first, reader->Next(absl::InfinitePast()));
    const size_t index = (from - 1) / 3;
    EXPECT_EQ(first.first_seq, model_[index].first_seq) << from;
    EXPECT_EQ(first.seq_count, 3u);
    EXPECT_EQ(first.last_seq(), first.first_seq + 2);
    EXPECT_LE(first.first_seq, from);
    EXPECT_GE(first.last_seq(), from);
    EXPECT_EQ(first.payload, model_[index].payload);
    EXPECT_EQ(reader->next_seq(), first.first_seq + 3);
    ReadResult rest = ReadAll(reader.get());
    EXPECT_TRUE(SameRecords(rest.records, Tail(model_, index + 1))) << from;
  }
}

TEST_F(ReaderTest, ReaderAtTheEndSeesTheNextAppend) {
  OpenWith(SmallOptions(64 << 10));
  auto empty = NewReader(1);  // an empty log: waits for the first record
  ASSERT_NE(empty, nullptr);
  EXPECT_STATUS_CODE(empty->Next(absl::InfinitePast()),
                     absl::StatusCode::kDeadlineExceeded);
  ASSERT_OK(AppendN(log_.get(), 10, 30, &model_));
  auto reader = NewReader(log_->LastSequence() + 1);
  ASSERT_NE(reader, nullptr);
  EXPECT_STATUS_CODE(reader->Next(absl::InfinitePast()),
                     absl::StatusCode::kDeadlineExceeded);
  EXPECT_STATUS_CODE(log_->NewReader(log_->LastSequence() + 2),
                     absl::StatusCode::kOutOfRange);
  ASSERT_OK(AppendN(log_.get(), 1, 30, &model_));
  ASSERT_OK_AND_ASSIGN(Record r, reader->Next(absl::Now() + absl::Seconds(5)));
  EXPECT_EQ(r.first_seq, 11u);
  EXPECT_EQ(r.payload, model_.back().payload);
  EXPECT_STATUS_CODE(reader->Next(absl::InfinitePast()),
                     absl::StatusCode::kDeadlineExceeded);
  ReadResult all = ReadAll(empty.get());
  EXPECT_TRUE(SameRecords(all.records, model_));
}

TEST_F(ReaderTest, FollowsRotation) {
  OpenWith(SmallOptions(16 << 10));
  auto reader = NewReader(1);
  ASSERT_NE(reader, nullptr);
  std::vector<OwnedRecord> seen;
  // Interleave appends and reads so the reader crosses every rotation while
  // it is at the end of the log.
  for (int round = 0; round < 40; ++round) {
    ASSERT_OK(AppendN(log_.get(), 25, 20 + round * 5, &model_));
    ReadResult r = ReadAll(reader.get());
    ASSERT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
    seen.insert(seen.end(), r.records.begin(), r.records.end());
    ASSERT_EQ(seen.size(), model_.size());
  }
  EXPECT_GT(log_->ListSegments().size(), 5u);
  EXPECT_TRUE(SameRecords(seen, model_));
}

TEST_F(ReaderTest, BlockedNextIsWokenByAnAppend) {
  OpenWith(SmallOptions(64 << 10));
  ASSERT_OK(AppendN(log_.get(), 3, 30, &model_));
  auto reader = NewReader(4);
  ASSERT_NE(reader, nullptr);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<Record> got = absl::UnknownError("not run");
    std::string payload;
    absl::Time returned;
    std::atomic<bool> started{false};
    std::thread t([&] {
      started = true;
      got = reader->Next(absl::Now() + absl::Seconds(5));
      returned = absl::Now();
      if (got.ok()) payload = std::string(got->payload);
    });
    while (!started) std::this_thread::yield();
    absl::SleepFor(absl::Milliseconds(20));  // let it block
    const absl::Time appended = absl::Now();
    ASSERT_OK(AppendN(log_.get(), 1, 40, &model_));
    t.join();
    ASSERT_OK(got);
    EXPECT_EQ(got->first_seq, model_.back().first_seq);
    EXPECT_EQ(payload, model_.back().payload);
    // Woken by the append, far from the deadline.
    EXPECT_LT(returned - appended, absl::Seconds(2));
  }
}

TEST_F(ReaderTest, DeadlineWhenCaughtUp) {
  OpenWith(SmallOptions(64 << 10));
  ASSERT_OK(AppendN(log_.get(), 2, 30, &model_));
  auto reader = NewReader(1);
  ASSERT_NE(reader, nullptr);
  ASSERT_OK(reader->Next(absl::InfinitePast()));
  ASSERT_OK(reader->Next(absl::InfinitePast()));
  EXPECT_STATUS_CODE(reader->Next(absl::InfinitePast()),
                     absl::StatusCode::kDeadlineExceeded);
  const absl::Time start = absl::Now();
  EXPECT_STATUS_CODE(reader->Next(start + absl::Milliseconds(50)),
                     absl::StatusCode::kDeadlineExceeded);
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(45));
  EXPECT_LT(waited, absl::Seconds(3));
  // Still usable afterwards.
  ASSERT_OK(AppendN(log_.get(), 1, 30, &model_));
  ASSERT_OK_AND_ASSIGN(Record r, reader->Next(absl::InfinitePast()));
  EXPECT_EQ(r.first_seq, 3u);
}

TEST_F(ReaderTest, CancelWakesABlockedNext) {
  OpenWith(SmallOptions(64 << 10));
  auto reader = NewReader(1);
  ASSERT_NE(reader, nullptr);
  absl::Status status = absl::UnknownError("not run");
  absl::Time returned;
  std::atomic<bool> started{false};
  std::thread t([&] {
    started = true;
    status = reader->Next(absl::Now() + absl::Seconds(5)).status();
    returned = absl::Now();
  });
  while (!started) std::this_thread::yield();
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time cancelled = absl::Now();
  reader->Cancel();
  t.join();
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  EXPECT_LT(returned - cancelled, absl::Seconds(2));
}

TEST_F(ReaderTest, CancelBeforeNext) {
  OpenWith(SmallOptions(64 << 10));
  ASSERT_OK(AppendN(log_.get(), 2, 30, &model_));
  auto reader = NewReader(1);
  ASSERT_NE(reader, nullptr);
  reader->Cancel();
  EXPECT_STATUS_CODE(reader->Next(absl::Now() + absl::Seconds(5)),
                     absl::StatusCode::kCancelled);
}

TEST_F(ReaderTest, CloseFailsReaders) {
  OpenWith(SmallOptions(64 << 10));
  ASSERT_OK(AppendN(log_.get(), 10, 30, &model_));
  auto behind = NewReader(1);
  auto blocked = NewReader(11);
  ASSERT_NE(behind, nullptr);
  ASSERT_NE(blocked, nullptr);
  ASSERT_OK(behind->Next(absl::InfinitePast()));
  absl::Status status = absl::UnknownError("not run");
  std::atomic<bool> started{false};
  std::thread t([&] {
    started = true;
    status = blocked->Next(absl::Now() + absl::Seconds(5)).status();
  });
  while (!started) std::this_thread::yield();
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time closed = absl::Now();
  ASSERT_OK(log_->Close());
  t.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_LT(absl::Now() - closed, absl::Seconds(2));
  EXPECT_STATUS_CODE(behind->Next(absl::InfinitePast()),
                     absl::StatusCode::kFailedPrecondition);
  // Readers outlive the Log itself.
  log_.reset();
  EXPECT_STATUS_CODE(behind->Next(absl::InfinitePast()),
                     absl::StatusCode::kFailedPrecondition);
  EXPECT_STATUS_CODE(blocked->Next(absl::Now() + absl::Seconds(1)),
                     absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReaderTest, DestroyingTheLogFailsReaders) {
  OpenWith(SmallOptions(64 << 10));
  ASSERT_OK(AppendN(log_.get(), 10, 30, &model_));
  auto reader = NewReader(5);
  ASSERT_NE(reader, nullptr);
  log_.reset();
  EXPECT_STATUS_CODE(reader->Next(absl::Now() + absl::Seconds(1)),
                     absl::StatusCode::kFailedPrecondition);
}

// Fills segments, then lets retention delete the first one while a reader
// is positioned in it.
class ReaderRetentionTest : public ReaderTest {
 protected:
  void SetUp() override {
    ReaderTest::SetUp();
    OpenWith(SmallOptions(16 << 10));
    ASSERT_OK(AppendN(log_.get(), 600, 100, &model_));
    segments_ = log_->ListSegments();
    ASSERT_GE(segments_.size(), 3u);
  }
  std::vector<SegmentInfo> segments_;
};

TEST_F(ReaderRetentionTest, ReaderHoldsItsSegmentUntilItMovesOn) {
  const SegmentInfo& first = segments_[0];
  auto reader = NewReader(1);
  ASSERT_NE(reader, nullptr);
  ASSERT_OK_AND_ASSIGN(Record r, reader->Next(absl::InfinitePast()));
  EXPECT_EQ(r.position.segment_id, first.id);
  log_->SetDeletableBelow(segments_[1].first_seq);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_TRUE(std::filesystem::exists(first.path));
  // The reader still reads the held segment correctly.
  std::vector<OwnedRecord> seen;
  while (seen.size() < first.last_seq - 1) {
    ASSERT_OK_AND_ASSIGN(Record next, reader->Next(absl::InfinitePast()));
    EXPECT_EQ(next.position.segment_id, first.id);
    seen.push_back(OwnedRecord{next.first_seq, next.seq_count,
                               std::string(next.payload), next.position});
  }
  EXPECT_TRUE(SameRecords(
      seen, std::vector<OwnedRecord>(model_.begin() + 1,
                                     model_.begin() + first.last_seq)));
  EXPECT_TRUE(std::filesystem::exists(first.path));
  // Moving into the next segment releases the first one.
  ASSERT_OK_AND_ASSIGN(Record next, reader->Next(absl::InfinitePast()));
  EXPECT_EQ(next.first_seq, segments_[1].first_seq);
  EXPECT_EQ(next.position.segment_id, segments_[1].id);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_FALSE(std::filesystem::exists(first.path));
  EXPECT_EQ(log_->FirstSequence(), segments_[1].first_seq);
}

TEST_F(ReaderRetentionTest, DestroyedReaderReleasesItsSegment) {
  const SegmentInfo& first = segments_[0];
  auto reader = NewReader(20);
  ASSERT_NE(reader, nullptr);
  ASSERT_OK(reader->Next(absl::InfinitePast()));
  log_->SetDeletableBelow(segments_[1].first_seq);
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_TRUE(std::filesystem::exists(first.path));
  reader.reset();
  ASSERT_OK(log_->EnforceRetention());
  EXPECT_FALSE(std::filesystem::exists(first.path));
  EXPECT_EQ(log_->FirstSequence(), segments_[1].first_seq);
}

TEST_F(ReaderRetentionTest, ReaderBelowTheFirstSequenceIsOutOfRange) {
  log_->SetDeletableBelow(segments_[2].first_seq);
  ASSERT_OK(log_->EnforceRetention());
  const uint64_t first = log_->FirstSequence();
  ASSERT_EQ(first, segments_[2].first_seq);
  for (uint64_t seq : {uint64_t{1}, first - 1}) {
    absl::StatusOr<std::unique_ptr<Reader>> r = log_->NewReader(seq);
    ASSERT_STATUS_CODE(r, absl::StatusCode::kOutOfRange);
    EXPECT_NE(r.status().message().find(std::to_string(first)),
              std::string::npos)
        << r.status();
    absl::StatusOr<Position> p = log_->Find(seq);
    ASSERT_STATUS_CODE(p, absl::StatusCode::kOutOfRange);
    EXPECT_NE(p.status().message().find(std::to_string(first)),
              std::string::npos)
        << p.status();
  }
  auto reader = NewReader(first);
  ASSERT_NE(reader, nullptr);
  ReadResult all = ReadAll(reader.get());
  EXPECT_TRUE(SameRecords(all.records, Tail(model_, first - 1)));
}

TEST_F(ReaderTest, TruncationFailsReadersPastThePoint) {
  OpenWith(SmallOptions(16 << 10));
  ASSERT_OK(AppendN(log_.get(), 300, 60, &model_));
  // past: read up to 250; at: read up to exactly 100; before: up to 20.
  auto past = NewReader(1);
  auto at = NewReader(1);
  auto before = NewReader(1);
  ASSERT_NE(past, nullptr);
  ASSERT_NE(at, nullptr);
  ASSERT_NE(before, nullptr);
  for (int i = 0; i < 250; ++i) ASSERT_OK(past->Next(absl::InfinitePast()));
  for (int i = 0; i < 100; ++i) ASSERT_OK(at->Next(absl::InfinitePast()));
  for (int i = 0; i < 20; ++i) ASSERT_OK(before->Next(absl::InfinitePast()));
  ASSERT_OK(log_->TruncateAfter(100));
  model_.resize(100);
  EXPECT_STATUS_CODE(past->Next(absl::InfinitePast()),
                     absl::StatusCode::kFailedPrecondition);
  // Rewrite 101.. with different payloads: the readers that were not past
  // the cut must see the new records, never the old bytes.
  ASSERT_OK(AppendN(log_.get(), 150, 90, &model_));
  ReadResult b = ReadAll(before.get());
  EXPECT_TRUE(absl::IsDeadlineExceeded(b.status)) << b.status;
  EXPECT_TRUE(SameRecords(b.records, Tail(model_, 20)));
  ReadResult a = ReadAll(at.get());
  EXPECT_TRUE(absl::IsDeadlineExceeded(a.status)) << a.status;
  EXPECT_TRUE(SameRecords(a.records, Tail(model_, 100)));
  EXPECT_STATUS_CODE(past->Next(absl::InfinitePast()),
                     absl::StatusCode::kFailedPrecondition);
}

// The reader was past the cut when it happened; that stays true even once
// the log has grown back beyond its position (with other records).
TEST_F(ReaderTest, TruncationIsDetectedAfterTheLogRegrows) {
  OpenWith(SmallOptions(64 << 10));
  ASSERT_OK(AppendN(log_.get(), 50, 40, &model_));
  auto reader = NewReader(1);
  ASSERT_NE(reader, nullptr);
  for (int i = 0; i < 50; ++i) ASSERT_OK(reader->Next(absl::InfinitePast()));
  ASSERT_OK(log_->TruncateAfter(30));
  model_.resize(30);
  // Same sizes: the new frames sit exactly where the old ones were.
  ASSERT_OK(AppendN(log_.get(), 30, 40, &model_));
  absl::StatusOr<Record> r = reader->Next(absl::InfinitePast());
  EXPECT_STATUS_CODE(r, absl::StatusCode::kFailedPrecondition)
      << (r.ok() ? "returned seq " + std::to_string(r->first_seq) +
                       ", having skipped the rewritten 31..50"
                 : std::string());
}

}  // namespace
}  // namespace cairn::wal
