#include "cairn/client/tail_consumer.h"

#include <algorithm>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "connection.h"
#include "grpc_status.h"
#include "proto_convert.h"
#include "tail_consumer_impl.h"

namespace cairn::client {

TailConsumer::Impl::Impl(std::shared_ptr<Connection> conn, TailOptions options)
    : conn_(std::move(conn)), options_(std::move(options)) {}

TailConsumer::Impl::~Impl() {
  Cancel();
  if (reader_ != nullptr) reader_->Finish();
}

void TailConsumer::Impl::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

uint64_t TailConsumer::Impl::next_seq() const {
  absl::MutexLock lock(&mu_);
  return next_seq_;
}

int TailConsumer::Impl::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

cairn::v1::TailRequest TailConsumer::Impl::MakeRequest() const {
  cairn::v1::TailRequest request;
  if (next_seq_ > 0) {
    request.set_from_seq(next_seq_);
  } else if (options_.from_seq > 0) {
    request.set_from_seq(options_.from_seq);
  } else if (options_.from_now || options_.consumer.empty()) {
    request.set_from_now(true);
  }
  request.set_consumer(options_.consumer);
  request.set_keys_only(options_.keys_only);
  cairn::v1::TailFilter* filter = request.mutable_filter();
  filter->set_prefix(options_.prefix);
  filter->set_start(options_.start);
  filter->set_end(options_.end);
  for (ChangeOp op : options_.ops) filter->add_ops(ToProto(op));
  return request;
}

bool TailConsumer::Impl::Open() {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  context_ = std::make_unique<grpc::ClientContext>();
  conn_->runner.Prepare(context_.get(), absl::InfiniteFuture());
  reader_ = conn_->replication->Tail(context_.get(), MakeRequest());
  return true;
}

absl::StatusOr<TailUpdate> TailConsumer::Impl::Next() {
  for (;;) {
    if (reader_ == nullptr && !Open()) {
      return absl::CancelledError("the tail consumer was cancelled");
    }
    cairn::v1::TailResponse response;
    if (reader_->Read(&response)) {
      TailUpdate update;
      update.last_committed_seq = response.last_committed_seq();
      update.events.reserve(response.events_size());
      for (const cairn::v1::ChangeEvent& e : response.events()) {
        update.events.push_back(FromProto(e));
      }
      absl::MutexLock lock(&mu_);
      failures_ = 0;
      if (!update.events.empty()) {
        next_seq_ = std::max(next_seq_, update.events.back().seq + 1);
      } else if (response.has_progress()) {
        update.committed_seq = response.progress().committed_seq();
        next_seq_ = std::max(next_seq_, update.committed_seq + 1);
      }
      return update;
    }
    grpc::Status s = reader_->Finish();
    reader_.reset();
    absl::Duration wait;
    {
      absl::MutexLock lock(&mu_);
      context_.reset();
      if (cancelled_) {
        return absl::CancelledError("the tail consumer was cancelled");
      }
      const bool retryable =
          options_.auto_resume &&
          (s.ok() || s.error_code() == grpc::StatusCode::UNAVAILABLE);
      if (!retryable) return FromGrpc(s);
      ++failures_;
      if (options_.max_reconnects >= 0 && failures_ > options_.max_reconnects) {
        return FromGrpc(s);
      }
      ++reconnects_;
      wait = conn_->runner.Backoff(failures_, options_.initial_backoff,
                                   options_.max_backoff);
      // Sleeps, but wakes at once on Cancel().
      mu_.AwaitWithTimeout(absl::Condition(&cancelled_), wait);
      if (cancelled_) {
        return absl::CancelledError("the tail consumer was cancelled");
      }
    }
  }
}

absl::Status TailConsumer::Impl::Ack(uint64_t seq) {
  if (options_.consumer.empty()) {
    return absl::FailedPreconditionError(
        "Ack needs a named consumer (TailOptions::consumer)");
  }
  cairn::v1::AckRequest request;
  request.set_consumer(options_.consumer);
  request.set_seq(seq);
  cairn::v1::AckResponse response;
  return conn_->runner.Run(
      absl::ZeroDuration(), /*retryable=*/true, [&](grpc::ClientContext* ctx) {
        return conn_->replication->Ack(ctx, request, &response);
      });
}

TailConsumer::TailConsumer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
TailConsumer::~TailConsumer() = default;

absl::StatusOr<TailUpdate> TailConsumer::Next() { return impl_->Next(); }
absl::Status TailConsumer::Ack(uint64_t seq) { return impl_->Ack(seq); }
void TailConsumer::Cancel() { impl_->Cancel(); }
uint64_t TailConsumer::next_seq() const { return impl_->next_seq(); }
int TailConsumer::reconnects() const { return impl_->reconnects(); }

}  // namespace cairn::client
