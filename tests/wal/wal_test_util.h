// Helpers shared by the WAL tests: a temporary-directory fixture, status
// assertion macros, deterministic payloads, reading a whole log, raw file
// surgery for corruption tests and segment file listing.
//
// Everything here is test-only and single-threaded unless stated otherwise.
#ifndef CAIRN_TESTS_WAL_WAL_TEST_UTIL_H_
#define CAIRN_TESTS_WAL_WAL_TEST_UTIL_H_

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/wal/format.h"
#include "cairn/wal/log.h"
#include "cairn/wal/options.h"
#include "cairn/wal/reader.h"
#include "gtest/gtest.h"

namespace cairn::wal::test_util {

inline absl::Status ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace cairn::wal::test_util

#define CAIRN_WAL_CONCAT_INNER_(a, b) a##b
#define CAIRN_WAL_CONCAT_(a, b) CAIRN_WAL_CONCAT_INNER_(a, b)

namespace cairn::wal::test_util {

template <typename T>
::testing::AssertionResult IsOk(const char* expr, const T& value) {
  const absl::Status s = ToStatus(value);
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expr << " -> " << s;
}

template <typename T>
::testing::AssertionResult HasCode(const char* expr, const char* /*code*/,
                                   const T& value, absl::StatusCode code) {
  const absl::Status s = ToStatus(value);
  if (s.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << expr << " -> " << s << ", expected code "
         << absl::StatusCodeToString(code);
}

}  // namespace cairn::wal::test_util

// All of these accept a Status or a StatusOr and a streamed message.
#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::cairn::wal::test_util::IsOk, expr)
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::cairn::wal::test_util::IsOk, expr)
#define EXPECT_STATUS_CODE(expr, code) \
  EXPECT_PRED_FORMAT2(::cairn::wal::test_util::HasCode, expr, code)
#define ASSERT_STATUS_CODE(expr, code) \
  ASSERT_PRED_FORMAT2(::cairn::wal::test_util::HasCode, expr, code)

#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                   \
  ASSERT_OK_AND_ASSIGN_IMPL_(CAIRN_WAL_CONCAT_(cairn_statusor_, __LINE__), \
                             lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(var, lhs, rexpr)          \
  auto var = (rexpr);                                        \
  ASSERT_TRUE(var.ok()) << #rexpr << " -> " << var.status(); \
  lhs = std::move(var).value()

namespace cairn::wal::test_util {

// A record copied out of a Reader (whose payloads only live until Next).
struct OwnedRecord {
  uint64_t first_seq = 0;
  uint32_t seq_count = 0;
  std::string payload;
  Position position;  // segment_id 0: unknown, not compared
};

inline std::ostream& operator<<(std::ostream& os, const OwnedRecord& r) {
  return os << "{seq " << r.first_seq << " x" << r.seq_count << ", "
            << r.payload.size() << " bytes at " << r.position.segment_id << ":"
            << r.position.offset << "}";
}

// "rec-<seq>-" followed by deterministic letters up to `size` bytes (the
// prefix alone if it is longer than size).
inline std::string Payload(uint64_t seq, size_t size) {
  std::string p = "rec-" + std::to_string(seq) + "-";
  uint64_t x = seq * 0x9E3779B97F4A7C15ull + 0x1234567ull;
  while (p.size() < size) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p.push_back(static_cast<char>('a' + x % 26));
  }
  return p;
}

// Appends n records of `size`-byte payloads (Payload(first_seq, size)), each
// covering seq_count sequences, checks that their sequences follow the log's
// last one, and adds them to *model (if not null).
inline absl::Status AppendN(Log* log, uint64_t n, size_t size,
                            std::vector<OwnedRecord>* model = nullptr,
                            uint32_t seq_count = 1,
                            const AppendOptions& options = {}) {
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t expected = log->LastSequence() + 1;
    std::string payload = Payload(expected, size);
    absl::StatusOr<AppendResult> r = log->Append(payload, seq_count, options);
    if (!r.ok()) return r.status();
    if (r->first_seq != expected || r->seq_count != seq_count) {
      return absl::InternalError(
          "append got seq " + std::to_string(r->first_seq) + " x" +
          std::to_string(r->seq_count) + ", expected " +
          std::to_string(expected) + " x" + std::to_string(seq_count));
    }
    if (model != nullptr) {
      model->push_back(OwnedRecord{r->first_seq, r->seq_count,
                                   std::move(payload), r->position});
    }
  }
  return absl::OkStatus();
}

struct ReadResult {
  std::vector<OwnedRecord> records;
  // Why reading stopped: DeadlineExceeded when it simply caught up.
  absl::Status status;
};

// Reads every record the reader can return without blocking.
inline ReadResult ReadAll(Reader* reader, size_t max_records = 10'000'000) {
  ReadResult result;
  while (result.records.size() < max_records) {
    absl::StatusOr<Record> r = reader->Next(absl::InfinitePast());
    if (!r.ok()) {
      result.status = r.status();
      return result;
    }
    result.records.push_back(OwnedRecord{r->first_seq, r->seq_count,
                                         std::string(r->payload), r->position});
  }
  result.status = absl::OkStatus();
  return result;
}

// Reads the whole log from its first sequence.
inline ReadResult ReadLog(const Log& log) {
  absl::StatusOr<std::unique_ptr<Reader>> reader =
      log.NewReader(log.FirstSequence());
  if (!reader.ok()) return ReadResult{{}, reader.status()};
  return ReadAll(reader->get());
}

// Compares records (first_seq, seq_count, payload; position too when `want`
// knows it).
inline ::testing::AssertionResult SameRecords(
    const std::vector<OwnedRecord>& got, const std::vector<OwnedRecord>& want) {
  const size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    const OwnedRecord& g = got[i];
    const OwnedRecord& w = want[i];
    bool same = g.first_seq == w.first_seq && g.seq_count == w.seq_count &&
                g.payload == w.payload;
    if (w.position.segment_id != 0 && !(g.position == w.position)) {
      same = false;
    }
    if (!same) {
      return ::testing::AssertionFailure()
             << "record #" << i << " is " << g << ", expected " << w;
    }
  }
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure()
           << "got " << got.size() << " records, expected " << want.size();
  }
  return ::testing::AssertionSuccess();
}

