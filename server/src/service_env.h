// ServiceEnv: what cairnd's RPC handlers share (the engine, the validator,
// held snapshots, auth, metrics) and the admission of calls: refusing new
// calls once shutdown began, checking the caller's token, and counting open
// streams against their limits so that shutdown can end them.
//
// Thread-safe.
#ifndef CAIRN_SERVER_SERVICE_ENV_H_
#define CAIRN_SERVER_SERVICE_ENV_H_

#include <atomic>
#include <mutex>
#include <set>
#include <string_view>

#include "absl/time/time.h"
#include "auth.h"
#include "cairn/storage/db.h"
#include "config.h"
#include "grpcpp/grpcpp.h"
#include "metrics.h"
#include "request_validation.h"
#include "snapshot_registry.h"
#include "status_map.h"
#include "write_pool.h"

namespace cairn::server {

class ReplicaFollower;

// A stream a handler runs, which shutdown can end early.
class CancellableStream {
 public:
  virtual ~CancellableStream() = default;
  // Ends the stream with `status` (UNAVAILABLE at shutdown) as soon as it
  // safely can; may be called from any thread, at most once.
  virtual void Cancel(const grpc::Status& status) = 0;
};

enum class StreamKind { kScan, kTxn, kTail };

class ServiceEnv {
 public:
  ServiceEnv(storage::DB* db, const ServerConfig& config,
             std::unique_ptr<TokenAuth> auth, Metrics* metrics);

  storage::DB* db() const { return db_; }
  const RequestValidator& validator() const { return validator_; }
  SnapshotRegistry& snapshots() { return snapshots_; }
  // Where sync writes run; nullptr when --write_threads=0.
  WritePool* write_pool() const { return write_pool_.get(); }
  // After gRPC has shut down: runs what is queued and joins the threads.
  void StopWritePool() {
    if (write_pool_ != nullptr) write_pool_->Stop();
  }
  Metrics* metrics() const { return metrics_; }

  // On a read replica: the primary (writes are refused, naming it) and the
  // follower (set before serving starts). Empty and null on a primary.
  const std::string& replica_of() const { return replica_of_; }
  const ReplicaFollower* replica() const { return replica_; }
  void set_replica(const ReplicaFollower* replica) { replica_ = replica; }
  const Limits& limits() const { return validator_.limits(); }

  // OK, or UNAVAILABLE (shutting down), UNAUTHENTICATED or
  // PERMISSION_DENIED, or FAILED_PRECONDITION for a write to a read
  // replica. Every handler calls it first.
  grpc::Status Admit(const grpc::ServerContextBase& context, Role role) const;

  // Admission of a stream: also RESOURCE_EXHAUSTED past the stream limits.
  // On OK the stream is registered until CloseStream.
  grpc::Status OpenStream(const grpc::ServerContextBase& context, Role role,
                          StreamKind kind, CancellableStream* stream);
  void CloseStream(StreamKind kind, CancellableStream* stream);

  // Shutdown, step 1: new calls are refused with UNAVAILABLE and every open
  // stream is cancelled with it.
  void BeginShutdown();
  bool shutting_down() const { return shutting_down_.load(); }
  // Shutdown, step 2: waits until no unary call is running, every stream
  // has ended and no call at all has arrived for `quiet` (clients still
  // sending keep getting UNAVAILABLE from the handlers rather than being cut
  // off by the transport), or until `deadline`; returns whether it got idle.
  bool WaitIdle(absl::Time deadline, absl::Duration quiet);

  // Brackets an admitted unary call, for WaitIdle.
  void CallStarted() { inflight_.fetch_add(1, std::memory_order_relaxed); }
  void CallEnded() { inflight_.fetch_sub(1, std::memory_order_release); }

  // The engine's write deadline for a call: the client's deadline.
  static absl::Time Deadline(const grpc::ServerContextBase& context);

  // Reads at a held snapshot when `snapshot_seq` != 0 (FAILED_PRECONDITION
  // if it is not held), else at the latest sequence. `hold` keeps the
  // snapshot alive while options.snapshot points into it.
  absl::Status ReadPoint(uint64_t snapshot_seq, std::string_view field,
                         storage::ReadOptions* options,
                         SnapshotRegistry::Ref* hold);

