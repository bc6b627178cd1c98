// The verifier's checks of the WAL: segment headers, every frame, trailer,
// padding and payload, sequence continuity, and torn tails told apart from
// corruption (see verifier.h).
#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "cairn/storage/write_batch.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
#include "cairn/wal/format.h"
#include "filename.h"
#include "verifier.h"

namespace cairn::storage {
namespace {

// Whether the segment at path has a valid header with no first sequence and
// no frame: a spare made ahead of need.
bool IsEmptySpare(FileSystem* fs, const std::string& path) {
  using namespace cairn::wal;  // NOLINT: the WAL format's names
  auto file = fs->Open(path, OpenOptions{.read_only = true});
  if (!file.ok()) return false;
  char head[kSegmentHeaderSize + kFrameHeaderSize];
  auto n = (*file)->ReadAt(0, head, sizeof head);
  SegmentHeader h;
  return n.ok() && *n == sizeof head && DecodeSegmentHeader(head, &h).ok() &&
         h.first_seq == 0 &&
         std::all_of(head + kSegmentHeaderSize, head + sizeof head,
                     [](char c) { return c == 0; });
}

}  // namespace

void Verifier::CheckWal() {
  const std::string wal_dir = WalDirName(dir_);
  if (!fs_->Exists(wal_dir)) {
    if (manifest_ok_)
      Corrupt(wal_dir, kNoOffset, "the WAL directory is missing");
    return;
  }
  auto names = fs_->ListDir(wal_dir);
  if (!names.ok()) {
    Corrupt(wal_dir, kNoOffset, std::string(names.status().message()));
    return;
  }
  std::vector<Segment> segs;
  for (const std::string& name : *names) {
    uint32_t id;
    bool spare;
    if (wal::ParseSegmentFileName(name, &id, &spare)) {
      segs.push_back({id, JoinPath(wal_dir, name)});
    }
  }
  std::sort(segs.begin(), segs.end(),
            [](const Segment& a, const Segment& b) { return a.id < b.id; });
  // Trailing spares (a valid header without a first sequence, no frame)
  // hold nothing; recovery removes them, and the segment before them is
  // the newest.
  size_t newest = segs.size();
  while (newest > 0 && IsEmptySpare(fs_, segs[newest - 1].path)) --newest;
  uint64_t next_seq = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    CheckSegment(segs[i], i + 1 >= newest, &next_seq);
  }
  if (next_seq != 0) report_.wal_last_seq = next_seq - 1;
  if (!manifest_ok_ || !wal_seen_) return;
  const uint64_t flushed = report_.flushed_seq;
  if (report_.wal_first_seq > flushed + 1) {
    Corrupt(wal_dir, kNoOffset,
            absl::StrFormat("sequences %d..%d are neither in SSTables nor in "
                            "the WAL (which starts at %d)",
                            flushed + 1, report_.wal_first_seq - 1,
                            report_.wal_first_seq));
  }
  if (report_.wal_last_seq < flushed) {
    Corrupt(wal_dir, kNoOffset,
            absl::StrFormat("the WAL ends at sequence %d, below the flushed "
                            "sequence %d",
                            report_.wal_last_seq, flushed));
  }
}

