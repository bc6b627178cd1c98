// SnapshotLoader: builds a new database from a consistent snapshot of
// another one, given as its live entries in key order, each with the
// sequence of the write that produced it (its revision). A read replica
// bootstraps this way from its primary's Scan at sequence S: the loaded
// database holds exactly the primary's state at S, with the same revisions,
// and its last sequence is S, so the primary's changes from S + 1 on apply
// to it with DB::ApplyReplicated.
//
// The entries go straight into SSTables at the bottom level (split at
// Options::target_file_size); Finish writes the MANIFEST and CURRENT last,
// so a load that fails or is interrupted leaves no database: the directory
// only holds leftovers, which the next Create removes. The loader holds the
// directory's lock: destroy it, then open the result with DB::Open.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_SNAPSHOT_LOADER_H_
#define CAIRN_STORAGE_SNAPSHOT_LOADER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/storage/options.h"

namespace cairn {
class FileLock;
}

namespace cairn::storage {

class TableFileWriter;
struct FileMetaData;

class SnapshotLoader {
 public:
  // Starts loading the snapshot at snapshot_seq (>= 1) into path, which
  // must hold no database: FailedPrecondition if it has a CURRENT file or
  // anything a database directory does not hold. Leftovers of an unfinished
  // load (tables, MANIFESTs, temporary files) are removed.
  static absl::StatusOr<std::unique_ptr<SnapshotLoader>> Create(
      const Options& options, const std::string& path, uint64_t snapshot_seq);
  ~SnapshotLoader();  // an unfinished load is abandoned
  SnapshotLoader(const SnapshotLoader&) = delete;
  SnapshotLoader& operator=(const SnapshotLoader&) = delete;

  // Adds a live value. Keys must be strictly increasing and non-empty; seq
  // in [1, snapshot_seq]; expires_at_micros 0 for none. InvalidArgument
  // otherwise (and nothing is added).
  absl::Status Add(std::string_view key, std::string_view value, uint64_t seq,
                   uint64_t expires_at_micros = 0);
  // Writes the last table, the MANIFEST and CURRENT, and syncs.
  absl::Status Finish();

  uint64_t entries() const { return entries_; }

 private:
  SnapshotLoader(const Options& options, std::string path,
                 uint64_t snapshot_seq);
  absl::Status CloseTable();

  const Options options_;
  const std::string path_;
  const uint64_t snapshot_seq_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<TableFileWriter> table_;
  std::vector<FileMetaData> files_;
  uint64_t next_file_ = 1;
  std::string last_key_;
  uint64_t entries_ = 0;
  bool finished_ = false;
  absl::Status failed_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_SNAPSHOT_LOADER_H_
