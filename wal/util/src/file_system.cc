#include "cairn/util/file_system.h"

#include <string>

namespace cairn {

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  path.append(name);
  return path;
}

absl::Status CopyFile(FileSystem* fs, const std::string& from,
                      const std::string& to) {
  OpenOptions read_options;
  read_options.read_only = true;
  absl::StatusOr<std::unique_ptr<File>> src = fs->Open(from, read_options);
  if (!src.ok()) return src.status();
  OpenOptions write_options;
  write_options.create = true;
  write_options.truncate = true;
  absl::StatusOr<std::unique_ptr<File>> dst = fs->Open(to, write_options);
  if (!dst.ok()) return dst.status();

  constexpr size_t kChunk = 1 << 20;
  std::string buf(kChunk, '\0');
  uint64_t offset = 0;
  for (;;) {
    absl::StatusOr<size_t> n = (*src)->ReadAt(offset, buf.data(), kChunk);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    absl::Status s = (*dst)->WriteAt(offset, std::string_view(buf.data(), *n));
    if (!s.ok()) return s;
    offset += *n;
  }
  if (absl::Status s = (*dst)->Sync(); !s.ok()) return s;
  return (*dst)->Close();
}

}  // namespace cairn
