// Opening, recovering, closing and describing a DBImpl.
#include "db_impl.h"

#include <pthread.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "dbformat.h"
#include "filename.h"

namespace cairn::storage {

absl::StatusOr<std::unique_ptr<DB>> DB::Open(const Options& options,
                                             const std::string& path) {
  if (options.num_levels < 2 || options.num_levels > 20) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "num_levels must be in [2, 20], got %d", options.num_levels));
  }
  if (options.write_buffer_size < (64 << 10)) {
    return absl::InvalidArgumentError(
        "write_buffer_size must be at least 64 KiB");
  }
  if (options.level0_slowdown_writes_trigger <
          options.level0_file_num_compaction_trigger ||
      options.level0_stop_writes_trigger <
          options.level0_slowdown_writes_trigger) {
    return absl::InvalidArgumentError(
        "level0 triggers must satisfy compaction <= slowdown <= stop");
  }
  if (options.memory_budget_bytes != 0 &&
      options.memory_budget_bytes <= options.block_cache_bytes) {
    return absl::InvalidArgumentError(
        "memory_budget_bytes must exceed block_cache_bytes (or be 0)");
  }
  if (options.max_write_buffer_number < 2) {
    return absl::InvalidArgumentError("max_write_buffer_number must be >= 2");
  }
  auto db = std::make_unique<DBImpl>(options, path);
  if (absl::Status s = db->OpenImpl(); !s.ok()) return s;
  return std::unique_ptr<DB>(std::move(db));
}

DBImpl::DBImpl(const Options& options, std::string path)
    : options_(options), path_(std::move(path)), fs_(options.fs) {
  block_cache_ = std::make_unique<BlockCache>(options_.block_cache_bytes,
                                              options_.block_cache_shard_bits);
  TableReadOptions tro;
  tro.block_cache = block_cache_.get();
  tro.statistics = &stats_;
  tro.mmap_reads = options_.use_mmap_reads;
  table_cache_ =
      std::make_unique<TableCache>(fs_, path_, options_.max_open_files, tro);
  versions_ = std::make_unique<VersionSet>(path_, &options_);
  compact_pointer_.resize(options_.num_levels);
  mem_ = std::make_shared<MemTable>();
}

DBImpl::~DBImpl() { Close().IgnoreError(); }

absl::Status DBImpl::OpenImpl() {
  auto merges = MergeRegistry::Create(options_.merge_operators);
  if (!merges.ok()) return merges.status();
  merges_ = *std::move(merges);
  if (options_.create_if_missing) {
    if (absl::Status s = fs_->CreateDir(path_); !s.ok()) return s;
  } else if (!fs_->Exists(CurrentFileName(path_))) {
    return absl::NotFoundError(absl::StrFormat(
        "%s: no database (and create_if_missing is false)", path_));
  }
  auto lock = fs_->Lock(LockFileName(path_));
  if (!lock.ok()) {
    if (absl::IsFailedPrecondition(lock.status())) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "database %s is in use by another DB instance or process", path_));
    }
    return lock.status();
  }
  lock_file_ = std::move(*lock);

  std::unique_lock<std::mutex> l(mu_);
  if (!versions_->Exists()) {
    if (!options_.create_if_missing) {
      return absl::NotFoundError(absl::StrFormat(
          "%s: no database (and create_if_missing is false)", path_));
    }
    if (absl::Status s = versions_->Create(); !s.ok()) return s;
  } else {
    if (options_.error_if_exists) {
      return absl::AlreadyExistsError(
          absl::StrFormat("%s: database exists (error_if_exists)", path_));
    }
    if (absl::Status s = versions_->Recover(); !s.ok()) return s;
  }
  // Leftovers of a crash: temp files, and tables no MANIFEST lists.
  if (auto names = fs_->ListDir(path_); names.ok()) {
    for (const std::string& name : *names) {
      uint64_t number;
      if (ParseFileName(name, &number) == FileType::kTemp) {
        fs_->Remove(JoinPath(path_, name)).IgnoreError();
      }
    }
  }
  if (absl::Status s = CheckLiveFilesExist(); !s.ok()) return s;
  DeleteObsoleteFiles(l);
  InstallSuperVersion();
  l.unlock();
  if (absl::Status s = RecoverWal(); !s.ok()) return s;

  l.lock();
  threads_.emplace_back([this] { FlushThread(); });
  threads_.emplace_back([this] {
    pthread_setname_np(pthread_self(), "cairn-commit");
    CommitThread();
  });
  for (int i = 0; i < std::max(1, options_.max_background_compactions); ++i) {
    threads_.emplace_back([this] { CompactionThread(); });
  }
  MaybeScheduleCompaction();
  return absl::OkStatus();
}

