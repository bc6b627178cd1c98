#include "txn_write_set.h"

#include "get_context.h"

namespace cairn::storage {

absl::StatusOr<GetResult> TxnKeyWrites::Apply(
    std::string_view key, const absl::StatusOr<GetResult>& snapshot_value,
    const MergeRegistry& merges, uint64_t now_micros) const {
  // The base: the own Put or Delete, else the snapshot's answer.
  bool present = false;
  GetResult under;
  if (base == Base::kPut) {
    present = expiry == 0 || !IsExpired(expiry, now_micros);
    if (present) under = GetResult{value, 0, expiry};
  } else if (base == Base::kNone) {
    if (snapshot_value.ok()) {
      present = true;
      under = *snapshot_value;
    } else if (!absl::IsNotFound(snapshot_value.status())) {
      return snapshot_value.status();
    }
  }
  if (operands.empty()) {
    if (!present) return absl::NotFoundError("key not found");
    return under;
  }
  std::vector<std::string_view> oldest_first(operands.begin(), operands.end());
  GetResult r;
  absl::Status s = merges.Fold(key, present ? &under.value : nullptr,
                               oldest_first, &r.value);
  if (!s.ok()) return s;
  r.seq = 0;
  r.expires_at_micros = present ? under.expires_at_micros : 0;
  return r;
}

}  // namespace cairn::storage
