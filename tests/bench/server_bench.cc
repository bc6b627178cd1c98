// cairn-server-bench: throughput and latency of cairnd over gRPC, measured
// against the same server's cheapest RPC, so that the cost of the key-value
// work can be told apart from the cost of gRPC on the machine.
//
// A small asynchronous driver keeps exactly --inflight requests outstanding:
// each in-flight "slot" sends its next request the moment its previous one
// completes. Slots are spread over --channels channels (each with distinct
// channel arguments and a local subchannel pool, so each has a TCP
// connection of its own) and over --pollers completion queues, each drained
// by one thread (2 by default: the machine we measure on has 2 cores, shared
// with the server).
//
// Workloads (--workload, one per process):
//   noop   grpc.health.v1.Health/Check: gRPC's own cost, the limit of any RPC
//   put    KV.Put of --value_bytes to a random one of --keys 16-byte keys
//   get    KV.Get of a random key; --preload first writes every key (Batch)
//   batch  KV.Batch of --batch_ops puts to random keys
// Writes carry --durability (sync: acknowledged after fdatasync; async:
// acknowledged once in the mapped WAL). Keys are cairn-dbbench's: the key
// number big-endian in the first 8 bytes, then '0's.
//
// Each --inflight level (a comma-separated list, run in turn on the same
// channels) runs --warmup_seconds, then is measured for --seconds, then
// drains. A request counts when it completes inside the measured window;
// its latency is from just before the call is started to its completion as
// seen by the poller. One line per level:
//   workload=put durability=sync inflight=64 channels=4 window_s=5.00
//   ops=... ops/s=... keys/s=... p50_us=... p99_us=... p999_us=...
//   max_us=... client_cores=... errors=0
// (for batch, ops are batches; client_cores: this process's CPU time over
// the level's wall time, since on one machine the client competes with the
// server for the cores). Any non-OK status, in the warm-up, the
// window or the drain, counts as an error and the line says INVALID: a run
// with errors is not a figure to publish. The process exits non-zero then.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench_util.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "latency_histogram.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7070", "cairnd's gRPC address");
ABSL_FLAG(std::string, workload, "noop", "noop, put, get or batch");
ABSL_FLAG(std::string, durability, "sync",
          "durability sent with each write: sync, async or default");
ABSL_FLAG(std::string, inflight, "1,16,64,256",
          "requests kept in flight; a list runs each level in turn");
ABSL_FLAG(int, channels, 4, "gRPC channels (one connection each)");
ABSL_FLAG(int, pollers, 2, "completion queues, one polling thread each");
ABSL_FLAG(double, seconds, 5, "measured window of each level");
ABSL_FLAG(double, warmup_seconds, 1, "warm-up before each window");
ABSL_FLAG(int64_t, keys, 100000, "key space: key numbers 0 .. keys-1");
ABSL_FLAG(int, value_bytes, 100, "bytes of each value");
ABSL_FLAG(int, batch_ops, 100, "puts per Batch request");
ABSL_FLAG(bool, preload, false,
          "before the runs, write every key once (Batch of 1000, async)");
ABSL_FLAG(double, connect_timeout_seconds, 10,
          "how long to wait for the server to answer a health check");
ABSL_FLAG(double, rpc_timeout_seconds, 30, "deadline of each request");
ABSL_FLAG(uint64_t, seed, 1, "seed of the key and value choices");

namespace cairn::bench {
namespace {

using Clock = std::chrono::steady_clock;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "cairn-server-bench: %s\n", what.c_str());
  std::fflush(stdout);
  std::_Exit(2);  // other threads may still be running: skip destructors
}

enum class Workload { kNoop, kPut, kGet, kBatch };

constexpr size_t kKeyBytes = 16;

// cairn-dbbench's keys.
void EncodeKey(uint64_t n, std::string* key) {
  key->resize(kKeyBytes);
  bench::EncodeKey(n, key);
}

struct Options {
  std::string target;
  Workload workload = Workload::kNoop;
  std::string workload_name;
  v1::Durability durability = v1::DURABILITY_SYNC;
  std::string durability_name;
  int channels = 4;
  int pollers = 2;
  Clock::duration warmup{}, window{}, rpc_timeout{};
  uint64_t keys = 0;
  int value_bytes = 0;
  int batch_ops = 0;
  uint64_t seed = 1;
};

