// BlockCache: a sharded cache of decoded (uncompressed, checksum-verified)
// SSTable blocks with a byte budget. Eviction is LRU with a second chance: a
// hit only marks the entry, and a marked entry reaching the cold end is moved
// back to the hot end once instead of being evicted (cheaper under the shard
// lock than moving every hit). Keys are (table id, block offset); table
// ids are unique per process (see NewTableId), so a file number reused after
// a crash or by another DB in the process can never alias.
//
// Entries are shared_ptrs: an evicted block stays alive while an iterator
// still uses it. The budget counts the blocks the cache holds.
//
// Thread-safety: all methods may be called concurrently.
#ifndef CAIRN_STORAGE_BLOCK_CACHE_H_
#define CAIRN_STORAGE_BLOCK_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "block.h"

namespace cairn::storage {

class BlockCache {
 public:
  // capacity in bytes, split over 2^shard_bits shards.
  BlockCache(size_t capacity, int shard_bits);
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  static uint64_t NewTableId();

  std::shared_ptr<const Block> Lookup(uint64_t table_id, uint64_t offset);
  // Inserts (replacing an entry with the same key) and evicts least recently
  // used entries of the shard until it fits its share of the budget.
  void Insert(uint64_t table_id, uint64_t offset,
              std::shared_ptr<const Block> block, size_t charge);
  // Drops every block of a table (its file is being deleted).
  void EraseTable(uint64_t table_id);

  size_t capacity() const;
  size_t usage() const;

 private:
  struct Shard;
  std::unique_ptr<Shard[]> shards_;
  int shard_bits_;
  size_t capacity_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_BLOCK_CACHE_H_
