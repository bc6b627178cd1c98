// CommandContext: what every `cairn` subcommand shares: its FlagSet (own
// flags plus, on request, --json, the byte-argument encodings --hex /
// --base64 / --escaped, --durability and the connection flags), its --help
// text (usage, description, flags, examples), the mapping of outcomes to
// exit codes (exit_code.h) and the messages on stderr:
//
//   usage errors:   "cairn get: <what is wrong>" + a pointer to --help (2)
//   failed calls:   "cairn: <GRPC_CODE>: <message>"        (1 or 3)
//
// A subcommand builds one, registers its flags, calls Parse(), then
// Connect() and makes its calls, returning Fail(status) on an error.
//
// Not thread-safe; one per process run.
#ifndef CAIRN_CLIENT_CLI_COMMAND_H_
#define CAIRN_CLIENT_CLI_COMMAND_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/client/client.h"
#include "connection_flags.h"
#include "flag_set.h"
#include "output.h"

namespace cairn::cli {

struct CommandInfo {
  std::string name;      // "get", or "snapshot acquire"
  std::string synopsis;  // "cairn get [flags] KEY [KEY...]"
  std::string description;
  std::string examples;  // shell lines, shown under "examples:"
};

// Shared flags a subcommand asks for (bit set).
enum CommonFlags : unsigned {
  kNoCommonFlags = 0,
  kJsonFlag = 1 << 0,        // --json
  kByteArgFlags = 1 << 1,    // --hex, --base64, --escaped
  kDurabilityFlag = 1 << 2,  // --durability
  kConnectionFlags = 1 << 3,
};

class CommandContext {
 public:
  CommandContext(CommandInfo info, unsigned common_flags);

  FlagSet& flags() { return flags_; }

  // Registers the common flags, parses `args` and checks that there are
  // min_args..max_args positional arguments (max_args < 0: no limit).
  // Returns an exit code when the command must stop here: 0 after --help
  // (the help is printed), 2 on a usage error (reported). nullopt: go on.
  std::optional<int> Parse(const std::vector<std::string>& args,
                           size_t min_args, int max_args,
                           std::vector<std::string>* positional);

  // The full --help text.
  std::string Help() const;

  // Decodes a byte argument from the command line (or a flag value) as
  // --hex/--base64/--escaped say (plain text by default). `what` names it
  // in errors ("KEY", "--prefix").
  absl::StatusOr<std::string> DecodeBytes(std::string_view what,
                                          const std::string& arg) const;
  // As DecodeBytes, and refuses an empty key.
  absl::StatusOr<std::string> DecodeKey(std::string_view what,
                                        const std::string& arg) const;

  // Prints a usage error; returns kExitUsage.
  int UsageError(std::string_view message) const;
  int UsageError(const absl::Status& status) const {
    return UsageError(std::string(status.message()));
  }
  // Prints a failed call ("cairn: CODE: message"); returns kExitNotFound for
  // NOT_FOUND, else kExitServer.
  int Fail(const absl::Status& status) const;

  // The client for the connection flags; nullptr after printing the error
  // (bad TLS files or token file) with *exit_code set.
  std::unique_ptr<client::Client> Connect(int* exit_code);

  bool json() const { return json_; }
  // Whether the user chose a deadline (--timeout or CAIRN_TIMEOUT); streams
  // that may legitimately run long have none otherwise.
  bool timeout_explicit() const;
  client::Durability durability() const { return durability_; }
  const client::ClientOptions& client_options() const {
    return connection_.options();
  }
  Output& out() { return out_; }
  const CommandInfo& info() const { return info_; }

 private:
  CommandInfo info_;
  unsigned common_flags_;
  FlagSet flags_;
  ConnectionFlags connection_;
  absl::Status connection_init_;
  Output out_{stdout};
  bool json_ = false;
  bool hex_ = false;
  bool base64_ = false;
  bool escaped_ = false;
  std::string durability_text_ = "default";
  client::Durability durability_ = client::Durability::kDefault;
};

// "default", "sync" or "async".
absl::StatusOr<client::Durability> ParseDurability(std::string_view text);

// Reads a whole file ("-" = stdin) as bytes. Errors name the file.
absl::StatusOr<std::string> ReadInput(const std::string& path);

// Formats microseconds since the Unix epoch as RFC 3339 UTC
// ("2024-06-01T12:00:00.250Z").
std::string FormatUnixMicros(uint64_t micros);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_COMMAND_H_
