// LogCore::Open: option checks, the directory lock, and recovery of the
// segments found on disk. Only the last segment can have a torn tail (a
// segment is synced before it is sealed and before the next one exists), so
// only it is scanned; older ones are checked through their sealed headers and
// verified frame by frame whenever they are read.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "cairn/wal/format.h"
#include "log_core.h"

namespace cairn::wal {
namespace {

// Where a segment's records start: its header says so, unless it was
// activated from a spare and its header never reached the disk; then its
// first frame does. 0 if neither tells.
uint64_t StartSequence(const Segment& seg) {
  if (seg.header_status().ok() && seg.header().first_seq != 0) {
    return seg.header().first_seq;
  }
  FrameView f;
  if (DecodeFrame(seg.read_data() + kSegmentHeaderSize,
                  seg.size() - kSegmentHeaderSize, &f) == FrameError::kNone) {
    return f.first_seq;
  }
  return 0;
}

uint64_t CountFramesFrom(const char* data, uint64_t size, uint64_t offset) {
  uint64_t frames = 0;
  while (offset != 0 && offset < size) {
    FrameView f;
    if (DecodeFrame(data + offset, size - offset, &f) == FrameError::kNone) {
      ++frames;
      offset += f.size;
    } else {
      offset = FindValidFrame(data, size, offset + kFrameAlignment);
    }
  }
  return frames;
}

}  // namespace

absl::Status LogCore::ValidateOptions() const {
  if (options_.fs == nullptr) {
    return absl::InvalidArgumentError("fs: must not be null");
  }
  if (options_.segment_size < kMinSegmentSize ||
      options_.segment_size > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("segment_size: %d is outside [%d, 4 GiB]",
                        options_.segment_size, kMinSegmentSize));
  }
  if (options_.first_sequence == 0) {
    return absl::InvalidArgumentError("first_sequence: must be at least 1");
  }
  if (options_.max_group_bytes == 0) {
    return absl::InvalidArgumentError("max_group_bytes: must be positive");
  }
  if (options_.index_interval == 0) {
    return absl::InvalidArgumentError("index_interval: must be positive");
  }
  if (options_.sync_mode == SyncMode::kBytes && options_.bytes_per_sync == 0) {
    return absl::InvalidArgumentError(
        "bytes_per_sync: must be positive with SyncMode::kBytes");
  }
  if (options_.sync_mode == SyncMode::kPeriodic &&
      options_.sync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "sync_interval: must be positive with SyncMode::kPeriodic");
  }
  if (!options_.clock) {
    return absl::InvalidArgumentError("clock: must be set");
  }
  return absl::OkStatus();
}

