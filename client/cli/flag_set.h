// FlagSet: the command-line flags of one `cairn` subcommand (and of
// `cairn bench`): each flag is registered with a name, a help line and the
// variable it sets; Parse() consumes "--name=value", "--name value" and, for
// booleans, "--name" / "--no-name" (dashes and underscores in names are the
// same), and returns the positional arguments in order. "--" ends the flags.
// Usage() prints every flag with its default.
//
// Deliberately not absl flags: those are process-global, while each
// subcommand here has a flag set of its own with its own --help.
//
// Not thread-safe; used by one thread while parsing.
#ifndef CAIRN_CLIENT_CLI_FLAG_SET_H_
#define CAIRN_CLIENT_CLI_FLAG_SET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cairn::cli {

class FlagSet {
 public:
  // `usage` is the synopsis line, e.g. "cairn get [flags] KEY".
  explicit FlagSet(std::string usage, std::string description = "");

  void String(std::string name, std::string* value, std::string help);
  void Int(std::string name, int64_t* value, std::string help);
  void Double(std::string name, double* value, std::string help);
  void Bool(std::string name, bool* value, std::string help);
  // Accepts absl durations: "250ms", "5s", "1m30s", "inf".
  void Duration(std::string name, absl::Duration* value, std::string help);
  // Accepts byte sizes: "100", "4KiB", "16MiB", "1GiB" (also KB/MB/GB as
  // powers of 1000).
  void Bytes(std::string name, int64_t* value, std::string help);

  // Parses args (without the program and subcommand names). On success,
  // returns the positional arguments. "--help"/"-h" sets help_requested()
  // and returns OK with what was parsed so far. Errors name the flag:
  // "--count: not an integer: 'x'", "unknown flag --cont".
  absl::StatusOr<std::vector<std::string>> Parse(
      const std::vector<std::string>& args);

  bool help_requested() const { return help_requested_; }
  // Whether the flag was given on the command line.
  bool IsSet(std::string_view name) const;

  // The synopsis, the description and one line per flag with its default.
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;  // canonical: underscores
    std::string help;
    std::string default_text;
    bool is_bool = false;
    bool set = false;
    std::function<absl::Status(const std::string&)> assign;
    bool* bool_value = nullptr;
  };
  void Add(Flag flag);
  Flag* Find(std::string_view name);
  const Flag* Find(std::string_view name) const;

  std::string usage_;
  std::string description_;
  std::vector<Flag> flags_;
  bool help_requested_ = false;
};

// Parses "4KiB", "16MiB", "100" ... into bytes.
absl::StatusOr<int64_t> ParseByteSize(std::string_view text);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_FLAG_SET_H_
