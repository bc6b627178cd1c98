// The write path of DBImpl: the writer queue, stalls, WAL group append and
// memtable insert. See db_impl.h for the protocol.
#include <algorithm>
#include <functional>
#include <thread>

#include "absl/strings/str_format.h"
#include "db_impl.h"
#include "dbformat.h"
#include "write_batch_internal.h"

namespace cairn::storage {

struct DBImpl::Writer {
  const WriteBatch* batch = nullptr;
  WriteOptions options;
  // Checked by the leader against the latest state before the batch is
  // written (null: none), with every write before it in place.
  const WriteCheck* check = nullptr;
  bool done = false;
  absl::Status status;
  uint64_t seq = 0;  // last sequence of the batch
  std::condition_variable cv;
  absl::Time start;  // when the write was submitted
  // Set for a CallbackWriter (WriteAsync): no thread waits on cv; its leader
  // completes it through the callback.
  WriteCallback callback;
};

// A write queued by WriteAsync: it owns its batch and check, and lives on
// the heap until CompleteCallbackWriters runs its callback.
struct DBImpl::CallbackWriter : DBImpl::Writer {
  WriteBatch owned_batch;
  WriteCheck owned_check;
};

namespace {

constexpr uint64_t kMaxGroupBytes = 1ull << 20;

// This thread is running WriteAsync callbacks (CompleteCallbackWriters).
thread_local bool in_write_callback = false;

}  // namespace

absl::Status DBImpl::ValidateBatch(const WriteBatch& batch) const {
  int index = 0;
  return ForEachRecord(
      batch,
      [&](uint8_t type, std::string_view key,
          std::string_view value) -> absl::Status {
        absl::Status s;
        if (type == kTypeRangeDeletion && !(key < value)) {
          s = absl::InvalidArgumentError(
              "DeleteRange: begin must sort before end");
        } else if (type == kTypeMerge) {
          s = merges_->Validate(value);
        } else if (type == kTypeValueWithExpiry &&
                   DecodeFixed64(value.data()) == 0) {
          s = absl::InvalidArgumentError("PutWithExpiry: expires_at is 0");
        }
        if (!s.ok()) {
          return absl::Status(s.code(),
                              absl::StrFormat("%s (operation %d of the batch)",
                                              s.message(), index));
        }
        ++index;
        return absl::OkStatus();
      });
}

absl::StatusOr<uint64_t> DBImpl::Put(const WriteOptions& options,
                                     std::string_view key,
                                     std::string_view value) {
  WriteBatch batch;
  batch.Put(key, value);
  return Write(options, batch);
}

absl::StatusOr<uint64_t> DBImpl::PutWithTtl(const WriteOptions& options,
                                            std::string_view key,
                                            std::string_view value,
                                            absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ttl must be positive");
  }
  WriteBatch batch;
  batch.PutWithExpiry(
      key, value,
      static_cast<uint64_t>(absl::ToUnixMicros(options_.clock() + ttl)));
  return Write(options, batch);
}

absl::StatusOr<uint64_t> DBImpl::Delete(const WriteOptions& options,
                                        std::string_view key) {
  WriteBatch batch;
  batch.Delete(key);
  return Write(options, batch);
}

absl::StatusOr<uint64_t> DBImpl::DeleteRange(const WriteOptions& options,
                                             std::string_view begin,
                                             std::string_view end) {
  WriteBatch batch;
  batch.DeleteRange(begin, end);
  return Write(options, batch);
}

absl::StatusOr<uint64_t> DBImpl::Merge(const WriteOptions& options,
                                       std::string_view key,
                                       std::string_view op,
                                       std::string_view operand,
                                       std::string_view argument) {
  WriteBatch batch;
  batch.Merge(key, op, operand, argument);
  return Write(options, batch);
}

