#include "cairn/wal/log.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/wal/format.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::AppendN;
using test_util::BaseName;
using test_util::LogHolds;
using test_util::OwnedRecord;
using test_util::Payload;
using test_util::ReadFileBytes;
using test_util::ReadLog;
using test_util::SegmentFiles;

class LogTest : public test_util::WalTest {};

TEST_F(LogTest, OpenAppendReopenRoundTrip) {
  const Options options = SmallOptions(64 << 10);
  std::vector<OwnedRecord> model;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    EXPECT_EQ(log->FirstSequence(), 1u);
    EXPECT_EQ(log->LastSequence(), 0u);
    for (int i = 0; i < 200; ++i) {
      const uint64_t seq = log->LastSequence() + 1;
      const std::string p = i == 0 ? std::string() : Payload(seq, i * 7 % 300);
      ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append(p));
      EXPECT_EQ(r.first_seq, seq);
      EXPECT_EQ(r.seq_count, 1u);
      EXPECT_EQ(log->LastSequence(), seq);
      model.push_back(OwnedRecord{r.first_seq, 1, p, r.position});
    }
    EXPECT_TRUE(LogHolds(*log, model));
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->FirstSequence(), 1u);
  EXPECT_EQ(log->LastSequence(), 200u);
  EXPECT_FALSE(log->recovery_report().truncated_tail);
  EXPECT_TRUE(LogHolds(*log, model));
  ASSERT_OK(AppendN(log.get(), 5, 50, &model));
  EXPECT_EQ(model.back().first_seq, 205u);
  ASSERT_OK(log->Close());
  log.reset();
  ASSERT_OK_AND_ASSIGN(log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model));
}

// Frames follow each other from the end of the segment header, and each is
// readable at its position with the format's own decoder.
TEST_F(LogTest, FramesArePackedAndDecodableOnDisk) {
  std::vector<OwnedRecord> model;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(SmallOptions(16 << 10)));
    for (int i = 0; i < 300; ++i) {
      ASSERT_OK(AppendN(log.get(), 1, 1 + (i * 37) % 250, &model,
                        static_cast<uint32_t>(1 + i % 3)));
    }
    for (size_t i = 0; i < model.size(); ++i) {
      const Position& p = model[i].position;
      if (i == 0 || p.segment_id != model[i - 1].position.segment_id) {
        EXPECT_EQ(p.offset, kSegmentHeaderSize) << i;
        if (i > 0) {
          EXPECT_GT(p.segment_id, model[i - 1].position.segment_id);
        }
      } else {
        EXPECT_EQ(p.offset, model[i - 1].position.offset +
                                FrameSize(model[i - 1].payload.size()))
            << i;
      }
    }
    std::map<uint32_t, std::string> images;
    for (const SegmentInfo& s : log->ListSegments()) {
      images[s.id] = ReadFileBytes(s.path);
    }
    for (const OwnedRecord& r : model) {
      ASSERT_TRUE(images.count(r.position.segment_id)) << r;
      const std::string& img = images[r.position.segment_id];
      FrameView f;
      ASSERT_EQ(DecodeFrame(img.data() + r.position.offset,
                            img.size() - r.position.offset, &f),
                FrameError::kNone)
          << r;
      EXPECT_EQ(f.first_seq, r.first_seq);
      EXPECT_EQ(f.seq_count, r.seq_count);
      EXPECT_EQ(f.payload, r.payload);
    }
    const LogStats stats = log->GetStats();
    uint64_t bytes = 0;
    for (const OwnedRecord& r : model) bytes += FrameSize(r.payload.size());
    EXPECT_EQ(stats.records_appended, model.size());
    EXPECT_EQ(stats.bytes_appended, bytes);
  }
}

TEST_F(LogTest, MultiSequenceRecordsAdvanceSequences) {
  const Options options = SmallOptions();
  std::vector<OwnedRecord> model;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    struct Step {
      uint32_t count;
      uint64_t first;
    };
    for (Step step : {Step{1, 1}, Step{5, 2}, Step{3, 7}, Step{1, 10},
                      Step{1000, 11}, Step{2, 1011}}) {
      const std::string p = Payload(step.first, 20);
      ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append(p, step.count));
      EXPECT_EQ(r.first_seq, step.first);
      EXPECT_EQ(r.seq_count, step.count);
      EXPECT_EQ(log->LastSequence(), step.first + step.count - 1);
      model.push_back(OwnedRecord{r.first_seq, r.seq_count, p, r.position});
    }
    EXPECT_EQ(log->LastSequence(), 1012u);
    EXPECT_TRUE(LogHolds(*log, model));
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->LastSequence(), 1012u);
  EXPECT_TRUE(LogHolds(*log, model));
  ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("next"));
  EXPECT_EQ(r.first_seq, 1013u);
}

