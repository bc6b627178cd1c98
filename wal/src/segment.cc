#include "segment.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cairn::wal {

std::string SegmentFileName(uint32_t id) {
  return absl::StrFormat("%010u.wal", id);
}

std::string SpareFileName(uint32_t id) {
  return absl::StrFormat("%010u.spare", id);
}

bool ParseSegmentFileName(std::string_view name, uint32_t* id, bool* spare) {
  if (name.size() == 14 && name.substr(10) == ".wal") {
    *spare = false;
  } else if (name.size() == 16 && name.substr(10) == ".spare") {
    *spare = true;
  } else {
    return false;
  }
  uint64_t v = 0;
  for (char c : name.substr(0, 10)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return false;
  *id = static_cast<uint32_t>(v);
  return true;
}

Segment::Segment(FileSystem* fs, std::string dir, std::string path, uint32_t id,
                 std::unique_ptr<File> file,
                 std::unique_ptr<MappedRegion> region,
                 std::unique_ptr<MappedRegion> read_region)
    : fs_(fs),
      dir_(std::move(dir)),
      path_(std::move(path)),
      id_(id),
      file_(std::move(file)),
      region_(std::move(region)),
      write_data_(region_->data()),
      read_region_(std::move(read_region)) {
  if (read_region_->size() < kSegmentHeaderSize) {
    header_status_ = absl::DataLossError("segment shorter than its header");
  } else {
    header_status_ = DecodeSegmentHeader(read_region_->data(), &header_);
    header_durable_ = header_status_.ok() && header_.first_seq != 0;
  }
}

Segment::~Segment() {
  region_.reset();
  read_region_.reset();
  file_.reset();
  if (obsolete_.load(std::memory_order_acquire) && !file_removed_) {
    // Best effort: a file that survives (e.g. EIO) is below the retention
    // watermark and is removed again by the next Open's retention pass.
    fs_->Remove(path_).IgnoreError();
  }
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Create(
    FileSystem* fs, const std::string& dir, uint32_t id, uint64_t first_seq,
    uint64_t size, uint64_t now_ns) {
  const bool spare = first_seq == 0;
  const std::string path =
      JoinPath(dir, spare ? SpareFileName(id) : SegmentFileName(id));
  const std::string tmp = JoinPath(dir, SegmentFileName(id) + ".tmp");
  {
    OpenOptions opts;
    opts.create = true;
    opts.truncate = true;
    absl::StatusOr<std::unique_ptr<File>> f = fs->Open(tmp, opts);
    if (!f.ok()) return f.status();
    SegmentHeader h;
    h.segment_id = id;
    h.first_seq = first_seq;
    h.last_seq = spare ? 0 : first_seq - 1;
    h.created_ns = now_ns;
    h.modified_ns = now_ns;
    h.write_offset = kSegmentHeaderSize;
    h.flags = kFlagActive;
    char buf[kSegmentHeaderSize];
    EncodeSegmentHeader(h, buf);
    absl::Status s = (*f)->Allocate(0, size);
    if (s.ok()) s = (*f)->WriteAt(0, std::string_view(buf, sizeof(buf)));
    if (s.ok()) s = (*f)->Sync();
    if (s.ok()) s = (*f)->Close();
    if (s.ok()) s = fs->Rename(tmp, path);
    if (!s.ok()) {
      fs->Remove(tmp).IgnoreError();
      return s;
    }
  }
  if (absl::Status s = fs->SyncDir(dir); !s.ok()) {
    // The segment is complete but its name may not be durable; without it
    // the log cannot promise anything written into it, so give it up.
    fs->Remove(path).IgnoreError();
    return s;
  }
  absl::StatusOr<std::shared_ptr<Segment>> seg = Open(fs, dir, id, spare);
  if (!seg.ok()) {
    fs->Remove(path).IgnoreError();
    return seg.status();
  }
  if (!(*seg)->header_status().ok()) return (*seg)->header_status();
  (*seg)->index().set_complete();  // empty, and grows with every append
  return seg;
}

absl::StatusOr<std::shared_ptr<Segment>> Segment::Open(FileSystem* fs,
                                                       const std::string& dir,
                                                       uint32_t id,
                                                       bool spare) {
  std::string path =
      JoinPath(dir, spare ? SpareFileName(id) : SegmentFileName(id));
  absl::StatusOr<std::unique_ptr<File>> f = fs->Open(path, OpenOptions{});
  if (!f.ok()) return f.status();
  absl::StatusOr<uint64_t> size = (*f)->Size();
  if (!size.ok()) return size.status();
  if (*size < kMinSegmentSize) {
    return absl::DataLossError(absl::StrCat("segment ", path, " is ", *size,
                                            " bytes, less than the minimum ",
                                            kMinSegmentSize));
  }
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      (*f)->Map(0, *size, /*writable=*/true);
  if (!region.ok()) return region.status();
  absl::StatusOr<std::unique_ptr<MappedRegion>> read_region =
      (*f)->Map(0, *size, /*writable=*/false);
  if (!read_region.ok()) return read_region.status();
  return std::shared_ptr<Segment>(new Segment(fs, dir, std::move(path), id,
                                              std::move(*f), std::move(*region),
                                              std::move(*read_region)));
}

absl::Status Segment::Activate(uint64_t first_seq, uint64_t now_ns) {
  const std::string path = JoinPath(dir_, SegmentFileName(id_));
  if (absl::Status s = fs_->Rename(path_, path); !s.ok()) return s;
  path_ = path;
  SegmentHeader h = header_;
  h.first_seq = first_seq;
  h.last_seq = first_seq - 1;
  h.created_ns = now_ns;
  h.modified_ns = now_ns;
  if (absl::Status s = WriteHeader(h); !s.ok()) return s;
  header_durable_ = false;
  return absl::OkStatus();
}

absl::Status Segment::WriteHeader(const SegmentHeader& h) {
  header_ = h;
  return WriteHeaderBytes(h);
}

absl::Status Segment::WriteHeaderBytes(const SegmentHeader& h) const {
  char buf[kSegmentHeaderSize];
  EncodeSegmentHeader(h, buf);
  return file_->WriteAt(0, std::string_view(buf, sizeof(buf)));
}

absl::Status Segment::ZeroRange(uint64_t from, uint64_t to) {
  static const std::string* const kZeros = new std::string(1 << 20, '\0');
  while (from < to) {
    const uint64_t n = std::min<uint64_t>(to - from, kZeros->size());
    if (absl::Status s =
            file_->WriteAt(from, std::string_view(*kZeros).substr(0, n));
        !s.ok()) {
      return s;
    }
    from += n;
  }
  return absl::OkStatus();
}

void Segment::Retire() {
  std::lock_guard<std::mutex> l(region_mu_);
  region_.reset();
  write_data_ = nullptr;
}

absl::Status Segment::Unretire() {
  std::lock_guard<std::mutex> l(region_mu_);
  if (region_) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file_->Map(0, read_region_->size(), /*writable=*/true);
  if (!region.ok()) return region.status();
  region_ = *std::move(region);
  write_data_ = region_->data();
  released_end_ = 0;
  return absl::OkStatus();
}

void Segment::Redirty(uint64_t from, uint64_t to) {
  if (to <= from) return;
  if (std::shared_ptr<MappedRegion> w = writable()) {
    w->Prefault(from, to - from).IgnoreError();
    return;
  }
  // Rewrite the same bytes through the file: the pages become dirty again.
  file_->WriteAt(from, std::string_view(read_region_->data() + from, to - from))
      .IgnoreError();
}

absl::Status Segment::Sync(uint64_t end) {
  const uint64_t n = std::max<uint64_t>(end, kSegmentHeaderSize);
  std::shared_ptr<MappedRegion> w;
  {
    std::lock_guard<std::mutex> l(region_mu_);
    w = region_;
    // The writer stores only past end from now on: unmap the whole pages
    // below it from the writable mapping before they are written back.
    const uint64_t release_end = end / kPageSize * kPageSize;
    if (w && release_end > released_end_ &&
        w->ReleasePages(released_end_, release_end - released_end_).ok()) {
      released_end_ = release_end;
    }
  }
  // A retired segment is synced through its read-only mapping.
  absl::Status s = w ? w->Sync(0, n) : read_region_->Sync(0, n);
  if (s.ok()) header_durable_.store(true, std::memory_order_release);
  return s;
}

}  // namespace cairn::wal
