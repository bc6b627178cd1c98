// Channel creation for cairn clients: one place that turns ClientOptions
// into a grpc::Channel (TLS credentials from the PEM files, message size)
// and attaches the bearer token to a call. Used by Client, by `cairn bench`
// (which opens several channels) and by anyone who wants the generated stubs
// directly.
#ifndef CAIRN_CLIENT_CHANNEL_H_
#define CAIRN_CLIENT_CHANNEL_H_

#include <memory>

#include "absl/status/statusor.h"
#include "cairn/client/options.h"

namespace grpc {
class Channel;
class ChannelArguments;
class ClientContext;
}  // namespace grpc

namespace cairn::client {

// A new channel to options.target. `extra` adds channel arguments (pass
// distinct ones to get distinct TCP connections); may be null. Fails with
// INVALID_ARGUMENT naming the option when a TLS file cannot be read.
// Connecting is lazy: an unreachable server shows in the first call.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ClientOptions& options,
    const grpc::ChannelArguments* extra = nullptr);

// Adds the "authorization: Bearer" metadata when options.token is set.
void AddCallCredentials(const ClientOptions& options,
                        grpc::ClientContext* context);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_CHANNEL_H_
