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
