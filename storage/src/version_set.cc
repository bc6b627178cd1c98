#include "version_set.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "dbformat.h"
#include "filename.h"

namespace cairn::storage {
namespace {

constexpr uint64_t kMaxManifestBytes = 64ull << 20;

bool FileBefore(const FileMetaData& f, std::string_view user_key) {
  return CompareUserKeys(ExtractUserKey(f.largest), user_key) < 0;
}
bool FileAfter(const FileMetaData& f, std::string_view user_key) {
  return CompareUserKeys(ExtractUserKey(f.smallest), user_key) > 0;
}

}  // namespace

// ---------------------------------------------------------------- Version

uint64_t Version::LevelBytes(int level) const {
  uint64_t sum = 0;
  for (const auto& f : levels_[level]) sum += f->file_size;
  return sum;
}

FileList Version::Overlapping(int level, const std::string_view* begin,
                              const std::string_view* end) const {
  FileList out;
  for (const auto& f : levels_[level]) {
    if (begin != nullptr && FileBefore(*f, *begin)) continue;
    if (end != nullptr && FileAfter(*f, *end)) continue;
    out.push_back(f);
  }
  return out;
}

const std::shared_ptr<FileMetaData>* Version::FindFile(
    int level, std::string_view lookup_key) const {
  const FileList& files = levels_[level];
  // First file whose largest >= lookup_key.
  auto it = std::lower_bound(
      files.begin(), files.end(), lookup_key,
      [](const std::shared_ptr<FileMetaData>& f, std::string_view k) {
        return CompareInternalKeys(f->largest, k) < 0;
      });
  if (it == files.end()) return nullptr;
  if (CompareUserKeys(ExtractUserKey((*it)->smallest),
                      ExtractUserKey(lookup_key)) > 0) {
    return nullptr;
  }
  return &*it;
}

bool Version::OverlapsBelow(int level, std::string_view begin,
                            std::string_view end) const {
  for (int l = level + 1; l < num_levels(); ++l) {
    if (!Overlapping(l, &begin, &end).empty()) return true;
  }
  return false;
}

int Version::LastNonEmptyLevel() const {
  for (int l = num_levels() - 1; l > 0; --l) {
    if (!levels_[l].empty()) return l;
  }
  return 0;
}

void Version::ComputeScores(const Options& options) {
  const int n = num_levels();
  scores_.assign(n, 0);
  targets_.assign(n, 0);
  pending_bytes_ = 0;
  double target = static_cast<double>(options.max_bytes_for_level_base);
  for (int l = 1; l < n; ++l) {
    targets_[l] = static_cast<uint64_t>(target);
    target *= options.max_bytes_for_level_multiplier;
  }
  const int trigger = std::max(1, options.level0_file_num_compaction_trigger);
  scores_[0] = static_cast<double>(levels_[0].size()) / trigger;
  if (n > 1 && levels_[0].size() >= static_cast<size_t>(trigger)) {
    pending_bytes_ += LevelBytes(0) + LevelBytes(1);
  }
  // The last level has no target to exceed.
  for (int l = 1; l + 1 < n; ++l) {
    const uint64_t bytes = LevelBytes(l);
    scores_[l] = static_cast<double>(bytes) / targets_[l];
    if (bytes > targets_[l]) {
      // Moving the excess down rewrites it and the overlapping part of the
      // next level, about `multiplier` times its size.
      pending_bytes_ += static_cast<uint64_t>(
          (bytes - targets_[l]) * (options.max_bytes_for_level_multiplier + 1));
    }
  }
}

// ------------------------------------------------------------- VersionSet

VersionSet::VersionSet(std::string dir, const Options* options)
    : dir_(std::move(dir)), options_(options) {
  auto v = std::make_shared<Version>(options_->num_levels);
  v->ComputeScores(*options_);
  Install(std::move(v));
}

VersionSet::~VersionSet() {
  if (manifest_) manifest_->Close().IgnoreError();
}

bool VersionSet::Exists() const {
  return options_->fs->Exists(CurrentFileName(dir_));
}

void VersionSet::Install(std::shared_ptr<Version> v) {
  all_versions_.remove_if(
      [](const std::weak_ptr<Version>& w) { return w.expired(); });
  all_versions_.push_back(v);
  current_ = std::move(v);
}

void VersionSet::AddLiveFiles(std::set<uint64_t>* live) {
  for (auto it = all_versions_.begin(); it != all_versions_.end();) {
    std::shared_ptr<Version> v = it->lock();
    if (!v) {
      it = all_versions_.erase(it);
      continue;
    }
    for (int l = 0; l < v->num_levels(); ++l) {
      for (const auto& f : v->files(l)) live->insert(f->number);
    }
    ++it;
  }
}

absl::Status VersionSet::Apply(const Version& base, const VersionEdit& edit,
                               Version* out) const {
  out->levels_ = base.levels_;
  for (const auto& [level, deleted] : edit.deleted_files()) {
    const uint64_t number = deleted;  // a lambda below captures it
    if (level >= out->num_levels()) {
      return absl::DataLossError(absl::StrFormat(
          "MANIFEST: edit deletes file %d from level %d; the DB has %d levels",
          number, level, out->num_levels()));
    }
    auto& files = out->levels_[level];
    auto it = std::find_if(files.begin(), files.end(),
                           [&](const auto& f) { return f->number == number; });
    if (it == files.end()) {
      return absl::DataLossError(absl::StrFormat(
          "MANIFEST: edit deletes file %d, not in level %d", number, level));
    }
    files.erase(it);
  }
  for (const auto& [level, meta] : edit.new_files()) {
    if (level >= out->num_levels()) {
      return absl::DataLossError(
          absl::StrFormat("MANIFEST: file %d in level %d; the DB has %d levels",
                          meta.number, level, out->num_levels()));
    }
    out->levels_[level].push_back(std::make_shared<FileMetaData>(meta));
  }
  auto& l0 = out->levels_[0];
  std::sort(l0.begin(), l0.end(), [](const auto& a, const auto& b) {
    if (a->largest_seq != b->largest_seq) {
      return a->largest_seq > b->largest_seq;
    }
    return a->number > b->number;
  });
  for (int l = 1; l < out->num_levels(); ++l) {
    auto& files = out->levels_[l];
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      return CompareInternalKeys(a->smallest, b->smallest) < 0;
    });
    for (size_t i = 1; i < files.size(); ++i) {
      if (CompareInternalKeys(files[i - 1]->largest, files[i]->smallest) >= 0) {
        return absl::InternalError(
            absl::StrFormat("level %d: files %d and %d overlap", l,
                            files[i - 1]->number, files[i]->number));
      }
    }
  }
  out->ComputeScores(*options_);
  return absl::OkStatus();
}

