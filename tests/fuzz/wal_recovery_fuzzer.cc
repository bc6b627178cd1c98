// wal_recovery_fuzzer: feeds arbitrary WAL segment images to the frame
// decoder (DecodeFrame, ScanFrames, FindValidFrame) and to the recovery done
// by Log::Open, and checks what format.h and log.h promise about them.
//
// Input layout:
//   bytes [0, 8)   first_seq of the segment header, little-endian. Inputs
//                  shorter than 8 bytes are all body, with first_seq 1.
//   byte 0         is also the control byte:
//                    bit 0     recover the image with Log::Open as well
//                    bits 1-2  what the header claims is durable (HeaderMode)
//                    bit 3     structured body (see BuildStructured)
//                    bit 4     damage the header (its checksum fails)
//   bytes [8, ...) raw body: copied after the 64-byte header; or, with bit 3,
//                  a description of records that are encoded with valid
//                  checksums and then damaged.
//
// The structured mode matters because random mutations almost never produce
// a frame with a matching CRC32C: there the fuzzer knows exactly which
// records were written and where they were damaged, and can check that
// every damaged record is refused and every intact one is returned.
//
// Segment files are written under $CAIRN_FUZZ_DIR, else /dev/shm (so the
// syncs recovery does cost nothing), else /tmp.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/util/coding.h"
#include "cairn/wal/format.h"
#include "cairn/wal/log.h"
#include "cairn/wal/options.h"
#include "cairn/wal/reader.h"

