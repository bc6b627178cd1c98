// A cache-line-blocked bloom filter over user keys, one per SSTable (format
// in docs/formats.md, "Bloom filter").
//
// Each key is hashed once with XXH3_64bits. The high 32 bits pick one
// 64-byte line of the filter; the low 32 bits drive the probes (double
// hashing), all of which fall inside that line, so a lookup touches one cache
// line. A filter never answers "absent" for a key that was added.
//
// BloomFilterBuilder: one thread at a time. BloomFilterReader: immutable,
// safe to share between threads.
#ifndef CAIRN_STORAGE_BLOOM_H_
#define CAIRN_STORAGE_BLOOM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::storage {

// The hash every filter operation starts from.
uint64_t BloomHash(std::string_view user_key);

class BloomFilterBuilder {
 public:
  // bits_per_key >= 1.
  explicit BloomFilterBuilder(int bits_per_key);

  // Adds a key. A key equal to the previous one is counted once, so that the
  // versions of one user key cost one key's worth of bits.
  void AddKey(std::string_view user_key);
  size_t num_keys() const { return hashes_.size(); }
  // Returns the filter and empties the builder.
  std::string Finish();

  // Probes per key for a given density: about bits_per_key * ln 2.
  static int NumProbes(int bits_per_key);

 private:
  const int bits_per_key_;
  std::vector<uint64_t> hashes_;
};

class BloomFilterReader {
 public:
  // Parses filter bytes made by BloomFilterBuilder::Finish (copied into
  // cache-line-aligned memory). DataLoss if the layout does not add up.
  static absl::StatusOr<std::unique_ptr<const BloomFilterReader>> Parse(
      std::string_view filter);

  // False only if user_key was certainly not added.
  bool KeyMayMatch(std::string_view user_key) const {
    return HashMayMatch(BloomHash(user_key));
  }
  bool HashMayMatch(uint64_t hash) const;

  // Memory held.
  size_t size() const { return size_t{num_lines_} * kLineBytes; }
  int num_probes() const { return num_probes_; }

  static constexpr size_t kLineBytes = 64;

 private:
  struct AlignedDelete {
    void operator()(char* p) const {
      ::operator delete[](p, std::align_val_t{kLineBytes});
    }
  };
  BloomFilterReader() = default;

  std::unique_ptr<char[], AlignedDelete> bits_;
  uint32_t num_lines_ = 0;
  int num_probes_ = 0;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_BLOOM_H_
