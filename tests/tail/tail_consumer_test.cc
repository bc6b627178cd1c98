// Named Tail consumers against the real cairnd: registration, Ack (durable
// across restarts), resume from the acknowledged sequence, ListConsumers
// with lag, DropConsumer, the WAL kept for a consumer (and the cap on it),
// consumer metrics; and the bootstrap "Scan at S, then Tail from S+1".
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairnd_process.h"
#include "server_test_util.h"
#include "tail/tail_test_util.h"

namespace cairn::test {
namespace {

grpc::Status Ack(v1::Replication::Stub* r, const std::string& name,
                 uint64_t seq) {
  v1::AckRequest req;
  req.set_consumer(name);
  req.set_seq(seq);
  v1::AckResponse resp;
  return r->Ack(Ctx().get(), req, &resp);
}

std::map<std::string, v1::ConsumerInfo> Consumers(v1::Replication::Stub* r) {
  v1::ListConsumersResponse resp;
  EXPECT_TRUE(r->ListConsumers(Ctx().get(), {}, &resp).ok());
  std::map<std::string, v1::ConsumerInfo> out;
  for (const auto& c : resp.consumers()) out[c.name()] = c;
  return out;
}

v1::TailRequest AsConsumer(const std::string& name, uint64_t from_seq = 0) {
  v1::TailRequest r;
  r.set_consumer(name);
  r.set_from_seq(from_seq);
  return r;
}

// Registers a consumer through a Tail that is served (its first message
// arrived) before it is cancelled.
void Register(const std::shared_ptr<grpc::Channel>& channel,
              const std::string& name, uint64_t from_seq) {
  TailStream t(channel, AsConsumer(name, from_seq));
  v1::TailResponse r;
  ASSERT_TRUE(t.Read(&r));
}

TEST(TailConsumerTest, AckListDropAndResumeAcrossRestarts) {
  auto server = CairndProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto kv = v1::KV::NewStub((*server)->Channel());
  auto repl = v1::Replication::NewStub((*server)->Channel());
  for (int i = 0; i < 10; ++i) Put(kv.get(), absl::StrCat("k", i), "v");

  // A new consumer with from_seq 0 starts after the current end.
  {
    TailStream t((*server)->Channel(), AsConsumer("late"));
    v1::TailResponse first;  // served: registered at the end of the log
    ASSERT_TRUE(t.Read(&first));
    const uint64_t seq = Put(kv.get(), "k10", "v");
    ASSERT_TRUE(t.ReadUntil(seq));
    ASSERT_FALSE(t.events().empty());
    EXPECT_EQ(t.events().front().seq(), 11u);
  }
  // One registered at 1 reads everything; it acknowledges 6.
  {
    TailStream t((*server)->Channel(), AsConsumer("cdc", 1));
    ASSERT_TRUE(t.ReadUntil(11));
    EXPECT_EQ(t.events().front().seq(), 1u);
  }
  ASSERT_TRUE(Ack(repl.get(), "cdc", 6).ok());
  ASSERT_TRUE(Ack(repl.get(), "cdc", 4).ok());  // out of order: no effect
  auto list = Consumers(repl.get());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list["cdc"].acked_seq(), 6u);
  EXPECT_EQ(list["cdc"].lag_seqs(), 5u);
  EXPECT_GT(list["cdc"].lag_seconds(), 0.0);
  EXPECT_EQ(list["late"].acked_seq(), 10u);

  // Errors name the field.
  EXPECT_TRUE(IsError(Ack(repl.get(), "nobody", 1), grpc::StatusCode::NOT_FOUND,
                      "consumer"));
  EXPECT_TRUE(IsError(Ack(repl.get(), "cdc", 1000),
                      grpc::StatusCode::INVALID_ARGUMENT, "seq"));
  EXPECT_TRUE(IsError(Ack(repl.get(), "", 1),
                      grpc::StatusCode::INVALID_ARGUMENT, "consumer"));

