// Batch: the writes and preconditions of one atomic KV.Batch, built up before
// Client::Write sends it. Either every condition holds and every op is
// applied with one sequence range, or nothing is written (and the result
// says which condition failed; that is not an error).
//
//   cairn::client::Batch b;
//   b.IfAbsent("user/42").Put("user/42", "alice").Merge("users", "add", "1");
//   absl::StatusOr<BatchResult> r = client->Write(b);
//
// Not thread-safe; a built Batch can be sent any number of times.
#ifndef CAIRN_CLIENT_BATCH_H_
#define CAIRN_CLIENT_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cairn::client {

class Batch {
 public:
  enum class OpKind { kPut, kDelete, kDeleteRange, kMerge };
  struct Op {
    OpKind kind = OpKind::kPut;
    std::string key;    // the start for kDeleteRange
    std::string value;  // put value, merge operand; end for kDeleteRange
    std::string merge_operator;
    std::string merge_argument;
    absl::Duration ttl = absl::ZeroDuration();
    absl::Time expires_at = absl::InfinitePast();
  };
  enum class ConditionKind { kExists, kAbsent, kRevisionEquals, kValueEquals };
  struct Condition {
    ConditionKind kind = ConditionKind::kExists;
    std::string key;
    uint64_t revision = 0;
    std::string value;
  };

  Batch& Put(std::string key, std::string value,
             absl::Duration ttl = absl::ZeroDuration());
  Batch& PutWithExpiry(std::string key, std::string value,
                       absl::Time expires_at);
  Batch& Delete(std::string key);
  // Deletes every key in [start, end).
  Batch& DeleteRange(std::string start, std::string end);
  // operator: "add", "append", "max" or "min"; argument: the delimiter of
  // "append".
  Batch& Merge(std::string key, std::string merge_operator, std::string operand,
               std::string argument = "");

  // The key has a live value.
  Batch& IfExists(std::string key);
  // The key has no live value.
  Batch& IfAbsent(std::string key);
  // The key's revision is `revision` (0: the key is absent).
  Batch& IfRevision(std::string key, uint64_t revision);
  // The key's value is `value` byte for byte.
  Batch& IfValueEquals(std::string key, std::string value);

  const std::vector<Op>& ops() const { return ops_; }
  const std::vector<Condition>& conditions() const { return conditions_; }
  bool empty() const { return ops_.empty(); }
  void Clear();

 private:
  std::vector<Op> ops_;
  std::vector<Condition> conditions_;
};

struct BatchResult {
  // False when a condition failed; nothing was written then.
  bool succeeded = false;
  // Sequence of the batch's last op (0 when not succeeded).
  uint64_t seq = 0;
  // Index of the first failed condition; -1 when succeeded.
  int failed_condition = -1;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_BATCH_H_