TEST_F(LogTest, ZeroSequenceCountIsInvalid) {
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(SmallOptions()));
  ASSERT_OK(AppendN(log.get(), 3, 10));
  EXPECT_STATUS_CODE(log->Append("x", 0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->LastSequence(), 3u);
  EXPECT_EQ(log->GetStats().records_appended, 3u);
  ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("y"));
  EXPECT_EQ(r.first_seq, 4u);
}

TEST_F(LogTest, RecordLargerThanASegmentIsRefused) {
  const Options options = SmallOptions(16 << 10);
  const uint64_t max = MaxPayloadSize(options.segment_size);
  std::vector<OwnedRecord> model;
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  ASSERT_OK(AppendN(log.get(), 1, 30, &model));
  for (uint64_t size : {max + 1, max + 8, uint64_t{1} << 20}) {
    EXPECT_STATUS_CODE(log->Append(std::string(size, 'z')),
                       absl::StatusCode::kInvalidArgument)
        << size;
    EXPECT_EQ(log->LastSequence(), 1u);
  }
  // The largest record that fits goes into a segment of its own.
  ASSERT_OK(AppendN(log.get(), 1, max, &model));
  EXPECT_EQ(model.back().first_seq, 2u);
  EXPECT_EQ(model.back().payload.size(), max);
  EXPECT_EQ(model.back().position.offset, kSegmentHeaderSize);
  EXPECT_NE(model.back().position.segment_id, model[0].position.segment_id);
  ASSERT_OK(AppendN(log.get(), 1, 30, &model));
  EXPECT_EQ(model.back().first_seq, 3u);
  EXPECT_NE(model.back().position.segment_id, model[1].position.segment_id);
  EXPECT_TRUE(LogHolds(*log, model));
  ASSERT_OK(log->Close());
  log.reset();
  ASSERT_OK_AND_ASSIGN(log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model));
}

TEST_F(LogTest, RotationSealsSegments) {
  const Options options = SmallOptions(16 << 10);
  std::vector<OwnedRecord> model;
  std::vector<SegmentInfo> before;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    // 100-byte payloads: 128-byte frames, 127 to a segment.
    ASSERT_OK(AppendN(log.get(), 1000, 100, &model));
    // Sealed headers reach the disk in the background; Sync waits for them.
    ASSERT_OK(log->Sync());
    before = log->ListSegments();
    ASSERT_EQ(before.size(), 8u);
    std::map<uint32_t, uint32_t> per_segment;
    std::map<uint32_t, uint64_t> end_of_frames;
    for (const OwnedRecord& r : model) {
      ++per_segment[r.position.segment_id];
      end_of_frames[r.position.segment_id] = r.position.offset + 128;
    }
    std::vector<std::string> paths;
    for (size_t i = 0; i < before.size(); ++i) {
      const SegmentInfo& s = before[i];
      SCOPED_TRACE("segment " + std::to_string(s.id));
      paths.push_back(s.path);
      EXPECT_EQ(s.sealed, i + 1 < before.size());
      EXPECT_EQ(s.bytes, options.segment_size);
      EXPECT_EQ(std::filesystem::file_size(s.path), options.segment_size);
      EXPECT_TRUE(s.path.ends_with(".wal")) << s.path;
      EXPECT_EQ(s.used, end_of_frames[s.id]);
      if (i == 0) {
        EXPECT_EQ(s.first_seq, 1u);
      } else {
        EXPECT_GT(s.id, before[i - 1].id);
        EXPECT_EQ(s.first_seq, before[i - 1].last_seq + 1);
      }
      EXPECT_EQ(s.last_seq - s.first_seq + 1, per_segment[s.id]);
      if (s.sealed) {
        // A sealed header is final: it describes the whole segment.
        const std::string img = ReadFileBytes(s.path);
        SegmentHeader h;
        ASSERT_OK(DecodeSegmentHeader(img.data(), &h));
        EXPECT_EQ(h.segment_id, s.id);
        EXPECT_NE(h.flags & kFlagSealed, 0u);
        EXPECT_EQ(h.first_seq, s.first_seq);
        EXPECT_EQ(h.last_seq, s.last_seq);
        EXPECT_EQ(h.write_offset, s.used);
        EXPECT_EQ(h.entry_count, per_segment[s.id]);
      }
    }
    EXPECT_EQ(before.back().last_seq, 1000u);
    std::sort(paths.begin(), paths.end());
    EXPECT_EQ(SegmentFiles(dir_), paths);
    const LogStats stats = log->GetStats();
    EXPECT_EQ(stats.live_segments, 8u);
    EXPECT_EQ(stats.live_bytes, 8 * options.segment_size);
    EXPECT_GE(stats.segments_created, 7u);
    EXPECT_EQ(stats.records_appended, 1000u);
    EXPECT_TRUE(LogHolds(*log, model));
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model));
  const std::vector<SegmentInfo> after = log->ListSegments();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id);
    EXPECT_EQ(after[i].first_seq, before[i].first_seq);
    EXPECT_EQ(after[i].last_seq, before[i].last_seq);
    EXPECT_EQ(after[i].used, before[i].used);
    if (before[i].sealed) {
      EXPECT_TRUE(after[i].sealed);
    }
  }
}

