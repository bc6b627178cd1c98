#include "cairn/client/batch.h"

#include <utility>

namespace cairn::client {

Batch& Batch::Put(std::string key, std::string value, absl::Duration ttl) {
  Op op;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.ttl = ttl;
  ops_.push_back(std::move(op));
  return *this;
}

Batch& Batch::PutWithExpiry(std::string key, std::string value,
                            absl::Time expires_at) {
  Op op;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.expires_at = expires_at;
  ops_.push_back(std::move(op));
  return *this;
}

Batch& Batch::Delete(std::string key) {
  Op op;
  op.kind = OpKind::kDelete;
  op.key = std::move(key);
  ops_.push_back(std::move(op));
  return *this;
}

Batch& Batch::DeleteRange(std::string start, std::string end) {
  Op op;
  op.kind = OpKind::kDeleteRange;
  op.key = std::move(start);
  op.value = std::move(end);
  ops_.push_back(std::move(op));
  return *this;
}

Batch& Batch::Merge(std::string key, std::string merge_operator,
                    std::string operand, std::string argument) {
  Op op;
  op.kind = OpKind::kMerge;
  op.key = std::move(key);
  op.value = std::move(operand);
  op.merge_operator = std::move(merge_operator);
  op.merge_argument = std::move(argument);
  ops_.push_back(std::move(op));
  return *this;
}

Batch& Batch::IfExists(std::string key) {
  conditions_.push_back({ConditionKind::kExists, std::move(key), 0, ""});
  return *this;
}

Batch& Batch::IfAbsent(std::string key) {
  conditions_.push_back({ConditionKind::kAbsent, std::move(key), 0, ""});
  return *this;
}

Batch& Batch::IfRevision(std::string key, uint64_t revision) {
  conditions_.push_back(
      {ConditionKind::kRevisionEquals, std::move(key), revision, ""});
  return *this;
}

Batch& Batch::IfValueEquals(std::string key, std::string value) {
  conditions_.push_back(
      {ConditionKind::kValueEquals, std::move(key), 0, std::move(value)});
  return *this;
}

void Batch::Clear() {
  ops_.clear();
  conditions_.clear();
}

}  // namespace cairn::client
