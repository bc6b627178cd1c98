// GetContext: the state of one point lookup as it walks a key's versions
// from the newest source to the oldest, and the rule that turns them into
// the answer.
//
// Versions arrive newest first (Add). Merge operands are collected until a
// base is met: a Put (its value), or absence (a Delete, a Put that has
// expired by `now`, a version covered by a newer range tombstone, or no
// older version at all). The answer is the operands folded over the base,
// oldest first (MergeRegistry::Fold); its sequence is that of the newest
// version used, and its expiry that of an unexpired base Put.
//
// Thread-safety: one lookup, one thread.
#ifndef CAIRN_STORAGE_GET_CONTEXT_H_
#define CAIRN_STORAGE_GET_CONTEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cairn/storage/db.h"
#include "merge_registry.h"
#include "table.h"

namespace cairn::storage {

class GetContext final : public VersionSink {
 public:
  GetContext(std::string_view key, const MergeRegistry* merges,
             uint64_t now_micros)
      : key_(key), merges_(merges), now_micros_(now_micros) {}

  // A range tombstone at sequence seq covers the key: versions older than
  // it are deleted. Called for each source before its versions.
  void CoverBelow(uint64_t seq) {
    if (seq > max_tombstone_) max_tombstone_ = seq;
  }
  // Called after a source's versions: true once the answer is known (a base
  // was found, or a range tombstone covers everything older).
  bool SourceDone();

  bool Add(uint8_t type, uint64_t seq, std::string_view value) override;

  // NotFound if the key has no live value; FailedPrecondition or DataLoss
  // if the fold fails (MergeRegistry::Fold).
  absl::StatusOr<GetResult> Finish();

  // Only meaningful after Finish: the newest version met had a sequence
  // (0: none), whatever its type. Used by conflict checks.
  uint64_t newest_seq() const { return newest_seq_; }

 private:
  enum class Base { kUnknown, kAbsent, kValue };

  const std::string_view key_;
  const MergeRegistry* const merges_;
  const uint64_t now_micros_;
  uint64_t max_tombstone_ = 0;
  Base base_ = Base::kUnknown;
  std::string base_value_;
  uint64_t base_seq_ = 0;
  uint64_t expiry_ = 0;
  uint64_t newest_seq_ = 0;
  std::vector<std::string> operands_;  // encoded, newest first
};

// Whether an expiring value with this expiry is expired at now_micros.
inline bool IsExpired(uint64_t expires_at_micros, uint64_t now_micros) {
  return expires_at_micros <= now_micros;
}

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_GET_CONTEXT_H_