TEST_F(LogTest, SecondOpenOfTheSameDirectoryFails) {
  ASSERT_OK_AND_ASSIGN(auto first, OpenLog(SmallOptions()));
  EXPECT_STATUS_CODE(OpenLog(SmallOptions()),
                     absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(first->Close());
  ASSERT_OK_AND_ASSIGN(auto second, OpenLog(SmallOptions()));
  // Destruction without Close releases the lock too.
  second.reset();
  ASSERT_OK_AND_ASSIGN(auto third, OpenLog(SmallOptions()));
}

TEST_F(LogTest, CallsAfterCloseFail) {
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(SmallOptions()));
  ASSERT_OK(AppendN(log.get(), 2, 10));
  ASSERT_OK(log->Close());
  EXPECT_STATUS_CODE(log->Append("late"),
                     absl::StatusCode::kFailedPrecondition);
  EXPECT_STATUS_CODE(log->Sync(), absl::StatusCode::kFailedPrecondition);
  EXPECT_STATUS_CODE(log->TruncateAfter(1),
                     absl::StatusCode::kFailedPrecondition);
  EXPECT_STATUS_CODE(log->NewReader(1), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LogTest, FindReturnsTheContainingRecord) {
  for (uint64_t interval : {uint64_t{64}, uint64_t{4096}, uint64_t{1} << 20}) {
    SCOPED_TRACE("index_interval " + std::to_string(interval));
    Options options = SmallOptions(16 << 10);
    options.index_interval = interval;
    std::vector<OwnedRecord> model;
    auto check = [&](const Log& log) {
      for (const OwnedRecord& r : model) {
        for (uint64_t s = r.first_seq; s < r.first_seq + r.seq_count; ++s) {
          absl::StatusOr<Position> p = log.Find(s);
          ASSERT_OK(p) << "seq " << s;
          ASSERT_EQ(*p, r.position) << "seq " << s << " in " << r;
        }
      }
      EXPECT_STATUS_CODE(log.Find(0), absl::StatusCode::kOutOfRange);
      EXPECT_STATUS_CODE(log.Find(log.LastSequence() + 1),
                         absl::StatusCode::kOutOfRange);
      EXPECT_STATUS_CODE(log.Find(log.LastSequence() + 1000),
                         absl::StatusCode::kOutOfRange);
    };
    {
      ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
      EXPECT_STATUS_CODE(log->Find(1), absl::StatusCode::kOutOfRange);
      for (int i = 0; i < 600; ++i) {
        ASSERT_OK(AppendN(log.get(), 1, 20 + (i * 53) % 200, &model,
                          static_cast<uint32_t>(1 + i % 4)));
      }
      ASSERT_GT(log->ListSegments().size(), 3u);
      check(*log);
      ASSERT_OK(log->Close());
    }
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    check(*log);
    log.reset();
    std::filesystem::remove_all(dir_);
  }
}

TEST_F(LogTest, FirstSequenceOptionStartsANewLog) {
  Options options = SmallOptions();
  options.first_sequence = 1000;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    EXPECT_EQ(log->FirstSequence(), 1000u);
    EXPECT_EQ(log->LastSequence(), 999u);
    ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("first"));
    EXPECT_EQ(r.first_seq, 1000u);
    EXPECT_STATUS_CODE(log->Find(999), absl::StatusCode::kOutOfRange);
    ASSERT_OK(log->Close());
  }
  // An existing log keeps its own sequences whatever the option says.
  options.first_sequence = 1;
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->FirstSequence(), 1000u);
  EXPECT_EQ(log->LastSequence(), 1000u);
  ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("second"));
  EXPECT_EQ(r.first_seq, 1001u);
}

