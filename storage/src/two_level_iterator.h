// A table's iterator: an index iterator whose values name data blocks, and a
// BlockIter over the current data block. The data block is pinned through a
// shared_ptr (from the block cache or freshly read) while the iterator is on
// it. Both directions and SeekForPrev are supported; blocks that turn out
// empty are skipped.
//
// The index must map each data block to a key >= every key in that block and
// < every key of the next one (docs/formats.md, "Index block").
//
// Errors are final: the first failure (loading a block, or a malformed index
// or data block) makes the iterator !Valid() and is reported by status()
// from then on; it never skips a damaged block.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_TWO_LEVEL_ITERATOR_H_
#define CAIRN_STORAGE_TWO_LEVEL_ITERATOR_H_

#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "block.h"
#include "dbformat.h"
#include "internal_iterator.h"

namespace cairn::storage {

// Loads the data block an index value (an encoded BlockHandle) names. It
// keeps alive whatever the index iterator reads from.
using BlockLoader = std::function<absl::StatusOr<std::shared_ptr<const Block>>(
    std::string_view index_value)>;

// data_cmp orders the data blocks' keys.
std::unique_ptr<InternalIterator> NewTwoLevelIterator(
    std::unique_ptr<InternalIterator> index_iter, BlockLoader loader,
    const Comparator* data_cmp);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TWO_LEVEL_ITERATOR_H_
