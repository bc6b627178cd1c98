// LogCore: finding sequences, positioning readers, retention, truncation and
// backup of sealed segments.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cairn/wal/format.h"
#include "log_core.h"

namespace cairn::wal {

namespace {

// Whether the file at path starts with seg's header as it is on disk now.
bool SameHeader(FileSystem* fs, const std::string& path, const Segment& seg) {
  OpenOptions read_only;
  read_only.read_only = true;
  absl::StatusOr<std::unique_ptr<File>> f = fs->Open(path, read_only);
  if (!f.ok()) return false;
  char header[kSegmentHeaderSize];
  absl::StatusOr<size_t> n = (*f)->ReadAt(0, header, sizeof(header));
  return n.ok() && *n == sizeof(header) &&
         std::memcmp(header, seg.read_data(), sizeof(header)) == 0;
}

}  // namespace

uint64_t LogCore::SegmentEndLocked(const Segment* seg) const {
  return seg == active_.get() ? published_end_ : seg->header().write_offset;
}

uint64_t LogCore::SegmentLastSeqLocked(const Segment* seg) const {
  return seg == active_.get() ? published_seq_ : seg->header().last_seq;
}

void LogCore::UpdateFirstSeqLocked() {
  first_seq_ = segments_.empty()
                   ? next_seq_
                   : segments_.begin()->second->header().first_seq;
}

absl::StatusOr<LogCore::SegmentView> LogCore::SegmentForLocked(
    uint64_t seq) const {
  if (seq < first_seq_) {
    return absl::OutOfRangeError(absl::StrFormat(
        "sequence %d is no longer in the WAL; the first available sequence "
        "is %d",
        seq, first_seq_));
  }
  if (seq > published_seq_) {
    return absl::OutOfRangeError(
        absl::StrFormat("sequence %d is beyond the last committed sequence %d",
                        seq, published_seq_));
  }
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    const Segment* seg = it->second.get();
    if (seg->header().first_seq <= seq) {
      return SegmentView{it->second, SegmentEndLocked(seg),
                         seg->header().first_seq};
    }
  }
  return absl::InternalError("no WAL segment holds a committed sequence");
}

absl::StatusOr<uint64_t> LogCore::LocateInSegment(const SegmentView& view,
                                                  uint64_t seq) const {
  Segment* seg = view.segment.get();
  SequenceIndex& index = seg->index();
  if (!index.complete()) {
    // A sealed segment found at open: index it once. Racing builders add the
    // same entries in the same order, which MaybeAddIn keeps single; a
    // truncation meanwhile makes this build's entries void. A scan stopped
    // by damage leaves the index short of it: a lookup past it finds the
    // damage below and reports it.
    const uint64_t interval = options_.index_interval;
    const uint64_t generation = index.generation();
    ScanFrames(seg->read_data(), view.end, kSegmentHeaderSize, view.first_seq,
               [&](uint64_t offset, const FrameView& f) {
                 index.MaybeAddIn(generation, f.first_seq, offset, interval);
               });
    index.SetCompleteIn(generation);
  }
  SequenceIndex::Entry e{view.first_seq, kSegmentHeaderSize};
  index.Lookup(seq, &e);
  uint64_t offset = e.offset;
  uint64_t expected = e.first_seq;
  while (offset < view.end) {
    FrameView f;
    FrameError err =
        DecodeFrame(seg->read_data() + offset, view.end - offset, &f);
    if (err == FrameError::kNone && f.first_seq != expected) {
      err = FrameError::kBadSequence;
    }
    if (err != FrameError::kNone) {
      return absl::DataLossError(absl::StrFormat("WAL segment %s offset %d: %s",
                                                 seg->path(), offset,
                                                 FrameErrorName(err)));
    }
    if (seq < f.first_seq + f.seq_count) return offset;
    offset += f.size;
    expected += f.seq_count;
  }
  return absl::DataLossError(absl::StrFormat(
      "WAL segment %s ends before sequence %d", seg->path(), seq));
}

