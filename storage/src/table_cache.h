// TableCache: keeps up to `capacity` SSTables open (LRU), keyed by file
// number, so that reads do not reopen files and re-read their index and
// filter blocks.
//
// Thread-safety: all methods may be called concurrently. Two threads missing
// on the same file may both open it; one of the opens is kept.
#ifndef CAIRN_STORAGE_TABLE_CACHE_H_
#define CAIRN_STORAGE_TABLE_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "table.h"

namespace cairn::storage {

class TableCache {
 public:
  // Tables are dir/NNNNNN.sst (filename.h), opened through fs.
  TableCache(FileSystem* fs, std::string dir, int capacity,
             const TableReadOptions& read_options);
  ~TableCache();
  TableCache(const TableCache&) = delete;
  TableCache& operator=(const TableCache&) = delete;

  // A missing file is DataLoss (the callers ask only for live tables).
  absl::StatusOr<std::shared_ptr<Table>> Get(uint64_t file_number,
                                             uint64_t file_size);
  // Forgets a table (its file is being deleted) and drops its cached blocks.
  void Evict(uint64_t file_number);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TABLE_CACHE_H_
