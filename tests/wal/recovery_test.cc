// Crash recovery: torn tails are cut, corruption below the durable end is
// reported, and nothing acknowledged is lost to a process crash.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cairn/wal/format.h"
#include "cairn/wal/log.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::AppendN;
using test_util::BaseName;
using test_util::CopyDir;
using test_util::FlipBit;
using test_util::HeaderVersionOffset;
using test_util::LogHolds;
using test_util::OwnedRecord;
using test_util::PatchFile;
using test_util::ReadAll;
using test_util::ReadFileBytes;
using test_util::ReadResult;
using test_util::SameRecords;

// 100-byte payloads make 128-byte frames without padding, so every byte of
// a frame matters.
constexpr size_t kPayload = 100;
constexpr uint64_t kFrame = 128;
static_assert(FrameSize(kPayload) == kFrame);

class RecoveryTest : public test_util::WalTest {
 protected:
  // Path of the file holding segment `id` of the log in `dir`.
  std::string SegmentPath(const std::string& dir, uint32_t id) const {
    auto it = names_.find(id);
    EXPECT_NE(it, names_.end()) << "unknown segment " << id;
    return it == names_.end() ? std::string() : dir + "/" + it->second;
  }
  void RememberSegments(const Log& log) {
    for (const SegmentInfo& s : log.ListSegments()) {
      names_[s.id] = BaseName(s.path);
    }
  }
  // Opens the log in `dir` and expects Open to fail with DataLoss.
  void ExpectOpenDataLoss(const Options& options, const std::string& dir,
                          const std::string& what) {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, dir);
    EXPECT_STATUS_CODE(log, absl::StatusCode::kDataLoss) << what;
  }

  std::map<uint32_t, std::string> names_;
  std::vector<OwnedRecord> model_;
};

// The last frame was written but never synced when the process died, and
// then the disk kept only part of it. Every cut point inside it is tried.
class TornTailTest : public RecoveryTest,
                     public ::testing::WithParamInterface<bool> {};

TEST_P(TornTailTest, EveryCutPointOfTheLastFrame) {
  const bool flip = GetParam();
  constexpr uint64_t kSynced = 20;
  const Options options = SmallOptions(16 << 10, SyncMode::kNone);
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    AppendOptions durable;
    durable.sync = true;
    ASSERT_OK(AppendN(log.get(), kSynced, kPayload, &model_, 1, durable));
    ASSERT_OK(AppendN(log.get(), 1, kPayload, &model_));  // not synced
    RememberSegments(*log);
    log->SimulateCrashForTesting();
  }
  const Position last = model_.back().position;
  const std::vector<OwnedRecord> survivors(model_.begin(),
                                           model_.begin() + kSynced);
  const std::string intact = ReadFileBytes(SegmentPath(dir_, last.segment_id));
  {
    FrameView f;
    ASSERT_EQ(DecodeFrame(intact.data() + last.offset,
                          intact.size() - last.offset, &f),
              FrameError::kNone);
    ASSERT_EQ(f.first_seq, kSynced + 1);
  }

  for (uint64_t k = last.offset; k < last.offset + kFrame; ++k) {
    SCOPED_TRACE("damage from byte " + std::to_string(k - last.offset));
    const std::string copy = Path("copy");
    CopyDir(dir_, copy);
    const std::string seg = SegmentPath(copy, last.segment_id);
    std::string tail = intact.substr(k, last.offset + kFrame - k);
    for (char& c : tail) c = flip ? static_cast<char>(~c) : '\0';
    PatchFile(seg, k, tail);
    const std::string damaged = ReadFileBytes(seg);
    bool nonzero = false;
    for (uint64_t i = last.offset; i < last.offset + kFrame; ++i) {
      nonzero |= damaged[i] != 0;
    }
    {
      ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, copy));
      EXPECT_EQ(log->LastSequence(), kSynced);
      EXPECT_TRUE(LogHolds(*log, survivors));
      const RecoveryReport& report = log->recovery_report();
      EXPECT_EQ(report.truncated_tail, nonzero);
      if (nonzero) {
        EXPECT_EQ(report.truncated_at, last.offset);
        EXPECT_GT(report.truncated_bytes, 0u);
        EXPECT_LE(report.truncated_bytes, kFrame);
      }
      // Everything after the cut is zero again.
      const std::string after = ReadFileBytes(seg);
      ASSERT_EQ(after.size(), options.segment_size);
      EXPECT_EQ(after.find_first_not_of('\0', last.offset), std::string::npos);
      ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("after the crash"));
      EXPECT_EQ(r.first_seq, kSynced + 1);
      ASSERT_OK(log->Close());
    }
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, copy));
    std::vector<OwnedRecord> want = survivors;
    want.push_back(OwnedRecord{kSynced + 1, 1, "after the crash", {}});
    EXPECT_TRUE(LogHolds(*log, want));
    EXPECT_FALSE(log->recovery_report().truncated_tail);
    log.reset();
    std::filesystem::remove_all(copy);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(ZeroOrFlip, TornTailTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Flipped" : "Zeroed";
                         });

