// A merged, sorted view of several child iterators under one comparator
// (LevelDB's "merger"). Duplicated keys across children are all yielded.
// Works in both directions; switching direction re-positions the children.
// The first child error is reported by status() and ends iteration.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_MERGING_ITERATOR_H_
#define CAIRN_STORAGE_MERGING_ITERATOR_H_

#include <memory>
#include <vector>

#include "dbformat.h"
#include "internal_iterator.h"

namespace cairn::storage {

std::unique_ptr<InternalIterator> NewMergingIterator(
    const Comparator* comparator,
    std::vector<std::unique_ptr<InternalIterator>> children);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_MERGING_ITERATOR_H_
