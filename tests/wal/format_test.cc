#include "cairn/wal/format.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::HeaderVersionOffset;
using test_util::Payload;

SegmentHeader SampleHeader() {
  SegmentHeader h;
  h.version = kFormatVersion;
  h.segment_id = 7;
  h.first_seq = 1000;
  h.last_seq = 1999;
  h.created_ns = 1'700'000'000'123'456'789ull;
  h.modified_ns = 1'700'000'001'987'654'321ull;
  h.write_offset = 123'456;
  h.entry_count = 1000;
  h.flags = kFlagSealed;
  return h;
}

void ExpectSameHeader(const SegmentHeader& a, const SegmentHeader& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.segment_id, b.segment_id);
  EXPECT_EQ(a.first_seq, b.first_seq);
  EXPECT_EQ(a.last_seq, b.last_seq);
  EXPECT_EQ(a.created_ns, b.created_ns);
  EXPECT_EQ(a.modified_ns, b.modified_ns);
  EXPECT_EQ(a.write_offset, b.write_offset);
  EXPECT_EQ(a.entry_count, b.entry_count);
  EXPECT_EQ(a.flags, b.flags);
}

TEST(SegmentHeaderTest, RoundTrips) {
  const SegmentHeader h = SampleHeader();
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(h, buf);
  SegmentHeader d;
  ASSERT_OK(DecodeSegmentHeader(buf, &d));
  ExpectSameHeader(d, h);
  // The magic opens the header, "CNWL" in file byte order.
  EXPECT_EQ(std::string_view(buf, 4), "CNWL");
  EXPECT_EQ(DecodeFixed32(buf), kSegmentMagic);
}

TEST(SegmentHeaderTest, RoundTripsExtremeValues) {
  SegmentHeader h;
  h.segment_id = std::numeric_limits<uint32_t>::max();
  h.first_seq = std::numeric_limits<uint64_t>::max() - 1;
  h.last_seq = std::numeric_limits<uint64_t>::max();
  h.created_ns = std::numeric_limits<uint64_t>::max();
  h.modified_ns = 0;
  h.write_offset = std::numeric_limits<uint64_t>::max();
  h.entry_count = std::numeric_limits<uint32_t>::max();
  h.flags = kFlagActive | kFlagSealed;
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(h, buf);
  SegmentHeader d;
  ASSERT_OK(DecodeSegmentHeader(buf, &d));
  ExpectSameHeader(d, h);

  SegmentHeader zero;
  zero.flags = 0;
  EncodeSegmentHeader(zero, buf);
  ASSERT_OK(DecodeSegmentHeader(buf, &d));
  ExpectSameHeader(d, zero);
}

TEST(SegmentHeaderTest, EncodingIsDeterministic) {
  char a[kSegmentHeaderSize];
  char b[kSegmentHeaderSize];
  std::memset(a, 0x11, sizeof(a));
  std::memset(b, 0x77, sizeof(b));
  EncodeSegmentHeader(SampleHeader(), a);
  EncodeSegmentHeader(SampleHeader(), b);
  // Every byte is written (reserved bytes too), whatever was there before.
  EXPECT_EQ(std::memcmp(a, b, kSegmentHeaderSize), 0);
}

TEST(SegmentHeaderTest, AllZerosIsDataLoss) {
  char buf[kSegmentHeaderSize] = {};
  SegmentHeader d;
  EXPECT_STATUS_CODE(DecodeSegmentHeader(buf, &d), absl::StatusCode::kDataLoss);
}

TEST(SegmentHeaderTest, BadMagicIsDataLoss) {
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(SampleHeader(), buf);
  std::memcpy(buf, "XNWL", 4);
  SegmentHeader d;
  EXPECT_STATUS_CODE(DecodeSegmentHeader(buf, &d), absl::StatusCode::kDataLoss);
}