TEST_F(RecoveryTest, ProcessCrashKeepsUnsyncedRecords) {
  const Options options = SmallOptions(16 << 10, SyncMode::kNone);
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 500, kPayload, &model_));  // 4 rotations
    ASSERT_OK(AppendN(log.get(), 3, 7, &model_, 2));
    log->SimulateCrashForTesting();
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model_));
  EXPECT_FALSE(log->recovery_report().truncated_tail);
  EXPECT_FALSE(log->recovery_report().rebuilt_header);
  EXPECT_EQ(log->recovery_report().dropped_frames_after_cut, 0u);
  EXPECT_EQ(log->recovery_report().segments, log->ListSegments().size());
  ASSERT_OK(AppendN(log.get(), 1, 10, &model_));
  EXPECT_EQ(model_.back().first_seq, 507u);
}

TEST_F(RecoveryTest, CleanReopenReportsNothing) {
  const Options options = SmallOptions(16 << 10);
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 300, kPayload, &model_));
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  const RecoveryReport& report = log->recovery_report();
  EXPECT_FALSE(report.truncated_tail);
  EXPECT_FALSE(report.rebuilt_header);
  EXPECT_EQ(report.removed_temp_files, 0u);
  EXPECT_EQ(report.segments, 3u);
  EXPECT_TRUE(LogHolds(*log, model_));
}

// Ten durable records, closed cleanly: all are below the durable end, so a
// flipped bit in any of them is corruption, never a tail to cut.
TEST_F(RecoveryTest, CorruptionBelowTheDurableEndIsDataLoss) {
  const Options options = SmallOptions(16 << 10, SyncMode::kEveryCommit);
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 10, kPayload, &model_));
    RememberSegments(*log);
    ASSERT_OK(log->Close());
  }
  for (size_t index : {size_t{2}, size_t{9}}) {  // record 3 and the last one
    const Position at = model_[index].position;
    for (uint64_t byte = 0; byte < kFrame; ++byte) {
      const std::string copy = Path("copy");
      CopyDir(dir_, copy);
      FlipBit(SegmentPath(copy, at.segment_id), at.offset + byte,
              static_cast<int>(byte % 8));
      ExpectOpenDataLoss(options, copy,
                         "record " + std::to_string(index + 1) + " byte " +
                             std::to_string(byte));
      std::filesystem::remove_all(copy);
    }
  }
  // The untouched original still opens.
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model_));
}

// Same, after a process crash instead of a clean close: the records were
// acknowledged durable, so dropping them silently would lose them.
TEST_F(RecoveryTest, CorruptionOfDurableRecordsAfterACrashIsDataLoss) {
  const Options options = SmallOptions(16 << 10, SyncMode::kEveryCommit);
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 10, kPayload, &model_));
    RememberSegments(*log);
    log->SimulateCrashForTesting();
  }
  const Position at = model_[2].position;
  for (uint64_t byte :
       {uint64_t{0}, uint64_t{5}, uint64_t{30}, uint64_t{125}}) {
    const std::string copy = Path("copy");
    CopyDir(dir_, copy);
    FlipBit(SegmentPath(copy, at.segment_id), at.offset + byte, 3);
    ExpectOpenDataLoss(options, copy, "byte " + std::to_string(byte));
    std::filesystem::remove_all(copy);
  }
}

TEST_F(RecoveryTest, SealedSegmentHeaderCorruptionIsDataLoss) {
  const Options options = SmallOptions(16 << 10);
  std::vector<SegmentInfo> segs;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 300, kPayload, &model_));
    segs = log->ListSegments();
    ASSERT_EQ(segs.size(), 3u);
    ASSERT_TRUE(segs[1].sealed);
    ASSERT_OK(log->Close());
  }
  const size_t version_at = HeaderVersionOffset();
  for (size_t seg : {size_t{0}, size_t{1}}) {
    for (uint64_t byte = 0; byte < kSegmentHeaderSize; ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        const std::string copy = Path("copy");
        CopyDir(dir_, copy);
        FlipBit(copy + "/" + BaseName(segs[seg].path), byte, bit);
        absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, copy);
        ASSERT_FALSE(log.ok()) << "segment " << seg << " header byte " << byte
                               << " bit " << bit << " went unnoticed";
        if (byte == version_at || byte == version_at + 1) {
          EXPECT_TRUE(absl::IsDataLoss(log.status()) ||
                      absl::IsFailedPrecondition(log.status()))
              << log.status();
        } else {
          EXPECT_TRUE(absl::IsDataLoss(log.status()))
              << "byte " << byte << " bit " << bit << ": " << log.status();
        }
        std::filesystem::remove_all(copy);
      }
    }
  }
}

