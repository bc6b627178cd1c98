// Randomized model test: the DB against an in-memory model, through puts,
// expiring puts (PutWithTtl, PutWithExpiry) under an injected clock that
// advances during the run, merges (add, max, min, append), deletes, range
// deletes, batches with and without conditions, snapshots, iterators in both
// directions, flushes, compactions, and close/reopen. Every check prints the
// seed on failure.
//
// The model keeps, per key, the history a reader needs: the newest Put (its
// value, sequence and expiry) and the merge operands above it, oldest first.
// It folds them itself at the clock's current time (an expired Put is a
// Delete at its sequence, snapshots do not freeze time), so values, fold
// failures (FailedPrecondition), GetResult::seq / expires_at_micros and the
// outcome of each condition (including which one fails first) are all
// predicted without calling engine code.
//
// Keys are of two kinds so that most folds succeed: counter keys (every
// third key number) hold decimal integers and get add, max, min and now and
// then an appended digit (which may make a value such as "03" that later
// numeric operands cannot apply to); the other keys hold text and get append
// with a delimiter, and now and then an add (which fails on most text). Keys
// whose fold may fail are repaired by later Puts.
//
// Environment: CAIRN_STORAGE_MODEL_OPS (operations per seed, default 3000),
// CAIRN_STORAGE_MODEL_SEEDS (how many seeds, default 3),
// CAIRN_STORAGE_MODEL_SEED (run just this seed).
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

// One merge operand as written.
struct Operand {
  std::string op, argument, operand;
  uint64_t seq = 0;
};

// What the model knows of a key: the newest Put under its operands (if it
// has not been deleted since) and the operands written after it.
struct KeyState {
  bool has_base = false;
  std::string base;
  uint64_t base_seq = 0;
  uint64_t expires = 0;           // of the base; 0: never
  std::vector<Operand> operands;  // oldest first
};

using Model = std::map<std::string, KeyState>;

// What a reader should see for a key.
struct Visible {
  enum Kind { kAbsent, kValue, kFoldError } kind = kAbsent;
  std::string value;
  uint64_t seq = 0;
  uint64_t expires = 0;
};

using View = std::map<std::string, Visible>;  // keys that are not absent

constexpr int64_t kStartMicros = 1'700'000'000'000'000;  // Nov 2023

