// Merge operators end to end through the DB: built-ins through Get and
// iterators (both directions, bounds) wherever their entries live, mixed
// operators, the reported seq, validation, fold failures, custom operators,
// and a randomized model test against a naive fold computed here.
// Model test environment: CAIRN_STORAGE_MERGE_OPS (operations per seed,
// default 2000), CAIRN_STORAGE_MERGE_SEEDS (fixed seeds, default 3),
// CAIRN_STORAGE_MERGE_SEED (run just this seed).
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cairn/storage/merge_operator.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::OpenOrDie;
using testing::SmallOptions;
using testing::TempDir;

// What a read of one key returned, printable: "value@seq", "<absent>" or
// "<CODE>".
std::string Show(const absl::StatusOr<GetResult>& r) {
  if (r.ok()) return absl::StrFormat("%s@%d", r->value, r->seq);
  if (absl::IsNotFound(r.status())) return "<absent>";
  return "<" + absl::StatusCodeToString(r.status().code()) + ">";
}

const std::string kFailed = "<FAILED_PRECONDITION>";

// Everything an iterator yields in one direction, as "key=value@seq", and
// how it ended.
struct Scan {
  std::vector<std::string> entries;
  absl::StatusCode end = absl::StatusCode::kOk;
};

std::string Entry(const Iterator& it) {
  return absl::StrFormat("%s=%s@%d", it.key(), it.value(), it.seq());
}

// The position of an iterator: its entry, or "<end CODE>" when not valid.
std::string At(const Iterator& it) {
  if (it.Valid()) return Entry(it);
  return "<end " + absl::StatusCodeToString(it.status().code()) + ">";
}

Scan ScanDb(DB* db, const ReadOptions& ro, bool forward) {
  Scan s;
  auto it = db->NewIterator(ro);
  for (forward ? it->SeekToFirst() : it->SeekToLast(); it->Valid();
       forward ? it->Next() : it->Prev()) {
    s.entries.push_back(Entry(*it));
  }
  s.end = it->status().code();
  return s;
}

// Built-ins, one key per case, under different storage layouts.

struct Write {
  enum Kind { kPut, kDelete, kDeleteKeyRange, kMerge } kind;
  std::string a, b, c;  // put: value; merge: op, operand, argument
};

Write P(std::string v) { return {Write::kPut, std::move(v), "", ""}; }
Write D() { return {Write::kDelete, "", "", ""}; }
Write R() { return {Write::kDeleteKeyRange, "", "", ""}; }
Write M(std::string op, std::string operand, std::string arg = "") {
  return {Write::kMerge, std::move(op), std::move(operand), std::move(arg)};
}

struct FoldCase {
  std::vector<Write> base;      // written first
  std::vector<Write> operands;  // then these, the first one separately
  std::string expected;
};

const std::vector<FoldCase>& FoldCases() {
  static const auto* cases = new std::vector<FoldCase>{
      {{}, {M("add", "5"), M("add", "-2"), M("add", "10")}, "13"},
      {{P("100")}, {M("add", "1")}, "101"},
      {{P("100"), D()}, {M("add", "7"), M("add", "1")}, "8"},
      {{P("100"), R()}, {M("add", "3")}, "3"},
      {{P("9223372036854775807")}, {M("add", "1")}, "-9223372036854775808"},
      {{P("-9223372036854775808")},
       {M("add", "-1"), M("add", "-9223372036854775808")},
       "-1"},
      {{},
       {M("append", "a"), M("append", "b", ","), M("append", "c", ",")},
       "a,b,c"},
      {{P("x")}, {M("append", "y"), M("append", "z")}, "xyz"},
      {{P("")}, {M("append", "a", ",")}, ",a"},
      {{},
       {M("append", "a"), M("append", "b", ","), M("append", "c", ";")},
       "a,b;c"},
      {{}, {M("max", "3"), M("max", "-5"), M("max", "7"), M("max", "2")}, "7"},
      {{P("100")}, {M("max", "3"), M("max", "99")}, "100"},
      {{}, {M("min", "3"), M("min", "-5"), M("min", "7")}, "-5"},
      {{P("-100")}, {M("min", "3")}, "-100"},
      {{P("5")},
       {M("append", "0"), M("add", "1"), M("max", "40"), M("min", "20"),
        M("append", "x", "-")},
       "20-x"},
      {{P("old"), D()}, {M("max", "4"), M("add", "2"), M("min", "5")}, "5"}};
  return *cases;
}