absl::StatusOr<uint64_t> DBImpl::Write(const WriteOptions& options,
                                       const WriteBatch& batch) {
  if (batch.Count() == 0 && batch.conditions().empty()) return LastSequence();
  if (absl::Status s = ValidateBatch(batch); !s.ok()) return s;
  if (batch.conditions().empty()) return WriteInternal(options, &batch);
  WriteCheck check;
  check.conditions = &batch.conditions();
  return WriteInternal(options, &batch, &check);
}

absl::StatusOr<uint64_t> DB::ApplyReplicated(const WriteOptions& options,
                                             uint64_t first_seq,
                                             std::string_view payload) {
  WriteBatch batch;
  if (absl::Status s = WriteBatch::FromPayload(payload, &batch); !s.ok()) {
    return s;
  }
  return ApplyReplicated(options, first_seq, batch);
}

absl::StatusOr<uint64_t> DBImpl::ApplyReplicated(const WriteOptions& options,
                                                 uint64_t first_seq,
                                                 const WriteBatch& batch) {
  if (batch.Count() == 0) {
    return absl::InvalidArgumentError("a replicated batch has no operations");
  }
  if (first_seq == 0 || first_seq > kMaxSequenceNumber - batch.Count()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "first_seq %d is not a sequence a batch can start at", first_seq));
  }
  if (absl::Status s = ValidateBatch(batch); !s.ok()) return s;
  WriteCheck check;
  check.expected_first_seq = first_seq;
  check.keep_commit_time = true;
  return WriteInternal(options, &batch, &check);
}

void DBImpl::WriteAsync(const WriteOptions& options, WriteBatch batch,
                        WriteCallback done) {
  if (batch.Count() == 0 && batch.conditions().empty()) {
    return done(LastSequence());
  }
  if (absl::Status s = ValidateBatch(batch); !s.ok()) return done(s);
  auto w = std::make_unique<CallbackWriter>();
  w->start = absl::Now();
  w->options = options;
  w->callback = std::move(done);
  w->owned_batch = std::move(batch);
  w->batch = &w->owned_batch;
  if (!w->owned_batch.conditions().empty()) {
    w->owned_check.conditions = &w->owned_batch.conditions();
    w->check = &w->owned_check;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) {
    lock.unlock();
    return w->callback(absl::FailedPreconditionError("DB is closed"));
  }
  Writer* raw = w.release();  // deleted by CompleteCallbackWriters
  // From inside a callback, queue: leading here would nest groups on this
  // thread's stack, as deep as the callbacks chain writes.
  if (!writers_.empty() || in_write_callback) {
    EnqueueWriterLocked(raw);
    return;
  }
  // No group is being written: lead this one here rather than wake the
  // commit thread for it (a hand-off costs a thread wake-up, tens of
  // microseconds of latency for a lone durable write). Writes arriving
  // meanwhile queue behind it; the commit thread leads them.
  writers_.push_back(raw);
  std::vector<Writer*> finished = LeadGroup(lock);
  lock.unlock();
  CompleteCallbackWriters(finished);
}

void DBImpl::EnqueueWriterLocked(Writer* w) {
  writers_.push_back(w);
  if (w->callback && writers_.size() == 1) commit_cv_.notify_one();
}

void DBImpl::CommitThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (!leading_ && !writers_.empty() && writers_.front()->callback) {
      std::vector<Writer*> finished = LeadGroup(lock);
      lock.unlock();
      CompleteCallbackWriters(finished);
      lock.lock();
      continue;
    }
    // Close drains the queue before it lets this thread end.
    if (closed_ && writers_.empty()) return;
    commit_cv_.wait(lock);
  }
}

void DBImpl::CompleteCallbackWriters(const std::vector<Writer*>& writers) {
  const absl::Time now = absl::Now();
  in_write_callback = true;
  for (Writer* g : writers) {
    std::unique_ptr<CallbackWriter> owned(static_cast<CallbackWriter*>(g));
    stats_.Record(HistogramType::kWriteMicros,
                  absl::ToInt64Microseconds(now - g->start));
    if (g->status.ok()) {
      g->callback(g->seq);
    } else {
      g->callback(g->status);
    }
  }
  in_write_callback = false;
}

