#include "cairn/util/fault_injection_file_system.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace cairn {

// Invariants: shadow is exactly what the file would hold after a power loss
// now, unless created is set, in which case the file would be gone. path is
// the key of this state in files_, or empty once the file was removed (open
// wrappers may still hold the state; their syncs then change nothing that
// DropUnsyncedData looks at).
struct FaultInjectionFileSystem::FileState {
  std::string path;
  std::string shadow;
  // Created through this file system and its directory not synced since.
  bool created = false;
  // Bytes written by WriteAt/Append since the last sync (an estimate once
  // ranges of it are made durable through a MappedRegion).
  uint64_t unsynced_bytes = 0;
};

namespace {

absl::Status PowerLost() {
  return absl::ErrnoToStatus(EIO, "power lost (fault injection inactive)");
}

// True for the calls that change a file or directory or sync one; they all
// fail while the file system is inactive.
bool Mutates(FsOp op) {
  switch (op) {
    case FsOp::kOpen:
    case FsOp::kRead:
    case FsOp::kMap:
    case FsOp::kListDir:
      return false;
    default:
      return true;
  }
}

std::string_view ParentDir(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string_view StripTrailingSlashes(std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return dir;
}

absl::StatusOr<std::string> ReadAll(const File& file) {
  absl::StatusOr<uint64_t> size = file.Size();
  if (!size.ok()) return size.status();
  std::string content(*size, '\0');
  size_t done = 0;
  while (done < content.size()) {
    absl::StatusOr<size_t> n =
        file.ReadAt(done, content.data() + done, content.size() - done);
    if (!n.ok()) return n.status();
    if (*n == 0) break;  // shrunk meanwhile
    done += *n;
  }
  content.resize(done);
  return content;
}

// Length of the longest common prefix of a and b.
size_t CommonPrefix(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  return std::mismatch(a.begin(), a.begin() + n, b.begin()).first - a.begin();
}

// SplitMix64: small, seedable and good enough to pick cut points.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Devices write a 512-byte sector whole or not at all; tears fall between
// sectors (the atomicity that databases rely on for small headers).
constexpr size_t kSectorSize = 512;

// A torn version of the change from durable to current: a random sector
// boundary in the range where they differ; bytes before it come from
// current, bytes from it on from durable (as if the writes reached the disk
// in file order and the power went off at the cut).
std::string TornContent(const std::string& current, const std::string& durable,
                        uint64_t* rng) {
  const size_t lo = CommonPrefix(current, durable);
  size_t hi = std::max(current.size(), durable.size());
  if (current.size() == durable.size()) {
    while (hi > lo && current[hi - 1] == durable[hi - 1]) --hi;
  }
  if (lo == hi) return current;
  const size_t cut =
      (lo + NextRandom(rng) % (hi - lo + 1)) / kSectorSize * kSectorSize;
  if (cut >= hi) return current;
  const size_t keep = std::min(cut, current.size());
  std::string torn = current.substr(0, keep);
  if (keep < durable.size()) torn.append(durable, keep);
  return torn;
}

}  // namespace

// Checks one call against the rules on construction; if a kCrashAfter rule
// picked it, the power goes out when the Call is destroyed, i.e. once the
// function performing the call has done it and updated the durable state.
class FaultInjectionFileSystem::Call {
 public:
  Call(FaultInjectionFileSystem* fs, FsOp op, std::string_view path,
       std::string_view other_path = {}, bool creating = false)
      : fs_(fs), verdict_(fs->CheckFault(op, path, other_path, creating)) {}
  ~Call() {
    if (verdict_.crash_after) {
      std::lock_guard<std::mutex> lock(fs_->mu_);
      fs_->active_ = false;
      fs_->crashed_ = true;
    }
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  const absl::Status& status() const { return verdict_.status; }
  bool torn() const { return verdict_.torn; }

 private:
  FaultInjectionFileSystem* const fs_;
  const Verdict verdict_;
};

// Forwards to the base file, consulting the fault rules before each call and
// reporting writes and syncs to the file system. state_ is null for files
// opened read-only (they are not tracked).
class FaultInjectionFileSystem::FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem* fs, const std::string& path,
            std::unique_ptr<File> base, std::shared_ptr<FileState> state)
      : File(path), fs_(fs), base_(std::move(base)), state_(std::move(state)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* buf,
                                size_t n) const override {
    Call call(fs_, FsOp::kRead, fs_->CurrentPath(state_.get(), path()));
    if (!call.status().ok()) return call.status();
    return base_->ReadAt(offset, buf, n);
  }

