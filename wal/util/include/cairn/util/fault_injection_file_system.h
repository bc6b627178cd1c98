// FaultInjectionFileSystem wraps another FileSystem (normally the POSIX one
// on a temporary directory) and, for tests, makes it misbehave on demand:
//   - fail chosen calls with a chosen status (EIO, ENOSPC, ...), optionally
//     after skipping the first N matching calls, for M calls or forever;
//   - tear a write: the failing WriteAt/Append writes a prefix of its bytes;
//   - crash: at a chosen call the power goes out, just before the call (it
//     fails) or right after it (it takes effect), and from then on the file
//     system is inactive (see SetActive);
//   - record every call (operation, paths), so that a test can enumerate the
//     call sites of a workload and then fail each one in turn;
//   - "power loss": DropUnsyncedData() rewinds every file written through it
//     to its last durable state, forgetting every byte not yet synced, and
//     removes files created since their directory was last synced.
//
// Model of durability (what DropUnsyncedData restores):
//   - File::Sync makes the whole current content and size durable.
//   - MappedRegion::Sync(off, len) makes that range durable (and the size).
//   - Bytes never synced read back as zeros after a power loss (as the
//     unwritten extents of a preallocated file do); a file's durable size is
//     its size at its last sync.
//   - A created file survives power loss only once SyncDir ran on its
//     directory. Renames and removes are treated as durable at once (a
//     documented simplification: the code under test syncs directories after
//     renames anyway, and the tests of that are explicit). A created file
//     renamed over a file whose name was durable is durable under that name
//     at once (a rename replaces its target atomically, so the name never
//     goes missing); renamed to a new name, it still needs a SyncDir.
//
// Thread-safety: safe for concurrent use, like any FileSystem. Fault rules
// and power-loss calls may be issued from the test thread while other threads
// use the file system.
#ifndef CAIRN_UTIL_FAULT_INJECTION_FILE_SYSTEM_H_
#define CAIRN_UTIL_FAULT_INJECTION_FILE_SYSTEM_H_

#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "cairn/util/file_system.h"

namespace cairn {

// The calls a fault rule can target.
enum class FsOp {
  kOpen,
  kRead,
  kWrite,     // File::WriteAt and File::Append
  kSync,      // File::Sync
  kMapSync,   // MappedRegion::Sync
  kAllocate,  // File::Allocate
  kTruncate,
  kMap,
  kRename,
  kRemove,
  kLink,
  kCreateDir,
  kListDir,
  kSyncDir,
  kLock,
};

// Returns the name of op ("open", "write", ...), for messages.
const char* FsOpName(FsOp op);

// What a rule does to a call it picks.
enum class FaultAction {
  kFail,  // the call fails with the rule's status
  // The power goes out just before the call: the call fails (EIO, "power
  // lost") and the file system turns inactive, as SetActive(false).
  kCrashBefore,
  // The call goes through; as it returns, the power goes out (whether or not
  // the call succeeded by itself). What it made durable (a sync, a rename)
  // stays durable.
  kCrashAfter,
};

struct FaultRule {
  FsOp op;
  // The rule matches only calls whose path contains this substring ("" = all).
  std::string path_contains;
  // If set, replaces path_contains: the rule matches a call if this returns
  // true for one of its paths (Rename and Link have two). Called with the
  // file system's lock held: it must not call into the file system.
  std::function<bool(std::string_view path)> path_matches;
  // For kOpen: match only opens that may create or truncate a file.
  bool creating_only = false;
  FaultAction action = FaultAction::kFail;
  // What the failing call returns; by default what the POSIX file system
  // returns for EIO. ENOSPC: absl::ErrnoToStatus(ENOSPC, ...), which is
  // RESOURCE_EXHAUSTED.
  absl::Status status = absl::ErrnoToStatus(EIO, "injected EIO");
  int skip = 0;   // let this many matching calls succeed first
  int times = 1;  // then fail this many (-1: every call from then on)
  // For kWrite: write the first half of the bytes before failing (torn).
  bool torn = false;
};

// One call seen while recording (see StartRecording).
struct FsCall {
  FsOp op;
  std::string path;
  std::string other_path;  // the new name of Rename and Link; else empty
  bool creating = false;   // kOpen that may create or truncate the file
  bool failed = false;     // failed by a rule or because the power was out
};

enum class PowerLossMode {
  kDropAll,  // every unsynced byte is lost
  // A random prefix of each file's unsynced changes survives, cut at a
  // 512-byte sector boundary (devices write a sector atomically).
  kKeepTornPrefix,
};

class FaultInjectionFileSystem : public FileSystem {
 public:
  // base must outlive this object.
  explicit FaultInjectionFileSystem(FileSystem* base);
  ~FaultInjectionFileSystem() override;

