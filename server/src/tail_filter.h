// TailFilter: which changes a Tail stream delivers, from the request's
// TailFilter and keys_only, checked once and applied to every change on the
// server (docs/api.md, "Tail").
//
// A key range ([start, end) or a prefix) passes a change whose key is in it;
// a delete-range passes when its range overlaps it. An operation list passes
// only those operations. Changes that do not pass are skipped, never
// reported as a gap: progress messages still advance past them.
//
// Thread-safety: immutable after Parse.
#ifndef CAIRN_SERVER_TAIL_FILTER_H_
#define CAIRN_SERVER_TAIL_FILTER_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cairn/storage/change_reader.h"
#include "cairn/v1/replication.pb.h"

namespace cairn::server {

class TailFilter {
 public:
  // INVALID_ARGUMENT naming the field ("filter.start") for a prefix combined
  // with start or end, start >= end, or an unknown operation.
  static absl::StatusOr<TailFilter> Parse(const v1::TailFilter& filter);

  bool Matches(const storage::Change& change) const;

 private:
  std::string lower_;                 // inclusive; "" = unbounded
  std::optional<std::string> upper_;  // exclusive; none = unbounded
  unsigned ops_ = 0;                  // bit per storage::ChangeType; 0 = all
};

// The wire form of an engine change type.
v1::ChangeOp ToChangeOp(storage::ChangeType type);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_TAIL_FILTER_H_
