#include "tail_reactor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/wal/log.h"
#include "google/rpc/status.pb.h"
#include "status_map.h"

namespace cairn::server {
namespace {

// OUT_OF_RANGE for a start the WAL no longer holds, with the earliest
// available sequence in the message and as a cairn.v1.TailOutOfRange detail.
grpc::Status OutOfRange(uint64_t requested, uint64_t earliest) {
  const std::string message = absl::StrCat(
      "from_seq: sequence ", requested,
      " is no longer in the WAL (retention removed it); the earliest "
      "available sequence is ",
      earliest, "; resume from there or bootstrap again");
  v1::TailOutOfRange detail;
  detail.set_requested_seq(requested);
  detail.set_earliest_seq(earliest);
  google::rpc::Status rich;
  rich.set_code(grpc::StatusCode::OUT_OF_RANGE);
  rich.set_message(message);
  rich.add_details()->PackFrom(detail);
  return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, message,
                      rich.SerializeAsString());
}

// Bytes an event adds to a response, about.
uint64_t EventBytes(const storage::Change& c, bool keys_only) {
  return c.key.size() + (keys_only ? 0 : c.value.size()) + c.range_end.size() +
         c.merge_operator.size() + c.merge_argument.size() + 48;
}

}  // namespace

TailReactor* TailReactor::Start(const TailShared* shared,
                                grpc::CallbackServerContext* context,
                                const v1::TailRequest* request) {
  auto* r = new TailReactor(shared);
  grpc::Status s =
      shared->env->OpenStream(*context, Role::kRead, StreamKind::kTail, r);
  if (!s.ok()) {
    r->Finish(s);
    return r;
  }
  r->registered_ = true;
  s = r->Init(*request);
  if (!s.ok()) {
    r->Finish(s);
    return r;
  }
  r->pump_ = std::thread([r] { r->Pump(); });
  return r;
}

TailReactor::TailReactor(const TailShared* shared) : shared_(shared) {}

grpc::Status TailReactor::Init(const v1::TailRequest& request) {
  absl::StatusOr<TailFilter> filter = TailFilter::Parse(request.filter());
  if (!filter.ok()) return ToGrpc(filter.status());
  filter_ = *std::move(filter);
  keys_only_ = request.keys_only();
  if (request.from_now() && request.from_seq() != 0) {
    return InvalidField("from_seq", "cannot be combined with from_now");
  }
  const std::string& name = request.consumer();
  if (!name.empty()) {
    absl::Status s = ConsumerRegistry::ValidateName("consumer", name);
    if (!s.ok()) return ToGrpc(s);
  }
  storage::DB* db = shared_->env->db();
  const uint64_t last = db->LastSequence();
  uint64_t start = request.from_seq();
  if (request.from_now()) {
    start = last + 1;
  } else if (start == 0) {
    if (name.empty()) {
      return InvalidField("from_seq",
                          "must be at least 1 (or set from_now, or name a "
                          "consumer to resume it)");
    }
    absl::StatusOr<ConsumerState> known = shared_->consumers->Get(name);
    start = known.ok() ? known->acked_seq + 1 : last + 1;
  }
  if (!name.empty()) {
    // A new consumer starting in the future is registered as having
    // acknowledged only what is committed now: an acknowledged sequence
    // above the last commit would hide the commits up to from_seq from its
    // next resume, and Ack itself refuses such a sequence.
    absl::StatusOr<ConsumerState> c =
        shared_->consumers->Register(name, std::min(start, last + 1));
    if (!c.ok()) return ToGrpc(c.status());
  }
  from_seq_ = start;
  // A start in the future waits at the end of the log.
  const uint64_t open_at = std::min(start, last + 1);
  absl::StatusOr<std::unique_ptr<storage::ChangeReader>> reader =
      storage::ChangeReader::Open(db, open_at);
  if (!reader.ok()) {
    if (absl::IsOutOfRange(reader.status()) &&
        open_at < db->wal()->FirstSequence()) {
      shared_->metrics->OutOfRange();
      return OutOfRange(start, db->wal()->FirstSequence());
    }
    return ToGrpc(reader.status());
  }
  std::lock_guard<std::mutex> lock(mu_);
  reader_ = std::move(*reader);
  if (stop_) reader_->Cancel();
  return grpc::Status::OK;
}

