// Arena: a bump allocator for the memtable. Memory comes from blocks that
// grow from kMinBlockSize to kMaxBlockSize as the arena fills; requests too
// big to share a block get a block of their own. Nothing is freed before the
// arena is destroyed, so pointers it hands out stay valid (and never move)
// for the arena's lifetime.
//
// Thread-safety: Allocate* from one thread at a time (the memtable's writer).
// MemoryUsage() may be called from any thread concurrently with allocation.
// Memory handed out may be read by other threads once published to them with
// release/acquire (the skiplist does this).
#ifndef CAIRN_STORAGE_ARENA_H_
#define CAIRN_STORAGE_ARENA_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace cairn::storage {

class Arena {
 public:
  static constexpr size_t kMinBlockSize = 4096;
  static constexpr size_t kMaxBlockSize = size_t{1} << 20;
  // Blocks at least this big are faulted in when allocated.
  static constexpr size_t kPrefaultBytes = 64 << 10;
  // What AllocateAligned guarantees by default: enough for pointers, atomics
  // and 64-bit integers.
  static constexpr size_t kDefaultAlignment = alignof(std::max_align_t);

  Arena();
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // `bytes` with no alignment guarantee. bytes must be > 0.
  char* Allocate(size_t bytes) {
    if (bytes <= remaining_) {
      char* result = ptr_;
      ptr_ += bytes;
      remaining_ -= bytes;
      return result;
    }
    return AllocateFallback(bytes, 1);
  }

  // `bytes` aligned to `alignment` (a power of two). bytes must be > 0.
  char* AllocateAligned(size_t bytes, size_t alignment = kDefaultAlignment) {
    size_t pad =
        (alignment - (reinterpret_cast<uintptr_t>(ptr_) & (alignment - 1))) &
        (alignment - 1);
    if (bytes + pad <= remaining_) {
      char* result = ptr_ + pad;
      ptr_ += bytes + pad;
      remaining_ -= bytes + pad;
      return result;
    }
    return AllocateFallback(bytes, alignment);
  }

  // Bytes obtained from the system (blocks plus bookkeeping), not just those
  // handed out: what the arena costs.
  size_t MemoryUsage() const {
    return memory_usage_.load(std::memory_order_relaxed);
  }

 private:
  char* AllocateFallback(size_t bytes, size_t alignment);
  char* NewBlock(size_t block_bytes);

  char* ptr_ = nullptr;  // next free byte of the current block
  size_t remaining_ = 0;
  size_t next_block_size_ = kMinBlockSize;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::atomic<size_t> memory_usage_{0};
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_ARENA_H_