// Reports the WAL's syncs (the engine's and its background ones) as engine
// statistics and events, and passes everything on to the embedder's own WAL
// listener, if any.
class DBImpl::WalListener final : public wal::LogListener {
 public:
  explicit WalListener(DBImpl* db)
      : db_(db), next_(db->options_.wal.listener) {}
  void OnSync(absl::Duration d, bool ok) override {
    db_->stats_.Record(HistogramType::kWalSyncMicros,
                       absl::ToInt64Microseconds(d));
    for (EventListener* l : db_->options_.listeners) l->OnWalSync(d, ok);
    if (next_) next_->OnSync(d, ok);
  }
  void OnCommitGroup(size_t records, uint64_t bytes, bool synced) override {
    if (next_) next_->OnCommitGroup(records, bytes, synced);
  }
  void OnSegmentCreated(uint32_t id) override {
    if (next_) next_->OnSegmentCreated(id);
  }
  void OnSegmentSealed(uint32_t id, uint64_t bytes) override {
    if (next_) next_->OnSegmentSealed(id, bytes);
  }
  void OnSegmentDeleted(uint32_t id) override {
    if (next_) next_->OnSegmentDeleted(id);
  }
  void OnBackgroundError(const absl::Status& s) override {
    if (next_) next_->OnBackgroundError(s);
  }

 private:
  DBImpl* const db_;
  wal::LogListener* const next_;
};

