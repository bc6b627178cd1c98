#include "replica_follower.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "auth.h"
#include "cairn/storage/snapshot_loader.h"
#include "cairn/storage/write_batch.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "grpcpp/security/credentials.h"
#include "log.h"
#include "metrics.h"
#include "string_view_bridge.h"

namespace cairn::server {
namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
constexpr absl::Duration kOutOfRangeRetry = absl::Seconds(30);

struct Credentials {
  std::shared_ptr<grpc::ChannelCredentials> channel;
  std::string token;
};

absl::StatusOr<Credentials> MakeCredentials(const ReplicaSettings& s) {
  Credentials c;
  if (s.tls_ca_file.empty()) {
    c.channel = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions o;
    absl::StatusOr<std::string> ca =
        ReadSettingFile(s.tls_ca_file, "replica_tls_ca");
    if (!ca.ok()) return ca.status();
    o.pem_root_certs = *ca;
    if (!s.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadSettingFile(s.tls_cert_file, "replica_tls_cert");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          ReadSettingFile(s.tls_key_file, "replica_tls_key");
      if (!key.ok()) return key.status();
      o.pem_cert_chain = *cert;
      o.pem_private_key = *key;
    }
    c.channel = grpc::SslCredentials(o);
  }
  if (!s.token_file.empty()) {
    absl::StatusOr<std::string> token =
        ReadSettingFile(s.token_file, "replica_token_file");
    if (!token.ok()) return token.status();
    c.token = *token;
    while (!c.token.empty() &&
           (c.token.back() == '\n' || c.token.back() == '\r' ||
            c.token.back() == ' ')) {
      c.token.pop_back();
    }
  }
  return c;
}

// A channel of its own (the argument keeps gRPC from sharing a connection
// with another channel), so a Tail the client is not reading yet cannot
// hold up a Scan's flow control.
std::shared_ptr<grpc::Channel> NewChannel(const ReplicaSettings& s,
                                          const Credentials& c,
                                          const char* purpose) {
  grpc::ChannelArguments args;
  args.SetString("cairn.replica_channel", purpose);
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel(s.primary, c.channel, args);
}

void Authorize(grpc::ClientContext* context, const Credentials& c) {
  if (!c.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", c.token));
  }
}

absl::Status FromGrpc(const grpc::Status& s, const char* what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", Sv(GrpcCodeName(s.error_code())),
                                   ": ", s.error_message()));
}

