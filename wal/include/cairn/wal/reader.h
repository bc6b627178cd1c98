// A Reader iterates over the records of a Log in sequence order, from a
// chosen sequence number on. It follows segment rotation by itself and, at
// the end of the log, blocks until a new record is appended: woken by a
// notification from the writer, never by polling.
//
// Records are read in place from the mapped segments: a Record's payload
// stays valid until the next call to Next (or the Reader's destruction).
// While a Reader is positioned in a segment, that segment's file is not
// deleted by retention.
//
// Thread-safety: a Reader is used by one thread at a time, except Cancel,
// which any thread may call.
#ifndef CAIRN_WAL_READER_H_
#define CAIRN_WAL_READER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cairn::wal {

class LogCore;
class Segment;

// Where a record's frame starts.
struct Position {
  uint32_t segment_id = 0;
  uint64_t offset = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

struct Record {
  uint64_t first_seq = 0;
  uint32_t seq_count = 0;
  std::string_view payload;
  Position position;
  uint64_t last_seq() const { return first_seq + seq_count - 1; }
};

class Reader {
 public:
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Returns the next record. If the reader has caught up, waits for one
  // until deadline: DeadlineExceeded when it passes (a deadline in the past
  // makes Next non-blocking), Cancelled after Cancel(), FailedPrecondition
  // once the log is closed or truncated below the reader's position,
  // DataLoss if a frame fails its checksum, OutOfRange if retention
  // removed the records after the reader's position while it lagged (it
  // keeps only the segment it is in).
  absl::StatusOr<Record> Next(absl::Time deadline = absl::InfiniteFuture());

  // Makes a blocked (or the next) Next return Cancelled. Thread-safe.
  void Cancel();

  // Sequence number of the next record this reader will return.
  uint64_t next_seq() const { return next_seq_; }

 private:
  friend class LogCore;
  Reader(std::shared_ptr<LogCore> core, std::shared_ptr<Segment> segment,
         uint64_t offset, uint64_t next_seq, uint64_t epoch);

  // Re-reads the log's state after reaching limit_; false if nothing new.
  absl::StatusOr<bool> Refresh(absl::Time deadline);

  std::shared_ptr<LogCore> core_;
  std::shared_ptr<Segment> segment_;
  uint64_t offset_;     // next frame to read in segment_
  uint64_t limit_ = 0;  // frames before this offset are committed
  uint64_t next_seq_;
  uint64_t epoch_;        // the log's truncation epoch this reader has seen
  absl::Status failure_;  // once set (truncated past), every Next returns it
  std::atomic<bool> cancelled_{false};
};

}  // namespace cairn::wal

#endif  // CAIRN_WAL_READER_H_
