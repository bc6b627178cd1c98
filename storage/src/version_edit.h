// VersionEdit: one change to the set of live SSTables, as recorded in the
// MANIFEST (docs/formats.md, "MANIFEST"): files added to and removed from
// levels, the flushed sequence (everything at or below it is in SSTables),
// and the next file number. Replaying every edit of a MANIFEST in order
// rebuilds the levels exactly.
//
// Thread-safety: none; a plain value.
#ifndef CAIRN_STORAGE_VERSION_EDIT_H_
#define CAIRN_STORAGE_VERSION_EDIT_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace cairn::storage {

// An SSTable as the MANIFEST knows it. smallest/largest are internal keys
// bounding its point entries and range tombstones; a largest whose tag is
// (kMaxSequenceNumber, kTypeRangeDeletion) is an exclusive bound left by a
// range tombstone cut at a file boundary.
struct FileMetaData {
  uint64_t number = 0;
  uint64_t file_size = 0;
  std::string smallest;
  std::string largest;
  uint64_t smallest_seq = 0;
  uint64_t largest_seq = 0;
  uint64_t num_entries = 0;
  uint64_t num_deletions = 0;        // point tombstones
  uint64_t num_range_deletions = 0;  // range tombstones (fragments)
};

class VersionEdit {
 public:
  void SetFlushedSequence(uint64_t seq) { flushed_seq_ = seq; }
  void SetNextFileNumber(uint64_t n) { next_file_number_ = n; }
  void AddFile(int level, const FileMetaData& f) {
    new_files_.emplace_back(level, f);
  }
  void DeleteFile(int level, uint64_t number) {
    deleted_files_.emplace(level, number);
  }

  const std::optional<uint64_t>& flushed_seq() const { return flushed_seq_; }
  const std::optional<uint64_t>& next_file_number() const {
    return next_file_number_;
  }
  const std::vector<std::pair<int, FileMetaData>>& new_files() const {
    return new_files_;
  }
  const std::set<std::pair<int, uint64_t>>& deleted_files() const {
    return deleted_files_;
  }

  void EncodeTo(std::string* dst) const;
  // DataLoss if src is malformed.
  absl::Status DecodeFrom(std::string_view src);

 private:
  std::optional<uint64_t> flushed_seq_;
  std::optional<uint64_t> next_file_number_;
  std::vector<std::pair<int, FileMetaData>> new_files_;
  std::set<std::pair<int, uint64_t>> deleted_files_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_VERSION_EDIT_H_
