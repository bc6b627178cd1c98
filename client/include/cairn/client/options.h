// ClientOptions: how a cairn client reaches cairnd (address, TLS, bearer
// token), the default deadline of a call and the retry policy.
//
// Defaults match cairnd's: plaintext gRPC to 127.0.0.1:7070, no token.
// FromEnvironment() starts from the defaults and applies the CAIRN_*
// environment variables the `cairn` CLI documents:
//   CAIRN_ENDPOINT    host:port (or any gRPC target, e.g. unix:/path)
//   CAIRN_TLS_CA      PEM file of the CA that signed the server's certificate
//                     (setting it turns TLS on)
//   CAIRN_TLS_CERT    client certificate (mutual TLS), with CAIRN_TLS_KEY
//   CAIRN_TLS_KEY
//   CAIRN_TLS_SERVER_NAME  name to check the certificate against, when it
//                     differs from the endpoint's host
//   CAIRN_TOKEN       bearer token
//   CAIRN_TOKEN_FILE  file holding the bearer token (first line)
//   CAIRN_TIMEOUT     default deadline per call, e.g. "5s"
// Plain data; safe to copy.
#ifndef CAIRN_CLIENT_OPTIONS_H_
#define CAIRN_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cairn::client {

// How durable a write must be before cairnd acknowledges it (see
// cairn.v1.Durability): kDefault is the server's --durability.
enum class Durability { kDefault, kSync, kAsync };

struct TlsOptions {
  bool enabled = false;
  // PEM files. An empty ca_file with enabled = true uses the system roots.
  std::string ca_file;
  std::string cert_file;  // with key_file: mutual TLS
  std::string key_file;
  // Checked against the server certificate instead of the target's host.
  std::string server_name;
};

// Retries of calls that are safe to repeat (reads, Flush, Compact, Stats,
// Health, Ack, ListConsumers; Put/Delete/DeleteRange only when
// retry_idempotent_writes) when they fail with UNAVAILABLE (server down,
// restarting or shutting down, connection refused or reset). Every attempt
// shares the call's one deadline; the waits between attempts grow
// exponentially from initial_backoff up to max_backoff, each drawn uniformly
// from [wait/2, wait] (jitter) so that clients do not retry in lockstep.
struct RetryPolicy {
  int max_attempts = 5;  // 1 = no retry
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(2);
  double multiplier = 2.0;
  // Put, Delete and DeleteRange leave the same data when repeated (though a
  // repeated write gets a new sequence number and shows twice in Tail).
  // Merge, Batch, transactions, Checkpoint and snapshot calls are never
  // retried.
  bool retry_idempotent_writes = false;
};

struct ClientOptions {
  std::string target = "127.0.0.1:7070";
  TlsOptions tls;
  // Sent as "authorization: Bearer <token>" on every call when non-empty.
  std::string token;
  // Deadline of a call that does not set its own. Streams (Scan, Txn) get
  // it as the deadline of the whole stream; Tail has none by default.
  absl::Duration default_timeout = absl::Seconds(10);
  RetryPolicy retry;
  // gRPC's maximum message size on this side (cairnd's default limit is
  // 24 MiB).
  int max_message_bytes = 64 << 20;

  // The defaults with the CAIRN_* environment variables applied. Fails with
  // INVALID_ARGUMENT naming the variable when one is malformed or its file
  // cannot be read.
  static absl::StatusOr<ClientOptions> FromEnvironment();
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_OPTIONS_H_
