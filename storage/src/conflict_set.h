// ConflictSet: what an optimistic transaction's commit must find unchanged
// since its snapshot. Every key it read or wrote, every key range it
// scanned, and the earliest expiry among the values it read. The commit
// fails with Aborted if any of those keys (or any key in those ranges) has a
// version or a covering range tombstone newer than the snapshot, or if a
// value it read has expired since.
#ifndef CAIRN_STORAGE_CONFLICT_SET_H_
#define CAIRN_STORAGE_CONFLICT_SET_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cairn::storage {

struct KeyRange {
  std::string begin;               // inclusive
  std::optional<std::string> end;  // exclusive; nullopt: unbounded
};

struct ConflictSet {
  uint64_t snapshot = 0;
  std::set<std::string, std::less<>> keys;
  std::vector<KeyRange> ranges;
  uint64_t min_expiry_micros = 0;  // 0: no value read expires
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_CONFLICT_SET_H_