absl::StatusOr<Position> LogCore::Find(uint64_t seq) const {
  absl::StatusOr<SegmentView> view;
  {
    std::lock_guard<std::mutex> l(mu_);
    view = SegmentForLocked(seq);
  }
  if (!view.ok()) return view.status();
  absl::StatusOr<uint64_t> offset = LocateInSegment(*view, seq);
  if (!offset.ok()) return offset.status();
  return Position{view->segment->id(), *offset};
}

absl::StatusOr<std::unique_ptr<Reader>> LogCore::NewReader(uint64_t from_seq) {
  absl::StatusOr<SegmentView> view;
  uint64_t epoch;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return absl::FailedPreconditionError("the WAL is closed");
    epoch = this->epoch();
    if (from_seq == published_seq_ + 1 && from_seq >= first_seq_ &&
        !segments_.empty()) {
      // At the end: wait in the newest segment for the next record.
      std::shared_ptr<Segment> seg = segments_.rbegin()->second;
      return std::unique_ptr<Reader>(new Reader(shared_from_this(), seg,
                                                SegmentEndLocked(seg.get()),
                                                from_seq, epoch));
    }
    view = SegmentForLocked(from_seq);
  }
  if (!view.ok()) return view.status();
  absl::StatusOr<uint64_t> offset = LocateInSegment(*view, from_seq);
  if (!offset.ok()) return offset.status();
  FrameView f;
  if (DecodeFrame(view->segment->read_data() + *offset, view->end - *offset,
                  &f) != FrameError::kNone) {
    // Changed under us: only a truncation does that.
    return absl::FailedPreconditionError(absl::StrFormat(
        "the WAL was truncated while a reader was being placed at %d",
        from_seq));
  }
  return std::unique_ptr<Reader>(new Reader(shared_from_this(), view->segment,
                                            *offset, f.first_seq, epoch));
}

absl::StatusOr<bool> LogCore::RefreshReader(Reader* r, absl::Time deadline) {
  std::lock_guard<std::mutex> l(mu_);
  for (;;) {
    if (r->cancelled_.load(std::memory_order_acquire)) {
      return absl::CancelledError("WAL reader cancelled");
    }
    if (closed_) return absl::FailedPreconditionError("the WAL is closed");
    if (r->epoch_ != epoch()) {
      uint64_t cut = UINT64_MAX;
      for (const auto& [e, seq] : truncations_) {
        if (e > r->epoch_) cut = std::min(cut, seq);
      }
      if (r->next_seq_ > cut + 1) {
        r->failure_ = absl::FailedPreconditionError(absl::StrFormat(
            "the WAL was truncated after sequence %d, before this reader's "
            "position %d",
            cut, r->next_seq_));
        return r->failure_;
      }
      r->epoch_ = epoch();
    }
    const Segment* seg = r->segment_.get();
    const uint64_t end = SegmentEndLocked(seg);
    if (r->offset_ < end) {
      r->limit_ = end;
      return true;
    }
    if (seg != active_.get()) {
      // The segment is sealed and fully read: move on to the next one.
      auto next = segments_.upper_bound(seg->id());
      if (next != segments_.end()) {
        // Retention removed what comes next while this reader lagged (it
        // kept only the segment it was in): not corruption, but history
        // that is gone.
        if (r->next_seq_ < first_seq_) {
          r->failure_ = absl::OutOfRangeError(absl::StrFormat(
              "sequence %d is no longer in the WAL (retention removed it "
              "while this reader was behind); the first available sequence "
              "is %d",
              r->next_seq_, first_seq_));
          return r->failure_;
        }
        if (next->second->header().first_seq != r->next_seq_) {
          return absl::DataLossError(absl::StrFormat(
              "WAL sequence gap: reader expects %d, segment %s starts at %d",
              r->next_seq_, next->second->path(),
              next->second->header().first_seq));
        }
        r->segment_ = next->second;
        r->offset_ = kSegmentHeaderSize;
        r->limit_ = kSegmentHeaderSize;
        continue;
      }
    }
    if (absl::Now() >= deadline) return false;
    ++waiting_readers_;
    WaitUntilLocked(data_cv_, deadline);
    --waiting_readers_;
  }
}

void LogCore::SetDeletableBelow(uint64_t seq) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (seq <= deletable_below_) return;
    deletable_below_ = seq;
  }
  if (absl::Status s = EnforceRetention();
      !s.ok() && options_.listener != nullptr) {
    options_.listener->OnBackgroundError(s);
  }
}

