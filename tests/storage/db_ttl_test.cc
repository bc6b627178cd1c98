// TTL through the DB with an injected clock: expiring Puts are visible until
// their expiry and from then on behave as a Delete at their sequence (Get,
// MultiGet, iterators both ways, snapshots), also after flush, compaction
// and reopen; compaction drops them; merges on an expiring Put fold over it
// until the expiry and over absence after it; bad TTLs are refused. Ends
// with a randomized model test.
//
// Model test environment: CAIRN_STORAGE_TTL_OPS (operations per seed,
// default 2000), CAIRN_STORAGE_TTL_SEEDS (fixed seeds, default 3),
// CAIRN_STORAGE_TTL_SEED (run just this seed).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::OpenOrDie;
using testing::SmallOptions;
using testing::TempDir;

constexpr int64_t kStart = 1'700'000'000'000'000;  // micros since the epoch
constexpr int64_t kSecond = 1'000'000;

// "value@seq~expires_at", "<absent>" or "<CODE>".
std::string Show(const absl::StatusOr<GetResult>& r) {
  if (r.ok()) {
    return absl::StrFormat("%s@%d~%d", r->value, r->seq, r->expires_at_micros);
  }
  if (absl::IsNotFound(r.status())) return "<absent>";
  return "<" + absl::StatusCodeToString(r.status().code()) + ">";
}

std::string Entry(const Iterator& it) {
  return absl::StrFormat("%s=%s@%d~%d", it.key(), it.value(), it.seq(),
                         it.expires_at_micros());
}

using Entries = std::vector<std::string>;

Entries Reversed(Entries e) {
  std::reverse(e.begin(), e.end());
  return e;
}

class DBTtlTest : public ::testing::Test {
 protected:
  DBTtlTest() {
    options_ = SmallOptions();
    options_.clock = [now = now_] { return absl::FromUnixMicros(now->load()); };
    db_ = OpenOrDie(options_, dir_.path());
  }

  uint64_t Now() const { return static_cast<uint64_t>(now_->load()); }
  void Advance(int64_t micros) { now_->fetch_add(micros); }
  void SetNow(uint64_t micros) { now_->store(static_cast<int64_t>(micros)); }

  // Opens a fresh DB in its own directory (for loops over layouts).
  void Fresh() {
    db_.reset();
    fresh_ = std::make_unique<TempDir>();
    path_ = fresh_->path();
    db_ = OpenOrDie(options_, path_);
  }
  void Reopen() {
    ASSERT_TRUE(db_->Close().ok());
    db_.reset();
    db_ = OpenOrDie(options_, path_);
    ASSERT_NE(db_, nullptr);
  }
  void FlushAndCompact() {
    ASSERT_TRUE(db_->Flush().ok());
    ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  }

  std::string Read(const std::string& key, const ReadOptions& ro = {}) {
    return Show(db_->Get(ro, key));
  }
  Entries Scan(const ReadOptions& ro, bool forward) {
    Entries out;
    auto it = db_->NewIterator(ro);
    for (forward ? it->SeekToFirst() : it->SeekToLast(); it->Valid();
         forward ? it->Next() : it->Prev()) {
      out.push_back(Entry(*it));
    }
    EXPECT_TRUE(it->status().ok()) << it->status();
    return out;
  }
  // Both directions must yield `forward` (in order and reversed).
  void ExpectScan(const ReadOptions& ro, const Entries& forward) {
    EXPECT_EQ(Scan(ro, true), forward);
    EXPECT_EQ(Scan(ro, false), Reversed(forward));
  }

  struct Totals {
    int files = 0;
    uint64_t bytes = 0;
  };
  Totals LevelTotals() {
    Totals t;
    for (const LevelStats& l : db_->GetStats().levels) {
      t.files += l.files;
      t.bytes += l.bytes;
    }
    return t;
  }

  TempDir dir_;
  std::unique_ptr<TempDir> fresh_;
  std::string path_ = dir_.path();
  std::shared_ptr<std::atomic<int64_t>> now_ =
      std::make_shared<std::atomic<int64_t>>(kStart);
  Options options_;
  std::unique_ptr<DB> db_;
};

