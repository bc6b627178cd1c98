// SkipList<Key, Comparator>: a sorted set of keys whose nodes live in an
// Arena, after LevelDB's skiplist. Nodes are never removed (they die with
// the arena) and a node's key never changes once it is linked; a node has a
// random height in [1, kMaxHeight] (each extra level with probability
// 1/kBranching) and is linked at every level below it.
//
// Comparator is a functor `int operator()(const Key&, const Key&) const`
// returning <0, 0 or >0. Key must be trivially copyable and destructible
// (the arena runs no destructors); a default-constructed Key fills the head.
//
// A node's links sit in front of it in memory and an optional payload right
// behind it (Reserve), so a key that points at its own bytes (memtable
// entries) is read from the same run of memory as the links that led to it.
//
// Thread-safety: writes (Reserve, Insert) need external synchronization, one
// writer at a time. Reads (Contains, iterators) need none and may run
// concurrently with the writer and each other: a node is fully built before
// a release store links it, and readers follow links with acquire loads, so
// a reader sees either a consistent older list or the new node.
#ifndef CAIRN_STORAGE_SKIPLIST_H_
#define CAIRN_STORAGE_SKIPLIST_H_

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "arena.h"

namespace cairn::storage {

template <typename Key, class Comparator>
class SkipList {
 private:
  struct Node;

 public:
  static constexpr int kMaxHeight = 12;
  static constexpr int kBranching = 4;

  // A node allocated by Reserve and not yet linked.
  class Reservation {
   public:
    // The payload bytes asked for, right behind the node.
    char* payload() const { return payload_; }

   private:
    friend class SkipList;
    Node* node_ = nullptr;
    char* payload_ = nullptr;
    int height_ = 0;
  };

  // The arena must outlive the list.
  SkipList(Comparator cmp, Arena* arena);
  SkipList(const SkipList&) = delete;
  SkipList& operator=(const SkipList&) = delete;

  // Allocates a node with `payload_bytes` of caller storage behind it. The
  // caller fills the payload and links the node with Insert(key, r).
  Reservation Reserve(size_t payload_bytes);

  // Links `key` (nothing equal to it may be in the list) in a node from
  // Reserve, or in a new node. Inserting right after the previously inserted
  // key (ascending runs) skips the search.
  void Insert(const Key& key, Reservation r);
  void Insert(const Key& key) { Insert(key, Reserve(0)); }

  bool Contains(const Key& key) const;

  // A cursor over the list; see the thread-safety note above. Moving an
  // invalid iterator (other than by a Seek*) is not allowed.
  class Iterator {
   public:
    explicit Iterator(const SkipList* list) : list_(list) {}

    bool Valid() const { return node_ != nullptr; }
    const Key& key() const {
      assert(Valid());
      return node_->key;
    }
    void Next() {
      assert(Valid());
      node_ = node_->Next(0);
    }
    // O(log n): searches for the last key before the current one.
    void Prev() {
      assert(Valid());
      node_ = list_->Unhead(list_->FindLess</*kOrEqual=*/false>(node_->key));
    }
    // First key >= target.
    void Seek(const Key& target) {
      node_ = list_->FindGreaterOrEqual(target, nullptr);
    }
    // Last key <= target.
    void SeekForPrev(const Key& target) {
      node_ = list_->Unhead(list_->FindLess</*kOrEqual=*/true>(target));
    }
    void SeekToFirst() { node_ = list_->head_->Next(0); }
    void SeekToLast() { node_ = list_->Unhead(list_->FindLast()); }

   private:
    const SkipList* list_;
    Node* node_ = nullptr;
  };

 private:
  static_assert(std::is_trivially_copyable_v<Key> &&
                std::is_trivially_destructible_v<Key>);
  using Link = std::atomic<Node*>;

  // Memory layout: [link[height-1] ... link[1] link[0]] [Node] [payload].
  struct Node {
    explicit Node(const Key& k) : key(k) {}
    Key key;

    Link* link(int level) { return reinterpret_cast<Link*>(this) - 1 - level; }
    // Acquire: what the node points at was fully built before it was linked.
    Node* Next(int level) {
      return link(level)->load(std::memory_order_acquire);
    }
    void SetNext(int level, Node* x) {
      link(level)->store(x, std::memory_order_release);
    }
    // For the writer only, and for nodes not yet published.
    Node* NoBarrierNext(int level) {
      return link(level)->load(std::memory_order_relaxed);
    }
    void NoBarrierSetNext(int level, Node* x) {
      link(level)->store(x, std::memory_order_relaxed);
    }
  };

  Reservation Allocate(int height, size_t payload_bytes);
  int RandomHeight();
  int MaxHeight() const { return max_height_.load(std::memory_order_relaxed); }
  bool Less(const Key& a, const Key& b) const { return compare_(a, b) < 0; }
  Node* Unhead(Node* n) const { return n == head_ ? nullptr : n; }
  // A search at x on `level` about to compare with next goes on to one of
  // these two nodes: start loading both, so that the cache misses of a
  // search overlap instead of adding up.
  static void PrefetchCandidates(Node* x, Node* next, int level) {
    __builtin_prefetch(next->Next(level));
    if (level > 0) __builtin_prefetch(x->Next(level - 1));
  }

  // First node >= key, or null. Fills prev[level] (if prev is not null) with
  // the last node < key at each level below MaxHeight().
  Node* FindGreaterOrEqual(const Key& key, Node** prev) const;
  // Last node < key (<= key if kOrEqual), or head_.
  template <bool kOrEqual>
  Node* FindLess(const Key& key) const;
  // Last node, or head_.
  Node* FindLast() const;