void LogCore::SetRetentionHold(uint64_t seq) {
  {
    std::lock_guard<std::mutex> l(mu_);
    hold_ = seq;
  }
  if (absl::Status s = EnforceRetention();
      !s.ok() && options_.listener != nullptr) {
    options_.listener->OnBackgroundError(s);
  }
}

absl::Status LogCore::EnforceRetention() { return RunRetention(true); }

absl::Status LogCore::RunRetention(bool seal_first) {
  // One pass at a time, unlinks included, so that when a pass returns the
  // files it deleted (and no reader holds) are gone.
  std::lock_guard<std::mutex> pass(retention_mu_);
  SegmentList doomed;  // released after mu_: files go with them
  absl::Status s;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closing_ || closed_) {
      return absl::FailedPreconditionError("the WAL is closed");
    }
    // Only a durably sealed segment may go (see EnforceRetentionLocked).
    if (seal_first) s = SealPendingLocked();
    std::shared_ptr<Segment> blocker = EnforceRetentionLocked(&doomed);
    if (blocker != nullptr) {
      // Not while a seal may be rewriting that header.
      while (sealing_) WaitLocked(seal_cv_);
      sealing_ = true;
      mu_.unlock();
      absl::Status synced = blocker->Sync(kSegmentHeaderSize);
      mu_.lock();
      sealing_ = false;
      seal_cv_.notify_all();
      ++stats_.syncs;
      if (!synced.ok()) return synced;
      EnforceRetentionLocked(&doomed);
    }
  }
  if (doomed.empty()) return s;
  // The obsolete marks reach the disk before any file goes; then the files
  // of segments no reader holds go, and the directory says so.
  for (const auto& seg : doomed) {
    absl::Status marked = seg->Sync(kSegmentHeaderSize);
    if (s.ok()) s = marked;
  }
  doomed.clear();
  absl::Status dir = options_.fs->SyncDir(dir_);
  return s.ok() ? dir : s;
}

std::shared_ptr<Segment> LogCore::EnforceRetentionLocked(SegmentList* doomed) {
  uint64_t total = 0;
  for (const auto& [id, seg] : segments_) total += seg->size();
  const absl::Time now = options_.clock();
  for (auto it = segments_.begin(); it != segments_.end();) {
    Segment* seg = it->second.get();
    const SegmentHeader& h = seg->header();
    // A segment whose seal is not yet durable stays: if its removal were
    // lost in a crash, recovery would find it unsealed and maybe torn.
    // Nor does the newest segment (even while rotation has no active one).
    if (seg == active_.get() || (h.flags & kFlagSealed) == 0 ||
        std::next(it) == segments_.end() ||
        std::find(unsealed_.begin(), unsealed_.end(), it->second) !=
            unsealed_.end()) {
      break;
    }
    if (h.last_seq >= deletable_below_) break;
    if (options_.retain_bytes > 0 &&
        total - seg->size() < options_.retain_bytes) {
      break;
    }
    if (options_.retain_age > absl::ZeroDuration() &&
        now - absl::FromUnixNanos(static_cast<int64_t>(h.modified_ns)) <
            options_.retain_age) {
      break;
    }
    const bool over_cap =
        (options_.max_hold_bytes > 0 && total > options_.max_hold_bytes) ||
        (options_.max_hold_age > absl::ZeroDuration() &&
         now - absl::FromUnixNanos(static_cast<int64_t>(h.modified_ns)) >=
             options_.max_hold_age);
    if (hold_ > 0 && h.last_seq >= hold_ && !over_cap) break;
    const auto next = std::next(it);
    if (next != segments_.end() && !next->second->header_durable()) {
      UpdateFirstSeqLocked();
      return next->second;
    }

    total -= seg->size();
    // Marked on disk too (RunRetention syncs it before anything is
    // unlinked): a reader may defer the unlink, and a crash may lose it.
    if (!seg->WriteHeader(HeaderForEnd(h, h.write_offset, h.entry_count,
                                       h.last_seq, h.flags | kFlagObsolete,
                                       h.modified_ns))
             .ok()) {
      break;  // it stays; the next pass tries again
    }
    seg->MarkObsolete();
    ++stats_.segments_deleted;
    if (options_.listener != nullptr) {
      options_.listener->OnSegmentDeleted(seg->id());
    }
    doomed->push_back(std::move(it->second));
    it = segments_.erase(it);
  }
  UpdateFirstSeqLocked();
  return nullptr;
}

