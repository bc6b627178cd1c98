#include "script_lexer.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "escaping.h"

namespace cairn::cli {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

absl::Status ColumnError(size_t column, const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("column ", column, ": ", what));
}

}  // namespace

absl::StatusOr<std::vector<Token>> TokenizeLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < line.size()) {
    if (IsBlank(line[i])) {
      ++i;
      continue;
    }
    if (line[i] == '#') break;
    Token t;
    t.column = static_cast<int>(i + 1);
    if (line[i] == '"') {
      size_t error_at = 0;
      absl::StatusOr<size_t> used =
          UnquotePrefix(line.substr(i), &t.text, &error_at);
      if (!used.ok()) {
        return ColumnError(i + error_at + 1,
                           absl::StrCat(used.status().message()));
      }
      i += *used;
      if (i < line.size() && !IsBlank(line[i])) {
        return ColumnError(i + 1,
                           "a quoted string must be followed by a blank");
      }
      t.quoted = true;
    } else {
      size_t end = i;
      while (end < line.size() && !IsBlank(line[end])) {
        if (line[end] == '"') {
          return ColumnError(end + 1,
                             "'\"' inside a bare word (quote the whole token)");
        }
        ++end;
      }
      t.text = std::string(line.substr(i, end - i));
      i = end;
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

}  // namespace cairn::cli
