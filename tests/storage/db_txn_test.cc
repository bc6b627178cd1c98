// Conditional batches (each condition kind, the failing index, merges and
// expiry as conditions see them, compare-and-set races) and optimistic
// transactions (own writes, iterators, isolation, conflicts, snapshots, and
// a concurrent bank whose total never changes, across a reopen).
#include <algorithm>
#include <atomic>
#include <barrier>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cairn/storage/transaction.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::Contents;
using testing::OpenOrDie;
using testing::SmallOptions;
using testing::TempDir;
using Model = std::map<std::string, std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

// A clock the test moves by hand (Options::clock).
struct ManualClock {
  std::shared_ptr<std::atomic<int64_t>> micros =
      std::make_shared<std::atomic<int64_t>>(1'700'000'000'000'000);
  void Advance(absl::Duration d) { *micros += absl::ToInt64Microseconds(d); }
  uint64_t Now() const { return static_cast<uint64_t>(micros->load()); }
  Options With(Options o) const {
    o.clock = [m = micros] { return absl::FromUnixMicros(m->load()); };
    return o;
  }
};

// A read's value, "<absent>" or "<error ...>".
std::string Show(const absl::StatusOr<GetResult>& g) {
  if (g.ok()) return g->value;
  if (absl::IsNotFound(g.status())) return "<absent>";
  return absl::StrCat("<error ", g.status().ToString(), ">");
}
std::string ValueOf(DB* db, std::string_view k) { return Show(db->Get({}, k)); }
std::string ValueOf(Transaction* t, std::string_view k) {
  return Show(t->Get(k));
}
std::string At(const Iterator& it) {
  return it.Valid() ? std::string(it.key()) : "<end>";
}

// Moves an iterator and lists where each move left it: ">" SeekToFirst,
// "<" SeekToLast, ">k" Seek, "<k" SeekForPrev, "+" Next, "-" Prev.
std::string Walk(Iterator& it, const std::vector<std::string>& moves) {
  std::vector<std::string> at;
  for (const std::string& m : moves) {
    if (m == ">") it.SeekToFirst();
    if (m == "<") it.SeekToLast();
    if (m.size() > 1 && m[0] == '>') it.Seek(m.substr(1));
    if (m.size() > 1 && m[0] == '<') it.SeekForPrev(m.substr(1));
    if (m == "+") it.Next();
    if (m == "-") it.Prev();
    at.push_back(At(it));
  }
  return absl::StrJoin(at, " ");
}

ReadOptions Bounds(std::optional<std::string> lower,
                   std::optional<std::string> upper,
                   std::optional<std::string> prefix = std::nullopt) {
  ReadOptions ro;
  ro.lower_bound = std::move(lower);
  ro.upper_bound = std::move(upper);
  ro.prefix = std::move(prefix);
  return ro;
}

// Puts each pair in order; false at the first failure.
bool PutAll(DB* db, const Pairs& kvs) {
  for (const auto& [k, v] : kvs) {
    if (!db->Put({}, k, v).ok()) return false;
  }
  return true;
}

using Kind = Condition::Kind;
Condition Exists(std::string k) { return {Kind::kExists, std::move(k), 0, ""}; }
Condition Absent(std::string k) { return {Kind::kAbsent, std::move(k), 0, ""}; }
Condition SeqIs(std::string k, uint64_t s) {
  return {Kind::kSequenceEquals, std::move(k), s, ""};
}
Condition ValueIs(std::string k, std::string v) {
  return {Kind::kValueEquals, std::move(k), 0, std::move(v)};
}

// A batch carrying `conds` (added with the Require* calls), no operations.
WriteBatch Check(const std::vector<Condition>& conds) {
  WriteBatch b;
  for (const Condition& c : conds) {
    if (c.kind == Kind::kExists) b.RequireExists(c.key);
    if (c.kind == Kind::kAbsent) b.RequireAbsent(c.key);
    if (c.kind == Kind::kSequenceEquals) b.RequireSequence(c.key, c.sequence);
    if (c.kind == Kind::kValueEquals) b.RequireValue(c.key, c.value);
  }
  EXPECT_EQ(b.conditions().size(), conds.size());
  return b;
}

// Writes `batch` expecting condition `index` to fail and nothing to change.
void ExpectConditionFails(DB* db, const WriteBatch& batch, int index) {
  const uint64_t last = db->LastSequence();
  const Model before = Contents(db);
  auto r = db->Write({}, batch);
  ASSERT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_EQ(FailedConditionIndex(r.status()), index) << r.status();
  EXPECT_EQ(db->LastSequence(), last);
  EXPECT_EQ(Contents(db), before);
}

// Writes `batch` expecting its conditions to pass.
void ExpectConditionsPass(DB* db, const WriteBatch& batch) {
  const uint64_t last = db->LastSequence();
  auto r = db->Write({}, batch);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, last + batch.Count());
  EXPECT_EQ(db->LastSequence(), *r);
}

// Conditional batches