absl::Status LogCore::Open() {
  if (absl::Status s = ValidateOptions(); !s.ok()) return s;
  FileSystem* fs = options_.fs;
  if (absl::Status s = fs->CreateDir(dir_); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<FileLock>> lock =
      fs->Lock(JoinPath(dir_, "LOCK"));
  if (!lock.ok()) {
    if (absl::IsFailedPrecondition(lock.status())) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "WAL directory %s is already open by another Log", dir_));
    }
    return lock.status();
  }
  lock_ = std::move(*lock);

  absl::StatusOr<std::vector<std::string>> names = fs->ListDir(dir_);
  if (!names.ok()) return names.status();
  std::vector<uint32_t> ids;
  bool renamed = false;
  for (const std::string& name : *names) {
    uint32_t id;
    bool spare;
    if (ParseSegmentFileName(name, &id, &spare)) {
      if (spare) {
        // A spare is an empty segment, or one activated before the crash
        // whose rename was not yet durable: either way, a segment.
        if (absl::Status s = fs->Rename(JoinPath(dir_, name),
                                        JoinPath(dir_, SegmentFileName(id)));
            !s.ok()) {
          return s;
        }
        renamed = true;
      }
      ids.push_back(id);
    } else if (name.size() > 8 && name.ends_with(".wal.tmp")) {
      // A segment whose creation never finished; it never held a record.
      if (absl::Status s = fs->Remove(JoinPath(dir_, name)); !s.ok()) return s;
      ++report_.removed_temp_files;
    }
  }
  std::sort(ids.begin(), ids.end());
  if (renamed) {
    if (absl::Status s = fs->SyncDir(dir_); !s.ok()) return s;
  }

  std::vector<std::shared_ptr<Segment>> segs;
  for (uint32_t id : ids) {
    absl::StatusOr<std::shared_ptr<Segment>> seg = Segment::Open(fs, dir_, id);
    if (!seg.ok()) return seg.status();
    segs.push_back(*std::move(seg));
  }
  auto remove = [&](const std::shared_ptr<Segment>& seg) {
    absl::Status s = fs->Remove(seg->path());
    if (s.ok()) seg->ForgetFile();
    return s;
  };
  auto flagged = [](const Segment& seg, uint32_t flag) {
    return seg.header_status().ok() && (seg.header().flags & flag) != 0;
  };
  bool removed = false;

  // Segments retention deleted whose files survived: a reader deferred the
  // unlink, or a crash lost it.
  for (auto it = segs.begin(); it != segs.end();) {
    if (!flagged(**it, kFlagObsolete)) {
      ++it;
      continue;
    }
    if (std::next(it) == segs.end()) {
      // Retention never deletes the newest segment.
      return absl::DataLossError(absl::StrFormat(
          "WAL segment %s, the newest, is flagged as deleted", (*it)->path()));
    }
    if (absl::Status s = remove(*it); !s.ok()) return s;
    ++report_.removed_obsolete_segments;
    removed = true;
    it = segs.erase(it);
  }
  // A truncation cut short by a crash: its target says where the log ends,
  // and the newer segments were on their way out.
  for (size_t i = 0; i < segs.size(); ++i) {
    if (!flagged(*segs[i], kFlagTruncated)) continue;
    while (segs.size() > i + 1) {
      if (absl::Status s = remove(segs.back()); !s.ok()) return s;
      segs.pop_back();
      removed = true;
    }
    break;
  }
  // A segment with no first sequence and no frame holds nothing: a spare
  // made ahead of need, or one activated whose records and header never
  // reached the disk. Such segments can only trail the log.
  while (segs.size() > 1 && segs.back()->header_status().ok() &&
         StartSequence(*segs.back()) == 0) {
    if (absl::Status s = remove(segs.back()); !s.ok()) return s;
    segs.pop_back();
    removed = true;
  }
  if (removed) {
    if (absl::Status s = fs->SyncDir(dir_); !s.ok()) return s;
  }

  std::lock_guard<std::mutex> l(mu_);
  const Segment* prev = nullptr;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::shared_ptr<Segment>& seg = segs[i];
    next_segment_id_ = seg->id() + 1;
    const bool last = i + 1 == segs.size();
    if (!last && !seg->header_status().ok()) {
      // Only the last segment's header is rewritten often enough for a crash
      // to tear it; anywhere else a bad header is damage.
      return absl::DataLossError(absl::StrFormat(
          "WAL segment %s: %s", seg->path(), seg->header_status().message()));
    }
    if (!last && flagged(*seg, kFlagSealed)) {
      if (absl::Status s = CheckSealedSegment(*seg, prev); !s.ok()) return s;
      if (seg->header().first_seq == 0) {
        return absl::DataLossError(absl::StrFormat(
            "WAL segment %s is sealed without a first sequence", seg->path()));
      }
      segments_[seg->id()] = seg;
      prev = seg.get();
      continue;
    }
    // The last segment, or one retired before its seal reached the disk.
    // The next segment says where this one must end.
    const Segment* next = last ? nullptr : segs[i + 1].get();
    absl::StatusOr<SegmentRecovery> found = AnalyzeSegment(*seg, prev, next);
    if (!found.ok()) return found.status();
    if (!found->complete) {
      // seg ends early (a torn tail): the newer segments can only hold
      // unsynced writes; if one claims durable records, that is damage, and
      // nothing is changed before saying so.
      for (size_t j = i + 1; j < segs.size(); ++j) {
        if (!segs[j]->header_status().ok() ||
            segs[j]->header().write_offset > kSegmentHeaderSize) {
          return absl::DataLossError(absl::StrFormat(
              "WAL segment %s claims durable records, but segment %s before "
              "it is torn at offset %d",
              segs[j]->path(), seg->path(), found->scan.end_offset));
        }
      }
    }
    if (absl::Status s = ApplyRecovery(seg, *found); !s.ok()) return s;
    segments_[seg->id()] = seg;
    if (found->complete) {
      prev = seg.get();
      continue;
    }
    // It becomes the last segment.
    for (size_t j = i + 1; j < segs.size(); ++j) {
      if (absl::Status s = remove(segs[j]); !s.ok()) return s;
      if (StartSequence(*segs[j]) != 0) ++report_.removed_unsynced_segments;
    }
    if (i + 1 < segs.size()) {
      if (absl::Status s = fs->SyncDir(dir_); !s.ok()) return s;
    }
    break;
  }
  report_.segments = static_cast<uint32_t>(segs.size());

  if (active_ == nullptr) {
    // No segment, or the last one was cleanly sealed.
    if (segments_.empty()) next_seq_ = options_.first_sequence;
    published_seq_ = next_seq_ - 1;
    if (absl::Status s = CreateActiveLocked(); !s.ok()) return s;
  }
  UpdateFirstSeqLocked();

  bg_thread_ = std::thread([this] { BackgroundLoop(); });
  if (options_.prefault_bytes > 0 || options_.prepare_next_segment) {
    prefault_end_ = written_end_;
    prepare_thread_ = std::thread([this] { PrepareLoop(); });
    RequestPrefaultLocked();
  }
  return absl::OkStatus();
}

