#include "two_level_iterator.h"

#include <string>
#include <utility>

namespace cairn::storage {
namespace {

class TwoLevelIterator final : public InternalIterator {
 public:
  TwoLevelIterator(std::unique_ptr<InternalIterator> index_iter,
                   BlockLoader loader, const Comparator* data_cmp)
      : loader_(std::move(loader)),
        index_iter_(std::move(index_iter)),
        data_cmp_(data_cmp) {}

  bool Valid() const override {
    return has_data_ && status_.ok() && data_iter_.Valid();
  }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(std::string_view target) override;
  void SeekForPrev(std::string_view target) override;
  void Next() override;
  void Prev() override;
  std::string_view key() const override { return data_iter_.key(); }
  std::string_view value() const override { return data_iter_.value(); }
  absl::Status status() const override { return status_; }

 private:
  // Records the first error from the index or the data block; true if any.
  bool CheckErrors();
  // Points the data iterator at the block the index is on (unpositioned);
  // keeps the current block if it is the same one.
  void InitDataBlock();
  void ClearData() {
    has_data_ = false;
    block_.reset();
    handle_.clear();
  }
  void SkipEmptyBlocksForward();
  void SkipEmptyBlocksBackward();

  // Declared first so that it, and what it keeps alive, goes last.
  BlockLoader loader_;
  std::unique_ptr<InternalIterator> index_iter_;
  const Comparator* data_cmp_;
  std::shared_ptr<const Block> block_;
  std::string handle_;  // index value of block_
  BlockIter data_iter_;
  bool has_data_ = false;
  absl::Status status_;
};

bool TwoLevelIterator::CheckErrors() {
  if (!status_.ok()) return true;
  if (!index_iter_->status().ok()) {
    status_ = index_iter_->status();
  } else if (has_data_ && !data_iter_.status().ok()) {
    status_ = data_iter_.status();
  } else {
    return false;
  }
  ClearData();
  return true;
}

void TwoLevelIterator::InitDataBlock() {
  if (!index_iter_->Valid()) {
    ClearData();
    return;
  }
  std::string_view handle = index_iter_->value();
  if (has_data_ && handle == handle_) return;
  absl::StatusOr<std::shared_ptr<const Block>> block = loader_(handle);
  if (!block.ok()) {
    ClearData();
    status_ = block.status();
    return;
  }
  block_ = *std::move(block);
  handle_.assign(handle.data(), handle.size());
  data_iter_.Init(block_.get(), data_cmp_);
  has_data_ = true;
}

void TwoLevelIterator::SkipEmptyBlocksForward() {
  while (!CheckErrors() && (!has_data_ || !data_iter_.Valid())) {
    if (!index_iter_->Valid()) {
      ClearData();
      return;
    }
    index_iter_->Next();
    InitDataBlock();
    if (has_data_) data_iter_.SeekToFirst();
  }
}

void TwoLevelIterator::SkipEmptyBlocksBackward() {
  while (!CheckErrors() && (!has_data_ || !data_iter_.Valid())) {
    if (!index_iter_->Valid()) {
      ClearData();
      return;
    }
    index_iter_->Prev();
    InitDataBlock();
    if (has_data_) data_iter_.SeekToLast();
  }
}

void TwoLevelIterator::SeekToFirst() {
  if (!status_.ok()) return;
  index_iter_->SeekToFirst();
  InitDataBlock();
  if (has_data_) data_iter_.SeekToFirst();
  SkipEmptyBlocksForward();
}

void TwoLevelIterator::SeekToLast() {
  if (!status_.ok()) return;
  index_iter_->SeekToLast();
  InitDataBlock();
  if (has_data_) data_iter_.SeekToLast();
  SkipEmptyBlocksBackward();
}

void TwoLevelIterator::Seek(std::string_view target) {
  if (!status_.ok()) return;
  index_iter_->Seek(target);
  InitDataBlock();
  if (has_data_) data_iter_.Seek(target);
  SkipEmptyBlocksForward();
}

void TwoLevelIterator::SeekForPrev(std::string_view target) {
  if (!status_.ok()) return;
  // The first block whose index key is >= target holds the last key <=
  // target, unless all of its keys are > target: then it is the previous
  // block's last key. Past the last index key, it is the table's last key.
  index_iter_->Seek(target);
  if (CheckErrors()) return;
  if (!index_iter_->Valid()) index_iter_->SeekToLast();
  InitDataBlock();
  if (has_data_) data_iter_.SeekForPrev(target);
  SkipEmptyBlocksBackward();
}

void TwoLevelIterator::Next() {
  if (!Valid()) return;
  data_iter_.Next();
  SkipEmptyBlocksForward();
}

void TwoLevelIterator::Prev() {
  if (!Valid()) return;
  data_iter_.Prev();
  SkipEmptyBlocksBackward();
}

}  // namespace

std::unique_ptr<InternalIterator> NewTwoLevelIterator(
    std::unique_ptr<InternalIterator> index_iter, BlockLoader loader,
    const Comparator* data_cmp) {
  return std::make_unique<TwoLevelIterator>(std::move(index_iter),
                                            std::move(loader), data_cmp);
}

}  // namespace cairn::storage