// Reads the whole log and checks it holds exactly `want` and nothing more.
inline ::testing::AssertionResult LogHolds(
    const Log& log, const std::vector<OwnedRecord>& want) {
  ReadResult r = ReadLog(log);
  if (!absl::IsDeadlineExceeded(r.status)) {
    return ::testing::AssertionFailure()
           << "reading stopped with " << r.status << " after "
           << r.records.size() << " records";
  }
  return SameRecords(r.records, want);
}

// --- Raw files -------------------------------------------------------------

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

// Overwrites bytes [offset, offset + data.size()) of an existing file.
inline void PatchFile(const std::string& path, uint64_t offset,
                      std::string_view data) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.is_open()) << path;
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << path;
}

inline void WriteFileBytes(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << path;
}

inline void FlipBit(const std::string& path, uint64_t offset, int bit) {
  std::string bytes = ReadFileBytes(path);
  ASSERT_LT(offset, bytes.size()) << path;
  char c = static_cast<char>(bytes[offset] ^ (1 << bit));
  PatchFile(path, offset, std::string_view(&c, 1));
}

// Full paths of the files in dir whose names end with suffix, sorted.
inline std::vector<std::string> FilesWithSuffix(const std::string& dir,
                                                std::string_view suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::string> SegmentFiles(const std::string& dir) {
  return FilesWithSuffix(dir, ".wal");
}

inline std::string BaseName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// Copies a whole directory (a log that is not open, or crashed).
inline void CopyDir(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::remove_all(to, ec);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, ec);
  ASSERT_FALSE(ec) << "copy " << from << " -> " << to << ": " << ec.message();
}

// Offset of the 16-bit version field inside an encoded segment header,
// found by encoding a header with an unmistakable version value.
inline size_t HeaderVersionOffset() {
  SegmentHeader h;
  h.version = 0xA5C3;
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(h, buf);
  for (size_t i = 0; i + 1 < kSegmentHeaderSize; ++i) {
    if (static_cast<unsigned char>(buf[i]) == 0xC3 &&
        static_cast<unsigned char>(buf[i + 1]) == 0xA5) {
      return i;
    }
  }
  return kSegmentHeaderSize;  // not found: no byte is treated as version
}

// --- Fixture ---------------------------------------------------------------

// Gives each test a fresh directory under /tmp, removed afterwards.
class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/cairn-wal-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    root_ = tmpl;
    dir_ = root_ + "/log";
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  // A path inside the test's temporary directory.
  std::string Path(const std::string& name) const { return root_ + "/" + name; }

  // Options with small segments, for fast rotation.
  static Options SmallOptions(uint64_t segment_size = 16 << 10,
                              SyncMode mode = SyncMode::kNone) {
    Options o;
    o.segment_size = segment_size;
    o.sync_mode = mode;
    return o;
  }

  absl::StatusOr<std::unique_ptr<Log>> OpenLog(const Options& options) {
    return Log::Open(options, dir_);
  }

  std::string root_;
  std::string dir_;  // the log directory (created by Log::Open)
};

}  // namespace cairn::wal::test_util

#endif  // CAIRN_TESTS_WAL_WAL_TEST_UTIL_H_
