#include "filename.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "cairn/util/file_system.h"

namespace cairn::storage {

std::string TableFileName(std::string_view dir, uint64_t number) {
  return JoinPath(dir, absl::StrFormat("%06d.sst", number));
}
std::string ManifestFileName(std::string_view dir, uint64_t number) {
  return JoinPath(dir, absl::StrFormat("MANIFEST-%06d", number));
}
std::string CurrentFileName(std::string_view dir) {
  return JoinPath(dir, "CURRENT");
}
std::string LockFileName(std::string_view dir) { return JoinPath(dir, "LOCK"); }
std::string WalDirName(std::string_view dir) { return JoinPath(dir, "wal"); }

FileType ParseFileName(std::string_view name, uint64_t* number) {
  *number = 0;
  if (name == "CURRENT") return FileType::kCurrent;
  if (name == "LOCK") return FileType::kLock;
  if (name.size() > 4 && name.substr(name.size() - 4) == ".tmp") {
    return FileType::kTemp;
  }
  constexpr std::string_view kManifest = "MANIFEST-";
  if (name.substr(0, kManifest.size()) == kManifest) {
    std::string digits(name.substr(kManifest.size()));
    return absl::SimpleAtoi(digits, number) ? FileType::kManifest
                                            : FileType::kUnknown;
  }
  if (name.size() > 4 && name.substr(name.size() - 4) == ".sst") {
    std::string digits(name.substr(0, name.size() - 4));
    return absl::SimpleAtoi(digits, number) ? FileType::kTable
                                            : FileType::kUnknown;
  }
  return FileType::kUnknown;
}

}  // namespace cairn::storage
