#include "status_map.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "string_view_bridge.h"

namespace cairn::server {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status InvalidFieldStatus(std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(Sv(field), ": ", Sv(why)));
}

grpc::Status InvalidField(std::string_view field, std::string_view why) {
  return ToGrpc(InvalidFieldStatus(field, why));
}

}  // namespace cairn::server
