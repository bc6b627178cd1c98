// Verifier: the work behind VerifyDatabase (cairn/storage/verify.h). It
// reads every file of a closed database and checks every checksum and
// structural invariant the formats of docs/formats.md define, reporting what
// it finds instead of stopping at the first problem. It shares the engine's
// decoders (footer, block, bloom, version edit, WAL frame) but not its
// readers, so that it can say where each problem is and go on past it.
//
// Its checks live in three files: db_verify.cc (CURRENT, the MANIFEST, the
// levels, and Run), verify_table.cc (SSTables) and verify_wal.cc (the WAL).
//
// Not thread-safe; one object per verification.
#ifndef CAIRN_STORAGE_VERIFIER_H_
#define CAIRN_STORAGE_VERIFIER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cairn/storage/verify.h"
#include "cairn/util/file_system.h"
#include "version_edit.h"

namespace cairn::storage {

class Verifier {
 public:
  using Severity = VerifyProblem::Severity;
  static constexpr uint64_t kNoOffset = VerifyProblem::kNoOffset;

  Verifier(std::string dir, const VerifyOptions& options)
      : dir_(std::move(dir)), options_(options), fs_(options.fs) {}

  absl::StatusOr<VerifyReport> Run();

 private:
  struct Segment {
    uint32_t id = 0;
    std::string path;
  };

  void Problem(Severity severity, const std::string& file, uint64_t offset,
               std::string what);
  void Corrupt(const std::string& file, uint64_t offset, std::string what) {
    Problem(Severity::kCorruption, file, offset, std::move(what));
  }
  void Torn(const std::string& file, uint64_t offset, std::string what) {
    Problem(Severity::kTornTail, file, offset, std::move(what));
  }
  // Reads a whole (small) file; on failure reports it and returns nullopt.
  // Opens `path` read-only and sets *size; on failure reports it as
  // corruption of that file (prefixed with `context`, if any) and returns
  // null.
  std::unique_ptr<File> OpenForCheck(const std::string& path, uint64_t* size,
                                     const std::string& context = "");
  std::optional<std::string> ReadWhole(const std::string& path);

  void CheckCurrent();
  void CheckManifest();
  void ApplyEdit(const VersionEdit& edit, uint64_t offset);
  void CheckLevels();
  void CheckTables();
  void CheckTable(int level, const FileMetaData& meta);
  void CheckWal();
  // Checks one segment; *next_seq is the sequence expected next (0 when
  // unknown) and is advanced past its records.
  void CheckSegment(const Segment& seg, bool last, uint64_t* next_seq);

  const std::string dir_;
  const VerifyOptions options_;
  FileSystem* const fs_;
  VerifyReport report_;
  std::map<std::string, int> problems_per_file_;
  std::string manifest_path_;  // empty if CURRENT does not name one
  bool manifest_ok_ = false;
  // The live files, by level, then number.
  std::map<int, std::map<uint64_t, FileMetaData>> levels_;
  bool wal_seen_ = false;
  // Whether the segment checked last was sealed (true before the first).
  bool prev_sealed_ = true;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_VERIFIER_H_
