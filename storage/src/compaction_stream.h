// CompactionStream: what a flush or a compaction writes, given the sorted
// internal entries of its inputs. For each user key it keeps exactly what
// some reader can still tell apart:
//
//  - Snapshots split a key's versions into stripes (versions seen by the
//    same snapshots). In each stripe only the newest version and the merge
//    operands above its base matter; older versions are dropped, as are
//    versions covered by a range tombstone of the same stripe.
//  - An expired value is a Delete at its sequence (docs/architecture.md,
//    "TTL"). A Delete in the oldest stripe with nothing below the output
//    level is dropped.
//  - Merge operands are folded: over a Put, or over absence (a Delete, an
//    expired value, a covering tombstone of the same stripe, or nothing at
//    all below), into a Put at the newest operand's sequence; otherwise
//    consecutive operands are combined by PartialMerge where the operator
//    allows. Operands above a Put that has not expired yet stay apart from
//    it (the Put vanishes at its expiry, the operands do not), and a fold
//    that fails keeps every entry as it was.
//
// Range tombstones themselves are not in the stream: the caller writes them
// (they are only consulted here).
//
// Thread-safety: one thread.
#ifndef CAIRN_STORAGE_COMPACTION_STREAM_H_
#define CAIRN_STORAGE_COMPACTION_STREAM_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "internal_iterator.h"
#include "merge_registry.h"
#include "range_tombstone.h"

namespace cairn::storage {

// Index of the snapshot stripe a sequence falls in (snapshots ascending):
// versions in one stripe are seen by exactly the same snapshots. Stripe 0
// holds the sequences at or below the oldest snapshot.
size_t Stripe(const std::vector<uint64_t>& snapshots, uint64_t seq);

struct CompactionStreamOptions {
  std::vector<uint64_t> snapshots;                        // ascending
  const FragmentedRangeTombstones* tombstones = nullptr;  // of the inputs
  const MergeRegistry* merges = nullptr;
  uint64_t now_micros = 0;
  // Whether versions of user_key may exist below the output (in levels the
  // job does not read). Null: always.
  std::function<bool(std::string_view user_key)> key_may_exist_below;
};

class CompactionStream {
 public:
  // input must outlive the stream.
  CompactionStream(InternalIterator* input, CompactionStreamOptions options);

  void SeekToFirst();
  bool Valid() const { return pos_ < out_size_; }
  std::string_view key() const { return out_[pos_].key; }
  std::string_view value() const { return out_[pos_].value; }
  void Next();
  absl::Status status() const { return status_; }
  // Input entries not written (shadowed, folded, dropped).
  uint64_t dropped() const { return dropped_; }

 private:
  struct Entry {
    std::string key;  // internal key
    std::string value;
  };

  enum class Base {
    kNone,      // the stripe ended without one
    kAbsent,    // absence without an entry (a covering tombstone, nothing
                // below)
    kDeletion,  // base_ is a Delete (or an expired value turned into one)
    kValue,     // base_ is a Put
    kExpiring,  // base_ is a Put that has not expired yet
  };

  // Reads the next user key's versions and queues what to write for them.
  void FillFromNextKey();
  // Queues what the stripe's operands (pending_) and its base come to.
  void ResolveStripe(Base base, size_t stripe);
  void AddOperand(std::string_view ikey, std::string_view value);
  Entry& Emit();
  // Oldest range tombstone newer than seq covering the key (0: none).
  uint64_t CoveringTombstone(uint64_t seq) const;
  // Newest range tombstone older than seq covering the key (0: none).
  uint64_t TombstoneBelow(uint64_t seq) const;
  bool MayExistBelow() const;

  InternalIterator* const input_;
  const CompactionStreamOptions o_;
  // The queued output: out_[pos_, out_size_). Entries are reused so that
  // their buffers are too.
  std::vector<Entry> out_;
  size_t out_size_ = 0;
  size_t pos_ = 0;
  absl::Status status_;
  uint64_t dropped_ = 0;

  // The key being resolved.
  std::string user_key_;
  Entry base_;
  std::vector<Entry> pending_;  // merge operands of the stripe, newest first
  size_t pending_size_ = 0;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_COMPACTION_STREAM_H_
