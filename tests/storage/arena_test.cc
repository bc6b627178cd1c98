// Arena: alignment, that allocations never overlap or move, block growth and
// the memory accounting.
#include "arena.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace cairn::storage {
namespace {

TEST(ArenaTest, EmptyUsesNothing) {
  Arena arena;
  EXPECT_EQ(arena.MemoryUsage(), 0u);
}

TEST(ArenaTest, AlignedAllocationsAreAligned) {
  Arena arena;
  for (int i = 0; i < 1000; i++) {
    arena.Allocate(1 + i % 7);  // misalign the bump pointer
    char* p = arena.AllocateAligned(8 + i % 13);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % Arena::kDefaultAlignment, 0u);
    for (size_t align : {size_t{8}, size_t{32}, size_t{64}, size_t{4096}}) {
      char* q = arena.AllocateAligned(3, align);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % align, 0u) << align;
    }
  }
}

TEST(ArenaTest, AllocationsKeepTheirContents) {
  std::mt19937 rng(301);
  Arena arena;
  std::vector<std::pair<char*, size_t>> allocated;
  size_t bytes = 0;
  for (int i = 0; i < 20000; i++) {
    size_t n = i % 500 == 0 ? 1 + rng() % 100000 : 1 + rng() % 200;
    char* p = rng() % 2 ? arena.Allocate(n) : arena.AllocateAligned(n);
    std::memset(p, i & 0xff, n);
    allocated.emplace_back(p, n);
    bytes += n;
    ASSERT_GE(arena.MemoryUsage(), bytes);
  }
  for (size_t i = 0; i < allocated.size(); i++) {
    auto [p, n] = allocated[i];
    for (size_t j = 0; j < n; j++) {
      ASSERT_EQ(static_cast<unsigned char>(p[j]), i & 0xff) << i << " " << j;
    }
  }
  // Blocks grow to kMaxBlockSize, so the overhead stays moderate.
  EXPECT_LE(arena.MemoryUsage(), bytes + bytes / 4 + Arena::kMaxBlockSize);
}

TEST(ArenaTest, SmallAllocationsShareBlocks) {
  Arena arena;
  arena.Allocate(1);
  size_t first = arena.MemoryUsage();
  EXPECT_GE(first, Arena::kMinBlockSize);
  EXPECT_LT(first, 2 * Arena::kMinBlockSize);
  for (int i = 0; i < 100; i++) arena.Allocate(10);
  EXPECT_EQ(arena.MemoryUsage(), first);
}

TEST(ArenaTest, BlocksGrowToTheMaximum) {
  Arena arena;
  size_t previous = 0;
  size_t largest_step = 0;
  for (int i = 0; i < 200000; i++) {
    arena.Allocate(100);
    size_t usage = arena.MemoryUsage();
    if (usage != previous) {
      largest_step = std::max(largest_step, usage - previous);
      previous = usage;
    }
  }
  EXPECT_GE(largest_step, Arena::kMaxBlockSize);
  EXPECT_LT(largest_step, Arena::kMaxBlockSize + 64);
}

TEST(ArenaTest, LargeAllocationGetsItsOwnBlock) {
  Arena arena;
  char* small = arena.Allocate(16);
  size_t before = arena.MemoryUsage();
  char* big = arena.Allocate(3 * Arena::kMaxBlockSize);
  EXPECT_GE(arena.MemoryUsage(), before + 3 * Arena::kMaxBlockSize);
  // The current block is still in use: the next small allocation follows
  // the first one.
  char* next = arena.Allocate(16);
  EXPECT_EQ(next, small + 16);
  EXPECT_NE(big, nullptr);
}

}  // namespace
}  // namespace cairn::storage