// Where the entries are when read: what happens after the bases, after the
// first operands, and at the end. A snapshot between bases and operands is
// held to the end unless the layout reopens.
struct Layout {
  const char* name;
  bool flush_after_base, compact_after_base, flush_after_first;
  bool flush_end, compact_end, reopen_end;
};

const Layout kLayouts[] = {
    {"Memtable", false, false, false, false, false, false},
    {"Flushed", false, false, false, true, false, false},
    {"Compacted", false, false, false, true, true, false},
    {"BaseDeepOperandsAbove", true, true, true, false, false, false},
    {"EveryStepFlushed", true, false, true, true, false, false},
    {"Reopened", false, false, false, false, false, true},
    {"FlushedReopenedCompacted", true, false, true, false, true, true},
};

class BuiltinFoldTest : public ::testing::TestWithParam<Layout> {};

TEST_P(BuiltinFoldTest, GetAndIteratorsAgree) {
  const Layout& layout = GetParam();
  TempDir dir;
  const Options options = SmallOptions();
  auto db = OpenOrDie(options, dir.path());
  const auto& cases = FoldCases();
  std::map<std::string, uint64_t> last_seq;
  auto key = [](size_t i) { return absl::StrFormat("case%02d", i); };
  auto apply = [&](const std::string& k, const Write& w) {
    auto s = w.kind == Write::kPut      ? db->Put({}, k, w.a)
             : w.kind == Write::kDelete ? db->Delete({}, k)
             : w.kind == Write::kMerge
                 ? db->Merge({}, k, w.a, w.b, w.c)
                 : db->DeleteRange({}, k, k + std::string(1, '\0'));
    ASSERT_TRUE(s.ok()) << k << ": " << s.status();
    last_seq[k] = *s;
  };

  last_seq["a"] = *db->Put({}, "a", "first");
  for (size_t i = 0; i < cases.size(); ++i) {
    for (const Write& w : cases[i].base) apply(key(i), w);
  }
  auto maybe = [&](bool flush, bool compact) {
    ASSERT_TRUE(!flush || db->Flush().ok());
    ASSERT_TRUE(!compact || db->CompactRange(nullptr, nullptr).ok());
  };
  maybe(layout.flush_after_base, layout.compact_after_base);
  const Snapshot* snap = db->GetSnapshot();
  ReadOptions at_snap;
  at_snap.snapshot = snap;
  for (size_t i = 0; i < cases.size(); ++i) apply(key(i), cases[i].operands[0]);
  maybe(layout.flush_after_first, false);
  for (size_t i = 0; i < cases.size(); ++i) {
    for (size_t j = 1; j < cases[i].operands.size(); ++j) {
      apply(key(i), cases[i].operands[j]);
    }
  }
  last_seq["z"] = *db->Put({}, "z", "last");
  maybe(layout.flush_end, false);
  if (layout.reopen_end) {
    db->ReleaseSnapshot(snap);
    snap = nullptr;
    ASSERT_TRUE(db->Close().ok());
    db = OpenOrDie(options, dir.path());
    ASSERT_NE(db, nullptr);
  }
  maybe(false, layout.compact_end);
  if (::testing::Test::HasFatalFailure()) return;

  std::vector<std::string> expected;  // forward, "key=value@seq"
  auto expect = [&](const std::string& k, const std::string& v) {
    return absl::StrFormat("%s@%d", v, last_seq[k]);
  };
  expected.push_back("a=" + expect("a", "first"));
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(key(i));
    auto g = db->Get({}, key(i));
    EXPECT_EQ(Show(g), expect(key(i), cases[i].expected));
    EXPECT_EQ(g.ok() ? g->expires_at_micros : 0, 0u);
    expected.push_back(key(i) + "=" + expect(key(i), cases[i].expected));
    if (snap != nullptr) {
      // The snapshot reads what the base writes alone left.
      const auto& base = cases[i].base;
      auto old = db->Get(at_snap, key(i));
      EXPECT_EQ(old.ok() ? old->value : Show(old),
                !base.empty() && base.back().kind == Write::kPut ? base.back().a
                                                                 : "<absent>");
    }
  }
  expected.push_back("z=" + expect("z", "last"));

  Scan fwd = ScanDb(db.get(), {}, true);
  EXPECT_EQ(fwd.end, absl::StatusCode::kOk);
  EXPECT_EQ(fwd.entries, expected);
  Scan rev = ScanDb(db.get(), {}, false);
  EXPECT_EQ(rev.end, absl::StatusCode::kOk);
  EXPECT_EQ(rev.entries,
            std::vector<std::string>(expected.rbegin(), expected.rend()));

  // Bounds: [case03, case09) -> expected[4..10).
  ReadOptions bounded;
  bounded.lower_bound = key(3);
  bounded.upper_bound = key(9);
  std::vector<std::string> inside(expected.begin() + 4, expected.begin() + 10);
  EXPECT_EQ(ScanDb(db.get(), bounded, true).entries, inside);
  EXPECT_EQ(ScanDb(db.get(), bounded, false).entries,
            std::vector<std::string>(inside.rbegin(), inside.rend()));
  if (snap != nullptr) db->ReleaseSnapshot(snap);
}

