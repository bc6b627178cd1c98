#include "cairn/client/channel.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace cairn::client {
namespace {

absl::StatusOr<std::string> ReadPem(const char* option,
                                    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read '", path, "'"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ClientOptions& options, const grpc::ChannelArguments* extra) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("target: empty server address");
  }
  grpc::ChannelArguments args;
  if (extra != nullptr) args = *extra;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  // gRPC's own reconnect backoff grows to 120 s by default; a database
  // client whose server restarts wants to be back within its retry budget.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(std::max(
                  absl::Milliseconds(100), options.retry.max_backoff))));
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls.enabled) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls.ca_file.empty()) {
      absl::StatusOr<std::string> ca =
          ReadPem("tls.ca_file", options.tls.ca_file);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (options.tls.cert_file.empty() != options.tls.key_file.empty()) {
      return absl::InvalidArgumentError(
          "tls.cert_file, tls.key_file: give both for mutual TLS, or neither");
    }
    if (!options.tls.cert_file.empty()) {
      absl::StatusOr<std::string> cert =
          ReadPem("tls.cert_file", options.tls.cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          ReadPem("tls.key_file", options.tls.key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    if (!options.tls.server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls.server_name);
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.target, creds, args);
}

void AddCallCredentials(const ClientOptions& options,
                        grpc::ClientContext* context) {
  if (!options.token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options.token));
  }
}

}  // namespace cairn::client
