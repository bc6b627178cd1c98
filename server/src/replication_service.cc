#include "replication_service.h"

#include "absl/time/clock.h"
#include "status_map.h"

namespace cairn::server {

grpc::ServerWriteReactor<v1::TailResponse>* ReplicationService::Tail(
    grpc::CallbackServerContext* context, const v1::TailRequest* request) {
  return TailReactor::Start(shared_, context, request);
}

grpc::ServerUnaryReactor* ReplicationService::Ack(
    grpc::CallbackServerContext* context, const v1::AckRequest* request,
    v1::AckResponse* /*response*/) {
  // The registry syncs a file: off gRPC's threads.
  ConsumerRegistry* consumers = shared_->consumers;
  return RunUnaryBlocking(shared_->env, context, Role::kRead,
                          [consumers, name = request->consumer(),
                           seq = request->seq()]() -> grpc::Status {
                            absl::Status s = ConsumerRegistry::ValidateName(
                                "consumer", name);
                            if (s.ok()) s = consumers->Ack(name, seq);
                            return ToGrpc(s);
                          });
}

grpc::ServerUnaryReactor* ReplicationService::ListConsumers(
    grpc::CallbackServerContext* context,
    const v1::ListConsumersRequest* /*request*/,
    v1::ListConsumersResponse* response) {
  return RunUnary(shared_->env, context, Role::kRead, [&]() -> grpc::Status {
    const absl::Time now = absl::Now();
    for (const ConsumerState& c : shared_->consumers->List()) {
      const ConsumerLag lag = ComputeLag(shared_->env->db(), c, now);
      v1::ConsumerInfo* info = response->add_consumers();
      info->set_name(c.name);
      info->set_acked_seq(c.acked_seq);
      info->set_lag_seqs(lag.sequences);
      info->set_lag_seconds(lag.seconds);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* ReplicationService::DropConsumer(
    grpc::CallbackServerContext* context,
    const v1::DropConsumerRequest* request,
    v1::DropConsumerResponse* /*response*/) {
  ConsumerRegistry* consumers = shared_->consumers;
  return RunUnaryBlocking(
      shared_->env, context, Role::kAdmin,
      [consumers, name = request->consumer()]() -> grpc::Status {
        absl::Status s = ConsumerRegistry::ValidateName("consumer", name);
        if (s.ok()) s = consumers->Drop(name);
        return ToGrpc(s);
      });
}

}  // namespace cairn::server