// One attempt at the copy. Retryable failures are UNAVAILABLE.
absl::Status TryBootstrap(const ReplicaSettings& settings,
                          const storage::Options& options,
                          const std::string& data_dir,
                          std::unique_ptr<PrimaryStream>* stream) {
  absl::StatusOr<Credentials> creds = MakeCredentials(settings);
  if (!creds.ok()) return creds.status();
  std::shared_ptr<grpc::Channel> channel =
      NewChannel(settings, *creds, "bootstrap-scan");
  auto kv = v1::KV::NewStub(channel);
  grpc::ClientContext context;
  Authorize(&context, *creds);
  context.set_wait_for_ready(false);
  v1::ScanRequest request;
  auto scan = kv->Scan(&context, request);
  v1::ScanResponse chunk;
  if (!scan->Read(&chunk)) {
    return FromGrpc(scan->Finish(), "scanning the primary");
  }
  const uint64_t snapshot = chunk.read_seq();
  // Hold the primary's WAL from snapshot + 1 before the copy is read.
  absl::StatusOr<std::unique_ptr<PrimaryStream>> tail =
      OpenPrimaryStream(settings, snapshot + 1);
  if (!tail.ok()) return tail.status();
  if (snapshot == 0) {  // a primary without writes: nothing to copy
    *stream = std::move(*tail);
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<storage::SnapshotLoader>> loader =
      storage::SnapshotLoader::Create(options, data_dir, snapshot);
  if (!loader.ok()) return loader.status();
  do {
    for (const v1::KeyValue& kv : chunk.kvs()) {
      absl::Status s = (*loader)->Add(kv.key(), kv.value(), kv.revision(),
                                      kv.expires_at_unix_micros());
      if (!s.ok()) return s;
    }
  } while (scan->Read(&chunk));
  grpc::Status finished = scan->Finish();
  if (!finished.ok()) return FromGrpc(finished, "scanning the primary");
  if (absl::Status s = (*loader)->Finish(); !s.ok()) return s;
  LogInfo("replica bootstrapped from the primary",
          {{"primary", settings.primary},
           {"snapshot_seq", absl::StrCat(snapshot)},
           {"keys", absl::StrCat((*loader)->entries())}});
  *stream = std::move(*tail);
  return absl::OkStatus();
}

bool HasDatabase(const std::string& data_dir) {
  return FileSystem::Default()->Exists(data_dir + "/CURRENT");
}

absl::Status AddEvent(const v1::ChangeEvent& e, storage::WriteBatch* batch) {
  switch (e.op()) {
    case v1::CHANGE_OP_PUT:
      if (e.expires_at_unix_micros() != 0) {
        batch->PutWithExpiry(e.key(), e.value(), e.expires_at_unix_micros());
      } else {
        batch->Put(e.key(), e.value());
      }
      return absl::OkStatus();
    case v1::CHANGE_OP_DELETE:
      batch->Delete(e.key());
      return absl::OkStatus();
    case v1::CHANGE_OP_DELETE_RANGE:
      batch->DeleteRange(e.key(), e.range_end());
      return absl::OkStatus();
    case v1::CHANGE_OP_MERGE:
      batch->Merge(e.key(), e.merge_operator(), e.value(), e.merge_argument());
      return absl::OkStatus();
    default:
      return absl::DataLossError(
          absl::StrCat("the primary sent event ", e.seq(),
                       " with an unknown operation ", e.op()));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrimaryStream>> OpenPrimaryStream(
    const ReplicaSettings& settings, uint64_t from_seq) {
  absl::StatusOr<Credentials> creds = MakeCredentials(settings);
  if (!creds.ok()) return creds.status();
  auto s = std::make_unique<PrimaryStream>();
  s->channel = NewChannel(settings, *creds, "tail");
  s->stub = v1::Replication::NewStub(s->channel);
  s->context = std::make_unique<grpc::ClientContext>();
  Authorize(s->context.get(), *creds);
  v1::TailRequest request;
  request.set_from_seq(from_seq);
  s->reader = s->stub->Tail(s->context.get(), request);
  return s;
}

absl::Status ReplicaFollower::BootstrapIfEmpty(
    const ReplicaSettings& settings, const storage::Options& options,
    const std::string& data_dir, std::unique_ptr<PrimaryStream>* stream) {
  stream->reset();
  if (HasDatabase(data_dir)) return absl::OkStatus();
  const absl::Time deadline = absl::Now() + settings.bootstrap_timeout;
  absl::Duration backoff = kMinBackoff;
  while (true) {
    absl::Status s = TryBootstrap(settings, options, data_dir, stream);
    if (s.ok()) return s;
    if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) {
      return absl::Status(
          s.code(), absl::StrCat("replica bootstrap from ", settings.primary,
                                 ": ", s.message()));
    }
    if (absl::Now() + backoff > deadline) {
      return absl::UnavailableError(absl::StrCat(
          "replica bootstrap: cannot reach the primary ", settings.primary,
          " within --replica_bootstrap_timeout: ", s.message()));
    }
    LogWarn("replica bootstrap: primary not reachable; retrying",
            {{"primary", settings.primary}, {"error", s.ToString()}});
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

ReplicaFollower::ReplicaFollower(const ReplicaSettings& settings,
                                 storage::DB* db,
                                 std::unique_ptr<PrimaryStream> initial)
    : settings_(settings), db_(db), initial_(std::move(initial)) {
  status_.applied_seq = db_->LastSequence();
  thread_ = std::thread([this] { Run(); });
}

ReplicaFollower::~ReplicaFollower() { Stop(); }

void ReplicaFollower::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (active_ != nullptr) active_->TryCancel();
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

ReplicaStatus ReplicaFollower::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  ReplicaStatus s = status_;
  s.lag_seqs =
      s.primary_seq > s.applied_seq ? s.primary_seq - s.applied_seq : 0;
  if (s.lag_seqs > 0 && last_commit_micros_ != 0) {
    s.lag_seconds = std::max(
        0.0, absl::ToDoubleSeconds(
                 absl::Now() - absl::FromUnixMicros(
                                   static_cast<int64_t>(last_commit_micros_))));
  }
  return s;
}

void ReplicaFollower::Run() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = kMinBackoff;
  std::unique_ptr<PrimaryStream> stream = std::move(initial_);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    if (stream == nullptr) {
      absl::StatusOr<std::unique_ptr<PrimaryStream>> opened =
          OpenPrimaryStream(settings_, db_->LastSequence() + 1);
      if (!opened.ok()) {
        LogError("replica: cannot open a stream to the primary",
                 {{"error", opened.status().ToString()}});
      } else {
        stream = std::move(*opened);
      }
    }
    grpc::Status end;
    absl::Time started = absl::Now();
    if (stream != nullptr) end = Follow(stream.get());
    stream.reset();
    absl::Duration wait = backoff;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      status_.connected = false;
      ++status_.reconnects;
      status_.out_of_range = end.error_code() == grpc::StatusCode::OUT_OF_RANGE;
    }
    if (end.error_code() == grpc::StatusCode::OUT_OF_RANGE) {
      LogError(
          "replica: the primary no longer holds the changes this replica "
          "needs; empty the data directory to bootstrap it again",
          {{"primary", settings_.primary}, {"error", end.error_message()}});
      wait = kOutOfRangeRetry;
    } else {
      LogWarn("replica: stream to the primary ended; reconnecting",
              {{"primary", settings_.primary},
               {"code", absl::StrCat(end.error_code())},
               {"error", end.error_message()}});
      // A stream that worked for a while starts the backoff over.
      if (absl::Now() - started > absl::Seconds(10)) backoff = kMinBackoff;
      wait = backoff;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    // Jitter: between half and all of the wait.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    wait = wait * jitter(rng);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(wait),
                 [this] { return stop_; });
  }
}