TEST_F(DBTtlTest, VisibleUntilExpiryThenGoneEverywhereEvenAtASnapshot) {
  const uint64_t a = *db_->Put({}, "a", "1");
  const uint64_t k = *db_->PutWithTtl({}, "k", "v", absl::Seconds(10));
  const uint64_t z = *db_->Put({}, "z", "26");
  const uint64_t exp = Now() + 10 * kSecond;
  const Snapshot* snap = db_->GetSnapshot();
  ReadOptions at_snap;
  at_snap.snapshot = snap;
  const std::string live_k = absl::StrFormat("v@%d~%d", k, exp);
  const std::string entry_a = absl::StrFormat("a=1@%d~0", a);
  const std::string entry_k = "k=" + live_k;
  const std::string entry_z = absl::StrFormat("z=26@%d~0", z);

  EXPECT_EQ(Read("k"), live_k);
  EXPECT_EQ(Read("k", at_snap), live_k);
  auto multi = db_->MultiGet({}, {"a", "k", "z"});
  EXPECT_EQ(Show(multi[1]), live_k);
  ExpectScan({}, {entry_a, entry_k, entry_z});
  ExpectScan(at_snap, {entry_a, entry_k, entry_z});

  Advance(10 * kSecond - 1);
  EXPECT_EQ(Read("k"), live_k);
  auto early = db_->NewIterator({});  // judges expiry at its creation
  Advance(1);                         // now == expiry: expired

  auto check_gone = [&](const char* when) {
    SCOPED_TRACE(when);
    EXPECT_EQ(Read("k"), "<absent>");
    EXPECT_EQ(Read("k", at_snap), "<absent>");
    for (const ReadOptions& ro : {at_snap, ReadOptions{}}) {
      auto m = db_->MultiGet(ro, {"a", "k", "z"});
      ASSERT_EQ(m.size(), 3u);
      EXPECT_EQ(Show(m[0]), absl::StrFormat("1@%d~0", a));
      EXPECT_EQ(Show(m[1]), "<absent>");
      ExpectScan(ro, {entry_a, entry_z});
    }
    auto it = db_->NewIterator({});
    it->Seek("k");
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(Entry(*it), entry_z);
    it->SeekForPrev("k");
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(Entry(*it), entry_a);
    it->Next();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(Entry(*it), entry_z);
    ReadOptions bounded;
    bounded.lower_bound = "b";
    bounded.upper_bound = "y";
    ExpectScan(bounded, {});
  };
  check_gone("memtable");
  early->SeekToFirst();
  early->Next();
  ASSERT_TRUE(early->Valid());
  EXPECT_EQ(Entry(*early), entry_k);
  early->SeekToLast();
  early->Prev();
  ASSERT_TRUE(early->Valid());
  EXPECT_EQ(Entry(*early), entry_k);
  early.reset();
  ASSERT_TRUE(db_->Flush().ok());
  check_gone("flushed");
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  check_gone("compacted");
  db_->ReleaseSnapshot(snap);
}

TEST_F(DBTtlTest, ExpiredPutDoesNotUncoverTheOlderVersion) {
  // Bits: 1 old version compacted before the new one, 2 new one flushed
  // before expiry, 4 compaction right after expiry.
  for (int layout = 0; layout < 8; ++layout) {
    SCOPED_TRACE(absl::StrFormat("layout %d", layout));
    Fresh();
    const uint64_t old_seq = *db_->Put({}, "k", "old");
    ASSERT_TRUE(db_->Put({}, "k2", "other").ok());
    if (layout & 1) FlushAndCompact();
    const Snapshot* before = db_->GetSnapshot();  // sees "old" forever
    ReadOptions at_before;
    at_before.snapshot = before;
    const uint64_t new_seq = *db_->PutWithTtl({}, "k", "new", absl::Minutes(1));
    const uint64_t exp = Now() + 60 * kSecond;
    if (layout & 2) {
      ASSERT_TRUE(db_->Flush().ok());
    }
    const std::string old_value = absl::StrFormat("old@%d~0", old_seq);
    EXPECT_EQ(Read("k"), absl::StrFormat("new@%d~%d", new_seq, exp));
    EXPECT_EQ(Read("k", at_before), old_value);
    Advance(60 * kSecond);
    if (layout & 4) {
      ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
    }
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(Read("k"), "<absent>");
      EXPECT_EQ(Scan({}, true), Entries{"k2=other@2~0"});
      EXPECT_EQ(Scan({}, false), Entries{"k2=other@2~0"});
      EXPECT_EQ(Read("k", at_before), old_value);
      EXPECT_EQ(Scan(at_before, false),
                (Entries{"k2=other@2~0", "k=" + old_value}));
      FlushAndCompact();
    }
    db_->ReleaseSnapshot(before);
    FlushAndCompact();
    EXPECT_EQ(Read("k"), "<absent>");
    Reopen();
    EXPECT_EQ(Read("k"), "<absent>");
    EXPECT_EQ(Scan({}, true), Entries{"k2=other@2~0"});
  }
}