TEST(DBCondition, EachKindPassesAndFails) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  const uint64_t s = *db->Put({}, "k", "v");
  const std::vector<std::pair<Condition, bool>> cases = {
      {Exists("k"), true},        {Exists("m"), false},
      {Absent("m"), true},        {Absent("k"), false},
      {SeqIs("k", s), true},      {SeqIs("k", s + 1), false},
      {SeqIs("k", 0), false},     {SeqIs("m", 0), true},
      {SeqIs("m", s), false},     {ValueIs("k", "v"), true},
      {ValueIs("k", "V"), false}, {ValueIs("k", ""), false},
      {ValueIs("m", ""), false},
  };
  for (bool flushed : {false, true}) {
    ASSERT_TRUE(!flushed || db->Flush().ok());
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("case ", i, flushed ? " (flushed)" : ""));
      WriteBatch b = Check({cases[i].first});
      b.Put("out", absl::StrCat(i));
      if (cases[i].second) {
        ExpectConditionsPass(db.get(), b);
        EXPECT_EQ(ValueOf(db.get(), "out"), absl::StrCat(i));
      } else {
        ExpectConditionFails(db.get(), b, 0);
      }
      EXPECT_EQ(db->Get({}, "k")->seq, s);
    }
  }
  // A deleted or range-deleted key is absent.
  for (bool range : {false, true}) {
    SCOPED_TRACE(range ? "range-deleted" : "deleted");
    ASSERT_TRUE(db->Put({}, "k", "v").ok());
    ASSERT_TRUE(
        (range ? db->DeleteRange({}, "j", "l") : db->Delete({}, "k")).ok());
    ExpectConditionsPass(db.get(), Check({Absent("k"), SeqIs("k", 0)}));
    WriteBatch fail = Check({Absent("k"), Exists("k")});
    fail.Put("k", "back");
    ExpectConditionFails(db.get(), fail, 1);
  }
}

TEST(DBCondition, FirstFailingIndexAndNothingWritten) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(PutAll(db.get(), {{"a", "1"}, {"n", "10"}}));
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->Put({}, "c", "3").ok());
  // Passes, passes, fails (the first), would fail.
  WriteBatch b =
      Check({Exists("a"), Absent("b"), ValueIs("a", "2"), Exists("nope")});
  b.Put("a", "changed");
  b.Put("b", "new");
  b.Delete("c");
  b.Merge("n", "add", "1");
  b.DeleteRange("a", "z");
  ExpectConditionFails(db.get(), b, 2);
  WriteBatch b2 = Check({ValueIs("n", "10"), Absent("a"), Exists("a")});
  b2.Put("x", "y");
  ExpectConditionFails(db.get(), b2, 1);
  EXPECT_EQ(Contents(db.get()), (Model{{"a", "1"}, {"c", "3"}, {"n", "10"}}));
  // Other statuses carry no index.
  EXPECT_EQ(FailedConditionIndex(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(FailedConditionIndex(absl::FailedPreconditionError("x")),
            std::nullopt);
  EXPECT_EQ(FailedConditionIndex(db->Get({}, "zz").status()), std::nullopt);
  // Conditions that pass do not excuse a malformed operation.
  WriteBatch bad = Check({Exists("a")});
  bad.Put("a", "2");
  bad.Merge("n", "add", "abc");
  const uint64_t last = db->LastSequence();
  auto r = db->Write({}, bad);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_EQ(db->LastSequence(), last);
  EXPECT_EQ(ValueOf(db.get(), "a"), "1");
}

TEST(DBCondition, ConditionsSeeFoldedMergesAndExpiry) {
  TempDir dir;
  ManualClock clock;
  auto db = OpenOrDie(clock.With(SmallOptions()), dir.path());
  ASSERT_TRUE(db->Put({}, "n", "5").ok());
  ASSERT_TRUE(db->Flush().ok());
  const uint64_t m = *db->Merge({}, "n", "add", "3");
  ASSERT_TRUE(db->Merge({}, "c", "add", "4").ok());  // over absence
  ASSERT_TRUE(db->PutWithTtl({}, "t", "10", absl::Seconds(10)).ok());
  const uint64_t tm = *db->Merge({}, "t", "add", "5");
  ASSERT_TRUE(db->PutWithTtl({}, "e", "x", absl::Seconds(10)).ok());
  ASSERT_TRUE(db->Put({}, "old", "1").ok());
  ASSERT_TRUE(db->PutWithTtl({}, "old", "2", absl::Seconds(10)).ok());

  ExpectConditionsPass(
      db.get(), Check({ValueIs("n", "8"), SeqIs("n", m), Exists("c"),
                       ValueIs("c", "4"), ValueIs("t", "15"), SeqIs("t", tm),
                       Exists("e"), ValueIs("old", "2")}));
  ExpectConditionFails(db.get(), Check({ValueIs("n", "5")}), 0);
  ExpectConditionFails(db.get(), Check({Exists("n"), SeqIs("n", m - 1)}), 1);

  clock.Advance(absl::Seconds(10));  // expires_at <= now: expired
  for (int phase = 0; phase < 3; ++phase) {
    SCOPED_TRACE(absl::StrCat("phase ", phase));
    ASSERT_TRUE(phase != 1 || db->Flush().ok());
    ASSERT_TRUE(phase != 2 || db->CompactRange(nullptr, nullptr).ok());
    // t: its operands over absence; old: the expired Put hides the older.
    ExpectConditionsPass(
        db.get(), Check({Absent("e"), SeqIs("e", 0), ValueIs("t", "5"),
                         SeqIs("t", tm), Absent("old"), ValueIs("n", "8")}));
    ExpectConditionFails(db.get(), Check({Exists("n"), Exists("e")}), 1);
    ExpectConditionFails(db.get(), Check({ValueIs("old", "1")}), 0);
    ExpectConditionFails(db.get(), Check({ValueIs("t", "15")}), 0);
  }
}

TEST(DBCondition, RequireSequenceOfAPutAndConditionsOnly) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  const uint64_t s1 = *db->Put({}, "k", "1");
  WriteBatch b = Check({SeqIs("k", s1)});
  b.Put("k", "2");
  auto s2 = db->Write({}, b);
  ASSERT_TRUE(s2.ok()) << s2.status();
  EXPECT_EQ(*s2, s1 + 1);
  EXPECT_EQ(db->Get({}, "k")->seq, *s2);
  ExpectConditionFails(db.get(), b, 0);  // s1 is stale now
  ASSERT_TRUE(db->Flush().ok());
  WriteBatch c = Check({SeqIs("k", *s2)});
  c.Put("k", "3");
  ExpectConditionsPass(db.get(), c);
  WriteBatch create = Check({SeqIs("new", 0)});  // create if absent
  create.Put("new", "x");
  ExpectConditionsPass(db.get(), create);
  ExpectConditionFails(db.get(), create, 0);
  // Conditions without operations: a check that returns the last sequence.
  WriteBatch only = Check({Exists("k"), Absent("b"), ValueIs("k", "3")});
  EXPECT_EQ(only.Count(), 0u);
  const uint64_t last = db->LastSequence();
  auto r = db->Write({}, only);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, last);
  EXPECT_EQ(db->LastSequence(), last);
  ExpectConditionFails(db.get(), Check({Exists("k"), Exists("b")}), 1);
}