  const Comparator compare_;
  Arena* const arena_;
  Node* const head_;
  std::atomic<int> max_height_{1};

  // Writer state. splice_prev_[i] and splice_next_[i] are adjacent at level i
  // and surround the last key inserted (head_ and null above MaxHeight()), so
  // an insert that falls between splice_prev_[0] and splice_next_[0] needs no
  // search: the splice surrounds it at every level.
  Node* splice_prev_[kMaxHeight];
  Node* splice_next_[kMaxHeight];
  uint64_t rng_state_ = 0x2545F4914F6CDD1Dull;
};

template <typename Key, class Comparator>
SkipList<Key, Comparator>::SkipList(Comparator cmp, Arena* arena)
    : compare_(cmp), arena_(arena), head_(Allocate(kMaxHeight, 0).node_) {
  new (head_) Node(Key());
  for (int i = 0; i < kMaxHeight; i++) {
    head_->NoBarrierSetNext(i, nullptr);
    splice_prev_[i] = head_;
    splice_next_[i] = nullptr;
  }
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Reservation
SkipList<Key, Comparator>::Allocate(int height, size_t payload_bytes) {
  constexpr size_t kAlign = std::max(alignof(Node), alignof(Link));
  size_t links = sizeof(Link) * height;
  size_t pad = (kAlign - links % kAlign) % kAlign;
  char* mem = arena_->AllocateAligned(
      pad + links + sizeof(Node) + payload_bytes, kAlign);
  Reservation r;
  r.node_ = reinterpret_cast<Node*>(mem + pad + links);
  r.payload_ = mem + pad + links + sizeof(Node);
  r.height_ = height;
  return r;
}

template <typename Key, class Comparator>
int SkipList<Key, Comparator>::RandomHeight() {
  static_assert(kBranching == 4, "two random bits per level");
  // splitmix64: cheap, and good enough that levels are independent.
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  // Each pair of low zero bits (probability 1/4) adds a level.
  return 1 + std::min(std::countr_zero(z) / 2, kMaxHeight - 1);
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Reservation
SkipList<Key, Comparator>::Reserve(size_t payload_bytes) {
  return Allocate(RandomHeight(), payload_bytes);
}

template <typename Key, class Comparator>
void SkipList<Key, Comparator>::Insert(const Key& key, Reservation r) {
  Node* x = new (r.node_) Node(key);
  const int height = r.height_;

  bool splice_fits =
      (splice_prev_[0] == head_ || Less(splice_prev_[0]->key, key)) &&
      (splice_next_[0] == nullptr || Less(key, splice_next_[0]->key));
  if (!splice_fits) {
    // Levels at and above MaxHeight() keep head_ and null.
    FindGreaterOrEqual(key, splice_prev_);
    for (int i = 0; i < MaxHeight(); i++) {
      splice_next_[i] = splice_prev_[i]->NoBarrierNext(i);
    }
  }
  assert(splice_next_[0] == nullptr || Less(key, splice_next_[0]->key));

  if (height > MaxHeight()) {
    // Readers that see the new height before the node find null links at the
    // new levels from head_, which is fine: null means "past the end".
    max_height_.store(height, std::memory_order_relaxed);
  }
  for (int i = 0; i < height; i++) {
    // The node is unpublished until the release store below links it.
    x->NoBarrierSetNext(i, splice_next_[i]);
    splice_prev_[i]->SetNext(i, x);
    splice_prev_[i] = x;
  }
}

template <typename Key, class Comparator>
bool SkipList<Key, Comparator>::Contains(const Key& key) const {
  Node* x = FindGreaterOrEqual(key, nullptr);
  return x != nullptr && compare_(key, x->key) == 0;
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node*
SkipList<Key, Comparator>::FindGreaterOrEqual(const Key& key,
                                              Node** prev) const {
  Node* x = head_;
  int level = MaxHeight() - 1;
  // The node we stopped at on the level above: known to be >= key, so
  // meeting it again on a lower level needs no comparison.
  Node* last_bigger = nullptr;
  while (true) {
    Node* next = x->Next(level);
    if (next != last_bigger && next != nullptr) {
      PrefetchCandidates(x, next, level);
      if (Less(next->key, key)) {
        x = next;
        continue;
      }
    }
    if (prev != nullptr) prev[level] = x;
    if (level == 0) return next;
    last_bigger = next;
    level--;
  }
}

template <typename Key, class Comparator>
template <bool kOrEqual>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::FindLess(
    const Key& key) const {
  Node* x = head_;
  int level = MaxHeight() - 1;
  Node* last_bigger = nullptr;
  while (true) {
    Node* next = x->Next(level);
    bool advance = false;
    if (next != last_bigger && next != nullptr) {
      PrefetchCandidates(x, next, level);
      int c = compare_(next->key, key);
      advance = kOrEqual ? c <= 0 : c < 0;
    }
    if (advance) {
      x = next;
      continue;
    }
    if (level == 0) return x;
    last_bigger = next;
    level--;
  }
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::FindLast()
    const {
  Node* x = head_;
  int level = MaxHeight() - 1;
  while (true) {
    Node* next = x->Next(level);
    if (next != nullptr) {
      x = next;
    } else if (level == 0) {
      return x;
    } else {
      level--;
    }
  }
}

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_SKIPLIST_H_
