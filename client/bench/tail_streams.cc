#include "tail_streams.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "cairn/client/channel.h"

namespace cairn::bench {
namespace {

int64_t UnixMicros(absl::Time t) {
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

}  // namespace

TailStreams::TailStreams(const client::ClientOptions& options)
    : options_(options),
      window_begin_us_(std::numeric_limits<int64_t>::max()),
      window_end_us_(std::numeric_limits<int64_t>::max()) {}

void TailStreams::SetWindow(absl::Time begin, absl::Time end) {
  window_end_us_.store(UnixMicros(end), std::memory_order_relaxed);
  window_begin_us_.store(UnixMicros(begin), std::memory_order_relaxed);
}

TailStreams::~TailStreams() { CancelAndJoin(); }

absl::Status TailStreams::Open(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  for (const auto& channel : channels) {
    auto s = std::make_unique<Stream>();
    s->stub = v1::Replication::NewStub(channel);
    client::AddCallCredentials(options_, &s->context);
    Stream* raw = s.get();
    streams_.push_back(std::move(s));
    raw->thread = std::thread([this, raw] { Read(raw); });
  }
  const absl::Time deadline = absl::Now() + options_.default_timeout;
  std::unique_lock<std::mutex> lock(mu_);
  for (size_t i = 0; i < streams_.size(); ++i) {
    Stream* s = streams_[i].get();
    const bool up = cv_.wait_until(lock, absl::ToChronoTime(deadline),
                                   [s] { return s->started || s->ended; });
    if (s->ended) {
      // The thread has set status before `ended`, under mu_. Stop() counts
      // this error.
      const auto code =
          s->status.ok()
              ? absl::StatusCode::kAborted
              : static_cast<absl::StatusCode>(s->status.error_code());
      return absl::Status(
          code, absl::StrCat("tail stream ", i, ": ",
                             s->status.ok() ? "ended by the server"
                                            : s->status.error_message()));
    }
    if (!up) {
      open_error_ = absl::DeadlineExceededError(
          absl::StrCat("tail stream ", i, ": no response within ",
                       absl::FormatDuration(options_.default_timeout)));
      return open_error_;
    }
  }
  return absl::OkStatus();
}

void TailStreams::Read(Stream* s) {
  v1::TailRequest request;
  request.set_from_now(true);
  std::unique_ptr<grpc::ClientReader<v1::TailResponse>> reader =
      s->stub->Tail(&s->context, request);
  v1::TailResponse response;
  while (reader->Read(&response)) {
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    uint64_t last = response.progress().committed_seq();
    const int64_t begin_us = window_begin_us_.load(std::memory_order_relaxed);
    const int64_t end_us = window_end_us_.load(std::memory_order_relaxed);
    for (const v1::ChangeEvent& e : response.events()) {
      last = std::max(last, e.seq());
      const auto commit_us = static_cast<int64_t>(e.commit_time_unix_micros());
      if (commit_us < begin_us || commit_us >= end_us) continue;
      ++s->events;
      s->lag.Add(
          static_cast<uint64_t>(std::max<int64_t>(0, now_us - commit_us)) *
          1000);
    }
    s->received.fetch_add(static_cast<uint64_t>(response.events_size()),
                          std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      s->started = true;
      s->delivered_seq = std::max(s->delivered_seq, last);
    }
    cv_.notify_all();
  }
  grpc::Status status = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    s->status = std::move(status);
    s->ended = true;
  }
  cv_.notify_all();
}

uint64_t TailStreams::events() const {
  uint64_t n = 0;
  for (const auto& s : streams_) {
    n += s->received.load(std::memory_order_relaxed);
  }
  return n;
}

bool TailStreams::WaitDelivered(uint64_t seq, absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, absl::ToChronoTime(deadline), [this, seq] {
    for (const auto& s : streams_) {
      if (s->delivered_seq < seq && !s->ended) return false;
    }
    return true;
  });
}

void TailStreams::CancelAndJoin() {
  if (joined_) return;
  for (auto& s : streams_) s->context.TryCancel();
  for (auto& s : streams_) {
    if (s->thread.joinable()) s->thread.join();
  }
  joined_ = true;
}

void TailStreams::Stop(LevelResult* result) {
  CancelAndJoin();
  result->tail_streams = static_cast<int>(streams_.size());
  if (!open_error_.ok()) {
    const absl::string_view message = open_error_.message();
    result->errors.Add(static_cast<int>(open_error_.code()),
                       std::string(message.data(), message.size()));
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    Stream* s = streams_[i].get();
    result->tail_events += s->events;
    result->tail_lag.Merge(s->lag);
    // Stop cancelled it; a stream that failed before is recorded below.
    if (s->status.error_code() == grpc::StatusCode::CANCELLED) continue;
    if (s->status.ok()) {
      result->errors.Add(
          grpc::StatusCode::ABORTED,
          absl::StrCat("tail stream ", i, ": ended by the server"));
    } else {
      result->errors.Add(
          s->status.error_code(),
          absl::StrCat("tail stream ", i, ": ", s->status.error_message()));
    }
  }
}

}  // namespace cairn::bench
