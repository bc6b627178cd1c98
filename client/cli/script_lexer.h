// The lexer of `cairn batch` and `cairn txn` scripts: splits one line into
// tokens.
//
//   - Tokens are separated by spaces or tabs (a trailing '\r' is ignored, so
//     CRLF files work).
//   - A bare token runs to the next blank and is taken literally (a
//     backslash in it is just a backslash); it must not contain '"'.
//   - A token starting with '"' is a quoted string with the escapes of
//     escaping.h (\" \\ \n \t \r \0 \xHH); it may hold blanks and any byte,
//     and must be followed by a blank or the end of the line.
//   - '#' at the start of a token begins a comment that runs to the end of
//     the line ("a#b" is one bare token).
//
// Errors name the 1-based column. Pure function; thread-safe.
#ifndef CAIRN_CLIENT_CLI_SCRIPT_LEXER_H_
#define CAIRN_CLIENT_CLI_SCRIPT_LEXER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::cli {

struct Token {
  std::string text;     // the bytes, escapes resolved
  bool quoted = false;  // keywords are recognized only in bare tokens
  int column = 0;       // 1-based column of its first character
};

absl::StatusOr<std::vector<Token>> TokenizeLine(std::string_view line);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_SCRIPT_LEXER_H_
