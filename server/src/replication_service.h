// ReplicationService: the cairn.v1.Replication gRPC service (callback API):
// Tail streams (tail_reactor.h) and the named consumers' Ack, ListConsumers
// and DropConsumer (consumer_registry.h). Thread-safe.
#ifndef CAIRN_SERVER_REPLICATION_SERVICE_H_
#define CAIRN_SERVER_REPLICATION_SERVICE_H_

#include "cairn/v1/replication.grpc.pb.h"
#include "tail_reactor.h"

namespace cairn::server {

class ReplicationService final : public v1::Replication::CallbackService {
 public:
  // `shared` must outlive the service and every stream it started.
  explicit ReplicationService(const TailShared* shared) : shared_(shared) {}

  grpc::ServerWriteReactor<v1::TailResponse>* Tail(
      grpc::CallbackServerContext* context,
      const v1::TailRequest* request) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* context,
                                const v1::AckRequest* request,
                                v1::AckResponse* response) override;
  grpc::ServerUnaryReactor* ListConsumers(
      grpc::CallbackServerContext* context,
      const v1::ListConsumersRequest* request,
      v1::ListConsumersResponse* response) override;
  grpc::ServerUnaryReactor* DropConsumer(
      grpc::CallbackServerContext* context,
      const v1::DropConsumerRequest* request,
      v1::DropConsumerResponse* response) override;

 private:
  const TailShared* const shared_;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_REPLICATION_SERVICE_H_