// Unconditional writers on other keys, to make flushes happen meanwhile.
std::thread BackgroundWriter(DB* db, int id, std::atomic<int>* errors) {
  return std::thread([=] {
    for (int i = 0; i < 300; ++i) {
      const std::string key = absl::StrFormat("bg%d-%02d", id, i % 97);
      if (!db->Put({}, key, std::string(200, 'a' + i % 26)).ok()) ++*errors;
    }
  });
}

// Compare-and-set increments of "counter" by 8 threads, with background
// writers. First in rounds: all threads read the same sequence (a barrier
// between the reads and the writes), then all try, and exactly one wins.
// Then freely: every thread reads and tries again and again.
TEST(DBCondition, ConcurrentCompareAndSet) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "counter", "0").ok());
  constexpr int kThreads = 8, kRounds = 40, kAttempts = 60;
  std::barrier sync(kThreads);
  std::vector<std::atomic<int>> winners(kRounds);
  std::vector<std::vector<uint64_t>> seen(kRounds,
                                          std::vector<uint64_t>(kThreads));
  std::atomic<int> errors{0}, lost{0};
  std::mutex mu;
  std::vector<std::pair<uint64_t, int64_t>> wins;  // (seq, value written)
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.push_back(BackgroundWriter(db.get(), w, &errors));
  }
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds + kAttempts; ++i) {
        const bool round = i < kRounds;
        if (round) sync.arrive_and_wait();  // the last round's writes are done
        auto g = db->Get({}, "counter");
        int64_t v = -1;
        if (!g.ok() || !absl::SimpleAtoi(g->value, &v)) ++errors;
        if (round) seen[i][t] = g.ok() ? g->seq : 0;
        if (round) sync.arrive_and_wait();  // everyone has read
        WriteBatch b = Check({SeqIs("counter", g.ok() ? g->seq : 0)});
        b.Put("counter", absl::StrCat(v + 1));
        auto r = db->Write({}, b);
        if (r.ok()) {
          if (round) ++winners[i];
          std::lock_guard<std::mutex> l(mu);
          wins.emplace_back(*r, v + 1);
        } else if (FailedConditionIndex(r.status()) == 0) {
          ++lost;
        } else {
          ++errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kRounds; ++i) {
    EXPECT_EQ(winners[i].load(), 1) << "round " << i;
    EXPECT_EQ(std::count(seen[i].begin(), seen[i].end(), seen[i][0]), kThreads);
    EXPECT_TRUE(i == 0 || seen[i][0] > seen[i - 1][0]);
  }
  EXPECT_EQ(static_cast<int>(wins.size()) + lost.load(),
            kThreads * (kRounds + kAttempts));
  ASSERT_GT(wins.size(), static_cast<size_t>(kRounds));
  EXPECT_EQ(ValueOf(db.get(), "counter"), absl::StrCat(wins.size()));
  // In commit order the successful writes counted 1, 2, 3, ...
  std::sort(wins.begin(), wins.end());
  for (size_t i = 0; i < wins.size(); ++i) {
    EXPECT_EQ(wins[i].second, static_cast<int64_t>(i + 1)) << i;
  }
  EXPECT_EQ(db->Get({}, "counter")->seq, wins.back().first);
}

// Transactions