absl::Status LogCore::CheckSealedSegment(const Segment& seg,
                                         const Segment* prev) const {
  const SegmentHeader& h = seg.header();
  if (h.segment_id != seg.id()) {
    return absl::DataLossError(absl::StrFormat(
        "WAL segment %s: header names segment %d", seg.path(), h.segment_id));
  }
  if (h.write_offset < kSegmentHeaderSize || h.write_offset > seg.size()) {
    return absl::DataLossError(absl::StrFormat(
        "WAL segment %s: header write offset %d is outside the segment",
        seg.path(), h.write_offset));
  }
  if (prev != nullptr && h.first_seq != prev->header().last_seq + 1) {
    return absl::DataLossError(absl::StrFormat(
        "WAL sequence gap: segment %s ends at %d, segment %s starts at %d",
        prev->path(), prev->header().last_seq, seg.path(), h.first_seq));
  }
  return absl::OkStatus();
}

absl::StatusOr<LogCore::SegmentRecovery> LogCore::AnalyzeSegment(
    const Segment& seg, const Segment* prev, const Segment* next) {
  SegmentRecovery r;
  r.header = seg.header();
  SegmentHeader& h = r.header;
  const char* data = seg.read_data();
  const uint64_t size = seg.size();
  if (!seg.header_status().ok()) {
    if (absl::IsFailedPrecondition(seg.header_status())) {
      return seg.header_status();  // a newer format, not damage
    }
    // The header was torn while being rewritten. Rebuild it from what the
    // frames say, claiming nothing about durability.
    r.rebuilt_header = true;
    h = SegmentHeader{};
    h.segment_id = seg.id();
    h.created_ns = NowNs();
    h.write_offset = kSegmentHeaderSize;
    FrameView first;
    if (prev != nullptr) {
      h.first_seq = prev->header().last_seq + 1;
    } else if (DecodeFrame(data + kSegmentHeaderSize, size - kSegmentHeaderSize,
                           &first) == FrameError::kNone) {
      h.first_seq = first.first_seq;
    } else {
      h.first_seq = options_.first_sequence;
    }
  } else if (h.first_seq == 0) {
    // Activated from a spare, but its header never reached the disk (it does
    // before the previous segment may be deleted): it starts where the
    // previous segment ends.
    if (prev == nullptr) {
      return absl::DataLossError(absl::StrFormat(
          "WAL segment %s has no first sequence and no predecessor",
          seg.path()));
    }
    h.first_seq = prev->header().last_seq + 1;
  } else if (absl::Status s = CheckSealedSegment(seg, prev); !s.ok()) {
    return s;
  }

  // A truncation in progress: the frames end at write_offset exactly.
  const bool truncated = (h.flags & kFlagTruncated) != 0;
  const uint64_t scan_end = truncated ? h.write_offset : size;
  SequenceIndex& index = seg.index();
  const uint64_t interval = options_.index_interval;
  r.scan = ScanFrames(data, scan_end, kSegmentHeaderSize, h.first_seq,
                      [&](uint64_t offset, const FrameView& f) {
                        index.MaybeAdd(f.first_seq, offset, interval);
                      });
  if (r.scan.end_offset < h.write_offset) {
    // Below the durable end every frame was synced: this is corruption, not
    // a torn write, and skipping it would silently drop acknowledged data.
    return absl::DataLossError(absl::StrFormat(
        "WAL segment %s is corrupt at offset %d (%s), below its durable end "
        "%d; records after it cannot be trusted",
        seg.path(), r.scan.end_offset, FrameErrorName(r.scan.stop),
        h.write_offset));
  }
  // A retired segment is complete when its records reach the first sequence
  // of the next segment.
  r.complete =
      !truncated && next != nullptr && StartSequence(*next) == r.scan.next_seq;
  // Everything after the last valid frame must be zero, so that stale bytes
  // can never be read as records later.
  r.dirty_end = EndOfNonZero(data, r.scan.end_offset, size);
  r.sealed =
      r.complete ||
      ((h.flags & kFlagSealed) != 0 && r.scan.end_offset == h.write_offset &&
       r.dirty_end == r.scan.end_offset && !r.rebuilt_header);
  return r;
}

