// DBIter turns the merged stream of internal entries (every version of every
// key from memtables and SSTables) into the user's view at one sequence: the
// newest version <= that sequence of each key with its merge operands folded
// in (as GetContext does for a point lookup), minus deleted, range-deleted
// and expired keys, within the bounds.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_DB_ITER_H_
#define CAIRN_STORAGE_DB_ITER_H_

#include <memory>
#include <optional>
#include <string>

#include "cairn/storage/iterator.h"
#include "internal_iterator.h"
#include "merge_registry.h"
#include "range_tombstone.h"

namespace cairn::storage {

struct DBIterOptions {
  uint64_t sequence = 0;
  std::optional<std::string> lower_bound;  // inclusive
  std::optional<std::string> upper_bound;  // exclusive
  // Range tombstones of every source (null: none).
  std::shared_ptr<const FragmentedRangeTombstones> tombstones;
  // Kept alive as long as the iterator (memtables, Version, ...).
  std::shared_ptr<void> pinned;
  // Folds merge operands; must outlive the iterator.
  const MergeRegistry* merges = nullptr;
  // Expiring values with an expiry at or before this are deleted.
  uint64_t now_micros = 0;
};

std::unique_ptr<Iterator> NewDBIterator(
    std::unique_ptr<InternalIterator> internal, DBIterOptions options);

// Narrows the bounds [*lower, *upper) to the keys starting with prefix (if
// set).
void ApplyPrefix(const std::optional<std::string>& prefix,
                 std::optional<std::string>* lower,
                 std::optional<std::string>* upper);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_DB_ITER_H_