TEST(DBTxn, GetReadsOwnWritesAndCommitIsOneBatch) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(PutAll(db.get(), {{"a", "1"}, {"b", "2"}, {"n", "10"}}));
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->Put({}, "d", "100").ok());
  const uint64_t u = *db->Put({}, "u", "untouched");
  const Model before = Contents(db.get());

  auto txn = db->BeginTransaction();
  ASSERT_TRUE(txn->Put("a", "x").ok());
  ASSERT_TRUE(txn->Delete("b").ok());
  ASSERT_TRUE(txn->Merge("n", "add", "5").ok());  // over the snapshot's 10
  ASSERT_TRUE(txn->Put("c", "7").ok());
  ASSERT_TRUE(txn->Merge("c", "add", "3").ok());  // over its own Put
  ASSERT_TRUE(txn->Merge("a", "append", "y", "-").ok());
  ASSERT_TRUE(txn->Delete("d").ok());
  ASSERT_TRUE(txn->Merge("d", "add", "1").ok());          // over its own Delete
  ASSERT_TRUE(txn->Merge("s", "append", "z", ",").ok());  // over absence
  const Model want = {{"a", "x-y"}, {"c", "10"}, {"d", "1"},
                      {"n", "15"},  {"s", "z"},  {"u", "untouched"}};
  for (const auto& [k, v] : want) {
    auto g = txn->Get(k);
    ASSERT_TRUE(g.ok()) << k << ": " << g.status();
    EXPECT_EQ(g->value, v) << k;
    EXPECT_EQ(g->seq, k == "u" ? u : 0) << k;
  }
  EXPECT_EQ(ValueOf(txn.get(), "b"), "<absent>");
  EXPECT_EQ(ValueOf(txn.get(), "zz"), "<absent>");
  EXPECT_EQ(Contents(db.get()), before);  // nothing visible before Commit
  // One batch: nine consecutive sequences, in the order written.
  const uint64_t last = db->LastSequence();
  auto c = txn->Commit({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, last + 9);
  EXPECT_EQ(db->LastSequence(), *c);
  EXPECT_EQ(Contents(db.get()), want);
  EXPECT_EQ(db->Get({}, "n")->seq, last + 3);
  EXPECT_EQ(db->Get({}, "a")->seq, last + 6);
  EXPECT_EQ(db->Get({}, "s")->seq, last + 9);
}

// Checks a transaction iterator through `ro` against `model` (filtered by
// the bounds and prefix), both ways.
void ExpectTxnView(Transaction* txn, const ReadOptions& ro,
                   const Model& model) {
  Pairs want, fwd, bwd;
  for (const auto& [k, v] : model) {
    if ((!ro.lower_bound || k >= *ro.lower_bound) &&
        (!ro.upper_bound || k < *ro.upper_bound) &&
        (!ro.prefix || k.starts_with(*ro.prefix))) {
      want.emplace_back(k, v);
    }
  }
  auto it = txn->NewIterator(ro);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    fwd.emplace_back(it->key(), it->value());
  }
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    bwd.emplace(bwd.begin(), it->key(), it->value());
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  EXPECT_EQ(fwd, want);
  EXPECT_EQ(bwd, want);
}

TEST(DBTxn, IteratorMergesOwnWritesWithItsSnapshot) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(PutAll(db.get(), {{"a1", "1"}, {"a2", "2"}, {"a3", "3"}}));
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(PutAll(db.get(), {{"b1", "10"}, {"b2", "5"}, {"c1", "c"}}));

  auto txn = db->BeginTransaction();
  EXPECT_EQ(txn->snapshot_sequence(), db->LastSequence());
  ASSERT_TRUE(txn->Delete("a2").ok());  // hides a snapshot key
  ASSERT_TRUE(txn->Put("a25", "new").ok());
  ASSERT_TRUE(txn->Merge("b1", "add", "1").ok());
  ASSERT_TRUE(txn->Put("b0", "p").ok());
  ASSERT_TRUE(txn->Delete("zz").ok());  // absent anyway
  ASSERT_TRUE(txn->Put("c0", "q").ok());
  ASSERT_TRUE(txn->Delete("c1").ok());
  ASSERT_TRUE(txn->Put("0", "first").ok());
  // Others' writes after the snapshot stay invisible, through compactions.
  ASSERT_TRUE(PutAll(db.get(), {{"a15", "later"}, {"a3", "changed"}}));
  ASSERT_TRUE(db->Delete({}, "b2").ok());
  ASSERT_TRUE(db->Merge({}, "b1", "add", "100").ok());
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(ValueOf(txn.get(), "a3"), "3");
  EXPECT_EQ(ValueOf(txn.get(), "a15"), "<absent>");

  const Model model = {{"0", "first"}, {"a1", "1"}, {"a25", "new"},
                       {"a3", "3"},    {"b0", "p"}, {"b1", "11"},
                       {"b2", "5"},    {"c0", "q"}};
  for (const ReadOptions& ro :
       {ReadOptions{}, Bounds("a2", "b2"), Bounds("a25", "a3"),
        Bounds("b", std::nullopt), Bounds(std::nullopt, "a2"),
        Bounds("c1", "d"), Bounds(std::nullopt, std::nullopt, "a"),
        Bounds(std::nullopt, "b2", "b"), Bounds("a2", std::nullopt, "a"),
        Bounds(std::nullopt, std::nullopt, "c1")}) {
    ExpectTxnView(txn.get(), ro, model);
  }
  // Seeks and changes of direction; seq 0 for own values.
  auto it = txn->NewIterator(Bounds("a", "c"));
  EXPECT_EQ(Walk(*it, {">a2", "<a2", "<b0", ">a3", "-", "-", "-", ">a3", "+",
                       "+", "-", ">b1", "+", "+"}),
            "a25 a1 b0 a3 a25 a1 <end> a3 b0 b1 b0 b1 b2 <end>");
  EXPECT_TRUE(it->status().ok());
  it->Seek("a2");
  EXPECT_EQ(it->seq(), 0u);  // a25
  it->Seek("b1");
  EXPECT_EQ(it->value(), "11");
  EXPECT_EQ(it->seq(), 0u);
  it->Prev();
  it->Prev();
  EXPECT_EQ(At(*it), "a3");
  EXPECT_NE(it->seq(), 0u);
}

