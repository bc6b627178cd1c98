// Authentication and transport security of cairnd.
//
// TokenAuth holds the bearer tokens read from the --auth_tokens file, each
// with a role. Roles are ordered read < write < admin: a token may make any
// call whose required role is at or below its own. A call presents its token
// as the metadata `authorization: Bearer <token>`.
//
// Token file format: one `<role> <token>` pair per line; blank lines and
// lines starting with '#' are ignored; a token is 16 to 4096 printable
// non-space ASCII characters and appears at most once.
//
// Thread-safety: immutable after LoadFile; Check may be called concurrently.
#ifndef CAIRN_SERVER_AUTH_H_
#define CAIRN_SERVER_AUTH_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"

namespace cairn::server {

class TokenAuth {
 public:
  static absl::StatusOr<std::unique_ptr<TokenAuth>> LoadFile(
      const std::string& path);
  static absl::StatusOr<std::unique_ptr<TokenAuth>> Parse(
      std::string_view contents, std::string_view source);

  // OK if the call's token has at least `needed`; UNAUTHENTICATED if it has
  // no token or an unknown one; PERMISSION_DENIED if its role is too low.
  grpc::Status Check(const grpc::ServerContextBase& context, Role needed) const;

  size_t size() const { return tokens_.size(); }

 private:
  struct Entry {
    std::string token;
    Role role;
  };
  std::vector<Entry> tokens_;
};

// Server credentials from the config: insecure when no certificate is
// configured, TLS with --tls_cert/--tls_key, mutual TLS (client certificate
// required and verified) when --tls_client_ca is set too. Errors name the
// setting whose file cannot be read.
// The contents of a file a setting names; INVALID_ARGUMENT naming the
// setting if it cannot be read.
absl::StatusOr<std::string> ReadSettingFile(const std::string& path,
                                            std::string_view setting);

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& config);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_AUTH_H_
