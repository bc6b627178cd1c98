// Client: a connection to one cairnd and every call of its API (cairn.v1:
// KV, Replication, Admin, and grpc.health.v1.Health), with deadlines and
// retries. Results are absl::Status / absl::StatusOr; a failed call's status
// carries the server's gRPC code and message unchanged (INVALID_ARGUMENT
// naming the field, ABORTED for a transaction conflict, RESOURCE_EXHAUSTED
// for limits and stalls, UNAVAILABLE while the server is down or shutting
// down, FAILED_PRECONDITION for a write sent to a replica, ...).
//
// Every call has a deadline: its own timeout, else
// ClientOptions::default_timeout. Calls that are safe to repeat are retried
// on UNAVAILABLE within that deadline (see RetryPolicy).
//
//   absl::StatusOr<std::unique_ptr<Client>> c = Client::Connect({});
//   absl::StatusOr<uint64_t> seq = (*c)->Put("greeting", "hello");
//   absl::StatusOr<GetResult> r = (*c)->Get("greeting");
//
// Thread-safe: one Client may be shared by any number of threads (the
// Scanner, Transaction and TailConsumer objects it creates are each for one
// thread at a time). Connecting is lazy; an unreachable server shows as
// UNAVAILABLE in the first call.
#ifndef CAIRN_CLIENT_CLIENT_H_
#define CAIRN_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/client/batch.h"
#include "cairn/client/options.h"
#include "cairn/client/scanner.h"
#include "cairn/client/tail_consumer.h"
#include "cairn/client/transaction.h"
#include "cairn/client/types.h"

namespace cairn::v1 {
class StatsResponse;
}  // namespace cairn::v1

namespace cairn::client {

class Client {
 public:
  // Fails only on bad options (INVALID_ARGUMENT naming the option, e.g. an
  // unreadable TLS file).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientOptions& options() const;

  // --- Reads (retried) ---
  absl::StatusOr<GetResult> Get(const std::string& key,
                                const ReadOptions& options = {});
  absl::StatusOr<MultiGetResult> MultiGet(const std::vector<std::string>& keys,
                                          const ReadOptions& options = {});
  std::unique_ptr<Scanner> Scan(const ScanOptions& options);
  // Reads a whole scan into memory (for small ranges); read_seq is set when
  // non-null.
  absl::StatusOr<std::vector<KeyValue>> ScanAll(const ScanOptions& options,
                                                uint64_t* read_seq = nullptr);

  // --- Writes: each returns the sequence it committed at ---
  absl::StatusOr<uint64_t> Put(const std::string& key, const std::string& value,
                               const PutOptions& options = {});
  absl::StatusOr<uint64_t> Delete(const std::string& key,
                                  const WriteOptions& options = {});
  // Deletes every key in [start, end).
  absl::StatusOr<uint64_t> DeleteRange(const std::string& start,
                                       const std::string& end,
                                       const WriteOptions& options = {});
  absl::StatusOr<uint64_t> Merge(const std::string& key,
                                 const std::string& merge_operator,
                                 const std::string& operand,
                                 const std::string& argument = "",
                                 const WriteOptions& options = {});
  // Applies the batch atomically if its conditions hold; a failed condition
  // is a result (succeeded = false), not an error.
  absl::StatusOr<BatchResult> Write(const Batch& batch,
                                    const WriteOptions& options = {});

  // --- Transactions ---
  absl::StatusOr<std::unique_ptr<Transaction>> BeginTransaction(
      const TransactionOptions& options = {});
  // Runs body in a new transaction and commits it; on ABORTED (a conflict)
  // or UNAVAILABLE before the commit was sent, waits a jittered backoff and
  // runs body again in a fresh transaction, at most max_attempts times.
  // body returning an error rolls back and ends with that error. Returns
  // the commit's sequence.
  absl::StatusOr<uint64_t> RunTransaction(
      const std::function<absl::Status(Transaction&)>& body,
      int max_attempts = 10, Durability durability = Durability::kDefault,
      const TransactionOptions& options = {});

  // --- Replication ---
  std::unique_ptr<TailConsumer> Tail(const TailOptions& options);
  absl::Status Ack(const std::string& consumer, uint64_t seq,
                   const CallOptions& options = {});
  absl::StatusOr<std::vector<ConsumerInfo>> ListConsumers(
      const CallOptions& options = {});
  absl::Status DropConsumer(const std::string& consumer,
                            const CallOptions& options = {});

  // --- Admin ---
  // Returns the flushed sequence (when waited for).
  absl::StatusOr<uint64_t> Flush(bool wait = true,
                                 const CallOptions& options = {});
  // Compacts [start, end) (empty = unbounded) down the levels.
  absl::Status Compact(const std::string& start = "",
                       const std::string& end = "",
                       const CallOptions& options = {});
  // Engine and level summary (include "cairn/v1/admin.pb.h" to read it).
  absl::StatusOr<cairn::v1::StatsResponse> Stats(
      const CallOptions& options = {});
  // Writes a consistent copy to `dir` on the server's machine; returns it
  // with the last sequence it holds.
  absl::StatusOr<CheckpointInfo> Checkpoint(const std::string& dir,
                                            const CallOptions& options = {});
  // ttl zero: the server's default.
  absl::StatusOr<SnapshotInfo> AcquireSnapshot(
      absl::Duration ttl = absl::ZeroDuration(),
      const CallOptions& options = {});
  absl::Status ReleaseSnapshot(uint64_t seq, const CallOptions& options = {});
  // grpc.health.v1.Health/Check of `service` ("" = the whole server):
  // "SERVING", "NOT_SERVING", ...
  absl::StatusOr<std::string> Health(const std::string& service = "",
                                     const CallOptions& options = {});

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_CLIENT_H_
