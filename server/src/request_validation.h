// RequestValidator: checks client input against the server's limits and
// translates it into engine calls' arguments. Every error is
// INVALID_ARGUMENT naming the field as the client spells it
// ("ops[2].put.key: empty"), and nothing is written when one is returned.
//
// Thread-safe (immutable).
#ifndef CAIRN_SERVER_REQUEST_VALIDATION_H_
#define CAIRN_SERVER_REQUEST_VALIDATION_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/storage/options.h"
#include "cairn/storage/write_batch.h"
#include "cairn/v1/kv.pb.h"
#include "config.h"

namespace cairn::server {

// The key range of a scan, as iterator bounds.
struct ScanBounds {
  std::optional<std::string> lower;  // inclusive
  std::optional<std::string> upper;  // exclusive
  std::optional<std::string> prefix;
};

class RequestValidator {
 public:
  RequestValidator(const Limits& limits, bool default_sync)
      : limits_(limits), default_sync_(default_sync) {}

  const Limits& limits() const { return limits_; }

  absl::Status Key(std::string_view field, const std::string& key) const;
  absl::Status Value(std::string_view field, const std::string& value) const;

  // The sync flag for a request's durability; unknown enum values refused.
  absl::StatusOr<bool> Sync(std::string_view field, int durability) const;

  // Expiry (absolute micros, 0 = none) from ttl_millis and
  // expires_at_unix_micros; at most one may be set.
  absl::StatusOr<uint64_t> Expiry(std::string_view field, uint64_t ttl_millis,
                                  uint64_t expires_at_unix_micros) const;

  // A merge's operator and operand, checked against the built-in operators.
  absl::Status Merge(std::string_view field, const std::string& op,
                     const std::string& operand,
                     const std::string& argument) const;

  // Appends one op of a Batch to `batch` after checking it.
  absl::Status AddPut(std::string_view field, const v1::PutOp& op,
                      storage::WriteBatch* batch) const;
  absl::Status AddOp(std::string_view field, const v1::BatchOp& op,
                     storage::WriteBatch* batch) const;
  absl::Status AddCondition(std::string_view field, const v1::Condition& c,
                            storage::WriteBatch* batch) const;
  // A whole Batch request: counts, bytes, conditions, ops.
  absl::Status BuildBatch(const v1::BatchRequest& request,
                          storage::WriteBatch* batch) const;

  // [start, end) or prefix, never both; start < end when both are set.
  absl::StatusOr<ScanBounds> Range(std::string_view field,
                                   const std::string& start,
                                   const std::string& end,
                                   const std::string& prefix) const;

 private:
  const Limits limits_;
  const bool default_sync_;
};

// "field.sub" / "field[3]" helpers for nested field names.
std::string SubField(std::string_view parent, std::string_view child);
std::string IndexField(std::string_view parent, size_t index);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_REQUEST_VALIDATION_H_
