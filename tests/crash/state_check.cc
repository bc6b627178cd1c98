// VerifyState (verifier.h): the keys read back against the ops of the cycle.
#include <algorithm>
#include <map>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "verifier.h"

namespace cairn::crash {
namespace {

// What the verifier knows about one op after looking at the outcome and the
// keys read back.
struct OpState {
  bool applied = false;  // committed, at sequences first ..
  bool maybe = false;    // in flight and not seen: applied or not
  bool refused = false;  // not applied (refused, or beyond S with async)
  bool lost_suffix = false;
  bool established = false;  // in flight, seen applied
  uint64_t first = 0;
};

struct WriteRef {
  size_t op;
  size_t index;
};

class StateChecker {
 public:
  explicit StateChecker(const CycleInput& in) : in_(in) {}

  CheckReport Run() {
    if (in_.last_seq < in_.prev_seq) {
      Fail("the recovered last sequence ", in_.last_seq,
           " is below the previous cycle's ", in_.prev_seq);
    }
    ClassifyOps();
    IdentifyProducers();
    CheckAppliedWrites();
    CheckCounters();
    CheckInvariants();
    return std::move(report_);
  }

 private:
  template <typename... Args>
  void Fail(const Args&... args) {
    report_.failures.push_back(absl::StrCat(args...));
  }

  KeyState Observed(const std::string& key) const {
    auto it = in_.observed.find(key);
    return it == in_.observed.end() ? KeyState{} : it->second;
  }
  KeyState Baseline(const std::string& key) const {
    auto it = in_.baseline.find(key);
    return it == in_.baseline.end() ? KeyState{} : it->second;
  }

  // Outcome -> OpState; acknowledged ops beyond S are lost (a failure with
  // sync, the allowed lost suffix with async).
  void ClassifyOps() {
    ops_.resize(in_.ops.size());
    for (size_t i = 0; i < in_.ops.size(); ++i) {
      const OpRecord& op = in_.ops[i];
      OpState& st = ops_[i];
      if (!op.token.empty() && !by_token_.emplace(op.token, i).second) {
        Fail("model: token ", op.token, " used by two ops");
      }
      for (size_t j = 0; j < op.writes.size(); ++j) {
        by_key_[op.writes[j].key].push_back({i, j});
      }
      switch (op.outcome) {
        case Outcome::kAcked:
          ++report_.acked_ops;
          if (op.writes.empty()) break;
          if (op.FirstSeq() <= in_.prev_seq) {
            Fail("acknowledged op ", Describe(op),
                 " has a sequence not after the previous cycle's last "
                 "sequence ",
                 in_.prev_seq);
          }
          if (op.seq > in_.last_seq) {
            st.refused = st.lost_suffix = true;
            if (op.FirstSeq() <= in_.last_seq) {
              Fail("atomicity: acknowledged op ", Describe(op),
                   " is cut by the recovered last sequence ", in_.last_seq);
            } else if (in_.sync) {
              Fail("lost acknowledged sync write: op ", Describe(op),
                   " lies beyond the recovered last sequence ", in_.last_seq);
            } else {
              ++report_.lost_suffix_ops;
            }
          } else {
            st.applied = true;
            st.first = op.FirstSeq();
          }
          break;
        case Outcome::kMaybe:
          ++report_.maybe_ops;
          st.maybe = true;
          break;
        case Outcome::kNotApplied:
          st.refused = true;
          break;
      }
    }
  }