class SyncModeTest : public LogTest,
                     public ::testing::WithParamInterface<SyncMode> {};

TEST_P(SyncModeTest, RoundTrips) {
  Options options = SmallOptions(16 << 10, GetParam());
  options.bytes_per_sync = 4096;
  options.sync_interval = absl::Milliseconds(5);
  std::vector<OwnedRecord> model;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    for (int i = 0; i < 300; ++i) {
      AppendOptions ao;
      ao.sync = i % 50 == 49;
      ASSERT_OK(AppendN(log.get(), 1, 10 + i % 150, &model, 1, ao));
    }
    if (GetParam() == SyncMode::kPeriodic || GetParam() == SyncMode::kBytes) {
      ASSERT_OK(AppendN(log.get(), 20, 200, &model));
      // The background thread syncs by itself; bounded wait for it.
      const absl::Time deadline = absl::Now() + absl::Seconds(3);
      const uint64_t syncs = log->GetStats().syncs;
      while (log->GetStats().syncs == syncs && absl::Now() < deadline) {
        ASSERT_OK(AppendN(log.get(), 1, 200, &model));
        absl::SleepFor(absl::Milliseconds(5));
      }
      EXPECT_GT(log->GetStats().syncs, syncs);
      EXPECT_EQ(log->GetStats().sync_failures, 0u);
    }
    ASSERT_OK(log->Sync());
    EXPECT_TRUE(LogHolds(*log, model));
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model));
  ASSERT_OK(AppendN(log.get(), 10, 30, &model));
  ASSERT_OK(log->Close());
  log.reset();
  ASSERT_OK_AND_ASSIGN(log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model));
}

INSTANTIATE_TEST_SUITE_P(AllModes, SyncModeTest,
                         ::testing::Values(SyncMode::kEveryCommit,
                                           SyncMode::kNone, SyncMode::kBytes,
                                           SyncMode::kPeriodic));

TEST_F(LogTest, SyncCounts) {
  {
    ASSERT_OK_AND_ASSIGN(auto log,
                         OpenLog(SmallOptions(64 << 10, SyncMode::kNone)));
    const uint64_t at_open = log->GetStats().syncs;
    ASSERT_OK(AppendN(log.get(), 10, 50));
    EXPECT_EQ(log->GetStats().syncs, at_open) << "kNone synced by itself";
    ASSERT_OK(log->Sync());
    const uint64_t after_sync = log->GetStats().syncs;
    EXPECT_GT(after_sync, at_open);
    AppendOptions durable;
    durable.sync = true;
    ASSERT_OK(AppendN(log.get(), 1, 50, nullptr, 1, durable));
    EXPECT_GT(log->GetStats().syncs, after_sync);
    ASSERT_OK(log->Close());
  }
  std::filesystem::remove_all(dir_);
  ASSERT_OK_AND_ASSIGN(auto log,
                       OpenLog(SmallOptions(64 << 10, SyncMode::kEveryCommit)));
  const uint64_t at_open = log->GetStats().syncs;
  ASSERT_OK(AppendN(log.get(), 20, 50));
  EXPECT_GE(log->GetStats().syncs - at_open, 20u);
  EXPECT_EQ(log->GetStats().commit_groups, 20u);
}

