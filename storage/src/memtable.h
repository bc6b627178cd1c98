// MemTable: the in-memory, sorted buffer of recent writes. Point entries live
// in a skiplist over an arena, keyed by internal key (dbformat.h); range
// tombstones are kept apart and served fragmented.
//
// Writes come from one thread at a time (the write-group leader, or recovery);
// reads (Get, iterators, RangeTombstones) may run concurrently with that
// writer and with each other, without locks on the point path. A memtable is
// shared through std::shared_ptr: the DB, flushes and iterators each hold a
// reference.
#ifndef CAIRN_STORAGE_MEMTABLE_H_
#define CAIRN_STORAGE_MEMTABLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "internal_iterator.h"
#include "range_tombstone.h"
#include "table.h"  // LookupResult

namespace cairn::storage {

class MemTable {
 public:
  MemTable();
  ~MemTable();
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  // Single writer. (seq, type) pairs must be unique per key.
  void Add(uint64_t seq, uint8_t type, std::string_view user_key,
           std::string_view value);
  void AddRangeTombstone(uint64_t seq, std::string_view begin,
                         std::string_view end);

  // Feeds sink the point entries for user_key with sequence <= snapshot,
  // newest first, until it asks for no more. False if there is none.
  bool Get(std::string_view user_key, uint64_t snapshot,
           VersionSink* sink) const;
  // The newest such entry only.
  bool Get(std::string_view user_key, uint64_t snapshot,
           LookupResult* result) const;

  // Iterates the point entries; sees entries added after its creation or
  // not (either is fine). The iterator keeps the memtable alive only if the
  // caller holds a reference.
  std::unique_ptr<InternalIterator> NewIterator() const;

  // The range tombstones added so far, fragmented; rebuilt lazily after
  // AddRangeTombstone. Null if there are none.
  std::shared_ptr<const FragmentedRangeTombstones> RangeTombstones() const;

  // Arena bytes plus tombstones: what the memtable costs in memory.
  size_t ApproximateMemoryUsage() const;
  uint64_t num_entries() const;
  uint64_t num_deletes() const;  // point deletions
  uint64_t num_range_deletes() const;
  // Sequence range of everything added (0 when empty).
  uint64_t first_seq() const;
  uint64_t last_seq() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_MEMTABLE_H_
