#include "tail_filter.h"

#include "absl/strings/str_cat.h"
#include "cairn/storage/iterator.h"
#include "status_map.h"

namespace cairn::server {
namespace {

unsigned Bit(storage::ChangeType type) {
  return 1u << static_cast<unsigned>(type);
}

}  // namespace

v1::ChangeOp ToChangeOp(storage::ChangeType type) {
  switch (type) {
    case storage::ChangeType::kPut:
      return v1::CHANGE_OP_PUT;
    case storage::ChangeType::kDelete:
      return v1::CHANGE_OP_DELETE;
    case storage::ChangeType::kDeleteRange:
      return v1::CHANGE_OP_DELETE_RANGE;
    case storage::ChangeType::kMerge:
      return v1::CHANGE_OP_MERGE;
  }
  return v1::CHANGE_OP_UNSPECIFIED;
}

absl::StatusOr<TailFilter> TailFilter::Parse(const v1::TailFilter& filter) {
  TailFilter f;
  if (!filter.prefix().empty()) {
    if (!filter.start().empty() || !filter.end().empty()) {
      return InvalidFieldStatus(
          filter.start().empty() ? "filter.end" : "filter.start",
          "cannot be combined with filter.prefix");
    }
    f.lower_ = filter.prefix();
    f.upper_ = storage::PrefixSuccessor(filter.prefix());
  } else {
    if (!filter.end().empty() && filter.start() >= filter.end()) {
      return InvalidFieldStatus("filter.end", "must sort after filter.start");
    }
    f.lower_ = filter.start();
    if (!filter.end().empty()) f.upper_ = filter.end();
  }
  for (int i = 0; i < filter.ops_size(); ++i) {
    switch (filter.ops(i)) {
      case v1::CHANGE_OP_PUT:
        f.ops_ |= Bit(storage::ChangeType::kPut);
        break;
      case v1::CHANGE_OP_DELETE:
        f.ops_ |= Bit(storage::ChangeType::kDelete);
        break;
      case v1::CHANGE_OP_DELETE_RANGE:
        f.ops_ |= Bit(storage::ChangeType::kDeleteRange);
        break;
      case v1::CHANGE_OP_MERGE:
        f.ops_ |= Bit(storage::ChangeType::kMerge);
        break;
      default:
        return InvalidFieldStatus(
            absl::StrCat("filter.ops[", i, "]"),
            absl::StrCat("unknown operation ", filter.ops(i)));
    }
  }
  return f;
}

bool TailFilter::Matches(const storage::Change& c) const {
  if (ops_ != 0 && (ops_ & Bit(c.type)) == 0) return false;
  if (c.type == storage::ChangeType::kDeleteRange) {
    // [key, range_end) overlaps [lower_, upper_).
    if (c.range_end <= lower_) return false;
    return !upper_.has_value() || c.key < *upper_;
  }
  if (c.key < lower_) return false;
  return !upper_.has_value() || c.key < *upper_;
}

}  // namespace cairn::server
