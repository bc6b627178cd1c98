// DB: Cairn's embeddable LSM-tree key-value engine.
//
// Writes (Put, Delete, DeleteRange, Write of a batch) get global sequence
// numbers in commit order, go to the write-ahead log as one record per batch
// (sharing syncs among concurrent writers), then to the memtable; a write is
// visible to readers when it returns. Memtables are flushed to level-0
// SSTables in the background and compacted down the levels (leveled
// compaction). The MANIFEST records the files of every level and the
// sequence below which everything is in SSTables; WAL segments below it are
// released. See docs/architecture.md for the write, read, compaction and
// stall policies, and docs/formats.md for every file format.
//
// Errors: bad input is InvalidArgument naming the field and changes nothing;
// a write that cannot proceed before its deadline (stall) or with too little
// disk is ResourceExhausted; detected corruption is DataLoss. If a
// background flush or compaction, or a WAL write, fails, the DB enters a
// read-only error state: writes fail with the original error (reads go on),
// reported by GetStats().background_error.
//
// Thread-safety: every method may be called concurrently, except Close and
// destruction.
#ifndef CAIRN_STORAGE_DB_H_
#define CAIRN_STORAGE_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/storage/event_listener.h"
#include "cairn/storage/iterator.h"
#include "cairn/storage/options.h"
#include "cairn/storage/statistics.h"
#include "cairn/storage/write_batch.h"

namespace cairn::wal {
class Log;
}

namespace cairn::storage {

class Transaction;
struct TransactionOptions;

// A registered read point. Each GetSnapshot is its own registration, even at
// the same sequence; the versions it sees survive compaction until it is
// released.
class Snapshot {
 public:
  uint64_t sequence() const { return seq_; }

 protected:
  explicit Snapshot(uint64_t seq) : seq_(seq) {}
  ~Snapshot() = default;

 private:
  const uint64_t seq_;
};

struct GetResult {
  std::string value;
  // The write that produced the value (its revision): the Put, or the newest
  // merge operand folded into it.
  uint64_t seq = 0;
  // When the Put under this value expires, in microseconds since the Unix
  // epoch; 0: never. Merge operands folded onto an expiring Put outlive it:
  // from then on they fold over absence (see docs/architecture.md, "TTL").
  uint64_t expires_at_micros = 0;
};

struct LevelStats {
  int files = 0;
  uint64_t bytes = 0;
  uint64_t target_bytes = 0;  // 0 for L0 (count-triggered)
  double score = 0;           // >= 1: needs compaction
  int files_being_compacted = 0;
};

struct DBStats {
  uint64_t last_sequence = 0;
  uint64_t flushed_sequence = 0;  // every sequence <= this is in SSTables
  std::vector<LevelStats> levels;
  uint64_t memtable_bytes = 0;       // the active memtable
  uint64_t immutable_memtables = 0;  // waiting for or being flushed
  uint64_t immutable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  int running_flushes = 0;
  int running_compactions = 0;
  int snapshots = 0;
  uint64_t oldest_snapshot = 0;  // 0 if none
  // Stall state: whether writers are currently slowed or stopped, and why.
  // What the tree's shape asks of the next write right now (not what the
  // last writer saw): slowed down, stopped, and why.
  bool write_slowdown = false;
  bool write_stopped = false;
  StallReason stall_reason = StallReason::kCount;  // kCount: none
  uint64_t delayed_write_rate = 0;                 // bytes/s while slowed
  uint64_t user_bytes_written = 0;
  uint64_t sst_bytes_written = 0;  // by flushes and compactions
  double write_amplification = 0;  // sst_bytes_written / user_bytes_written
  uint64_t live_sst_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t block_cache_usage = 0;
  uint64_t block_cache_capacity = 0;
  absl::Status background_error;
};

// The index (in WriteBatch::conditions()) of the condition that made
// DB::Write fail, or nullopt if `status` is not a failed condition.
std::optional<int> FailedConditionIndex(const absl::Status& status);

class DB {
 public:
  // Opens (creating if options say so) the database in directory `path`:
  // reads the MANIFEST, replays the WAL above the flushed sequence, and
  // starts the background threads. A second Open of the same path, in this
  // or another process, fails with FailedPrecondition while this one is open.
  static absl::StatusOr<std::unique_ptr<DB>> Open(const Options& options,
                                                  const std::string& path);
  virtual ~DB() = default;

  // Each returns the sequence number of the write (for a batch: of its last
  // operation). An empty batch changes nothing and returns the last sequence.
  virtual absl::StatusOr<uint64_t> Put(const WriteOptions& options,
                                       std::string_view key,
                                       std::string_view value) = 0;
  // A Put that expires ttl after now (Options::clock); InvalidArgument
  // unless ttl > 0.
  virtual absl::StatusOr<uint64_t> PutWithTtl(const WriteOptions& options,
                                              std::string_view key,
                                              std::string_view value,
                                              absl::Duration ttl) = 0;
  virtual absl::StatusOr<uint64_t> Delete(const WriteOptions& options,
                                          std::string_view key) = 0;
  // Deletes every key in [begin, end); InvalidArgument unless begin < end.
  virtual absl::StatusOr<uint64_t> DeleteRange(const WriteOptions& options,
                                               std::string_view begin,
                                               std::string_view end) = 0;
  // Adds a merge operand (merge_operator.h); InvalidArgument for an unknown
  // operator or an operand it rejects.
  virtual absl::StatusOr<uint64_t> Merge(const WriteOptions& options,
                                         std::string_view key,
                                         std::string_view op,
                                         std::string_view operand,
                                         std::string_view argument = {}) = 0;
  // Applies the batch atomically. If it has conditions, they are checked
  // against the latest committed state and the batch applied in one step
  // with respect to every other write; if one fails, nothing is written and
  // the result is FailedPrecondition naming it, with its index available
  // through FailedConditionIndex.
  virtual absl::StatusOr<uint64_t> Write(const WriteOptions& options,
                                         const WriteBatch& batch) = 0;

