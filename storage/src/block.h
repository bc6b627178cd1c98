// Block: the decoded (uncompressed, checksum-verified) contents of one
// SSTable block, as BlockBuilder laid them out, and BlockIter, the cursor
// over its entries.
//
// A Block is immutable once built and safe to share between threads (the
// block cache hands out shared_ptrs to it). Its constructor checks the
// restart array; a block that fails the check is !valid() and its iterators
// report DataLoss. Iterators check every entry they decode against the
// block's bounds, so a malformed block yields DataLoss, never an
// out-of-bounds read.
//
// A BlockIter does not own its block: whoever creates one keeps the block
// alive (a shared_ptr held next to the iterator) for as long as it is used.
// One thread at a time per iterator.
#ifndef CAIRN_STORAGE_BLOCK_H_
#define CAIRN_STORAGE_BLOCK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "dbformat.h"
#include "internal_iterator.h"

namespace cairn::storage {

class Block {
 public:
  // Takes the bytes BlockBuilder::Finish produced (or read from disk).
  explicit Block(std::string contents);
  // Borrows bytes that stay valid while `pin` (if any) lives: a block read
  // in place from a memory-mapped table.
  Block(std::string_view contents, std::shared_ptr<const void> pin);
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  // False if the restart array is malformed.
  bool valid() const { return restarts_offset_ != kInvalid; }
  // Memory the block holds: what a cache charges for it.
  size_t size() const { return owned_.capacity() + sizeof(Block); }

  // Iterates the entries ordered by cmp. The block must outlive the
  // iterator. With InternalKeyComparator(), entries whose key is shorter than
  // an internal key's tag are reported as DataLoss.
  std::unique_ptr<InternalIterator> NewIterator(const Comparator* cmp) const;

 private:
  friend class BlockIter;
  static constexpr uint32_t kInvalid = UINT32_MAX;

  void Parse();

  std::string owned_;
  std::string_view contents_;  // owned_, or borrowed memory
  std::shared_ptr<const void> pin_;
  uint32_t restarts_offset_ = kInvalid;  // start of the restart array
  uint32_t num_restarts_ = 0;
};

// A key being decoded: either a view of bytes inside the block (restart
// points, whose keys are stored whole) or a copy assembled from the previous
// key's prefix and a delta. Keys up to kInline bytes need no heap memory.
class KeyBuffer {
 public:
  KeyBuffer() = default;
  KeyBuffer(const KeyBuffer&) = delete;
  KeyBuffer& operator=(const KeyBuffer&) = delete;

  std::string_view view() const { return {data_, size_}; }
  size_t size() const { return size_; }
  void clear() {
    data_ = buf_;
    size_ = 0;
  }
  // The key is the n bytes at p, which outlive its use.
  void SetExternal(const char* p, size_t n) {
    data_ = p;
    size_ = n;
  }
  // Keeps the first `shared` bytes of the key (shared <= size()) and appends
  // n bytes from delta.
  void TrimAppend(size_t shared, const char* delta, size_t n);

 private:
  static constexpr size_t kInline = 64;
  void Grow(size_t need, size_t shared);

  char inline_[kInline];
  char* buf_ = inline_;
  size_t cap_ = kInline;
  const char* data_ = inline_;
  size_t size_ = 0;
  std::unique_ptr<char[]> heap_;
};

// Cursor over one block. Usable on the stack (no allocation unless a key
// exceeds KeyBuffer's inline size) and re-targetable with Init, so that
// point lookups and the table iterator reuse one object across blocks.
class BlockIter final : public InternalIterator {
 public:
  BlockIter() = default;
  BlockIter(const Block* block, const Comparator* cmp) { Init(block, cmp); }

  // Points the iterator at block (unpositioned, status OK). A null or
  // invalid block gives an iterator that reports DataLoss.
  void Init(const Block* block, const Comparator* cmp);

  bool Valid() const override { return current_ < restarts_; }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(std::string_view target) override;
  void SeekForPrev(std::string_view target) override;
  void Next() override;
  void Prev() override;
  std::string_view key() const override { return key_.view(); }
  std::string_view value() const override { return value_; }
  absl::Status status() const override { return status_; }

 private:
  int Compare(std::string_view a, std::string_view b) const {
    return internal_keys_ ? CompareInternalKeys(a, b) : cmp_->Compare(a, b);
  }
  uint32_t RestartPoint(uint32_t index) const;
  void SeekToRestartPoint(uint32_t index);
  // Decodes the entry at next_; false (and !Valid) at the end or on
  // corruption.
  bool ParseNextKey();
  // The whole key stored at a restart point; false on corruption.
  bool RestartKey(uint32_t index, std::string_view* key);
  void MarkInvalid();
  void Corruption(const char* what);

  const char* data_ = nullptr;
  uint32_t restarts_ = 0;  // offset of the restart array (end of entries)
  uint32_t num_restarts_ = 0;
  uint32_t current_ = 0;        // offset of the current entry; restarts_: none
  uint32_t next_ = 0;           // offset just past the current entry
  uint32_t restart_index_ = 0;  // restart region holding current_
  const Comparator* cmp_ = nullptr;
  bool internal_keys_ = false;
  size_t min_key_size_ = 0;
  KeyBuffer key_;
  std::string_view value_;
  absl::Status status_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_BLOCK_H_
