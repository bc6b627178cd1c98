// SequenceIndex maps sequence numbers to frame offsets inside one segment,
// sparsely: one entry per `interval` bytes of log at most. A lookup finds the
// last entry at or below the wanted sequence; the caller scans forward from
// there, over less than one interval plus one frame.
//
// A segment created (or scanned at recovery) by this process has a complete
// index from the start: it grows as records are published. A sealed segment
// found at open is indexed on first use, by scanning its frames.
//
// Thread-safety: all methods are internally synchronized.
#ifndef CAIRN_WAL_SRC_SEQUENCE_INDEX_H_
#define CAIRN_WAL_SRC_SEQUENCE_INDEX_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace cairn::wal {

class SequenceIndex {
 public:
  struct Entry {
    uint64_t first_seq;
    uint64_t offset;
  };

  // Adds an entry for the record at offset starting at first_seq, if it lies
  // at least `interval` bytes after the previous entry. Entries arrive in
  // increasing order. Takes no lock when no entry is due.
  void MaybeAdd(uint64_t first_seq, uint64_t offset, uint64_t interval) {
    if (offset >= next_entry_offset_.load(std::memory_order_relaxed)) {
      Add(first_seq, offset, interval);
    }
  }
  // The last entry whose first_seq <= seq; false if none.
  bool Lookup(uint64_t seq, Entry* entry) const;
  // Whether the index knows every record of its segment (so far).
  bool complete() const { return complete_.load(std::memory_order_acquire); }
  void set_complete() { complete_.store(true, std::memory_order_release); }
  // Drops entries at or after offset (truncation) and starts a new
  // generation.
  void TruncateFrom(uint64_t offset);

  // For building the index of a sealed segment without the log's lock: a
  // truncation of the segment meanwhile changes the generation, and entries
  // (and completeness) from the builder's older generation are ignored.
  uint64_t generation() const;
  void MaybeAddIn(uint64_t generation, uint64_t first_seq, uint64_t offset,
                  uint64_t interval);
  void SetCompleteIn(uint64_t generation);

 private:
  void Add(uint64_t first_seq, uint64_t offset, uint64_t interval);

  // Offsets below this never get an entry (the next is due at or after it).
  std::atomic<uint64_t> next_entry_offset_{0};
  mutable std::mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<bool> complete_{false};
};

}  // namespace cairn::wal

#endif  // CAIRN_WAL_SRC_SEQUENCE_INDEX_H_