  absl::Status WriteAt(uint64_t offset, std::string_view data) override {
    Call call(fs_, FsOp::kWrite, fs_->CurrentPath(state_.get(), path()));
    if (!call.status().ok()) {
      if (call.torn() &&
          base_->WriteAt(offset, data.substr(0, data.size() / 2)).ok()) {
        Wrote(data.size() / 2);
      }
      return call.status();
    }
    absl::Status s = base_->WriteAt(offset, data);
    if (s.ok()) Wrote(data.size());
    return s;
  }

  absl::Status Append(std::string_view data) override {
    Call call(fs_, FsOp::kWrite, fs_->CurrentPath(state_.get(), path()));
    if (!call.status().ok()) {
      if (call.torn() && base_->Append(data.substr(0, data.size() / 2)).ok()) {
        Wrote(data.size() / 2);
      }
      return call.status();
    }
    absl::Status s = base_->Append(data);
    if (s.ok()) Wrote(data.size());
    return s;
  }

  absl::Status Sync() override {
    Call call(fs_, FsOp::kSync, fs_->CurrentPath(state_.get(), path()));
    if (!call.status().ok()) return call.status();
    if (absl::Status s = base_->Sync(); !s.ok()) return s;
    if (state_ == nullptr) return absl::OkStatus();
    // fdatasync also makes stores through mappings durable, so the whole
    // content is read back rather than only what went through WriteAt.
    absl::StatusOr<std::string> content = ReadAll(*base_);
    if (!content.ok()) return content.status();
    std::lock_guard<std::mutex> lock(fs_->mu_);
    fs_->ApplyFileSyncLocked(state_.get(), *std::move(content));
    return absl::OkStatus();
  }

  absl::Status Allocate(uint64_t offset, uint64_t length) override {
    Call call(fs_, FsOp::kAllocate, fs_->CurrentPath(state_.get(), path()));
    if (!call.status().ok()) return call.status();
    return base_->Allocate(offset, length);
  }

  absl::Status Truncate(uint64_t size) override {
    Call call(fs_, FsOp::kTruncate, fs_->CurrentPath(state_.get(), path()));
    if (!call.status().ok()) return call.status();
    return base_->Truncate(size);
  }

  absl::StatusOr<uint64_t> Size() const override { return base_->Size(); }

  absl::StatusOr<std::unique_ptr<MappedRegion>> Map(uint64_t offset,
                                                    size_t length,
                                                    bool writable) override;

  absl::Status Close() override { return base_->Close(); }

 private:
  void Wrote(uint64_t bytes) {
    if (state_ == nullptr) return;
    std::lock_guard<std::mutex> lock(fs_->mu_);
    state_->unsynced_bytes += bytes;
  }

  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<File> base_;
  const std::shared_ptr<FileState> state_;
};

// Forwards to the base region; a successful Sync copies the synced range into
// the file's shadow. The region may outlive its File, so it finds the file's
// size through the file system, by the file's current name.
class FaultInjectionFileSystem::FaultRegion final : public MappedRegion {
 public:
  FaultRegion(FaultInjectionFileSystem* fs, std::string path,
              std::unique_ptr<MappedRegion> base,
              std::shared_ptr<FileState> state)
      : MappedRegion(base->data(), base->size(), base->file_offset()),
        fs_(fs),
        path_(std::move(path)),
        base_(std::move(base)),
        state_(std::move(state)) {}

  absl::Status Sync(size_t offset, size_t length) override {
    Call call(fs_, FsOp::kMapSync, fs_->CurrentPath(state_.get(), path_));
    if (!call.status().ok()) return call.status();
    if (absl::Status s = base_->Sync(offset, length); !s.ok()) return s;
    if (state_ == nullptr) return absl::OkStatus();
    offset = std::min(offset, size());
    length = std::min(length, size() - offset);
    std::string current_path;
    {
      std::lock_guard<std::mutex> lock(fs_->mu_);
      current_path = state_->path;
    }
    if (current_path.empty()) return absl::OkStatus();  // removed
    const uint64_t end = file_offset() + offset + length;
    absl::StatusOr<uint64_t> file_size = fs_->base_->FileSize(current_path);
    std::lock_guard<std::mutex> lock(fs_->mu_);
    fs_->ApplyRangeSyncLocked(state_.get(), file_offset() + offset,
                              data() + offset, length,
                              file_size.ok() ? *file_size : end);
    return absl::OkStatus();
  }

