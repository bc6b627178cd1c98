// Conversions between gRPC statuses and absl::Status for the client library.
// The code and message pass through unchanged (both use the canonical code
// numbering). A cairn.v1.TailOutOfRange detail in the status's
// google.rpc.Status details becomes an absl payload under kTailOutOfRangeUrl
// (read back by TailEarliestSeq).
#ifndef CAIRN_CLIENT_SRC_GRPC_STATUS_H_
#define CAIRN_CLIENT_SRC_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace cairn::client {

inline constexpr char kTailOutOfRangeUrl[] =
    "type.googleapis.com/cairn.v1.TailOutOfRange";

absl::Status FromGrpc(const grpc::Status& status);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SRC_GRPC_STATUS_H_
