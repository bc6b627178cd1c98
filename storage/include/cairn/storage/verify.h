// VerifyDatabase: an offline check of every checksum and structural
// invariant of a closed database directory, without opening it as a DB and
// without writing anything.
//
// It checks, in this order:
//   - CURRENT: exactly "MANIFEST-NNNNNN\n", naming an existing MANIFEST;
//   - the MANIFEST: every record's checksum and length, every version edit
//     decodes and applies (no file added twice, none deleted that is not
//     live), files of levels >= 1 sorted and disjoint;
//   - every live table: present, of the size the MANIFEST records, and
//     every block of it (footer, metaindex, properties, filter,
//     range-deletion, index and every data block) read and its checksum
//     checked; the blocks tile the file with no gap; keys strictly
//     increasing; index keys separating the blocks; the properties and the
//     MANIFEST's bounds and counts agreeing with the entries; every user key
//     present in the bloom filter;
//   - the WAL (<dir>/wal): every segment header's checksum and fields, every
//     frame's checksum, trailer and zero padding, every payload a well-formed
//     write batch of the frame's sequence count, sequence numbers contiguous
//     within and across segments, zeros after the frames; and that the WAL
//     holds every sequence above the MANIFEST's flushed sequence.
//
// Findings are either corruption (the engine would refuse the database, or
// data the design promises to keep is damaged) or a tolerable torn tail
// (what a crash legitimately leaves and recovery cuts off without losing an
// acknowledged durable write: an unsynced WAL tail, the active segment's
// header, a MANIFEST append cut short).
//
// The database must not be open: VerifyDatabase takes the database's LOCK
// (and the WAL's) for the duration of the check and fails with
// FailedPrecondition if a process holds them. Thread-safe (it shares no
// state).
#ifndef CAIRN_STORAGE_VERIFY_H_
#define CAIRN_STORAGE_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cairn/util/file_system.h"

namespace cairn::storage {

struct VerifyOptions {
  FileSystem* fs = FileSystem::Default();
  // Problems recorded per file at most (the count goes on).
  int max_problems_per_file = 20;
};

struct VerifyProblem {
  enum class Severity { kCorruption, kTornTail };
  // No byte offset applies (a missing file, a cross-file check).
  static constexpr uint64_t kNoOffset = UINT64_MAX;

  Severity severity = Severity::kCorruption;
  std::string file;  // path
  uint64_t offset = kNoOffset;
  std::string what;
};

struct VerifyReport {
  uint64_t files = 0;             // files read (CURRENT, MANIFEST, ...)
  uint64_t bytes = 0;             // bytes read and checked
  uint64_t tables = 0;            // live SSTables
  uint64_t blocks = 0;            // SSTable blocks (every kind)
  uint64_t entries = 0;           // SSTable point entries
  uint64_t manifest_records = 0;  // version edits
  uint64_t wal_segments = 0;
  uint64_t wal_records = 0;  // frames
  uint64_t flushed_seq = 0;  // from the MANIFEST
  uint64_t wal_first_seq = 0;
  uint64_t wal_last_seq = 0;  // 0 if the WAL holds nothing
  std::vector<VerifyProblem> problems;
  // Problems beyond max_problems_per_file, not recorded.
  uint64_t problems_dropped = 0;

  // Whether any problem is corruption (torn tails are tolerable).
  bool corrupt() const;
  // One line of counts, then one line per problem:
  //   corruption: <file> @<offset>: <what>
  //   torn tail:  <file> @<offset>: <what>
  std::string ToString() const;
};

// NotFound if dir holds no database (no CURRENT, no MANIFEST, no table);
// FailedPrecondition if the database is open (its LOCK is held); another
// error if reading fails for a reason other than damage. Damage itself is
// reported in the VerifyReport, never as an error status.
absl::StatusOr<VerifyReport> VerifyDatabase(const std::string& dir,
                                            const VerifyOptions& options = {});

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_VERIFY_H_
