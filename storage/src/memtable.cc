// Point entries are encoded once, in the arena, right behind their skiplist
// node:
//   [varint32 internal_key_len][internal key][varint32 value_len][value]
// and the skiplist orders pointers to them by internal key. Search targets
// are encoded the same way (only the key part), so one comparator serves
// both.
#include "memtable.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "arena.h"
#include "dbformat.h"
#include "skiplist.h"

namespace cairn::storage {
namespace {

// Entries are written by Add, so they are well formed: no bounds checks.
inline const char* DecodeLength(const char* p, uint32_t* len) {
  uint32_t byte = static_cast<uint8_t>(*p++);
  if (byte < 0x80) {
    *len = byte;
    return p;
  }
  uint32_t result = byte & 0x7f;
  for (int shift = 7;; shift += 7) {
    byte = static_cast<uint8_t>(*p++);
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  *len = result;
  return p;
}

inline std::string_view EntryKey(const char* entry) {
  uint32_t len;
  const char* p = DecodeLength(entry, &len);
  return {p, len};
}

inline std::string_view EntryValue(std::string_view key) {
  uint32_t len;
  const char* p = DecodeLength(key.data() + key.size(), &len);
  return {p, len};
}

inline char* CopyBytes(char* dst, std::string_view src) {
  if (!src.empty()) std::memcpy(dst, src.data(), src.size());
  return dst + src.size();
}

struct EntryComparator {
  int operator()(const char* a, const char* b) const {
    return CompareInternalKeys(EntryKey(a), EntryKey(b));
  }
};

using EntryList = SkipList<const char*, EntryComparator>;

// Builds the encoded search target for an internal key, on the stack when it
// is small.
class EncodedTarget {
 public:
  EncodedTarget(std::string_view user_key, uint64_t tag) {
    const size_t ikey_len = user_key.size() + 8;
    char* p = Buffer(ikey_len + 5);
    p = EncodeVarint64(p, ikey_len);
    p = CopyBytes(p, user_key);
    EncodeFixed64(p, tag);
  }
  EncodedTarget(const EncodedTarget&) = delete;
  EncodedTarget& operator=(const EncodedTarget&) = delete;

  const char* data() const { return data_; }

 private:
  char* Buffer(size_t n) {
    if (n > sizeof(stack_)) {
      heap_ = std::make_unique_for_overwrite<char[]>(n);
      data_ = heap_.get();
    }
    return data_;
  }

  char stack_[128];
  std::unique_ptr<char[]> heap_;
  char* data_ = stack_;
};

class MemTableIterator final : public InternalIterator {
 public:
  explicit MemTableIterator(const EntryList* list) : iter_(list) {}

  bool Valid() const override { return iter_.Valid(); }
  void SeekToFirst() override { iter_.SeekToFirst(); }
  void SeekToLast() override { iter_.SeekToLast(); }
  void Seek(std::string_view target) override { iter_.Seek(Encode(target)); }
  void SeekForPrev(std::string_view target) override {
    iter_.SeekForPrev(Encode(target));
  }
  void Next() override { iter_.Next(); }
  void Prev() override { iter_.Prev(); }
  std::string_view key() const override { return EntryKey(iter_.key()); }
  std::string_view value() const override {
    return EntryValue(EntryKey(iter_.key()));
  }
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  const char* Encode(std::string_view internal_key) {
    target_.clear();
    PutVarint32(&target_, static_cast<uint32_t>(internal_key.size()));
    target_.append(internal_key);
    return target_.data();
  }

  EntryList::Iterator iter_;
  std::string target_;  // reused across seeks
};

constexpr uint64_t kNoSequence = std::numeric_limits<uint64_t>::max();

}  // namespace

struct MemTable::Rep {
  Arena arena;
  EntryList list{EntryComparator(), &arena};

  // Written by the single writer only (load + store, no read-modify-write);
  // read by anyone.
  std::atomic<uint64_t> num_entries{0};
  std::atomic<uint64_t> num_deletes{0};
  std::atomic<uint64_t> num_range_deletes{0};
  std::atomic<uint64_t> first_seq{kNoSequence};
  std::atomic<uint64_t> last_seq{0};
  std::atomic<size_t> tombstone_bytes{0};

  std::mutex mu;
  std::vector<RangeTombstone> tombstones;  // guarded by mu
  uint64_t tombstones_version = 0;         // guarded by mu; bumped per add
  // The fragments of `tombstones` as of fragmented_version; guarded by mu.
  std::shared_ptr<const FragmentedRangeTombstones> fragmented;
  uint64_t fragmented_version = 0;

