#include "sequence_index.h"

#include <algorithm>

namespace cairn::wal {

void SequenceIndex::Add(uint64_t first_seq, uint64_t offset,
                        uint64_t interval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.empty() || offset >= entries_.back().offset + interval) {
    entries_.push_back({first_seq, offset});
    next_entry_offset_.store(offset + interval, std::memory_order_relaxed);
  }
}

bool SequenceIndex::Lookup(uint64_t seq, Entry* entry) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::upper_bound(
      entries_.begin(), entries_.end(), seq,
      [](uint64_t s, const Entry& e) { return s < e.first_seq; });
  if (it == entries_.begin()) return false;
  *entry = *(it - 1);
  return true;
}

void SequenceIndex::TruncateFrom(uint64_t offset) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!entries_.empty() && entries_.back().offset >= offset) {
    entries_.pop_back();
  }
  next_entry_offset_.store(offset, std::memory_order_relaxed);
  ++generation_;
}

uint64_t SequenceIndex::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

void SequenceIndex::MaybeAddIn(uint64_t generation, uint64_t first_seq,
                               uint64_t offset, uint64_t interval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (generation != generation_) return;
  if (entries_.empty() || offset >= entries_.back().offset + interval) {
    entries_.push_back({first_seq, offset});
    next_entry_offset_.store(offset + interval, std::memory_order_relaxed);
  }
}

void SequenceIndex::SetCompleteIn(uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  if (generation == generation_) set_complete();
}

}  // namespace cairn::wal
