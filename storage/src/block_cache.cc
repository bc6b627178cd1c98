#include "block_cache.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cairn::storage {
namespace {

struct CacheKey {
  uint64_t table_id;
  uint64_t offset;
  bool operator==(const CacheKey& o) const {
    return table_id == o.table_id && offset == o.offset;
  }
};

// A 64-bit mix of the key (murmur3's finalizer over both halves).
inline uint64_t HashKey(uint64_t table_id, uint64_t offset) {
  uint64_t h = table_id * 0x9E3779B97F4A7C15ull ^ offset;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

// One shard: entries chained in a power-of-two bucket array (LevelDB's
// HandleTable: a lookup touches the bucket and then, usually, just the
// entry's first cache line), threaded on two intrusive lists: the shard's LRU
// list (circular, around a sentinel) and one list per table, so that
// EraseTable visits only that table's blocks.
//
// A hit only marks its entry referenced rather than moving it to the front:
// relinking would touch two more entries (more cache misses under the lock
// on every hit). Eviction gives a referenced entry at the tail a second
// chance at the front instead, so recency is kept per eviction round (the
// CLOCK approximation of LRU).
struct BlockCache::Shard {
  struct Entry {
    // Fields a lookup reads come first, within one cache line.
    Entry* next_hash = nullptr;
    uint64_t hash = 0;
    CacheKey key{};
    Entry* lru_prev = nullptr;
    Entry* lru_next = nullptr;
    Entry* table_prev = nullptr;
    Entry* table_next = nullptr;
    bool referenced = false;
    std::shared_ptr<const Block> block;
    size_t charge = 0;
  };

  Shard() : buckets(16, nullptr) { lru.lru_prev = lru.lru_next = &lru; }
  ~Shard() {
    for (Entry* head : buckets) {
      while (head != nullptr) delete std::exchange(head, head->next_hash);
    }
  }

  // The link that points at the entry for key, or at the null ending its
  // bucket's chain.
  Entry** FindSlot(uint64_t hash, const CacheKey& key) {
    Entry** slot = &buckets[hash & (buckets.size() - 1)];
    while (*slot != nullptr &&
           ((*slot)->hash != hash || !((*slot)->key == key))) {
      slot = &(*slot)->next_hash;
    }
    return slot;
  }
  void GrowBuckets() {
    std::vector<Entry*> grown(buckets.size() * 2, nullptr);
    for (Entry* head : buckets) {
      while (head != nullptr) {
        Entry* next = head->next_hash;
        Entry*& bucket = grown[head->hash & (grown.size() - 1)];
        head->next_hash = bucket;
        bucket = head;
        head = next;
      }
    }
    buckets.swap(grown);
  }

  void LruUnlink(Entry* e) {
    e->lru_prev->lru_next = e->lru_next;
    e->lru_next->lru_prev = e->lru_prev;
  }
  // Makes e the most recently used entry.
  void LruPushFront(Entry* e) {
    e->lru_next = lru.lru_next;
    e->lru_prev = &lru;
    lru.lru_next->lru_prev = e;
    lru.lru_next = e;
  }
  void TableLink(Entry* e) {
    Entry*& head = tables[e->key.table_id];
    e->table_prev = nullptr;
    e->table_next = head;
    if (head != nullptr) head->table_prev = e;
    head = e;
  }
  void TableUnlink(Entry* e) {
    if (e->table_next != nullptr) e->table_next->table_prev = e->table_prev;
    if (e->table_prev != nullptr) {
      e->table_prev->table_next = e->table_next;
    } else if (e->table_next != nullptr) {
      tables[e->key.table_id] = e->table_next;
    } else {
      tables.erase(e->key.table_id);
    }
  }
  // Removes and frees e.
  void Remove(Entry* e) {
    Entry** slot = FindSlot(e->hash, e->key);
    *slot = e->next_hash;
    LruUnlink(e);
    TableUnlink(e);
    usage -= e->charge;
    --count;
    delete e;
  }
  void EvictToCapacity() {
    while (usage > capacity && lru.lru_prev != &lru) {
      Entry* e = lru.lru_prev;
      if (e->referenced) {  // used since it was last at the front
        e->referenced = false;
        LruUnlink(e);
        LruPushFront(e);
      } else {
        Remove(e);
      }
    }
  }

  std::mutex mu;
  size_t capacity = 0;
  size_t usage = 0;
  size_t count = 0;
  std::vector<Entry*> buckets;  // a power of two, at least count
  Entry lru;                    // sentinel: lru.lru_next is the most recent
  std::unordered_map<uint64_t, Entry*> tables;  // table id -> list head
};

BlockCache::BlockCache(size_t capacity, int shard_bits)
    : shard_bits_(shard_bits < 0 ? 0 : (shard_bits > 16 ? 16 : shard_bits)),
      capacity_(capacity) {
  const size_t n = size_t{1} << shard_bits_;
  shards_ = std::make_unique<Shard[]>(n);
  for (size_t i = 0; i < n; ++i) shards_[i].capacity = (capacity + n - 1) / n;
}

BlockCache::~BlockCache() = default;

uint64_t BlockCache::NewTableId() {
  static std::atomic<uint64_t> next_id{1};
  return next_id.fetch_add(1, std::memory_order_relaxed);
}

namespace {
// The top bits pick the shard; the bucket index takes the low bits.
inline size_t ShardIndex(uint64_t hash, int shard_bits) {
  return shard_bits == 0 ? 0 : static_cast<size_t>(hash >> (64 - shard_bits));
}
}  // namespace

std::shared_ptr<const Block> BlockCache::Lookup(uint64_t table_id,
                                                uint64_t offset) {
  const uint64_t hash = HashKey(table_id, offset);
  Shard& s = shards_[ShardIndex(hash, shard_bits_)];
  std::lock_guard<std::mutex> lock(s.mu);
  Shard::Entry* e = *s.FindSlot(hash, CacheKey{table_id, offset});
  if (e == nullptr) return nullptr;
  if (!e->referenced) e->referenced = true;
  return e->block;
}

void BlockCache::Insert(uint64_t table_id, uint64_t offset,
                        std::shared_ptr<const Block> block, size_t charge) {
  const uint64_t hash = HashKey(table_id, offset);
  Shard& s = shards_[ShardIndex(hash, shard_bits_)];
  std::shared_ptr<const Block> replaced;  // released after the lock
  std::lock_guard<std::mutex> lock(s.mu);
  const CacheKey key{table_id, offset};
  Shard::Entry** slot = s.FindSlot(hash, key);
  Shard::Entry* e = *slot;
  if (e == nullptr) {
    e = new Shard::Entry;
    e->hash = hash;
    e->key = key;
    *slot = e;
    s.TableLink(e);
    if (++s.count > s.buckets.size()) s.GrowBuckets();
  } else {
    s.LruUnlink(e);
    s.usage -= e->charge;
    replaced = std::move(e->block);
  }
  e->block = std::move(block);
  e->charge = charge;
  e->referenced = false;
  s.usage += charge;
  s.LruPushFront(e);
  s.EvictToCapacity();
}

void BlockCache::EraseTable(uint64_t table_id) {
  const size_t n = size_t{1} << shard_bits_;
  for (size_t i = 0; i < n; ++i) {
    Shard& s = shards_[i];
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.tables.find(table_id);
    if (it == s.tables.end()) continue;
    Shard::Entry* e = it->second;
    while (e != nullptr) {
      Shard::Entry* next = e->table_next;
      s.Remove(e);
      e = next;
    }
  }
}

size_t BlockCache::capacity() const { return capacity_; }

size_t BlockCache::usage() const {
  size_t total = 0;
  const size_t n = size_t{1} << shard_bits_;
  for (size_t i = 0; i < n; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    total += shards_[i].usage;
  }
  return total;
}

}  // namespace cairn::storage
