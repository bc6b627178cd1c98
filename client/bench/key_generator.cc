#include "key_generator.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace cairn::bench {
namespace {

constexpr uint64_t kExactZetaTerms = uint64_t{1} << 20;

uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

double Zeta(uint64_t n, double theta) {
  const uint64_t m = std::min(n, kExactZetaTerms);
  double sum = 0;
  for (uint64_t i = 1; i <= m; ++i) {
    sum += std::pow(static_cast<double>(i), -theta);
  }
  if (n == m) return sum;
  // sum_{i=m+1..n} f(i) with f(x) = x^-theta, by Euler-Maclaurin:
  //   integral_m^n f + (f(n) - f(m)) / 2 + (f'(n) - f'(m)) / 12;
  // the next term is of the order of m^-(theta+3), negligible for m = 2^20.
  const double dm = static_cast<double>(m);
  const double dn = static_cast<double>(n);
  auto f = [theta](double x) { return std::pow(x, -theta); };
  auto df = [theta](double x) { return -theta * std::pow(x, -theta - 1); };
  const double integral =
      (std::pow(dn, 1 - theta) - std::pow(dm, 1 - theta)) / (1 - theta);
  return sum + integral + (f(dn) - f(dm)) / 2 + (df(dn) - df(dm)) / 12;
}

ZipfianGenerator::ZipfianGenerator(uint64_t n, double theta)
    : n_(n),
      theta_(theta),
      alpha_(1 / (1 - theta)),
      zeta_n_(Zeta(n, theta)),
      half_pow_theta_(std::pow(0.5, theta)) {
  const double zeta2 = 1 + half_pow_theta_;
  // For n <= 2, Rank() never reaches the formula that uses eta.
  eta_ = n > 2 ? (1 - std::pow(2.0 / static_cast<double>(n), 1 - theta)) /
                     (1 - zeta2 / zeta_n_)
               : 0;
}

uint64_t ZipfianGenerator::Rank(double u) const {
  const double uz = u * zeta_n_;
  if (uz < 1) return 0;
  if (uz < 1 + half_pow_theta_) return std::min<uint64_t>(1, n_ - 1);
  const double r =
      static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1, alpha_);
  return std::min(static_cast<uint64_t>(r), n_ - 1);
}

KeyPermutation::KeyPermutation(uint64_t n, uint64_t seed) : n_(n) {
  int bits = n <= 1 ? 0 : std::bit_width(n - 1);
  bits = std::max(2, bits + (bits & 1));
  half_bits_ = bits / 2;
  half_mask_ = (uint64_t{1} << half_bits_) - 1;  // half_bits_ <= 32
  uint64_t k = seed * 0x9e3779b97f4a7c15ull + 0x5c7a3b1e;
  for (uint64_t& rk : round_keys_) rk = k = Mix(k + 0x9e3779b97f4a7c15ull);
}

uint64_t KeyPermutation::Encrypt(uint64_t x) const {
  uint64_t left = x >> half_bits_;
  uint64_t right = x & half_mask_;
  for (uint64_t rk : round_keys_) {
    const uint64_t next = left ^ (Mix(right ^ rk) & half_mask_);
    left = right;
    right = next;
  }
  return (left << half_bits_) | right;
}

uint64_t KeyPermutation::Map(uint64_t x) const {
  // Cycle-walking: the Feistel network permutes [0, 2^bits); following x's
  // cycle until it re-enters [0, n) restricts it to a permutation of [0, n).
  do {
    x = Encrypt(x);
  } while (x >= n_);
  return x;
}

KeyGenerator KeyGenerator::Uniform(uint64_t keys) {
  return KeyGenerator(keys, std::nullopt, 0);
}

KeyGenerator KeyGenerator::Zipfian(uint64_t keys, double theta, uint64_t seed) {
  return KeyGenerator(keys, ZipfianGenerator(keys, theta), seed);
}

uint64_t KeyGenerator::Next(Random* rnd) const {
  if (!zipf_.has_value()) return rnd->Uniform(keys_);
  return scramble_.Map(zipf_->Rank(rnd->NextDouble()));
}

}  // namespace cairn::bench
