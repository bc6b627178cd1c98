#include "service_env.h"

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cairn::server {
namespace {

// A read point at a sequence that was the latest a moment ago. It is not
// registered with the engine, which is what a read without a snapshot does
// internally too; it only lets the server know and report the sequence.
class LatestSnapshot final : public storage::Snapshot {
 public:
  explicit LatestSnapshot(uint64_t seq) : Snapshot(seq) {}
};

}  // namespace

std::string_view StreamKindName(StreamKind kind) {
  switch (kind) {
    case StreamKind::kScan:
      return "scan";
    case StreamKind::kTxn:
      return "txn";
    case StreamKind::kTail:
      return "tail";
  }
  return "?";
}

ServiceEnv::ServiceEnv(storage::DB* db, const ServerConfig& config,
                       std::unique_ptr<TokenAuth> auth, Metrics* metrics)
    : db_(db),
      validator_(config.limits, config.default_sync),
      snapshots_(db, config.limits.max_snapshots),
      auth_(std::move(auth)),
      metrics_(metrics),
      max_tail_streams_(config.tail.max_tail_streams),
      replica_of_(config.replica.primary),
      write_pool_(config.write_threads > 0
                      ? std::make_unique<WritePool>(config.write_threads)
                      : nullptr) {}

grpc::Status ServiceEnv::Admit(const grpc::ServerContextBase& context,
                               Role role) const {
  arrivals_.fetch_add(1, std::memory_order_relaxed);
  if (shutting_down_.load(std::memory_order_acquire)) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "server is shutting down");
  }
  if (auth_ != nullptr) {
    grpc::Status s = auth_->Check(context, role);
    if (!s.ok()) return s;
  }
  if (role == Role::kWrite && !replica_of_.empty()) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("this server is a read replica of ", replica_of_,
                     "; send writes to the primary"));
  }
  return grpc::Status::OK;
}

grpc::Status ServiceEnv::OpenStream(const grpc::ServerContextBase& context,
                                    Role role, StreamKind kind,
                                    CancellableStream* stream) {
  grpc::Status s = Admit(context, role);
  if (!s.ok()) return s;
  const Limits& l = limits();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_.load()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "server is shutting down");
    }
    if (open_streams_ >= l.max_concurrent_streams) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat(open_streams_,
                                       " streams already open "
                                       "(--max_concurrent_streams)"));
    }
    if (kind == StreamKind::kTxn && open_txns_ >= l.max_txn_streams) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat(open_txns_,
                                       " transactions already open "
                                       "(--max_txn_streams)"));
    }
    if (kind == StreamKind::kTail && open_tails_ >= max_tail_streams_) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          absl::StrCat(open_tails_,
                                       " Tail streams already open "
                                       "(--max_tail_streams)"));
    }
    ++open_streams_;
    if (kind == StreamKind::kTxn) ++open_txns_;
    if (kind == StreamKind::kTail) ++open_tails_;
    streams_.insert(stream);
  }
  if (metrics_ != nullptr) metrics_->StreamOpened(StreamKindName(kind));
  return grpc::Status::OK;
}

void ServiceEnv::CloseStream(StreamKind kind, CancellableStream* stream) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (streams_.erase(stream) == 0) return;
    --open_streams_;
    if (kind == StreamKind::kTxn) --open_txns_;
    if (kind == StreamKind::kTail) --open_tails_;
  }
  if (metrics_ != nullptr) metrics_->StreamClosed(StreamKindName(kind));
}

void ServiceEnv::BeginShutdown() {
  std::vector<CancellableStream*> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_.store(true, std::memory_order_release);
    open.assign(streams_.begin(), streams_.end());
    // Cancel under the lock: a stream unregisters itself (CloseStream) before
    // it is destroyed, so every pointer here is alive until we let go.
    for (CancellableStream* s : open) {
      s->Cancel(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "server is shutting down; reconnect"));
    }
  }
}

bool ServiceEnv::WaitIdle(absl::Time deadline, absl::Duration quiet) {
  uint64_t seen = arrivals_.load();
  absl::Time quiet_since = absl::Now();
  for (;;) {
    absl::Time now = absl::Now();
    uint64_t arrivals = arrivals_.load();
    bool busy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy =
          open_streams_ != 0 || inflight_.load(std::memory_order_acquire) != 0;
    }
    if (busy || arrivals != seen) {
      seen = arrivals;
      quiet_since = now;
    } else if (now - quiet_since >= quiet) {
      return true;
    }
    if (now >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

absl::Time ServiceEnv::Deadline(const grpc::ServerContextBase& context) {
  auto d = context.deadline();
  if (d >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(d);
}

absl::Status ServiceEnv::ReadPoint(uint64_t snapshot_seq,
                                   std::string_view field,
                                   storage::ReadOptions* options,
                                   SnapshotRegistry::Ref* hold) {
  if (snapshot_seq != 0) {
    absl::StatusOr<SnapshotRegistry::Ref> ref =
        snapshots_.Find(snapshot_seq, field);
    if (!ref.ok()) return ref.status();
    *hold = std::move(*ref);
  } else {
    *hold = std::make_shared<LatestSnapshot>(db_->LastSequence());
  }
  options->snapshot = hold->get();
  return absl::OkStatus();
}

absl::StatusOr<storage::WriteOptions> WriteOptionsFor(
    const ServiceEnv& env, const grpc::ServerContextBase& context,
    int durability) {
  absl::StatusOr<bool> sync = env.validator().Sync("durability", durability);
  if (!sync.ok()) return sync.status();
  storage::WriteOptions w;
  w.sync = *sync;
  w.deadline = ServiceEnv::Deadline(context);
  return w;
}

}  // namespace cairn::server
