// Conversions between the client library's plain types (types.h, batch.h,
// tail_consumer.h) and the generated cairn.v1 messages.
#ifndef CAIRN_CLIENT_SRC_PROTO_CONVERT_H_
#define CAIRN_CLIENT_SRC_PROTO_CONVERT_H_

#include <string>

#include "absl/time/time.h"
#include "cairn/client/batch.h"
#include "cairn/client/tail_consumer.h"
#include "cairn/client/types.h"
#include "cairn/v1/kv.pb.h"
#include "cairn/v1/replication.pb.h"

namespace cairn::client {

KeyValue FromProto(const cairn::v1::KeyValue& kv);
GetResult FromProto(const cairn::v1::GetResponse& r);
ChangeEvent FromProto(const cairn::v1::ChangeEvent& e);

// Fills a PutOp (ttl as whole milliseconds, rounded up so that a TTL never
// becomes "none"; an absolute expiry as microseconds).
void FillPut(const std::string& key, const std::string& value,
             absl::Duration ttl, absl::Time expires_at, cairn::v1::PutOp* op);
void FillMerge(const std::string& key, const std::string& merge_operator,
               const std::string& operand, const std::string& argument,
               cairn::v1::MergeOp* op);
void ToProto(const Batch& batch, cairn::v1::BatchRequest* request);
cairn::v1::ChangeOp ToProto(ChangeOp op);

uint64_t TtlMillis(absl::Duration ttl);
uint64_t ExpiryMicros(absl::Time expires_at);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SRC_PROTO_CONVERT_H_
