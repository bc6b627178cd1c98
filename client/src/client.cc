#include "cairn/client/client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "cairn/client/channel.h"
#include "cairn/v1/admin.pb.h"
#include "connection.h"
#include "grpc_status.h"
#include "proto_convert.h"
#include "scanner_impl.h"
#include "tail_consumer_impl.h"
#include "transaction_impl.h"

namespace cairn::client {

namespace v1 = cairn::v1;

class Client::Impl {
 public:
  explicit Impl(std::shared_ptr<Connection> conn) : conn(std::move(conn)) {}
  std::shared_ptr<Connection> conn;

  CallRunner& runner() { return conn->runner; }
  bool retry_writes() const {
    return conn->runner.options().retry.retry_idempotent_writes;
  }
};

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(
    const ClientOptions& options) {
  if (options.default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("default_timeout: must be positive");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateChannel(options);
  if (!channel.ok()) return channel.status();
  auto conn = std::make_shared<Connection>(options, *std::move(channel));
  return std::unique_ptr<Client>(
      new Client(std::make_unique<Impl>(std::move(conn))));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const ClientOptions& Client::options() const {
  return impl_->conn->runner.options();
}

absl::StatusOr<GetResult> Client::Get(const std::string& key,
                                      const ReadOptions& options) {
  v1::GetRequest request;
  request.set_key(key);
  request.set_snapshot_seq(options.snapshot_seq);
  v1::GetResponse response;
  absl::Status s =
      impl_->runner().Run(options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->kv->Get(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return FromProto(response);
}

absl::StatusOr<MultiGetResult> Client::MultiGet(
    const std::vector<std::string>& keys, const ReadOptions& options) {
  v1::MultiGetRequest request;
  for (const std::string& k : keys) request.add_keys(k);
  request.set_snapshot_seq(options.snapshot_seq);
  v1::MultiGetResponse response;
  absl::Status s =
      impl_->runner().Run(options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->kv->MultiGet(ctx, request, &response);
      });
  if (!s.ok()) return s;
  MultiGetResult out;
  out.read_seq = response.read_seq();
  out.results.reserve(response.results_size());
  for (const v1::GetResponse& r : response.results()) {
    out.results.push_back(FromProto(r));
  }
  return out;
}

std::unique_ptr<Scanner> Client::Scan(const ScanOptions& options) {
  return std::make_unique<Scanner>(
      std::make_unique<Scanner::Impl>(impl_->conn, options));
}

absl::StatusOr<std::vector<KeyValue>> Client::ScanAll(
    const ScanOptions& options, uint64_t* read_seq) {
  std::unique_ptr<Scanner> scanner = Scan(options);
  std::vector<KeyValue> out;
  KeyValue kv;
  while (scanner->Next(&kv)) out.push_back(std::move(kv));
  if (!scanner->status().ok()) return scanner->status();
  if (read_seq != nullptr) *read_seq = scanner->read_seq();
  return out;
}

absl::StatusOr<uint64_t> Client::Put(const std::string& key,
                                     const std::string& value,
                                     const PutOptions& options) {
  v1::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_ttl_millis(TtlMillis(options.ttl));
  request.set_expires_at_unix_micros(ExpiryMicros(options.expires_at));
  request.set_durability(ToProto(options.durability));
  v1::PutResponse response;
  absl::Status s = impl_->runner().Run(
      options.timeout, impl_->retry_writes(), [&](grpc::ClientContext* ctx) {
        return impl_->conn->kv->Put(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return response.seq();
}

absl::StatusOr<uint64_t> Client::Delete(const std::string& key,
                                        const WriteOptions& options) {
  v1::DeleteRequest request;
  request.set_key(key);
  request.set_durability(ToProto(options.durability));
  v1::DeleteResponse response;
  absl::Status s = impl_->runner().Run(
      options.timeout, impl_->retry_writes(), [&](grpc::ClientContext* ctx) {
        return impl_->conn->kv->Delete(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return response.seq();
}

absl::StatusOr<uint64_t> Client::DeleteRange(const std::string& start,
                                             const std::string& end,
                                             const WriteOptions& options) {
  v1::DeleteRangeRequest request;
  request.set_start(start);
  request.set_end(end);
  request.set_durability(ToProto(options.durability));
  v1::DeleteRangeResponse response;
  absl::Status s = impl_->runner().Run(
      options.timeout, impl_->retry_writes(), [&](grpc::ClientContext* ctx) {
        return impl_->conn->kv->DeleteRange(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return response.seq();
}

absl::StatusOr<uint64_t> Client::Merge(const std::string& key,
                                       const std::string& merge_operator,
                                       const std::string& operand,
                                       const std::string& argument,
                                       const WriteOptions& options) {
  v1::MergeRequest request;
  request.set_key(key);
  request.set_operator_(merge_operator);
  request.set_operand(operand);
  request.set_argument(argument);
  request.set_durability(ToProto(options.durability));
  v1::MergeResponse response;
  absl::Status s = impl_->runner().Run(
      options.timeout, false, [&](grpc::ClientContext* ctx) {
        return impl_->conn->kv->Merge(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return response.seq();
}

absl::StatusOr<BatchResult> Client::Write(const Batch& batch,
                                          const WriteOptions& options) {
  v1::BatchRequest request;
  ToProto(batch, &request);
  request.set_durability(ToProto(options.durability));
  v1::BatchResponse response;
  absl::Status s = impl_->runner().Run(
      options.timeout, false, [&](grpc::ClientContext* ctx) {
        return impl_->conn->kv->Batch(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return BatchResult{response.succeeded(), response.seq(),
                     response.failed_condition()};
}

absl::StatusOr<std::unique_ptr<Transaction>> Client::BeginTransaction(
    const TransactionOptions& options) {
  auto impl = std::make_unique<Transaction::Impl>(impl_->conn);
  absl::Status s = impl->Begin(options);
  if (!s.ok()) return s;
  return std::make_unique<Transaction>(std::move(impl));
}

absl::StatusOr<uint64_t> Client::RunTransaction(
    const std::function<absl::Status(Transaction&)>& body, int max_attempts,
    Durability durability, const TransactionOptions& options) {
  const RetryPolicy& retry = impl_->conn->runner.options().retry;
  absl::Status last;
  for (int attempt = 1; attempt <= std::max(1, max_attempts); ++attempt) {
    if (attempt > 1) {
      absl::SleepFor(impl_->runner().Backoff(attempt - 1, retry.initial_backoff,
                                             retry.max_backoff));
    }
    absl::StatusOr<std::unique_ptr<Transaction>> txn =
        BeginTransaction(options);
    if (!txn.ok()) {
      last = txn.status();
      if (absl::IsUnavailable(last)) continue;
      return last;
    }
    absl::Status s = body(**txn);
    if (!s.ok()) {
      // A conflict seen by a read, or the server going away before the
      // commit was sent, is worth another attempt; the body's own errors
      // are not.
      if ((*txn)->finished() &&
          (absl::IsAborted(s) || absl::IsUnavailable(s))) {
        last = s;
        continue;
      }
      return s;
    }
    absl::StatusOr<uint64_t> seq = (*txn)->Commit(durability);
    if (seq.ok() || !absl::IsAborted(seq.status())) return seq;
    last = seq.status();
  }
  return last;
}

std::unique_ptr<TailConsumer> Client::Tail(const TailOptions& options) {
  return std::make_unique<TailConsumer>(
      std::make_unique<TailConsumer::Impl>(impl_->conn, options));
}

absl::Status Client::Ack(const std::string& consumer, uint64_t seq,
                         const CallOptions& options) {
  v1::AckRequest request;
  request.set_consumer(consumer);
  request.set_seq(seq);
  v1::AckResponse response;
  return impl_->runner().Run(
      options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->replication->Ack(ctx, request, &response);
      });
}

absl::StatusOr<std::vector<ConsumerInfo>> Client::ListConsumers(
    const CallOptions& options) {
  v1::ListConsumersRequest request;
  v1::ListConsumersResponse response;
  absl::Status s =
      impl_->runner().Run(options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->replication->ListConsumers(ctx, request, &response);
      });
  if (!s.ok()) return s;
  std::vector<ConsumerInfo> out;
  for (const v1::ConsumerInfo& c : response.consumers()) {
    out.push_back({c.name(), c.acked_seq(), c.lag_seqs(), c.lag_seconds()});
  }
  return out;
}

absl::Status Client::DropConsumer(const std::string& consumer,
                                  const CallOptions& options) {
  v1::DropConsumerRequest request;
  request.set_consumer(consumer);
  v1::DropConsumerResponse response;
  return impl_->runner().Run(
      options.timeout, false, [&](grpc::ClientContext* ctx) {
        return impl_->conn->replication->DropConsumer(ctx, request, &response);
      });
}

absl::StatusOr<uint64_t> Client::Flush(bool wait, const CallOptions& options) {
  v1::FlushRequest request;
  request.set_no_wait(!wait);
  v1::FlushResponse response;
  absl::Status s =
      impl_->runner().Run(options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->admin->Flush(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return response.flushed_seq();
}

absl::Status Client::Compact(const std::string& start, const std::string& end,
                             const CallOptions& options) {
  v1::CompactRequest request;
  request.set_start(start);
  request.set_end(end);
  v1::CompactResponse response;
  return impl_->runner().Run(
      options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->admin->Compact(ctx, request, &response);
      });
}

absl::StatusOr<v1::StatsResponse> Client::Stats(const CallOptions& options) {
  v1::StatsRequest request;
  v1::StatsResponse response;
  absl::Status s =
      impl_->runner().Run(options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->admin->Stats(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<CheckpointInfo> Client::Checkpoint(const std::string& dir,
                                                  const CallOptions& options) {
  v1::CheckpointRequest request;
  request.set_dir(dir);
  v1::CheckpointResponse response;
  absl::Status s = impl_->runner().Run(
      options.timeout, false, [&](grpc::ClientContext* ctx) {
        return impl_->conn->admin->Checkpoint(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return CheckpointInfo{response.dir(), response.seq()};
}

absl::StatusOr<SnapshotInfo> Client::AcquireSnapshot(
    absl::Duration ttl, const CallOptions& options) {
  v1::AcquireSnapshotRequest request;
  request.set_ttl_millis(TtlMillis(ttl));
  v1::AcquireSnapshotResponse response;
  absl::Status s = impl_->runner().Run(
      options.timeout, false, [&](grpc::ClientContext* ctx) {
        return impl_->conn->admin->AcquireSnapshot(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return SnapshotInfo{response.seq(), response.expires_at_unix_micros()};
}

absl::Status Client::ReleaseSnapshot(uint64_t seq, const CallOptions& options) {
  v1::ReleaseSnapshotRequest request;
  request.set_seq(seq);
  v1::ReleaseSnapshotResponse response;
  return impl_->runner().Run(
      options.timeout, false, [&](grpc::ClientContext* ctx) {
        return impl_->conn->admin->ReleaseSnapshot(ctx, request, &response);
      });
}

absl::StatusOr<std::string> Client::Health(const std::string& service,
                                           const CallOptions& options) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  absl::Status s =
      impl_->runner().Run(options.timeout, true, [&](grpc::ClientContext* ctx) {
        return impl_->conn->health->Check(ctx, request, &response);
      });
  if (!s.ok()) return s;
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response.status());
}

}  // namespace cairn::client