  // Write without a waiting thread: queues the batch for the next commit
  // group and returns; `done` receives exactly what Write would have
  // returned. Meant for servers, where a durable write would otherwise hold
  // a thread for its whole sync: queued writes from any number of callers
  // share one WAL sync, and their wait costs no thread. Only when no other
  // write is in progress does the caller's thread commit the batch itself
  // (as Write would), which spares a lone write a thread hand-off; at most
  // one caller at a time is held so.
  //
  // `done` runs exactly once, after the write is visible, with no engine
  // lock held: inline, before WriteAsync returns, when the batch is refused
  // outright (invalid, or the DB closed) or committed by the caller;
  // otherwise on the thread that commits its group (the engine's commit
  // thread, or a concurrent writer's). Callbacks of different writes may
  // run on different threads at once. It must be quick and must not block
  // (it holds up the next group); it may call WriteAsync, but not Write or
  // Close.
  using WriteCallback = std::function<void(absl::StatusOr<uint64_t>)>;
  virtual void WriteAsync(const WriteOptions& options, WriteBatch batch,
                          WriteCallback done) = 0;

  // Appends a batch committed by another database (a replica's primary),
  // keeping its sequence numbers and the commit time its header carries
  // (WriteBatch::CommitMicros): its operations get first_seq,
  // first_seq + 1, ... FailedPrecondition, writing nothing, unless first_seq
  // is LastSequence() + 1 when the batch commits; InvalidArgument for an
  // empty batch or one the engine refuses. Returns the batch's last
  // sequence. Conditions of the batch are ignored.
  virtual absl::StatusOr<uint64_t> ApplyReplicated(const WriteOptions& options,
                                                   uint64_t first_seq,
                                                   const WriteBatch& batch) = 0;
  // The same for a batch given as its encoding (a WAL payload, see
  // change_reader.h); DataLoss if it is malformed.
  absl::StatusOr<uint64_t> ApplyReplicated(const WriteOptions& options,
                                           uint64_t first_seq,
                                           std::string_view payload);

  // Starts an optimistic transaction (cairn/storage/transaction.h).
  virtual std::unique_ptr<Transaction> BeginTransaction(
      const TransactionOptions& options) = 0;
  // Starts one that reads at the latest committed state.
  std::unique_ptr<Transaction> BeginTransaction();

  // NotFound if the key has no live value at the read point.
  virtual absl::StatusOr<GetResult> Get(const ReadOptions& options,
                                        std::string_view key) = 0;
  // All keys read at one sequence.
  virtual std::vector<absl::StatusOr<GetResult>> MultiGet(
      const ReadOptions& options,
      const std::vector<std::string_view>& keys) = 0;
  virtual std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) = 0;

  // Registers the current last sequence as a read point.
  virtual const Snapshot* GetSnapshot() = 0;
  virtual void ReleaseSnapshot(const Snapshot* snapshot) = 0;

  // Last committed (visible) sequence.
  virtual uint64_t LastSequence() const = 0;
  // Waits until LastSequence() >= seq (every write up to seq is visible and
  // acknowledged) or deadline; returns whether it is. Returns at once, false,
  // once the DB is closed.
  virtual bool WaitForSequence(uint64_t seq, absl::Time deadline) = 0;

  // Seals the active memtable and flushes it (and any older immutable ones).
  virtual absl::Status Flush(const FlushOptions& options = {}) = 0;
  // Compacts every level overlapping [begin, end] (null: unbounded) down to
  // the last level holding data, waiting for the result.
  virtual absl::Status CompactRange(const std::string* begin,
                                    const std::string* end) = 0;
  // Writes a consistent copy of the database into dir (which must not exist):
  // hard links to the live SSTables, a MANIFEST, and a copy of the WAL
  // needed above the flushed sequence. Writes wait only while the WAL's
  // unflushed tail is copied. The copy opens as a database. Returns the
  // copy's last sequence: it holds exactly the writes up to it.
  virtual absl::StatusOr<uint64_t> Checkpoint(const std::string& dir) = 0;

  virtual DBStats GetStats() = 0;
  virtual const Statistics& statistics() const = 0;
  // The write-ahead log, for Tail readers. Valid until Close.
  virtual wal::Log* wal() = 0;

  // Stops background work (finishing the running job), syncs the WAL and
  // releases the lock. Later calls fail with FailedPrecondition.
  virtual absl::Status Close() = 0;

  // The first step of a bounded shutdown: every write from now on, and every
  // writer waiting on a stall, fails with UNAVAILABLE; reads go on. Close()
  // must still be called. A server calls it when its drain deadline passes
  // with writers still stalled.
  virtual void StopWrites() = 0;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_DB_H_