TEST(DBTxn, WriteWriteConflictAbortsTheSecond) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(PutAll(db.get(), {{"k", "0"}, {"m", "0"}}));
  auto t1 = db->BeginTransaction();
  auto t2 = db->BeginTransaction();
  ASSERT_TRUE(t1->Put("k", "t1").ok());
  ASSERT_TRUE(t2->Put("k", "t2").ok());
  ASSERT_TRUE(t2->Put("other", "o").ok());
  ASSERT_TRUE(t1->Commit({}).ok());
  const uint64_t last = db->LastSequence();
  auto c2 = t2->Commit({});
  EXPECT_TRUE(absl::IsAborted(c2.status())) << c2.status();
  EXPECT_EQ(db->LastSequence(), last);
  EXPECT_EQ(ValueOf(db.get(), "k"), "t1");
  EXPECT_EQ(ValueOf(db.get(), "other"), "<absent>");
  EXPECT_EQ(db->GetStats().snapshots, 0);  // both released
  // Blind merges and deletes of one key conflict too.
  auto t3 = db->BeginTransaction();
  auto t4 = db->BeginTransaction();
  ASSERT_TRUE(t3->Merge("m", "add", "1").ok());
  ASSERT_TRUE(t4->Delete("m").ok());
  ASSERT_TRUE(t4->Commit({}).ok());
  EXPECT_TRUE(absl::IsAborted(t3->Commit({}).status()));
  EXPECT_EQ(ValueOf(db.get(), "m"), "<absent>");
}

// Another writer changes key k: put, delete, merge, delete range, a delete
// range over everything, put with TTL, put + flush, delete range + flush,
// put of the same value, put + compaction, put + delete + compaction.
absl::Status Change(DB* d, int kind, const std::string& k) {
  absl::StatusOr<uint64_t> r;
  if (kind == 0 || kind == 6 || kind >= 9) r = d->Put({}, k, "2");
  if (kind == 10 && r.ok()) r = d->Delete({}, k);
  if (kind == 1) r = d->Delete({}, k);
  if (kind == 2) r = d->Merge({}, k, "append", "x");
  if (kind == 3 || kind == 7) r = d->DeleteRange({}, k, k + "~");
  if (kind == 4) r = d->DeleteRange({}, "", "\xff");
  if (kind == 5) r = d->PutWithTtl({}, k, "2", absl::Hours(1));
  if (kind == 8) r = d->Put({}, k, "1");
  if (!r.ok()) return r.status();
  if (kind == 6 || kind == 7) return d->Flush();
  if (kind >= 9) return d->CompactRange(nullptr, nullptr);
  return absl::OkStatus();
}

TEST(DBTxn, ChangesToWhatItReadAbortTheCommit) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  for (int kind = 0; kind < 11; ++kind) {
    for (bool present : {true, false}) {
      // Deleting an absent key changes nothing visible.
      if (!present && (kind == 1 || kind == 3 || kind == 4 || kind == 7)) {
        continue;
      }
      const std::string key = absl::StrCat("k", kind, present ? "" : "n");
      SCOPED_TRACE(key);
      ASSERT_TRUE(!present || db->Put({}, key, "1").ok());
      ASSERT_TRUE(db->Flush().ok());
      auto t = db->BeginTransaction();
      EXPECT_EQ(ValueOf(t.get(), key), present ? "1" : "<absent>");
      ASSERT_TRUE(t->Put("out" + key, "x").ok());
      ASSERT_TRUE(Change(db.get(), kind, key).ok());
      const uint64_t last = db->LastSequence();
      auto c = t->Commit({});
      EXPECT_TRUE(absl::IsAborted(c.status())) << c.status();
      EXPECT_EQ(db->LastSequence(), last);
      EXPECT_EQ(ValueOf(db.get(), "out" + key), "<absent>");
    }
  }
}

