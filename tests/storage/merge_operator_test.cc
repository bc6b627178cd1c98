// Built-in merge operators: canonical int64 parsing, add/max/min/append
// semantics, operand validation, and PartialMerge associativity.
#include "cairn/storage/merge_operator.h"

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// Concatenates pieces; absl::StrCat here does not take std::string_view.
std::string Cat(std::initializer_list<std::string_view> pieces) {
  std::string s;
  for (std::string_view p : pieces) s.append(p);
  return s;
}

std::shared_ptr<const MergeOperator> Find(std::string_view name) {
  for (const auto& op : BuiltinMergeOperators()) {
    if (op->Name() == name) return op;
  }
  ADD_FAILURE() << "no built-in operator named " << name;
  return nullptr;
}

// The outcome of Apply: the status and, if OK, the result.
struct Outcome {
  absl::StatusCode code;
  std::string value;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << absl::StatusCodeToString(o.code) << " '" << o.value << "'";
}

Outcome Apply(const MergeOperator& op, const std::optional<std::string>& base,
              std::string_view argument, std::string_view operand) {
  std::string result = "garbage";
  absl::Status s =
      op.Apply(base.has_value() ? &*base : nullptr, argument, operand, &result);
  return Outcome{s.code(), s.ok() ? result : std::string()};
}

Outcome Ok(std::string value) {
  return Outcome{absl::StatusCode::kOk, std::move(value)};
}

const Outcome kFailed{absl::StatusCode::kFailedPrecondition, ""};

const std::vector<std::string_view> kNumericOps = {"add", "max", "min"};

TEST(MergeOperatorTest, BuiltinsInOrder) {
  std::vector<std::shared_ptr<const MergeOperator>> ops =
      BuiltinMergeOperators();
  ASSERT_EQ(ops.size(), 4u);
  EXPECT_EQ(ops[0]->Name(), "add");
  EXPECT_EQ(ops[1]->Name(), "append");
  EXPECT_EQ(ops[2]->Name(), "max");
  EXPECT_EQ(ops[3]->Name(), "min");
}

TEST(MergeOperatorTest, DefaultPartialMergeDeclines) {
  class Plain final : public MergeOperator {
   public:
    std::string_view Name() const override { return "plain"; }
    absl::Status ValidateOperand(std::string_view,
                                 std::string_view) const override {
      return absl::OkStatus();
    }
    absl::Status Apply(const std::string*, std::string_view,
                       std::string_view operand,
                       std::string* result) const override {
      *result = std::string(operand);
      return absl::OkStatus();
    }
  };
  Plain plain;
  std::string combined = "untouched";
  EXPECT_FALSE(plain.PartialMerge("", "a", "b", &combined));
}

TEST(MergeOperatorTest, CanonicalInt64Accepted) {
  for (std::string_view name : kNumericOps) {
    auto op = Find(name);
    ASSERT_NE(op, nullptr);
    for (std::string_view text :
         {"0", "1", "-1", "7", "10", "-10", "42", "1000000", "-1000000",
          "9223372036854775807", "-9223372036854775808", "9223372036854775806",
          "-9223372036854775807"}) {
      SCOPED_TRACE(Cat({name, " '", text, "'"}));
      EXPECT_TRUE(op->ValidateOperand("", text).ok());
      // Absent base takes the operand unchanged (it is already canonical).
      EXPECT_EQ(Apply(*op, std::nullopt, "", text), Ok(std::string(text)));
      // As an existing value it parses too.
      EXPECT_EQ(Apply(*op, std::string(text), "", "0").code,
                absl::StatusCode::kOk);
      std::string combined;
      EXPECT_TRUE(op->PartialMerge("", text, "0", &combined));
    }
  }
}

