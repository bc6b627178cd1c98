// How merge operands and expiring values are stored (docs/formats.md, "Entry
// values"). A merge entry's value names its operator:
//   varint32 name_len, name, varint32 arg_len, argument, operand (the rest)
// and a value with an expiry (kTypeValueWithExpiry) is
//   fixed64 expires_at (microseconds since the Unix epoch), value (the rest).
// The same bytes are the value of the record in a write batch, in the
// memtable and in SSTables, so no layer re-encodes them.
#ifndef CAIRN_STORAGE_MERGE_OPERAND_H_
#define CAIRN_STORAGE_MERGE_OPERAND_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::storage {

struct MergeOperand {
  std::string_view op;
  std::string_view argument;
  std::string_view operand;
};

void EncodeMergeOperand(std::string* dst, std::string_view op,
                        std::string_view argument, std::string_view operand);
// False if the encoding is malformed.
bool DecodeMergeOperand(std::string_view encoded, MergeOperand* out);

inline constexpr size_t kExpirySize = 8;

void EncodeValueWithExpiry(std::string* dst, std::string_view value,
                           uint64_t expires_at_micros);
// False if the encoding is shorter than its expiry.
bool DecodeValueWithExpiry(std::string_view encoded, std::string_view* value,
                           uint64_t* expires_at_micros);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_MERGE_OPERAND_H_
