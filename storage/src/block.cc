#include "block.h"

#include <algorithm>
#include <cstring>

#include "cairn/util/coding.h"

namespace cairn::storage {

Block::Block(std::string contents)
    : owned_(std::move(contents)), contents_(owned_) {
  Parse();
}

Block::Block(std::string_view contents, std::shared_ptr<const void> pin)
    : contents_(contents), pin_(std::move(pin)) {
  Parse();
}

void Block::Parse() {
  const size_t n = contents_.size();
  if (n < 4 || n >= kInvalid) return;
  const char* data = contents_.data();
  const uint32_t num = DecodeFixed32(data + n - 4);
  if (num == 0 || num > (n - 4) / 4) return;
  const uint32_t offset = static_cast<uint32_t>(n - 4 - 4 * size_t{num});
  if (offset == 0) {  // no entries: one (ignored) restart point suffices
    restarts_offset_ = 0;
    num_restarts_ = 1;
    return;
  }
  // Restart points must start at 0, increase, and lie inside the entries;
  // checked once here so that iterators may trust them.
  uint32_t prev = 0;
  for (uint32_t i = 0; i < num; ++i) {
    const uint32_t r = DecodeFixed32(data + offset + 4 * size_t{i});
    if (i == 0 ? r != 0 : r <= prev) return;
    if (r >= offset) return;
    prev = r;
  }
  restarts_offset_ = offset;
  num_restarts_ = num;
}

std::unique_ptr<InternalIterator> Block::NewIterator(
    const Comparator* cmp) const {
  return std::make_unique<BlockIter>(this, cmp);
}

void KeyBuffer::TrimAppend(size_t shared, const char* delta, size_t n) {
  const size_t need = shared + n;
  if (need > cap_) {
    Grow(need, shared);
  } else if (data_ != buf_ && shared > 0) {
    std::memcpy(buf_, data_, shared);
  }
  std::memcpy(buf_ + shared, delta, n);
  data_ = buf_;
  size_ = need;
}

void KeyBuffer::Grow(size_t need, size_t shared) {
  const size_t cap = std::max(need, cap_ * 2);
  std::unique_ptr<char[]> heap(new char[cap]);
  std::memcpy(heap.get(), data_, shared);  // data_ may be in the old heap_
  heap_ = std::move(heap);
  buf_ = heap_.get();
  cap_ = cap;
  data_ = buf_;
}

namespace {

// Decodes an entry header (shared, non_shared, value_len varints) at p and
// checks that the key delta and value fit before limit. Returns the first
// byte after the header, or null if the entry is malformed.
inline const char* DecodeEntry(const char* p, const char* limit,
                               uint32_t* shared, uint32_t* non_shared,
                               uint32_t* value_len) {
  if (limit - p < 3) return nullptr;
  const auto b0 = static_cast<uint8_t>(p[0]);
  const auto b1 = static_cast<uint8_t>(p[1]);
  const auto b2 = static_cast<uint8_t>(p[2]);
  if ((b0 | b1 | b2) < 128) {  // the common case: three one-byte varints
    *shared = b0;
    *non_shared = b1;
    *value_len = b2;
    p += 3;
  } else {
    std::string_view in(p, limit - p);
    if (!GetVarint32(&in, shared) || !GetVarint32(&in, non_shared) ||
        !GetVarint32(&in, value_len)) {
      return nullptr;
    }
    p = in.data();
  }
  if (uint64_t{*non_shared} + *value_len > static_cast<uint64_t>(limit - p)) {
    return nullptr;
  }
  return p;
}

}  // namespace

void BlockIter::Init(const Block* block, const Comparator* cmp) {
  cmp_ = cmp;
  internal_keys_ = cmp == InternalKeyComparator();
  min_key_size_ = internal_keys_ ? 8 : 0;
  status_ = absl::OkStatus();
  key_.clear();
  value_ = {};
  if (block == nullptr || !block->valid()) {
    data_ = nullptr;
    restarts_ = num_restarts_ = current_ = next_ = restart_index_ = 0;
    status_ = absl::DataLossError("malformed block: bad restart array");
    return;
  }
  data_ = block->contents_.data();
  restarts_ = block->restarts_offset_;
  num_restarts_ = block->num_restarts_;
  current_ = next_ = restarts_;
  restart_index_ = num_restarts_;
}

uint32_t BlockIter::RestartPoint(uint32_t index) const {
  return DecodeFixed32(data_ + restarts_ + 4 * size_t{index});
}

void BlockIter::SeekToRestartPoint(uint32_t index) {
  key_.clear();
  restart_index_ = index;
  next_ = RestartPoint(index);
}

void BlockIter::MarkInvalid() {
  current_ = next_ = restarts_;
  restart_index_ = num_restarts_;
  key_.clear();
  value_ = {};
}

void BlockIter::Corruption(const char* what) {
  MarkInvalid();
  status_ = absl::DataLossError(std::string("malformed block: ") + what);
}

bool BlockIter::ParseNextKey() {
  current_ = next_;
  if (current_ >= restarts_) {
    MarkInvalid();
    return false;
  }
  uint32_t shared, non_shared, value_len;
  const char* p = DecodeEntry(data_ + current_, data_ + restarts_, &shared,
                              &non_shared, &value_len);
  if (p == nullptr || shared > key_.size()) {
    Corruption("bad entry");
    return false;
  }
  if (shared == 0) {
    key_.SetExternal(p, non_shared);
  } else {
    key_.TrimAppend(shared, p, non_shared);
  }
  if (key_.size() < min_key_size_) {
    Corruption("internal key too short");
    return false;
  }
  value_ = std::string_view(p + non_shared, value_len);
  next_ = static_cast<uint32_t>(p + non_shared + value_len - data_);
  while (restart_index_ + 1 < num_restarts_ &&
         RestartPoint(restart_index_ + 1) <= current_) {
    ++restart_index_;
  }
  return true;
}

bool BlockIter::RestartKey(uint32_t index, std::string_view* key) {
  uint32_t shared, non_shared, value_len;
  const char* p = DecodeEntry(data_ + RestartPoint(index), data_ + restarts_,
                              &shared, &non_shared, &value_len);
  if (p == nullptr || shared != 0 || non_shared < min_key_size_) {
    Corruption("bad restart entry");
    return false;
  }
  *key = std::string_view(p, non_shared);
  return true;
}

void BlockIter::SeekToFirst() {
  if (data_ == nullptr || !status_.ok()) return;
  SeekToRestartPoint(0);
  ParseNextKey();
}

void BlockIter::SeekToLast() {
  if (data_ == nullptr || !status_.ok()) return;
  SeekToRestartPoint(num_restarts_ - 1);
  if (!ParseNextKey()) return;
  while (next_ < restarts_) {
    if (!ParseNextKey()) return;
  }
}

void BlockIter::Seek(std::string_view target) {
  if (data_ == nullptr || !status_.ok()) return;
  // Last restart point whose key is < target: the first key >= target is in
  // its region or is the next restart point's key.
  uint32_t left = 0;
  uint32_t right = num_restarts_ - 1;
  while (left < right) {
    const uint32_t mid = left + (right - left + 1) / 2;
    std::string_view mid_key;
    if (!RestartKey(mid, &mid_key)) return;
    if (Compare(mid_key, target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  SeekToRestartPoint(left);
  while (ParseNextKey()) {
    if (Compare(key_.view(), target) >= 0) return;
  }
}

void BlockIter::SeekForPrev(std::string_view target) {
  Seek(target);
  if (!status_.ok()) return;
  if (!Valid()) {
    SeekToLast();
  } else if (Compare(key_.view(), target) > 0) {
    Prev();
  }
}

void BlockIter::Next() {
  if (!Valid()) return;
  ParseNextKey();
}

void BlockIter::Prev() {
  if (!Valid()) return;
  // Entries only link forward: re-scan from the restart point before the
  // current entry up to the entry that ends where the current one starts.
  const uint32_t original = current_;
  while (RestartPoint(restart_index_) >= original) {
    if (restart_index_ == 0) {
      MarkInvalid();
      return;
    }
    --restart_index_;
  }
  SeekToRestartPoint(restart_index_);
  do {
    if (!ParseNextKey()) return;
  } while (next_ < original);
}

}  // namespace cairn::storage
