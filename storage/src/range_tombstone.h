// Range tombstones: DeleteRange(begin, end) at sequence seq hides every
// version of every key in [begin, end) whose sequence is below seq, for
// readers whose snapshot is at or above seq.
//
// FragmentedRangeTombstones turns a set of possibly overlapping tombstones
// into sorted, non-overlapping fragments, each with the sequences of the
// tombstones that cover it (newest first), so that "which tombstones cover
// key k" is a binary search. It is immutable once built and safe to share
// between threads.
#ifndef CAIRN_STORAGE_RANGE_TOMBSTONE_H_
#define CAIRN_STORAGE_RANGE_TOMBSTONE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::storage {

struct RangeTombstone {
  std::string begin;  // inclusive
  std::string end;    // exclusive; begin < end
  uint64_t seq = 0;
};

class FragmentedRangeTombstones {
 public:
  struct Fragment {
    std::string begin;
    std::string end;
    std::vector<uint64_t> seqs;  // descending, no duplicates
  };

  FragmentedRangeTombstones() = default;
  explicit FragmentedRangeTombstones(std::vector<RangeTombstone> tombstones);

  bool empty() const { return fragments_.empty(); }
  const std::vector<Fragment>& fragments() const { return fragments_; }

  // The highest sequence <= snapshot of a tombstone covering user_key; 0 if
  // none.
  uint64_t MaxCoveringSeq(std::string_view user_key, uint64_t snapshot) const;
  // The fragment containing user_key, or null.
  const Fragment* FragmentFor(std::string_view user_key) const;

  // The tombstones back as a list (one per fragment and sequence); their
  // union covers exactly what the input covered.
  std::vector<RangeTombstone> ToTombstones() const;

 private:
  std::vector<Fragment> fragments_;  // sorted by begin, non-overlapping
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_RANGE_TOMBSTONE_H_
