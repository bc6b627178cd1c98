// Connection: what a Client and the stream objects it creates share: the
// channel, one stub per service and the CallRunner. Held by shared_ptr so a
// Scanner, Transaction or TailConsumer may outlive its Client.
//
// Thread-safe (gRPC stubs and CallRunner are).
#ifndef CAIRN_CLIENT_SRC_CONNECTION_H_
#define CAIRN_CLIENT_SRC_CONNECTION_H_

#include <memory>

#include "cairn/client/options.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "call.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"

namespace cairn::client {

struct Connection {
  Connection(const ClientOptions& options,
             std::shared_ptr<grpc::Channel> channel)
      : runner(options),
        channel(channel),
        kv(cairn::v1::KV::NewStub(channel)),
        replication(cairn::v1::Replication::NewStub(channel)),
        admin(cairn::v1::Admin::NewStub(channel)),
        health(grpc::health::v1::Health::NewStub(channel)) {}

  CallRunner runner;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<cairn::v1::KV::Stub> kv;
  std::unique_ptr<cairn::v1::Replication::Stub> replication;
  std::unique_ptr<cairn::v1::Admin::Stub> admin;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SRC_CONNECTION_H_
