// ChangeReader: the committed writes of a DB as a stream of changes, read
// from its write-ahead log. This is what Tail (change data capture) and read
// replicas follow.
//
// Each WAL record is one committed batch (a ChangeBatch): its operations
// have consecutive sequence numbers and one commit time. Batches come in
// sequence order with no gap and no duplicate, across segment rotation,
// flushes and reopens, for as long as the WAL retains them (see Options::wal
// and docs/architecture.md, "Tail"). At the end of the log, Next waits for
// the next commit, woken by the WAL's append notification.
//
// Nothing is copied: a ChangeBatch and the Changes it yields point into the
// mapped WAL segment and stay valid until the next call to Next (or the
// reader's destruction). While the reader is positioned in a segment, that
// segment is not deleted.
//
// Only acknowledged writes are seen: a batch is returned once the DB has
// published its sequence (DB::LastSequence() reached it), which is after
// its WAL append, after the fdatasync of its commit group if any write of
// the group asked for one, and just before its writer is answered. So a
// reader never holds a write that the DB could still take back.
//
// Thread-safety: one thread at a time, except Cancel (any thread).
#ifndef CAIRN_STORAGE_CHANGE_READER_H_
#define CAIRN_STORAGE_CHANGE_READER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cairn::wal {
class Log;
class Reader;
}  // namespace cairn::wal

namespace cairn::storage {

class DB;

enum class ChangeType { kPut, kDelete, kDeleteRange, kMerge };

// One operation of a committed batch.
struct Change {
  uint64_t seq = 0;
  ChangeType type = ChangeType::kPut;
  std::string_view key;  // delete-range: the start of the range
  // Put: the value; merge: the operand; otherwise empty.
  std::string_view value;
  std::string_view range_end;  // delete-range: the exclusive end
  std::string_view merge_operator;
  std::string_view merge_argument;
  uint64_t expires_at_micros = 0;  // put with TTL; 0: none
};

// One committed batch: the operations of one atomic write or transaction.
struct ChangeBatch {
  uint64_t first_seq = 0;
  uint32_t count = 0;          // sequences first_seq .. first_seq + count - 1
  uint64_t commit_micros = 0;  // commit time, microseconds since the epoch
  std::string_view payload;    // the batch's encoding (docs/formats.md)

  uint64_t last_seq() const { return first_seq + count - 1; }
  // Calls fn for each operation in sequence order; stops at fn's first
  // error. DataLoss if the payload is malformed.
  absl::Status ForEach(absl::FunctionRef<absl::Status(const Change&)> fn) const;
};

// Decodes the header of a batch's encoding; DataLoss if it is malformed.
absl::StatusOr<ChangeBatch> ParseChangeBatch(uint64_t first_seq,
                                             std::string_view payload);

class ChangeReader {
 public:
  // A reader whose first batch is the one holding from_seq (which may start
  // below it: callers skip the changes before from_seq). from_seq may be the
  // log's last sequence + 1, to wait for the next commit. OutOfRange if the
  // WAL no longer holds from_seq (the message names the first sequence it
  // holds; see FirstAvailable) or if from_seq is further in the future.
  static absl::StatusOr<std::unique_ptr<ChangeReader>> Open(DB* db,
                                                            uint64_t from_seq);
  ~ChangeReader();
  ChangeReader(const ChangeReader&) = delete;
  ChangeReader& operator=(const ChangeReader&) = delete;

  // The next committed batch. At the end of the log, waits for one until
  // deadline: DeadlineExceeded when it passes (a past deadline makes it
  // non-blocking), Cancelled after Cancel(), FailedPrecondition once the
  // log is closed, DataLoss for a corrupt record, OutOfRange when retention
  // removed what comes next while this reader lagged.
  absl::StatusOr<ChangeBatch> Next(
      absl::Time deadline = absl::InfiniteFuture());

  // Makes a blocked (or the next) Next return Cancelled.
  void Cancel();

  // The first sequence of the batch Next returns next: everything below it
  // has been returned.
  uint64_t next_seq() const;

 private:
  ChangeReader(DB* db, std::unique_ptr<wal::Reader> reader);
  DB* const db_;
  std::unique_ptr<wal::Reader> reader_;
  // Read from the WAL but not yet acknowledged by the DB.
  std::optional<ChangeBatch> pending_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_CHANGE_READER_H_
