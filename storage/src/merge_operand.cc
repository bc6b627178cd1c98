#include "merge_operand.h"

#include "cairn/util/coding.h"

namespace cairn::storage {

void EncodeMergeOperand(std::string* dst, std::string_view op,
                        std::string_view argument, std::string_view operand) {
  PutLengthPrefixed(dst, op);
  PutLengthPrefixed(dst, argument);
  dst->append(operand.data(), operand.size());
}

bool DecodeMergeOperand(std::string_view encoded, MergeOperand* out) {
  if (!GetLengthPrefixed(&encoded, &out->op) ||
      !GetLengthPrefixed(&encoded, &out->argument)) {
    return false;
  }
  out->operand = encoded;
  return true;
}

void EncodeValueWithExpiry(std::string* dst, std::string_view value,
                           uint64_t expires_at_micros) {
  PutFixed64(dst, expires_at_micros);
  dst->append(value.data(), value.size());
}

bool DecodeValueWithExpiry(std::string_view encoded, std::string_view* value,
                           uint64_t* expires_at_micros) {
  if (encoded.size() < kExpirySize) return false;
  *expires_at_micros = DecodeFixed64(encoded.data());
  *value = encoded.substr(kExpirySize);
  return true;
}

}  // namespace cairn::storage