INSTANTIATE_TEST_SUITE_P(Layouts, BuiltinFoldTest,
                         ::testing::ValuesIn(kLayouts),
                         [](const auto& info) { return info.param.name; });

TEST(DBMerge, MalformedOperandsAreRefusedAndWriteNothing) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "k", "1").ok());
  const uint64_t last = db->LastSequence();
  // "op|operand|argument"
  // clang-format off
  const std::vector<std::string> bad = {
      "add|abc|", "add|01|", "add|-0|", "add|+1|", "add||", "add| 1|",
      "add|1 |", "add|1|,", "add|9223372036854775808|",
      "add|-9223372036854775809|", "max|1.5|", "max|7|x",
      "min|99999999999999999999|", "min||", "mul|2|", "|2|", "ADD|2|"};
  // clang-format on
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    const size_t p1 = text.find('|'), p2 = text.rfind('|');
    const std::string op = text.substr(0, p1), arg = text.substr(p2 + 1),
                      operand = text.substr(p1 + 1, p2 - p1 - 1);
    auto s = db->Merge({}, "k", op, operand, arg);
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
    EXPECT_EQ(db->LastSequence(), last);

    // In a batch with other operations, the whole batch is refused.
    WriteBatch batch;
    batch.Put("other", "x");
    batch.Merge("k", "add", "5");
    batch.Merge("k", op, operand, arg);
    batch.Delete("k");
    auto w = db->Write({}, batch);
    EXPECT_TRUE(absl::IsInvalidArgument(w.status())) << w.status();
    EXPECT_EQ(db->LastSequence(), last);
    EXPECT_TRUE(absl::IsNotFound(db->Get({}, "other").status()));
    EXPECT_EQ(Show(db->Get({}, "k")), absl::StrFormat("1@%d", last));
  }
  // The extremes are canonical and accepted.
  ASSERT_TRUE(db->Merge({}, "k", "add", "-9223372036854775808").ok());
  ASSERT_TRUE(db->Merge({}, "k", "add", "9223372036854775807").ok());
  EXPECT_EQ(db->Get({}, "k")->value, "0");
  // Nothing refused reached the WAL either.
  ASSERT_TRUE(db->Close().ok());
  db = OpenOrDie(SmallOptions(), dir.path());
  EXPECT_EQ(db->LastSequence(), last + 2);
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "other").status()));
}

