// AdminService: the cairn.v1.Admin gRPC service (callback API): flush,
// compaction, statistics, checkpoints and the snapshots clients hold for
// repeatable reads. Thread-safe.
#ifndef CAIRN_SERVER_ADMIN_SERVICE_H_
#define CAIRN_SERVER_ADMIN_SERVICE_H_

#include "absl/time/time.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "service_env.h"

namespace cairn::server {

class AdminService final : public v1::Admin::CallbackService {
 public:
  AdminService(ServiceEnv* env, absl::Time started)
      : env_(env), started_(started) {}

  grpc::ServerUnaryReactor* Flush(grpc::CallbackServerContext* context,
                                  const v1::FlushRequest* request,
                                  v1::FlushResponse* response) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* context,
                                    const v1::CompactRequest* request,
                                    v1::CompactResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;
  grpc::ServerUnaryReactor* Checkpoint(
      grpc::CallbackServerContext* context,
      const v1::CheckpointRequest* request,
      v1::CheckpointResponse* response) override;
  grpc::ServerUnaryReactor* AcquireSnapshot(
      grpc::CallbackServerContext* context,
      const v1::AcquireSnapshotRequest* request,
      v1::AcquireSnapshotResponse* response) override;
  grpc::ServerUnaryReactor* ReleaseSnapshot(
      grpc::CallbackServerContext* context,
      const v1::ReleaseSnapshotRequest* request,
      v1::ReleaseSnapshotResponse* response) override;

 private:
  ServiceEnv* const env_;
  const absl::Time started_;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_ADMIN_SERVICE_H_
