#include "level_result.h"

#include "absl/strings/str_cat.h"

namespace cairn::bench {

std::string StatusCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) {
    return kNames[code];
  }
  return absl::StrCat("CODE_", code);
}

void ErrorCounts::Add(int code, const std::string& message) {
  const std::string name = StatusCodeName(code);
  if (total_++ == 0) first_ = absl::StrCat(name, ": ", message);
  ++by_code_[name];
}

void ErrorCounts::Merge(const ErrorCounts& other) {
  if (total_ == 0) first_ = other.first_;
  total_ += other.total_;
  for (const auto& [name, n] : other.by_code_) by_code_[name] += n;
}

}  // namespace cairn::bench
