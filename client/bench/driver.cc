#include "driver.h"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/client/channel.h"
#include "tail_streams.h"

namespace cairn::bench {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// Keys per preload Batch: at most 1000, and about 4 MiB of keys and values
// (cairnd's default --max_batch_bytes is 16 MiB).
constexpr uint64_t kPreloadBatchKeys = 1000;
constexpr uint64_t kPreloadBatchBytes = uint64_t{4} << 20;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

const char* ChannelStateName(grpc_connectivity_state s) {
  switch (s) {
    case GRPC_CHANNEL_IDLE:
      return "idle";
    case GRPC_CHANNEL_CONNECTING:
      return "connecting";
    case GRPC_CHANNEL_READY:
      return "ready";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "connection failing";
    case GRPC_CHANNEL_SHUTDOWN:
      return "shut down";
  }
  return "?";
}

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

}  // namespace

// Everything one completion queue's thread owns; aligned apart so that the
// pollers do not share cache lines.
struct alignas(64) Driver::Poller {
  grpc::CompletionQueue cq;
  std::thread thread;
  // For the progress line (written by this poller only).
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> failed{0};
  // This level's figures; the poller's alone while the level runs.
  LevelResult stats;
  uint64_t max_seq = 0;  // highest sequence a write of this level committed
  Clock::time_point last_measured{};  // count mode: end of the window

  void Reset() {
    completed.store(0, std::memory_order_relaxed);
    failed.store(0, std::memory_order_relaxed);
    stats = LevelResult();
    max_seq = 0;
    last_measured = Clock::time_point();
  }
};

// One request in flight, reused for each of its successors.
struct Driver::Slot {
  Poller* poller = nullptr;
  ChannelStubs* stubs = nullptr;
  Random rnd{0};
  std::unique_ptr<Operation> op;
  Clock::time_point sent;
  bool measured = false;  // count mode: issued after the warm-up
  // Set while a paced request waits for its send time (its event is the
  // slot's one outstanding event then).
  std::unique_ptr<grpc::Alarm> alarm;
};

Driver::Driver(const BenchConfig& config, const client::ClientOptions& options)
    : config_(config),
      options_(options),
      keys_(config.distribution == Distribution::kZipfian
                ? KeyGenerator::Zipfian(config.keys, config.zipf_theta,
                                        config.seed)
                : KeyGenerator::Uniform(config.keys)),
      values_(static_cast<size_t>(config.value_bytes), config.seed),
      env_{&config_, &keys_, &values_},
      send_interval_(
          config.rate > 0
              ? std::max<Clock::duration>(
                    Clock::duration(1),
                    std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(1 / config.rate)))
              : Clock::duration::zero()) {}

absl::StatusOr<std::unique_ptr<Driver>> Driver::Create(
    const BenchConfig& config, const client::ClientOptions& options) {
  std::unique_ptr<Driver> d(new Driver(config, options));
  for (int i = 0; i < config.channels; ++i) {
    grpc::ChannelArguments args;
    // Distinct arguments and a private subchannel pool: a connection per
    // channel, rather than every channel sharing one.
    args.SetInt("cairn.bench.channel_id", i);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        client::CreateChannel(options, &args);
    if (!channel.ok()) return channel.status();
    auto stubs = std::make_unique<ChannelStubs>();
    stubs->health = grpc::health::v1::Health::NewStub(*channel);
    stubs->kv = v1::KV::NewStub(*channel);
    d->channels_.push_back(*std::move(channel));
    d->stubs_.push_back(std::move(stubs));
  }
  for (int i = 0; i < config.pollers; ++i) {
    d->pollers_.push_back(std::make_unique<Poller>());
  }
  for (auto& p : d->pollers_) {
    Poller* raw = p.get();
    Driver* driver = d.get();
    p->thread = std::thread([driver, raw] { driver->Poll(raw); });
  }
  return d;
}

