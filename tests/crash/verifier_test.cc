// Unit tests of the crash torture's verifier: hand-made histories with a
// lost acknowledged write, a gap, a torn batch, a stale or unknown value, a
// wrong counter or account total must be reported; clean ones must not.
#include "verifier.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn::crash {
namespace {

using client::ChangeEvent;
using client::ChangeOp;
using ::testing::HasSubstr;

class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() {
    in_.prev_seq = 10;
    in_.last_seq = 10;
    in_.sync = true;
    in_.ops.reserve(64);  // Add() returns references that must stay valid
    for (const char* k :
         {"r/1", "r/2", "r/3", "c/1", "g/0", "g/1", "a/0", "a/1"}) {
      in_.universe.insert(k);
    }
    in_.invariants.counters = {"c/1"};
    in_.invariants.uniform_groups = {{"g/0", "g/1"}};
  }

  static std::string V(const std::string& token) { return token + "||pad"; }

  OpRecord& Add(std::string kind, std::string token, Outcome outcome,
                uint64_t seq, std::vector<Write> writes) {
    OpRecord& op = in_.ops.emplace_back();
    op.id = in_.ops.size();
    op.kind = std::move(kind);
    op.token = std::move(token);
    op.outcome = outcome;
    op.seq = seq;
    op.writes = std::move(writes);
    return op;
  }
  OpRecord& Put(const std::string& key, const std::string& token,
                Outcome outcome, uint64_t seq = 0) {
    return Add("put", token, outcome, seq,
               {{Write::Type::kPut, key, V(token)}});
  }
  void Observe(const std::string& key, const std::string& value,
               uint64_t revision) {
    in_.observed[key] = KeyState{true, value, revision};
  }
  // The log as the writes of `ops` at the given first sequences.
  void Log(const OpRecord& op, uint64_t first) {
    for (size_t i = 0; i < op.writes.size(); ++i) {
      ChangeEvent e;
      e.seq = first + i;
      e.key = op.writes[i].key;
      e.value = op.writes[i].value;
      e.op = op.writes[i].type == Write::Type::kPut      ? ChangeOp::kPut
             : op.writes[i].type == Write::Type::kDelete ? ChangeOp::kDelete
                                                         : ChangeOp::kMerge;
      if (e.op == ChangeOp::kMerge) e.merge_operator = "add";
      if (e.op == ChangeOp::kDelete) e.value.clear();
      e.group_first_seq = first;
      e.group_size = op.writes.size();
      events_.push_back(e);
    }
  }

  static std::string All(const CheckReport& r) {
    return absl::StrJoin(r.failures, "\n");
  }

  CycleInput in_;
  std::vector<ChangeEvent> events_;
};

TEST_F(VerifierTest, CleanHistoryPasses) {
  const OpRecord& a = Put("r/1", "t1", Outcome::kAcked, 11);
  const OpRecord& b = Put("r/1", "t2", Outcome::kAcked, 12);
  in_.last_seq = 12;
  Observe("r/1", V("t2"), 12);
  Log(a, 11);
  Log(b, 12);
  CheckReport s = VerifyState(in_);
  EXPECT_TRUE(s.ok()) << All(s);
  EXPECT_EQ(s.acked_writes_checked, 2);
  CheckReport l = VerifyLog(in_, events_);
  EXPECT_TRUE(l.ok()) << All(l);
}

TEST_F(VerifierTest, LostAcknowledgedSyncWrite) {
  Put("r/1", "t1", Outcome::kAcked, 11);
  Put("r/1", "t2", Outcome::kAcked, 12);
  in_.last_seq = 11;  // the server came back without seq 12
  Observe("r/1", V("t1"), 11);
  CheckReport s = VerifyState(in_);
  EXPECT_THAT(All(s), HasSubstr("lost acknowledged sync write"));
}

TEST_F(VerifierTest, LostWriteBelowLastSeq) {
  Put("r/1", "t1", Outcome::kAcked, 11);
  Put("r/2", "t2", Outcome::kAcked, 12);
  in_.last_seq = 12;
  Observe("r/2", V("t2"), 12);  // r/1 vanished
  EXPECT_THAT(All(VerifyState(in_)), HasSubstr("lost write: key r/1"));
}

TEST_F(VerifierTest, AsyncLostSuffixIsAllowed) {
  const OpRecord& a = Put("r/1", "t1", Outcome::kAcked, 11);
  Put("r/2", "t2", Outcome::kAcked, 12);
  in_.sync = false;
  in_.last_seq = 11;
  Observe("r/1", V("t1"), 11);
  Log(a, 11);
  CheckReport s = VerifyState(in_);
  EXPECT_TRUE(s.ok()) << All(s);
  EXPECT_EQ(s.lost_suffix_ops, 1);
  CheckReport l = VerifyLog(in_, events_);
  EXPECT_TRUE(l.ok()) << All(l);
}

