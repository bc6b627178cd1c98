// Operation: the request of one in-flight slot of a workload, as a small
// state machine that the Driver advances with completion-queue events.
//
// The Driver calls Start() for each new request, handing over a fresh
// ClientContext (deadline and bearer token already set), then Proceed()
// with every event whose tag is the slot, until Proceed() returns true:
// the request has finished and outcome() describes it. A unary call has
// one event (its Finish); a Scan has one per chunk read plus its start and
// its Finish. Exactly one event of a request is outstanding at any time.
//
// An Operation is reused for the slot's next request; it owns the
// ClientContext and the call objects of its current request, and drops the
// call objects before the context they live in.
//
// NewOperation() makes the Operation of a workload (for mixed, one that
// picks Get or Put per request; for tail, the writers' Put).
//
// Thread-safety: none; a slot's events are handled by one completion-queue
// thread at a time, and the Driver does not touch the slot meanwhile.
#ifndef CAIRN_CLIENT_BENCH_OPERATION_H_
#define CAIRN_CLIENT_BENCH_OPERATION_H_

#include <cstdint>
#include <memory>

#include "bench_config.h"
#include "bench_util.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "key_generator.h"
#include "value_source.h"

namespace cairn::bench {

// What a finished request did.
struct Outcome {
  // OK, the call's error, or an error made of an unexpected answer (a
  // health check that is not SERVING: UNAVAILABLE).
  grpc::Status status;
  uint64_t keys = 0;   // keys written or returned (see LevelResult::keys)
  bool write = false;  // a write (Put, Batch, Merge) rather than a read
  bool miss = false;   // a Get that found no value
  uint64_t seq = 0;    // a write's commit sequence (its last, for a Batch)
};

// The stubs of one channel.
struct ChannelStubs {
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  std::unique_ptr<v1::KV::Stub> kv;
};

// What every Operation of a run reads: the configuration, the key and value
// choices. Must outlive the Operations.
struct WorkloadEnv {
  const BenchConfig* config = nullptr;
  const KeyGenerator* keys = nullptr;
  const ValueSource* values = nullptr;
};

class Operation {
 public:
  virtual ~Operation() = default;

  // Starts the next request on `cq`, every event of it tagged `tag`, keys
  // and values drawn with `rnd`.
  void Start(std::unique_ptr<grpc::ClientContext> context, Random* rnd,
             grpc::CompletionQueue* cq, void* tag) {
    ReleaseCall();  // before the context it was made in goes
    context_ = std::move(context);
    StartCall(rnd, cq, tag);
  }

  // One event of the current request (`ok` as CompletionQueue::Next gave
  // it). True when the request has finished.
  virtual bool Proceed(bool ok) = 0;

  virtual const Outcome& outcome() const = 0;

 protected:
  grpc::ClientContext* context() { return context_.get(); }

 private:
  // Drops the previous request's call object (made in the old context).
  virtual void ReleaseCall() = 0;
  virtual void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) = 0;

  // A base-class member: destroyed after the subclass's call objects.
  std::unique_ptr<grpc::ClientContext> context_;
};

std::unique_ptr<Operation> NewOperation(const WorkloadEnv& env,
                                        ChannelStubs* stubs);

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_OPERATION_H_
