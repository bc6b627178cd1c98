// TailConsumer::Impl: one Replication.Tail stream at a time and the position
// to open the next one at. next_seq_ only grows: past every delivered event
// and every progress message's committed sequence.
//
// mu_ guards the context (Cancel may come from another thread), the
// position and the counters; reads on the stream happen without it.
#ifndef CAIRN_CLIENT_SRC_TAIL_CONSUMER_IMPL_H_
#define CAIRN_CLIENT_SRC_TAIL_CONSUMER_IMPL_H_

#include <memory>

#include "absl/synchronization/mutex.h"
#include "cairn/client/tail_consumer.h"
#include "connection.h"

namespace cairn::client {

class TailConsumer::Impl {
 public:
  Impl(std::shared_ptr<Connection> conn, TailOptions options);
  ~Impl();

  absl::StatusOr<TailUpdate> Next();
  absl::Status Ack(uint64_t seq);
  void Cancel();
  uint64_t next_seq() const;
  int reconnects() const;

 private:
  // Opens a stream at the current position; false once cancelled.
  bool Open();
  cairn::v1::TailRequest MakeRequest() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<Connection> conn_;
  const TailOptions options_;
  std::unique_ptr<grpc::ClientReader<cairn::v1::TailResponse>> reader_;

  mutable absl::Mutex mu_;
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;  // reconnects without a response
  int reconnects_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SRC_TAIL_CONSUMER_IMPL_H_
