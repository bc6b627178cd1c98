#include "operation.h"

#include <string>

namespace cairn::bench {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// A unary call in flight: its response and the reader it arrives through.
template <typename Response>
struct UnaryCall {
  Response response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;

  void Start(std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> r,
             grpc::Status* status, void* tag) {
    reader = std::move(r);
    reader->StartCall();
    reader->Finish(&response, status, tag);
  }
};

// Sets *key to the encoding of the next key number.
void NextKey(const WorkloadEnv& env, Random* rnd, std::string* key) {
  key->resize(static_cast<size_t>(env.config->key_bytes));
  EncodeKey(env.keys->Next(rnd), key);
}

// The shared part of the workloads of one unary call per request: one
// request message, reused and refilled for every call, and the call in
// flight. Subclasses fill the request and prepare the call (Prepare) and read
// the response into the outcome (Complete, after the status is set).
template <typename Request, typename Response>
class UnaryOperation : public Operation {
 public:
  UnaryOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : env_(env), stubs_(stubs) {}

  bool Proceed(bool ok) override {
    Complete(call_.response);
    return true;
  }
  const Outcome& outcome() const override { return outcome_; }

 protected:
  using Reader = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>;

  virtual Reader Prepare(Random* rnd, grpc::CompletionQueue* cq) = 0;
  virtual void Complete(const Response& response) = 0;

  // A write of `keys` keys that committed at `seq`.
  void RecordWrite(uint64_t keys, uint64_t seq) {
    outcome_.write = true;
    outcome_.keys = keys;
    outcome_.seq = seq;
  }

  WorkloadEnv env_;
  ChannelStubs* stubs_;
  Request request_;
  Outcome outcome_;

 private:
  void ReleaseCall() override { call_.reader.reset(); }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    call_.Start(Prepare(rnd, cq), &outcome_.status, tag);
  }

  UnaryCall<Response> call_;
};

class NoopOperation
    : public UnaryOperation<HealthCheckRequest, HealthCheckResponse> {
 public:
  using UnaryOperation::UnaryOperation;

 private:
  Reader Prepare(Random* rnd, grpc::CompletionQueue* cq) override {
    return stubs_->health->PrepareAsyncCheck(context(), request_, cq);
  }
  void Complete(const HealthCheckResponse& response) override {
    if (outcome_.status.ok() &&
        response.status() != HealthCheckResponse::SERVING) {
      outcome_.status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                     "health check: server not SERVING");
    }
  }
};

class PutOperation : public UnaryOperation<v1::PutRequest, v1::PutResponse> {
 public:
  PutOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : UnaryOperation(env, stubs) {
    request_.set_durability(env.config->durability);
  }

 private:
  Reader Prepare(Random* rnd, grpc::CompletionQueue* cq) override {
    NextKey(env_, rnd, request_.mutable_key());
    env_.values->Fill(rnd, request_.mutable_value());
    return stubs_->kv->PrepareAsyncPut(context(), request_, cq);
  }
  void Complete(const v1::PutResponse& response) override {
    RecordWrite(1, response.seq());
  }
};

class GetOperation : public UnaryOperation<v1::GetRequest, v1::GetResponse> {
 public:
  using UnaryOperation::UnaryOperation;

 private:
  Reader Prepare(Random* rnd, grpc::CompletionQueue* cq) override {
    NextKey(env_, rnd, request_.mutable_key());
    return stubs_->kv->PrepareAsyncGet(context(), request_, cq);
  }
  void Complete(const v1::GetResponse& response) override {
    outcome_.keys = 1;
    outcome_.miss = outcome_.status.ok() && !response.found();
  }
};

// Get with probability read_ratio, else Put; both in this slot's context.
class MixedOperation : public Operation {
 public:
  MixedOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : env_(env), stubs_(stubs) {
    put_request_.set_durability(env.config->durability);
  }

  bool Proceed(bool ok) override {
    outcome_.keys = 1;
    if (reading_) {
      outcome_.miss = outcome_.status.ok() && !get_.response.found();
    } else {
      outcome_.write = true;
      outcome_.seq = put_.response.seq();
    }
    return true;
  }
  const Outcome& outcome() const override { return outcome_; }

 private:
  void ReleaseCall() override {
    get_.reader.reset();
    put_.reader.reset();
  }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    reading_ = rnd->NextDouble() < env_.config->read_ratio;
    if (reading_) {
      NextKey(env_, rnd, get_request_.mutable_key());
      get_.Start(stubs_->kv->PrepareAsyncGet(context(), get_request_, cq),
                 &outcome_.status, tag);
    } else {
      NextKey(env_, rnd, put_request_.mutable_key());
      env_.values->Fill(rnd, put_request_.mutable_value());
      put_.Start(stubs_->kv->PrepareAsyncPut(context(), put_request_, cq),
                 &outcome_.status, tag);
    }
  }

  WorkloadEnv env_;
  ChannelStubs* stubs_;
  bool reading_ = false;
  v1::GetRequest get_request_;
  v1::PutRequest put_request_;
  UnaryCall<v1::GetResponse> get_;
  UnaryCall<v1::PutResponse> put_;
  Outcome outcome_;
};

