#include "txn_reactor.h"

#include "absl/strings/str_cat.h"
#include "kv_service.h"
#include "status_map.h"

namespace cairn::server {

TxnReactor* TxnReactor::Start(ServiceEnv* env,
                              grpc::CallbackServerContext* context) {
  auto* r = new TxnReactor(env, context);
  grpc::Status s = env->OpenStream(*context, Role::kWrite, StreamKind::kTxn, r);
  std::lock_guard<std::mutex> lock(r->mu_);
  if (!s.ok()) {
    r->FinishLocked(s);
    return r;
  }
  r->registered_ = true;
  r->StartRead(&r->request_);
  return r;
}

TxnReactor::TxnReactor(ServiceEnv* env, grpc::CallbackServerContext* context)
    : env_(env), context_(context) {}

void TxnReactor::OnReadDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  if (!ok) {
    // The client closed its side (or the call was cancelled) without a
    // commit: the transaction is rolled back.
    if (txn_ != nullptr) txn_->Rollback();
    FinishLocked(grpc::Status::OK);
    return;
  }
  if (cancelled_) {
    FinishLocked(cancel_status_);
    return;
  }
  if (CommitsOnWritePool()) {
    // A sync commit waits for the WAL sync: not on gRPC's few threads (see
    // write_pool.h). Marked as writing so that Cancel leaves the stream to
    // the pool task, which answers or finishes it.
    writing_ = true;
    env_->write_pool()->Submit([this] {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      RespondLocked();
    });
    return;
  }
  RespondLocked();
}

bool TxnReactor::CommitsOnWritePool() const {
  if (request_.request_case() != v1::TxnRequest::kCommit || txn_ == nullptr ||
      env_->write_pool() == nullptr) {
    return false;
  }
  absl::StatusOr<bool> sync = env_->validator().Sync(
      "commit.durability", request_.commit().durability());
  return sync.ok() && *sync;
}

void TxnReactor::RespondLocked() {
  response_.Clear();
  bool last = false;
  grpc::Status s = Handle(&last);
  if (!s.ok()) {
    if (txn_ != nullptr) txn_->Rollback();
    FinishLocked(s);
    return;
  }
  writing_ = true;
  if (last) {
    finished_ = true;
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  } else {
    StartWrite(&response_);
  }
}

void TxnReactor::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  if (finished_) return;
  if (!ok) {
    if (txn_ != nullptr) txn_->Rollback();
    FinishLocked(
        grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    return;
  }
  if (cancelled_) {
    if (txn_ != nullptr) txn_->Rollback();
    FinishLocked(cancel_status_);
    return;
  }
  StartRead(&request_);
}

void TxnReactor::Cancel(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  cancelled_ = true;
  cancel_status_ = status;
  // Waiting for the client's next request: end now (the pending read then
  // completes with ok=false). With a response in flight, OnWriteDone ends it.
  if (!writing_) {
    if (txn_ != nullptr) txn_->Rollback();
    FinishLocked(status);
  }
}

void TxnReactor::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  Finish(status);
}

void TxnReactor::OnDone() {
  if (registered_) env_->CloseStream(StreamKind::kTxn, this);
  {
    std::lock_guard<std::mutex> lock(mu_);
    txn_.reset();  // rolls back if still open
    hold_.reset();
  }
  delete this;
}

grpc::Status TxnReactor::Handle(bool* last) {
  const RequestValidator& v = env_->validator();
  if (request_.request_case() == v1::TxnRequest::REQUEST_NOT_SET) {
    return InvalidField("request", "no request set");
  }
  if (txn_ == nullptr) {
    if (request_.request_case() != v1::TxnRequest::kBegin) {
      return InvalidField("begin", "the first request of a Txn must be begin");
    }
    return Begin(request_.begin());
  }
  switch (request_.request_case()) {
    case v1::TxnRequest::kBegin:
      return InvalidField("begin", "the transaction has already begun");
    case v1::TxnRequest::kGet: {
      absl::Status s = v.Key("get.key", request_.get().key());
      if (!s.ok()) return ToGrpc(s);
      return FillGet(txn_->Get(request_.get().key()), txn_->snapshot_sequence(),
                     response_.mutable_get());
    }
    case v1::TxnRequest::kScan:
      return Scan(request_.scan());
    case v1::TxnRequest::kPut: {
      const v1::PutOp& p = request_.put();
      absl::Status s = v.Key("put.key", p.key());
      if (s.ok()) s = v.Value("put.value", p.value());
      if (!s.ok()) return ToGrpc(s);
      absl::StatusOr<uint64_t> expiry =
          v.Expiry("put", p.ttl_millis(), p.expires_at_unix_micros());
      if (!expiry.ok()) return ToGrpc(expiry.status());
      grpc::Status gs = CountWrite(p.key().size() + p.value().size());
      if (!gs.ok()) return gs;
      s = *expiry == 0 ? txn_->Put(p.key(), p.value())
                       : txn_->PutWithExpiry(p.key(), p.value(), *expiry);
      if (!s.ok()) return ToGrpc(s);
      response_.mutable_buffered();
      return grpc::Status::OK;
    }
    case v1::TxnRequest::kDelete: {
      absl::Status s = v.Key("delete.key", request_.delete_().key());
      if (!s.ok()) return ToGrpc(s);
      grpc::Status gs = CountWrite(request_.delete_().key().size());
      if (!gs.ok()) return gs;
      s = txn_->Delete(request_.delete_().key());
      if (!s.ok()) return ToGrpc(s);
      response_.mutable_buffered();
      return grpc::Status::OK;
    }
    case v1::TxnRequest::kMerge: {
      const v1::MergeOp& m = request_.merge();
      absl::Status s = v.Key("merge.key", m.key());
      if (s.ok())
        s = v.Merge("merge", m.operator_(), m.operand(), m.argument());
      if (!s.ok()) return ToGrpc(s);
      grpc::Status gs = CountWrite(m.key().size() + m.operand().size());
      if (!gs.ok()) return gs;
      s = txn_->Merge(m.key(), m.operator_(), m.operand(), m.argument());
      if (!s.ok()) return ToGrpc(s);
      response_.mutable_buffered();
      return grpc::Status::OK;
    }
    case v1::TxnRequest::kCommit: {
      grpc::Status s = Commit(request_.commit());
      if (s.ok()) *last = true;
      return s;
    }
    case v1::TxnRequest::kRollback:
      txn_->Rollback();
      response_.mutable_rolled_back();
      *last = true;
      return grpc::Status::OK;
    case v1::TxnRequest::REQUEST_NOT_SET:
      break;
  }
  return InvalidField("request", "no request set");
}

