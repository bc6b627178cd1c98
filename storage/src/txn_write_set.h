// TxnWriteSet: a transaction's buffered writes, by key, in the form its own
// reads need: per key, the last Put or Delete (if any) and the merge
// operands written after it, and how they apply over the value the
// snapshot holds. The batch to commit is kept alongside, in write order.
//
// Thread-safety: owned by one transaction.
#ifndef CAIRN_STORAGE_TXN_WRITE_SET_H_
#define CAIRN_STORAGE_TXN_WRITE_SET_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cairn/storage/db.h"
#include "merge_registry.h"

namespace cairn::storage {

struct TxnKeyWrites {
  enum class Base { kNone, kPut, kDelete };
  Base base = Base::kNone;
  std::string value;                  // of the Put
  uint64_t expiry = 0;                // of the Put (0: none)
  std::vector<std::string> operands;  // encoded, oldest first, after base

  // Whether the answer needs the snapshot's value of the key.
  bool NeedsSnapshotValue() const { return base == Base::kNone; }

  // The key's value as the transaction sees it: these writes over
  // `snapshot_value` (the snapshot's answer for the key; NotFound if
  // absent). Own writes give seq 0.
  absl::StatusOr<GetResult> Apply(
      std::string_view key, const absl::StatusOr<GetResult>& snapshot_value,
      const MergeRegistry& merges, uint64_t now_micros) const;
};

using TxnWriteSet = std::map<std::string, TxnKeyWrites, std::less<>>;

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TXN_WRITE_SET_H_
