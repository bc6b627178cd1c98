#include "table_cache.h"

#include <iterator>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_format.h"
#include "filename.h"

namespace cairn::storage {

struct TableCache::Rep {
  using Lru = std::list<std::pair<uint64_t, std::shared_ptr<Table>>>;

  FileSystem* fs;
  std::string dir;
  size_t capacity;
  TableReadOptions read_options;

  std::mutex mu;
  Lru lru;  // front: most recently used
  std::unordered_map<uint64_t, Lru::iterator> map;
};

TableCache::TableCache(FileSystem* fs, std::string dir, int capacity,
                       const TableReadOptions& read_options)
    : rep_(std::make_unique<Rep>()) {
  rep_->fs = fs;
  rep_->dir = std::move(dir);
  rep_->capacity = capacity < 1 ? 1 : static_cast<size_t>(capacity);
  rep_->read_options = read_options;
}

TableCache::~TableCache() = default;

absl::StatusOr<std::shared_ptr<Table>> TableCache::Get(uint64_t file_number,
                                                       uint64_t file_size) {
  Rep& r = *rep_;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.map.find(file_number);
    if (it != r.map.end()) {
      r.lru.splice(r.lru.begin(), r.lru, it->second);
      return it->second->second;
    }
  }
  // Open without the lock: it reads the index, filter and meta blocks.
  OpenOptions open_options;
  open_options.read_only = true;
  absl::StatusOr<std::unique_ptr<File>> file =
      r.fs->Open(TableFileName(r.dir, file_number), open_options);
  if (!file.ok()) {
    // Callers ask only for live tables: one that is gone is lost data, never
    // "not found" (which a reader would take for a missing key).
    if (absl::IsNotFound(file.status())) {
      return absl::DataLossError(
          absl::StrFormat("table %d is listed as live but missing: %s",
                          file_number, file.status().message()));
    }
    return file.status();
  }
  absl::StatusOr<std::shared_ptr<Table>> table =
      Table::Open(r.read_options, *std::move(file), file_size);
  if (!table.ok()) return table.status();

  Rep::Lru evicted;  // closed after the lock is released
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.map.find(file_number);
  if (it != r.map.end()) {  // another thread opened it meanwhile
    r.lru.splice(r.lru.begin(), r.lru, it->second);
    return it->second->second;
  }
  r.lru.emplace_front(file_number, *table);
  r.map.emplace(file_number, r.lru.begin());
  while (r.lru.size() > r.capacity) {
    r.map.erase(r.lru.back().first);
    evicted.splice(evicted.begin(), r.lru, std::prev(r.lru.end()));
  }
  return table;
}

void TableCache::Evict(uint64_t file_number) {
  Rep& r = *rep_;
  Rep::Lru evicted;  // closed after the lock is released
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.map.find(file_number);
  if (it == r.map.end()) return;
  evicted.splice(evicted.begin(), r.lru, it->second);
  r.map.erase(it);
}

}  // namespace cairn::storage
