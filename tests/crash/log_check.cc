// VerifyLog (verifier.h): the server's log of the cycle (Tail events from
// prev_seq + 1 to S) against the ops, and its replay against the state.
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "verifier.h"

namespace cairn::crash {
namespace {

using client::ChangeEvent;
using client::ChangeOp;

std::string DescribeEvent(const ChangeEvent& e) {
  std::string v = e.value.size() > 40 ? e.value.substr(0, 40) + "..." : e.value;
  return absl::StrCat(
      e.seq, ":", client::ChangeOpName(e.op), " ", e.key,
      e.op == ChangeOp::kDelete ? "" : absl::StrCat("='", v, "'"));
}

bool EventMatches(const ChangeEvent& e, const Write& w) {
  if (e.key != w.key) return false;
  switch (w.type) {
    case Write::Type::kPut:
      return e.op == ChangeOp::kPut && e.value == w.value;
    case Write::Type::kDelete:
      return e.op == ChangeOp::kDelete;
    case Write::Type::kMerge:
      return e.op == ChangeOp::kMerge && e.merge_operator == "add" &&
             e.value == w.value;
  }
  return false;
}

// Applies one event to a state; false when a merge does not apply.
bool Apply(const ChangeEvent& e, KeyMap* state) {
  switch (e.op) {
    case ChangeOp::kPut:
      (*state)[e.key] = KeyState{true, e.value, e.seq};
      return true;
    case ChangeOp::kDelete:
      state->erase(e.key);
      return true;
    case ChangeOp::kDeleteRange:
      state->erase(state->lower_bound(e.key), state->lower_bound(e.range_end));
      return true;
    case ChangeOp::kMerge: {
      if (e.merge_operator != "add") return false;
      int64_t base = 0, operand = 0;
      auto it = state->find(e.key);
      if (it != state->end() && !absl::SimpleAtoi(it->second.value, &base)) {
        return false;
      }
      if (!absl::SimpleAtoi(e.value, &operand)) return false;
      (*state)[e.key] = KeyState{true, absl::StrCat(base + operand), e.seq};
      return true;
    }
  }
  return false;
}

constexpr size_t kMaxGapReports = 10;

}  // namespace

CheckReport VerifyLog(const CycleInput& in,
                      const std::vector<ChangeEvent>& events) {
  CheckReport r;
  auto fail = [&r](auto&&... parts) {
    r.failures.push_back(absl::StrCat(parts...));
  };
  r.log_events = events.size();

  // Contiguous sequences prev_seq + 1 .. S: no gap, no duplicate.
  uint64_t expected = in.prev_seq + 1;
  size_t gaps = 0;
  for (const ChangeEvent& e : events) {
    if (e.seq != expected && gaps++ < kMaxGapReports) {
      fail(e.seq > expected ? "gap" : "duplicate or reordered event",
           " in the log: expected sequence ", expected, ", got ",
           DescribeEvent(e));
    }
    expected = e.seq + 1;
  }
  if (expected != in.last_seq + 1) {
    fail("the log ends at sequence ", expected - 1,
         " but the recovered last sequence is ", in.last_seq);
  }

  // Each atomic group equals an acknowledged op at its sequence, or an op in
  // flight.
  std::map<uint64_t, size_t> acked_by_first;
  for (size_t i = 0; i < in.ops.size(); ++i) {
    const OpRecord& op = in.ops[i];
    if (op.outcome == Outcome::kAcked && !op.writes.empty() &&
        op.seq <= in.last_seq) {
      acked_by_first[op.FirstSeq()] = i;
    }
  }
  std::vector<bool> matched(in.ops.size());
  auto matches = [&](const OpRecord& op, size_t p, size_t n) {
    if (op.writes.size() != n) return false;
    for (size_t k = 0; k < n; ++k) {
      if (!EventMatches(events[p + k], op.writes[k])) return false;
    }
    return true;
  };
  size_t p = 0;
  while (p < events.size()) {
    const ChangeEvent& e = events[p];
    const uint64_t first = e.group_first_seq;
    const size_t n = e.group_size;
    if (e.seq != first || n == 0) {
      fail("event ", DescribeEvent(e), " does not start its group (first ",
           first, ", size ", n, ")");
      ++p;
      continue;
    }
    if (p + n > events.size()) {
      fail("atomicity: the group at ", first, " of ", n,
           " events is cut short by the end of the log");
      break;
    }
    bool well_formed = true;
    for (size_t k = 0; k < n; ++k) {
      const ChangeEvent& g = events[p + k];
      if (g.group_first_seq != first || g.group_size != n ||
          g.seq != first + k) {
        well_formed = false;
      }
    }
    if (!well_formed) {
      fail("atomicity: the group at ", first, " of ", n,
           " events is not contiguous in the log");
    }
    auto a = acked_by_first.find(first);
    if (a != acked_by_first.end()) {
      const OpRecord& op = in.ops[a->second];
      if (!matches(op, p, n)) {
        fail("the log's group at ", first, " (", DescribeEvent(e), ", ", n,
             " events) is not what acknowledged op ", Describe(op), " wrote");
      }
      matched[a->second] = true;
    } else {
      bool found = false;
      for (size_t i = 0; i < in.ops.size() && !found; ++i) {
        if (in.ops[i].outcome == Outcome::kMaybe && !matched[i] &&
            matches(in.ops[i], p, n)) {
          matched[i] = found = true;
          ++r.maybe_applied;
        }
      }
      if (!found) {
        fail("the log's group at ", first, " (", DescribeEvent(e), ", ", n,
             " events) matches no acknowledged or in-flight op");
      }
    }
    p += n;
  }
  for (size_t i = 0; i < in.ops.size(); ++i) {
    const OpRecord& op = in.ops[i];
    if (op.outcome != Outcome::kAcked || op.writes.empty()) continue;
    if (op.seq > in.last_seq) {
      if (!in.sync) ++r.lost_suffix_ops;  // VerifyState reports sync losses
      continue;
    }
    ++r.acked_ops;
    if (!matched[i]) {
      fail("acknowledged op ", Describe(op), " is not in the log");
    }
  }

  // Replaying the log onto the previous state gives the state read back.
  KeyMap state = in.baseline;
  for (const ChangeEvent& e : events) {
    if (!Apply(e, &state))
      fail("the log's ", DescribeEvent(e), " does not apply");
  }
  auto show = [](const KeyMap& m, const std::string& k) {
    auto it = m.find(k);
    return Describe(it == m.end() ? KeyState{} : it->second);
  };
  std::set<std::string> keys;
  for (const auto& [k, v] : state) keys.insert(k);
  for (const auto& [k, v] : in.observed) keys.insert(k);
  for (const std::string& k : keys) {
    ++r.keys_checked;
    auto s = state.find(k);
    auto o = in.observed.find(k);
    KeyState replayed = s == state.end() ? KeyState{} : s->second;
    KeyState observed = o == in.observed.end() ? KeyState{} : o->second;
    if (!(replayed == observed)) {
      fail("key ", k, ": replaying the log gives ", show(state, k),
           ", the server holds ", show(in.observed, k));
    }
  }
  return r;
}

}  // namespace cairn::crash
