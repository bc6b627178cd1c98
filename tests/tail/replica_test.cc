// Read replicas against real cairnd processes: bootstrap from a primary
// with data (and from an empty one), convergence under concurrent writes
// (a full scan of replica and primary identical, revisions and expiries
// included), the replica and the primary each restarted mid-stream,
// chaining (a replica of a replica), writes refused naming the primary,
// reads and Tail served, lag in Admin Stats and metrics.
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairnd_process.h"
#include "server_test_util.h"
#include "tail/tail_test_util.h"
#include "test_certs.h"

namespace cairn::test {
namespace {

[[maybe_unused]] ::testing::Environment* const kCertEnv =
    ::testing::AddGlobalTestEnvironment(new TestCertEnvironment);

absl::StatusOr<std::unique_ptr<CairndProcess>> StartReplica(
    const CairndProcess& primary, std::vector<std::string> extra = {}) {
  CairndOptions o;
  o.args = {absl::StrCat("--replica_of=", primary.address()),
            "--wal_segment_bytes=1MiB", "--write_buffer_bytes=256KiB"};
  for (auto& a : extra) o.args.push_back(a);
  return CairndProcess::Start(o);
}

TEST(ReplicaTest, BootstrapConvergeServeReadsRefuseWrites) {
  CairndOptions po;
  po.args = {"--wal_segment_bytes=1MiB", "--write_buffer_bytes=256KiB"};
  auto primary = CairndProcess::Start(po);
  ASSERT_TRUE(primary.ok()) << primary.status();
  MixedLoad((*primary)->Channel(), "before", 1500);  // flushed, in SSTables

  auto replica = StartReplica(**primary);
  ASSERT_TRUE(replica.ok()) << replica.status();
  std::thread writer([&] { MixedLoad((*primary)->Channel(), "during", 1500); });
  writer.join();
  const uint64_t last = Stats((*primary)->Channel()).last_seq();
  ASSERT_TRUE(WaitLastSeq(replica->get(), last));
  uint64_t pseq = 0, rseq = 0;
  EXPECT_EQ(Dump((*replica)->Channel(), &rseq),
            Dump((*primary)->Channel(), &pseq));
  EXPECT_EQ(pseq, rseq);

  // Reads work; writes are refused, naming the primary.
  auto rkv = v1::KV::NewStub((*replica)->Channel());
  v1::GetRequest get;
  get.set_key("n/1");
  v1::GetResponse got;
  ASSERT_TRUE(rkv->Get(Ctx().get(), get, &got).ok());
  EXPECT_TRUE(got.found());
  v1::PutRequest put;
  put.set_key("x");
  put.set_value("y");
  v1::PutResponse pr;
  grpc::Status refused = rkv->Put(Ctx().get(), put, &pr);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find((*primary)->address()),
            std::string::npos)
      << refused.error_message();

  // Its own Tail serves the changes it applied (from its bootstrap point).
  const v1::StatsResponse rs = Stats((*replica)->Channel());
  // It copied a snapshot (its WAL starts after it) rather than replaying.
  EXPECT_NE((*replica)->Log().find("replica bootstrapped"), std::string::npos);
  EXPECT_GT(rs.wal_first_seq(), 1500u);
  EXPECT_EQ(rs.replica_of(), (*primary)->address());
  EXPECT_TRUE(rs.replica_connected());
  EXPECT_EQ(rs.replica_lag_seqs(), 0u);
  TailStream own((*replica)->Channel(), TailFrom(rs.wal_first_seq()));
  ASSERT_TRUE(own.ReadUntil(last));
  EXPECT_EQ(own.events().back().seq(), last);