VersionEdit VersionSet::SnapshotEdit(const Version& v, uint64_t flushed_seq,
                                     uint64_t next_file_number) {
  VersionEdit edit;
  edit.SetFlushedSequence(flushed_seq);
  edit.SetNextFileNumber(next_file_number);
  for (int l = 0; l < v.num_levels(); ++l) {
    for (const auto& f : v.files(l)) edit.AddFile(l, *f);
  }
  return edit;
}

absl::Status VersionSet::SetCurrentFile(FileSystem* fs, const std::string& dir,
                                        uint64_t manifest_number,
                                        bool* renamed) {
  *renamed = false;
  const std::string tmp = JoinPath(dir, "CURRENT.tmp");
  std::string contents = absl::StrFormat("MANIFEST-%06d\n", manifest_number);
  {
    auto file = fs->Open(tmp, OpenOptions{.create = true, .truncate = true});
    if (!file.ok()) return file.status();
    absl::Status s = (*file)->Append(contents);
    if (s.ok()) s = (*file)->Sync();
    if (s.ok()) s = (*file)->Close();
    if (!s.ok()) return s;
  }
  // The new MANIFEST's directory entry must be durable before CURRENT may
  // name it: a power loss right after the rename must not leave a CURRENT
  // that names a file that is gone.
  if (absl::Status s = fs->SyncDir(dir); !s.ok()) return s;
  absl::Status s = fs->Rename(tmp, CurrentFileName(dir));
  if (s.ok()) {
    *renamed = true;
    s = fs->SyncDir(dir);
  }
  return s;
}

absl::Status VersionSet::WriteSnapshot(FileSystem* fs, const std::string& dir,
                                       const Version& version,
                                       uint64_t flushed_seq,
                                       uint64_t next_file_number) {
  return WriteManifest(fs, dir,
                       SnapshotEdit(version, flushed_seq, next_file_number + 1),
                       next_file_number);
}

absl::Status VersionSet::WriteManifest(FileSystem* fs, const std::string& dir,
                                       const VersionEdit& edit,
                                       uint64_t manifest_number) {
  auto file = fs->Open(ManifestFileName(dir, manifest_number),
                       OpenOptions{.create = true, .truncate = true});
  if (!file.ok()) return file.status();
  ManifestWriter writer(std::move(*file));
  std::string record;
  edit.EncodeTo(&record);
  absl::Status s = writer.AddRecord(record);
  if (s.ok()) s = writer.Close();
  bool renamed;
  if (s.ok()) s = SetCurrentFile(fs, dir, manifest_number, &renamed);
  return s;
}