TEST(DBMerge, FoldFailureIsReportedKeptAndRepairedByAPut) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "a", "1").ok());
  ASSERT_TRUE(db->Put({}, "bad", "abc").ok());
  ASSERT_TRUE(db->Put({}, "c", "3").ok());
  const Snapshot* before = db->GetSnapshot();
  ASSERT_TRUE(db->Merge({}, "bad", "add", "1").ok());  // blind: accepted
  ASSERT_TRUE(db->Merge({}, "bad", "append", "x").ok());
  const uint64_t c_seq = *db->Merge({}, "c", "add", "1");
  ReadOptions at_before;
  at_before.snapshot = before;

  auto check_broken = [&](const char* when) {
    SCOPED_TRACE(when);
    auto g = db->Get({}, "bad");
    EXPECT_TRUE(absl::IsFailedPrecondition(g.status())) << Show(g);
    EXPECT_NE(g.status().message().find("add"), std::string::npos)
        << g.status();
    EXPECT_EQ(Show(db->Get({}, "c")), absl::StrFormat("4@%d", c_seq));
    auto multi = db->MultiGet({}, {"a", "bad", "c"});
    EXPECT_EQ(Show(multi[1]), kFailed);
    EXPECT_EQ(multi[2]->value, "4");
    Scan fwd = ScanDb(db.get(), {}, true);
    EXPECT_EQ(fwd.entries, std::vector<std::string>{"a=1@1"});
    EXPECT_EQ(fwd.end, absl::StatusCode::kFailedPrecondition);
    Scan rev = ScanDb(db.get(), {}, false);
    EXPECT_EQ(rev.entries,
              std::vector<std::string>{absl::StrFormat("c=4@%d", c_seq)});
    EXPECT_EQ(rev.end, absl::StatusCode::kFailedPrecondition);
    // The snapshot from before the operands still reads the base.
    EXPECT_EQ(Show(db->Get(at_before, "bad")), "abc@2");
    EXPECT_EQ(ScanDb(db.get(), at_before, true).entries,
              (std::vector<std::string>{"a=1@1", "bad=abc@2", "c=3@3"}));
  };
  check_broken("memtable");
  ASSERT_TRUE(db->Flush().ok());
  check_broken("flushed");
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  check_broken("compacted with a snapshot");
  db->ReleaseSnapshot(before);
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_TRUE(db->GetStats().background_error.ok());
  // Nothing was dropped: the key still fails the same way.
  EXPECT_EQ(Show(db->Get({}, "bad")), kFailed);
  ASSERT_TRUE(db->Close().ok());
  db = OpenOrDie(SmallOptions(), dir.path());
  EXPECT_EQ(Show(db->Get({}, "bad")), kFailed);

  // A Put repairs the key; a later operand applies to it.
  const uint64_t put_seq = *db->Put({}, "bad", "7");
  EXPECT_EQ(Show(db->Get({}, "bad")), absl::StrFormat("7@%d", put_seq));
  const uint64_t add_seq = *db->Merge({}, "bad", "add", "1");
  EXPECT_EQ(Show(db->Get({}, "bad")), absl::StrFormat("8@%d", add_seq));
  Scan fwd = ScanDb(db.get(), {}, true);
  EXPECT_EQ(fwd.end, absl::StatusCode::kOk);
  EXPECT_EQ(fwd.entries.size(), 3u);
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(Show(db->Get({}, "bad")), absl::StrFormat("8@%d", add_seq));
}

// Custom operators.

// Set union over comma-separated elements (values are sorted and unique).
// Counts PartialMerge calls to show compaction combines operands.
class SetUnionOperator : public MergeOperator {
 public:
  explicit SetUnionOperator(std::string name = "set-union")
      : name_(std::move(name)) {}
  std::string_view Name() const override { return name_; }
  absl::Status ValidateOperand(std::string_view argument,
                               std::string_view operand) const override {
    if (!argument.empty()) return absl::InvalidArgumentError("no argument");
    if (!Parse(operand)) return absl::InvalidArgumentError("empty element");
    return absl::OkStatus();
  }
  absl::Status Apply(const std::string* existing, std::string_view argument,
                     std::string_view operand,
                     std::string* result) const override {
    std::set<std::string> s;
    if (existing != nullptr && !existing->empty()) {
      auto base = Parse(*existing);
      if (!base) return absl::FailedPreconditionError("not a set");
      s = *base;
    }
    auto add = Parse(operand);
    if (!add) return absl::FailedPreconditionError("bad operand");
    s.insert(add->begin(), add->end());
    *result = absl::StrJoin(s, ",");
    return absl::OkStatus();
  }
  bool PartialMerge(std::string_view argument, std::string_view older,
                    std::string_view newer,
                    std::string* combined) const override {
    partial_merges.fetch_add(1);
    auto a = Parse(older), b = Parse(newer);
    if (!a || !b) return false;
    a->insert(b->begin(), b->end());
    *combined = absl::StrJoin(*a, ",");
    return true;
  }
  mutable std::atomic<int> partial_merges{0};

 private:
  static std::optional<std::set<std::string>> Parse(std::string_view s) {
    std::set<std::string> out;
    for (size_t start = 0, end; start <= s.size(); start = end + 1) {
      end = std::min(s.find(',', start), s.size());
      if (end == start) return std::nullopt;  // an empty element
      out.emplace(s.substr(start, end - start));
    }
    return out;
  }
  std::string name_;
};

TEST(DBMerge, ASeekAfterAFailedFoldStartsAfresh) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "a", "text").ok());
  ASSERT_TRUE(db->Merge({}, "a", "add", "1").ok());
  ASSERT_TRUE(db->Put({}, "b", "plain").ok());
  auto it = db->NewIterator({});
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsFailedPrecondition(it->status()));
  it->Seek("b");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b");
  EXPECT_TRUE(it->status().ok()) << it->status();
}