TEST_F(LogTest, CopySealedSegmentsCopiesOnlySealedOnes) {
  const Options options = SmallOptions(16 << 10);
  const std::string backup = Path("backup");
  std::vector<OwnedRecord> model;
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  ASSERT_OK(AppendN(log.get(), 600, 100, &model));
  auto sealed_names = [&] {
    std::vector<std::string> names;
    for (const SegmentInfo& s : log->ListSegments()) {
      if (s.sealed) names.push_back(BaseName(s.path));
    }
    return names;
  };
  std::vector<std::string> expected = sealed_names();
  ASSERT_GE(expected.size(), 3u);

  ASSERT_OK_AND_ASSIGN(std::vector<std::string> copied,
                       log->CopySealedSegments(backup));
  std::sort(copied.begin(), copied.end());
  EXPECT_EQ(copied, expected);
  std::vector<std::string> on_disk;
  for (const std::string& p : SegmentFiles(backup)) {
    on_disk.push_back(BaseName(p));
    EXPECT_EQ(ReadFileBytes(p), ReadFileBytes(dir_ + "/" + BaseName(p))) << p;
  }
  EXPECT_EQ(on_disk, expected);

  ASSERT_OK_AND_ASSIGN(copied, log->CopySealedSegments(backup));
  EXPECT_TRUE(copied.empty());

  // New sealed segments are copied, and only they.
  ASSERT_OK(AppendN(log.get(), 400, 100, &model));
  std::vector<std::string> now = sealed_names();
  std::vector<std::string> fresh(now.begin() + expected.size(), now.end());
  ASSERT_FALSE(fresh.empty());
  ASSERT_OK_AND_ASSIGN(copied, log->CopySealedSegments(backup));
  std::sort(copied.begin(), copied.end());
  EXPECT_EQ(copied, fresh);

  uint64_t last_sealed = 0;
  for (const SegmentInfo& s : log->ListSegments()) {
    if (s.sealed) last_sealed = std::max(last_sealed, s.last_seq);
  }
  ASSERT_OK(log->Close());

  // The copy opens as a log holding everything up to the last sealed record,
  // and continues in a new active segment.
  Options backup_options = options;
  ASSERT_OK_AND_ASSIGN(auto copy, Log::Open(backup_options, backup));
  EXPECT_EQ(copy->FirstSequence(), 1u);
  EXPECT_EQ(copy->LastSequence(), last_sealed);
  std::vector<OwnedRecord> prefix(model.begin(), model.begin() + last_sealed);
  EXPECT_TRUE(LogHolds(*copy, prefix));
  ASSERT_OK_AND_ASSIGN(AppendResult r, copy->Append("after restore"));
  EXPECT_EQ(r.first_seq, last_sealed + 1);
  const std::vector<SegmentInfo> segs = copy->ListSegments();
  ASSERT_EQ(segs.size(), now.size() + 1);
  EXPECT_FALSE(segs.back().sealed);
  EXPECT_EQ(segs.back().first_seq, last_sealed + 1);
}

TEST_F(LogTest, TruncateAfterInTheActiveSegment) {
  const Options options = SmallOptions(64 << 10);
  std::vector<OwnedRecord> model;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 50, 40, &model));
    ASSERT_EQ(log->ListSegments().size(), 1u);
    ASSERT_OK(log->TruncateAfter(30));
    model.resize(30);
    EXPECT_EQ(log->LastSequence(), 30u);
    EXPECT_STATUS_CODE(log->Find(31), absl::StatusCode::kOutOfRange);
    EXPECT_TRUE(LogHolds(*log, model));
    // A different payload at 31, so stale bytes would show.
    ASSERT_OK(AppendN(log.get(), 1, 77, &model));
    EXPECT_EQ(model.back().first_seq, 31u);
    EXPECT_TRUE(LogHolds(*log, model));
    // Truncating at the end changes nothing.
    ASSERT_OK(log->TruncateAfter(31));
    EXPECT_TRUE(LogHolds(*log, model));
    EXPECT_FALSE(log->TruncateAfter(40).ok());
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->LastSequence(), 31u);
  EXPECT_TRUE(LogHolds(*log, model));
}

