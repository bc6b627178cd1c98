#include "call.h"

#include <algorithm>
#include <cmath>

#include "cairn/client/channel.h"
#include "grpc_status.h"

namespace cairn::client {

absl::Time CallRunner::Deadline(absl::Duration timeout) const {
  if (timeout == absl::ZeroDuration()) timeout = options_.default_timeout;
  if (timeout == absl::InfiniteDuration()) return absl::InfiniteFuture();
  return absl::Now() + timeout;
}

void CallRunner::Prepare(grpc::ClientContext* context,
                         absl::Time deadline) const {
  if (deadline != absl::InfiniteFuture()) {
    context->set_deadline(absl::ToChronoTime(deadline));
  }
  AddCallCredentials(options_, context);
}

absl::Duration CallRunner::Backoff(int attempt, absl::Duration initial,
                                   absl::Duration max) {
  double factor = std::pow(std::max(1.0, options_.retry.multiplier),
                           std::max(0, attempt - 1));
  absl::Duration wait = std::min(max, initial * factor);
  absl::MutexLock lock(&mu_);
  double fraction = absl::Uniform(rng_, 0.5, 1.0);
  return wait * fraction;
}

absl::Status CallRunner::Run(
    absl::Duration timeout, bool retryable,
    const std::function<grpc::Status(grpc::ClientContext*)>& attempt) {
  const absl::Time deadline = Deadline(timeout);
  const int max_attempts =
      retryable ? std::max(1, options_.retry.max_attempts) : 1;
  for (int n = 1;; ++n) {
    grpc::ClientContext context;
    Prepare(&context, deadline);
    grpc::Status s = attempt(&context);
    if (s.ok()) return absl::OkStatus();
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE || n >= max_attempts) {
      return FromGrpc(s);
    }
    absl::Duration wait =
        Backoff(n, options_.retry.initial_backoff, options_.retry.max_backoff);
    if (absl::Now() + wait >= deadline) return FromGrpc(s);
    absl::SleepFor(wait);
  }
}

cairn::v1::Durability ToProto(Durability d) {
  switch (d) {
    case Durability::kSync:
      return cairn::v1::DURABILITY_SYNC;
    case Durability::kAsync:
      return cairn::v1::DURABILITY_ASYNC;
    case Durability::kDefault:
      break;
  }
  return cairn::v1::DURABILITY_DEFAULT;
}

}  // namespace cairn::client
