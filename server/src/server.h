// Server: one running cairnd: the engine, the gRPC server with the KV,
// Replication and Admin services (plus grpc.health.v1 and reflection), the
// named Tail consumers, and the metrics HTTP endpoint.
//
// Shutdown (graceful): health turns NOT_SERVING, new calls are refused with
// UNAVAILABLE, open streams end with UNAVAILABLE, in-flight unary calls get
// up to --shutdown_grace to finish; after that the engine stops taking
// writes (so a writer stalled in the engine fails with UNAVAILABLE instead
// of holding the shutdown), gRPC is shut down, and the engine is closed,
// which syncs the WAL. The metrics endpoint stays up until the end so
// /healthz reports 503 during the drain.
//
// Thread-safety: Start and Shutdown from one thread; everything else is
// driven by gRPC's threads.
#ifndef CAIRN_SERVER_SERVER_H_
#define CAIRN_SERVER_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cairn/storage/db.h"
#include "config.h"
#include "grpcpp/grpcpp.h"

namespace cairn::server {

class AdminService;
class ConsumerRegistry;
class KvService;
class ReplicaFollower;
class ReplicationService;
struct TailShared;
class TailMetrics;
class Metrics;
class MetricsHttpServer;
class ServiceEnv;

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerConfig& config);
  ~Server();  // Shutdown() if not done yet

  // Graceful shutdown as described above; returns the engine's close status.
  // Idempotent.
  absl::Status Shutdown();

  int grpc_port() const { return port_; }

  // When the housekeeping thread last completed a round (once a second: it
  // expires snapshots and asks the engine for its error state, which takes
  // the engine's mutex). A heartbeat older than a few seconds means cairnd
  // is wedged; main() then stops petting the systemd watchdog.
  absl::Time LastHeartbeat() const {
    return absl::FromUnixNanos(heartbeat_unix_nanos_.load());
  }
  // True once the engine went read-only after a background error.
  bool EngineReadOnly() const;

 private:
  explicit Server(const ServerConfig& config);
  absl::Status Init();
  void Housekeeping();

  const ServerConfig config_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<storage::DB> db_;
  std::unique_ptr<ServiceEnv> env_;
  std::unique_ptr<KvService> kv_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<ConsumerRegistry> consumers_;
  std::unique_ptr<TailMetrics> tail_metrics_;
  std::unique_ptr<TailShared> tail_shared_;
  std::unique_ptr<ReplicationService> replication_;
  std::unique_ptr<ReplicaFollower> follower_;
  int replica_collector_ = -1;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<MetricsHttpServer> http_;
  int port_ = 0;

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> heartbeat_unix_nanos_{0};
  bool shut_down_ = false;
  absl::Notification stop_housekeeping_;
  std::thread housekeeping_;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_SERVER_H_
