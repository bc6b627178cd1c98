#include "escaping.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cairn::cli {
namespace {

// Length of the well-formed UTF-8 sequence at bytes[i] and its code point,
// or 0 if there is none there.
size_t Utf8SequenceAt(std::string_view bytes, size_t i, uint32_t* code_point) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(bytes[k]); };
  const uint8_t lead = b(i);
  size_t len;
  uint32_t cp;
  uint32_t min;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    len = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > bytes.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return len;
}

bool IsControl(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  uint32_t cp;
  for (size_t i = 0; i < bytes.size();) {
    size_t n = Utf8SequenceAt(bytes, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool NeedsQuoting(std::string_view bytes) {
  if (bytes.empty() || bytes.front() == '"' || bytes.front() == ' ' ||
      bytes.back() == ' ') {
    return true;
  }
  uint32_t cp;
  for (size_t i = 0; i < bytes.size();) {
    size_t n = Utf8SequenceAt(bytes, i, &cp);
    if (n == 0 || IsControl(cp)) return true;
    i += n;
  }
  return false;
}

std::string Quote(std::string_view bytes) {
  std::string out = "\"";
  uint32_t cp;
  for (size_t i = 0; i < bytes.size();) {
    size_t n = Utf8SequenceAt(bytes, i, &cp);
    if (n == 0 || IsControl(cp)) {
      // Invalid UTF-8 or a control: escape the bytes one by one.
      size_t count = n == 0 ? 1 : n;
      for (size_t k = 0; k < count; ++k) {
        const char c = bytes[i + k];
        switch (c) {
          case '\n':
            out += "\\n";
            break;
          case '\t':
            out += "\\t";
            break;
          case '\r':
            out += "\\r";
            break;
          default:
            absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint8_t>(c));
        }
      }
      i += count;
      continue;
    }
    if (cp == '"' || cp == '\\') out += '\\';
    out.append(bytes.substr(i, n));
    i += n;
  }
  out += '"';
  return out;
}

std::string DisplayBytes(std::string_view bytes) {
  return NeedsQuoting(bytes) ? Quote(bytes) : std::string(bytes);
}

absl::StatusOr<size_t> UnquotePrefix(std::string_view text, std::string* out,
                                     size_t* error_at) {
  const auto fail = [&](size_t at, const std::string& message) {
    if (error_at != nullptr) *error_at = at;
    return absl::InvalidArgumentError(message);
  };
  if (text.empty() || text[0] != '"') return fail(0, "expected '\"'");
  out->clear();
  for (size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') return i + 1;
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (i + 1 >= text.size()) break;
    const size_t escape_at = i;
    const char e = text[++i];
    switch (e) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case '0':
        out->push_back('\0');
        break;
      case 'x': {
        int hi = i + 1 < text.size() ? HexDigit(text[i + 1]) : -1;
        int lo = i + 2 < text.size() ? HexDigit(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          return fail(escape_at, "\\x needs two hex digits");
        }
        out->push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        return fail(escape_at,
                    absl::StrCat("unknown escape '\\", std::string(1, e),
                                 "' (known: \\\" \\\\ \\n \\t \\r \\0 \\xHH)"));
    }
  }
  return fail(0, "unterminated string (missing closing '\"')");
}

absl::StatusOr<std::string> Unquote(std::string_view text) {
  std::string out;
  size_t error_at = 0;
  absl::StatusOr<size_t> used = UnquotePrefix(text, &out, &error_at);
  if (!used.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(used.status().message(), " at character ", error_at + 1));
  }
  if (*used != text.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected text after the closing quote at character ", *used + 1));
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    out.push_back(kDigits[static_cast<uint8_t>(c) >> 4]);
    out.push_back(kDigits[static_cast<uint8_t>(c) & 0xF]);
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError("odd number of hex digits");
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigit(hex[i]);
    int lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "not a hex digit at character ", hi < 0 ? i + 1 : i + 2));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  return absl::Base64Escape(std::string(bytes));
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  std::string in(text);
  std::string out;
  const bool url_safe = in.find_first_of("-_") != std::string::npos;
  const bool ok = url_safe ? absl::WebSafeBase64Unescape(in, &out)
                           : absl::Base64Unescape(in, &out);
  if (!ok) return absl::InvalidArgumentError("not valid base64");
  return out;
}

}  // namespace cairn::cli
