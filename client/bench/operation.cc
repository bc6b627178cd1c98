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

class NoopOperation : public Operation {
 public:
  explicit NoopOperation(ChannelStubs* stubs) : stubs_(stubs) {}

  bool Proceed(bool ok) override {
    if (outcome_.status.ok() &&
        call_.response.status() != HealthCheckResponse::SERVING) {
      outcome_.status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                     "health check: server not SERVING");
    }
    return true;
  }
  const Outcome& outcome() const override { return outcome_; }

 private:
  void ReleaseCall() override { call_.reader.reset(); }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    call_.Start(stubs_->health->PrepareAsyncCheck(context(), request_, cq),
                &outcome_.status, tag);
  }

  ChannelStubs* stubs_;
  HealthCheckRequest request_;
  UnaryCall<HealthCheckResponse> call_;
  Outcome outcome_;
};

class PutOperation : public Operation {
 public:
  PutOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : env_(env), stubs_(stubs) {
    request_.set_durability(env.config->durability);
  }

  bool Proceed(bool ok) override {
    outcome_.write = true;
    outcome_.keys = 1;
    outcome_.seq = call_.response.seq();
    return true;
  }
  const Outcome& outcome() const override { return outcome_; }

 private:
  void ReleaseCall() override { call_.reader.reset(); }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    NextKey(env_, rnd, request_.mutable_key());
    env_.values->Fill(rnd, request_.mutable_value());
    call_.Start(stubs_->kv->PrepareAsyncPut(context(), request_, cq),
                &outcome_.status, tag);
  }

  WorkloadEnv env_;
  ChannelStubs* stubs_;
  v1::PutRequest request_;
  UnaryCall<v1::PutResponse> call_;
  Outcome outcome_;
};

class GetOperation : public Operation {
 public:
  GetOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : env_(env), stubs_(stubs) {}

  bool Proceed(bool ok) override {
    outcome_.keys = 1;
    outcome_.miss = outcome_.status.ok() && !call_.response.found();
    return true;
  }
  const Outcome& outcome() const override { return outcome_; }

 private:
  void ReleaseCall() override { call_.reader.reset(); }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    NextKey(env_, rnd, request_.mutable_key());
    call_.Start(stubs_->kv->PrepareAsyncGet(context(), request_, cq),
                &outcome_.status, tag);
  }

  WorkloadEnv env_;
  ChannelStubs* stubs_;
  v1::GetRequest request_;
  UnaryCall<v1::GetResponse> call_;
  Outcome outcome_;
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

class BatchOperation : public Operation {
 public:
  BatchOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : env_(env), stubs_(stubs) {
    request_.set_durability(env.config->durability);
    for (int i = 0; i < env.config->batch_ops; ++i) {
      request_.add_ops()->mutable_put();
    }
  }

  bool Proceed(bool ok) override {
    outcome_.write = true;
    outcome_.keys = static_cast<uint64_t>(request_.ops_size());
    outcome_.seq = call_.response.seq();
    if (outcome_.status.ok() && !call_.response.succeeded()) {
      // The batch has no conditions, so this cannot happen unless the
      // server is wrong.
      outcome_.status =
          grpc::Status(grpc::StatusCode::ABORTED, "batch not applied");
    }
    return true;
  }
  const Outcome& outcome() const override { return outcome_; }

 private:
  void ReleaseCall() override { call_.reader.reset(); }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    for (v1::BatchOp& op : *request_.mutable_ops()) {
      NextKey(env_, rnd, op.mutable_put()->mutable_key());
      env_.values->Fill(rnd, op.mutable_put()->mutable_value());
    }
    call_.Start(stubs_->kv->PrepareAsyncBatch(context(), request_, cq),
                &outcome_.status, tag);
  }

  WorkloadEnv env_;
  ChannelStubs* stubs_;
  v1::BatchRequest request_;
  UnaryCall<v1::BatchResponse> call_;
  Outcome outcome_;
};

// KV.Merge(key, "add", "1"): a counter increment.
class MergeOperation : public Operation {
 public:
  MergeOperation(const WorkloadEnv& env, ChannelStubs* stubs)
      : env_(env), stubs_(stubs) {
    request_.set_operator_("add");
    request_.set_operand("1");
    request_.set_durability(env.config->durability);
  }

  bool Proceed(bool ok) override {
    outcome_.write = true;
    outcome_.keys = 1;
    outcome_.seq = call_.response.seq();
    return true;
  }
  const Outcome& outcome() const override { return outcome_; }

 private:
  void ReleaseCall() override { call_.reader.reset(); }
  void StartCall(Random* rnd, grpc::CompletionQueue* cq, void* tag) override {
    outcome_ = Outcome();
    NextKey(env_, rnd, request_.mutable_key());
    call_.Start(stubs_->kv->PrepareAsyncMerge(context(), request_, cq),
                &outcome_.status, tag);
  }

  WorkloadEnv env_;
  ChannelStubs* stubs_;
  v1::MergeRequest request_;
  UnaryCall<v1::MergeResponse> call_;
  Outcome outcome_;
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
      return std::make_unique<NoopOperation>(stubs);
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
