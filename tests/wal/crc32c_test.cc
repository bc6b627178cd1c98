#include "cairn/util/crc32c.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace cairn::crc32c {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(ExtendPortable(0, "123456789", 9), 0xE3069283u);
}

// The test vectors of RFC 3720, section B.4.
TEST(Crc32cTest, Rfc3720Vectors) {
  char buf[32];

  std::memset(buf, 0, sizeof(buf));
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x8A9136AAu);

  std::memset(buf, 0xff, sizeof(buf));
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x62A8AB43u);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x46DD794Eu);

  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(buf, sizeof(buf)), 0x113FDB5Cu);

  // An iSCSI SCSI Read (10) command PDU.
  const unsigned char read_command[48] = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  EXPECT_EQ(
      Value(reinterpret_cast<const char*>(read_command), sizeof(read_command)),
      0xD9963A56u);
  EXPECT_EQ(ExtendPortable(0, reinterpret_cast<const char*>(read_command),
                           sizeof(read_command)),
            0xD9963A56u);
}

TEST(Crc32cTest, EmptyInputLeavesCrcUnchanged) {
  EXPECT_EQ(Value("", 0), 0u);
  EXPECT_EQ(Extend(0x12345678u, "", 0), 0x12345678u);
}

TEST(Crc32cTest, DifferentInputsGiveDifferentCrcs) {
  EXPECT_NE(Value("a"), Value("foo"));
  EXPECT_NE(Value("foo"), Value("bar"));
}

TEST(Crc32cTest, ExtendOfPiecesEqualsValueOfWhole) {
  EXPECT_EQ(Value("hello world"), Extend(Value("hello "), "world", 5));

  std::mt19937 rng(301);
  std::string whole(20000, '\0');
  for (char& c : whole) c = static_cast<char>(rng());
  const uint32_t expected = Value(whole);
  // Cut points around the interleaved block sizes of the hardware path too.
  for (size_t cut : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{383},
                     size_t{384}, size_t{385}, size_t{12287}, size_t{12288},
                     size_t{12289}, size_t{19999}, whole.size()}) {
    const uint32_t first = Value(whole.data(), cut);
    EXPECT_EQ(Extend(first, whole.data() + cut, whole.size() - cut), expected)
        << "cut at " << cut;
  }
  uint32_t crc = 0;
  for (size_t done = 0; done < whole.size();) {
    const size_t n = std::min<size_t>(rng() % 5000, whole.size() - done);
    crc = Extend(crc, whole.data() + done, n);
    done += n;
  }
  EXPECT_EQ(crc, expected);
}

TEST(Crc32cTest, HardwareAndPortableAgree) {
  if (!IsHardwareAccelerated()) {
    GTEST_LOG_(INFO) << "no SSE4.2: Extend is ExtendPortable itself";
  }
  std::mt19937 rng(42);
  std::string buf(300 + 16, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t align = 0; align < 16; ++align) {
    for (size_t len = 0; len <= 300; ++len) {
      const char* p = buf.data() + align;
      ASSERT_EQ(Extend(0, p, len), ExtendPortable(0, p, len))
          << "length " << len << " alignment " << align;
      ASSERT_EQ(Extend(0xdeadbeefu, p, len),
                ExtendPortable(0xdeadbeefu, p, len))
          << "length " << len << " alignment " << align;
    }
  }
}

TEST(Crc32cTest, HardwareAndPortableAgreeOnLongInputs) {
  // The hardware path interleaves three streams of 4096 and then of 128
  // bytes; cover inputs around both.
  constexpr size_t kLong = size_t{3} * 4096;
  constexpr size_t kShort = size_t{3} * 128;
  std::mt19937 rng(7);
  std::string buf(3 * kLong + 1000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t len :
       {kShort, kShort + 8, kLong, kLong + kShort + 13, buf.size() - 3}) {
    for (size_t align = 0; align < 3; ++align) {
      EXPECT_EQ(Extend(0, buf.data() + align, len),
                ExtendPortable(0, buf.data() + align, len))
          << "length " << len << " alignment " << align;
    }
  }
}

TEST(Crc32cTest, MaskRoundTrips) {
  const uint32_t crc = Value("foo");
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));

  std::mt19937 rng(1);
  for (int i = 0; i < 10000; ++i) {
    const uint32_t x = rng();
    ASSERT_EQ(Unmask(Mask(x)), x);
    ASSERT_NE(Mask(x), x);
  }
  for (uint32_t x : {0u, 1u, 0xffffffffu, 0x80000000u, kMaskDelta}) {
    EXPECT_EQ(Unmask(Mask(x)), x);
    EXPECT_NE(Mask(x), x);
  }
}

}  // namespace
}  // namespace cairn::crc32c