class BatchOperation
    : public UnaryOperation<v1::BatchRequest, v1::BatchResponse> {
 public:
  BatchOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : UnaryOperation(env, stubs) {
    request_.set_durability(env.config->durability);
    for (int i = 0; i < env.config->batch_ops; ++i) {
      request_.add_ops()->mutable_put();
    }
  }

 private:
  Reader Prepare(Random* rnd, grpc::CompletionQueue* cq) override {
    for (v1::BatchOp& op : *request_.mutable_ops()) {
      NextKey(env_, rnd, op.mutable_put()->mutable_key());
      env_.values->Fill(rnd, op.mutable_put()->mutable_value());
    }
    return stubs_->kv->PrepareAsyncBatch(context(), request_, cq);
  }
  void Complete(const v1::BatchResponse& response) override {
    RecordWrite(static_cast<uint64_t>(request_.ops_size()), response.seq());
    if (outcome_.status.ok() && !response.succeeded()) {
      // The batch has no conditions, so this cannot happen unless the
      // server is wrong.
      outcome_.status =
          grpc::Status(grpc::StatusCode::ABORTED, "batch not applied");
    }
  }
};

// KV.Merge(key, "add", "1"): a counter increment.
class MergeOperation
    : public UnaryOperation<v1::MergeRequest, v1::MergeResponse> {
 public:
  MergeOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : UnaryOperation(env, stubs) {
    request_.set_operator_("add");
    request_.set_operand("1");
    request_.set_durability(env.config->durability);
  }

 private:
  Reader Prepare(Random* rnd, grpc::CompletionQueue* cq) override {
    NextKey(env_, rnd, request_.mutable_key());
    return stubs_->kv->PrepareAsyncMerge(context(), request_, cq);
  }
  void Complete(const v1::MergeResponse& response) override {
    RecordWrite(1, response.seq());
  }
};

// KV.Scan of scan_limit keys from a random start key: a server stream, so
// several events per request (start, one per chunk, the end of the stream,
// Finish).
class ScanOperation : public Operation {
 public:
  ScanOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : env_(env), stubs_(stubs) {
    request_.set_limit(static_cast<uint64_t>(env.config->scan_limit));
  }

  bool Proceed(bool ok) override {
    switch (state_) {
      case State::kStarting:
        if (ok) {
          state_ = State::kReading;
          reader_->Read(&response_, tag_);
          return false;
        }
        break;
      case State::kReading:
        if (ok) {
          outcome_.keys += static_cast<uint64_t>(response_.kvs_size());
          reader_->Read(&response_, tag_);
          return false;
        }
        break;
      case State::kFinishing:
        return true;
    }
    // The stream could not start or has ended: collect its status.
    state_ = State::kFinishing;
    reader_->Finish(&outcome_.status, tag_);
    return false;
  }
  const Outcome& outcome() const override { return outcome_; }

 private:
  enum class State { kStarting, kReading, kFinishing };

  void ReleaseCall() override { reader_.reset(); }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    tag_ = tag;
    NextKey(env_, rnd, request_.mutable_start());
    state_ = State::kStarting;
    reader_ = stubs_->kv->PrepareAsyncScan(context(), request_, cq);
    reader_->StartCall(tag);
  }

  WorkloadEnv env_;
  ChannelStubs* stubs_;
  v1::ScanRequest request_;
  v1::ScanResponse response_;
  std::unique_ptr<grpc::ClientAsyncReader<v1::ScanResponse>> reader_;
  State state_ = State::kStarting;
  void* tag_ = nullptr;
  Outcome outcome_;
};

}  // namespace

std::unique_ptr<Operation> NewOperation(const WorkloadEnv& env,
                                        ChannelStubs* stubs) {
  switch (env.config->workload) {
    case Workload::kNoop:
      return std::make_unique<NoopOperation>(env, stubs);
    case Workload::kPut:
    case Workload::kTail:  // the writers; the streams are TailStreams'
      return std::make_unique<PutOperation>(env, stubs);
    case Workload::kGet:
      return std::make_unique<GetOperation>(env, stubs);
    case Workload::kMixed:
      return std::make_unique<MixedOperation>(env, stubs);
    case Workload::kBatch:
      return std::make_unique<BatchOperation>(env, stubs);
    case Workload::kScan:
      return std::make_unique<ScanOperation>(env, stubs);
    case Workload::kMerge:
      return std::make_unique<MergeOperation>(env, stubs);
  }
  return nullptr;
}

}  // namespace cairn::bench