TEST_F(DBTtlTest, ExpiredPutOverADeepVersionWithAutomaticCompactions) {
  // The old versions sink below the levels automatic compactions move the
  // expiring Puts through; whatever they do, those must not come back and
  // the operand must fold over absence once the Put under it expired.
  const std::string big(1000, 'x');
  ASSERT_TRUE(db_->Put({}, "k", "old").ok());
  ASSERT_TRUE(db_->Put({}, "n", "100").ok());
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(db_->Put({}, absl::StrFormat("f%04d", i), big).ok());
  }
  FlushAndCompact();
  const uint64_t new_seq = *db_->PutWithTtl({}, "k", "new", absl::Seconds(1));
  ASSERT_TRUE(db_->PutWithTtl({}, "n", "10", absl::Seconds(1)).ok());
  const uint64_t m = *db_->Merge({}, "n", "add", "5");
  const uint64_t exp = kStart + kSecond;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE(absl::StrFormat("round %d", round));
    if (round == 2) Advance(kSecond);
    for (int i = 0; i < 150; ++i) {
      const int f = (round * 150 + i) * 7 % 600;
      ASSERT_TRUE(db_->Put({}, absl::StrFormat("f%04d", f), big).ok());
      if (i % 50 == 0) {
        EXPECT_EQ(Read("k"), round < 2
                                 ? absl::StrFormat("new@%d~%d", new_seq, exp)
                                 : "<absent>");
        EXPECT_EQ(Read("n"), round < 2 ? absl::StrFormat("15@%d~%d", m, exp)
                                       : absl::StrFormat("5@%d~0", m));
      }
    }
  }
  for (int round = 0; round < 3; ++round) {  // now, compacted, reopened
    EXPECT_EQ(Read("k"), "<absent>");
    EXPECT_EQ(Read("n"), absl::StrFormat("5@%d~0", m));
    auto it = db_->NewIterator({});
    it->Seek("g");
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(Entry(*it), absl::StrFormat("n=5@%d~0", m));
    it->Prev();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "f0599");
    it.reset();
    if (round == 0) FlushAndCompact();
    if (round == 1) Reopen();
  }
}

TEST_F(DBTtlTest, CompactionDropsExpiredEntries) {
  const std::string big(1000, 'x');
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(
        db_->PutWithTtl({}, absl::StrFormat("t%03d", i), big, absl::Hours(1))
            .ok());
  }
  FlushAndCompact();
  const Totals before = LevelTotals();
  EXPECT_GT(before.bytes, 150u << 10);
  Advance(3600 * kSecond);
  EXPECT_TRUE(Scan({}, true).empty());
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  const Totals after = LevelTotals();
  EXPECT_EQ(after.files, 0);
  EXPECT_EQ(after.bytes, 0u);

  // Half expiring, interleaved with permanent keys in the same files.
  for (int i = 0; i < 400; ++i) {
    const std::string key = absl::StrFormat("m%03d", i);
    ASSERT_TRUE((i % 2 ? db_->PutWithTtl({}, key, big, absl::Hours(1))
                       : db_->Put({}, key, big))
                    .ok());
  }
  FlushAndCompact();
  const Totals mixed = LevelTotals();
  Advance(3600 * kSecond);
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  const Totals halved = LevelTotals();
  EXPECT_LT(halved.bytes, mixed.bytes * 6 / 10);
  EXPECT_GT(halved.bytes, mixed.bytes * 4 / 10);
  EXPECT_EQ(Scan({}, true).size(), 200u);
  EXPECT_EQ(Read("m001"), "<absent>");
  EXPECT_EQ(db_->Get({}, "m002")->value, big);
}