absl::Status LogCore::TruncateAfter(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  if (closing_ || closed_) {
    return absl::FailedPreconditionError("the WAL is closed");
  }
  if (!failed_.ok()) return failed_;
  // Appends wait while truncating_ is set (TruncateAfterLocked releases the
  // lock while it seals); a backup copying segments finishes first.
  while (truncating_ || copies_ > 0) WaitLocked(idle_cv_);
  truncating_ = true;
  AwaitNoWritersLocked();
  while (unlocked_syncs_ > 0) WaitLocked(idle_cv_);
  absl::Status s = TruncateAfterLocked(seq);
  truncating_ = false;
  idle_cv_.notify_all();
  return s;
}

absl::Status LogCore::TruncateAfterLocked(uint64_t seq) {
  if (seq > published_seq_) {
    return absl::OutOfRangeError(
        absl::StrFormat("seq: %d is beyond the last sequence in the WAL (%d)",
                        seq, published_seq_));
  }
  if (seq == published_seq_) return absl::OkStatus();
  // Retired segments reach their sealed state on disk first, so that the
  // truncation below is the only change in flight.
  if (absl::Status s = SealPendingLocked(); !s.ok()) return s;
  if (seq + 1 < first_seq_) {
    return absl::OutOfRangeError(absl::StrFormat(
        "seq: %d is below the first sequence still in the WAL (%d)", seq,
        first_seq_));
  }
  // The segment where sequence seq + 1 would start.
  auto target_it = segments_.end();
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    if (it->second->header().first_seq <= seq + 1) target_it = it;
  }
  if (target_it == segments_.end()) {
    return absl::InternalError("no WAL segment to truncate");
  }
  std::shared_ptr<Segment> target = target_it->second;
  const uint64_t end = SegmentEndLocked(target.get());

  // Find the cut: the frame that starts at seq + 1, or the end.
  uint64_t cut = kSegmentHeaderSize;
  uint64_t next = target->header().first_seq;
  uint32_t count = 0;
  while (next <= seq) {
    FrameView f;
    FrameError err = DecodeFrame(target->read_data() + cut, end - cut, &f);
    if (err != FrameError::kNone) {
      return absl::DataLossError(absl::StrFormat("WAL segment %s offset %d: %s",
                                                 target->path(), cut,
                                                 FrameErrorName(err)));
    }
    if (seq + 1 < f.first_seq + f.seq_count) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "seq: %d is inside the record covering [%d, %d]; truncate at a "
          "record boundary",
          seq, f.first_seq, f.first_seq + f.seq_count - 1));
    }
    cut += f.size;
    next += f.seq_count;
    ++count;
  }

  // From here on the truncation is carried out in steps; should one fail,
  // the log refuses writes until it is reopened, and recovery completes the
  // truncation (once step 1 is on disk) or finds the log as it was.
  // Readers learn of it before any byte changes.
  truncations_.emplace_back(epoch() + 1, seq);
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  data_cv_.notify_all();
  auto fail = [&](const absl::Status& s) {
    failed_ = absl::FailedPreconditionError(absl::StrFormat(
        "WAL truncation after sequence %d failed midway (%s); reopen the log "
        "to complete it",
        seq, s.message()));
    return failed_;
  };
  // 1. The frames kept are durable, then the target's header says the log
  //    ends at the cut (recovery cuts there and drops newer segments).
  if (absl::Status s = target->Sync(cut); !s.ok()) return fail(s);
  if (absl::Status s = target->WriteHeader(
          HeaderForEnd(target->header(), cut, count, seq,
                       kFlagActive | kFlagTruncated, NowNs()));
      !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = target->Sync(kSegmentHeaderSize); !s.ok()) {
    return fail(s);
  }
  // 2. Newer segments go, newest first (a crash leaves a contiguous log),
  //    at once rather than deferred for readers: they are past the cut.
  while (segments_.rbegin()->first != target->id()) {
    auto newest = std::prev(segments_.end());
    if (absl::Status s = options_.fs->Remove(newest->second->path()); !s.ok()) {
      return fail(s);
    }
    newest->second->ForgetFile();
    segments_.erase(newest);
  }
  if (absl::Status s = options_.fs->SyncDir(dir_); !s.ok()) return fail(s);
  // 3. The cut-off frames become zeros, then the header a plain one again.
  if (absl::Status s = target->ZeroRange(cut, end); !s.ok()) return fail(s);
  if (absl::Status s = target->Sync(end); !s.ok()) return fail(s);
  if (absl::Status s = target->WriteHeader(HeaderForEnd(
          target->header(), cut, count, seq, kFlagActive, NowNs()));
      !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = target->Sync(kSegmentHeaderSize); !s.ok()) {
    return fail(s);
  }
  target->index().TruncateFrom(cut);
  if (absl::Status s = target->Unretire(); !s.ok()) return fail(s);

  active_ = target;
  written_end_ = published_end_ = synced_end_ = cut;
  published_count_ = count;
  next_seq_ = seq + 1;
  published_seq_ = seq;
  // Sequences after seq will be written anew: whatever the owner had
  // released above seq no longer describes them.
  deletable_below_ = std::min(deletable_below_, seq + 1);
  unsynced_bytes_ = 0;
  prefault_end_ = cut;
  RequestPrefaultLocked();
  next_segment_id_ = std::max(next_segment_id_, target->id() + 1);
  UpdateFirstSeqLocked();
  data_cv_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LogCore::CopySealedSegments(
    const std::string& dest_dir) {
  SegmentList sealed;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closing_ || closed_) {
      return absl::FailedPreconditionError("the WAL is closed");
    }
    // A backup holds only segments whose sealed state is on disk.
    if (absl::Status s = SealPendingLocked(); !s.ok()) return s;
    ++copies_;  // no truncation rewrites a segment while it is copied
    for (const auto& [id, seg] : segments_) {
      if (seg != active_ && (seg->header().flags & kFlagSealed) != 0) {
        sealed.push_back(seg);
      }
    }
  }
  absl::StatusOr<std::vector<std::string>> copied =
      CopySegments(sealed, dest_dir);
  std::lock_guard<std::mutex> l(mu_);
  --copies_;
  idle_cv_.notify_all();
  return copied;
}