void Verifier::CheckSegment(const Segment& seg, bool last, uint64_t* next_seq) {
  using namespace cairn::wal;  // NOLINT: the WAL format's names
  const std::string& path = seg.path;
  uint64_t size = 0;
  std::unique_ptr<File> file = OpenForCheck(path, &size);
  if (file == nullptr) return;
  if (size < kSegmentHeaderSize + kFrameHeaderSize) {
    Corrupt(path, 0, absl::StrFormat("only %d bytes", size));
    return;
  }
  auto map = file->Map(0, size, /*writable=*/false);
  if (!map.ok()) {
    Corrupt(path, kNoOffset, std::string(map.status().message()));
    return;
  }
  const char* data = (*map)->data();
  ++report_.files;
  ++report_.wal_segments;
  report_.bytes += size;

  SegmentHeader h;
  absl::Status hs = DecodeSegmentHeader(data, &h);
  if (hs.ok() && h.segment_id != seg.id) {
    hs = absl::DataLossError(
        absl::StrFormat("header names segment %d", h.segment_id));
  }
  if (hs.ok() &&
      (h.write_offset < kSegmentHeaderSize || h.write_offset > size)) {
    hs = absl::DataLossError(absl::StrFormat(
        "header write offset %d is outside the segment", h.write_offset));
  }
  if (!hs.ok()) {
    // Recovery rebuilds the newest segment's header when the segment before
    // it is sealed; after an unsealed one (a crash image with a spare) it
    // refuses to open.
    if (last && prev_sealed_) {
      Torn(path, 0,
           absl::StrCat("header of the newest segment: ", hs.message(),
                        " (it is rewritten after every sync; recovery "
                        "rebuilds it from the frames)"));
    } else {
      Corrupt(path, 0, absl::StrCat("header: ", hs.message()));
    }
  }
  const bool header_ok = hs.ok();
  if (header_ok && (h.flags & kFlagObsolete) != 0) {
    if (last) Corrupt(path, 0, "the newest segment is flagged as deleted");
    return;  // removed at open; not part of the log
  }
  uint64_t start = header_ok ? h.first_seq : 0;
  if (start == 0) start = *next_seq;  // a spare, or activated from one
  if (start == 0) {
    FrameView f;
    if (DecodeFrame(data + kSegmentHeaderSize, size - kSegmentHeaderSize, &f) ==
        FrameError::kNone) {
      start = f.first_seq;
    }
  }
  if (header_ok && h.first_seq != 0 && *next_seq != 0 &&
      h.first_seq != *next_seq) {
    Corrupt(path, 0,
            absl::StrFormat("starts at sequence %d, the segment before ends "
                            "at %d",
                            h.first_seq, *next_seq - 1));
  }
  const bool truncating = header_ok && (h.flags & kFlagTruncated) != 0;
  const uint64_t scan_end = truncating ? h.write_offset : size;
  ScanResult r =
      ScanFrames(data, scan_end, kSegmentHeaderSize, start,
                 [&](uint64_t offset, const FrameView& f) {
                   const uint64_t used = kFrameHeaderSize + kRecordHeaderSize +
                                         f.payload.size() + kTrailerSize;
                   if (EndOfNonZero(data, offset + used, offset + f.size) !=
                       offset + used) {
                     Corrupt(path, offset + used, "non-zero frame padding");
                   }
                   WriteBatch batch;
                   absl::Status s = WriteBatch::FromPayload(f.payload, &batch);
                   if (s.ok() && batch.Count() != f.seq_count) {
                     s = absl::DataLossError(absl::StrFormat(
                         "batch of %d operations in a record of %d sequences",
                         batch.Count(), f.seq_count));
                   }
                   if (!s.ok()) {
                     Corrupt(path, offset,
                             absl::StrFormat("record at sequence %d: %s",
                                             f.first_seq, s.message()));
                   }
                   ++report_.wal_records;
                 });
  if (r.records > 0 || (header_ok && h.first_seq != 0)) {
    if (!wal_seen_) report_.wal_first_seq = start;
    wal_seen_ = true;
  }
  const uint64_t dirty_end = EndOfNonZero(data, r.end_offset, size);
  const bool below_durable = header_ok && r.end_offset < h.write_offset;
  const bool sealed = header_ok && (h.flags & kFlagSealed) != 0;
  if (below_durable) {
    Corrupt(
        path, r.end_offset,
        absl::StrFormat("%s below the segment's durable end %d (records "
                        "from sequence %d on are unreadable)",
                        FrameErrorName(r.stop), h.write_offset, r.next_seq));
  } else if (sealed) {
    if (r.end_offset != h.write_offset || h.last_seq != r.next_seq - 1 ||
        h.entry_count != r.records) {
      Corrupt(path, 0,
              absl::StrFormat("sealed header says %d records to sequence %d "
                              "ending at %d; the frames say %d to %d ending "
                              "at %d",
                              h.entry_count, h.last_seq, h.write_offset,
                              r.records, r.next_seq - 1, r.end_offset));
    } else if (dirty_end > r.end_offset) {
      Corrupt(path, r.end_offset,
              absl::StrFormat("non-zero bytes after the sealed end (up to "
                              "offset %d)",
                              dirty_end));
    }
  } else if (dirty_end > r.end_offset) {
    const std::string what = absl::StrFormat(
        "%s: recovery cuts the log here and zeroes %d bytes%s",
        FrameErrorName(r.stop), dirty_end - r.end_offset,
        r.valid_frame_after != 0
            ? absl::StrFormat(" (a valid frame follows at offset %d)",
                              r.valid_frame_after)
            : "");
    if (last) {
      Torn(path, r.end_offset,
           absl::StrCat(what, "; nothing after it was synced"));
    } else {
      Corrupt(path, r.end_offset, what);
    }
  }
  *next_seq = r.next_seq;
  prev_sealed_ = sealed;
}

}  // namespace cairn::storage
