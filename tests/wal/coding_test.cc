#include "cairn/util/coding.h"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace cairn {
namespace {

TEST(CodingTest, Fixed32RoundTrips) {
  std::string s;
  for (uint32_t v = 0; v < 100000; ++v) PutFixed32(&s, v);
  ASSERT_EQ(s.size(), 4u * 100000);
  std::string_view in(s);
  for (uint32_t v = 0; v < 100000; ++v) {
    uint32_t got;
    ASSERT_TRUE(GetFixed32(&in, &got));
    ASSERT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, Fixed64RoundTrips) {
  std::string s;
  std::vector<uint64_t> values;
  for (int power = 0; power <= 63; ++power) {
    const uint64_t v = uint64_t{1} << power;
    values.insert(values.end(), {v - 1, v, v + 1});
  }
  for (uint64_t v : values) PutFixed64(&s, v);
  std::string_view in(s);
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(GetFixed64(&in, &got));
    ASSERT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, FixedIsLittleEndian) {
  std::string s;
  PutFixed32(&s, 0x04030201u);
  PutFixed64(&s, 0x0c0b0a0908070605ull);
  EXPECT_EQ(s, std::string_view("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
                                "\x0b\x0c",
                                12));
  char buf[2];
  EncodeFixed16(buf, 0xbeef);
  EXPECT_EQ(DecodeFixed16(buf), 0xbeef);
}

TEST(CodingTest, FixedRejectsShortInput) {
  std::string_view three("abc");
  uint32_t v32;
  EXPECT_FALSE(GetFixed32(&three, &v32));
  std::string_view seven("abcdefg");
  uint64_t v64;
  EXPECT_FALSE(GetFixed64(&seven, &v64));
}

TEST(CodingTest, Varint32RoundTripsAcrossAllBitWidths) {
  std::vector<uint32_t> values = {0, std::numeric_limits<uint32_t>::max()};
  for (int bits = 1; bits <= 32; ++bits) {
    const uint32_t top = bits == 32 ? 0xffffffffu : (1u << bits) - 1;
    const uint32_t low = 1u << (bits - 1);
    values.insert(values.end(), {top, low, low + 1, top - 1});
  }
  std::string s;
  for (uint32_t v : values) PutVarint32(&s, v);
  std::string_view in(s);
  for (uint32_t v : values) {
    const size_t before = in.size();
    uint32_t got;
    ASSERT_TRUE(GetVarint32(&in, &got)) << v;
    ASSERT_EQ(got, v);
    ASSERT_EQ(before - in.size(), static_cast<size_t>(VarintLength(v))) << v;
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, Varint64RoundTripsAcrossAllBitWidths) {
  std::vector<uint64_t> values = {0, 100, std::numeric_limits<uint64_t>::max(),
                                  std::numeric_limits<uint64_t>::max() - 1};
  for (int bits = 1; bits <= 64; ++bits) {
    const uint64_t low = uint64_t{1} << (bits - 1);
    const uint64_t top = low | (low - 1);
    values.insert(values.end(), {top, low, low + 1, top - 1});
  }
  std::string s;
  for (uint64_t v : values) PutVarint64(&s, v);
  std::string_view in(s);
  for (uint64_t v : values) {
    const size_t before = in.size();
    uint64_t got;
    ASSERT_TRUE(GetVarint64(&in, &got)) << v;
    ASSERT_EQ(got, v);
    ASSERT_EQ(before - in.size(), static_cast<size_t>(VarintLength(v))) << v;
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, EncodeVarint64MatchesPutVarint64) {
  for (uint64_t v : {uint64_t{0}, uint64_t{127}, uint64_t{128},
                     uint64_t{1} << 35, ~uint64_t{0}}) {
    char buf[10];
    char* end = EncodeVarint64(buf, v);
    std::string put;
    PutVarint64(&put, v);
    EXPECT_EQ(std::string_view(buf, end - buf), put);
  }
}

TEST(CodingTest, VarintLength) {
  EXPECT_EQ(VarintLength(0), 1);
  EXPECT_EQ(VarintLength(127), 1);
  EXPECT_EQ(VarintLength(128), 2);
  EXPECT_EQ(VarintLength((1 << 14) - 1), 2);
  EXPECT_EQ(VarintLength(1 << 14), 3);
  EXPECT_EQ(VarintLength(std::numeric_limits<uint32_t>::max()), 5);
  EXPECT_EQ(VarintLength(uint64_t{1} << 63), 10);
  EXPECT_EQ(VarintLength(std::numeric_limits<uint64_t>::max()), 10);
  for (int bits = 1; bits <= 64; ++bits) {
    const uint64_t v = uint64_t{1} << (bits - 1);
    EXPECT_EQ(VarintLength(v), (bits + 6) / 7) << bits;
  }
}

TEST(CodingTest, TruncatedVarintsAreRejected) {
  std::string s;
  PutVarint32(&s, std::numeric_limits<uint32_t>::max());
  for (size_t len = 0; len < s.size(); ++len) {
    std::string_view in(s.data(), len);
    uint32_t v;
    EXPECT_FALSE(GetVarint32(&in, &v)) << len;
  }
  std::string s64;
  PutVarint64(&s64, std::numeric_limits<uint64_t>::max());
  for (size_t len = 0; len < s64.size(); ++len) {
    std::string_view in(s64.data(), len);
    uint64_t v;
    EXPECT_FALSE(GetVarint64(&in, &v)) << len;
  }
}

TEST(CodingTest, OverlongVarint32IsRejected) {
  uint32_t v;
  // Six bytes: more than a 32-bit value can need.
  std::string_view six("\x81\x82\x83\x84\x85\x06", 6);
  EXPECT_FALSE(GetVarint32(&six, &v));
  // Five bytes whose value needs more than 32 bits.
  std::string_view too_big("\xff\xff\xff\xff\x1f", 5);
  EXPECT_FALSE(GetVarint32(&too_big, &v));
  // The largest five-byte value that fits is accepted.
  std::string_view max("\xff\xff\xff\xff\x0f", 5);
  ASSERT_TRUE(GetVarint32(&max, &v));
  EXPECT_EQ(v, std::numeric_limits<uint32_t>::max());
}

TEST(CodingTest, OverlongVarint64IsRejected) {
  uint64_t v;
  std::string eleven(10, '\xff');
  eleven.push_back('\x01');
  std::string_view in(eleven);
  EXPECT_FALSE(GetVarint64(&in, &v));
  // Ten bytes whose value needs 65 bits.
  std::string too_big(9, '\xff');
  too_big.push_back('\x02');
  in = too_big;
  EXPECT_FALSE(GetVarint64(&in, &v));
  std::string max(9, '\xff');
  max.push_back('\x01');
  in = max;
  ASSERT_TRUE(GetVarint64(&in, &v));
  EXPECT_EQ(v, std::numeric_limits<uint64_t>::max());
}

TEST(CodingTest, VarintDecodeStopsAtItsEnd) {
  std::string s;
  PutVarint32(&s, 300);
  s.append("rest");
  std::string_view in(s);
  uint32_t v;
  ASSERT_TRUE(GetVarint32(&in, &v));
  EXPECT_EQ(v, 300u);
  EXPECT_EQ(in, "rest");
}

TEST(CodingTest, LengthPrefixedRoundTrips) {
  const std::vector<std::string> values = {"",
                                           "foo",
                                           "bar",
                                           std::string(200, 'x'),
                                           std::string(70000, 'y'),
                                           std::string("\0\x01", 2)};
  std::string s;
  for (const std::string& value : values) PutLengthPrefixed(&s, value);
  std::string_view in(s);
  for (const std::string& value : values) {
    std::string_view got;
    ASSERT_TRUE(GetLengthPrefixed(&in, &got));
    EXPECT_EQ(got, value);
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, TruncatedLengthPrefixedIsRejected) {
  std::string s;
  PutLengthPrefixed(&s, std::string(300, 'z'));
  for (size_t len = 0; len < s.size(); ++len) {
    std::string_view in(s.data(), len);
    std::string_view value;
    EXPECT_FALSE(GetLengthPrefixed(&in, &value)) << len;
  }
  std::string_view whole(s);
  std::string_view value;
  EXPECT_TRUE(GetLengthPrefixed(&whole, &value));
  EXPECT_EQ(value.size(), 300u);
}

}  // namespace
}  // namespace cairn