  // For every key read back: which op's write produced it. An in-flight op
  // whose value is seen is applied, at the sequences its revision implies.
  void IdentifyProducers() {
    for (const auto& [key, st] : in_.observed) {
      ++report_.keys_checked;
      if (!in_.universe.contains(key)) {
        Fail("unknown key '", key, "' = ", Describe(st));
        continue;
      }
      if (!st.found) continue;
      if (st.revision > in_.last_seq) {
        Fail("key ", key, " = ", Describe(st),
             ": revision beyond the recovered last sequence ", in_.last_seq);
        continue;
      }
      if (st.revision <= in_.prev_seq) {
        // Older than this cycle: must be exactly the verified state.
        KeyState base = Baseline(key);
        if (!(base == st)) {
          Fail("key ", key, " = ", Describe(st),
               ": neither written this cycle nor the previous verified "
               "state ",
               Describe(base));
        }
        continue;
      }
      if (in_.invariants.counters.contains(key)) continue;  // CheckCounters
      auto t = by_token_.find(std::string(TokenOf(st.value)));
      if (t == by_token_.end()) {
        Fail("key ", key, " = ", Describe(st),
             ": a value no op of this cycle wrote");
        continue;
      }
      const OpRecord& op = in_.ops[t->second];
      OpState& os = ops_[t->second];
      size_t j = 0;
      while (j < op.writes.size() &&
             !(op.writes[j].type == Write::Type::kPut &&
               op.writes[j].key == key && op.writes[j].value == st.value)) {
        ++j;
      }
      if (j == op.writes.size()) {
        Fail("key ", key, " = ", Describe(st), ": op ", Describe(op),
             " never wrote that value to this key");
        continue;
      }
      if (os.refused) {
        Fail("key ", key, " = ", Describe(st), ": the value of op ",
             Describe(op),
             os.lost_suffix ? ", acknowledged beyond the recovered sequence"
                            : ", which the server refused");
        continue;
      }
      if (os.applied && !os.established) {
        if (os.first + j != st.revision) {
          Fail("key ", key, " = ", Describe(st), ": written by ", Describe(op),
               " at sequence ", os.first + j, ", not at the revision read");
        }
        continue;
      }
      // In flight, seen applied: its sequences follow from the revision.
      uint64_t first = st.revision - j;
      if (os.established) {
        if (os.first != first) {
          Fail("key ", key, " = ", Describe(st), ": in-flight op ",
               Describe(op), " seen at two different sequences (first ",
               os.first, " and ", first, ")");
        }
        continue;
      }
      if (first <= in_.prev_seq ||
          first + op.writes.size() - 1 > in_.last_seq) {
        Fail("key ", key, " = ", Describe(st), ": in-flight op ", Describe(op),
             " would occupy sequences ", first, "..",
             first + op.writes.size() - 1, ", outside (", in_.prev_seq, ", ",
             in_.last_seq, "]");
      }
      os.established = os.applied = true;
      os.maybe = false;
      os.first = first;
      ++report_.maybe_applied;
    }
  }

  // Every write known to be applied (acknowledged up to S, or of an
  // in-flight op seen applied) must be visible or overwritten by a newer
  // one: no lost write, no torn batch or transaction.
  void CheckAppliedWrites() {
    for (size_t i = 0; i < ops_.size(); ++i) {
      if (!ops_[i].applied) continue;
      const OpRecord& op = in_.ops[i];
      for (size_t j = 0; j < op.writes.size(); ++j) {
        const Write& w = op.writes[j];
        const uint64_t s = ops_[i].first + j;
        ++report_.acked_writes_checked;
        KeyState obs = Observed(w.key);
        if (obs.found) {
          if (obs.revision < s) {
            Fail(ops_[i].established ? "torn op: " : "lost write: ", "key ",
                 w.key, " = ", Describe(obs), " is older than the write at ", s,
                 " of ", Describe(op));
          } else if (obs.revision == s && w.type == Write::Type::kDelete) {
            Fail("key ", w.key, " = ", Describe(obs),
                 " is present at the revision of the delete of ", Describe(op));
          } else if (obs.revision == s && w.type == Write::Type::kPut &&
                     obs.value != w.value) {
            Fail("key ", w.key, " = ", Describe(obs),
                 ": not the value written at that sequence by ", Describe(op));
          }
        } else if (w.type != Write::Type::kDelete && !DeletedAfter(w.key, s)) {
          Fail(ops_[i].established ? "torn op: " : "lost write: ", "key ",
               w.key, " is absent but ", Describe(op), " wrote it at sequence ",
               s, " and nothing deleted it later");
        }
      }
    }
  }

  // Whether a delete of `key` after sequence s may have been applied.
  bool DeletedAfter(const std::string& key, uint64_t s) const {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return false;
    for (const WriteRef& ref : it->second) {
      if (in_.ops[ref.op].writes[ref.index].type != Write::Type::kDelete) {
        continue;
      }
      const OpState& os = ops_[ref.op];
      if (os.maybe || (os.applied && os.first + ref.index > s)) return true;
    }
    return false;
  }

