// The built-in merge operators: add, append, max and min.
#include "cairn/storage/merge_operator.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace cairn::storage {
namespace {

// Parses canonical decimal int64 text: "-?(0|[1-9][0-9]*)" but not "-0",
// within the range of int64_t. '+', leading zeros and spaces are refused.
std::optional<int64_t> ParseCanonicalInt64(std::string_view s) {
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  if (s.front() == '0') {
    if (s.size() != 1 || negative) return std::nullopt;  // "01", "-0"
    return 0;
  }
  // The magnitude may reach 2^63 only when negative.
  const uint64_t limit =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) +
      (negative ? 1 : 0);
  uint64_t magnitude = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (limit - digit) / 10) return std::nullopt;  // overflow
    magnitude = magnitude * 10 + digit;
  }
  // Conversion to int64_t is modular (C++20): 2^63 becomes INT64_MIN.
  return static_cast<int64_t>(negative ? uint64_t{0} - magnitude : magnitude);
}

std::string FormatInt64(int64_t v) {
  char buf[24];
  std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// Two's-complement addition, done unsigned so that overflow is defined.
int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) +
                              static_cast<uint64_t>(b));
}

std::string Concat(std::string_view a, std::string_view b, std::string_view c) {
  std::string s;
  s.reserve(a.size() + b.size() + c.size());
  s.append(a).append(b).append(c);
  return s;
}

absl::Status ExistingNotInt64() {
  return absl::FailedPreconditionError("existing value is not a decimal int64");
}

absl::Status OperandNotInt64() {
  return absl::FailedPreconditionError("operand is not a decimal int64");
}

// Shared by add, max and min: values and operands are canonical decimal
// int64 text and there is no argument. Derived supplies kName and
// Combine(older, newer), an associative operation on int64_t for which
// absence behaves as the identity (add: 0), so that an absent value takes
// the operand.
template <typename Derived>
class Int64Operator : public MergeOperator {
 public:
  std::string_view Name() const override { return Derived::kName; }

  absl::Status ValidateOperand(std::string_view argument,
                               std::string_view operand) const override {
    if (!argument.empty()) {
      return absl::InvalidArgumentError(std::string(Derived::kName) +
                                        " takes no argument");
    }
    if (!ParseCanonicalInt64(operand).has_value()) {
      return absl::InvalidArgumentError(
          "operand is not a canonical decimal int64 (no sign but '-', no "
          "leading zeros, no \"-0\")");
    }
    return absl::OkStatus();
  }

  // The argument is ignored: ValidateOperand admits none.
  absl::Status Apply(const std::string* existing, std::string_view /*argument*/,
                     std::string_view operand,
                     std::string* result) const override {
    std::optional<int64_t> value;
    if (existing != nullptr) {
      value = ParseCanonicalInt64(*existing);
      if (!value.has_value()) return ExistingNotInt64();
    }
    const std::optional<int64_t> delta = ParseCanonicalInt64(operand);
    if (!delta.has_value()) return OperandNotInt64();
    *result = FormatInt64(value.has_value() ? Derived::Combine(*value, *delta)
                                            : *delta);
    return absl::OkStatus();
  }

  bool PartialMerge(std::string_view /*argument*/, std::string_view older,
                    std::string_view newer,
                    std::string* combined) const override {
    const std::optional<int64_t> a = ParseCanonicalInt64(older);
    const std::optional<int64_t> b = ParseCanonicalInt64(newer);
    if (!a.has_value() || !b.has_value()) return false;
    *combined = FormatInt64(Derived::Combine(*a, *b));
    return true;
  }
};

class AddOperator final : public Int64Operator<AddOperator> {
 public:
  static constexpr std::string_view kName = "add";
  static int64_t Combine(int64_t older, int64_t newer) {
    return WrappingAdd(older, newer);
  }
};

class MaxOperator final : public Int64Operator<MaxOperator> {
 public:
  static constexpr std::string_view kName = "max";
  static int64_t Combine(int64_t older, int64_t newer) {
    return std::max(older, newer);
  }
};

class MinOperator final : public Int64Operator<MinOperator> {
 public:
  static constexpr std::string_view kName = "min";
  static int64_t Combine(int64_t older, int64_t newer) {
    return std::min(older, newer);
  }
};

// Concatenation; the argument, if any, goes between a present value (even an
// empty one) and the operand. Any operand and argument are accepted.
class AppendOperator final : public MergeOperator {
 public:
  std::string_view Name() const override { return "append"; }

  absl::Status ValidateOperand(std::string_view /*argument*/,
                               std::string_view /*operand*/) const override {
    return absl::OkStatus();
  }

  absl::Status Apply(const std::string* existing, std::string_view argument,
                     std::string_view operand,
                     std::string* result) const override {
    if (existing == nullptr) {
      result->assign(operand.data(), operand.size());
      return absl::OkStatus();
    }
    // Built aside, so that result may alias existing.
    *result = Concat(*existing, argument, operand);
    return absl::OkStatus();
  }

  bool PartialMerge(std::string_view argument, std::string_view older,
                    std::string_view newer,
                    std::string* combined) const override {
    *combined = Concat(older, argument, newer);
    return true;
  }
};

}  // namespace

bool MergeOperator::PartialMerge(std::string_view /*argument*/,
                                 std::string_view /*older*/,
                                 std::string_view /*newer*/,
                                 std::string* /*combined*/) const {
  return false;
}

std::vector<std::shared_ptr<const MergeOperator>> BuiltinMergeOperators() {
  return {std::make_shared<const AddOperator>(),
          std::make_shared<const AppendOperator>(),
          std::make_shared<const MaxOperator>(),
          std::make_shared<const MinOperator>()};
}

}  // namespace cairn::storage
