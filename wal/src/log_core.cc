// LogCore: the write path (group commit, rotation, syncing), closing and the
// background syncer. Recovery is in log_recovery.cc; reading, retention,
// truncation and backup in log_maintenance.cc.
#include "log_core.h"

#include <cstring>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cairn/wal/format.h"

namespace cairn::wal {

// A non-durable append of at most this many frame bytes, arriving while no
// one else is writing, is copied while holding the lock.
constexpr uint64_t kFastPathMaxBytes = 64 << 10;

struct LogCore::Writer {
  std::string_view payload;
  uint32_t seq_count = 0;
  bool sync = false;
  uint64_t frame_size = 0;
  bool done = false;
  absl::Status status;
  AppendResult result;
  std::condition_variable cv;
};

LogCore::LogCore(const Options& options, std::string dir)
    : options_(options),
      dir_(std::move(dir)),
      max_payload_(options.segment_size >= kMinSegmentSize
                       ? MaxPayloadSize(options.segment_size)
                       : 0) {}

LogCore::~LogCore() { StopThreads(); }

void LogCore::StopThreads() {
  {
    std::lock_guard<std::mutex> l(mu_);
    bg_stop_ = true;
    bg_cv_.notify_all();
    prefault_cv_.notify_all();
  }
  if (bg_thread_.joinable()) bg_thread_.join();
  if (prepare_thread_.joinable()) prepare_thread_.join();
}

uint64_t LogCore::NowNs() const {
  return static_cast<uint64_t>(absl::ToUnixNanos(options_.clock()));
}

absl::StatusOr<AppendResult> LogCore::Append(std::string_view payload,
                                             uint32_t seq_count,
                                             const AppendOptions& opts) {
  if (seq_count == 0) {
    return absl::InvalidArgumentError("seq_count: must be at least 1");
  }
  if (payload.size() > max_payload_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "payload: %d bytes is larger than the %d bytes a WAL segment of %d "
        "bytes can hold",
        payload.size(), max_payload_, options_.segment_size));
  }
  const bool sync = opts.sync || options_.sync_mode == SyncMode::kEveryCommit;
  const uint64_t frame_size = FrameSize(payload.size());

  std::lock_guard<std::mutex> l(mu_);
  while (truncating_ && !closing_) WaitLocked(idle_cv_);
  if (closing_ || closed_) {
    return absl::FailedPreconditionError("the WAL is closed");
  }
  if (!failed_.ok()) return failed_;
  if (seq_count > UINT64_MAX - next_seq_) {
    return absl::OutOfRangeError(
        "seq_count: the WAL's sequence numbers would pass 2^64");
  }
  if (writers_.empty() && !sync && active_ != nullptr &&
      frame_size <= kFastPathMaxBytes &&
      written_end_ + frame_size <= active_->size()) {
    // Fast path: no leader exists, so nothing else touches the mapping.
    AppendResult r{next_seq_, seq_count, {active_->id(), written_end_}};
    EncodeFrame(active_->data() + written_end_, next_seq_, seq_count, payload);
    active_->index().MaybeAdd(r.first_seq, r.position.offset,
                              options_.index_interval);
    next_seq_ += seq_count;
    written_end_ += frame_size;
    PublishLocked(1, written_end_, /*synced=*/false);
    return r;
  }

  Writer w;
  w.payload = payload;
  w.seq_count = seq_count;
  w.sync = sync;
  w.frame_size = frame_size;
  writers_.push_back(&w);
  while (!w.done && writers_.front() != &w) WaitLocked(w.cv);
  if (!w.done) LeadGroupLocked(&w);
  if (!w.status.ok()) return w.status;
  return w.result;
}

