// The POSIX implementation of FileSystem (Linux: fdatasync, fallocate,
// flock, mmap).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "cairn/util/file_system.h"

namespace cairn {
namespace {

absl::Status ErrnoStatus(const char* what, const std::string& path, int err) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

class PosixMappedRegion final : public MappedRegion {
 public:
  PosixMappedRegion(char* data, size_t size, uint64_t file_offset,
                    std::string path)
      : MappedRegion(data, size, file_offset), path_(std::move(path)) {}
  ~PosixMappedRegion() override { munmap(data(), size()); }

  absl::Status ReleasePages(size_t offset, size_t length) override {
    if (length == 0) return absl::OkStatus();
    if (madvise(data() + offset, length, MADV_DONTNEED) != 0) {
      return ErrnoStatus("madvise(MADV_DONTNEED)", path_, errno);
    }
    return absl::OkStatus();
  }

  absl::Status Prefault(size_t offset, size_t length) override {
#ifdef MADV_POPULATE_WRITE
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t start = offset / page * page;
    const size_t end = std::min(size(), offset + length);
    if (start >= end) return absl::OkStatus();
    if (madvise(data() + start, end - start, MADV_POPULATE_WRITE) != 0 &&
        errno != EINVAL) {
      // EINVAL: a kernel older than 5.14; faults then happen on first store.
      return ErrnoStatus("madvise(MADV_POPULATE_WRITE)", path_, errno);
    }
#endif
    return absl::OkStatus();
  }

  absl::Status Sync(size_t offset, size_t length) override {
    if (offset > size() || length > size() - offset) {
      return absl::OutOfRangeError(
          absl::StrCat("msync range outside the mapping of ", path_));
    }
    if (length == 0) return absl::OkStatus();
    // msync needs a page-aligned start.
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t start = offset / page * page;
    if (msync(data() + start, offset + length - start, MS_SYNC) != 0) {
      return ErrnoStatus("msync", path_, errno);
    }
    return absl::OkStatus();
  }

 private:
  std::string path_;
};

class PosixFile final : public File {
 public:
  PosixFile(std::string path, int fd, bool read_only)
      : File(std::move(path)), fd_(fd), read_only_(read_only) {}
  ~PosixFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf,
                                size_t n) const override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf + done, n - done, offset + done);
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path(), errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }

  absl::Status WriteAt(uint64_t offset, std::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t r =
          ::pwrite(fd_, data.data() + done, data.size() - done, offset + done);
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path(), errno);
      }
      done += static_cast<size_t>(r);
    }
    return absl::OkStatus();
  }

  absl::Status Append(std::string_view data) override {
    absl::StatusOr<uint64_t> size = Size();
    if (!size.ok()) return size.status();
    return WriteAt(*size, data);
  }

  absl::Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path(), errno);
    return absl::OkStatus();
  }

  absl::Status Allocate(uint64_t offset, uint64_t length) override {
    if (length == 0) return absl::OkStatus();
    int err = ::posix_fallocate(fd_, static_cast<off_t>(offset),
                                static_cast<off_t>(length));
    if (err != 0) return ErrnoStatus("fallocate", path(), err);
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus("truncate", path(), errno);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", path(), errno);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset,
                                                    size_t length,
                                                    bool writable) override {
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    if (offset % page != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "map offset ", offset, " of ", path(), " is not page aligned"));
    }
    if (length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty mapping of ", path()));
    }
    absl::StatusOr<uint64_t> file_size = Size();
    if (!file_size.ok()) return file_size.status();
    if (offset > *file_size || length > *file_size - offset) {
      // Touching a mapping beyond the end of the file raises SIGBUS.
      return absl::OutOfRangeError(
          absl::StrCat("map of [", offset, ", ", offset + length, ") outside ",
                       path(), " (", *file_size, " bytes)"));
    }
    if (writable && read_only_) {
      return absl::FailedPreconditionError(
          absl::StrCat("writable map of read-only file ", path()));
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void* p = ::mmap(nullptr, length, prot, MAP_SHARED, fd_,
                     static_cast<off_t>(offset));
    if (p == MAP_FAILED) return ErrnoStatus("mmap", path(), errno);
    return std::unique_ptr<MappedRegion>(
        new PosixMappedRegion(static_cast<char*>(p), length, offset, path()));
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    int r = ::close(fd_);
    fd_ = -1;
    if (r != 0) return ErrnoStatus("close", path(), errno);
    return absl::OkStatus();
  }

 private:
  int fd_;
  bool read_only_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(
      const std::string& path, const OpenOptions& options) override {
    int flags = O_CLOEXEC | (options.read_only ? O_RDONLY : O_RDWR);
    if (options.create) flags |= O_CREAT;
    if (options.create && options.exclusive) flags |= O_EXCL;
    if (options.truncate) flags |= O_TRUNC;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return ErrnoStatus("open", path, errno);
    return std::unique_ptr<File>(new PosixFile(path, fd, options.read_only));
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus("rename", absl::StrCat(from, " to ", to), errno);
    }
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoStatus("remove", path, errno);
    return absl::OkStatus();
  }

  absl::Status Link(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus("link", absl::StrCat(from, " to ", to), errno);
    }
    return absl::OkStatus();
  }

  absl::Status CreateDir(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return ErrnoStatus("mkdir", path, ec.value());
    return absl::OkStatus();
  }

  absl::Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return ErrnoStatus("rmdir", path, errno);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus("opendir", dir, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
        continue;
      names.emplace_back(e->d_name);
    }
    ::closedir(d);
    return names;
  }

  absl::Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open dir", dir, errno);
    int r = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (r != 0) return ErrnoStatus("fsync dir", dir, err);
    return absl::OkStatus();
  }

  bool Exists(const std::string& path) override {
    return ::access(path.c_str(), F_OK) == 0;
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::StatusOr<std::unique_ptr<FileLock>> Lock(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("open lock file", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(absl::StrCat(
            "lock ", path, " is held by another process or instance"));
      }
      return ErrnoStatus("lock", path, err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }

  absl::StatusOr<uint64_t> FreeSpace(const std::string& path) override {
    struct statvfs s;
    if (::statvfs(path.c_str(), &s) != 0) {
      return ErrnoStatus("statvfs", path, errno);
    }
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  }
};

}  // namespace

FileSystem* FileSystem::Default() {
  static FileSystem* fs = new PosixFileSystem();
  return fs;
}

}  // namespace cairn
