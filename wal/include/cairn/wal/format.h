// The on-disk format of a WAL segment (docs/formats.md has the byte-by-byte
// description). A segment file is preallocated to its full size and holds:
//
//   [segment header: 64 bytes][frame][frame]...[zeros to the end of file]
//
// and every frame, 8-byte aligned, is
//
//   crc32c:u32 | length:u32 | data[length] | trailer:u64 | zero padding
//
// where crc32c is the masked CRC32C of the 4 length bytes followed by data,
// and data = first_seq:u64 | seq_count:u32 | payload. A record therefore
// covers sequence numbers [first_seq, first_seq + seq_count).
//
// Invariant kept by the writer: every byte after the last frame of a segment
// is zero, so the first frame that does not validate marks the end.
//
// Everything here is a pure function of memory; thread-safe.
#ifndef CAIRN_WAL_FORMAT_H_
#define CAIRN_WAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cairn::wal {

// "CNWL" in file byte order.
inline constexpr uint32_t kSegmentMagic = 0x4C574E43u;
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 64;

inline constexpr uint32_t kFlagActive = 1u << 0;
inline constexpr uint32_t kFlagSealed = 1u << 1;
// Retention deleted the segment; a file that survives (its unlink deferred
// by a reader, or lost in a crash) is removed at the next open.
inline constexpr uint32_t kFlagObsolete = 1u << 2;
// A truncation is in progress: the frames end at write_offset exactly, and
// everything after it (in this segment and in newer ones) is to be dropped.
inline constexpr uint32_t kFlagTruncated = 1u << 3;

inline constexpr size_t kFrameHeaderSize = 8;    // crc + length
inline constexpr size_t kRecordHeaderSize = 12;  // first_seq + seq_count
inline constexpr size_t kTrailerSize = 8;
inline constexpr uint64_t kFrameTrailer = 0x2A9F6C3B5D8E1047ull;
inline constexpr size_t kFrameAlignment = 8;

// The smallest segment that can hold a frame; smaller sizes are refused.
inline constexpr uint64_t kMinSegmentSize = 4096;

// Header at offset 0 of every segment. Which fields are trustworthy depends
// on the flags, see docs/formats.md: write_offset/last_seq/entry_count say
// what was durable when the header was last written (final once sealed).
struct SegmentHeader {
  uint16_t version = kFormatVersion;
  uint32_t segment_id = 0;
  uint64_t first_seq = 0;     // sequence of the segment's first record
  uint64_t last_seq = 0;      // last sequence below write_offset
  uint64_t created_ns = 0;    // unix time, nanoseconds
  uint64_t modified_ns = 0;   // when this header was last written
  uint64_t write_offset = 0;  // end of the frames known durable
  uint32_t entry_count = 0;   // records below write_offset
  uint32_t flags = 0;
};

// h, changed to describe frames that end at `end`: `count` records, the last
// sequence `last_seq`, with `flags`, written at now_ns.
SegmentHeader HeaderForEnd(SegmentHeader h, uint64_t end, uint32_t count,
                           uint64_t last_seq, uint32_t flags, uint64_t now_ns);

void EncodeSegmentHeader(const SegmentHeader& h, char* dst);
// DataLoss if the magic, header size or CRC is wrong; FailedPrecondition for
// an unknown version.
absl::Status DecodeSegmentHeader(const char* src, SegmentHeader* h);

// Bytes a frame with this payload occupies, padding included.
inline constexpr uint64_t FrameSize(uint64_t payload_size) {
  uint64_t raw =
      kFrameHeaderSize + kRecordHeaderSize + payload_size + kTrailerSize;
  return (raw + kFrameAlignment - 1) & ~uint64_t{kFrameAlignment - 1};
}

// The largest payload a segment of segment_size bytes can hold.
inline constexpr uint64_t MaxPayloadSize(uint64_t segment_size) {
  uint64_t room = segment_size - kSegmentHeaderSize;
  return room - kFrameHeaderSize - kRecordHeaderSize - kTrailerSize -
         (room % kFrameAlignment);
}