TEST_F(DBTtlTest, NonPositiveTtlAndZeroExpiryAreRefused) {
  ASSERT_TRUE(db_->Put({}, "k", "old").ok());
  const uint64_t last = db_->LastSequence();
  for (absl::Duration ttl : {absl::ZeroDuration(), absl::Microseconds(-1),
                             absl::Seconds(-10), -absl::InfiniteDuration()}) {
    auto s = db_->PutWithTtl({}, "k", "v", ttl);
    EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
  }
  WriteBatch batch;
  batch.Put("x", "1");
  batch.PutWithExpiry("k", "v", 0);
  auto s = db_->Write({}, batch);
  EXPECT_TRUE(absl::IsInvalidArgument(s.status())) << s.status();
  EXPECT_EQ(db_->LastSequence(), last);
  EXPECT_EQ(Read("x"), "<absent>");
  EXPECT_EQ(Read("k"), absl::StrFormat("old@%d~0", last));

  // A nonzero expiry at or before now is valid: a Delete at once.
  WriteBatch past;
  past.PutWithExpiry("k", "v", Now() - 1);
  past.Put("x", "1");
  past.PutWithExpiry("y", "v", Now());
  ASSERT_EQ(*db_->Write({}, past), last + 3);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Read("k"), "<absent>");
    EXPECT_EQ(Read("y"), "<absent>");
    ExpectScan({}, {absl::StrFormat("x=1@%d~0", last + 2)});
    FlushAndCompact();
  }
  // An infinite TTL is valid and never expires.
  ASSERT_TRUE(db_->PutWithTtl({}, "z", "v", absl::InfiniteDuration()).ok());
  Advance(int64_t{1} << 60);
  FlushAndCompact();
  EXPECT_EQ(db_->Get({}, "z")->value, "v");
}

TEST_F(DBTtlTest, MergeOnExpiringPutFoldsOverAbsenceAfterExpiry) {
  enum Action { kNone, kFlush, kCompact, kReopen };
  const std::pair<Action, Action> modes[] = {
      {kNone, kNone},      {kFlush, kNone},    {kCompact, kNone},
      {kNone, kCompact},   {kFlush, kCompact}, {kReopen, kNone},
      {kCompact, kReopen}, {kNone, kReopen}};
  for (const auto& [before_expiry, after_expiry] : modes) {
    SCOPED_TRACE(
        absl::StrFormat("actions %d, %d", before_expiry, after_expiry));
    Fresh();
    const Snapshot* snap = nullptr;
    auto act = [&](Action a) {
      if (a == kFlush) {
        ASSERT_TRUE(db_->Flush().ok());
      }
      if (a == kCompact) FlushAndCompact();
      if (a == kReopen) {
        if (snap != nullptr) db_->ReleaseSnapshot(snap);
        snap = nullptr;
        Reopen();
      }
    };
    ASSERT_TRUE(db_->Put({}, "n", "100").ok());  // must never come back
    ASSERT_TRUE(db_->PutWithTtl({}, "n", "10", absl::Hours(1)).ok());
    const uint64_t exp = Now() + 3600 * kSecond;
    const uint64_t m1 = *db_->Merge({}, "n", "add", "5");
    ASSERT_TRUE(db_->PutWithTtl({}, "s", "a", absl::Hours(1)).ok());
    const uint64_t m2 = *db_->Merge({}, "s", "append", "b", ",");
    const uint64_t p = *db_->PutWithTtl({}, "p", "x", absl::Hours(1));
    snap = db_->GetSnapshot();
    auto check = [&](bool expired) {
      const Entries want =
          expired ? Entries{absl::StrFormat("n=5@%d~0", m1),
                            absl::StrFormat("s=b@%d~0", m2)}
                  : Entries{absl::StrFormat("n=15@%d~%d", m1, exp),
                            absl::StrFormat("p=x@%d~%d", p, exp),
                            absl::StrFormat("s=a,b@%d~%d", m2, exp)};
      std::vector<ReadOptions> reads(1);
      if (snap != nullptr) reads.emplace_back().snapshot = snap;
      for (const ReadOptions& ro : reads) {
        ExpectScan(ro, want);
        auto m = db_->MultiGet(ro, {"n", "p", "s"});
        EXPECT_EQ("n=" + Show(m[0]), want[0]);
        EXPECT_EQ("s=" + Show(m[2]), want.back());
        EXPECT_EQ(Show(m[1]), expired ? "<absent>" : want[1].substr(2));
      }
    };
    check(false);
    act(before_expiry);
    check(false);
    Advance(3600 * kSecond);
    check(true);
    act(after_expiry);
    check(true);
    const uint64_t m3 = *db_->Merge({}, "n", "add", "1");
    FlushAndCompact();
    EXPECT_EQ(Read("n"), absl::StrFormat("6@%d~0", m3));
    if (snap != nullptr) db_->ReleaseSnapshot(snap);
  }
}