TEST(MergeOperatorTest, NonCanonicalInt64Rejected) {
  const std::vector<std::string> bad = {
      "",
      "-",
      "+1",
      "+0",
      "01",
      "00",
      "-01",
      "-0",
      " 1",
      "1 ",
      "- 1",
      "--1",
      "1-",
      "9223372036854775808",
      "-9223372036854775809",
      "18446744073709551616",
      "99999999999999999999",
      "100000000000000000000",
      "-100000000000000000000",
      "1a",
      "a1",
      "0x10",
      "1e3",
      "1.0",
      "1,000",
      std::string("1\0", 2),
      std::string("\0"
                  "1",
                  2),
      "\xef\xbc\x91",  // fullwidth digit one
  };
  for (std::string_view name : kNumericOps) {
    auto op = Find(name);
    ASSERT_NE(op, nullptr);
    for (const std::string& text : bad) {
      SCOPED_TRACE(Cat({name, " '", text, "'"}));
      absl::Status s = op->ValidateOperand("", text);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
      // Corrupt operands and existing values fail the fold, never crash.
      EXPECT_EQ(Apply(*op, std::nullopt, "", text), kFailed);
      EXPECT_EQ(Apply(*op, std::string("5"), "", text), kFailed);
      EXPECT_EQ(Apply(*op, text, "", "5"), kFailed);
      std::string combined;
      EXPECT_FALSE(op->PartialMerge("", text, "5", &combined));
      EXPECT_FALSE(op->PartialMerge("", "5", text, &combined));
    }
  }
}

// Reference: canonical text is exactly what formatting the value gives back
// (this rules out "-0", leading zeros and '+'); std::from_chars checks the
// range.
bool IsCanonicalInt64(const std::string& text) {
  int64_t v;
  std::from_chars_result r =
      std::from_chars(text.data(), text.data() + text.size(), v);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() &&
         std::to_string(v) == text;
}

TEST(MergeOperatorTest, ParsingMatchesReference) {
  auto add = Find("add");
  ASSERT_NE(add, nullptr);
  std::mt19937_64 rng(7);
  static constexpr char kChars[] = "-+0123456789 x";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    if (rng() % 2 == 0) {
      // Long digit strings around the 19-digit bounds of int64_t.
      const std::string bound =
          rng() % 2 == 0 ? "9223372036854775807" : "-9223372036854775808";
      text = bound;
      const size_t last = text.size() - 1 - rng() % 4;
      text[last] = static_cast<char>('0' + rng() % 10);
      if (rng() % 4 == 0) text += static_cast<char>('0' + rng() % 10);
      if (rng() % 4 == 0) text.pop_back();
    } else {
      text.resize(rng() % 5);
      for (char& c : text) c = kChars[rng() % (sizeof(kChars) - 1)];
    }
    const bool want = IsCanonicalInt64(text);
    accepted += want;
    ASSERT_EQ(add->ValidateOperand("", text).ok(), want) << "'" << text << "'";
    if (want) {
      // Round trip: the absent base takes the operand as it is.
      ASSERT_EQ(Apply(*add, std::nullopt, "", text), Ok(text));
    }
  }
  EXPECT_GT(accepted, 1000);
}

TEST(MergeOperatorTest, NumericOperatorsRefuseAnArgument) {
  for (std::string_view name : kNumericOps) {
    auto op = Find(name);
    ASSERT_NE(op, nullptr);
    absl::Status s = op->ValidateOperand(",", "1");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name << s;
    EXPECT_TRUE(op->ValidateOperand("", "1").ok()) << name;
  }
}

