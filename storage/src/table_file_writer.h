// TableFileWriter writes one new SSTable file for a flush or a compaction and
// describes it as the MANIFEST needs (FileMetaData): its key bounds include
// the range tombstones it holds, encoded as described in version_edit.h.
// Finish syncs the file; the caller syncs the directory before recording
// the file in the MANIFEST.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_TABLE_FILE_WRITER_H_
#define CAIRN_STORAGE_TABLE_FILE_WRITER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "range_tombstone.h"
#include "table_builder.h"
#include "version_edit.h"

namespace cairn::storage {

class TableFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<TableFileWriter>> Create(
      FileSystem* fs, const std::string& path, uint64_t number,
      const TableBuilderOptions& options);
  ~TableFileWriter();

  void Add(std::string_view internal_key, std::string_view value);
  void AddTombstone(const RangeTombstone& t);
  uint64_t FileSize() const { return builder_->FileSize(); }
  uint64_t NumEntries() const { return builder_->NumEntries(); }
  bool empty() const { return NumEntries() == 0 && tombstones_ == 0; }
  // Finishes, syncs and closes the file.
  absl::StatusOr<FileMetaData> Finish();
  // Gives up and removes the file.
  void Abandon();

 private:
  TableFileWriter(FileSystem* fs, std::string path, uint64_t number,
                  std::unique_ptr<File> file,
                  const TableBuilderOptions& options);

  FileSystem* const fs_;
  const std::string path_;
  const uint64_t number_;
  std::unique_ptr<File> file_;
  std::unique_ptr<TableBuilder> builder_;
  std::string smallest_tombstone_;  // smallest begin of a tombstone
  std::string largest_tombstone_;   // largest end of a tombstone
  uint64_t tombstones_ = 0;
  bool finished_ = false;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TABLE_FILE_WRITER_H_