absl::StatusOr<uint64_t> DBImpl::WriteInternal(const WriteOptions& options,
                                               const WriteBatch* batch,
                                               const WriteCheck* check) {
  Writer w;
  w.start = absl::Now();
  w.batch = batch;
  w.options = options;
  w.check = check;
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return absl::FailedPreconditionError("DB is closed");
  EnqueueWriterLocked(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait(lock);
  if (!w.done) {
    std::vector<Writer*> finished = LeadGroup(lock);
    lock.unlock();
    CompleteCallbackWriters(finished);
  } else {
    lock.unlock();
  }
  stats_.Record(HistogramType::kWriteMicros,
                absl::ToInt64Microseconds(absl::Now() - w.start));
  if (!w.status.ok()) return w.status;
  return w.seq;
}

std::vector<DBImpl::Writer*> DBImpl::LeadGroup(
    std::unique_lock<std::mutex>& lock) {
  Writer& w = *writers_.front();
  leading_ = true;
  const WriteOptions& options = w.options;
  const WriteBatch* batch = w.batch;
  const uint64_t bytes = batch->ByteSize();
  absl::Status status = MakeRoomForWrite(lock, options, bytes);
  // Flush and Checkpoint may hold writes back between groups.
  while (status.ok() && writes_paused_ > 0) write_cv_.wait(lock);
  if (status.ok() && !background_error_.ok()) status = background_error_;
  std::vector<Writer*>& group = group_;
  group.assign(1, &w);
  if (status.ok()) {
    uint64_t group_bytes = bytes;
    bool any_check = w.check != nullptr;
    for (size_t i = 1; i < writers_.size(); ++i) {
      Writer* next = writers_[i];
      group_bytes += next->batch->ByteSize();
      if (group_bytes > kMaxGroupBytes) break;
      group.push_back(next);
      any_check |= next->check != nullptr;
    }
    bool need_sync = false;
    for (Writer* g : group) need_sync |= g->options.sync;
    std::shared_ptr<MemTable> mem = mem_;
    std::shared_ptr<SuperVersion> sv;
    if (any_check) sv = super_version_;  // holds mem and every older write
    writing_memtable_ = true;
    lock.unlock();

    // WAL: one record per batch, one sync for the group. Then the memtable,
    // in order. A member with a check (conditions, a transaction commit)
    // is checked just before its append, against every write before it:
    // the published ones and the members ahead of it, which are put into
    // the memtable first (readers do not see them until the group's last
    // sequence is published).
    const uint64_t commit_micros = absl::ToUnixMicros(options_.clock());
    std::vector<uint64_t>& first_seqs = first_seqs_;
    first_seqs.assign(group.size(), 0);
    absl::Status io_error;
    WriteBatch& stamped = stamp_;
    uint64_t last_seq = 0;  // last sequence given out in this group
    size_t applied = 0;     // members [0, applied) are in the memtable
    uint64_t keys = 0, data_bytes = 0;
    auto apply_upto = [&](size_t end) {
      for (; applied < end; ++applied) {
        Writer* g = group[applied];
        if (first_seqs[applied] == 0) continue;
        const WriteBatch& b = *g->batch;
        ApplyToMemtable(b, first_seqs[applied], mem.get()).IgnoreError();
        g->seq = first_seqs[applied] + b.Count() - 1;
        keys += b.Count();
        data_bytes += b.DataBytes();
      }
    };
    for (size_t i = 0; i < group.size(); ++i) {
      Writer* g = group[i];
      // Unless it is written: the sequence it saw (empty batches, failed
      // checks, batches the WAL refused).
      g->seq = last_seq != 0 ? last_seq : LastSequence();
      if (g->check != nullptr) {
        apply_upto(i);
        g->status = RunWriteCheck(*g->check, *sv,
                                  last_seq != 0 ? last_seq : LastSequence());
        if (!g->status.ok()) continue;
      }
      if (g->batch->Count() == 0) continue;
      std::string_view payload = g->batch->Payload();
      if (g->check == nullptr || !g->check->keep_commit_time) {
        if (absl::Status s = WriteBatch::FromPayload(payload, &stamped);
            !s.ok()) {
          g->status = s;
          continue;
        }
        stamped.SetCommitMicros(commit_micros);
        payload = stamped.Payload();
      }
      auto r = log_->Append(payload, g->batch->Count());
      if (!r.ok()) {
        if (absl::IsInvalidArgument(r.status())) {
          g->status = r.status();
          continue;
        }
        io_error = r.status();
        break;
      }
      first_seqs[i] = r->first_seq;
      last_seq = r->first_seq + g->batch->Count() - 1;
    }
    sv.reset();
    if (io_error.ok() && need_sync) io_error = log_->Sync();
    if (io_error.ok()) apply_upto(group.size());
    for (EventListener* l : options_.listeners) {
      l->OnWriteGroup(group.size(), data_bytes);
    }
    lock.lock();
    writing_memtable_ = false;
    write_cv_.notify_all();
    if (!io_error.ok()) {
      // The WAL may hold some of these records, the memtable some (never
      // published). Later writes cannot be ordered after them safely:
      // read-only.
      SetBackgroundError(io_error);
      for (Writer* g : group) g->status = io_error;
    } else if (last_seq != 0) {
      last_sequence_.store(last_seq, std::memory_order_release);
      visible_cv_.notify_all();
      user_bytes_written_ += data_bytes;
    }
    stats_.Add(Ticker::kKeysWritten, keys);
    stats_.Add(Ticker::kBytesWritten, data_bytes);
    stats_.Add(Ticker::kWriteBatches, group.size());
    if (need_sync) stats_.Add(Ticker::kSyncedWrites, group.size());
    stats_.Record(HistogramType::kGroupCommitSize, group.size());
  } else {
    w.status = status;
    w.seq = LastSequence();
  }

  leading_ = false;
  std::vector<Writer*> finished;
  for (Writer* g : group) {
    writers_.pop_front();
    if (g->callback) {
      finished.push_back(g);
    } else if (g != &w) {
      g->done = true;
      g->cv.notify_one();
    }
  }
  if (!writers_.empty()) {
    Writer* next = writers_.front();
    if (next->callback) {
      commit_cv_.notify_one();
    } else {
      next->cv.notify_one();
    }
  }
  return finished;
}

bool DBImpl::WaitForSequence(uint64_t seq, absl::Time deadline) {
  if (LastSequence() >= seq) return true;
  std::unique_lock<std::mutex> lock(mu_);
  while (LastSequence() < seq && !closed_) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    visible_cv_.wait_for(lock, absl::ToChronoNanoseconds(deadline - now));
  }
  return LastSequence() >= seq;
}