// Random values: slices at random offsets of a buffer of random bytes
// (incompressible; the server does not compress by default anyway).
class ValueSource {
 public:
  ValueSource(int value_bytes, uint64_t seed) : bytes_(value_bytes) {
    Random rnd(seed ^ 0x5eed);
    buffer_.resize(kBufferBytes + value_bytes);
    for (char& c : buffer_) c = static_cast<char>(rnd.Next());
  }
  std::string_view Pick(Random* rnd) const {
    return std::string_view(buffer_).substr(rnd->Uniform(kBufferBytes), bytes_);
  }

 private:
  static constexpr size_t kBufferBytes = 1 << 20;
  size_t bytes_;
  std::string buffer_;
};

// The figures of one inflight level.
struct LevelResult {
  int inflight = 0;
  double window_s = 0;
  uint64_t ops = 0;
  uint64_t errors = 0;
  uint64_t misses = 0;  // get: keys not found (a preloaded space has none)
  std::string first_error;
  LatencyHistogram hist;
  // The client's CPU time over the level (warm-up and drain included),
  // in cores: what it took from the server on a shared machine.
  double client_cores = 0;
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Drives one workload: owns the channels, the completion queues and their
// threads. Run() is called from one thread at a time; the slots of a level
// are only touched by the poller of their completion queue once started.
class Driver {
 public:
  explicit Driver(const Options& o) : o_(o), values_(o.value_bytes, o.seed) {
    for (int i = 0; i < o_.channels; ++i) {
      grpc::ChannelArguments args;
      // Distinct arguments and a private subchannel pool: a connection per
      // channel, rather than every channel sharing one.
      args.SetInt("cairn.bench.channel_id", i);
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetMaxReceiveMessageSize(64 << 20);
      auto channel = grpc::CreateCustomChannel(
          o_.target, grpc::InsecureChannelCredentials(), args);
      channels_.push_back(channel);
      health_.push_back(Health::NewStub(channel));
      kv_.push_back(v1::KV::NewStub(channel));
    }
    for (int i = 0; i < o_.pollers; ++i) {
      pollers_.push_back(std::make_unique<Poller>());
    }
    for (auto& p : pollers_) {
      Poller* raw = p.get();
      p->thread = std::thread([this, raw] { Poll(raw); });
    }
  }

  ~Driver() {
    for (auto& p : pollers_) p->cq.Shutdown();
    for (auto& p : pollers_) p->thread.join();
  }

  // Waits until the server answers a health check with SERVING on every
  // channel (so that connection set-up is not measured).
  void WaitReady(Clock::duration timeout) {
    const auto deadline = std::chrono::system_clock::now() + timeout;
    for (size_t i = 0; i < channels_.size(); ++i) {
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true);
      ctx.set_deadline(deadline);
      HealthCheckRequest req;
      HealthCheckResponse resp;
      grpc::Status s = health_[i]->Check(&ctx, req, &resp);
      if (!s.ok() || resp.status() != HealthCheckResponse::SERVING) {
        Die(absl::StrCat("server at ", o_.target, " not ready: ",
                         s.ok() ? "not SERVING" : s.error_message()));
      }
    }
  }

  // Writes every key once, in Batches of 1000 puts, asynchronous durability.
  void Preload() {
    constexpr uint64_t kPerBatch = 1000;
    Random rnd(o_.seed ^ 0x9e10ad);
    const auto start = Clock::now();
    for (uint64_t first = 0; first < o_.keys; first += kPerBatch) {
      v1::BatchRequest req;
      req.set_durability(v1::DURABILITY_ASYNC);
      for (uint64_t k = first; k < std::min(o_.keys, first + kPerBatch); ++k) {
        v1::PutOp* put = req.add_ops()->mutable_put();
        EncodeKey(k, put->mutable_key());
        std::string_view v = values_.Pick(&rnd);
        put->mutable_value()->assign(v.data(), v.size());
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + o_.rpc_timeout);
      v1::BatchResponse resp;
      grpc::Status s = kv_[0]->Batch(&ctx, req, &resp);
      if (!s.ok() || !resp.succeeded()) {
        Die(absl::StrCat("preload: ",
                         s.ok() ? "batch not applied" : s.error_message()));
      }
    }
    std::printf("# preloaded %llu keys in %.2f s\n",
                static_cast<unsigned long long>(o_.keys),
                std::chrono::duration<double>(Clock::now() - start).count());
    std::fflush(stdout);
  }

