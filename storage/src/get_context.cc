#include "get_context.h"

#include "dbformat.h"
#include "merge_operand.h"

namespace cairn::storage {

bool GetContext::SourceDone() {
  if (base_ == Base::kUnknown && max_tombstone_ > 0) base_ = Base::kAbsent;
  return base_ != Base::kUnknown;
}

bool GetContext::Add(uint8_t type, uint64_t seq, std::string_view value) {
  if (seq < max_tombstone_) {  // covered: deleted at the tombstone
    base_ = Base::kAbsent;
    return false;
  }
  if (newest_seq_ == 0) newest_seq_ = seq;
  switch (type) {
    case kTypeValue:
      base_ = Base::kValue;
      base_value_.assign(value.data(), value.size());
      base_seq_ = seq;
      return false;
    case kTypeValueWithExpiry: {
      std::string_view v;
      uint64_t expiry = 0;
      if (!DecodeValueWithExpiry(value, &v, &expiry) ||
          IsExpired(expiry, now_micros_)) {
        // A malformed one is reported by the table's checksum long before;
        // here it can only be absent.
        base_ = Base::kAbsent;
        return false;
      }
      base_ = Base::kValue;
      base_value_.assign(v.data(), v.size());
      base_seq_ = seq;
      expiry_ = expiry;
      return false;
    }
    case kTypeMerge:
      operands_.emplace_back(value);
      return true;
    default:  // kTypeDeletion
      base_ = Base::kAbsent;
      return false;
  }
}

absl::StatusOr<GetResult> GetContext::Finish() {
  if (operands_.empty()) {
    if (base_ != Base::kValue) return absl::NotFoundError("key not found");
    return GetResult{std::move(base_value_), base_seq_, expiry_};
  }
  std::vector<std::string_view> oldest_first(operands_.rbegin(),
                                             operands_.rend());
  GetResult r;
  absl::Status s =
      merges_->Fold(key_, base_ == Base::kValue ? &base_value_ : nullptr,
                    oldest_first, &r.value);
  if (!s.ok()) return s;
  r.seq = newest_seq_;
  r.expires_at_micros = base_ == Base::kValue ? expiry_ : 0;
  return r;
}

}  // namespace cairn::storage
