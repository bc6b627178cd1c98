// Compaction: one unit of background (or manual) merge work, chosen by
// PickCompaction and executed by DBImpl::RunCompaction.
//
// inputs[0] are files of `level`, inputs[1] the files of `output_level` that
// overlap them; the merge rewrites both into new files of output_level.
// While a compaction runs, its input files carry being_compacted (guarded by
// the DB mutex) so that no other compaction takes them, and its user-key
// range at output_level is reserved.
#ifndef CAIRN_STORAGE_COMPACTION_H_
#define CAIRN_STORAGE_COMPACTION_H_

#include <memory>
#include <string>

#include "version_set.h"

namespace cairn::storage {

struct Compaction {
  int level = 0;
  int output_level = 1;
  FileList inputs[2];
  bool manual = false;
  // A single file moved to the next level without rewriting it.
  bool trivial_move = false;
  // The Version the inputs were chosen from (pinned for the merge).
  std::shared_ptr<Version> version;
  // User-key range of all inputs (inclusive bounds).
  std::string smallest_user_key;
  std::string largest_user_key;

  uint64_t InputBytes() const {
    uint64_t n = 0;
    for (const auto& list : inputs) {
      for (const auto& f : list) n += f->file_size;
    }
    return n;
  }
  void SetBeingCompacted(bool on) {
    for (auto& list : inputs) {
      for (auto& f : list) f->being_compacted = on;
    }
  }
};

// User-key range covered by a list of files.
void FileRange(const FileList& files, std::string* smallest,
               std::string* largest);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_COMPACTION_H_