TEST(DBMerge, CustomOperatorIsUniqueFoldsAndPartiallyMerges) {
  TempDir dir;
  auto op = std::make_shared<SetUnionOperator>();
  Options options = SmallOptions();
  // Names must be unique, built-ins included.
  options.merge_operators = {std::make_shared<SetUnionOperator>("add")};
  EXPECT_TRUE(absl::IsInvalidArgument(DB::Open(options, dir.path()).status()));
  options.merge_operators = {op, std::make_shared<SetUnionOperator>()};
  EXPECT_TRUE(absl::IsInvalidArgument(DB::Open(options, dir.path()).status()));
  options.merge_operators = {op};
  auto db = OpenOrDie(options, dir.path());
  ASSERT_TRUE(db->Put({}, "s", "b").ok());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());  // base at the bottom
  ASSERT_TRUE(db->Merge({}, "s", "set-union", "c,a").ok());
  ASSERT_TRUE(db->Merge({}, "s", "set-union", "d,a").ok());
  const uint64_t last = *db->Merge({}, "s", "set-union", "e");
  ASSERT_TRUE(db->Merge({}, "n", "add", "2").ok());  // built-ins still work
  EXPECT_EQ(Show(db->Get({}, "s")), absl::StrFormat("a,b,c,d,e@%d", last));
  EXPECT_TRUE(absl::IsInvalidArgument(
      db->Merge({}, "s", "set-union", "x,,y").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      db->Merge({}, "s", "set-union", "x", ";").status()));
  EXPECT_EQ(db->LastSequence(), last + 1);
  // The flush sees operands but not their base: it can only combine them.
  ASSERT_TRUE(db->Flush().ok());
  EXPECT_GT(op->partial_merges.load(), 0);
  EXPECT_EQ(Show(db->Get({}, "s")), absl::StrFormat("a,b,c,d,e@%d", last));
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(Show(db->Get({}, "s")), absl::StrFormat("a,b,c,d,e@%d", last));
  EXPECT_EQ(ScanDb(db.get(), {}, false).entries,
            (std::vector<std::string>{absl::StrFormat("s=a,b,c,d,e@%d", last),
                                      absl::StrFormat("n=2@%d", last + 1)}));
  // A value the operator rejects: FailedPrecondition.
  ASSERT_TRUE(db->Put({}, "t", ",").ok());
  ASSERT_TRUE(db->Merge({}, "t", "set-union", "x").ok());
  EXPECT_EQ(Show(db->Get({}, "t")), kFailed);
}

TEST(DBMerge, ReopenWithoutCustomOperatorFailsReadsAndLosesNothing) {
  TempDir dir;
  Options with = SmallOptions();
  with.merge_operators = {std::make_shared<SetUnionOperator>()};
  {
    auto db = OpenOrDie(with, dir.path());
    ASSERT_TRUE(db->Put({}, "a", "1").ok());
    ASSERT_TRUE(db->Put({}, "s", "m").ok());
    ASSERT_TRUE(db->Flush().ok());
    ASSERT_TRUE(db->Merge({}, "s", "set-union", "x").ok());
    ASSERT_TRUE(db->Merge({}, "u", "set-union", "p").ok());
    ASSERT_TRUE(db->Flush().ok());
    ASSERT_TRUE(db->Merge({}, "s", "set-union", "y").ok());  // WAL only
    ASSERT_TRUE(db->Merge({}, "z", "add", "1").ok());
    ASSERT_TRUE(db->Close().ok());
  }
  {
    auto db = OpenOrDie(SmallOptions(), dir.path());
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(Show(db->Get({}, "s")), kFailed);
    // ("u" has nothing below it: its flush may fold it over absence.)
    EXPECT_EQ(db->Get({}, "a")->value, "1");
    EXPECT_EQ(db->Get({}, "z")->value, "1");
    EXPECT_TRUE(
        absl::IsInvalidArgument(db->Merge({}, "s", "set-union", "q").status()));
    Scan fwd = ScanDb(db.get(), {}, true);
    EXPECT_EQ(fwd.entries, std::vector<std::string>{"a=1@1"});
    EXPECT_EQ(fwd.end, absl::StatusCode::kFailedPrecondition);
    // Compaction without the operator keeps the operands as they are.
    ASSERT_TRUE(db->Flush().ok());
    ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
    EXPECT_TRUE(db->GetStats().background_error.ok());
    EXPECT_EQ(Show(db->Get({}, "s")), kFailed);
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenOrDie(with, dir.path());
  EXPECT_EQ(Show(db->Get({}, "s")), "m,x,y@5");
  EXPECT_EQ(Show(db->Get({}, "u")), "p@4");
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(Show(db->Get({}, "s")), "m,x,y@5");
}

// Randomized model test.

// Canonical decimal int64, checked by round trip.
std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  if (std::to_string(v) != s) return std::nullopt;
  return v;
}

