#include "version_edit.h"

#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"

namespace cairn::storage {
namespace {

// Field tags. Stored on disk: never renumber.
enum Tag : uint32_t {
  kFlushedSeq = 1,
  kNextFileNumber = 2,
  kDeletedFile = 3,
  kNewFile = 4,
};

constexpr int kMaxLevels = 64;

}  // namespace

void VersionEdit::EncodeTo(std::string* dst) const {
  if (flushed_seq_) {
    PutVarint32(dst, kFlushedSeq);
    PutVarint64(dst, *flushed_seq_);
  }
  if (next_file_number_) {
    PutVarint32(dst, kNextFileNumber);
    PutVarint64(dst, *next_file_number_);
  }
  for (const auto& [level, number] : deleted_files_) {
    PutVarint32(dst, kDeletedFile);
    PutVarint32(dst, level);
    PutVarint64(dst, number);
  }
  for (const auto& [level, f] : new_files_) {
    PutVarint32(dst, kNewFile);
    PutVarint32(dst, level);
    PutVarint64(dst, f.number);
    PutVarint64(dst, f.file_size);
    PutLengthPrefixed(dst, f.smallest);
    PutLengthPrefixed(dst, f.largest);
    PutVarint64(dst, f.smallest_seq);
    PutVarint64(dst, f.largest_seq);
    PutVarint64(dst, f.num_entries);
    PutVarint64(dst, f.num_deletions);
    PutVarint64(dst, f.num_range_deletions);
  }
}

absl::Status VersionEdit::DecodeFrom(std::string_view src) {
  *this = VersionEdit();
  auto bad = [](const char* what) {
    return absl::DataLossError(
        absl::StrFormat("MANIFEST: malformed version edit (%s)", what));
  };
  while (!src.empty()) {
    uint32_t tag;
    if (!GetVarint32(&src, &tag)) return bad("tag");
    switch (tag) {
      case kFlushedSeq: {
        uint64_t v;
        if (!GetVarint64(&src, &v)) return bad("flushed sequence");
        flushed_seq_ = v;
        break;
      }
      case kNextFileNumber: {
        uint64_t v;
        if (!GetVarint64(&src, &v)) return bad("next file number");
        next_file_number_ = v;
        break;
      }
      case kDeletedFile: {
        uint32_t level;
        uint64_t number;
        if (!GetVarint32(&src, &level) || level >= kMaxLevels ||
            !GetVarint64(&src, &number)) {
          return bad("deleted file");
        }
        deleted_files_.emplace(static_cast<int>(level), number);
        break;
      }
      case kNewFile: {
        uint32_t level;
        FileMetaData f;
        std::string_view smallest, largest;
        if (!GetVarint32(&src, &level) || level >= kMaxLevels ||
            !GetVarint64(&src, &f.number) || !GetVarint64(&src, &f.file_size) ||
            !GetLengthPrefixed(&src, &smallest) ||
            !GetLengthPrefixed(&src, &largest) || smallest.size() < 8 ||
            largest.size() < 8 || !GetVarint64(&src, &f.smallest_seq) ||
            !GetVarint64(&src, &f.largest_seq) ||
            !GetVarint64(&src, &f.num_entries) ||
            !GetVarint64(&src, &f.num_deletions) ||
            !GetVarint64(&src, &f.num_range_deletions)) {
          return bad("new file");
        }
        f.smallest.assign(smallest);
        f.largest.assign(largest);
        new_files_.emplace_back(static_cast<int>(level), std::move(f));
        break;
      }
      default:
        return bad("unknown tag");
    }
  }
  return absl::OkStatus();
}

}  // namespace cairn::storage