absl::Status DBImpl::ApplyToMemtable(const WriteBatch& batch,
                                     uint64_t first_seq, MemTable* mem) {
  uint64_t seq = first_seq;
  return ForEachRecord(batch,
                       [&](uint8_t type, std::string_view key,
                           std::string_view value) -> absl::Status {
                         if (type == kTypeRangeDeletion) {
                           mem->AddRangeTombstone(seq++, key, value);
                         } else {
                           mem->Add(seq++, type, key, value);
                         }
                         return absl::OkStatus();
                       });
}

absl::Status DBImpl::CheckFreeSpace() {
  if (options_.min_free_disk_bytes == 0) return absl::OkStatus();
  const absl::Time now = absl::Now();
  if (now - last_space_check_ < absl::Milliseconds(100)) {
    return low_space_ ? absl::ResourceExhaustedError(space_message_)
                      : absl::OkStatus();
  }
  last_space_check_ = now;
  auto free = fs_->FreeSpace(path_);
  if (!free.ok()) return absl::OkStatus();  // cannot tell: do not refuse
  low_space_ = *free < options_.min_free_disk_bytes;
  if (!low_space_) return absl::OkStatus();
  space_message_ = absl::StrFormat(
      "disk full: %d bytes free under %s, below min_free_disk_bytes %d", *free,
      path_, options_.min_free_disk_bytes);
  return absl::ResourceExhaustedError(space_message_);
}