void LogCore::LeadGroupLocked(Writer* leader) {
  if (active_ == nullptr ||
      written_end_ + leader->frame_size > active_->size()) {
    if (absl::Status s = RotateLocked(); !s.ok()) {
      FinishWritersLocked(1, s);
      return;
    }
  }

  // Claim sequence numbers and space for as many queued writers as fit.
  absl::InlinedVector<Writer*, 16> group;
  const uint64_t start = written_end_;
  const uint64_t first_seq = next_seq_;
  bool sync = false;
  for (Writer* w : writers_) {
    if (!group.empty() &&
        (written_end_ - start + w->frame_size > options_.max_group_bytes ||
         written_end_ + w->frame_size > active_->size())) {
      break;
    }
    w->result = {next_seq_, w->seq_count, {active_->id(), written_end_}};
    next_seq_ += w->seq_count;
    written_end_ += w->frame_size;
    sync |= w->sync;
    group.push_back(w);
  }
  const uint64_t end = written_end_;
  std::shared_ptr<Segment> seg = active_;
  if (sync && !unsealed_.empty()) {
    // This group's sync must not make it durable ahead of older records.
    if (absl::Status s = SealPendingLocked(); !s.ok()) {
      written_end_ = start;
      next_seq_ = first_seq;
      FinishWritersLocked(group.size(), s);
      return;
    }
  }

  mu_.unlock();
  for (Writer* w : group) {
    EncodeFrame(seg->data() + w->result.position.offset, w->result.first_seq,
                w->seq_count, w->payload);
  }
  absl::Status s = sync ? TimedSync(seg.get(), end) : absl::OkStatus();
  mu_.lock();

  if (sync) ++stats_.syncs;
  if (!s.ok()) {
    ++stats_.sync_failures;
    // Take the group back: zero its frames so the tail stays clean, and
    // release its space and sequence numbers for the next group. What was
    // published before it is still to be synced for real.
    std::memset(seg->data() + start, 0, end - start);
    seg->Redirty(synced_end_, start);
    written_end_ = start;
    next_seq_ = first_seq;
    FinishWritersLocked(group.size(), s);
    return;
  }
  for (Writer* w : group) {
    active_->index().MaybeAdd(w->result.first_seq, w->result.position.offset,
                              options_.index_interval);
  }
  PublishLocked(group.size(), end, sync);
  if (sync) {
    MarkSyncedLocked(seg.get(), end, published_count_, published_seq_, epoch());
  }
  FinishWritersLocked(group.size(), absl::OkStatus());
}

void LogCore::PublishLocked(size_t n, uint64_t end, bool synced) {
  const uint64_t bytes = end - published_end_;
  published_end_ = end;
  published_seq_ = next_seq_ - 1;
  published_count_ += static_cast<uint32_t>(n);
  stats_.records_appended += n;
  stats_.bytes_appended += bytes;
  ++stats_.commit_groups;
  if (options_.listener != nullptr) {
    options_.listener->OnCommitGroup(n, bytes, synced);
  }
  if (!synced) {
    unsynced_bytes_ += bytes;
    if (options_.sync_mode == SyncMode::kBytes &&
        unsynced_bytes_ >= options_.bytes_per_sync && !bg_sync_requested_) {
      bg_sync_requested_ = true;
      bg_cv_.notify_one();
    }
  }
  RequestPrefaultLocked();
  WakeReadersLocked();
}

void LogCore::RequestPrefaultLocked() {
  if (options_.prefault_bytes > 0 && !prefault_requested_ && active_ &&
      written_end_ + options_.prefault_bytes / 2 > prefault_end_ &&
      prefault_end_ < options_.segment_size) {
    prefault_requested_ = true;
    prefault_cv_.notify_one();
  }
}

void LogCore::PrepareLoop() {
  std::lock_guard<std::mutex> l(mu_);
  const bool want_spare = options_.prepare_next_segment;
  bool spare_failed = false;  // retry only after a wait
  while (!bg_stop_) {
    if (want_spare && spare_ == nullptr && !spare_failed) {
      absl::Status s = MakeSpareLocked();
      spare_failed = !s.ok();
      if (spare_failed && options_.listener != nullptr) {
        options_.listener->OnBackgroundError(s);
      }
      continue;
    }
    if (!prefault_requested_) {
      WaitUntilLocked(prefault_cv_, absl::Now() + absl::Seconds(1));
      spare_failed = false;
      continue;
    }
    prefault_requested_ = false;
    std::shared_ptr<Segment> seg = active_;
    if (seg == nullptr) continue;
    const uint64_t from = std::max(prefault_end_, written_end_);
    const uint64_t to =
        std::min(seg->size(), written_end_ + options_.prefault_bytes);
    if (from >= to) continue;
    mu_.unlock();
    absl::Status s = seg->Prefault(from, to);
    mu_.lock();
    if (!s.ok()) {
      if (options_.listener != nullptr) options_.listener->OnBackgroundError(s);
      continue;
    }
    if (seg == active_ && to > prefault_end_) prefault_end_ = to;
  }
}