grpc::Status TxnReactor::Begin(const v1::TxnBegin& begin) {
  storage::TransactionOptions options;
  if (begin.snapshot_seq() != 0) {
    absl::StatusOr<SnapshotRegistry::Ref> ref =
        env_->snapshots().Find(begin.snapshot_seq(), "begin.snapshot_seq");
    if (!ref.ok()) return ToGrpc(ref.status());
    hold_ = std::move(*ref);
    options.snapshot = hold_.get();
  }
  txn_ = env_->db()->BeginTransaction(options);
  response_.mutable_begun()->set_snapshot_seq(txn_->snapshot_sequence());
  return grpc::Status::OK;
}

grpc::Status TxnReactor::Scan(const v1::TxnScan& scan) {
  absl::StatusOr<ScanBounds> bounds =
      env_->validator().Range("scan", scan.start(), scan.end(), scan.prefix());
  if (!bounds.ok()) return ToGrpc(bounds.status());
  const Limits& limits = env_->limits();
  uint64_t max_keys = limits.scan_chunk_keys;
  if (scan.limit() != 0 && scan.limit() < max_keys) max_keys = scan.limit();
  storage::ReadOptions ro;
  ro.lower_bound = bounds->lower;
  ro.upper_bound = bounds->upper;
  ro.prefix = bounds->prefix;
  std::unique_ptr<storage::Iterator> it = txn_->NewIterator(ro);
  if (scan.reverse()) {
    it->SeekToLast();
  } else {
    it->SeekToFirst();
  }
  v1::TxnScanResult* out = response_.mutable_scan();
  uint64_t bytes = 0;
  while (it->Valid() && static_cast<uint64_t>(out->kvs_size()) < max_keys) {
    // As in a Scan chunk: stop before a key that would take the response
    // over scan_chunk_bytes (a key alone always goes).
    const uint64_t kv_bytes =
        it->key().size() + (scan.keys_only() ? 0 : it->value().size()) + 16;
    if (out->kvs_size() > 0 && bytes + kv_bytes > limits.scan_chunk_bytes) {
      break;
    }
    v1::KeyValue* kv = out->add_kvs();
    kv->set_key(it->key().data(), it->key().size());
    if (!scan.keys_only())
      kv->set_value(it->value().data(), it->value().size());
    kv->set_revision(it->seq());
    kv->set_expires_at_unix_micros(it->expires_at_micros());
    bytes += kv_bytes;
    if (scan.reverse()) {
      it->Prev();
    } else {
      it->Next();
    }
  }
  if (!it->status().ok()) return ToGrpc(it->status());
  out->set_more(it->Valid());
  return grpc::Status::OK;
}

grpc::Status TxnReactor::Commit(const v1::TxnCommit& commit) {
  absl::StatusOr<bool> sync =
      env_->validator().Sync("commit.durability", commit.durability());
  if (!sync.ok()) return ToGrpc(sync.status());
  storage::WriteOptions wo;
  wo.sync = *sync;
  wo.deadline = ServiceEnv::Deadline(*context_);
  absl::StatusOr<uint64_t> seq = txn_->Commit(wo);
  if (!seq.ok()) return ToGrpc(seq.status());  // ABORTED on a conflict
  response_.mutable_committed()->set_seq(writes_ == 0 ? 0 : *seq);
  return grpc::Status::OK;
}

grpc::Status TxnReactor::CountWrite(size_t bytes) {
  const Limits& l = env_->limits();
  if (writes_ + 1 > l.max_batch_ops) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("a transaction may buffer at most ", l.max_batch_ops,
                     " writes (--max_batch_ops)"));
  }
  if (write_bytes_ + bytes > l.max_batch_bytes) {
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("a transaction may buffer at most ", l.max_batch_bytes,
                     " bytes (--max_batch_bytes)"));
  }
  ++writes_;
  write_bytes_ += bytes;
  return grpc::Status::OK;
}

}  // namespace cairn::server
