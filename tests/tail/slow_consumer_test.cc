// A Tail consumer that reads slowly while writers push CAIRN_TAIL_SLOW_BYTES
// (512 MiB by default; the `slow` label runs 1 GiB) through cairnd: the
// server's anonymous memory stays bounded (it holds one response per
// stream, never a backlog), every write succeeds, and once retention
// overtakes the consumer its stream ends with OUT_OF_RANGE naming the
// earliest available sequence, never with a gap. Write throughput with and
// without the consumer is printed, not asserted (a test on a shared
// machine is no benchmark).
#include <atomic>
#include <fstream>
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

// RssAnon of a process, in bytes (0 if unreadable).
uint64_t AnonRss(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("RssAnon:", 0) == 0) {
      uint64_t kb = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits.push_back(c);
      }
      if (absl::SimpleAtoi(digits, &kb)) return kb << 10;
    }
  }
  return 0;
}

uint64_t BytesToWrite() {
  const char* v = std::getenv("CAIRN_TAIL_SLOW_BYTES");
  uint64_t n = 0;
  if (v != nullptr && absl::SimpleAtoi(v, &n) && n > 0) return n;
  return 512ull << 20;
}

// Writes `bytes` of 10 KB values in Batches of 100 from 4 threads; returns
// MB/s.
double WriteLoad(const std::shared_ptr<grpc::Channel>& channel, uint64_t bytes,
                 const std::string& tag) {
  constexpr int kThreads = 4, kOps = 100, kValue = 10000;
  const uint64_t batches = bytes / (kOps * kValue);
  std::atomic<uint64_t> next{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      auto kv = v1::KV::NewStub(channel);
      const std::string value(kValue, 'v');
      for (uint64_t b = next++; b < batches; b = next++) {
        v1::BatchRequest req;
        req.set_durability(v1::DURABILITY_ASYNC);
        for (int i = 0; i < kOps; ++i) {
          auto* p = req.add_ops()->mutable_put();
          p->set_key(absl::StrCat(tag, "/", b % 500, "/", i));
          p->set_value(value);
        }
        v1::BatchResponse resp;
        grpc::Status s = kv->Batch(Ctx(absl::Seconds(60)).get(), req, &resp);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
    });
  }
  for (auto& t : ts) t.join();
  return batches * kOps * kValue / 1e6 /
         absl::ToDoubleSeconds(absl::Now() - start);
}

TEST(TailSlowConsumerTest, BoundedMemoryWritersGoOnOutOfRangeAtTheEnd) {
  CairndOptions o;
  o.args = {"--wal_segment_bytes=16MiB", "--tail_retention_bytes=64MiB",
            "--durability=async"};
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  const pid_t pid = (*server)->pid();
  const uint64_t total = BytesToWrite();

  // Without a consumer, for comparison (and to warm the memtables up).
  const double alone = WriteLoad((*server)->Channel(), total, "warm");
  const uint64_t baseline = AnonRss(pid);
  ASSERT_GT(baseline, 0u);

  // The slow consumer: one response every 100 ms while the writers run,
  // from the first write of the load on.
  auto admin = v1::Admin::NewStub((*server)->Channel());
  v1::StatsResponse before;
  ASSERT_TRUE(admin->Stats(Ctx().get(), {}, &before).ok());
  const uint64_t from = before.last_seq() + 1;
  std::atomic<bool> writing{true};
  std::atomic<uint64_t> events{0}, last_seq{0};
  grpc::Status consumer_end;
  std::thread consumer([&] {
    TailStream t((*server)->Channel(), TailFrom(from), absl::Minutes(30));
    v1::TailResponse r;
    uint64_t expect = from;
    while (t.Read(&r)) {
      for (const auto& e : r.events()) {
        ASSERT_EQ(e.seq(), expect) << "a gap or a duplicate";
        ++expect;
      }
      events += r.events_size();
      last_seq = expect - 1;
      if (writing.load()) absl::SleepFor(absl::Milliseconds(100));
    }
    consumer_end = t.Finish();
  });
  std::atomic<uint64_t> peak{baseline};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      const uint64_t rss = AnonRss(pid);
      uint64_t p = peak.load();
      while (rss > p && !peak.compare_exchange_weak(p, rss)) {
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  const double with_consumer = WriteLoad((*server)->Channel(), total, "load");
  writing.store(false);  // now it reads as fast as it can
  consumer.join();
  sampling.store(false);
  sampler.join();

  std::printf(
      "wrote %.0f MiB: %.1f MB/s alone, %.1f MB/s with a slow consumer; "
      "server RssAnon %.1f MiB before, peak %.1f MiB; the consumer got %llu "
      "events up to sequence %llu, then: %s\n",
      total / 1048576.0, alone, with_consumer, baseline / 1048576.0,
      peak.load() / 1048576.0, static_cast<unsigned long long>(events.load()),
      static_cast<unsigned long long>(last_seq.load()),
      consumer_end.error_message().c_str());
  // One response per stream, memtables and caches: far below what was
  // written, and independent of it.
  EXPECT_LT(peak.load() - baseline, 200ull << 20);
  // Retention (64 MiB) overtook the consumer: its stream ends, saying from
  // where it could go on, after delivering everything before without a gap.
  EXPECT_EQ(consumer_end.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << consumer_end.error_message();
  v1::StatsResponse stats;
  ASSERT_TRUE(admin->Stats(Ctx().get(), {}, &stats).ok());
  EXPECT_GT(events.load(), 0u);
  EXPECT_LT(last_seq.load(), stats.wal_first_seq());
  EXPECT_NE(consumer_end.error_message().find("earliest available sequence"),
            std::string::npos);
}

}  // namespace
}  // namespace cairn::test