  // A hint that changes no byte: passed through, never failed.
  absl::Status Prefault(size_t offset, size_t length) override {
    return base_->Prefault(offset, length);
  }
  // Changes no byte either: passed through.
  absl::Status ReleasePages(size_t offset, size_t length) override {
    return base_->ReleasePages(offset, length);
  }

 private:
  FaultInjectionFileSystem* const fs_;
  const std::string path_;
  const std::unique_ptr<MappedRegion> base_;
  const std::shared_ptr<FileState> state_;
};

absl::StatusOr<std::unique_ptr<MappedRegion>>
FaultInjectionFileSystem::FaultFile::Map(uint64_t offset, size_t length,
                                         bool writable) {
  Call call(fs_, FsOp::kMap, fs_->CurrentPath(state_.get(), path()));
  if (!call.status().ok()) return call.status();
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      base_->Map(offset, length, writable);
  if (!region.ok()) return region.status();
  return std::make_unique<FaultRegion>(fs_, path(), *std::move(region), state_);
}

const char* FsOpName(FsOp op) {
  switch (op) {
    case FsOp::kOpen:
      return "open";
    case FsOp::kRead:
      return "read";
    case FsOp::kWrite:
      return "write";
    case FsOp::kSync:
      return "sync";
    case FsOp::kMapSync:
      return "map-sync";
    case FsOp::kAllocate:
      return "allocate";
    case FsOp::kTruncate:
      return "truncate";
    case FsOp::kMap:
      return "map";
    case FsOp::kRename:
      return "rename";
    case FsOp::kRemove:
      return "remove";
    case FsOp::kLink:
      return "link";
    case FsOp::kCreateDir:
      return "create-dir";
    case FsOp::kListDir:
      return "list-dir";
    case FsOp::kSyncDir:
      return "sync-dir";
    case FsOp::kLock:
      return "lock";
  }
  return "unknown";
}

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem* base)
    : base_(base) {}

FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

void FaultInjectionFileSystem::InjectFault(FaultRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back(std::move(rule));
  rule_hits_.push_back(0);
}

void FaultInjectionFileSystem::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
  rule_hits_.clear();
}

int FaultInjectionFileSystem::injected_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return injected_;
}

void FaultInjectionFileSystem::SetActive(bool active) {
  std::lock_guard<std::mutex> lock(mu_);
  active_ = active;
  if (active) crashed_ = false;
}

bool FaultInjectionFileSystem::crashed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return crashed_;
}

void FaultInjectionFileSystem::StartRecording() {
  std::lock_guard<std::mutex> lock(mu_);
  recording_ = true;
  recorded_.clear();
}

std::vector<FsCall> FaultInjectionFileSystem::StopRecording() {
  std::lock_guard<std::mutex> lock(mu_);
  recording_ = false;
  return std::move(recorded_);
}

uint64_t FaultInjectionFileSystem::UnsyncedBytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t total = 0;
  for (const auto& [path, state] : files_) total += state->unsynced_bytes;
  return total;
}

// A rule counts every call that matches its op and path filter; it lets the
// first `skip` of them through and picks the next `times`. A rule that lets a
// call through (skipping or used up) leaves it to the rules after it.
FaultInjectionFileSystem::Verdict FaultInjectionFileSystem::CheckFault(
    FsOp op, std::string_view path, std::string_view other_path,
    bool creating) {
  Verdict verdict;
  std::lock_guard<std::mutex> lock(mu_);
  if (!active_ && (Mutates(op) || creating)) {
    verdict.status = PowerLost();
  } else {
    for (size_t i = 0; i < rules_.size(); ++i) {
      const FaultRule& rule = rules_[i];
      if (rule.op != op) continue;
      if (rule.creating_only && !creating) continue;
      if (rule.path_matches) {
        if (!rule.path_matches(path) &&
            (other_path.empty() || !rule.path_matches(other_path))) {
          continue;
        }
      } else if (!rule.path_contains.empty() &&
                 path.find(rule.path_contains) == std::string_view::npos &&
                 other_path.find(rule.path_contains) ==
                     std::string_view::npos) {
        continue;
      }
      const int seen = rule_hits_[i];
      if (seen < std::numeric_limits<int>::max()) ++rule_hits_[i];
      if (seen < rule.skip) continue;
      if (rule.times >= 0 && seen - rule.skip >= rule.times) continue;
      ++injected_;
      switch (rule.action) {
        case FaultAction::kFail:
          verdict.status = rule.status;
          verdict.torn = op == FsOp::kWrite && rule.torn;
          break;
        case FaultAction::kCrashBefore:
          active_ = false;
          crashed_ = true;
          verdict.status = PowerLost();
          break;
        case FaultAction::kCrashAfter:
          verdict.crash_after = true;
          break;
      }
      break;
    }
  }
  if (recording_) {
    recorded_.push_back(FsCall{.op = op,
                               .path = std::string(path),
                               .other_path = std::string(other_path),
                               .creating = creating,
                               .failed = !verdict.status.ok()});
  }
  return verdict;
}

