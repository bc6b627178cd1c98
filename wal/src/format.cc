#include "cairn/wal/format.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"

namespace cairn::wal {

// Header layout (offsets in bytes, little-endian):
//   0 magic u32 | 4 version u16 | 6 header size u16 | 8 first_seq u64 |
//  16 last_seq u64 | 24 created_ns u64 | 32 modified_ns u64 |
//  40 write_offset u64 | 48 entry_count u32 | 52 flags u32 |
//  56 segment_id u32 | 60 masked crc32c of bytes [0, 60) u32
void EncodeSegmentHeader(const SegmentHeader& h, char* dst) {
  EncodeFixed32(dst + 0, kSegmentMagic);
  EncodeFixed16(dst + 4, h.version);
  EncodeFixed16(dst + 6, static_cast<uint16_t>(kSegmentHeaderSize));
  EncodeFixed64(dst + 8, h.first_seq);
  EncodeFixed64(dst + 16, h.last_seq);
  EncodeFixed64(dst + 24, h.created_ns);
  EncodeFixed64(dst + 32, h.modified_ns);
  EncodeFixed64(dst + 40, h.write_offset);
  EncodeFixed32(dst + 48, h.entry_count);
  EncodeFixed32(dst + 52, h.flags);
  EncodeFixed32(dst + 56, h.segment_id);
  EncodeFixed32(dst + 60, crc32c::Mask(crc32c::Value(dst, 60)));
}

SegmentHeader HeaderForEnd(SegmentHeader h, uint64_t end, uint32_t count,
                           uint64_t last_seq, uint32_t flags, uint64_t now_ns) {
  h.write_offset = end;
  h.entry_count = count;
  h.last_seq = last_seq;
  h.flags = flags;
  h.modified_ns = now_ns;
  return h;
}

absl::Status DecodeSegmentHeader(const char* src, SegmentHeader* h) {
  if (DecodeFixed32(src) != kSegmentMagic) {
    return absl::DataLossError("segment header: bad magic number");
  }
  if (crc32c::Unmask(DecodeFixed32(src + 60)) != crc32c::Value(src, 60)) {
    return absl::DataLossError("segment header: checksum mismatch");
  }
  if (DecodeFixed16(src + 6) != kSegmentHeaderSize) {
    return absl::DataLossError("segment header: bad header size");
  }
  h->version = DecodeFixed16(src + 4);
  if (h->version != kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "segment header: format version %d is not supported (this build "
        "reads version %d)",
        h->version, kFormatVersion));
  }
  h->first_seq = DecodeFixed64(src + 8);
  h->last_seq = DecodeFixed64(src + 16);
  h->created_ns = DecodeFixed64(src + 24);
  h->modified_ns = DecodeFixed64(src + 32);
  h->write_offset = DecodeFixed64(src + 40);
  h->entry_count = DecodeFixed32(src + 48);
  h->flags = DecodeFixed32(src + 52);
  h->segment_id = DecodeFixed32(src + 56);
  return absl::OkStatus();
}

void EncodeFrame(char* dst, uint64_t first_seq, uint32_t seq_count,
                 std::string_view payload) {
  const uint32_t length =
      static_cast<uint32_t>(kRecordHeaderSize + payload.size());
  // The CRC covers [length | first_seq | seq_count | payload]. It is computed
  // from the caller's bytes and from two words built in registers, not read
  // back from dst: loads of freshly stored, differently sized pieces would
  // stall on store forwarding.
  uint64_t head[2];
  head[0] = uint64_t{length} | (first_seq << 32);
  head[1] = (first_seq >> 32) | (uint64_t{seq_count} << 32);
  uint32_t crc = crc32c::Value(reinterpret_cast<const char*>(head), 16);
  crc = crc32c::Extend(crc, payload.data(), payload.size());

  EncodeFixed32(dst, crc32c::Mask(crc));
  std::memcpy(dst + 4, head, 16);
  char* data = dst + kFrameHeaderSize;
  std::memcpy(data + kRecordHeaderSize, payload.data(), payload.size());
  EncodeFixed64(data + length, kFrameTrailer);
  const uint64_t used = kFrameHeaderSize + length + kTrailerSize;
  std::memset(dst + used, 0, FrameSize(payload.size()) - used);
}

const char* FrameErrorName(FrameError e) {
  switch (e) {
    case FrameError::kNone:
      return "ok";
    case FrameError::kEnd:
      return "end of frames";
    case FrameError::kTruncated:
      return "truncated frame";
    case FrameError::kBadLength:
      return "bad frame length";
    case FrameError::kBadTrailer:
      return "missing frame trailer (torn write)";
    case FrameError::kBadCrc:
      return "frame checksum mismatch";
    case FrameError::kBadSequence:
      return "frame out of sequence";
  }
  return "unknown frame error";
}

FrameError DecodeFrame(const char* p, size_t available, FrameView* frame) {
  if (available < kFrameHeaderSize) return FrameError::kTruncated;
  const uint32_t masked_crc = DecodeFixed32(p);
  const uint32_t length = DecodeFixed32(p + 4);
  if (masked_crc == 0 && length == 0) return FrameError::kEnd;
  if (length < kRecordHeaderSize) return FrameError::kBadLength;
  const uint64_t payload_size = length - kRecordHeaderSize;
  const uint64_t size = FrameSize(payload_size);
  if (size > available) return FrameError::kTruncated;
  const char* data = p + kFrameHeaderSize;
  if (DecodeFixed64(data + length) != kFrameTrailer) {
    return FrameError::kBadTrailer;
  }
  if (crc32c::Unmask(masked_crc) != crc32c::Value(p + 4, 4 + length)) {
    return FrameError::kBadCrc;
  }
  frame->first_seq = DecodeFixed64(data);
  frame->seq_count = DecodeFixed32(data + 8);
  if (frame->seq_count == 0) return FrameError::kBadLength;
  // Sequences start at 1 and never wrap.
  if (frame->first_seq == 0 ||
      frame->first_seq + frame->seq_count < frame->first_seq) {
    return FrameError::kBadSequence;
  }
  frame->payload = std::string_view(data + kRecordHeaderSize, payload_size);
  frame->size = size;
  return FrameError::kNone;
}

uint64_t FindValidFrame(const char* data, size_t size, uint64_t from) {
  for (uint64_t off = (from + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
       off + kFrameHeaderSize <= size; off += kFrameAlignment) {
    // Cheap filters first: most of a segment's tail is zeros.
    const uint32_t length = DecodeFixed32(data + off + 4);
    if (length < kRecordHeaderSize) continue;
    FrameView f;
    if (DecodeFrame(data + off, size - off, &f) == FrameError::kNone) {
      return off;
    }
  }
  return 0;
}

uint64_t EndOfNonZero(const char* data, uint64_t from, uint64_t size) {
  uint64_t end = size;
  // Walk back over whole zero words, then bytes.
  while (end >= from + 8) {
    uint64_t word;
    std::memcpy(&word, data + end - 8, 8);
    if (word != 0) break;
    end -= 8;
  }
  while (end > from && data[end - 1] == 0) --end;
  return end;
}

}  // namespace cairn::wal