bool LogCore::TruncatedSince(uint64_t epoch) const {
  std::lock_guard<std::mutex> l(mu_);
  return this->epoch() != epoch;
}

void LogCore::WakeAllReaders() {
  std::lock_guard<std::mutex> l(mu_);
  data_cv_.notify_all();
}

void LogCore::WakeReadersLocked() {
  if (waiting_readers_ > 0) data_cv_.notify_all();
}

void LogCore::WaitLocked(std::condition_variable& cv) {
  std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
  cv.wait(lock);
  lock.release();
}

void LogCore::WaitUntilLocked(std::condition_variable& cv,
                              absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return WaitLocked(cv);
  std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
  cv.wait_until(lock, absl::ToChronoTime(deadline));
  lock.release();
}

void LogCore::FinishWritersLocked(size_t n, const absl::Status& status) {
  for (size_t i = 0; i < n; ++i) {
    Writer* w = writers_.front();
    writers_.pop_front();
    w->status = status;
    w->done = true;
    w->cv.notify_one();
  }
  if (!writers_.empty()) {
    writers_.front()->cv.notify_one();
  } else {
    idle_cv_.notify_all();
  }
}

absl::Status LogCore::TimedSync(Segment* seg, uint64_t end) {
  const absl::Time start = absl::Now();
  absl::Status s = seg->Sync(end);
  if (options_.listener != nullptr) {
    options_.listener->OnSync(absl::Now() - start, s.ok());
  }
  return s;
}

void LogCore::MarkSyncedLocked(Segment* seg, uint64_t end, uint32_t count,
                               uint64_t last_seq, uint64_t epoch) {
  if (seg != active_.get() || epoch != this->epoch() || end <= synced_end_) {
    return;
  }
  unsynced_bytes_ -= std::min(unsynced_bytes_, end - synced_end_);
  synced_end_ = end;
  // The header may only claim what is already durable; it reaches the disk
  // with the next sync.
  // A failed write leaves the older header, which claims less: still true.
  seg->WriteHeader(HeaderForEnd(seg->header(), end, count, last_seq,
                                seg->header().flags, NowNs()))
      .IgnoreError();
}

absl::Status LogCore::SyncPublishedLocked() {
  // A truncation in progress rewrites the tail; what survives it is synced
  // by the truncation itself, the rest by a later sync.
  while (truncating_ && !closing_) WaitLocked(idle_cv_);
  if (absl::Status s = SealPendingLocked(); !s.ok()) return s;
  std::shared_ptr<Segment> seg = active_;
  if (seg == nullptr || published_end_ <= synced_end_) return absl::OkStatus();
  const uint64_t end = published_end_;
  const uint32_t count = published_count_;
  const uint64_t last_seq = published_seq_;
  const uint64_t epoch = this->epoch();
  ++unlocked_syncs_;
  mu_.unlock();
  absl::Status s = TimedSync(seg.get(), end);
  mu_.lock();
  if (--unlocked_syncs_ == 0) idle_cv_.notify_all();
  ++stats_.syncs;
  if (!s.ok()) {
    ++stats_.sync_failures;
    if (seg == active_) seg->Redirty(synced_end_, end);
    return s;
  }
  MarkSyncedLocked(seg.get(), end, count, last_seq, epoch);
  return absl::OkStatus();
}

absl::Status LogCore::Sync() {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return absl::FailedPreconditionError("the WAL is closed");
  if (!failed_.ok()) return failed_;
  return SyncPublishedLocked();
}

absl::Status LogCore::RotateLocked() {
  // Retention runs in the background thread once the retired segment is
  // sealed, not here on the write path.
  if (active_ != nullptr) RetireActiveLocked();
  prefault_cv_.notify_one();  // for a new spare
  while (spare_ == nullptr && making_spare_) WaitLocked(spare_cv_);
  if (spare_ != nullptr) {
    std::shared_ptr<Segment> seg = std::move(spare_);
    spare_.reset();
    // Ids must grow with sequences; a spare made while a rotation created a
    // segment itself has a lower id than that segment.
    const bool in_order =
        segments_.empty() || seg->id() > segments_.rbegin()->first;
    if (in_order && seg->Activate(next_seq_, NowNs()).ok()) {
      InstallActiveLocked(std::move(seg),
                          kSegmentHeaderSize + options_.prefault_bytes);
      return absl::OkStatus();
    }
    seg->MarkObsolete();  // could not be renamed: create one the slow way
  }
  return CreateActiveLocked();
}

