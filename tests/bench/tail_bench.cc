// cairn-tail-bench: how fast and how promptly Replication.Tail delivers
// what cairnd commits.
//
// --mode=lag: a Tail from now, and --writers threads putting --value_bytes
// values at --rate writes/s in total (0: as fast as they can) for
// --seconds (with --lag_batches, Batches of --batch_ops puts). For every event
// received, lag = the time the client received it - its commit time (stamped by
// the server's write leader before the WAL append, so the lag includes the
// write's own commit). Client and server share the machine's clock. Prints the
// achieved write rate, the events received and the lag's p50/p99/p999/max. With
// --replica=HOST:PORT it also samples that replica's Admin.Stats every 50 ms:
// its lag in sequences and seconds (max and mean) and how long it took to catch
// up after the writes stopped.
//
// --mode=throughput: first writes --events changes as fast as it can, with
// --writers threads of Batch(--batch_ops) (the maximum Batch write rate),
// then --writers threads of unary Put for --seconds (the maximum Put
// rate); then one Tail from the first of those changes reads them all: the
// events/s of one stream against both write rates.
//
// Writes carry --durability (async by default). Output is one line per
// figure set, key=value. Exits non-zero if any call fails.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7070", "cairnd address");
ABSL_FLAG(std::string, replica, "", "a replica of --server to watch (lag)");
ABSL_FLAG(std::string, mode, "lag", "lag or throughput");
ABSL_FLAG(double, rate, 10000, "lag: total writes/s; 0 = as fast as possible");
ABSL_FLAG(int, writers, 4, "writer threads");
ABSL_FLAG(double, seconds, 5, "length of the write phase");
ABSL_FLAG(int, value_bytes, 100, "value size");
ABSL_FLAG(int64_t, events, 1000000, "throughput: changes to write first");
ABSL_FLAG(int, batch_ops, 100, "throughput: puts per Batch");
ABSL_FLAG(std::string, durability, "async", "sync or async");
ABSL_FLAG(bool, lag_batches, false,
          "lag: writers send Batch(--batch_ops) instead of Put (rate counts "
          "batches)");

namespace {

using cairn::v1::Admin;
using cairn::v1::KV;
using cairn::v1::Replication;

std::atomic<int> g_errors{0};

std::shared_ptr<grpc::Channel> NewChannel(const std::string& addr, int id) {
  grpc::ChannelArguments args;
  args.SetInt("cairn.bench_channel", id);  // a connection of its own
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(),
                                   args);
}

cairn::v1::Durability Durability() {
  return absl::GetFlag(FLAGS_durability) == "sync"
             ? cairn::v1::DURABILITY_SYNC
             : cairn::v1::DURABILITY_ASYNC;
}

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) {
    if (g_errors.fetch_add(1) < 5) {
      std::fprintf(stderr, "%s: %s\n", what, s.error_message().c_str());
    }
  }
}

std::string Key(uint64_t n) { return absl::StrFormat("bench%016d", n); }

// One Batch of `n` puts of keys first .. first + n - 1.
void PutBatch(KV::Stub* kv, grpc::ClientContext* ctx, uint64_t first, int n,
              const std::string& value) {
  cairn::v1::BatchRequest b;
  b.set_durability(Durability());
  for (int i = 0; i < n; ++i) {
    auto* p = b.add_ops()->mutable_put();
    p->set_key(Key(first + i));
    p->set_value(value);
  }
  cairn::v1::BatchResponse resp;
  Check(kv->Batch(ctx, b, &resp), "Batch");
}

