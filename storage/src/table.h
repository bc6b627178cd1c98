// Table: an open, immutable SSTable. Opening reads and verifies the footer,
// index, filter, properties and range-deletion blocks and keeps them in
// memory; data blocks are read on demand through the block cache. Every block
// read from disk has its CRC32C checked: a mismatch is DataLoss naming the
// file and offset, never a wrong answer.
//
// Thread-safety: a Table may be used by many threads at once; each iterator
// belongs to one thread.
#ifndef CAIRN_STORAGE_TABLE_H_
#define CAIRN_STORAGE_TABLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/storage/statistics.h"
#include "cairn/util/file_system.h"
#include "internal_iterator.h"
#include "range_tombstone.h"
#include "table_properties.h"

namespace cairn::storage {

class BlockCache;

struct TableReadOptions {
  BlockCache* block_cache = nullptr;  // may be null: no caching
  Statistics* statistics = nullptr;   // may be null
  // Map the file and read uncompressed blocks in place (checksum verified on
  // every read) instead of copying them into the block cache; compressed
  // blocks still go through the cache. Falls back to reads if mapping fails.
  bool mmap_reads = false;
};

// Receives the versions of one user key that a point lookup finds in a
// source (memtable or table), newest first; returns false when it needs no
// older ones. `value` is valid only during the call.
class VersionSink {
 public:
  virtual ~VersionSink() = default;
  virtual bool Add(uint8_t type, uint64_t seq, std::string_view value) = 0;
};

// The newest version of a user key visible at a snapshot, as one source
// (memtable or table) holds it.
struct LookupResult {
  uint8_t type = 0;  // ValueType
  uint64_t seq = 0;
  std::string value;  // empty for deletions
};

// A sink that keeps the newest version only.
class FirstVersion final : public VersionSink {
 public:
  explicit FirstVersion(LookupResult* result) : result_(result) {}
  bool Add(uint8_t type, uint64_t seq, std::string_view value) override {
    result_->type = type;
    result_->seq = seq;
    result_->value.assign(value.data(), value.size());
    return false;
  }

 private:
  LookupResult* result_;
};

class Table {
 public:
  // file_size must be the file's size. Takes ownership of file.
  static absl::StatusOr<std::shared_ptr<Table>> Open(
      const TableReadOptions& options, std::unique_ptr<File> file,
      uint64_t file_size);
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Iterates the point entries (internal keys).
  std::unique_ptr<InternalIterator> NewIterator(bool fill_cache = true) const;

  // Feeds sink the point entries for user_key with sequence <= snapshot,
  // newest first, until it asks for no more. Returns false if there is none
  // (the bloom filter may answer without I/O).
  absl::StatusOr<bool> Get(std::string_view user_key, uint64_t snapshot,
                           VersionSink* sink, bool fill_cache = true) const;
  // The newest such entry only.
  absl::StatusOr<bool> Get(std::string_view user_key, uint64_t snapshot,
                           LookupResult* result, bool fill_cache = true) const;

  const TableProperties& properties() const;
  // The table's range tombstones, fragmented (loaded at open).
  const FragmentedRangeTombstones& range_tombstones() const;
  // Approximate file offset where internal_key's data would be.
  uint64_t ApproximateOffsetOf(std::string_view internal_key) const;
  const std::string& path() const;

 private:
  struct Rep;
  explicit Table(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TABLE_H_
