// FileSystem is the single door through which the WAL and the storage engine
// touch disk: open, positional read/write, append, preallocate, sync, mmap,
// rename, remove, list, lock and directory sync. Going through one interface
// lets tests substitute FaultInjectionFileSystem to inject EIO/ENOSPC, torn
// writes and power loss without changing engine code.
//
// Thread-safety: FileSystem implementations are safe for concurrent use.
// A File may be used from several threads for positional I/O (ReadAt/WriteAt,
// Sync); Append is not synchronized and needs one writer at a time. A
// MappedRegion's memory follows the usual rules for shared memory: the caller
// orders its own accesses.
#ifndef CAIRN_UTIL_FILE_SYSTEM_H_
#define CAIRN_UTIL_FILE_SYSTEM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn {

// How FileSystem::Open treats an existing or missing file.
struct OpenOptions {
  bool read_only = false;  // open O_RDONLY; writes and writable maps fail
  bool create = false;     // create the file if it does not exist
  bool exclusive = false;  // with create: fail with AlreadyExists if it exists
  bool truncate = false;   // truncate an existing file to zero bytes
};

// A window of a file mapped into memory (MAP_SHARED). Stores into data() reach
// the file's page cache immediately; Sync makes a range durable. Unmapped on
// destruction. A region stays valid even if its file is closed or removed.
class MappedRegion {
 public:
  virtual ~MappedRegion() = default;
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }
  // File offset of data()[0].
  uint64_t file_offset() const { return file_offset_; }

  // Makes bytes [offset, offset + length) of the region durable on the device
  // (msync MS_SYNC, which on Linux is an fdatasync of that range, including the
  // metadata needed to read it back). Offsets are relative to data().
  virtual absl::Status Sync(size_t offset, size_t length) = 0;

  // Faults bytes [offset, offset + length) in, writable, without changing
  // them, so that later stores there take no page fault. A hint: where the
  // kernel cannot do it, it does nothing and returns OK.
  virtual absl::Status Prefault(size_t offset, size_t length) {
    return absl::OkStatus();
  }

  // Drops the page-table entries of [offset, offset + length) (offset and
  // length page aligned) without changing the file: dirty data stays in the
  // page cache and later accesses map it again (MADV_DONTNEED on a shared
  // file mapping). Used before syncing a log prefix that is no longer
  // written: writeback then has no writable mapping to protect page by
  // page, each with a TLB shootdown. A hint: OK where unsupported.
  virtual absl::Status ReleasePages(size_t offset, size_t length) {
    return absl::OkStatus();
  }

 protected:
  MappedRegion(char* data, size_t size, uint64_t file_offset)
      : data_(data), size_(size), file_offset_(file_offset) {}

 private:
  char* data_;
  size_t size_;
  uint64_t file_offset_;
};

// An open file.
class File {
 public:
  virtual ~File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }

  // Reads up to n bytes at offset into buf; returns how many were read (fewer
  // than n only at end of file).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf,
                                        size_t n) const = 0;
  // Writes all of data at offset (retrying short writes).
  virtual absl::Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // Writes all of data at the end of the file.
  virtual absl::Status Append(std::string_view data) = 0;
  // fdatasync: makes written data (and the size) durable.
  virtual absl::Status Sync() = 0;
  // Reserves [offset, offset + length) so later stores cannot hit ENOSPC; the
  // reserved range reads as zeros and the file grows to cover it.
  virtual absl::Status Allocate(uint64_t offset, uint64_t length) = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
  // Maps [offset, offset + length) of the file. offset must be page aligned
  // and the range must lie inside the file.
  virtual absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset,
                                                            size_t length,
                                                            bool writable) = 0;
  // Closes the descriptor; later calls fail. The destructor closes too, but
  // cannot report an error.
  virtual absl::Status Close() = 0;

 protected:
  explicit File(std::string path) : path_(std::move(path)) {}

 private:
  std::string path_;
};

// An exclusive advisory lock on a file, held until destruction. Another
// holder, in this or another process, cannot take it meanwhile.
class FileLock {
 public:
  virtual ~FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 protected:
  FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The process-wide POSIX file system. Never destroyed.
  static FileSystem* Default();

  virtual absl::StatusOr<std::unique_ptr<File>> Open(
      const std::string& path, const OpenOptions& options) = 0;
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  // Creates a hard link `to` naming the same file as `from`.
  virtual absl::Status Link(const std::string& from, const std::string& to) = 0;
  virtual absl::Status CreateDir(const std::string& path) = 0;  // mkdir -p
  virtual absl::Status RemoveDir(const std::string& path) = 0;  // empty dir
  // Names of the entries of dir (no "." or ".."), unsorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) = 0;
  // Makes the directory's entries (creates, renames, removes) durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Takes an exclusive lock on path (created if missing). FailedPrecondition
  // if someone else holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> Lock(
      const std::string& path) = 0;
  // Bytes available to an unprivileged user on the file system holding path.
  virtual absl::StatusOr<uint64_t> FreeSpace(const std::string& path) = 0;
};

// Joins a directory and a file name with one '/'.
std::string JoinPath(std::string_view dir, std::string_view name);

// Copies a whole file through fs, syncing the copy (not its directory: the
// caller syncs that once after copying several files). Used for backups.
absl::Status CopyFile(FileSystem* fs, const std::string& from,
                      const std::string& to);

}  // namespace cairn

#endif  // CAIRN_UTIL_FILE_SYSTEM_H_
