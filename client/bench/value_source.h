// ValueSource: the values a benchmark writes. Each is a value_bytes-long
// slice, at a random offset, of a 1 MiB buffer of random bytes: values
// differ from one another and do not compress, without generating fresh
// bytes per request.
//
// Thread-safety: immutable after construction; Pick() takes the caller's
// Random.
#ifndef CAIRN_CLIENT_BENCH_VALUE_SOURCE_H_
#define CAIRN_CLIENT_BENCH_VALUE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench_util.h"

namespace cairn::bench {

class ValueSource {
 public:
  ValueSource(size_t value_bytes, uint64_t seed) : bytes_(value_bytes) {
    Random rnd(seed ^ 0x5eed);
    buffer_.resize(kBufferBytes + value_bytes);
    for (char& c : buffer_) c = static_cast<char>(rnd.Next());
  }

  std::string_view Pick(Random* rnd) const {
    return std::string_view(buffer_).substr(rnd->Uniform(kBufferBytes), bytes_);
  }

  // Sets *value to a fresh pick, reusing its capacity.
  void Fill(Random* rnd, std::string* value) const {
    std::string_view v = Pick(rnd);
    value->assign(v.data(), v.size());
  }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;
  size_t bytes_;
  std::string buffer_;
};

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_VALUE_SOURCE_H_
