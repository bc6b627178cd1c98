// ReplicaFollower: what makes a cairnd a read replica (--replica_of).
//
// Bootstrap (before the engine opens): a data directory without a database
// is filled from the primary. One Scan gives the primary's state at its
// read sequence S; it is loaded with storage::SnapshotLoader (revisions and
// expiries kept, last sequence S). Before the scan is read, a Tail from
// S + 1 is opened on a connection of its own, so the primary's WAL after S
// stays held by that stream however long the copy takes; following starts
// on it. A primary that has never been written to (S = 0) needs no copy.
//
// Following (after the engine opens): a thread tails the primary from the
// replica's own last sequence + 1, collects the events of each batch (the
// stream carries group markers) and applies each batch whole with
// DB::ApplyReplicated, keeping the primary's sequence numbers and commit
// times; so the replica's WAL serves its own Tail consumers the same
// stream (replicas chain). When the stream ends it reconnects with
// jittered backoff (100 ms doubling to 5 s) and resumes from its own last
// sequence: nothing is applied twice or skipped. A primary that no longer
// holds that sequence (OUT_OF_RANGE) cannot be followed: the replica logs
// it, reports it and keeps retrying slowly, serving reads as they are; an
// operator re-bootstraps it by emptying its data directory.
//
// Thread-safety: Status may be called from any thread.
#ifndef CAIRN_SERVER_REPLICA_FOLLOWER_H_
#define CAIRN_SERVER_REPLICA_FOLLOWER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/storage/db.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "config.h"
#include "grpcpp/grpcpp.h"

namespace cairn::server {

// A Tail stream to the primary, with what keeps it alive.
struct PrimaryStream {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Replication::Stub> stub;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::TailResponse>> reader;
};

struct ReplicaStatus {
  bool connected = false;
  uint64_t applied_seq = 0;  // the replica's last sequence
  uint64_t primary_seq = 0;  // the primary's last committed, as last seen
  uint64_t lag_seqs = 0;
  double lag_seconds = 0;  // age of the newest applied commit if behind
  uint64_t reconnects = 0;
  uint64_t applied_batches = 0;
  bool out_of_range = false;  // the primary no longer holds what we need
};

class ReplicaFollower {
 public:
  // Fills an empty data directory from the primary (see above), retrying
  // for settings.bootstrap_timeout while the primary cannot be reached. On
  // success, *stream is the Tail to follow from (null if the directory
  // already held a database, which is left untouched).
  static absl::Status BootstrapIfEmpty(const ReplicaSettings& settings,
                                       const storage::Options& options,
                                       const std::string& data_dir,
                                       std::unique_ptr<PrimaryStream>* stream);

  // Starts following; `initial` (may be null) is the stream from the
  // bootstrap. `db` must outlive Stop().
  ReplicaFollower(const ReplicaSettings& settings, storage::DB* db,
                  std::unique_ptr<PrimaryStream> initial);
  ~ReplicaFollower();  // Stop()
  ReplicaFollower(const ReplicaFollower&) = delete;
  ReplicaFollower& operator=(const ReplicaFollower&) = delete;

  // Ends the stream and joins the thread. Idempotent.
  void Stop();
  ReplicaStatus Status() const;
  const std::string& primary() const { return settings_.primary; }

 private:
  void Run();
  // Reads the stream to its end, applying batches; returns its status.
  grpc::Status Follow(PrimaryStream* stream);

  const ReplicaSettings settings_;
  storage::DB* const db_;
  std::unique_ptr<PrimaryStream> initial_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                      // guarded by mu_
  grpc::ClientContext* active_ = nullptr;  // guarded by mu_: to cancel
  ReplicaStatus status_;                   // guarded by mu_
  uint64_t last_commit_micros_ = 0;        // guarded by mu_
};

// A new stream to the primary: Tail from from_seq, no filter.
absl::StatusOr<std::unique_ptr<PrimaryStream>> OpenPrimaryStream(
    const ReplicaSettings& settings, uint64_t from_seq);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_REPLICA_FOLLOWER_H_