// Applies one operand the way the spec says; false if it cannot apply.
bool ModelApply(const std::string& op, const std::string& arg,
                const std::string& operand, std::optional<std::string>* v) {
  if (op == "append" || !v->has_value()) {  // absent: the operand
    *v = v->has_value() ? **v + arg + operand : operand;
    return op == "append" || ParseInt(operand).has_value();
  }
  auto x = ParseInt(operand), cur = ParseInt(**v);
  if (!x || !cur) return false;
  const uint64_t sum = static_cast<uint64_t>(*cur) + static_cast<uint64_t>(*x);
  *v = std::to_string(op == "add"   ? static_cast<int64_t>(sum)
                      : op == "max" ? std::max(*cur, *x)
                                    : std::min(*cur, *x));
  return true;
}

struct ModelOp {
  uint64_t seq;
  enum Kind { kPut, kDelete, kMerge } kind;
  std::string value, op, arg;  // value: put value or operand
};

// Every write kept with its sequence (a range deletion as a Delete of each
// key it covers); reads fold from scratch.
class MergeModel {
 public:
  void Add(const std::string& key, ModelOp op) { ops_[key].push_back(op); }

  // Show()-format of a read of key at sequence s.
  std::string Read(const std::string& key, uint64_t s) {
    std::vector<const ModelOp*> operands;  // newest first
    std::optional<std::string> value;
    uint64_t seq = 0;
    for (auto o = ops_[key].rbegin(); o != ops_[key].rend(); ++o) {
      if (o->seq > s) continue;
      if (seq == 0) seq = o->seq;
      if (o->kind == ModelOp::kDelete) break;
      if (o->kind == ModelOp::kPut) {
        value = o->value;
        break;
      }
      operands.push_back(&*o);
    }
    if (!value && operands.empty()) return "<absent>";
    for (auto o = operands.rbegin(); o != operands.rend(); ++o) {
      if (!ModelApply((*o)->op, (*o)->arg, (*o)->value, &value)) {
        return kFailed;
      }
    }
    return absl::StrFormat("%s@%d", *value, seq);
  }

 private:
  std::map<std::string, std::vector<ModelOp>> ops_;  // oldest first
};

class MergeModelRun {
 public:
  static constexpr int kKeys = 50;

  MergeModelRun(uint64_t seed, const std::string& dir) : rng_(seed), dir_(dir) {
    options_ = SmallOptions();
    options_.write_buffer_size = 64 << 10;  // the minimum
    options_.level0_file_num_compaction_trigger = 2;
    db_ = OpenOrDie(options_, dir_);
  }
  ~MergeModelRun() { ReleaseAll(); }

  std::string KeyAt(int i) { return absl::StrFormat("k%02d", i); }
  // k00..k39 alternate numeric / text keys; k40..k49 get anything, so their
  // folds often fail.
  int Class(int i) { return i >= 40 ? 2 : i % 2; }

