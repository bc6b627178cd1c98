#include "dbformat.h"

#include "absl/strings/escaping.h"

namespace cairn::storage {

std::string EscapeBytes(std::string_view bytes) {
  return absl::CHexEscape(absl::string_view(bytes.data(), bytes.size()));
}

bool ParseInternalKey(std::string_view ikey, ParsedInternalKey* out) {
  if (ikey.size() < 8) return false;
  uint64_t tag = ExtractTag(ikey);
  uint8_t type = TagType(tag);
  if (type > kTypeValueWithExpiry) return false;
  out->user_key = ExtractUserKey(ikey);
  out->sequence = TagSequence(tag);
  out->type = type;
  return true;
}

namespace {

class BytewiseComparatorImpl final : public Comparator {
 public:
  int Compare(std::string_view a, std::string_view b) const override {
    return CompareUserKeys(a, b);
  }
  const char* Name() const override { return "cairn.Bytewise"; }
};

class InternalKeyComparatorImpl final : public Comparator {
 public:
  int Compare(std::string_view a, std::string_view b) const override {
    return CompareInternalKeys(a, b);
  }
  const char* Name() const override { return "cairn.InternalKey"; }
};

}  // namespace

const Comparator* BytewiseComparator() {
  static const BytewiseComparatorImpl kInstance;
  return &kInstance;
}

const Comparator* InternalKeyComparator() {
  static const InternalKeyComparatorImpl kInstance;
  return &kInstance;
}

}  // namespace cairn::storage