TEST_F(DBTtlTest, PutWithExpiryThroughWriteBatch) {
  const uint64_t t = Now() + 5 * kSecond;
  WriteBatch batch;
  batch.PutWithExpiry("a", "1", t);
  batch.Put("b", "2");
  batch.Merge("a", "add", "1");
  batch.PutWithExpiry("c", "3", t + kSecond);
  ASSERT_EQ(*db_->Write({}, batch), 4u);
  for (int round = 0; round < 2; ++round) {  // memtable, then WAL replay
    SetNow(t - 1);
    EXPECT_EQ(Read("a"), absl::StrFormat("2@3~%d", t));
    EXPECT_EQ(Read("b"), "2@2~0");
    EXPECT_EQ(Read("c"), absl::StrFormat("3@4~%d", t + kSecond));
    SetNow(t);
    EXPECT_EQ(Read("a"), "1@3~0");
    EXPECT_EQ(Read("c"), absl::StrFormat("3@4~%d", t + kSecond));
    SetNow(t + kSecond);
    EXPECT_EQ(Read("c"), "<absent>");
    ExpectScan({}, {"a=1@3~0", "b=2@2~0"});
    SetNow(kStart);
    Reopen();
  }
}

TEST_F(DBTtlTest, ExpiryIsAbsoluteAcrossReopen) {
  const uint64_t f = *db_->PutWithTtl({}, "flushed", "1", absl::Seconds(10));
  ASSERT_TRUE(db_->Flush().ok());
  const uint64_t w = *db_->PutWithTtl({}, "wal", "2", absl::Seconds(10));
  const uint64_t keep = *db_->Put({}, "keep", "3");
  const uint64_t exp = Now() + 10 * kSecond;
  const Entries live = {absl::StrFormat("flushed=1@%d~%d", f, exp),
                        absl::StrFormat("keep=3@%d~0", keep),
                        absl::StrFormat("wal=2@%d~%d", w, exp)};
  Reopen();
  ExpectScan({}, live);
  Advance(10 * kSecond - 1);
  Reopen();
  ExpectScan({}, live);
  EXPECT_EQ(Read("wal"), absl::StrFormat("2@%d~%d", w, exp));
  Advance(1);
  Reopen();
  EXPECT_EQ(Read("flushed"), "<absent>");
  EXPECT_EQ(Read("wal"), "<absent>");
  ExpectScan({}, {live[1]});
  FlushAndCompact();
  Reopen();
  ExpectScan({}, {live[1]});
}

// Randomized: Put, PutWithTtl, PutWithExpiry (batches), Delete, DeleteRange
// and add/max merges on 30 keys while the clock moves, with snapshots,
// flushes, compactions and reopens, against a model that keeps every write.
class TtlModelRun {
 public:
  static constexpr int kKeys = 30;
  struct Op {
    uint64_t seq;
    enum Kind { kPut, kDelete, kMerge } kind;
    std::string value, op;  // put value or operand; merge operator
    uint64_t expiry = 0;
  };