TEST_F(VerifierTest, AsyncGapIsReported) {
  const OpRecord& a = Put("r/1", "t1", Outcome::kAcked, 11);
  Put("r/2", "t2", Outcome::kAcked, 12);
  const OpRecord& c = Put("r/3", "t3", Outcome::kAcked, 13);
  in_.sync = false;
  in_.last_seq = 13;
  Observe("r/1", V("t1"), 11);
  Observe("r/3", V("t3"), 13);  // 12 lost, 13 kept: not a prefix
  Log(a, 11);
  Log(c, 13);
  EXPECT_THAT(All(VerifyState(in_)), HasSubstr("lost write: key r/2"));
  std::string log = All(VerifyLog(in_, events_));
  EXPECT_THAT(log, HasSubstr("gap in the log: expected sequence 12"));
  EXPECT_THAT(log, HasSubstr("is not in the log"));
}

TEST_F(VerifierTest, TornAcknowledgedBatch) {
  Add("batch", "b1", Outcome::kAcked, 12,
      {{Write::Type::kPut, "g/0", V("b1")},
       {Write::Type::kPut, "g/1", V("b1")}});
  in_.last_seq = 12;
  Observe("g/0", V("b1"), 11);
  std::string all = All(VerifyState(in_));
  EXPECT_THAT(all, HasSubstr("lost write: key g/1"));
  EXPECT_THAT(all, HasSubstr("group torn"));
}

TEST_F(VerifierTest, TornInFlightBatch) {
  Add("batch", "b1", Outcome::kMaybe, 0,
      {{Write::Type::kPut, "g/0", V("b1")},
       {Write::Type::kPut, "g/1", V("b1")},
       {Write::Type::kMerge, "c/1", "5"}});
  in_.last_seq = 13;
  Observe("g/0", V("b1"), 11);
  Observe("g/1", V("b1"), 12);
  // The batch is seen applied, so its merge must be too.
  std::string all = All(VerifyState(in_));
  EXPECT_THAT(all, HasSubstr("torn op: key c/1"));
  EXPECT_THAT(all, HasSubstr("counter c/1 = 0"));
}

TEST_F(VerifierTest, InFlightBatchAppliedWhole) {
  const OpRecord& b = Add("batch", "b1", Outcome::kMaybe, 0,
                          {{Write::Type::kPut, "g/0", V("b1")},
                           {Write::Type::kPut, "g/1", V("b1")},
                           {Write::Type::kMerge, "c/1", "5"}});
  in_.last_seq = 13;
  Observe("g/0", V("b1"), 11);
  Observe("g/1", V("b1"), 12);
  Observe("c/1", "5", 13);
  Log(b, 11);
  CheckReport s = VerifyState(in_);
  EXPECT_TRUE(s.ok()) << All(s);
  EXPECT_EQ(s.maybe_applied, 1);
  CheckReport l = VerifyLog(in_, events_);
  EXPECT_TRUE(l.ok()) << All(l);
}

TEST_F(VerifierTest, InFlightValueOlderThanAcknowledged) {
  Put("r/1", "late", Outcome::kMaybe);
  Put("r/1", "acked", Outcome::kAcked, 12);
  in_.last_seq = 12;
  Observe("r/1", V("late"), 11);  // the in-flight put, below the ack
  EXPECT_THAT(All(VerifyState(in_)), HasSubstr("lost write: key r/1"));
}

TEST_F(VerifierTest, UnknownAndRefusedValues) {
  Add("batch", "refused", Outcome::kNotApplied, 0,
      {{Write::Type::kPut, "g/0", V("refused")},
       {Write::Type::kPut, "g/1", V("refused")}});
  in_.last_seq = 13;
  Observe("r/2", V("nobody"), 11);
  Observe("g/0", V("refused"), 12);
  Observe("g/1", V("refused"), 13);
  std::string all = All(VerifyState(in_));
  EXPECT_THAT(all, HasSubstr("a value no op of this cycle wrote"));
  EXPECT_THAT(all, HasSubstr("which the server refused"));
}

TEST_F(VerifierTest, StaleValueAtWrongRevision) {
  Put("r/1", "t1", Outcome::kAcked, 11);
  Put("r/1", "t2", Outcome::kAcked, 12);
  in_.last_seq = 13;
  Observe("r/1", V("t1"), 13);  // t1's value written again at 13
  EXPECT_THAT(All(VerifyState(in_)),
              HasSubstr("at sequence 11, not at the revision read"));
}

