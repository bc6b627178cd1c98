// Graceful shutdown of the real cairnd: every acknowledged sync write
// survives a SIGTERM under load; open streams end with UNAVAILABLE; a write
// stalled in the engine is bounded by the client's deadline and by
// --shutdown_grace; a second signal forces the exit.
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "gtest/gtest.h"

namespace cairn::test {
namespace {

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return c;
}

CairndOptions WithArgs(std::vector<std::string> args) {
  CairndOptions o;
  o.args = std::move(args);
  return o;
}

bool ExitedWith(absl::StatusOr<int> wait_status, int code) {
  return wait_status.ok() && WIFEXITED(*wait_status) &&
         WEXITSTATUS(*wait_status) == code;
}

TEST(Shutdown, EveryAcknowledgedSyncWriteSurvivesSigtermUnderLoad) {
  auto server = CairndProcess::Start(WithArgs({"--durability=sync"}));
  ASSERT_TRUE(server.ok()) << server.status();
  CairndProcess& p = **server;

  struct Acked {
    std::string value;
    uint64_t seq;
  };
  std::mutex mu;
  std::map<std::string, Acked> acked;
  std::map<grpc::StatusCode, int> refusals;
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto kv = v1::KV::NewStub(p.Channel());
      // Bounded: stops at the first refusal, or after 200k writes.
      for (int i = 0; i < 200000; ++i) {
        v1::PutRequest req;
        req.set_key(absl::StrCat("t", t, "/", i));
        req.set_value(absl::StrCat("value-", t, "-", i));
        v1::PutResponse resp;
        grpc::Status s = kv->Put(Ctx(absl::Seconds(30)).get(), req, &resp);
        std::lock_guard<std::mutex> lock(mu);
        if (!s.ok()) {
          ++refusals[s.error_code()];
          return;
        }
        acked[req.key()] = {req.value(), resp.seq()};
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(500));
  absl::StatusOr<int> st = p.Stop(SIGTERM);
  for (auto& t : threads) t.join();
  ASSERT_TRUE(ExitedWith(st, 0)) << p.Log();
  ASSERT_GT(acked.size(), 0u);
  for (const auto& [code, n] : refusals) {
    EXPECT_EQ(code, grpc::StatusCode::UNAVAILABLE)
        << "code " << code << " x" << n;
  }

  ASSERT_TRUE(p.Restart().ok()) << p.Log();
  auto kv = v1::KV::NewStub(p.Channel());
  size_t checked = 0;
  for (const auto& [key, a] : acked) {
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    ASSERT_TRUE(kv->Get(Ctx(absl::Seconds(30)).get(), req, &resp).ok());
    ASSERT_TRUE(resp.found()) << key << " acknowledged at " << a.seq;
    EXPECT_EQ(resp.value(), a.value);
    EXPECT_EQ(resp.revision(), a.seq);
    ++checked;
  }
  EXPECT_EQ(checked, acked.size());
  EXPECT_TRUE(ExitedWith(p.Stop(SIGTERM), 0));
}

TEST(Shutdown, OpenStreamsEndWithUnavailable) {
  auto server = CairndProcess::Start(
      WithArgs({"--scan_chunk_keys=2", "--durability=async"}));
  ASSERT_TRUE(server.ok()) << server.status();
  CairndProcess& p = **server;
  auto kv = v1::KV::NewStub(p.Channel());
  // 256 keys of 64 KiB: far more than gRPC's flow-control windows hold, so
  // the scan is still running when the shutdown begins.
  for (int i = 0; i < 256; ++i) {
    v1::PutRequest req;
    req.set_key(absl::StrCat("k", 1000 + i));
    req.set_value(std::string(64 << 10, 'v'));
    v1::PutResponse resp;
    ASSERT_TRUE(kv->Put(Ctx(absl::Seconds(30)).get(), req, &resp).ok());
  }
  // A transaction that has begun, and a scan that has read one chunk.
  auto txn_ctx = Ctx(absl::Seconds(60));
  auto txn = kv->Txn(txn_ctx.get());
  v1::TxnRequest begin;
  begin.mutable_begin();
  v1::TxnResponse begun;
  ASSERT_TRUE(txn->Write(begin) && txn->Read(&begun));
  auto scan_ctx = Ctx(absl::Seconds(60));
  auto scan = kv->Scan(scan_ctx.get(), v1::ScanRequest());
  v1::ScanResponse chunk;
  ASSERT_TRUE(scan->Read(&chunk));

  std::thread stopper([&] { EXPECT_TRUE(ExitedWith(p.Stop(SIGTERM), 0)); });
  v1::TxnResponse more;
  EXPECT_FALSE(txn->Read(&more));
  grpc::Status ts = txn->Finish();
  EXPECT_EQ(ts.error_code(), grpc::StatusCode::UNAVAILABLE)
      << ts.error_message();
  int chunks = 1;
  while (scan->Read(&chunk)) ++chunks;
  grpc::Status ss = scan->Finish();
  EXPECT_EQ(ss.error_code(), grpc::StatusCode::UNAVAILABLE)
      << ss.error_message();
  EXPECT_LT(chunks, 128);  // 256 keys in chunks of 2: cut short
  stopper.join();
}

// Options that stop writes once two L0 files exist.
std::vector<std::string> StallArgs(const std::string& grace) {
  return {"--disable_auto_compactions", "--l0_compaction_trigger=1",
          "--l0_slowdown_trigger=1", "--l0_stop_trigger=2",
          "--shutdown_grace=" + grace};
}

void StopWritesWithTwoL0Files(CairndProcess& p) {
  auto kv = v1::KV::NewStub(p.Channel());
  auto admin = v1::Admin::NewStub(p.Channel());
  for (int i = 0; i < 2; ++i) {
    v1::PutRequest req;
    req.set_key(absl::StrCat("l0-", i));
    req.set_value("v");
    v1::PutResponse resp;
    ASSERT_TRUE(kv->Put(Ctx(absl::Seconds(30)).get(), req, &resp).ok());
    v1::FlushResponse fr;
    ASSERT_TRUE(
        admin->Flush(Ctx(absl::Seconds(30)).get(), v1::FlushRequest(), &fr)
            .ok());
  }
  v1::StatsResponse st;
  ASSERT_TRUE(
      admin->Stats(Ctx(absl::Seconds(30)).get(), v1::StatsRequest(), &st).ok());
  ASSERT_EQ(st.levels(0).files(), 2);
}

TEST(Shutdown, StalledWritesAreBoundedByDeadlineAndGrace) {
  auto server = CairndProcess::Start(WithArgs(StallArgs("1s")));
  ASSERT_TRUE(server.ok()) << server.status();
  CairndProcess& p = **server;
  StopWritesWithTwoL0Files(p);
  auto kv = v1::KV::NewStub(p.Channel());

  // The client's deadline bounds the wait inside the engine. Whichever side
  // notices first answers: the engine (RESOURCE_EXHAUSTED) or gRPC.
  v1::PutRequest req;
  req.set_key("stalled");
  req.set_value("v");
  v1::PutResponse resp;
  absl::Time start = absl::Now();
  grpc::Status s = kv->Put(Ctx(absl::Milliseconds(300)).get(), req, &resp);
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
              s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << s.error_code() << " " << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  // A writer with a long deadline is still stalled when shutdown begins:
  // after the 1 s grace its write is refused and the server exits cleanly.
  grpc::Status long_wait;
  std::thread writer([&] {
    v1::PutResponse r;
    long_wait = kv->Put(Ctx(absl::Seconds(120)).get(), req, &r);
  });
  absl::SleepFor(absl::Milliseconds(200));
  start = absl::Now();
  absl::StatusOr<int> st = p.Stop(SIGTERM, absl::Seconds(30));
  writer.join();
  EXPECT_TRUE(ExitedWith(st, 0)) << p.Log();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_FALSE(long_wait.ok());
  EXPECT_NE(p.Log().find("stopping writes"), std::string::npos) << p.Log();

  // Nothing refused was written.
  ASSERT_TRUE(p.Restart().ok()) << p.Log();
  auto kv2 = v1::KV::NewStub(p.Channel());
  v1::GetRequest g;
  g.set_key("stalled");
  v1::GetResponse gr;
  ASSERT_TRUE(kv2->Get(Ctx(absl::Seconds(30)).get(), g, &gr).ok());
  EXPECT_FALSE(gr.found());
  g.set_key("l0-1");
  ASSERT_TRUE(kv2->Get(Ctx(absl::Seconds(30)).get(), g, &gr).ok());
  EXPECT_TRUE(gr.found());
}

TEST(Shutdown, SecondSignalForcesTheExit) {
  auto server = CairndProcess::Start(WithArgs(StallArgs("120s")));
  ASSERT_TRUE(server.ok()) << server.status();
  CairndProcess& p = **server;
  StopWritesWithTwoL0Files(p);
  auto kv = v1::KV::NewStub(p.Channel());
  std::thread writer([&] {
    v1::PutRequest req;
    req.set_key("stalled");
    v1::PutResponse r;
    kv->Put(Ctx(absl::Seconds(120)).get(), req, &r).error_code();
  });
  absl::SleepFor(absl::Milliseconds(200));
  kill(p.pid(), SIGTERM);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(p.Running()) << "the drain should still be waiting";
  absl::Time start = absl::Now();
  absl::StatusOr<int> st = p.Stop(SIGTERM, absl::Seconds(10));
  EXPECT_TRUE(ExitedWith(st, 1)) << p.Log();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_NE(p.Log().find("second signal"), std::string::npos);
  writer.join();
}

}  // namespace
}  // namespace cairn::test
