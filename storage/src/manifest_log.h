// The MANIFEST's record framing (docs/formats.md, "MANIFEST"): each record is
// [fixed32 masked CRC32C of payload][fixed32 payload length][payload]. A
// writer appends and syncs whole records; ReadManifestRecords reads them back.
//
// A record cut short at the end of the file, or a last record whose checksum
// fails, is the trace of a crash during an append that was never
// acknowledged: it is dropped and reported as a torn tail. A bad record with
// more records after it is corruption (DataLoss).
//
// Thread-safety: a ManifestWriter belongs to one thread at a time.
#ifndef CAIRN_STORAGE_MANIFEST_LOG_H_
#define CAIRN_STORAGE_MANIFEST_LOG_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/util/file_system.h"

namespace cairn::storage {

class ManifestWriter {
 public:
  explicit ManifestWriter(std::unique_ptr<File> file);
  // Appends one record and makes it durable.
  absl::Status AddRecord(std::string_view payload);
  uint64_t size() const { return size_; }
  absl::Status Close();

 private:
  std::unique_ptr<File> file_;
  uint64_t size_ = 0;
};

struct ManifestContents {
  std::vector<std::string> records;
  bool torn_tail = false;
  uint64_t valid_bytes = 0;  // length of the good prefix
};

// DataLoss also if the file does not exist (CURRENT, or an edit, names it).
absl::StatusOr<ManifestContents> ReadManifestRecords(FileSystem* fs,
                                                     const std::string& path);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_MANIFEST_LOG_H_
