// MergeRegistry: the merge operators a DB knows (the built-ins plus those in
// Options::merge_operators), looked up by the name each operand carries, and
// the fold that turns a base and its operands into a value.
//
// Thread-safety: immutable after Create; shared by every thread.
#ifndef CAIRN_STORAGE_MERGE_REGISTRY_H_
#define CAIRN_STORAGE_MERGE_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/storage/merge_operator.h"

namespace cairn::storage {

class MergeRegistry {
 public:
  // The built-ins plus `extra`. InvalidArgument for an unnamed operator, a
  // name longer than 255 bytes, or a name registered twice.
  static absl::StatusOr<std::shared_ptr<const MergeRegistry>> Create(
      const std::vector<std::shared_ptr<const MergeOperator>>& extra);

  // Null if no operator has that name.
  const MergeOperator* Find(std::string_view name) const;

  // Write-time check of an encoded operand (merge_operand.h): a known
  // operator that accepts the operand. InvalidArgument otherwise.
  absl::Status Validate(std::string_view encoded) const;

  // Folds encoded operands, oldest first, over base (null: absent) into
  // *result. FailedPrecondition (naming the key and the operator) if an
  // operand cannot apply or its operator is not registered; DataLoss if an
  // operand is malformed.
  absl::Status Fold(std::string_view key, const std::string* base,
                    const std::vector<std::string_view>& operands,
                    std::string* result) const;

  // Combines two encoded operands of one operator and argument (older
  // first) into one encoded operand, if the operator allows it.
  bool PartialMerge(std::string_view older, std::string_view newer,
                    std::string* combined) const;

 private:
  std::map<std::string, std::shared_ptr<const MergeOperator>, std::less<>> ops_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_MERGE_REGISTRY_H_