  TtlModelRun(uint64_t seed, const std::string& dir) : rng_(seed), dir_(dir) {
    options_ = SmallOptions();
    options_.clock = [now = now_] { return absl::FromUnixMicros(now->load()); };
    db_ = OpenOrDie(options_, dir_);
  }
  ~TtlModelRun() { ReleaseAll(); }

  std::string KeyAt(int i) { return absl::StrFormat("t%02d", i); }
  uint64_t Now() const { return static_cast<uint64_t>(now_->load()); }
  std::string Int() {
    return std::to_string(static_cast<int>(rng_() % 2001) - 1000);
  }

  // "value@seq~expiry" of key at sequence s, judged at the current time.
  std::string Read(const std::string& key, uint64_t s) {
    const uint64_t now = Now();
    std::vector<const Op*> operands;  // newest first
    std::optional<int64_t> value;
    uint64_t seq = 0, expiry = 0;
    for (auto o = ops_[key].rbegin(); o != ops_[key].rend(); ++o) {
      if (o->seq > s) continue;
      if (seq == 0) seq = o->seq;
      if (o->kind == Op::kMerge) {
        operands.push_back(&*o);
        continue;
      }
      if (o->kind == Op::kPut && (o->expiry == 0 || o->expiry > now)) {
        value = std::stoll(o->value);
        expiry = o->expiry;
      }
      break;  // a Delete, an expired Put (the same) or a live Put
    }
    if (!value && operands.empty()) return "<absent>";
    for (auto o = operands.rbegin(); o != operands.rend(); ++o) {
      const int64_t x = std::stoll((*o)->value);
      value = !value ? x : (*o)->op == "add" ? *value + x : std::max(*value, x);
    }
    return absl::StrFormat("%d@%d~%d", *value, seq, expiry);
  }

  Op RandomOp() {
    const int r = rng_() % 10;
    if (r < 4) return {0, Op::kMerge, Int(), rng_() % 2 ? "add" : "max"};
    if (r < 5) return {0, Op::kDelete, "", ""};
    // Expiries on a 1 ms grid so that reads often land exactly on one.
    const uint64_t expiry = r < 7 ? 0 : Now() + 1000 * (1 + rng_() % 40);
    return {0, Op::kPut, Int(), "", expiry};
  }

  void Step() {
    const int r = rng_() % 100;
    const int ki = rng_() % kKeys;
    if (r < 70) {
      const int n = r < 60 ? 1 : 2 + rng_() % 3;
      WriteBatch batch;
      std::vector<std::pair<std::string, Op>> ops;
      for (int i = 0; i < n; ++i) {
        const std::string key = KeyAt(i == 0 ? ki : rng_() % kKeys);
        Op op = RandomOp();
        if (op.kind == Op::kMerge) batch.Merge(key, op.op, op.value);
        if (op.kind == Op::kDelete) batch.Delete(key);
        if (op.kind == Op::kPut && op.expiry == 0) batch.Put(key, op.value);
        if (op.kind == Op::kPut && op.expiry) {
          batch.PutWithExpiry(key, op.value, op.expiry);
        }
        ops.emplace_back(key, op);
      }
      const Op& op = ops[0].second;
      absl::StatusOr<uint64_t> s;
      if (n == 1 && op.kind == Op::kPut && op.expiry != 0) {
        s = db_->PutWithTtl({}, ops[0].first, op.value,
                            absl::Microseconds(op.expiry - Now()));
      } else {
        s = db_->Write({}, batch);
      }
      ASSERT_TRUE(s.ok()) << s.status();
      for (int i = 0; i < n; ++i) {
        ops[i].second.seq = *s - (n - 1) + i;
        ops_[ops[i].first].push_back(ops[i].second);
      }
    } else if (r < 72) {
      const int len = 1 + rng_() % 4;
      auto s = db_->DeleteRange({}, KeyAt(ki), KeyAt(ki + len));
      ASSERT_TRUE(s.ok()) << s.status();
      for (int k = ki; k < std::min(ki + len, kKeys); ++k) {
        ops_[KeyAt(k)].push_back({*s, Op::kDelete, "", ""});
      }
    } else if (r < 85) {
      now_->fetch_add(1000 * (rng_() % 6));
    } else if (r < 90) {
      if (snapshots_.size() < 3) snapshots_.push_back(db_->GetSnapshot());
    } else if (r < 93) {
      if (!snapshots_.empty()) {
        db_->ReleaseSnapshot(snapshots_.front());
        snapshots_.erase(snapshots_.begin());
      }
    } else if (r < 96) {
      ASSERT_TRUE(db_->Flush().ok());
    } else if (r < 99) {
      ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
    } else {
      ReleaseAll();
      ASSERT_TRUE(db_->Close().ok());
      db_.reset();
      db_ = OpenOrDie(options_, dir_);
      ASSERT_NE(db_, nullptr);
    }
  }