  // Adds a rule; rules are checked in the order added, first match wins.
  void InjectFault(FaultRule rule);
  void ClearFaults();
  // How many calls rules have picked so far (failed or crashed at).
  int injected_count() const;
  // Whether a crash rule has fired since the last SetActive(true).
  bool crashed() const;

  // Records every call checked against the rules from now on (every call
  // but Exists, FileSize, FreeSpace, RemoveDir's listing and the hints),
  // forgetting what was recorded before.
  void StartRecording();
  // Stops recording and returns the calls, in the order they were checked.
  std::vector<FsCall> StopRecording();

  // While inactive, every call that would change a file or directory (and
  // every sync, and every open that may create or truncate) fails with an IO
  // error, as if the machine had lost power. Stores into already-mapped
  // memory cannot be stopped, but they are undone by DropUnsyncedData.
  // SetActive(true) also clears crashed().
  void SetActive(bool active);

  // Simulates a power loss: see the model above. Files must no longer be
  // open or mapped through this file system (close the code under test
  // first, with the file system inactive so that closing syncs nothing).
  // seed drives kKeepTornPrefix.
  absl::Status DropUnsyncedData(PowerLossMode mode = PowerLossMode::kDropAll,
                                uint32_t seed = 0);

  // Number of bytes written through this file system that are not durable.
  uint64_t UnsyncedBytes() const;

  // FileSystem:
  absl::StatusOr<std::unique_ptr<File>> Open(
      const std::string& path, const OpenOptions& options) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status Link(const std::string& from, const std::string& to) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::Status RemoveDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override;
  absl::Status SyncDir(const std::string& dir) override;
  bool Exists(const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(
      const std::string& path) override;
  absl::StatusOr<uint64_t> FreeSpace(const std::string& path) override;

 private:
  // What the file system knows about one file opened writable through it:
  // its durable content and whether its directory entry is durable yet.
  struct FileState;
  // The File and MappedRegion wrappers (defined in the .cc). They hold their
  // file's FileState directly, so a file renamed or removed while open keeps
  // recording its syncs against the right state.
  class FaultFile;
  class FaultRegion;
  // One call being checked against the rules (see the .cc).
  class Call;

  // What the rules decide for one call. Requires mu_ not held.
  struct Verdict {
    absl::Status status;       // non-OK: fail the call with it
    bool torn = false;         // a failing write writes half its bytes
    bool crash_after = false;  // the power goes out once the call returned
  };
  Verdict CheckFault(FsOp op, std::string_view path,
                     std::string_view other_path, bool creating);
  // The name a file (or region) opened as `opened_as` has now: rules match,
  // and recording shows, calls on a file renamed while open (a prepared WAL
  // segment put into place) under its new name. Requires mu_ not held.
  std::string CurrentPath(const FileState* state,
                          const std::string& opened_as) const;
  // Updates *state after a successful sync. Require mu_ held.
  void ApplyFileSyncLocked(FileState* state, std::string content);
  void ApplyRangeSyncLocked(FileState* state, uint64_t offset, const char* data,
                            size_t length, uint64_t file_size);
  // Brings one file back to its durable state (see DropUnsyncedData); sets
  // *removed when the file was deleted. Requires mu_ held.
  absl::Status DropFileLocked(const std::string& path, FileState* state,
                              PowerLossMode mode, uint64_t* rng, bool* removed);

  FileSystem* const base_;
  mutable std::mutex mu_;
  std::vector<FaultRule> rules_;  // guarded by mu_
  std::vector<int> rule_hits_;    // guarded by mu_; parallel to rules_
  int injected_ = 0;              // guarded by mu_
  bool active_ = true;            // guarded by mu_
  bool crashed_ = false;          // guarded by mu_
  bool recording_ = false;        // guarded by mu_
  std::vector<FsCall> recorded_;  // guarded by mu_
  // Files opened writable through this file system, by the path they have
  // now (renames move entries). Guarded by mu_, as is every FileState.
  std::map<std::string, std::shared_ptr<FileState>> files_;
};

}  // namespace cairn

#endif  // CAIRN_UTIL_FAULT_INJECTION_FILE_SYSTEM_H_
