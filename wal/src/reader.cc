#include "cairn/wal/reader.h"

#include "absl/strings/str_format.h"
#include "cairn/wal/format.h"
#include "log_core.h"

namespace cairn::wal {

Reader::Reader(std::shared_ptr<LogCore> core, std::shared_ptr<Segment> segment,
               uint64_t offset, uint64_t next_seq, uint64_t epoch)
    : core_(std::move(core)),
      segment_(std::move(segment)),
      offset_(offset),
      next_seq_(next_seq),
      epoch_(epoch) {}

Reader::~Reader() = default;

void Reader::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  // Wake it if it is waiting; the refresh loop sees the flag.
  core_->WakeAllReaders();
}

absl::StatusOr<Record> Reader::Next(absl::Time deadline) {
  for (;;) {
    if (cancelled_.load(std::memory_order_acquire)) {
      return absl::CancelledError("WAL reader cancelled");
    }
    if (!failure_.ok()) return failure_;
    if (core_->closed()) {
      return absl::FailedPreconditionError("the WAL is closed");
    }
    if (offset_ < limit_ && epoch_ == core_->epoch()) {
      FrameView f;
      FrameError err =
          DecodeFrame(segment_->read_data() + offset_, limit_ - offset_, &f);
      if (err == FrameError::kNone && f.first_seq != next_seq_) {
        err = FrameError::kBadSequence;
      }
      // A truncation may have changed the frame while it was read: only an
      // unchanged epoch afterwards vouches for what was decoded.
      if (err == FrameError::kNone && epoch_ == core_->epoch()) {
        Record rec{f.first_seq, f.seq_count, f.payload,
                   Position{segment_->id(), offset_}};
        offset_ += f.size;
        next_seq_ += f.seq_count;
        return rec;
      }
      // Zeros from a truncation in progress are not corruption; asking under
      // the log's lock tells (a truncation bumps the epoch before it zeroes),
      // and the refresh below reports it properly.
      if (err != FrameError::kNone && !core_->TruncatedSince(epoch_)) {
        return absl::DataLossError(absl::StrFormat(
            "WAL segment %s offset %d: %s (expected sequence %d)",
            segment_->path(), offset_, FrameErrorName(err), next_seq_));
      }
    }
    absl::StatusOr<bool> more = core_->RefreshReader(this, deadline);
    if (!more.ok()) return more.status();
    if (!*more) {
      return absl::DeadlineExceededError(
          absl::StrFormat("no WAL record after sequence %d before the deadline",
                          next_seq_ - 1));
    }
  }
}

}  // namespace cairn::wal
