#include "cairn/util/coding.h"

namespace cairn {

void PutFixed32(std::string* dst, uint32_t v) {
  char buf[4];
  EncodeFixed32(buf, v);
  dst->append(buf, 4);
}

void PutFixed64(std::string* dst, uint64_t v) {
  char buf[8];
  EncodeFixed64(buf, v);
  dst->append(buf, 8);
}

char* EncodeVarint64(char* dst, uint64_t v) {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return reinterpret_cast<char*>(p);
}

void PutVarint32(std::string* dst, uint32_t v) { PutVarint64(dst, v); }

void PutVarint64(std::string* dst, uint64_t v) {
  char buf[10];
  char* end = EncodeVarint64(buf, v);
  dst->append(buf, end - buf);
}

void PutLengthPrefixed(std::string* dst, std::string_view value) {
  PutVarint32(dst, static_cast<uint32_t>(value.size()));
  dst->append(value.data(), value.size());
}

int VarintLength(uint64_t v) {
  int len = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++len;
  }
  return len;
}

bool GetFixed32(std::string_view* input, uint32_t* v) {
  if (input->size() < 4) return false;
  *v = DecodeFixed32(input->data());
  input->remove_prefix(4);
  return true;
}

bool GetFixed64(std::string_view* input, uint64_t* v) {
  if (input->size() < 8) return false;
  *v = DecodeFixed64(input->data());
  input->remove_prefix(8);
  return true;
}

namespace {

// Decodes a varint of at most max_bytes bytes whose value fits in
// max_bits bits.
bool GetVarint(std::string_view* input, int max_bytes, int max_bits,
               uint64_t* v) {
  uint64_t result = 0;
  for (int i = 0; i < max_bytes && i < static_cast<int>(input->size()); ++i) {
    uint64_t byte = static_cast<unsigned char>((*input)[i]);
    int shift = 7 * i;
    uint64_t bits = byte & 0x7f;
    // Reject bits that would fall off the top of the value.
    if (shift + 7 > max_bits && (bits >> (max_bits - shift)) != 0) return false;
    result |= bits << shift;
    if ((byte & 0x80) == 0) {
      input->remove_prefix(i + 1);
      *v = result;
      return true;
    }
  }
  return false;
}

}  // namespace

bool GetVarint32(std::string_view* input, uint32_t* v) {
  uint64_t wide;
  if (!GetVarint(input, 5, 32, &wide)) return false;
  *v = static_cast<uint32_t>(wide);
  return true;
}

bool GetVarint64(std::string_view* input, uint64_t* v) {
  return GetVarint(input, 10, 64, v);
}

bool GetLengthPrefixed(std::string_view* input, std::string_view* value) {
  uint32_t len;
  if (!GetVarint32(input, &len) || input->size() < len) return false;
  *value = input->substr(0, len);
  input->remove_prefix(len);
  return true;
}

}  // namespace cairn
