#include "connection_flags.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cairn::cli {

absl::Status ConnectionFlags::Init() {
  absl::StatusOr<client::ClientOptions> o =
      client::ClientOptions::FromEnvironment();
  if (!o.ok()) return o.status();
  options_ = *o;
  tls_ = options_.tls.enabled;
  return absl::OkStatus();
}

void ConnectionFlags::Register(FlagSet* flags) {
  flags->String("endpoint", &options_.target,
                "cairnd's gRPC address [CAIRN_ENDPOINT]");
  flags->Bool("tls", &tls_, "use TLS (implied by --tls-ca/--tls-cert)");
  flags->String("tls-ca", &options_.tls.ca_file,
                "CA certificate (PEM) to verify the server [CAIRN_TLS_CA]");
  flags->String("tls-cert", &options_.tls.cert_file,
                "client certificate (PEM) for mutual TLS [CAIRN_TLS_CERT]");
  flags->String("tls-key", &options_.tls.key_file,
                "client private key (PEM) [CAIRN_TLS_KEY]");
  flags->String("tls-server-name", &options_.tls.server_name,
                "name to verify in the server certificate "
                "[CAIRN_TLS_SERVER_NAME]");
  flags->String("token", &options_.token, "bearer token [CAIRN_TOKEN]");
  flags->String("token-file", &token_file_,
                "file with the bearer token [CAIRN_TOKEN_FILE]");
  flags->Duration("timeout", &options_.default_timeout,
                  "deadline of each call [CAIRN_TIMEOUT]");
}

absl::Status ConnectionFlags::Finish() {
  if (!token_file_.empty()) {
    std::ifstream in(token_file_);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: cannot read '", token_file_, "'"));
    }
    options_.token = std::string(absl::StripAsciiWhitespace(line));
  }
  if (options_.default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout: must be positive");
  }
  options_.tls.enabled =
      tls_ || !options_.tls.ca_file.empty() || !options_.tls.cert_file.empty();
  return absl::OkStatus();
}

}  // namespace cairn::cli
