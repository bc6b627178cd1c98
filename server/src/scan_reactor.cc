#include "scan_reactor.h"

#include "status_map.h"

namespace cairn::server {

ScanReactor* ScanReactor::Start(ServiceEnv* env,
                                grpc::CallbackServerContext* context,
                                const v1::ScanRequest* request) {
  auto* r = new ScanReactor(env);
  grpc::Status s = env->OpenStream(*context, Role::kRead, StreamKind::kScan, r);
  std::lock_guard<std::mutex> lock(r->mu_);
  if (!s.ok()) {
    r->FinishLocked(s);
    return r;
  }
  r->registered_ = true;
  s = r->Init(*request);
  if (!s.ok()) {
    r->FinishLocked(s);
    return r;
  }
  r->SendNextLocked();
  return r;
}

ScanReactor::ScanReactor(ServiceEnv* env) : env_(env) {}

grpc::Status ScanReactor::Init(const v1::ScanRequest& request) {
  absl::StatusOr<ScanBounds> bounds = env_->validator().Range(
      "", request.start(), request.end(), request.prefix());
  if (!bounds.ok()) return ToGrpc(bounds.status());
  storage::ReadOptions ro;
  absl::Status s =
      env_->ReadPoint(request.snapshot_seq(), "snapshot_seq", &ro, &hold_);
  if (!s.ok()) return ToGrpc(s);
  ro.lower_bound = bounds->lower;
  ro.upper_bound = bounds->upper;
  ro.prefix = bounds->prefix;
  // A big scan should not push the working set out of the block cache.
  ro.fill_cache = request.limit() != 0 && request.limit() <= 1000;
  iter_ = env_->db()->NewIterator(ro);
  reverse_ = request.reverse();
  keys_only_ = request.keys_only();
  limited_ = request.limit() != 0;
  remaining_ = request.limit();
  if (reverse_) {
    iter_->SeekToLast();
  } else {
    iter_->SeekToFirst();
  }
  return grpc::Status::OK;
}

void ScanReactor::SendNextLocked() {
  if (cancelled_) {
    FinishLocked(cancel_status_);
    return;
  }
  const Limits& limits = env_->limits();
  chunk_.Clear();
  chunk_.set_read_seq(iter_->read_seq());
  uint64_t bytes = 0;
  while (iter_->Valid() && (!limited_ || remaining_ > 0) &&
         static_cast<uint64_t>(chunk_.kvs_size()) < limits.scan_chunk_keys) {
    // A chunk ends before a key that would take it over scan_chunk_bytes (a
    // key alone always goes): with scan_chunk_bytes at most half of
    // max_message_bytes, every chunk then fits in a message.
    const uint64_t kv_bytes =
        iter_->key().size() + (keys_only_ ? 0 : iter_->value().size()) + 16;
    if (chunk_.kvs_size() > 0 && bytes + kv_bytes > limits.scan_chunk_bytes) {
      break;
    }
    v1::KeyValue* kv = chunk_.add_kvs();
    kv->set_key(iter_->key().data(), iter_->key().size());
    if (!keys_only_)
      kv->set_value(iter_->value().data(), iter_->value().size());
    kv->set_revision(iter_->seq());
    kv->set_expires_at_unix_micros(iter_->expires_at_micros());
    bytes += kv_bytes;
    if (limited_) --remaining_;
    if (reverse_) {
      iter_->Prev();
    } else {
      iter_->Next();
    }
  }
  if (!iter_->status().ok()) {
    FinishLocked(ToGrpc(iter_->status()));
    return;
  }
  bool done = !iter_->Valid() || (limited_ && remaining_ == 0);
  if (done) {
    // The last chunk, possibly empty: an empty range still tells the client
    // its read sequence.
    StartWriteAndFinish(&chunk_, grpc::WriteOptions(), grpc::Status::OK);
    finished_ = true;
    return;
  }
  StartWrite(&chunk_);
}

void ScanReactor::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  if (!ok) {
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                              "the client stopped reading"));
    return;
  }
  SendNextLocked();
}

void ScanReactor::Cancel(const grpc::Status& status) {
  // Called with the env's stream lock held. Every chunk but the last is
  // followed by OnWriteDone, which then finishes the stream with `status`;
  // a client that stops reading is cut off by the server's shutdown grace.
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cancel_status_ = status;
}

void ScanReactor::FinishLocked(const grpc::Status& status) {
  if (finished_) return;
  finished_ = true;
  Finish(status);
}

void ScanReactor::OnDone() {
  if (registered_) env_->CloseStream(StreamKind::kScan, this);
  {
    std::lock_guard<std::mutex> lock(mu_);
    iter_.reset();
    hold_.reset();
  }
  delete this;
}

}  // namespace cairn::server
