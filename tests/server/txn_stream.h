// TxnStream: a KV.Txn stream driven synchronously by a test (each request
// gets one response; a refused request ends the stream with its error), and
// builders for the common requests.
#ifndef CAIRN_TESTS_SERVER_TXN_STREAM_H_
#define CAIRN_TESTS_SERVER_TXN_STREAM_H_

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "gtest/gtest.h"

namespace cairn::test {

class TxnStream {
 public:
  explicit TxnStream(v1::KV::Stub* kv,
                     absl::Duration timeout = absl::Seconds(30)) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    stream_ = kv->Txn(&ctx_);
  }
  // Sends `req` and reads its response; false if the stream ended instead.
  bool Send(const v1::TxnRequest& req, v1::TxnResponse* resp = nullptr) {
    v1::TxnResponse ignored;
    return stream_->Write(req) && stream_->Read(resp ? resp : &ignored);
  }
  // Sends `req` and returns its response, failing the test if there is none.
  v1::TxnResponse Call(const v1::TxnRequest& req) {
    v1::TxnResponse resp;
    EXPECT_TRUE(Send(req, &resp)) << req.DebugString();
    return resp;
  }
  // Closes the client side and returns the stream's status.
  grpc::Status Finish() {
    stream_->WritesDone();
    v1::TxnResponse extra;
    while (stream_->Read(&extra)) {
    }
    return stream_->Finish();
  }
  grpc::ClientContext* context() { return &ctx_; }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::TxnRequest, v1::TxnResponse>>
      stream_;
};

inline v1::TxnRequest TBegin(uint64_t snapshot_seq = 0) {
  v1::TxnRequest r;
  r.mutable_begin()->set_snapshot_seq(snapshot_seq);
  return r;
}
inline v1::TxnRequest TGet(const std::string& key) {
  v1::TxnRequest r;
  r.mutable_get()->set_key(key);
  return r;
}
inline v1::TxnRequest TPut(const std::string& key, const std::string& value) {
  v1::TxnRequest r;
  r.mutable_put()->set_key(key);
  r.mutable_put()->set_value(value);
  return r;
}
inline v1::TxnRequest TCommit(
    v1::Durability durability = v1::DURABILITY_DEFAULT) {
  v1::TxnRequest r;
  r.mutable_commit()->set_durability(durability);
  return r;
}

}  // namespace cairn::test

#endif  // CAIRN_TESTS_SERVER_TXN_STREAM_H_