void LogCore::RetireActiveLocked() {
  Segment* seg = active_.get();
  seg->set_header(HeaderForEnd(seg->header(), published_end_, published_count_,
                               published_seq_, kFlagSealed, NowNs()));
  unsealed_.push_back(std::move(active_));
  active_.reset();
  unsynced_bytes_ = 0;
  bg_cv_.notify_one();  // for the seal
}

absl::Status LogCore::SealPendingLocked(size_t max_segments) {
  while (sealing_) WaitLocked(seal_cv_);
  for (size_t n = 0; n < max_segments && !unsealed_.empty(); ++n) {
    std::shared_ptr<Segment> seg = unsealed_.front();
    const uint64_t end = seg->header().write_offset;
    sealing_ = true;
    mu_.unlock();
    seg->Retire();  // no store reaches a retired segment
    // Frames first, then the header that claims them.
    absl::Status s = TimedSync(seg.get(), end);
    int syncs = 1;
    if (s.ok()) s = seg->PersistHeader();
    if (s.ok()) {
      s = TimedSync(seg.get(), kSegmentHeaderSize);
      ++syncs;
    }
    mu_.lock();
    sealing_ = false;
    seal_cv_.notify_all();
    stats_.syncs += syncs;
    if (!s.ok()) {
      ++stats_.sync_failures;
      seg->Redirty(0, end);
      return s;
    }
    unsealed_.pop_front();
    if (options_.listener != nullptr) {
      options_.listener->OnSegmentSealed(seg->id(), end);
    }
  }
  return absl::OkStatus();
}

absl::Status LogCore::CreateActiveLocked() {
  const uint32_t id = next_segment_id_++;
  absl::StatusOr<std::shared_ptr<Segment>> seg = Segment::Create(
      options_.fs, dir_, id, next_seq_, options_.segment_size, NowNs());
  if (!seg.ok()) return seg.status();
  InstallActiveLocked(*std::move(seg), kSegmentHeaderSize);
  return absl::OkStatus();
}

void LogCore::InstallActiveLocked(std::shared_ptr<Segment> seg,
                                  uint64_t prefault_end) {
  const uint32_t id = seg->id();
  active_ = std::move(seg);
  segments_[id] = active_;
  written_end_ = published_end_ = synced_end_ = kSegmentHeaderSize;
  published_count_ = 0;
  prefault_end_ = std::min(prefault_end, active_->size());
  RequestPrefaultLocked();
  ++stats_.segments_created;
  UpdateFirstSeqLocked();
  if (options_.listener != nullptr) options_.listener->OnSegmentCreated(id);
}

absl::Status LogCore::MakeSpareLocked() {
  const uint32_t id = next_segment_id_++;
  const uint64_t now = NowNs();
  making_spare_ = true;
  mu_.unlock();
  absl::StatusOr<std::shared_ptr<Segment>> seg = Segment::Create(
      options_.fs, dir_, id, /*first_seq=*/0, options_.segment_size, now);
  if (seg.ok() && options_.prefault_bytes > 0) {
    (*seg)
        ->Prefault(kSegmentHeaderSize,
                   std::min((*seg)->size(),
                            kSegmentHeaderSize + options_.prefault_bytes))
        .IgnoreError();  // a hint; the prefault thread catches up anyway
  }
  mu_.lock();
  making_spare_ = false;
  spare_cv_.notify_all();
  if (!seg.ok()) return seg.status();
  if (!segments_.empty() && id < segments_.rbegin()->first) {
    (*seg)->MarkObsolete();  // overtaken by a rotation; try again
    return absl::OkStatus();
  }
  spare_ = *std::move(seg);
  return absl::OkStatus();
}

