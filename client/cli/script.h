// The statements of `cairn batch` and `cairn txn` scripts, one per line
// (tokens as in script_lexer.h; docs/cli.md, "Script format"):
//
//   put KEY VALUE [ttl DURATION]          both
//   del KEY                               both ("delete" too)
//   del-range START END                   both ("delete-range" too)
//   merge KEY OPERATOR OPERAND [ARGUMENT] both
//   if-exists KEY | if-absent KEY         both: conditions
//   if-revision KEY N | if-value KEY VALUE
//   get KEY                               txn only
//   scan [prefix P | START [END]] [limit N] [reverse] [keys-only]   txn only
//   commit | rollback                     txn only: the last statement
//
// Keywords (statement names, ttl, prefix, limit, reverse, keys-only) are
// recognized only as bare tokens, so a quoted "limit" is a key.
//
// Pure functions; thread-safe.
#ifndef CAIRN_CLIENT_CLI_SCRIPT_H_
#define CAIRN_CLIENT_CLI_SCRIPT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cairn::cli {

enum class ScriptKind { kBatch, kTxn };

enum class StatementKind {
  kPut,
  kDelete,
  kDeleteRange,
  kMerge,
  kIfExists,
  kIfAbsent,
  kIfRevision,
  kIfValue,
  kGet,
  kScan,
  kCommit,
  kRollback,
};

struct ScanSpec {
  std::string prefix;
  std::string start;
  std::string end;
  uint64_t limit = 0;  // 0 = all
  bool reverse = false;
  bool keys_only = false;
};

struct Statement {
  StatementKind kind = StatementKind::kPut;
  int line = 0;        // 1-based line in the script
  std::string source;  // the line as written, without surrounding blanks
  std::string key;     // start for kDeleteRange
  // put value, merge operand, if-value value; end for kDeleteRange.
  std::string value;
  std::string merge_operator;
  std::string merge_argument;
  absl::Duration ttl = absl::ZeroDuration();
  uint64_t revision = 0;
  ScanSpec scan;

  bool is_condition() const {
    return kind == StatementKind::kIfExists ||
           kind == StatementKind::kIfAbsent ||
           kind == StatementKind::kIfRevision ||
           kind == StatementKind::kIfValue;
  }
};

// Parses one line; nullopt for a blank or comment-only line. Errors say
// what is wrong (with the column when the lexer failed), without the line
// number; `line_number` is stored in the statement.
absl::StatusOr<std::optional<Statement>> ParseStatement(std::string_view line,
                                                        int line_number,
                                                        ScriptKind kind);

// Parses a whole script. Errors start with "line N: ". A txn script must
// end with commit or rollback, and have nothing after it; a batch script
// must hold at least one statement.
absl::StatusOr<std::vector<Statement>> ParseScript(std::string_view text,
                                                   ScriptKind kind);

// The smallest key greater than every key starting with `prefix`; empty if
// there is none (the prefix is empty or all 0xff bytes).
std::string PrefixEnd(std::string_view prefix);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_SCRIPT_H_
