// CRC32C (Castagnoli polynomial, as in iSCSI/ext4/LevelDB). Uses the SSE4.2
// crc32 instruction when the CPU has it and a slicing-by-8 table otherwise;
// both give identical results. Stateless and thread-safe.
#ifndef CAIRN_UTIL_CRC32C_H_
#define CAIRN_UTIL_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cairn::crc32c {

// Returns the CRC32C of concat(A, data[0, n)) where init_crc is the CRC32C of
// some string A. Extend(0, data, n) is the CRC32C of data.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) {
  return Extend(0, s.data(), s.size());
}

// The portable implementation, exposed so tests can check that both paths
// agree on the same machine.
uint32_t ExtendPortable(uint32_t init_crc, const char* data, size_t n);
// True when Extend uses the hardware instruction.
bool IsHardwareAccelerated();

// A CRC stored next to data that itself contains CRCs is easy to confuse with
// them; stored CRCs are therefore masked (rotated and offset).
inline constexpr uint32_t kMaskDelta = 0xa282ead8u;
inline uint32_t Mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace cairn::crc32c

#endif  // CAIRN_UTIL_CRC32C_H_