absl::StatusOr<std::vector<std::string>> LogCore::CopySegments(
    const SegmentList& sealed, const std::string& dest_dir) const {
  FileSystem* fs = options_.fs;
  if (absl::Status s = fs->CreateDir(dest_dir); !s.ok()) return s;
  std::vector<std::string> copied;
  for (const auto& seg : sealed) {
    const std::string name = SegmentFileName(seg->id());
    const std::string dest = JoinPath(dest_dir, name);
    // A copy is current if its sealed header is byte for byte the same (a
    // segment truncated and sealed again has a different one; sizes are
    // always the same).
    if (SameHeader(fs, dest, *seg)) continue;
    const std::string tmp = dest + ".tmp";
    absl::Status s = CopyFile(fs, seg->path(), tmp);
    if (s.ok()) s = fs->Rename(tmp, dest);
    if (!s.ok()) {
      fs->Remove(tmp).IgnoreError();
      return s;
    }
    copied.push_back(name);
  }
  if (!copied.empty()) {
    if (absl::Status s = fs->SyncDir(dest_dir); !s.ok()) return s;
  }
  return copied;
}

std::vector<SegmentInfo> LogCore::ListSegments() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<SegmentInfo> out;
  for (const auto& [id, seg] : segments_) {
    SegmentInfo info;
    info.id = id;
    info.path = seg->path();
    info.first_seq = seg->header().first_seq;
    info.last_seq = SegmentLastSeqLocked(seg.get());
    info.bytes = seg->size();
    info.used = SegmentEndLocked(seg.get());
    info.sealed = seg != active_ && (seg->header().flags & kFlagSealed) != 0;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace cairn::wal