absl::StatusOr<bool> TailReactor::FillFromBatch(uint64_t* bytes) {
  const storage::ChangeBatch& b = *batch_;
  const uint64_t limit = shared_->settings.chunk_bytes;
  bool full = false;
  absl::Status s = b.ForEach([&](const storage::Change& c) -> absl::Status {
    if (c.seq < resume_seq_) return absl::OkStatus();
    if (c.seq < from_seq_ || !filter_->Matches(c)) {
      resume_seq_ = c.seq + 1;
      return absl::OkStatus();
    }
    const uint64_t size = EventBytes(c, keys_only_);
    if (response_.events_size() > 0 && *bytes + size > limit) {
      full = true;
      return absl::CancelledError();  // stops the walk; not an error
    }
    v1::ChangeEvent* e = response_.add_events();
    e->set_seq(c.seq);
    e->set_op(ToChangeOp(c.type));
    e->set_key(c.key.data(), c.key.size());
    if (!keys_only_) e->set_value(c.value.data(), c.value.size());
    e->set_range_end(c.range_end.data(), c.range_end.size());
    e->set_merge_operator(c.merge_operator.data(), c.merge_operator.size());
    e->set_merge_argument(c.merge_argument.data(), c.merge_argument.size());
    e->set_expires_at_unix_micros(c.expires_at_micros);
    e->set_commit_time_unix_micros(b.commit_micros);
    e->set_group_first_seq(b.first_seq);
    e->set_group_size(b.count);
    *bytes += size;
    resume_seq_ = c.seq + 1;
    return absl::OkStatus();
  });
  if (full) return false;
  if (!s.ok()) return s;
  return true;
}

void TailReactor::Pump() {
  const TailSettings& settings = shared_->settings;
  // The first idle moment sends a progress message at once, so a client
  // learns where the stream stands before anything is committed.
  absl::Time last_message = absl::InfinitePast();
  grpc::Status end;
  while (true) {
    response_.Clear();
    uint64_t bytes = 0;
    bool finished = false;
    while (!finished) {
      if (batch_.has_value()) {
        absl::StatusOr<bool> whole = FillFromBatch(&bytes);
        if (!whole.ok()) {
          end = ToGrpc(whole.status());
          finished = true;
          break;
        }
        if (!*whole) break;  // the response is full
        batch_.reset();
      }
      if (bytes >= settings.chunk_bytes) break;
      const absl::Time deadline =
          response_.events_size() > 0
              ? absl::InfinitePast()
              : last_message + settings.progress_interval;
      absl::StatusOr<storage::ChangeBatch> next = reader_->Next(deadline);
      if (next.ok()) {
        batch_ = *next;
        resume_seq_ = next->first_seq;
        continue;
      }
      if (absl::IsDeadlineExceeded(next.status())) {
        if (response_.events_size() == 0) {
          // Everything below next_seq() has been considered.
          response_.mutable_progress()->set_committed_seq(reader_->next_seq() -
                                                          1);
        }
        break;
      }
      if (absl::IsCancelled(next.status())) {
        std::lock_guard<std::mutex> lock(mu_);
        end = stop_ ? stop_status_
                    : grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      } else if (absl::IsOutOfRange(next.status())) {
        // Retention overtook this stream while it lagged.
        shared_->metrics->OutOfRange();
        end = OutOfRange(reader_->next_seq(),
                         shared_->env->db()->wal()->FirstSequence());
      } else if (absl::IsFailedPrecondition(next.status())) {
        end = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "the server is shutting down; reconnect");
      } else {
        end = ToGrpc(next.status());
      }
      finished = true;
    }
    if (finished) break;
    response_.set_last_committed_seq(shared_->env->db()->LastSequence());
    if (!WriteAndWait(&end)) break;
    last_message = absl::Now();
    if (response_.events_size() > 0) {
      shared_->metrics->EventsSent(response_.events_size(),
                                   response_.ByteSizeLong());
    } else {
      shared_->metrics->ProgressSent();
    }
  }
  Finish(end);
}

bool TailReactor::WriteAndWait(grpc::Status* end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) {
      *end = stop_status_;
      return false;
    }
    write_pending_ = true;
  }
  StartWrite(&response_);
  std::unique_lock<std::mutex> lock(mu_);
  // Even when stopping: response_ belongs to gRPC until the write is done.
  cv_.wait(lock, [this] { return !write_pending_; });
  if (!write_ok_) {
    *end = stop_ ? stop_status_
                 : grpc::Status(grpc::StatusCode::CANCELLED,
                                "the client stopped reading");
    return false;
  }
  return true;
}

void TailReactor::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  write_pending_ = false;
  write_ok_ = ok;
  cv_.notify_all();
}

void TailReactor::OnCancel() {
  Cancel(grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled"));
}

void TailReactor::Cancel(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stop_) {
    stop_ = true;
    stop_status_ = status;
  }
  if (reader_ != nullptr) reader_->Cancel();
  cv_.notify_all();
}

void TailReactor::OnDone() {
  if (pump_.joinable()) pump_.join();
  if (registered_) shared_->env->CloseStream(StreamKind::kTail, this);
  delete this;
}

}  // namespace cairn::server
