// Version and VersionSet: the set of live SSTables, level by level.
//
// A Version is an immutable snapshot of the levels. Level 0 holds flushed
// tables whose key ranges may overlap, newest first; each level >= 1 holds
// tables with disjoint key ranges sorted by smallest key. For any user key,
// versions in a higher (smaller-numbered) level, or in a newer L0 table, are
// newer than those below: reads stop at the first source that answers.
// Readers hold a shared_ptr to the Version they read; files stay on disk
// while any live Version lists them.
//
// VersionSet owns the MANIFEST: LogAndApply writes an edit, syncs it and only
// then installs the new Version as current. Recover rebuilds the current
// Version from CURRENT and the MANIFEST it names, then starts a new MANIFEST
// holding one snapshot edit and switches CURRENT to it atomically (write
// CURRENT.tmp, sync, rename, sync the directory).
//
// Thread-safety: the caller holds the DB mutex for every call; LogAndApply
// releases it while writing and serializes concurrent callers itself.
#ifndef CAIRN_STORAGE_VERSION_SET_H_
#define CAIRN_STORAGE_VERSION_SET_H_

#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "cairn/storage/options.h"
#include "manifest_log.h"
#include "version_edit.h"

namespace cairn::storage {

using FileList = std::vector<std::shared_ptr<FileMetaData>>;

class Version {
 public:
  explicit Version(int num_levels) : levels_(num_levels) {}

  int num_levels() const { return static_cast<int>(levels_.size()); }
  const FileList& files(int level) const { return levels_[level]; }
  uint64_t LevelBytes(int level) const;

  // Files of `level` whose user-key range meets [begin, end] (null:
  // unbounded on that side).
  FileList Overlapping(int level, const std::string_view* begin,
                       const std::string_view* end) const;
  // For level >= 1: the only file that may hold lookup_key (an internal
  // key), or null.
  const std::shared_ptr<FileMetaData>* FindFile(
      int level, std::string_view lookup_key) const;
  // Whether any level deeper than `level` has a file meeting [begin, end].
  bool OverlapsBelow(int level, std::string_view begin,
                     std::string_view end) const;
  // The deepest level holding any file (0 if none).
  int LastNonEmptyLevel() const;

  // Compaction need, computed when the Version is built.
  double score(int level) const { return scores_[level]; }
  uint64_t target_bytes(int level) const { return targets_[level]; }
  uint64_t pending_compaction_bytes() const { return pending_bytes_; }

 private:
  friend class VersionSet;
  void ComputeScores(const Options& options);

  std::vector<FileList> levels_;
  std::vector<double> scores_;
  std::vector<uint64_t> targets_;
  uint64_t pending_bytes_ = 0;
};

class VersionSet {
 public:
  VersionSet(std::string dir, const Options* options);
  ~VersionSet();

  // Whether dir has a CURRENT file (an existing database).
  bool Exists() const;
  // Initializes a brand-new database's MANIFEST and CURRENT.
  absl::Status Create();
  // Loads the levels from the MANIFEST, then rewrites it as a fresh
  // MANIFEST (see above).
  absl::Status Recover();

  // Sets edit's next file number, appends it to the MANIFEST, syncs, and
  // installs the resulting Version. *lock (on the DB mutex) is released during
  // the write. On failure the current Version is unchanged.
  absl::Status LogAndApply(VersionEdit* edit,
                           std::unique_lock<std::mutex>* lock);

  const std::shared_ptr<Version>& current() const { return current_; }
  uint64_t NewFileNumber() { return next_file_number_++; }
  uint64_t next_file_number() const { return next_file_number_; }
  uint64_t flushed_seq() const { return flushed_seq_; }
  // File numbers listed by any Version still referenced by someone.
  void AddLiveFiles(std::set<uint64_t>* live);

  // Writes a MANIFEST and CURRENT describing `version` into another
  // directory (for checkpoints).
  static absl::Status WriteSnapshot(FileSystem* fs, const std::string& dir,
                                    const Version& version,
                                    uint64_t flushed_seq,
                                    uint64_t next_file_number);
  // Writes MANIFEST-<manifest_number> holding the one `edit` (which must
  // describe a whole database) and points CURRENT at it.
  static absl::Status WriteManifest(FileSystem* fs, const std::string& dir,
                                    const VersionEdit& edit,
                                    uint64_t manifest_number);

 private:
  absl::Status Apply(const Version& base, const VersionEdit& edit,
                     Version* out) const;
  absl::Status StartNewManifest(const Version& v, uint64_t flushed_seq,
                                uint64_t number, uint64_t next_file_number);
  static VersionEdit SnapshotEdit(const Version& v, uint64_t flushed_seq,
                                  uint64_t next_file_number);
  // Points CURRENT at MANIFEST-<manifest_number>; *renamed tells whether
  // CURRENT was replaced (even if the directory sync then failed).
  static absl::Status SetCurrentFile(FileSystem* fs, const std::string& dir,
                                     uint64_t manifest_number, bool* renamed);
  void Install(std::shared_ptr<Version> v);

  const std::string dir_;
  const Options* const options_;
  std::shared_ptr<Version> current_;
  std::list<std::weak_ptr<Version>> all_versions_;
  uint64_t next_file_number_ = 2;
  uint64_t flushed_seq_ = 0;
  uint64_t manifest_number_ = 0;
  std::unique_ptr<ManifestWriter> manifest_;
  bool manifest_needs_rotation_ = false;
  bool writing_ = false;  // a LogAndApply is writing the MANIFEST
  std::condition_variable writing_done_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_VERSION_SET_H_
