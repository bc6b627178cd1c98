// MergeOperator: a read-modify-write rule the engine applies for the writer.
//
// DB::Merge(key, operator, operand) records an operand instead of reading the
// key and writing the result. Each operand names its operator (and carries an
// optional argument, such as append's delimiter), so one key may receive
// operands of different operators. A key's value is its operands folded in
// sequence order over the base: the newest Put (its value), or absence (no
// write, a Delete, a range deletion, or an expired Put). Folding happens on
// read and, ahead of reads, during flush and compaction.
//
// Built-in operators (docs/architecture.md, "Merge operators"):
//   add     signed 64-bit counter; operand and value are canonical decimal
//           text ("-?[0-9]+", no leading zeros or '+'); overflow wraps
//           (two's complement); absence counts as 0.
//   append  appends the operand; with an argument, the argument is inserted
//           as a delimiter between a present value and the operand.
//   max     the larger of the value and the operand (decimal int64, as add);
//           absence takes the operand.
//   min     the smaller, likewise.
//
// A malformed operand is refused when written (InvalidArgument). An operand
// that cannot apply to the value below it (add onto "abc") makes the fold
// fail with FailedPrecondition naming the key's operator and sequence; the
// read reports that error, and compaction keeps the base and its operands as
// they are, so nothing is lost and a later Put repairs the key.
//
// Thread-safety: operators are called from many threads at once and must be
// stateless (or internally synchronized).
#ifndef CAIRN_STORAGE_MERGE_OPERATOR_H_
#define CAIRN_STORAGE_MERGE_OPERATOR_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace cairn::storage {

class MergeOperator {
 public:
  virtual ~MergeOperator() = default;

  // The name operands refer to it by; stored with every operand, so it must
  // never change. At most 255 bytes.
  virtual std::string_view Name() const = 0;

  // Checks an operand (and argument) when it is written; InvalidArgument
  // saying what is wrong refuses the write.
  virtual absl::Status ValidateOperand(std::string_view argument,
                                       std::string_view operand) const = 0;

  // Applies one operand to the value below it (null: the key is absent),
  // storing the new value in *result. FailedPrecondition if the operand
  // cannot apply to that value; the fold then fails as described above.
  virtual absl::Status Apply(const std::string* existing,
                             std::string_view argument,
                             std::string_view operand,
                             std::string* result) const = 0;

  // Combines two consecutive operands with the same argument (older first)
  // into one that has the same effect on every value, or returns false if
  // the operator cannot (the default). Associative operators implement it so
  // that compaction can shrink operand stacks whose base it cannot see.
  virtual bool PartialMerge(std::string_view argument, std::string_view older,
                            std::string_view newer,
                            std::string* combined) const;
};

// The built-in operators, in the order listed above.
std::vector<std::shared_ptr<const MergeOperator>> BuiltinMergeOperators();

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_MERGE_OPERATOR_H_