// Writes the frame for (first_seq, seq_count, payload) at dst, which has
// FrameSize(payload.size()) bytes; padding is written as zeros.
void EncodeFrame(char* dst, uint64_t first_seq, uint32_t seq_count,
                 std::string_view payload);

// A decoded frame. payload points into the decoded memory.
struct FrameView {
  uint64_t first_seq = 0;
  uint32_t seq_count = 0;
  std::string_view payload;
  uint64_t size = 0;  // bytes the whole frame occupies
};

enum class FrameError {
  kNone,
  kEnd,         // the frame header is all zeros: the clean end of the frames
  kTruncated,   // the frame would run past the end of the segment
  kBadLength,   // length too small to hold a record header
  kBadTrailer,  // the trailer canary is missing (torn write)
  kBadCrc,      // checksum mismatch
  kBadSequence  // not the sequence expected, 0, or wrapping past 2^64
};
const char* FrameErrorName(FrameError e);

// Decodes the frame at p, given `available` bytes from p to the end of the
// segment. Never reads outside [p, p + available).
FrameError DecodeFrame(const char* p, size_t available, FrameView* frame);

// Result of scanning the frames of one segment image.
struct ScanResult {
  uint64_t end_offset = 0;             // offset after the last valid frame
  uint64_t next_seq = 0;               // sequence after the last valid record
  uint32_t records = 0;                // valid records found
  FrameError stop = FrameError::kEnd;  // why the scan stopped at end_offset
  // Offset of the first valid, in-sequence-looking frame found after a bad
  // one (0 if none): evidence of corruption rather than a torn tail.
  uint64_t valid_frame_after = 0;
};

// Scans frames of the segment image [data, data + size) from `offset`,
// expecting the first record to start at `expected_seq`. Each valid record is
// passed to on_record(offset, frame) (pass a no-op lambda to ignore them).
// Stops at the first
// frame that is not valid or not in sequence; then looks for any valid frame
// further on to fill valid_frame_after.
template <typename F>
ScanResult ScanFrames(const char* data, size_t size, uint64_t offset,
                      uint64_t expected_seq, F&& on_record);

// Finds the first 8-byte-aligned offset in [from, size) holding a frame that
// decodes cleanly (any valid sequence), or 0 if none (0 is inside the
// segment header, never a frame).
uint64_t FindValidFrame(const char* data, size_t size, uint64_t from);

// Parses a segment file name (ten decimal digits and ".wal") or a spare's
// (".spare"); false for any other name.
bool ParseSegmentFileName(std::string_view name, uint32_t* id, bool* spare);

// Offset just past the last non-zero byte of [data + from, data + size), or
// `from` if the range is all zeros (where a segment's written bytes end).
uint64_t EndOfNonZero(const char* data, uint64_t from, uint64_t size);

template <typename F>
ScanResult ScanFrames(const char* data, size_t size, uint64_t offset,
                      uint64_t expected_seq, F&& on_record) {
  ScanResult r;
  r.end_offset = offset;
  r.next_seq = expected_seq;
  while (r.end_offset < size) {
    FrameView f;
    FrameError e = DecodeFrame(data + r.end_offset, size - r.end_offset, &f);
    if (e == FrameError::kNone && f.first_seq != r.next_seq) {
      e = FrameError::kBadSequence;
    }
    if (e != FrameError::kNone) {
      r.stop = e;
      break;
    }
    on_record(r.end_offset, f);
    r.end_offset += f.size;
    r.next_seq += f.seq_count;
    ++r.records;
  }
  // A zero frame header is the normal end only if nothing valid follows.
  if (r.end_offset < size) {
    r.valid_frame_after =
        FindValidFrame(data, size, r.end_offset + kFrameAlignment);
  }
  return r;
}

}  // namespace cairn::wal

#endif  // CAIRN_WAL_FORMAT_H_
