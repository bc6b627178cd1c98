// DBImpl: the engine behind DB (see cairn/storage/db.h for the contract).
//
// Concurrency. One mutex (mu_) guards the memtable list, the VersionSet, the
// writer queue, snapshots and background-job state. Writers queue up; the
// writer at the head (the leader) checks for stalls, takes a group of queued
// batches, releases mu_, appends each batch to the WAL as one record (one
// sync for the group if any member asked), inserts them into the memtable,
// then retakes mu_ and publishes the new last sequence. Only a leader touches
// the active memtable's contents, so the memtable needs a single writer; and
// a memtable switch happens only in a leader, so every sequence at or below
// an immutable memtable's boundary is in it or older memtables.
//
// Readers take a SuperVersion (active memtable, immutable memtables, current
// Version) under mu_ and read without it.
//
// Background: one thread flushes immutable memtables oldest first; others
// compact. Every failure of background work or of the WAL sets
// background_error_: writes then fail with it, reads go on.
#ifndef CAIRN_STORAGE_DB_IMPL_H_
#define CAIRN_STORAGE_DB_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "block_cache.h"
#include "cairn/storage/db.h"
#include "cairn/storage/transaction.h"
#include "cairn/wal/log.h"
#include "conflict_set.h"
#include "memtable.h"
#include "merge_registry.h"
#include "table_cache.h"
#include "version_set.h"

namespace cairn::storage {

struct Compaction;

// What a write-group leader checks before writing its batch, with no other
// write in between: a conditional batch's conditions, or a transaction's
// conflict set.
struct WriteCheck {
  const std::vector<Condition>* conditions = nullptr;
  const ConflictSet* conflicts = nullptr;
  // A replicated batch: it must get exactly this first sequence (0: any),
  // and keeps the commit time its payload carries.
  uint64_t expected_first_seq = 0;
  bool keep_commit_time = false;
};

// What a reader needs, pinned together.
struct SuperVersion {
  uint64_t number = 0;  // increases with every install
  std::shared_ptr<MemTable> mem;
  std::vector<std::shared_ptr<MemTable>> imms;  // newest first
  std::shared_ptr<Version> version;
};

class DBImpl final : public DB {
 public:
  DBImpl(const Options& options, std::string path);
  ~DBImpl() override;

  absl::Status OpenImpl();

  absl::StatusOr<uint64_t> Put(const WriteOptions& options,
                               std::string_view key,
                               std::string_view value) override;
  absl::StatusOr<uint64_t> Delete(const WriteOptions& options,
                                  std::string_view key) override;
  absl::StatusOr<uint64_t> DeleteRange(const WriteOptions& options,
                                       std::string_view begin,
                                       std::string_view end) override;
  absl::StatusOr<uint64_t> PutWithTtl(const WriteOptions& options,
                                      std::string_view key,
                                      std::string_view value,
                                      absl::Duration ttl) override;
  absl::StatusOr<uint64_t> Merge(const WriteOptions& options,
                                 std::string_view key, std::string_view op,
                                 std::string_view operand,
                                 std::string_view argument) override;
  using DB::ApplyReplicated;
  absl::StatusOr<uint64_t> ApplyReplicated(const WriteOptions& options,
                                           uint64_t first_seq,
                                           const WriteBatch& batch) override;
  absl::StatusOr<uint64_t> Write(const WriteOptions& options,
                                 const WriteBatch& batch) override;
  void WriteAsync(const WriteOptions& options, WriteBatch batch,
                  WriteCallback done) override;
  std::unique_ptr<Transaction> BeginTransaction(
      const TransactionOptions& options) override;
  absl::StatusOr<GetResult> Get(const ReadOptions& options,
                                std::string_view key) override;
  std::vector<absl::StatusOr<GetResult>> MultiGet(
      const ReadOptions& options,
      const std::vector<std::string_view>& keys) override;
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) override;
  const Snapshot* GetSnapshot() override;
  void ReleaseSnapshot(const Snapshot* snapshot) override;
  uint64_t LastSequence() const override {
    return last_sequence_.load(std::memory_order_acquire);
  }
  bool WaitForSequence(uint64_t seq, absl::Time deadline) override;
  absl::Status Flush(const FlushOptions& options) override;
  absl::Status CompactRange(const std::string* begin,
                            const std::string* end) override;
  absl::StatusOr<uint64_t> Checkpoint(const std::string& dir) override;
  DBStats GetStats() override;
  const Statistics& statistics() const override { return stats_; }
  wal::Log* wal() override { return log_.get(); }
  absl::Status Close() override;
  void StopWrites() override;

 private:
  struct Writer;
  struct CallbackWriter;
  class SnapshotImpl;
  class WalListener;
  friend class CompactionJob;