TEST(SegmentHeaderTest, UnknownVersionIsFailedPrecondition) {
  for (uint16_t version : {uint16_t{0}, uint16_t{2}, uint16_t{0xFFFF}}) {
    SegmentHeader h = SampleHeader();
    h.version = version;
    char buf[kSegmentHeaderSize];
    EncodeSegmentHeader(h, buf);  // a valid CRC over an unknown version
    SegmentHeader d;
    EXPECT_STATUS_CODE(DecodeSegmentHeader(buf, &d),
                       absl::StatusCode::kFailedPrecondition)
        << "version " << version;
  }
}

TEST(SegmentHeaderTest, VersionFieldIsFound) {
  // The other header tests rely on locating the version field.
  const size_t at = HeaderVersionOffset();
  ASSERT_LT(at + 1, kSegmentHeaderSize);
  SegmentHeader h = SampleHeader();
  h.version = 0x1234;
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(h, buf);
  EXPECT_EQ(DecodeFixed16(buf + at), 0x1234);
}

// Every single-bit flip of a header is refused. A flip inside the version
// field may be reported either as corruption or as an unknown version.
TEST(SegmentHeaderTest, EveryBitFlipIsDetected) {
  char good[kSegmentHeaderSize];
  EncodeSegmentHeader(SampleHeader(), good);
  const size_t version_at = HeaderVersionOffset();
  for (size_t byte = 0; byte < kSegmentHeaderSize; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      char buf[kSegmentHeaderSize];
      std::memcpy(buf, good, sizeof(buf));
      buf[byte] = static_cast<char>(buf[byte] ^ (1 << bit));
      SegmentHeader d;
      absl::Status s = DecodeSegmentHeader(buf, &d);
      ASSERT_FALSE(s.ok()) << "flip of byte " << byte << " bit " << bit
                           << " went unnoticed";
      const bool in_version = byte == version_at || byte == version_at + 1;
      if (in_version) {
        EXPECT_TRUE(absl::IsDataLoss(s) || absl::IsFailedPrecondition(s)) << s;
      } else {
        EXPECT_TRUE(absl::IsDataLoss(s))
            << "byte " << byte << " bit " << bit << ": " << s;
      }
    }
  }
}

TEST(FrameSizeTest, Arithmetic) {
  static_assert(FrameSize(0) == 32);
  static_assert(FrameSize(4) == 32);
  static_assert(FrameSize(5) == 40);
  static_assert(FrameSize(12) == 40);
  static_assert(FrameSize(100) == 128);
  for (uint64_t n = 0; n < 5000; ++n) {
    const uint64_t raw =
        kFrameHeaderSize + kRecordHeaderSize + n + kTrailerSize;
    ASSERT_EQ(FrameSize(n) % kFrameAlignment, 0u) << n;
    ASSERT_GE(FrameSize(n), raw) << n;
    ASSERT_LT(FrameSize(n), raw + kFrameAlignment) << n;
  }
}

TEST(FrameSizeTest, MaxPayloadSizeIsTheLargestThatFits) {
  static_assert(MaxPayloadSize(4096) == 4004);
  static_assert(FrameSize(MaxPayloadSize(4096)) == 4096 - kSegmentHeaderSize);
  for (uint64_t segment_size :
       {uint64_t{kMinSegmentSize}, uint64_t{4097}, uint64_t{4100},
        uint64_t{4103}, uint64_t{16 << 10}, uint64_t{(16 << 10) + 5},
        uint64_t{64 << 10}, uint64_t{64} << 20, uint64_t{1} << 32}) {
    const uint64_t room = segment_size - kSegmentHeaderSize;
    const uint64_t max = MaxPayloadSize(segment_size);
    EXPECT_LE(FrameSize(max), room) << segment_size;
    EXPECT_GT(FrameSize(max + 1), room) << segment_size;
  }
}

// Checks the documented byte layout of an encoded frame.
void ExpectFrameLayout(const char* p, uint64_t first_seq, uint32_t seq_count,
                       std::string_view payload) {
  const size_t n = payload.size();
  const uint32_t length = DecodeFixed32(p + 4);
  EXPECT_EQ(length, kRecordHeaderSize + n);
  EXPECT_EQ(DecodeFixed32(p),
            crc32c::Mask(crc32c::Value(p + 4, 4 + kRecordHeaderSize + n)));
  EXPECT_EQ(DecodeFixed64(p + 8), first_seq);
  EXPECT_EQ(DecodeFixed32(p + 16), seq_count);
  EXPECT_EQ(std::string_view(p + 20, n), payload);
  EXPECT_EQ(DecodeFixed64(p + 20 + n), kFrameTrailer);
  for (size_t i = 28 + n; i < FrameSize(n); ++i) {
    EXPECT_EQ(p[i], 0) << "padding byte " << i;
  }
}

