// A gRPC server interceptor that logs one line per finished RPC (method,
// status code, latency, peer) at debug level; enabled by --log_requests.
#ifndef CAIRN_SERVER_REQUEST_LOG_H_
#define CAIRN_SERVER_REQUEST_LOG_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace cairn::server {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRequestLogInterceptorFactory();

}  // namespace cairn::server

#endif  // CAIRN_SERVER_REQUEST_LOG_H_
