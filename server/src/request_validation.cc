#include "request_validation.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/storage/merge_operator.h"
#include "status_map.h"
#include "string_view_bridge.h"

namespace cairn::server {
namespace {

// Longest accepted TTL: far beyond any sensible use, far below overflow.
constexpr uint64_t kMaxTtlMillis = 100ull * 365 * 24 * 3600 * 1000;

const storage::MergeOperator* FindBuiltin(std::string_view name) {
  static const auto* ops =
      new std::vector<std::shared_ptr<const storage::MergeOperator>>(
          storage::BuiltinMergeOperators());
  for (const auto& op : *ops) {
    if (op->Name() == name) return op.get();
  }
  return nullptr;
}

}  // namespace

std::string SubField(std::string_view parent, std::string_view child) {
  if (parent.empty()) return std::string(child);
  return absl::StrCat(Sv(parent), ".", Sv(child));
}

std::string IndexField(std::string_view parent, size_t index) {
  return absl::StrCat(Sv(parent), "[", index, "]");
}

absl::Status RequestValidator::Key(std::string_view field,
                                   const std::string& key) const {
  if (key.empty()) return InvalidFieldStatus(field, "empty key");
  if (key.size() > limits_.max_key_bytes) {
    return InvalidFieldStatus(
        field, absl::StrCat("key of ", key.size(), " bytes exceeds ",
                            limits_.max_key_bytes, " (--max_key_bytes)"));
  }
  return absl::OkStatus();
}

absl::Status RequestValidator::Value(std::string_view field,
                                     const std::string& value) const {
  if (value.size() > limits_.max_value_bytes) {
    return InvalidFieldStatus(
        field, absl::StrCat("value of ", value.size(), " bytes exceeds ",
                            limits_.max_value_bytes, " (--max_value_bytes)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> RequestValidator::Sync(std::string_view field,
                                            int durability) const {
  switch (durability) {
    case v1::DURABILITY_DEFAULT:
      return default_sync_;
    case v1::DURABILITY_SYNC:
      return true;
    case v1::DURABILITY_ASYNC:
      return false;
    default:
      return InvalidFieldStatus(
          field, absl::StrCat("unknown durability ", durability));
  }
}

absl::StatusOr<uint64_t> RequestValidator::Expiry(
    std::string_view field, uint64_t ttl_millis,
    uint64_t expires_at_unix_micros) const {
  if (ttl_millis != 0 && expires_at_unix_micros != 0) {
    return InvalidFieldStatus(
        SubField(field, "ttl_millis"),
        "set either ttl_millis or expires_at_unix_micros, not both");
  }
  if (ttl_millis > kMaxTtlMillis) {
    return InvalidFieldStatus(SubField(field, "ttl_millis"),
                              "longer than 100 years");
  }
  if (ttl_millis != 0) {
    return static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) +
           ttl_millis * 1000;
  }
  return expires_at_unix_micros;
}

absl::Status RequestValidator::Merge(std::string_view field,
                                     const std::string& op,
                                     const std::string& operand,
                                     const std::string& argument) const {
  const storage::MergeOperator* m = FindBuiltin(op);
  if (m == nullptr) {
    return InvalidFieldStatus(SubField(field, "operator"),
                              absl::StrCat("unknown merge operator '", op,
                                           "' (add, append, max or min)"));
  }
  absl::Status s = Value(SubField(field, "operand"), operand);
  if (!s.ok()) return s;
  s = Value(SubField(field, "argument"), argument);
  if (!s.ok()) return s;
  // Of the built-ins only append takes an argument (its delimiter); checked
  // here so that the error names the argument, not the operand.
  if (!argument.empty() && op != "append") {
    return InvalidFieldStatus(SubField(field, "argument"),
                              absl::StrCat(op, " takes no argument"));
  }
  s = m->ValidateOperand(argument, operand);
  if (!s.ok()) {
    return InvalidFieldStatus(SubField(field, "operand"),
                              std::string(s.message()));
  }
  return absl::OkStatus();
}

absl::Status RequestValidator::AddPut(std::string_view field,
                                      const v1::PutOp& op,
                                      storage::WriteBatch* batch) const {
  absl::Status s = Key(SubField(field, "key"), op.key());
  if (!s.ok()) return s;
  s = Value(SubField(field, "value"), op.value());
  if (!s.ok()) return s;
  absl::StatusOr<uint64_t> expiry =
      Expiry(field, op.ttl_millis(), op.expires_at_unix_micros());
  if (!expiry.ok()) return expiry.status();
  if (*expiry != 0) {
    batch->PutWithExpiry(op.key(), op.value(), *expiry);
  } else {
    batch->Put(op.key(), op.value());
  }
  return absl::OkStatus();
}

absl::Status RequestValidator::AddOp(std::string_view field,
                                     const v1::BatchOp& op,
                                     storage::WriteBatch* batch) const {
  switch (op.op_case()) {
    case v1::BatchOp::kPut:
      return AddPut(SubField(field, "put"), op.put(), batch);
    case v1::BatchOp::kDelete: {
      absl::Status s = Key(SubField(field, "delete.key"), op.delete_().key());
      if (!s.ok()) return s;
      batch->Delete(op.delete_().key());
      return absl::OkStatus();
    }
    case v1::BatchOp::kDeleteRange: {
      const v1::DeleteRangeOp& r = op.delete_range();
      std::string f = SubField(field, "delete_range");
      absl::Status s = Key(SubField(f, "start"), r.start());
      if (!s.ok()) return s;
      s = Key(SubField(f, "end"), r.end());
      if (!s.ok()) return s;
      if (r.start() >= r.end()) {
        return InvalidFieldStatus(SubField(f, "end"), "must be > start");
      }
      batch->DeleteRange(r.start(), r.end());
      return absl::OkStatus();
    }
    case v1::BatchOp::kMerge: {
      const v1::MergeOp& m = op.merge();
      std::string f = SubField(field, "merge");
      absl::Status s = Key(SubField(f, "key"), m.key());
      if (!s.ok()) return s;
      s = Merge(f, m.operator_(), m.operand(), m.argument());
      if (!s.ok()) return s;
      batch->Merge(m.key(), m.operator_(), m.operand(), m.argument());
      return absl::OkStatus();
    }
    case v1::BatchOp::OP_NOT_SET:
      break;
  }
  return InvalidFieldStatus(field,
                            "no op set (put, delete, delete_range "
                            "or merge)");
}

absl::Status RequestValidator::AddCondition(std::string_view field,
                                            const v1::Condition& c,
                                            storage::WriteBatch* batch) const {
  absl::Status s = Key(SubField(field, "key"), c.key());
  if (!s.ok()) return s;
  switch (c.kind()) {
    case v1::Condition::EXISTS:
      batch->RequireExists(c.key());
      return absl::OkStatus();
    case v1::Condition::ABSENT:
      batch->RequireAbsent(c.key());
      return absl::OkStatus();
    case v1::Condition::REVISION_EQUALS:
      batch->RequireSequence(c.key(), c.revision());
      return absl::OkStatus();
    case v1::Condition::VALUE_EQUALS:
      s = Value(SubField(field, "value"), c.value());
      if (!s.ok()) return s;
      batch->RequireValue(c.key(), c.value());
      return absl::OkStatus();
    default:
      return InvalidFieldStatus(
          SubField(field, "kind"),
          absl::StrCat("unknown or unspecified condition kind ",
                       static_cast<int>(c.kind())));
  }
}

absl::Status RequestValidator::BuildBatch(const v1::BatchRequest& request,
                                          storage::WriteBatch* batch) const {
  if (request.ops_size() == 0 && request.conditions_size() == 0) {
    return InvalidFieldStatus("ops", "empty batch");
  }
  if (static_cast<uint64_t>(request.ops_size()) > limits_.max_batch_ops) {
    return absl::ResourceExhaustedError(
        absl::StrCat("ops: ", request.ops_size(), " ops exceed ",
                     limits_.max_batch_ops, " (--max_batch_ops)"));
  }
  if (static_cast<uint64_t>(request.conditions_size()) >
      limits_.max_batch_ops) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "conditions: ", request.conditions_size(), " conditions exceed ",
        limits_.max_batch_ops, " (--max_batch_ops)"));
  }
  for (int i = 0; i < request.conditions_size(); ++i) {
    absl::Status s =
        AddCondition(IndexField("conditions", i), request.conditions(i), batch);
    if (!s.ok()) return s;
  }
  for (int i = 0; i < request.ops_size(); ++i) {
    absl::Status s = AddOp(IndexField("ops", i), request.ops(i), batch);
    if (!s.ok()) return s;
    if (batch->DataBytes() > limits_.max_batch_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("ops: more than ", limits_.max_batch_bytes,
                       " bytes of keys and values (--max_batch_bytes)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ScanBounds> RequestValidator::Range(
    std::string_view field, const std::string& start, const std::string& end,
    const std::string& prefix) const {
  ScanBounds b;
  if (!prefix.empty()) {
    if (!start.empty() || !end.empty()) {
      return InvalidFieldStatus(SubField(field, "prefix"),
                                "prefix cannot be combined with start/end");
    }
    absl::Status s = Key(SubField(field, "prefix"), prefix);
    if (!s.ok()) return s;
    b.prefix = prefix;
    return b;
  }
  if (start.size() > limits_.max_key_bytes) {
    return Key(SubField(field, "start"), start);
  }
  if (end.size() > limits_.max_key_bytes) {
    return Key(SubField(field, "end"), end);
  }
  if (!start.empty() && !end.empty() && start >= end) {
    return InvalidFieldStatus(SubField(field, "end"), "must be > start");
  }
  if (!start.empty()) b.lower = start;
  if (!end.empty()) b.upper = end;
  return b;
}

}  // namespace cairn::server