  // Mostly small; sometimes any int64, sometimes an extreme (wrapping).
  std::string Int() {
    const int r = rng_() % 8;
    if (r == 0) return std::to_string(static_cast<int64_t>(rng_()));
    if (r == 1) return std::to_string(rng_() % 2 ? INT64_MAX : INT64_MIN);
    return std::to_string(static_cast<int>(rng_() % 2001) - 1000);
  }
  std::string Text(int max_len) {
    std::string v(rng_() % (max_len + 1), 'a');
    for (char& c : v) c = static_cast<char>('a' + rng_() % 26);
    return v;
  }
  // A valid merge for the key's class: op, operand, argument.
  ModelOp MergeOp(int cls) {
    static const char* const kNumeric[] = {"add", "max", "min"};
    static const char* const kDelims[] = {"", ",", "::"};
    if (cls == 1 || (cls == 0 && rng_() % 20 == 0) ||
        (cls == 2 && rng_() % 4 == 0)) {
      std::string operand =
          cls == 1 ? Text(60) : std::to_string(rng_() % 10);  // digits
      return {0, ModelOp::kMerge, operand, "append",
              cls == 0 ? "" : kDelims[rng_() % 3]};
    }
    return {0, ModelOp::kMerge, Int(), kNumeric[rng_() % 3], ""};
  }
  ModelOp RandomWrite(int cls) {
    const int r = rng_() % 10;
    if (r < 6) return MergeOp(cls);
    if (r == 9) return {0, ModelOp::kDelete, "", "", ""};
    const int v = rng_() % 3;  // chaos keys: "abc", "" or a number
    std::string value = cls == 1            ? Text(200)
                        : cls == 2 && v < 2 ? std::string(v ? "" : "abc")
                                            : Int();
    return {0, ModelOp::kPut, value, "", ""};
  }

  void Step() {
    const int r = rng_() % 1000;
    const int ki = rng_() % kKeys;
    const std::string key = KeyAt(ki);
    if (r < 900) {
      // One write, or a batch of several (consecutive sequences).
      const int n = r < 850 ? 1 : 2 + rng_() % 4;
      WriteBatch batch;
      std::vector<std::pair<std::string, ModelOp>> ops;
      for (int i = 0; i < n; ++i) {
        const int k = i == 0 ? ki : rng_() % kKeys;
        ModelOp op = RandomWrite(Class(k));
        if (op.kind == ModelOp::kPut) batch.Put(KeyAt(k), op.value);
        if (op.kind == ModelOp::kDelete) batch.Delete(KeyAt(k));
        if (op.kind == ModelOp::kMerge) {
          batch.Merge(KeyAt(k), op.op, op.value, op.arg);
        }
        ops.emplace_back(KeyAt(k), op);
      }
      const ModelOp& op = ops[0].second;
      auto s = n > 1                      ? db_->Write({}, batch)
               : op.kind == ModelOp::kPut ? db_->Put({}, key, op.value)
               : op.kind == ModelOp::kDelete
                   ? db_->Delete({}, key)
                   : db_->Merge({}, key, op.op, op.value, op.arg);
      ASSERT_TRUE(s.ok()) << s.status();
      for (int i = 0; i < n; ++i) {
        ops[i].second.seq = *s - (n - 1) + i;
        model_.Add(ops[i].first, ops[i].second);
      }
    } else if (r < 915) {
      const int b = rng_() % kKeys, len = 1 + rng_() % 5;
      auto s = db_->DeleteRange({}, KeyAt(b), KeyAt(b + len));
      ASSERT_TRUE(s.ok()) << s.status();
      for (int k = b; k < std::min(b + len, kKeys); ++k) {
        model_.Add(KeyAt(k), {*s, ModelOp::kDelete, "", "", ""});
      }
    } else if (r < 925) {
      const uint64_t last = db_->LastSequence();
      auto s = rng_() % 2 ? db_->Merge({}, key, "add", "x1")
                          : db_->Merge({}, key, "min", "5", ",");
      ASSERT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
      ASSERT_EQ(db_->LastSequence(), last);
    } else if (r < 950) {
      if (snapshots_.size() < 4) snapshots_.push_back(db_->GetSnapshot());
    } else if (r < 970) {
      if (!snapshots_.empty()) {
        const size_t i = rng_() % snapshots_.size();
        db_->ReleaseSnapshot(snapshots_[i]);
        snapshots_.erase(snapshots_.begin() + i);
      }
    } else if (r < 985) {
      ASSERT_TRUE(db_->Flush().ok());
      Check();
    } else if (r < 995) {
      ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
      Check();
    } else {
      ReleaseAll();
      ASSERT_TRUE(db_->Close().ok());
      db_.reset();
      db_ = OpenOrDie(options_, dir_);
      ASSERT_NE(db_, nullptr);
      Check();
    }
  }

  // Get, MultiGet and iterators (full and bounded, both directions) at the
  // latest state and at every live snapshot.
  void Check() {
    ASSERT_TRUE(db_->GetStats().background_error.ok());
    CheckAt(nullptr);
    for (const Snapshot* s : snapshots_) CheckAt(s);
  }

