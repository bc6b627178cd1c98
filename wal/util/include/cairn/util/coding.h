// Little-endian fixed-width and varint encodings used by every on-disk format
// (docs/formats.md). Decoders never read past the input they are given and
// report malformed input by returning false. Stateless and thread-safe.
#ifndef CAIRN_UTIL_CODING_H_
#define CAIRN_UTIL_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace cairn {

// The project only targets little-endian machines (x86-64, aarch64), so a
// fixed-width value is its in-memory representation.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "Cairn's formats assume a little-endian host");

inline void EncodeFixed16(char* dst, uint16_t v) { std::memcpy(dst, &v, 2); }
inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, 4); }
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, 8); }

inline uint16_t DecodeFixed16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutVarint32(std::string* dst, uint32_t v);
void PutVarint64(std::string* dst, uint64_t v);
// Varint32 length followed by the bytes.
void PutLengthPrefixed(std::string* dst, std::string_view value);

// Writes v as a varint at dst (which has room for 10 bytes); returns the byte
// after the last one written.
char* EncodeVarint64(char* dst, uint64_t v);
// Number of bytes the varint encoding of v takes (1..10).
int VarintLength(uint64_t v);

// Each Get* consumes its value from the front of *input. On malformed or
// truncated input it returns false and leaves *input unspecified.
bool GetFixed32(std::string_view* input, uint32_t* v);
bool GetFixed64(std::string_view* input, uint64_t* v);
bool GetVarint32(std::string_view* input, uint32_t* v);
bool GetVarint64(std::string_view* input, uint64_t* v);
bool GetLengthPrefixed(std::string_view* input, std::string_view* value);

}  // namespace cairn

#endif  // CAIRN_UTIL_CODING_H_