Driver::~Driver() {
  for (auto& p : pollers_) p->cq.Shutdown();
  for (auto& p : pollers_) p->thread.join();
}

absl::Status Driver::WaitReady() {
  const absl::Duration timeout = options_.default_timeout;
  const auto deadline = DeadlineIn(timeout);
  for (const auto& channel : channels_) {
    if (!channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrCat(
          "cannot reach ", options_.target, " within ",
          absl::FormatDuration(timeout), " (",
          ChannelStateName(channel->GetState(false)), "): ",
          options_.tls.enabled
              ? "is cairnd listening there with TLS, and do the --tls-* "
                "files match its certificates?"
              : "is cairnd listening there (without TLS; else give "
                "--tls-ca)?"));
    }
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  client::AddCallCredentials(options_, &ctx);
  HealthCheckResponse response;
  grpc::Status s =
      stubs_[0]->health->Check(&ctx, HealthCheckRequest(), &response);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach ", options_.target, ": health check: ",
                     StatusCodeName(s.error_code()), ": ", s.error_message()));
  }
  if (response.status() != HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat(options_.target, " is not SERVING"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Duration> Driver::Preload() {
  const uint64_t entry_bytes = static_cast<uint64_t>(config_.key_bytes) +
                               static_cast<uint64_t>(config_.value_bytes);
  const uint64_t per_batch = std::clamp<uint64_t>(
      kPreloadBatchBytes / std::max<uint64_t>(1, entry_bytes), 1,
      kPreloadBatchKeys);
  const bool counters = config_.workload == Workload::kMerge;
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  absl::Status error;
  const absl::Time start = absl::Now();
  // One thread per channel, each sending one Batch at a time.
  std::vector<std::thread> threads;
  for (size_t t = 0; t < stubs_.size(); ++t) {
    threads.emplace_back([&, t] {
      Random rnd(config_.seed ^ (0x9e10ad + t));
      v1::BatchRequest request;
      request.set_durability(v1::DURABILITY_ASYNC);
      while (true) {
        const uint64_t first = next.fetch_add(per_batch);
        if (first >= config_.keys) return;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!error.ok()) return;
        }
        request.clear_ops();
        const uint64_t end = std::min(config_.keys, first + per_batch);
        for (uint64_t k = first; k < end; ++k) {
          v1::PutOp* put = request.add_ops()->mutable_put();
          put->mutable_key()->resize(static_cast<size_t>(config_.key_bytes));
          EncodeKey(k, put->mutable_key());
          if (counters) {
            put->set_value("0");
          } else {
            values_.Fill(&rnd, put->mutable_value());
          }
        }
        grpc::ClientContext ctx;
        ctx.set_deadline(DeadlineIn(options_.default_timeout));
        client::AddCallCredentials(options_, &ctx);
        v1::BatchResponse response;
        grpc::Status s = stubs_[t]->kv->Batch(&ctx, request, &response);
        if (!s.ok() || !response.succeeded()) {
          const std::string what =
              absl::StrCat("preload: Batch of keys ", first, "..", end - 1);
          std::lock_guard<std::mutex> lock(mu);
          if (!error.ok()) return;
          error =
              s.ok()
                  ? absl::AbortedError(absl::StrCat(what, ": not applied"))
                  : absl::Status(
                        static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(what, ": ", StatusCodeName(s.error_code()),
                                     ": ", s.error_message()));
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (!error.ok()) return error;
  return absl::Now() - start;
}

LevelResult Driver::RunLevel(
    int inflight, const std::function<void(const LiveStatus&)>& tick) {
  for (auto& p : pollers_) p->Reset();
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < inflight; ++i) {
    auto s = std::make_unique<Slot>();
    s->poller = pollers_[static_cast<size_t>(i) % pollers_.size()].get();
    s->stubs = stubs_[static_cast<size_t>(i) % stubs_.size()].get();
    s->rnd =
        Random(config_.seed * 1000003 + static_cast<uint64_t>(inflight) * 7919 +
               static_cast<uint64_t>(i));
    s->op = NewOperation(env_, s->stubs);
    slots.push_back(std::move(s));
  }
  const double cpu_start = CpuSeconds();

  LevelResult result;
  std::unique_ptr<TailStreams> tail;
  bool tail_ok = true;
  if (config_.workload == Workload::kTail) {
    tail = std::make_unique<TailStreams>(options_);
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    channels.reserve(static_cast<size_t>(config_.tail_streams));
    for (int i = 0; i < config_.tail_streams; ++i) {
      channels.push_back(channels_[static_cast<size_t>(i) % channels_.size()]);
    }
    tail_ok = tail->Open(channels).ok();  // Stop() counts the error
  }

  const bool count_mode = config_.count > 0;
  const absl::Time start_time = absl::Now();
  const Clock::time_point start = Clock::now();
  const Clock::time_point window_begin =
      start + absl::ToChronoNanoseconds(config_.warmup);
  const Clock::time_point window_end =
      count_mode ? Clock::time_point::max()
                 : window_begin + absl::ToChronoNanoseconds(config_.duration);
  if (tail != nullptr) {
    tail->SetWindow(start_time + config_.warmup,
                    count_mode
                        ? absl::InfiniteFuture()
                        : start_time + config_.warmup + config_.duration);
  }
  window_begin_.store(window_begin);
  window_end_.store(window_end);
  next_send_.store(start.time_since_epoch().count());
  issued_measured_.store(0);
  tail_ = tail.get();

  if (tail_ok) {
    active_slots_.store(inflight, std::memory_order_release);
    for (auto& s : slots) Next(s.get());
    std::unique_lock<std::mutex> lock(retired_mu_);
    while (!retired_cv_.wait_for(lock, std::chrono::seconds(1), [this] {
      return active_slots_.load(std::memory_order_acquire) == 0;
    })) {
      lock.unlock();
      tick(Live(start));
      lock.lock();
    }
  }

  result.inflight = inflight;
  uint64_t max_seq = 0;
  Clock::time_point last_measured = window_begin;
  for (auto& p : pollers_) {
    LevelResult& r = p->stats;
    result.ops += r.ops;
    result.reads += r.reads;
    result.writes += r.writes;
    result.keys += r.keys;
    result.misses += r.misses;
    result.latency.Merge(r.latency);
    result.errors.Merge(r.errors);
    max_seq = std::max(max_seq, p->max_seq);
    last_measured = std::max(last_measured, p->last_measured);
  }
  result.window_s =
      std::chrono::duration<double>((count_mode ? last_measured : window_end) -
                                    window_begin)
          .count();

  if (tail != nullptr) {
    if (tail_ok &&
        !tail->WaitDelivered(max_seq, absl::Now() + options_.default_timeout)) {
      result.errors.Add(
          static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED),
          absl::StrCat("tail: the streams did not deliver sequence ", max_seq,
                       " (the level's last write) within ",
                       absl::FormatDuration(options_.default_timeout)));
    }
    tail_ = nullptr;
    tail->Stop(&result);
  }
  const double wall =
      std::chrono::duration<double>(Clock::now() - start).count();
  result.client_cores = wall > 0 ? (CpuSeconds() - cpu_start) / wall : 0;
  return result;
}

LiveStatus Driver::Live(Clock::time_point start) const {
  const Clock::time_point now = Clock::now();
  LiveStatus live;
  live.elapsed_s = std::chrono::duration<double>(now - start).count();
  for (const auto& p : pollers_) {
    live.completed += p->completed.load(std::memory_order_relaxed);
    live.failed += p->failed.load(std::memory_order_relaxed);
  }
  live.issued_measured =
      std::min(issued_measured_.load(std::memory_order_relaxed), config_.count);
  if (now < window_begin_.load(std::memory_order_relaxed)) {
    live.phase = LiveStatus::Phase::kWarmup;
  } else if (config_.count > 0
                 ? live.issued_measured < config_.count
                 : now < window_end_.load(std::memory_order_relaxed)) {
    live.phase = LiveStatus::Phase::kMeasuring;
  } else {
    live.phase = LiveStatus::Phase::kDraining;
  }
  if (tail_ != nullptr) live.tail_events = tail_->events();
  return live;
}

Driver::Clock::time_point Driver::ClaimSendTime(Clock::time_point now) {
  const Clock::rep now_ticks = now.time_since_epoch().count();
  Clock::rep due = next_send_.load(std::memory_order_relaxed);
  Clock::rep t = 0;
  // A slot that was late does not earn a burst: the schedule restarts from
  // now rather than catching up.
  do {
    t = std::max(due, now_ticks);
  } while (!next_send_.compare_exchange_weak(due, t + send_interval_.count(),
                                             std::memory_order_relaxed));
  return Clock::time_point(Clock::duration(t));
}

void Driver::Next(Slot* s) {
  const Clock::time_point now = Clock::now();
  if (config_.count > 0) {
    s->measured = false;
    if (now >= window_begin_.load(std::memory_order_relaxed)) {
      if (issued_measured_.fetch_add(1, std::memory_order_relaxed) >=
          config_.count) {
        Retire();
        return;
      }
      s->measured = true;
    }
  } else if (now >= window_end_.load(std::memory_order_relaxed)) {
    Retire();
    return;
  }
  if (config_.rate > 0) {
    const Clock::time_point due = ClaimSendTime(now);
    if (due > now) {
      if (config_.count == 0 &&
          due >= window_end_.load(std::memory_order_relaxed)) {
        Retire();
        return;
      }
      s->alarm = std::make_unique<grpc::Alarm>();
      s->alarm->Set(&s->poller->cq,
                    std::chrono::system_clock::now() + (due - now), s);
      return;
    }
  }
  Send(s);
}

void Driver::Send(Slot* s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(DeadlineIn(options_.default_timeout));
  client::AddCallCredentials(options_, ctx.get());
  s->sent = Clock::now();
  s->op->Start(std::move(ctx), &s->rnd, &s->poller->cq, s);
}

void Driver::Poll(Poller* p) {
  void* tag = nullptr;
  bool ok = false;
  while (p->cq.Next(&tag, &ok)) {
    Slot* s = static_cast<Slot*>(tag);
    if (s->alarm != nullptr) {  // a paced request's send time has come
      s->alarm.reset();
      Send(s);
      continue;
    }
    if (s->op->Proceed(ok)) {
      Complete(s);
      Next(s);
    }
  }
}

void Driver::Complete(Slot* s) {
  const Clock::time_point now = Clock::now();
  Poller* p = s->poller;
  const Outcome& o = s->op->outcome();
  p->completed.fetch_add(1, std::memory_order_relaxed);
  if (!o.status.ok()) {
    p->failed.fetch_add(1, std::memory_order_relaxed);
    p->stats.errors.Add(o.status.error_code(), o.status.error_message());
    return;
  }
  if (o.write) p->max_seq = std::max(p->max_seq, o.seq);
  const bool measured =
      config_.count > 0
          ? s->measured
          : now >= window_begin_.load(std::memory_order_relaxed) &&
                now < window_end_.load(std::memory_order_relaxed);
  if (!measured) return;
  LevelResult& r = p->stats;
  ++r.ops;
  if (o.write) {
    ++r.writes;
  } else if (config_.workload != Workload::kNoop) {
    ++r.reads;
  }
  r.keys += o.keys;
  r.misses += o.miss ? 1 : 0;
  r.latency.Add(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - s->sent)
          .count()));
  p->last_measured = std::max(p->last_measured, now);
}

void Driver::Retire() {
  if (active_slots_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard<std::mutex> lock(retired_mu_);
    retired_cv_.notify_all();
  }
}

}  // namespace cairn::bench