void RoundTrip(size_t n) {
  SCOPED_TRACE("payload size " + std::to_string(n));
  const std::string payload = Payload(n, n).substr(0, n);
  const uint64_t first_seq = 0x0102030405060708ull + n;
  const uint32_t seq_count = static_cast<uint32_t>(1 + n % 5);
  // Exactly sized heap buffer prefilled with garbage: ASan catches any
  // access outside it, and padding must be overwritten with zeros.
  const size_t size = FrameSize(n);
  auto buf = std::make_unique<char[]>(size);
  std::memset(buf.get(), 0xAB, size);
  EncodeFrame(buf.get(), first_seq, seq_count, payload);
  ExpectFrameLayout(buf.get(), first_seq, seq_count, payload);

  FrameView f;
  ASSERT_EQ(DecodeFrame(buf.get(), size, &f), FrameError::kNone);
  EXPECT_EQ(f.first_seq, first_seq);
  EXPECT_EQ(f.seq_count, seq_count);
  EXPECT_EQ(f.payload, payload);
  EXPECT_EQ(f.size, size);
  if (n > 0) {
    EXPECT_EQ(f.payload.data(), buf.get() + 20);
  }
}

TEST(FrameTest, RoundTripSmallPayloads) {
  for (size_t n = 0; n <= 64; ++n) RoundTrip(n);
}

TEST(FrameTest, RoundTripLargePayloads) {
  for (size_t n : {size_t{1000}, size_t{4004}, size_t{4093}, size_t{65536},
                   size_t{1} << 20, (size_t{1} << 20) + 3}) {
    RoundTrip(n);
  }
}

TEST(FrameTest, DecodesWithSpaceLeftAfterTheFrame) {
  std::string buf(4096, '\0');
  EncodeFrame(buf.data(), 42, 3, "hello");
  FrameView f;
  ASSERT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameError::kNone);
  EXPECT_EQ(f.first_seq, 42u);
  EXPECT_EQ(f.seq_count, 3u);
  EXPECT_EQ(f.payload, "hello");
  EXPECT_EQ(f.size, FrameSize(5));
  // The zeros right after it are the clean end.
  EXPECT_EQ(DecodeFrame(buf.data() + f.size, buf.size() - f.size, &f),
            FrameError::kEnd);
}

TEST(FrameTest, ZeroHeaderIsEnd) {
  std::string zeros(256, '\0');
  FrameView f;
  EXPECT_EQ(DecodeFrame(zeros.data(), zeros.size(), &f), FrameError::kEnd);
}

TEST(FrameTest, TruncatedFrameIsDetectedAtEveryLength) {
  // 12 and 100 bytes: frames without padding, so every prefix is short.
  for (size_t n : {size_t{12}, size_t{100}}) {
    std::string frame(FrameSize(n), '\0');
    ASSERT_EQ(frame.size(), 28 + n);
    EncodeFrame(frame.data(), 9, 1, Payload(9, n).substr(0, n));
    for (size_t avail = 0; avail < frame.size(); ++avail) {
      // Exactly `avail` bytes on the heap, so ASan sees any overread.
      auto buf = std::make_unique<char[]>(avail);
      std::memcpy(buf.get(), frame.data(), avail);
      FrameView f;
      FrameError e = DecodeFrame(buf.get(), avail, &f);
      EXPECT_NE(e, FrameError::kNone) << "available " << avail;
      if (avail >= kFrameHeaderSize) {
        EXPECT_EQ(e, FrameError::kTruncated) << "available " << avail;
      }
    }
  }
}