void LogCore::BackgroundLoop() {
  std::lock_guard<std::mutex> l(mu_);
  const bool periodic = options_.sync_mode == SyncMode::kPeriodic;
  const bool age_rule = options_.retain_age > absl::ZeroDuration() ||
                        options_.max_hold_age > absl::ZeroDuration();
  absl::Time next_sync = absl::Now() + options_.sync_interval;
  absl::Time next_age_check = absl::Now() + absl::Seconds(1);
  bool seal_failed = false;  // then retry only after a wait
  while (!bg_stop_) {
    const absl::Time now = absl::Now();
    const bool sync_due = bg_sync_requested_ || (periodic && now >= next_sync);
    const bool age_due = age_rule && now >= next_age_check;
    const bool seal_due = !unsealed_.empty() && !seal_failed;
    if (!sync_due && !age_due && !seal_due) {
      absl::Time until = now + absl::Seconds(1);
      if (periodic) until = std::min(until, next_sync);
      if (age_rule) until = std::min(until, next_age_check);
      WaitUntilLocked(bg_cv_, until);
      seal_failed = false;
      continue;
    }
    bool retention_due = age_due;
    if (seal_due) {
      // One segment per round, so that a periodic sync is not held up by a
      // long backlog.
      absl::Status s = SealPendingLocked(/*max_segments=*/1);
      seal_failed = !s.ok();
      if (seal_failed && options_.listener != nullptr) {
        options_.listener->OnBackgroundError(s);
      }
      retention_due = true;  // what was unsealed may go now
    }
    if (sync_due) {
      bg_sync_requested_ = false;
      next_sync = now + options_.sync_interval;
      if (absl::Status s = SyncPublishedLocked();
          !s.ok() && options_.listener != nullptr) {
        options_.listener->OnBackgroundError(s);
      }
    }
    if (age_due) next_age_check = now + absl::Seconds(1);
    if (retention_due) {
      mu_.unlock();
      absl::Status s = RunRetention(/*seal_first=*/false);
      mu_.lock();
      if (!s.ok() && !absl::IsFailedPrecondition(s) &&
          options_.listener != nullptr) {
        options_.listener->OnBackgroundError(s);
      }
    }
  }
}

void LogCore::AwaitNoWritersLocked() {
  while (!writers_.empty()) WaitLocked(idle_cv_);
}

absl::Status LogCore::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return absl::OkStatus();
    closing_ = true;
    AwaitNoWritersLocked();
  }
  StopThreads();

  std::lock_guard<std::mutex> l(mu_);
  absl::Status s = SealPendingLocked();
  if (s.ok() && active_ != nullptr) {
    s = SyncPublishedLocked();
    if (s.ok() && active_ != nullptr) {
      // Make the header's claims final for this clean close.
      s = TimedSync(active_.get(), kSegmentHeaderSize);
      ++stats_.syncs;
    }
  }
  if (spare_ != nullptr) {
    // An empty spare is not worth keeping; the next Open makes another.
    if (options_.fs->Remove(spare_->path()).ok()) spare_->ForgetFile();
    spare_.reset();
  }
  closed_ = true;
  closed_flag_.store(true, std::memory_order_release);
  data_cv_.notify_all();
  active_.reset();
  segments_.clear();
  lock_.reset();
  return s;
}

void LogCore::SimulateCrash() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return;
    closing_ = true;
    AwaitNoWritersLocked();
  }
  StopThreads();
  std::lock_guard<std::mutex> l(mu_);
  closed_ = true;
  closed_flag_.store(true, std::memory_order_release);
  data_cv_.notify_all();
  spare_.reset();  // its file stays, as a crash would leave it
  active_.reset();
  segments_.clear();
  lock_.reset();
}

uint64_t LogCore::FirstSequence() const {
  std::lock_guard<std::mutex> l(mu_);
  return first_seq_;
}

uint64_t LogCore::LastSequence() const {
  std::lock_guard<std::mutex> l(mu_);
  return published_seq_;
}

LogStats LogCore::GetStats() const {
  std::lock_guard<std::mutex> l(mu_);
  LogStats s = stats_;
  s.live_segments = segments_.size();
  s.live_bytes = 0;
  for (const auto& [id, seg] : segments_) s.live_bytes += seg->size();
  return s;
}

}  // namespace cairn::wal