  void Bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1,
                  std::memory_order_relaxed);
  }
  void NoteSequence(uint64_t seq) {
    if (seq < first_seq.load(std::memory_order_relaxed)) {
      first_seq.store(seq, std::memory_order_relaxed);
    }
    if (seq > last_seq.load(std::memory_order_relaxed)) {
      last_seq.store(seq, std::memory_order_relaxed);
    }
  }
};

MemTable::MemTable() : rep_(std::make_unique<Rep>()) {}
MemTable::~MemTable() = default;

void MemTable::Add(uint64_t seq, uint8_t type, std::string_view user_key,
                   std::string_view value) {
  const size_t ikey_len = user_key.size() + 8;
  const size_t encoded_len = VarintLength(ikey_len) + ikey_len +
                             VarintLength(value.size()) + value.size();
  EntryList::Reservation r = rep_->list.Reserve(encoded_len);
  char* p = r.payload();
  p = EncodeVarint64(p, ikey_len);
  p = CopyBytes(p, user_key);
  EncodeFixed64(p, PackTag(seq, type));
  p += 8;
  p = EncodeVarint64(p, value.size());
  CopyBytes(p, value);
  rep_->list.Insert(r.payload(), r);

  rep_->Bump(rep_->num_entries);
  if (type == kTypeDeletion) rep_->Bump(rep_->num_deletes);
  rep_->NoteSequence(seq);
}

void MemTable::AddRangeTombstone(uint64_t seq, std::string_view begin,
                                 std::string_view end) {
  {
    std::lock_guard<std::mutex> lock(rep_->mu);
    rep_->tombstones.push_back(
        RangeTombstone{std::string(begin), std::string(end), seq});
    rep_->tombstones_version++;
  }
  rep_->tombstone_bytes.store(
      rep_->tombstone_bytes.load(std::memory_order_relaxed) +
          sizeof(RangeTombstone) + begin.size() + end.size(),
      std::memory_order_relaxed);
  rep_->Bump(rep_->num_range_deletes);
  rep_->NoteSequence(seq);
}

bool MemTable::Get(std::string_view user_key, uint64_t snapshot,
                   VersionSink* sink) const {
  EncodedTarget target(user_key, PackTag(std::min(snapshot, kMaxSequenceNumber),
                                         kValueTypeForSeek));
  EntryList::Iterator it(&rep_->list);
  bool found = false;
  for (it.Seek(target.data()); it.Valid(); it.Next()) {
    std::string_view ikey = EntryKey(it.key());
    if (ExtractUserKey(ikey) != user_key) break;
    found = true;
    const uint64_t tag = ExtractTag(ikey);
    if (!sink->Add(TagType(tag), TagSequence(tag), EntryValue(ikey))) break;
  }
  return found;
}

bool MemTable::Get(std::string_view user_key, uint64_t snapshot,
                   LookupResult* result) const {
  FirstVersion sink(result);
  return Get(user_key, snapshot, &sink);
}

std::unique_ptr<InternalIterator> MemTable::NewIterator() const {
  return std::make_unique<MemTableIterator>(&rep_->list);
}

std::shared_ptr<const FragmentedRangeTombstones> MemTable::RangeTombstones()
    const {
  std::vector<RangeTombstone> copy;
  uint64_t version;
  {
    std::lock_guard<std::mutex> lock(rep_->mu);
    if (rep_->tombstones.empty()) return nullptr;
    if (rep_->fragmented_version == rep_->tombstones_version) {
      return rep_->fragmented;
    }
    copy = rep_->tombstones;
    version = rep_->tombstones_version;
  }
  // Fragment outside the lock so that the writer is not held up; two readers
  // racing here both build, and the newer result is kept.
  auto built =
      std::make_shared<const FragmentedRangeTombstones>(std::move(copy));
  std::lock_guard<std::mutex> lock(rep_->mu);
  if (version > rep_->fragmented_version) {
    rep_->fragmented = built;
    rep_->fragmented_version = version;
  }
  return built;
}

size_t MemTable::ApproximateMemoryUsage() const {
  return rep_->arena.MemoryUsage() +
         rep_->tombstone_bytes.load(std::memory_order_relaxed);
}

uint64_t MemTable::num_entries() const {
  return rep_->num_entries.load(std::memory_order_relaxed);
}
uint64_t MemTable::num_deletes() const {
  return rep_->num_deletes.load(std::memory_order_relaxed);
}
uint64_t MemTable::num_range_deletes() const {
  return rep_->num_range_deletes.load(std::memory_order_relaxed);
}
uint64_t MemTable::first_seq() const {
  uint64_t seq = rep_->first_seq.load(std::memory_order_relaxed);
  return seq == kNoSequence ? 0 : seq;
}
uint64_t MemTable::last_seq() const {
  return rep_->last_seq.load(std::memory_order_relaxed);
}

}  // namespace cairn::storage
