#include "arena.h"

#include <algorithm>

namespace cairn::storage {

Arena::Arena() = default;
Arena::~Arena() = default;

char* Arena::AllocateFallback(size_t bytes, size_t alignment) {
  // Room for the worst-case padding, whatever alignment new[] gave the block.
  const size_t needed = bytes + alignment - 1;
  if (needed > next_block_size_ / 4) {
    // A block of its own, so that the rest of the current block is not lost
    // and a big request does not waste most of a fresh block.
    char* block = NewBlock(needed);
    uintptr_t addr = reinterpret_cast<uintptr_t>(block);
    return block + ((alignment - (addr & (alignment - 1))) & (alignment - 1));
  }
  // The current block's tail (smaller than the request) is abandoned.
  ptr_ = NewBlock(next_block_size_);
  remaining_ = next_block_size_;
  next_block_size_ = std::min(next_block_size_ * 2, kMaxBlockSize);
  return alignment == 1 ? Allocate(bytes) : AllocateAligned(bytes, alignment);
}

char* Arena::NewBlock(size_t block_bytes) {
  blocks_.push_back(std::make_unique_for_overwrite<char[]>(block_bytes));
  // Fault a big block's pages in now, in one burst, rather than one page
  // fault every few dozen inserts: that spreads into the write latency's
  // p99, while one burst per block only touches its p99.99.
  if (block_bytes >= kPrefaultBytes) {
    char* p = blocks_.back().get();
    for (size_t off = 0; off < block_bytes; off += 4096) {
      reinterpret_cast<volatile char*>(p)[off] = 0;
    }
  }
  memory_usage_.store(MemoryUsage() + block_bytes + sizeof(blocks_[0]),
                      std::memory_order_relaxed);
  return blocks_.back().get();
}

}  // namespace cairn::storage
