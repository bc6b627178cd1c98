#include "bloom.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "cairn/util/coding.h"

namespace cairn::storage {
namespace {

constexpr uint32_t kLineBits = BloomFilterReader::kLineBytes * 8;
constexpr int kMaxProbes = 30;
// Trailer after the lines: num_probes (1 byte), num_lines (fixed32).
constexpr size_t kTrailerSize = 5;

// Maps a 32-bit hash uniformly onto [0, n) without a division.
inline uint32_t FastRange32(uint32_t hash, uint32_t n) {
  return static_cast<uint32_t>((uint64_t{hash} * n) >> 32);
}

// Calls fn(bit index within the line) for each probe of hash.
template <typename Fn>
inline bool ForEachProbe(uint64_t hash, int num_probes, Fn fn) {
  uint32_t h = static_cast<uint32_t>(hash);
  const uint32_t delta = (h >> 17) | (h << 15);
  for (int i = 0; i < num_probes; ++i) {
    if (!fn(h >> 23)) return false;  // top 9 bits: a bit of the 512
    h += delta;
  }
  return true;
}

}  // namespace

uint64_t BloomHash(std::string_view user_key) {
  return XXH3_64bits(user_key.data(), user_key.size());
}

int BloomFilterBuilder::NumProbes(int bits_per_key) {
  return std::clamp(static_cast<int>(bits_per_key * 0.69), 1, kMaxProbes);
}

BloomFilterBuilder::BloomFilterBuilder(int bits_per_key)
    : bits_per_key_(std::max(bits_per_key, 1)) {}

void BloomFilterBuilder::AddKey(std::string_view user_key) {
  // Equal keys hash equally; two different keys with one hash set the same
  // bits anyway, so comparing hashes is enough to de-duplicate.
  const uint64_t h = BloomHash(user_key);
  if (hashes_.empty() || hashes_.back() != h) hashes_.push_back(h);
}

std::string BloomFilterBuilder::Finish() {
  const uint64_t total_bits = uint64_t{hashes_.size()} * bits_per_key_;
  const uint32_t num_lines = static_cast<uint32_t>(
      std::max<uint64_t>(1, (total_bits + kLineBits - 1) / kLineBits));
  const int num_probes = NumProbes(bits_per_key_);

  std::string filter(
      size_t{num_lines} * BloomFilterReader::kLineBytes + kTrailerSize, '\0');
  char* bits = filter.data();
  for (uint64_t h : hashes_) {
    char* line =
        bits + size_t{FastRange32(static_cast<uint32_t>(h >> 32), num_lines)} *
                   BloomFilterReader::kLineBytes;
    ForEachProbe(h, num_probes, [line](uint32_t bit) {
      line[bit >> 3] |= static_cast<char>(1 << (bit & 7));
      return true;
    });
  }
  char* trailer = bits + size_t{num_lines} * BloomFilterReader::kLineBytes;
  trailer[0] = static_cast<char>(num_probes);
  EncodeFixed32(trailer + 1, num_lines);
  hashes_.clear();
  return filter;
}

absl::StatusOr<std::unique_ptr<const BloomFilterReader>>
BloomFilterReader::Parse(std::string_view filter) {
  if (filter.size() < kTrailerSize) {
    return absl::DataLossError("bloom filter: too short");
  }
  const char* trailer = filter.data() + filter.size() - kTrailerSize;
  const int num_probes = static_cast<uint8_t>(trailer[0]);
  const uint32_t num_lines = DecodeFixed32(trailer + 1);
  if (num_probes < 1 || num_probes > kMaxProbes || num_lines == 0 ||
      uint64_t{num_lines} * kLineBytes != filter.size() - kTrailerSize) {
    return absl::DataLossError("bloom filter: malformed trailer");
  }
  auto reader = std::unique_ptr<BloomFilterReader>(new BloomFilterReader());
  const size_t n = size_t{num_lines} * kLineBytes;
  reader->bits_.reset(
      static_cast<char*>(::operator new[](n, std::align_val_t{kLineBytes})));
  std::memcpy(reader->bits_.get(), filter.data(), n);
  reader->num_lines_ = num_lines;
  reader->num_probes_ = num_probes;
  return std::unique_ptr<const BloomFilterReader>(std::move(reader));
}

bool BloomFilterReader::HashMayMatch(uint64_t hash) const {
  const char* line =
      bits_.get() +
      size_t{FastRange32(static_cast<uint32_t>(hash >> 32), num_lines_)} *
          kLineBytes;
  return ForEachProbe(hash, num_probes_, [line](uint32_t bit) {
    return (line[bit >> 3] & (1 << (bit & 7))) != 0;
  });
}

}  // namespace cairn::storage
