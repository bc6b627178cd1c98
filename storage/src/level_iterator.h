// LevelIterator: one sorted view over the files of a level >= 1 (disjoint,
// sorted key ranges), opening each table through the table cache only when
// the cursor reaches it.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_LEVEL_ITERATOR_H_
#define CAIRN_STORAGE_LEVEL_ITERATOR_H_

#include <memory>

#include "internal_iterator.h"
#include "table_cache.h"
#include "version_set.h"

namespace cairn::storage {

// files must stay valid (the caller pins their Version) for the iterator's
// lifetime.
std::unique_ptr<InternalIterator> NewLevelIterator(TableCache* cache,
                                                   const FileList* files,
                                                   bool fill_cache);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_LEVEL_ITERATOR_H_