absl::Status DBImpl::MakeRoomForWrite(std::unique_lock<std::mutex>& lock,
                                      const WriteOptions& options,
                                      uint64_t bytes) {
  bool allow_delay = true;
  while (true) {
    if (!background_error_.ok()) return background_error_;
    if (shutting_down_) return absl::UnavailableError("DB is closing");
    if (writes_stopped_) {
      return absl::UnavailableError("DB is closing: writes are stopped");
    }
    if (absl::Status s = CheckFreeSpace(); !s.ok()) {
      stats_.Add(Ticker::kWritesRejected);
      return s;
    }
    const StallState stall = CurrentStall();
    if (stall.stop) {
      if (absl::Status s = WaitForStall(lock, options, stall.reason); !s.ok()) {
        return s;
      }
      continue;
    }
    // Slowdowns: each write is held to the delayed write rate once.
    if (stall.reason != StallReason::kCount && allow_delay) {
      allow_delay = false;
      if (absl::Status s = DelayWrite(lock, options, stall.reason, bytes);
          !s.ok()) {
        return s;
      }
      continue;
    }

    // Over the budget with nothing being flushed: flush early.
    if (!stall.mem_full && !(stall.over_budget && mem_->num_entries() > 0)) {
      return absl::OkStatus();
    }
    SwitchMemtable();
  }
}

DBImpl::StallState DBImpl::CurrentStall() const {
  StallState st;
  const Version& v = *versions_->current();
  const size_t l0 = v.files(0).size();
  const uint64_t pending = v.pending_compaction_bytes();
  st.mem_full = mem_->ApproximateMemoryUsage() >= options_.write_buffer_size;
  const size_t max_imms =
      static_cast<size_t>(std::max(1, options_.max_write_buffer_number - 1));
  // Memory budget: the memtables may use what the block cache leaves.
  if (options_.memory_budget_bytes > 0) {
    uint64_t used = mem_->ApproximateMemoryUsage();
    for (const auto& m : imms_) used += m->ApproximateMemoryUsage();
    st.over_budget =
        used >= options_.memory_budget_bytes - options_.block_cache_bytes;
  }
  auto stop = [&](StallReason r) {
    st.reason = r;
    st.stop = true;
    return st;
  };
  // Hard stops first: they hold every write.
  if (l0 >= static_cast<size_t>(options_.level0_stop_writes_trigger)) {
    return stop(StallReason::kL0Stop);
  }
  if (options_.hard_pending_compaction_bytes_limit > 0 &&
      pending >= options_.hard_pending_compaction_bytes_limit) {
    return stop(StallReason::kPendingCompaction);
  }
  if (st.over_budget && !imms_.empty()) return stop(StallReason::kMemory);
  if (st.mem_full && imms_.size() >= max_imms) {
    return stop(StallReason::kMemtableLimit);
  }
  if (l0 >= static_cast<size_t>(options_.level0_slowdown_writes_trigger)) {
    st.reason = StallReason::kL0Slowdown;
  } else if (options_.soft_pending_compaction_bytes_limit > 0 &&
             pending >= options_.soft_pending_compaction_bytes_limit) {
    st.reason = StallReason::kPendingCompaction;
  } else if (options_.max_write_buffer_number > 3 &&
             imms_.size() + 1 >= max_imms) {
    st.reason = StallReason::kMemtableLimit;
  }
  return st;
}

