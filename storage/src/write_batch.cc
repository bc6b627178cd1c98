#include "cairn/storage/write_batch.h"

#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"
#include "dbformat.h"
#include "merge_operand.h"
#include "write_batch_internal.h"

namespace cairn::storage {
namespace {

// Header: fixed32 count, fixed64 commit time (micros since the epoch).
constexpr size_t kHeaderSize = 12;

}  // namespace

WriteBatch::WriteBatch() { Clear(); }

void WriteBatch::Clear() {
  rep_.assign(kHeaderSize, '\0');
  data_bytes_ = 0;
  conditions_.clear();
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

void WriteBatch::PutWithExpiry(std::string_view key, std::string_view value,
                               uint64_t expires_at_micros) {
  EncodeFixed32(rep_.data(), Count() + 1);
  rep_.push_back(static_cast<char>(kTypeValueWithExpiry));
  PutLengthPrefixed(&rep_, key);
  PutVarint32(&rep_, static_cast<uint32_t>(kExpirySize + value.size()));
  PutFixed64(&rep_, expires_at_micros);
  rep_.append(value.data(), value.size());
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

void WriteBatch::Merge(std::string_view key, std::string_view op,
                       std::string_view operand, std::string_view argument) {
  EncodeFixed32(rep_.data(), Count() + 1);
  rep_.push_back(static_cast<char>(kTypeMerge));
  PutLengthPrefixed(&rep_, key);
  std::string encoded;
  EncodeMergeOperand(&encoded, op, argument, operand);
  PutLengthPrefixed(&rep_, encoded);
  data_bytes_ += key.size() + operand.size();
}

void WriteBatch::RequireExists(std::string_view key) {
  conditions_.push_back(
      Condition{Condition::Kind::kExists, std::string(key), 0, {}});
}

void WriteBatch::RequireAbsent(std::string_view key) {
  conditions_.push_back(
      Condition{Condition::Kind::kAbsent, std::string(key), 0, {}});
}

void WriteBatch::RequireSequence(std::string_view key, uint64_t sequence) {
  conditions_.push_back(Condition{
      Condition::Kind::kSequenceEquals, std::string(key), sequence, {}});
}

void WriteBatch::RequireValue(std::string_view key, std::string_view value) {
  conditions_.push_back(Condition{Condition::Kind::kValueEquals,
                                  std::string(key), 0, std::string(value)});
}

absl::Status WriteBatch::FromPayload(std::string_view payload,
                                     WriteBatch* out) {
  if (payload.size() < kHeaderSize) {
    return absl::DataLossError(absl::StrFormat(
        "write batch: %d bytes, shorter than its header", payload.size()));
  }
  out->rep_.assign(payload.data(), payload.size());
  out->data_bytes_ = 0;
  out->conditions_.clear();
  return absl::OkStatus();
}

absl::Status ForEachRecord(
    const WriteBatch& batch,
    absl::FunctionRef<absl::Status(uint8_t type, std::string_view key,
                                   std::string_view value)>
        fn) {
  return ForEachPayloadRecord(batch.Payload(), fn);
}

absl::Status ForEachPayloadRecord(
    std::string_view payload,
    absl::FunctionRef<absl::Status(uint8_t type, std::string_view key,
                                   std::string_view value)>
        fn) {
  if (payload.size() < kHeaderSize) {
    return absl::DataLossError(absl::StrFormat(
        "write batch: %d bytes, shorter than its header", payload.size()));
  }
  std::string_view input = payload;
  input.remove_prefix(kHeaderSize);
  const uint32_t expected = DecodeFixed32(payload.data());
  uint32_t found = 0;
  while (!input.empty()) {
    const uint8_t type = static_cast<uint8_t>(input[0]);
    input.remove_prefix(1);
    std::string_view key, value;
    switch (type) {
      case kTypeValue:
      case kTypeValueWithExpiry:
      case kTypeMerge:
      case kTypeRangeDeletion:
        if (!GetLengthPrefixed(&input, &key) ||
            !GetLengthPrefixed(&input, &value)) {
          return absl::DataLossError(absl::StrFormat(
              "write batch: truncated record of type %d", type));
        }
        break;
      case kTypeDeletion:
        if (!GetLengthPrefixed(&input, &key)) {
          return absl::DataLossError("write batch: truncated Delete");
        }
        break;
      default:
        return absl::DataLossError(
            absl::StrFormat("write batch: unknown record type %d", type));
    }
    if (type == kTypeValueWithExpiry && value.size() < kExpirySize) {
      return absl::DataLossError("write batch: expiring value without expiry");
    }
    MergeOperand m;
    if (type == kTypeMerge && !DecodeMergeOperand(value, &m)) {
      return absl::DataLossError("write batch: malformed merge operand");
    }
    if (absl::Status s = fn(type, key, value); !s.ok()) return s;
    ++found;
  }
  if (found != expected) {
    return absl::DataLossError(absl::StrFormat(
        "write batch: header says %d operations, found %d", expected, found));
  }
  return absl::OkStatus();
}

bool DecodeBatchHeader(std::string_view payload, uint32_t* count,
                       uint64_t* commit_micros) {
  if (payload.size() < kHeaderSize) return false;
  *count = DecodeFixed32(payload.data());
  *commit_micros = DecodeFixed64(payload.data() + 4);
  return true;
}

absl::Status WriteBatch::Iterate(Handler* handler) const {
  return ForEachRecord(*this,
                       [handler](uint8_t type, std::string_view key,
                                 std::string_view value) -> absl::Status {
                         switch (type) {
                           case kTypeValue:
                             return handler->Put(key, value);
                           case kTypeValueWithExpiry: {
                             std::string_view v;
                             uint64_t expiry = 0;
                             DecodeValueWithExpiry(value, &v, &expiry);
                             return handler->PutWithExpiry(key, v, expiry);
                           }
                           case kTypeDeletion:
                             return handler->Delete(key);
                           case kTypeRangeDeletion:
                             return handler->DeleteRange(key, value);
                           default: {  // kTypeMerge, checked by ForEachRecord
                             MergeOperand m;
                             DecodeMergeOperand(value, &m);
                             return handler->Merge(key, m.op, m.argument,
                                                   m.operand);
                           }
                         }
                       });
}

}  // namespace cairn::storage
