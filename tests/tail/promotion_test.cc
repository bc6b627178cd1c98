// Promotion of a read replica as an operator does it (docs/operations.md,
// "Replicas and promotion"), against real cairnd processes: a primary and
// two replicas; the writes stop, the replicas catch up (replica_lag_seqs 0
// and last_seq equal to the primary's, as `cairn stats` shows them); the
// primary is stopped with SIGTERM; replica A is restarted on its data dir
// without --replica_of and takes writes at the old primary's last_seq + 1;
// replica B is restarted with --replica_of=A and converges to A, new writes
// included, with no gap in its Tail; the old primary rejoins as a replica of
// A. A second test records what a follower does when pointed at a server
// whose history diverged from its own: it does not notice.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairnd_process.h"
#include "server_test_util.h"
#include "tail/tail_test_util.h"

namespace cairn::test {
namespace {

const std::vector<std::string> kSmallEngine = {"--wal_segment_bytes=1MiB",
                                               "--write_buffer_bytes=256KiB"};

std::string Get(const std::shared_ptr<grpc::Channel>& channel,
                const std::string& key) {
  v1::GetRequest req;
  req.set_key(key);
  v1::GetResponse resp;
  grpc::Status s = v1::KV::NewStub(channel)->Get(Ctx().get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.found() ? resp.value() : "<absent>";
}

// What the operator waits for before promoting: the replica applied the
// primary's last sequence and reports no lag.
bool WaitCaughtUp(CairndProcess* replica, uint64_t primary_last,
                  absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const v1::StatsResponse s = Stats(replica->Channel());
    if (s.last_seq() == primary_last && s.replica_lag_seqs() == 0 &&
        s.replica_primary_seq() == primary_last) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

// A cairnd on an existing data dir (the operator's restart with other
// flags: the harness's Restart() keeps the flags).
absl::StatusOr<std::unique_ptr<CairndProcess>> StartOn(
    const std::string& data_dir, const std::string& replica_of = "") {
  CairndOptions o;
  o.data_dir = data_dir;
  o.args = kSmallEngine;
  if (!replica_of.empty()) o.args.push_back("--replica_of=" + replica_of);
  return CairndProcess::Start(o);
}

// Reads a Tail from `from` through `to`; returns "seq key op" lines and
// fails the test on a gap or a duplicate.
std::string TailText(CairndProcess* server, uint64_t from, uint64_t to) {
  TailStream tail(server->Channel(), TailFrom(from), absl::Seconds(60));
  EXPECT_TRUE(tail.ReadUntil(to));
  std::string out;
  uint64_t next = from;
  for (const v1::ChangeEvent& e : tail.events()) {
    if (e.seq() > to) break;
    EXPECT_EQ(e.seq(), next) << "gap or duplicate";
    next = e.seq() + 1;
    absl::StrAppend(&out, e.seq(), " ", e.key(), " ", e.op(), " ",
                    e.value().size(), "\n");
  }
  EXPECT_EQ(next, to + 1);
  return out;
}

TEST(Promotion, PromoteAReplicaRepointTheOtherRejoinTheOldPrimary) {
  CairndOptions po;
  po.args = kSmallEngine;
  auto primary = CairndProcess::Start(po);
  ASSERT_TRUE(primary.ok()) << primary.status();
  auto pch = (*primary)->Channel();
  ASSERT_GT(MixedLoad(pch, "before", 400, v1::DURABILITY_SYNC),
            0u);  // the replicas copy this
  auto a = StartOn("", (*primary)->address());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = StartOn("", (*primary)->address());
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_GT(MixedLoad(pch, "during", 600, v1::DURABILITY_SYNC),
            0u);  // the replicas follow this

  // 1. Writers stopped: wait until both replicas applied the primary's
  // last sequence and report no lag.
  const uint64_t p_last = Stats(pch).last_seq();
  ASSERT_TRUE(WaitCaughtUp(a->get(), p_last));
  ASSERT_TRUE(WaitCaughtUp(b->get(), p_last));
  auto m = (*a)->HttpGet("/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->second.find("\ncairn_replica_lag_sequences 0\n"),
            std::string::npos);
  const std::string before = Dump(pch);
  EXPECT_EQ(Dump((*a)->Channel()), before);

  // 2. The primary stops (SIGTERM). B still serves reads, disconnected.
  ASSERT_TRUE((*primary)->StopCleanly().ok());
  EXPECT_EQ(Get((*b)->Channel(), "n/1"), Get((*a)->Channel(), "n/1"));

  // 3. A restarts on its data dir without --replica_of: a primary with the
  // same data and sequence numbers, taking writes right after p_last.
  ASSERT_TRUE((*a)->StopCleanly().ok());
  auto a2 = StartOn((*a)->data_dir());
  ASSERT_TRUE(a2.ok()) << a2.status();
  auto ach = (*a2)->Channel();
  const v1::StatsResponse as = Stats(ach);
  EXPECT_EQ(as.replica_of(), "");
  EXPECT_EQ(as.last_seq(), p_last);
  EXPECT_EQ(Dump(ach), before);
  {
    auto kv = v1::KV::NewStub(ach);
    EXPECT_EQ(Put(kv.get(), "promoted", "yes", v1::DURABILITY_SYNC),
              p_last + 1);
  }
  ASSERT_GT(MixedLoad(ach, "after", 300, v1::DURABILITY_SYNC), 0u);

  // 4. B restarts with --replica_of=A: it resumes at its own last_seq + 1,
  // which is A's history; more writes while it follows.
  ASSERT_TRUE((*b)->StopCleanly().ok());
  auto b2 = StartOn((*b)->data_dir(), (*a2)->address());
  ASSERT_TRUE(b2.ok()) << b2.status();
  EXPECT_EQ((*b2)->Log().find("replica bootstrapped"), std::string::npos)
      << "B should resume, not copy again";
  const uint64_t a_last = MixedLoad(ach, "after2", 300, v1::DURABILITY_SYNC);
  ASSERT_GT(a_last, 0u);
  ASSERT_TRUE(WaitCaughtUp(b2->get(), a_last));
  EXPECT_EQ(Stats((*b2)->Channel()).replica_of(), (*a2)->address());
  EXPECT_EQ(Dump((*b2)->Channel()), Dump(ach));
  // B's own Tail over the promotion point: every sequence once, as on A.
  EXPECT_EQ(TailText(b2->get(), p_last - 50, a_last),
            TailText(a2->get(), p_last - 50, a_last));

  // 5. The old primary rejoins as a replica of A. This is right only
  // because it took no write after p_last (promotion at lag 0); see the
  // next test for what happens otherwise.
  auto p2 = StartOn((*primary)->data_dir(), (*a2)->address());
  ASSERT_TRUE(p2.ok()) << p2.status();
  ASSERT_TRUE(WaitCaughtUp(p2->get(), a_last));
  EXPECT_EQ(Dump((*p2)->Channel()), Dump(ach));

  for (auto* p : {p2->get(), b2->get(), a2->get()}) {
    EXPECT_TRUE(p->StopCleanly().ok());
  }
}

// KNOWN GAP, recorded rather than fixed here: a follower resumes at its own
// last_seq + 1 and checks only that sequences are contiguous. Pointed at a
// server whose history diverged from its own (an old primary that took
// other writes after a promotion, a wrong address), it applies that
// server's later batches on top of its own history, reports itself
// connected with lag 0, and logs nothing. If a history check is added (e.g.
// the primary's commit time or a history id of the sequence the follower
// resumes after), this test should expect the follower to refuse instead.
TEST(Promotion, FollowerDoesNotDetectADivergedHistory) {
  CairndOptions po;
  po.args = kSmallEngine;
  auto p1 = CairndProcess::Start(po);
  ASSERT_TRUE(p1.ok()) << p1.status();
  auto p2 = CairndProcess::Start(po);
  ASSERT_TRUE(p2.ok()) << p2.status();
  auto put_n = [](CairndProcess* p, const std::string& tag, int from, int to) {
    auto kv = v1::KV::NewStub(p->Channel());
    for (int i = from; i < to; ++i) {
      Put(kv.get(), absl::StrCat("d/", i), absl::StrCat(tag, i));
    }
  };
  put_n(p1->get(), "p1-", 0, 100);  // sequences 1..100
  put_n(p2->get(), "p2-", 0, 150);  // sequences 1..150, other values

  // A replica of P1 at 100, re-pointed at P2 (at 150).
  auto r = StartOn("", (*p1)->address());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(WaitCaughtUp(r->get(), 100));
  ASSERT_TRUE((*r)->StopCleanly().ok());
  auto r2 = StartOn((*r)->data_dir(), (*p2)->address());
  ASSERT_TRUE(r2.ok()) << r2.status();
  ASSERT_TRUE(WaitCaughtUp(r2->get(), 150));
  // It took P2's sequences 101..150 on top of P1's 1..100: a state that is
  // neither's, reported as healthy.
  EXPECT_EQ(Get((*r2)->Channel(), "d/0"), "p1-0");
  EXPECT_EQ(Get((*r2)->Channel(), "d/120"), "p2-120");
  EXPECT_NE(Dump((*r2)->Channel()), Dump((*p2)->Channel()));
  const v1::StatsResponse rs = Stats((*r2)->Channel());
  EXPECT_TRUE(rs.replica_connected());
  EXPECT_EQ(rs.replica_lag_seqs(), 0u);

  // A replica of P2 at 150, re-pointed at P1 (at 100): it is ahead, yet
  // reports lag 0; once P1 passes 150 it applies P1's later batches.
  auto q = StartOn("", (*p2)->address());
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(WaitCaughtUp(q->get(), 150));
  ASSERT_TRUE((*q)->StopCleanly().ok());
  auto q2 = StartOn((*q)->data_dir(), (*p1)->address());
  ASSERT_TRUE(q2.ok()) << q2.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  v1::StatsResponse qs;
  do {
    absl::SleepFor(absl::Milliseconds(20));
    qs = Stats((*q2)->Channel());
  } while (!(qs.replica_connected() && qs.replica_primary_seq() == 100) &&
           absl::Now() < deadline);
  EXPECT_TRUE(qs.replica_connected());
  EXPECT_EQ(qs.replica_primary_seq(), 100u);
  EXPECT_EQ(qs.last_seq(), 150u);
  EXPECT_EQ(qs.replica_lag_seqs(), 0u);
  put_n(p1->get(), "p1b-", 100, 160);  // P1's sequences 101..160
  ASSERT_TRUE(WaitLastSeq(q2->get(), 160));
  EXPECT_EQ(Get((*q2)->Channel(), "d/120"), "p2-120");   // P2's 121
  EXPECT_EQ(Get((*q2)->Channel(), "d/155"), "p1b-155");  // P1's 156
  EXPECT_EQ((*q2)->Log().find("DATA_LOSS"), std::string::npos);
  EXPECT_EQ((*r2)->Log().find("DATA_LOSS"), std::string::npos);

  for (auto* p : {q2->get(), r2->get(), p1->get(), p2->get()}) {
    EXPECT_TRUE(p->StopCleanly().ok());
  }
}

}  // namespace
}  // namespace cairn::test
