// Engine-side access to a WriteBatch's records without decoding their
// values: the memtable, flush and Tail take the stored value bytes as they
// are (merge_operand.h).
#ifndef CAIRN_STORAGE_WRITE_BATCH_INTERNAL_H_
#define CAIRN_STORAGE_WRITE_BATCH_INTERNAL_H_

#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "cairn/storage/write_batch.h"

namespace cairn::storage {

// Calls fn(type, key, value) for each record in order, where type is a
// ValueType (dbformat.h) and value is the stored entry value: the value of a
// Put, the expiry-prefixed value of a PutWithExpiry, the encoded operand of a
// Merge, empty for a Delete, and the end key of a DeleteRange (key is its
// begin). Stops at fn's first error; DataLoss if the encoding is malformed
// (a record is truncated, an expiring value is shorter than its expiry, an
// operand cannot be decoded, or the count is wrong).
absl::Status ForEachRecord(
    const WriteBatch& batch,
    absl::FunctionRef<absl::Status(uint8_t type, std::string_view key,
                                   std::string_view value)>
        fn);

// The same over an encoded batch (a WAL payload), read in place.
absl::Status ForEachPayloadRecord(
    std::string_view payload,
    absl::FunctionRef<absl::Status(uint8_t type, std::string_view key,
                                   std::string_view value)>
        fn);

// The header fields of an encoded batch; false if it is shorter than the
// header.
bool DecodeBatchHeader(std::string_view payload, uint32_t* count,
                       uint64_t* commit_micros);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_WRITE_BATCH_INTERNAL_H_