// Canonical decimal int64 text: "-?(0|[1-9][0-9]*)", not "-0", in range.
std::optional<int64_t> ParseInt(const std::string& s) {
  const size_t digits = !s.empty() && s[0] == '-' ? 1 : 0;
  if (digits == s.size()) return std::nullopt;
  for (size_t i = digits; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  if (s[digits] == '0' && (s.size() != digits + 1 || digits == 1)) {
    return std::nullopt;
  }
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Applies one operand to *value (nullopt: absent); false if it cannot apply.
bool ApplyOperand(const Operand& o, std::optional<std::string>* value) {
  if (o.op == "append") {
    *value = value->has_value() ? **value + o.argument + o.operand : o.operand;
    return true;
  }
  const std::optional<int64_t> operand = ParseInt(o.operand);
  if (!operand) return false;  // the test writes valid operands only
  if (!value->has_value()) {
    *value = o.operand;
    return true;
  }
  const std::optional<int64_t> current = ParseInt(**value);
  if (!current) return false;
  int64_t r;
  if (o.op == "add") {
    r = static_cast<int64_t>(static_cast<uint64_t>(*current) +
                             static_cast<uint64_t>(*operand));
  } else if (o.op == "max") {
    r = std::max(*current, *operand);
  } else {
    r = std::min(*current, *operand);
  }
  *value = std::to_string(r);
  return true;
}

Visible Resolve(const KeyState& s, int64_t now) {
  Visible v;
  const bool live =
      s.has_base && (s.expires == 0 || s.expires > static_cast<uint64_t>(now));
  std::optional<std::string> value;
  if (live) {
    value = s.base;
    v.seq = s.base_seq;
    v.expires = s.expires;
  }
  for (const Operand& o : s.operands) {
    if (!ApplyOperand(o, &value)) {
      v.kind = Visible::kFoldError;
      return v;
    }
    v.seq = o.seq;
  }
  if (!value) return Visible();
  v.kind = Visible::kValue;
  v.value = std::move(*value);
  return v;
}

Visible ResolveKey(const Model& m, const std::string& key, int64_t now) {
  auto it = m.find(key);
  return it == m.end() ? Visible() : Resolve(it->second, now);
}

// One write of a batch, as the model applies it.
struct ModelOp {
  enum Kind { kPut, kDelete, kDeleteRange, kMerge } kind = kPut;
  std::string key;
  std::string value;  // Put: value; DeleteRange: end
  uint64_t expires = 0;
  Operand merge;
};

ModelOp MakeOp(ModelOp::Kind kind, std::string key, std::string value = {},
               uint64_t expires = 0) {
  ModelOp op;
  op.kind = kind;
  op.key = std::move(key);
  op.value = std::move(value);
  op.expires = expires;
  return op;
}

void Apply(Model* m, const ModelOp& op, uint64_t seq) {
  switch (op.kind) {
    case ModelOp::kPut: {
      KeyState& s = (*m)[op.key];
      s = KeyState();
      s.has_base = true;
      s.base = op.value;
      s.base_seq = seq;
      s.expires = op.expires;
      break;
    }
    case ModelOp::kDelete:
      m->erase(op.key);
      break;
    case ModelOp::kDeleteRange:
      m->erase(m->lower_bound(op.key), m->lower_bound(op.value));
      break;
    case ModelOp::kMerge: {
      Operand o = op.merge;
      o.seq = seq;
      (*m)[op.key].operands.push_back(std::move(o));
      break;
    }
  }
}

void ExpectRead(const absl::StatusOr<GetResult>& g, const Visible& v) {
  switch (v.kind) {
    case Visible::kAbsent:
      ASSERT_TRUE(absl::IsNotFound(g.status())) << g.status();
      break;
    case Visible::kFoldError:
      ASSERT_TRUE(absl::IsFailedPrecondition(g.status())) << g.status();
      break;
    case Visible::kValue:
      ASSERT_TRUE(g.ok()) << g.status();
      ASSERT_EQ(g->value, v.value);
      ASSERT_EQ(g->seq, v.seq);
      ASSERT_EQ(g->expires_at_micros, v.expires);
      break;
  }
}

class ModelRun {
 public:
  ModelRun(uint64_t seed, const std::string& dir)
      : rng_(seed),
        dir_(dir),
        now_(std::make_shared<std::atomic<int64_t>>(kStartMicros)) {
    options_ = testing::SmallOptions();
    options_.write_buffer_size = 64 << 10;
    options_.clock = [now = now_] { return absl::FromUnixMicros(now->load()); };
    Reopen();
  }
  ~ModelRun() { ReleaseAll(); }

  static std::string KeyAt(int i) { return absl::StrFormat("k%04d", i); }
  std::string Key() { return KeyAt(static_cast<int>(rng_() % 400)); }
  // Merges and conditions go mostly to 16 keys spread over the key space, so
  // that operand stacks grow deep and span memtables and files.
  std::string HotKey() {
    return rng_() % 3 ? KeyAt(static_cast<int>(rng_() % 16) * 25) : Key();
  }
  static bool IsCounter(const std::string& key) {
    return std::atoi(key.c_str() + 1) % 3 == 0;
  }
  int64_t Int(int64_t lo, int64_t hi) {
    return lo +
           static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1));
  }
  std::string Text(size_t max_len) {
    std::string v(rng_() % (max_len + 1), 'a');
    for (char& c : v) c = static_cast<char>('a' + rng_() % 26);
    return v;
  }
  std::string Value(const std::string& key) {
    return IsCounter(key) ? std::to_string(Int(-1000, 1000)) : Text(199);
  }
  int64_t Now() const { return now_->load(); }

  void Reopen() {
    ReleaseAll();
    db_.reset();
    auto db = DB::Open(options_, dir_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }

  void ReleaseAll() {
    for (auto& [snap, model] : snapshots_) db_->ReleaseSnapshot(snap);
    snapshots_.clear();
  }

  void Step() {
    const int op = rng_() % 100;
    if (op < 29) {
      DoPut();
    } else if (op < 37) {
      std::string k = Key();
      auto seq = db_->Delete({}, k);
      ASSERT_TRUE(seq.ok()) << seq.status();
      Apply(&model_, MakeOp(ModelOp::kDelete, k), *seq);
    } else if (op < 39) {
      // Most of them short, the others anywhere.
      const int first = static_cast<int>(rng_() % 400);
      std::string a = KeyAt(first), b = Key();
      if (rng_() % 8) b = KeyAt(first + 1 + static_cast<int>(rng_() % 30));
      if (a == b) return;
      if (b < a) std::swap(a, b);
      auto seq = db_->DeleteRange({}, a, b);
      ASSERT_TRUE(seq.ok()) << seq.status();
      Apply(&model_, MakeOp(ModelOp::kDeleteRange, a, b), *seq);
    } else if (op < 51) {
      ModelOp m = RandomMerge(HotKey());
      auto seq =
          db_->Merge({}, m.key, m.merge.op, m.merge.operand, m.merge.argument);
      ASSERT_TRUE(seq.ok()) << seq.status();
      Apply(&model_, m, *seq);
    } else if (op < 59) {
      DoBatch(/*with_ops=*/true);
    } else if (op < 61) {
      DoBatch(/*with_ops=*/false);
    } else if (op < 64) {
      snapshots_.emplace_back(db_->GetSnapshot(), model_);
    } else if (op < 66 && !snapshots_.empty()) {
      size_t i = rng_() % snapshots_.size();
      db_->ReleaseSnapshot(snapshots_[i].first);
      snapshots_.erase(snapshots_.begin() + i);
    } else if (op < 80) {
      CheckGets();
    } else if (op < 89) {
      CheckIterator();
    } else if (op < 93) {
      ASSERT_TRUE(db_->Flush().ok());
    } else if (op < 95) {
      std::string a = Key(), b = Key();
      if (b < a) std::swap(a, b);
      ASSERT_TRUE(db_->CompactRange(&a, &b).ok());
    } else if (op < 96) {
      Reopen();
    } else if (op < 99) {
      AdvanceClock();
    } else {
      DoInvalidWrite();
    }
  }

  // Put, or PutWithTtl; now and then repairs a key whose fold may fail.
  void DoPut() {
    std::string k = Key();
    if (!repair_.empty() && rng_() % 8 == 0) {
      k = *repair_.begin();
      repair_.erase(repair_.begin());
    }
    const std::string v = Value(k);
    ModelOp m = MakeOp(ModelOp::kPut, k, v);
    absl::StatusOr<uint64_t> seq;
    if (rng_() % 5 == 0) {
      const int64_t ttl_ms = Int(1, 400);
      seq = db_->PutWithTtl({}, k, v, absl::Milliseconds(ttl_ms));
      m.expires = static_cast<uint64_t>(Now() + ttl_ms * 1000);
    } else {
      seq = db_->Put({}, k, v);
    }
    ASSERT_TRUE(seq.ok()) << seq.status();
    Apply(&model_, m, *seq);
  }

  ModelOp RandomMerge(const std::string& k) {
    ModelOp m = MakeOp(ModelOp::kMerge, k);
    Operand& o = m.merge;
    const int r = static_cast<int>(rng_() % 20);
    if (IsCounter(k)) {
      if (r < 8) {
        o.op = "add";
        o.operand = std::to_string(Int(-50, 50));
      } else if (r < 18) {
        o.op = r < 13 ? "max" : "min";
        o.operand = std::to_string(Int(-1000, 1000));
      } else {
        // A digit appended to a number: "5" -> "53", but "0" -> "03".
        o.op = "append";
        o.operand = std::to_string(Int(0, 9));
        repair_.insert(k);
      }
    } else if (r == 0) {
      // Fails on text; works over absence or a number.
      o.op = "add";
      o.operand = std::to_string(Int(-5, 5));
      repair_.insert(k);
    } else {
      static const char* const kDelimiters[] = {"", ",", "::"};
      o.op = "append";
      o.argument = kDelimiters[rng_() % 3];
      o.operand = Text(6);
    }
    return m;
  }

  // Expiry for PutWithExpiry: mostly ahead, sometimes now or just past (then
  // the Put is expired on arrival).
  uint64_t RandomExpiry() {
    if (rng_() % 6 == 0) return static_cast<uint64_t>(Now() - Int(0, 2));
    return static_cast<uint64_t>(Now() + Int(1, 400) * 1000);
  }

  // A random condition on a key, true with probability 4/5 (as far as the
  // kind allows: RequireValue of an absent key is false). None on a key whose
  // fold fails: what a condition makes of that is not specified.
  void AddCondition(WriteBatch* batch) {
    const std::string k = rng_() % 2 ? HotKey() : Key();
    const Visible v = ResolveKey(model_, k, Now());
    if (v.kind == Visible::kFoldError) return;
    const bool present = v.kind == Visible::kValue;
    const bool want = rng_() % 5 != 0;
    switch (rng_() % 3) {
      case 0:
        if (want == present) {
          batch->RequireExists(k);
        } else {
          batch->RequireAbsent(k);
        }
        break;
      case 1:
        if (want) {
          batch->RequireSequence(k, v.seq);  // 0 when absent
        } else if (present && rng_() % 2) {
          batch->RequireSequence(k, rng_() % 2 ? 0 : v.seq - 1);
        } else {
          batch->RequireSequence(k, v.seq + 1 + rng_() % 3);
        }
        break;
      default:
        if (want && present) {
          batch->RequireValue(k, v.value);
        } else if (present) {
          batch->RequireValue(k, v.value + "x");
        } else {
          batch->RequireValue(k, Value(k));
        }
        break;
    }
  }

  // The index of the first condition the model says fails.
  std::optional<int> FirstFailing(const std::vector<Condition>& conditions) {
    for (size_t i = 0; i < conditions.size(); ++i) {
      const Condition& c = conditions[i];
      const Visible v = ResolveKey(model_, c.key, Now());
      const bool present = v.kind == Visible::kValue;
      bool ok = false;
      switch (c.kind) {
        case Condition::Kind::kExists:
          ok = present;
          break;
        case Condition::Kind::kAbsent:
          ok = !present;
          break;
        case Condition::Kind::kSequenceEquals:
          ok = c.sequence == (present ? v.seq : 0);
          break;
        case Condition::Kind::kValueEquals:
          ok = present && v.value == c.value;
          break;
      }
      if (!ok) return static_cast<int>(i);
    }
    return std::nullopt;
  }

  // A batch of writes (with_ops) and/or conditions (always, without ops).
  void DoBatch(bool with_ops) {
    WriteBatch batch;
    std::vector<ModelOp> ops;
    const int n = with_ops ? 1 + static_cast<int>(rng_() % 8) : 0;
    for (int i = 0; i < n; ++i) {
      const int r = static_cast<int>(rng_() % 20);
      std::string k = r < 11 ? Key() : HotKey();
      if (r < 6) {
        ops.push_back(MakeOp(ModelOp::kPut, k, Value(k)));
        batch.Put(k, ops.back().value);
      } else if (r < 8) {
        ops.push_back(MakeOp(ModelOp::kPut, k, Value(k), RandomExpiry()));
        batch.PutWithExpiry(k, ops.back().value, ops.back().expires);
      } else if (r < 10) {
        ops.push_back(MakeOp(ModelOp::kDelete, k));
        batch.Delete(k);
      } else if (r < 11) {
        std::string end = Key();
        if (end == k) continue;
        if (end < k) std::swap(k, end);
        ops.push_back(MakeOp(ModelOp::kDeleteRange, k, end));
        batch.DeleteRange(k, end);
      } else {
        ops.push_back(RandomMerge(k));
        const Operand& o = ops.back().merge;
        batch.Merge(k, o.op, o.operand, o.argument);
      }
    }
    if (!with_ops || rng_() % 2) {
      const int conditions = 1 + static_cast<int>(rng_() % 3);
      for (int i = 0; i < conditions; ++i) AddCondition(&batch);
    }
    ASSERT_EQ(batch.Count(), ops.size());
    const std::optional<int> failing = FirstFailing(batch.conditions());
    const uint64_t last = db_->LastSequence();
    auto seq = db_->Write({}, batch);
    if (failing) {
      ASSERT_TRUE(absl::IsFailedPrecondition(seq.status())) << seq.status();
      ASSERT_EQ(FailedConditionIndex(seq.status()), failing) << seq.status();
      ASSERT_EQ(db_->LastSequence(), last);
      // Nothing written: the batch's keys read as before.
      for (const ModelOp& op : ops) {
        ASSERT_NO_FATAL_FAILURE(
            ExpectRead(db_->Get({}, op.key), ResolveKey(model_, op.key, Now())))
            << op.key;
      }
      return;
    }
    ASSERT_TRUE(seq.ok()) << seq.status();
    ASSERT_EQ(*seq, last + ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      Apply(&model_, ops[i], last + 1 + i);
    }
  }

  void AdvanceClock() {
    const int r = static_cast<int>(rng_() % 8);
    int64_t to = Now() + Int(0, 60) * 1000;
    if (r == 0) {
      to = Now() + 2'000'000;  // everything written so far expires
    } else if (r < 3) {
      // Onto a pending expiry or just before it: expires_at <= now expires.
      std::vector<int64_t> pending;
      for (const auto& [k, s] : model_) {
        if (s.has_base && static_cast<int64_t>(s.expires) > Now()) {
          pending.push_back(static_cast<int64_t>(s.expires));
        }
      }
      if (!pending.empty()) {
        to = pending[rng_() % pending.size()] - Int(0, 1);
      }
    }
    now_->store(to);
  }

  // Writes the engine must refuse with InvalidArgument, writing nothing.
  void DoInvalidWrite() {
    const std::string k = Key();
    const uint64_t last = db_->LastSequence();
    absl::StatusOr<uint64_t> seq;
    WriteBatch batch;
    switch (rng_() % 8) {
      case 0:
        seq = db_->Merge({}, k, "add", "01");
        break;
      case 1:
        seq = db_->Merge({}, k, rng_() % 2 ? "max" : "min", "abc");
        break;
      case 2:
        seq = db_->Merge({}, k, "add", rng_() % 2 ? "-0" : "+3");
        break;
      case 3:
        seq = db_->Merge({}, k, "add", "5", ",");
        break;
      case 4:
        seq = db_->Merge({}, k, "no-such-operator", "1");
        break;
      case 5:
        seq = db_->PutWithTtl(
            {}, k, Value(k),
            rng_() % 2 ? absl::ZeroDuration() : absl::Milliseconds(-5));
        break;
      case 6:
        batch.Put(k, Value(k));
        batch.PutWithExpiry(k, Value(k), 0);
        seq = db_->Write({}, batch);
        break;
      default:
        batch.Put(k, Value(k));
        batch.Merge(HotKey(), "append", "x", ",");
        batch.Merge(k, "max", "");
        seq = db_->Write({}, batch);
        break;
    }
    ASSERT_TRUE(absl::IsInvalidArgument(seq.status())) << seq.status();
    ASSERT_EQ(db_->LastSequence(), last);
    ASSERT_NO_FATAL_FAILURE(
        ExpectRead(db_->Get({}, k), ResolveKey(model_, k, Now())));
  }

  // A read point: the latest state or, half the time, a snapshot.
  const Model* PickReadPoint(ReadOptions* ro) {
    if (!snapshots_.empty() && rng_() % 2) {
      auto& s = snapshots_[rng_() % snapshots_.size()];
      ro->snapshot = s.first;
      return &s.second;
    }
    return &model_;
  }

  void CheckGets() {
    ReadOptions ro;
    const Model* m = PickReadPoint(&ro);
    std::vector<std::string> keys;
    for (int i = 0; i < 5; ++i) keys.push_back(i % 2 ? HotKey() : Key());
    if (rng_() % 4 == 0) {
      std::vector<std::string_view> views(keys.begin(), keys.end());
      auto results = db_->MultiGet(ro, views);
      ASSERT_EQ(results.size(), keys.size());
      for (size_t i = 0; i < keys.size(); ++i) {
        ASSERT_NO_FATAL_FAILURE(
            ExpectRead(results[i], ResolveKey(*m, keys[i], Now())))
            << "MultiGet " << keys[i];
      }
      return;
    }
    for (const std::string& k : keys) {
      ASSERT_NO_FATAL_FAILURE(
          ExpectRead(db_->Get(ro, k), ResolveKey(*m, k, Now())))
          << k;
    }
  }

  // Checks the iterator's position against pos (view.end(): not valid).
  // *stopped: the iterator ended, or stopped on a fold error.
  static void ExpectAt(const Iterator& it, const View& view,
                       View::const_iterator pos, bool* stopped) {
    *stopped = true;
    if (pos == view.end()) {
      ASSERT_FALSE(it.Valid()) << "extra key " << it.key();
      ASSERT_TRUE(it.status().ok()) << it.status();
      return;
    }
    if (pos->second.kind == Visible::kFoldError) {
      ASSERT_FALSE(it.Valid())
          << "expected a fold error at " << pos->first << ", at " << it.key();
      ASSERT_TRUE(absl::IsFailedPrecondition(it.status()))
          << pos->first << " " << it.status();
      return;
    }
    ASSERT_TRUE(it.Valid()) << "expected " << pos->first << " " << it.status();
    ASSERT_EQ(it.key(), pos->first);
    ASSERT_EQ(it.value(), pos->second.value) << pos->first;
    ASSERT_EQ(it.seq(), pos->second.seq) << pos->first;
    ASSERT_EQ(it.expires_at_micros(), pos->second.expires) << pos->first;
    *stopped = false;
  }

  void CheckIterator() {
    ReadOptions ro;
    const Model* m = PickReadPoint(&ro);
    std::string lo, hi;
    const bool bounded = rng_() % 3 == 0;
    if (bounded) {
      lo = Key();
      hi = Key();
      if (hi < lo) std::swap(lo, hi);
      ro.lower_bound = lo;
      ro.upper_bound = hi;
    }
    View view;
    for (const auto& [k, s] : *m) {
      if (bounded && (k < lo || k >= hi)) continue;
      Visible v = Resolve(s, Now());
      if (v.kind != Visible::kAbsent) view.emplace(k, std::move(v));
    }
    auto it = db_->NewIterator(ro);
    bool stopped = false;
    if (rng_() % 2) {
      auto pos = view.begin();
      for (it->SeekToFirst();; it->Next(), ++pos) {
        ASSERT_NO_FATAL_FAILURE(ExpectAt(*it, view, pos, &stopped));
        if (stopped) break;
      }
    } else {
      auto pos = view.empty() ? view.end() : std::prev(view.end());
      for (it->SeekToLast();;) {
        ASSERT_NO_FATAL_FAILURE(ExpectAt(*it, view, pos, &stopped));
        if (stopped) break;
        it->Prev();
        pos = pos == view.begin() ? view.end() : std::prev(pos);
      }
    }
    // Random seeks with a few steps either way. After a fold error the
    // iterator's state is not specified: take a new one.
    for (int i = 0; i < 4; ++i) {
      if (!it->status().ok()) it = db_->NewIterator(ro);
      const std::string target = Key();
      View::const_iterator pos;
      if (rng_() % 2) {
        it->Seek(target);
        pos = view.lower_bound(target);
      } else {
        it->SeekForPrev(target);
        pos = view.upper_bound(target);
        pos = pos == view.begin() ? view.end() : std::prev(pos);
      }
      for (int step = 0; step < 6; ++step) {
        ASSERT_NO_FATAL_FAILURE(ExpectAt(*it, view, pos, &stopped));
        if (stopped) break;
        if (rng_() % 2) {
          it->Next();
          ++pos;
        } else {
          it->Prev();
          pos = pos == view.begin() ? view.end() : std::prev(pos);
        }
      }
    }
  }

 private:
  std::mt19937_64 rng_;
  std::string dir_;
  std::shared_ptr<std::atomic<int64_t>> now_;  // the DB's clock, micros
  Options options_;
  std::unique_ptr<DB> db_;
  Model model_;
  std::vector<std::pair<const Snapshot*, Model>> snapshots_;
  std::set<std::string> repair_;  // keys whose fold may fail
};

TEST(DBModel, RandomOperationsMatchStdMap) {
  const testing::ModelSettings m =
      testing::ModelSettingsFromEnv("CAIRN_STORAGE_MODEL", 3000, 0);
  for (uint64_t seed : m.seeds) {
    SCOPED_TRACE(absl::StrFormat("CAIRN_STORAGE_MODEL_SEED=%d", seed));
    testing::TempDir dir;
    ModelRun run(seed, dir.path());
    for (uint64_t i = 0; i < m.ops; ++i) {
      SCOPED_TRACE(absl::StrFormat("operation %d", i));
      run.Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace cairn::storage
