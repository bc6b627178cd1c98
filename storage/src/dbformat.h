// Internal keys: how the engine orders the versions of user keys.
//
// An internal key is the user key followed by an 8-byte little-endian tag,
// tag = sequence << 8 | type. Internal keys sort by user key ascending
// (bytewise), then by tag descending, so the newest version of a key comes
// first and a lookup for (key, seq) lands on the newest version at or below
// seq. Every version of every key carries the global sequence number of the
// write that made it; a batch of n operations uses n consecutive sequences.
//
// Range tombstones are not point entries: they live in their own containers
// (memtable list, SSTable range-deletion block) keyed by the internal key
// (start, seq, kTypeRangeDeletion) with the exclusive end key as value.
#ifndef CAIRN_STORAGE_DBFORMAT_H_
#define CAIRN_STORAGE_DBFORMAT_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "cairn/util/coding.h"

namespace cairn::storage {

// Record and entry types. The values are stored on disk (WAL batches,
// SSTables): never renumber them.
enum ValueType : uint8_t {
  kTypeDeletion = 0x0,
  kTypeValue = 0x1,
  kTypeMerge = 0x2,            // merge operand (read-modify-write issue)
  kTypeRangeDeletion = 0x3,    // only in range-tombstone containers
  kTypeValueWithExpiry = 0x4,  // value with a TTL (read-modify-write issue)
};
// Sorts before every real type at the same sequence: lookups use it.
inline constexpr uint8_t kValueTypeForSeek = 0xFF;

inline constexpr uint64_t kMaxSequenceNumber = (uint64_t{1} << 56) - 1;

inline uint64_t PackTag(uint64_t seq, uint8_t type) {
  return (seq << 8) | type;
}
inline uint64_t TagSequence(uint64_t tag) { return tag >> 8; }
inline uint8_t TagType(uint64_t tag) { return static_cast<uint8_t>(tag); }

inline void AppendInternalKey(std::string* dst, std::string_view user_key,
                              uint64_t seq, uint8_t type) {
  dst->append(user_key.data(), user_key.size());
  char buf[8];
  EncodeFixed64(buf, PackTag(seq, type));
  dst->append(buf, 8);
}
inline std::string MakeInternalKey(std::string_view user_key, uint64_t seq,
                                   uint8_t type) {
  std::string k;
  k.reserve(user_key.size() + 8);
  AppendInternalKey(&k, user_key, seq, type);
  return k;
}

// Accessors; the key must be at least 8 bytes (callers validate decoded data
// with ParseInternalKey first).
inline std::string_view ExtractUserKey(std::string_view ikey) {
  return ikey.substr(0, ikey.size() - 8);
}
inline uint64_t ExtractTag(std::string_view ikey) {
  return DecodeFixed64(ikey.data() + ikey.size() - 8);
}

struct ParsedInternalKey {
  std::string_view user_key;
  uint64_t sequence = 0;
  uint8_t type = 0;
};
// False if ikey is too short or its type is unknown.
bool ParseInternalKey(std::string_view ikey, ParsedInternalKey* out);

inline int CompareUserKeys(std::string_view a, std::string_view b) {
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

// Orders internal keys as described above.
inline int CompareInternalKeys(std::string_view a, std::string_view b) {
  int r = ExtractUserKey(a).compare(ExtractUserKey(b));
  if (r != 0) return r < 0 ? -1 : 1;
  uint64_t ta = ExtractTag(a), tb = ExtractTag(b);
  return ta > tb ? -1 : (ta < tb ? 1 : 0);
}

// A key order, used by blocks and iterators that serve either internal keys
// (data, index, range-deletion blocks) or plain byte strings (properties).
class Comparator {
 public:
  virtual ~Comparator() = default;
  virtual int Compare(std::string_view a, std::string_view b) const = 0;
  virtual const char* Name() const = 0;
};
const Comparator* BytewiseComparator();
const Comparator* InternalKeyComparator();

// A key (or any bytes) as printable text for messages: C escapes for
// non-printable bytes.
std::string EscapeBytes(std::string_view bytes);

// The key a point lookup seeks to: user_key with the newest tag a reader at
// `seq` may see.
inline std::string MakeLookupKey(std::string_view user_key, uint64_t seq) {
  return MakeInternalKey(user_key, seq, kValueTypeForSeek);
}

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_DBFORMAT_H_