std::string FaultInjectionFileSystem::CurrentPath(
    const FileState* state, const std::string& opened_as) const {
  if (state == nullptr) return opened_as;
  std::lock_guard<std::mutex> lock(mu_);
  return state->path.empty() ? opened_as : state->path;
}

void FaultInjectionFileSystem::ApplyFileSyncLocked(FileState* state,
                                                   std::string content) {
  state->shadow = std::move(content);
  state->unsynced_bytes = 0;
}

void FaultInjectionFileSystem::ApplyRangeSyncLocked(FileState* state,
                                                    uint64_t offset,
                                                    const char* data,
                                                    size_t length,
                                                    uint64_t file_size) {
  // The sync makes the size durable too; bytes it adds were never synced and
  // so read back as zeros.
  state->shadow.resize(file_size, '\0');
  if (offset < file_size) {
    length = std::min<uint64_t>(length, file_size - offset);
    std::memcpy(state->shadow.data() + offset, data, length);
  }
  state->unsynced_bytes -= std::min<uint64_t>(state->unsynced_bytes, length);
}

absl::StatusOr<std::unique_ptr<File>> FaultInjectionFileSystem::Open(
    const std::string& path, const OpenOptions& options) {
  const bool writable = !options.read_only;
  // An open that may create or truncate fails while the power is out.
  Call call(this, FsOp::kOpen, path, {},
            writable && (options.create || options.truncate));
  if (!call.status().ok()) return call.status();
  if (!writable) {
    absl::StatusOr<std::unique_ptr<File>> file = base_->Open(path, options);
    if (!file.ok()) return file.status();
    return std::make_unique<FaultFile>(this, path, *std::move(file), nullptr);
  }

  std::shared_ptr<FileState> state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it != files_.end()) state = it->second;
  }
  // A file seen for the first time is durable as it is now (before any
  // truncation by this open).
  bool existed = true;
  std::string durable;
  if (state == nullptr) {
    existed = base_->Exists(path);
    if (existed) {
      absl::StatusOr<std::unique_ptr<File>> old =
          base_->Open(path, OpenOptions{.read_only = true});
      if (!old.ok()) return old.status();
      absl::StatusOr<std::string> content = ReadAll(**old);
      if (!content.ok()) return content.status();
      durable = *std::move(content);
    }
  }
  absl::StatusOr<std::unique_ptr<File>> file = base_->Open(path, options);
  if (!file.ok()) return file.status();
  if (state == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<FileState>& slot = files_[path];
    if (slot == nullptr) {
      slot = std::make_shared<FileState>();
      slot->path = path;
      slot->shadow = std::move(durable);
      slot->created = !existed;
    }
    state = slot;
  }
  return std::make_unique<FaultFile>(this, path, *std::move(file),
                                     std::move(state));
}

