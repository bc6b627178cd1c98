// Escaping of keys and values (arbitrary bytes) for `cairn`'s output and
// input. One quoting syntax serves both ways, so that what the human output
// shows can be pasted into a batch or txn script:
//
//   "..."   a double-quoted string; inside it \" \\ \n \t \r \0 and \xHH
//           (two hex digits, any byte) are escapes, every other byte stands
//           for itself.
//
// DisplayBytes prints a byte string bare when that is unambiguous (see
// NeedsQuoting), else quoted with every byte that is not printable UTF-8
// written as an escape. Hex and base64 helpers back the --hex/--base64 input
// flags and the *_base64 JSON fields.
//
// Pure functions; thread-safe.
#ifndef CAIRN_CLIENT_CLI_ESCAPING_H_
#define CAIRN_CLIENT_CLI_ESCAPING_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cairn::cli {

// Whether `bytes` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool IsValidUtf8(std::string_view bytes);

// True when `bytes` cannot be shown bare: it is empty, is not valid UTF-8,
// holds a control character (U+0000-U+001F, U+007F-U+009F), begins with a
// double quote, or begins or ends with a space.
bool NeedsQuoting(std::string_view bytes);

// The quoted form of `bytes` (always quoted): printable UTF-8 as is, \" and
// \\ for quote and backslash, \n \t \r for those controls, \xHH for every
// other control byte and for every byte that is not part of valid UTF-8.
std::string Quote(std::string_view bytes);

// `bytes` bare if !NeedsQuoting(bytes), else Quote(bytes).
std::string DisplayBytes(std::string_view bytes);

// Reverses Quote: `text` must be one double-quoted string (escapes as
// above). Errors say what is wrong and at which character (1-based).
absl::StatusOr<std::string> Unquote(std::string_view text);

// Decodes the quoted string that starts at text[0] (a '"') into *out and
// returns how many bytes of `text` it took, closing quote included; the
// rest of `text` is left alone. On an error, *error_at (when non-null) is
// the 0-based offset in `text` it refers to; the message does not repeat it.
absl::StatusOr<size_t> UnquotePrefix(std::string_view text, std::string* out,
                                     size_t* error_at = nullptr);

// Lower-case hex; and its inverse, which accepts either case and refuses an
// odd length or a non-hex digit.
std::string HexEncode(std::string_view bytes);
absl::StatusOr<std::string> HexDecode(std::string_view hex);

// Standard base64 with padding; the decoder also accepts missing padding
// and the URL-safe alphabet.
std::string Base64Encode(std::string_view bytes);
absl::StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_ESCAPING_H_
