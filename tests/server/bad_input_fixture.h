// BadInputTest: the fixture of the bad-input matrix (bad_input_*_test.cc):
// one cairnd with small limits, so that every message stays small:
// --max_batch_ops=5 --max_batch_bytes=4KiB --max_key_bytes=64
// --max_value_bytes=1KiB --max_message_bytes=64KiB --max_snapshots=3.
// Helpers build requests, remember the last sequence before a refused write
// and check that it did not move.
#ifndef CAIRN_TESTS_SERVER_BAD_INPUT_FIXTURE_H_
#define CAIRN_TESTS_SERVER_BAD_INPUT_FIXTURE_H_

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "server_test_util.h"
#include "txn_stream.h"

namespace cairn::test {

inline constexpr int kMaxBatchOps = 5;
inline constexpr size_t kMaxBatchBytes = 4096;
inline constexpr size_t kMaxKeyBytes = 64;
inline constexpr size_t kMaxValueBytes = 1024;
inline constexpr size_t kMaxMessageBytes = 64 << 10;
inline constexpr int kMaxSnapshots = 3;
// Not a value of cairn.v1.Durability.
inline constexpr int kUnknownDurability = 7;

class BadInputTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() {
    CairndOptions o;
    o.args = {"--durability=async",
              absl::StrCat("--max_batch_ops=", kMaxBatchOps),
              "--max_batch_bytes=4KiB", "--max_key_bytes=64",
              "--max_value_bytes=1KiB", "--max_message_bytes=64KiB",
              // Must be at most half of --max_message_bytes.
              "--scan_chunk_bytes=16KiB",
              absl::StrCat("--max_snapshots=", kMaxSnapshots),
              "--snapshot_max_ttl=10m"};
    StartSuiteServer(std::move(o));
  }
  void SetUp() override {
    CairndSuite::SetUp();
    if (HasFatalFailure()) return;  // no server
    channel_ = server_->Channel();
    kv_ = v1::KV::NewStub(channel_);
    admin_ = v1::Admin::NewStub(channel_);
    repl_ = v1::Replication::NewStub(channel_);
    // Short, so that keys built on it stay under --max_key_bytes.
    std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    prefix_ = absl::StrCat(name.substr(0, 24), "/");
  }

  std::string K(const std::string& k) const { return prefix_ + k; }

  uint64_t LastSeq() {
    v1::StatsResponse st;
    grpc::Status s = admin_->Stats(Ctx().get(), v1::StatsRequest(), &st);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return st.last_seq();
  }

  uint64_t Put(const std::string& key, const std::string& value) {
    return test::Put(kv_.get(), key, value);
  }

  v1::GetResponse Get(const std::string& key) {
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    grpc::Status s = kv_->Get(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Remembers the state a refused write must leave alone.
  void Baseline() { base_seq_ = LastSeq(); }
  // The write was refused with `code` naming `field`, and nothing changed.
  void ExpectRefused(const grpc::Status& s, grpc::StatusCode code,
                     const std::string& field) {
    EXPECT_TRUE(IsError(s, code, field));
    EXPECT_EQ(LastSeq(), base_seq_)
        << "a refused write changed last_seq (" << field << ")";
  }

  grpc::Status ScanStatus(const v1::ScanRequest& req, int* chunks = nullptr) {
    auto ctx = Ctx();
    auto reader = kv_->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    int n = 0;
    while (reader->Read(&chunk)) ++n;
    if (chunks != nullptr) *chunks = n;
    return reader->Finish();
  }

  // Runs `requests` on a new Txn stream; returns the stream's status and
  // how many requests were answered before it ended.
  grpc::Status RunTxn(const std::vector<v1::TxnRequest>& requests,
                      int* answered = nullptr) {
    TxnStream t(kv_.get());
    int n = 0;
    for (const auto& r : requests) {
      if (!t.Send(r)) break;
      ++n;
    }
    if (answered != nullptr) *answered = n;
    return t.Finish();
  }

  // The named Tail consumers and their acknowledged sequences.
  std::map<std::string, uint64_t> Consumers() {
    v1::ListConsumersResponse resp;
    grpc::Status s =
        repl_->ListConsumers(Ctx().get(), v1::ListConsumersRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, uint64_t> out;
    for (const auto& c : resp.consumers()) out[c.name()] = c.acked_seq();
    return out;
  }

  // Opens a Tail stream and reads its first response: the stream's status if
  // it ended instead (`*opened` false), else OK after cancelling it.
  grpc::Status TailStatus(const v1::TailRequest& req, bool* opened = nullptr) {
    auto ctx = Ctx();
    auto reader = repl_->Tail(ctx.get(), req);
    v1::TailResponse first;
    const bool got = reader->Read(&first);
    if (opened != nullptr) *opened = got;
    if (!got) return reader->Finish();
    ctx->TryCancel();
    while (reader->Read(&first)) {
    }
    reader->Finish().IgnoreError();
    return grpc::Status::OK;
  }

  // Sends `body` as the request of the unary `method` ("/cairn.v1.KV/Put"),
  // bypassing the generated serializer.
  grpc::Status RawUnary(const std::string& method, const std::string& body) {
    grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer> stub(
        channel_);
    grpc::Slice slice(body);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    auto ctx = Ctx();
    std::promise<grpc::Status> done;
    stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(s); });
    std::future<grpc::Status> f = done.get_future();
    if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << method << " did not complete";
      ctx->TryCancel();
      return f.get();
    }
    return f.get();
  }

  // A snapshot seq that is not held (nothing was ever acquired at it).
  uint64_t UnheldSeq() { return LastSeq() + 1000000; }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::KV::Stub> kv_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Replication::Stub> repl_;
  std::string prefix_;
  uint64_t base_seq_ = 0;
};

inline const std::string kLongKey(kMaxKeyBytes + 1, 'k');
inline const std::string kLongValue(kMaxValueBytes + 1, 'v');

}  // namespace cairn::test

#endif  // CAIRN_TESTS_SERVER_BAD_INPUT_FIXTURE_H_
