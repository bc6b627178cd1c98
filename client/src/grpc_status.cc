#include "grpc_status.h"

#include <string>

#include "absl/strings/cord.h"
#include "cairn/client/tail_consumer.h"
#include "cairn/v1/replication.pb.h"
#include "google/rpc/status.pb.h"

namespace cairn::client {

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  if (status.error_code() == grpc::StatusCode::OUT_OF_RANGE &&
      !status.error_details().empty()) {
    google::rpc::Status details;
    if (details.ParseFromString(status.error_details())) {
      for (const google::protobuf::Any& any : details.details()) {
        if (any.type_url() == kTailOutOfRangeUrl) {
          out.SetPayload(kTailOutOfRangeUrl, absl::Cord(any.value()));
        }
      }
    }
  }
  return out;
}

std::optional<uint64_t> TailEarliestSeq(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kOutOfRange) return std::nullopt;
  auto payload = status.GetPayload(kTailOutOfRangeUrl);
  if (!payload.has_value()) return std::nullopt;
  cairn::v1::TailOutOfRange detail;
  if (!detail.ParseFromString(std::string(*payload))) return std::nullopt;
  return detail.earliest_seq();
}

}  // namespace cairn::client
