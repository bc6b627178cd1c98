// InternalIterator: the cursor interface every sorted source of the engine
// implements (memtable, block, table, level, merged view). Keys are whatever
// the source orders (internal keys for data; see dbformat.h).
//
// Contract: key() and value() are valid only while Valid() and until the next
// move; they point into memory the iterator (or the block it pins) owns.
// After a failure Valid() is false and status() says why; an exhausted
// iterator is !Valid() with an OK status. Seek(target) positions at the first
// key >= target; SeekForPrev(target) at the last key <= target.
//
// Thread-safety: one thread at a time per iterator.
#ifndef CAIRN_STORAGE_INTERNAL_ITERATOR_H_
#define CAIRN_STORAGE_INTERNAL_ITERATOR_H_

#include <memory>
#include <string_view>

#include "absl/status/status.h"

namespace cairn::storage {

class InternalIterator {
 public:
  InternalIterator() = default;
  virtual ~InternalIterator() = default;
  InternalIterator(const InternalIterator&) = delete;
  InternalIterator& operator=(const InternalIterator&) = delete;

  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  virtual void Seek(std::string_view target) = 0;
  virtual void SeekForPrev(std::string_view target) = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual absl::Status status() const = 0;
};

// An iterator over nothing, or one that reports `status`.
std::unique_ptr<InternalIterator> NewEmptyIterator(
    absl::Status status = absl::OkStatus());

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_INTERNAL_ITERATOR_H_