absl::Status DBImpl::WaitForStall(std::unique_lock<std::mutex>& lock,
                                  const WriteOptions& options,
                                  StallReason reason) {
  if (options.no_slowdown || absl::Now() >= options.deadline) {
    stats_.Add(Ticker::kWritesRejected);
    return absl::ResourceExhaustedError(absl::StrFormat(
        "write stalled (%s) and its deadline does not allow waiting",
        StallReasonName(reason)));
  }
  const absl::Time start = absl::Now();
  // Any signal from here on ends the wait, including one sent while mu_ is
  // released for the listeners.
  const uint64_t events = bg_done_events_;
  auto progressed = [&] { return bg_done_events_ != events; };
  lock.unlock();
  for (EventListener* l : options_.listeners) l->OnStallBegin(reason);
  lock.lock();
  MaybeScheduleCompaction();
  bg_cv_.notify_all();
  bool timed_out = false;
  if (options.deadline == absl::InfiniteFuture()) {
    bg_done_cv_.wait(lock, progressed);
  } else {
    timed_out = !bg_done_cv_.wait_until(
        lock, absl::ToChronoTime(options.deadline), progressed);
  }
  const absl::Duration waited = absl::Now() - start;
  stats_.AddStall(reason, absl::ToInt64Microseconds(waited));
  stats_.Add(Ticker::kStalls);
  stats_.Add(Ticker::kStallMicros, absl::ToInt64Microseconds(waited));
  stats_.Record(HistogramType::kStallMicros, absl::ToInt64Microseconds(waited));
  lock.unlock();
  for (EventListener* l : options_.listeners) l->OnStallEnd(reason, waited);
  lock.lock();
  if (timed_out) {
    stats_.Add(Ticker::kWritesRejected);
    return absl::ResourceExhaustedError(
        absl::StrFormat("write stalled (%s) past its deadline after %s",
                        StallReasonName(reason), absl::FormatDuration(waited)));
  }
  return absl::OkStatus();
}

absl::Status DBImpl::DelayWrite(std::unique_lock<std::mutex>& lock,
                                const WriteOptions& options, StallReason reason,
                                uint64_t bytes) {
  // A virtual clock: each delayed write books bytes / rate of time after the
  // previous booking, so that the write rate is held to delayed_write_rate.
  const absl::Time now = absl::Now();
  const double rate = std::max<uint64_t>(options_.delayed_write_rate, 1);
  delay_until_ =
      std::max(delay_until_, now) +
      absl::Seconds(static_cast<double>(std::max<uint64_t>(bytes, 1)) / rate);
  if (delay_until_ <= now) return absl::OkStatus();
  if (options.no_slowdown || delay_until_ > options.deadline) {
    stats_.Add(Ticker::kWritesRejected);
    return absl::ResourceExhaustedError(absl::StrFormat(
        "write delayed (%s) beyond its deadline", StallReasonName(reason)));
  }
  const absl::Time until = delay_until_;
  lock.unlock();
  for (EventListener* l : options_.listeners) l->OnStallBegin(reason);
  absl::SleepFor(until - now);
  const absl::Duration waited = absl::Now() - now;
  for (EventListener* l : options_.listeners) l->OnStallEnd(reason, waited);
  lock.lock();
  stats_.AddStall(reason, absl::ToInt64Microseconds(waited));
  stats_.Add(Ticker::kStalls);
  stats_.Add(Ticker::kStallMicros, absl::ToInt64Microseconds(waited));
  return absl::OkStatus();
}

void DBImpl::PauseWrites(std::unique_lock<std::mutex>& lock) {
  ++writes_paused_;
  while (writing_memtable_) write_cv_.wait(lock);
}

void DBImpl::ResumeWrites() {
  --writes_paused_;
  write_cv_.notify_all();
}

void DBImpl::SwitchMemtable() {
  imms_.push_back(mem_);
  imm_boundaries_.push_back(LastSequence());
  mem_ = std::make_shared<MemTable>();
  InstallSuperVersion();
  bg_cv_.notify_all();
}

}  // namespace cairn::storage