  void CheckCounters() {
    for (const std::string& key : in_.invariants.counters) {
      KeyState base = Baseline(key);
      int64_t required = 0;
      if (base.found && !absl::SimpleAtoi(base.value, &required)) {
        Fail("counter ", key, ": previous value ", Describe(base),
             " is not a number");
        continue;
      }
      std::vector<int64_t> optional;
      std::vector<uint64_t> applied_seqs;
      auto it = by_key_.find(key);
      if (it != by_key_.end()) {
        for (const WriteRef& ref : it->second) {
          const Write& w = in_.ops[ref.op].writes[ref.index];
          int64_t operand = 0;
          if (w.type != Write::Type::kMerge ||
              !absl::SimpleAtoi(w.value, &operand)) {
            Fail("model: counter ", key,
                 " written by something else than "
                 "an add merge");
            continue;
          }
          const OpState& os = ops_[ref.op];
          if (os.applied) {
            required += operand;
            applied_seqs.push_back(os.first + ref.index);
          } else if (os.maybe) {
            optional.push_back(operand);
          }
        }
      }
      KeyState obs = Observed(key);
      int64_t value = 0;
      if (obs.found && !absl::SimpleAtoi(obs.value, &value)) {
        Fail("counter ", key, " = ", Describe(obs), ": not a number");
        continue;
      }
      if (optional.size() > kMaxInFlightOperands) {
        ++report_.counters_unchecked;
      } else if (!SubsetSums(optional, value - required)) {
        Fail("counter ", key, " = ", value, ": expected ", required,
             " (previous value and applied operands) plus a subset of the "
             "in-flight operands {",
             absl::StrJoin(optional, ","), "}");
      }
      if (obs.found && obs.revision > in_.prev_seq) {
        uint64_t newest = 0;
        for (uint64_t s : applied_seqs) newest = std::max(newest, s);
        bool at_applied = std::find(applied_seqs.begin(), applied_seqs.end(),
                                    obs.revision) != applied_seqs.end();
        bool after = !optional.empty() && obs.revision > newest;
        if (!at_applied && !after) {
          Fail("counter ", key, " = ", Describe(obs),
               ": revision is no applied merge of it (newest ", newest, ")");
        }
      }
    }
  }

  // Whether some subset of `operands` adds up to `target`. The set of sums
  // stays within the range the operands span (small numbers), so this is
  // cheap for the few hundred operands it is given at most.
  static constexpr size_t kMaxInFlightOperands = 256;
  static bool SubsetSums(const std::vector<int64_t>& operands, int64_t target) {
    std::unordered_set<int64_t> sums = {0};
    for (int64_t x : operands) {
      std::vector<int64_t> more;
      for (int64_t s : sums) more.push_back(s + x);
      sums.insert(more.begin(), more.end());
    }
    return sums.contains(target);
  }

  void CheckInvariants() {
    for (const std::vector<std::string>& group :
         in_.invariants.uniform_groups) {
      std::vector<std::string> shown;
      bool uniform = true;
      KeyState first = Observed(group.front());
      for (const std::string& k : group) {
        KeyState s = Observed(k);
        shown.push_back(absl::StrCat(k, "=", Describe(s)));
        if (s.found != first.found || s.value != first.value) uniform = false;
      }
      if (!uniform) {
        Fail("atomicity: group torn: ", absl::StrJoin(shown, ", "));
      }
    }
    if (!in_.invariants.accounts_initialized) return;
    int64_t total = 0;
    std::vector<std::string> shown;
    bool complete = true;
    for (const std::string& k : in_.invariants.accounts) {
      KeyState s = Observed(k);
      int64_t balance = 0;
      if (!s.found || !ParseBalance(s.value, &balance)) complete = false;
      total += balance;
      shown.push_back(absl::StrCat(k, "=", balance));
    }
    if (!complete || total != in_.invariants.account_total) {
      Fail("atomicity: accounts hold ", total, " (",
           complete ? "" : "some missing or malformed; ",
           absl::StrJoin(shown, ", "), "), expected ",
           in_.invariants.account_total);
    }
  }

  const CycleInput& in_;
  CheckReport report_;
  std::vector<OpState> ops_;
  std::map<std::string, size_t> by_token_;
  std::map<std::string, std::vector<WriteRef>> by_key_;
};

}  // namespace

bool ParseBalance(const std::string& value, int64_t* balance) {
  size_t a = value.find('|');
  if (a == std::string::npos) return false;
  size_t b = value.find('|', a + 1);
  if (b == std::string::npos) return false;
  return absl::SimpleAtoi(value.substr(a + 1, b - a - 1), balance);
}

CheckReport VerifyState(const CycleInput& in) { return StateChecker(in).Run(); }

}  // namespace cairn::crash
