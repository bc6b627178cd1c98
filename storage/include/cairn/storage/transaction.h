// Transaction: an optimistic transaction over a DB.
//
// A transaction reads at its snapshot (the latest committed state when it
// began, or a snapshot the caller names) with its own buffered writes
// visible first, and buffers Put, Delete and Merge until Commit. Commit
// checks, in one atomic step with respect to every other write, that
// nothing the transaction depended on changed after its snapshot: no key it
// read (Get) or wrote, and no key in any range it scanned with an iterator
// (including keys that did not exist: phantoms), got a newer version or
// range deletion, and no value it read has expired since. If one did,
// Commit fails with Aborted and writes nothing; otherwise all its writes
// commit as one batch (one WAL record, consecutive sequences).
//
// Isolation: serializable for the keys and ranges the transaction read
// (backward validation of its read set; every committed transaction
// behaves as if it ran alone at its commit point). Writes that the
// transaction did not read (blind writes) are also checked, so two
// transactions writing the same key cannot both commit. Reads inside the
// transaction are snapshot reads; they never block or wait for writers.
//
// A transaction holds its snapshot (keeping the versions it reads alive
// through compaction) until it commits, rolls back or is destroyed;
// destroying it without Commit rolls it back. After Commit or Rollback
// every call fails with FailedPrecondition. Iterators from NewIterator must
// be destroyed before the transaction.
//
// Thread-safety: one thread at a time per transaction; any number of
// transactions may run concurrently.
#ifndef CAIRN_STORAGE_TRANSACTION_H_
#define CAIRN_STORAGE_TRANSACTION_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/storage/db.h"
#include "cairn/storage/iterator.h"
#include "cairn/storage/options.h"

namespace cairn::storage {

struct TransactionOptions {
  // Read at this snapshot, which the caller keeps registered at least until
  // BeginTransaction returns (the transaction then holds its own); null:
  // the latest committed state.
  const Snapshot* snapshot = nullptr;
};

class Transaction {
 public:
  virtual ~Transaction() = default;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // The sequence the transaction reads at.
  virtual uint64_t snapshot_sequence() const = 0;

  // The key at the snapshot with the transaction's own writes applied on
  // top. A value produced by an own write has seq 0 (not committed yet).
  virtual absl::StatusOr<GetResult> Get(std::string_view key) = 0;
  // An iterator over the snapshot merged with the own writes, honouring
  // bounds and prefix (options.snapshot is ignored). The span it covers,
  // from where it was positioned to where it stopped, joins the
  // transaction's read set.
  virtual std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) = 0;

  virtual absl::Status Put(std::string_view key, std::string_view value) = 0;
  // A Put that expires (WriteBatch::PutWithExpiry); InvalidArgument for 0.
  virtual absl::Status PutWithExpiry(std::string_view key,
                                     std::string_view value,
                                     uint64_t expires_at_micros) = 0;
  virtual absl::Status Delete(std::string_view key) = 0;
  // InvalidArgument for an unknown operator or an operand it rejects.
  virtual absl::Status Merge(std::string_view key, std::string_view op,
                             std::string_view operand,
                             std::string_view argument = {}) = 0;

  // Validates and writes (see above). Returns the sequence of the last
  // write, or for a transaction without writes the last sequence at which
  // its reads were validated. Aborted on conflict; other errors as
  // DB::Write. Either way the transaction is finished.
  virtual absl::StatusOr<uint64_t> Commit(const WriteOptions& options) = 0;
  // Discards the buffered writes and releases the snapshot.
  virtual void Rollback() = 0;

 protected:
  Transaction() = default;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TRANSACTION_H_
