// CRC32C, two ways:
//  - portable: slicing-by-8 tables;
//  - SSE4.2: the crc32 instruction has a latency of 3 cycles but a throughput
//    of one per cycle, so long inputs are cut into three interleaved streams
//    whose CRCs are then combined. Combining uses the linearity of CRCs:
//    crc(A || B) = crc(A) * x^(8|B|) mod P  xor  crc0(B), where crc0 starts
//    from a zero register. Multiplying by the fixed x^(8|B|) is done with four
//    256-entry tables, one per byte of the register.
#include "cairn/util/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace cairn::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78u;  // reflected Castagnoli polynomial

using Table = std::array<std::array<uint32_t, 256>, 8>;

constexpr Table MakeSlicingTable() {
  Table t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s)
      t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}

constexpr Table kTable = MakeSlicingTable();

// a * b mod P, with polynomials in reflected bit order (bit 31 is x^0).
constexpr uint32_t MultModP(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31;
  uint32_t p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

// x^(8n) mod P.
constexpr uint32_t XPow8N(uint64_t n) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t square = 1u << 23;  // x^8
  while (n != 0) {
    if (n & 1) result = MultModP(square, result);
    square = MultModP(square, square);
    n >>= 1;
  }
  return result;
}

using ShiftTable = std::array<std::array<uint32_t, 256>, 4>;

// Tables that multiply a CRC register by x^(8 * len) mod P, i.e. append len
// zero bytes to it.
constexpr ShiftTable MakeShiftTable(uint64_t len) {
  ShiftTable t{};
  const uint32_t factor = XPow8N(len);
  for (int byte = 0; byte < 4; ++byte) {
    for (uint32_t v = 0; v < 256; ++v) {
      t[byte][v] = MultModP(factor, v << (8 * byte));
    }
  }
  return t;
}

constexpr size_t kLongBlock = 4096;
constexpr size_t kShortBlock = 128;
constexpr ShiftTable kLongShift = MakeShiftTable(kLongBlock);
constexpr ShiftTable kShortShift = MakeShiftTable(kShortBlock);

inline uint32_t Shift(const ShiftTable& t, uint32_t crc) {
  return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^
         t[3][crc >> 24];
}

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

#if defined(__x86_64__)
// Consumes whole runs of 3 * block bytes as three interleaved streams.
__attribute__((target("sse4.2"))) uint64_t ThreeStreams(
    uint64_t c0, const char** data, size_t* size, size_t block,
    const ShiftTable& shift) {
  const char* p = *data;
  size_t n = *size;
  while (n >= 3 * block) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    const char* end = p + block;
    do {
      c0 = _mm_crc32_u64(c0, Load64(p));
      c1 = _mm_crc32_u64(c1, Load64(p + block));
      c2 = _mm_crc32_u64(c2, Load64(p + 2 * block));
      p += 8;
    } while (p < end);
    c0 = Shift(shift, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
    c0 = Shift(shift, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c2);
    p += 2 * block;
    n -= 3 * block;
  }
  *data = p;
  *size = n;
  return c0;
}

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t init,
                                                       const char* p,
                                                       size_t n) {
  // Unaligned 8-byte loads cost nothing extra on x86-64: no alignment prologue.
  uint64_t c0 = ~init;
  c0 = ThreeStreams(c0, &p, &n, kLongBlock, kLongShift);
  c0 = ThreeStreams(c0, &p, &n, kShortBlock, kShortShift);
  while (n >= 8) {
    c0 = _mm_crc32_u64(c0, Load64(p));
    p += 8;
    n -= 8;
  }
  uint32_t c = static_cast<uint32_t>(c0);
  if (n >= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    c = _mm_crc32_u32(c, v);
    p += 4;
    n -= 4;
  }
  while (n > 0) {
    c = _mm_crc32_u8(c, static_cast<uint8_t>(*p++));
    --n;
  }
  return ~c;
}

bool DetectSse42() { return __builtin_cpu_supports("sse4.2"); }
#else
bool DetectSse42() { return false; }
#endif

const bool kHaveSse42 = DetectSse42();

}  // namespace

uint32_t ExtendPortable(uint32_t init, const char* p, size_t n) {
  uint32_t c = ~init;
  while (n >= 8) {
    uint64_t v = Load64(p) ^ c;
    c = kTable[7][v & 0xff] ^ kTable[6][(v >> 8) & 0xff] ^
        kTable[5][(v >> 16) & 0xff] ^ kTable[4][(v >> 24) & 0xff] ^
        kTable[3][(v >> 32) & 0xff] ^ kTable[2][(v >> 40) & 0xff] ^
        kTable[1][(v >> 48) & 0xff] ^ kTable[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n > 0) {
    c = (c >> 8) ^ kTable[0][(c ^ static_cast<uint8_t>(*p++)) & 0xff];
    --n;
  }
  return ~c;
}

bool IsHardwareAccelerated() { return kHaveSse42; }

uint32_t Extend(uint32_t init, const char* data, size_t n) {
#if defined(__x86_64__)
  if (kHaveSse42) return ExtendSse42(init, data, n);
#endif
  return ExtendPortable(init, data, n);
}

}  // namespace cairn::crc32c
