// Compaction: one unit of background (or manual) merge work, chosen by
// PickCompaction and executed by DBImpl::RunCompaction.
//
// inputs[0] are files of `level`, inputs[1] the files of `output_level` that
// overlap them; the merge rewrites both into new files of output_level.
// While a compaction runs, its input files are in the DB's set of files
// being compacted (guarded by the DB mutex) so that no other compaction takes
// them, and its user-key range at output_level is reserved.
#ifndef CAIRN_STORAGE_COMPACTION_H_
#define CAIRN_STORAGE_COMPACTION_H_

#include <cstdint>
#include <memory>
#include <set>
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
  void MarkInputs(std::set<uint64_t>* being_compacted, bool on) {
    for (auto& list : inputs) {
      for (auto& f : list) {
        if (on) {
          being_compacted->insert(f->number);
        } else {
          being_compacted->erase(f->number);
        }
      }
    }
  }
};

// User-key range covered by a list of files.
void FileRange(const FileList& files, std::string* smallest,
               std::string* largest);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_COMPACTION_H_