absl::Status DBImpl::RecoverWal() {
  const uint64_t flushed = versions_->flushed_seq();
  wal::Options wo = options_.wal;
  wo.fs = fs_;
  wal_listener_ = std::make_unique<WalListener>(this);
  wo.listener = wal_listener_.get();
  wo.first_sequence = flushed + 1;
  auto log = wal::Log::Open(wo, WalDirName(path_));
  if (!log.ok()) return log.status();
  log_ = std::move(*log);
  const uint64_t first = log_->FirstSequence();
  const uint64_t last = log_->LastSequence();
  if (last < flushed) {
    return absl::DataLossError(absl::StrFormat(
        "%s: the WAL ends at sequence %d but the SSTables hold sequences up "
        "to %d",
        path_, last, flushed));
  }
  if (first > flushed + 1) {
    return absl::DataLossError(absl::StrFormat(
        "%s: sequences %d..%d are neither in SSTables nor in the WAL (which "
        "starts at %d)",
        path_, flushed + 1, first - 1, first));
  }
  log_->SetDeletableBelow(flushed + 1);
  if (last > flushed) {
    auto reader = log_->NewReader(flushed + 1);
    if (!reader.ok()) return reader.status();
    std::unique_lock<std::mutex> l(mu_);
    uint64_t applied = flushed;
    while (applied < last) {
      l.unlock();
      auto rec = (*reader)->Next(absl::InfinitePast());
      if (!rec.ok()) {
        return absl::DataLossError(
            absl::StrFormat("%s: WAL replay stopped at sequence %d of %d: %s",
                            path_, applied + 1, last, rec.status().message()));
      }
      if (rec->first_seq != applied + 1) {
        return absl::DataLossError(
            absl::StrFormat("%s: WAL record at sequence %d, expected %d", path_,
                            rec->first_seq, applied + 1));
      }
      WriteBatch batch;
      absl::Status s = WriteBatch::FromPayload(rec->payload, &batch);
      if (s.ok()) s = ApplyToMemtable(batch, rec->first_seq, mem_.get());
      if (s.ok() && batch.Count() != rec->seq_count) {
        s = absl::DataLossError("batch count differs from the WAL record's");
      }
      if (!s.ok()) {
        return absl::DataLossError(
            absl::StrFormat("%s: WAL record at sequence %d: %s", path_,
                            rec->first_seq, s.message()));
      }
      applied = rec->last_seq();
      l.lock();
      last_sequence_.store(applied, std::memory_order_release);
      if (mem_->ApproximateMemoryUsage() >= options_.write_buffer_size) {
        SwitchMemtable();
        if (s = FlushOneMemtable(l); !s.ok()) return s;
      }
    }
  }
  last_sequence_.store(last, std::memory_order_release);
  // Like RocksDB, leave recovery with the replayed writes in an L0 table:
  // reads then do not search a large memtable (the WAL stays until then).
  if (mem_->num_entries() > 0 || mem_->num_range_deletes() > 0) {
    std::unique_lock<std::mutex> l(mu_);
    SwitchMemtable();
    if (absl::Status s = FlushOneMemtable(l); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DBImpl::CheckLiveFilesExist() {
  auto names = fs_->ListDir(path_);
  if (!names.ok()) return names.status();
  std::set<uint64_t> present;
  for (const std::string& name : *names) {
    uint64_t number;
    if (ParseFileName(name, &number) == FileType::kTable) {
      present.insert(number);
    }
  }
  const Version& v = *versions_->current();
  for (int l = 0; l < v.num_levels(); ++l) {
    for (const auto& f : v.files(l)) {
      if (!present.count(f->number)) {
        return absl::DataLossError(absl::StrFormat(
            "%s: table %s (level %d) is listed in the MANIFEST but missing",
            path_, TableFileName(path_, f->number), l));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status DBImpl::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  shutting_down_ = true;
  shutting_down_flag_ = true;
  visible_cv_.notify_all();
  // Stalled writers wake up and fail (shutting_down_); queued ones follow,
  // callback writers through the commit thread.
  bg_cv_.notify_all();
  while (!writers_.empty()) {
    NotifyBackgroundDone();
    bg_done_cv_.wait_for(lock, std::chrono::milliseconds(1));
  }
  // No writer can queue any more (closed_): the commit thread may end.
  commit_cv_.notify_all();
  lock.unlock();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  absl::Status s;
  if (log_) s = log_->Close();
  lock.lock();
  mem_.reset();
  imms_.clear();
  {
    std::lock_guard<std::mutex> sv_lock(sv_mu_);
    super_version_.reset();
  }
  lock.unlock();
  lock_file_.reset();
  return s;
}

void DBImpl::StopWrites() {
  std::lock_guard<std::mutex> lock(mu_);
  writes_stopped_ = true;
  // Writers waiting on a stall wake up, see the flag and fail.
  NotifyBackgroundDone();
}

DBStats DBImpl::GetStats() {
  std::lock_guard<std::mutex> lock(mu_);
  DBStats st;
  st.last_sequence = LastSequence();
  st.flushed_sequence = versions_->flushed_seq();
  const Version& v = *versions_->current();
  for (int l = 0; l < v.num_levels(); ++l) {
    LevelStats ls;
    ls.files = static_cast<int>(v.files(l).size());
    ls.bytes = v.LevelBytes(l);
    ls.target_bytes = v.target_bytes(l);
    ls.score = v.score(l);
    for (const auto& f : v.files(l)) {
      ls.files_being_compacted += being_compacted_.count(f->number);
    }
    st.live_sst_bytes += ls.bytes;
    st.levels.push_back(ls);
  }
  st.memtable_bytes = mem_ ? mem_->ApproximateMemoryUsage() : 0;
  st.immutable_memtables = imms_.size();
  for (const auto& m : imms_) st.immutable_bytes += m->ApproximateMemoryUsage();
  st.pending_compaction_bytes = v.pending_compaction_bytes();
  st.running_flushes = running_flushes_;
  st.running_compactions = running_compactions_;
  st.snapshots = static_cast<int>(snapshots_.size());
  if (!snapshots_.empty()) st.oldest_snapshot = SnapshotSequences().front();
  // From the shape of the tree now, as the next write would see it.
  if (mem_ != nullptr) {
    const StallState stall = CurrentStall();
    st.stall_reason = stall.reason;
    st.write_stopped = stall.stop;
    st.write_slowdown = !stall.stop && stall.reason != StallReason::kCount;
    st.delayed_write_rate = st.write_slowdown ? options_.delayed_write_rate : 0;
  }
  st.user_bytes_written = user_bytes_written_;
  st.sst_bytes_written = sst_bytes_written_.load();
  st.write_amplification =
      st.user_bytes_written == 0
          ? 0
          : static_cast<double>(st.sst_bytes_written) / st.user_bytes_written;
  if (log_) st.wal_bytes = log_->GetStats().live_bytes;
  st.block_cache_usage = block_cache_->usage();
  st.block_cache_capacity = block_cache_->capacity();
  st.background_error = background_error_;
  return st;
}

}  // namespace cairn::storage
