#include "auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/security/server_credentials.h"
#include "string_view_bridge.h"

namespace cairn::server {

absl::StatusOr<std::string> ReadSettingFile(const std::string& path,
                                            std::string_view setting) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting '", Sv(setting), "': cannot read ", path));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

namespace {

// Compares without an early exit, so the time taken does not reveal how
// much of a guessed token was right.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TokenAuth>> TokenAuth::LoadFile(
    const std::string& path) {
  absl::StatusOr<std::string> contents = ReadSettingFile(path, "auth_tokens");
  if (!contents.ok()) return contents.status();
  return Parse(*contents, path);
}

absl::StatusOr<std::unique_ptr<TokenAuth>> TokenAuth::Parse(
    std::string_view contents, std::string_view source) {
  auto auth = std::unique_ptr<TokenAuth>(new TokenAuth());
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(
           absl::string_view(contents.data(), contents.size()), '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "setting 'auth_tokens': ", Sv(source), ":", line_no, ": ", Sv(why)));
    };
    if (parts.size() != 2) return bad("expected '<role> <token>'");
    Role role;
    if (parts[0] == "read") {
      role = Role::kRead;
    } else if (parts[0] == "write") {
      role = Role::kWrite;
    } else if (parts[0] == "admin") {
      role = Role::kAdmin;
    } else {
      return bad(
          absl::StrCat("unknown role '", parts[0], "' (read, write or admin)"));
    }
    absl::string_view token = parts[1];
    if (token.size() < 16 || token.size() > 4096) {
      return bad("a token must have 16 to 4096 characters");
    }
    for (char c : token) {
      if (c <= ' ' || c >= 0x7f) return bad("a token must be printable ASCII");
    }
    for (const Entry& e : auth->tokens_) {
      if (e.token == token) return bad("token listed twice");
    }
    auth->tokens_.push_back({std::string(token), role});
  }
  if (auth->tokens_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting 'auth_tokens': ", Sv(source), " has no tokens"));
  }
  return auth;
}

grpc::Status TokenAuth::Check(const grpc::ServerContextBase& context,
                              Role needed) const {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(
          absl::string_view(value.data(), kBearer.size()),
          absl::string_view(kBearer.data(), kBearer.size()))) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata is not 'Bearer <token>'");
  }
  std::string_view token = value.substr(kBearer.size());
  const Entry* match = nullptr;
  for (const Entry& e : tokens_) {
    if (ConstantTimeEquals(e.token, token)) match = &e;
  }
  if (match == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
  }
  if (static_cast<int>(match->role) < static_cast<int>(needed)) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("this call needs the ", Sv(RoleName(needed)),
                     " role; the token has ", Sv(RoleName(match->role))));
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert =
      ReadSettingFile(config.tls_cert_file, "tls_cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key =
      ReadSettingFile(config.tls_key_file, "tls_key");
  if (!key.ok()) return key.status();
  if (!absl::StrContains(*cert, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting 'tls_cert': ", config.tls_cert_file,
                     " has no PEM certificate"));
  }
  if (!absl::StrContains(*key, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "setting 'tls_key': ", config.tls_key_file, " has no PEM private key"));
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadSettingFile(config.tls_client_ca_file, "tls_client_ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace cairn::server