  // The ack survives a crash.
  (*server)->Kill();
  ASSERT_TRUE((*server)->Restart().ok());
  repl = v1::Replication::NewStub((*server)->Channel());
  kv = v1::KV::NewStub((*server)->Channel());
  list = Consumers(repl.get());
  EXPECT_EQ(list["cdc"].acked_seq(), 6u);
  {
    TailStream t((*server)->Channel(), AsConsumer("cdc"));
    ASSERT_TRUE(t.ReadUntil(11));
    EXPECT_EQ(t.events().front().seq(), 7u);  // resumes after its ack
  }
  ASSERT_TRUE(Ack(repl.get(), "cdc", 11).ok());
  EXPECT_EQ(Consumers(repl.get())["cdc"].lag_seqs(), 0u);
  EXPECT_EQ(Consumers(repl.get())["cdc"].lag_seconds(), 0.0);

  auto metrics = (*server)->HttpGet("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->second.find(
                "cairn_tail_consumer_lag_sequences{consumer=\"cdc\"} 0"),
            std::string::npos)
      << metrics->second;
  EXPECT_NE(metrics->second.find("cairn_tail_consumers 2"), std::string::npos);

  v1::DropConsumerRequest drop;
  drop.set_consumer("late");
  v1::DropConsumerResponse dresp;
  ASSERT_TRUE(repl->DropConsumer(Ctx().get(), drop, &dresp).ok());
  EXPECT_TRUE(IsError(repl->DropConsumer(Ctx().get(), drop, &dresp),
                      grpc::StatusCode::NOT_FOUND, "consumer"));
  ASSERT_TRUE((*server)->StopCleanly().ok());
  ASSERT_TRUE((*server)->Restart().ok());
  repl = v1::Replication::NewStub((*server)->Channel());
  list = Consumers(repl.get());
  EXPECT_EQ(list.size(), 1u);
  EXPECT_EQ(list.count("cdc"), 1u);
}