  void Check() {
    ASSERT_TRUE(db_->GetStats().background_error.ok());
    std::vector<const Snapshot*> points = snapshots_;
    points.push_back(nullptr);
    for (const Snapshot* snap : points) {
      ReadOptions ro;
      ro.snapshot = snap;
      const uint64_t seq = snap ? snap->sequence() : db_->LastSequence();
      SCOPED_TRACE(absl::StrFormat("at %d, now %d", seq, Now()));
      std::vector<std::string> keys;
      std::vector<std::string_view> views;
      Entries want;
      for (int i = 0; i < kKeys; ++i) keys.push_back(KeyAt(i));
      for (const auto& k : keys) views.push_back(k);
      auto multi = db_->MultiGet(ro, views);
      for (int i = 0; i < kKeys; ++i) {
        const std::string expected = Read(keys[i], seq);
        EXPECT_EQ(Show(db_->Get(ro, keys[i])), expected) << keys[i];
        EXPECT_EQ(Show(multi[i]), expected) << keys[i] << " (MultiGet)";
        if (expected[0] != '<') want.push_back(keys[i] + "=" + expected);
      }
      // Full, prefix and bounded scans, both directions.
      const int lo = rng_() % kKeys, hi = lo + 1 + rng_() % (kKeys - lo);
      std::vector<ReadOptions> scans(3, ro);
      scans[1].prefix = "t1";
      scans[2].lower_bound = KeyAt(lo) + "+";
      scans[2].upper_bound = KeyAt(hi);
      for (const ReadOptions& so : scans) {
        SCOPED_TRACE(absl::StrFormat(
            "prefix %s, bounds [%s, %s)", so.prefix.value_or("-"),
            so.lower_bound.value_or("-"), so.upper_bound.value_or("-")));
        Entries in_range;
        for (const std::string& e : want) {
          const std::string key = e.substr(0, e.find('='));
          if ((so.prefix && key.rfind(*so.prefix, 0) != 0) ||
              (so.lower_bound && key < *so.lower_bound) ||
              (so.upper_bound && key >= *so.upper_bound)) {
            continue;
          }
          in_range.push_back(e);
        }
        for (bool forward : {true, false}) {
          Entries got;
          auto it = db_->NewIterator(so);
          for (forward ? it->SeekToFirst() : it->SeekToLast(); it->Valid();
               forward ? it->Next() : it->Prev()) {
            got.push_back(Entry(*it));
          }
          EXPECT_TRUE(it->status().ok()) << it->status();
          EXPECT_EQ(got, forward ? in_range : Reversed(in_range));
        }
      }
    }
  }

 private:
  void ReleaseAll() {
    for (const Snapshot* s : snapshots_) db_->ReleaseSnapshot(s);
    snapshots_.clear();
  }

  std::mt19937_64 rng_;
  std::string dir_;
  std::shared_ptr<std::atomic<int64_t>> now_ =
      std::make_shared<std::atomic<int64_t>>(kStart);
  Options options_;
  std::unique_ptr<DB> db_;
  std::map<std::string, std::vector<Op>> ops_;  // oldest first
  std::vector<const Snapshot*> snapshots_;
};

TEST(DBTtlModel, RandomOperationsWithAMovingClockMatchAModel) {
  testing::RunModel<TtlModelRun>("CAIRN_STORAGE_TTL", 2000, 2000, 50);
}

}  // namespace
}  // namespace cairn::storage