  LevelResult Run(int inflight) {
    for (auto& p : pollers_) p->Reset();
    std::vector<std::unique_ptr<Slot>> slots;
    for (int i = 0; i < inflight; ++i) {
      auto s = std::make_unique<Slot>();
      s->channel = i % o_.channels;
      s->poller = pollers_[i % o_.pollers].get();
      s->rnd =
          Random(o_.seed * 1000003 + static_cast<uint64_t>(inflight) * 7919 +
                 static_cast<uint64_t>(i));
      PrepareRequests(s.get());
      slots.push_back(std::move(s));
    }
    const double cpu_start = CpuSeconds();
    const auto start = Clock::now();
    window_begin_.store(start + o_.warmup, std::memory_order_relaxed);
    window_end_.store(start + o_.warmup + o_.window, std::memory_order_relaxed);
    outstanding_.store(inflight, std::memory_order_release);
    for (auto& s : slots) Issue(s.get());

    {
      std::unique_lock<std::mutex> lock(drained_mu_);
      drained_cv_.wait(lock, [this] {
        return outstanding_.load(std::memory_order_acquire) == 0;
      });
    }

    LevelResult r;
    r.client_cores =
        (CpuSeconds() - cpu_start) /
        std::chrono::duration<double>(Clock::now() - start).count();
    r.inflight = inflight;
    r.window_s = std::chrono::duration<double>(o_.window).count();
    for (auto& p : pollers_) {
      r.ops += p->ops;
      r.errors += p->errors;
      r.misses += p->misses;
      if (r.first_error.empty()) r.first_error = p->first_error;
      r.hist.Merge(p->hist);
    }
    return r;
  }

 private:
  // Everything one completion queue's thread owns; padded apart so that
  // the two threads do not share cache lines.
  struct alignas(64) Poller {
    grpc::CompletionQueue cq;
    std::thread thread;
    LatencyHistogram hist;
    uint64_t ops = 0, errors = 0, misses = 0;
    std::string first_error;
    void Reset() {
      hist = LatencyHistogram();
      ops = errors = misses = 0;
      first_error.clear();
    }
  };

  // One in-flight request, reused for each of its successors.
  struct Slot {
    int channel = 0;
    Poller* poller = nullptr;
    Random rnd{0};
    Clock::time_point sent;
    std::unique_ptr<grpc::ClientContext> ctx;
    grpc::Status status;
    HealthCheckRequest health_req;
    HealthCheckResponse health_resp;
    std::unique_ptr<grpc::ClientAsyncResponseReader<HealthCheckResponse>>
        health_call;
    v1::PutRequest put_req;
    v1::PutResponse put_resp;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::PutResponse>> put_call;
    v1::GetRequest get_req;
    v1::GetResponse get_resp;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetResponse>> get_call;
    v1::BatchRequest batch_req;
    v1::BatchResponse batch_resp;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::BatchResponse>>
        batch_call;
  };

  void PrepareRequests(Slot* s) {
    s->put_req.set_durability(o_.durability);
    s->batch_req.set_durability(o_.durability);
    if (o_.workload == Workload::kBatch) {
      for (int i = 0; i < o_.batch_ops; ++i)
        s->batch_req.add_ops()->mutable_put();
    }
  }

  void SetValue(std::string* value, Random* rnd) const {
    std::string_view v = values_.Pick(rnd);
    value->assign(v.data(), v.size());  // reuses the slot's capacity
  }