// The WAL a consumer has not acknowledged stays (no Tail retention
// otherwise), until it acks or is dropped; the cap lets it go anyway.
TEST(TailConsumerTest, RetentionKeepsWhatConsumersNeed) {
  const CairndOptions o = NoTailRetention();
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto repl = v1::Replication::NewStub((*server)->Channel());
  Register((*server)->Channel(), "slow", 1);
  FillAndFlush((*server)->Channel());
  // Everything is flushed, and still the consumer reads from 1.
  {
    TailStream t((*server)->Channel(), AsConsumer("slow"));
    ASSERT_TRUE(t.ReadUntil(400));
    EXPECT_EQ(t.events().front().seq(), 1u);
  }
  // After its ack, the WAL below goes (at the next retention pass).
  ASSERT_TRUE(Ack(repl.get(), "slow", 400).ok());
  bool released = false;
  for (int i = 0; i < 100 && !released; ++i) {
    TailStream t((*server)->Channel(), TailFrom(1));
    v1::TailResponse r;
    released = !t.Read(&r) &&
               t.Finish().error_code() == grpc::StatusCode::OUT_OF_RANGE;
    if (!released) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(released);
  ASSERT_TRUE((*server)->StopCleanly().ok());

  // With a 2 MiB cap, a consumer that never acks does not keep 4 MiB.
  CairndOptions capped = o;
  capped.args.push_back("--consumer_retention_bytes=2MiB");
  auto server2 = CairndProcess::Start(capped);
  ASSERT_TRUE(server2.ok()) << server2.status();
  Register((*server2)->Channel(), "stuck", 1);
  FillAndFlush((*server2)->Channel());
  grpc::Status st;
  for (int i = 0; i < 100; ++i) {
    TailStream t((*server2)->Channel(), AsConsumer("stuck"));
    v1::TailResponse r;
    if (!t.Read(&r)) {
      st = t.Finish();
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << st.error_message();
}

// Scan at S, then Tail from S + 1, applied to the copy: exactly the
// primary's state, with writes going on the whole time.
TEST(TailBootstrapTest, ScanThenTailEqualsThePrimary) {
  CairndOptions o;
  o.args = {"--wal_segment_bytes=1MiB", "--write_buffer_bytes=256KiB",
            "--scan_chunk_keys=50"};
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto kv = v1::KV::NewStub((*server)->Channel());
  for (int i = 0; i < 300; ++i) {
    Put(kv.get(), absl::StrCat("b/", i % 200), absl::StrCat("v", i));
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last_written{0};
  std::thread writer([&] {
    auto wkv = v1::KV::NewStub((*server)->Channel());
    for (int i = 0; !stop.load() && i < 3000; ++i) {
      uint64_t seq = 0;
      const std::string key = absl::StrCat("b/", (i * 7) % 250);
      switch (i % 5) {
        case 0: {
          v1::DeleteRequest d;
          d.set_key(key);
          v1::DeleteResponse r;
          ASSERT_TRUE(wkv->Delete(Ctx().get(), d, &r).ok());
          seq = r.seq();
          break;
        }
        case 1: {
          v1::MergeRequest m;
          m.set_key(absl::StrCat("n/", i % 10));
          m.set_operator_("add");
          m.set_operand("3");
          v1::MergeResponse r;
          ASSERT_TRUE(wkv->Merge(Ctx().get(), m, &r).ok());
          seq = r.seq();
          break;
        }
        case 2: {
          v1::DeleteRangeRequest d;
          d.set_start(absl::StrCat("b/", i % 50));
          d.set_end(absl::StrCat("b/", i % 50, "5"));
          v1::DeleteRangeResponse r;
          ASSERT_TRUE(wkv->DeleteRange(Ctx().get(), d, &r).ok());
          seq = r.seq();
          break;
        }
        default:
          seq = Put(wkv.get(), key, absl::StrCat("w", i));
      }
      last_written.store(seq);
    }
  });
  absl::SleepFor(absl::Milliseconds(50));

  // The copy: a scan (in chunks, while writes go on).
  std::map<std::string, std::string> copy;
  uint64_t scan_seq = 0;
  {
    v1::ScanRequest req;
    auto ctx = Ctx();
    auto reader = kv->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    while (reader->Read(&chunk)) {
      scan_seq = chunk.read_seq();
      for (const auto& e : chunk.kvs()) copy[e.key()] = e.value();
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  ASSERT_GT(scan_seq, 0u);
  absl::SleepFor(absl::Milliseconds(100));
  stop.store(true);
  writer.join();
  const uint64_t end = last_written.load();
  ASSERT_GT(end, scan_seq);  // writes did happen after the scan's point

  TailStream t((*server)->Channel(), TailFrom(scan_seq + 1));
  ASSERT_TRUE(t.ReadUntil(end));
  for (const v1::ChangeEvent& e : t.events()) {
    if (e.seq() > end) break;
    switch (e.op()) {
      case v1::CHANGE_OP_PUT:
        copy[e.key()] = e.value();
        break;
      case v1::CHANGE_OP_DELETE:
        copy.erase(e.key());
        break;
      case v1::CHANGE_OP_DELETE_RANGE:
        copy.erase(copy.lower_bound(e.key()), copy.lower_bound(e.range_end()));
        break;
      case v1::CHANGE_OP_MERGE: {
        int64_t have = 0, add = 0;
        if (copy.count(e.key()))
          ASSERT_TRUE(absl::SimpleAtoi(copy[e.key()], &have));
        ASSERT_TRUE(absl::SimpleAtoi(e.value(), &add));
        copy[e.key()] = absl::StrCat(have + add);
        break;
      }
      default:
        FAIL() << "unexpected op " << e.op();
    }
  }
  std::map<std::string, std::string> primary;
  v1::ScanRequest req;
  req.set_snapshot_seq(0);
  auto ctx = Ctx();
  auto reader = kv->Scan(ctx.get(), req);
  v1::ScanResponse chunk;
  while (reader->Read(&chunk)) {
    EXPECT_EQ(chunk.read_seq(), end);
    for (const auto& e : chunk.kvs()) primary[e.key()] = e.value();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(copy, primary);
}

}  // namespace
}  // namespace cairn::test
