#include "manifest_log.h"

#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"

namespace cairn::storage {

ManifestWriter::ManifestWriter(std::unique_ptr<File> file)
    : file_(std::move(file)) {}

absl::Status ManifestWriter::AddRecord(std::string_view payload) {
  std::string frame(8, '\0');
  EncodeFixed32(frame.data(),
                crc32c::Mask(crc32c::Value(payload.data(), payload.size())));
  EncodeFixed32(frame.data() + 4, static_cast<uint32_t>(payload.size()));
  frame.append(payload.data(), payload.size());
  absl::Status s = file_->Append(frame);
  if (s.ok()) s = file_->Sync();
  if (s.ok()) size_ += frame.size();
  return s;
}

absl::Status ManifestWriter::Close() { return file_->Close(); }

namespace {

// Whether whole records with valid checksums, one after the other, run
// from data[q] exactly to the end of the file.
bool RecordsRunToEnd(std::string_view data, size_t q) {
  while (q + 8 <= data.size()) {
    const uint32_t len = DecodeFixed32(data.data() + q + 4);
    if (len == 0 || len > data.size() - q - 8) return false;
    const uint32_t crc = crc32c::Unmask(DecodeFixed32(data.data() + q));
    if (crc32c::Value(data.data() + q + 8, len) != crc) return false;
    q += 8 + len;
    if (q == data.size()) return true;
  }
  return false;
}

// Whether intact records start somewhere in data[from, end) and run to the
// end of the file. A record cut short by a crash is the last thing in the
// file; one that seems to run past the end while intact records follow it
// up to the end had its length damaged. (Requiring the run to reach the
// end keeps bytes inside the cut-short record itself, which hold user keys,
// from passing for a following record.)
bool IntactRecordsAfter(std::string_view data, size_t from) {
  for (size_t q = from; q + 8 <= data.size(); ++q) {
    if (RecordsRunToEnd(data, q)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<ManifestContents> ReadManifestRecords(FileSystem* fs,
                                                     const std::string& path) {
  auto file = fs->Open(path, OpenOptions{.read_only = true});
  if (absl::IsNotFound(file.status())) {
    // CURRENT names it: a damaged CURRENT or a lost MANIFEST.
    return absl::DataLossError(
        absl::StrFormat("%s: the MANIFEST is missing", path));
  }
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string data(*size, '\0');
  auto n = (*file)->ReadAt(0, data.data(), data.size());
  if (!n.ok()) return n.status();
  data.resize(*n);

  ManifestContents out;
  size_t pos = 0;
  while (pos < data.size()) {
    if (data.size() - pos < 8) {
      out.torn_tail = true;
      break;
    }
    const uint32_t crc = crc32c::Unmask(DecodeFixed32(data.data() + pos));
    const uint32_t len = DecodeFixed32(data.data() + pos + 4);
    if (len > data.size() - pos - 8) {
      // An unfinished append, unless the length is what was damaged: the
      // bytes that are there still match the checksum (a whole record), or
      // an intact record follows.
      const std::string_view rest(data.data() + pos + 8, data.size() - pos - 8);
      if (crc32c::Value(rest.data(), rest.size()) == crc ||
          IntactRecordsAfter(data, pos + 1)) {
        return absl::DataLossError(absl::StrFormat(
            "%s: record at offset %d claims %d bytes, past the end of the "
            "file, but its length is damaged (the record or the ones after "
            "it are intact)",
            path, pos, len));
      }
      out.torn_tail = true;
      break;
    }
    std::string_view payload(data.data() + pos + 8, len);
    if (crc32c::Value(payload.data(), payload.size()) != crc) {
      if (pos + 8 + len == data.size()) {
        out.torn_tail = true;
        break;
      }
      return absl::DataLossError(absl::StrFormat(
          "%s: record at offset %d fails its checksum", path, pos));
    }
    out.records.emplace_back(payload);
    pos += 8 + len;
  }
  out.valid_bytes = pos;
  return out;
}

}  // namespace cairn::storage