  auto m = (*replica)->HttpGet("/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->second.find("cairn_replica_lag_sequences 0"), std::string::npos);
  EXPECT_NE(m->second.find("cairn_replica_connected 1"), std::string::npos);
  for (const char* family :
       {"cairn_replica_applied_sequence", "cairn_replica_primary_sequence",
        "cairn_replica_lag_seconds", "cairn_replica_applied_batches_total",
        "cairn_replica_reconnects_total", "cairn_replica_out_of_range"}) {
    EXPECT_NE(m->second.find(absl::StrCat("\n", family, " ")),
              std::string::npos)
        << family;
  }
}

// The replica killed and the primary restarted while writes go on; a
// second replica follows the first (chaining). All converge.
TEST(ReplicaTest, ConvergesAcrossRestartsAndChains) {
  CairndOptions po;
  po.args = {"--wal_segment_bytes=1MiB", "--write_buffer_bytes=256KiB"};
  auto primary = CairndProcess::Start(po);
  ASSERT_TRUE(primary.ok()) << primary.status();
  // An empty primary: the replica starts at sequence 1 without a copy.
  auto replica = StartReplica(**primary);
  ASSERT_TRUE(replica.ok()) << replica.status();
  auto chained = StartReplica(**replica);
  ASSERT_TRUE(chained.ok()) << chained.status();

  MixedLoad((*primary)->Channel(), "a", 800);
  {
    // The replica dies and comes back while the primary takes writes.
    std::thread writer([&] { MixedLoad((*primary)->Channel(), "b", 1500); });
    absl::SleepFor(absl::Milliseconds(100));
    (*replica)->Kill();  // mid-stream, without a goodbye
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_TRUE((*replica)->Restart().ok());
    writer.join();
  }
  MixedLoad((*primary)->Channel(), "c", 400);
  ASSERT_TRUE((*primary)->StopCleanly().ok());  // the replicas reconnect
  ASSERT_TRUE((*primary)->Restart().ok());
  MixedLoad((*primary)->Channel(), "d", 800);

  const uint64_t last = Stats((*primary)->Channel()).last_seq();
  ASSERT_TRUE(WaitLastSeq(replica->get(), last));
  ASSERT_TRUE(WaitLastSeq(chained->get(), last));
  const std::string want = Dump((*primary)->Channel());
  EXPECT_EQ(Dump((*replica)->Channel()), want);
  EXPECT_EQ(Dump((*chained)->Channel()), want);
  EXPECT_EQ(Stats((*replica)->Channel()).replica_lag_seqs(), 0u);
  auto m = (*replica)->HttpGet("/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->second.find("cairn_replica_reconnects_total 0"),
            std::string::npos);  // it did reconnect
  for (auto* p : {chained->get(), replica->get(), primary->get()}) {
    EXPECT_TRUE(p->StopCleanly().ok());
  }
}

// A primary that wants mutual TLS and tokens: the replica follows it with
// --replica_tls_* and --replica_token_file; a wrong token stops it.
TEST(ReplicaTest, FollowsOverMutualTlsWithAToken) {
  ASSERT_NE(certs, nullptr);
  const std::string dir = MakeTempDir("cairn-replica-auth-");
  const std::string reader = "reader-token-0123456789";
  const std::string writer = "writer-token-0123456789";
  WriteFile(dir + "/tokens",
            absl::StrCat("read ", reader, "\nwrite ", writer, "\n"));
  WriteFile(dir + "/read.token", reader + "\n");
  WriteFile(dir + "/bad.token", "not-the-token-0123456789\n");
  CairndOptions po;
  po.args = {"--tls_cert=" + certs->server_cert,
             "--tls_key=" + certs->server_key, "--tls_client_ca=" + certs->ca,
             "--auth_tokens=" + dir + "/tokens"};
  po.tls_ca_file = certs->ca;
  po.tls_client_cert_file = certs->client_cert;
  po.tls_client_key_file = certs->client_key;
  auto primary = CairndProcess::Start(po);
  ASSERT_TRUE(primary.ok()) << primary.status();
  auto kv = v1::KV::NewStub((*primary)->Channel());
  auto put = [&](int i) {
    v1::PutRequest r;
    r.set_key(absl::StrCat("s/", i));
    r.set_value(absl::StrCat("v", i));
    v1::PutResponse resp;
    auto ctx = Ctx();
    ctx->AddMetadata("authorization", "Bearer " + writer);
    grpc::Status s = kv->Put(ctx.get(), r, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.seq();
  };
  for (int i = 0; i < 100; ++i) put(i);

  const std::vector<std::string> tls = {
      "--replica_tls_ca=" + certs->ca,
      "--replica_tls_cert=" + certs->client_cert,
      "--replica_tls_key=" + certs->client_key};
  std::vector<std::string> args = tls;
  args.push_back("--replica_token_file=" + dir + "/read.token");
  auto replica = StartReplica(**primary, args);
  ASSERT_TRUE(replica.ok()) << replica.status();
  uint64_t last = 0;
  for (int i = 100; i < 200; ++i) last = put(i);
  ASSERT_TRUE(WaitLastSeq(replica->get(), last));
  EXPECT_EQ(Dump((*replica)->Channel()),
            Dump((*primary)->Channel(), nullptr, reader));

  // A wrong token: the bootstrap is refused and cairnd exits, saying why.
  CairndOptions bad;
  bad.wait_ready = false;
  bad.args = tls;
  bad.args.push_back(absl::StrCat("--replica_of=", (*primary)->address()));
  bad.args.push_back("--replica_token_file=" + dir + "/bad.token");
  auto refused = CairndProcess::Start(bad);
  ASSERT_TRUE(refused.ok());
  absl::StatusOr<int> st = (*refused)->Stop(0, absl::Seconds(30));
  ASSERT_TRUE(st.ok());
  EXPECT_NE(*st, 0);
  EXPECT_NE((*refused)->Log().find("UNAUTHENTICATED"), std::string::npos)
      << (*refused)->Log();
  std::filesystem::remove_all(dir);
}

TEST(ReplicaTest, BadReplicaSettingsAreRefused) {
  CairndOptions o;
  o.wait_ready = false;
  o.args = {"--replica_of=nocolon"};
  auto p = CairndProcess::Start(o);
  ASSERT_TRUE(p.ok());
  absl::StatusOr<int> st = (*p)->Stop(0, absl::Seconds(30));
  ASSERT_TRUE(st.ok());
  EXPECT_NE(*st, 0);
  EXPECT_NE((*p)->Log().find("replica_of"), std::string::npos) << (*p)->Log();

  // An unreachable primary: an empty replica gives up after its timeout.
  CairndOptions u;
  u.wait_ready = false;
  u.args = {absl::StrCat("--replica_of=127.0.0.1:", FreePort()),
            "--replica_bootstrap_timeout=1s"};
  auto q = CairndProcess::Start(u);
  ASSERT_TRUE(q.ok());
  st = (*q)->Stop(0, absl::Seconds(30));
  ASSERT_TRUE(st.ok());
  EXPECT_NE(*st, 0);
  EXPECT_NE((*q)->Log().find("cannot reach the primary"), std::string::npos)
      << (*q)->Log();
}

}  // namespace
}  // namespace cairn::test