  // --- write path (db_write.cc) ---
  // Refuses operations the engine cannot apply (InvalidArgument naming the
  // operation), before anything is written.
  absl::Status ValidateBatch(const WriteBatch& batch) const;
  absl::StatusOr<uint64_t> WriteInternal(const WriteOptions& options,
                                         const WriteBatch* batch,
                                         const WriteCheck* check = nullptr);
  // Queues w; wakes the commit thread if w is a callback writer that has
  // become the head of the queue. mu_ held.
  void EnqueueWriterLocked(Writer* w);
  // The head of writers_ leads one commit group: stall checks, WAL, memtable,
  // publication; then the group leaves the queue, its blocking members are
  // woken, and the next head is told to lead. Returns the callback writers
  // of the group, to be completed (CompleteCallbackWriters) once mu_ is
  // released.
  std::vector<Writer*> LeadGroup(std::unique_lock<std::mutex>& lock);
  void CompleteCallbackWriters(const std::vector<Writer*>& writers);
  // The commit thread: leads every group whose head is a callback writer
  // (WriteAsync), as no caller's thread waits for it.
  void CommitThread();
  absl::Status MakeRoomForWrite(std::unique_lock<std::mutex>& lock,
                                const WriteOptions& options, uint64_t bytes);
  // Holds write groups back (after the one in its memtable insert, if any)
  // until ResumeWrites: no sequence is then between the WAL and the
  // memtable. mu_ held.
  void PauseWrites(std::unique_lock<std::mutex>& lock);
  void ResumeWrites();
  // What the shape of the tree (L0 files, pending compaction bytes,
  // memtables, memory budget) asks of the next write: a stop, a slowdown
  // (reason set, stop false) or nothing (reason kCount). mu_ held.
  struct StallState {
    StallReason reason = StallReason::kCount;
    bool stop = false;
    bool mem_full = false;     // the active memtable reached its size
    bool over_budget = false;  // memtables exceed the memory budget
  };
  StallState CurrentStall() const;
  absl::Status WaitForStall(std::unique_lock<std::mutex>& lock,
                            const WriteOptions& options, StallReason reason);
  absl::Status DelayWrite(std::unique_lock<std::mutex>& lock,
                          const WriteOptions& options, StallReason reason,
                          uint64_t bytes);
  void SwitchMemtable();
  absl::Status ApplyToMemtable(const WriteBatch& batch, uint64_t first_seq,
                               MemTable* mem);
  absl::Status CheckFreeSpace();

  // --- conditions and transaction conflicts (db_check.cc) ---
  // Runs a check against sv, reading at seq (everything written before the
  // checked batch).
  absl::Status RunWriteCheck(const WriteCheck& check, const SuperVersion& sv,
                             uint64_t seq);
  // The newest sequence at which key changed: its newest version or a
  // range tombstone covering it, looking only at sources holding sequences
  // above `since` (0 if none there).
  absl::StatusOr<uint64_t> NewestChange(const SuperVersion& sv,
                                        std::string_view key, uint64_t since);
  // Whether any key in range has a version or range tombstone newer than
  // `since`.
  absl::StatusOr<bool> RangeChangedSince(const SuperVersion& sv,
                                         const KeyRange& range, uint64_t since);

  // --- transactions (transaction.cc) ---
  friend class TransactionImpl;
  // Registers a snapshot at seq (0: the last sequence), which a live
  // snapshot must already protect.
  const Snapshot* RegisterSnapshot(uint64_t seq);
  absl::StatusOr<uint64_t> CommitTransaction(const WriteOptions& options,
                                             const WriteBatch& batch,
                                             const WriteCheck& check);

  // --- reads (db_read.cc) ---
  std::shared_ptr<SuperVersion> GetSuperVersion() const;
  void InstallSuperVersion();  // mu_ held
  // What a read sees: a SuperVersion and the sequence to read at (the
  // caller's snapshot, or the latest published one). sv is null once the DB
  // is closed.
  struct ReadView {
    std::shared_ptr<SuperVersion> sv;
    uint64_t seq = 0;
  };
  ReadView AcquireReadView(const ReadOptions& options) const;
  // newest_seq, if not null, receives the sequence of the newest version
  // met (any type; 0 if none or covered by a range tombstone).
  absl::StatusOr<GetResult> GetImpl(const SuperVersion& sv,
                                    std::string_view key, uint64_t snapshot,
                                    uint64_t now_micros,
                                    uint64_t* newest_seq = nullptr);
  // Options::clock in microseconds since the Unix epoch.
  uint64_t NowMicros() const;

