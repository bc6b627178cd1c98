// Iterator: a cursor over the user-visible state of the database at one
// sequence (the snapshot it was created with, or the latest committed state
// at creation). Only the newest live version of each key is shown, with its
// merge operands folded in; deleted, range-deleted and expired keys are
// skipped (expiry is judged by the clock when the iterator was created);
// bounds and prefix from ReadOptions limit what it yields.
//
// key(), value() are valid until the next move. An error ends iteration:
// Valid() turns false and status() says why (DataLoss on corruption).
// An iterator pins the memtables and files it reads: release it promptly.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_ITERATOR_H_
#define CAIRN_STORAGE_ITERATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cairn::storage {

class Iterator {
 public:
  Iterator() = default;
  virtual ~Iterator() = default;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;

  virtual bool Valid() const = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // First key >= target.
  virtual void Seek(std::string_view target) = 0;
  // Last key <= target.
  virtual void SeekForPrev(std::string_view target) = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Sequence number of the write that produced the current value.
  virtual uint64_t seq() const = 0;
  // When the Put under the current value expires (microseconds since the
  // Unix epoch); 0: never. See GetResult::expires_at_micros.
  virtual uint64_t expires_at_micros() const = 0;
  virtual absl::Status status() const = 0;
  // The sequence this iterator reads at.
  virtual uint64_t read_seq() const = 0;
};

// The smallest key greater than every key starting with prefix, or nullopt
// if there is none (prefix is all 0xff bytes): the exclusive upper bound of
// a prefix range.
std::optional<std::string> PrefixSuccessor(std::string_view prefix);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_ITERATOR_H_
