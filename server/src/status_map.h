// Translation of engine statuses (absl::Status) into gRPC statuses.
//
// absl and gRPC share their code numbering, so the code carries over; the
// message is kept (it names the key, the field or the limit). Engine-side
// codes meaning "the server cannot take writes right now" stay what they are:
// RESOURCE_EXHAUSTED for a stall past the deadline or a full disk,
// UNAVAILABLE for a closing engine, FAILED_PRECONDITION for the read-only
// error state after a background failure.
#ifndef CAIRN_SERVER_STATUS_MAP_H_
#define CAIRN_SERVER_STATUS_MAP_H_

#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace cairn::server {

grpc::Status ToGrpc(const absl::Status& status);

// INVALID_ARGUMENT "<field>: <why>" (the field path as the client spells it,
// e.g. "ops[3].put.key").
grpc::Status InvalidField(std::string_view field, std::string_view why);

// The absl equivalent, for validation helpers shared with the engine path.
absl::Status InvalidFieldStatus(std::string_view field, std::string_view why);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_STATUS_MAP_H_
