// CallRunner: runs one unary call of the client library with its deadline,
// its credentials and, when the call is safe to repeat, retries on
// UNAVAILABLE with jittered exponential backoff inside that one deadline.
// Also the conversions from the library's option types to protobuf.
//
// Thread-safe (holds only the options and a mutex-guarded random source).
#ifndef CAIRN_CLIENT_SRC_CALL_H_
#define CAIRN_CLIENT_SRC_CALL_H_

#include <functional>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cairn/client/options.h"
#include "cairn/v1/types.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace cairn::client {

class CallRunner {
 public:
  explicit CallRunner(const ClientOptions& options) : options_(options) {}

  const ClientOptions& options() const { return options_; }

  // The absolute deadline of a call with this timeout (zero: the default;
  // infinite: none).
  absl::Time Deadline(absl::Duration timeout) const;

  // Sets the deadline and the credentials of a new context.
  void Prepare(grpc::ClientContext* context, absl::Time deadline) const;

  // Runs attempt(context) with a fresh context each time until it succeeds,
  // fails with a status that is not retried, the attempts run out or the
  // deadline would pass during the next backoff.
  absl::Status Run(
      absl::Duration timeout, bool retryable,
      const std::function<grpc::Status(grpc::ClientContext*)>& attempt);

  // The next backoff after `attempt` failures (1-based), with jitter.
  absl::Duration Backoff(int attempt, absl::Duration initial,
                         absl::Duration max);

 private:
  const ClientOptions options_;
  absl::Mutex mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
};

cairn::v1::Durability ToProto(Durability d);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SRC_CALL_H_