TEST_F(VerifierTest, BaselineMustBeUnchangedBelowPrevSeq) {
  in_.baseline["r/1"] = KeyState{true, V("old"), 5};
  Observe("r/1", V("older"), 4);
  EXPECT_THAT(All(VerifyState(in_)),
              HasSubstr("neither written this cycle nor the previous"));
}

TEST_F(VerifierTest, CounterSums) {
  in_.baseline["c/1"] = KeyState{true, "100", 3};
  Add("merge", "", Outcome::kAcked, 11, {{Write::Type::kMerge, "c/1", "5"}});
  Add("merge", "", Outcome::kMaybe, 0, {{Write::Type::kMerge, "c/1", "7"}});
  in_.last_seq = 12;
  Observe("c/1", "112", 12);  // 100 + 5 + 7
  EXPECT_TRUE(VerifyState(in_).ok()) << All(VerifyState(in_));
  Observe("c/1", "105", 11);  // the in-flight operand lost
  EXPECT_TRUE(VerifyState(in_).ok()) << All(VerifyState(in_));
  Observe("c/1", "113", 12);
  EXPECT_THAT(All(VerifyState(in_)), HasSubstr("counter c/1 = 113"));
  Observe("c/1", "107", 12);  // the acknowledged operand lost
  EXPECT_THAT(All(VerifyState(in_)), HasSubstr("counter c/1 = 107"));
}

TEST_F(VerifierTest, AccountTotalConserved) {
  in_.invariants.accounts = {"a/0", "a/1"};
  in_.invariants.account_total = 200;
  in_.invariants.accounts_initialized = true;
  in_.baseline["a/0"] = KeyState{true, "i|100|", 5};
  in_.baseline["a/1"] = KeyState{true, "i|100|", 5};
  // A transfer in flight, half applied: a/0 debited, a/1 not credited.
  Add("transfer", "tx", Outcome::kMaybe, 0,
      {{Write::Type::kPut, "a/0", "tx|70|"},
       {Write::Type::kPut, "a/1", "tx|130|"}});
  in_.last_seq = 12;
  Observe("a/0", "tx|70|", 11);
  Observe("a/1", "i|100|", 5);
  std::string all = All(VerifyState(in_));
  EXPECT_THAT(all, HasSubstr("accounts hold 170"));
  EXPECT_THAT(all, HasSubstr("torn op: key a/1"));
}

TEST_F(VerifierTest, DeletedKeyNeedsALaterDelete) {
  Put("r/1", "t1", Outcome::kAcked, 11);
  in_.last_seq = 11;
  EXPECT_THAT(All(VerifyState(in_)),
              HasSubstr("lost write: key r/1 is absent"));
  Add("delete", "", Outcome::kMaybe, 0, {{Write::Type::kDelete, "r/1", ""}});
  EXPECT_TRUE(VerifyState(in_).ok());
}

TEST_F(VerifierTest, LogWithUnknownGroupOrWrongContent) {
  const OpRecord& a = Put("r/1", "t1", Outcome::kAcked, 11);
  in_.last_seq = 12;
  Observe("r/1", V("t1"), 11);
  Observe("r/2", V("ghost"), 12);
  Log(a, 11);
  ChangeEvent ghost;
  ghost.seq = ghost.group_first_seq = 12;
  ghost.group_size = 1;
  ghost.key = "r/2";
  ghost.value = V("ghost");
  events_.push_back(ghost);
  EXPECT_THAT(All(VerifyLog(in_, events_)),
              HasSubstr("matches no acknowledged or in-flight op"));
  events_[0].value = "changed";
  EXPECT_THAT(All(VerifyLog(in_, events_)),
              HasSubstr("is not what acknowledged op"));
}

TEST_F(VerifierTest, LogReplayMustEqualState) {
  const OpRecord& a = Put("r/1", "t1", Outcome::kAcked, 11);
  in_.last_seq = 11;
  Log(a, 11);
  Observe("r/1", V("t1"), 11);
  EXPECT_TRUE(VerifyLog(in_, events_).ok());
  in_.observed.erase("r/1");
  EXPECT_THAT(All(VerifyLog(in_, events_)),
              HasSubstr("key r/1: replaying the log gives"));
}

TEST_F(VerifierTest, LogCutInsideAGroup) {
  const OpRecord& b = Add("batch", "b1", Outcome::kAcked, 12,
                          {{Write::Type::kPut, "g/0", V("b1")},
                           {Write::Type::kPut, "g/1", V("b1")}});
  Log(b, 11);
  events_.pop_back();
  in_.sync = false;
  in_.last_seq = 11;
  Observe("g/0", V("b1"), 11);
  EXPECT_THAT(All(VerifyLog(in_, events_)), HasSubstr("cut short"));
  EXPECT_THAT(All(VerifyState(in_)),
              HasSubstr("is cut by the recovered last sequence"));
}

}  // namespace
}  // namespace cairn::crash