namespace cairn::wal {
namespace {

constexpr size_t kImageSize = 64 << 10;  // also the Log's segment_size
constexpr uint64_t kTimestampNs = 1'700'000'000'000'000'000ull;

// Sequence numbers for which the Log's arithmetic is meaningful. Outside this
// range only "no crash, no leak" is checked.
constexpr uint64_t kMaxSaneSeq = uint64_t{1} << 48;

[[noreturn]] void Fail(const char* file, int line, const char* cond,
                       const char* fmt, ...) {
  std::fprintf(stderr, "%s:%d: invariant violated: %s\n  ", file, line, cond);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, ...)                                  \
  do {                                                         \
    if (!(cond)) Fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)

enum class HeaderMode {
  kNothingDurable = 0,  // a fresh header: write_offset at the first frame
  kDurable = 1,         // claims the records that were written
  kClaimsMore = 2,      // claims more than was written (lost synced data)
  kSealed = 3,          // sealed, claiming the records that were written
};

// Reads bytes from the front of the input; zeros once it runs out.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t Byte() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }
  uint16_t U16() {
    uint16_t lo = Byte();
    return static_cast<uint16_t>(lo | (Byte() << 8));
  }
  // Up to n bytes (fewer at the end of input).
  std::string_view Take(size_t n) {
    n = std::min(n, size_);
    std::string_view s(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    size_ -= n;
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

struct WrittenRecord {
  uint64_t offset = 0;
  uint64_t first_seq = 0;
  uint32_t seq_count = 0;
  std::string payload;
  uint64_t covered_end() const {  // end of the bytes the CRC or canary cover
    return offset + kFrameHeaderSize + kRecordHeaderSize + payload.size() +
           kTrailerSize;
  }
  uint64_t end() const { return offset + FrameSize(payload.size()); }
};

struct ScannedRecord {
  uint64_t offset = 0;
  uint64_t first_seq = 0;
  uint32_t seq_count = 0;
  std::string payload;
};

// Encodes records described by the input into image (whose header is filled
// in later), copies the result to pristine, then damages image as the input
// says. Returns the records as written.
std::vector<WrittenRecord> BuildStructured(Cursor& in, uint64_t first_seq,
                                           char* image, char* pristine) {
  std::vector<WrittenRecord> written;
  const int count = in.Byte() % 32;
  uint64_t offset = kSegmentHeaderSize;
  uint64_t seq = first_seq;
  for (int i = 0; i < count; ++i) {
    const size_t length = in.U16() % 2048;
    const uint32_t seq_count = 1 + in.Byte() % 3;
    if (offset + FrameSize(length) > kImageSize) break;
    WrittenRecord r;
    r.offset = offset;
    r.first_seq = seq;
    r.seq_count = seq_count;
    r.payload.assign(in.Take(length));
    r.payload.resize(length, static_cast<char>('a' + i));
    EncodeFrame(image + offset, seq, seq_count, r.payload);
    offset = r.end();
    seq += seq_count;
    written.push_back(std::move(r));
  }
  std::memcpy(pristine, image, kImageSize);
  const int damages = in.Byte() % 4;
  for (int i = 0; i < damages; ++i) {
    const uint8_t kind = in.Byte() % 3;
    const size_t pos =
        kSegmentHeaderSize + in.U16() % (kImageSize - kSegmentHeaderSize);
    const uint8_t bit = in.Byte() % 8;
    switch (kind) {
      case 0:  // a flipped bit
        image[pos] = static_cast<char>(image[pos] ^ (1 << bit));
        break;
      case 1:  // a zeroed word
        std::memset(image + pos, 0, std::min<size_t>(8, kImageSize - pos));
        break;
      default:  // a lost tail (e.g. pages that never reached the disk)
        std::memset(image + pos, 0, kImageSize - pos);
        break;
    }
  }
  return written;
}

// Checks the decoders on image and returns the records ScanFrames accepts.
ScanResult CheckDecoders(const char* image, uint64_t first_seq,
                         std::vector<ScannedRecord>* records) {
  const size_t size = kImageSize;
  uint64_t expected_offset = kSegmentHeaderSize;
  uint64_t expected_seq = first_seq;
  ScanResult scan = ScanFrames(
      image, size, kSegmentHeaderSize, first_seq,
      [&](uint64_t offset, const FrameView& f) {
        FUZZ_CHECK(offset == expected_offset, "offset %lu, expected %lu",
                   offset, expected_offset);
        FUZZ_CHECK(f.first_seq == expected_seq, "seq %lu, expected %lu",
                   f.first_seq, expected_seq);
        FUZZ_CHECK(f.seq_count >= 1, "seq_count 0 at %lu", offset);
        FUZZ_CHECK(f.size == FrameSize(f.payload.size()),
                   "frame size %lu for payload %zu", f.size, f.payload.size());
        FUZZ_CHECK(offset + f.size <= size, "frame at %lu runs past the end",
                   offset);
        FUZZ_CHECK(
            f.payload.data() >= image + offset &&
                f.payload.data() + f.payload.size() <= image + offset + f.size,
            "payload of frame at %lu lies outside it", offset);
        records->push_back(
            {offset, f.first_seq, f.seq_count, std::string(f.payload)});
        expected_offset = offset + f.size;
        expected_seq += f.seq_count;
      });
  FUZZ_CHECK(scan.end_offset == expected_offset, "end_offset %lu, expected %lu",
             scan.end_offset, expected_offset);
  FUZZ_CHECK(scan.end_offset <= size && scan.end_offset % kFrameAlignment == 0,
             "end_offset %lu", scan.end_offset);
  FUZZ_CHECK(scan.next_seq == expected_seq, "next_seq %lu, expected %lu",
             scan.next_seq, expected_seq);
  FUZZ_CHECK(scan.records == records->size(), "records %u, reported %zu",
             scan.records, records->size());
  FUZZ_CHECK(scan.end_offset < size || scan.stop == FrameError::kEnd,
             "stop %s at the end", FrameErrorName(scan.stop));
  FUZZ_CHECK(scan.stop != FrameError::kNone, "scan stopped without a reason");
  if (scan.valid_frame_after != 0) {
    FrameView f;
    FUZZ_CHECK(scan.valid_frame_after > scan.end_offset &&
                   scan.valid_frame_after < size &&
                   scan.valid_frame_after % kFrameAlignment == 0,
               "valid_frame_after %lu, end_offset %lu", scan.valid_frame_after,
               scan.end_offset);
    FrameError e = DecodeFrame(image + scan.valid_frame_after,
                               size - scan.valid_frame_after, &f);
    FUZZ_CHECK(e == FrameError::kNone, "valid_frame_after %lu decodes as %s",
               scan.valid_frame_after, FrameErrorName(e));
  }

  // Every accepted frame decodes again, identically, from a buffer that ends
  // exactly where the frame does (ASan catches any read past it), and is
  // refused as truncated from one 8 bytes shorter.
  for (const ScannedRecord& r : *records) {
    const size_t frame_size = FrameSize(r.payload.size());
    auto exact = std::make_unique<char[]>(frame_size);
    std::memcpy(exact.get(), image + r.offset, frame_size);
    FrameView f;
    FrameError e = DecodeFrame(exact.get(), frame_size, &f);
    FUZZ_CHECK(e == FrameError::kNone, "frame at %lu re-decodes as %s",
               r.offset, FrameErrorName(e));
    FUZZ_CHECK(f.first_seq == r.first_seq && f.seq_count == r.seq_count &&
                   f.payload == r.payload && f.size == frame_size,
               "frame at %lu re-decodes differently", r.offset);
    const size_t shorter = frame_size - kFrameAlignment;
    auto cut = std::make_unique<char[]>(shorter);
    std::memcpy(cut.get(), image + r.offset, shorter);
    e = DecodeFrame(cut.get(), shorter, &f);
    FUZZ_CHECK(e != FrameError::kNone, "frame at %lu decodes from %zu bytes",
               r.offset, shorter);
  }

  // FindValidFrame from the first frame finds it iff it decodes.
  const uint64_t found = FindValidFrame(image, size, kSegmentHeaderSize);
  FrameView first;
  const bool first_decodes =
      DecodeFrame(image + kSegmentHeaderSize, size - kSegmentHeaderSize,
                  &first) == FrameError::kNone;
  FUZZ_CHECK((found == kSegmentHeaderSize) == first_decodes,
             "FindValidFrame found %lu; first frame decodes: %d", found,
             first_decodes);
  if (found != 0) {
    FrameView f;
    FUZZ_CHECK(
        found % kFrameAlignment == 0 && found >= kSegmentHeaderSize &&
            found < size &&
            DecodeFrame(image + found, size - found, &f) == FrameError::kNone,
        "FindValidFrame returned %lu", found);
  }
  FUZZ_CHECK(FindValidFrame(image, size, size) == 0,
             "FindValidFrame found a frame at the very end");
  // Tiny windows at the end of the image are never a frame.
  for (size_t n = 0; n <= kFrameHeaderSize; ++n) {
    FrameView f;
    FUZZ_CHECK(DecodeFrame(image + size - n, n, &f) != FrameError::kNone,
               "a %zu-byte window decodes as a frame", n);
  }
  return scan;
}

// Structured mode: damaged records are refused, intact ones accepted.
void CheckAgainstWritten(const std::vector<WrittenRecord>& written,
                         const char* pristine, const char* image,
                         const std::vector<ScannedRecord>& scanned,
                         const ScanResult& scan) {
  // The first record whose checksummed bytes changed must stop the scan; one
  // whose padding changed may.
  size_t first_covered_damage = written.size();
  size_t first_any_damage = written.size();
  for (size_t i = written.size(); i-- > 0;) {
    const WrittenRecord& r = written[i];
    if (std::memcmp(pristine + r.offset, image + r.offset,
                    r.covered_end() - r.offset) != 0) {
      first_covered_damage = i;
      first_any_damage = i;
    } else if (std::memcmp(pristine + r.offset, image + r.offset,
                           r.end() - r.offset) != 0) {
      first_any_damage = i;
    }
  }
  FUZZ_CHECK(scanned.size() >= first_any_damage &&
                 scanned.size() <= first_covered_damage,
             "scan accepted %zu of %zu records; damage from record %zu "
             "(checksummed bytes from %zu)",
             scanned.size(), written.size(), first_any_damage,
             first_covered_damage);
  for (size_t i = 0; i < scanned.size(); ++i) {
    const WrittenRecord& w = written[i];
    const ScannedRecord& s = scanned[i];
    FUZZ_CHECK(s.offset == w.offset && s.first_seq == w.first_seq &&
                   s.seq_count == w.seq_count && s.payload == w.payload,
               "record %zu differs from what was written", i);
  }
  if (first_any_damage == written.size() &&
      std::memcmp(pristine, image, kImageSize) == 0) {
    FUZZ_CHECK(scan.stop == FrameError::kEnd && scan.valid_frame_after == 0,
               "undamaged image stops with %s, valid frame after at %lu",
               FrameErrorName(scan.stop), scan.valid_frame_after);
  }
}

void CheckHeaderRoundTrip(const SegmentHeader& h, const char* encoded) {
  SegmentHeader d;
  absl::Status s = DecodeSegmentHeader(encoded, &d);
  FUZZ_CHECK(s.ok(), "encoded header does not decode: %s",
             s.ToString().c_str());
  FUZZ_CHECK(d.version == h.version && d.segment_id == h.segment_id &&
                 d.first_seq == h.first_seq && d.last_seq == h.last_seq &&
                 d.created_ns == h.created_ns &&
                 d.modified_ns == h.modified_ns &&
                 d.write_offset == h.write_offset &&
                 d.entry_count == h.entry_count && d.flags == h.flags,
             "header does not round-trip");
}

// ---------------------------------------------------------------------------
// Recovery through Log::Open.

// CAIRN_FUZZ_VERBOSE=1 prints what each input expects and gets, for replaying
// a crash by hand.
bool Verbose() {
  static const bool verbose = [] {
    const char* env = std::getenv("CAIRN_FUZZ_VERBOSE");
    return env != nullptr && *env != '\0' && *env != '0';
  }();
  return verbose;
}

const std::string& ScratchDir() {
  static const std::string* dir = [] {
    std::string base;
    if (const char* env = std::getenv("CAIRN_FUZZ_DIR"); env && *env) {
      base = env;
    } else if (access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    } else {
      base = "/tmp";
    }
    auto* path = new std::string(base + "/cairn-walfuzz-XXXXXX");
    if (mkdtemp(path->data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return path;
  }();
  return *dir;
}

void WriteFileOrDie(const std::string& path, const char* data, size_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0, "open %s: %s", path.c_str(), std::strerror(errno));
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    FUZZ_CHECK(n > 0, "write %s: %s", path.c_str(), std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  close(fd);
}

struct Expectation {
  bool sane = false;       // sequence numbers and header are sane
  bool must_open = false;  // recovery must succeed
  bool must_fail = false;  // recovery must report the damage
  uint64_t first_seq = 0;
  const std::vector<ScannedRecord>* records = nullptr;  // what it must keep
};

// Reads every record from a new reader at from_seq; checks continuity and,
// if want is set, content. Returns the sequence after the last record.
uint64_t ReadAll(const Log& log, uint64_t from_seq,
                 const std::vector<ScannedRecord>* want) {
  absl::StatusOr<std::unique_ptr<Reader>> reader = log.NewReader(from_seq);
  FUZZ_CHECK(reader.ok(), "NewReader(%lu): %s", from_seq,
             reader.status().ToString().c_str());
  uint64_t next = from_seq;
  size_t i = 0;
  for (;;) {
    absl::StatusOr<Record> r = (*reader)->Next(absl::InfinitePast());
    if (absl::IsDeadlineExceeded(r.status())) break;
    FUZZ_CHECK(r.ok(), "Next at %lu: %s", next, r.status().ToString().c_str());
    FUZZ_CHECK(r->first_seq == next && r->seq_count >= 1,
               "reader returned [%lu, +%u), expected %lu", r->first_seq,
               r->seq_count, next);
    if (want != nullptr) {
      FUZZ_CHECK(i < want->size(), "reader returned more than %zu records",
                 want->size());
      const ScannedRecord& w = (*want)[i];
      FUZZ_CHECK(r->first_seq == w.first_seq && r->seq_count == w.seq_count &&
                     r->payload == w.payload,
                 "record %zu read back differs", i);
    }
    next += r->seq_count;
    ++i;
  }
  if (want != nullptr) {
    FUZZ_CHECK(i == want->size(), "reader returned %zu of %zu records", i,
               want->size());
  }
  FUZZ_CHECK((*reader)->next_seq() == next, "reader next_seq %lu, read to %lu",
             (*reader)->next_seq(), next);
  return next;
}

void CheckRecovery(const char* image, const Expectation& want) {
  const std::string dir = ScratchDir() + "/log";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directory(dir, ec);
  FUZZ_CHECK(!ec, "mkdir %s: %s", dir.c_str(), ec.message().c_str());
  WriteFileOrDie(dir + "/0000000001.wal", image, kImageSize);

  Options options;
  options.segment_size = kImageSize;
  options.sync_mode = SyncMode::kNone;
  uint64_t last_seq = 0;
  {
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, dir);
    if (Verbose()) {
      std::fprintf(stderr,
                   "expect: sane %d must_open %d must_fail %d records %zd; "
                   "Open: %s\n",
                   want.sane, want.must_open, want.must_fail,
                   want.records ? static_cast<ssize_t>(want.records->size())
                                : ssize_t{-1},
                   log.status().ToString().c_str());
    }
    if (want.must_fail) {
      FUZZ_CHECK(!log.ok(),
                 "Open accepted a segment damaged below its durable end");
    }
    if (want.must_open) {
      FUZZ_CHECK(log.ok(), "Open failed: %s", log.status().ToString().c_str());
    }
    if (!log.ok()) {
      std::filesystem::remove_all(dir, ec);
      return;
    }
    Log& l = **log;
    const uint64_t first = l.FirstSequence();
    const uint64_t last = l.LastSequence();
    if (Verbose()) {
      const RecoveryReport& r = l.recovery_report();
      std::fprintf(stderr,
                   "recovered: first %lu last %lu scanned %lu truncated %d at "
                   "%lu dropped %lu rebuilt %d\n",
                   first, last, r.records_scanned, r.truncated_tail,
                   r.truncated_at, r.dropped_frames_after_cut,
                   r.rebuilt_header);
    }
    if (!want.sane) {
      // Only exercise the paths: sequence numbers may wrap around, which
      // leaves nothing sensible to check.
      if (auto reader = l.NewReader(first); reader.ok()) {
        while ((*reader)->Next(absl::InfinitePast()).ok()) {
        }
      }
      (void)l.Close();
      std::filesystem::remove_all(dir, ec);
      return;
    }
    if (want.records != nullptr) {
      FUZZ_CHECK(first == want.first_seq, "FirstSequence %lu, header says %lu",
                 first, want.first_seq);
    }
    const uint64_t end = ReadAll(l, first, want.records);
    FUZZ_CHECK(end == last + 1, "read up to %lu, LastSequence %lu", end, last);

    // The recovered log takes appends right after what it kept.
    absl::StatusOr<AppendResult> appended = l.Append("after recovery", 2);
    FUZZ_CHECK(appended.ok(), "Append after recovery: %s",
               appended.status().ToString().c_str());
    FUZZ_CHECK(appended->first_seq == last + 1, "Append got %lu after %lu",
               appended->first_seq, last);
    FUZZ_CHECK(l.LastSequence() == last + 2, "LastSequence %lu after append",
               l.LastSequence());
    absl::Status closed = l.Close();
    FUZZ_CHECK(closed.ok(), "Close: %s", closed.ToString().c_str());
    last_seq = last + 2;
  }
  {
    // A clean close reopens to the same log.
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options, dir);
    FUZZ_CHECK(log.ok(), "reopen after Close: %s",
               log.status().ToString().c_str());
    FUZZ_CHECK((*log)->LastSequence() == last_seq,
               "reopened LastSequence %lu, expected %lu",
               (*log)->LastSequence(), last_seq);
    const RecoveryReport& report = (*log)->recovery_report();
    FUZZ_CHECK(!report.truncated_tail && !report.rebuilt_header,
               "a cleanly closed log needed repair");
    const uint64_t end = ReadAll(**log, (*log)->FirstSequence(), nullptr);
    FUZZ_CHECK(end == last_seq + 1, "reopened log reads up to %lu", end);
    absl::Status closed = (*log)->Close();
    FUZZ_CHECK(closed.ok(), "Close after reopen: %s",
               closed.ToString().c_str());
  }
  std::filesystem::remove_all(dir, ec);
}

// ---------------------------------------------------------------------------

void FuzzOne(const uint8_t* data, size_t size) {
  const uint8_t control = size > 0 ? data[0] : 0;
  uint64_t first_seq = 1;
  Cursor body(data, size);
  if (size >= 8) {
    first_seq = DecodeFixed64(reinterpret_cast<const char*>(data));
    body = Cursor(data + 8, size - 8);
  }
  const bool recover = (control & 1) != 0;
  const auto mode = static_cast<HeaderMode>((control >> 1) & 3);
  const bool structured = (control & 8) != 0;
  const bool damage_header = (control & 16) != 0;
  if (structured) {
    // Records a writer can produce: sequences start at 1 and never wrap
    // (a frame whose sequence is 0 or wraps past 2^64 is invalid).
    first_seq = 1 + first_seq % (uint64_t{1} << 48);
  }

  // Exactly kImageSize bytes, so ASan sees any read past the segment.
  auto image = std::make_unique<char[]>(kImageSize);
  std::memset(image.get(), 0, kImageSize);
  std::vector<WrittenRecord> written;
  std::unique_ptr<char[]> pristine;
  uint64_t claimed_end = kSegmentHeaderSize;  // what the writer made durable
  uint64_t claimed_next_seq = first_seq;
  uint32_t claimed_records = 0;
  if (structured) {
    pristine = std::make_unique<char[]>(kImageSize);
    written = BuildStructured(body, first_seq, image.get(), pristine.get());
    if (!written.empty()) {
      claimed_end = written.back().end();
      claimed_next_seq = written.back().first_seq + written.back().seq_count;
      claimed_records = static_cast<uint32_t>(written.size());
    }
  } else {
    std::string_view raw = body.Take(kImageSize - kSegmentHeaderSize);
    std::memcpy(image.get() + kSegmentHeaderSize, raw.data(), raw.size());
  }

  std::vector<ScannedRecord> scanned;
  const ScanResult scan = CheckDecoders(image.get(), first_seq, &scanned);
  if (structured) {
    CheckAgainstWritten(written, pristine.get(), image.get(), scanned, scan);
  } else {
    claimed_end = scan.end_offset;
    claimed_next_seq = scan.next_seq;
    claimed_records = scan.records;
  }

  SegmentHeader h;
  h.segment_id = 1;
  h.first_seq = first_seq;
  h.created_ns = kTimestampNs;
  h.modified_ns = kTimestampNs;
  h.flags = kFlagActive;
  switch (mode) {
    case HeaderMode::kNothingDurable:
      h.write_offset = kSegmentHeaderSize;
      h.last_seq = first_seq - 1;
      h.entry_count = 0;
      break;
    case HeaderMode::kDurable:
    case HeaderMode::kSealed:
      h.write_offset = claimed_end;
      h.last_seq = claimed_next_seq - 1;
      h.entry_count = claimed_records;
      if (mode == HeaderMode::kSealed) h.flags = kFlagSealed;
      break;
    case HeaderMode::kClaimsMore: {
      const uint64_t extra = kFrameAlignment * (1 + (size > 1 ? data[1] : 0));
      h.write_offset = std::min<uint64_t>(claimed_end + extra, kImageSize);
      h.last_seq = claimed_next_seq;
      h.entry_count = claimed_records + 1;
      break;
    }
  }
  EncodeSegmentHeader(h, image.get());
  CheckHeaderRoundTrip(h, image.get());
  if (damage_header) image[24] = static_cast<char>(image[24] ^ 0x01);

  if (!recover) return;
  Expectation want;
  want.sane = first_seq >= 1 && first_seq < kMaxSaneSeq;
  if (damage_header) {
    // Recovery then takes the first sequence from the first frame.
    FrameView f;
    if (DecodeFrame(image.get() + kSegmentHeaderSize,
                    kImageSize - kSegmentHeaderSize, &f) == FrameError::kNone) {
      want.sane = want.sane && f.first_seq >= 1 && f.first_seq < kMaxSaneSeq;
    }
  }
  want.first_seq = first_seq;
  if (want.sane && !damage_header) {
    // Below the durable end every frame was synced: damage there is
    // corruption and must be reported. Above it, a torn tail is cut and
    // every valid frame before the cut is kept.
    want.must_fail = scan.end_offset < h.write_offset;
    want.must_open = !want.must_fail;
    if (!want.must_fail) want.records = &scanned;
  }
  CheckRecovery(image.get(), want);
}

}  // namespace
}  // namespace cairn::wal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cairn::wal::FuzzOne(data, size);
  return 0;
}
