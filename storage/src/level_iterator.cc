#include "level_iterator.h"

#include <algorithm>

#include "dbformat.h"

namespace cairn::storage {
namespace {

class LevelIterator final : public InternalIterator {
 public:
  LevelIterator(TableCache* cache, const FileList* files, bool fill_cache)
      : cache_(cache), files_(files), fill_cache_(fill_cache) {}

  bool Valid() const override { return iter_ != nullptr && iter_->Valid(); }
  void SeekToFirst() override {
    if (!Open(0)) return;
    if (iter_) iter_->SeekToFirst();
    SkipEmptyForward();
  }
  void SeekToLast() override {
    if (!Open(files_->size() - 1)) return;
    if (iter_) iter_->SeekToLast();
    SkipEmptyBackward();
  }
  void Seek(std::string_view target) override {
    size_t i = FirstFileNotBefore(target);
    if (!Open(i)) return;
    if (iter_) iter_->Seek(target);
    SkipEmptyForward();
  }
  void SeekForPrev(std::string_view target) override {
    size_t i = FirstFileNotBefore(target);
    if (i == files_->size()) i = files_->size() - 1;
    if (!Open(i)) return;
    if (iter_) iter_->SeekForPrev(target);
    SkipEmptyBackward();
  }
  void Next() override {
    iter_->Next();
    SkipEmptyForward();
  }
  void Prev() override {
    iter_->Prev();
    SkipEmptyBackward();
  }
  std::string_view key() const override { return iter_->key(); }
  std::string_view value() const override { return iter_->value(); }
  absl::Status status() const override {
    if (!status_.ok()) return status_;
    return iter_ ? iter_->status() : absl::OkStatus();
  }

 private:
  // First file whose largest key is >= target.
  size_t FirstFileNotBefore(std::string_view target) const {
    return std::lower_bound(
               files_->begin(), files_->end(), target,
               [](const std::shared_ptr<FileMetaData>& f, std::string_view k) {
                 return CompareInternalKeys(f->largest, k) < 0;
               }) -
           files_->begin();
  }

  // Positions on file i (or nothing if out of range). False on error.
  bool Open(size_t i) {
    if (i >= files_->size()) {
      iter_.reset();
      index_ = files_->size();
      return true;
    }
    if (iter_ && index_ == i) return true;
    index_ = i;
    iter_.reset();  // before the table it reads is released
    const FileMetaData& f = *(*files_)[i];
    auto table = cache_->Get(f.number, f.file_size);
    if (!table.ok()) {
      status_ = table.status();
      iter_.reset();
      return false;
    }
    table_ = *table;
    iter_ = table_->NewIterator(fill_cache_);
    return true;
  }

  void SkipEmptyForward() {
    while (iter_ && !iter_->Valid() && iter_->status().ok()) {
      if (index_ + 1 >= files_->size()) {
        iter_.reset();
        return;
      }
      if (!Open(index_ + 1)) return;
      iter_->SeekToFirst();
    }
  }
  void SkipEmptyBackward() {
    while (iter_ && !iter_->Valid() && iter_->status().ok()) {
      if (index_ == 0) {
        iter_.reset();
        return;
      }
      if (!Open(index_ - 1)) return;
      iter_->SeekToLast();
    }
  }

  TableCache* const cache_;
  const FileList* const files_;
  const bool fill_cache_;
  size_t index_ = 0;
  std::shared_ptr<Table> table_;
  std::unique_ptr<InternalIterator> iter_;
  absl::Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> NewLevelIterator(TableCache* cache,
                                                   const FileList* files,
                                                   bool fill_cache) {
  if (files->empty()) return NewEmptyIterator();
  return std::make_unique<LevelIterator>(cache, files, fill_cache);
}

}  // namespace cairn::storage
