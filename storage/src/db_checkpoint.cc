// Online checkpoints: a consistent copy of the database in another directory.
#include "absl/strings/str_format.h"
#include "db_impl.h"
#include "filename.h"

namespace cairn::storage {

absl::StatusOr<uint64_t> DBImpl::Checkpoint(const std::string& dir) {
  if (dir.empty()) {
    return absl::InvalidArgumentError("checkpoint dir: must not be empty");
  }
  if (fs_->Exists(dir)) {
    return absl::AlreadyExistsError(
        absl::StrFormat("checkpoint dir %s: already exists", dir));
  }
  // Flushing first keeps the WAL tail to copy (while writes wait) short.
  if (absl::Status s = Flush(FlushOptions{.wait = true}); !s.ok()) return s;
  if (absl::Status s = fs_->CreateDir(WalDirName(dir)); !s.ok()) return s;

  // Writes wait while the WAL tail is copied, so that the copy ends at a
  // batch boundary with the memtable state it implies.
  std::unique_lock<std::mutex> lock(mu_);
  PauseWrites(lock);
  std::shared_ptr<Version> v = versions_->current();
  const uint64_t flushed = versions_->flushed_seq();
  const uint64_t next_file = versions_->next_file_number();
  // With writes paused, the last sequence is where the copy ends.
  const uint64_t last_seq = log_->LastSequence();
  lock.unlock();
  auto copy = [&]() -> absl::Status {
    // A reader pins the WAL segments above the flushed sequence, so that a
    // flush finishing meanwhile cannot release them before they are copied.
    std::unique_ptr<wal::Reader> pin;
    if (log_->LastSequence() > flushed) {
      auto r = log_->NewReader(flushed + 1);
      if (!r.ok()) return r.status();
      pin = std::move(*r);
    }
    for (const wal::SegmentInfo& seg : log_->ListSegments()) {
      if (seg.last_seq <= flushed && seg.last_seq >= seg.first_seq &&
          seg.last_seq != log_->LastSequence()) {
        continue;  // wholly flushed
      }
      const std::string name = seg.path.substr(seg.path.rfind('/') + 1);
      if (absl::Status s =
              CopyFile(fs_, seg.path, JoinPath(WalDirName(dir), name));
          !s.ok()) {
        return s;
      }
    }
    for (int l = 0; l < v->num_levels(); ++l) {
      for (const auto& f : v->files(l)) {
        if (absl::Status s = fs_->Link(TableFileName(path_, f->number),
                                       TableFileName(dir, f->number));
            !s.ok()) {
          return s;
        }
      }
    }
    absl::Status s =
        VersionSet::WriteSnapshot(fs_, dir, *v, flushed, next_file);
    if (s.ok()) s = fs_->SyncDir(WalDirName(dir));
    if (s.ok()) s = fs_->SyncDir(dir);
    return s;
  };
  absl::Status s = copy();
  lock.lock();
  ResumeWrites();
  if (!s.ok()) return s;
  return last_seq;
}

}  // namespace cairn::storage