TEST(MergeOperatorTest, AddAbsentCountsAsZero) {
  auto add = Find("add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(Apply(*add, std::nullopt, "", "5"), Ok("5"));
  EXPECT_EQ(Apply(*add, std::nullopt, "", "-5"), Ok("-5"));
  EXPECT_EQ(Apply(*add, std::nullopt, "", "0"), Ok("0"));
}

TEST(MergeOperatorTest, AddSums) {
  auto add = Find("add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(Apply(*add, "10", "", "32"), Ok("42"));
  EXPECT_EQ(Apply(*add, "10", "", "-32"), Ok("-22"));
  EXPECT_EQ(Apply(*add, "-5", "", "5"), Ok("0"));  // not "-0"
  EXPECT_EQ(Apply(*add, "0", "", "0"), Ok("0"));
  EXPECT_EQ(Apply(*add, "-9223372036854775807", "", "-1"),
            Ok("-9223372036854775808"));
}

TEST(MergeOperatorTest, AddWrapsAround) {
  auto add = Find("add");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(Apply(*add, "9223372036854775807", "", "1"),
            Ok("-9223372036854775808"));
  EXPECT_EQ(Apply(*add, "-9223372036854775808", "", "-1"),
            Ok("9223372036854775807"));
  EXPECT_EQ(Apply(*add, "9223372036854775807", "", "9223372036854775807"),
            Ok("-2"));
  EXPECT_EQ(Apply(*add, "-9223372036854775808", "", "-9223372036854775808"),
            Ok("0"));
  std::string combined;
  ASSERT_TRUE(add->PartialMerge("", "9223372036854775807", "1", &combined));
  EXPECT_EQ(combined, "-9223372036854775808");
}

TEST(MergeOperatorTest, AddOntoNonIntegerFails) {
  auto add = Find("add");
  ASSERT_NE(add, nullptr);
  std::string result;
  std::string existing = "abc";
  absl::Status s = add->Apply(&existing, "", "1", &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(std::string(s.message()).find("existing value"), std::string::npos)
      << s;
  EXPECT_EQ(Apply(*add, "", "", "1"), kFailed);  // empty is not an integer
  EXPECT_EQ(Apply(*add, "-0", "", "1"), kFailed);
}

TEST(MergeOperatorTest, MaxAndMin) {
  auto max = Find("max");
  auto min = Find("min");
  ASSERT_NE(max, nullptr);
  ASSERT_NE(min, nullptr);
  EXPECT_EQ(Apply(*max, std::nullopt, "", "-7"), Ok("-7"));
  EXPECT_EQ(Apply(*min, std::nullopt, "", "7"), Ok("7"));
  EXPECT_EQ(Apply(*max, "3", "", "5"), Ok("5"));
  EXPECT_EQ(Apply(*max, "5", "", "3"), Ok("5"));
  EXPECT_EQ(Apply(*max, "-3", "", "-5"), Ok("-3"));
  EXPECT_EQ(Apply(*min, "3", "", "5"), Ok("3"));
  EXPECT_EQ(Apply(*min, "5", "", "3"), Ok("3"));
  EXPECT_EQ(Apply(*min, "-3", "", "-5"), Ok("-5"));
  EXPECT_EQ(Apply(*max, "-9223372036854775808", "", "9223372036854775807"),
            Ok("9223372036854775807"));
  EXPECT_EQ(Apply(*min, "-9223372036854775808", "", "9223372036854775807"),
            Ok("-9223372036854775808"));
  EXPECT_EQ(Apply(*max, "4", "", "4"), Ok("4"));
  EXPECT_EQ(Apply(*max, "x", "", "4"), kFailed);
  EXPECT_EQ(Apply(*min, "x", "", "4"), kFailed);

  std::string combined;
  ASSERT_TRUE(max->PartialMerge("", "-2", "9", &combined));
  EXPECT_EQ(combined, "9");
  ASSERT_TRUE(min->PartialMerge("", "-2", "9", &combined));
  EXPECT_EQ(combined, "-2");
}

TEST(MergeOperatorTest, Append) {
  auto append = Find("append");
  ASSERT_NE(append, nullptr);
  // Anything is a valid operand, with or without a delimiter.
  EXPECT_TRUE(append->ValidateOperand("", "").ok());
  EXPECT_TRUE(append->ValidateOperand(", ", std::string("\0\xff", 2)).ok());

  EXPECT_EQ(Apply(*append, std::nullopt, "", "b"), Ok("b"));
  EXPECT_EQ(Apply(*append, std::nullopt, ",", "b"), Ok("b"));
  EXPECT_EQ(Apply(*append, "a", "", "b"), Ok("ab"));
  EXPECT_EQ(Apply(*append, "a", ",", "b"), Ok("a,b"));
  EXPECT_EQ(Apply(*append, "a", ", ", ""), Ok("a, "));
  // An empty value is present: the delimiter still goes in.
  EXPECT_EQ(Apply(*append, "", ",", "b"), Ok(",b"));
  EXPECT_EQ(Apply(*append, "", "", "b"), Ok("b"));
  EXPECT_EQ(Apply(*append, std::string("a\0", 2), std::string("\0", 1), "b"),
            Ok(std::string("a\0\0b", 4)));

  std::string combined;
  ASSERT_TRUE(append->PartialMerge(",", "x", "y", &combined));
  EXPECT_EQ(combined, "x,y");
  ASSERT_TRUE(append->PartialMerge("", "x", "y", &combined));
  EXPECT_EQ(combined, "xy");
}

TEST(MergeOperatorTest, ApplyMayWriteOverTheExistingValue) {
  for (const auto& op : BuiltinMergeOperators()) {
    std::string value = "12";
    ASSERT_TRUE(op->Apply(&value, "", "30", &value).ok()) << op->Name();
    const std::string want = op->Name() == "add"      ? "42"
                             : op->Name() == "append" ? "1230"
                             : op->Name() == "max"    ? "30"
                                                      : "12";
    EXPECT_EQ(value, want) << op->Name();
  }
}

// Random values weighted towards the edges of int64_t.
int64_t RandomInt64(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0: {
      static constexpr int64_t kEdges[] = {kMin, kMin + 1, -1,  0,
                                           1,    kMax - 1, kMax};
      return kEdges[rng() % std::size(kEdges)];
    }
    case 1:
      return static_cast<int64_t>(rng() % 21) - 10;
    case 2:
      return kMax - static_cast<int64_t>(rng() % 100);
    case 3:
      return kMin + static_cast<int64_t>(rng() % 100);
    default:
      return static_cast<int64_t>(rng());
  }
}

std::string RandomBytes(std::mt19937_64& rng) {
  static constexpr char kAlphabet[] = {'a', 'b', ',', '\0', '\xff', '-', '1'};
  std::string s(rng() % 5, ' ');
  for (char& c : s) c = kAlphabet[rng() % std::size(kAlphabet)];
  return s;
}

TEST(MergeOperatorTest, PartialMergeIsAssociative) {
  std::mt19937_64 rng(20240611);
  int checked = 0;
  for (const auto& op : BuiltinMergeOperators()) {
    const bool append = op->Name() == "append";
    for (int i = 0; i < 3000; ++i) {
      std::string argument, older, newer;
      std::optional<std::string> base;
      if (append) {
        argument = RandomBytes(rng);
        older = RandomBytes(rng);
        newer = RandomBytes(rng);
        if (rng() % 4 != 0) base = RandomBytes(rng);  // often ""
      } else {
        older = std::to_string(RandomInt64(rng));
        newer = std::to_string(RandomInt64(rng));
        switch (rng() % 5) {
          case 0:
            break;  // absent
          case 1:
            base = RandomBytes(rng);  // mostly not an integer
            break;
          default:
            base = std::to_string(RandomInt64(rng));
        }
      }
      const std::string shown_base =
          base.has_value() ? "'" + *base + "'" : "absent";
      SCOPED_TRACE(Cat({op->Name(), " base=", shown_base, " arg='", argument,
                        "' older=", older, " newer=", newer}));
      ASSERT_TRUE(op->ValidateOperand(argument, older).ok());
      ASSERT_TRUE(op->ValidateOperand(argument, newer).ok());
      std::string combined;
      ASSERT_TRUE(op->PartialMerge(argument, older, newer, &combined));
      ASSERT_TRUE(op->ValidateOperand(argument, combined).ok()) << combined;

      Outcome step = Apply(*op, base, argument, older);
      Outcome sequential = step.code == absl::StatusCode::kOk
                               ? Apply(*op, step.value, argument, newer)
                               : step;
      Outcome merged = Apply(*op, base, argument, combined);
      ASSERT_EQ(sequential, merged);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4 * 3000);
}

}  // namespace
}  // namespace cairn::storage