  // Fills in the slot's next request (fresh key and value) and starts it.
  void Issue(Slot* s) {
    s->ctx = std::make_unique<grpc::ClientContext>();
    s->ctx->set_deadline(std::chrono::system_clock::now() + o_.rpc_timeout);
    s->status = grpc::Status();
    grpc::CompletionQueue* cq = &s->poller->cq;
    switch (o_.workload) {
      case Workload::kNoop:
        s->sent = Clock::now();
        s->health_call = health_[s->channel]->PrepareAsyncCheck(
            s->ctx.get(), s->health_req, cq);
        s->health_call->StartCall();
        s->health_call->Finish(&s->health_resp, &s->status, s);
        break;
      case Workload::kPut:
        EncodeKey(s->rnd.Uniform(o_.keys), s->put_req.mutable_key());
        SetValue(s->put_req.mutable_value(), &s->rnd);
        s->sent = Clock::now();
        s->put_call =
            kv_[s->channel]->PrepareAsyncPut(s->ctx.get(), s->put_req, cq);
        s->put_call->StartCall();
        s->put_call->Finish(&s->put_resp, &s->status, s);
        break;
      case Workload::kGet:
        EncodeKey(s->rnd.Uniform(o_.keys), s->get_req.mutable_key());
        s->sent = Clock::now();
        s->get_call =
            kv_[s->channel]->PrepareAsyncGet(s->ctx.get(), s->get_req, cq);
        s->get_call->StartCall();
        s->get_call->Finish(&s->get_resp, &s->status, s);
        break;
      case Workload::kBatch:
        for (v1::BatchOp& op : *s->batch_req.mutable_ops()) {
          EncodeKey(s->rnd.Uniform(o_.keys), op.mutable_put()->mutable_key());
          SetValue(op.mutable_put()->mutable_value(), &s->rnd);
        }
        s->sent = Clock::now();
        s->batch_call =
            kv_[s->channel]->PrepareAsyncBatch(s->ctx.get(), s->batch_req, cq);
        s->batch_call->StartCall();
        s->batch_call->Finish(&s->batch_resp, &s->status, s);
        break;
    }
  }

  void Poll(Poller* p) {
    void* tag = nullptr;
    bool ok = false;
    while (p->cq.Next(&tag, &ok)) Complete(static_cast<Slot*>(tag));
  }

  void Complete(Slot* s) {
    const auto now = Clock::now();
    Poller* p = s->poller;
    std::string error;
    if (!s->status.ok()) {
      error =
          absl::StrCat(s->status.error_code(), ": ", s->status.error_message());
    } else if (o_.workload == Workload::kBatch && !s->batch_resp.succeeded()) {
      error = "batch not applied";
    } else if (o_.workload == Workload::kNoop &&
               s->health_resp.status() != HealthCheckResponse::SERVING) {
      error = "health: not SERVING";
    }
    if (!error.empty()) {
      if (p->errors++ == 0) p->first_error = error;
    } else if (now >= window_begin_.load(std::memory_order_relaxed) &&
               now < window_end_.load(std::memory_order_relaxed)) {
      ++p->ops;
      p->hist.Add(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - s->sent)
              .count()));
      if (o_.workload == Workload::kGet && !s->get_resp.found()) ++p->misses;
    }
    if (now < window_end_.load(std::memory_order_relaxed)) {
      Issue(s);
      return;
    }
    if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(drained_mu_);
      drained_cv_.notify_all();
    }
  }

  const Options o_;
  const ValueSource values_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<Health::Stub>> health_;
  std::vector<std::unique_ptr<v1::KV::Stub>> kv_;
  std::vector<std::unique_ptr<Poller>> pollers_;
  std::atomic<Clock::time_point> window_begin_{}, window_end_{};
  std::atomic<int> outstanding_{0};
  std::mutex drained_mu_;
  std::condition_variable drained_cv_;
};

Clock::duration Seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(s));
}