absl::Status LogCore::ApplyRecovery(const std::shared_ptr<Segment>& seg,
                                    const SegmentRecovery& r) {
  const ScanResult& scan = r.scan;
  report_.records_scanned += scan.records;
  report_.rebuilt_header |= r.rebuilt_header;
  if (r.dirty_end > scan.end_offset) {
    report_.truncated_tail = true;
    report_.truncated_at = scan.end_offset;
    report_.truncated_bytes += r.dirty_end - scan.end_offset;
    report_.dropped_frames_after_cut +=
        CountFramesFrom(seg->read_data(), seg->size(), scan.valid_frame_after);
    if (absl::Status s = seg->ZeroRange(scan.end_offset, r.dirty_end);
        !s.ok()) {
      return s;
    }
  }
  // Make what survived durable before anything is appended after it, then
  // the header that says so.
  if (absl::Status s = seg->Sync(std::max(r.dirty_end, scan.end_offset));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = seg->WriteHeader(HeaderForEnd(
          r.header, scan.end_offset, scan.records, scan.next_seq - 1,
          r.sealed ? kFlagSealed : kFlagActive, NowNs()));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = seg->Sync(kSegmentHeaderSize); !s.ok()) return s;
  seg->index().set_complete();

  next_seq_ = scan.next_seq;
  published_seq_ = next_seq_ - 1;
  if (!r.sealed) {
    active_ = seg;
    written_end_ = published_end_ = synced_end_ = scan.end_offset;
    published_count_ = scan.records;
  }
  return absl::OkStatus();
}

}  // namespace cairn::wal
