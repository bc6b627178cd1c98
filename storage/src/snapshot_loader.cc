#include "cairn/storage/snapshot_loader.h"

#include "absl/strings/str_format.h"
#include "cairn/util/file_system.h"
#include "dbformat.h"
#include "filename.h"
#include "merge_operand.h"
#include "table_file_writer.h"
#include "version_edit.h"
#include "version_set.h"

namespace cairn::storage {
namespace {

std::string JoinDir(const std::string& dir, const std::string& name) {
  return dir + "/" + name;
}

}  // namespace

SnapshotLoader::SnapshotLoader(const Options& options, std::string path,
                               uint64_t snapshot_seq)
    : options_(options), path_(std::move(path)), snapshot_seq_(snapshot_seq) {}

SnapshotLoader::~SnapshotLoader() {
  if (table_ != nullptr) table_->Abandon();
}

absl::StatusOr<std::unique_ptr<SnapshotLoader>> SnapshotLoader::Create(
    const Options& options, const std::string& path, uint64_t snapshot_seq) {
  if (snapshot_seq == 0 || snapshot_seq > kMaxSequenceNumber) {
    return absl::InvalidArgumentError(
        absl::StrFormat("snapshot_seq %d is not a sequence", snapshot_seq));
  }
  FileSystem* fs = options.fs;
  if (absl::Status s = fs->CreateDir(path); !s.ok()) return s;
  auto lock = fs->Lock(LockFileName(path));
  if (!lock.ok()) return lock.status();
  if (fs->Exists(CurrentFileName(path))) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s already holds a database", path));
  }
  auto names = fs->ListDir(path);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    uint64_t number = 0;
    const FileType type = ParseFileName(name, &number);
    if (type == FileType::kLock) continue;
    // What mkfs leaves at the root of a volume (ext4): not data.
    if (name == "lost+found") continue;
    if (type == FileType::kTable || type == FileType::kManifest ||
        type == FileType::kTemp) {
      if (absl::Status s = fs->Remove(JoinDir(path, name)); !s.ok()) return s;
      continue;
    }
    if (name == "wal") {
      auto segments = fs->ListDir(WalDirName(path));
      if (segments.ok() && segments->empty()) continue;
    }
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s is not empty and holds no database ('%s'); a snapshot loads only "
        "into an empty directory",
        path, name));
  }
  std::unique_ptr<SnapshotLoader> loader(
      new SnapshotLoader(options, path, snapshot_seq));
  loader->lock_ = std::move(*lock);
  return loader;
}

absl::Status SnapshotLoader::Add(std::string_view key, std::string_view value,
                                 uint64_t seq, uint64_t expires_at_micros) {
  if (!failed_.ok()) return failed_;
  if (finished_) return absl::FailedPreconditionError("the load is finished");
  if (key.empty()) return absl::InvalidArgumentError("key: empty");
  if (entries_ > 0 && key <= last_key_) {
    return absl::InvalidArgumentError(
        "key: keys must be added in strictly increasing order");
  }
  if (seq == 0 || seq > snapshot_seq_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "seq: %d is not in [1, %d] (the snapshot)", seq, snapshot_seq_));
  }
  if (table_ == nullptr) {
    const uint64_t number = next_file_++;
    auto t =
        TableFileWriter::Create(options_.fs, TableFileName(path_, number),
                                number, TableBuilderOptions::From(options_));
    if (!t.ok()) return failed_ = t.status();
    table_ = std::move(*t);
  }
  std::string ikey;
  if (expires_at_micros == 0) {
    AppendInternalKey(&ikey, key, seq, kTypeValue);
    table_->Add(ikey, value);
  } else {
    AppendInternalKey(&ikey, key, seq, kTypeValueWithExpiry);
    std::string v;
    EncodeValueWithExpiry(&v, value, expires_at_micros);
    table_->Add(ikey, v);
  }
  last_key_.assign(key.data(), key.size());
  ++entries_;
  if (table_->FileSize() >= options_.target_file_size) return CloseTable();
  return absl::OkStatus();
}

absl::Status SnapshotLoader::CloseTable() {
  absl::StatusOr<FileMetaData> meta = table_->Finish();
  table_.reset();
  if (!meta.ok()) return failed_ = meta.status();
  files_.push_back(*meta);
  return absl::OkStatus();
}

absl::Status SnapshotLoader::Finish() {
  if (!failed_.ok()) return failed_;
  if (finished_) return absl::FailedPreconditionError("the load is finished");
  finished_ = true;
  if (table_ != nullptr) {
    if (absl::Status s = CloseTable(); !s.ok()) return s;
  }
  FileSystem* fs = options_.fs;
  if (absl::Status s = fs->SyncDir(path_); !s.ok()) return failed_ = s;
  VersionEdit edit;
  edit.SetFlushedSequence(snapshot_seq_);
  const uint64_t manifest = next_file_++;
  edit.SetNextFileNumber(next_file_);
  for (const FileMetaData& f : files_) edit.AddFile(options_.num_levels - 1, f);
  absl::Status s = VersionSet::WriteManifest(fs, path_, edit, manifest);
  if (s.ok()) s = fs->SyncDir(path_);
  if (!s.ok()) failed_ = s;
  return s;
}

}  // namespace cairn::storage