TEST(FrameTest, HugeLengthIsTruncatedNotOverflow) {
  std::string buf(FrameSize(16), '\0');
  EncodeFrame(buf.data(), 1, 1, "0123456789abcdef");
  for (uint32_t length : {0xFFFFFFFFu, 0xFFFFFFF0u, 0x80000000u}) {
    EncodeFixed32(buf.data() + 4, length);
    FrameView f;
    EXPECT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameError::kTruncated)
        << length;
  }
}

TEST(FrameTest, LengthTooSmallIsBadLength) {
  std::string buf(256, '\0');
  EncodeFrame(buf.data(), 1, 1, "payload");
  for (uint32_t length = 0; length < kRecordHeaderSize; ++length) {
    EncodeFixed32(buf.data() + 4, length);
    FrameView f;
    EXPECT_EQ(DecodeFrame(buf.data(), buf.size(), &f), FrameError::kBadLength)
        << length;
  }
}

TEST(FrameTest, MissingTrailerIsBadTrailer) {
  const std::string payload = "some payload";
  std::string buf(FrameSize(payload.size()) + 64, '\0');
  EncodeFrame(buf.data(), 5, 1, payload);
  const size_t trailer_at = 20 + payload.size();
  for (size_t i = 0; i < kTrailerSize; ++i) {
    std::string copy = buf;
    copy[trailer_at + i] = 0;  // a torn write left zeros
    FrameView f;
    EXPECT_EQ(DecodeFrame(copy.data(), copy.size(), &f),
              FrameError::kBadTrailer)
        << i;
  }
}

TEST(FrameTest, ChecksumMismatchIsBadCrc) {
  const std::string payload = "checksummed payload";
  std::string buf(FrameSize(payload.size()), '\0');
  EncodeFrame(buf.data(), 5, 2, payload);
  // Payload, sequence, count and the crc itself are all covered.
  for (size_t at : {size_t{0}, size_t{3}, size_t{8}, size_t{15}, size_t{16},
                    size_t{20}, size_t{20 + payload.size() - 1}}) {
    std::string copy = buf;
    copy[at] = static_cast<char>(copy[at] ^ 0x40);
    FrameView f;
    EXPECT_EQ(DecodeFrame(copy.data(), copy.size(), &f), FrameError::kBadCrc)
        << "byte " << at;
  }
}

TEST(FrameTest, ErrorNamesAreDistinct) {
  std::set<std::string> names;
  for (FrameError e :
       {FrameError::kNone, FrameError::kEnd, FrameError::kTruncated,
        FrameError::kBadLength, FrameError::kBadTrailer, FrameError::kBadCrc,
        FrameError::kBadSequence}) {
    const char* name = FrameErrorName(e);
    ASSERT_NE(name, nullptr);
    EXPECT_GT(std::strlen(name), 0u);
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 7u);
}

// No single bit flip lets a frame decode as a different record. Flips in the
// zero padding are outside what the checksum covers; they may decode, but
// only as the same record.
TEST(FrameTest, EveryBitFlipIsDetected) {
  for (size_t n : {size_t{9}, size_t{12}, size_t{37}}) {
    const std::string payload = Payload(77, n).substr(0, n);
    // The frame followed by a valid one: a flipped length must not make the
    // decoder swallow the next frame.
    const size_t size = FrameSize(n);
    std::string good(size + FrameSize(n) + 64, '\0');
    EncodeFrame(good.data(), 77, 2, payload);
    EncodeFrame(good.data() + size, 79, 1, payload);
    const size_t raw = 28 + n;
    for (size_t byte = 0; byte < size; ++byte) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string buf = good;
        buf[byte] = static_cast<char>(buf[byte] ^ (1 << bit));
        FrameView f;
        FrameError e = DecodeFrame(buf.data(), buf.size(), &f);
        if (byte < raw) {
          EXPECT_NE(e, FrameError::kNone)
              << "n " << n << " byte " << byte << " bit " << bit;
          EXPECT_NE(e, FrameError::kEnd)
              << "n " << n << " byte " << byte << " bit " << bit;
        } else if (e == FrameError::kNone) {
          EXPECT_EQ(f.first_seq, 77u);
          EXPECT_EQ(f.seq_count, 2u);
          EXPECT_EQ(f.payload, payload);
          EXPECT_EQ(f.size, size);
        }
      }
    }
  }
}

