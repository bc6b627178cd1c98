#include "table_file_writer.h"

#include "dbformat.h"

namespace cairn::storage {

absl::StatusOr<std::unique_ptr<TableFileWriter>> TableFileWriter::Create(
    FileSystem* fs, const std::string& path, uint64_t number,
    const TableBuilderOptions& options) {
  auto file = fs->Open(path, OpenOptions{.create = true, .truncate = true});
  if (!file.ok()) return file.status();
  return std::unique_ptr<TableFileWriter>(
      new TableFileWriter(fs, path, number, std::move(*file), options));
}

TableFileWriter::TableFileWriter(FileSystem* fs, std::string path,
                                 uint64_t number, std::unique_ptr<File> file,
                                 const TableBuilderOptions& options)
    : fs_(fs),
      path_(std::move(path)),
      number_(number),
      file_(std::move(file)),
      builder_(std::make_unique<TableBuilder>(options, file_.get())) {}

TableFileWriter::~TableFileWriter() {
  if (!finished_) Abandon();
}

void TableFileWriter::Add(std::string_view internal_key,
                          std::string_view value) {
  builder_->Add(internal_key, value);
}

void TableFileWriter::AddTombstone(const RangeTombstone& t) {
  if (tombstones_ == 0 || t.begin < smallest_tombstone_) {
    smallest_tombstone_ = t.begin;
  }
  if (tombstones_ == 0 || t.end > largest_tombstone_) {
    largest_tombstone_ = t.end;
  }
  ++tombstones_;
  builder_->AddRangeTombstone(t);
}

absl::StatusOr<FileMetaData> TableFileWriter::Finish() {
  finished_ = true;
  absl::Status s = builder_->Finish();
  if (s.ok()) s = file_->Sync();
  if (s.ok()) s = file_->Close();
  if (!s.ok()) {
    fs_->Remove(path_).IgnoreError();
    return s;
  }
  const TableProperties& p = builder_->properties();
  FileMetaData f;
  f.number = number_;
  f.file_size = builder_->FileSize();
  f.smallest = p.smallest_key;
  f.largest = p.largest_key;
  f.smallest_seq = p.smallest_seq;
  f.largest_seq = p.largest_seq;
  f.num_entries = p.num_entries;
  f.num_deletions = p.num_deletions;
  f.num_range_deletions = p.num_range_deletions;
  if (tombstones_ > 0) {
    // A tombstone's begin bounds the file below with a tag that sorts after
    // the exclusive-end sentinel another file may have at the same user key
    // and before every real version of that key.
    std::string lo =
        MakeInternalKey(smallest_tombstone_, kMaxSequenceNumber, kTypeDeletion);
    std::string hi = MakeInternalKey(largest_tombstone_, kMaxSequenceNumber,
                                     kTypeRangeDeletion);
    if (f.smallest.empty() || CompareInternalKeys(lo, f.smallest) < 0) {
      f.smallest = std::move(lo);
    }
    if (f.largest.empty() || CompareInternalKeys(hi, f.largest) > 0) {
      f.largest = std::move(hi);
    }
  }
  return f;
}

void TableFileWriter::Abandon() {
  finished_ = true;
  builder_->Abandon();
  file_->Close().IgnoreError();
  fs_->Remove(path_).IgnoreError();
}

}  // namespace cairn::storage
