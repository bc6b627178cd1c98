#include "merge_registry.h"

#include "absl/strings/str_format.h"
#include "dbformat.h"
#include "merge_operand.h"

namespace cairn::storage {

absl::StatusOr<std::shared_ptr<const MergeRegistry>> MergeRegistry::Create(
    const std::vector<std::shared_ptr<const MergeOperator>>& extra) {
  auto r = std::make_shared<MergeRegistry>();
  std::vector<std::shared_ptr<const MergeOperator>> all =
      BuiltinMergeOperators();
  all.insert(all.end(), extra.begin(), extra.end());
  for (const auto& op : all) {
    if (op == nullptr || op->Name().empty()) {
      return absl::InvalidArgumentError(
          "merge_operators: an operator has no name");
    }
    if (op->Name().size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrFormat("merge_operators: name of %d bytes (at most 255)",
                          op->Name().size()));
    }
    if (!r->ops_.emplace(std::string(op->Name()), op).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("merge_operators: '%s' is registered twice",
                          EscapeBytes(op->Name())));
    }
  }
  return r;
}

const MergeOperator* MergeRegistry::Find(std::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : it->second.get();
}

absl::Status MergeRegistry::Validate(std::string_view encoded) const {
  MergeOperand m;
  if (!DecodeMergeOperand(encoded, &m)) {
    return absl::InvalidArgumentError("merge: malformed operand encoding");
  }
  const MergeOperator* op = Find(m.op);
  if (op == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "merge: operator '%s' is not registered", EscapeBytes(m.op)));
  }
  absl::Status s = op->ValidateOperand(m.argument, m.operand);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("merge: operand for '%s': %s", m.op, s.message()));
  }
  return absl::OkStatus();
}

absl::Status MergeRegistry::Fold(std::string_view key, const std::string* base,
                                 const std::vector<std::string_view>& operands,
                                 std::string* result) const {
  std::string value, next;
  bool present = base != nullptr;
  if (present) value = *base;
  for (std::string_view encoded : operands) {
    MergeOperand m;
    if (!DecodeMergeOperand(encoded, &m)) {
      return absl::DataLossError(absl::StrFormat(
          "key '%s': malformed merge operand", EscapeBytes(key)));
    }
    const MergeOperator* op = Find(m.op);
    if (op == nullptr) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "key '%s': merge operator '%s' is not registered in this DB",
          EscapeBytes(key), EscapeBytes(m.op)));
    }
    next.clear();
    absl::Status s =
        op->Apply(present ? &value : nullptr, m.argument, m.operand, &next);
    if (!s.ok()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("key '%s': merge '%s' cannot apply: %s",
                          EscapeBytes(key), m.op, s.message()));
    }
    value.swap(next);
    present = true;
  }
  *result = std::move(value);
  return absl::OkStatus();
}

bool MergeRegistry::PartialMerge(std::string_view older, std::string_view newer,
                                 std::string* combined) const {
  MergeOperand a, b;
  if (!DecodeMergeOperand(older, &a) || !DecodeMergeOperand(newer, &b)) {
    return false;
  }
  if (a.op != b.op || a.argument != b.argument) return false;
  const MergeOperator* op = Find(a.op);
  if (op == nullptr) return false;
  std::string operand;
  if (!op->PartialMerge(a.argument, a.operand, b.operand, &operand)) {
    return false;
  }
  combined->clear();
  EncodeMergeOperand(combined, a.op, a.argument, operand);
  return true;
}

}  // namespace cairn::storage