grpc::Status ReplicaFollower::Follow(PrimaryStream* stream) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return grpc::Status(grpc::StatusCode::CANCELLED, "stopping");
    active_ = stream->context.get();
  }
  storage::WriteOptions wo;
  wo.sync = settings_.sync;
  storage::WriteBatch batch;
  uint64_t group_first = 0, group_last = 0, commit_micros = 0;
  uint64_t next = db_->LastSequence() + 1;
  grpc::Status failure;
  v1::TailResponse response;
  while (failure.ok() && stream->reader->Read(&response)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_.connected = true;
      status_.primary_seq =
          std::max(status_.primary_seq, response.last_committed_seq());
      if (response.has_progress()) {
        status_.primary_seq =
            std::max(status_.primary_seq, response.progress().committed_seq());
      }
    }
    for (const v1::ChangeEvent& e : response.events()) {
      if (e.seq() != next) {
        failure = grpc::Status(grpc::StatusCode::DATA_LOSS,
                               absl::StrCat("the primary sent sequence ",
                                            e.seq(), ", expected ", next));
        break;
      }
      if (batch.Count() == 0) {
        if (e.group_first_seq() != e.seq() || e.group_size() == 0) {
          failure = grpc::Status(
              grpc::StatusCode::DATA_LOSS,
              absl::StrCat("sequence ", e.seq(), " does not start a batch"));
          break;
        }
        group_first = e.group_first_seq();
        group_last = group_first + e.group_size() - 1;
        commit_micros = e.commit_time_unix_micros();
      }
      if (absl::Status s = AddEvent(e, &batch); !s.ok()) {
        failure =
            grpc::Status(grpc::StatusCode::DATA_LOSS, std::string(s.message()));
        break;
      }
      ++next;
      if (e.seq() != group_last) continue;
      batch.SetCommitMicros(commit_micros);
      absl::StatusOr<uint64_t> applied =
          db_->ApplyReplicated(wo, group_first, batch);
      batch.Clear();
      if (!applied.ok()) {
        failure =
            grpc::Status(static_cast<grpc::StatusCode>(applied.status().code()),
                         absl::StrCat("applying sequence ", group_first, ": ",
                                      applied.status().message()));
        break;
      }
      std::lock_guard<std::mutex> lock(mu_);
      status_.applied_seq = *applied;
      ++status_.applied_batches;
      last_commit_micros_ = commit_micros;
      status_.out_of_range = false;
    }
  }
  if (!failure.ok()) stream->context->TryCancel();
  // Drain, so Finish does not wait on unread messages.
  while (stream->reader->Read(&response)) {
  }
  grpc::Status end = stream->reader->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  active_ = nullptr;
  return failure.ok() ? end : failure;
}

}  // namespace cairn::server