TEST(DBTxn, UnrelatedWritesDoNotConflict) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(
      PutAll(db.get(),
             {{"j", "1"}, {"k", "1"}, {"m1", "1"}, {"m2", "1"}, {"n", "1"}}));
  auto t = db->BeginTransaction();
  EXPECT_EQ(ValueOf(t.get(), "k"), "1");
  EXPECT_EQ(ValueOf(t.get(), "zabsent"), "<absent>");
  auto it = t->NewIterator(Bounds("m", "n"));
  EXPECT_EQ(Walk(*it, {">", "+", "+"}), "m1 m2 <end>");
  it.reset();
  ASSERT_TRUE(t->Put("k2", "mine").ok());
  // n: the scan's exclusive end.
  ASSERT_TRUE(PutAll(db.get(),
                     {{"x", "1"}, {"n", "2"}, {"l9", "2"}, {"zabsent0", "2"}}));
  ASSERT_TRUE(db->Delete({}, "j").ok());
  ASSERT_TRUE(db->DeleteRange({}, "a", "k").ok());       // ends before k
  ASSERT_TRUE(db->DeleteRange({}, "k\x01", "k2").ok());  // between k, k2
  ASSERT_TRUE(db->DeleteRange({}, "k20", "m").ok());     // up to the scan
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->Put({}, "k3", "1").ok());
  auto c = t->Commit({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(ValueOf(db.get(), "k2"), "mine");
  EXPECT_EQ(db->Get({}, "k2")->seq, *c);
}

TEST(DBTxn, ScannedRangesCatchPhantoms) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  // Over a, b, c, d: a scan (Walk moves) of [a, c) forwards, backwards, of
  // its first key only, or of prefix b; then another writer's changes ("k":
  // put k, "-k": delete k), maybe a flush; then the commit.
  const ReadOptions ac = Bounds("a", "c");
  const ReadOptions pb = Bounds(std::nullopt, std::nullopt, "b");
  const std::vector<std::string> fwd = {">", "+", "+"}, bwd = {"<", "-", "-"};
  struct Case {
    const ReadOptions* ro;
    std::vector<std::string> moves, changes;
    bool flush, aborted;
  };
  const std::vector<Case> cases = {
      {&ac, fwd, {"b2"}, false, true},
      {&ac, fwd, {"b2"}, true, true},
      {&ac, fwd, {"a"}, false, true},
      {&ac, fwd, {"-b"}, false, true},
      {&ac, bwd, {"a5"}, false, true},
      {&ac, bwd, {"bb"}, true, true},
      {&pb, {">", "+"}, {"b9"}, false, true},
      {&ac, fwd, {"c", "c5", "0", "-d"}, false, false},
      {&ac, bwd, {"c", "0"}, true, false},
      {&ac, {">a"}, {"b2", "-b"}, false, false},  // only a was covered
      {&pb, {">", "+"}, {"c", "a"}, false, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(absl::StrCat("case ", i));
    ASSERT_TRUE(db->DeleteRange({}, "", "\xff").ok());
    ASSERT_TRUE(
        PutAll(db.get(), {{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}}));
    auto t = db->BeginTransaction();
    auto it = t->NewIterator(*c.ro);
    const std::string first = c.moves == bwd || c.ro == &pb ? "b" : "a";
    EXPECT_EQ(Walk(*it, c.moves).substr(0, 1), first);
    it.reset();
    ASSERT_TRUE(t->Put("out", absl::StrCat(i)).ok());
    for (const std::string& k : c.changes) {
      ASSERT_TRUE(
          (k[0] == '-' ? db->Delete({}, k.substr(1)) : db->Put({}, k, "2"))
              .ok());
    }
    ASSERT_TRUE(!c.flush || db->Flush().ok());
    auto r = t->Commit({});
    EXPECT_EQ(absl::IsAborted(r.status()), c.aborted) << r.status();
    EXPECT_EQ(ValueOf(db.get(), "out"),
              c.aborted ? "<absent>" : absl::StrCat(i));
  }
}

TEST(DBTxn, ExpiryOfAValueReadAbortsTheCommit) {
  TempDir dir;
  ManualClock clock;
  auto db = OpenOrDie(clock.With(SmallOptions()), dir.path());
  ASSERT_TRUE(db->PutWithTtl({}, "e", "1", absl::Seconds(10)).ok());
  ASSERT_TRUE(db->PutWithTtl({}, "f", "1", absl::Seconds(10)).ok());
  ASSERT_TRUE(db->PutWithTtl({}, "g", "1", absl::Hours(1)).ok());
  auto t1 = db->BeginTransaction();  // reads e with Get
  auto g1 = t1->Get("e");
  ASSERT_TRUE(g1.ok()) << g1.status();
  EXPECT_EQ(g1->expires_at_micros, clock.Now() + 10'000'000);
  ASSERT_TRUE(t1->Put("out1", "x").ok());
  auto t2 = db->BeginTransaction();  // reads f with an iterator
  auto it = t2->NewIterator(Bounds("f", "g"));
  it->SeekToFirst();
  EXPECT_EQ(At(*it), "f");
  it.reset();
  auto t3 = db->BeginTransaction();  // reads g, which outlives the commit
  EXPECT_EQ(ValueOf(t3.get(), "g"), "1");
  ASSERT_TRUE(t3->Put("out3", "x").ok());

  clock.Advance(absl::Seconds(20));
  EXPECT_TRUE(absl::IsAborted(t1->Commit({}).status()));
  EXPECT_EQ(ValueOf(db.get(), "out1"), "<absent>");
  EXPECT_TRUE(absl::IsAborted(t2->Commit({}).status()));  // read-only
  ASSERT_TRUE(t3->Commit({}).ok());
  // A transaction that begins after the expiry sees the key absent.
  EXPECT_EQ(ValueOf(db->BeginTransaction().get(), "e"), "<absent>");
}

TEST(DBTxn, BeginAtAnExplicitSnapshot) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(PutAll(db.get(), {{"k", "old"}, {"u", "u"}}));
  const Snapshot* snap = db->GetSnapshot();
  const uint64_t at = snap->sequence();
  ASSERT_TRUE(PutAll(db.get(), {{"k", "new"}, {"other", "o"}}));
  ASSERT_TRUE(db->Flush().ok());
  std::vector<std::unique_ptr<Transaction>> t;
  for (int i = 0; i < 3; ++i) {
    t.push_back(db->BeginTransaction(TransactionOptions{.snapshot = snap}));
  }
  db->ReleaseSnapshot(snap);
  EXPECT_EQ(db->GetStats().snapshots, 3);
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  for (auto& txn : t) EXPECT_EQ(txn->snapshot_sequence(), at);
  // t[0] reads k, which changed after the snapshot.
  EXPECT_EQ(ValueOf(t[0].get(), "k"), "old");
  EXPECT_EQ(ValueOf(t[0].get(), "other"), "<absent>");
  ExpectTxnView(t[0].get(), {}, Model{{"k", "old"}, {"u", "u"}});
  ASSERT_TRUE(t[0]->Put("z", "0").ok());
  EXPECT_TRUE(absl::IsAborted(t[0]->Commit({}).status()));
  // t[1] reads only u, unchanged: commits.
  EXPECT_EQ(ValueOf(t[1].get(), "u"), "u");
  ASSERT_TRUE(t[1]->Put("z", "1").ok());
  ASSERT_TRUE(t[1]->Commit({}).ok());
  // t[2] blindly writes a key written after its snapshot.
  ASSERT_TRUE(t[2]->Put("other", "2").ok());
  EXPECT_TRUE(absl::IsAborted(t[2]->Commit({}).status()));
  EXPECT_EQ(ValueOf(db.get(), "z"), "1");
  EXPECT_EQ(ValueOf(db.get(), "other"), "o");
  EXPECT_EQ(db->GetStats().snapshots, 0);
}

