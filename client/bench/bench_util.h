// What cairn's benchmark programs share: a cheap random number generator and
// db_bench's key encoding, so that `cairn bench` (over gRPC) and
// tests/bench's cairn-dbbench (the engine in process) write the same keys.
// Header-only and free of gRPC, so that benchmarks built without the server
// can include it too.
#ifndef CAIRN_CLIENT_BENCH_BENCH_UTIL_H_
#define CAIRN_CLIENT_BENCH_BENCH_UTIL_H_

#include <cstdint>
#include <cstring>
#include <string>

namespace cairn::bench {

// splitmix64: cheap, good enough to pick uniform key numbers. Not
// thread-safe: one per thread (or per in-flight request).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // Uniform in [0, 1), with 53 random bits.
  double NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// db_bench's GenerateKeyFromInt for key->size() >= 8: the number big-endian
// in the first 8 bytes, the rest '0', so numbers sort in key order.
inline void EncodeKey(uint64_t n, std::string* key) {
  char* p = key->data();
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(n >> (56 - 8 * i));
  std::memset(p + 8, '0', key->size() - 8);
}

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_BENCH_UTIL_H_