  // --- background work (db_flush.cc, db_compaction.cc) ---
  void FlushThread();
  void CompactionThread();
  absl::Status FlushOneMemtable(std::unique_lock<std::mutex>& lock);
  absl::StatusOr<FileMetaData> WriteLevel0Table(
      MemTable* mem, uint64_t number, std::vector<uint64_t> snapshots);
  std::unique_ptr<Compaction> PickCompaction();  // mu_ held
  absl::Status RunCompaction(std::unique_lock<std::mutex>& lock, Compaction* c);
  // The merge itself; called without mu_ (lock is passed to allocate file
  // numbers).
  absl::Status MergeCompactionInputs(std::unique_lock<std::mutex>& lock,
                                     const Compaction& c,
                                     const std::vector<uint64_t>& snapshots,
                                     uint64_t smallest_snapshot,
                                     std::vector<FileMetaData>* outputs,
                                     std::vector<uint64_t>* allocated,
                                     uint64_t* dropped);
  void DeleteObsoleteFiles(std::unique_lock<std::mutex>& lock);
  void SetBackgroundError(const absl::Status& s);  // mu_ held
  // Wakes writers waiting for background progress (bg_done_cv_). mu_ held.
  void NotifyBackgroundDone() {
    ++bg_done_events_;
    bg_done_cv_.notify_all();
  }
  std::vector<uint64_t> SnapshotSequences() const;  // mu_ held, ascending
  void MaybeScheduleCompaction();                   // mu_ held

  // --- recovery ---
  absl::Status CheckLiveFilesExist();
  absl::Status RecoverWal();

  const Options options_;
  const std::string path_;
  FileSystem* const fs_;
  Statistics stats_;
  std::shared_ptr<const MergeRegistry> merges_;  // set by OpenImpl
  std::unique_ptr<FileLock> lock_file_;
  std::unique_ptr<BlockCache> block_cache_;
  std::unique_ptr<TableCache> table_cache_;
  std::unique_ptr<WalListener> wal_listener_;  // must outlive log_
  std::unique_ptr<wal::Log> log_;

  mutable std::mutex mu_;
  std::unique_ptr<VersionSet> versions_;
  std::shared_ptr<MemTable> mem_;
  std::deque<std::shared_ptr<MemTable>> imms_;  // oldest first
  // Boundary sequence of each immutable memtable, parallel to imms_: every
  // sequence <= it is in that memtable or an older one.
  std::deque<uint64_t> imm_boundaries_;
  // Replaced under mu_ and sv_mu_, read under sv_mu_ alone: a reader holds
  // it only to copy the pointer, never while writers or background jobs do
  // their work under mu_.
  mutable std::mutex sv_mu_;
  std::shared_ptr<SuperVersion> super_version_;
  // The number of super_version_; stored under sv_mu_, loaded without it.
  std::atomic<uint64_t> super_version_number_{0};
  std::atomic<uint64_t> last_sequence_{0};

  std::deque<Writer*> writers_;
  // The head of writers_ is a callback writer that no thread leads yet: the
  // commit thread leads it.
  std::condition_variable commit_cv_;
  // A thread is in LeadGroup (the head of writers_ has its leader).
  bool leading_ = false;
  // Scratch space of the current write-group leader (only it uses them).
  std::vector<Writer*> group_;
  std::vector<uint64_t> first_seqs_;
  WriteBatch stamp_;
  // A leader is appending to the WAL and inserting into mem_ without mu_.
  bool writing_memtable_ = false;
  int writes_paused_ = 0;
  std::condition_variable write_cv_;    // writing_memtable_ or writes_paused_
  std::list<SnapshotImpl*> snapshots_;  // registration order

  std::condition_variable bg_cv_;       // work for background threads
  std::condition_variable bg_done_cv_;  // a background job finished
  std::condition_variable
      visible_cv_;  // last_sequence_ moved (WaitForSequence)
  // Counts NotifyBackgroundDone calls, so that a writer that released mu_
  // before waiting on bg_done_cv_ cannot miss a signal sent meanwhile.
  uint64_t bg_done_events_ = 0;
  std::vector<std::thread> threads_;
  bool shutting_down_ = false;
  bool writes_stopped_ = false;                  // StopWrites() was called
  std::atomic<bool> shutting_down_flag_{false};  // readable without mu_
  std::vector<std::string> compact_pointer_;     // per level, round-robin
  bool closed_ = false;
  int running_flushes_ = 0;
  uint64_t flushes_completed_ = 0;
  int running_compactions_ = 0;
  int manual_compactions_ = 0;   // CompactRange calls waiting or running
  bool manual_running_ = false;  // one of them is compacting
  std::vector<const Compaction*> running_compaction_list_;
  absl::Status background_error_;
  std::set<uint64_t> pending_outputs_;  // file numbers being written
  std::set<uint64_t> being_compacted_;  // inputs of running compactions
  std::mutex delete_mu_;  // serializes DeleteObsoleteFiles (taken without mu_)

  // Write throttling and the free-space check.
  absl::Time delay_until_ = absl::InfinitePast();
  absl::Time last_space_check_ = absl::InfinitePast();
  bool low_space_ = false;
  std::string space_message_;

  // Stall state, for GetStats.
  uint64_t user_bytes_written_ = 0;
  std::atomic<uint64_t> sst_bytes_written_{0};
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_DB_IMPL_H_
