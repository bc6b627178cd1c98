// ConnectionFlags: the flags every `cairn` subcommand (and `cairn bench`)
// shares to reach cairnd: --endpoint, --tls-ca, --tls-cert, --tls-key,
// --tls-server-name, --token, --token-file and --timeout. Their defaults come
// from the CAIRN_* environment variables (see cairn/client/options.h), so a
// flag overrides the environment.
//
// Usage: Init() (reads the environment), Register(&flags), parse, Finish().
#ifndef CAIRN_CLIENT_CLI_CONNECTION_FLAGS_H_
#define CAIRN_CLIENT_CLI_CONNECTION_FLAGS_H_

#include <string>

#include "absl/status/status.h"
#include "cairn/client/options.h"
#include "flag_set.h"

namespace cairn::cli {

class ConnectionFlags {
 public:
  // Starts from ClientOptions::FromEnvironment().
  absl::Status Init();
  void Register(FlagSet* flags);
  // Applies what needs the parsed flags (the token file, TLS switched on by
  // a TLS flag). Errors name the flag.
  absl::Status Finish();

  const client::ClientOptions& options() const { return options_; }
  client::ClientOptions* mutable_options() { return &options_; }

 private:
  client::ClientOptions options_;
  std::string token_file_;
  bool tls_ = false;
};

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_CONNECTION_FLAGS_H_
