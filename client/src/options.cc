#include "cairn/client/options.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cairn::client {
namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && v[0] != '\0') ? v : nullptr;
}

}  // namespace

absl::StatusOr<ClientOptions> ClientOptions::FromEnvironment() {
  ClientOptions o;
  if (const char* v = Env("CAIRN_ENDPOINT")) o.target = v;
  if (const char* v = Env("CAIRN_TLS_CA")) {
    o.tls.enabled = true;
    o.tls.ca_file = v;
  }
  if (const char* v = Env("CAIRN_TLS_CERT")) {
    o.tls.enabled = true;
    o.tls.cert_file = v;
  }
  if (const char* v = Env("CAIRN_TLS_KEY")) {
    o.tls.enabled = true;
    o.tls.key_file = v;
  }
  if (const char* v = Env("CAIRN_TLS_SERVER_NAME")) o.tls.server_name = v;
  if (const char* v = Env("CAIRN_TOKEN")) o.token = v;
  if (const char* v = Env("CAIRN_TOKEN_FILE")) {
    std::ifstream in(v);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return absl::InvalidArgumentError(
          absl::StrCat("CAIRN_TOKEN_FILE: cannot read '", v, "'"));
    }
    o.token = std::string(absl::StripAsciiWhitespace(line));
  }
  if (const char* v = Env("CAIRN_TIMEOUT")) {
    absl::Duration d;
    if (!absl::ParseDuration(v, &d) || d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CAIRN_TIMEOUT: not a positive duration (like 5s): '", v, "'"));
    }
    o.default_timeout = d;
  }
  return o;
}

}  // namespace cairn::client
