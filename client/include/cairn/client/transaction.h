// Transaction: one interactive optimistic transaction (a KV.Txn stream).
// Reads see the snapshot the transaction began at plus its own buffered
// writes; Commit applies the writes atomically, or fails with ABORTED when a
// key it read or wrote (or a key in a range it scanned) changed since the
// snapshot: serializable for everything it read. Destroying a transaction
// that was not committed rolls it back.
//
// Conflicts are expected under contention: wrap the body in
// Client::RunTransaction, which retries it on ABORTED.
//
// After any error the transaction is finished (the stream is gone); every
// later call returns FAILED_PRECONDITION. Not thread-safe.
#ifndef CAIRN_CLIENT_TRANSACTION_H_
#define CAIRN_CLIENT_TRANSACTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/client/types.h"

namespace cairn::client {

struct TransactionOptions {
  // Begin at this held snapshot; 0 = the current sequence.
  uint64_t snapshot_seq = 0;
  // Deadline of the whole transaction, from begin to commit; zero =
  // ClientOptions::default_timeout.
  absl::Duration timeout = absl::ZeroDuration();
};

// A scan inside a transaction returns at most one chunk: when `more` is set,
// continue from after the last key.
struct TransactionScanResult {
  std::vector<KeyValue> kvs;
  bool more = false;
};

class Transaction {
 public:
  class Impl;
  explicit Transaction(std::unique_ptr<Impl> impl);
  // Rolls back if neither committed nor rolled back.
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // The snapshot the transaction reads at.
  uint64_t snapshot_seq() const;

  absl::StatusOr<GetResult> Get(const std::string& key);
  // ScanOptions::snapshot_seq and timeout are ignored here.
  absl::StatusOr<TransactionScanResult> Scan(const ScanOptions& options);
  absl::Status Put(const std::string& key, const std::string& value,
                   absl::Duration ttl = absl::ZeroDuration());
  absl::Status Delete(const std::string& key);
  absl::Status Merge(const std::string& key, const std::string& merge_operator,
                     const std::string& operand,
                     const std::string& argument = "");

  // Returns the sequence of the last write (0 if nothing was written);
  // ABORTED on a conflict.
  absl::StatusOr<uint64_t> Commit(Durability durability = Durability::kDefault);
  absl::Status Rollback();

  // Whether Commit or Rollback finished the transaction, or it failed.
  bool finished() const;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_TRANSACTION_H_
