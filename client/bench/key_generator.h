// Choosing which key each benchmark request touches.
//
// KeyGenerator draws key numbers from [0, keys) either uniformly or with a
// Zipfian skew. The Zipfian one is the standard generator of Gray et al.,
// "Quickly Generating Billion-Record Synthetic Databases" (SIGMOD 1994), as
// YCSB uses it: rank r (0 = hottest) comes up with probability proportional
// to 1 / (r + 1)^theta (exactly so for ranks 0 and 1; the method
// approximates the rest closely). Like YCSB's "scrambled" Zipfian, ranks
// are then spread over the key space so that the hot keys are not all
// neighbours (which would put them all in one block and one memtable
// region); unlike YCSB's hash-and-modulo, the scrambling is a bijection
// (KeyPermutation), so every rank keeps its own key and the skew is exactly
// the Zipfian one.
//
// Thread-safety: all three classes are immutable after construction; Next()
// and Map() are const and take the caller's Random, so one generator serves
// every thread.
#ifndef CAIRN_CLIENT_BENCH_KEY_GENERATOR_H_
#define CAIRN_CLIENT_BENCH_KEY_GENERATOR_H_

#include <cstdint>
#include <optional>

#include "bench_util.h"

namespace cairn::bench {

// zeta(n, theta) = sum_{i=1..n} 1 / i^theta: exact for the first 2^20 terms,
// Euler-Maclaurin for the rest (relative error far below 1e-12), so that a
// key space of billions costs milliseconds, not minutes.
double Zeta(uint64_t n, double theta);

// Ranks in [0, n) with the Zipfian distribution of parameter theta in
// (0, 1) (0.99 is YCSB's default: about 1/zeta(n) of all draws go to rank
// 0, e.g. 12.9% for n = 1000, 6.5% for n = 10^6).
class ZipfianGenerator {
 public:
  ZipfianGenerator(uint64_t n, double theta);
  // u: uniform in [0, 1).
  uint64_t Rank(double u) const;
  double zeta() const { return zeta_n_; }

 private:
  uint64_t n_;
  double theta_;
  double alpha_;
  double zeta_n_;
  double eta_;
  double half_pow_theta_;  // 0.5^theta: where rank 1's share ends
};

// A fixed pseudo-random bijection of [0, n): a 4-round Feistel network over
// the smallest even number of bits covering n, cycle-walking values that
// fall outside [0, n) (fewer than 4 steps on average).
class KeyPermutation {
 public:
  KeyPermutation(uint64_t n, uint64_t seed);
  uint64_t Map(uint64_t x) const;  // x < n

 private:
  uint64_t Encrypt(uint64_t x) const;

  uint64_t n_;
  int half_bits_;
  uint64_t half_mask_;
  uint64_t round_keys_[4];
};

class KeyGenerator {
 public:
  static KeyGenerator Uniform(uint64_t keys);
  // theta in (0, 1); `seed` picks the scrambling (which keys are hot).
  static KeyGenerator Zipfian(uint64_t keys, double theta, uint64_t seed);

  // A key number in [0, keys).
  uint64_t Next(Random* rnd) const;
  uint64_t keys() const { return keys_; }

 private:
  KeyGenerator(uint64_t keys, std::optional<ZipfianGenerator> zipf,
               uint64_t seed)
      : keys_(keys), zipf_(zipf), scramble_(keys, seed) {}

  uint64_t keys_;
  std::optional<ZipfianGenerator> zipf_;
  KeyPermutation scramble_;
};

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_KEY_GENERATOR_H_