absl::Status VersionSet::StartNewManifest(const Version& v,
                                          uint64_t flushed_seq, uint64_t number,
                                          uint64_t next_file_number) {
  FileSystem* fs = options_->fs;
  auto file = fs->Open(ManifestFileName(dir_, number),
                       OpenOptions{.create = true, .truncate = true});
  if (!file.ok()) return file.status();
  auto writer = std::make_unique<ManifestWriter>(std::move(*file));
  std::string record;
  SnapshotEdit(v, flushed_seq, next_file_number).EncodeTo(&record);
  absl::Status s = writer->AddRecord(record);
  bool renamed = false;
  if (s.ok()) s = SetCurrentFile(fs, dir_, number, &renamed);
  if (!s.ok()) {
    writer->Close().IgnoreError();
    // Once CURRENT may name the new MANIFEST, both files stay: whichever
    // CURRENT names after a crash must exist.
    if (!renamed) fs->Remove(ManifestFileName(dir_, number)).IgnoreError();
    return s;
  }
  if (manifest_) manifest_->Close().IgnoreError();
  manifest_ = std::move(writer);
  manifest_needs_rotation_ = false;
  const uint64_t old = manifest_number_;
  manifest_number_ = number;
  if (old != 0) fs->Remove(ManifestFileName(dir_, old)).IgnoreError();
  return absl::OkStatus();
}

absl::Status VersionSet::Create() {
  auto v = std::make_shared<Version>(options_->num_levels);
  v->ComputeScores(*options_);
  const uint64_t number = NewFileNumber();
  absl::Status s = StartNewManifest(*v, 0, number, next_file_number_);
  if (s.ok()) Install(std::move(v));
  return s;
}

absl::Status VersionSet::Recover() {
  FileSystem* fs = options_->fs;
  std::string current;
  {
    auto file = fs->Open(CurrentFileName(dir_), OpenOptions{.read_only = true});
    if (!file.ok()) return file.status();
    current.resize(256);
    auto n = (*file)->ReadAt(0, current.data(), current.size());
    if (!n.ok()) return n.status();
    current.resize(*n);
  }
  uint64_t number = 0;
  if (current.empty() || current.back() != '\n' ||
      ParseFileName(current.substr(0, current.size() - 1), &number) !=
          FileType::kManifest) {
    return absl::DataLossError(
        absl::StrFormat("%s: does not name a MANIFEST", CurrentFileName(dir_)));
  }
  const std::string path = ManifestFileName(dir_, number);
  auto contents = ReadManifestRecords(fs, path);
  if (!contents.ok()) return contents.status();
  if (contents->records.empty()) {
    return absl::DataLossError(
        absl::StrFormat("%s: holds no complete record", path));
  }
  Version v(options_->num_levels);
  for (const std::string& record : contents->records) {
    VersionEdit edit;
    absl::Status s = edit.DecodeFrom(record);
    if (s.ok()) {
      Version next(options_->num_levels);
      s = Apply(v, edit, &next);
      v = std::move(next);
    }
    if (!s.ok()) {
      return absl::DataLossError(absl::StrFormat("%s: %s", path, s.message()));
    }
    if (edit.flushed_seq()) flushed_seq_ = *edit.flushed_seq();
    if (edit.next_file_number()) next_file_number_ = *edit.next_file_number();
  }
  for (int l = 0; l < v.num_levels(); ++l) {
    for (const auto& f : v.files(l)) {
      next_file_number_ = std::max(next_file_number_, f->number + 1);
    }
  }
  next_file_number_ = std::max(next_file_number_, number + 1);
  manifest_number_ = number;
  const uint64_t manifest = NewFileNumber();
  absl::Status s =
      StartNewManifest(v, flushed_seq_, manifest, next_file_number_);
  if (s.ok()) Install(std::make_shared<Version>(std::move(v)));
  return s;
}

absl::Status VersionSet::LogAndApply(VersionEdit* edit,
                                     std::unique_lock<std::mutex>* lock) {
  while (writing_) writing_done_.wait(*lock);
  writing_ = true;
  if (edit->flushed_seq() && *edit->flushed_seq() < flushed_seq_) {
    edit->SetFlushedSequence(flushed_seq_);
  }
  edit->SetNextFileNumber(next_file_number_);
  auto v = std::make_shared<Version>(options_->num_levels);
  absl::Status s = Apply(*current_, *edit, v.get());
  const bool rotate = manifest_ == nullptr || manifest_needs_rotation_ ||
                      manifest_->size() > kMaxManifestBytes;
  const uint64_t flushed =
      edit->flushed_seq() ? *edit->flushed_seq() : flushed_seq_;
  const uint64_t manifest = rotate ? NewFileNumber() : 0;
  edit->SetNextFileNumber(next_file_number_);
  if (s.ok()) {
    lock->unlock();
    if (rotate) {
      // A new MANIFEST starts with a snapshot of the new Version.
      s = StartNewManifest(*v, flushed, manifest, *edit->next_file_number());
    } else {
      std::string record;
      edit->EncodeTo(&record);
      s = manifest_->AddRecord(record);
      // What a failed append left in the file is unknown: the next edit
      // starts a new MANIFEST.
      if (!s.ok()) manifest_needs_rotation_ = true;
    }
    lock->lock();
  }
  if (s.ok()) {
    Install(std::move(v));
    flushed_seq_ = flushed;
  }
  writing_ = false;
  writing_done_.notify_all();
  return s;
}

}  // namespace cairn::storage