// A segment image: 64 bytes of header room, then frames, then zeros.
struct Image {
  std::string data;
  std::vector<uint64_t> offsets;  // of each frame
  std::vector<uint64_t> seqs;
  std::vector<uint32_t> counts;
  std::vector<std::string> payloads;
  uint64_t end = 0;
};

Image MakeImage(size_t frames, uint64_t first_seq, size_t size = 16 << 10) {
  Image img;
  img.data.assign(size, '\0');
  uint64_t off = kSegmentHeaderSize;
  uint64_t seq = first_seq;
  for (size_t i = 0; i < frames; ++i) {
    const uint32_t count = static_cast<uint32_t>(1 + i % 3);
    std::string payload = Payload(seq, 10 + (i * 13) % 90);
    EncodeFrame(img.data.data() + off, seq, count, payload);
    img.offsets.push_back(off);
    img.seqs.push_back(seq);
    img.counts.push_back(count);
    img.payloads.push_back(std::move(payload));
    off += FrameSize(img.payloads.back().size());
    seq += count;
  }
  img.end = off;
  return img;
}

TEST(ScanFramesTest, ScansAllFrames) {
  constexpr size_t kFrames = 50;
  const Image img = MakeImage(kFrames, 100);
  size_t seen = 0;
  ScanResult r =
      ScanFrames(img.data.data(), img.data.size(), kSegmentHeaderSize, 100,
                 [&](uint64_t offset, const FrameView& f) {
                   ASSERT_LT(seen, kFrames);
                   EXPECT_EQ(offset, img.offsets[seen]);
                   EXPECT_EQ(f.first_seq, img.seqs[seen]);
                   EXPECT_EQ(f.seq_count, img.counts[seen]);
                   EXPECT_EQ(f.payload, img.payloads[seen]);
                   ++seen;
                 });
  EXPECT_EQ(seen, kFrames);
  EXPECT_EQ(r.records, kFrames);
  EXPECT_EQ(r.end_offset, img.end);
  EXPECT_EQ(r.next_seq, img.seqs.back() + img.counts.back());
  EXPECT_EQ(r.stop, FrameError::kEnd);
  EXPECT_EQ(r.valid_frame_after, 0u);
}

TEST(ScanFramesTest, EmptyImage) {
  const Image img = MakeImage(0, 1);
  ScanResult r =
      ScanFrames(img.data.data(), img.data.size(), kSegmentHeaderSize, 1,
                 [](uint64_t, const FrameView&) { FAIL(); });
  EXPECT_EQ(r.records, 0u);
  EXPECT_EQ(r.end_offset, kSegmentHeaderSize);
  EXPECT_EQ(r.next_seq, 1u);
  EXPECT_EQ(r.stop, FrameError::kEnd);
  EXPECT_EQ(r.valid_frame_after, 0u);
}

TEST(ScanFramesTest, UnexpectedFirstSequenceStops) {
  const Image img = MakeImage(10, 100);
  ScanResult r =
      ScanFrames(img.data.data(), img.data.size(), kSegmentHeaderSize, 99,
                 [](uint64_t, const FrameView&) { FAIL(); });
  EXPECT_EQ(r.records, 0u);
  EXPECT_EQ(r.end_offset, kSegmentHeaderSize);
  EXPECT_EQ(r.next_seq, 99u);
  EXPECT_EQ(r.stop, FrameError::kBadSequence);
  // The frames that follow all decode: evidence of a problem, not an end.
  EXPECT_EQ(r.valid_frame_after, img.offsets[1]);
}

