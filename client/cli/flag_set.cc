#include "flag_set.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cairn::cli {
namespace {

std::string Canonical(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

std::string Dashed(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

absl::Status BadValue(const std::string& name, const char* what,
                      const std::string& text) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", Dashed(name), ": ", what, ": '", text, "'"));
}

}  // namespace

absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
  std::string t = absl::AsciiStrToLower(std::string(text));
  struct Suffix {
    const char* s;
    int64_t mul;
  };
  static constexpr Suffix kSuffixes[] = {
      {"kib", int64_t{1} << 10}, {"mib", int64_t{1} << 20},
      {"gib", int64_t{1} << 30}, {"kb", 1000},
      {"mb", 1000000},           {"gb", 1000000000},
      {"k", int64_t{1} << 10},   {"m", int64_t{1} << 20},
      {"g", int64_t{1} << 30},   {"b", 1}};
  int64_t mul = 1;
  for (const Suffix& s : kSuffixes) {
    std::string_view suffix(s.s);
    if (t.size() > suffix.size() &&
        std::string_view(t).substr(t.size() - suffix.size()) == suffix) {
      mul = s.mul;
      t.resize(t.size() - suffix.size());
      break;
    }
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(t, &n) || n < 0 || n > INT64_MAX / mul) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a byte size: '", std::string(text), "'"));
  }
  return n * mul;
}

FlagSet::FlagSet(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

FlagSet::Flag* FlagSet::Find(std::string_view name) {
  std::string c = Canonical(name);
  for (Flag& f : flags_) {
    if (f.name == c) return &f;
  }
  return nullptr;
}

const FlagSet::Flag* FlagSet::Find(std::string_view name) const {
  return const_cast<FlagSet*>(this)->Find(name);
}

bool FlagSet::IsSet(std::string_view name) const {
  const Flag* f = Find(name);
  return f != nullptr && f->set;
}

void FlagSet::String(std::string name, std::string* value, std::string help) {
  Flag f{Canonical(name),
         std::move(help),
         value->empty() ? "" : absl::StrCat("\"", *value, "\""),
         false,
         false,
         {},
         nullptr};
  f.assign = [value](const std::string& text) {
    *value = std::string(text);
    return absl::OkStatus();
  };
  Add(std::move(f));
}

void FlagSet::Int(std::string name, int64_t* value, std::string help) {
  std::string n = Canonical(name);
  Flag f{n, std::move(help), absl::StrCat(*value), false, false, {}, nullptr};
  f.assign = [value, n](const std::string& text) {
    if (!absl::SimpleAtoi(text, value)) {
      return BadValue(n, "not an integer", text);
    }
    return absl::OkStatus();
  };
  Add(std::move(f));
}

void FlagSet::Double(std::string name, double* value, std::string help) {
  std::string n = Canonical(name);
  Flag f{n,  std::move(help), absl::StrFormat("%g", *value), false, false,
         {}, nullptr};
  f.assign = [value, n](const std::string& text) {
    if (!absl::SimpleAtod(text, value)) {
      return BadValue(n, "not a number", text);
    }
    return absl::OkStatus();
  };
  Add(std::move(f));
}

void FlagSet::Bool(std::string name, bool* value, std::string help) {
  std::string n = Canonical(name);
  Flag f{n,  std::move(help), *value ? "true" : "false", false, false,
         {}, nullptr};
  f.is_bool = true;
  f.bool_value = value;
  f.assign = [value, n](const std::string& text) {
    if (!absl::SimpleAtob(text, value)) {
      return BadValue(n, "not a boolean", text);
    }
    return absl::OkStatus();
  };
  Add(std::move(f));
}

void FlagSet::Duration(std::string name, absl::Duration* value,
                       std::string help) {
  std::string n = Canonical(name);
  Flag f{n,  std::move(help), absl::FormatDuration(*value), false, false,
         {}, nullptr};
  f.assign = [value, n](const std::string& text) {
    if (!absl::ParseDuration(text, value)) {
      return BadValue(n, "not a duration (like 500ms, 5s, 2m)", text);
    }
    if (*value < absl::ZeroDuration()) {
      return BadValue(n, "negative duration", text);
    }
    return absl::OkStatus();
  };
  Add(std::move(f));
}

void FlagSet::Bytes(std::string name, int64_t* value, std::string help) {
  std::string n = Canonical(name);
  Flag f{n, std::move(help), absl::StrCat(*value), false, false, {}, nullptr};
  f.assign = [value, n](const std::string& text) {
    absl::StatusOr<int64_t> v = ParseByteSize(text);
    if (!v.ok()) return BadValue(n, "not a byte size (like 100, 4KiB)", text);
    *value = *v;
    return absl::OkStatus();
  };
  Add(std::move(f));
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(
    const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return positional;
    }
    if (arg.size() < 3 || arg[0] != '-' || arg[1] != '-') {
      positional.push_back(arg);  // includes "-" (stdin)
      continue;
    }
    std::string_view body = std::string_view(arg).substr(2);
    std::string_view name = body;
    std::optional<std::string_view> value;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
    }
    Flag* flag = Find(name);
    if (flag == nullptr && !value.has_value() && name.substr(0, 3) == "no-") {
      Flag* negated = Find(name.substr(3));
      if (negated != nullptr && negated->is_bool) {
        *negated->bool_value = false;
        negated->set = true;
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", std::string(name)));
    }
    if (!value.has_value()) {
      if (flag->is_bool) {
        *flag->bool_value = true;
        flag->set = true;
        continue;
      }
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", Dashed(flag->name), ": missing value"));
      }
      value = args[++i];
    }
    if (absl::Status s = flag->assign(std::string(*value)); !s.ok()) return s;
    flag->set = true;
  }
  return positional;
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n");
  if (!description_.empty()) absl::StrAppend(&out, "\n", description_, "\n");
  if (!flags_.empty()) absl::StrAppend(&out, "\nflags:\n");
  for (const Flag& f : flags_) {
    std::string left = absl::StrCat("  --", Dashed(f.name));
    absl::StrAppend(&out, left);
    size_t pad = left.size() < 26 ? 26 - left.size() : 1;
    absl::StrAppend(&out, std::string(pad, ' '), f.help);
    if (!f.default_text.empty() && f.default_text != "0" &&
        f.default_text != "false") {
      absl::StrAppend(&out, " (default ", f.default_text, ")");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace cairn::cli
