#include "cairn/storage/write_batch.h"

#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"
#include "dbformat.h"

namespace cairn::storage {
namespace {

// Header: fixed32 count, fixed64 commit time (micros since the epoch).
constexpr size_t kHeaderSize = 12;

}  // namespace

WriteBatch::WriteBatch() { Clear(); }

void WriteBatch::Clear() {
  rep_.assign(kHeaderSize, '\0');
  data_bytes_ = 0;
}

uint32_t WriteBatch::Count() const { return DecodeFixed32(rep_.data()); }

uint64_t WriteBatch::CommitMicros() const {
  return DecodeFixed64(rep_.data() + 4);
}

void WriteBatch::SetCommitMicros(uint64_t micros) {
  EncodeFixed64(rep_.data() + 4, micros);
}

void WriteBatch::Put(std::string_view key, std::string_view value) {
  EncodeFixed32(rep_.data(), Count() + 1);
  rep_.push_back(static_cast<char>(kTypeValue));
  PutLengthPrefixed(&rep_, key);
  PutLengthPrefixed(&rep_, value);
  data_bytes_ += key.size() + value.size();
}

void WriteBatch::Delete(std::string_view key) {
  EncodeFixed32(rep_.data(), Count() + 1);
  rep_.push_back(static_cast<char>(kTypeDeletion));
  PutLengthPrefixed(&rep_, key);
  data_bytes_ += key.size();
}

void WriteBatch::DeleteRange(std::string_view begin, std::string_view end) {
  EncodeFixed32(rep_.data(), Count() + 1);
  rep_.push_back(static_cast<char>(kTypeRangeDeletion));
  PutLengthPrefixed(&rep_, begin);
  PutLengthPrefixed(&rep_, end);
  data_bytes_ += begin.size() + end.size();
}

absl::Status WriteBatch::FromPayload(std::string_view payload,
                                     WriteBatch* out) {
  if (payload.size() < kHeaderSize) {
    return absl::DataLossError(absl::StrFormat(
        "write batch: %d bytes, shorter than its header", payload.size()));
  }
  out->rep_.assign(payload.data(), payload.size());
  out->data_bytes_ = 0;
  return absl::OkStatus();
}

absl::Status WriteBatch::Iterate(Handler* handler) const {
  std::string_view input(rep_);
  input.remove_prefix(kHeaderSize);
  const uint32_t expected = Count();
  uint32_t found = 0;
  while (!input.empty()) {
    const uint8_t type = static_cast<uint8_t>(input[0]);
    input.remove_prefix(1);
    std::string_view a, b;
    absl::Status s;
    switch (type) {
      case kTypeValue:
        if (!GetLengthPrefixed(&input, &a) || !GetLengthPrefixed(&input, &b)) {
          return absl::DataLossError("write batch: truncated Put");
        }
        s = handler->Put(a, b);
        break;
      case kTypeDeletion:
        if (!GetLengthPrefixed(&input, &a)) {
          return absl::DataLossError("write batch: truncated Delete");
        }
        s = handler->Delete(a);
        break;
      case kTypeRangeDeletion:
        if (!GetLengthPrefixed(&input, &a) || !GetLengthPrefixed(&input, &b)) {
          return absl::DataLossError("write batch: truncated DeleteRange");
        }
        s = handler->DeleteRange(a, b);
        break;
      default:
        return absl::DataLossError(
            absl::StrFormat("write batch: unknown record type %d", type));
    }
    if (!s.ok()) return s;
    ++found;
  }
  if (found != expected) {
    return absl::DataLossError(absl::StrFormat(
        "write batch: header says %d operations, found %d", expected, found));
  }
  return absl::OkStatus();
}

}  // namespace cairn::storage