absl::Status FaultInjectionFileSystem::Rename(const std::string& from,
                                              const std::string& to) {
  Call call(this, FsOp::kRename, from, to);
  if (!call.status().ok()) return call.status();
  // Whether `to` names a file whose directory entry is durable: replacing
  // it atomically keeps the name durable (with the new content).
  bool replaces_durable_name = false;
  if (from != to) {
    std::shared_ptr<FileState> target;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = files_.find(to); it != files_.end()) target = it->second;
    }
    replaces_durable_name =
        target != nullptr ? !target->created : base_->Exists(to);
  }
  if (absl::Status s = base_->Rename(from, to); !s.ok()) return s;
  if (from == to) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  if (auto replaced = files_.find(to); replaced != files_.end()) {
    replaced->second->path.clear();
    files_.erase(replaced);
  }
  // The rename itself is durable at once (see the header), but a file created
  // and not yet covered by a SyncDir stays so under a new name: it survives
  // a power loss once its new directory is synced. Under the name of a file
  // that was durable it survives at once (a rename replaces its target
  // atomically: the name never goes missing).
  if (auto moved = files_.find(from); moved != files_.end()) {
    std::shared_ptr<FileState> state = std::move(moved->second);
    files_.erase(moved);
    state->path = to;
    if (replaces_durable_name) state->created = false;
    files_[to] = std::move(state);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::Remove(const std::string& path) {
  Call call(this, FsOp::kRemove, path);
  if (!call.status().ok()) return call.status();
  if (absl::Status s = base_->Remove(path); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = files_.find(path); it != files_.end()) {
    it->second->path.clear();
    files_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::Link(const std::string& from,
                                            const std::string& to) {
  Call call(this, FsOp::kLink, from, to);
  if (!call.status().ok()) return call.status();
  // The new name is not tracked: it shares the inode of `from`, which is
  // rewound in place on power loss, so both names see the same content.
  return base_->Link(from, to);
}

absl::Status FaultInjectionFileSystem::CreateDir(const std::string& path) {
  Call call(this, FsOp::kCreateDir, path);
  if (!call.status().ok()) return call.status();
  return base_->CreateDir(path);
}

absl::Status FaultInjectionFileSystem::RemoveDir(const std::string& path) {
  // FsOp has no separate entry for directories: kRemove rules apply.
  Call call(this, FsOp::kRemove, path);
  if (!call.status().ok()) return call.status();
  return base_->RemoveDir(path);
}

absl::StatusOr<std::vector<std::string>> FaultInjectionFileSystem::ListDir(
    const std::string& dir) {
  Call call(this, FsOp::kListDir, dir);
  if (!call.status().ok()) return call.status();
  return base_->ListDir(dir);
}

absl::Status FaultInjectionFileSystem::SyncDir(const std::string& dir) {
  Call call(this, FsOp::kSyncDir, dir);
  if (!call.status().ok()) return call.status();
  if (absl::Status s = base_->SyncDir(dir); !s.ok()) return s;
  const std::string_view synced = StripTrailingSlashes(dir);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, state] : files_) {
    if (ParentDir(path) == synced) state->created = false;
  }
  return absl::OkStatus();
}

bool FaultInjectionFileSystem::Exists(const std::string& path) {
  return base_->Exists(path);
}

absl::StatusOr<uint64_t> FaultInjectionFileSystem::FileSize(
    const std::string& path) {
  return base_->FileSize(path);
}

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionFileSystem::Lock(
    const std::string& path) {
  Call call(this, FsOp::kLock, path);
  if (!call.status().ok()) return call.status();
  return base_->Lock(path);
}

absl::StatusOr<uint64_t> FaultInjectionFileSystem::FreeSpace(
    const std::string& path) {
  return base_->FreeSpace(path);
}

absl::Status FaultInjectionFileSystem::DropUnsyncedData(PowerLossMode mode,
                                                        uint32_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t rng = seed;
  absl::Status result;
  for (auto it = files_.begin(); it != files_.end();) {
    bool removed = false;
    absl::Status s =
        DropFileLocked(it->first, it->second.get(), mode, &rng, &removed);
    result.Update(s);
    if (removed) {
      it->second->path.clear();
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  return result;
}

absl::Status FaultInjectionFileSystem::DropFileLocked(const std::string& path,
                                                      FileState* state,
                                                      PowerLossMode mode,
                                                      uint64_t* rng,
                                                      bool* removed) {
  *removed = false;
  if (state->created) {
    *removed = true;
    absl::Status s = base_->Remove(path);
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  }
  absl::StatusOr<std::unique_ptr<File>> file = base_->Open(path, OpenOptions{});
  if (!file.ok()) {
    // Removed behind our back (not through this file system): forget it.
    *removed = absl::IsNotFound(file.status());
    return *removed ? absl::OkStatus() : file.status();
  }
  absl::StatusOr<std::string> current = ReadAll(**file);
  if (!current.ok()) return current.status();
  std::string target = mode == PowerLossMode::kDropAll
                           ? state->shadow
                           : TornContent(*current, state->shadow, rng);
  // Rewrite only from the first byte that changes.
  const size_t same = CommonPrefix(*current, target);
  if (same < current->size() || same < target.size()) {
    if (absl::Status s = (*file)->Truncate(same); !s.ok()) return s;
    const std::string_view changed(target.data() + same, target.size() - same);
    if (absl::Status s = (*file)->WriteAt(same, changed); !s.ok()) {
      return s;
    }
  }
  state->shadow = std::move(target);
  state->unsynced_bytes = 0;
  return (*file)->Close();
}

}  // namespace cairn