// The last segment's header may be torn by a crash while it is rewritten;
// it is rebuilt from the frames, which are all intact.
TEST_F(RecoveryTest, LastSegmentHeaderIsRebuilt) {
  const Options options = SmallOptions(16 << 10);
  std::string last_path;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 300, kPayload, &model_));
    last_path = log->ListSegments().back().path;
    ASSERT_OK(log->Close());
  }
  const size_t version_at = HeaderVersionOffset();
  for (uint64_t byte = 0; byte < kSegmentHeaderSize; ++byte) {
    if (byte == version_at || byte == version_at + 1) continue;
    SCOPED_TRACE("header byte " + std::to_string(byte));
    const std::string copy = Path("copy");
    CopyDir(dir_, copy);
    FlipBit(copy + "/" + BaseName(last_path), byte, static_cast<int>(byte % 8));
    {
      ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, copy));
      EXPECT_TRUE(log->recovery_report().rebuilt_header);
      EXPECT_TRUE(LogHolds(*log, model_));
      ASSERT_OK_AND_ASSIGN(AppendResult r, log->Append("next"));
      EXPECT_EQ(r.first_seq, 301u);
      ASSERT_OK(log->Close());
    }
    ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, copy));
    EXPECT_FALSE(log->recovery_report().rebuilt_header);
    EXPECT_EQ(log->LastSequence(), 301u);
    log.reset();
    std::filesystem::remove_all(copy);
  }
}

// Sealed segments are not scanned at open, but every read checks each
// frame: a damaged one is reported where it is, never skipped or returned.
TEST_F(RecoveryTest, CorruptFrameInASealedSegmentFailsTheReader) {
  const Options options = SmallOptions(16 << 10);
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 300, kPayload, &model_));
    RememberSegments(*log);
    ASSERT_TRUE(log->ListSegments()[0].sealed);
    ASSERT_OK(log->Close());
  }
  const size_t victim = 40;  // record 41, in the first (sealed) segment
  const Position at = model_[victim].position;
  ASSERT_EQ(at.segment_id, model_[0].position.segment_id);
  // crc, length, first_seq, seq_count, payload, trailer.
  for (uint64_t byte : {uint64_t{1}, uint64_t{4}, uint64_t{6}, uint64_t{9},
                        uint64_t{17}, uint64_t{20}, uint64_t{70}, uint64_t{119},
                        uint64_t{122}, uint64_t{127}}) {
    SCOPED_TRACE("frame byte " + std::to_string(byte));
    const std::string copy = Path("copy");
    CopyDir(dir_, copy);
    FlipBit(SegmentPath(copy, at.segment_id), at.offset + byte, 2);
    {
      ASSERT_OK_AND_ASSIGN(auto log, Log::Open(options, copy));
      ASSERT_OK_AND_ASSIGN(auto reader, log->NewReader(1));
      ReadResult r = ReadAll(reader.get());
      EXPECT_TRUE(absl::IsDataLoss(r.status)) << r.status;
      EXPECT_TRUE(SameRecords(
          r.records,
          std::vector<OwnedRecord>(model_.begin(), model_.begin() + victim)));
      // Asking again does not skip past the damage.
      absl::StatusOr<Record> again = reader->Next(absl::InfinitePast());
      EXPECT_FALSE(again.ok()) << "returned seq " << again->first_seq;
      // Records after the damage in later segments remain readable.
      const uint64_t later = log->ListSegments()[1].first_seq;
      ASSERT_OK_AND_ASSIGN(auto tail, log->NewReader(later));
      ReadResult t = ReadAll(tail.get());
      EXPECT_TRUE(absl::IsDeadlineExceeded(t.status)) << t.status;
      EXPECT_TRUE(SameRecords(
          t.records, std::vector<OwnedRecord>(model_.begin() + (later - 1),
                                              model_.end())));
    }
    std::filesystem::remove_all(copy);
  }
}

TEST_F(RecoveryTest, LeftoverTempFilesAreRemoved) {
  Options options = SmallOptions(16 << 10);
  // No spare segments: their creation makes .tmp files of its own.
  options.prepare_next_segment = false;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    ASSERT_OK(AppendN(log.get(), 200, kPayload, &model_));
    ASSERT_OK(log->Close());
  }
  // What a crash in the middle of creating a segment (or copying one)
  // leaves behind.
  const std::vector<std::string> temps = {dir_ + "/0000000003.wal.tmp",
                                          dir_ + "/0000000099.wal.tmp"};
  test_util::WriteFileBytes(temps[0], std::string(16 << 10, '\0'));
  test_util::WriteFileBytes(temps[1], "partial");
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->recovery_report().removed_temp_files, 2u);
  for (const std::string& t : temps) EXPECT_FALSE(std::filesystem::exists(t));
  EXPECT_TRUE(test_util::FilesWithSuffix(dir_, ".tmp").empty());
  EXPECT_TRUE(LogHolds(*log, model_));
  ASSERT_OK(AppendN(log.get(), 200, kPayload, &model_));
  ASSERT_OK(log->Close());
  log.reset();
  ASSERT_OK_AND_ASSIGN(log, OpenLog(options));
  EXPECT_TRUE(LogHolds(*log, model_));
}

}  // namespace
}  // namespace cairn::wal