TEST(DBTxn, FinishingReleasesTheSnapshot) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "a", "0").ok());
  {
    auto t = db->BeginTransaction();
    EXPECT_EQ(db->GetStats().snapshots, 1);
    ASSERT_TRUE(t->Put("a", "destroyed").ok());
  }
  EXPECT_EQ(db->GetStats().snapshots, 0);
  EXPECT_EQ(ValueOf(db.get(), "a"), "0");
  // Rolled back, committed, aborted: then every call fails.
  for (int how = 0; how < 3; ++how) {
    SCOPED_TRACE(how);
    auto t = db->BeginTransaction();
    EXPECT_EQ(db->GetStats().snapshots, 1);
    // Bad input is refused and the transaction goes on.
    EXPECT_TRUE(absl::IsInvalidArgument(t->PutWithExpiry("b", "1", 0)));
    EXPECT_TRUE(absl::IsInvalidArgument(t->Merge("b", "add", "01")));
    EXPECT_TRUE(absl::IsInvalidArgument(t->Merge("b", "nope", "1")));
    EXPECT_EQ(ValueOf(t.get(), "a"), how == 2 ? "1" : "0");
    ASSERT_TRUE(t->Put("a", "1").ok());
    ASSERT_TRUE(how != 2 || db->Put({}, "a", "x").ok());
    if (how == 0) {
      t->Rollback();
    } else {
      auto c = t->Commit({});
      EXPECT_EQ(c.ok(), how == 1) << c.status();
      EXPECT_EQ(c.ok() ? *c : 0, how == 1 ? db->LastSequence() : 0);
    }
    EXPECT_EQ(db->GetStats().snapshots, 0);
    EXPECT_TRUE(absl::IsFailedPrecondition(t->Get("a").status()));
    EXPECT_TRUE(absl::IsFailedPrecondition(t->Put("a", "1")));
    EXPECT_TRUE(absl::IsFailedPrecondition(t->PutWithExpiry("a", "1", 5)));
    EXPECT_TRUE(absl::IsFailedPrecondition(t->Delete("a")));
    EXPECT_TRUE(absl::IsFailedPrecondition(t->Merge("a", "add", "1")));
    EXPECT_TRUE(absl::IsFailedPrecondition(t->Commit({}).status()));
    auto it = t->NewIterator({});
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid());
    EXPECT_TRUE(absl::IsFailedPrecondition(it->status())) << it->status();
    it.reset();
    t->Rollback();  // harmless
    EXPECT_EQ(ValueOf(db.get(), "a"), how == 0 ? "0" : how == 1 ? "1" : "x");
    EXPECT_EQ(ValueOf(db.get(), "b"), "<absent>");
  }
}

TEST(DBTxn, ReadOnlyCommitValidatesItsReads) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(PutAll(db.get(), {{"k", "1"}, {"r1", "1"}}));
  auto t = db->BeginTransaction();
  EXPECT_EQ(ValueOf(t.get(), "k"), "1");
  ASSERT_TRUE(db->Put({}, "x", "unrelated").ok());
  auto c = t->Commit({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c, db->LastSequence());

  auto t2 = db->BeginTransaction();
  EXPECT_EQ(ValueOf(t2.get(), "k"), "1");
  ASSERT_TRUE(db->Put({}, "k", "2").ok());
  const uint64_t last = db->LastSequence();
  EXPECT_TRUE(absl::IsAborted(t2->Commit({}).status()));
  EXPECT_EQ(db->LastSequence(), last);

  auto t3 = db->BeginTransaction();
  auto it = t3->NewIterator(Bounds("r", "s"));
  EXPECT_EQ(Walk(*it, {">", "+"}), "r1 <end>");
  it.reset();
  ASSERT_TRUE(db->Put({}, "r2", "phantom").ok());
  EXPECT_TRUE(absl::IsAborted(t3->Commit({}).status()));

  auto t4 = db->BeginTransaction();  // reads and writes nothing
  EXPECT_EQ(t4->Commit({}).value_or(0), db->LastSequence());
}

