// Early-return helpers for absl::Status / absl::StatusOr in the `cairn`
// CLI sources (private to client/cli/).
//
//   CAIRN_RETURN_IF_ERROR(WriteAll(...));
//   CAIRN_ASSIGN_OR_RETURN(std::string key, DecodeKey(arg));
#ifndef CAIRN_CLIENT_CLI_STATUS_MACROS_H_
#define CAIRN_CLIENT_CLI_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CAIRN_RETURN_IF_ERROR(expr)                                 \
  do {                                                              \
    if (absl::Status cairn_status_ = (expr); !cairn_status_.ok()) { \
      return cairn_status_;                                         \
    }                                                               \
  } while (false)

#define CAIRN_ASSIGN_OR_RETURN(lhs, expr) \
  CAIRN_ASSIGN_OR_RETURN_IMPL_(           \
      CAIRN_STATUS_CONCAT_(cairn_status_or_, __LINE__), lhs, expr)

#define CAIRN_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(*tmp)

#define CAIRN_STATUS_CONCAT_INNER_(a, b) a##b
#define CAIRN_STATUS_CONCAT_(a, b) CAIRN_STATUS_CONCAT_INNER_(a, b)

#endif  // CAIRN_CLIENT_CLI_STATUS_MACROS_H_