uint64_t LastSeq(Admin::Stub* admin, cairn::v1::StatsResponse* out = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  cairn::v1::StatsResponse r;
  Check(admin->Stats(&ctx, {}, &r), "Stats");
  if (out != nullptr) *out = r;
  return r.last_seq();
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

// Unary puts (or, with `batches`, Batches of --batch_ops puts) from
// `threads` threads, paced to `rate` calls/s in total (0: no pacing), until
// `until`. Returns the number of keys written.
uint64_t RunPuts(const std::string& addr, int threads, double rate,
                 absl::Time until, uint64_t key_base, bool batches = false) {
  const int batch_ops = absl::GetFlag(FLAGS_batch_ops);
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> ts;
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      auto kv = KV::NewStub(NewChannel(addr, 100 + t));
      const absl::Duration gap =
          rate > 0 ? absl::Seconds(threads / rate) : absl::ZeroDuration();
      absl::Time next = absl::Now();
      for (uint64_t i = 0; absl::Now() < until; ++i) {
        if (rate > 0) {
          const absl::Time now = absl::Now();
          if (next > now) absl::SleepFor(next - now);
          next += gap;
        }
        const uint64_t key = key_base + i * threads + t;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        if (batches) {
          PutBatch(kv.get(), &ctx, key * batch_ops, batch_ops, value);
          done.fetch_add(batch_ops, std::memory_order_relaxed);
          continue;
        }
        cairn::v1::PutRequest req;
        req.set_key(Key(key));
        req.set_value(value);
        req.set_durability(Durability());
        cairn::v1::PutResponse resp;
        Check(kv->Put(&ctx, req, &resp), "Put");
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : ts) t.join();
  return done.load();
}

int RunLag() {
  const std::string addr = absl::GetFlag(FLAGS_server);
  auto admin = Admin::NewStub(NewChannel(addr, 1));
  auto repl = Replication::NewStub(NewChannel(addr, 2));
  grpc::ClientContext tail_ctx;
  cairn::v1::TailRequest treq;
  treq.set_from_now(true);
  auto tail = repl->Tail(&tail_ctx, treq);
  cairn::v1::TailResponse first;
  if (!tail->Read(&first)) {
    Check(tail->Finish(), "Tail");
    return 1;
  }
  std::vector<double> lags;
  lags.reserve(4'000'000);
  std::atomic<uint64_t> last_event{0};
  std::thread reader([&] {
    cairn::v1::TailResponse r;
    while (tail->Read(&r)) {
      const double now = absl::ToUnixMicros(absl::Now());
      for (const auto& e : r.events()) {
        lags.push_back(now - static_cast<double>(e.commit_time_unix_micros()));
        last_event.store(e.seq(), std::memory_order_release);
      }
    }
  });
  // The replica watcher.
  std::atomic<bool> watching{true};
  std::vector<double> replica_lag_seqs, replica_lag_secs;
  std::thread watcher;
  std::unique_ptr<Admin::Stub> radmin;
  if (!absl::GetFlag(FLAGS_replica).empty()) {
    radmin = Admin::NewStub(NewChannel(absl::GetFlag(FLAGS_replica), 3));
    watcher = std::thread([&] {
      while (watching.load()) {
        cairn::v1::StatsResponse s;
        LastSeq(radmin.get(), &s);
        replica_lag_seqs.push_back(static_cast<double>(s.replica_lag_seqs()));
        replica_lag_secs.push_back(s.replica_lag_seconds());
        absl::SleepFor(absl::Milliseconds(50));
      }
    });
  }
  const double rate = absl::GetFlag(FLAGS_rate);
  const absl::Time start = absl::Now();
  const absl::Time until = start + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  const bool batches = absl::GetFlag(FLAGS_lag_batches);
  const uint64_t puts =
      RunPuts(addr, absl::GetFlag(FLAGS_writers), rate, until, 0, batches);
  const double write_s = absl::ToDoubleSeconds(absl::Now() - start);
  const uint64_t end_seq = LastSeq(admin.get());
  // Wait (bounded) for the stream to deliver the last write.
  const absl::Time drain_until = absl::Now() + absl::Seconds(60);
  while (last_event.load(std::memory_order_acquire) < end_seq &&
         absl::Now() < drain_until) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  const double tail_behind_ms =
      absl::ToDoubleMilliseconds(absl::Now() - start) - write_s * 1000;
  double catch_up_ms = 0;
  if (radmin != nullptr) {
    const absl::Time t0 = absl::Now();
    while (LastSeq(radmin.get()) < end_seq &&
           absl::Now() < t0 + absl::Seconds(60)) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    catch_up_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
    watching.store(false);
    watcher.join();
  }
  tail_ctx.TryCancel();
  reader.join();
  tail->Finish();
  const uint64_t delivered = lags.size();
  std::printf(
      "mode=lag durability=%s writes=%s target_rate=%s writers=%d "
      "write_keys/s=%.0f "
      "events=%llu delivered_all=%s drain_after_writes_ms=%.1f "
      "lag_p50_us=%.0f lag_p99_us=%.0f lag_p999_us=%.0f lag_max_us=%.0f\n",
      absl::GetFlag(FLAGS_durability).c_str(),
      batches ? absl::StrCat("batch", absl::GetFlag(FLAGS_batch_ops)).c_str()
              : "put",
      rate > 0 ? absl::StrCat(rate).c_str() : "max",
      absl::GetFlag(FLAGS_writers), puts / write_s,
      static_cast<unsigned long long>(delivered),
      last_event.load() >= end_seq ? "yes" : "NO", tail_behind_ms,
      Percentile(lags, 0.5), Percentile(lags, 0.99), Percentile(lags, 0.999),
      lags.empty() ? 0 : *std::max_element(lags.begin(), lags.end()));
  if (radmin != nullptr) {
    double sum = 0;
    for (double v : replica_lag_seqs) sum += v;
    std::printf(
        "replica samples=%zu lag_seqs_max=%.0f lag_seqs_mean=%.1f "
        "lag_seconds_max=%.3f catch_up_after_writes_ms=%.1f\n",
        replica_lag_seqs.size(),
        replica_lag_seqs.empty() ? 0
                                 : *std::max_element(replica_lag_seqs.begin(),
                                                     replica_lag_seqs.end()),
        replica_lag_seqs.empty() ? 0 : sum / replica_lag_seqs.size(),
        replica_lag_secs.empty() ? 0
                                 : *std::max_element(replica_lag_secs.begin(),
                                                     replica_lag_secs.end()),
        catch_up_ms);
  }
  return g_errors.load() == 0 && last_event.load() >= end_seq ? 0 : 1;
}

int RunThroughput() {
  const std::string addr = absl::GetFlag(FLAGS_server);
  auto admin = Admin::NewStub(NewChannel(addr, 1));
  const uint64_t from = LastSeq(admin.get()) + 1;
  const int writers = absl::GetFlag(FLAGS_writers);
  const int ops = absl::GetFlag(FLAGS_batch_ops);
  const int64_t total = absl::GetFlag(FLAGS_events);
  const std::string value(absl::GetFlag(FLAGS_value_bytes), 'v');
  std::atomic<int64_t> next{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> ts;
  for (int t = 0; t < writers; ++t) {
    ts.emplace_back([&, t] {
      auto kv = KV::NewStub(NewChannel(addr, 200 + t));
      while (true) {
        const int64_t first = next.fetch_add(ops);
        if (first >= total) break;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
        PutBatch(kv.get(), &ctx, first, ops, value);
      }
    });
  }
  for (auto& t : ts) t.join();
  const double batch_s = absl::ToDoubleSeconds(absl::Now() - start);
  const uint64_t after_batches = LastSeq(admin.get());
  start = absl::Now();
  const uint64_t puts =
      RunPuts(addr, writers, 0,
              start + absl::Seconds(absl::GetFlag(FLAGS_seconds)), 1u << 40);
  const double put_s = absl::ToDoubleSeconds(absl::Now() - start);
  const uint64_t end = LastSeq(admin.get());

  auto repl = Replication::NewStub(NewChannel(addr, 2));
  grpc::ClientContext ctx;
  cairn::v1::TailRequest req;
  req.set_from_seq(from);
  auto tail = repl->Tail(&ctx, req);
  cairn::v1::TailResponse r;
  uint64_t events = 0, last = 0, bytes = 0;
  start = absl::Now();
  while (last < end && tail->Read(&r)) {
    events += r.events_size();
    bytes += r.ByteSizeLong();
    if (r.events_size() > 0) last = r.events().rbegin()->seq();
  }
  const double tail_s = absl::ToDoubleSeconds(absl::Now() - start);
  ctx.TryCancel();
  while (tail->Read(&r)) {
  }
  tail->Finish();
  std::printf(
      "mode=throughput durability=%s value_bytes=%d writers=%d "
      "batch_ops=%d batch_keys/s=%.0f put_ops/s=%.0f tail_events=%llu "
      "tail_events/s=%.0f tail_MB/s=%.1f complete=%s\n",
      absl::GetFlag(FLAGS_durability).c_str(), absl::GetFlag(FLAGS_value_bytes),
      writers, ops, (after_batches - from + 1) / batch_s, puts / put_s,
      static_cast<unsigned long long>(events), events / tail_s,
      bytes / tail_s / 1e6, last >= end ? "yes" : "NO");
  return g_errors.load() == 0 && last >= end ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  int rc = 2;
  if (mode == "lag") {
    rc = RunLag();
  } else if (mode == "throughput") {
    rc = RunThroughput();
  } else {
    std::fprintf(stderr, "--mode: lag or throughput, not '%s'\n", mode.c_str());
  }
  if (g_errors.load() > 0) {
    std::fprintf(stderr, "INVALID: %d calls failed\n", g_errors.load());
    return 1;
  }
  return rc;
}