TEST(ScanFramesTest, SequenceGapInTheMiddleStops) {
  Image img = MakeImage(20, 1);
  // Re-encode frame 10 one sequence too far.
  EncodeFrame(img.data.data() + img.offsets[10], img.seqs[10] + 1,
              img.counts[10], img.payloads[10]);
  ScanResult r =
      ScanFrames(img.data.data(), img.data.size(), kSegmentHeaderSize, 1,
                 [](uint64_t, const FrameView&) {});
  EXPECT_EQ(r.records, 10u);
  EXPECT_EQ(r.end_offset, img.offsets[10]);
  EXPECT_EQ(r.next_seq, img.seqs[10]);
  EXPECT_EQ(r.stop, FrameError::kBadSequence);
  EXPECT_EQ(r.valid_frame_after, img.offsets[11]);
}

TEST(ScanFramesTest, CorruptFrameFollowedByValidFrames) {
  Image img = MakeImage(30, 1);
  img.data[img.offsets[20] + 24] ^= 0x01;  // a payload bit of frame 20
  ScanResult r =
      ScanFrames(img.data.data(), img.data.size(), kSegmentHeaderSize, 1,
                 [](uint64_t, const FrameView&) {});
  EXPECT_EQ(r.records, 20u);
  EXPECT_EQ(r.end_offset, img.offsets[20]);
  EXPECT_EQ(r.next_seq, img.seqs[20]);
  EXPECT_EQ(r.stop, FrameError::kBadCrc);
  EXPECT_EQ(r.valid_frame_after, img.offsets[21]);
}

TEST(ScanFramesTest, ZeroedFrameHeaderFollowedByValidFrames) {
  Image img = MakeImage(30, 1);
  std::memset(img.data.data() + img.offsets[12], 0, kFrameHeaderSize);
  ScanResult r =
      ScanFrames(img.data.data(), img.data.size(), kSegmentHeaderSize, 1,
                 [](uint64_t, const FrameView&) {});
  EXPECT_EQ(r.records, 12u);
  EXPECT_EQ(r.end_offset, img.offsets[12]);
  EXPECT_EQ(r.stop, FrameError::kEnd);
  EXPECT_EQ(r.valid_frame_after, img.offsets[13]);
}

TEST(ScanFramesTest, TornLastFrameHasNothingAfter) {
  Image img = MakeImage(30, 1);
  const uint64_t last = img.offsets.back();
  // Zero the second half of the last frame, as a torn write would.
  const uint64_t mid = last + (img.end - last) / 2;
  std::memset(img.data.data() + mid, 0, img.end - mid);
  ScanResult r =
      ScanFrames(img.data.data(), img.data.size(), kSegmentHeaderSize, 1,
                 [](uint64_t, const FrameView&) {});
  EXPECT_EQ(r.records, 29u);
  EXPECT_EQ(r.end_offset, last);
  EXPECT_NE(r.stop, FrameError::kNone);
  EXPECT_NE(r.stop, FrameError::kEnd);
  EXPECT_EQ(r.valid_frame_after, 0u);
}

TEST(ScanFramesTest, ScanFromTheMiddle) {
  const Image img = MakeImage(30, 1);
  ScanResult r = ScanFrames(img.data.data(), img.data.size(), img.offsets[7],
                            img.seqs[7], [](uint64_t, const FrameView&) {});
  EXPECT_EQ(r.records, 23u);
  EXPECT_EQ(r.end_offset, img.end);
  EXPECT_EQ(r.stop, FrameError::kEnd);
}

TEST(FindValidFrameTest, FindsAlignedFrames) {
  const Image img = MakeImage(10, 1);
  const char* d = img.data.data();
  const size_t size = img.data.size();
  EXPECT_EQ(FindValidFrame(d, size, 0), img.offsets[0]);
  EXPECT_EQ(FindValidFrame(d, size, img.offsets[0]), img.offsets[0]);
  EXPECT_EQ(FindValidFrame(d, size, img.offsets[0] + 1), img.offsets[1]);
  EXPECT_EQ(FindValidFrame(d, size, img.offsets[0] + 8), img.offsets[1]);
  EXPECT_EQ(FindValidFrame(d, size, img.offsets[9]), img.offsets[9]);
  EXPECT_EQ(FindValidFrame(d, size, img.offsets[9] + 8), 0u);
  EXPECT_EQ(FindValidFrame(d, size, size), 0u);
}

}  // namespace
}  // namespace cairn::wal
