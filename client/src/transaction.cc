#include "cairn/client/transaction.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc_status.h"
#include "proto_convert.h"
#include "transaction_impl.h"

namespace cairn::client {

using cairn::v1::TxnRequest;
using cairn::v1::TxnResponse;

Transaction::Impl::Impl(std::shared_ptr<Connection> conn)
    : conn_(std::move(conn)) {}

Transaction::Impl::~Impl() {
  if (stream_ != nullptr && !finished_) {
    context_.TryCancel();
    stream_->Finish();
  }
}

absl::Status Transaction::Impl::Begin(const TransactionOptions& options) {
  conn_->runner.Prepare(&context_, conn_->runner.Deadline(options.timeout));
  stream_ = conn_->kv->Txn(&context_);
  TxnRequest request;
  request.mutable_begin()->set_snapshot_seq(options.snapshot_seq);
  TxnResponse response;
  absl::Status s = Exchange(request, TxnResponse::kBegun, &response);
  if (s.ok()) snapshot_seq_ = response.begun().snapshot_seq();
  return s;
}

absl::Status Transaction::Impl::Exchange(const TxnRequest& request,
                                         TxnResponse::ResponseCase expected,
                                         TxnResponse* response) {
  if (finished_) {
    return absl::FailedPreconditionError("the transaction is finished");
  }
  if (!stream_->Write(request) || !stream_->Read(response)) {
    finished_ = true;
    grpc::Status s = stream_->Finish();
    if (s.ok()) {
      return absl::InternalError("the server ended the transaction stream");
    }
    return FromGrpc(s);
  }
  if (response->response_case() != expected) {
    finished_ = true;
    context_.TryCancel();
    stream_->Finish();
    return absl::InternalError(
        absl::StrCat("unexpected transaction response (case ",
                     response->response_case(), ", wanted ", expected, ")"));
  }
  return absl::OkStatus();
}

absl::Status Transaction::Impl::Close() {
  finished_ = true;
  stream_->WritesDone();
  return FromGrpc(stream_->Finish());
}

Transaction::Transaction(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Transaction::~Transaction() {
  if (!impl_->finished()) Rollback().IgnoreError();
}

uint64_t Transaction::snapshot_seq() const { return impl_->snapshot_seq(); }
bool Transaction::finished() const { return impl_->finished(); }

absl::StatusOr<GetResult> Transaction::Get(const std::string& key) {
  TxnRequest request;
  request.mutable_get()->set_key(key);
  TxnResponse response;
  absl::Status s = impl_->Exchange(request, TxnResponse::kGet, &response);
  if (!s.ok()) return s;
  return FromProto(response.get());
}

absl::StatusOr<TransactionScanResult> Transaction::Scan(
    const ScanOptions& options) {
  TxnRequest request;
  cairn::v1::TxnScan* scan = request.mutable_scan();
  scan->set_start(options.start);
  scan->set_end(options.end);
  scan->set_prefix(options.prefix);
  scan->set_limit(options.limit);
  scan->set_reverse(options.reverse);
  scan->set_keys_only(options.keys_only);
  TxnResponse response;
  absl::Status s = impl_->Exchange(request, TxnResponse::kScan, &response);
  if (!s.ok()) return s;
  TransactionScanResult out;
  out.more = response.scan().more();
  out.kvs.reserve(response.scan().kvs_size());
  for (const cairn::v1::KeyValue& kv : response.scan().kvs()) {
    out.kvs.push_back(FromProto(kv));
  }
  return out;
}

absl::Status Transaction::Put(const std::string& key, const std::string& value,
                              absl::Duration ttl) {
  TxnRequest request;
  FillPut(key, value, ttl, absl::InfinitePast(), request.mutable_put());
  TxnResponse response;
  return impl_->Exchange(request, TxnResponse::kBuffered, &response);
}

absl::Status Transaction::Delete(const std::string& key) {
  TxnRequest request;
  request.mutable_delete_()->set_key(key);
  TxnResponse response;
  return impl_->Exchange(request, TxnResponse::kBuffered, &response);
}

absl::Status Transaction::Merge(const std::string& key,
                                const std::string& merge_operator,
                                const std::string& operand,
                                const std::string& argument) {
  TxnRequest request;
  FillMerge(key, merge_operator, operand, argument, request.mutable_merge());
  TxnResponse response;
  return impl_->Exchange(request, TxnResponse::kBuffered, &response);
}

absl::StatusOr<uint64_t> Transaction::Commit(Durability durability) {
  TxnRequest request;
  request.mutable_commit()->set_durability(ToProto(durability));
  TxnResponse response;
  absl::Status s = impl_->Exchange(request, TxnResponse::kCommitted, &response);
  if (!s.ok()) return s;
  s = impl_->Close();
  if (!s.ok()) return s;
  return response.committed().seq();
}

absl::Status Transaction::Rollback() {
  TxnRequest request;
  request.mutable_rollback();
  TxnResponse response;
  absl::Status s =
      impl_->Exchange(request, TxnResponse::kRolledBack, &response);
  if (!s.ok()) return s;
  return impl_->Close();
}

}  // namespace cairn::client