TEST_F(LogTest, TruncateAfterInAnEarlierSegmentRemovesLaterOnes) {
  const Options options = SmallOptions(16 << 10);
  std::vector<OwnedRecord> model;
  uint64_t cut = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 1000, 100, &model));
    const std::vector<SegmentInfo> segs = log->ListSegments();
    ASSERT_GE(segs.size(), 5u);
    cut = segs[1].first_seq + 10;  // inside the second, sealed segment
    ASSERT_OK(log->TruncateAfter(cut));
    model.resize(cut);
    EXPECT_EQ(log->LastSequence(), cut);
    for (const SegmentInfo& s : log->ListSegments()) {
      EXPECT_LE(s.first_seq, cut) << s.path;
      EXPECT_LE(s.last_seq, cut) << s.path;
    }
    std::vector<std::string> listed;
    for (const SegmentInfo& s : log->ListSegments()) listed.push_back(s.path);
    std::sort(listed.begin(), listed.end());
    EXPECT_EQ(SegmentFiles(dir_), listed);
    EXPECT_TRUE(LogHolds(*log, model));
    ASSERT_OK(AppendN(log.get(), 200, 60, &model));
    EXPECT_EQ(model[cut].first_seq, cut + 1);
    EXPECT_TRUE(LogHolds(*log, model));
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->LastSequence(), cut + 200);
  EXPECT_TRUE(LogHolds(*log, model));
}

TEST_F(LogTest, TruncateInsideAMultiSequenceRecordIsInvalid) {
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(SmallOptions()));
  ASSERT_OK_AND_ASSIGN(AppendResult a, log->Append("one"));
  ASSERT_OK_AND_ASSIGN(AppendResult b, log->Append("five", 5));
  EXPECT_EQ(b.first_seq, 2u);
  for (uint64_t seq : {2u, 3u, 4u, 5u}) {
    EXPECT_STATUS_CODE(log->TruncateAfter(seq),
                       absl::StatusCode::kInvalidArgument)
        << seq;
  }
  EXPECT_EQ(log->LastSequence(), 6u);
  ASSERT_OK(log->TruncateAfter(1));
  EXPECT_EQ(log->LastSequence(), 1u);
  ASSERT_OK_AND_ASSIGN(AppendResult c, log->Append("two"));
  EXPECT_EQ(c.first_seq, 2u);
  EXPECT_EQ(c.position, b.position);
  (void)a;
}

TEST_F(LogTest, TruncateBeforeTheFirstSequenceEmptiesTheLog) {
  const Options options = SmallOptions(16 << 10);
  std::vector<OwnedRecord> model;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 400, 100));
    ASSERT_OK(log->TruncateAfter(log->FirstSequence() - 1));
    EXPECT_EQ(log->LastSequence(), 0u);
    EXPECT_EQ(log->FirstSequence(), 1u);
    EXPECT_TRUE(LogHolds(*log, model));
    ASSERT_OK(AppendN(log.get(), 3, 10, &model));
    EXPECT_EQ(model[0].first_seq, 1u);
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->LastSequence(), 3u);
  EXPECT_TRUE(LogHolds(*log, model));
}

TEST_F(LogTest, BackupRecopiesASegmentSealedAgainAfterTruncation) {
  Options options = SmallOptions(4096, SyncMode::kEveryCommit);
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  ASSERT_OK(AppendN(log.get(), 6, 900));  // segment 1: 1-4 sealed
  const std::string backup = Path("backup");
  ASSERT_OK_AND_ASSIGN(auto first, log->CopySealedSegments(backup));
  ASSERT_EQ(first.size(), 1u);
  // Segment 1 gets a new history: same name, same size, other records.
  ASSERT_OK(log->TruncateAfter(2));
  std::vector<OwnedRecord> model;
  ASSERT_OK(AppendN(log.get(), 12, 400, &model));
  ASSERT_OK_AND_ASSIGN(auto second, log->CopySealedSegments(backup));
  EXPECT_NE(std::find(second.begin(), second.end(), "0000000001.wal"),
            second.end());
  const SegmentInfo sealed = log->ListSegments().front();
  ASSERT_OK(log->Close());
  ASSERT_OK_AND_ASSIGN(auto copy, Log::Open(options, backup));
  EXPECT_EQ(copy->ListSegments().front().last_seq, sealed.last_seq);
  ASSERT_OK_AND_ASSIGN(Position p, copy->Find(3));
  ASSERT_OK_AND_ASSIGN(auto reader, copy->NewReader(3));
  ASSERT_OK_AND_ASSIGN(Record r, reader->Next(absl::InfinitePast()));
  EXPECT_EQ(r.payload, model.front().payload);  // the new record 3
  (void)p;
}

}  // namespace
}  // namespace cairn::wal
