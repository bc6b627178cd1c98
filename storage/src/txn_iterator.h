// The iterator of a transaction: the snapshot's view (a DB iterator) merged
// with the transaction's buffered writes, which win. It also records the
// span of keys it has covered, from the first position it examined to the
// last (to the bound, or to the end, once it runs off), so that commit can
// detect any key written into that span since the snapshot (phantoms
// included).
//
// Thread-safety: one thread; the write set, registry and span must outlive
// the iterator.
#ifndef CAIRN_STORAGE_TXN_ITERATOR_H_
#define CAIRN_STORAGE_TXN_ITERATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cairn/storage/iterator.h"
#include "conflict_set.h"
#include "merge_registry.h"
#include "txn_write_set.h"

namespace cairn::storage {

// A span an iterator covered; unused until the iterator is positioned.
struct TxnSpan {
  bool used = false;
  KeyRange range;
};

struct TxnIteratorOptions {
  std::optional<std::string> lower_bound;  // inclusive
  std::optional<std::string> upper_bound;  // exclusive
  const TxnWriteSet* writes = nullptr;
  const MergeRegistry* merges = nullptr;
  uint64_t now_micros = 0;
  TxnSpan* span = nullptr;
  // Lowered to the earliest expiry of a value the iterator yields.
  uint64_t* min_expiry_micros = nullptr;
};

std::unique_ptr<Iterator> NewTxnIterator(std::unique_ptr<Iterator> snapshot,
                                         TxnIteratorOptions options);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TXN_ITERATOR_H_
