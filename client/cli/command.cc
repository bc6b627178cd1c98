#include "command.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "escaping.h"
#include "exit_code.h"

namespace cairn::cli {

absl::StatusOr<client::Durability> ParseDurability(std::string_view text) {
  if (text == "default") return client::Durability::kDefault;
  if (text == "sync") return client::Durability::kSync;
  if (text == "async") return client::Durability::kAsync;
  return absl::InvalidArgumentError(absl::StrCat(
      "--durability: '", std::string(text), "' is not sync, async or default"));
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::string data((std::istreambuf_iterator<char>(std::cin)),
                     std::istreambuf_iterator<char>());
    if (std::cin.bad()) {
      return absl::InvalidArgumentError("cannot read standard input");
    }
    return data;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open '", path, "'"));
  }
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read '", path, "'"));
  }
  return data.str();
}

std::string FormatUnixMicros(uint64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ",
                          absl::FromUnixMicros(static_cast<int64_t>(micros)),
                          absl::UTCTimeZone());
}

CommandContext::CommandContext(CommandInfo info, unsigned common_flags)
    : info_(std::move(info)),
      common_flags_(common_flags),
      flags_(info_.synopsis, info_.description) {
  if (common_flags_ & kConnectionFlags) connection_init_ = connection_.Init();
}

std::optional<int> CommandContext::Parse(const std::vector<std::string>& args,
                                         size_t min_args, int max_args,
                                         std::vector<std::string>* positional) {
  if (common_flags_ & kByteArgFlags) {
    flags_.Bool("hex", &hex_,
                "KEY/VALUE arguments (and key flags) are hex: 6b6579");
    flags_.Bool("base64", &base64_, "KEY/VALUE arguments are base64: a2V5");
    flags_.Bool("escaped", &escaped_,
                "KEY/VALUE arguments are quoted strings as cairn prints "
                "them: \"a\\x00b\"");
  }
  if (common_flags_ & kDurabilityFlag) {
    flags_.String("durability", &durability_text_,
                  "sync, async, or default (the server's --durability)");
  }
  if (common_flags_ & kJsonFlag) {
    flags_.Bool("json", &json_, "print JSON (see docs/cli.md)");
  }
  if (common_flags_ & kConnectionFlags) connection_.Register(&flags_);

  absl::StatusOr<std::vector<std::string>> parsed = flags_.Parse(args);
  if (flags_.help_requested()) {
    std::fputs(Help().c_str(), stdout);
    return kExitOk;
  }
  if (!parsed.ok()) return UsageError(parsed.status());
  if (!connection_init_.ok()) return UsageError(connection_init_);
  if (common_flags_ & kConnectionFlags) {
    if (absl::Status s = connection_.Finish(); !s.ok()) {
      return UsageError(s);
    }
  }
  if (static_cast<int>(hex_) + static_cast<int>(base64_) +
          static_cast<int>(escaped_) >
      1) {
    return UsageError("--hex, --base64 and --escaped exclude each other");
  }
  if (common_flags_ & kDurabilityFlag) {
    absl::StatusOr<client::Durability> d = ParseDurability(durability_text_);
    if (!d.ok()) return UsageError(d.status());
    durability_ = *d;
  }
  *positional = std::move(*parsed);
  if (positional->size() < min_args ||
      (max_args >= 0 && positional->size() > static_cast<size_t>(max_args))) {
    std::string want = max_args < 0 ? absl::StrCat("at least ", min_args)
                       : static_cast<size_t>(max_args) == min_args
                           ? absl::StrCat(min_args)
                           : absl::StrCat(min_args, " to ", max_args);
    const bool one =
        (max_args < 0 ? min_args : static_cast<size_t>(max_args)) == 1;
    return UsageError(absl::StrCat("expected ", want, " argument",
                                   one ? "" : "s", ", got ", positional->size(),
                                   " (usage: ", info_.synopsis, ")"));
  }
  return std::nullopt;
}

std::string CommandContext::Help() const {
  std::string help = flags_.Usage();
  if (!info_.examples.empty()) {
    absl::StrAppend(&help, "\nexamples:\n", info_.examples);
    if (info_.examples.back() != '\n') help += '\n';
  }
  absl::StrAppend(&help,
                  "\nexit codes: 0 ok, 1 not found, 2 usage error, 3 server "
                  "or connection error, 4 not applied (condition failed or "
                  "transaction aborted); see 'cairn help'.\n");
  return help;
}

absl::StatusOr<std::string> CommandContext::DecodeBytes(
    std::string_view what, const std::string& arg) const {
  absl::StatusOr<std::string> bytes = arg;
  const char* form = "";
  if (hex_) {
    bytes = HexDecode(arg);
    form = "hex";
  } else if (base64_) {
    bytes = Base64Decode(arg);
    form = "base64";
  } else if (escaped_) {
    // The surrounding quotes are optional: "a\x00b" or a\x00b.
    const bool quoted = !arg.empty() && arg[0] == '"';
    bytes = Unquote(quoted ? arg : absl::StrCat("\"", arg, "\""));
    form = "an escaped string";
  }
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": not ", form, " (",
                     bytes.status().message(), "): '", arg, "'"));
  }
  return bytes;
}

absl::StatusOr<std::string> CommandContext::DecodeKey(
    std::string_view what, const std::string& arg) const {
  absl::StatusOr<std::string> key = DecodeBytes(what, arg);
  if (key.ok() && key->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(what), ": empty key (keys are 1 byte or more)"));
  }
  return key;
}

int CommandContext::UsageError(std::string_view message) const {
  std::fprintf(stderr, "cairn %s: %.*s\nRun 'cairn %s --help' for usage.\n",
               info_.name.c_str(), static_cast<int>(message.size()),
               message.data(), info_.name.c_str());
  return kExitUsage;
}

int CommandContext::Fail(const absl::Status& status) const {
  std::string code = absl::StatusCodeToString(status.code());
  std::string message(status.message());
  std::fprintf(stderr, "cairn: %s: %s\n", code.c_str(), message.c_str());
  return status.code() == absl::StatusCode::kNotFound ? kExitNotFound
                                                      : kExitServer;
}

bool CommandContext::timeout_explicit() const {
  const char* env = std::getenv("CAIRN_TIMEOUT");
  return flags_.IsSet("timeout") || (env != nullptr && env[0] != '\0');
}

std::unique_ptr<client::Client> CommandContext::Connect(int* exit_code) {
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect(connection_.options());
  if (!c.ok()) {
    *exit_code = UsageError(c.status());
    return nullptr;
  }
  return std::move(*c);
}

}  // namespace cairn::cli