// A bank: transfers in transactions never change the total.

std::string Account(int i) { return absl::StrFormat("acct%02d", i); }
std::string Balance(int64_t b) {
  return absl::StrFormat("%010d|%s", b, std::string(400, '.'));
}
int64_t ParseBalance(std::string_view v) {
  int64_t b = -1;
  const bool ok = absl::SimpleAtoi(std::string(v.substr(0, 10)), &b);
  return ok && v.size() > 10 ? b : -1;
}

TEST(DBTxn, ConcurrentBankTransfersKeepTheTotal) {
  TempDir dir;
  Options o = SmallOptions();
  o.max_background_compactions = 2;
  constexpr int kAccounts = 20, kThreads = 4, kTransfers = 200;
  constexpr int64_t kInitial = 1000, kTotal = kAccounts * kInitial;
  auto db = OpenOrDie(o, dir.path());
  WriteBatch init;
  for (int i = 0; i < kAccounts; ++i) init.Put(Account(i), Balance(kInitial));
  ASSERT_TRUE(db->Write({}, init).ok());
  std::mutex mu;
  std::vector<std::tuple<uint64_t, int, int, int64_t>> committed;  // seq, ...
  std::atomic<int> errors{0}, gave_up{0}, bad_totals{0}, checks{0},
      writers_left{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      for (int n = 0; n < kTransfers; ++n) {
        const int from = rng() % kAccounts;
        const int to = (from + 1 + rng() % (kAccounts - 1)) % kAccounts;
        const int64_t amount = 1 + rng() % 50;
        bool done = false;
        for (int attempt = 0; attempt < 200 && !done; ++attempt) {
          auto txn = db->BeginTransaction();
          auto f = txn->Get(Account(from));
          auto g = txn->Get(Account(to));
          const int64_t fb = f.ok() ? ParseBalance(f->value) : -1;
          const int64_t tb = g.ok() ? ParseBalance(g->value) : -1;
          const int64_t moved = std::min(amount, fb);
          absl::StatusOr<uint64_t> c = absl::InternalError("bad balance");
          if (fb >= 0 && tb >= 0 &&
              txn->Put(Account(from), Balance(fb - moved)).ok() &&
              txn->Put(Account(to), Balance(tb + moved)).ok()) {
            c = txn->Commit({});
          }
          done = !absl::IsAborted(c.status());  // else retry
          if (c.ok()) {
            std::lock_guard<std::mutex> l(mu);
            committed.emplace_back(*c, from, to, moved);
          } else if (done) {
            ++errors;
          }
        }
        if (!done) ++gave_up;
      }
      --writers_left;
    });
  }
  // The checker sums the balances at one point in time, by a read-only
  // transaction (its commit validates) or a snapshot.
  threads.emplace_back([&] {
    for (int i = 0; writers_left > 0 || i < 2; ++i, ++checks) {
      Model all;
      if (i % 2 == 1) {
        ReadOptions ro;
        ro.snapshot = db->GetSnapshot();
        all = Contents(db.get(), ro);
        db->ReleaseSnapshot(ro.snapshot);
      } else {
        auto txn = db->BeginTransaction();
        auto it = txn->NewIterator(Bounds(std::nullopt, std::nullopt, "acct"));
        for (it->SeekToLast(); it->Valid(); it->Prev()) {
          all.emplace(it->key(), it->value());
        }
        if (!it->status().ok()) ++errors;
        it.reset();
        auto c = txn->Commit({});
        if (!c.ok() && !absl::IsAborted(c.status())) ++errors;
      }
      int64_t sum = 0;
      for (const auto& [k, v] : all) sum += ParseBalance(v);
      if (all.size() != kAccounts || sum != kTotal) ++bad_totals;
    }
  });
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(gave_up.load(), 0);
  EXPECT_EQ(bad_totals.load(), 0);
  EXPECT_GT(checks.load(), 0);
  ASSERT_EQ(committed.size(), static_cast<size_t>(kThreads * kTransfers));

  // The model: the committed transfers in commit order. Each commit wrote
  // the sender at seq - 1 and the receiver at seq.
  std::sort(committed.begin(), committed.end());
  std::vector<int64_t> model(kAccounts, kInitial);
  std::vector<uint64_t> last_seq(kAccounts, 0);
  uint64_t prev = 0;
  for (const auto& [seq, from, to, amount] : committed) {
    EXPECT_GT(seq, prev);
    prev = seq;
    model[from] -= amount;
    model[to] += amount;
    ASSERT_GE(model[from], 0);
    last_seq[from] = seq - 1;
    last_seq[to] = seq;
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    SCOPED_TRACE(reopen ? "reopened" : "before reopen");
    if (reopen) {
      ASSERT_TRUE(db->Close().ok());
      db.reset();
      db = OpenOrDie(o, dir.path());
      ASSERT_NE(db, nullptr);
    }
    int64_t sum = 0;
    for (int a = 0; a < kAccounts; ++a) {
      auto g = db->Get({}, Account(a));
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(ParseBalance(g->value), model[a]) << Account(a);
      EXPECT_TRUE(last_seq[a] == 0 || g->seq == last_seq[a]) << Account(a);
      sum += ParseBalance(g->value);
    }
    EXPECT_EQ(sum, kTotal);
  }
}

}  // namespace
}  // namespace cairn::storage
