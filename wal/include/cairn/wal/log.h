// Log is Cairn's write-ahead log: a directory of preallocated, memory-mapped
// segment files holding checksummed records, each covering a range of
// sequence numbers (see format.h and docs/formats.md).
//
// Writing: Append copies a record into the mapped active segment. Concurrent
// appends form commit groups: one leader writes every waiting record and, if
// any of them must be durable, issues one sync for all of them. Sequence
// numbers are assigned in commit order, without gaps. When the active segment
// is full, the next one (created ahead of need) takes over at once; the full
// one is synced and sealed in the background, and before any later sync
// completes, so that what is durable is always a prefix of the log.
//
// Visibility: a record becomes visible to readers (and Find) when its append
// returns successfully: after its sync, for a durable append. Readers never
// see a record that a later failure could still take back.
//
// Recovery: Open scans the last segment, cuts a torn or unsynced tail and
// zeroes everything after it, and reports corruption found below the
// durable end as DataLoss instead of skipping it.
//
// Retention: the owner says which sequences it no longer needs
// (SetDeletableBelow); sealed segments wholly below that, and outside the
// retention window of Options, are deleted, each only once no reader holds
// it.
//
// Thread-safety: all methods may be called concurrently, except Close (and
// destruction), which must not race with other calls on the Log. Readers may
// outlive the Log; after Close they report FailedPrecondition.
#ifndef CAIRN_WAL_LOG_H_
#define CAIRN_WAL_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/wal/options.h"
#include "cairn/wal/reader.h"

namespace cairn::wal {

class LogCore;

struct AppendResult {
  uint64_t first_seq = 0;  // the record covers [first_seq, first_seq + count)
  uint32_t seq_count = 0;
  Position position;
};

struct SegmentInfo {
  uint32_t id = 0;
  std::string path;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;  // first_seq - 1 if the segment has no record
  uint64_t bytes = 0;     // file size
  uint64_t used = 0;      // end of its frames
  // No longer written to. Its sealed header reaches the disk shortly after,
  // from the background thread, and before any later sync completes.
  bool sealed = false;
};

class Log {
 public:
  // Opens the log in dir, creating dir and a first segment if needed. Takes
  // the lock file dir/LOCK: a second Open of the same dir fails with
  // FailedPrecondition while this Log is open.
  static absl::StatusOr<std::unique_ptr<Log>> Open(const Options& options,
                                                   const std::string& dir);
  ~Log();  // Close(), ignoring its error.
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends one record covering seq_count (>= 1) sequence numbers. Returns
  // after the record is in the log and, if the sync mode or options ask for
  // it, durable. On error nothing of the record remains and no sequence
  // number is used. InvalidArgument if the record cannot fit in a segment.
  absl::StatusOr<AppendResult> Append(std::string_view payload,
                                      uint32_t seq_count = 1,
                                      const AppendOptions& options = {});

  // Makes every record appended so far durable (and every sealed segment's
  // header).
  absl::Status Sync();

  // Syncs, marks the active segment closed cleanly and releases the lock.
  // Later calls fail with FailedPrecondition.
  absl::Status Close();

  // The first sequence still in the log (retention removes older ones).
  uint64_t FirstSequence() const;
  // The last sequence visible to readers; FirstSequence() - 1 if none.
  uint64_t LastSequence() const;

  // Position of the record that contains seq. OutOfRange if seq is below
  // FirstSequence() (the message names the first available sequence) or
  // above LastSequence().
  absl::StatusOr<Position> Find(uint64_t seq) const;

  // A reader whose first record is the one containing from_seq. from_seq may
  // be LastSequence() + 1: the reader then waits for the next append.
  // OutOfRange if from_seq was removed by retention or is in the future.
  absl::StatusOr<std::unique_ptr<Reader>> NewReader(uint64_t from_seq) const;

  // Retention: sealed segments whose sequences are all below seq may be
  // deleted, now or later (a segment whose seal is still being written goes
  // once it is sealed). The watermark only moves forward, except through
  // TruncateAfter.
  void SetDeletableBelow(uint64_t seq);
  // Tail consumers still need sequences >= seq (0: no hold).
  void SetRetentionHold(uint64_t seq);
  // Applies the retention rules now (sealing retired segments first). Also
  // runs after the watermark or the hold moves, in the background after each
  // segment is sealed, and every second when retain_age is set.
  absl::Status EnforceRetention();

  // Drops every record after seq, which must end a record (or be
  // FirstSequence() - 1 to empty the log; LastSequence() changes nothing).
  // OutOfRange outside [FirstSequence() - 1, LastSequence()],
  // InvalidArgument inside a multi-sequence record. The next append gets
  // seq + 1, and the deletable-below watermark drops to seq + 1 if it was
  // higher (the sequences after seq will be written anew).
  // Readers positioned past seq fail with FailedPrecondition. Waits for
  // in-flight appends first.
  absl::Status TruncateAfter(uint64_t seq);

  // Copies each sealed segment not already there (same name and size) into
  // dest_dir, which is created if needed. Returns the names copied.
  absl::StatusOr<std::vector<std::string>> CopySealedSegments(
      const std::string& dest_dir) const;

  std::vector<SegmentInfo> ListSegments() const;
  LogStats GetStats() const;
  const RecoveryReport& recovery_report() const;

  // Closes like a crash would: nothing more is written or synced (records
  // not yet durable stay wherever the page cache has them). For tests.
  void SimulateCrashForTesting();

 private:
  explicit Log(std::shared_ptr<LogCore> core);

  std::shared_ptr<LogCore> core_;
};

}  // namespace cairn::wal

#endif  // CAIRN_WAL_LOG_H_