 private:
  storage::DB* const db_;
  const RequestValidator validator_;
  SnapshotRegistry snapshots_;
  const std::unique_ptr<TokenAuth> auth_;
  Metrics* const metrics_;
  const int max_tail_streams_;
  const std::string replica_of_;
  const ReplicaFollower* replica_ = nullptr;
  const std::unique_ptr<WritePool> write_pool_;

  std::atomic<bool> shutting_down_{false};
  std::atomic<int> inflight_{0};               // unary calls running
  mutable std::atomic<uint64_t> arrivals_{0};  // calls seen by Admit
  std::mutex mu_;
  std::set<CancellableStream*> streams_;  // guarded by mu_
  int open_streams_ = 0;                  // guarded by mu_
  int open_txns_ = 0;                     // guarded by mu_
  int open_tails_ = 0;                    // guarded by mu_
};

std::string_view StreamKindName(StreamKind kind);

// The body of every unary handler: admits the call, runs `work` (validation
// and the engine call, returning the call's status) and finishes the call.
template <typename Work>
grpc::ServerUnaryReactor* RunUnary(ServiceEnv* env,
                                   grpc::CallbackServerContext* context,
                                   Role role, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status s = env->Admit(*context, role);
  if (s.ok()) {
    env->CallStarted();
    s = work();
    env->CallEnded();
  }
  reactor->Finish(s);
  return reactor;
}

// The engine's write options for a request's durability and deadline.
absl::StatusOr<storage::WriteOptions> WriteOptionsFor(
    const ServiceEnv& env, const grpc::ServerContextBase& context,
    int durability);

// The body of a write handler. `prepare(WriteBatch*)` validates the request
// and builds its batch (a non-OK status refuses the call); the engine then
// commits the batch, and `reply(absl::StatusOr<uint64_t>)` turns the
// engine's answer (the last sequence of the batch, or an error) into the
// response and the call's status. A write whose durability resolves to sync
// waits for its WAL sync with no thread held (DB::WriteAsync): every queued
// durable write shares the next sync, and `reply` runs on whichever thread
// commits the group. Other writes run inline. `prepare` runs before the
// handler returns; `reply` may run after it, so it captures by value.
template <typename Prepare, typename Reply>
grpc::ServerUnaryReactor* RunUnaryWrite(ServiceEnv* env,
                                        grpc::CallbackServerContext* context,
                                        int durability, Prepare prepare,
                                        Reply reply) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto refuse = [reactor](const grpc::Status& status) {
    reactor->Finish(status);
    return reactor;
  };
  if (grpc::Status s = env->Admit(*context, Role::kWrite); !s.ok()) {
    return refuse(s);
  }
  storage::WriteBatch batch;
  if (grpc::Status s = prepare(&batch); !s.ok()) return refuse(s);
  absl::StatusOr<storage::WriteOptions> wo =
      WriteOptionsFor(*env, *context, durability);
  if (!wo.ok()) return refuse(ToGrpc(wo.status()));
  env->CallStarted();
  if (!wo->sync) {
    grpc::Status s = reply(env->db()->Write(*wo, batch));
    env->CallEnded();
    reactor->Finish(s);
    return reactor;
  }
  env->db()->WriteAsync(
      *wo, std::move(batch),
      [env, reactor, reply = std::move(reply)](absl::StatusOr<uint64_t> seq) {
        grpc::Status status = reply(seq);
        env->CallEnded();
        reactor->Finish(status);
      });
  return reactor;
}

// Like RunUnary, for a call that waits on the disk and has no asynchronous
// engine call (a transaction's sync commit, a durable record of consumer
// progress): `work` runs on the write pool (inline when there is none). It runs
// after the handler returned: capture by value.
template <typename Work>
grpc::ServerUnaryReactor* RunUnaryBlocking(ServiceEnv* env,
                                           grpc::CallbackServerContext* context,
                                           Role role, Work work) {
  if (env->write_pool() == nullptr) {
    return RunUnary(env, context, role, std::move(work));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status s = env->Admit(*context, role);
  if (!s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  env->CallStarted();
  env->write_pool()->Submit([env, reactor, work = std::move(work)]() mutable {
    grpc::Status status = work();
    env->CallEnded();
    reactor->Finish(status);
  });
  return reactor;
}

}  // namespace cairn::server

#endif  // CAIRN_SERVER_SERVICE_ENV_H_