  void CheckAt(const Snapshot* snap) {
    ReadOptions ro;
    ro.snapshot = snap;
    const uint64_t seq = snap ? snap->sequence() : db_->LastSequence();
    SCOPED_TRACE(
        absl::StrFormat("reading at %d%s", seq, snap ? " (snapshot)" : ""));
    std::vector<std::string> keys, want;
    for (int i = 0; i < kKeys; ++i) keys.push_back(KeyAt(i));
    for (const auto& k : keys) want.push_back(model_.Read(k, seq));
    std::vector<std::string_view> views(keys.begin(), keys.end());
    auto multi = db_->MultiGet(ro, views);
    ASSERT_EQ(multi.size(), keys.size());
    for (int i = 0; i < kKeys; ++i) {
      EXPECT_EQ(Show(db_->Get(ro, keys[i])), want[i]) << keys[i];
      EXPECT_EQ(Show(multi[i]), want[i]) << keys[i] << " (MultiGet)";
    }
    // Bounds: full, the keys whose folds cannot fail, and a random range
    // with bounds between keys.
    const int lo = rng_() % kKeys, hi = lo + 1 + rng_() % (kKeys - lo);
    const std::vector<std::pair<std::string, std::string>> ranges = {
        {"", ""}, {"", "k40"}, {KeyAt(lo) + "+", KeyAt(hi)}};
    for (const auto& [lower, upper] : ranges) {
      SCOPED_TRACE("bounds [" + lower + ", " + upper + ")");
      ReadOptions bro = ro;
      if (!lower.empty()) bro.lower_bound = lower;
      if (!upper.empty()) bro.upper_bound = upper;
      std::vector<int> live;  // keys in bounds that have a value (or fail)
      for (int i = 0; i < kKeys; ++i) {
        if (keys[i] < lower || (!upper.empty() && keys[i] >= upper)) continue;
        if (want[i] != "<absent>") live.push_back(i);
      }
      Walk(bro, keys, want, live);
      for (bool forward : {true, false}) {
        SCOPED_TRACE(forward ? "forward" : "reverse");
        if (!forward) std::reverse(live.begin(), live.end());
        Scan expected;
        for (int i : live) {
          if (want[i][0] == '<') {  // iteration stops with the error
            expected.end = absl::StatusCode::kFailedPrecondition;
            break;
          }
          expected.entries.push_back(keys[i] + "=" + want[i]);
        }
        Scan got = ScanDb(db_.get(), bro, forward);
        EXPECT_EQ(got.entries, expected.entries);
        EXPECT_EQ(got.end, expected.end);
      }
    }
  }

  // Seek or SeekForPrev to a random target, then random Next/Prev moves,
  // each landing where the model says (live: the keys in range, in order).
  void Walk(const ReadOptions& ro, const std::vector<std::string>& keys,
            const std::vector<std::string>& want,
            const std::vector<int>& live) {
    const std::string target = KeyAt(rng_() % kKeys) + (rng_() % 2 ? "" : "+");
    auto it = db_->NewIterator(ro);
    int pos = 0;  // index in live of the expected position
    while (pos < int(live.size()) && keys[live[pos]] < target) ++pos;
    if (rng_() % 2) {
      it->Seek(target);
    } else {
      it->SeekForPrev(target);
      if (pos == int(live.size()) || keys[live[pos]] != target) --pos;
    }
    SCOPED_TRACE("walk from " + target);
    for (int step = 0; step < 8; ++step) {
      std::string expected = "<end OK>";  // what At() shows
      if (pos >= 0 && pos < int(live.size())) {
        const std::string& w = want[live[pos]];
        expected =
            w == kFailed ? "<end " + w.substr(1) : keys[live[pos]] + "=" + w;
      }
      ASSERT_EQ(At(*it), expected) << "step " << step;
      if (expected[0] == '<') return;
      const bool next = rng_() % 2;
      next ? it->Next() : it->Prev();
      pos += next ? 1 : -1;
    }
  }

 private:
  void ReleaseAll() {
    for (const Snapshot* s : snapshots_) db_->ReleaseSnapshot(s);
    snapshots_.clear();
  }

  std::mt19937_64 rng_;
  std::string dir_;
  Options options_;
  std::unique_ptr<DB> db_;
  MergeModel model_;
  std::vector<const Snapshot*> snapshots_;
};

TEST(DBMergeModel, RandomOperationsMatchANaiveFold) {
  testing::RunModel<MergeModelRun>("CAIRN_STORAGE_MERGE", 2000, 1000, 150);
}

}  // namespace
}  // namespace cairn::storage