Options ParseOptions() {
  Options o;
  o.target = absl::GetFlag(FLAGS_target);
  o.workload_name = absl::GetFlag(FLAGS_workload);
  if (o.workload_name == "noop") {
    o.workload = Workload::kNoop;
  } else if (o.workload_name == "put") {
    o.workload = Workload::kPut;
  } else if (o.workload_name == "get") {
    o.workload = Workload::kGet;
  } else if (o.workload_name == "batch") {
    o.workload = Workload::kBatch;
  } else {
    Die("--workload must be noop, put, get or batch");
  }
  const std::string d = absl::GetFlag(FLAGS_durability);
  if (d == "sync") {
    o.durability = v1::DURABILITY_SYNC;
  } else if (d == "async") {
    o.durability = v1::DURABILITY_ASYNC;
  } else if (d == "default") {
    o.durability = v1::DURABILITY_DEFAULT;
  } else {
    Die("--durability must be sync, async or default");
  }
  // Reads and the no-op carry no durability: print "-" rather than a
  // setting that had no effect.
  const bool writes =
      o.workload == Workload::kPut || o.workload == Workload::kBatch;
  o.durability_name = writes ? d : "-";
  o.channels = absl::GetFlag(FLAGS_channels);
  o.pollers = absl::GetFlag(FLAGS_pollers);
  if (o.channels < 1 || o.pollers < 1)
    Die("--channels and --pollers must be >= 1");
  o.warmup = Seconds(absl::GetFlag(FLAGS_warmup_seconds));
  o.window = Seconds(absl::GetFlag(FLAGS_seconds));
  o.rpc_timeout = Seconds(absl::GetFlag(FLAGS_rpc_timeout_seconds));
  if (o.window <= Clock::duration::zero()) Die("--seconds must be > 0");
  const int64_t keys = absl::GetFlag(FLAGS_keys);
  if (keys < 1) Die("--keys must be >= 1");
  o.keys = static_cast<uint64_t>(keys);
  o.value_bytes = absl::GetFlag(FLAGS_value_bytes);
  o.batch_ops = absl::GetFlag(FLAGS_batch_ops);
  if (o.value_bytes < 0 || o.batch_ops < 1) {
    Die("--value_bytes must be >= 0 and --batch_ops >= 1");
  }
  o.seed = absl::GetFlag(FLAGS_seed);
  return o;
}

std::vector<int> ParseInflight() {
  std::vector<int> levels;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_inflight), ',', absl::SkipEmpty())) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1) {
      Die(absl::StrCat("--inflight: '", part, "' is not a positive integer"));
    }
    levels.push_back(n);
  }
  if (levels.empty()) Die("--inflight is empty");
  return levels;
}

void Print(const Options& o, const LevelResult& r) {
  const double ops_s = static_cast<double>(r.ops) / r.window_s;
  std::string keys_s = "-";
  if (o.workload == Workload::kBatch) {
    keys_s = absl::StrCat(static_cast<uint64_t>(ops_s * o.batch_ops));
  } else if (o.workload != Workload::kNoop) {
    keys_s = absl::StrCat(static_cast<uint64_t>(ops_s));
  }
  std::string line = absl::StrFormat(
      "workload=%s durability=%s inflight=%d channels=%d window_s=%.2f ops=%u "
      "ops/s=%.0f keys/s=%s p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
      "client_cores=%.2f errors=%u",
      o.workload_name, o.durability_name, r.inflight, o.channels, r.window_s,
      r.ops, ops_s, keys_s, r.hist.Percentile(50) / 1e3,
      r.hist.Percentile(99) / 1e3, r.hist.Percentile(99.9) / 1e3,
      static_cast<double>(r.hist.max()) / 1e3, r.client_cores, r.errors);
  if (o.workload == Workload::kGet)
    absl::StrAppend(&line, " misses=", r.misses);
  if (r.errors > 0) {
    absl::StrAppend(&line, " INVALID first_error=\"", r.first_error, "\"");
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "cairnd throughput and latency over gRPC; see "
      "tests/bench/server_bench.cc");
  absl::ParseCommandLine(argc, argv);
  const Options o = ParseOptions();
  const std::vector<int> levels = ParseInflight();
  Driver driver(o);
  driver.WaitReady(Seconds(absl::GetFlag(FLAGS_connect_timeout_seconds)));
  if (absl::GetFlag(FLAGS_preload)) driver.Preload();
  bool errors = false;
  for (int inflight : levels) {
    LevelResult r = driver.Run(inflight);
    Print(o, r);
    errors |= r.errors > 0;
  }
  return errors ? 1 : 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) { return cairn::bench::Main(argc, argv); }
