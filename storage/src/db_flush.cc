// Flushing immutable memtables to level-0 tables, and deleting files no
// Version needs any more.
#include "absl/strings/str_format.h"
#include "compaction_stream.h"
#include "db_impl.h"
#include "dbformat.h"
#include "filename.h"
#include "table_file_writer.h"

namespace cairn::storage {

void DBImpl::FlushThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutting_down_) {
    if (imms_.empty() || !background_error_.ok()) {
      bg_cv_.wait(lock);
      continue;
    }
    absl::Status s = FlushOneMemtable(lock);
    if (!s.ok() && !shutting_down_) SetBackgroundError(s);
    NotifyBackgroundDone();
    MaybeScheduleCompaction();
  }
}

absl::StatusOr<FileMetaData> DBImpl::WriteLevel0Table(
    MemTable* mem, uint64_t number, std::vector<uint64_t> snapshots) {
  auto writer =
      TableFileWriter::Create(fs_, TableFileName(path_, number), number,
                              TableBuilderOptions::From(options_));
  if (!writer.ok()) return writer.status();
  auto iter = mem->NewIterator();
  std::shared_ptr<const FragmentedRangeTombstones> tombstones =
      mem->RangeTombstones();
  // The memtable's versions, less what no reader can see, with merge
  // operands folded; older data may lie below, so deletions stay.
  CompactionStreamOptions so;
  so.snapshots = std::move(snapshots);
  so.tombstones = tombstones.get();
  so.merges = merges_.get();
  so.now_micros = NowMicros();
  CompactionStream stream(iter.get(), std::move(so));
  for (stream.SeekToFirst(); stream.Valid(); stream.Next()) {
    (*writer)->Add(stream.key(), stream.value());
  }
  if (!stream.status().ok()) return stream.status();
  if (tombstones) {
    for (const RangeTombstone& r : tombstones->ToTombstones()) {
      (*writer)->AddTombstone(r);
    }
  }
  return (*writer)->Finish();
}

absl::Status DBImpl::FlushOneMemtable(std::unique_lock<std::mutex>& lock) {
  std::shared_ptr<MemTable> mem = imms_.front();
  const uint64_t boundary = imm_boundaries_.front();
  const bool has_data = mem->num_entries() > 0 || mem->num_range_deletes() > 0;
  const uint64_t number = has_data ? versions_->NewFileNumber() : 0;
  if (has_data) pending_outputs_.insert(number);
  ++running_flushes_;
  // Snapshots taken later read at or above everything in mem.
  std::vector<uint64_t> snapshots = SnapshotSequences();
  lock.unlock();

  const absl::Time start = absl::Now();
  FlushJobInfo info;
  info.file_number = number;
  info.entries = mem->num_entries();
  info.flushed_seq = boundary;
  for (EventListener* l : options_.listeners) l->OnFlushBegin(info);
  // The WAL must never end below a sequence the SSTables hold: sync it up to
  // the boundary before the flush is recorded.
  absl::Status s = log_->Sync();
  FileMetaData meta;
  if (s.ok() && has_data) {
    auto m = WriteLevel0Table(mem.get(), number, std::move(snapshots));
    if (m.ok()) {
      meta = std::move(*m);
      s = fs_->SyncDir(path_);
    } else {
      s = m.status();
    }
  }

  lock.lock();
  VersionEdit edit;
  bool edit_outcome_unknown = false;
  if (s.ok()) {
    if (has_data) edit.AddFile(0, meta);
    edit.SetFlushedSequence(boundary);
    s = versions_->LogAndApply(&edit, &lock);
    edit_outcome_unknown = !s.ok();
  }
  // After a failed MANIFEST write the edit may still be on disk, naming the
  // table: it stays protected from deletion.
  if (has_data && !edit_outcome_unknown) pending_outputs_.erase(number);
  --running_flushes_;
  if (s.ok()) {
    imms_.pop_front();
    imm_boundaries_.pop_front();
    InstallSuperVersion();
    ++flushes_completed_;
    stats_.Add(Ticker::kFlushes);
    stats_.Add(Ticker::kFlushBytes, meta.file_size);
    sst_bytes_written_ += meta.file_size;
  }
  info.bytes = meta.file_size;
  info.duration = absl::Now() - start;
  info.status = s;
  stats_.Record(HistogramType::kFlushMicros,
                absl::ToInt64Microseconds(info.duration));
  // The error state first: it stops DeleteObsoleteFiles.
  if (!s.ok() && !shutting_down_) SetBackgroundError(s);
  DeleteObsoleteFiles(lock);
  lock.unlock();
  if (s.ok()) log_->SetDeletableBelow(boundary + 1);
  for (EventListener* l : options_.listeners) l->OnFlushEnd(info);
  lock.lock();
  return s;
}

absl::Status DBImpl::Flush(const FlushOptions& options) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return absl::FailedPreconditionError("DB is closed");
  PauseWrites(lock);
  // Seal the active memtable (waiting for room among the immutable ones).
  const size_t max_imms =
      static_cast<size_t>(std::max(1, options_.max_write_buffer_number - 1));
  absl::Status s;
  while (true) {
    s = background_error_;
    if (s.ok() && shutting_down_) s = absl::UnavailableError("DB is closing");
    if (!s.ok()) break;
    if (mem_->num_entries() == 0 && mem_->num_range_deletes() == 0) break;
    if (imms_.size() < max_imms) {
      SwitchMemtable();
      break;
    }
    bg_done_cv_.wait(lock);
  }
  ResumeWrites();
  if (!s.ok() || !options.wait) return s;
  const uint64_t target = flushes_completed_ + imms_.size();
  while (flushes_completed_ < target && background_error_.ok() &&
         !shutting_down_) {
    bg_done_cv_.wait(lock);
  }
  return background_error_;
}

void DBImpl::DeleteObsoleteFiles(std::unique_lock<std::mutex>& lock) {
  if (!background_error_.ok()) return;  // the on-disk state is uncertain
  std::set<uint64_t> live = pending_outputs_;
  versions_->AddLiveFiles(&live);
  // Files numbered from here on are created after this look at the live
  // set: never touch them.
  const uint64_t horizon = versions_->next_file_number();
  lock.unlock();
  // One deleter at a time, each listing the directory afresh.
  std::lock_guard<std::mutex> deleting(delete_mu_);
  auto names = fs_->ListDir(path_);
  std::vector<uint64_t> doomed;
  if (names.ok()) {
    for (const std::string& name : *names) {
      uint64_t number;
      if (ParseFileName(name, &number) == FileType::kTable &&
          number < horizon && !live.count(number)) {
        doomed.push_back(number);
      }
    }
  }
  for (uint64_t number : doomed) {
    table_cache_->Evict(number);
    fs_->Remove(TableFileName(path_, number)).IgnoreError();
  }
  lock.lock();
}

void DBImpl::SetBackgroundError(const absl::Status& s) {
  if (s.ok() || !background_error_.ok()) return;
  background_error_ = s;
  NotifyBackgroundDone();
  bg_cv_.notify_all();
  for (EventListener* l : options_.listeners) l->OnBackgroundError(s);
}

}  // namespace cairn::storage
