#include "cairn/client/scanner.h"

#include <utility>

#include "scanner_impl.h"

namespace cairn::client {

Scanner::Scanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scanner::~Scanner() = default;

bool Scanner::Next(KeyValue* kv) { return impl_->Next(kv); }
const absl::Status& Scanner::status() const { return impl_->status(); }
uint64_t Scanner::read_seq() const { return impl_->read_seq(); }

Scanner::Impl::Impl(std::shared_ptr<Connection> conn,
                    const ScanOptions& options)
    : conn_(std::move(conn)),
      deadline_(conn_->runner.Deadline(options.timeout)) {
  request_.set_start(options.start);
  request_.set_end(options.end);
  request_.set_prefix(options.prefix);
  request_.set_limit(options.limit);
  request_.set_reverse(options.reverse);
  request_.set_keys_only(options.keys_only);
  request_.set_snapshot_seq(options.snapshot_seq);
}

Scanner::Impl::~Impl() {
  if (reader_ != nullptr) {
    context_->TryCancel();
    reader_->Finish();
  }
}

void Scanner::Impl::Start() {
  context_ = std::make_unique<grpc::ClientContext>();
  conn_->runner.Prepare(context_.get(), deadline_);
  reader_ = conn_->kv->Scan(context_.get(), request_);
  ++attempts_;
}

bool Scanner::Impl::Next(KeyValue* kv) {
  for (;;) {
    if (index_ < chunk_.kvs_size()) {
      *kv = FromProto(chunk_.kvs(index_++));
      delivered_ = true;
      return true;
    }
    if (done_) return false;
    if (reader_ == nullptr) Start();
    if (reader_->Read(&chunk_)) {
      index_ = 0;
      read_seq_ = chunk_.read_seq();
      continue;
    }
    chunk_.Clear();
    index_ = 0;
    grpc::Status s = reader_->Finish();
    reader_.reset();
    if (s.ok()) {
      done_ = true;
      return false;
    }
    const RetryPolicy& retry = conn_->runner.options().retry;
    if (!delivered_ && s.error_code() == grpc::StatusCode::UNAVAILABLE &&
        attempts_ < retry.max_attempts) {
      absl::Duration wait = conn_->runner.Backoff(
          attempts_, retry.initial_backoff, retry.max_backoff);
      if (absl::Now() + wait < deadline_) {
        absl::SleepFor(wait);
        continue;
      }
    }
    status_ = FromGrpc(s);
    done_ = true;
    return false;
  }
}

}  // namespace cairn::client
